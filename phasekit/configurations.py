"""The Ensemble: the configurations of one dataset, counted once.

:func:`ensemble` reads the tokens **once** and keeps what every count-based stage needs:

* the sparse state counts of every configuration (:class:`phasekit.count.Counts`: one
  compressed row per cell of the grid of the dims *not* in ``system``; never dense over
  the vocabulary);
* the roles of the dims (glossary, ``docs/glossary.md``): ``system`` (pooled into one
  configuration), ``replica`` (the ensemble members fluctuations are taken over) and
  ``control`` (the axis along which phases change);
* q (``n_states``) when known — never guessed;
* the control values (:func:`phasekit._meta.control_values`: ``step`` along the control
  dim, else its numeric coordinate, else 0, 1, 2, …), the ``stage`` labels along the
  control dim and the ``state`` labels when the data has them;
* provenance (where the data came from, how it was counted, which phasekit).

A count-based function that receives an :class:`Ensemble` instead of a Dataset takes its
counts from it (:func:`as_counts`): counts over a *larger* system (e.g. all samples of a
prompt, when the ensemble counts each sequence) are exact sums of the stored rows
(:meth:`Counts.pool`), so no token is read again. Functions that need the tokens
themselves (correlations along positions) still need the Dataset.

The Ensemble is immutable (a frozen dataclass whose arrays are read-only), pickles, and
compares equal after a round trip.
"""

from __future__ import annotations

import dataclasses
import uuid
import weakref
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ._meta import as_dims, control_values, require_dims, resolve_n_states
from ._version import __version__
from .count import Counts, count_states
from .errors import SchemaError

__all__ = ["Ensemble", "as_counts", "default_roles", "ensemble", "is_ensemble", "token_view"]

#: attrs of the data kept in the provenance (the mapping of the ingest step)
_PROVENANCE_ATTRS = ("source", "encoder", "text_column", "n_unparsed", "n_missing", "n_rows", "format")
#: marks the token-less view of an Ensemble (see :func:`token_view`)
VIEW_ATTR = "phasekit_ensemble_view"
#: the Ensembles behind live views (weak: a view does not keep its Ensemble alive)
_VIEWS: weakref.WeakValueDictionary[str, Ensemble] = weakref.WeakValueDictionary()


