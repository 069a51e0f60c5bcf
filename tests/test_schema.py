import numpy as np
import pytest
import xarray as xr

import phasekit as pk
from phasekit.schema import summary, validate


def test_valid_dataset_passes_and_is_canonical(make_samples):
    ds = make_samples(n_pos=3)
    out = validate(ds.transpose("position", "sample", "prompt", "checkpoint"))
    assert out["token"].dims == ("checkpoint", "prompt", "sample", "position")
    np.testing.assert_array_equal(out["token"].values, ds["token"].values)


def test_extra_dims_lead(make_samples):
    ds = make_samples().expand_dims(model=["a", "b"]).transpose("checkpoint", "model", ...)
    assert validate(ds)["token"].dims[:2] == ("model", "checkpoint")


def test_schema_error_is_value_error(make_samples):
    assert issubclass(pk.SchemaError, ValueError)


def test_missing_token(make_samples):
    ds = make_samples().rename({"token": "ids"})
    with pytest.raises(pk.SchemaError, match="token"):
        validate(ds)


@pytest.mark.parametrize("dim", ["checkpoint", "sample"])
def test_missing_required_dim(dim, make_samples):
    ds = make_samples().isel({dim: 0}, drop=True)
    with pytest.raises(pk.SchemaError, match=dim):
        validate(ds)


def test_token_below_minus_one_quotes_value_and_place(make_samples):
    ds = make_samples()
    ds["token"][1, 2, 3] = -5
    with pytest.raises(pk.SchemaError, match=r"-5.*checkpoint=ckpt-200.*prompt=p2"):
        validate(ds)


def test_token_above_n_states(make_samples):
    ds = make_samples(q=5)
    ds["token"][0, 0, 0] = 5
    with pytest.raises(pk.SchemaError, match="n_states"):
        validate(ds)


@pytest.mark.parametrize("value, word", [(1.5, "integer"), (np.nan, "NaN")])
def test_fractional_or_nan_tokens(value, word, make_samples):
    ds = make_samples()
    ds["token"] = ds["token"].astype(float)
    ds["token"][0, 0, 1] = value
    with pytest.raises(pk.SchemaError, match=word):
        validate(ds)


def test_integer_valued_floats_are_accepted(make_samples):
    ds = make_samples()
    ds["token"] = ds["token"].astype(float)
    validate(ds)


def test_decreasing_step(make_samples):
    ds = make_samples().assign_coords(step=("checkpoint", [100, 300, 200, 400]))
    with pytest.raises(pk.SchemaError, match="step.*decreases"):
        validate(ds)


def test_non_numeric_step(make_samples):
    ds = make_samples().assign_coords(step=("checkpoint", ["a", "b", "c", "d"]))
    with pytest.raises(pk.SchemaError, match="numeric"):
        validate(ds)


def test_duplicate_checkpoint_labels(make_samples):
    ds = make_samples().assign_coords(checkpoint=["a", "a", "b", "c"])
    with pytest.raises(pk.SchemaError, match="'a' appears 2 times"):
        validate(ds)


def test_empty_dataset(make_samples):
    ds = make_samples().isel(sample=slice(0, 0))
    with pytest.raises(pk.SchemaError, match="empty"):
        validate(ds)


def test_bad_n_states_attr(make_samples):
    ds = make_samples()
    ds.attrs["n_states"] = "ten"
    with pytest.raises(pk.SchemaError, match="n_states"):
        validate(ds)


def test_dask_backed_checked_too(make_samples):
    da = pytest.importorskip("dask.array")
    ds = make_samples()
    tok = ds["token"].values.copy()
    tok[0, 0, 0] = -7
    ds["token"] = (ds["token"].dims, da.from_array(tok, chunks=(1, 3, 20)))
    checked = validate(ds)  # dask-backed: checked as each chunk is first read (issue 15.7: one read)
    with pytest.raises(pk.SchemaError, match="-7"):
        checked["token"].compute()


def test_summary_counts_tokens_and_padding(make_samples):
    ds = make_samples(pad=0.2)
    s = summary(ds)
    tok = ds["token"].values
    assert s["tokens"] + s["padding"] == tok.size
    assert s["padding"] == int((tok < 0).sum())
    assert s["dims"] == {"checkpoint": 4, "prompt": 3, "sample": 20}


def test_not_a_dataset(make_samples):
    with pytest.raises(pk.SchemaError, match="Dataset"):
        validate(xr.DataArray([1, 2]).values)


def test_members_with_their_own_checkpoints_validate_and_read_back(tmp_path):
    """A (model, checkpoint) step (a family whose models have different checkpoint grids,
    the shorter padded with NaN steps and -1 tokens) is valid and survives a NetCDF round
    trip; NaN inside a grid, tokens at padded checkpoints, a decreasing grid and a 2-D step
    along a dim that is not a member dim are errors naming the member."""
    tok = np.random.default_rng(0).integers(0, 3, size=(2, 4, 5))
    tok[1, 3] = -1
    step = np.array([[10, 20, 30, 40], [10, 20, 30, np.nan]])
    ds = xr.Dataset({"token": (("model", "checkpoint", "sample"), tok)},
                    coords={"model": ["a", "b"], "step": (("model", "checkpoint"), step)}, attrs={"n_states": 3})
    pk.validate(ds)
    ds.to_netcdf(tmp_path / "family.nc")
    back = pk.open_samples(str(tmp_path / "family.nc"))
    np.testing.assert_array_equal(back["step"].values, step)
    bad_tokens = tok.copy()
    bad_tokens[1, 3] = 1
    with pytest.raises(pk.SchemaError, match="model=b has tokens at checkpoints without a step"):
        pk.validate(ds.assign(token=(("model", "checkpoint", "sample"), bad_tokens)))
    with pytest.raises(pk.SchemaError, match="NaN before its last checkpoint"):
        pk.validate(ds.assign_coords(step=(("model", "checkpoint"), np.array([[10, 20, 30, 40], [10, np.nan, 30, 40]]))))
    with pytest.raises(pk.SchemaError, match="decreases from 30 to 20"):
        pk.validate(ds.assign_coords(step=(("model", "checkpoint"), np.array([[10, 20, 30, 40], [10, 30, 20, 40]]))))
    with pytest.raises(pk.SchemaError, match="must lie along 'checkpoint'"):
        pk.validate(ds.rename(model="temperature"))
