"""Order parameters per configuration, divergences from a reference, and the structure
between prompts.

A *configuration* is one cell of the grid of the dims not named in ``system=``; its
empirical distribution is p̂_k = n_k / N over the tokens along the ``system`` dims
(``-1`` never counted). Everything here works from the sparse counts of
:func:`phasekit.count.count_states` — nothing is dense over the state space, so a
256k-token vocabulary is fine — and a configuration with no tokens gives NaN without
disturbing the others.

Order parameters (DESIGN.md dictionary; Wu, Rev. Mod. Phys. 54, 235 (1982) for Potts):

- Potts magnetisation m = (q·max_k p̂_k − 1)/(q − 1) ∈ [0, 1]
- normalised entropy 1 − H/ln q, effective number of states exp(H)
- mode fraction max_k p̂_k and the mode's state (and label)
- collision probability Σ_k p̂_k²
- KL, Jensen–Shannon and total-variation divergence from a reference distribution

Between prompts (:func:`prompt_structure`): mean pairwise Jensen–Shannon divergence and
the spin-glass overlap q_ab = (q Σ_k p_k^a p_k^b − 1)/(q − 1) (Edwards & Anderson,
J. Phys. F 5, 965 (1975); Parisi, PRL 50, 1946 (1983)).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._meta import as_dims, estimate, provenance, with_stderr
from .count import DENSE_MAX_STATES, Counts, count_states
from .errors import SchemaError

__all__ = [
    "magnetization",
    "order_parameters",
    "prompt_structure",
    "with_stderr",
]


# ----------------------------------------------------------------------------- helpers


def _counts(
    ds: xr.Dataset | xr.DataArray | Counts,
    system: Hashable | Iterable[Hashable],
    n_states: int | None,
) -> Counts:
    if isinstance(ds, Counts):
        if n_states is not None and ds.n_states is None:
            return dataclasses.replace(ds, n_states=int(n_states))
        return ds
    return count_states(ds, system=system, n_states=n_states)


def _require_q(c: Counts, n_states: int | None, what: str) -> int:
    q = n_states if n_states is not None else c.n_states
    if q is None:
        raise SchemaError(
            f"{what} needs the number of states q",
            where="neither n_states= nor attrs['n_states'] is given",
            fix="pass n_states=q or set ds.attrs['n_states'] = q (never guessed from the data)",
        )
    q = int(q)
    if q < 2:
        raise SchemaError(f"n_states must be >= 2, got {q}", where=what, fix="pass the true q")
    if c.states.size and int(c.states.max()) >= q:
        raise SchemaError(
            f"a state {int(c.states.max())} is >= n_states={q}",
            where=what, fix="pass the correct n_states",
        )
    return q


def _segments(c: Counts) -> np.ndarray:
    return np.repeat(np.arange(c.n_config, dtype=np.int64), np.diff(c.indptr))


def _segsum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(seg, weights=values, minlength=n)


def _size_attr(N: np.ndarray) -> dict[str, Any]:
    """attrs['N'] when every non-empty configuration has the same size."""
    nz = N[N > 0]
    if nz.size and np.all(nz == nz.flat[0]):
        return {"N": int(nz.flat[0])}
    if nz.size:
        return {"N_min": int(nz.min()), "N_max": int(nz.max())}
    return {}


def _system_attr(c: Counts) -> list[str]:
    return [str(d) for d in c.system]


# ------------------------------------------------------------------------- magnetization


def magnetization(
    ds: xr.Dataset | xr.DataArray | Counts,
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
) -> xr.DataArray:
    """Potts magnetisation of every configuration.

    m = (q · p̂_max − 1) / (q − 1),  p̂_max = max_k n_k / N

    (Wu, Rev. Mod. Phys. 54, 235 (1982); for q = 2 this is |M|/N of the Ising model).
    m = 0 for a uniform configuration, 1 when every token is the same state. q comes from
    ``n_states`` or ``attrs["n_states"]``; without it a SchemaError (q is never guessed).

    Stderr (``error_method="binomial_delta"``): the mode fraction is treated as a
    binomial proportion, se(m) = q/(q − 1) · sqrt(p̂_max(1 − p̂_max)/N) — the sampling
    error of one configuration's m when its tokens are independent draws. Empty
    configurations give NaN. ``attrs["N"]`` is the configuration size when all non-empty
    configurations have the same one (used by :func:`phasekit.susceptibility`).
    """
    from . import lazy as _lazy

    if _lazy.is_lazy(ds):  # dask-backed tokens: lazy, one task per block
        return _lazy.map_configurations(magnetization, ds, system, kwargs={"n_states": n_states})
    c = _counts(ds, system, n_states)
    q = _require_q(c, n_states, "magnetization")
    N = c.totals().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmax = np.where(N > 0, c.max_count() / N, np.nan)
        m = (q * pmax - 1.0) / (q - 1.0)
        se = q / (q - 1.0) * np.sqrt(pmax * (1.0 - pmax) / N)
    return estimate(
        c.wrap(m),
        c.wrap(se),
        name="magnetization",
        estimator="potts_magnetization",
        formula="(q*max_k p_k - 1)/(q - 1)",
        error_method="binomial_delta",
        n_states=q,
        system=_system_attr(c),
        units="dimensionless",
        **_size_attr(N),
    )


# ----------------------------------------------------------------------- divergences


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


def _pooled_reference_row(c: Counts, row: int, reference_dim: Hashable, reference: Any):
    """States and probabilities of one ``reference_dim`` slice of ``c``, pooled over the
    other kept dims; raises if that slice holds no tokens."""
    others = [d for d in c.dims if d != reference_dim]
    pooled = c.pool(others) if others else c
    a, b = pooled.indptr[row], pooled.indptr[row + 1]
    ref_states = pooled.states[a:b]
    ref_p = pooled.counts[a:b] / max(pooled.counts[a:b].sum(), 1)
    if ref_states.size == 0:
        raise SchemaError(
            f"the reference {reference_dim}={reference!r} has no tokens",
            where="order_parameters(reference=...)", fix="choose a non-empty reference",
        )
    return ref_states, ref_p, others


def _reference_lookup(
    reference: Any,
    c: Counts,
    q: int | None,
    reference_dim: Hashable,
) -> tuple[np.ndarray | None, str, str]:
    """r_k at every stored entry of ``c`` (None = skip), a label, and a note."""
    if reference is None:
        if q is not None and q <= DENSE_MAX_STATES:
            reference = "uniform"
        else:
            why = "n_states unknown" if q is None else f"q = {q} > {DENSE_MAX_STATES}"
            return None, "none", f"reference divergences skipped ({why}); pass reference="
    if isinstance(reference, str) and reference == "uniform":
        if q is None:
            raise SchemaError(
                "a uniform reference needs n_states (q)", where="order_parameters(reference='uniform')",
                fix="pass n_states= or set attrs['n_states']",
            )
        return np.full(c.states.size, 1.0 / q), "uniform", f"uniform over q = {q} states"
    if isinstance(reference, np.ndarray | list | tuple | xr.DataArray) and np.ndim(reference) == 1:
        r = np.asarray(reference, dtype=float)
        if q is not None and r.size != q:
            raise SchemaError(
                f"reference has {r.size} entries but q = {q}", where="order_parameters(reference=...)",
                fix="pass one probability per state 0..q-1",
            )
        if np.any(~np.isfinite(r)) or np.any(r < 0) or r.sum() <= 0:
            raise SchemaError(
                "reference must be finite, non-negative and not all zero",
                where="order_parameters(reference=...)", fix="pass a probability vector",
            )
        if c.states.size and int(c.states.max()) >= r.size:
            raise SchemaError(
                f"a state {int(c.states.max())} is outside the reference of length {r.size}",
                where="order_parameters(reference=...)", fix="pass one probability per state",
            )
        total = r.sum()
        note = "user array" + ("" if abs(total - 1) < 1e-9 else f" (normalised from sum {total:.6g})")
        return (r / total)[c.states], "array", note
    if isinstance(reference, _PooledReference):
        return _lookup_pooled(c, reference.states, reference.p), reference.label, reference.note
    # a label along reference_dim: that slice's pooled distribution
    if reference_dim not in c.dims:
        raise SchemaError(
            f"reference={reference!r} is not 'uniform' or an array, and {reference_dim!r} is not a kept dim",
            where=f"kept dims {list(c.dims)}",
            fix="pass reference='uniform', a probability array, or a label along reference_dim=",
        )
    labels = np.asarray(c.coords[reference_dim].values if reference_dim in c.coords
                        else np.arange(c.shape[c.dims.index(reference_dim)]))
    hit = np.flatnonzero(labels == reference)
    if hit.size != 1:
        raise SchemaError(
            f"reference label {reference!r} not found (exactly once) along {reference_dim!r}",
            where=f"labels {labels.tolist()[:10]}", fix="pass one of the labels",
        )
    ref_states, ref_p, others = _pooled_reference_row(c, int(hit[0]), reference_dim, reference)
    return _lookup_pooled(c, ref_states, ref_p), f"{reference_dim}={reference}", (
        f"pooled distribution of {reference_dim}={reference} over {others} "
        "(its own sampling noise is not in the stderr)"
    )


def _lookup_pooled(c: Counts, ref_states: np.ndarray, ref_p: np.ndarray) -> np.ndarray:
    """r_k at every stored entry of ``c`` from a sparse reference (0 where unseen)."""
    pos = np.clip(np.searchsorted(ref_states, c.states), 0, ref_states.size - 1)
    return np.where(ref_states[pos] == c.states, ref_p[pos], 0.0)


@dataclasses.dataclass(frozen=True)
class _PooledReference:
    """A label reference resolved ahead of block-wise (dask) evaluation."""

    states: np.ndarray
    p: np.ndarray
    label: str
    note: str


def _resolve_label_reference(
    ds: xr.Dataset | xr.DataArray, system: tuple, n_states: int | None, reference: Any, reference_dim: Hashable,
) -> _PooledReference:
    """Count only the reference slice (``reference_dim == reference``) and pool it.

    Gives the same r_k as the in-memory path (which pools the same integer counts).
    """
    from .schema import token_array

    tok = token_array(ds)
    kept = [d for d in tok.dims if d not in system]
    if reference_dim not in kept:
        raise SchemaError(
            f"reference={reference!r} is not 'uniform' or an array, and {reference_dim!r} is not a kept dim",
            where=f"kept dims {kept}",
            fix="pass reference='uniform', a probability array, or a label along reference_dim=",
        )
    labels = np.asarray(tok[reference_dim].values if reference_dim in tok.coords
                        else np.arange(tok.sizes[reference_dim]))
    hit = np.flatnonzero(labels == reference)
    if hit.size != 1:
        raise SchemaError(
            f"reference label {reference!r} not found (exactly once) along {reference_dim!r}",
            where=f"labels {labels.tolist()[:10]}", fix="pass one of the labels",
        )
    c = count_states(tok.isel({reference_dim: slice(int(hit[0]), int(hit[0]) + 1)}), system=system,
                     n_states=n_states)
    ref_states, ref_p, others = _pooled_reference_row(c, 0, reference_dim, reference)
    return _PooledReference(ref_states, ref_p, f"{reference_dim}={reference}", (
        f"pooled distribution of {reference_dim}={reference} over {others} "
        "(its own sampling noise is not in the stderr)"
    ))


def _divergences(c: Counts, r: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """KL(p̂‖r), JS(p̂, r), TV(p̂, r) per configuration from the sparse entries.

    Unobserved states (p̂_k = 0) enter only through the reference mass 1 − Σ_obs r_k:
    KL gets nothing from them, TV gets ½(1 − Σ_obs r), JS gets ½ ln 2 · (1 − Σ_obs r).
    Delta-method variance per divergence with gradient g_k:
    Var ≈ (Σ_k p̂_k g_k² − (Σ_k p̂_k g_k)²)/N, g = ln(p/r) (KL), ½ ln(2p/(p+r)) (JS),
    ½ sign(p − r) (TV).
    """
    seg = _segments(c)
    n = c.n_config
    N = _segsum(c.counts.astype(float), seg, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = c.counts / N[seg]
        unseen = np.clip(1.0 - _segsum(r, seg, n), 0.0, 1.0)
        out = {}
        g_kl = np.log(p / r)
        kl = _segsum(np.where(r > 0, p * g_kl, np.inf), seg, n)
        g_js = 0.5 * np.log(2 * p / (p + r))
        js = _segsum(0.5 * p * np.log(2 * p / (p + r)) + 0.5 * _xlogy(r, 2 * r / (p + r)), seg, n)
        js = js + 0.5 * np.log(2.0) * unseen
        g_tv = 0.5 * np.sign(p - r)
        tv = 0.5 * _segsum(np.abs(p - r), seg, n) + 0.5 * unseen
        for name, val, g in (("kl", kl, g_kl), ("js", js, g_js), ("tv", tv, g_tv)):
            g = np.where(np.isfinite(g), g, 0.0)
            var = (_segsum(p * g * g, seg, n) - _segsum(p * g, seg, n) ** 2) / N
            se = np.sqrt(np.clip(var, 0.0, None))
            if name == "kl":
                se = np.where(np.isfinite(val), se, np.nan)
            empty = N == 0
            out[name] = (np.where(empty, np.nan, val), np.where(empty, np.nan, se))
    return out


# --------------------------------------------------------------------- entropy plumbing


def _entropy(c: Counts, estimator: str | None, q: int | None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Entropy and stderr per configuration from the counts' fingerprints (one count pass)."""
    import importlib

    _ent = importlib.import_module("phasekit.entropy_estimators")  # the module, not pk.entropy()
    est = _ent.default_estimator(q) if estimator is None else estimator
    h, se = _ent.entropy_from_fingerprint(*c.fingerprint(), estimator=est, n_states=q)
    attrs = {
        "estimator": est,
        "error_method": getattr(_ent, "_ERROR_METHOD", {}).get(est, "see phasekit.entropy_estimators"),
        "n_states": q,
        "long_name": "Shannon entropy",
    }
    return np.asarray(h, float).reshape(c.shape), np.asarray(se, float).reshape(c.shape), attrs


