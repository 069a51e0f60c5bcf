"""The counting stage: exact, sparse, and invariant where it must be."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import phasekit as pk
from phasekit.count import HAVE_NUMBA, Counts, count_rows, count_states

token_grids = arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 12)),
                     elements=st.integers(-1, 6))


def _ds(tok, q=7):
    return xr.Dataset({"token": (("checkpoint", "prompt", "sample"), tok)}, attrs={"n_states": q})


def _direct_dense(tok, q):
    return np.stack([(tok == k).sum(-1) for k in range(q)], axis=-1)


@settings(max_examples=60, deadline=None)
@given(token_grids)
def test_counts_equal_direct_tally(tok):
    c = count_states(_ds(tok), system="sample")
    np.testing.assert_array_equal(c.to_dense(), _direct_dense(tok, 7))
    np.testing.assert_array_equal(c.totals(), (tok >= 0).sum(-1))
    assert c.counts.sum() == (tok >= 0).sum()  # nothing lost or invented


@settings(max_examples=40, deadline=None)
@given(token_grids, st.randoms(use_true_random=False))
def test_relabelling_states_permutes_counts(tok, rnd):
    perm = np.arange(7)
    rnd.shuffle(perm)
    relabelled = np.where(tok >= 0, perm[np.clip(tok, 0, None)], -1)
    a = count_states(_ds(tok), system="sample").to_dense()
    b = count_states(_ds(relabelled), system="sample").to_dense()
    np.testing.assert_array_equal(a, b[..., perm])


@settings(max_examples=40, deadline=None)
@given(token_grids, st.randoms(use_true_random=False))
def test_permuting_samples_changes_nothing(tok, rnd):
    idx = list(range(tok.shape[-1]))
    rnd.shuffle(idx)
    a = count_states(_ds(tok), system="sample")
    b = count_states(_ds(tok[..., idx]), system="sample")
    for x, y in zip((a.indptr, a.states, a.counts), (b.indptr, b.states, b.counts), strict=True):
        np.testing.assert_array_equal(x, y)


@settings(max_examples=40, deadline=None)
@given(token_grids, st.integers(0, 12))
def test_counts_are_additive_across_chunks(tok, cut):
    cut = min(cut, tok.shape[-1])
    whole = count_states(_ds(tok), system="sample")
    parts = count_states(_ds(tok[..., :cut]), system="sample") + count_states(_ds(tok[..., cut:]), system="sample")
    np.testing.assert_array_equal(whole.to_dense(), parts.to_dense())


@settings(max_examples=25, deadline=None)
@given(token_grids, st.integers(1, 3), st.integers(1, 3))
def test_numpy_and_dask_identical(tok, c0, c1):
    da = pytest.importorskip("dask.array")
    a = count_states(_ds(tok), system="sample")
    lazy = xr.Dataset({"token": (("checkpoint", "prompt", "sample"), da.from_array(tok, chunks=(c0, c1, 5)))},
                      attrs={"n_states": 7})
    b = count_states(lazy, system="sample")
    for x, y in zip((a.indptr, a.states, a.counts), (b.indptr, b.states, b.counts), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
@settings(max_examples=40, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 30)), elements=st.integers(-1, 2**40)))
def test_numba_and_numpy_kernels_agree(rows):
    a, b = count_rows(rows, engine="numba"), count_rows(rows, engine="numpy")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_huge_alphabet_stays_sparse():
    rng = np.random.default_rng(0)
    tok = rng.integers(0, 2**40, size=(3, 2, 500))
    c = count_states(_ds(tok, q=2**40), system="sample")
    assert c.states.size <= tok.size and c.n_states == 2**40
    assert c.totals().tolist() == [[500, 500]] * 3
    with pytest.raises(pk.SchemaError, match="dense"):
        c.to_dense()


def test_summaries_and_fingerprint():
    tok = np.array([[[0, 0, 1, 2, 2, -1]], [[-1, -1, -1, -1, -1, -1]]])
    c = count_states(_ds(tok, q=3), system="sample")
    assert c.max_count().tolist() == [[2], [0]]
    assert c.mode_state().tolist() == [[0], [-1]]  # smallest of tied modes; -1 when empty
    assert c.sum_squares().tolist() == [[9], [0]]
    assert c.n_observed().tolist() == [[3], [0]]
    fp_indptr, mult, nmult = c.fingerprint()
    assert fp_indptr.tolist() == [0, 2, 2]
    assert mult.tolist() == [1, 2] and nmult.tolist() == [1, 2]


def test_pool_over_prompts(make_samples):
    ds = make_samples(pad=0.2)
    c = count_states(ds, system="sample")
    pooled = c.pool("prompt")
    np.testing.assert_array_equal(pooled.to_dense(), c.to_dense().sum(axis=1))
    assert pooled.dims == ("checkpoint",)
    assert "step" in pooled.wrap(pooled.totals()).coords


def test_system_over_two_dims(make_samples):
    ds = make_samples(n_pos=4)
    c = count_states(ds, system=("sample", "position"))
    assert c.dims == ("checkpoint", "prompt")
    np.testing.assert_array_equal(c.totals(), np.full((4, 3), 80))


def test_bad_system_and_tokens(make_samples):
    ds = make_samples()
    with pytest.raises(pk.SchemaError, match="position"):
        count_states(ds, system="position")
    ds["token"][0, 0, 0] = 9
    with pytest.raises(pk.SchemaError, match="n_states"):
        count_states(ds, system="sample")
    with pytest.raises(pk.SchemaError, match="integer"):
        count_states(ds.assign(token=ds["token"] * 0.5), system="sample")


def test_counts_repr_and_type(make_samples):
    c = count_states(make_samples(), system="sample")
    assert isinstance(c, Counts) and "Counts" in repr(c)


# ------------------------------------------------- fingerprint, n ln n, merging: every path
def _fingerprint_truth(indptr, counts):
    """Count-of-counts per row by collections.Counter (independent of phasekit)."""
    from collections import Counter

    return [sorted(Counter(counts[indptr[i]:indptr[i + 1]].tolist()).items()) for i in range(indptr.size - 1)]


def _fp_rows(fp):
    ip, mult, nmult = fp
    return [list(zip(mult[ip[i]:ip[i + 1]].tolist(), nmult[ip[i]:ip[i + 1]].tolist(), strict=True))
            for i in range(ip.size - 1)]


@pytest.mark.parametrize("path", ["numba", "bincount", "sort"])
def test_fingerprint_every_path_equals_counter(path, monkeypatch):
    import phasekit.count as pc

    rng = np.random.default_rng(4)
    rows = (rng.zipf(1.4, size=(40, 500)) % 3000).astype(np.int64)
    rows[5] = -1  # an empty row
    ip, _st, ct = count_rows(rows)
    if path == "numba" and not HAVE_NUMBA:
        pytest.skip("numba not installed")
    if path != "numba":
        monkeypatch.setattr(pc, "HAVE_NUMBA", False)
    if path == "sort":  # a key space too large for the bincount
        ct = ct.copy()
        ct[0] = 1 << 20
    got = pc._fingerprint(ip, ct)
    assert _fp_rows(got) == _fingerprint_truth(ip, ct)


@pytest.mark.parametrize("numba", [True, False])
def test_nlogn_sums_and_plugin_entropy(numba, monkeypatch):
    from scipy.stats import entropy

    import phasekit.count as pc
    from phasekit.distributions import plugin_entropy

    if numba and not HAVE_NUMBA:
        pytest.skip("numba not installed")
    monkeypatch.setattr(pc, "HAVE_NUMBA", numba)
    rng = np.random.default_rng(5)
    tok = (rng.zipf(1.2, size=(3, 4, 9000)) % 5000).astype(np.int64)  # counts beyond the 4096 table
    c = count_states(_ds(tok, q=5000), system="sample")
    tot, s = c.nlogn_sums()
    flat = tok.reshape(12, -1)
    n = np.array([np.bincount(r) for r in flat], dtype=object)
    np.testing.assert_allclose(tot, [r.size for r in flat])
    np.testing.assert_allclose(s, [float((v[v > 0] * np.log(v[v > 0])).sum()) for v in n], rtol=1e-12)
    np.testing.assert_allclose(plugin_entropy(c), [[entropy(np.bincount(tok[i, j])) for j in range(4)] for i in range(3)], rtol=1e-12)


def test_pool_sort_and_bincount_paths_agree():
    from phasekit.count import _merge_entries

    rng = np.random.default_rng(6)
    seg = rng.integers(0, 50, size=3000)
    states = rng.integers(0, 40, size=3000)
    counts = rng.integers(1, 5, size=3000)
    small = _merge_entries(seg, states, counts, 50)                       # bincount
    big = _merge_entries(seg, states + (1 << 20), counts, 50)            # sort
    for a, b in zip(small, (big[0], big[1] - (1 << 20), big[2]), strict=True):
        np.testing.assert_array_equal(a, b)
    dense = np.zeros((50, 40), dtype=np.int64)
    np.add.at(dense, (seg, states), counts)
    rows = np.repeat(np.arange(50), np.diff(small[0]))
    np.testing.assert_array_equal(dense[rows, small[1]], small[2])
    assert small[2].sum() == counts.sum()


def test_dask_blocks_along_several_kept_dims_scatter_into_place():
    pytest.importorskip("dask")
    rng = np.random.default_rng(7)
    tok = rng.integers(-1, 6, size=(5, 7, 11))
    ds = _ds(tok)
    eager = count_states(ds, system="sample")
    for chunks in ({"checkpoint": 2, "prompt": 3}, {"prompt": 2}, {"checkpoint": 1, "sample": 4}):
        assert count_states(ds.chunk(chunks), system="sample") == eager


# ------------------------------------------------- the one-pass kernel against an independent reference
def _reference_rows(rows):
    """Per row: sorted (state, count) pairs of the tokens >= 0, by collections.Counter."""
    from collections import Counter

    return [sorted(Counter(int(x) for x in r if x >= 0).items()) for r in np.asarray(rows)]


def _as_pairs(csr):
    ip, st, ct = csr
    return [list(zip(st[ip[i]:ip[i + 1]].tolist(), ct[ip[i]:ip[i + 1]].tolist(), strict=True))
            for i in range(ip.size - 1)]


def _kernel_cases():
    rng = np.random.default_rng(11)
    zipf = (rng.zipf(1.1, size=(37, 301)) - 1) % 50_000  # odd width: the kernel's pair loop has a tail
    zipf[3] = -1                                          # an empty row
    zipf[4, ::2] = -1                                     # half padding
    zipf[5] = 7                                           # one state
    near_max = rng.integers(2**31 - 40, 2**31 - 1, size=(6, 50))    # just below int32's max: int32 ids
    at_max = near_max.copy()
    at_max[0, 0] = 2**31 - 1                                         # int32's max itself: int64 ids
    sparse_1e6 = rng.integers(0, 10**6, size=(9, 40))                # V = 1e6, short rows: sorted per row
    sparse_1e6[2, :3] = 999_999
    return {
        "zipf 50k": zipf.astype(np.int32),
        "int64 ids 2**40": rng.integers(-1, 2**40, size=(8, 33)),
        "near int32 max": near_max.astype(np.int64),
        "int32 max": at_max,
        "V=1e6 sparse": sparse_1e6,
        "V=1e6 long rows": rng.integers(-1, 10**6, size=(3, 20_000)),
        "width 1": rng.integers(-1, 5000, size=(50, 1)),
        "all empty": np.full((4, 9), -1),
        "small alphabet": rng.integers(-1, 10, size=(20, 64)).astype(np.int16),
        "uint8": rng.integers(0, 255, size=(10, 70)).astype(np.uint8),
        "uint64 ids": rng.integers(0, 2**40, size=(5, 20)).astype(np.uint64),
    }


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("case", list(_kernel_cases()))
def test_count_rows_equals_counter(case, engine):
    if engine == "numba" and not HAVE_NUMBA:
        pytest.skip("numba not installed")
    rows = _kernel_cases()[case]
    got = count_rows(rows, engine=engine)
    assert _as_pairs(got) == _reference_rows(rows)
    expect = np.int32 if rows.max() < 2**31 - 1 else np.int64
    assert got[1].dtype == expect and got[0].dtype == got[2].dtype == np.int64


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("case", list(_kernel_cases()))
def test_numba_and_numpy_give_the_same_counts(case):
    rows = _kernel_cases()[case]
    a, b = count_rows(rows, engine="numba"), count_rows(rows, engine="numpy")
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("threads", [0, 1, 2])
@pytest.mark.parametrize("stage", [1, 50, 5000])
def test_numba_rounds_and_threads_split_rows_exactly(stage, threads, monkeypatch):
    """Tiny stages force many rounds and every group/row boundary; the result is the same
    on the calling thread (0: the serial kernel for small inputs) or on 1 or 2 threads."""
    import numba

    import phasekit.count as pc

    monkeypatch.setattr(pc, "_STAGE_ENTRIES", stage)
    if threads:
        monkeypatch.setattr(pc, "_PARALLEL_MIN_TOKENS", 0)
    rng = np.random.default_rng(12)
    rows = ((rng.zipf(1.3, size=(203, 150)) - 1) % 3000).astype(np.int32)
    rows[rng.random(rows.shape) < 0.2] = -1
    rows[17] = -1
    before = numba.get_num_threads()
    numba.set_num_threads(min(max(threads, 1), numba.config.NUMBA_NUM_THREADS))
    try:
        got = count_rows(rows, engine="numba")
    finally:
        numba.set_num_threads(before)
    assert _as_pairs(got) == _reference_rows(rows)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_negative_ids_are_rejected(engine):
    if engine == "numba" and not HAVE_NUMBA:
        pytest.skip("numba not installed")
    tok = np.zeros((2, 3, 5), dtype=np.int64)
    tok[1, 2, 3] = -2
    with pytest.raises(pk.SchemaError, match="-2"):
        count_rows(tok.reshape(6, 5), engine=engine)
    with pytest.raises(pk.SchemaError, match="negative"):
        count_states(_ds(tok), system="sample", engine=engine)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_dask_counts_bit_identical(dtype):
    pytest.importorskip("dask")
    rng = np.random.default_rng(13)
    tok = ((rng.zipf(1.1, size=(6, 5, 40)) - 1) % 50_000).astype(dtype)
    tok[0, 0] = -1
    ds = _ds(tok, q=50_000)
    eager = count_states(ds, system="sample")
    for chunks in ({"checkpoint": 1}, {"checkpoint": 4, "prompt": 2}):
        lazy = count_states(ds.chunk(chunks), system="sample")
        assert lazy == eager
        for x, y in zip((lazy.indptr, lazy.states, lazy.counts), (eager.indptr, eager.states, eager.counts),
                        strict=True):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
