"""Mutual information between tokens r apart, I(r) = H(s_t) + H(s_{t+r}) - H(s_t, s_{t+r}).

Every entropy bias-corrected by a phasekit estimator (Li, "Mutual information functions versus
correlation functions", J. Stat. Phys. 60, 823 (1990)); jackknife over groups of sequences.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from .._meta import estimate, renamed_keyword, resolve_n_states
from ..errors import SchemaError
from ._common import _group_ids, _group_starts, _jackknife_se
from .layout import _cells, _layout, _token_da
from .streaming import lazy_mutual_information


def _entropy_batch(
    counts: list[np.ndarray], estimator: str, n_states: int | None
) -> np.ndarray:
    """Entropies (nats) of several count vectors (observed states only), by phasekit.entropy.

    The count-of-counts fingerprints are built here and passed to
    ``entropy_from_fingerprint`` with the true alphabet size (``None`` when unknown, so
    estimators that need K raise instead of guessing it from the observed support).
    """
    from ..entropy_estimators import entropy_from_fingerprint

    indptr = [0]
    mult: list[np.ndarray] = []
    nwith: list[np.ndarray] = []
    for c in counts:
        j, f = np.unique(c[c > 0], return_counts=True)
        mult.append(j)
        nwith.append(f)
        indptr.append(indptr[-1] + j.size)
    h, _ = entropy_from_fingerprint(
        np.asarray(indptr, dtype=np.int64),
        np.concatenate(mult).astype(np.int64),
        np.concatenate(nwith).astype(np.int64),
        estimator=estimator,
        n_states=n_states,
    )
    return np.asarray(h, dtype=np.float64)


def _loo_counts(codes: np.ndarray, grp: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Count vectors of ``codes``: all of them, then leaving out each group in turn.

    One sort of the (group, code) keys; a leave-one-group-out vector is the total minus
    that group's counts (sparse over the codes present).
    """
    k_codes = int(codes.max()) + 1 if codes.size else 1
    if max(n_groups, 1) * k_codes <= max(1_000_000, 4 * codes.size):  # small code space
        if n_groups < 2:
            return [np.bincount(codes, minlength=k_codes)]
        cnt = np.bincount(grp.astype(np.int64) * k_codes + codes, minlength=n_groups * k_codes)
        cnt = cnt.reshape(n_groups, k_codes)
        total = cnt.sum(axis=0)
        return [total, *list(total[None, :] - cnt)]
    uniq, inv = np.unique(codes, return_inverse=True)
    total = np.bincount(inv, minlength=uniq.size)
    out = [total]
    if n_groups < 2:
        return out
    key = grp.astype(np.int64) * uniq.size + inv
    gk, cnt = np.unique(key, return_counts=True)
    g_of, c_of = gk // uniq.size, gk % uniq.size
    bounds = np.searchsorted(g_of, np.arange(n_groups + 1))
    for k in range(n_groups):
        vec = total.copy()
        sl = slice(bounds[k], bounds[k + 1])
        vec[c_of[sl]] -= cnt[sl]
        out.append(vec)
    return out


def _mi_at_lag(x: np.ndarray, r: int, gid_rows: np.ndarray, g: int, estimator: str,
               q: int | None) -> tuple[float, float]:
    """I(r) of one cell (M sequences × L) and its delete-a-group jackknife error."""
    length = x.shape[1]
    width = int(x.max()) + 2 if x.size else 2
    a, b = x[:, : length - r], x[:, r:]
    ok = (a >= 0) & (b >= 0)
    grp = np.broadcast_to(gid_rows[:, None], a.shape)[ok]
    av, bv = a[ok], b[ok]
    if av.size == 0:
        return np.nan, np.nan
    n_sub = g if g >= 2 else 0
    ent_x = _entropy_batch(_loo_counts(av, grp, n_sub), estimator, q)
    ent_y = _entropy_batch(_loo_counts(bv, grp, n_sub), estimator, q)
    joint = av.astype(np.int64) * width + bv
    ent_xy = _entropy_batch(_loo_counts(joint, grp, n_sub), estimator, None if q is None else q * q)
    mi = ent_x + ent_y - ent_xy
    return float(mi[0]), float(_jackknife_se(mi[1:, None])[0]) if g >= 2 else np.nan


