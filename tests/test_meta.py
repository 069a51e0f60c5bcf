"""The shared conventions of phasekit._meta: one converter, one control rule, one q rule."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import phasekit as pk
from phasekit._meta import (
    as_dataset_estimate,
    control_dim,
    control_values,
    renamed_keyword,
    require_distinct,
    require_n_states,
    resolve_n_states,
    with_stderr,
)
from phasekit.errors import SchemaError


def _result() -> xr.Dataset:
    ck = xr.DataArray([0, 1, 2], dims="checkpoint", coords={"checkpoint": ["a", "b", "c"]})
    return xr.Dataset(
        {"m": ck * 0.5, "m_stderr": ck * 0.1, "m_lower": ck * 0.5 - 0.2, "m_upper": ck * 0.5 + 0.2,
         "h": ck * 1.0},
        attrs={"confidence": 0.9},
    )


def test_with_stderr_carries_every_uncertainty_and_is_the_public_one():
    ds = _result()
    m = with_stderr(ds, "m")
    np.testing.assert_allclose(m.stderr.values, [0.0, 0.1, 0.2])
    np.testing.assert_allclose(m.lower.values, [-0.2, 0.3, 0.8])
    np.testing.assert_allclose(m.upper.values, [0.2, 0.7, 1.2])
    assert m.attrs["confidence"] == 0.9
    h = with_stderr(ds, "h")  # nothing stored: stderr NaN, no interval
    assert np.isnan(h.stderr.values).all() and "lower" not in h.coords
    assert pk.with_stderr is with_stderr
    from phasekit.observables import with_stderr as obs_with_stderr

    assert obs_with_stderr is with_stderr
    with pytest.raises(SchemaError):
        with_stderr(ds, "nope")


def test_as_dataset_estimate_inverts_with_stderr():
    ds = _result()
    back = xr.Dataset(as_dataset_estimate(with_stderr(ds, "m")))
    for v in ("m", "m_stderr", "m_lower", "m_upper"):
        np.testing.assert_allclose(back[v].values, ds[v].values)
    assert "stderr" not in back["m"].coords


def test_control_values_one_rule():
    da = xr.DataArray(np.zeros(3), dims="checkpoint", coords={"checkpoint": ["x", "y", "z"]})
    np.testing.assert_array_equal(control_values(da, "checkpoint"), [0, 1, 2])          # labels: 0, 1, 2
    da2 = da.assign_coords(step=("checkpoint", [10, 20, 40]))
    np.testing.assert_array_equal(control_values(da2, "checkpoint"), [10, 20, 40])     # step wins
    t = xr.DataArray(np.zeros(2), dims="temperature", coords={"temperature": [0.5, 1.5]})
    np.testing.assert_array_equal(control_values(t, "temperature"), [0.5, 1.5])        # numeric coord
    np.testing.assert_array_equal(control_values(da2, "step"), [10, 20, 40])           # old meaning
    assert control_dim(da2, "step") == "checkpoint"
    with pytest.raises(SchemaError):
        control_values(da, "nope")


def test_q_is_never_guessed():
    ds = xr.Dataset({"token": ("sample", [0, 1, 5])})
    assert resolve_n_states(ds) is None
    assert resolve_n_states(ds, 7) == 7
    ds.attrs["n_states"] = 9
    assert resolve_n_states(ds) == 9
    assert resolve_n_states(ds["token"].assign_attrs(n_states=4)) == 4
    with pytest.raises(SchemaError, match="needs the number of states"):
        require_n_states(xr.Dataset({"token": ("sample", [0])}), what="magnetization")
    with pytest.raises(SchemaError):
        resolve_n_states(ds, 0)
    with pytest.raises(SchemaError):
        resolve_n_states(ds, 2.5)  # type: ignore[arg-type]


def test_renamed_keyword_warns_and_refuses_two_values():
    assert renamed_keyword("f", "dim", "sequence", None, "position", "position") == "position"
    with pytest.warns(DeprecationWarning, match="sequence="):
        assert renamed_keyword("f", "dim", "sequence", "t", "position", "position") == "t"
    with pytest.raises(SchemaError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            renamed_keyword("f", "dim", "sequence", "t", "u", "position")
    require_distinct(caller="f", control="checkpoint", system=("sample",))
    with pytest.raises(SchemaError, match="both"):
        require_distinct(caller="f", control="checkpoint", system=("sample", "checkpoint"))
