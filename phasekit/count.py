"""The counting stage: the one stage that touches every token.

For every *configuration* — one cell of the grid of the dims that are **not** counted
over — :func:`count_states` collects the multiset of states observed over the ``system``
dims. The result, :class:`Counts`, is sparse (compressed rows, one row per
configuration), so a 256k-token vocabulary or ``n_states = 2**40`` never allocates a
dense vocabulary axis per configuration. Everything downstream (entropy estimators,
order parameters, divergences) works on ``Counts`` or on its count-of-counts
(:meth:`Counts.fingerprint`).

Kernels
-------
* ``numba`` (when installed): **one pass over the tokens**. Per configuration (row), a
  tally of size ``max_token + 1`` and two bitmaps of the states seen (even and odd token
  positions, so frequent states do not chain read-modify-writes on one word); the set bits
  up to the row's largest id are emitted word by word, so states come out sorted without
  sorting (the lowest set bit by LLVM's ``cttz``). The scratch is per thread, reused for
  every row, and bounded: only when ``max_token < 2**22`` (at most 17 MiB per thread, plus
  one row's copy);
  larger ids, and rows much shorter than their id range, sort a copy of the row instead.
  Rows are split over the threads in a few rounds: each thread writes its rows to its own
  stage (about ``_STAGE_ENTRIES`` entries), which is copied into place once the round's
  row lengths are known, so the output is exact-size without a counting pre-pass.
  Alphabets of at most 256 states use a dense per-row tally.
* the count-of-counts (:meth:`Counts.fingerprint`) and the plug-in entropy terms
  (:meth:`Counts.nlogn_sums`) are one compiled pass over the stored entries.
* numpy fallback: ``np.bincount`` of ``config * q + token`` for small alphabets,
  otherwise one sort of the (configuration, token) pairs per block of configurations.
  Both engines give identical ``Counts`` (same values and dtypes; tested).

Dask-backed tokens are counted block by block along the kept dims through
``xr.apply_ufunc(dask="parallelized")`` (one task per block, never one per
configuration; each block read once) and the blocks' rows are scattered into place.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ._meta import as_dims, require_system, resolve_n_states
from .errors import SchemaError

__all__ = ["Counts", "count_states", "count_rows", "resolve_n_states", "DENSE_MAX_STATES"]

#: Largest alphabet for which :meth:`Counts.to_dense` will build a dense state axis.
DENSE_MAX_STATES = 65536
#: n ln n for n < 4096 (a lookup is cheaper than a logarithm; most counts are small)
_NLOGN_TABLE = np.concatenate([[0.0], np.arange(1, 4096) * np.log(np.arange(1, 4096))])
#: Scratch tallies are used by the numba kernel only below this token value: per thread at
#: most 4·2**22 B (int32 tally) + 2 · 2**22/8 B (bitmaps) = 17 MiB, reused for every row.
_SCRATCH_MAX = 1 << 22
#: Entries each thread stages per counting round before they are copied to their final
#: place (12 B each: about 6 MiB per thread; the stage's capacity is twice this).
_STAGE_ENTRIES = 1 << 19
#: Row groups per thread and round, handed out dynamically (load balance on a busy machine).
_GROUPS_PER_THREAD = 4
#: Inputs with fewer tokens are counted on the calling thread.
_PARALLEL_MIN_TOKENS = 1 << 18

try:  # pragma: no cover - exercised when numba is installed
    import numba as _numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    _numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False


# --------------------------------------------------------------------------- kernels
def _numpy_count_rows(rows: np.ndarray, max_tok: int,
                      block_rows: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse per-row counts of the non-negative entries of a 2-D integer array whose
    largest entry is ``max_tok``.

    Returns ``(indptr, states, counts)`` with states sorted within each row.
    """
    n_rows, width = rows.shape
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    states_parts: list[np.ndarray] = []
    counts_parts: list[np.ndarray] = []
    small = 0 <= max_tok < 4096 and n_rows * (max_tok + 1) <= (1 << 26)
    for start in range(0, n_rows, block_rows):
        block = rows[start : start + block_rows]
        nb = block.shape[0]
        valid = block >= 0
        row_id = np.broadcast_to(np.arange(nb, dtype=np.int64)[:, None], block.shape)[valid]
        tok = block[valid].astype(np.int64)
        if small:
            q = max_tok + 1
            dense = np.bincount(row_id * q + tok, minlength=nb * q).reshape(nb, q)
            r, s = np.nonzero(dense)
            c = dense[r, s]
        else:
            order = np.lexsort((tok, row_id))
            row_sorted, tok_sorted = row_id[order], tok[order]
            if tok_sorted.size:
                new = np.empty(tok_sorted.size, dtype=bool)
                new[0] = True
                new[1:] = (tok_sorted[1:] != tok_sorted[:-1]) | (row_sorted[1:] != row_sorted[:-1])
                starts = np.flatnonzero(new)
                r, s = row_sorted[starts], tok_sorted[starts]
                c = np.diff(np.append(starts, tok_sorted.size))
            else:
                r = s = c = np.zeros(0, dtype=np.int64)
        indptr[start + 1 : start + nb + 1] = np.bincount(r, minlength=nb)
        states_parts.append(s.astype(_ids_dtype(max_tok)))
        counts_parts.append(c.astype(np.int64))
    np.cumsum(indptr, out=indptr)
    states = np.concatenate(states_parts) if states_parts else np.zeros(0, _ids_dtype(max_tok))
    counts = np.concatenate(counts_parts) if counts_parts else np.zeros(0, np.int64)
    return indptr, states, counts


