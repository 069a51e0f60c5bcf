"""CountStore: incremental counts equal counting everything at once; old data is never recounted."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import phasekit.store as store_mod
from phasekit.count import count_states
from phasekit.errors import SchemaError
from phasekit.observables import order_parameters
from phasekit.store import CountStore

Q = 6


def _samples(n_ckpt=6, n_prompt=3, n_sample=40, n_pos=None, seed=0, first_step=0):
    rng = np.random.default_rng(seed)
    shape = (n_ckpt, n_prompt, n_sample) + ((n_pos,) if n_pos else ())
    dims = ("checkpoint", "prompt", "sample") + (("position",) if n_pos else ())
    # later checkpoints concentrate on state 2; some missing tokens (-1)
    p = np.linspace(0, 0.8, n_ckpt)
    tok = np.where(rng.random(shape) < p.reshape(-1, *([1] * (len(shape) - 1))), 2,
                   rng.integers(0, Q, size=shape))
    tok[rng.random(shape) < 0.05] = -1
    steps = first_step + 100.0 * np.arange(n_ckpt)
    return xr.Dataset(
        {"token": (dims, tok.astype(np.int32))},
        coords={"checkpoint": [f"ckpt-{int(s)}" for s in steps], "step": ("checkpoint", steps),
                "prompt": ["a", "b", "c"][:n_prompt], "state": [f"s{i}" for i in range(Q)]},
        attrs={"n_states": Q},
    )


def _assert_counts_equal(a, b):
    assert a.dims == b.dims and a.shape == b.shape
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.counts, b.counts)


@pytest.mark.parametrize("system", [("sample",), ("sample", "position"), ("position",)])
def test_two_halves_equal_all_at_once(tmp_path, system):
    ds = _samples(n_pos=5)
    store = CountStore.create(tmp_path / "c.zarr", ds.isel(checkpoint=slice(0, 3)), system=system)
    store.append(ds.isel(checkpoint=slice(3, None)))
    whole = count_states(ds, system=system)
    _assert_counts_equal(CountStore(tmp_path / "c.zarr").counts(), whole)
    got = store.order_parameters(estimator="miller_madow")  # any estimator; a fast one here
    want = order_parameters(ds, system=system, estimator="miller_madow")
    for v in want.data_vars:
        np.testing.assert_array_equal(got[v].values, want[v].values, err_msg=v)
    assert list(got["checkpoint"].values) == list(ds["checkpoint"].values)
    np.testing.assert_array_equal(got["step"].values, ds["step"].values)


def test_old_checkpoints_not_recounted(tmp_path, monkeypatch):
    ds = _samples()
    store = CountStore.create(tmp_path / "c.zarr", ds.isel(checkpoint=slice(0, 4)), system="sample")
    seen = []
    real = store_mod.count_states

    def spy(data, *args, **kwargs):
        seen.append(list(data["checkpoint"].values))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(store_mod, "count_states", spy)
    store.append(ds.isel(checkpoint=slice(4, None)))
    assert seen == [list(ds["checkpoint"].values[4:])]  # only the new tokens were counted
    seen.clear()
    store.order_parameters(estimator="plugin")
    assert seen == []  # analysis from stored counts: no counting at all


def test_duplicate_checkpoint_refused(tmp_path):
    ds = _samples()
    store = CountStore.create(tmp_path / "c.zarr", ds.isel(checkpoint=slice(0, 3)), system="sample")
    with pytest.raises(SchemaError, match="already in the store"):
        store.append(ds.isel(checkpoint=slice(2, 4)))
    # nothing was written by the refused append
    _assert_counts_equal(store.counts(), count_states(ds.isel(checkpoint=slice(0, 3)), system="sample"))


def test_add_samples_is_additive(tmp_path):
    ds = _samples(n_sample=60)
    first = ds.isel(sample=slice(0, 35))
    more = ds.isel(sample=slice(35, None), checkpoint=[1, 4])  # more samples for two checkpoints
    store = CountStore.create(tmp_path / "c.zarr", first, system="sample")
    store.append(more, add_samples=True)
    want = count_states(first, system="sample").to_dense(Q)
    want[[1, 4]] += count_states(more, system="sample").to_dense(Q)
    np.testing.assert_array_equal(store.counts().to_dense(Q), want)
    # the store can still grow afterwards
    nxt = _samples(n_ckpt=2, seed=5, first_step=600)
    store.append(nxt)
    assert store.counts().shape == (8, 3)
    np.testing.assert_array_equal(store.counts(checkpoints=nxt["checkpoint"].values).to_dense(Q),
                                  count_states(nxt, system="sample").to_dense(Q))


def test_dask_input_and_reopen(tmp_path):
    ds = _samples(n_pos=4)
    store = CountStore.create(tmp_path / "c.zarr", ds.isel(checkpoint=slice(0, 2)).chunk(checkpoint=1),
                              system=("sample", "position"))
    store.append(ds.isel(checkpoint=slice(2, None)).chunk(checkpoint=2))
    again = CountStore(tmp_path / "c.zarr")
    _assert_counts_equal(again.counts(), count_states(ds, system=("sample", "position")))
    assert again.n_states == Q and again.system == ("sample", "position")
    assert "checkpoint" in repr(again)


def test_mismatched_data_refused(tmp_path):
    ds = _samples()
    store = CountStore.create(tmp_path / "c.zarr", ds.isel(checkpoint=slice(0, 3)), system="sample")
    other = _samples(n_prompt=2, seed=1, first_step=300)
    with pytest.raises(SchemaError, match="prompt"):
        store.append(other)
    bad_q = ds.isel(checkpoint=slice(3, None)).assign_attrs(n_states=Q + 1)
    with pytest.raises(SchemaError, match="n_states"):
        store.append(bad_q)
    backwards = _samples(seed=2, first_step=-1000).isel(checkpoint=slice(0, 1))
    with pytest.raises(SchemaError, match="step"):
        store.append(backwards)
    with pytest.raises(SchemaError, match="already exists"):
        CountStore.create(tmp_path / "c.zarr", ds, system="sample")
    with pytest.raises(SchemaError, match="no count store"):
        CountStore(tmp_path / "missing.zarr")
