"""The one place for the conventions every stage shares (issue 15, item 2).

* Results: an estimate is an ``xarray.DataArray`` whose standard error rides along as the
  non-index coordinate ``stderr`` (same dims), intervals as ``lower``/``upper`` coordinates
  with a ``confidence`` attr (:func:`estimate`, :func:`stderr_of`); a result Dataset holds
  ``<name>_stderr``/``_lower``/``_upper`` variables and :func:`with_stderr` is the one
  converter back to the DataArray form (:func:`as_dataset_estimate` the inverse).
* Provenance: :func:`provenance` (attrs + package version, NetCDF-safe) and
  :func:`append_history` (one time-stamped line per step, as in xclim and CF).
* Dims: :func:`as_dims`, :func:`require_dims`, :func:`require_system`,
  :func:`require_distinct` (one dim in two roles); the vocabulary of docs/glossary.md and
  :func:`renamed_keyword` for the old keywords (DeprecationWarning).
* Control values: :func:`control_values` / :func:`control_dim` — the only rule for the
  numeric value of each point of the control axis.
* q: :func:`resolve_n_states` / :func:`require_n_states` — from ``n_states=`` or the data's
  ``attrs["n_states"]``, never guessed.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
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


def control_values(obj: xr.Dataset | xr.DataArray, control: Hashable = "checkpoint") -> np.ndarray:
    """Numeric control value at each position along the control dim ``control``.

    The ``step`` coordinate when it lies along ``control``, else ``control``'s own numeric
    coordinate, else 0, 1, 2, … (the one rule of the glossary, docs/glossary.md). If
    ``control`` names a 1-D *non-dim* coordinate (the old meaning of
    ``detect_boundaries(control="step")``), that coordinate's values are returned.
    """
    if control not in obj.dims and control in obj.coords and obj[control].ndim == 1:
        values = obj[control].values
        if not np.issubdtype(values.dtype, np.number):
            from .errors import SchemaError

            raise SchemaError(f"control coordinate {control!r} is not numeric (dtype {values.dtype})",
                              where=f"coordinate {control!r}", fix="pass a numeric coordinate or a dim")
        return np.asarray(values, dtype=float)
    require_dims(obj, (control,), argument="control")
    if "step" in obj.coords and obj["step"].dims == (control,):
        return np.asarray(obj["step"].values, dtype=float)
    if control in obj.coords and np.issubdtype(obj[control].dtype, np.number):
        return np.asarray(obj[control].values, dtype=float)
    return np.arange(obj.sizes[control], dtype=float)


def control_dim(obj: xr.Dataset | xr.DataArray, control: Hashable = "checkpoint") -> Hashable:
    """The control *dim*: ``control`` itself, or the dim of the 1-D coordinate it names."""
    if control not in obj.dims and control in obj.coords and obj[control].ndim == 1:
        return obj[control].dims[0]
    require_dims(obj, (control,), argument="control")
    return control


def renamed_keyword(caller: str, old: str, new: str, old_value: Any, new_value: Any,
                    default: Any) -> Any:
    """Map a deprecated keyword onto its new name (the vocabulary of docs/glossary.md).

    Returns ``new_value`` when the old keyword was not used (``old_value is None``), else
    ``old_value`` with a DeprecationWarning naming the new keyword; both given with
    different values is a SchemaError.
    """
    if old_value is None:
        return new_value
    from .errors import SchemaError

    if new_value is not None and new_value != default and new_value != old_value:
        raise SchemaError(f"{caller}: both {old}= and {new}= given", where=f"{old}={old_value!r}, "
                          f"{new}={new_value!r}", fix=f"pass only {new}= ({old}= is its old name)")
    warnings.warn(f"{caller}({old}=...) is deprecated: pass {new}={old_value!r}", DeprecationWarning,
                  stacklevel=3)
    return old_value


def require_distinct(*, caller: str, **roles: Hashable | Iterable[Hashable] | None) -> None:
    """Raise a SchemaError if one dim is named in two roles (e.g. ``control`` and ``system``)."""
    from .errors import SchemaError

    seen: dict[Hashable, str] = {}
    for role, dims in roles.items():
        for d in as_dims(dims):
            if d in seen:
                raise SchemaError(f"dim {d!r} is named both as {seen[d]}= and {role}=",
                                  where=caller, fix="give each role its own dims (docs/glossary.md)")
            seen[d] = role


def resolve_n_states(obj: Any, n_states: int | None = None) -> int | None:
    """q: the ``n_states=`` argument, else ``attrs["n_states"]`` of the data (the Dataset,
    its ``token`` variable, a Counts/Ensemble's ``n_states``), else ``None``. Never guessed.

    A q that is not a positive integer raises a SchemaError (functions that divide by
    q − 1, such as the magnetisation, also refuse q = 1).
    """
    q: Any = n_states  # an attr may hold a numpy integer, a float or a string
    if q is None:
        for o in (obj, getattr(obj, "token", None) if isinstance(obj, xr.Dataset) else None):
            if o is None:
                continue
            attrs = getattr(o, "attrs", None)
            if isinstance(attrs, Mapping) and attrs.get("n_states") is not None:
                q = attrs["n_states"]
                break
            if not isinstance(o, xr.Dataset | xr.DataArray) and getattr(o, "n_states", None) is not None:
                q = o.n_states
                break
    if q is None:
        return None
    from .errors import SchemaError

    try:
        q_int = int(q)
    except (TypeError, ValueError) as err:
        raise SchemaError(f"n_states={q!r} is not an integer", where="n_states= or attrs['n_states']",
                          fix="pass n_states=q, the size of the answer space") from err
    if (not isinstance(q, str) and q_int != q) or q_int < 1:
        raise SchemaError(f"n_states must be a positive integer, got {q!r}", where="n_states= or attrs['n_states']",
                          fix="pass n_states=q, the size of the answer space")
    return q_int


def require_n_states(obj: Any, n_states: int | None = None, *, what: str) -> int:
    """q as :func:`resolve_n_states`, or a SchemaError saying that ``what`` needs it."""
    q = resolve_n_states(obj, n_states)
    if q is None:
        from .errors import SchemaError

        raise SchemaError(f"{what} needs the number of states q",
                          where="neither n_states= nor attrs['n_states'] is given",
                          fix="pass n_states=q or set ds.attrs['n_states'] = q (never guessed from the data)")
    return q


def with_stderr(ds: xr.Dataset, name: Hashable) -> xr.DataArray:
    """Variable ``name`` of a result Dataset as an estimate: ``<name>_stderr``,
    ``<name>_lower``, ``<name>_upper`` variables become the ``stderr``, ``lower``,
    ``upper`` coordinates (docs/glossary.md, "uncertainty").

    A Dataset cannot hold one ``stderr`` coordinate per variable, so result Datasets store
    ``<name>_stderr`` (and interval) variables; this is the one converter back to the
    DataArray form. ``stderr`` is always present (NaN when none was stored); ``lower`` and
    ``upper`` only when stored, with the ``confidence`` attr carried over (from the bound
    variables or the Dataset). A ``stderr`` coordinate already on the variable is kept when
    there is no ``<name>_stderr`` variable.
    """
    from .errors import SchemaError

    if name not in ds.data_vars:
        raise SchemaError(f"no variable {name!r} in the dataset", where=f"variables {list(ds.data_vars)}",
                          fix="name one of the listed variables")
    da = ds[name]
    attrs = dict(da.attrs)
    extra = {}
    for key in ("stderr", "lower", "upper"):
        var = f"{name}_{key}"
        if var in ds.data_vars:
            part = ds[var].broadcast_like(da).transpose(*da.dims)
            extra[key] = (da.dims, np.asarray(part.values, dtype=float))
            if key != "stderr" and "confidence" in ds[var].attrs:
                attrs.setdefault("confidence", ds[var].attrs["confidence"])
    if "stderr" not in extra and "stderr" not in da.coords:
        extra["stderr"] = (da.dims, np.full(da.shape, np.nan))
    if ("lower" in extra or "upper" in extra) and "confidence" not in attrs and "confidence" in ds.attrs:
        attrs["confidence"] = ds.attrs["confidence"]
    out = da.assign_coords(extra)
    out.attrs = attrs
    return out


def as_dataset_estimate(da: xr.DataArray, name: Hashable | None = None) -> dict[Hashable, xr.DataArray]:
    """The inverse of :func:`with_stderr`: an estimate as ``{name, name_stderr, name_lower,
    name_upper}`` variables for a result Dataset (the coordinates dropped from the value)."""
    key = name if name is not None else da.name
    if key is None:
        from .errors import SchemaError

        raise SchemaError("an unnamed estimate needs name=", where="as_dataset_estimate",
                          fix="pass name=")
    present = [c for c in ("stderr", "lower", "upper") if c in da.coords]
    out: dict[Hashable, xr.DataArray] = {key: da.drop_vars(present)}
    for c in present:
        part = da.coords[c].reset_coords(drop=True).rename(None)
        if c != "stderr" and "confidence" in da.attrs:
            part = part.assign_attrs(confidence=da.attrs["confidence"])
        out[f"{key}_{c}"] = part
    return out


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


def moved_names(package: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for a module split into a package: ``package.<name>``
    for a name that now lives in the submodule ``moved[name]``, imported on first use, so
    every import path of the former single module keeps working."""
    def __getattr__(name: str) -> Any:
        if name in moved:
            return getattr(importlib.import_module(f"{package}.{moved[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