# ------------------------------------------------------------------- order parameters


#: What order_parameters leaves out when q is unknown, and why (reports repeat it).
Q_DEPENDENT_NOTE = ("magnetization (q p_max - 1)/(q - 1) and order_entropy 1 - H/ln q need q, the size of the "
                    "answer space, which is not known (pass n_states=); the divergences from a uniform "
                    "reference need it too. Entropy uses the K-free default estimator.")


def order_parameters(
    ds: xr.Dataset | xr.DataArray | Counts,
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
    estimator: str | None = None,
    reference: str | Sequence[float] | np.ndarray | Any | None = None,
    *,
    reference_dim: Hashable = "checkpoint",
) -> xr.Dataset:
    """Every order parameter of every configuration, as one Dataset.

    Variables (``<var>_stderr`` holds the standard error of ``<var>``; use
    :func:`with_stderr` to get a DataArray with a ``stderr`` coordinate):

    ====================  ==========================================================
    ``entropy``           H in nats, by ``estimator`` (the entropy module's default
                          when None) — see :func:`phasekit.entropy`
    ``order_entropy``     1 − H/ln q                        (se = se_H / ln q)
    ``effective_states``  exp(H)                            (se = exp(H) se_H)
    ``magnetization``     (q p̂_max − 1)/(q − 1), :func:`magnetization`
    ``mode_fraction``     p̂_max = max_k n_k/N               (binomial se)
    ``mode_state``        argmax_k n_k (smallest among ties; −1 when empty)
    ``mode_label``        ``state`` coordinate label of the mode (when the data has one)
    ``collision``         Σ_k p̂_k² (plug-in; delta-method se
                          sqrt(4(Σp̂³ − (Σp̂²)²)/N))
    ``kl_reference``      Σ_k p̂_k ln(p̂_k/r_k)  (inf if p̂_k > 0 where r_k = 0)
    ``js_reference``      ½ KL(p̂‖μ) + ½ KL(r‖μ), μ = (p̂ + r)/2  (≤ ln 2)
    ``tv_reference``      ½ Σ_k |p̂_k − r_k|
    ``n_tokens``          N per configuration
    ====================  ==========================================================

    The divergences are plug-in values with delta-method (multinomial) stderrs.
    ``reference`` is ``"uniform"`` (the default when q ≤ 65536), a label along
    ``reference_dim`` (that slice's distribution pooled over all other kept dims, e.g.
    a checkpoint pooled over prompts), or an array of q probabilities. With a large
    alphabet (q > 65536) and no explicit reference the divergences are omitted (attrs
    say so); everything is computed from sparse counts, explicit references included.
    Without q (an open answer space) the q-dependent variables (``order_entropy``,
    ``magnetization``, divergences from the uniform reference) are left out and
    ``attrs["left_out"]`` says so; everything else is computed.
    Configurations with no tokens give NaN (``mode_state`` −1).

    References: Cover & Thomas, *Elements of Information Theory* (2006) ch. 2;
    Lin, IEEE Trans. Inf. Theory 37, 145 (1991) for Jensen–Shannon.
    """
    from . import lazy as _lazy

    if _lazy.is_lazy(ds):  # dask-backed tokens: lazy, one task per block
        return _lazy_order_parameters(ds, system, n_states, estimator, reference, reference_dim)
    c = _counts(ds, system, n_states)
    q = n_states if n_states is not None else c.n_states
    q = _require_q(c, q, "order_parameters") if q is not None else None
    N = c.totals().astype(float)
    empty = N == 0
    seg = _segments(c)
    data: dict[str, xr.DataArray] = {}
    notes: dict[str, str] = {}

    def put(name: str, est: xr.DataArray) -> None:
        se = est.coords["stderr"].values if "stderr" in est.coords else np.full(est.shape, np.nan)
        val = est.drop_vars("stderr", errors="ignore")
        data[name] = val
        data[f"{name}_stderr"] = xr.DataArray(se, dims=val.dims, coords=val.coords,
                                              attrs={"long_name": f"standard error of {name}"})

    h, hse, ent_attrs = _entropy(c, estimator, q)
    h = np.where(empty, np.nan, h)
    hse = np.where(empty, np.nan, hse)
    put("entropy", estimate(c.wrap(h), c.wrap(hse), **{**ent_attrs, "units": "nats"}))
    if q is not None:
        put("order_entropy", estimate(
            c.wrap(1.0 - h / np.log(q)), c.wrap(hse / np.log(q)),
            estimator=f"1 - H/ln q ({ent_attrs.get('estimator', 'entropy')})", n_states=q, units="dimensionless",
        ))
    else:
        notes["left_out"] = Q_DEPENDENT_NOTE
    put("effective_states", estimate(
        c.wrap(np.exp(h)), c.wrap(np.exp(h) * hse),
        estimator=f"exp(H) ({ent_attrs.get('estimator', 'entropy')})", error_method="delta", units="states",
    ))
    if q is not None:
        put("magnetization", magnetization(c, n_states=q))
    with np.errstate(divide="ignore", invalid="ignore"):
        pmax = np.where(empty, np.nan, c.max_count() / N)
        put("mode_fraction", estimate(
            c.wrap(pmax), c.wrap(np.sqrt(pmax * (1 - pmax) / N)),
            estimator="max_k n_k / N", error_method="binomial", units="fraction",
        ))
        s2 = np.where(empty, np.nan, c.sum_squares() / N**2)
        p = c.counts / N.reshape(-1)[seg]
        s3 = _segsum(p**3, seg, c.n_config).reshape(c.shape)
        put("collision", estimate(
            c.wrap(s2), c.wrap(np.sqrt(np.clip(4 * (s3 - s2**2), 0, None) / N)),
            estimator="plugin sum_k p_k^2", error_method="delta", units="probability",
        ))
    mode = c.mode_state()
    data["mode_state"] = c.wrap(mode).assign_attrs(
        provenance(description="most frequent state (smallest among ties); -1 = no tokens")
    )
    labels = _state_labels(ds)
    if labels is not None and (mode.size == 0 or int(mode.max(initial=-1)) < labels.size):
        lab = np.where(mode >= 0, labels[np.clip(mode, 0, None)].astype(str), "")
        data["mode_label"] = c.wrap(lab.astype(str)).assign_attrs(
            provenance(description="state-coordinate label of the mode; '' = no tokens")
        )
    r, ref_label, ref_note = _reference_lookup(reference, c, q, reference_dim)
    notes["reference"] = ref_label
    notes["reference_note"] = ref_note
    if r is not None:
        div = _divergences(c, r)
        for key, desc in (("kl", "Kullback-Leibler"), ("js", "Jensen-Shannon"), ("tv", "total variation")):
            val, se = div[key]
            put(f"{key}_reference", estimate(
                c.wrap(val.reshape(c.shape)), c.wrap(se.reshape(c.shape)),
                estimator=f"plugin {desc} divergence from the reference",
                reference=ref_label, reference_note=ref_note,
                error_method="delta_multinomial",
                units="probability" if key == "tv" else "nats",
            ))
    data["n_tokens"] = c.wrap(N.astype(np.int64)).assign_attrs(provenance(description="tokens counted"))
    out = xr.Dataset(data)
    out.attrs = provenance(
        **({"n_states": q} if q is not None else {}), system=_system_attr(c),
        stderr_convention="<var>_stderr (see with_stderr)", **notes, **_size_attr(N),
    )
    return out


