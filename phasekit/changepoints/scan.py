r"""The divergence scan of Arnold et al. (2024) and its peaks.

:func:`divergence_scan`: at each point of the control axis, the divergence between the
pooled output distributions of the checkpoints just before and just after it, against
the level finite samples alone would give (multinomial redraws); :func:`scan_peaks`:
where it jumps. Moved from ``phasekit.anatomy`` (old import paths keep working).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from scipy.signal import find_peaks

from .._meta import append_history, as_dims, estimate, require_dims
from ..distributions import js_divergence, multinomial_redraw, normalise, tv_distance
from ..errors import SchemaError
from ..resampling import DEFAULT_SEED, rng_for

if TYPE_CHECKING:
    from ..configurations import Ensemble

__all__ = ["divergence_scan", "scan_peaks"]



def _redraw(counts: np.ndarray, rng: np.random.Generator, probs: np.ndarray | None = None) -> np.ndarray:
    """Multinomial redraw of every row (same totals) as floats (:func:`multinomial_redraw`)."""
    return multinomial_redraw(counts, rng, probs).astype(float)








_DIVERGENCES = {"js": (js_divergence, "nats", "Jensen-Shannon divergence (Lin 1991), natural log"),
                "tv": (tv_distance, "1", "total-variation distance 1/2 sum |p - r|")}






def _block_size(n_elements: int, n_draws: int, budget: int = 2_000_000) -> int:
    """How many random redraws to stack at once so one block holds about ``budget`` numbers."""
    return int(max(1, min(n_draws, budget // max(n_elements, 1))))


def _observed_dense(c: Any) -> np.ndarray:
    """Dense counts (*grid, K) of a Counts object over the K states it observed."""
    used = np.unique(c.states)
    k = max(used.size, 1)
    dense = np.zeros((c.n_config, k))
    rows = np.repeat(np.arange(c.n_config), np.diff(c.indptr))
    dense[rows, np.searchsorted(used, c.states)] = c.counts
    return dense.reshape(*c.shape, k)



def _window_sums(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the ``window`` points before (left) and from (right) each split point.

    ``x`` has the control axis at position -2: (..., C, q). Split ``i`` (1 ≤ i < C) puts
    points ``max(0, i-w) … i-1`` left and ``i … min(C, i+w) - 1`` right; split 0 is empty.
    """
    n = x.shape[-2]
    cum = np.concatenate([np.zeros((*x.shape[:-2], 1, x.shape[-1])), np.cumsum(x, axis=-2)], axis=-2)
    i = np.arange(n)
    lo = np.maximum(i - window, 0)
    hi = np.minimum(i + window, n)
    left = cum[..., i, :] - cum[..., lo, :]
    right = cum[..., hi, :] - cum[..., i, :]
    left[..., 0, :] = 0.0
    return left, right


def _scan_stat(left: np.ndarray, right: np.ndarray, func, avg_axes: tuple[int, ...]) -> np.ndarray:
    """The divergence of every configuration, averaged (NaN-aware) over ``avg_axes``."""
    d = func(normalise(left), normalise(right))
    if not avg_axes:
        return d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d, axis=avg_axes)



def _check_scan_arguments(window: int, divergence: str, level: float) -> None:
    if divergence not in _DIVERGENCES:
        raise SchemaError(f"unknown divergence {divergence!r}", where="divergence_scan(divergence=...)",
                          fix=f"use one of {sorted(_DIVERGENCES)}")
    if int(window) < 1:
        raise SchemaError(f"window must be >= 1, got {window}", where="divergence_scan(window=...)",
                          fix="pass the number of points pooled on each side, e.g. window=3")
    if not 0 < level < 1:
        raise SchemaError(f"level must be in (0, 1), got {level}", where="divergence_scan(level=...)",
                          fix="pass e.g. level=0.99")


