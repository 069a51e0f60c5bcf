r"""How a correlation curve decays: its class (decaying, anticorrelated, oscillating,
uncorrelated) and its windows (the noise window and Sokal's automatic window).

Sokal's window: the smallest W with :math:`W \ge c\,(\tfrac12 + \sum_{r=1}^W C(r))`
(Sokal, Cargèse lectures 1996; Madras & Sokal, J. Stat. Phys. 50, 109 (1988)).
"""

from __future__ import annotations

import numpy as np

#: a negative lobe must be deeper than this fraction of C(1) to call a curve oscillating
_OSC_DEPTH = 0.05


def _window_end(c: np.ndarray, se: np.ndarray, noise: float, absolute: bool, run: int = 3) -> int:
    """Last lag r >= 1 before the first ``run`` consecutive lags whose (|)C(r)(|) is below
    noise * stderr (a single noisy dip does not end the window)."""
    vals = np.abs(c) if absolute else c
    floor = noise * np.where(np.isfinite(se), se, 0.0)
    low = ~(vals[1:] > floor[1:])
    if low.size >= run:
        runs = np.lib.stride_tricks.sliding_window_view(low, run).all(axis=1)
        starts = np.flatnonzero(runs)
    else:
        starts = np.flatnonzero(low) if low.all() else np.array([], dtype=int)
    if not starts.size:
        return c.size - 1
    return int(starts[0])


def _sokal_window(c: np.ndarray, c_window: float) -> int:
    """Smallest W with W >= c_window * (1/2 + sum_{r=1}^W C(r)) (Sokal 1996)."""
    tau = 0.5 + np.cumsum(np.nan_to_num(c[1:]))
    w = np.arange(1, c.size)
    ok = np.flatnonzero(w >= c_window * tau)
    return int(w[ok[0]]) if ok.size else c.size - 1


def _classify(c: np.ndarray, se: np.ndarray, threshold: float, noise: float) -> tuple[str, int]:
    """(decay, window end) of a normalised correlation curve.

    ``"undefined"`` when C(1) is not a number: no fluctuations (every token of the cell in
    one state, so C(0) = 1 - sum_k p_k^2 = 0 and C(r)/C(0) is 0/0) or no pair of present
    tokens at lag 1.
    """
    s = np.where(np.isfinite(se), se, 0.0)
    if c.size < 2 or not np.isfinite(c[1]):
        return "undefined", 0
    if c[1] < -threshold * s[1]:
        return "anticorrelated", max(1, _window_end(c, se, noise, absolute=True))
    if not c[1] > threshold * s[1]:
        return "uncorrelated", 0
    end = max(1, _window_end(c, se, noise, absolute=False))
    hi = min(c.size - 1, 4 * end + 4)
    tail = np.arange(end + 1, hi + 1)
    if tail.size and np.all(s[tail] > 0) and _has_negative_lobe(c, s, tail, threshold):
        return "oscillating", end
    return "decaying", end


def _has_negative_lobe(c: np.ndarray, s: np.ndarray, tail: np.ndarray, threshold: float) -> bool:
    """A significantly negative C(r) on the lags ``tail`` right after a positive decay.

    Significant after a Bonferroni correction over the lags tested (z = Φ⁻¹(1 − 0.01/n)),
    and deeper than ``_OSC_DEPTH`` · C(1) (noise in C(r) is strongly correlated across
    lags, which makes shallow "significant" dips). Each lag is judged against
    max(σ(r), median σ over ``tail``): the jackknife σ(r) of a same-state correlation
    shrinks with a downward fluctuation of C(r) (a proportion's error, √(P(1 − P)/n), with
    P the same-state probability), so a dip's own σ overstates its significance. On a
    chain whose exact C(r) is positive at every lag (24 states, eigenvalues −0.4 × 12,
    0.7 × 8, 0.9 × 3; 60 × 256 tokens) the deviation from the exact curve and σ(r)
    correlate at 0.42 on lags ≥ 40 and 0.56 % of those lags lie below −3σ (normal 0.13 %);
    the own-σ test called 25 of 300 runs oscillating, the pooled one 2 (docs/correlations.md).
    """
    from scipy.stats import norm

    z = max(norm.isf(0.01 / tail.size), threshold)
    se = np.maximum(s[tail], np.median(s[tail]))
    return bool(np.any((c[tail] < -z * se) & (c[tail] < -_OSC_DEPTH * c[1])))
