r"""Weighted least-squares fits of an exponential :math:`A e^{-r/\xi}` and a power law
:math:`B r^{-\eta}` to a correlation curve, and their log-linear starting values.

Minimises :math:`\chi^2 = \sum_r w_r (C(r) - f(r))^2` with :math:`w_r = 1/\sigma_r^2`
(Levenberg–Marquardt through ``scipy.optimize.curve_fit``; Moré, *Lecture Notes in
Mathematics* 630, 105 (1978)); the parameter covariance is absolute when weights are given.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize


def _fit(model: str, r: np.ndarray, c: np.ndarray, w: np.ndarray | None,
         p0: tuple[float, float]) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """Weighted least-squares fit of A exp(-r/xi) or B r^-eta; returns (params, cov, chi2)."""

    def f(rr: np.ndarray, amp: float, k: float) -> np.ndarray:
        return amp * np.exp(-k * rr) if model == "exp" else amp * rr ** (-k)

    sigma = None if w is None else 1.0 / np.sqrt(w)
    try:
        popt, pcov = optimize.curve_fit(
            f, r, c, p0=p0, sigma=sigma, absolute_sigma=w is not None, maxfev=5000
        )
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return None, None, np.inf
    resid = c - f(r, *popt)
    chi2 = float(np.sum(resid**2 * (1.0 if w is None else w)))
    return popt, pcov, chi2


def _loglin(r: np.ndarray, c: np.ndarray, logx: bool) -> tuple[float, float]:
    """Initial (amplitude, rate) from a straight line through log C."""
    xx = np.log(r) if logx else r
    yy = np.log(np.clip(c, 1e-300, None))
    if r.size == 1:
        return float(c[0]), 1.0
    slope, intercept = np.polyfit(xx, yy, 1)
    return float(np.exp(intercept)), float(max(-slope, 1e-6))
