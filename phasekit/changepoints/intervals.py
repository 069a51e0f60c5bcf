r"""Confidence sets of boundary locations by inverting the likelihood ratio.

Between its neighbours, the profile cost of a boundary's location is minimal at the
estimate :math:`\hat t`; the set is every :math:`t` whose profile is within
:math:`c_\alpha` of the minimum, :math:`c_\alpha` the :math:`1-\alpha` quantile of the
same gap at the true location over draws from the fitted model (Siegmund 1988,
Biometrika 75:539; Hinkley 1970, Biometrika 57:1): multinomial draws for samples
(:func:`lr_interval_counts`), a moving-block residual bootstrap for series
(:func:`lr_interval_series`). Sets always contain the estimate; they are reported in
control values as ``(lower, upper]`` (:func:`interval_values`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .costs import deviance
from .search import segments
from .series_test import residual_model

__all__ = ["interval_values", "location_spread", "lr_interval_counts", "lr_interval_series",
           "series_boot_cums"]


def location_profile(cum: np.ndarray, min_size: int, merge_within: int, phi: float,
                      extra: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Best cost of a stretch ``[0, L)`` given the boundary's first cut at ``t``, per draw.

    The boundary is one cut ``t`` (cost :math:`c(0,t) + c(t,L)`) or a ramp of two cuts
    ``t < u < t + merge_within`` (:math:`c(0,t)+c(t,u)+c(u,L) + \mathrm{extra}`, the
    BIC charge of the extra segment), reported at ``t`` as the merge rule does;
    :math:`c` is the multinomial deviance / ``phi``. ``cum``: cumulative counts
    (B, L+1, P, K). Returns ``ts``, the profile (B, len(ts)) and the ramp's second cut
    (B, len(ts); -1 for one cut).
    """
    length = cum.shape[1] - 1
    ts = np.arange(min_size, length - min_size + 1)

    def segcost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return deviance(cum[:, b] - cum[:, a]).sum(axis=-1) / phi

    zero, end = np.zeros_like(ts), np.full_like(ts, length)
    head = segcost(zero, ts)
    prof = head + segcost(ts, end)
    second = np.full(prof.shape, -1)
    if merge_within > min_size and ts.size:
        t1 = np.concatenate([np.full(max(0, min(t + merge_within, length - min_size + 1) - t - min_size), j)
                             for j, t in enumerate(ts)]).astype(int)
        if t1.size:
            t2 = np.concatenate([np.arange(t + min_size, min(t + merge_within, length - min_size + 1))
                                 for t in ts]).astype(int)
            ramp = head[:, t1] + segcost(ts[t1], t2) + segcost(t2, np.full_like(t2, length)) + extra
            for j in np.unique(t1):
                sel = np.flatnonzero(t1 == j)
                best = sel[np.argmin(ramp[:, sel], axis=1)]
                val = ramp[np.arange(ramp.shape[0]), best]
                better = val < prof[:, j]
                prof[better, j] = val[better]
                second[better, j] = t2[best[better]]
    return ts, prof, second


def fitted_probs(sub: np.ndarray, cuts: Sequence[int]) -> np.ndarray:
    """Per-(checkpoint, prompt) probabilities of the piecewise-constant fit (L, P, K)."""
    out = np.empty_like(sub, dtype=float)
    k = sub.shape[-1]
    for a, b in segments(cuts, sub.shape[0]):
        tot = sub[a:b].sum(axis=0)
        n = tot.sum(axis=-1, keepdims=True)
        out[a:b] = np.where(n > 0, tot / np.where(n > 0, n, 1), 1.0 / k)
    return out


#: counts held by the largest temporary of one block of redraws (the ramp's segment costs)
REDRAW_BLOCK_BUDGET = 2_000_000


