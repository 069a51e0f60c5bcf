"""Fingerprint plumbing: the count of counts of every configuration, flattened, checked,
built from dense counts; K resolved per configuration; the support size the data suggest (Chao1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SchemaError

#: estimators that cannot run without the alphabet size K
_NEEDS_K = {"nsb", "bma"}


class _FP:
    """Flattened fingerprint: entry -> config index, multiplicity j, number of states f."""

    __slots__ = ("cfg", "j", "f", "n", "N", "m", "f1", "f2", "f3")

    def __init__(self, cfg: np.ndarray, j: np.ndarray, f: np.ndarray, n: int):
        """Entries (config, multiplicity j, states f) of ``n`` configurations; caches N, m, f1-f3."""
        self.cfg = cfg
        self.j = j
        self.f = f
        self.n = n
        self.N = self.sum(j * f)
        self.m = self.sum(f)
        self.f1 = self.sum(np.where(j == 1, f, 0.0))
        self.f2 = self.sum(np.where(j == 2, f, 0.0))
        self.f3 = self.sum(np.where(j == 3, f, 0.0))

    def sum(self, w: np.ndarray) -> np.ndarray:
        """Per-configuration sum of an entry-wise array."""
        return np.bincount(self.cfg, weights=w, minlength=self.n)[: self.n]

    def per_entry(self, x: np.ndarray) -> np.ndarray:
        """A per-configuration array broadcast to the entries."""
        return x[self.cfg]


def _check_fingerprint(fp_indptr, multiplicity, n_with_multiplicity) -> _FP:
    """Validate a CSR fingerprint (SchemaError with a fix) and flatten it to :class:`_FP`,
    dropping entries with no states."""
    indptr = np.asarray(fp_indptr)
    j = np.asarray(multiplicity)
    f = np.asarray(n_with_multiplicity)
    where = "entropy_from_fingerprint"
    if indptr.ndim != 1 or indptr.size < 1:
        raise SchemaError("fp_indptr must be a 1-D array of length n_config + 1", where=where,
                          fix="pass the first output of Counts.fingerprint()")
    if j.shape != f.shape or j.ndim != 1:
        raise SchemaError("multiplicity and n_with_multiplicity must be 1-D arrays of equal length",
                          where=where, fix="pass the outputs of Counts.fingerprint()")
    if indptr[0] != 0 or indptr[-1] != j.size or np.any(np.diff(indptr) < 0):
        raise SchemaError("fp_indptr is not a valid CSR index pointer "
                          "(must start at 0, be non-decreasing and end at len(multiplicity))",
                          where=where, fix="pass the outputs of Counts.fingerprint()")
    if j.size and (np.any(j < 1) or np.any(f < 0)):
        raise SchemaError("multiplicities must be >= 1 and numbers of states >= 0", where=where,
                          fix="drop zero counts before building the fingerprint")
    n = indptr.size - 1
    cfg = np.repeat(np.arange(n), np.diff(indptr))
    nz = f > 0
    return _FP(cfg[nz], j[nz].astype(float), f[nz].astype(float), n)


def _resolve_k(estimator: str, n_states: Any, fp: _FP) -> float | np.ndarray | None:
    """K as a float, or as one float per configuration (an array of length n_config)."""
    if n_states is None:
        if estimator in _NEEDS_K:
            raise SchemaError(
                f"estimator {estimator!r} needs the alphabet size K (n_states) and none was given",
                where=f"entropy estimator={estimator!r}",
                fix="pass n_states= (the size q of the outcome space) or set ds.attrs['n_states']; "
                "the observed support is never used in its place"
                + ("; or use estimator='chao_wang_jost' (needs no K)" if estimator == "bma" else ""),
            )
        return None
    k = np.asarray(n_states, dtype=float)
    if k.ndim not in (0, 1) or (k.ndim == 1 and k.size != fp.n):
        raise SchemaError(f"n_states must be one integer or one per configuration ({fp.n}), got "
                          f"shape {k.shape}", where="entropy n_states=",
                          fix="pass the size q of the outcome space")
    if np.any(~np.isfinite(k)) or np.any(k < 1) or np.any(k != np.round(k)):
        raise SchemaError(f"n_states must be a positive integer, got {n_states!r}",
                          where="entropy n_states=", fix="pass the size q of the outcome space")
    too_many = fp.m > k
    if np.any(too_many):
        i = int(np.argmax(too_many))
        raise SchemaError(
            f"a configuration has {int(fp.m[i])} distinct observed states, more than "
            f"n_states={int(np.broadcast_to(k, fp.m.shape)[i])}",
            where="entropy n_states=",
            fix="pass the true size of the outcome space as n_states=",
        )
    return float(k) if k.ndim == 0 else k


def fingerprint_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR fingerprint of a dense ``(n_config, K)`` count array (zeros are skipped)."""
    c = np.asarray(counts)
    n_config = c.shape[0]
    rows, cols = np.nonzero(c > 0)
    vals = c[rows, cols].astype(np.int64)
    if vals.size == 0:
        return np.zeros(n_config + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = rows.astype(np.int64) * (int(vals.max()) + 1) + vals
    uniq, nwith = np.unique(key, return_counts=True)
    fp_rows = uniq // (int(vals.max()) + 1)
    mult = uniq % (int(vals.max()) + 1)
    indptr = np.zeros(n_config + 1, np.int64)
    np.cumsum(np.bincount(fp_rows, minlength=n_config), out=indptr[1:])
    return indptr, mult, nwith.astype(np.int64)


def support_k_from_fingerprint(
    fp_indptr: np.ndarray,
    multiplicity: np.ndarray,
    n_with_multiplicity: np.ndarray,
    n_states: int | None = None,
) -> np.ndarray:
    """The alphabet size the data alone suggest, per configuration (bias-corrected Chao1).

    ``K_hat = m + (N - 1)/N * f_1 (f_1 - 1) / (2 (f_2 + 1))`` (Chao 1987, Biometrics 43:783;
    bias-corrected form, Chao 2005), rounded up, at least m and at most ``n_states`` when
    given.  A lower bound in expectation on the number of states with non-zero probability:
    used to show how much an estimate that needs K depends on it (:func:`entropy`,
    coordinate ``entropy_at_support_k``), never in place of a K the user did not give.
    """
    fp = _check_fingerprint(fp_indptr, multiplicity, n_with_multiplicity)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(fp.N > 0, (fp.N - 1.0) / fp.N, 0.0) * fp.f1 * (fp.f1 - 1.0) / (2.0 * (fp.f2 + 1.0))
    k_hat = np.maximum(np.ceil(fp.m + np.maximum(extra, 0.0) - 1e-9), np.maximum(fp.m, 1.0))
    if n_states is not None:
        k_hat = np.minimum(k_hat, float(n_states))
    return k_hat
