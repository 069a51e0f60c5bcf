"""Correlation functions, correlation lengths and autocorrelation times.

Along the sequence axis (``sequence=``, ``position`` by default) the connected same-state correlation

.. math:: C(r) = P(s_t = s_{t+r}) - \\sum_k p_k(t)\\, p_k(t+r)

is the categorical analogue of the spin-spin correlation of a Potts model (for Potts spins
:math:`\\delta_{s_t s_{t+r}} - 1/q` is the natural two-point function). It is normalised by
:math:`C(0) = 1 - \\sum_k p_k^2`, so that :math:`C(0) = 1`. Along training (``checkpoint``)
the integrated autocorrelation time with Sokal's automatic window gives the number of
effectively independent checkpoints.

Conventions (see ``docs/correlations.md`` and the glossary, ``docs/glossary.md``):

* Vocabulary: ``sequence=`` names the sequence axis, ``replica=`` the dims averaged over,
  ``control=`` the control axis of :func:`autocorrelation_time`. ``dim=``, their old
  name, is still accepted with a DeprecationWarning. Arguments after the data are
  keyword-only.

* ``replica`` dims are averaged over (default: ``sample`` only; every dim not named is
  kept, so ``correlation_length(ds)`` gives one ξ per checkpoint and prompt); each cell of
  the kept dims gets its own curve. To pool, name the pooled dims in ``replica=`` (or
  name the kept ones in ``keep=``). Pool prompts or checkpoints only when they share one
  distribution: a mixture of distributions shows up as a positive correlation.
* ``-1`` (no token) is excluded pairwise: a pair counts only when both tokens are present.
* Errors: delete-a-group jackknife over groups of sequences (``n_jackknife`` groups,
  contiguous blocks of the flattened replica dims); for a single long sequence, a block
  jackknife over contiguous segments of it.
* Lags are in index steps along the sequence axis, whatever its coordinate values.

References
----------
Sokal, "Monte Carlo Methods in Statistical Mechanics: Foundations and New Algorithms"
(Cargèse lectures, 1996); Madras & Sokal, J. Stat. Phys. 50, 109 (1988);
Li, "Mutual information functions versus correlation functions", J. Stat. Phys. 60, 823
(1990); Efron & Stein, Ann. Stat. 9, 586 (1981) (jackknife); Burnham & Anderson, *Model
Selection and Multimodel Inference* (2002) (AIC).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable
from typing import Any, cast

import numpy as np
import scipy.fft as sfft
import xarray as xr
from scipy import optimize, sparse

from .._meta import as_dims, estimate, renamed_keyword, require_dims, resolve_n_states, stderr_of
from ..errors import SchemaError

__all__ = [
    "correlation_function",
    "mutual_information",
    "correlation_length",
    "autocorrelation_time",
]

#: Cost model of the pair counter: seconds per same-state pair enumerated (numpy loop over
#: offsets, or the numba loop when numba is installed) and per element x log2(n) of a
#: forward real FFT (float32). A state goes to the FFT path when enumerating its pairs
#: would cost more than transforming its indicator (measured on 2 shared cores).
_PAIR_COST = 2e-7
_PAIR_COST_NUMBA = 5e-8
_FFT_COST = 5e-10
_CHUNK_ROWS = 1024
#: the dim averaged over when neither replica= nor keep= is given (every other dim is kept)
DEFAULT_REPLICA = "sample"
#: two-sided confidence of the ``lower``/``upper`` coords and one-sided level of lower bounds
CONFIDENCE = 0.95
_Z = 1.959963984540054
_DENSE_KEYS = 30_000_000


# --------------------------------------------------------------------------- input
def _token_da(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    from ..schema import token_array

    return token_array(ds)


def _layout(
    tok: xr.DataArray,
    sequence: Hashable,
    replica: Hashable | Iterable[Hashable] | None,
    keep: Hashable | Iterable[Hashable] | None,
) -> tuple[tuple[Hashable, ...], tuple[Hashable, ...]]:
    """(kept dims, replica dims) for a token array and the sequence axis."""
    if sequence not in tok.dims:
        raise SchemaError(
            f"the sequence axis {sequence!r} is not in the data",
            where=f"token dims are {list(tok.dims)}",
            fix=f"pass sequence= one of {list(tok.dims)}",
        )
    rep = as_dims(replica)
    kp = as_dims(keep)
    for name, dims in (("replica", rep), ("keep", kp)):
        require_dims(tok, dims, argument=name)
        if sequence in dims:
            raise SchemaError(
                f"the sequence axis {sequence!r} cannot also be in {name}=",
                where=f"{name}={list(dims)}",
                fix=f"remove {sequence!r} from {name}=",
            )
    others = [d for d in tok.dims if d != sequence]
    if rep and kp:
        if set(rep) & set(kp) or set(rep) | set(kp) != set(others):
            raise SchemaError(
                "replica= and keep= must split the non-sequence dims between them",
                where=f"replica={list(rep)}, keep={list(kp)}, other dims {others}",
                fix="pass only one of replica= and keep=",
            )
    elif rep:
        kp = tuple(d for d in others if d not in rep)
    elif kp:
        rep = tuple(d for d in others if d not in kp)
    else:
        # nothing named: every dim not named is kept, except the replica dim of the data
        # model (``sample``): one curve per checkpoint, prompt, ... (DESIGN.md). To pool,
        # name the pooled dims in replica=.
        rep = tuple(d for d in others if d == DEFAULT_REPLICA)
        kp = tuple(d for d in others if d not in rep)
    return kp, rep


def _token_values(tok: xr.DataArray) -> np.ndarray:
    """Integer numpy values of a token array, checked for the -1 padding convention."""
    vals = np.asarray(tok.values)
    if vals.dtype.kind == "f":
        if not np.all(np.isfinite(vals)) or np.any(vals != np.round(vals)):
            raise SchemaError(
                "tokens must be integers (-1 for no token); found non-integer or NaN values",
                where="variable 'token'",
                fix="fill missing tokens with -1 and cast: ds['token'].fillna(-1).astype(int)",
            )
        vals = vals.astype(np.int64)
    elif vals.dtype.kind not in "iub":
        raise SchemaError(
            f"tokens must be integers, got dtype {vals.dtype}",
            where="variable 'token'",
            fix="encode answers as integer states with phasekit.open_samples(..., encoder=...)",
        )
    vals = vals.astype(np.int64, copy=False)
    if vals.size and vals.min() < -1:
        raise SchemaError(
            f"token values below -1 found (minimum {vals.min()})",
            where="variable 'token'",
            fix="use -1 (and only -1) for 'no token'",
        )
    return vals


def _cells(
    tok: xr.DataArray, dim: Hashable, kept: tuple[Hashable, ...], rep: tuple[Hashable, ...]
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Token values as (n_cells, M sequences, L) with cells over the kept dims (C order)."""
    arr = tok.transpose(*kept, *rep, dim)
    vals = _compact_states(_token_values(arr))
    kshape = tuple(int(tok.sizes[d]) for d in kept)
    n_cells = int(np.prod(kshape, dtype=np.int64)) if kept else 1
    m = int(np.prod([tok.sizes[d] for d in rep], dtype=np.int64)) if rep else 1
    return vals.reshape(n_cells, m, int(tok.sizes[dim])), kshape


def _compact_states(vals: np.ndarray) -> np.ndarray:
    """Relabel states 0..K-1 (order kept, -1 kept) when the ids are large and sparse.

    Equality is all a same-state count or an entropy needs, so this changes no result;
    it bounds the q-sized scratch arrays and keeps joint codes (q^2) inside int64.
    """
    top = int(vals.max()) if vals.size else 0
    if top < (1 << 22):  # vocabularies up to ~4M ids: q-sized scratch is cheap
        return vals
    valid = vals >= 0
    out = np.full(vals.shape, -1, dtype=np.int64)
    out[valid] = np.unique(vals[valid], return_inverse=True)[1]
    return out


