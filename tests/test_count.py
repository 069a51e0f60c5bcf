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
