"""What the change-point stage reads: the control axis, state counts, real series.

* :func:`resolve_control` -- the vocabulary of the package (``control=`` names the
  control dim; the old ``dim=`` is an alias that warns; ``control=`` naming a non-dim
  coordinate, e.g. ``"step"``, means "the control values are that coordinate").
* :func:`counts_tensor` -- dense counts ``(T, P, K)`` over the observed states of a
  samples Dataset, channels = every kept dim except the control dim.
* :func:`series_matrix` -- a real DataArray/Dataset as an ``(n, C)`` matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._meta import as_dims, control_values, require_dims
from ..errors import SchemaError

__all__ = ["counts_tensor", "is_samples", "resolve_control", "series_matrix"]

DEFAULT_CONTROL = "checkpoint"


def _deprecated_dim(caller: str) -> None:
    warnings.warn(f"{caller}(dim=...) is deprecated: the control dim is now control=...",
                  DeprecationWarning, stacklevel=4)


def resolve_control(data: xr.Dataset | xr.DataArray, control: str | None, dim: str | None,
                    *, caller: str) -> tuple[str, np.ndarray]:
    """The control dim and the numeric control value at each of its positions.

    ``control`` names the control dim (default ``"checkpoint"``), or a non-dim
    coordinate holding the control values (then its dim is the control dim);
    ``dim`` is the old keyword for the dim (a DeprecationWarning). The values are that
    coordinate's, else :func:`phasekit._meta.control_values` (``step`` along the dim,
    else the dim's numeric coordinate, else 0, 1, 2...).
    """
    if dim is not None:
        _deprecated_dim(caller)
    coord: str | None = None
    if control is not None and control not in data.dims and control in data.coords:
        coord = control
        cdims = data.coords[coord].dims
        if len(cdims) != 1 or (dim is not None and cdims != (dim,)):
            raise SchemaError(f"coordinate {coord!r} does not lie along one control dim",
                              where=f"its dims are {cdims}",
                              fix="pass control= naming the control dim (or a 1-D coordinate along it)")
        dim = str(cdims[0])
    elif dim is None:
        dim = control if control is not None else DEFAULT_CONTROL
    elif control is not None and control != dim:
        raise SchemaError(f"control={control!r} and dim={dim!r} disagree", where=caller,
                          fix="pass control= only (the control dim)")
    require_dims(data, [dim], argument="control")
    if coord is None:
        return dim, control_values(data, dim)
    vals = np.asarray(data.coords[coord].values)
    if np.issubdtype(vals.dtype, np.datetime64):
        return dim, vals.astype("datetime64[ns]").astype(np.int64).astype(float)
    if not np.issubdtype(vals.dtype, np.number):
        raise SchemaError(f"coordinate {coord!r} is not numeric", where=f"dtype {vals.dtype}",
                          fix=f"pass a numeric coordinate along {dim!r}, or control={dim!r}")
    return dim, vals.astype(float)


def is_samples(data: Any) -> bool:
    """A samples Dataset (``token``) or an integer ``token`` DataArray."""
    if isinstance(data, xr.Dataset):
        return "token" in data.data_vars
    return (isinstance(data, xr.DataArray) and data.name == "token"
            and np.issubdtype(data.dtype, np.integer))


def _system_dims(tok: xr.DataArray, system: Any, dim: str) -> tuple[Hashable, ...]:
    if system is None:
        system = tuple(d for d in ("sample", "position") if d in tok.dims)
        if not system:
            raise SchemaError("cannot tell which dims hold the samples",
                              where=f"token dims are {list(tok.dims)}",
                              fix="pass system= (the dims counted over, e.g. system='sample')")
    dims = as_dims(system)
    if dim in dims:
        raise SchemaError(f"control dim {dim!r} cannot also be a system dim", where="system=",
                          fix="count over the sample dims only")
    return dims


def _channel_names(tok: xr.DataArray, channels: list[Hashable]) -> list[str]:
    if not channels:
        return ["all"]
    idx = (pd.MultiIndex.from_product([tok[d].values for d in channels]) if len(channels) > 1
           else tok[channels[0]].values)
    return [str(v) if not isinstance(v, tuple) else "/".join(map(str, v)) for v in idx]


def counts_tensor(data: xr.Dataset | xr.DataArray, dim: str,
                  system: Hashable | Iterable[Hashable] | None,
                  n_states: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Counts (T, P, K) over the K observed states, channels = all kept dims but ``dim``.

    Returns the counts and ``info``: ``n_states`` (q or None), ``channels`` (names),
    ``coord`` (the dim's coordinate), ``states`` (labels of the K states), ``system``.
    """
    from ..count import count_states, resolve_n_states
    from ..schema import token_array

    tok = token_array(data)
    require_dims(tok, [dim], argument="control")
    system = _system_dims(tok, system, dim)
    q = resolve_n_states(data, n_states)
    c = count_states(tok, system=system, n_states=q)
    uniq, inv = np.unique(c.states, return_inverse=True)
    k = max(len(uniq), 1)
    flat = np.zeros((c.n_config, k))
    rows = np.repeat(np.arange(c.n_config), np.diff(c.indptr))
    flat[rows, inv] = c.counts
    grid = np.moveaxis(flat.reshape(*c.shape, k), list(c.dims).index(dim), 0)
    dense = grid.reshape(grid.shape[0], -1, k)
    state_labels = uniq
    if isinstance(data, xr.Dataset) and "state" in data.coords and q is not None \
            and data.sizes.get("state", -1) == q:
        state_labels = np.asarray(data["state"].values)[uniq]
    info = {"n_states": q, "channels": _channel_names(tok, [d for d in c.dims if d != dim]),
            "coord": tok[dim].values, "states": state_labels, "system": system}
    return dense, info


def _channel_labels(name: str, da: xr.DataArray, other: list[Hashable]) -> list[str]:
    if not other:
        return [name]
    stacked = da.stack(_ch=other)["_ch"].values
    return [f"{name}[{v if not isinstance(v, tuple) else ','.join(map(str, v))}]" for v in stacked]


def series_matrix(data: xr.Dataset | xr.DataArray, dim: str) -> tuple[np.ndarray, list[str]]:
    """(n, C) float matrix: every other dim and every variable is a channel."""
    if isinstance(data, xr.Dataset):
        arrays = {str(v): data[v] for v in data.data_vars if dim in data[v].dims}
        if not arrays:
            raise SchemaError(f"no variable of the dataset runs along {dim!r}",
                              where=f"variables {list(data.data_vars)}",
                              fix=f"pass control= naming the control dim, or a DataArray along {dim!r}")
    else:
        arrays = {str(data.name) if data.name is not None else "value": data}
    cols, names = [], []
    for name, da in arrays.items():
        if not (np.issubdtype(da.dtype, np.number) or np.issubdtype(da.dtype, np.bool_)):
            raise SchemaError(f"variable {name!r} is not numeric", where=f"dtype {da.dtype}",
                              fix="pass real-valued series (or a samples Dataset with 'token')")
        other = [d for d in da.dims if d != dim]
        da = da.transpose(dim, *other)
        cols.append(np.asarray(da.values, dtype=float).reshape(da.sizes[dim], -1))
        names.extend(_channel_labels(name, da, other))
    return np.concatenate(cols, axis=1), names
