r"""Exact same-state pair counts along sequences, the numerator and denominator of C(r).

For every group of sequences and lag r the counter returns

.. math:: S_g(r) = \sum_{i \in g} \sum_t [s_{i,t} = s_{i,t+r}],\qquad
          N_g(r) = \sum_{i \in g} \sum_t [s_{i,t} \ne -1][s_{i,t+r} \ne -1],

frequent states by the zero-padded FFT autocorrelation of their indicators (Wiener–Khinchin
theorem; e.g. Press et al., *Numerical Recipes*, 3rd ed., sect. 13.2), rare states by
enumerating their pairs, chosen per state by a cost model; memory never scales with
(sequences × vocabulary). Also the per-group state sums the plug-in
:math:`D = \sum_k \hat p_k^2` and its jackknife replicates need.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft as sfft

from ._common import _DENSE_KEYS, _group_ids

#: Cost model of the pair counter: seconds per same-state pair enumerated (numpy loop over
#: offsets, or the numba loop when numba is installed) and per element x log2(n) of a
#: forward real FFT (float32). A state goes to the FFT path when enumerating its pairs
#: would cost more than transforming its indicator (measured on 2 shared cores).
_PAIR_COST = 2e-7
_PAIR_COST_NUMBA = 5e-8
_FFT_COST = 5e-10
_CHUNK_ROWS = 1024


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