def default_roles(ds: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The system/replica/control dims used when none are given.

    Single-answer tasks (no ``position`` dim): ``system=("sample",)``, ``replica=("prompt",)``
    (when there is a prompt dim). Sequence tasks: ``system=("position",)``, replicas the
    prompts and samples. The control dim is ``checkpoint`` (else the first dim).
    """
    from .schema import token_array

    tok = token_array(ds)
    control = "checkpoint" if "checkpoint" in tok.dims else tok.dims[0]
    if "position" in tok.dims:
        system: tuple[Hashable, ...] = ("position",)
        replica = tuple(d for d in ("prompt", "sample") if d in tok.dims)
    else:
        system = ("sample",)
        replica = ("prompt",) if "prompt" in tok.dims else ()
    return {"system": system, "replica": replica, "control": control}


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def _frozen_counts(c: Counts) -> Counts:
    return dataclasses.replace(c, indptr=_readonly(c.indptr), states=_readonly(c.states),
                               counts=_readonly(c.counts))


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return bool(a == b)


@dataclasses.dataclass(frozen=True, eq=False)
class Ensemble:
    """The configurations of one dataset, counted once (see the module docstring).

    Attributes
    ----------
    counts : Counts
        Sparse counts per configuration over the ``system`` dims; its grid (``counts.dims``)
        is every other dim (control, replica and any further kept dims).
    system, replica : tuple of dim names
    control : the control dim
    n_states : q, or None (open answer space)
    control_values : float array along ``control``
    stage : stage labels along ``control`` (str array) or None
    state_labels : labels of the states 0..q-1 (array) or None
    provenance : plain dict (source, counting, version; JSON-able values)
    """

    counts: Counts
    system: tuple[Hashable, ...]
    replica: tuple[Hashable, ...]
    control: Hashable
    n_states: int | None
    control_values: np.ndarray
    stage: np.ndarray | None = None
    state_labels: np.ndarray | None = None
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    _pooled: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", _frozen_counts(self.counts))
        object.__setattr__(self, "system", as_dims(self.system))
        object.__setattr__(self, "replica", as_dims(self.replica))
        object.__setattr__(self, "control_values", _readonly(np.asarray(self.control_values, dtype=float)))
        for name in ("stage", "state_labels"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _readonly(np.asarray(v)))
        object.__setattr__(self, "provenance", dict(self.provenance))

    # ------------------------------------------------------------------ basics
    @property
    def dims(self) -> tuple[Hashable, ...]:
        """The configuration grid's dims (every dim not in ``system``)."""
        return tuple(self.counts.dims)

    @property
    def sizes(self) -> dict[Hashable, int]:
        """Sizes of the grid dims and the system dims (as in the data)."""
        out = dict(zip(self.counts.dims, self.counts.shape, strict=True))
        out.update(self.provenance.get("system_sizes", {}))
        return out

    @property
    def coords(self) -> dict[Hashable, Any]:
        """Coordinates on the grid dims (xarray Variables)."""
        return dict(self.counts.coords)

    def counts_over(self, system: Hashable | Iterable[Hashable] | None = None) -> Counts:
        """Counts over ``system`` ⊇ the ensemble's own system: the stored rows summed over
        the extra dims (exact: counts add). ``None`` gives the stored counts."""
        want = as_dims(system) if system is not None else self.system
        missing = [d for d in self.system if d not in want]
        if missing:
            raise SchemaError(
                f"the Ensemble counts each configuration over {list(self.system)}; counts over {list(want)} "
                f"would split them", where="Ensemble.counts_over",
                fix=f"build the Ensemble with system={list(want)} (pk.ensemble(ds, system=...)) or pass the Dataset")
        extra = tuple(d for d in want if d not in self.system)
        if not extra:
            return self.counts
        require_dims(xr.Dataset(coords={str(d): np.arange(n) for d, n in
                                        zip(self.counts.dims, self.counts.shape, strict=True)}),
                     extra, argument="system")
        key = tuple(sorted(map(str, extra)))
        if key not in self._pooled:
            self._pooled[key] = _frozen_counts(pool_in_blocks(self.counts, extra))
        pooled = self._pooled[key]
        return pooled if tuple(pooled.system) == want else dataclasses.replace(pooled, system=want)

    def pooled(self, system: Hashable | Iterable[Hashable]) -> Ensemble:
        """The Ensemble of the configurations pooled over ``system`` ⊇ its own system: the
        same roles, q, labels and provenance, holding only the pooled rows
        (:meth:`counts_over`, exact sums). Every count a stage asks of it over ``system``
        or a larger system is the one the original gives; the original's finer rows can be
        freed. Replica dims that become system dims are dropped from ``replica``."""
        want = as_dims(system)
        c = self.counts_over(want)
        sizes = {str(k): int(v) for k, v in self.provenance.get("system_sizes", {}).items()}
        sizes.update({str(d): int(self.sizes[d]) for d in want if d not in self.system})
        return Ensemble(c, want, tuple(d for d in self.replica if d not in want), self.control, self.n_states,
                        np.array(self.control_values), None if self.stage is None else np.array(self.stage),
                        None if self.state_labels is None else np.array(self.state_labels),
                        {**self.provenance, "system_sizes": sizes})

    # ------------------------------------------------------------------ plain data
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ensemble):
            return NotImplemented
        return (self.counts == other.counts and self.system == other.system and self.replica == other.replica
                and self.control == other.control and self.n_states == other.n_states
                and _equal(self.control_values, other.control_values) and _equal(self.stage, other.stage)
                and _equal(self.state_labels, other.state_labels) and dict(self.provenance) == dict(other.provenance))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.counts, self.system, self.replica, self.control, self.n_states,
                           np.array(self.control_values), None if self.stage is None else np.array(self.stage),
                           None if self.state_labels is None else np.array(self.state_labels),
                           dict(self.provenance)))

    def to_dataset(self) -> xr.Dataset:
        """The per-configuration totals and distinct-state numbers, with the roles in attrs."""
        c = self.counts
        out = xr.Dataset({"n_tokens": c.wrap(c.totals()), "n_observed": c.wrap(c.n_observed())})
        out = out.assign_coords(control_value=(self.control, np.asarray(self.control_values)))
        if self.stage is not None:
            out = out.assign_coords(stage=(self.control, np.asarray(self.stage)))
        out.attrs = {"system": ",".join(map(str, self.system)), "replica": ",".join(map(str, self.replica)),
                     "control": str(self.control), "n_states": self.n_states if self.n_states is not None else "none",
                     "phasekit_version": __version__}
        return out

    def __repr__(self) -> str:
        grid = ", ".join(f"{d}: {n}" for d, n in zip(self.counts.dims, self.counts.shape, strict=True))
        return (f"<phasekit.Ensemble ({grid}) system={list(self.system)} replica={list(self.replica)} "
                f"control={self.control!r} n_states={self.n_states}: {int(self.counts.counts.sum())} tokens>")


