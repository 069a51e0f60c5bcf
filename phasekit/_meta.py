"""Result conventions shared by every estimator.

An estimate is an ``xarray.DataArray``. Its standard error rides along as the
non-index coordinate ``stderr`` with the same dims, and its attrs say what was
computed (``estimator``, ``units``, ``n_states``, ``N``…) and by which version of
phasekit. A ``history`` attr accumulates one line per processing step, as in
xclim and the CF conventions.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._version import __version__


def as_dims(dims: Hashable | Iterable[Hashable] | None) -> tuple[Hashable, ...]:
    """Normalise a dim argument (``None``, a name, or a sequence of names) to a tuple."""
    if dims is None:
        return ()
    if isinstance(dims, str) or not isinstance(dims, Iterable):
        return (dims,)
    return tuple(dims)


def _clean_attr(value: Any) -> Any:
    """Make an attribute value NetCDF-serialisable (no None, no bools, no tuples of str)."""
    if value is None:
        return "none"
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return ",".join(value)
        return np.asarray(value)
    if isinstance(value, dict):
        return str(value)
    return value


def provenance(**attrs: Any) -> dict[str, Any]:
    """Attrs for a result: the given ones plus the package version, cleaned for NetCDF."""
    out = {k: _clean_attr(v) for k, v in attrs.items()}
    out["phasekit_version"] = __version__
    return out


def append_history(attrs: dict[str, Any], line: str) -> dict[str, Any]:
    """Return attrs with ``line`` appended (time-stamped) to the ``history`` attr."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = attrs.get("history", "")
    entry = f"[{stamp}] phasekit {__version__}: {line}"
    return {**attrs, "history": f"{previous}\n{entry}" if previous else entry}


def estimate(
    value: xr.DataArray,
    stderr: xr.DataArray | np.ndarray | None = None,
    *,
    name: str | None = None,
    **attrs: Any,
) -> xr.DataArray:
    """Package ``value`` as a phasekit estimate.

    Attaches ``stderr`` (same dims as ``value``) as a non-index coordinate and the
    provenance attrs. ``stderr=None`` means "no uncertainty is defined" and is
    stored as NaN so that the coordinate always exists.
    """
    if stderr is None:
        stderr = xr.full_like(value, np.nan, dtype=float)
    elif not isinstance(stderr, xr.DataArray):
        stderr = xr.DataArray(np.asarray(stderr, dtype=float), dims=value.dims, coords=value.coords)
    stderr = stderr.drop_vars([c for c in stderr.coords if c not in value.dims], errors="ignore")
    stderr = stderr.transpose(*value.dims)
    out = value.assign_coords(stderr=(value.dims, np.asarray(stderr.data, dtype=float)))
    if name is not None:
        out.name = name
    out.attrs = provenance(**attrs)
    return out


def stderr_of(da: xr.DataArray) -> xr.DataArray:
    """The standard error riding along ``da`` (NaN where none was attached)."""
    if "stderr" in da.coords:
        return da.coords["stderr"].reset_coords(drop=True).rename(None)
    return xr.full_like(da, np.nan, dtype=float).rename(None)


def require_dims(obj: xr.DataArray | xr.Dataset, dims: Sequence[Hashable], *, argument: str) -> None:
    """Raise a SchemaError if any of ``dims`` is missing from ``obj``."""
    from .errors import SchemaError

    missing = [d for d in dims if d not in obj.dims]
    if missing:
        raise SchemaError(
            f"dimension(s) {missing} named in {argument}= are not in the data",
            where=f"data dims are {list(obj.dims)}",
            fix=f"pass {argument}= with names from {list(obj.dims)}",
        )


def jsonable(obj: Any) -> Any:
    """Convert results (numpy scalars/arrays, tuples, DataFrames, NaN) to plain JSON values.

    Non-finite floats become ``None`` (JSON has no NaN).
    """
    import math

    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        return jsonable(obj.to_dict(orient="records"))
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def control_values(obj: xr.Dataset | xr.DataArray, dim: Hashable) -> np.ndarray:
    """Numeric control value at each position along ``dim``: the ``step`` coordinate when
    it lies along ``dim``, else ``dim``'s own numeric coordinate, else 0, 1, 2…"""
    if "step" in obj.coords and obj["step"].dims == (dim,):
        return np.asarray(obj["step"].values, dtype=float)
    if dim in obj.coords and np.issubdtype(obj[dim].dtype, np.number):
        return np.asarray(obj[dim].values, dtype=float)
    return np.arange(obj.sizes[dim], dtype=float)


def require_system(obj: xr.DataArray | xr.Dataset, system: Hashable | Iterable[Hashable] | None,
                   *, caller: str) -> tuple[Hashable, ...]:
    """``system=`` as a non-empty tuple of dims present in ``obj`` (else a SchemaError)."""
    from .errors import SchemaError

    dims = as_dims(system)
    if not dims:
        raise SchemaError("system= names no dims", where=caller,
                          fix="name the dim(s) a configuration spans, e.g. system='sample'")
    require_dims(obj, dims, argument="system")
    return dims