def _redraws_per_block(stretch_size: int, merge_within: int, min_size: int) -> int:
    """Redraws per block so that the largest temporary of :func:`location_profile` — the
    ramp's segment costs, (redraws, positions × second cuts, P, K) with up to
    ``merge_within - min_size`` second cuts per position — holds about
    :data:`REDRAW_BLOCK_BUDGET` numbers. The draws are one stream in replicate order, so
    the block size changes no number."""
    per_redraw = max(1, stretch_size) * (1 + max(0, merge_within - min_size))
    return max(1, REDRAW_BLOCK_BUDGET // per_redraw)


def lr_interval_counts(counts: np.ndarray, lo: int, hi: int, est: int, *, min_size: int,
                        merge_within: int, phi: float, extra: float, n_boot: int, alpha: float,
                        rng: np.random.Generator) -> tuple[int, int, np.ndarray, dict[str, Any]]:
    r"""Confidence set of a boundary by inverting the likelihood ratio (Siegmund 1988).

    On the stretch ``[lo, hi)`` between the neighbouring boundaries, the profile cost
    :math:`\ell(t)` (:func:`location_profile`) is minimal at :math:`\hat t`. The set is
    :math:`\{t: \ell(t) - \ell(\hat t) \le c_\alpha\}`, where :math:`c_\alpha` is the
    :math:`1-\alpha` quantile of :math:`\ell^*(\hat t) - \min_t \ell^*(t)` over
    multinomial draws from the fitted model (segments cut at :math:`\hat t`, and at the
    ramp's second cut when the ramp fits best) with the observed numbers of samples --
    the distribution of the statistic at the true location (Siegmund 1988, Biometrika
    75:539; Hinkley 1970, Biometrika 57:1). Returns the first and last checkpoint of the
    set (the estimate ``est`` included), the bootstrap locations :math:`\hat t^*` and
    details.
    """
    sub = counts[lo:hi]
    cum_obs = np.concatenate([np.zeros((1, *sub.shape[1:])), np.cumsum(sub, axis=0)])[None]
    ts, prof, second = location_profile(cum_obs, min_size, merge_within, phi, extra)
    if ts.size == 0 or n_boot <= 0:
        return est, est, np.array([est]), {"c_alpha": np.nan}
    j_hat = int(np.argmin(prof[0]))
    cuts = [int(ts[j_hat])] + ([int(second[0, j_hat])] if second[0, j_hat] > 0 else [])
    probs = fitted_probs(sub, cuts)
    tot = sub.sum(axis=-1).astype(np.int64)
    gaps, where = [], []
    chunk = _redraws_per_block(sub.size, merge_within, min_size)
    for s in range(0, n_boot, chunk):
        m = min(chunk, n_boot - s)
        sim = rng.multinomial(tot[None], probs[None], size=(m, *tot.shape)).astype(float)
        cs = np.concatenate([np.zeros((m, 1, *sub.shape[1:])), np.cumsum(sim, axis=1)], axis=1)
        _, pb, _ = location_profile(cs, min_size, merge_within, 1.0, extra)
        gaps.append(pb[:, j_hat] - pb.min(axis=1))
        where.append(ts[np.argmin(pb, axis=1)])
    gap = np.concatenate(gaps)
    c_alpha = float(np.quantile(gap, 1 - alpha, method="higher"))
    rel = prof[0] - prof[0, j_hat]
    inside = ts[rel <= c_alpha + 1e-9 * max(1.0, abs(float(prof[0, j_hat])))] + lo
    first = int(min(inside.min(), est))
    last = int(max(inside.max(), est))
    return first, last, np.concatenate(where) + lo, {"c_alpha": c_alpha, "profile_minimum": int(ts[j_hat] + lo),
                             "ramp_end": int(second[0, j_hat] + lo) if second[0, j_hat] > 0 else None}


def location_spread(boot: np.ndarray, kept_pos: np.ndarray, control_vals: np.ndarray) -> dict[str, float]:
    """Bootstrap standard deviation of a location, in control units and in checkpoints."""
    if boot.size < 2:
        return {"stderr": np.nan, "stderr_checkpoints": np.nan}
    return {"stderr": float(np.std(control_vals[kept_pos[boot]], ddof=1)),
            "stderr_checkpoints": float(np.std(boot, ddof=1))}


def interval_values(first: int, last: int, kept_pos: np.ndarray, control_vals: np.ndarray) -> tuple[float, float]:
    """``(lower, upper]`` in control values: after the checkpoint before ``first``, by ``last``."""
    return float(control_vals[kept_pos[first - 1]]), float(control_vals[kept_pos[last]])


def series_boot_cums(z: np.ndarray, cps: list[int], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative sums (B, n+1, C) of moving-block residual bootstrap series.

    The residuals of the piecewise-constant fit at ``cps`` are resampled in blocks of
    :math:`n^{1/3}` (Kuensch 1989, Ann. Stat. 17:1217; keeps short-range dependence)
    and added back to the fit.
    """
    n, n_ch = z.shape
    resid, _, _ = residual_model(z, cps)
    fitted = z - resid
    block = max(1, int(round(n ** (1 / 3))))
    n_blocks = int(math.ceil(n / block))
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None]).reshape(n_boot, -1)[:, :n]
    zb = fitted[None] + resid[idx]
    return np.concatenate([np.zeros((n_boot, 1, n_ch)), np.cumsum(zb, axis=1)], axis=1)


def split_gains(cum: np.ndarray, a: int, b: int, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-shift gain of every split ``t`` of ``[a, b)``; cum (B, n+1, C) -> ts, (B, len(ts))."""
    ts = np.arange(a + min_size, b - min_size + 1)
    tot = cum[:, b] - cum[:, a]
    left = cum[:, ts] - cum[:, a][:, None]
    g = (left**2 / (ts - a)[None, :, None] + (tot[:, None] - left) ** 2 / (b - ts)[None, :, None]
         - tot[:, None] ** 2 / (b - a)).sum(axis=-1)
    return ts, g


def lr_interval_series(cum_obs: np.ndarray, boot: np.ndarray | None, a: int, b: int, est: int,
                        min_size: int, alpha: float) -> tuple[int, int, np.ndarray]:
    r"""Confidence set of a mean-shift location between its neighbours ``[a, b)``.

    The set is :math:`\{t: g(\hat t) - g(t) \le c_\alpha\}` with :math:`g` the split gain
    and :math:`c_\alpha` the :math:`1-\alpha` quantile of :math:`\max_t g^*(t) - g^*(t_0)`
    over bootstrap series made from the fit with the boundary at :math:`t_0` = ``est``
    (likelihood-ratio inversion, Siegmund 1988, Biometrika 75:539). Returns the first and
    last index of the set (``est`` included) and the bootstrap locations.
    """
    ts, g_obs = split_gains(cum_obs[None], a, b, min_size)
    if ts.size == 0 or boot is None:
        return est, est, np.array([est])
    _, gb = split_gains(boot, a, b, min_size)
    j0 = int(np.clip(est - ts[0], 0, ts.size - 1))
    c_alpha = float(np.quantile(gb.max(axis=1) - gb[:, j0], 1 - alpha, method="higher"))
    rel = g_obs[0].max() - g_obs[0]
    inside = ts[rel <= c_alpha + 1e-9 * max(1.0, float(g_obs[0].max()))]
    return int(min(inside.min(), est)), int(max(inside.max(), est)), ts[np.argmax(gb, axis=1)]