def _lazy_order_parameters(
    ds: xr.Dataset | xr.DataArray, system: Any, n_states: int | None, estimator: str | None,
    reference: Any, reference_dim: Hashable,
) -> xr.Dataset:
    """:func:`order_parameters` on dask-backed tokens: lazy, one task per block.

    A label ``reference`` is resolved first (only its slice is counted, now); the
    ``mode_label`` variable is added when the data's ``state`` labels cover all q states
    (the in-memory path adds it whenever every observed mode has a label).
    """
    from .count import resolve_n_states
    from .lazy import map_configurations

    system = as_dims(system)
    q = resolve_n_states(ds, n_states)
    is_label = not (reference is None or isinstance(reference, str) and reference == "uniform"
                    or isinstance(reference, np.ndarray | list | tuple | xr.DataArray) and np.ndim(reference) == 1)
    if is_label:
        reference = _resolve_label_reference(ds, system, q, reference, reference_dim)
    labels = _state_labels(ds)
    extra = {}
    if labels is not None and q is not None and labels.size >= q:  # every mode has a label
        extra["state"] = ds.coords["state"].variable
    return map_configurations(order_parameters, ds, system, n_states=q, extra_coords=extra, kwargs={
        "n_states": q, "estimator": estimator, "reference": reference, "reference_dim": reference_dim})


