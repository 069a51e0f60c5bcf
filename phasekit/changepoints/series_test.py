"""The series path's no-change test: a parametric AR(1) bootstrap of the best split.

Each channel is scaled by a robust noise estimate (:func:`robust_sigma`); a candidate
boundary ``c`` between its neighbours ``[a, b)`` is tested with the share of variance
explained by the best single split, against stationary Gaussian AR(1) paths fitted to
the split's residuals (:class:`SeriesTest`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .search import segments

__all__ = ["RHO_MAX", "SeriesTest", "ar1_draws", "ar1_fit", "residual_model", "robust_sigma",
           "split_gain_max"]

#: Largest AR(1) autocorrelation of the series no-change null.
#: Largest AR(1) coefficient of the series no-change null. Chosen on synthetic series
#: that include strongly persistent noise (AR(1) rho 0.8-0.97, random walks), where the
#: cap matters (benchmarks/bench_changepoint_constants.py; 0.95 and 0.99 tie there, 0.8
#: cut persistent noise into steps), never on TCPD.
RHO_MAX = 0.99


def robust_sigma(x: np.ndarray) -> np.ndarray:
    """MAD of first differences / (0.6745 sqrt 2), per column; fallback mean |diff|."""
    d = np.diff(x, axis=0)
    med = np.median(d, axis=0)
    mad = np.median(np.abs(d - med), axis=0) / 0.6744897501960817 / math.sqrt(2)
    fallback = np.mean(np.abs(d - med), axis=0) * math.sqrt(math.pi / 2) / math.sqrt(2)
    return np.where(mad > 0, mad, fallback)


def split_gain_max(z: np.ndarray, min_size: int) -> np.ndarray:
    """Max over split points of the mean-shift gain; z (B, L, C) -> (B,)."""
    length = z.shape[1]
    s = np.cumsum(z, axis=1)
    total = s[:, -1:, :]
    t = np.arange(1, length)[None, :, None]
    left = s[:, :-1, :]
    gain = (left**2 / t + (total - left) ** 2 / (length - t) - total**2 / length).sum(axis=-1)
    valid = (np.arange(1, length) >= min_size) & (np.arange(1, length) <= length - min_size)
    if not valid.any():
        return np.zeros(z.shape[0])
    return gain[:, valid].max(axis=1)


def ar1_draws(length: int, rho: np.ndarray, sd: np.ndarray, n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """Stationary Gaussian AR(1) paths, (n_boot, length, C), marginal sd ``sd``."""
    from scipy.signal import lfilter

    n_ch = rho.shape[0]
    e = rng.normal(size=(n_boot, length, n_ch))
    out = np.empty_like(e)
    for c in range(n_ch):
        innov = e[:, :, c] * math.sqrt(1 - rho[c] ** 2)
        innov[:, 0] = e[:, 0, c]  # start in the stationary distribution
        out[:, :, c] = lfilter([1.0], [1.0, -rho[c]], innov, axis=1) * sd[c]
    return out


def ar1_fit(resid: np.ndarray, breaks: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    r"""AR(1) parameters of residuals, per column: autocorrelation and marginal sd.

    Uses the variance ratio of a stationary AR(1), :math:`\operatorname{Var}(\Delta r) =
    2 s^2 (1 - \rho)`, with a robust (MAD) variance of the differences (differences
    across ``breaks``, the segment starts, left out): :math:`\hat\rho = 1 -
    \hat s_\Delta^2 / (2\hat s^2)`, clipped to [0, ``RHO_MAX``] (0.99). Persistent residuals (a
    trend or slow drift left in them) give a large :math:`\hat\rho` and so a wider
    null; the cap keeps a few strongly persistent series from hiding every change.
    """
    d = np.diff(resid, axis=0)
    if len(breaks):
        mask = np.ones(d.shape[0], dtype=bool)
        mask[np.asarray(breaks, dtype=int) - 1] = False
        d = d[mask]
    s2 = np.mean(resid**2, axis=0)
    if d.shape[0] >= 2:
        sd_d = np.median(np.abs(d - np.median(d, axis=0)), axis=0) / 0.6744897501960817
    else:
        sd_d = np.sqrt(2 * s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(s2 > 0, 1 - sd_d**2 / (2 * s2), 0.0)
    rho = np.clip(np.nan_to_num(rho), 0.0, RHO_MAX)
    sd = np.sqrt(s2)
    return rho, np.where(sd > 0, sd, 1e-12)


def residual_model(z: np.ndarray, cps: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of the piecewise-constant fit, their sd and lag-1 autocorrelation."""
    resid = np.empty_like(z)
    for a, b in segments(cps, z.shape[0]):
        resid[a:b] = z[a:b] - z[a:b].mean(axis=0)
    rho, sd = ar1_fit(resid, [c for c in cps if 0 < c < z.shape[0]])
    return resid, sd, rho



