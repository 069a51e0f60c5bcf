"""The data model and its validation.

The canonical samples dataset (DESIGN.md, "Data model"):

* one integer variable ``token``; ``-1`` means "no token" and is never counted;
* dims, in this order where present: leading extras (``model``, ``temperature``, …),
  then ``checkpoint``, ``prompt``, ``sample``, ``position``; ``checkpoint`` and ``sample``
  are required;
* coords: ``step`` along ``checkpoint`` (numeric, non-decreasing), optional ``stage``,
  optional ``state`` labels;
* attrs: ``n_states`` (q) where known.

:func:`validate` enforces it completely and returns the (transposed) dataset;
every violation raises :class:`phasekit.SchemaError` naming the problem, the place
and the fix.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from ._meta import resolve_n_states
from .errors import SchemaError

__all__ = ["CANONICAL_DIMS", "REQUIRED_DIMS", "check_token_values", "validate", "token_array", "summary"]

#: Canonical order of the named dims (extras come first).
CANONICAL_DIMS: tuple[str, ...] = ("checkpoint", "prompt", "sample", "position")
#: Dims every ingested dataset must have.
REQUIRED_DIMS: tuple[str, ...] = ("checkpoint", "sample")


def token_array(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """The ``token`` variable of a samples Dataset (or the DataArray itself)."""
    if isinstance(ds, xr.DataArray):
        return ds
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(
            f"expected an xarray Dataset or DataArray, got {type(ds).__name__}",
            where="first argument",
            fix="load samples with phasekit.open_samples(...)",
        )
    if "token" not in ds.data_vars:
        raise SchemaError(
            "the dataset has no 'token' variable",
            where=f"data variables are {list(ds.data_vars)}",
            fix="rename your token variable to 'token' (ds.rename({'ids': 'token'})) "
            "or load with open_samples(..., token='<column>')",
        )
    tok = ds["token"]
    if "n_states" in ds.attrs and "n_states" not in tok.attrs:
        tok = tok.assign_attrs(n_states=ds.attrs["n_states"])
    return tok


def canonical_order(dims: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    """Extras first (in their given order), then the canonical dims in canonical order."""
    extras = [d for d in dims if d not in CANONICAL_DIMS]
    return tuple(extras) + tuple(d for d in CANONICAL_DIMS if d in dims)


def _first_bad(mask: np.ndarray, tok: xr.DataArray) -> str:
    """Describe where the first True of ``mask`` sits, by coordinate labels."""
    idx = np.unravel_index(int(np.flatnonzero(mask.ravel())[0]), mask.shape)
    parts = []
    for dim, i in zip(tok.dims, idx, strict=True):
        label = tok[dim].values[i] if dim in tok.coords else i
        parts.append(f"{dim}={label!s}")
    return ", ".join(parts)


def _check_values(tok: xr.DataArray, n_states: int | None) -> None:
    """The value checks of :func:`validate` on in-memory tokens (for dask-backed tokens they
    run inside every chunk's read: :func:`_deferred_value_check`)."""
    data = tok.data
    arr = np.asarray(data)
    if arr.size == 0:
        return
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating):
            finite = np.isfinite(arr)
            if not finite.all():
                raise SchemaError(
                    "tokens contain NaN or infinite values (tokens must be integer)",
                    where=_first_bad(~finite, tok),
                    fix="use -1 for missing tokens and integer states otherwise",
                )
            frac = arr != np.round(arr)
            if frac.any():
                value = arr.ravel()[np.flatnonzero(frac.ravel())[0]]
                raise SchemaError(
                    f"token value {value.item()!r} is not an integer",
                    where=_first_bad(frac, tok),
                    fix="tokens must be integer state ids; map text with an encoder",
                )
        else:
            raise SchemaError(
                f"tokens must be integer, got dtype {arr.dtype}",
                where="variable 'token'",
                fix="map answers to integer states with open_samples(..., text=..., encoder=...)",
            )
    below = arr < -1
    if below.any():
        value = arr.ravel()[np.flatnonzero(below.ravel())[0]]
        raise SchemaError(
            f"token value {int(value)} is below -1",
            where=_first_bad(below, tok),
            fix="use -1 for 'no token' and 0..q-1 for states",
        )
    if n_states is not None:
        above = arr >= n_states
        if above.any():
            value = arr.ravel()[np.flatnonzero(above.ravel())[0]]
            raise SchemaError(
                f"token value {int(value)} is >= n_states={n_states}",
                where=_first_bad(above, tok),
                fix="set attrs['n_states'] to the size of the outcome space (q) or fix the tokens",
            )


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask")


#: name prefix of the dask layer that checks token values as each chunk is read
CHECKED_LAYER = "_phasekit_checked_tokens"


def _phasekit_checked_tokens(block: xr.DataArray, n_states: int | None) -> xr.DataArray:
    """:func:`_check_values` on one chunk (its coordinates are those of the whole array, so
    a bad value is placed by its labels); the chunk itself is returned unchanged. The name
    is the layer name that marks checked tokens (:data:`CHECKED_LAYER`)."""
    _check_values(block, n_states)
    return block


