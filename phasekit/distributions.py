"""Distribution mathematics, written once: normalisation, plug-in entropy, divergences,
pairwise Jensen–Shannon matrices and multinomial redraws.

Pure numpy. The **last axis holds the states**. Every function accepts either

* **dense rows** — an array ``(..., K)`` of counts or probabilities (rows are
  normalised first, so counts and probabilities give the same answer; a row whose total
  is 0 or that holds a NaN gives NaN), or
* **sparse rows** — any object with CSR attributes ``indptr``, ``states``, ``counts``
  (:class:`phasekit.count.Counts`, or :class:`SparseRows`): row ``i`` observed the states
  ``states[indptr[i]:indptr[i+1]]`` (sorted, distinct) with weights ``counts[...]``.
  States absent from a row have weight 0; no dense vocabulary axis is ever built
  (except in :func:`pairwise_js`, over the states actually observed). Results are
  shaped like the object's ``shape`` attribute when it is the grid of rows (as for
  ``Counts``), else one value per row.

Formulas (natural logarithms, nats), with p̂ = n / N:

* plug-in entropy  H(p) = −Σ_k p_k ln p_k = ln N − (1/N) Σ_k n_k ln n_k
  (Shannon 1948; the maximum-likelihood estimator, Miller 1955 for its bias);
* Kullback–Leibler  KL(p‖r) = Σ_k p_k ln(p_k / r_k), +∞ when some r_k = 0 < p_k
  (Kullback & Leibler 1951);
* Jensen–Shannon  JS(p, r) = ½ KL(p‖m) + ½ KL(r‖m), m = (p + r)/2; 0 ≤ JS ≤ ln 2
  (Lin, IEEE Trans. Inf. Theory 37, 145 (1991));
* total variation  TV(p, r) = ½ Σ_k |p_k − r_k| ∈ [0, 1].

Against a dense reference vector ``r`` (length q) a sparse ``p`` never needs the states it
did not observe one by one: they enter only through the reference mass they carry,
u = 1 − Σ_{k: p_k>0} r_k, as ½ u ln 2 in JS and ½ u in TV (KL gets nothing from them).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import rel_entr, xlogy

from .errors import SchemaError

__all__ = [
    "SparseRows",
    "is_sparse",
    "js_divergence",
    "kl_divergence",
    "multinomial_redraw",
    "normalise",
    "pairwise_js",
    "plugin_entropy",
    "tv_distance",
]


class SparseRows(NamedTuple):
    """CSR rows of weights (counts or probabilities) over states, grid ``shape``."""

    indptr: np.ndarray
    states: np.ndarray
    counts: np.ndarray
    shape: tuple[int, ...]


def is_sparse(x: Any) -> bool:
    """True for an object carrying CSR rows (``indptr``, ``states``, ``counts``)."""
    return all(hasattr(x, a) for a in ("indptr", "states", "counts")) and not isinstance(x, np.ndarray)


# --------------------------------------------------------------------------- CSR plumbing
def _n_rows(x: Any) -> int:
    return int(np.asarray(x.indptr).size - 1)


def _segments(x: Any) -> np.ndarray:
    """Row index of every stored entry."""
    indptr = np.asarray(x.indptr)
    return np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))


def _segsum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(seg, weights=values, minlength=n)[:n] if values.size else np.zeros(n)


def _grid(x: Any, flat: np.ndarray) -> np.ndarray:
    """Per-row values shaped like ``x.shape`` when that is the grid of rows."""
    shape = getattr(x, "shape", None)
    n = flat.shape[0]
    if isinstance(shape, tuple) and int(np.prod(shape, dtype=np.int64)) == n:
        return flat.reshape(shape + flat.shape[1:])
    return flat


def _sparse_probs(x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row of each entry, p of each entry, row totals N)."""
    seg = _segments(x)
    w = np.asarray(x.counts, dtype=float)
    tot = _segsum(w, seg, _n_rows(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = w / tot[seg] if w.size else w
    return seg, p, tot


def _dense_probs(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        raise SchemaError("a distribution needs a state axis", where="distributions",
                          fix="pass an array whose last axis holds the states")
    tot = a.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, a / np.where(tot > 0, tot, 1.0), np.nan)


def _as_dense(x: Any, width: int) -> np.ndarray:
    """Dense (..., width) weights of sparse rows (only where the caller is already dense)."""
    st = np.asarray(x.states, dtype=np.int64)
    if st.size and int(st.max()) >= width:
        raise SchemaError(f"a state {int(st.max())} is outside the dense axis of {width} states",
                          where="distributions", fix="use arrays over the same states")
    out = np.zeros((_n_rows(x), width))
    out[_segments(x), st] = np.asarray(x.counts, dtype=float)
    return _grid(x, out)


# --------------------------------------------------------------------------- one distribution
def normalise(counts: Any) -> Any:
    """Empirical distributions p_k = n_k / Σ_j n_j along the last axis.

    Dense input: an array of the same shape, NaN rows where the total is 0. Sparse input:
    a :class:`SparseRows` with the same structure whose ``counts`` hold the probabilities
    (rows without entries stay empty).
    """
    if is_sparse(counts):
        _seg, p, _tot = _sparse_probs(counts)
        shape = getattr(counts, "shape", (_n_rows(counts),))
        return SparseRows(np.asarray(counts.indptr), np.asarray(counts.states), p, tuple(shape))
    return _dense_probs(counts)


def plugin_entropy(p: Any) -> np.ndarray:
    """Plug-in (maximum-likelihood) Shannon entropy in nats along the last axis.

    H = −Σ_k p_k ln p_k with p the normalised row (counts or probabilities);
    from counts this is ln N − (1/N) Σ_k n_k ln n_k. NaN for an empty row.
    Reference: Shannon (1948); Miller (1955) for its O(K/N) downward bias — use
    :func:`phasekit.entropy` for bias-corrected estimators.
    """
    if is_sparse(p):
        if callable(getattr(p, "nlogn_sums", None)):  # Counts: one compiled pass over the entries
            tot, wlogw = p.nlogn_sums()
        else:
            seg = _segments(p)
            w = np.asarray(p.counts, dtype=float)
            n = _n_rows(p)
            tot = _segsum(w, seg, n)
            wlogw = _segsum(xlogy(w, w), seg, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(tot > 0, np.log(np.where(tot > 0, tot, 1.0)) - wlogw / np.where(tot > 0, tot, 1.0),
                         np.nan)
        return _grid(p, np.clip(h, 0.0, None))
    q = _dense_probs(p)
    return -xlogy(q, q).sum(axis=-1)


# --------------------------------------------------------------------------- two distributions
def _paired_sparse(p: Any, r: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any]:
    """Both rows' probabilities on a common support.

    Returns ``(seg, pv, rv, unseen, like)``: entry rows, p and r at each entry,
    per-row reference mass outside the entries (0 unless r is a dense vector), and the
    object whose grid shapes the result.
    """
    seg_p, pp, tot_p = _sparse_probs(p)
    n = _n_rows(p)
    if not is_sparse(r):
        rr = np.asarray(r, dtype=float)
        if rr.ndim != 1:
            raise SchemaError("a dense reference for sparse rows must be one vector over the states",
                              where=f"reference of shape {rr.shape}", fix="pass r of shape (q,)")
        rn = _dense_probs(rr)
        st = np.asarray(p.states, dtype=np.int64)
        if st.size and int(st.max()) >= rn.size:
            raise SchemaError(f"a state {int(st.max())} is outside the reference of length {rn.size}",
                              where="distributions", fix="pass one probability per state")
        rv = rn[st] if st.size else np.zeros(0)
        unseen = np.clip(1.0 - _segsum(rv, seg_p, n), 0.0, 1.0)
        return seg_p, pp, rv, np.where(tot_p > 0, unseen, np.nan), p
    seg_r, pr, tot_r = _sparse_probs(r)
    nr = _n_rows(r)
    if nr not in (n, 1):
        raise SchemaError(f"cannot pair {n} rows with {nr} rows", where="distributions",
                          fix="pass sparse rows on the same grid, or one reference row")
    st_r = np.asarray(r.states, dtype=np.int64)
    if nr == 1 and n != 1:  # one reference row for every row
        seg_r = np.repeat(np.arange(n, dtype=np.int64), st_r.size)
        st_r, pr = np.tile(st_r, n), np.tile(pr, n)
        tot_r = np.repeat(tot_r, n)
    seg = np.concatenate([seg_p, seg_r])
    st = np.concatenate([np.asarray(p.states, dtype=np.int64), st_r])
    vals_p = np.concatenate([pp, np.zeros(pr.size)])
    vals_r = np.concatenate([np.zeros(pp.size), pr])
    if st.size == 0:
        z = np.zeros(0)
        return np.zeros(0, np.int64), z, z, np.where((tot_p > 0) & (tot_r > 0), 0.0, np.nan), p
    order = np.lexsort((st, seg))
    seg_s, st_s = seg[order], st[order]
    new = np.empty(st_s.size, dtype=bool)
    new[0] = True
    new[1:] = (st_s[1:] != st_s[:-1]) | (seg_s[1:] != seg_s[:-1])
    starts = np.flatnonzero(new)
    pv = np.add.reduceat(vals_p[order], starts)
    rv = np.add.reduceat(vals_r[order], starts)
    empty = (tot_p <= 0) | (tot_r <= 0)
    return seg_s[starts], pv, rv, np.where(empty, np.nan, 0.0), p


def _pair(p: Any, r: Any) -> tuple[Any, Any]:
    """Dense operands for a dense/sparse mix (the sparse one densified to the dense width)."""
    if is_sparse(p) and not is_sparse(r) and np.ndim(r) > 1:
        return _as_dense(p, np.shape(r)[-1]), r
    if is_sparse(r) and not is_sparse(p):
        return p, _as_dense(r, np.shape(p)[-1])
    return p, r


def kl_divergence(p: Any, r: Any) -> np.ndarray:
    """Kullback–Leibler divergence KL(p‖r) = Σ_k p_k ln(p_k/r_k) in nats (last axis).

    +∞ where some r_k = 0 < p_k. Rows are normalised first; broadcasting for dense rows.
    Sparse ``p`` pairs with sparse ``r`` (same grid, or one row) or a dense vector ``r``.
    Reference: Kullback & Leibler, Ann. Math. Stat. 22, 79 (1951).
    """
    p, r = _pair(p, r)
    if is_sparse(p):
        seg, pv, rv, unseen, like = _paired_sparse(p, r)
        n = _n_rows(like)
        return _grid(like, _segsum(rel_entr(pv, rv), seg, n) + unseen * 0.0)
    return rel_entr(_dense_probs(p), _dense_probs(r)).sum(axis=-1)


def js_divergence(p: Any, r: Any) -> np.ndarray:
    """Jensen–Shannon divergence ½ KL(p‖m) + ½ KL(r‖m), m = (p + r)/2, in nats (0 … ln 2).

    Rows are normalised first; a NaN or empty row gives NaN. Reference: Lin (1991).
    """
    p, r = _pair(p, r)
    if is_sparse(p):
        seg, pv, rv, unseen, like = _paired_sparse(p, r)
        m = 0.5 * (pv + rv)
        body = 0.5 * rel_entr(pv, m) + 0.5 * rel_entr(rv, m)
        return _grid(like, _segsum(body, seg, _n_rows(like)) + 0.5 * np.log(2.0) * unseen)
    pd, rd = _dense_probs(p), _dense_probs(r)
    m = 0.5 * (pd + rd)
    return 0.5 * rel_entr(pd, m).sum(axis=-1) + 0.5 * rel_entr(rd, m).sum(axis=-1)


def tv_distance(p: Any, r: Any) -> np.ndarray:
    """Total-variation distance ½ Σ_k |p_k − r_k| (0 … 1) along the last axis.

    Rows are normalised first. Reference: e.g. Levin, Peres & Wilmer, *Markov Chains and
    Mixing Times* (2009), §4.1.
    """
    p, r = _pair(p, r)
    if is_sparse(p):
        seg, pv, rv, unseen, like = _paired_sparse(p, r)
        return _grid(like, 0.5 * _segsum(np.abs(pv - rv), seg, _n_rows(like)) + 0.5 * unseen)
    return 0.5 * np.abs(_dense_probs(p) - _dense_probs(r)).sum(axis=-1)


def pairwise_js(P: Any) -> np.ndarray:
    """Jensen–Shannon divergence between every pair of rows: D_ab = H(½(P_a + P_b)) − ½(H(P_a) + H(P_b)).

    Dense ``P`` of shape (..., n, K) gives (..., n, n) (a batch of matrices); sparse rows
    give one (n_rows, n_rows) matrix, computed over the states observed in any row.
    The identity with the definition of JS is exact; rounding below 0 is clipped to 0.
    Reference: Lin (1991), eq. (4.1) (JS as an entropy difference).
    """
    if is_sparse(P):
        st = np.asarray(P.states, dtype=np.int64)
        used, pos = np.unique(st, return_inverse=True)
        dense = np.zeros((_n_rows(P), max(used.size, 1)))
        dense[_segments(P), pos.reshape(-1)] = np.asarray(P.counts, dtype=float)
        P = dense
    X = _dense_probs(P)
    if X.ndim < 2:
        raise SchemaError("pairwise_js needs rows of distributions (..., n, K)", where=f"shape {X.shape}",
                          fix="stack the distributions on the second-to-last axis")
    h = -xlogy(X, X).sum(axis=-1)
    n = X.shape[-2]
    D = np.zeros(X.shape[:-2] + (n, n))      # D_aa = 0 exactly: ½(P_a + P_a) = P_a
    for a in range(n - 1):                   # pairs a < b only; D is symmetric
        mix = 0.5 * (X[..., a : a + 1, :] + X[..., a + 1 :, :])
        d = -xlogy(mix, mix).sum(axis=-1) - 0.5 * (h[..., a : a + 1] + h[..., a + 1 :])
        D[..., a, a + 1 :] = d
        D[..., a + 1 :, a] = d
    return np.clip(D, 0.0, None)


# --------------------------------------------------------------------------- redraws
def multinomial_redraw(counts: Any, rng: np.random.Generator, probs: Any = None) -> Any:
    """Multinomial redraw of every row with the row's own total N: n* ~ Multinomial(N, π).

    π is ``probs`` (normalised per row) or, by default, the row's empirical distribution
    n/N (the parametric bootstrap of the counts). Dense rows: an int64 array of the same
    shape; a row with no counts, or whose π is not finite, stays empty / is drawn from the
    uniform distribution over the K columns (N = 0 draws nothing). Sparse rows: a
    :class:`SparseRows` on the same support (π is then either the empirical distribution or
    ``probs`` given per stored entry), drawn as sequential conditional binomials
    n*_j ~ Bin(N − Σ_{i<j} n*_i, π_j / (1 − Σ_{i<j} π_i)), which is exactly multinomial.
    Reference: Efron & Tibshirani (1993), ch. 6 (parametric bootstrap).
    """
    if is_sparse(counts):
        return _sparse_redraw(counts, rng, probs)
    c = np.asarray(counts)
    n = c.sum(axis=-1).astype(np.int64)
    p = _dense_probs(c) if probs is None else np.asarray(probs, dtype=float)
    k = c.shape[-1]
    p = np.where(np.isfinite(p).all(axis=-1, keepdims=True) & (n[..., None] > 0), p, 1.0 / k)
    p = p / p.sum(axis=-1, keepdims=True)
    return rng.multinomial(n, p).astype(np.int64)


def _sparse_redraw(counts: Any, rng: np.random.Generator, probs: Any) -> SparseRows:
    seg = _segments(counts)
    nrow = _n_rows(counts)
    w = np.asarray(counts.counts)
    tot = np.rint(_segsum(w.astype(float), seg, nrow)).astype(np.int64)
    if probs is None:
        pi = w.astype(float)
    else:
        pi = np.asarray(probs, dtype=float)
        if pi.shape != w.shape:
            raise SchemaError("probs for sparse rows must give one value per stored entry",
                              where=f"probs shape {pi.shape}, entries {w.shape}",
                              fix="pass probs aligned with counts.states, or densify")
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = pi / _segsum(pi, seg, nrow)[seg]
    indptr = np.asarray(counts.indptr)
    pos = np.arange(w.size) - indptr[:-1][seg]
    length = np.diff(indptr)[seg]
    out = np.zeros(w.size, dtype=np.int64)
    left_n = tot.copy()
    left_p = np.ones(nrow)
    order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[order], np.arange(int(pos.max(initial=-1)) + 2))
    for j in range(bounds.size - 1):
        idx = order[bounds[j] : bounds[j + 1]]
        rows = seg[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip(np.nan_to_num(pi[idx] / left_p[rows]), 0.0, 1.0)
        frac[pos[idx] == length[idx] - 1] = 1.0
        draw = rng.binomial(left_n[rows], frac)
        out[idx] = draw
        left_n[rows] -= draw
        left_p[rows] -= pi[idx]
    shape = getattr(counts, "shape", (nrow,))
    return SparseRows(indptr, np.asarray(counts.states), out, tuple(shape))
