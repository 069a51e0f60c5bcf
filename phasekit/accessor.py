"""The ``.phase`` accessor on xarray objects.

Importing phasekit registers it on both ``xarray.Dataset`` and ``xarray.DataArray``::

    import phasekit as pk
    m = ds.phase.magnetization(system="position")      # == pk.magnetization(ds, system="position")
    chi = m.phase.susceptibility(replica="sample")      # == pk.susceptibility(m, replica="sample")

Every public function of the top-level ``phasekit`` module (its ``__all__``) is reachable
by name, with the xarray object passed as the first argument; the lookup happens at call
time (``getattr(phasekit, name)``), so functions added to phasekit later are covered
without touching this module. ``dir(ds.phase)`` lists them; other names raise
``AttributeError``. The pattern is the one recommended in the xarray documentation,
"Extending xarray using accessors".
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import xarray as xr

__all__ = ["PhaseAccessor"]


def _public_names() -> list[str]:
    """Names the top-level module declares public (``__all__``), without importing them."""
    pk = importlib.import_module("phasekit")
    names = getattr(pk, "__all__", None)
    if names is None:
        names = dir(pk)
    return [n for n in names if not n.startswith("_")]


def _resolve(name: str) -> Callable[..., Any] | None:
    """``phasekit.<name>`` if it is a function (not a class, module or constant), else None."""
    pk = importlib.import_module("phasekit")
    try:
        obj = getattr(pk, name)
    except (AttributeError, ImportError):
        return None
    if callable(obj) and not inspect.isclass(obj) and not inspect.ismodule(obj):
        return obj
    return None


def _public_functions() -> dict[str, Callable[..., Any]]:
    out = {}
    for name in _public_names():
        func = _resolve(name)
        if func is not None:
            out[name] = func
    return out


class PhaseAccessor:
    """``obj.phase.<name>(*args, **kwargs)`` calls ``phasekit.<name>(obj, *args, **kwargs)``."""

    def __init__(self, xarray_obj: xr.Dataset | xr.DataArray):
        self._obj = xarray_obj

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        func = _resolve(name) if name in _public_names() else None
        if func is None:
            kind = type(self._obj).__name__
            if name in _public_names():
                try:
                    getattr(importlib.import_module("phasekit"), name)
                except ImportError as err:
                    raise AttributeError(
                        f"'{kind}.phase.{name}': phasekit.{name} failed to import ({err})"
                    ) from err
            available = ", ".join(sorted(_public_functions())) or "(none)"
            raise AttributeError(
                f"'{kind}.phase' has no method {name!r}: it is not a public function of "
                f"phasekit. Available: {available}"
            )
        obj = self._obj

        @functools.wraps(func)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return func(obj, *args, **kwargs)

        try:  # the signature without the data argument, for help() and completion
            sig = inspect.signature(func)
            bound.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
        except (TypeError, ValueError):  # pragma: no cover - builtins without signature
            pass
        return bound

    def __dir__(self) -> list[str]:
        return sorted(_public_functions())

    def __repr__(self) -> str:
        return f"<phasekit accessor on {type(self._obj).__name__}: {', '.join(sorted(_public_functions()))}>"


xr.register_dataset_accessor("phase")(PhaseAccessor)
xr.register_dataarray_accessor("phase")(PhaseAccessor)