def _ids_dtype(max_id: int) -> type:
    """int32 when every state id fits (the output is the counting stage's peak memory)."""
    return np.int32 if max_id < np.iinfo(np.int32).max else np.int64


if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    _U1 = np.uint64(1)
    #: de Bruijn sequence for the index of the lowest set bit of a uint64 (Leiserson, Prokop &
    #: Randall 1998): isolate the bit, multiply, read the top 6 bits, look the index up
    _DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
    _DEBRUIJN_INDEX = np.zeros(64, dtype=np.int64)
    for _i in range(64):
        _DEBRUIJN_INDEX[(((1 << _i) * 0x03F79D71B4CB0A89) & 0xFFFFFFFFFFFFFFFF) >> 58] = _i

    try:  # LLVM's cttz: one instruction
        from numba.cpython.unsafe.numbers import trailing_zeros as _lowest_bit
    except ImportError:
        @_numba.njit(inline="always")
        def _lowest_bit(b):
            """Index of the lowest set bit of a non-zero uint64 (de Bruijn multiplication)."""
            return _DEBRUIJN_INDEX[((b & (~b + _U1)) * _DEBRUIJN) >> np.uint64(58)]

    @_numba.njit(cache=True)
    def _sorted_tokens(row, buf):
        """The row's tokens (padding ``-1`` left out) copied into ``buf`` and sorted in place;
        returns that view."""
        k = 0
        for x in row:
            if x >= 0:
                buf[k] = x
                k += 1
        srt = buf[:k]
        srt.sort()
        return srt

    @_numba.njit(cache=True)
    def _emit_sorted_row(row, buf, tally, bits, bits2, states, counts, pos):
        """Emit a tallied row's states by sorting a copy of its tokens (rows much shorter than
        their id range, where a bitmap sweep would cost more than the sort). Resets the tally
        and the bitmaps. Returns the next write position."""
        srt = _sorted_tokens(row, buf)
        k = srt.size
        prev = -1
        for j in range(k):
            s = srt[j]
            if s != prev:
                states[pos] = s
                counts[pos] = tally[s]
                tally[s] = 0
                bits[s >> 6] = 0
                bits2[s >> 6] = 0
                pos += 1
                prev = s
        return pos

    @_numba.njit(inline="always")
    def _tally_token(x, tally, bits):
        tally[x] += 1
        bits[x >> 6] |= _U1 << np.uint64(x & 63)

    @_numba.njit(cache=True)
    def _count_row_bitmap(row, buf, tally, bits, bits2, states, counts, pos):
        """One pass over one row: tally every token and mark it in a bitmap of seen states
        (even and odd positions in two bitmaps, so that frequent states do not chain
        read-modify-writes on one word), then emit the set bits up to the row's highest id
        (states ascending, O(max id / 64 + distinct)), resetting tally and bitmaps as they
        are read. Returns the next write position."""
        hi = np.int64(-1)
        n = row.size
        for j in range(0, n - 1, 2):
            x, y = row[j], row[j + 1]
            if x >= 0:
                _tally_token(x, tally, bits)
                hi = max(hi, x)
            if y >= 0:
                _tally_token(y, tally, bits2)
                hi = max(hi, y)
        if n % 2 and row[n - 1] >= 0:
            _tally_token(row[n - 1], tally, bits)
            hi = max(hi, row[n - 1])
        if hi < 0:
            return pos
        if (hi >> 6) > 4 * n + 64:  # a sparse row: sort instead of sweeping
            return _emit_sorted_row(row, buf, tally, bits, bits2, states, counts, pos)
        for w in range((hi >> 6) + 1):
            b = bits[w] | bits2[w]
            if b != 0:
                bits[w] = 0
                bits2[w] = 0
                base = w * 64
                while b != 0:
                    s = base + _lowest_bit(b)
                    states[pos] = s
                    counts[pos] = tally[s]
                    tally[s] = 0
                    pos += 1
                    b &= b - _U1
        return pos

    @_numba.njit(cache=True)
    def _count_row_sort(row, buf, states, counts, pos):
        """One row without a scratch tally (ids too large): sort a copy, emit runs."""
        srt = _sorted_tokens(row, buf)
        k = srt.size
        j = 0
        while j < k:
            s = srt[j]
            e = j + 1
            while e < k and srt[e] == s:
                e += 1
            states[pos] = s
            counts[pos] = e - j
            pos += 1
            j = e
        return pos

    @_numba.njit(parallel=True, cache=True)
    def _numba_count_round(rows, r0, group_rows, n_groups, tallies, bits, bits2, bufs, stage_states,
                           stage_counts, nnz):
        """One pass over rows ``r0 : r0 + n_groups·group_rows``: group ``g`` of ``group_rows``
        consecutive rows is counted into its own stage region (from ``g·group_cap``) with the
        scratch of whichever thread runs it (groups are handed out dynamically, so a thread
        the machine preempts does not hold up the round); each row's number of distinct
        states goes to ``nnz``."""
        n_rows = rows.shape[0]
        group_cap = stage_states.size // n_groups
        use_scratch = tallies.shape[1] > 0
        for g in _numba.prange(n_groups):
            t = _numba.get_thread_id()
            lo = min(n_rows, r0 + g * group_rows)
            hi = min(n_rows, lo + group_rows)
            pos = g * group_cap
            for i in range(lo, hi):
                if use_scratch:
                    new = _count_row_bitmap(rows[i], bufs[t], tallies[t], bits[t], bits2[t], stage_states,
                                            stage_counts, pos)
                else:
                    new = _count_row_sort(rows[i], bufs[t], stage_states, stage_counts, pos)
                nnz[i] = new - pos
                pos = new

    #: the same round on the calling thread: small inputs, where starting threads costs more
    _numba_count_round_serial = _numba.njit(cache=True)(_numba_count_round.py_func)

    @_numba.njit(parallel=True, cache=True)
    def _numba_dense(rows, q):
        n_rows, width = rows.shape
        out = np.zeros((n_rows, q), dtype=np.int64)
        for i in _numba.prange(n_rows):
            for x in rows[i]:
                if x >= 0:
                    out[i, x] += 1
        return out

    @_numba.njit(parallel=True, cache=True)
    def _numba_fp_nnz(indptr, counts, max_count, n_threads):
        """Distinct count values per row (a per-thread tally over count values, reset after use)."""
        n_rows = indptr.size - 1
        out = np.zeros(n_rows, dtype=np.int64)
        per = (n_rows + n_threads - 1) // n_threads
        for t in _numba.prange(n_threads):
            lo = t * per
            hi = min(n_rows, lo + per)
            seen = np.zeros(max_count + 1, dtype=np.uint8)
            for i in range(lo, hi):
                k = 0
                for e in range(indptr[i], indptr[i + 1]):
                    c = counts[e]
                    if seen[c] == 0:
                        seen[c] = 1
                        k += 1
                for e in range(indptr[i], indptr[i + 1]):
                    seen[counts[e]] = 0
                out[i] = k
        return out

    @_numba.njit(parallel=True, cache=True)
    def _numba_fp_fill(indptr, counts, max_count, n_threads, fp_indptr, mult, nmult):
        """Each row's distinct counts j (ascending) and f_j, from a tally over count values."""
        n_rows = indptr.size - 1
        per = (n_rows + n_threads - 1) // n_threads
        for t in _numba.prange(n_threads):
            lo = t * per
            hi = min(n_rows, lo + per)
            tally = np.zeros(max_count + 1, dtype=np.int64)
            for i in range(lo, hi):
                a = fp_indptr[i]
                k = 0
                for e in range(indptr[i], indptr[i + 1]):
                    c = counts[e]
                    if tally[c] == 0:
                        mult[a + k] = c
                        k += 1
                    tally[c] += 1
                row = mult[a : a + k]
                row.sort()
                for j in range(k):
                    nmult[a + j] = tally[row[j]]
                    tally[row[j]] = 0

    @_numba.njit(cache=True)
    def _numba_nlogn_sums(indptr, counts, table):
        """Per row: N = Σ n_k and Σ n_k ln n_k (n ln n looked up in ``table`` below its size).
        Serial: one streaming pass, memory-bound (threads only add contention)."""
        n_rows = indptr.size - 1
        tot = np.zeros(n_rows, dtype=np.float64)
        s = np.zeros(n_rows, dtype=np.float64)
        for i in range(n_rows):
            a = 0.0
            b = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                c = counts[e]
                a += c
                if c < table.size:
                    b += table[c]
                else:
                    b += c * np.log(c)
            tot[i] = a
            s[i] = b
        return tot, s

    def _numba_count_rows(rows: np.ndarray, max_tok: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pass over the tokens in a few parallel rounds (:func:`_numba_count_round`).

        Each round's stages are copied to their final place once the round's row lengths are
        summed, so the output is allocated at its upper bound (rows × min(width, V) entries;
        pages never written are never resident) and shrunk in place at the end. Rounds are
        sized from the distinct states per row seen so far so that the stage holds about
        ``_STAGE_ENTRIES`` entries per thread: few rounds (few barriers), a bounded stage
        (its capacity is twice that, so about 12 MiB per thread are touched).
        Scratch per thread: the tally and bitmaps (``_SCRATCH_MAX``) and one row's copy.
        """
        n_rows, width = rows.shape
        n_scratch = max_tok + 1 if max_tok < _SCRATCH_MAX else 0
        if 0 < n_scratch <= 256 and n_rows * n_scratch <= (1 << 27):
            dense = _numba_dense(rows, n_scratch)
            r, s = np.nonzero(dense)
            indptr = np.zeros(n_rows + 1, dtype=np.int64)
            np.cumsum(np.count_nonzero(dense, axis=1), out=indptr[1:])
            return indptr, s.astype(np.int32), dense[r, s]  # state ids < 256: int32, as below
        small = rows.size < _PARALLEL_MIN_TOKENS
        n_threads = 1 if small else _numba.get_num_threads()
        n_groups = max(1, min(n_rows, n_threads * _GROUPS_PER_THREAD))
        count_round = _numba_count_round_serial if small else _numba_count_round
        per_row = min(width, n_scratch) if n_scratch else width  # distinct states per row, at most
        cap_rows = max(1, min(-(-n_rows // n_groups), 2 * n_threads * _STAGE_ENTRIES // (n_groups * per_row)))
        st_dtype = _ids_dtype(max_tok)
        stage_states = np.empty(n_groups * cap_rows * per_row, dtype=st_dtype)
        stage_counts = np.empty(n_groups * cap_rows * per_row, dtype=np.int64)
        n_words = (n_scratch + 63) // 64
        scratch = (np.zeros((n_threads, n_scratch), dtype=np.int32), np.zeros((n_threads, n_words), dtype=np.uint64),
                   np.zeros((n_threads, n_words), dtype=np.uint64), np.empty((n_threads, width), dtype=rows.dtype))
        nnz = np.zeros(n_rows, dtype=np.int64)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        states = np.empty(n_rows * per_row, dtype=st_dtype)
        counts = np.empty(n_rows * per_row, dtype=np.int64)
        r0, seen = 0, float(per_row)  # distinct states per row: the bound until rows are seen
        while r0 < n_rows:
            group_rows = max(1, min(cap_rows, int(n_threads * _STAGE_ENTRIES / (n_groups * seen))))
            with _numba.parallel_chunksize(1):
                count_round(rows, r0, group_rows, n_groups, *scratch, stage_states, stage_counts, nnz)
            r1 = min(n_rows, r0 + n_groups * group_rows)
            np.cumsum(nnz[r0:r1], out=indptr[r0 + 1 : r1 + 1])
            indptr[r0 + 1 : r1 + 1] += indptr[r0]
            for g in range(n_groups):
                lo, hi = min(r1, r0 + g * group_rows), min(r1, r0 + (g + 1) * group_rows)
                a, n, b = indptr[lo], indptr[hi] - indptr[lo], g * cap_rows * per_row
                states[a : a + n] = stage_states[b : b + n]
                counts[a : a + n] = stage_counts[b : b + n]
            r0, seen = r1, max(1.0, float(indptr[r1] / r1))
        n = int(indptr[-1])
        states.resize(n, refcheck=False)  # in place: realloc shrinks without copying
        counts.resize(n, refcheck=False)
        return indptr, states, counts


def count_rows(rows: np.ndarray, *, engine: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse state counts of each row of a 2-D integer token array (``-1`` ignored).

    Parameters
    ----------
    rows : ndarray of int, shape (n_config, n_tokens)
    engine : {"auto", "numba", "numpy"}

    Returns
    -------
    indptr, states, counts : CSR arrays; row ``i`` holds ``states[indptr[i]:indptr[i+1]]``
        (sorted, distinct) with their ``counts`` (> 0). ``states`` is int32 when every id
        fits (int64 otherwise), by either engine; ``indptr`` and ``counts`` are int64.

    Raises
    ------
    SchemaError
        for a token below -1.
    """
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError("count_rows expects a 2-D array")
    if rows.shape[0] == 0 or rows.shape[1] == 0:
        return np.zeros(rows.shape[0] + 1, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64)
    if engine == "numba" and not HAVE_NUMBA:
        raise ImportError("engine='numba' needs numba: pip install 'phasekit[fast]'")
    use_numba = HAVE_NUMBA and engine in ("auto", "numba")
    if use_numba:
        rows = np.ascontiguousarray(rows)
    lo, hi = int(rows.min()), int(rows.max())  # two SIMD passes: cheaper than one compiled loop
    if lo < -1:
        raise SchemaError(f"token value {lo} is negative", where="count_states",
                          fix="valid tokens are -1 (no token) and the state ids 0, 1, 2, ...")
    if rows.dtype == np.uint64:  # the kernels index with signed integers
        if hi > np.iinfo(np.int64).max:
            raise SchemaError(f"token value {hi} does not fit in int64", where="count_states",
                              fix="state ids must be below 2**63")
        rows = rows.astype(np.int64)
    return _numba_count_rows(rows, hi) if use_numba else _numpy_count_rows(rows, hi)


# --------------------------------------------------------------------------- Counts
def _segment_ids(indptr: np.ndarray) -> np.ndarray:
    """Row index of every stored entry of a CSR structure."""
    return np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))