def mutual_information(
    ds: xr.Dataset | xr.DataArray,
    *,
    sequence: Hashable = "position",
    max_lag: int | None = None,
    estimator: str = "miller_madow",
    n_states: int | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    keep: Hashable | Iterable[Hashable] | None = None,
    n_jackknife: int = 20,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Mutual information between tokens ``r`` apart, :math:`I(r)`, in nats.

    .. math:: I(r) = H(s_t) + H(s_{t+r}) - H(s_t, s_{t+r}),

    with the pairs ``(t, t+r)`` pooled over positions and replica dims (``-1`` excluded
    pairwise) and every entropy bias-corrected by ``estimator`` (phasekit.entropy's
    ``entropy_from_counts``; the joint has :math:`q^2` states). Unlike :math:`C(r)`,
    :math:`I(r)` sees any dependence, not only "same-state" (Li 1990).

    Parameters
    ----------
    ds, sequence, replica, keep : as in :func:`correlation_function` (``dim=`` is the
        deprecated old name of ``sequence=``).
    max_lag : largest lag (default ``min(L - 1, 32)``; each lag costs one count of all pairs).
    estimator : entropy estimator name passed to ``entropy_from_counts``.
    n_states : q (default: the data's ``n_states`` attr); needed by estimators that use it.
    n_jackknife : groups of sequences for the delete-a-group jackknife error.

    Returns
    -------
    DataArray ``mutual_information`` with dims ``(*keep, "lag")`` (lags 1..R), ``stderr``.
    """
    from ..lazy import is_lazy

    sequence = renamed_keyword("mutual_information", "dim", "sequence", dim, sequence, "position")
    if is_lazy(ds):  # dask-backed: one I(r) per block of the kept dims (lazy)
        lazy = lazy_mutual_information(mutual_information, ds, sequence=sequence, replica=replica, keep=keep,
                                       kwargs={"max_lag": max_lag, "estimator": estimator, "n_states": n_states,
                                               "n_jackknife": n_jackknife})
        if lazy is not None:
            return lazy
    tok = _token_da(ds)
    kept, rep = _layout(tok, sequence, replica, keep)
    cells, kshape = _cells(tok, sequence, kept, rep)
    length = cells.shape[2]
    r_max = min(length - 1, 32) if max_lag is None else int(max_lag)
    if not 1 <= r_max < length:
        raise SchemaError(
            f"max_lag={max_lag} is outside [1, {length - 1}]",
            where=f"sequence axis {sequence!r} of length {length}",
            fix=f"pass 1 <= max_lag <= {length - 1}",
        )
    q = resolve_n_states(tok, n_states)
    n_cells, m, _ = cells.shape
    g = max(1, min(m, int(n_jackknife)))
    gid_rows = _group_ids(m, _group_starts(m, g))
    values = np.full((n_cells, r_max), np.nan)
    errors = np.full((n_cells, r_max), np.nan)
    for i in range(n_cells):
        for r in range(1, r_max + 1):
            values[i, r - 1], errors[i, r - 1] = _mi_at_lag(cells[i], r, gid_rows, g, estimator, q)
    coords: dict[Hashable, Any] = {d: tok.coords[d] for d in kept if d in tok.coords}
    coords["lag"] = np.arange(1, r_max + 1)
    value = xr.DataArray(values.reshape(*kshape, r_max), dims=(*kept, "lag"), coords=coords)
    return estimate(
        value,
        errors.reshape(*kshape, r_max),
        name="mutual_information",
        estimator=f"I(r) = H(x) + H(y) - H(x, y), entropies by {estimator}",
        units="nats",
        sequence=str(sequence),
        replica=[str(d) for d in rep],
        kept=[str(d) for d in kept],
        n_states=q,
        N=int((cells >= 0).sum()),
        error_method=f"delete-a-group jackknife over {g} groups of sequences"
        if g >= 2
        else "none (a single sequence per cell)",
    )