def _scan_layout(tok: xr.DataArray, dim: Hashable, system: tuple[Hashable, ...],
                 pool: tuple[Hashable, ...], average: Any,
                 n_states: int | None, source: Any = None,
                 ) -> tuple[Any, np.ndarray, list[Hashable], tuple[Hashable, ...]]:
    """Counts as (*rest, *average, dim, K), the Counts object, the rest and averaged dims.

    ``source``: where the counts come from (a Dataset is counted now; an Ensemble's counts
    are pooled, no token read); default ``tok``."""
    from ..configurations import as_counts

    require_dims(tok, (dim,), argument="control")
    require_dims(tok, system, argument="system")
    require_dims(tok, pool, argument="pool")
    if dim in system or dim in pool:
        raise SchemaError(f"the scanned dim {dim!r} cannot be counted over or pooled",
                          where=f"system={system}, pool={pool}", fix="scan a kept dim")
    if tok.sizes[dim] < 2:
        raise SchemaError(f"a scan needs at least 2 points along {dim!r}, got {tok.sizes[dim]}",
                          where="divergence_scan", fix="pass data with more checkpoints")
    c = as_counts(tok if source is None else source, system=system, n_states=n_states)
    if pool:
        c = c.pool(pool)
    kept = list(c.dims)
    if average is None:
        average = tuple(d for d in ("prompt",) if d in kept and d != dim)
    else:
        average = as_dims(average)
        bad = [d for d in average if d not in kept or d == dim]
        if bad:
            raise SchemaError(f"cannot average over {bad}", where=f"kept dims are {kept}",
                              fix=f"name dims among {[d for d in kept if d != dim]}")
    rest = [d for d in kept if d != dim and d not in average]
    order = [kept.index(d) for d in (*rest, *average, dim)]
    return c, np.transpose(_observed_dense(c), (*order, len(kept))), rest, average


def _scan_null(left: np.ndarray, right: np.ndarray, func: Callable, avg_axes: tuple[int, ...],
               value: np.ndarray, n_null: int, level: float,
               rng: np.random.Generator) -> tuple[list[np.ndarray], str]:
    """Null mean, null ``level`` quantile, p-value and stderr of the scan by multinomial
    redraws (null: both windows from their pooled distribution; error: each window from
    its own), and how the error was made."""
    if n_null <= 0:
        return [np.full(value.shape, np.nan) for _ in range(4)], "none (n_null=0)"
    pooled = normalise(left + right)
    null_draws, err_draws = [], []
    shifted = tuple(a + 1 for a in avg_axes)
    block = _block_size(left.size, max(n_null, 1))
    for start in range(0, n_null, block):
        nb = min(block, n_null - start)
        lb = np.broadcast_to(left, (nb, *left.shape))
        rb = np.broadcast_to(right, (nb, *right.shape))
        pb = np.broadcast_to(pooled, (nb, *pooled.shape))
        null_draws.append(_scan_stat(_redraw(lb, rng, pb), _redraw(rb, rng, pb), func, shifted))
        err_draws.append(_scan_stat(_redraw(lb, rng), _redraw(rb, rng), func, shifted))
    null = np.concatenate(null_draws)
    p_value = (1.0 + (null >= value[None] - 1e-12).sum(axis=0)) / (1.0 + n_null)
    out = [null.mean(axis=0), np.quantile(null, level, axis=0), p_value,
           np.std(np.concatenate(err_draws), axis=0, ddof=1)]
    return out, f"multinomial redraws of each window, {n_null} draws"


