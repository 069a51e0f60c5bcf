"""Dask input: every attr of a lazy per-configuration result, once materialized, equals the
numpy-input result's (attrs come from the real blocks, never from a synthetic template)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

dask = pytest.importorskip("dask")
import dask.array as da  # noqa: E402

from phasekit.entropy_estimators import entropy  # noqa: E402
from phasekit.lazy import map_configurations, materialize  # noqa: E402
from phasekit.observables import magnetization, order_parameters  # noqa: E402

Q = 5


def _samples(n_ckpt=6, n_prompt=3, n_sample=30, n_pos=4, seed=0, q=Q):
    rng = np.random.default_rng(seed)
    shape = (n_ckpt, n_prompt, n_sample, n_pos)
    conc = np.linspace(0.0, 0.9, n_ckpt)[:, None, None, None]
    tok = np.where(rng.random(shape) < conc, 1, rng.integers(0, Q, size=shape))
    tok[rng.random(shape) < 0.1] = -1  # ragged: the configuration sizes differ
    tok[0, 0] = -1                      # an empty configuration
    return xr.Dataset({"token": (("checkpoint", "prompt", "sample", "position"), tok.astype(np.int32))},
                      coords={"checkpoint": np.arange(n_ckpt) * 10, "state": [f"s{k}" for k in range(Q)]},
                      attrs={"n_states": q})


def _attr_sets(obj):
    """Every attrs dict of a result: its own, each variable's, each coordinate's."""
    out = {"": dict(obj.attrs)}
    if isinstance(obj, xr.Dataset):
        out.update({f"var {k}": dict(v.attrs) for k, v in obj.data_vars.items()})
    out.update({f"coord {k}": dict(v.attrs) for k, v in obj.coords.items()})
    return out


def _assert_same_attrs(got, want):
    a, b = _attr_sets(got), _attr_sets(want)
    assert a.keys() == b.keys()
    for where in b:
        assert a[where].keys() == b[where].keys(), (where, set(a[where]) ^ set(b[where]))
        for k, v in b[where].items():
            if isinstance(v, float):  # a mean over blocks: the same number up to rounding
                np.testing.assert_allclose(a[where][k], v, rtol=1e-12, err_msg=f"{where}: {k}")
            else:
                assert np.array_equal(np.asarray(a[where][k], dtype=object), np.asarray(v, dtype=object)), \
                    (where, k, a[where][k], v)


CHUNKS = [{"checkpoint": 1}, {"checkpoint": 4, "prompt": 2}]


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("kw", [{"estimator": "bma"}, {"estimator": "plugin"}, {}])
def test_entropy_attrs_from_dask_equal_numpy(kw, chunks):
    ds = _samples(q=60)  # an overstated K (5 states used): bma's K-sensitivity attrs are present
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager = entropy(ds, system="sample", **kw)
        lazy = entropy(ds.chunk(chunks), system="sample", **kw)
    assert "N" not in lazy.attrs and "k_moved_beyond_interval" not in lazy.attrs  # not guessed
    got = materialize(lazy)
    _assert_same_attrs(got, eager)
    np.testing.assert_array_equal(got.values, eager.values)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_order_parameters_and_magnetization_attrs(chunks):
    ds = _samples()
    for func, kw in ((order_parameters, {"estimator": "miller_madow"}), (magnetization, {})):
        eager = func(ds, system="sample", **kw)
        got = materialize(func(ds.chunk(chunks), system="sample", **kw))
        _assert_same_attrs(got, eager)
        xr.testing.assert_identical(got, eager)


def _token_stats(tokens, system=("sample",)):
    """A per-configuration function with data-dependent attrs (the largest token, the
    number of padded tokens) — the kind a template run on fake 0/1 data gets wrong. The
    sum over blocks is tested here on a count that is not 0 (entropy's
    ``k_moved_beyond_interval`` is 0 on every data set tried)."""
    tok = tokens["token"] if isinstance(tokens, xr.Dataset) else tokens
    valid = (tok >= 0).sum(system)
    out = valid.rename("n_valid")
    out.attrs = {"max_token": int(tok.max()), "n_padded": int((tok < 0).sum()), "kind": "count"}
    return out


def test_declared_reductions_and_varying_attrs():
    ds = _samples()
    eager = _token_stats(ds)
    lazy = map_configurations(_token_stats, ds.chunk(checkpoint=2), "sample",
                              reduce_attrs={"max_token": "max", "n_padded": "sum"})
    assert lazy.attrs["kind"] == "count" and "max_token" not in lazy.attrs and "n_padded" not in lazy.attrs
    assert "max_token" in lazy.attrs["attrs_deferred"]
    got = materialize(lazy)
    assert got.attrs == eager.attrs
    # undeclared and different in the blocks: dropped with a warning, never a block's value
    lazy = map_configurations(_token_stats, ds.chunk(checkpoint=2), "sample")
    with pytest.warns(UserWarning, match="differ between blocks"):
        got = materialize(lazy)
    assert "n_padded" not in got.attrs and "n_padded" in got.attrs["attrs_varying_across_blocks"]
    assert got.attrs["kind"] == "count"
    with pytest.raises(ValueError, match="unknown attr reductions"):
        map_configurations(_token_stats, ds.chunk(checkpoint=2), "sample", reduce_attrs={"n_padded": "median"})


def test_materialize_reads_each_chunk_once():
    """The attrs travel with the arrays: one read of every token chunk, not two."""
    ds = _samples()
    reads = []
    tok = ds["token"].values

    def load(block, block_info=None):
        reads.append(block_info[0]["chunk-location"])
        return block

    source = da.from_array(tok, chunks=(1, -1, -1, -1)).map_blocks(load, dtype=tok.dtype)
    lazy_ds = ds.copy(data={"token": source})
    got = materialize(entropy(lazy_ds, system="sample", estimator="bma"))
    assert sorted(reads) == sorted({r for r in reads}) and len(reads) == tok.shape[0]
    assert got.attrs["N"] == pytest.approx(entropy(ds, system="sample", estimator="bma").attrs["N"], rel=1e-12)


def test_attrs_travel_with_the_arrays_only():
    """The block attrs hang on the lazy result's own dask arrays: a pickle round trip drops
    them, and materialize then says which attrs it could not compute (never a stale value)."""
    import pickle

    ds = _samples()
    lazy = entropy(ds.chunk(checkpoint=2), system="sample", estimator="bma")
    again = pickle.loads(pickle.dumps(lazy))
    with pytest.warns(UserWarning, match="no longer attached"):
        got = materialize(again)
    assert "N" not in got.attrs and "k_moved_beyond_interval" in got.attrs["attrs_deferred"]
    np.testing.assert_array_equal(got.values, materialize(lazy).values)