#: stored entries pooled at once by :func:`pool_in_blocks` (bounds the pooling's temporaries)
POOL_BLOCK_ENTRIES = 1_000_000


def pool_in_blocks(c: Counts, extra: tuple[Hashable, ...]) -> Counts:
    """``c.pool(extra)`` computed on consecutive slices of the first grid dim (when it is
    kept), about :data:`POOL_BLOCK_ENTRIES` stored entries at a time, and concatenated.

    Pooling sums the rows of each kept cell, and the cells of a slice of the leading dim
    are a contiguous range of rows of the result, so the blocks' CSR arrays concatenate to
    exactly the arrays of one call; only one block's temporaries (row keys, sort order) are
    alive instead of the whole Ensemble's (1e7 entries: ~250 MiB).
    """
    if not c.dims or c.dims[0] in extra or c.shape[0] < 2 or c.counts.size <= POOL_BLOCK_ENTRIES:
        return c.pool(extra)
    lead = c.dims[0]
    per_slice = max(1, int(c.counts.size) // c.shape[0])
    step = max(1, POOL_BLOCK_ENTRIES // per_slice)
    parts = [c.isel({lead: slice(a, min(c.shape[0], a + step))}).pool(extra) for a in range(0, c.shape[0], step)]
    offsets = np.cumsum([0] + [int(p.indptr[-1]) for p in parts])
    indptr = np.concatenate([np.zeros(1, dtype=np.int64)] + [p.indptr[1:] + o for p, o in zip(parts, offsets, strict=False)])
    first = parts[0]
    kept = tuple(first.dims)
    shape = (c.shape[0], *first.shape[1:])
    coords = {k: v for k, v in c.coords.items() if set(getattr(v, "dims", ())) <= set(kept)}
    return dataclasses.replace(first, shape=shape, indptr=indptr,
                               states=np.concatenate([p.states for p in parts]),
                               counts=np.concatenate([p.counts for p in parts]), coords=coords)


def _rebuild(*args: Any) -> Ensemble:
    return Ensemble(*args)


def is_ensemble(obj: Any) -> bool:
    """True for an :class:`Ensemble`."""
    return isinstance(obj, Ensemble)


# --------------------------------------------------------------------------- constructors
def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _roles(tok: xr.DataArray, system: Any, replica: Any, control: Any) -> tuple[tuple, tuple, Hashable]:
    from ._meta import require_distinct

    defaults = default_roles(tok)
    control = control if control is not None else defaults["control"]
    system = as_dims(system) if system is not None else defaults["system"]
    replica = as_dims(replica) if replica is not None else tuple(d for d in defaults["replica"] if d not in system)
    for name, dims in (("system", system), ("replica", replica), ("control", (control,))):
        require_dims(tok, dims, argument=name)
    require_distinct(caller="ensemble", system=system, replica=replica, control=control)
    return system, replica, control


def _labels_along(coords: Mapping[Hashable, Any], name: str, dim: Hashable) -> np.ndarray | None:
    v = coords.get(name)
    if v is not None and tuple(getattr(v, "dims", ())) == (dim,):
        return np.asarray(v.values).astype(str) if name == "stage" else np.asarray(v.values)
    return None


def _from_tokens(ds: xr.Dataset | xr.DataArray, system: Any, replica: Any, control: Any,
                 n_states: int | None, engine: str) -> Ensemble:
    from .schema import token_array

    tok = token_array(ds)
    system, replica, control = _roles(tok, system, replica, control)
    q = resolve_n_states(ds, n_states)
    c = count_states(ds, system=system, n_states=q, engine=engine)
    labels = None
    if "state" in tok.coords and tok["state"].ndim == 1:
        labels = np.asarray(tok["state"].values)
    elif isinstance(ds, xr.Dataset) and "state" in ds.coords and ds["state"].ndim == 1:
        labels = np.asarray(ds["state"].values)
    attrs = dict(ds.attrs)
    prov = {"counted_from": "tokens", "dims": [str(d) for d in tok.dims],
            "system_sizes": {str(d): int(tok.sizes[d]) for d in system},
            "n_tokens": int(c.counts.sum()), "phasekit_version": __version__,
            **{k: _plain(attrs[k]) for k in _PROVENANCE_ATTRS if k in attrs}}
    return Ensemble(c, system, replica, control, q, control_values(tok, control),
                    _labels_along(tok.coords, "stage", control), labels, prov)


def _from_store(store: Any, replica: Any, control: Any, n_states: int | None) -> Ensemble:
    from .store import _from_json

    c = store.counts()
    system = tuple(store.system)
    control = control if control is not None else store.dim
    if control not in c.dims:
        raise SchemaError(f"control={control!r} is not a dim of the store", where=f"dims {list(c.dims)}",
                          fix=f"pass control={store.dim!r}")
    if replica is None:
        pool = ("prompt", "sample") if "position" in system else ("prompt",)
        replica = tuple(d for d in pool if d in c.dims)
    replica = as_dims(replica)
    q = resolve_n_states(store, n_states)
    if q is not None:
        c = dataclasses.replace(c, n_states=int(q))
    skeleton = xr.Dataset(coords={k: v for k, v in c.coords.items()})
    cv = (control_values(skeleton, control) if control in skeleton.dims
          else np.arange(c.shape[c.dims.index(control)], dtype=float))
    labels = store._meta.get("state_labels")
    prov = {"counted_from": "count_store", "source": str(store.path),
            "dims": [str(d) for d in (*c.dims, *system)], "n_tokens": int(c.counts.sum()),
            "phasekit_version": __version__}
    return Ensemble(c, system, replica, control, q, cv, _labels_along(c.coords, "stage", control),
                    None if labels is None else _from_json(*labels), prov)


def ensemble(
    ds: xr.Dataset | xr.DataArray | Any,
    *,
    system: Hashable | Iterable[Hashable] | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    control: Hashable | None = None,
    n_states: int | None = None,
    engine: str = "auto",
) -> Ensemble:
    """Count the configurations of ``ds`` once and keep them with their roles.

    Parameters
    ----------
    ds : samples Dataset (``token``), the token DataArray (numpy- or dask-backed; dask
        blocks are each read once), or a :class:`phasekit.CountStore` (nothing is read
        from tokens; ``system`` is the store's)
    system, replica, control : the roles of the dims (glossary); defaults as
        :func:`default_roles` (single-answer tasks: ``system="sample"``, replicas the
        prompts; sequence tasks: ``system="position"``, replicas prompts and samples;
        control ``checkpoint``)
    n_states : q; default ``attrs["n_states"]``; ``None`` for an open answer space
    engine : counting kernel ("auto", "numba", "numpy")

    Returns
    -------
    Ensemble
    """
    from .store import CountStore

    if isinstance(ds, Ensemble):
        return ds
    if isinstance(ds, CountStore):
        if system is not None and as_dims(system) != tuple(ds.system):
            raise SchemaError(f"a CountStore counts over {list(ds.system)}, not {list(as_dims(system))}",
                              where="ensemble(store, system=...)", fix="omit system= for a store")
        return _from_store(ds, replica, control, n_states)
    return _from_tokens(ds, system, replica, control, n_states, engine)


def as_counts(data: Any, *, system: Hashable | Iterable[Hashable] | None = None,
              n_states: int | None = None, engine: str = "auto") -> Counts:
    """The counts a count-based function needs, from whatever it was given.

    * an :class:`Ensemble`: its counts pooled over ``system`` (:meth:`Ensemble.counts_over`;
      no token is read);
    * a :class:`~phasekit.count.Counts`: as it is;
    * a Dataset or token DataArray: :func:`phasekit.count_states` over ``system``.

    ``n_states`` fills in q where the counts do not know it (a different q than the
    counts' is a SchemaError).
    """
    if isinstance(data, Ensemble):
        c = data.counts_over(system)
    elif isinstance(data, Counts):
        c = data
    else:
        return count_states(data, system=system if system is not None else ("sample",), n_states=n_states,
                            engine=engine)
    if n_states is not None:
        if c.n_states is not None and int(c.n_states) != int(n_states):
            raise SchemaError(f"n_states={n_states} but the counts were made with n_states={c.n_states}",
                              where="as_counts", fix="pass the same q (or none)")
        if c.n_states is None:
            c = dataclasses.replace(c, n_states=int(n_states))
    return c


def token_view(data: Any) -> xr.DataArray:
    """The token DataArray of a Dataset, or an Ensemble's token-*less* view.

    The view has the dims (in the data's order), the grid coordinates and the q of the
    tokens, but holds no tokens: its values are a zero-memory broadcast of ``-1``. Its
    ``attrs["phasekit_ensemble_view"]`` (a string key) leads :func:`phasekit.count_states`
    back to the Ensemble, so a function that takes labels and sizes from the token array
    and counts it with ``count_states`` works unchanged on an Ensemble (no token read).
    A view that was sliced or relabelled no longer matches its Ensemble: counting it is
    an error. Anything that reads the view's *values* sees no tokens — only counting goes
    through the Ensemble.
    """
    if not isinstance(data, Ensemble):
        from .schema import token_array

        return token_array(data)
    c = data.counts
    sizes = dict(zip(c.dims, c.shape, strict=True))
    sizes.update(data.provenance.get("system_sizes", {}))
    dims = [d for d in data.provenance.get("dims", [*c.dims, *data.system])]
    dims = [d for d in dims if d in sizes] + [d for d in sizes if d not in dims]
    values = np.broadcast_to(np.int8(-1), tuple(int(sizes[d]) for d in dims))
    key = f"ensemble-{uuid.uuid4().hex}"
    _VIEWS[key] = data
    attrs: dict[str, Any] = {VIEW_ATTR: key}
    if data.n_states is not None:
        attrs["n_states"] = int(data.n_states)
    return xr.DataArray(values, dims=dims, coords={k: v for k, v in c.coords.items()}, name="token", attrs=attrs)


def counts_of_view(view: xr.DataArray, system: Hashable | Iterable[Hashable], n_states: int | None) -> Counts:
    """The counts behind a :func:`token_view`, pooled over ``system``.

    Raises a SchemaError when the Ensemble is gone, or the view no longer matches it
    (sliced, reordered or relabelled along a grid dim).
    """
    ens = _VIEWS.get(str(view.attrs.get(VIEW_ATTR)))
    if ens is None:
        raise SchemaError("this token array is an Ensemble's token-less view, and its Ensemble is gone",
                          where="count_states", fix="pass the Ensemble itself")
    c = ens.counts
    same = all(d in view.dims and int(view.sizes[d]) == n for d, n in zip(c.dims, c.shape, strict=True))
    same = same and all(k in view.coords and view.coords[k].variable.equals(v) for k, v in c.coords.items())
    if not same:
        raise SchemaError("a token-less Ensemble view was sliced or relabelled: it no longer matches its counts",
                          where="count_states", fix="count the Dataset, or select from the Ensemble's counts")
    return as_counts(ens, system=system, n_states=n_states)
