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
    from scipy.stats import norm

    s = np.where(np.isfinite(se), se, 0.0)
    if c.size < 2 or not np.isfinite(c[1]):
        return "undefined", 0
    if c[1] < -threshold * s[1]:
        return "anticorrelated", max(1, _window_end(c, se, noise, absolute=True))
    if not c[1] > threshold * s[1]:
        return "uncorrelated", 0
    end = max(1, _window_end(c, se, noise, absolute=False))
    # a significantly negative C(r) soon after the positive decay (Bonferroni over lags)
    # (and deeper than _OSC_DEPTH * C(1): correlated noise makes shallow, "significant" dips)
    hi = min(c.size - 1, 4 * end + 4)
    tail = np.arange(end + 1, hi + 1)
    if tail.size and np.all(s[tail] > 0):
        z = norm.isf(0.01 / tail.size)
        lobe = (c[tail] < -max(z, threshold) * s[tail]) & (c[tail] < -_OSC_DEPTH * c[1])
        if np.any(lobe):
            return "oscillating", end
    return "decaying", end
