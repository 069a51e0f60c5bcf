"""The one parser of ``*_by_size`` inputs, and the per-size quantities read from them.

``*_by_size`` is a mapping ``{size: DataArray}`` or a DataArray with a ``size`` dim — or
with any dim (e.g. ``model``) that carries a numeric ``size`` coordinate, as a dataset of
model families does (DESIGN.md, data model). ``size`` is the *scaling variable* (lattice
size L, parameters, sequence length: the caller says which); it is separate from the
*configuration size* N that enters χ = N(⟨m²⟩ − ⟨m⟩²), which comes from the data
(``attrs["N"]`` as :func:`phasekit.magnetization` records it, an ``N`` coordinate along the
size dim) or from ``n_by_size=`` (or ``size ** dimension``), see
:func:`configuration_size`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .._meta import control_values
from ..errors import SchemaError

__all__ = ["by_size", "configuration_size", "control_axis", "replica_matrix", "size_dim_of"]


def size_dim_of(da: xr.DataArray) -> Hashable | None:
    """The dim that indexes sizes: ``size``, or the dim of a 1-D numeric ``size`` coordinate."""
    if "size" in da.dims:
        return "size"
    if "size" in da.coords and da["size"].ndim == 1:
        return da["size"].dims[0]
    return None


def _size_key(k: Any, argument: str) -> float:
    try:
        size = float(k)
    except (TypeError, ValueError):
        raise SchemaError(
            f"size {k!r} is not a number",
            where=argument,
            fix="key sizes by the numeric scaling variable (L, parameters, sequence length); "
            "keep labels such as '7B' as the dim's values and the number in a `size` coordinate",
        ) from None
    if not size > 0:
        raise SchemaError(f"size {k!r} is not positive", where=argument,
                          fix="sizes are positive numbers (L, parameters, ...)")
    return size


def _split_dataarray(obj: xr.DataArray, argument: str, min_sizes: int) -> dict[float, xr.DataArray]:
    dim = size_dim_of(obj)
    if dim is None:
        if min_sizes <= 1:
            return {float(obj.attrs.get("size", 1.0)): obj}
        raise SchemaError(
            f"{argument} is a DataArray without a `size` dim",
            where=f"dims are {list(obj.dims)}",
            fix="pass a mapping {size: DataArray}, add a `size` dim, or a numeric `size` "
            "coordinate along the dim of sizes (e.g. model)",
        )
    out = {}
    for i in range(obj.sizes[dim]):
        da = obj.isel({dim: i})
        size = _size_key(np.asarray(da["size"].values).item(), argument)
        if "N" in da.coords and np.ndim(da["N"].values) == 0:
            da = da.assign_attrs(N=float(da["N"].values))
        out[size] = da.drop_vars([c for c in ("size", "N", dim) if c in da.coords])
    return out


def by_size(obj: Any, *, argument: str, min_sizes: int = 2) -> dict[float, xr.DataArray]:
    """``{size: DataArray}`` sorted by size, from a mapping or a DataArray with sizes."""
    if isinstance(obj, xr.Dataset):
        raise SchemaError(
            f"{argument} is a Dataset", where=argument,
            fix="pass per-configuration order parameters (a DataArray, e.g. from "
            "pk.magnetization) as {size: DataArray} or a DataArray with a `size` dim",
        )
    if isinstance(obj, xr.DataArray):
        out = _split_dataarray(obj, argument, min_sizes)
    elif isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(v, xr.DataArray):
                raise SchemaError(
                    f"value for size {k!r} is a {type(v).__name__}, not a DataArray",
                    where=argument, fix="pass DataArrays (e.g. from pk.magnetization)",
                )
            out[_size_key(k, argument)] = v
    else:
        raise SchemaError(f"{argument} is a {type(obj).__name__}", where=argument,
                          fix="pass {size: DataArray} or a DataArray with a `size` dim")
    if len(out) < min_sizes:
        raise SchemaError(
            f"{argument} has {len(out)} size(s); this needs at least {min_sizes}",
            where=argument, fix="add data for more sizes",
        )
    return dict(sorted(out.items()))


def configuration_size(
    da: xr.DataArray, size: float, *, n_by_size: Mapping[Any, float] | float | None = None,
    dimension: float | None = None, argument: str = "m_by_size",
) -> tuple[float, str]:
    """(N, where it came from): the number of tokens/spins in one configuration of ``size``.

    In order: ``n_by_size`` (a number, or a mapping by size), ``attrs["N"]`` (one number),
    ``size ** dimension``; otherwise a SchemaError. N is the configuration size of
    χ = N(⟨m²⟩ − ⟨m⟩²), not the scaling variable ``size``.
    """
    if n_by_size is not None:
        if isinstance(n_by_size, Mapping):
            match = [v for k, v in n_by_size.items() if _size_key(k, "n_by_size") == size]
            if not match:
                raise SchemaError(f"n_by_size has no entry for size {size:g}",
                                  where=f"n_by_size keys: {list(n_by_size)}",
                                  fix="give N (tokens or spins per configuration) for every size")
            return _positive(match[0], size), "n_by_size"
        return _positive(n_by_size, size), "n_by_size"
    if "N" in da.attrs:
        n = np.asarray(da.attrs["N"], dtype=float).ravel()
        n = n[np.isfinite(n)]
        if n.size and np.allclose(n, n[0]) and n[0] > 0:
            return float(n[0]), "attrs['N']"
    if dimension is not None:
        return float(size) ** float(dimension), f"size ** {dimension:g}"
    spread = ("; its configurations differ in size (attrs N_min/N_max)"
              if "N_min" in da.attrs else "")
    raise SchemaError(
        f"the configuration size N for size {size:g} is unknown{spread}",
        where=f"{argument}: attrs['N'] missing or not one positive number",
        fix="pass n_by_size={size: N, ...} (tokens per configuration; N = L**2 for a 2D "
        "lattice), or dimension=d, or use pk.magnetization (which records N)",
    )


def _positive(v: Any, size: float) -> float:
    n = float(v)
    if not n > 0:
        raise SchemaError(f"N = {v!r} for size {size:g} is not positive", where="n_by_size=",
                          fix="pass the number of tokens/spins per configuration")
    return n


def control_axis(da: xr.DataArray, control: Hashable, size: float) -> tuple[np.ndarray, str]:
    """Numeric control values along ``control`` (:func:`phasekit._meta.control_values`)
    and their source (``step`` coordinate, the dim's coordinate, or positions)."""
    if control not in da.dims:
        raise SchemaError(
            f"control dim {control!r} is not in the data for size {size:g}",
            where=f"dims are {list(da.dims)}",
            fix=f"pass control= with one of {list(da.dims)}",
        )
    if "step" in da.coords and da["step"].dims == (control,):
        source = "step"
    elif control in da.coords and np.issubdtype(da[control].dtype, np.number):
        source = str(control)
    else:
        source = "positions"
    return control_values(da, control), source


def replica_matrix(
    da: xr.DataArray, control: Hashable, replica: Hashable, size: float
) -> tuple[np.ndarray, np.ndarray, str]:
    """(control values, values (n_control, n_replica), control source), sorted by control;
    rows with fewer than two finite replicas dropped."""
    t, source = control_axis(da, control, size)
    if replica not in da.dims:
        raise SchemaError(
            f"replica dim {replica!r} is not in the data for size {size:g}",
            where=f"dims are {list(da.dims)}",
            fix=f"pass replica= with one of {list(da.dims)}",
        )
    extra = [d for d in da.dims if d not in (control, replica)]
    if extra:
        raise SchemaError(
            f"data for size {size:g} has dims {extra} besides control and replica",
            where=f"dims are {list(da.dims)}",
            fix="select or average the extra dims first (e.g. .isel(prompt=0))",
        )
    m = np.asarray(da.transpose(control, replica).values, dtype=float)
    keep = np.isfinite(t) & (np.sum(np.isfinite(m), axis=1) >= 2)
    t, m = t[keep], m[keep]
    order = np.argsort(t, kind="stable")
    return t[order], m[order], source
