"""Incremental analysis: a results store of per-configuration sparse counts.

Counts are additive, so a training run that produces new checkpoints every day need not
be recounted from its tokens: :class:`CountStore` keeps the sparse counts of every
configuration (one cell of the grid of kept dims, e.g. (checkpoint, prompt) for
``system="sample"``) in a Zarr directory, and :meth:`CountStore.append` counts **only**
the new tokens and appends their rows. Everything downstream (order parameters,
entropy, divergences) is then computed from the stored counts
(:meth:`CountStore.counts`, :meth:`CountStore.order_parameters`).

Layout (Zarr v3 group, one directory):

* ``row_nnz`` (row,) int64 — number of distinct states per configuration; rows are in C
  order over (``dim``, *other kept dims*), i.e. checkpoint-major, so appending
  checkpoints appends rows;
* ``states`` (entry,) int64, ``counts`` (entry,) int64 — the CSR entries, sorted by state
  within a row (``indptr = cumsum(row_nnz)``);
* group attrs (JSON): ``system``, ``dim``, the other kept dims with their sizes and
  coordinate values, the checkpoint labels and per-checkpoint coordinates (``step``,
  ``stage``, …), ``n_states``, the optional ``state`` labels, and the committed lengths
  ``n_rows``/``n_entries``. Attrs are written last, so a write interrupted half-way
  leaves the store at its last committed state (longer arrays are truncated on the
  next write).

Adding samples to a checkpoint already stored is allowed with ``add_samples=True``:
counts of the same configuration add (n_k = n_k^old + n_k^new). Rows from the first
touched checkpoint onward are rewritten from the stored counts (never recounted).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._meta import as_dims, provenance
from .count import Counts, _merge_entries, _segment_ids, count_states, resolve_n_states
from .errors import SchemaError

__all__ = ["CountStore"]

_FORMAT = "phasekit-countstore-1"
_CHUNK = 1 << 20


def _jsonable(values: np.ndarray) -> tuple[list, str]:
    arr = np.asarray(values)
    if arr.dtype.kind in "US":
        return [str(v) for v in arr.tolist()], "str"
    if arr.dtype.kind == "M":
        return [str(v) for v in arr.astype("datetime64[ns]").tolist()], "datetime64[ns]"
    if arr.dtype.kind == "O":
        return [str(v) for v in arr.tolist()], "str"
    return arr.tolist(), arr.dtype.str


def _from_json(values: list, dtype: str) -> np.ndarray:
    if dtype == "str":
        return np.asarray(values, dtype=str)
    return np.asarray(values, dtype=np.dtype(dtype))


def _reorder_rows(c: Counts, dims: tuple[Hashable, ...]) -> Counts:
    """The same counts with the kept dims in the order ``dims`` (rows re-laid in C order)."""
    if tuple(c.dims) == tuple(dims):
        return c
    axes = [c.dims.index(d) for d in dims]
    new_shape = tuple(c.shape[a] for a in axes)
    # new row index of every old row
    old_to_new = np.empty(c.n_config, dtype=np.int64)
    old_to_new[np.arange(c.n_config).reshape(c.shape).transpose(axes).ravel()] = np.arange(c.n_config)
    seg = old_to_new[_segment_ids(c.indptr)]
    indptr, states, counts = _merge_entries(seg, c.states, c.counts, c.n_config)
    return Counts(tuple(dims), new_shape, indptr, states, counts, c.n_states, c.system, dict(c.coords),
                  dict(c.attrs))


class CountStore:
    """Per-configuration sparse counts on disk, appendable checkpoint by checkpoint.

    Create with :meth:`create`, reopen with ``CountStore(path)``.

    Examples
    --------
    >>> store = CountStore.create("counts.zarr", ds_first_half, system="sample")  # doctest: +SKIP
    >>> store.append(ds_second_half)                                             # doctest: +SKIP
    >>> op = store.order_parameters()                                            # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        import zarr

        self.path = Path(path)
        if not self.path.exists():
            raise SchemaError("no count store at this path", where=str(self.path),
                              fix="create one with CountStore.create(path, ds, system=...)")
        self._group: Any = zarr.open_group(str(self.path), mode="r+")
        meta: dict[str, Any] = dict(self._group.attrs)
        if meta.get("format") != _FORMAT:
            raise SchemaError("not a phasekit count store", where=str(self.path),
                              fix="create one with CountStore.create(path, ds, system=...)")
        self._meta = meta

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        path: str | Path,
        ds: xr.Dataset | xr.DataArray,
        system: Hashable | Iterable[Hashable] = ("sample",),
        *,
        dim: Hashable = "checkpoint",
        n_states: int | None = None,
        overwrite: bool = False,
    ) -> CountStore:
        """Count ``ds`` and write a new store at ``path``.

        Parameters
        ----------
        path : directory of the Zarr store (created)
        ds : samples (Dataset with ``token`` or the token DataArray; numpy or dask)
        system : the dims one configuration spans (as in :func:`phasekit.count.count_states`)
        dim : the dim new data is appended along (default ``checkpoint``)
        n_states : q (default ``attrs["n_states"]``)
        overwrite : replace an existing store
        """
        import zarr

        from .schema import token_array

        path = Path(path)
        if path.exists() and not overwrite:
            raise SchemaError("a store already exists at this path", where=str(path),
                              fix="open it with CountStore(path) and append, or pass overwrite=True")
        tok = token_array(ds)
        system = as_dims(system)
        if dim not in tok.dims or dim in system:
            raise SchemaError(f"append dim {dim!r} must be a kept (non-system) dim of the data",
                              where=f"dims {list(tok.dims)}, system={list(system)}",
                              fix="pass dim= naming the checkpoint dim")
        others = tuple(d for d in tok.dims if d not in system and d != dim)
        q = resolve_n_states(ds, n_states)
        other_coords = {}
        for d in others:
            vals = tok[d].values if d in tok.coords else np.arange(tok.sizes[d])
            other_coords[str(d)] = _jsonable(vals)
        labels = None
        if isinstance(ds, xr.Dataset) and "state" in ds.coords and ds["state"].ndim == 1:
            labels = _jsonable(ds["state"].values)
        group = zarr.open_group(str(path), mode="w")
        for name in ("row_nnz", "states", "counts"):
            group.create_array(name, shape=(0,), dtype="int64", chunks=(_CHUNK,))
        group.attrs.update({
            "format": _FORMAT, "system": [str(d) for d in system], "dim": str(dim),
            "other_dims": [str(d) for d in others], "other_sizes": [int(tok.sizes[d]) for d in others],
            "other_coords": other_coords, "n_states": q, "state_labels": labels,
            "checkpoints": [], "checkpoint_dtype": None, "checkpoint_coords": {},
            "n_rows": 0, "n_entries": 0, "history": [],
        })
        store = cls(path)
        store.append(ds)
        return store

    # ------------------------------------------------------------------ metadata
    @property
    def system(self) -> tuple[str, ...]:
        return tuple(self._meta["system"])

    @property
    def dim(self) -> str:
        return self._meta["dim"]

    @property
    def n_states(self) -> int | None:
        return self._meta["n_states"]

    @property
    def checkpoints(self) -> np.ndarray:
        """Labels of the stored checkpoints, in storage order."""
        dt = self._meta["checkpoint_dtype"]
        return _from_json(self._meta["checkpoints"], dt) if dt else np.zeros(0)

    @property
    def rows_per_checkpoint(self) -> int:
        return int(np.prod(self._meta["other_sizes"], dtype=np.int64))

    def __repr__(self) -> str:
        return (f"<phasekit.CountStore {self.path}: {len(self._meta['checkpoints'])} {self.dim}s × "
                f"{dict(zip(self._meta['other_dims'], self._meta['other_sizes'], strict=True))} over "
                f"{list(self.system)}, {self._meta['n_entries']} entries, n_states={self.n_states}>")

    def _commit(self, **updates: Any) -> None:
        self._meta.update(updates)
        self._group.attrs.update(updates)

    # ------------------------------------------------------------------ checks
    def _check_compatible(self, tok: xr.DataArray, ds: Any) -> None:
        system = self.system
        missing = [d for d in (*system, self.dim) if d not in tok.dims]
        if missing:
            raise SchemaError(f"new data lacks dim(s) {missing}", where=f"dims {list(tok.dims)}",
                              fix=f"the store counts over {list(system)} along {self.dim!r}")
        others = tuple(d for d in tok.dims if d not in system and d != self.dim)
        if [str(d) for d in others] != self._meta["other_dims"]:
            raise SchemaError(f"new data has kept dims {list(others)}, the store has {self._meta['other_dims']}",
                              where=str(self.path), fix="use the same dims (and system=) as the store")
        for d, size in zip(others, self._meta["other_sizes"], strict=True):
            vals, dt = self._meta["other_coords"][str(d)]
            new = tok[d].values if d in tok.coords else np.arange(tok.sizes[d])
            if tok.sizes[d] != size or _jsonable(new)[0] != vals:
                raise SchemaError(f"dim {d!r} differs from the store's (size or labels)",
                                  where=f"store {size} labels {vals[:5]}..., new {tok.sizes[d]}",
                                  fix=f"align the new data on the store's {d!r} labels")
        q = resolve_n_states(ds, None)
        if q is not None and self.n_states is not None and int(q) != int(self.n_states):
            raise SchemaError(f"new data has n_states={q}, the store {self.n_states}", where=str(self.path),
                              fix="count with the same q")

    # ------------------------------------------------------------------ reading
    def _read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        n = self._meta["n_rows"] if name == "row_nnz" else self._meta["n_entries"]
        stop = n if stop is None else min(stop, n)
        if stop <= start:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._group[name][start:stop], dtype=np.int64)

    def counts(self, checkpoints: Any = None) -> Counts:
        """The stored counts as :class:`phasekit.count.Counts` (dims ``(dim, *others)``).

        ``checkpoints``: optional labels to read (default all, in storage order).
        """
        rpc = self.rows_per_checkpoint
        labels = self.checkpoints
        if checkpoints is None:
            idx = np.arange(labels.size)
        else:
            want = np.atleast_1d(np.asarray(checkpoints))
            idx = np.array([self._index_of(v) for v in want], dtype=np.int64)
        row_nnz = self._read("row_nnz")
        indptr_all = np.zeros(row_nnz.size + 1, dtype=np.int64)
        np.cumsum(row_nnz, out=indptr_all[1:])
        parts_nnz, parts_st, parts_ct = [], [], []
        for i in idx:  # contiguous rows per checkpoint
            r0, r1 = i * rpc, (i + 1) * rpc
            a, b = indptr_all[r0], indptr_all[r1]
            parts_nnz.append(row_nnz[r0:r1])
            parts_st.append(self._read("states", a, b))
            parts_ct.append(self._read("counts", a, b))
        nnz = np.concatenate(parts_nnz) if parts_nnz else np.zeros(0, np.int64)
        indptr = np.zeros(nnz.size + 1, dtype=np.int64)
        np.cumsum(nnz, out=indptr[1:])
        shape = (int(idx.size), *map(int, self._meta["other_sizes"]))
        dims = (self.dim, *self._meta["other_dims"])
        coords: dict[Hashable, Any] = {self.dim: xr.Variable(self.dim, labels[idx])}
        for name, (vals, dt) in self._meta["checkpoint_coords"].items():
            coords[name] = xr.Variable(self.dim, _from_json(vals, dt)[idx])
        for d in self._meta["other_dims"]:
            vals, dt = self._meta["other_coords"][d]
            coords[d] = xr.Variable(d, _from_json(vals, dt))
        return Counts(dims, shape, indptr,
                      np.concatenate(parts_st) if parts_st else np.zeros(0, np.int64),
                      np.concatenate(parts_ct) if parts_ct else np.zeros(0, np.int64),
                      self.n_states, self.system, coords, {"source": str(self.path)})

    def _index_of(self, label: Any) -> int:
        labels = self.checkpoints
        hit = np.flatnonzero(labels == label)
        if hit.size != 1:
            raise SchemaError(f"{self.dim} {label!r} is not in the store", where=str(self.path),
                              fix=f"stored labels: {labels.tolist()[:10]}")
        return int(hit[0])

    def order_parameters(self, checkpoints: Any = None, **kwargs: Any) -> xr.Dataset:
        """:func:`phasekit.order_parameters` from the stored counts (no token is read).

        Keyword arguments go to :func:`phasekit.observables.order_parameters`
        (``estimator=``, ``reference=``, …). ``mode_label`` is added from the stored
        ``state`` labels when there are any.
        """
        from .observables import order_parameters

        c = self.counts(checkpoints)
        out = order_parameters(c, **kwargs)
        labels = self._meta.get("state_labels")
        if labels is not None and "mode_state" in out:
            lab = _from_json(*labels).astype(str)
            mode = out["mode_state"].values
            if mode.size == 0 or int(mode.max(initial=-1)) < lab.size:
                txt = np.where(mode >= 0, lab[np.clip(mode, 0, None)], "").astype(str)
                out["mode_label"] = out["mode_state"].copy(data=txt).assign_attrs(
                    provenance(description="state-coordinate label of the mode; '' = no tokens"))
        out.attrs["count_store"] = str(self.path)
        return out

    # ------------------------------------------------------------------ appending
    def append(self, ds: xr.Dataset | xr.DataArray, *, add_samples: bool = False) -> CountStore:
        """Count only ``ds`` and add it to the store.

        New checkpoints (labels along ``dim`` not yet stored) are appended. A checkpoint
        that is already stored raises :class:`SchemaError`, unless ``add_samples=True``:
        then the new tokens' counts are added to the stored counts of the same
        configurations (more samples of the same checkpoint; counts are additive).
        Nothing already stored is ever recounted from tokens.
        """
        from .schema import token_array

        tok = token_array(ds)
        self._check_compatible(tok, ds)
        labels_new = tok[self.dim].values if self.dim in tok.coords else None
        if labels_new is None:
            raise SchemaError(f"new data has no {self.dim!r} coordinate", where="append",
                              fix=f"label the {self.dim}s (ds.assign_coords({self.dim}=[...]))")
        if np.unique(labels_new).size != labels_new.size:
            raise SchemaError(f"duplicate {self.dim} labels in the new data", where="append",
                              fix="give every checkpoint a unique label")
        stored = self.checkpoints
        dup = np.isin(labels_new, stored) if stored.size else np.zeros(labels_new.size, bool)
        if dup.any() and not add_samples:
            raise SchemaError(f"{self.dim}(s) {labels_new[dup].tolist()} are already in the store",
                              where=str(self.path),
                              fix="append only new checkpoints, or pass add_samples=True to add more "
                                  "samples of those checkpoints (counts add)")
        q = resolve_n_states(ds, None) if self.n_states is None else self.n_states
        c = count_states(ds, system=self.system, n_states=q)
        c = _reorder_rows(c, (self.dim, *self._meta["other_dims"]))
        if self.n_states is None and q is not None:
            self._commit(n_states=int(q))
        rpc = self.rows_per_checkpoint
        new_idx = np.flatnonzero(~dup)
        if dup.any():
            self._add_to_existing(c, np.flatnonzero(dup), labels_new, rpc)
        if new_idx.size:
            self._append_new(c, new_idx, labels_new, tok, rpc)
        hist = list(self._meta.get("history", []))
        hist.append({"appended": int(new_idx.size), "added_samples_to": int(dup.sum())})
        self._commit(history=hist)
        return self

    def _rows_of(self, c: Counts, i: int, rpc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r0, r1 = i * rpc, (i + 1) * rpc
        a, b = c.indptr[r0], c.indptr[r1]
        return np.diff(c.indptr[r0 : r1 + 1]), c.states[a:b], c.counts[a:b]

    def _write_tail(self, row_start: int, entry_start: int, nnz: np.ndarray, st: np.ndarray,
                    ct: np.ndarray, **commit: Any) -> None:
        """Replace everything from (row_start, entry_start) on with the given arrays."""
        for name, start, data in (("states", entry_start, st), ("counts", entry_start, ct),
                                  ("row_nnz", row_start, nnz)):
            arr = self._group[name]
            arr.resize((start,))
            if data.size:
                arr.append(np.asarray(data, dtype=np.int64))
        self._commit(n_rows=int(row_start + nnz.size), n_entries=int(entry_start + st.size), **commit)

    def _append_new(self, c: Counts, new_idx: np.ndarray, labels_new: np.ndarray, tok: xr.DataArray,
                    rpc: int) -> None:
        ckpt_coords = {str(k): v for k, v in tok.coords.items()
                       if v.dims == (self.dim,) and k != self.dim}
        known = self._meta["checkpoint_coords"]
        if self._meta["checkpoints"] and set(ckpt_coords) != set(known):
            raise SchemaError(f"new data has {self.dim} coords {sorted(ckpt_coords)}, the store {sorted(known)}",
                              where="append", fix="give the new checkpoints the same coordinates")
        if "step" in ckpt_coords:
            new_steps = np.asarray(ckpt_coords["step"].values)[new_idx]
            old = _from_json(*known["step"]) if "step" in known else np.zeros(0)
            allsteps = np.concatenate([old, new_steps])
            if allsteps.size > 1 and np.any(np.diff(allsteps.astype(float)) < 0):
                raise SchemaError("appended checkpoints would make 'step' decrease", where="append",
                                  fix="append checkpoints in training order")
        parts = [self._rows_of(c, int(i), rpc) for i in new_idx]
        nnz = np.concatenate([p[0] for p in parts])
        st = np.concatenate([p[1] for p in parts])
        ct = np.concatenate([p[2] for p in parts])
        lab_json, lab_dt = _jsonable(labels_new[new_idx])
        if self._meta["checkpoint_dtype"] not in (None, lab_dt):
            raise SchemaError(f"new {self.dim} labels have dtype {lab_dt}, the store "
                              f"{self._meta['checkpoint_dtype']}", where="append", fix="use the same label type")
        new_coords = {}
        for name, var in ckpt_coords.items():
            vals, dt = _jsonable(np.asarray(var.values)[new_idx])
            old_vals = known.get(name, [[], dt])[0]
            new_coords[name] = [old_vals + vals, dt]
        self._write_tail(self._meta["n_rows"], self._meta["n_entries"], nnz, st, ct,
                         checkpoints=self._meta["checkpoints"] + lab_json, checkpoint_dtype=lab_dt,
                         checkpoint_coords=new_coords)

    def _add_to_existing(self, c: Counts, dup_idx: np.ndarray, labels_new: np.ndarray, rpc: int) -> None:
        pos = {int(self._index_of(labels_new[i])): int(i) for i in dup_idx}
        first = min(pos)
        row_nnz = self._read("row_nnz")
        indptr = np.zeros(row_nnz.size + 1, dtype=np.int64)
        np.cumsum(row_nnz, out=indptr[1:])
        n_ckpt = len(self._meta["checkpoints"])
        nnz_parts, st_parts, ct_parts = [], [], []
        for k in range(first, n_ckpt):  # rewrite the tail from the stored counts
            r0, r1 = k * rpc, (k + 1) * rpc
            a, b = indptr[r0], indptr[r1]
            old_nnz, old_st, old_ct = row_nnz[r0:r1], self._read("states", a, b), self._read("counts", a, b)
            if k in pos:
                new_nnz, new_st, new_ct = self._rows_of(c, pos[k], rpc)
                seg = np.concatenate([np.repeat(np.arange(rpc), old_nnz), np.repeat(np.arange(rpc), new_nnz)])
                ip, s, n = _merge_entries(seg, np.concatenate([old_st, new_st]), np.concatenate([old_ct, new_ct]),
                                          rpc)
                old_nnz, old_st, old_ct = np.diff(ip), s, n
            nnz_parts.append(old_nnz)
            st_parts.append(old_st)
            ct_parts.append(old_ct)
        self._write_tail(first * rpc, int(indptr[first * rpc]), np.concatenate(nnz_parts),
                         np.concatenate(st_parts), np.concatenate(ct_parts))