def _segment_reduce(values: np.ndarray, indptr: np.ndarray, ufunc: np.ufunc, empty: Any) -> np.ndarray:
    """``ufunc.reduceat`` over CSR rows, with ``empty`` for rows that hold nothing."""
    n = indptr.size - 1
    lengths = np.diff(indptr)
    out = np.full(n, empty, dtype=np.result_type(values.dtype, np.asarray(empty).dtype))
    nonempty = lengths > 0
    if values.size and nonempty.any():
        out[nonempty] = ufunc.reduceat(values, indptr[:-1][nonempty])
    return out


@dataclass
class Counts:
    """State counts per configuration, stored as compressed sparse rows.

    Attributes
    ----------
    dims, shape, coords :
        The grid of kept dims (C order); ``coords`` maps dim names (and any
        non-index coordinates living on kept dims) to xarray variables.
    indptr, states, counts :
        Row ``i`` (configuration ``np.unravel_index(i, shape)``) observed the states
        ``states[indptr[i]:indptr[i+1]]`` (sorted, distinct) ``counts[...]`` times.
    n_states :
        q, the size of the outcome space, when known.
    system :
        The dims that were counted over.
    """

    dims: tuple[Hashable, ...]
    shape: tuple[int, ...]
    indptr: np.ndarray
    states: np.ndarray
    counts: np.ndarray
    n_states: int | None = None
    system: tuple[Hashable, ...] = ()
    coords: dict[Hashable, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- basics
    @property
    def n_config(self) -> int:
        """Number of configurations (rows)."""
        return int(np.prod(self.shape, dtype=np.int64))

    def _grid(self, flat: np.ndarray) -> np.ndarray:
        return np.asarray(flat).reshape(self.shape)

    def totals(self) -> np.ndarray:
        """N, the number of counted tokens per configuration (shape ``self.shape``)."""
        return self._grid(_segment_reduce(self.counts, self.indptr, np.add, 0))

    def n_observed(self) -> np.ndarray:
        """Number of distinct states seen per configuration."""
        return self._grid(np.diff(self.indptr))

    def max_count(self) -> np.ndarray:
        """Largest state count per configuration (0 when empty)."""
        return self._grid(_segment_reduce(self.counts, self.indptr, np.maximum, 0))

    def sum_squares(self) -> np.ndarray:
        """Σ_k n_k² per configuration."""
        return self._grid(_segment_reduce(self.counts**2, self.indptr, np.add, 0))

    def nlogn_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Per configuration (flat): N = Σ_k n_k and Σ_k n_k ln n_k — the plug-in entropy is
        H = ln N − (Σ n ln n)/N (:func:`phasekit.distributions.plugin_entropy`)."""
        if HAVE_NUMBA and self.counts.size:
            return _numba_nlogn_sums(np.asarray(self.indptr), np.ascontiguousarray(self.counts), _NLOGN_TABLE)
        c = np.asarray(self.counts, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(c > 1, c * np.log(np.where(c > 0, c, 1.0)), 0.0)
        return (_segment_reduce(c, self.indptr, np.add, 0.0), _segment_reduce(terms, self.indptr, np.add, 0.0))

    def mode_state(self) -> np.ndarray:
        """The most frequent state per configuration (smallest among ties; -1 when empty)."""
        mx = _segment_reduce(self.counts, self.indptr, np.maximum, 0)
        seg = _segment_ids(self.indptr)
        is_max = self.counts == mx[seg]
        big = np.iinfo(np.int64).max
        cand = np.where(is_max, self.states.astype(np.int64), big)
        mode = _segment_reduce(cand, self.indptr, np.minimum, big)
        mode[mode == big] = -1
        return self._grid(mode)

    def fingerprint(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Count-of-counts per configuration, as CSR.

        Returns ``(fp_indptr, multiplicity, n_with_multiplicity)``: for configuration
        ``i`` the entries ``fp_indptr[i]:fp_indptr[i+1]`` list each distinct count ``j``
        (ascending) and how many states were seen exactly ``j`` times (f_j).
        """
        if self.counts.size == 0:
            z = np.zeros(0, dtype=np.int64)
            return np.zeros(self.n_config + 1, dtype=np.int64), z, z.copy()
        return _fingerprint(np.asarray(self.indptr), np.asarray(self.counts))

    def to_dense(self, n_states: int | None = None) -> np.ndarray:
        """Dense counts of shape ``(*shape, q)``; only for q <= ``DENSE_MAX_STATES``."""
        q = n_states if n_states is not None else self.n_states
        if q is None:
            q = int(self.states.max(initial=-1)) + 1
            if self.states.size:
                raise SchemaError(
                    "a dense state axis needs n_states (q)",
                    where="Counts.to_dense",
                    fix="pass n_states= or set ds.attrs['n_states']",
                )
        if q > DENSE_MAX_STATES:
            raise SchemaError(
                f"refusing to build a dense state axis of {q} states",
                where="Counts.to_dense",
                fix="use the sparse counts (states/counts/fingerprint) for large vocabularies",
            )
        if self.states.size and int(self.states.max()) >= q:
            raise SchemaError(
                f"a state {int(self.states.max())} is >= n_states={q}",
                where="Counts.to_dense",
                fix="pass the correct n_states",
            )
        dense = np.zeros((self.n_config, q), dtype=np.int64)
        dense[_segment_ids(self.indptr), self.states] = self.counts
        return dense.reshape(*self.shape, q)

    def wrap(self, values: np.ndarray, name: str | None = None, extra_dims: tuple = ()) -> xr.DataArray:
        """Wrap an array shaped like the grid (plus trailing ``extra_dims``) as a DataArray."""
        values = np.asarray(values)
        dims = tuple(self.dims) + tuple(extra_dims)
        coords = {k: v for k, v in self.coords.items() if set(_coord_dims(v)) <= set(self.dims)}
        return xr.DataArray(values.reshape(*self.shape, *values.shape[len(self.shape) :]) if values.ndim else values,
                            dims=dims, coords=coords, name=name)

    # ---------------------------------------------------------------- algebra
    def pool(self, dims: Hashable | Iterable[Hashable]) -> Counts:
        """Add the counts over some of the kept dims (e.g. pool all prompts of a checkpoint)."""
        dims = as_dims(dims)
        unknown = [d for d in dims if d not in self.dims]
        if unknown:
            raise SchemaError(f"cannot pool over {unknown}", where=f"kept dims are {list(self.dims)}",
                              fix="name dims that are not counted over")
        keep = [i for i, d in enumerate(self.dims) if d not in dims]
        new_shape = tuple(self.shape[i] for i in keep)
        grid_index = np.indices(self.shape).reshape(len(self.shape), -1) if self.shape else np.zeros((0, 1), int)
        new_row = (
            np.ravel_multi_index(tuple(grid_index[i] for i in keep), new_shape)
            if keep
            else np.zeros(self.n_config, dtype=np.int64)
        )
        seg = new_row[_segment_ids(self.indptr)]
        n_new = int(np.prod(new_shape, dtype=np.int64))
        indptr, states, counts = _merge_entries(seg, self.states, self.counts, n_new)
        kept_dims = tuple(self.dims[i] for i in keep)
        coords = {k: v for k, v in self.coords.items() if set(_coord_dims(v)) <= set(kept_dims)}
        return Counts(kept_dims, new_shape, indptr, states, counts, self.n_states,
                      tuple(self.system) + tuple(dims), coords, dict(self.attrs))

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        if self.dims != other.dims or self.shape != other.shape:
            raise SchemaError("cannot add Counts on different grids",
                              where=f"{self.dims}{self.shape} vs {other.dims}{other.shape}",
                              fix="count the same dims on both")
        seg = np.concatenate([_segment_ids(self.indptr), _segment_ids(other.indptr)])
        st = np.concatenate([self.states, other.states])
        ct = np.concatenate([self.counts, other.counts])
        indptr, states, counts = _merge_entries(seg, st, ct, self.n_config)
        q = self.n_states if self.n_states is not None else other.n_states
        return Counts(self.dims, self.shape, indptr, states, counts, q, self.system, dict(self.coords),
                      dict(self.attrs))

    def row_slice(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR arrays of rows ``start:stop``."""
        a, b = self.indptr[start], self.indptr[stop]
        return self.indptr[start : stop + 1] - a, self.states[a:b], self.counts[a:b]

    def isel(self, indexers: dict[Hashable, int | slice]) -> Counts:
        """The rows at positions of some kept dims, like ``Dataset.isel``: an integer drops
        that dim, a slice keeps it."""
        unknown = [d for d in indexers if d not in self.dims]
        if unknown:
            raise SchemaError(f"cannot select along {unknown}", where=f"kept dims are {list(self.dims)}",
                              fix="name kept dims")
        grid = np.arange(self.n_config, dtype=np.int64).reshape(self.shape)
        index = tuple((v if isinstance(v, slice) else int(v)) if (v := indexers.get(d)) is not None
                      else slice(None) for d in self.dims)
        sub = grid[index]
        rows = sub.reshape(-1)
        nnz = np.diff(self.indptr)[rows]
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(nnz, out=indptr[1:])
        take = np.repeat(self.indptr[:-1][rows] - indptr[:-1], nnz) + np.arange(indptr[-1])
        dropped = {d for d, v in indexers.items() if not isinstance(v, slice)}
        kept = tuple(d for d in self.dims if d not in dropped)
        coords = {}
        for k, v in self.coords.items():
            vdims = _coord_dims(v)
            if not set(vdims) & set(indexers):
                coords[k] = v
            elif isinstance(v, xr.Variable) and set(vdims) - dropped <= set(kept):
                coords[k] = v.isel({d: i for d, i in indexers.items() if d in vdims})
        return Counts(kept, tuple(int(n) for n in sub.shape), indptr, self.states[take], self.counts[take],
                      self.n_states, self.system, coords, dict(self.attrs))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Counts):
            return NotImplemented
        if (self.dims, self.shape, self.n_states, tuple(self.system)) != (
                other.dims, other.shape, other.n_states, tuple(other.system)):
            return False
        if not all(np.array_equal(a, b) for a, b in ((self.indptr, other.indptr), (self.states, other.states),
                                                       (self.counts, other.counts))):
            return False
        if set(self.coords) != set(other.coords):
            return False
        return all(_variables_equal(self.coords[k], other.coords[k]) for k in self.coords)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        grid = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape, strict=True))
        return (f"<phasekit.Counts ({grid}) over {list(self.system)}: {self.counts.sum()} tokens, "
                f"{self.states.size} nonzero entries, n_states={self.n_states}>")


def _fingerprint(indptr: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count-of-counts of CSR rows (see :meth:`Counts.fingerprint`).

    numba (when installed and counts < 2**24): per row, a tally over the count values
    (per thread, reset after each row) gives every distinct count j and f_j in O(entries),
    the few distinct j of a row sorted in place. Otherwise a bincount of ``row·(J+1) + j``
    when that key space is small, else a sort by (row, count).
    """
    n_rows = indptr.size - 1
    max_count = int(counts.max())
    fp_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    if HAVE_NUMBA and max_count < (1 << 24):
        counts64 = np.ascontiguousarray(counts, dtype=np.int64)
        n_threads = max(1, min(_numba.get_num_threads(), n_rows))
        np.cumsum(_numba_fp_nnz(indptr, counts64, max_count, n_threads), out=fp_indptr[1:])
        mult = np.empty(int(fp_indptr[-1]), dtype=np.int64)
        nmult = np.empty(int(fp_indptr[-1]), dtype=np.int64)
        _numba_fp_fill(indptr, counts64, max_count, n_threads, fp_indptr, mult, nmult)
        return fp_indptr, mult, nmult
    seg = _segment_ids(indptr)
    if n_rows * (max_count + 1) <= (1 << 24):
        tally = np.bincount(seg * (max_count + 1) + counts, minlength=n_rows * (max_count + 1))
        keys = np.flatnonzero(tally)
        rows, mult = np.divmod(keys, max_count + 1)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=fp_indptr[1:])
        return fp_indptr, mult.astype(np.int64), tally[keys].astype(np.int64)
    order = np.lexsort((counts, seg))
    seg_s, cnt_s = seg[order], counts[order]
    new = np.empty(cnt_s.size, dtype=bool)
    new[0] = True
    new[1:] = (cnt_s[1:] != cnt_s[:-1]) | (seg_s[1:] != seg_s[:-1])
    starts = np.flatnonzero(new)
    np.cumsum(np.bincount(seg_s[starts], minlength=n_rows), out=fp_indptr[1:])
    return fp_indptr, cnt_s[starts].astype(np.int64), np.diff(np.append(starts, cnt_s.size)).astype(np.int64)


def _coord_dims(v: Any) -> tuple:
    return tuple(getattr(v, "dims", ()))


def _variables_equal(a: Any, b: Any) -> bool:
    if hasattr(a, "equals") and hasattr(b, "equals"):
        return bool(a.equals(b))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _merge_entries(seg: np.ndarray, states: np.ndarray, counts: np.ndarray, n_rows: int):
    """Sum counts of equal (row, state) pairs and return CSR arrays.

    A small key space (rows × states ≤ 2**24) is tallied with one ``np.bincount`` of
    ``row·S + state``; otherwise the entries are sorted by (row, state).
    """
    if states.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return np.zeros(n_rows + 1, dtype=np.int64), z, z.copy()
    width = int(states.max()) + 1
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    if n_rows * width <= (1 << 24):
        tally = np.bincount(seg * width + states, weights=counts, minlength=n_rows * width)
        keys = np.flatnonzero(tally)
        rows, st = np.divmod(keys, width)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return indptr, st.astype(np.int64), np.rint(tally[keys]).astype(np.int64)
    order = np.lexsort((states, seg))
    seg_s, st_s, ct_s = seg[order], states[order], counts[order]
    new = np.empty(st_s.size, dtype=bool)
    new[0] = True
    new[1:] = (st_s[1:] != st_s[:-1]) | (seg_s[1:] != seg_s[:-1])
    starts = np.flatnonzero(new)
    summed = np.add.reduceat(ct_s, starts)
    np.cumsum(np.bincount(seg_s[starts], minlength=n_rows), out=indptr[1:])
    return indptr, st_s[starts].astype(np.int64), summed.astype(np.int64)


# --------------------------------------------------------------------------- entry point
def _token_dataarray(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    from .schema import token_array

    return token_array(ds)


def count_states(
    ds: xr.Dataset | xr.DataArray,
    *,
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
    engine: str = "auto",
) -> Counts:
    """Count the states of every configuration.

    A configuration is one cell of the grid of all dims **not** in ``system``; its tokens
    are those along the ``system`` dims (e.g. ``system="sample"`` for the answers of one
    prompt at one checkpoint; ``system="position"`` for one sequence). ``-1`` (no token)
    is never counted.

    Parameters
    ----------
    ds : Dataset with a ``token`` variable, or the token DataArray
    system : dim name(s) counted over
    n_states : q; defaults to ``attrs["n_states"]`` when present. Tokens must be < q.
    engine : "auto" (numba when installed), "numba" or "numpy"

    Returns
    -------
    Counts
    """
    tok = _token_dataarray(ds)
    if tok.attrs.get("phasekit_ensemble_view"):  # an Ensemble's token-less view: its counts, no token read
        from .configurations import counts_of_view

        return counts_of_view(tok, system, n_states)
    system = require_system(tok, system, caller="count_states")
    q = resolve_n_states(ds, n_states)
    kept = tuple(d for d in tok.dims if d not in system)
    tok = tok.transpose(*kept, *system)
    shape = tuple(int(tok.sizes[d]) for d in kept)
    width = int(np.prod([tok.sizes[d] for d in system], dtype=np.int64))
    coords = {k: v.variable for k, v in tok.coords.items() if set(v.dims) <= set(kept)}
    data = tok.data
    if _is_dask(data) and kept and all(shape):
        indptr, states, counts = _count_dask(tok, kept, system, width, engine)
    else:
        arr = np.asarray(data)  # a single configuration (or an empty grid) is read whole
        _check_integer(arr)
        indptr, states, counts = count_rows(arr.reshape(-1, width) if arr.size else
                                            np.zeros((int(np.prod(shape, dtype=np.int64)), width), np.int64),
                                            engine=engine)
    if q is not None and states.size and int(states.max()) >= q:
        raise SchemaError(
            f"token value {int(states.max())} is outside the {q} states given by n_states",
            where="count_states",
            fix="pass the right n_states (or fix the tokens: valid values are -1 and 0..q-1)",
        )
    return Counts(kept, shape, indptr, states, counts, q, system, coords, {})


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask")


def _check_integer(arr: np.ndarray) -> None:
    if not np.issubdtype(arr.dtype, np.integer):
        raise SchemaError(f"tokens must be integers, got dtype {arr.dtype}",
                          where="variable 'token'",
                          fix="map answers to integer states with open_samples(..., encoder=...)")


class _BlockCounts:
    """The CSR counts of one dask block, carried through an object array (one per block)."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[np.ndarray, np.ndarray, np.ndarray]):
        self.parts = parts


def _count_block_packed(block: np.ndarray, *, n_kept: int, width: int, engine: str) -> np.ndarray:
    """Count one block (kept dims leading, system dims trailing): an object array shaped like
    the block's configuration grid whose first cell holds the block's CSR counts."""
    block = np.asarray(block)
    _check_integer(block)
    out = np.empty(block.shape[:n_kept], dtype=object)
    if out.size:
        out.reshape(-1)[0] = _BlockCounts(count_rows(block.reshape(-1, width), engine=engine))
    return out


def _count_dask(tok: xr.DataArray, kept: tuple[Hashable, ...], system: tuple[Hashable, ...], width: int,
                engine: str = "auto"):
    """Count dask-backed tokens block by block along the kept dims, each block read once.

    ``xr.apply_ufunc(..., dask="parallelized")`` with the system dims as core dims (one
    chunk each; the user's chunks along the kept dims are kept): one task per block,
    never one per configuration; each task returns its block's CSR rows, which are then
    scattered into C order of the full configuration grid.
    """
    if not np.issubdtype(tok.dtype, np.integer):
        _check_integer(np.zeros(0, dtype=tok.dtype))
    tok = tok.chunk({d: -1 for d in system})
    packed = xr.apply_ufunc(_count_block_packed, tok, input_core_dims=[list(system)], dask="parallelized",
                            output_dtypes=[object],
                            kwargs={"n_kept": len(kept), "width": width, "engine": engine})
    assert tok.chunks is not None
    kept_chunks = tuple(tuple(int(n) for n in c) for c in tok.chunks[: len(kept)])
    if all(len(c) == 1 for c in kept_chunks[1:]):  # blocks are consecutive row ranges
        per_row = min(width, _n_states_bound(tok))
        return _stream_blocks(packed.data, kept_chunks, per_row, _state_dtype(tok.dtype))
    grid = np.asarray(packed.data.compute())
    corners = _block_corners(kept_chunks)
    parts = [grid[c].parts for c in corners]
    del grid
    return _assemble_blocks(parts, kept_chunks)


def _n_states_bound(tok: xr.DataArray) -> int:
    """At most this many distinct states per row: q when known, else unbounded."""
    q = tok.attrs.get("n_states")
    return int(q) if q is not None else np.iinfo(np.int64).max


def _state_dtype(dtype: np.dtype) -> type:
    return np.int32 if np.iinfo(dtype).max <= np.iinfo(np.int32).max else np.int64


def _stream_blocks(packed: Any, kept_chunks: tuple[tuple[int, ...], ...], per_row: int,
                   st_dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute the blocks a few at a time, in row order, appending each block's rows to
    output arrays allocated once at their upper bound (rows × min(width, q) entries).

    Untouched pages of the bound are never resident, so the peak is the counts themselves
    plus the blocks in flight — not the blocks' results and their concatenation at once.
    """
    import dask

    n_rows = int(np.prod([sum(c) for c in kept_chunks], dtype=np.int64))
    bound = n_rows * per_row
    states: np.ndarray = np.empty(bound, dtype=st_dtype)
    counts: np.ndarray = np.empty(bound, dtype=np.int64)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    n_blocks = len(kept_chunks[0])
    batch = max(2, 2 * int(dask.config.get("num_workers", None) or os.cpu_count() or 2))
    offset = row = 0
    for start in range(0, n_blocks, batch):
        done = dask.compute(*[packed.blocks[i] for i in range(start, min(n_blocks, start + batch))])
        for grid in done:
            ip, st, ct = np.asarray(grid).reshape(-1)[0].parts
            n, r = int(st.size), int(ip.size - 1)
            if offset + n > bound:  # more distinct states per row than q allows
                raise SchemaError(f"a configuration holds more than n_states={per_row} distinct states",
                                  where="count_states", fix="pass the right n_states (valid tokens: -1, 0..q-1)")
            states[offset : offset + n] = st
            counts[offset : offset + n] = ct
            indptr[row + 1 : row + 1 + r] = ip[1:] + offset
            offset, row = offset + n, row + r
    states.resize(offset, refcheck=False)  # in place: realloc shrinks without copying
    counts.resize(offset, refcheck=False)
    if states.dtype == np.int64 and offset and int(states.max()) < np.iinfo(np.int32).max:
        states = states.astype(np.int32)  # the same dtype as counting the tokens eagerly
    return indptr, states, counts


def _block_corners(kept_chunks: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
    """Grid index of the first configuration of every block, blocks in C order."""
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in kept_chunks]
    return [tuple(int(starts[i][j]) for i, j in enumerate(b)) for b in np.ndindex(*[len(c) for c in kept_chunks])]


def _assemble_blocks(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                     kept_chunks: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scatter per-block CSR rows (blocks in C order of the block grid) into C order of the
    full grid. Blocks are disjoint, so nothing is merged; a block whose rows are contiguous
    in the full grid (chunked along the first kept dim only) is copied as one slice."""
    shape = tuple(sum(c) for c in kept_chunks)
    n_rows = int(np.prod(shape, dtype=np.int64))
    corners = _block_corners(kept_chunks)
    block_rows = []
    nnz = np.zeros(n_rows, dtype=np.int64)
    for corner, (indptr, _s, _c) in zip(corners, parts, strict=True):
        bidx = [int(np.searchsorted(np.cumsum(c), corner[i], side="right")) for i, c in enumerate(kept_chunks)]
        bshape = tuple(kept_chunks[i][bidx[i]] for i in range(len(kept_chunks)))
        local = np.indices(bshape).reshape(len(bshape), -1)
        rows = np.ravel_multi_index(tuple(local[i] + corner[i] for i in range(len(bshape))), shape)
        nnz[rows] = np.diff(indptr)
        block_rows.append(rows)
    indptr_all = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(nnz, out=indptr_all[1:])
    st_dtype = np.result_type(*[p[1].dtype for p in parts]) if parts else np.int64
    states = np.empty(int(indptr_all[-1]), dtype=st_dtype)
    counts = np.empty(int(indptr_all[-1]), dtype=np.int64)
    while parts:
        indptr, st, ct = parts.pop(0)
        rows = block_rows.pop(0)
        if rows.size and rows[-1] - rows[0] + 1 == rows.size:
            a = indptr_all[rows[0]]
            states[a : a + st.size] = st
            counts[a : a + ct.size] = ct
        elif st.size:
            lens = np.diff(indptr)
            dest = np.repeat(indptr_all[rows] - indptr[:-1], lens) + np.arange(st.size)
            states[dest] = st
            counts[dest] = ct
    return indptr_all, states, counts