def _group_starts(m: int, n_groups: int) -> np.ndarray:
    """First row of each of ``n_groups`` contiguous, nearly equal blocks of ``m`` rows."""
    sizes = np.full(n_groups, m // n_groups, dtype=np.int64)
    sizes[: m % n_groups] += 1
    return np.concatenate([[0], np.cumsum(sizes)[:-1]])


def _group_ids(m: int, starts: np.ndarray) -> np.ndarray:
    gid = np.zeros(m, dtype=np.int64)
    gid[starts[1:]] = 1
    return np.cumsum(gid)


# --------------------------------------------------------------------------- pair counts
def _fft_pair_counts(
    x: np.ndarray, states: np.ndarray, max_lag: int, starts: np.ndarray, mask: np.ndarray | None
) -> np.ndarray:
    """Per-group sums over sequences of sum_k sum_t I_k(t) I_k(t+r), r = 0..max_lag.

    Wiener–Khinchin: the (acyclic) autocorrelation of an indicator is the inverse FFT of
    its power spectrum when zero-padded to at least L + max_lag. Power spectra are summed
    over states and over the sequences of a group before the single inverse transform.
    If ``mask`` is given it is transformed instead of state indicators (valid-pair counts).
    """
    m, length = x.shape
    n = sfft.next_fast_len(length + max_lag, real=True)
    dtype = np.float32 if length <= 4096 else np.float64
    gid = _group_ids(m, starts)
    n_groups = starts.size
    power = np.zeros((n_groups, n // 2 + 1), dtype=np.float64)
    for lo in range(0, m, _CHUNK_ROWS):
        hi = min(m, lo + _CHUNK_ROWS)
        xc = x[lo:hi]
        gc = gid[lo:hi]
        # boundaries of groups inside this chunk
        cut = np.flatnonzero(np.diff(gc)) + 1
        seg = np.concatenate([[0], cut])
        targets = gc[seg]
        signals = [mask[lo:hi]] if mask is not None else (xc == k for k in states)
        psum = np.zeros((hi - lo, n // 2 + 1), dtype=np.float64)
        for ind in signals:
            f = sfft.rfft(ind.astype(dtype), n, axis=1)
            psum += f.real * f.real + f.imag * f.imag
        power[targets] += np.add.reduceat(psum, seg, axis=0)
    ac = sfft.irfft(power, n, axis=1)[:, : max_lag + 1]
    # the counts are integers; float32 round-off stays far below 1/2 for such groups
    if np.diff(np.append(starts, m)).max() * float(length) ** 2 < 1e10:
        ac = np.rint(ac)
    return ac


def _enumerate_numpy(run: np.ndarray, pos: np.ndarray, grp: np.ndarray, max_lag: int,
                     size: int) -> np.ndarray:
    """Pair counts by offsets d = 1, 2, ...: token i against token i + d of the same run."""
    out = np.bincount(grp, minlength=size).astype(np.float64)  # lag 0: token with itself
    idx = np.arange(run.size - 1)
    pending: list[np.ndarray] = []
    n_pending = 0
    d = 1
    while idx.size:
        j = idx + d
        ok = j < run.size
        idx, j = idx[ok], j[ok]
        lag = pos[j] - pos[idx]
        ok = (run[j] == run[idx]) & (lag <= max_lag)
        idx = idx[ok]
        if idx.size:
            pending.append(grp[idx] + lag[ok])
            n_pending += idx.size
        if n_pending > 5_000_000 or not idx.size:
            if pending:
                out += np.bincount(np.concatenate(pending), minlength=size)
            pending, n_pending = [], 0
        d += 1
    return out


def _state_pairs_loop(x, q):  # pragma: no cover - compiled by numba
    """Per state k: sum over sequences of n_ik (n_ik - 1) / 2 (O(M L), q-sized scratch)."""
    m, length = x.shape
    pairs = np.zeros(q, dtype=np.float64)
    cnt = np.zeros(q, dtype=np.int64)
    for i in range(m):
        for t in range(length):
            s = x[i, t]
            if s >= 0:
                cnt[s] += 1
        for t in range(length):
            s = x[i, t]
            if s >= 0 and cnt[s] > 0:
                c = cnt[s]
                pairs[s] += c * (c - 1) / 2.0
                cnt[s] = 0
    return pairs


def _chain_pairs_loop(x, light, gid, max_lag, n_groups):  # pragma: no cover - numba
    """Same-state pair counts of the ``light`` states by chains of previous occurrences.

    For every token, ``prev[t]`` is the previous position of the same state in the
    sequence; following the chain until the lag exceeds ``max_lag`` visits exactly the
    pairs to count (O(M L + pairs), q-sized scratch reused across sequences).
    """
    m, length = x.shape
    out = np.zeros((n_groups, max_lag + 1), dtype=np.int64)
    last = np.full(light.size, -1, dtype=np.int64)
    prev = np.empty(length, dtype=np.int64)
    for i in range(m):
        g = gid[i]
        for t in range(length):
            s = x[i, t]
            if s < 0 or not light[s]:
                continue
            out[g, 0] += 1
            p = last[s]
            prev[t] = p
            while p >= 0 and t - p <= max_lag:
                out[g, t - p] += 1
                p = prev[p]
            last[s] = t
        for t in range(length):
            s = x[i, t]
            if s >= 0:
                last[s] = -1
    return out


_NUMBA_KERNEL: Any = None


def _enumerate_kernel() -> Any:
    """The numba-compiled (state_pairs, chain_pairs) loops, or None without numba."""
    global _NUMBA_KERNEL
    if _NUMBA_KERNEL is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is the optional "fast" extra
            _NUMBA_KERNEL = False
        else:
            jit = numba.njit(cache=True, nogil=True)
            _NUMBA_KERNEL = (jit(_state_pairs_loop), jit(_chain_pairs_loop))
    return _NUMBA_KERNEL or None


def _enumerated_pair_counts(
    run: np.ndarray, pos: np.ndarray, grp: np.ndarray, max_lag: int, n_groups: int
) -> np.ndarray:
    """Per-group counts of same-state pairs at lags 0..max_lag from run-sorted tokens.

    ``run`` (sequence, state) keys sorted, ``pos`` ascending within a run, ``grp`` the
    group of each token times (max_lag + 1). Every token is paired with the following
    tokens of its run until the lag exceeds ``max_lag``: work proportional to the number
    of pairs (vectorised numpy loop over offsets; used when numba is not installed).
    """
    size = n_groups * (max_lag + 1)
    if run.size == 0:
        return np.zeros((n_groups, max_lag + 1))
    out = _enumerate_numpy(run, pos, grp, max_lag, size)
    return out.reshape(n_groups, max_lag + 1)


def _same_state_pairs(x: np.ndarray, max_lag: int, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-group same-state pair counts S_g(r) and valid pair counts N_g(r), r = 0..max_lag.

    Hybrid: frequent states by FFT (cost ~ M L log L each, independent of their count),
    rare states by pair enumeration (cost ~ number of pairs), chosen per state by a cost
    model from the exact per-state pair numbers; never dense over (sequence, vocabulary).
    """
    m, length = x.shape
    valid = x >= 0
    n_groups = starts.size
    lags = np.arange(max_lag + 1)
    if valid.all():
        per_seq = np.clip(length - lags, 0, None).astype(np.float64)
        sizes = np.diff(np.append(starts, m))
        n_pairs = sizes[:, None] * per_seq[None, :]
    else:
        n_pairs = _fft_pair_counts(x, np.array([]), max_lag, starts, valid)
    if not valid.any():
        return np.zeros((n_groups, max_lag + 1)), n_pairs
    n_fft = sfft.next_fast_len(length + max_lag, real=True)
    frac = min(1.0, (max_lag / length) * (2.0 - max_lag / length)) if length > 1 else 1.0
    fft_cost = _FFT_COST * m * n_fft * math.log2(max(n_fft, 2))
    kernel = _enumerate_kernel()
    if kernel is not None:
        xc = np.ascontiguousarray(x, dtype=np.int64)
        q = int(xc.max()) + 1
        pair_counts = kernel[0](xc, q)
        heavy = pair_counts * frac * _PAIR_COST_NUMBA > fft_cost
        same = np.zeros((n_groups, max_lag + 1))
        if heavy.any():
            same += _fft_pair_counts(x, np.flatnonzero(heavy), max_lag, starts, None)
        # light states (and lag 0 of their tokens) by chains; one O(M L) pass
        same += kernel[1](xc, ~heavy, _group_ids(m, starts), int(max_lag), n_groups)
        return same, n_pairs
    rows, pos = np.nonzero(valid)
    vals = x[rows, pos]
    q = int(vals.max()) + 1
    key = rows.astype(np.int64) * q + vals
    if m * q <= min(_DENSE_KEYS, max(1_000_000, 4 * vals.size)):
        # few states: exact per-(sequence, state) counts by bincount, no sort needed yet
        cnt = np.bincount(key, minlength=m * q).reshape(m, q).astype(np.float64)
        pair_counts = (cnt * (cnt - 1) / 2).sum(axis=0)
        order = None
    else:
        # runs of (sequence, state), positions ascending inside a run (stable sort)
        order = np.argsort(key, kind="stable")
        run = key[order]
        edge = np.flatnonzero(np.diff(run)) + 1
        first = np.concatenate([[0], edge])
        lengths = np.diff(np.append(first, run.size)).astype(np.float64)
        pair_counts = np.bincount(run[first] % q, weights=lengths * (lengths - 1) / 2, minlength=q)
    present = np.bincount(vals, minlength=q) > 0
    heavy = present & (pair_counts * frac * _PAIR_COST > fft_cost)
    same = np.zeros((n_groups, max_lag + 1))
    if heavy.any():
        same += _fft_pair_counts(x, np.flatnonzero(heavy), max_lag, starts, None)
    if order is None:
        sub = np.flatnonzero(~heavy[vals])
        order = sub[np.argsort(key[sub], kind="stable")]
    else:
        order = order[~heavy[vals[order]]]
    if order.size:
        grp = _group_ids(m, starts)[rows[order]] * (max_lag + 1)
        same += _enumerated_pair_counts(key[order], pos[order], grp, max_lag, n_groups)
    return same, n_pairs


def _group_state_sums(x: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per group g: T_g (tokens), sum_k n_gk^2, sum_k n_k n_gk (n_k = total counts)."""
    m = x.shape[0]
    n_groups = starts.size
    valid = x >= 0
    n_tokens = int(valid.sum())
    if n_tokens == 0:
        z = np.zeros(n_groups)
        return z, z, z
    q = int(x.max()) + 1
    if n_groups * q <= min(_DENSE_KEYS, max(1_000_000, 4 * n_tokens)):
        bounds = np.append(starts, m)
        cnt = np.stack(
            [np.bincount((x[a:b] + 1).ravel(), minlength=q + 1)[1:] for a, b in
             zip(bounds[:-1], bounds[1:], strict=True)]
        ).astype(np.float64)
        tot = cnt.sum(axis=0)
        return cnt.sum(axis=1), (cnt * cnt).sum(axis=1), cnt @ tot
    gid = np.broadcast_to(_group_ids(m, starts)[:, None], x.shape)[valid]
    vals = x[valid]
    keys, counts = np.unique(gid.astype(np.int64) * q + vals, return_counts=True)
    g = keys // q
    _, inv = np.unique(keys % q, return_inverse=True)
    c = counts.astype(np.float64)
    tot = np.bincount(inv, weights=c)
    return (
        np.bincount(g, weights=c, minlength=n_groups),
        np.bincount(g, weights=c * c, minlength=n_groups),
        np.bincount(g, weights=c * tot[inv], minlength=n_groups),
    )


def _jackknife_se(reps: np.ndarray) -> np.ndarray:
    """Delete-a-group jackknife standard error along axis 0 (NaN-aware)."""
    g = reps.shape[0]
    if g < 2:
        return np.full(reps.shape[1:], np.nan)
    finite = np.isfinite(reps)
    n_ok = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, reps, 0.0).sum(axis=0) / n_ok
        dev = np.where(finite, reps - mean, 0.0)
        se = np.sqrt((g - 1) / g * (dev**2).sum(axis=0))
    return np.where(n_ok == g, se, np.nan)


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
    :math:`D` is biased by O(ξ / (M L)), negligible when pooling many tokens.
    """
    from ..lazy import is_lazy, map_configurations

    sequence = renamed_keyword("correlation_function", "dim", "sequence", dim, sequence, "position")
    if is_lazy(ds) and stationary:  # dask-backed: one curve per block of the kept dims (lazy)
        tok = _token_da(ds)
        kept, _ = _layout(tok, sequence, replica, keep)
        if kept:
            return cast(xr.DataArray, map_configurations(
                correlation_function, ds, tuple(d for d in tok.dims if d not in kept), system_kwarg=None,
                kwargs={"sequence": sequence, "max_lag": max_lag, "keep": kept, "stationary": True,
                        "n_jackknife": n_jackknife}))
    out, _ = _correlation(ds, sequence, max_lag, replica, keep, stationary, n_jackknife)
    return out


# --------------------------------------------------------------------------- mutual information
def _entropy_batch(
    counts: list[np.ndarray], estimator: str, n_states: int | None
) -> np.ndarray:
    """Entropies (nats) of several count vectors (observed states only), by phasekit.entropy.

    The count-of-counts fingerprints are built here and passed to
    ``entropy_from_fingerprint`` with the true alphabet size (``None`` when unknown, so
    estimators that need K raise instead of guessing it from the observed support).
    """
    from ..entropy_estimators import entropy_from_fingerprint

    indptr = [0]
    mult: list[np.ndarray] = []
    nwith: list[np.ndarray] = []
    for c in counts:
        j, f = np.unique(c[c > 0], return_counts=True)
        mult.append(j)
        nwith.append(f)
        indptr.append(indptr[-1] + j.size)
    h, _ = entropy_from_fingerprint(
        np.asarray(indptr, dtype=np.int64),
        np.concatenate(mult).astype(np.int64),
        np.concatenate(nwith).astype(np.int64),
        estimator=estimator,
        n_states=n_states,
    )
    return np.asarray(h, dtype=np.float64)


def _loo_counts(codes: np.ndarray, grp: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Count vectors of ``codes``: all of them, then leaving out each group in turn.

    One sort of the (group, code) keys; a leave-one-group-out vector is the total minus
    that group's counts (sparse over the codes present).
    """
    k_codes = int(codes.max()) + 1 if codes.size else 1
    if max(n_groups, 1) * k_codes <= max(1_000_000, 4 * codes.size):  # small code space
        if n_groups < 2:
            return [np.bincount(codes, minlength=k_codes)]
        cnt = np.bincount(grp.astype(np.int64) * k_codes + codes, minlength=n_groups * k_codes)
        cnt = cnt.reshape(n_groups, k_codes)
        total = cnt.sum(axis=0)
        return [total, *list(total[None, :] - cnt)]
    uniq, inv = np.unique(codes, return_inverse=True)
    total = np.bincount(inv, minlength=uniq.size)
    out = [total]
    if n_groups < 2:
        return out
    key = grp.astype(np.int64) * uniq.size + inv
    gk, cnt = np.unique(key, return_counts=True)
    g_of, c_of = gk // uniq.size, gk % uniq.size
    bounds = np.searchsorted(g_of, np.arange(n_groups + 1))
    for k in range(n_groups):
        vec = total.copy()
        sl = slice(bounds[k], bounds[k + 1])
        vec[c_of[sl]] -= cnt[sl]
        out.append(vec)
    return out


def _mi_at_lag(x: np.ndarray, r: int, gid_rows: np.ndarray, g: int, estimator: str,
               q: int | None) -> tuple[float, float]:
    """I(r) of one cell (M sequences × L) and its delete-a-group jackknife error."""
    length = x.shape[1]
    width = int(x.max()) + 2 if x.size else 2
    a, b = x[:, : length - r], x[:, r:]
    ok = (a >= 0) & (b >= 0)
    grp = np.broadcast_to(gid_rows[:, None], a.shape)[ok]
    av, bv = a[ok], b[ok]
    if av.size == 0:
        return np.nan, np.nan
    n_sub = g if g >= 2 else 0
    ent_x = _entropy_batch(_loo_counts(av, grp, n_sub), estimator, q)
    ent_y = _entropy_batch(_loo_counts(bv, grp, n_sub), estimator, q)
    joint = av.astype(np.int64) * width + bv
    ent_xy = _entropy_batch(_loo_counts(joint, grp, n_sub), estimator, None if q is None else q * q)
    mi = ent_x + ent_y - ent_xy
    return float(mi[0]), float(_jackknife_se(mi[1:, None])[0]) if g >= 2 else np.nan


def mutual_information(
    ds: xr.Dataset | xr.DataArray,
    *,
    sequence: Hashable = "position",
    max_lag: int | None = None,
    estimator: str = "miller_madow",
    n_states: int | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    keep: Hashable | Iterable[Hashable] | None = None,
    n_jackknife: int = 20,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Mutual information between tokens ``r`` apart, :math:`I(r)`, in nats.

    .. math:: I(r) = H(s_t) + H(s_{t+r}) - H(s_t, s_{t+r}),

    with the pairs ``(t, t+r)`` pooled over positions and replica dims (``-1`` excluded
    pairwise) and every entropy bias-corrected by ``estimator`` (phasekit.entropy's
    ``entropy_from_counts``; the joint has :math:`q^2` states). Unlike :math:`C(r)`,
    :math:`I(r)` sees any dependence, not only "same-state" (Li 1990).

    Parameters
    ----------
    ds, sequence, replica, keep : as in :func:`correlation_function` (``dim=`` is the
        deprecated old name of ``sequence=``).
    max_lag : largest lag (default ``min(L - 1, 32)``; each lag costs one count of all pairs).
    estimator : entropy estimator name passed to ``entropy_from_counts``.
    n_states : q (default: the data's ``n_states`` attr); needed by estimators that use it.
    n_jackknife : groups of sequences for the delete-a-group jackknife error.

    Returns
    -------
    DataArray ``mutual_information`` with dims ``(*keep, "lag")`` (lags 1..R), ``stderr``.
    """
    sequence = renamed_keyword("mutual_information", "dim", "sequence", dim, sequence, "position")
    tok = _token_da(ds)
    kept, rep = _layout(tok, sequence, replica, keep)
    cells, kshape = _cells(tok, sequence, kept, rep)
    length = cells.shape[2]
    r_max = min(length - 1, 32) if max_lag is None else int(max_lag)
    if not 1 <= r_max < length:
        raise SchemaError(
            f"max_lag={max_lag} is outside [1, {length - 1}]",
            where=f"sequence axis {sequence!r} of length {length}",
            fix=f"pass 1 <= max_lag <= {length - 1}",
        )
    q = resolve_n_states(tok, n_states)
    n_cells, m, _ = cells.shape
    g = max(1, min(m, int(n_jackknife)))
    gid_rows = _group_ids(m, _group_starts(m, g))
    values = np.full((n_cells, r_max), np.nan)
    errors = np.full((n_cells, r_max), np.nan)
    for i in range(n_cells):
        for r in range(1, r_max + 1):
            values[i, r - 1], errors[i, r - 1] = _mi_at_lag(cells[i], r, gid_rows, g, estimator, q)
    coords: dict[Hashable, Any] = {d: tok.coords[d] for d in kept if d in tok.coords}
    coords["lag"] = np.arange(1, r_max + 1)
    value = xr.DataArray(values.reshape(*kshape, r_max), dims=(*kept, "lag"), coords=coords)
    return estimate(
        value,
        errors.reshape(*kshape, r_max),
        name="mutual_information",
        estimator=f"I(r) = H(x) + H(y) - H(x, y), entropies by {estimator}",
        units="nats",
        sequence=str(sequence),
        replica=[str(d) for d in rep],
        kept=[str(d) for d in kept],
        n_states=q,
        N=int((cells >= 0).sum()),
        error_method=f"delete-a-group jackknife over {g} groups of sequences"
        if g >= 2
        else "none (a single sequence per cell)",
    )


# --------------------------------------------------------------------------- correlation length
_METHODS = ("exponential", "second_moment", "integrated")
#: a negative lobe must be deeper than this fraction of C(1) to call a curve oscillating
_OSC_DEPTH = 0.05


def _fit(model: str, r: np.ndarray, c: np.ndarray, w: np.ndarray | None,
         p0: tuple[float, float]) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """Weighted least-squares fit of A exp(-r/xi) or B r^-eta; returns (params, cov, chi2)."""

    def f(rr: np.ndarray, amp: float, k: float) -> np.ndarray:
        return amp * np.exp(-k * rr) if model == "exp" else amp * rr ** (-k)

    sigma = None if w is None else 1.0 / np.sqrt(w)
    try:
        popt, pcov = optimize.curve_fit(
            f, r, c, p0=p0, sigma=sigma, absolute_sigma=w is not None, maxfev=5000
        )
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return None, None, np.inf
    resid = c - f(r, *popt)
    chi2 = float(np.sum(resid**2 * (1.0 if w is None else w)))
    return popt, pcov, chi2


def _loglin(r: np.ndarray, c: np.ndarray, logx: bool) -> tuple[float, float]:
    """Initial (amplitude, rate) from a straight line through log C."""
    xx = np.log(r) if logx else r
    yy = np.log(np.clip(c, 1e-300, None))
    if r.size == 1:
        return float(c[0]), 1.0
    slope, intercept = np.polyfit(xx, yy, 1)
    return float(np.exp(intercept)), float(max(-slope, 1e-6))


def _window_end(c: np.ndarray, se: np.ndarray, noise: float, absolute: bool, run: int = 3) -> int:
    """Last lag r >= 1 before the first ``run`` consecutive lags whose (|)C(r)(|) is below
    noise * stderr (a single noisy dip does not end the window)."""
    vals = np.abs(c) if absolute else c
    floor = noise * np.where(np.isfinite(se), se, 0.0)
    low = ~(vals[1:] > floor[1:])
    if low.size >= run:
        runs = np.lib.stride_tricks.sliding_window_view(low, run).all(axis=1)
        starts = np.flatnonzero(runs)
    else:
        starts = np.flatnonzero(low) if low.all() else np.array([], dtype=int)
    if not starts.size:
        return c.size - 1
    return int(starts[0])


def _sokal_window(c: np.ndarray, c_window: float) -> int:
    """Smallest W with W >= c_window * (1/2 + sum_{r=1}^W C(r)) (Sokal 1996)."""
    tau = 0.5 + np.cumsum(np.nan_to_num(c[1:]))
    w = np.arange(1, c.size)
    ok = np.flatnonzero(w >= c_window * tau)
    return int(w[ok[0]]) if ok.size else c.size - 1


def _classify(c: np.ndarray, se: np.ndarray, threshold: float, noise: float) -> tuple[str, int]:
    """(decay, window end) of a normalised correlation curve."""
    from scipy.stats import norm

    s = np.where(np.isfinite(se), se, 0.0)
    if c.size < 2 or not np.isfinite(c[1]):
        return "uncorrelated", 0
    if c[1] < -threshold * s[1]:
        return "anticorrelated", max(1, _window_end(c, se, noise, absolute=True))
    if not c[1] > threshold * s[1]:
        return "uncorrelated", 0
    end = max(1, _window_end(c, se, noise, absolute=False))
    # a significantly negative C(r) soon after the positive decay (Bonferroni over lags)
    # (and deeper than _OSC_DEPTH * C(1): correlated noise makes shallow, "significant" dips)
    hi = min(c.size - 1, 4 * end + 4)
    tail = np.arange(end + 1, hi + 1)
    if tail.size and np.all(s[tail] > 0):
        z = norm.isf(0.01 / tail.size)
        lobe = (c[tail] < -max(z, threshold) * s[tail]) & (c[tail] < -_OSC_DEPTH * c[1])
        if np.any(lobe):
            return "oscillating", end
    return "decaying", end


def _truncated_tail(c: np.ndarray, se: np.ndarray, top: int, end: int) -> float:
    r"""The part of :math:`\sum_{r\ge1} C(r)` that Sokal's window ``1..top`` leaves out.

    .. math:: T = \sum_{r=W+1}^{W_n} C(r) + C(W_n)\,\frac{\lambda}{1-\lambda},\qquad
              \lambda = e^{-1/\xi_t},

    the measured lags between the Sokal window ``W`` and the noise window ``W_n`` (where C
    reaches ``noise`` standard errors) plus a geometric tail beyond ``W_n``, with
    :math:`\xi_t` the weighted exponential decay length fitted on lags ``W+1..W_n`` (the
    slowest mode that is still visible). A slow mode of small amplitude is what a short
    automatic window misses (Sokal 1996, sect. 3: the window trades bias for variance);
    T is that bias, one-sided (the window underestimates a positive tail).
    """
    if end <= top:
        return 0.0
    rr = np.arange(top + 1, end + 1)
    cc = c[rr]
    measured = float(np.nansum(cc))
    pos = np.isfinite(cc) & (cc > 0)
    if pos.sum() < 2 or not np.isfinite(c[end]) or c[end] <= 0:
        return max(measured, 0.0)
    s = se[rr][pos]
    w = 1.0 / np.square(s / cc[pos]) if np.all(np.isfinite(s)) and np.all(s > 0) else None
    slope = np.polyfit(rr[pos].astype(float), np.log(cc[pos]), 1, w=None if w is None else np.sqrt(w))[0]
    beyond = 0.0
    if slope < 0:
        lam = math.exp(slope)
        beyond = float(c[end]) * lam / (1.0 - lam)
    return max(measured + beyond, 0.0)


def _exp_lower_bound(c: np.ndarray, se: np.ndarray, upto: int, absolute: bool) -> float:
    r"""One-sided 97.5 % lower bound on the slowest decay length, from lag ``upto``.

    For a reversible Markov chain (and any positive mixture of decays) the normalised
    same-state correlation is :math:`C(r) = \sum_j a_j \lambda_j^r` with
    :math:`a_j \ge 0`, :math:`\sum_j a_j = C(0) = 1` (spectral decomposition;
    Kemeny & Snell 1960), so :math:`|C(r)| \le |\lambda_{max}|^r` and

    .. math:: \xi_{max} = -1/\ln|\lambda_{max}| \ \ge\ \frac{r}{-\ln C_{lo}(r)}.

    :math:`C_{lo}` is a Wilson score lower limit (z = 1.96, one-sided 97.5 %) for
    :math:`C = 1 - d`, treating the decayed fraction d as a proportion with the effective
    count :math:`n = d(1-d)/\sigma^2` implied by the jackknife error σ (Wilson 1927; the
    plain C − zσ undercovers when few renewals are seen: 87 % instead of 97.5 % on
    λ = 0.98–0.99 chains of ≤ 39 tokens). The lag used is the largest ``r <= upto`` with
    :math:`0 < C_{lo} < 1` (one lag: no maximum over lags, which would undercover). NaN
    when no lag is significantly positive.
    """
    r = np.arange(1, upto + 1)
    cc = np.abs(c[r]) if absolute else c[r]
    d = 1.0 - cc
    with np.errstate(invalid="ignore", divide="ignore"):
        n = d * (1.0 - d) / se[r] ** 2
        hi = (d + _Z**2 / (2 * n) + _Z * np.sqrt(d * (1 - d) / n + _Z**2 / (4 * n**2))) / (1 + _Z**2 / n)
        lo = np.where(np.isfinite(n) & (n > 0), 1.0 - hi, cc - _Z * se[r])
    ok = np.flatnonzero(np.isfinite(lo) & (lo > 0) & (lo < 1))
    if not ok.size:
        return float("nan")
    k = ok[-1]
    return float(r[k] / -math.log(lo[k]))


def _length_of(
    c: np.ndarray, se: np.ndarray, method: str, decay: str, end: int, c_window: float,
    eta_start: int = 4, fixed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ξ (and the exp-vs-power-law comparison) of one curve for a given decay class."""
    out: dict[str, Any] = {"xi": np.nan, "xi_se": np.nan, "eta": np.nan, "eta_se": np.nan,
                           "delta_aic": np.nan, "decay": decay, "window": end}
    if decay == "uncorrelated":
        out["xi"] = 0.0
        return out
    if decay == "oscillating":
        return out
    r = np.arange(1, end + 1, dtype=np.float64)
    y = c[1 : end + 1]
    if decay == "anticorrelated":
        y = np.abs(y)
    has_se = np.all(np.isfinite(se[1 : end + 1])) and np.all(se[1 : end + 1] > 0)
    w = 1.0 / se[1 : end + 1] ** 2 if has_se else None
    if method in ("exponential", "second_moment"):
        a0, k0 = _loglin(r, y, logx=False) if fixed is None else fixed["exp_p0"]
        if r.size == 1:  # two points C(0) = 1 and C(1): xi = -1/ln C(1)
            if 0 < y[0] < 1:
                out["xi"] = -1.0 / math.log(y[0])
                if has_se:
                    out["xi_se"] = se[1] / (y[0] * math.log(y[0]) ** 2)
            out["exp_p0"] = (1.0, 1.0 / out["xi"] if out["xi"] > 0 else 1.0)
        else:
            popt, pcov, chi_e = _fit("exp", r, y, w, (a0, k0))
            if popt is not None and pcov is not None and popt[1] > 0:
                out["xi"] = 1.0 / popt[1]
                out["xi_se"] = math.sqrt(max(pcov[1, 1], 0.0)) / popt[1] ** 2
                out["exp_p0"] = (float(popt[0]), float(popt[1]))
    out["xi_exp"] = out["xi"]
    if method == "second_moment":
        xi_exp, amp = out["xi"], out.get("exp_p0", (1.0, 1.0))[0]
        out["xi"], out["xi_se"] = np.nan, np.nan
        if decay == "decaying":
            rr = np.arange(1, end + 1, dtype=np.float64)
            cc = c[1 : end + 1]
            num = float(np.sum(rr**2 * cc))
            den = 1.0 + 2.0 * float(np.sum(cc))
            if np.isfinite(xi_exp) and xi_exp > 0:  # exponential tail beyond the window
                tail = np.arange(end + 1, end + 1 + int(math.ceil(50 * xi_exp)), dtype=np.float64)
                ct = amp * np.exp(-tail / xi_exp)
                num += float(np.sum(tail**2 * ct))
                den += 2.0 * float(np.sum(ct))
            if num > 0 and den > 0:
                out["xi"] = math.sqrt(num / den)
                if np.all(np.isfinite(se[1 : end + 1])):
                    grad = (rr**2 / den - 2.0 * num / den**2) / (2.0 * out["xi"])
                    out["xi_se"] = float(np.sqrt(np.sum((grad * se[1 : end + 1]) ** 2)))
    if method == "integrated":
        # Sokal's window for positive decays; for anti-correlations (alternating terms,
        # where the automatic window stops at W = 1) the significance window of |C|
        top = end if decay == "anticorrelated" else _sokal_window(c, c_window)
        top = top if fixed is None else fixed["window"]
        out["xi"] = 0.5 + float(np.nansum(c[1 : top + 1]))
        if np.all(np.isfinite(se[1 : top + 1])):
            out["xi_se"] = float(np.sqrt(np.sum(se[1 : top + 1] ** 2)))
        out["window"] = top
        out["truncation"] = 0.0 if decay == "anticorrelated" else _truncated_tail(c, se, top, end)
    # exponential versus power-law decay of the positive curve (AIC, 2 parameters each)
    if decay == "decaying" and r.size >= 3:
        if fixed is None:
            pe = _loglin(r, y, logx=False)
            pp = _loglin(r, y, logx=True)
        else:
            pe, pp = fixed["exp_p0c"], fixed["pow_p0"]
        pe_fit, _, chi_e = _fit("exp", r, y, w, pe)
        pp_fit, pp_cov, chi_p = _fit("pow", r, y, w, pp)
        out["delta_aic"] = chi_e - chi_p  # (chi2_e + 4) - (chi2_p + 4)
        out["exp_p0c"] = pe if pe_fit is None else (float(pe_fit[0]), float(pe_fit[1]))
        out["pow_p0"] = pp if pp_fit is None else (float(pp_fit[0]), float(pp_fit[1]))
        # the exponent itself from lags >= eta_start (short-distance corrections to scaling)
        lo = eta_start if end - eta_start >= 2 else 1
        sub = slice(lo - 1, None)
        pq_fit, pq_cov, _ = _fit("pow", r[sub], y[sub], None if w is None else w[sub], out["pow_p0"])
        if pq_fit is not None and pq_cov is not None:
            out["eta"] = float(pq_fit[1])
            out["eta_se"] = math.sqrt(max(pq_cov[1, 1], 0.0))
    return out


def _resolution(
    c: np.ndarray, se: np.ndarray, method: str, label: str, res: dict[str, Any], end: int,
    xi: float, xi_se: float,
) -> dict[str, Any]:
    """Whether the window resolves ξ; if not, the lower bound that can be given, or NaN.

    A length is *resolved* when the curve reaches the noise floor before the last measured
    lag (the window closes, ``end < R``) and, for the exponential and second-moment
    lengths, the fitted decay length is at most the window (``ξ_exp <= end``: the decay
    by a factor e is seen, not extrapolated); for the integrated length when Sokal's
    window closes too. Otherwise the exponential value is replaced by the lower bound of
    :func:`_exp_lower_bound` (``xi_bound="lower"``), the integrated one by the measured
    partial sum minus z standard errors, and the second-moment one is NaN (it needs the
    whole decay), each with a ``reason``.
    """
    finite = np.flatnonzero(np.isfinite(c))
    r_avail = int(finite[-1]) if finite.size else 0
    out = {"value": xi, "se": xi_se, "resolved": True, "bound": "estimate", "reason": "",
           "lower": xi - _Z * xi_se, "upper": xi + _Z * xi_se}
    if label == "uncorrelated":
        out.update(lower=0.0, upper=0.0, reason="C(1) is not significantly different from 0: xi = 0")
        return out
    if label == "oscillating":
        out.update(value=np.nan, se=np.nan, resolved=False, bound="none", lower=np.nan, upper=np.nan,
                   reason="C(r) turns significantly negative after its positive decay (oscillation): "
                          "no single decay length")
        return out
    closed = end < r_avail
    absolute = label == "anticorrelated"
    why = ""
    if not closed:
        why = (f"C(r) has not decayed into the noise by the last measured lag R = {r_avail}"
               " (a plateau: sequences too short for this xi, or pooled replicas with different"
               " distributions)")
    elif method != "integrated" and not (np.isfinite(res["xi_exp"]) and res["xi_exp"] <= end):
        why = (f"the fitted decay length {res['xi_exp']:.4g} exceeds the fit window W = {end}:"
               " it is extrapolated, not measured")
    elif method == "integrated" and res["window"] >= r_avail:
        why = f"Sokal's automatic window does not close within the {r_avail} measured lags"
    if not why:
        if label == "power_law" and method != "integrated":
            out["reason"] = ("power law preferred by AIC: xi is the window-effective decay length of "
                             f"lags 1..{end}, not a property of the decay (read eta)")
        if method == "second_moment" and not np.isfinite(xi):
            reason = ("the second-moment length is undefined for anti-correlations" if absolute
                      else "the second-moment sum is not positive")
            out.update(resolved=False, bound="none", lower=np.nan, upper=np.nan, reason=reason)
        if method == "integrated":
            tail = float(res.get("truncation", 0.0))
            tail_se = float(res.get("truncation_se", 0.0))
            tail_se = tail_se if np.isfinite(tail_se) else 0.0
            se_stat = xi_se if np.isfinite(xi_se) else 0.0
            out.update(se=math.sqrt(se_stat**2 + tail**2 + tail_se**2), lower=xi - _Z * se_stat,
                       upper=xi + tail + _Z * math.hypot(se_stat, tail_se), truncation=tail)
        return out
    upto = end if closed else r_avail
    if method == "integrated":
        sums = c[1 : r_avail + 1]
        bound = 0.5 + float(np.nansum(sums)) - _Z * float(np.sqrt(np.nansum(se[1 : r_avail + 1] ** 2)))
    else:
        bound = _exp_lower_bound(c, se, upto, absolute)
    out.update(se=np.nan, resolved=False, upper=np.inf, reason=why)
    if method == "second_moment" or not np.isfinite(bound):
        extra = f"; exponential lower bound {bound:.4g}" if np.isfinite(bound) else ""
        out.update(value=np.nan, bound="none", lower=np.nan, upper=np.nan, reason=why + extra)
    else:
        out.update(value=bound, bound="lower", lower=bound)
    return out


def _as_corr_input(ds_or_corr: Any) -> bool:
    return isinstance(ds_or_corr, xr.DataArray) and "lag" in ds_or_corr.dims


def correlation_length(
    ds_or_corr: xr.Dataset | xr.DataArray,
    *,
    sequence: Hashable = "position",
    method: str = "exponential",
    max_lag: int | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    keep: Hashable | Iterable[Hashable] | None = None,
    threshold: float = 3.0,
    noise: float = 2.0,
    aic_margin: float = 2.0,
    c_window: float = 5.0,
    eta_start: int = 4,
    n_jackknife: int = 50,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Correlation length ξ along the sequence axis, with the kind of decay it comes from.

    Every dim not named is kept: on samples with ``checkpoint``, ``prompt``, ``sample`` and
    ``position`` dims, ``correlation_length(ds)`` gives one ξ per checkpoint and prompt
    (the samples are the replicas); name pooled dims in ``replica=``.

    Takes samples (then :func:`correlation_function` is computed, and the error of ξ is a
    delete-a-group jackknife of the whole fit, which accounts for the correlation between
    lags) or an already computed correlation function (dim ``lag``; then errors are
    propagated from its ``stderr`` as if lags were independent, which understates them).

    Methods (the default, ``"exponential"``, is the one whose exactness the tests check):

    * ``"exponential"``: weighted least squares of :math:`C(r) = A e^{-r/\xi}` over lags
      ``1..W``, ``W`` the last lag before C stays below ``noise`` standard errors for 3
      consecutive lags.
      Exact for the symmetric Markov chain: :math:`\xi = -1/\ln\lambda`.
    * ``"second_moment"``: :math:`\xi^2 = \sum_{r\ne0} r^2 C(r) / (2\sum_r C(r))
      = \sum_{r\ge1} r^2 C(r) / (1 + 2\sum_{r\ge1} C(r))`, summed over the measured
      lags ``1..W`` plus the tail of the exponential fit beyond ``W`` (the r² weight makes a
      plain sum of noisy lags diverge); for :math:`C = \lambda^{|r|}` it is
      :math:`\sqrt\lambda/(1-\lambda)`. Not defined (NaN) for anti-correlations.
    * ``"integrated"``: :math:`\xi_{int} = \tfrac12 + \sum_{r=1}^{W} C(r)` with Sokal's
      automatic window (smallest ``W >= c_window * xi_int(W)``); :math:`(1+\lambda)/(2(1-\lambda))`
      for the Markov chain.

    Classification (coordinate ``decay``; also an attr when there is one cell):

    * ``"anticorrelated"``: C(1) below ``-threshold`` standard errors (repeat avoidance).
      ξ is then the decay length of the envelope :math:`|C(r)|` (exponential method),
      never a length folded from negative values.
    * ``"oscillating"``: C(1) > 0 but C turns significantly negative soon after the
      window (Bonferroni-corrected over the lags tested, and deeper than 5 % of C(1));
      ξ is NaN.
    * ``"uncorrelated"``: C(1) within ``threshold`` standard errors of 0; ξ = 0.
    * otherwise ``"exponential"`` or ``"power_law"``: both :math:`A e^{-r/\xi}` and
      :math:`B r^{-\eta}` are fitted on the window; with 2 parameters each,
      :math:`\Delta AIC = \chi^2_{exp} - \chi^2_{pow}`; power law wins when
      :math:`\Delta AIC >` ``aic_margin`` (Burnham & Anderson: > 2 is support). η itself
      is fitted on lags ``eta_start..W`` (default 4: short-distance corrections to
      scaling bias the first lags); it and its error are reported in coords ``eta`` and
      ``eta_stderr`` (NaN where exponential wins). For a power law ξ is finite only
      because the window is.

    Parameters
    ----------
    ds_or_corr : samples (Dataset with ``token`` or token DataArray) or the output of
        :func:`correlation_function` (stationary, dim ``lag``).
    sequence, max_lag, replica, keep, n_jackknife : as in :func:`correlation_function`
        (samples only; ``dim=`` is the deprecated old name of ``sequence=``).
    method : ``"exponential"`` (default), ``"second_moment"`` or ``"integrated"``.
    threshold : |C(1)| / stderr needed to call a curve (anti)correlated.
    noise : C / stderr below which a lag is noise (window end).
    aic_margin : ΔAIC above which the power law is preferred.
    c_window : Sokal's window constant for ``"integrated"``.
    eta_start : first lag of the exponent fit.

    Returns
    -------
    DataArray ``correlation_length`` over the kept dims (in index steps of the sequence
    axis), coords
    ``stderr``, ``decay``, ``eta``, ``eta_stderr``, ``delta_aic``, ``c1`` (C(1)),
    ``window`` (last lag used); attrs ``method``, ``decay`` (single cell), ``error_method``.
    """
    sequence = renamed_keyword("correlation_length", "dim", "sequence", dim, sequence, "position")
    if method not in _METHODS:
        raise SchemaError(f"unknown method {method!r}", where="method", fix=f"use one of {list(_METHODS)}")
    corr, reps, error_method = _curves_for_length(ds_or_corr, sequence, max_lag, replica, keep, n_jackknife)
    kdims = tuple(d for d in corr.dims if d != "lag")
    kshape = tuple(corr.sizes[d] for d in kdims)
    n_lags = corr.sizes["lag"]
    cmat = np.asarray(corr.values, dtype=np.float64).reshape(-1, n_lags)
    smat = np.asarray(stderr_of(corr).values, dtype=np.float64).reshape(-1, n_lags)
    rep_mat = None if reps is None else reps.reshape(cmat.shape[0], reps.shape[-2], n_lags)
    opts = {"method": method, "threshold": threshold, "noise": noise, "aic_margin": aic_margin,
            "c_window": c_window, "eta_start": eta_start}
    cells = [_cell_length(cmat[i], smat[i], None if rep_mat is None else rep_mat[i], opts)
             for i in range(cmat.shape[0])]
    attrs: dict[str, Any] = {
        "method": method,
        "estimator": f"correlation length ({method})",
        "units": f"index steps along {corr.attrs.get('sequence', corr.attrs.get('dim', sequence))}",
        "sequence": str(corr.attrs.get("sequence", sequence)),
        "error_method": error_method,
        "threshold": threshold,
        "noise": noise,
        "aic_margin": aic_margin,
        "n_states": corr.attrs.get("n_states"),
        "N": corr.attrs.get("N"),
        "confidence": CONFIDENCE,
        "interval": "lower/upper: estimate ± z stderr (integrated: upper adds the truncation "
                    "bias); for xi_bound='lower' a one-sided 97.5 % bound and upper = inf",
    }
    unresolved = [c["reason"] for c in cells if not c["resolved"] and c["bound"] != "estimate"]
    if unresolved:
        warnings.warn(f"correlation_length: {len(unresolved)} of {len(cells)} cells not resolved by the window "
                      f"(reported as lower bounds or NaN, see coords 'xi_bound' and 'reason'); first: "
                      f"{unresolved[0]}", UserWarning, stacklevel=2)
    if len({c["decay"] for c in cells}) == 1:
        attrs["decay"] = cells[0]["decay"]
    coords: dict[Hashable, Any] = {d: corr.coords[d] for d in kdims if d in corr.coords}
    value = xr.DataArray(np.array([c["value"] for c in cells], dtype=float).reshape(kshape),
                         dims=kdims, coords=coords)
    se = np.array([c["se"] for c in cells], dtype=float).reshape(kshape)
    out = estimate(value, se, name="correlation_length", **attrs)
    return out.assign_coords(_length_coords(cells, kdims, kshape))


def _curves_for_length(
    ds_or_corr: xr.Dataset | xr.DataArray, sequence: Hashable, max_lag: int | None, replica: Any,
    keep: Any, n_jackknife: int,
) -> tuple[xr.DataArray, np.ndarray | None, str]:
    """The stationary C(r) curves (…, lag), their jackknife replicates (None when a curve
    was passed in) and the error method of ξ; checks that lags are 0, 1, 2, …"""
    if isinstance(ds_or_corr, xr.DataArray) and _as_corr_input(ds_or_corr):
        corr = ds_or_corr
        if sequence in corr.dims and sequence != "lag":
            raise SchemaError(
                "a position-resolved correlation function cannot give one ξ per cell",
                where=f"dims {list(corr.dims)}",
                fix="compute correlation_function(..., stationary=True)",
            )
        corr = corr.transpose(..., "lag")
        reps = None
        error_method = "propagated from the correlation stderr, lags treated as independent"
    else:
        corr, reps = _correlation(ds_or_corr, sequence, max_lag, replica, keep, True, n_jackknife)
        error_method = corr.attrs["error_method"] + " (of the whole fit)"
    lags = np.asarray(corr["lag"].values)
    if lags.size < 2 or lags[0] != 0 or np.any(np.diff(lags) != 1):
        raise SchemaError(
            "the correlation function must have lags 0, 1, 2, ... with C(0) = 1",
            where=f"lag coordinate {lags[:5]}...",
            fix="pass the output of phasekit.correlation_function",
        )
    return corr, reps, error_method


def _cell_length(c: np.ndarray, s: np.ndarray, reps: np.ndarray | None, opts: dict[str, Any]) -> dict[str, Any]:
    """ξ of one curve: classify the decay, fit, jackknife over the replicates, and decide
    whether the window resolves it (:func:`_resolution`)."""
    method = opts["method"]
    kind, end = _classify(c, s, opts["threshold"], opts["noise"])
    res = _length_of(c, s, method, kind, end, opts["c_window"], opts["eta_start"])
    label = kind
    if kind == "decaying":
        label = "power_law" if res["delta_aic"] > opts["aic_margin"] else "exponential"
    xi, xi_se = res["xi"], res["xi_se"] if np.isfinite(res["xi"]) else np.nan
    eta, eta_se = (res["eta"], res["eta_se"]) if label == "power_law" else (np.nan, np.nan)
    if reps is not None and reps.shape[0] >= 2 and kind not in ("uncorrelated", "oscillating"):
        jk = _jackknife_length(reps, s, res, kind, end, opts)
        if "truncation" in res:
            res["truncation_se"] = jk["truncation"]
        if np.isfinite(xi):
            xi_se = jk["xi"]
        if label == "power_law":
            eta_se = jk["eta"]
    st = _resolution(c, s, method, label, res, end, xi, xi_se)
    return {**st, "decay": label, "eta": eta, "eta_se": eta_se, "delta_aic": res["delta_aic"],
            "window": res["window"], "c1": c[1]}


def _jackknife_length(reps: np.ndarray, s: np.ndarray, res: dict[str, Any], kind: str, end: int,
                      opts: dict[str, Any]) -> dict[str, float]:
    """Delete-a-group jackknife errors of ξ, η and the truncation bias: the whole fit redone
    on every replicate curve with the full curve's window and starting values."""
    fixed = {
        "window": res["window"],
        "exp_p0": res.get("exp_p0", (1.0, 1.0)),
        "exp_p0c": res.get("exp_p0c", (1.0, 1.0)),
        "pow_p0": res.get("pow_p0", (1.0, 0.5)),
    }
    vals = np.full((reps.shape[0], 3), np.nan)
    for k in range(reps.shape[0]):
        rres = _length_of(reps[k], s, opts["method"], kind, end, opts["c_window"], opts["eta_start"], fixed)
        vals[k] = rres["xi"], rres["eta"], rres.get("truncation", np.nan)
    se = _jackknife_se(vals)
    return {"xi": float(se[0]), "eta": float(se[1]), "truncation": float(se[2])}


def _length_coords(cells: list[dict[str, Any]], kdims: tuple[Hashable, ...],
                   kshape: tuple[int, ...]) -> dict[Hashable, Any]:
    """The per-cell coordinates of :func:`correlation_length` (decay class, η, ΔAIC, window,
    resolution status, interval, truncation bias, reason)."""
    def col(key: str, dtype: Any, default: Any = None) -> tuple[tuple[Hashable, ...], np.ndarray]:
        return kdims, np.array([c.get(key, default) for c in cells], dtype=dtype).reshape(kshape)

    return {
        "decay": col("decay", str),
        "eta": col("eta", float),
        "eta_stderr": col("eta_se", float),
        "delta_aic": col("delta_aic", float),
        "c1": col("c1", float),
        "window": col("window", np.int64),
        "resolved": col("resolved", bool),
        "xi_bound": col("bound", str),
        "lower": col("lower", float),
        "upper": col("upper", float),
        "truncation_bias": col("truncation", float, np.nan),
        "reason": col("reason", str),
    }


# --------------------------------------------------------------------------- autocorrelation time
def _acf(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation rho(t) of rows of x (mean removed, biased 1/n), by FFT."""
    n = x.shape[-1]
    y = x - x.mean(axis=-1, keepdims=True)
    nf = sfft.next_fast_len(2 * n, real=True)
    f = sfft.rfft(y, nf, axis=-1)
    ac = sfft.irfft(f.real**2 + f.imag**2, nf, axis=-1)[..., :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ac / ac[..., :1]


def _as_series(series: Any, control: Hashable) -> np.ndarray:
    """The finite values of a one-variable series, control axis last (checked)."""
    if isinstance(series, xr.Dataset):
        if len(series.data_vars) != 1:
            raise SchemaError(
                "autocorrelation_time needs one series, got a Dataset with several variables",
                where=f"variables {list(series.data_vars)}",
                fix="pass a DataArray, e.g. ds['m']",
            )
        series = next(iter(series.data_vars.values()))
    if not isinstance(series, xr.DataArray):
        raise SchemaError(
            f"expected a DataArray, got {type(series).__name__}",
            where="series",
            fix="wrap the values: xr.DataArray(values, dims=['checkpoint'])",
        )
    if control not in series.dims:
        raise SchemaError(
            f"the control dim {control!r} is not in the series",
            where=f"series dims are {list(series.dims)}",
            fix=f"pass control= one of {list(series.dims)}",
        )
    vals = np.asarray(series.transpose(..., control).values, dtype=np.float64)
    if not np.all(np.isfinite(vals)):
        raise SchemaError(
            "the series contains NaN or infinite values",
            where=f"series {series.name!r} along {control!r}",
            fix=f"drop or interpolate the missing points first (series.dropna({control!r}))",
        )
    if vals.shape[-1] < 4:
        raise SchemaError(
            f"a series of {vals.shape[-1]} points is too short for an autocorrelation time",
            where=f"dim {control!r}",
            fix="use at least a few tens of points",
        )
    return vals


def autocorrelation_time(
    series: xr.DataArray | xr.Dataset,
    *,
    control: Hashable = "checkpoint",
    c_window: float = 5.0,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Integrated autocorrelation time along the control axis with Sokal's automatic window.

    .. math:: \tau_{int} = \tfrac12 + \sum_{t=1}^{W} \rho(t),\qquad
              W = \min\{W : W \ge c\,\tau_{int}(W)\},\ c = 5,

    with :math:`\rho(t)` the normalised autocorrelation (mean removed, FFT). Its standard
    error is the Madras–Sokal formula :math:`\sigma^2(\tau) \approx 2(2W+1)\tau^2/n`, and
    :math:`n_{eff} = n / (2\tau_{int})` is the number of effectively independent points
    (the variance of the mean of n points is :math:`2\tau_{int}\sigma^2/n`). For an AR(1)
    series :math:`x_t = \phi x_{t-1} + \epsilon_t`, :math:`\tau_{int} = (1+\phi)/(2(1-\phi))`.

    Parameters
    ----------
    series : numeric DataArray; every other dim indexes an independent series (every dim
        not named is kept).
    control : the control dim along which the series is ordered (default
        ``"checkpoint"``); ``dim=`` is its deprecated old name.
    c_window : Sokal's window constant c.

    Returns
    -------
    DataArray ``autocorrelation_time`` (in index steps of ``control``) over the other dims,
    coords ``stderr``, ``n_effective`` and ``window``.

    References
    ----------
    Madras & Sokal, J. Stat. Phys. 50, 109 (1988); Sokal, Cargèse lectures (1996).
    """
    control = renamed_keyword("autocorrelation_time", "dim", "control", dim, control, "checkpoint")
    vals = _as_series(series, control)
    arr = (next(iter(series.data_vars.values())) if isinstance(series, xr.Dataset) else series)
    arr = arr.transpose(..., control)
    n = vals.shape[-1]
    flat = vals.reshape(-1, n)
    rho = _acf(flat)
    tau = np.full(flat.shape[0], np.nan)
    win = np.zeros(flat.shape[0], dtype=np.int64)
    for i in range(flat.shape[0]):
        if not np.isfinite(rho[i, 0]):
            continue  # constant series: no fluctuations, tau undefined
        win[i] = _sokal_window(rho[i], c_window)
        tau[i] = 0.5 + float(np.sum(rho[i, 1 : win[i] + 1]))
    se = np.sqrt(2.0 * (2.0 * win + 1.0) / n) * tau
    kdims = arr.dims[:-1]
    kshape = vals.shape[:-1]
    value = xr.DataArray(tau.reshape(kshape), dims=kdims, coords={d: arr.coords[d] for d in kdims if d in arr.coords})
    out = estimate(
        value,
        se.reshape(kshape),
        name="autocorrelation_time",
        estimator="integrated autocorrelation time, Sokal automatic window",
        units=f"index steps along {control}",
        c_window=c_window,
        n=n,
        error_method="Madras-Sokal: var(tau) = 2 (2W + 1) tau^2 / n",
        control=str(control),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = n / (2.0 * tau)
    return out.assign_coords(n_effective=(kdims, n_eff.reshape(kshape)), window=(kdims, win.reshape(kshape)))
