"""C(r) on dask-backed tokens: one curve per block of the kept dims, lazily, through xarray.

The stationary correlation function of a cell uses only that cell's tokens, so on
dask-backed input each block of the kept dims (e.g. one checkpoint chunk) gets the very
numpy computation of :func:`~phasekit.correlations.function.correlation_function`, run by
``xr.apply_ufunc(..., dask="parallelized")`` (:func:`phasekit.lazy.map_configurations`,
the dask "blockwise" model: Rocklin, SciPy 2015); the result equals the in-memory one
element for element, and nothing is read before ``.compute()``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, cast

import xarray as xr

from .layout import _layout, _token_da


def lazy_correlation_function(
    func: Callable[..., xr.DataArray], ds: xr.Dataset | xr.DataArray, *, sequence: Hashable,
    max_lag: int | None, replica: Any, keep: Any, n_jackknife: int,
) -> xr.DataArray | None:
    """``func`` (the stationary correlation_function) mapped over blocks of the kept dims,
    dask-backed; None when no dim is kept (a single cell: the caller computes it eagerly)."""
    from ..lazy import map_configurations

    tok = _token_da(ds)
    kept, _ = _layout(tok, sequence, replica, keep)
    if not kept:
        return None
    pooled = tuple(d for d in tok.dims if d not in kept)
    return cast(xr.DataArray, map_configurations(
        func, ds, pooled, system_kwarg=None,
        kwargs={"sequence": sequence, "max_lag": max_lag, "keep": kept, "stationary": True,
                "n_jackknife": n_jackknife}))
