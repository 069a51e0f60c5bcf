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