class SeriesTest:
    r"""No-change tests of boundaries of a scaled series ``z`` (n, C), cached.

    :meth:`p` tests ``c`` in ``[a, b)``: the statistic is the share of variance explained
    by the best split, :math:`R^2 = \max_s \mathrm{gain}(s) / SS(a, b)`, against
    ``n_boot`` stationary AR(1) paths fitted to the residuals of the split at ``c``
    (:func:`ar1_fit`); p-value :math:`(1 + \#\{R^{2*} \ge R^2\}) / (B + 1)`.
    """

    def __init__(self, z: np.ndarray, n_boot: int, rng: np.random.Generator, min_size: int):
        self.z, self.n, self.n_boot, self.rng, self.min_size = z, z.shape[0], n_boot, rng, min_size
        self.cum = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0)])
        self._cache: dict[tuple[int, int, int], float] = {}

    def gain(self, a: int, b: int, c: int) -> float:
        """Mean-shift gain of splitting ``[a, c)`` at ``b``."""
        tot = self.cum[c] - self.cum[a]
        left = self.cum[b] - self.cum[a]
        return float((left**2 / (b - a) + (tot - left) ** 2 / (c - b) - tot**2 / (c - a)).sum())

    def split_residuals(self, a: int, c: int, b: int) -> np.ndarray:
        """Residuals of ``[a, b)`` about the two segment means of the split at ``c``."""
        seg = self.z[a:b]
        return np.concatenate([seg[: c - a] - seg[: c - a].mean(axis=0),
                               seg[c - a:] - seg[c - a:].mean(axis=0)])

    def p(self, a: int, c: int, b: int) -> float:
        """p-value of the no-change test of ``c`` in ``[a, b)``."""
        key = (a, c, b)
        if key not in self._cache:
            seg = self.z[a:b]
            ss = float(((seg - seg.mean(axis=0)) ** 2).sum())
            rho, sd = ar1_fit(self.split_residuals(a, c, b), [c - a])
            sims = ar1_draws(b - a, rho, sd, self.n_boot, self.rng)
            sims -= sims.mean(axis=1, keepdims=True)
            null = split_gain_max(sims, self.min_size) / np.maximum((sims**2).sum(axis=(1, 2)), 1e-300)
            r2 = self.gain(a, c, b) / ss if ss > 0 else 0.0
            self._cache[key] = float((1 + np.sum(null >= r2)) / (self.n_boot + 1))
        return self._cache[key]

    def neighbours(self, c: int, cur: Sequence[int]) -> tuple[int, int]:
        """The boundaries either side of ``c`` in ``cur`` (0 and n at the ends)."""
        srt = sorted(cur)
        i = srt.index(c)
        return (srt[i - 1] if i > 0 else 0), (srt[i + 1] if i + 1 < len(srt) else self.n)

    def round_pvals(self, cur: Sequence[int]) -> dict[int, float]:
        """p-value of every boundary of ``cur`` between its neighbours."""
        return {c: self.p(self.neighbours(c, cur)[0], c, self.neighbours(c, cur)[1]) for c in cur}

    def best_single_split(self) -> tuple[int | None, float]:
        """The best split of the whole series and its gain (None if too short)."""
        ts = np.arange(self.min_size, self.n - self.min_size + 1)
        if not ts.size:
            return None, 0.0
        gains = np.array([self.gain(0, t, self.n) for t in ts])
        return int(ts[np.argmax(gains)]), float(gains.max())
