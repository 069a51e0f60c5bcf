"""The ``.phase`` xarray accessor delegates to phasekit's public functions."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import xarray as xr

import phasekit
import phasekit.accessor  # noqa: F401  (registers .phase even if __init__ did not)
from phasekit.fluctuations import binder_cumulant, susceptibility
from phasekit.observables import magnetization


@pytest.fixture
def ds() -> xr.Dataset:
    rng = np.random.default_rng(0)
    tok = rng.integers(0, 3, size=(2, 10, 16))
    return xr.Dataset({"token": (("temperature", "sample", "position"), tok)},
                      coords={"temperature": [1.0, 2.0]}, attrs={"n_states": 3})


def test_dataset_and_dataarray_delegate_to_public_functions(ds):
    assert hasattr(phasekit, "magnetization"), "phasekit must export magnetization"
    m = ds.phase.magnetization(system="position")
    xr.testing.assert_identical(m, magnetization(ds, system="position"))
    xr.testing.assert_identical(m.phase.susceptibility(replica="sample"),
                                susceptibility(m, replica="sample"))
    xr.testing.assert_identical(m.phase.binder_cumulant(replica="sample"), binder_cumulant(m, replica="sample"))
    # the token DataArray works too (q from its attrs)
    tok = ds.token.assign_attrs(n_states=3)
    xr.testing.assert_identical(tok.phase.magnetization(system="position").drop_attrs(),
                                m.drop_attrs())


def test_functions_added_later_are_covered(ds, monkeypatch):
    def new_observable(obj, factor=1):
        """A function another module adds later."""
        return obj.sizes["sample"] * factor

    monkeypatch.setattr(phasekit, "new_observable", new_observable, raising=False)
    monkeypatch.setattr(phasekit, "__all__", [*phasekit.__all__, "new_observable"])
    assert ds.phase.new_observable(factor=2) == 20
    assert "new_observable" in dir(ds.phase)
    assert ds.phase.new_observable.__doc__ == new_observable.__doc__
    assert list(inspect.signature(ds.phase.new_observable).parameters) == ["factor"]


def test_dir_lists_functions_and_unknown_names_raise(ds):
    names = dir(ds.phase)
    for expected in ("magnetization", "order_parameters", "susceptibility", "binder_cumulant"):
        assert expected in names
    assert "SchemaError" not in names  # classes are not methods
    with pytest.raises(AttributeError, match="no method 'not_a_function'"):
        ds.phase.not_a_function  # noqa: B018
    with pytest.raises(AttributeError):
        ds.phase._private  # noqa: B018
    assert not hasattr(ds.phase, "SchemaError")
