r"""The connected same-state correlation function C(r) and its jackknife estimator.

.. math:: C(r) = \frac{S(r)/N(r) - D}{1 - D},\qquad D = \sum_k \hat p_k^2

(stationary form; :mod:`.pairs` counts S and N), or position-resolved over replicas. Errors:
delete-a-group jackknife over groups of sequences, or a block jackknife over segments of a
single sequence (Efron & Stein 1981; Sokal 1996 for the two-point function of Potts spins).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr
from scipy import sparse

from .._meta import estimate, renamed_keyword, resolve_n_states
from ..errors import SchemaError
from ._common import _group_ids, _group_starts, _jackknife_se
from .layout import _cells, _layout, _token_da
from .pairs import _group_state_sums, _same_state_pairs
from .streaming import lazy_correlation_function


def _stationary_cell(x: np.ndarray, max_lag: int, n_groups: int) -> dict[str, Any]:
    """Stationary C(r)/C(0) of one cell (M sequences × L), its jackknife replicates."""
    m = x.shape[0]
    g = max(1, min(m, n_groups))
    starts = _group_starts(m, g)
    same_g, pairs_g = _same_state_pairs(x, max_lag, starts)
    tok_g, sq_g, cross_g = _group_state_sums(x, starts)
    total = tok_g.sum()
    sumsq = cross_g.sum()  # sum_k n_k^2

    def curve(same: np.ndarray, pairs: np.ndarray, tokens: np.ndarray, ssq: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ssq / tokens**2
            p_same = same / pairs
            return (p_same - d[..., None]) / (1.0 - d[..., None])

    if g >= 2 and total > 0:
        sumsq = _jackknife_corrected_sumsq(total, sumsq, tok_g, sq_g, cross_g)
    full = curve(same_g.sum(0), pairs_g.sum(0), np.asarray(total), np.asarray(sumsq))
    c0 = 1.0 - sumsq / total**2 if total > 0 else np.nan
    out = {"pairs": pairs_g.sum(0), "c0": np.asarray(c0), "c": full}
    if g >= 2:
        reps = curve(
            same_g.sum(0)[None] - same_g,
            pairs_g.sum(0)[None] - pairs_g,
            total - tok_g,
            sumsq - 2.0 * cross_g + sq_g,
        )
        out.update(se=_jackknife_se(reps), reps=reps,
                   error_method=f"delete-a-group jackknife over {g} groups of sequences")
        return out
    # a single sequence: block jackknife over contiguous segments (pairs within segments)
    length = x.shape[1]
    n_blocks = min(n_groups, length // (2 * (max_lag + 1)))
    if n_blocks >= 2:
        seg = length // n_blocks
        blocked = _stationary_cell(x[0, : n_blocks * seg].reshape(n_blocks, seg), max_lag, n_groups)
        reps = blocked["reps"] + (full - blocked["c"])[None, :]
        out.update(se=blocked["se"], reps=reps,
                   error_method=f"block jackknife over {n_blocks} segments of the single "
                   f"sequence (length {seg} each)")
        return out
    out.update(se=np.full_like(full, np.nan), reps=full[None],
               error_method="none (a single sequence too short for a block jackknife)")
    return out


def _jackknife_corrected_sumsq(total: float, sumsq: float, tok_g: np.ndarray, sq_g: np.ndarray,
                               cross_g: np.ndarray) -> float:
    r"""T² D_J: the disconnected part :math:`D = \sum_k \hat p_k^2` with its O(ξ/(ML)) bias removed.

    :math:`E[\hat D] = D + \sum_k \mathrm{Var}(\hat p_k) > D`, which shifts every C(r) down by
    about :math:`(1 - C(r))\,\sum_k \mathrm{Var}\,\hat p_k/(1 - D)`: −0.0015 per lag on a λ = 0.93
    chain of 60 × 256 tokens, −1 % of the integrated length summed over Sokal's window. The
    delete-a-group jackknife for groups of unequal size (Busing, Meijer & van der Leeden,
    Psychometrika 64, 31 (1999)), :math:`D_J = \hat D + \sum_g (1 - h_g)(\hat D - \hat D_{-g})`
    with :math:`h_g` the group's share of the tokens, removes the 1/n term. Groups are whole
    sequences, so the correlation along a sequence is in it. Returned as :math:`T^2 D_J`
    (the ``sumsq`` the curve takes), clipped to D in [0, 1]; when no group changes
    :math:`\hat D` (every token in one state) the correction is exactly 0.
    """
    rest = total - tok_g
    with np.errstate(invalid="ignore", divide="ignore"):
        d_minus = np.where(rest > 0, (sumsq - 2.0 * cross_g + sq_g) / rest**2, np.nan)
    d_hat = sumsq / total**2
    ok = np.isfinite(d_minus)
    if ok.sum() < 2:
        return float(sumsq)
    h = tok_g[ok] / total
    d_j = d_hat + float(np.sum((1.0 - h) * (d_hat - d_minus[ok])))
    return float(np.clip(d_j, 0.0, 1.0)) * total**2


def _position_cell(x: np.ndarray, max_lag: int, n_groups: int) -> dict[str, Any]:
    """Position-resolved C(t, r) / sqrt(C(t,0) C(t+r,0)) of one cell, with jackknife."""
    m, length = x.shape
    g = max(1, min(m, n_groups))
    starts = _group_starts(m, g)
    valid = x >= 0
    same = np.zeros((g, length, max_lag + 1))
    pairs = np.zeros((g, length, max_lag + 1))
    for r in range(max_lag + 1):
        a, b = x[:, : length - r], x[:, r:]
        va = valid[:, : length - r] & valid[:, r:]
        same[:, : length - r, r] = np.add.reduceat((a == b) & va, starts, axis=0)
        pairs[:, : length - r, r] = np.add.reduceat(va, starts, axis=0)
    # per-position state counts, sparse over the states present
    rows, pos = np.nonzero(valid)
    vals = x[rows, pos]
    _, code = np.unique(vals, return_inverse=True)
    n_codes = int(code.max()) + 1 if code.size else 1
    gid = _group_ids(m, starts)[rows]
    total = sparse.csr_matrix((np.ones(code.size), (pos, code)), shape=(length, n_codes))
    tpos = np.bincount(pos, minlength=length).astype(np.float64)

    def gram(a: sparse.csr_matrix) -> np.ndarray:
        return np.asarray((a @ a.T).toarray(), dtype=np.float64)

    def curve(s: np.ndarray, n: np.ndarray, m2: np.ndarray, npos: np.ndarray) -> np.ndarray:
        t = np.arange(length)
        out = np.full((length, max_lag + 1), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            var0 = 1.0 - np.diag(m2) / npos**2
            for r in range(max_lag + 1):
                tt = t[: length - r]
                marg = m2[tt, tt + r] / (npos[tt] * npos[tt + r])
                conn = s[: length - r, r] / n[: length - r, r] - marg
                out[: length - r, r] = conn / np.sqrt(var0[tt] * var0[tt + r])
        return out

    s_all, n_all = same.sum(0), pairs.sum(0)
    full = curve(s_all, n_all, gram(total), tpos)
    if g >= 2:
        reps = np.empty((g, length, max_lag + 1))
        for k in range(g):
            keep = gid != k
            a = sparse.csr_matrix(
                (np.ones(int(keep.sum())), (pos[keep], code[keep])), shape=(length, n_codes)
            )
            npos = np.bincount(pos[keep], minlength=length).astype(np.float64)
            reps[k] = curve(s_all - same[k], n_all - pairs[k], gram(a), npos)
        se = _jackknife_se(reps)
    else:
        reps = full[None]
        se = np.full_like(full, np.nan)
    return {"c": full, "se": se, "reps": reps, "pairs": n_all}


def _correlation(
    ds: xr.Dataset | xr.DataArray,
    sequence: Hashable,
    max_lag: int | None,
    replica: Any,
    keep: Any,
    stationary: bool,
    n_jackknife: int,
) -> tuple[xr.DataArray, np.ndarray]:
    """The correlation function DataArray and its jackknife replicates (…, G, [L,] R+1)."""
    tok = _token_da(ds)
    kept, rep = _layout(tok, sequence, replica, keep)
    cells, kshape = _cells(tok, sequence, kept, rep)
    length = cells.shape[2]
    if length < 2:
        raise SchemaError(
            f"the sequence axis {sequence!r} has length {length}; a correlation needs at least 2 positions",
            where=f"dim {sequence!r}",
            fix="pass sequence= naming the dim along which tokens form sequences",
        )
    r_max = length // 2 if max_lag is None else int(max_lag)
    if not 0 <= r_max < length:
        raise SchemaError(
            f"max_lag={max_lag} is outside [0, {length - 1}]",
            where=f"sequence axis {sequence!r} of length {length}",
            fix=f"pass max_lag <= {length - 1}",
        )
    if int(n_jackknife) < 2:
        raise SchemaError("n_jackknife must be at least 2", where="n_jackknife", fix="pass e.g. 50")
    worker = _stationary_cell if stationary else _position_cell
    results = [worker(cells[i], r_max, int(n_jackknife)) for i in range(cells.shape[0])]
    tail = (r_max + 1,) if stationary else (length, r_max + 1)
    c = np.stack([res["c"] for res in results]).reshape(*kshape, *tail)
    se = np.stack([res["se"] for res in results]).reshape(*kshape, *tail)
    n_pairs = np.stack([res["pairs"] for res in results]).reshape(*kshape, *tail)
    reps = np.stack([res["reps"] for res in results])
    reps = reps.reshape(*kshape, reps.shape[1], *tail)
    out_dims = (*kept, "lag") if stationary else (*kept, sequence, "lag")
    coords: dict[Hashable, Any] = {d: tok.coords[d] for d in kept if d in tok.coords}
    if not stationary and sequence in tok.coords:
        coords[sequence] = tok.coords[sequence]
    coords["lag"] = np.arange(r_max + 1)
    value = xr.DataArray(c, dims=out_dims, coords=coords)
    n_tokens = int((cells >= 0).sum())
    g = max(1, min(cells.shape[1], int(n_jackknife)))
    error_method: str
    if stationary:
        error_method = str(results[0]["error_method"])
    elif g >= 2:
        error_method = f"delete-a-group jackknife over {g} groups of sequences"
    else:
        error_method = "none (a single sequence per cell: no replicas to estimate an error from)"
    out = estimate(
        value,
        se,
        name="correlation",
        estimator="connected same-state correlation C(r)/C(0)"
        + (" (stationary)" if stationary else " (position-resolved)"),
        units="1",
        sequence=str(sequence),
        replica=[str(d) for d in rep],
        kept=[str(d) for d in kept],
        stationary=bool(stationary),
        max_lag=r_max,
        N=n_tokens,
        n_states=resolve_n_states(tok),
        error_method=error_method,
        lag_units=f"index steps along {sequence}",
    )
    out = out.assign_coords(n_pairs=(out_dims, n_pairs))
    if stationary:
        c0 = np.stack([res["c0"] for res in results]).reshape(kshape)
        out = out.assign_coords(c0=(kept, c0))
    return out, reps


def correlation_function(
    ds: xr.Dataset | xr.DataArray,
    *,
    sequence: Hashable = "position",
    max_lag: int | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    keep: Hashable | Iterable[Hashable] | None = None,
    stationary: bool = True,
    n_jackknife: int = 50,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Connected same-state correlation along the sequence axis ``sequence``, normalised by C(0).

    Stationary form (default), pooled over positions ``t`` and over the replica dims:

    .. math:: C(r) = \frac{S(r)/N(r) - D}{1 - D},\qquad D = \sum_k \hat p_k^2,

    with :math:`S(r)` the number of pairs ``(t, t+r)`` with equal states, :math:`N(r)` the
    number of pairs where both tokens are present (``-1`` excluded pairwise) and
    :math:`\hat p_k` the state frequencies over all present tokens of the cell. So
    :math:`C(0) = 1` and, for a symmetric Markov chain with stay probability
    :math:`\lambda`, :math:`C(r) = \lambda^r`. The unnormalised :math:`C(0) = 1 - D` is
    returned as the ``c0`` coordinate.

    Position-resolved form (``stationary=False``), over replicas at fixed ``t``:

    .. math:: C(t, r) = \frac{P(s_t = s_{t+r}) - \sum_k p_k(t) p_k(t+r)}
                              {\sqrt{C(t, 0)\, C(t+r, 0)}},\qquad C(t,0) = 1 - \sum_k p_k(t)^2,

    returned with dims ``(..., sequence, lag)`` (the ``sequence`` coordinate labels the
    first position t; NaN where ``t + r`` is beyond the end). Its cost is O(M L R) — use
    it on short sequences.

    Parameters
    ----------
    ds : samples Dataset with ``token`` or a token DataArray.
    sequence : the sequence axis (glossary, docs/glossary.md). ``dim=`` is its deprecated
        old name (still accepted, with a DeprecationWarning).
    max_lag : largest lag R (default ``L // 2``).
    replica : dims averaged over (pooled). Default: ``sample`` when present and nothing is
        named, else the complement of ``keep``. Pool everything with
        ``replica=[d for d in tok.dims if d != sequence]``.
    keep : dims that get their own curve (the complement of ``replica``; default: every
        dim except ``sequence`` and ``sample`` — every dim not named is kept, so the
        default gives one curve per checkpoint and prompt).
    stationary : stationary (pooled over t) or position-resolved form.
    n_jackknife : number of groups of sequences for the delete-a-group jackknife (with a
        single sequence per cell: number of segments of it for a block jackknife).

    Returns
    -------
    DataArray ``correlation`` with dims ``(*keep, "lag")`` (or ``(*keep, sequence, "lag")``),
    coords ``stderr``, ``n_pairs`` (pairs entering each lag) and ``c0``; attrs
    ``sequence``, ``replica``, ``kept``.

    Notes
    -----
    Pair counts are exact: frequent states by zero-padded FFT autocorrelation of their
    indicators (Wiener–Khinchin), rare states by sort-based pair enumeration, chosen per
    state by a cost model; memory never scales with the vocabulary size. The plug-in
    :math:`D` is biased up by O(ξ / (M L)); the stationary form uses its delete-a-group
    jackknife estimate (:func:`_jackknife_corrected_sumsq`).
    """
    from ..lazy import is_lazy

    sequence = renamed_keyword("correlation_function", "dim", "sequence", dim, sequence, "position")
    if is_lazy(ds) and stationary:  # dask-backed: one curve per block of the kept dims (lazy)
        lazy = lazy_correlation_function(correlation_function, ds, sequence=sequence, max_lag=max_lag,
                                         replica=replica, keep=keep, n_jackknife=n_jackknife)
        if lazy is not None:
            return lazy
    out, _ = _correlation(ds, sequence, max_lag, replica, keep, stationary, n_jackknife)
    return out
