"""References for the divergences of :func:`phasekit.order_parameters`.

A reference r is ``"uniform"`` (1/q), an array of q probabilities, or a label along a kept
dim (that slice's distribution pooled over the other kept dims, e.g. the base checkpoint).
It is resolved to r_k at every stored entry of the sparse counts, so the divergences never
need a dense vocabulary axis (:func:`divergences`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from ..count import DENSE_MAX_STATES, Counts, count_states
from ..errors import SchemaError
from ._common import segments, segsum


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


def _pooled_reference_row(c: Counts, row: int, reference_dim: Hashable,
                          reference: Any) -> tuple[np.ndarray, np.ndarray, list[Hashable]]:
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


def reference_lookup(
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
    if is_array_reference(reference):
        return _array_reference(reference, c, q)
    if isinstance(reference, PooledReference):
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
class PooledReference:
    """A label reference resolved ahead of block-wise (dask) evaluation."""

    states: np.ndarray
    p: np.ndarray
    label: str
    note: str


def resolve_label_reference(
    ds: xr.Dataset | xr.DataArray, system: tuple, n_states: int | None, reference: Any, reference_dim: Hashable,
) -> PooledReference:
    """Count only the reference slice (``reference_dim == reference``) and pool it.

    Gives the same r_k as the in-memory path (which pools the same integer counts).
    """
    from ..schema import token_array

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
    return PooledReference(ref_states, ref_p, f"{reference_dim}={reference}", (
        f"pooled distribution of {reference_dim}={reference} over {others} "
        "(its own sampling noise is not in the stderr)"
    ))


def divergences(c: Counts, r: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """KL(p̂‖r), JS(p̂, r), TV(p̂, r) per configuration from the sparse entries.

    Unobserved states (p̂_k = 0) enter only through the reference mass 1 − Σ_obs r_k:
    KL gets nothing from them, TV gets ½(1 − Σ_obs r), JS gets ½ ln 2 · (1 − Σ_obs r).
    Delta-method variance per divergence with gradient g_k:
    Var ≈ (Σ_k p̂_k g_k² − (Σ_k p̂_k g_k)²)/N, g = ln(p/r) (KL), ½ ln(2p/(p+r)) (JS),
    ½ sign(p − r) (TV).
    """
    seg = segments(c)
    n = c.n_config
    N = segsum(c.counts.astype(float), seg, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = c.counts / N[seg]
        unseen = np.clip(1.0 - segsum(r, seg, n), 0.0, 1.0)
        out = {}
        g_kl = np.log(p / r)
        kl = segsum(np.where(r > 0, p * g_kl, np.inf), seg, n)
        g_js = 0.5 * np.log(2 * p / (p + r))
        js = segsum(0.5 * p * np.log(2 * p / (p + r)) + 0.5 * _xlogy(r, 2 * r / (p + r)), seg, n)
        js = js + 0.5 * np.log(2.0) * unseen
        g_tv = 0.5 * np.sign(p - r)
        tv = 0.5 * segsum(np.abs(p - r), seg, n) + 0.5 * unseen
        for name, val, g in (("kl", kl, g_kl), ("js", js, g_js), ("tv", tv, g_tv)):
            g = np.where(np.isfinite(g), g, 0.0)
            var = (segsum(p * g * g, seg, n) - segsum(p * g, seg, n) ** 2) / N
            se = np.sqrt(np.clip(var, 0.0, None))
            if name == "kl":
                se = np.where(np.isfinite(val), se, np.nan)
            empty = N == 0
            out[name] = (np.where(empty, np.nan, val), np.where(empty, np.nan, se))
    return out


def is_array_reference(reference: Any) -> bool:
    """Whether ``reference`` is a 1-D probability vector (not a label or 'uniform')."""
    return isinstance(reference, np.ndarray | list | tuple | xr.DataArray) and np.ndim(reference) == 1


def _array_reference(reference: Any, c: Counts, q: int | None) -> tuple[np.ndarray, str, str]:
    """r_k at every stored entry from a user probability vector (normalised, checked)."""
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
