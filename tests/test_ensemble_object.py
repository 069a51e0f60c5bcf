"""pk.Ensemble: the configurations counted once, with their roles; counts against direct tallies."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import xarray as xr

import phasekit as pk
from phasekit import SchemaError
from phasekit.configurations import Ensemble, as_counts, ensemble, token_view
from phasekit.count import count_states

Q = 6


def _samples(shape=(5, 3, 12, 8), seed=0, positions=True):
    rng = np.random.default_rng(seed)
    tok = rng.integers(0, Q, size=shape)
    tok[rng.random(shape) < 0.1] = -1
    dims = ("checkpoint", "prompt", "sample", "position")[: len(shape)]
    ds = xr.Dataset({"token": (dims, tok.astype(np.int32))},
                    coords={"checkpoint": np.arange(shape[0]) * 7,
                            "step": ("checkpoint", np.arange(shape[0]) * 100.0),
                            "stage": ("checkpoint", ["base", "base", "sft", "sft", "dpo"][: shape[0]]),
                            "state": [f"s{k}" for k in range(Q)]},
                    attrs={"n_states": Q, "source": "unit-test"})
    if not positions:
        ds = ds.isel(position=0, drop=True)
    return ds


def _tally(tok: np.ndarray) -> np.ndarray:
    """Direct per-row counts of the last axis (independent of phasekit)."""
    flat = tok.reshape(-1, tok.shape[-1])
    out = np.zeros((flat.shape[0], Q), dtype=np.int64)
    for i, row in enumerate(flat):
        out[i] = np.bincount(row[row >= 0], minlength=Q)
    return out.reshape(*tok.shape[:-1], Q)


def test_roles_q_labels_and_control_values():
    ds = _samples()
    e = pk.ensemble(ds)
    assert isinstance(e, pk.Ensemble)
    assert e.system == ("position",) and e.replica == ("prompt", "sample") and e.control == "checkpoint"
    assert e.n_states == Q and e.dims == ("checkpoint", "prompt", "sample")
    np.testing.assert_array_equal(e.control_values, [0, 100, 200, 300, 400])  # the step coordinate
    assert list(e.stage) == ["base", "base", "sft", "sft", "dpo"]
    assert list(e.state_labels) == [f"s{k}" for k in range(Q)]
    assert e.provenance["source"] == "unit-test" and e.provenance["counted_from"] == "tokens"
    single = pk.ensemble(_samples(positions=False))
    assert single.system == ("sample",) and single.replica == ("prompt",)


def test_counts_are_the_direct_tallies_and_pool_exactly():
    ds = _samples()
    e = ensemble(ds)
    tok = ds["token"].values
    np.testing.assert_array_equal(e.counts.to_dense(), _tally(tok))
    pooled = e.counts_over(("sample", "position"))  # every sample of a prompt
    direct = _tally(tok.reshape(5, 3, -1))
    np.testing.assert_array_equal(pooled.to_dense(), direct)
    assert pooled == count_states(ds, system=("sample", "position"))
    with pytest.raises(SchemaError):
        e.counts_over("sample")  # would split the stored configurations


def test_immutable_pickles_and_compares_equal():
    e = ensemble(_samples())
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.n_states = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        e.counts.counts[0] = 99
    back = pickle.loads(pickle.dumps(e))
    assert back == e and back is not e
    assert back.counts_over(("sample", "position")) == e.counts_over(("sample", "position"))
    other = ensemble(_samples(seed=1))
    assert other != e


def test_open_answer_space_has_no_q():
    ds = _samples().drop_vars("state")
    ds.attrs = {}
    e = ensemble(ds)
    assert e.n_states is None and e.state_labels is None
    assert as_counts(e, n_states=Q).n_states == Q


def test_dask_input_gives_the_same_ensemble():
    pytest.importorskip("dask")
    ds = _samples()
    lazy = ensemble(ds.chunk({"checkpoint": 2, "prompt": 2}))
    assert lazy.counts == ensemble(ds).counts


def test_from_count_store(tmp_path):
    ds = _samples(positions=False)
    store = pk.CountStore.create(tmp_path / "c.zarr", ds, system="sample", dim="checkpoint")
    e = ensemble(store)
    ref = ensemble(ds)
    assert e.counts.indptr.tolist() == ref.counts.indptr.tolist()
    np.testing.assert_array_equal(e.counts.to_dense(), ref.counts.to_dense())
    np.testing.assert_array_equal(e.control_values, ref.control_values)
    assert e.system == ("sample",) and e.replica == ("prompt",) and e.n_states == Q
    assert e.provenance["counted_from"] == "count_store"


def test_as_counts_and_the_token_less_view():
    ds = _samples()
    e = ensemble(ds)
    assert as_counts(e, system=("position",)) is e.counts
    assert as_counts(ds, system="position") == e.counts
    view = token_view(e)
    assert view.dims == ds["token"].dims and view.shape == ds["token"].shape
    assert view.nbytes == 1 or view.data.strides == (0,) * view.ndim  # holds no tokens
    np.testing.assert_array_equal(view["step"].values, ds["step"].values)
    # counting the view gives the Ensemble's counts (no token read); a sliced view is refused
    assert count_states(view, system="position") is e.counts
    assert count_states(view, system=("sample", "position")) == count_states(ds, system=("sample", "position"))
    with pytest.raises(SchemaError):
        count_states(view.isel(checkpoint=slice(0, 2)), system="position")
    with pytest.raises(SchemaError):
        count_states(view, system="sample")  # would split the stored configurations


def test_counts_isel_matches_recount():
    ds = _samples()
    c = count_states(ds, system="position")
    assert c.isel({"checkpoint": 2}) == count_states(ds.isel(checkpoint=2), system="position")


def test_ensemble_is_registered():
    assert pk.ensemble is ensemble and pk.Ensemble is Ensemble


@pytest.mark.parametrize("estimator", [None, "miller_madow"])
def test_order_stage_by_control_blocks_equals_one_call(estimator, monkeypatch):
    """analyze computes order parameters block by block along the control dim (to cap its
    temporaries); every value and attr, the size attrs of ragged data included, equals one call."""
    import phasekit.pipeline as pl
    from phasekit.observables import order_parameters

    ds = _samples(shape=(5, 3, 12, 8))
    e = ensemble(ds)
    whole = order_parameters(e, system=e.system, n_states=Q, **({} if estimator is None else
                                                                 {"estimator": estimator}))
    monkeypatch.setattr(pl, "ORDER_BLOCK_CONFIGS", 80)  # blocks of 2, 2, 1 checkpoints (36 configurations each)
    per_config, _m, _order = pl._order_stage(e, estimator)
    xr.testing.assert_identical(per_config, whole)
