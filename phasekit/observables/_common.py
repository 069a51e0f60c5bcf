"""Helpers shared by the observables: counts of a Dataset/Counts/Ensemble, q checks, the
segments of sparse rows and the attrs every result records."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from .._meta import resolve_n_states
from ..count import Counts, count_states
from ..errors import SchemaError


def counts_of(
    ds: Any,
    system: Hashable | Iterable[Hashable],
    n_states: int | None,
) -> Counts:
    """The sparse counts of ``ds`` over ``system``: counted now for a Dataset/DataArray,
    taken as they are from a :class:`Counts` (or an object with a ``counts(system)``
    method / ``counts`` attribute holding one, such as an Ensemble), with q filled in."""
    from ..configurations import as_counts, is_ensemble

    if is_ensemble(ds):  # its counts pooled over system (no token read)
        return as_counts(ds, system=system, n_states=n_states)
    if not isinstance(ds, Counts | xr.Dataset | xr.DataArray):
        getter = getattr(ds, "counts", None)
        got = getter(system) if callable(getter) else getter
        if isinstance(got, Counts):
            ds = got
    if isinstance(ds, Counts):
        if n_states is not None and ds.n_states is None:
            return dataclasses.replace(ds, n_states=int(n_states))
        return ds
    return count_states(ds, system=system, n_states=n_states)


def checked_q(c: Counts, n_states: int | None, what: str) -> int:
    """q from ``n_states`` or the counts (never guessed), checked against the states seen."""
    q = resolve_n_states(c, n_states)
    if q is None:
        raise SchemaError(
            f"{what} needs the number of states q",
            where="neither n_states= nor attrs['n_states'] is given",
            fix="pass n_states=q or set ds.attrs['n_states'] = q (never guessed from the data)",
        )
    if q < 2:
        raise SchemaError(f"n_states must be >= 2, got {q}", where=what, fix="pass the true q")
    if c.states.size and int(c.states.max()) >= q:
        raise SchemaError(
            f"a state {int(c.states.max())} is >= n_states={q}",
            where=what, fix="pass the correct n_states",
        )
    return q


def segments(c: Counts) -> np.ndarray:
    """The configuration (row) of every stored entry of ``c``."""
    return np.repeat(np.arange(c.n_config, dtype=np.int64), np.diff(c.indptr))


def segsum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Per-row sums of per-entry values."""
    return np.bincount(seg, weights=values, minlength=n)


def size_attr(N: np.ndarray) -> dict[str, Any]:
    """attrs['N'] when every non-empty configuration has the same size, else N_min/N_max."""
    nz = N[N > 0]
    if nz.size and np.all(nz == nz.flat[0]):
        return {"N": int(nz.flat[0])}
    if nz.size:
        return {"N_min": int(nz.min()), "N_max": int(nz.max())}
    return {}


def system_attr(c: Counts) -> list[str]:
    return [str(d) for d in c.system]


def state_labels(ds: Any) -> np.ndarray | None:
    """The 1-D ``state`` coordinate of the data, if it has one."""
    if getattr(ds, "state_labels", None) is not None:  # an Ensemble
        return np.asarray(ds.state_labels)
    if isinstance(ds, xr.Dataset | xr.DataArray) and "state" in ds.coords:
        lab = np.asarray(ds.coords["state"].values)
        if lab.ndim == 1:
            return lab
    return None


def dim_labels(tok: xr.DataArray, dim: Hashable) -> np.ndarray:
    """Labels along ``dim``: its coordinate, else 0, 1, 2, …"""
    if dim in tok.coords:
        return np.asarray(tok[dim].values)
    return np.arange(tok.sizes[dim])