def _state_labels(ds: Any) -> np.ndarray | None:
    if isinstance(ds, xr.Dataset | xr.DataArray) and "state" in ds.coords:
        lab = np.asarray(ds.coords["state"].values)
        if lab.ndim == 1:
            return lab
    return None


# ------------------------------------------------------------------ prompt structure


def _pairwise_js(P: np.ndarray) -> np.ndarray:
    """JS divergence (nats) between all rows of P (n, S): H(mix) − (H(a) + H(b))/2."""
    def ent(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0).sum(axis=-1)

    h = ent(P)
    D = np.empty((P.shape[0], P.shape[0]))
    for a in range(P.shape[0]):
        D[a] = ent(0.5 * (P[a] + P)) - 0.5 * (h[a] + h)
    return np.clip(D, 0.0, None)


def _mean_pairwise_js_batched(X: np.ndarray) -> np.ndarray:
    """Mean pairwise JS over prompts for a batch of distributions X (B, n, S) -> (B,)."""
    def ent(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0).sum(axis=-1)

    n = X.shape[1]
    h = ent(X)
    total = np.zeros(X.shape[0])
    for a in range(n - 1):
        mix = ent(0.5 * (X[:, a : a + 1] + X[:, a + 1 :]))
        total += np.clip(mix - 0.5 * (h[:, a : a + 1] + h[:, a + 1 :]), 0.0, None).sum(axis=1)
    return total / (n * (n - 1) / 2)


