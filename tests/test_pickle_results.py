"""Every result class is plain data (issue 15 item 3, DECISIONS.md "Uncertainty as plain data").

For each result class, made by the public API on small data: it pickles, compares equal to
itself after the round trip (``==`` returns True, not an array), holds no closures,
lambdas, generators or open files anywhere inside it, and has ``.to_dataset()`` giving an
``xarray.Dataset`` that is the same after the round trip.

Every class listed in issue 15 item 3 passes (the strict xfails that marked the ones not
yet fixed during the redesign are gone); a new result class gets a test here.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import pickle
import types
from typing import Any

import numpy as np
import pytest
import xarray as xr
from _order_data import first_order_replicas

import phasekit as pk

TC, NU = 2.0, 0.8

_PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes, np.generic)


def _assert_plain(obj: Any, path: str = "result", depth: int = 0) -> None:
    """Recursively: only numbers, strings, tuples/lists/dicts of them, numpy arrays (not of
    arbitrary objects), pandas/xarray objects and nested plain dataclasses/NamedTuples."""
    import pandas as pd

    assert depth < 20, f"{path}: nesting too deep"
    if isinstance(obj, _PLAIN_SCALARS):
        return
    if isinstance(obj, types.FunctionType | types.LambdaType | types.MethodType | types.BuiltinFunctionType
                  | types.GeneratorType | io.IOBase | types.ModuleType):
        raise AssertionError(f"{path} is a {type(obj).__name__}: not plain data")
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for i, v in enumerate(obj.ravel()[:1000]):
                _assert_plain(v, f"{path}[{i}]", depth + 1)
        return
    if isinstance(obj, xr.Dataset | xr.DataArray | xr.Variable | pd.DataFrame | pd.Series | pd.Index):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _assert_plain(k, f"{path} key", depth + 1)
            _assert_plain(v, f"{path}[{k!r}]", depth + 1)
        return
    if isinstance(obj, tuple | list | frozenset | set):
        for i, v in enumerate(obj):
            _assert_plain(v, f"{path}[{i}]", depth + 1)
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _assert_plain(getattr(obj, f.name), f"{path}.{f.name}", depth + 1)
        return
    raise AssertionError(f"{path} is a {type(obj).__module__}.{type(obj).__name__}: not plain data")


def _round_trip(res: Any) -> None:
    _assert_plain(res)
    back = pickle.loads(pickle.dumps(res))
    assert type(back) is type(res)
    same = back == res
    assert same is True or same is np.True_, f"{type(res).__name__} != itself after a pickle round trip"
    ds = res.to_dataset()
    assert isinstance(ds, xr.Dataset)
    xr.testing.assert_identical(back.to_dataset(), ds)


# --------------------------------------------------------------------------- small inputs
@functools.lru_cache(maxsize=1)
def _run() -> xr.Dataset:
    from phasekit.datasets.crystallisation import crystallisation_run

    return crystallisation_run(n_checkpoints=18, n_prompts=4, n_samples=30, seed=1)[0]


def _binder_replicas(sizes=(8, 16, 32), n=200, seed=0, n_t=13) -> dict[int, xr.DataArray]:
    """m = L^(-1/8) |mu(x) + g|, x = (t - TC) L^(1/NU): Binder curves cross at TC exactly."""
    rng = np.random.default_rng(seed)
    out = {}
    for L in sizes:
        t = TC * np.linspace(0.9, 1.1, n_t)
        x = (t - TC) * L ** (1 / NU)
        mu = 2.0 * np.logaddexp(0.0, -1.5 * x)
        m = L**-0.125 * np.abs(mu[:, None] + rng.normal(size=(t.size, n)))
        out[L] = xr.DataArray(m, dims=("temperature", "sample"), coords={"temperature": t},
                              attrs={"N": L * L})
    return out


def _scaling_curves(sizes=(8, 12, 16, 24, 32), a=0.5, seed=0) -> dict[int, xr.DataArray]:
    """obs = L^a f((t - TC) L^(1/NU)) with a known 0.5 % error."""
    rng = np.random.default_rng(seed)
    out = {}
    for L in sizes:
        half = 0.6 * L ** (-0.5)
        t = np.linspace(TC - half, TC + half, 21)
        x = (t - TC) * L ** (1 / NU)
        y = L**a * (np.exp(-(x**2) / 4) + 0.3 / (1 + np.exp(x)))
        err = 0.005 * L**a * np.ones_like(y)
        out[L] = xr.DataArray(y + err * rng.normal(size=y.size), dims="temperature",
                              coords={"temperature": t, "stderr": ("temperature", err)})
    return out


def _first_order_replicas(sizes=(6, 8, 12), n_rep=150, seed=5) -> dict[int, xr.DataArray]:
    return first_order_replicas(sizes, np.linspace(0.4, 0.6, 21), n_rep, np.random.default_rng(seed))


# --------------------------------------------------------------------------- the classes
def test_boundary_result_is_plain_data():
    res = pk.detect_boundaries(_run(), n_bootstrap=20)
    assert type(res).__name__ == "BoundaryResult"
    _round_trip(res)


def test_critical_point_is_plain_data():
    res = pk.critical_point(_binder_replicas(), replica="sample", control="temperature", n_bootstrap=5)
    assert type(res).__name__ == "CriticalPoint"
    _round_trip(res)


def test_collapse_is_plain_data():
    res = pk.finite_size_collapse(_scaling_curves(), control="temperature", n_bootstrap=5)
    assert type(res).__name__ == "Collapse"
    _round_trip(res)


def test_power_law_fit_is_plain_data():
    t = np.linspace(1.0, 1.9, 12)
    y = 0.7 * (TC - t) ** 0.125 * (1 + 0.001 * np.random.default_rng(0).normal(size=t.size))
    _round_trip(pk.fit_power_law(t, y, yerr=0.001 * y, critical_point=TC, n_bootstrap=20))


def test_transition_class_is_plain_data():
    res = pk.classify_transition(_first_order_replicas(), replica="sample", control="control")
    assert type(res).__name__ == "TransitionClass"
    _round_trip(res)


def test_report_is_plain_data():
    rep = pk.analyze(_run())
    assert type(rep).__name__ == "Report"
    _round_trip(rep)


def test_phase_diagram_is_plain_data():
    runs = [_run().expand_dims(temperature=[t]) for t in (0.5, 1.0)]
    ds = xr.concat(runs, dim="temperature")
    res = pk.phase_diagram(ds, control="checkpoint", across="temperature")
    _round_trip(res)


def test_ensemble_is_plain_data():
    ens = pk.ensemble(_run(), system="sample")
    _round_trip(ens)


def test_jackknife_result_is_plain_data():
    data = np.random.default_rng(0).normal(size=(3, 40))
    _round_trip(pk.jackknife(np.mean, data, axis=-1))


def test_bootstrap_result_is_plain_data():
    data = np.random.default_rng(0).normal(size=(3, 40))
    _round_trip(pk.bootstrap(np.mean, data, axis=-1, n_bootstrap=20))


@dataclasses.dataclass
class _ArrayField:
    """Dataclass equality on an array field: ``==`` is ambiguous, which the check must catch."""

    a: np.ndarray


def test_the_check_itself_catches_what_is_not_plain_data():
    """The checker is not vacuous: a closure, a generator or an open file anywhere inside a
    result, an array-valued ``==`` and a missing ``.to_dataset()`` are each caught."""

    @dataclasses.dataclass
    class Holder:
        value: Any

    for bad in (lambda x: x, (i for i in range(2)), {"inner": [np.mean]}):
        with pytest.raises(AssertionError, match="not plain data"):
            _assert_plain(Holder(bad))
    with open(__file__) as handle, pytest.raises(AssertionError, match="not plain data"):
        _assert_plain(Holder(handle))
    with pytest.raises(ValueError, match="ambiguous"):
        _round_trip(_ArrayField(np.arange(3)))
