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

import numpy as np
import xarray as xr

from .layout import _layout, _token_da


def _map_over_kept(func: Callable[..., Any], ds: xr.Dataset | xr.DataArray, *, sequence: Hashable,
                   replica: Any, keep: Any, kwargs: dict[str, Any]) -> Any:
    """``func`` mapped lazily over blocks of the kept dims (every other dim pooled into each
    cell; ``N`` the blocks' sum: the tokens of all cells); None when no dim is kept."""
    from ..lazy import map_configurations

    tok = _token_da(ds)
    kept, _ = _layout(tok, sequence, replica, keep)
    if not kept:
        return None
    pooled = tuple(d for d in tok.dims if d not in kept)
    return map_configurations(func, ds, pooled, system_kwarg=None, reduce_attrs={"N": "sum"},
                              kwargs={"sequence": sequence, "keep": kept, **kwargs})


def lazy_correlation_function(
    func: Callable[..., xr.DataArray], ds: xr.Dataset | xr.DataArray, *, sequence: Hashable,
    max_lag: int | None, replica: Any, keep: Any, n_jackknife: int,
) -> xr.DataArray | None:
    """``func`` (the stationary correlation_function) mapped over blocks of the kept dims,
    dask-backed; None when no dim is kept (a single cell: the caller computes it eagerly)."""
    return cast("xr.DataArray | None", _map_over_kept(
        func, ds, sequence=sequence, replica=replica, keep=keep,
        kwargs={"max_lag": max_lag, "stationary": True, "n_jackknife": n_jackknife}))


_GROUP_DIM = "_jackknife_group"


def _curve_dataset(tok: xr.DataArray, *, sequence: Hashable, max_lag: int | None, keep: Any,
                   n_jackknife: int) -> xr.Dataset:
    """One block's stationary C(r) (coords ``stderr``, ``n_pairs``, ``c0``), its delete-a-group
    jackknife replicates and its token count per cell: what a correlation length needs."""
    from .function import _correlation

    corr, reps = _correlation(tok, sequence, max_lag, None, keep, True, n_jackknife)
    kept = corr.dims[:-1]
    n_tokens = (tok >= 0).sum([d for d in tok.dims if d not in kept]).transpose(*kept)
    return xr.Dataset({"correlation": corr, "replicates": ((*kept, _GROUP_DIM, "lag"), reps),
                       "n_tokens": n_tokens.astype(np.int64)}, attrs=corr.attrs)


def lazy_curves_and_replicates(
    ds: xr.Dataset | xr.DataArray, *, sequence: Hashable, max_lag: int | None, replica: Any, keep: Any,
    n_jackknife: int,
) -> tuple[xr.DataArray, np.ndarray] | None:
    """The stationary C(r) of every kept cell and its jackknife replicates from dask-backed
    tokens, computed block by block of the kept dims (``xr.apply_ufunc`` through
    :func:`phasekit.lazy.map_configurations`): the same numbers as the in-memory
    ``_correlation``, with one block of tokens in memory at a time. None when no dim is kept."""
    from ..lazy import materialize

    lazy = _map_over_kept(_curve_dataset, ds, sequence=sequence, replica=replica, keep=keep,
                          kwargs={"max_lag": max_lag, "n_jackknife": n_jackknife})
    if lazy is None:
        return None
    res = cast(xr.Dataset, materialize(lazy))
    kept, _ = _layout(_token_da(ds), sequence, replica, keep)
    corr = res["correlation"].transpose(*kept, "lag")
    corr = corr.drop_vars([c for c in corr.coords if c not in (*kept, "lag", "stderr", "n_pairs", "c0")])
    attrs = {k: v for k, v in res.attrs.items() if k not in ("N_deferred", "N", "N_min", "N_max")}
    corr.attrs = {**attrs, "N": int(res["n_tokens"].sum())}
    return corr, np.asarray(res["replicates"].transpose(*kept, _GROUP_DIM, "lag").values)


def lazy_mutual_information(
    func: Callable[..., xr.DataArray], ds: xr.Dataset | xr.DataArray, *, sequence: Hashable,
    replica: Any, keep: Any, kwargs: dict[str, Any],
) -> xr.DataArray | None:
    """``func`` (mutual_information) mapped over blocks of the kept dims, dask-backed (every
    cell's I(r) uses only its own tokens); None when no dim is kept."""
    return cast("xr.DataArray | None", _map_over_kept(func, ds, sequence=sequence, replica=replica,
                                                      keep=keep, kwargs=kwargs))