def divergence_scan(
    ds: xr.Dataset | xr.DataArray | Ensemble,
    *,
    control: Hashable | None = None,
    window: int = 3,
    divergence: str = "js",
    system: Hashable | Iterable[Hashable] = ("sample",),
    pool: Hashable | Iterable[Hashable] = (),
    average: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
    n_null: int = 200,
    level: float = 0.99,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Divergence between the output distributions just before and just after each point.

    The black-box scan of Arnold et al. (2024): at split point :math:`i` along the
    control dim,

    .. math::

        D_i = \big\langle\, d\big(\hat P^{\mathrm{left}}_i, \hat P^{\mathrm{right}}_i\big)
        \big\rangle_{\mathrm{average}}

    where :math:`\hat P^{\mathrm{left}}_i` pools the counts of the ``window`` points
    :math:`i-w … i-1` and :math:`\hat P^{\mathrm{right}}_i` those of :math:`i … i+w-1`
    (windows truncated at the ends), :math:`d` is the Jensen–Shannon divergence
    (``"js"``, nats) or the total-variation distance (``"tv"``), averaged over the
    ``average`` dims. The value at point :math:`i` is the change *entering* checkpoint
    :math:`i`; the first point has no left window and is NaN. Peaks mark transitions
    (:func:`scan_peaks`).

    Finite samples make :math:`D` positive even without change, so the result carries
    the *null level*: left and right counts redrawn from a multinomial with their own
    totals and the pooled distribution of both windows, ``n_null`` times (coords
    ``null`` = mean, ``null_upper`` = the ``level`` quantile, ``p_value`` =
    (1 + #{null ≥ D}) / (1 + n_null)). The standard error (coord ``stderr``) is the
    spread of :math:`D` over redraws of each window from its own empirical distribution.

    Parameters
    ----------
    ds : samples Dataset (``token``) or token DataArray.
    control : the control dim scanned (default ``"checkpoint"``; ``dim`` is the
        deprecated alias).
    window : points pooled on each side (≥ 1).
    divergence : ``"js"`` or ``"tv"``.
    system : dims counted into one distribution (default the samples).
    pool : kept dims whose counts are added before the divergence (``pool="prompt"``
        scans the prompt-pooled output distribution, as in Arnold et al.).
    average : kept dims over which the per-configuration divergences are averaged
        (default: ``"prompt"`` when present); remaining dims stay in the result.
    n_states : q (optional: divergences only need the observed states).
    n_null, level, seed : null and error redraws, the quantile reported as
        ``null_upper``, and the random seed (``DEFAULT_SEED`` by default; ``None`` fresh).

    Returns
    -------
    xr.DataArray
        Along the control dim (with its coords, e.g. ``step``) and any remaining dims;
        coords ``stderr``, ``null``, ``null_upper``, ``p_value``; attrs say the
        divergence, window and null.

    References
    ----------
    J. Arnold, F. Holtorf, F. Schäfer, N. Lörch, "Phase transitions in the output
    distribution of large language models", arXiv 2405.17088 (2024).
    """
    from ..configurations import token_view

    if dim is not None:
        warnings.warn("divergence_scan(dim=...) is deprecated: the control dim is now control=...",
                      DeprecationWarning, stacklevel=2)
    ctrl = dim if dim is not None else (control if control is not None else "checkpoint")
    _check_scan_arguments(window, divergence, level)
    window = int(window)
    func, units, desc = _DIVERGENCES[divergence]
    rng, seed_attr = rng_for(seed)
    tok = token_view(ds)  # the token array, or an Ensemble's token-less view (labels, sizes)
    system, pool = as_dims(system), as_dims(pool)
    c, x, rest, average = _scan_layout(tok, ctrl, system, pool, average, n_states, source=ds)
    avg_axes = tuple(range(len(rest), len(rest) + len(average)))
    left, right = _window_sums(x, window)
    value = _scan_stat(left, right, func, avg_axes)
    value[..., 0] = np.nan
    (null_mean, null_upper, p_value, stderr), error_method = _scan_null(
        left, right, func, avg_axes, value, int(n_null), level, rng)
    for arr in (null_mean, null_upper, p_value, stderr):
        arr[..., 0] = np.nan
    out_dims = (*rest, ctrl)
    coords = {name: var.variable for name, var in tok.coords.items()
              if set(var.dims) <= set(out_dims) and name not in system}
    da = xr.DataArray(value, dims=out_dims, coords=coords, name=f"{divergence}_scan")
    res = estimate(
        da, stderr, name=f"{divergence}_scan",
        estimator=f"divergence scan (Arnold et al. 2024): {desc} between pooled windows",
        units=units, divergence=divergence, window=window, control=str(ctrl),
        system=[str(s) for s in system], pooled=[str(p) for p in pool],
        averaged=[str(a) for a in average], n_null=int(n_null), level=level, seed=seed_attr,
        null_method="multinomial redraws of both windows from their pooled distribution",
        error_method=error_method, n_states=c.n_states,
        location_convention="value at point i compares points i-w..i-1 with i..i+w-1",
        reference="Arnold, Holtorf, Schaefer, Loerch 2024, arXiv 2405.17088",
    )
    res = res.assign_coords(null=(out_dims, null_mean), null_upper=(out_dims, null_upper),
                            p_value=(out_dims, p_value))
    res.attrs = append_history(res.attrs, f"divergence_scan(control={ctrl!r}, window={window}, "
                                          f"divergence={divergence!r})")
    return res


def scan_peaks(
    scan: xr.DataArray,
    *,
    distance: int | None = None,
    significant: bool = True,
    min_prominence: float | None = None,
) -> xr.DataArray:
    r"""The peaks of a :func:`divergence_scan`: where the output distribution jumps.

    A peak is a local maximum of the scan (``scipy.signal.find_peaks``; the ends count)
    at least ``distance`` points (default: the scan's window) from a higher peak that

    * exceeds the scan's null level ``null_upper`` at that point (``significant=True``):
      more change than finite samples would give; and
    * stands out from its surroundings by a prominence of at least ``min_prominence``
      (default: 3 × the scan's standard error at the peak plus the spread of the null,
      ``null_upper - null``), so that wiggles of sampling noise are not reported.

    Returns the scan at the peaks (all its coords, e.g. ``step`` = the location, and
    ``stderr``, ``null``, ``p_value``), sorted by position, with coord ``prominence``.
    """
    if not isinstance(scan, xr.DataArray) or scan.ndim != 1:
        raise SchemaError("scan_peaks needs a one-dimensional scan",
                          where=f"got dims {getattr(scan, 'dims', None)}",
                          fix="select one series first, e.g. scan.sel(model=...)")
    dim = scan.dims[0]
    values = np.asarray(scan.values, dtype=float)
    if distance is None:
        distance = int(scan.attrs.get("window", 1))
    padded = np.concatenate([[-np.inf], np.where(np.isfinite(values), values, -np.inf), [-np.inf]])
    finite_min = np.nanmin(values) if np.isfinite(values).any() else 0.0
    padded = np.where(np.isfinite(padded), padded, finite_min - 1.0)
    idx, props = find_peaks(padded, distance=max(int(distance), 1), prominence=0.0)
    idx = idx - 1
    prom = props["prominences"]
    keep = (idx >= 0) & (idx < values.size)
    idx, prom = idx[keep], prom[keep]
    keep = np.isfinite(values[idx])
    idx, prom = idx[keep], prom[keep]

    def coord(name: str) -> np.ndarray:
        if name in scan.coords:
            return np.asarray(scan.coords[name].values, dtype=float)
        return np.full(values.shape, np.nan)

    se, null, upper = coord("stderr"), coord("null"), coord("null_upper")
    if significant and np.isfinite(upper).any():
        keep = values[idx] > upper[idx]
        idx, prom = idx[keep], prom[keep]
    if min_prominence is None:
        need = 3.0 * (np.nan_to_num(se[idx]) + np.nan_to_num(upper[idx] - null[idx]))
    else:
        need = np.full(idx.shape, float(min_prominence))
    keep = prom >= need
    idx, prom = idx[keep], prom[keep]
    out = scan.isel({dim: idx}).assign_coords(prominence=(dim, prom))
    out.attrs = append_history(
        {**scan.attrs, "peaks": "local maxima above null_upper with prominence >= "
                                + ("3*(stderr + null_upper - null)" if min_prominence is None
                                   else str(min_prominence))},
        "scan_peaks",
    )
    return out