def _pair_mean_jackknife(D: np.ndarray) -> tuple[float, float]:
    """Mean over pairs a < b of a symmetric matrix, with its delete-one-prompt jackknife se."""
    n = D.shape[0]
    iu = np.triu_indices(n, 1)
    total = D[iu].sum()
    npairs = n * (n - 1) / 2
    mean = total / npairs
    if n < 3:
        return mean, np.nan
    row = D.sum(axis=1) - np.diag(D)
    loo = (total - row) / ((n - 1) * (n - 2) / 2)
    se = np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())
    return mean, se


def _overlaps(P: np.ndarray, Cn: np.ndarray, Na: np.ndarray, q: int, g: int, res: dict, ses: dict) -> None:
    """Potts overlaps of one group of prompts: q_ab = (q Σ_k p_k^a p_k^b − 1)/(q − 1) between
    prompts (jackknife over prompts) and q_aa from the unbiased collision estimate."""
    Qab = (q * (P @ P.T) - 1.0) / (q - 1.0)
    res["overlap"][g], ses["overlap"][g] = _pair_mean_jackknife(Qab)
    with np.errstate(divide="ignore", invalid="ignore"):
        coll = (Cn * (Cn - 1)).sum(axis=1) / (Na * (Na - 1))
    qaa = (q * coll - 1.0) / (q - 1.0)
    qaa = qaa[np.isfinite(qaa)]
    if qaa.size:
        res["self_overlap"][g] = qaa.mean()
        if qaa.size > 1:
            ses["self_overlap"][g] = qaa.std(ddof=1) / np.sqrt(qaa.size)