def _deferred_value_check(ds: xr.Dataset, n_states: int | None) -> xr.Dataset:
    """Dask-backed tokens whose value checks (integer, finite, ``>= -1``, ``< n_states``) run
    inside the task that reads each chunk (``xr.map_blocks``), so validating reads nothing
    and the first computation (counting, in ``analyze``) reads each chunk once and raises
    the same :class:`SchemaError` as for in-memory tokens, naming the first bad value's
    place by its coordinate labels (a dim without a coordinate by its index). Idempotent
    (an already checked array is returned as it is)."""
    tok = ds["token"]
    if CHECKED_LAYER in str(tok.data.name):
        return ds
    placed = tok.reset_coords(drop=True)  # only the dims' own labels: other coords may be chunked otherwise
    placed = placed.assign_coords({d: np.arange(n) for d, n in tok.sizes.items() if d not in placed.coords})
    checked = xr.map_blocks(_phasekit_checked_tokens, placed, kwargs={"n_states": n_states}, template=placed)
    return ds.assign(token=tok.copy(data=checked.data))


def check_token_values(ds: xr.Dataset | xr.DataArray) -> None:
    """Run the value checks now: for dask-backed tokens (whose checks :func:`validate`
    defers to the first read), read every chunk once; in memory, check the array.
    ``phasekit validate`` calls this, so it reports on the values, not only the layout."""
    tok = token_array(ds)
    if _is_dask(tok.data):
        tok.data.min().compute()
    else:
        _check_values(tok, tok.attrs.get("n_states"))


def _check_steps(ds: xr.Dataset, control: str) -> None:
    if control not in ds.dims:
        return
    labels = ds[control].values if control in ds.coords else None
    if labels is not None:
        uniq, counts = np.unique(labels.astype(str), return_counts=True)
        if (counts > 1).any():
            raise SchemaError(
                f"checkpoint label {str(uniq[counts > 1][0])!r} appears {counts[counts > 1][0]} times",
                where=f"coordinate '{control}'",
                fix="give every checkpoint a unique label (e.g. 'ckpt-<step>')",
            )
    if "step" not in ds.coords:
        return
    step = ds["step"]
    if step.dims == (control,):
        _check_step_row(np.asarray(step.values), ds[control].values if control in ds.coords else None, control)
        return
    member = next((d for d in step.dims if d != control), None)
    if step.ndim != 2 or control not in step.dims or member not in MEMBER_STEP_DIMS:
        raise SchemaError(
            f"coordinate 'step' must lie along '{control}' (or along (member, '{control}') for models, runs or "
            f"tasks with their own checkpoints), has dims {step.dims}",
            where="coordinate 'step'",
            fix=f"assign it with ds.assign_coords(step=('{control}', steps))",
        )
    _check_member_steps(ds, step.transpose(member, control), member, control)


#: dims along which members (models, runs, tasks) may have their own checkpoint grids
MEMBER_STEP_DIMS = ("model", "run", "task")


def _check_member_steps(ds: xr.Dataset, step: xr.DataArray, member: Hashable, control: str) -> None:
    """A (member, checkpoint) ``step``: each member's steps checked as a 1-D grid; NaN only as
    trailing padding of a shorter run, whose checkpoints hold no tokens (all -1)."""
    values = np.asarray(step.values)
    labels = ds[control].values if control in ds.coords else None
    tok = token_array(ds)
    for i, row in enumerate(values):
        name = f"{member}={ds[member].values[i]!s}" if member in ds.coords else f"{member} {i}"
        if not np.issubdtype(row.dtype, np.number):
            raise SchemaError(f"'step' must be numeric, got dtype {row.dtype}", where=f"coordinate 'step', {name}",
                              fix="convert steps to numbers (e.g. parse 'ckpt-1000' to 1000)")
        finite = np.isfinite(row.astype(float))
        n = int(finite.sum())
        if not finite[:n].all():
            raise SchemaError(f"'step' of {name} has NaN before its last checkpoint",
                              where=f"coordinate 'step', {name}",
                              fix="NaN steps may only pad the end of a shorter run; sort its checkpoints first")
        if n < row.size and isinstance(tok.data, np.ndarray):  # padding checked in memory only
            pad = tok.isel({member: i, control: slice(n, None)})
            if bool((pad >= 0).any()):
                raise SchemaError(f"{name} has tokens at checkpoints without a step", where=f"coordinate 'step', {name}",
                                  fix="give those checkpoints their steps, or set their tokens to -1 (padding)")
        _check_step_row(row[:n], labels[:n] if labels is not None else None, control, name)


