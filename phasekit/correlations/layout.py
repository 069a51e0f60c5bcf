"""Input of the correlation stage: the token array, which dims are kept and which pooled, cells.

"Every dim not named is kept" (docs/glossary.md): without ``replica=``/``keep=`` only the
``sample`` dim is pooled, so each checkpoint and prompt gets its own curve. A cell's
sequences are the rows of an ``(M, L)`` integer array with ``-1`` for "no token"; the
delete-a-group jackknife groups are contiguous blocks of those rows (:mod:`._common`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np
import xarray as xr

from .._meta import as_dims, require_dims
from ..errors import SchemaError

#: the dim averaged over when neither replica= nor keep= is given (every other dim is kept)
DEFAULT_REPLICA = "sample"


def _token_da(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    from ..schema import token_array

    return token_array(ds)


def _layout(
    tok: xr.DataArray,
    sequence: Hashable,
    replica: Hashable | Iterable[Hashable] | None,
    keep: Hashable | Iterable[Hashable] | None,
) -> tuple[tuple[Hashable, ...], tuple[Hashable, ...]]:
    """(kept dims, replica dims) for a token array and the sequence axis."""
    if sequence not in tok.dims:
        raise SchemaError(
            f"the sequence axis {sequence!r} is not in the data",
            where=f"token dims are {list(tok.dims)}",
            fix=f"pass sequence= one of {list(tok.dims)}",
        )
    rep = as_dims(replica)
    kp = as_dims(keep)
    for name, dims in (("replica", rep), ("keep", kp)):
        require_dims(tok, dims, argument=name)
        if sequence in dims:
            raise SchemaError(
                f"the sequence axis {sequence!r} cannot also be in {name}=",
                where=f"{name}={list(dims)}",
                fix=f"remove {sequence!r} from {name}=",
            )
    others = [d for d in tok.dims if d != sequence]
    if rep and kp:
        if set(rep) & set(kp) or set(rep) | set(kp) != set(others):
            raise SchemaError(
                "replica= and keep= must split the non-sequence dims between them",
                where=f"replica={list(rep)}, keep={list(kp)}, other dims {others}",
                fix="pass only one of replica= and keep=",
            )
    elif rep:
        kp = tuple(d for d in others if d not in rep)
    elif kp:
        rep = tuple(d for d in others if d not in kp)
    else:
        # nothing named: every dim not named is kept, except the replica dim of the data
        # model (``sample``): one curve per checkpoint, prompt, ... (DESIGN.md). To pool,
        # name the pooled dims in replica=.
        rep = tuple(d for d in others if d == DEFAULT_REPLICA)
        kp = tuple(d for d in others if d not in rep)
    return kp, rep


def _token_values(tok: xr.DataArray) -> np.ndarray:
    """Integer numpy values of a token array, checked for the -1 padding convention."""
    vals = np.asarray(tok.values)
    if vals.dtype.kind == "f":
        if not np.all(np.isfinite(vals)) or np.any(vals != np.round(vals)):
            raise SchemaError(
                "tokens must be integers (-1 for no token); found non-integer or NaN values",
                where="variable 'token'",
                fix="fill missing tokens with -1 and cast: ds['token'].fillna(-1).astype(int)",
            )
        vals = vals.astype(np.int64)
    elif vals.dtype.kind not in "iub":
        raise SchemaError(
            f"tokens must be integers, got dtype {vals.dtype}",
            where="variable 'token'",
            fix="encode answers as integer states with phasekit.open_samples(..., encoder=...)",
        )
    vals = vals.astype(np.int64, copy=False)
    if vals.size and vals.min() < -1:
        raise SchemaError(
            f"token values below -1 found (minimum {vals.min()})",
            where="variable 'token'",
            fix="use -1 (and only -1) for 'no token'",
        )
    return vals


def _cells(
    tok: xr.DataArray, dim: Hashable, kept: tuple[Hashable, ...], rep: tuple[Hashable, ...]
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Token values as (n_cells, M sequences, L) with cells over the kept dims (C order)."""
    arr = tok.transpose(*kept, *rep, dim)
    vals = _compact_states(_token_values(arr))
    kshape = tuple(int(tok.sizes[d]) for d in kept)
    n_cells = int(np.prod(kshape, dtype=np.int64)) if kept else 1
    m = int(np.prod([tok.sizes[d] for d in rep], dtype=np.int64)) if rep else 1
    return vals.reshape(n_cells, m, int(tok.sizes[dim])), kshape


def _compact_states(vals: np.ndarray) -> np.ndarray:
    """Relabel states 0..K-1 (order kept, -1 kept) when the ids are large and sparse.

    Equality is all a same-state count or an entropy needs, so this changes no result;
    it bounds the q-sized scratch arrays and keeps joint codes (q^2) inside int64.
    """
    top = int(vals.max()) if vals.size else 0
    if top < (1 << 22):  # vocabularies up to ~4M ids: q-sized scratch is cheap
        return vals
    valid = vals >= 0
    out = np.full(vals.shape, -1, dtype=np.int64)
    out[valid] = np.unique(vals[valid], return_inverse=True)[1]
    return out