def prompt_structure(
    ds: xr.Dataset | xr.DataArray,
    prompt: Hashable = "prompt",
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = None,
) -> xr.Dataset:
    """How different the prompts' answer distributions are, per remaining cell.

    For each cell of the dims other than ``prompt`` and ``system`` (e.g. per checkpoint),
    with p^a the empirical distribution of prompt a (counted over ``system``; prompts
    with no tokens are left out):

    - ``js_divergence`` = mean over pairs a < b of JS(p^a, p^b) in nats (0 … ln 2). It
      is biased upwards by finite samples (≈ (S − 1)/(4N) per pair for S occupied
      states, N tokens per prompt), so
    - ``js_divergence_null`` = its expectation when all prompts share the pooled
      distribution, by parametric bootstrap: each prompt's N_a tokens redrawn
      Multinomial(N_a, p_pooled), ``n_bootstrap`` times (``seed``); stderr = Monte-Carlo
      error of that mean. Tokens are treated as independent draws.
    - ``js_divergence_pvalue`` = (1 + #{null ≥ observed})/(n_bootstrap + 1), the
      bootstrap p-value of "all prompts share one distribution".
    - ``overlap`` = mean over a ≠ b of q_ab = (q Σ_k p_k^a p_k^b − 1)/(q − 1)
      (spin-glass overlap; 1 when all prompts put all mass on one common state, 0 for
      uniform or for orthogonal-enough prompts, negative when disjoint). Unbiased for
      independent prompts.
    - ``self_overlap`` = mean over prompts of q_aa with the unbiased collision estimate
      Σ_k n_k(n_k − 1)/(N(N − 1)); equals ``overlap`` in expectation when prompts share
      one distribution, exceeds it when they differ (the liquid phase).
    - ``n_prompts`` used.

    Stderrs of ``js_divergence``, ``overlap`` and ``self_overlap``: delete-one jackknife
    over prompts (needs ≥ 3 prompts), i.e. the uncertainty from which prompts were
    asked. References: Lin, IEEE Trans. Inf. Theory 37, 145 (1991); Mézard, Parisi &
    Virasoro, *Spin Glass Theory and Beyond* (1987) ch. 1.
    """
    system = as_dims(system)
    if prompt in system:
        raise SchemaError(f"prompt dim {prompt!r} must not be in system=", where=f"system={system}",
                          fix="count over samples (and positions), not prompts")
    c = count_states(ds, system=system, n_states=n_states)
    if prompt not in c.dims:
        raise SchemaError(
            f"dimension {prompt!r} is not in the data", where=f"kept dims {list(c.dims)}",
            fix="pass prompt= naming the dim that indexes prompts",
        )
    q = n_states if n_states is not None else c.n_states
    q = _require_q(c, q, "prompt_structure (overlap)") if q is not None else None
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    pax = c.dims.index(prompt)
    keep = tuple(d for d in c.dims if d != prompt)
    rows = np.moveaxis(np.arange(c.n_config).reshape(c.shape), pax, -1)
    gshape = rows.shape[:-1]
    rows = rows.reshape(-1, rows.shape[-1])
    names = ["js_divergence", "js_divergence_null", "overlap", "self_overlap"]
    res = {k: np.full(rows.shape[0], np.nan) for k in names}
    ses = {k: np.full(rows.shape[0], np.nan) for k in names}
    pval = np.full(rows.shape[0], np.nan)
    nprompts = np.zeros(rows.shape[0], dtype=np.int64)
    B = int(n_bootstrap)
    for g, rr in enumerate(rows):
        parts = [(c.states[c.indptr[i]:c.indptr[i + 1]], c.counts[c.indptr[i]:c.indptr[i + 1]]) for i in rr]
        parts = [pt for pt in parts if pt[1].sum() > 0]
        nprompts[g] = len(parts)
        if len(parts) < 2:
            continue
        support = np.unique(np.concatenate([s for s, _ in parts]))
        Cn = np.zeros((len(parts), support.size))
        for a, (s, n) in enumerate(parts):
            Cn[a, np.searchsorted(support, s)] = n
        Na = Cn.sum(axis=1)
        P = Cn / Na[:, None]
        D = _pairwise_js(P)
        res["js_divergence"][g], ses["js_divergence"][g] = _pair_mean_jackknife(D)
        if q is not None:
            _overlaps(P, Cn, Na, q, g, res, ses)
        if B >= 2:
            pooled = Cn.sum(axis=0) / Na.sum()
            draws = np.stack([rng.multinomial(int(n), pooled, size=B) / n for n in Na], axis=1)
            null = _mean_pairwise_js_batched(draws)
            res["js_divergence_null"][g] = null.mean()
            ses["js_divergence_null"][g] = null.std(ddof=1) / np.sqrt(B)
            pval[g] = (1 + np.sum(null >= res["js_divergence"][g] - 1e-12)) / (B + 1)
    kept_coords = {k: v for k, v in c.coords.items() if set(getattr(v, "dims", ())) <= set(keep)}

    def wrap(v: np.ndarray) -> xr.DataArray:
        return xr.DataArray(v.reshape(gshape), dims=keep, coords=kept_coords)

    units = {"js_divergence": "nats", "js_divergence_null": "nats",
             "overlap": "dimensionless", "self_overlap": "dimensionless"}
    methods = {"js_divergence": "jackknife_over_prompts", "overlap": "jackknife_over_prompts",
               "self_overlap": "stderr_of_mean_over_prompts",
               "js_divergence_null": "monte_carlo_error_of_parametric_bootstrap"}
    data: dict[str, xr.DataArray] = {}
    if q is None:                        # the Potts overlaps need q: left out, and said so
        names = [k for k in names if "overlap" not in k]
    for k in names:
        data[k] = wrap(res[k]).assign_attrs(provenance(units=units[k], error_method=methods[k]))
        data[f"{k}_stderr"] = wrap(ses[k]).assign_attrs(provenance(long_name=f"standard error of {k}"))
    data["js_divergence_pvalue"] = wrap(pval).assign_attrs(provenance(
        description="parametric-bootstrap p-value of 'all prompts share one distribution'"))
    data["n_prompts"] = wrap(nprompts).assign_attrs(provenance(description="prompts with tokens"))
    out = xr.Dataset(data)
    out.attrs = provenance(
        prompt=str(prompt), system=[str(d) for d in system], n_bootstrap=B,
        **({"n_states": q} if q is not None else {"left_out": "overlap and self_overlap need q (n_states=)"}),
        seed=str(seed) if not isinstance(seed, np.random.Generator) else "generator",
        stderr_convention="<var>_stderr (see with_stderr)",
        js_bias_note="plug-in JS is biased upwards at finite N; compare with js_divergence_null",
    )
    return out