def _check_step_row(values: np.ndarray, labels: np.ndarray | None, control: str, member: str = "") -> None:
    """One checkpoint grid: numeric, no NaN, non-decreasing."""
    where_member = f", {member}" if member else ""
    if not np.issubdtype(values.dtype, np.number):
        raise SchemaError(
            f"'step' must be numeric, got dtype {values.dtype}",
            where="coordinate 'step'" + where_member,
            fix="convert steps to numbers (e.g. parse 'ckpt-1000' to 1000)",
        )
    label = (lambda i: f"{control}={labels[i]!s}") if labels is not None else (lambda i: f"{control} index {i}")
    if np.isnan(values.astype(float)).any():
        i = int(np.flatnonzero(np.isnan(values.astype(float)))[0])
        raise SchemaError("'step' contains NaN", where=label(i) + where_member,
                          fix="give every checkpoint a numeric step")
    dec = np.flatnonzero(np.diff(values.astype(float)) < 0)
    if dec.size:
        i = int(dec[0]) + 1
        raise SchemaError(
            f"'step' decreases from {values[i - 1]!s} to {values[i]!s}",
            where=label(i) + where_member,
            fix="sort the checkpoints by step: ds.sortby('step')",
        )


def validate(ds: xr.Dataset, *, control: str = "checkpoint", n_states: int | None = None) -> xr.Dataset:
    """Check a samples dataset against the data model and return it in canonical form.

    Checks: ``token`` present and integer-valued; ``checkpoint`` (or ``control``) and
    ``sample`` dims present; dims transposed silently into canonical order; values
    ``>= -1`` and ``< n_states`` where q is known; ``step`` numeric and non-decreasing;
    checkpoint labels unique; not empty.

    Dask-backed tokens are not read here: their value checks run inside the task that
    reads each chunk (the first computation — counting, in ``analyze`` — raises the
    SchemaError, with the same problem, place and fix), so a store is read once, not once
    to validate and once to count. :func:`check_token_values` runs them at once.

    Parameters
    ----------
    ds : Dataset
    control : name of the control dim (default ``"checkpoint"``)
    n_states : q, if not in ``ds.attrs["n_states"]`` (stored into attrs when given)

    Returns
    -------
    Dataset, transposed into canonical dim order, with ``attrs["n_states"]`` set when known.

    Raises
    ------
    SchemaError
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(
            f"validate expects an xarray Dataset, got {type(ds).__name__}",
            where="first argument",
            fix="wrap a token DataArray with da.to_dataset(name='token')",
        )
    tok = token_array(ds)
    required = (control, "sample")
    missing = [d for d in required if d not in tok.dims]
    if missing:
        raise SchemaError(
            f"'token' is missing the required dim(s) {missing}",
            where=f"'token' has dims {list(tok.dims)}",
            fix="add them (ds.expand_dims('checkpoint')) or rename yours "
            "(ds.rename({'step_dim': 'checkpoint'})); a single checkpoint or sample is a dim of size 1",
        )
    if tok.size == 0:
        raise SchemaError(
            "the dataset is empty",
            where=", ".join(f"{d}={n}" for d, n in tok.sizes.items()),
            fix="check the loader mapping: no rows were read",
        )
    q = resolve_n_states(ds, n_states)  # the one rule: n_states=, else attrs; a SchemaError if not >= 1
    if _is_dask(tok.data):
        ds = _deferred_value_check(ds, q)   # checked as each chunk is read: no read here
    else:
        _check_values(tok, q)
    _check_steps(ds, control)
    order = canonical_order(tok.dims) if control == "checkpoint" else _order_with_control(tok.dims, control)
    out = ds.transpose(*order, ...)
    if q is not None:
        out.attrs["n_states"] = q
    return out


def _order_with_control(dims: tuple[Hashable, ...], control: str) -> tuple[Hashable, ...]:
    canon = ("prompt", "sample", "position")
    extras = [d for d in dims if d not in canon and d != control]
    return tuple(extras) + (control,) + tuple(d for d in canon if d in dims)


def summary(ds: xr.Dataset) -> dict[str, Any]:
    """A JSON-friendly summary of a samples dataset (dims, sizes, q, steps, unparsed counts)."""
    tok = token_array(ds)
    out: dict[str, Any] = {
        "dims": {str(d): int(n) for d, n in tok.sizes.items()},
        "n_states": int(ds.attrs["n_states"]) if "n_states" in ds.attrs else None,
        "dtype": str(tok.dtype),
    }
    if "step" in ds.coords:
        steps = ds["step"].values
        out["steps"] = {"first": float(steps[0]), "last": float(steps[-1]), "count": int(steps.size)}
    if "stage" in ds.coords:
        stages = [str(s) for s in ds["stage"].values]
        out["stages"] = list(dict.fromkeys(stages))
    data = np.asarray(tok.data) if not type(tok.data).__module__.startswith("dask") else None
    if data is not None:
        out["tokens"] = int((data >= 0).sum())
        out["padding"] = int((data < 0).sum())
    for key in ("n_unparsed", "n_rows", "n_skipped", "source"):
        if key in ds.attrs:
            v = ds.attrs[key]
            out[key] = v.item() if hasattr(v, "item") else v
    return out
