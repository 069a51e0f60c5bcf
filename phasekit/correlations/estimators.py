r"""The three correlation-length estimators of one curve on its window.

* exponential: :math:`C(r) = A e^{-r/\xi}` by weighted least squares on lags ``1..W``;
* second moment: :math:`\xi^2 = \sum_{r\ge1} r^2 C(r) / (1 + 2\sum_{r\ge1} C(r))`;
* integrated: :math:`\xi_{int} = \tfrac12 + \sum_{r=1}^{W} C(r)`, Sokal's window;

and the exponential-versus-power-law comparison by AIC (Burnham & Anderson, *Model Selection
and Multimodel Inference*, 2002).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .decay import _sokal_window
from .fits import _fit, _loglin
from .resolution import _truncated_tail

_METHODS = ("exponential", "second_moment", "integrated")


def _length_of(
    c: np.ndarray, se: np.ndarray, method: str, decay: str, end: int, c_window: float,
    eta_start: int = 4, fixed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ξ (and the exp-vs-power-law comparison) of one curve for a given decay class.

    ``end`` is the noise window W (:func:`~.decay._classify`); ``fixed`` holds the full
    curve's window and starting values when a jackknife replicate is refitted. Keys:
    ``xi``, ``xi_se``, ``xi_exp`` (the exponential fit, also under the other methods),
    ``eta``, ``eta_se``, ``delta_aic``, ``window``; ``truncation`` for ``"integrated"``.
    """
    out: dict[str, Any] = {"xi": np.nan, "xi_se": np.nan, "eta": np.nan, "eta_se": np.nan,
                           "delta_aic": np.nan, "decay": decay, "window": end}
    if decay == "uncorrelated":  # white noise: xi = 0, and xi_int = 1/2 + 0 (Sokal's tau_int)
        out["xi"] = 0.5 if method == "integrated" else 0.0
        return out
    if decay in ("oscillating", "undefined"):
        return out
    r = np.arange(1, end + 1, dtype=np.float64)
    y = c[1 : end + 1]
    if decay == "anticorrelated":
        y = np.abs(y)
    has_se = bool(np.all(np.isfinite(se[1 : end + 1])) and np.all(se[1 : end + 1] > 0))
    w = 1.0 / se[1 : end + 1] ** 2 if has_se else None
    if method in ("exponential", "second_moment"):
        out.update(_exponential(r, y, se, w, has_se, fixed))
    out["xi_exp"] = out["xi"]
    if method == "second_moment":
        out.update(_second_moment(c, se, end, decay, out["xi"], out.get("exp_p0", (1.0, 1.0))[0]))
    if method == "integrated":
        out.update(_integrated(c, se, decay, end, c_window, fixed))
    if decay == "decaying" and r.size >= 3:
        out.update(_exp_versus_power(r, y, w, end, eta_start, fixed))
    return out


def _exponential(r: np.ndarray, y: np.ndarray, se: np.ndarray, w: np.ndarray | None, has_se: bool,
                 fixed: dict[str, Any] | None) -> dict[str, Any]:
    r"""Weighted least squares of :math:`C(r) = A e^{-r/\xi}` on lags ``r`` (values ``y``).

    One lag only (the window W = 1): the two points C(0) = 1 and C(1) give
    :math:`\xi = -1/\ln C(1)`, with the delta-method error :math:`\sigma_1 / (C(1) \ln^2 C(1))`.
    """
    out: dict[str, Any] = {}
    a0, k0 = _loglin(r, y, logx=False) if fixed is None else fixed["exp_p0"]
    if r.size == 1:  # two points C(0) = 1 and C(1): xi = -1/ln C(1)
        xi = np.nan
        if 0 < y[0] < 1:
            xi = out["xi"] = -1.0 / math.log(y[0])
            if has_se:
                out["xi_se"] = se[1] / (y[0] * math.log(y[0]) ** 2)
        out["exp_p0"] = (1.0, 1.0 / xi if xi > 0 else 1.0)
        return out
    popt, pcov, _ = _fit("exp", r, y, w, (a0, k0))
    if popt is not None and pcov is not None and popt[1] > 0:
        out["xi"] = 1.0 / popt[1]
        out["xi_se"] = math.sqrt(max(pcov[1, 1], 0.0)) / popt[1] ** 2
        out["exp_p0"] = (float(popt[0]), float(popt[1]))
    return out


def _second_moment(c: np.ndarray, se: np.ndarray, end: int, decay: str, xi_exp: float,
                   amp: float) -> dict[str, Any]:
    r"""Second-moment length :math:`\xi^2 = \sum_{r\ge1} r^2 C(r) / (1 + 2\sum_{r\ge1} C(r))`.

    Measured lags ``1..W`` plus the exponential fit's tail :math:`A e^{-r/\xi_{exp}}` beyond
    W (50 ξ_exp lags); NaN for anything but a positive decay (the sum needs the whole decay).
    Error: first-order propagation of the lag errors (lags treated as independent).
    """
    out: dict[str, Any] = {"xi": np.nan, "xi_se": np.nan}
    if decay != "decaying":
        return out
    rr = np.arange(1, end + 1, dtype=np.float64)
    cc = c[1 : end + 1]
    num = float(np.sum(rr**2 * cc))
    den = 1.0 + 2.0 * float(np.sum(cc))
    if np.isfinite(xi_exp) and xi_exp > 0:  # exponential tail beyond the window
        tail = np.arange(end + 1, end + 1 + int(math.ceil(50 * xi_exp)), dtype=np.float64)
        ct = amp * np.exp(-tail / xi_exp)
        num += float(np.sum(tail**2 * ct))
        den += 2.0 * float(np.sum(ct))
    if num > 0 and den > 0:
        out["xi"] = math.sqrt(num / den)
        if np.all(np.isfinite(se[1 : end + 1])):
            grad = (rr**2 / den - 2.0 * num / den**2) / (2.0 * out["xi"])
            out["xi_se"] = float(np.sqrt(np.sum((grad * se[1 : end + 1]) ** 2)))
    return out


def _integrated(c: np.ndarray, se: np.ndarray, decay: str, end: int, c_window: float,
                fixed: dict[str, Any] | None) -> dict[str, Any]:
    r"""Integrated length :math:`\tfrac12 + \sum_{r=1}^{W} C(r)` with Sokal's window W.

    For positive decays W is Sokal's automatic window (:func:`~.decay._sokal_window`); for
    anti-correlations (alternating terms, where the automatic window stops at W = 1) the
    significance window of |C|. ``truncation`` is the estimated part of the sum beyond W
    (:func:`~.resolution._truncated_tail`), the window's one-sided bias.
    """
    out: dict[str, Any] = {}
    top = end if decay == "anticorrelated" else _sokal_window(c, c_window)
    top = top if fixed is None else fixed["window"]
    out["xi"] = 0.5 + float(np.nansum(c[1 : top + 1]))
    if np.all(np.isfinite(se[1 : top + 1])):
        out["xi_se"] = float(np.sqrt(np.sum(se[1 : top + 1] ** 2)))
    out["window"] = top
    out["truncation"], out["tail_slope"] = 0.0, float("nan")
    if decay != "anticorrelated":
        slope = None if fixed is None else fixed.get("tail_slope")
        out["truncation"], out["tail_slope"] = _truncated_tail(c, se, top, end, slope)
    return out


def _exp_versus_power(r: np.ndarray, y: np.ndarray, w: np.ndarray | None, end: int, eta_start: int,
                      fixed: dict[str, Any] | None) -> dict[str, Any]:
    r"""Exponential :math:`A e^{-r/\xi}` versus power law :math:`B r^{-\eta}` on the window.

    With 2 parameters each, :math:`\Delta AIC = \chi^2_{exp} - \chi^2_{pow}` (Burnham &
    Anderson 2002); η itself is refitted on lags ``eta_start..W`` (short-distance
    corrections to scaling bias the first lags).
    """
    out: dict[str, Any] = {}
    if fixed is None:
        pe = _loglin(r, y, logx=False)
        pp = _loglin(r, y, logx=True)
    else:
        pe, pp = fixed["exp_p0c"], fixed["pow_p0"]
    pe_fit, _, chi_e = _fit("exp", r, y, w, pe)
    pp_fit, pp_cov, chi_p = _fit("pow", r, y, w, pp)
    out["delta_aic"] = chi_e - chi_p  # (chi2_e + 4) - (chi2_p + 4)
    out["exp_p0c"] = pe if pe_fit is None else (float(pe_fit[0]), float(pe_fit[1]))
    out["pow_p0"] = pp if pp_fit is None else (float(pp_fit[0]), float(pp_fit[1]))
    lo = eta_start if end - eta_start >= 2 else 1
    sub = slice(lo - 1, None)
    pq_fit, pq_cov, _ = _fit("pow", r[sub], y[sub], None if w is None else w[sub], out["pow_p0"])
    if pq_fit is not None and pq_cov is not None:
        out["eta"] = float(pq_fit[1])
        out["eta_se"] = math.sqrt(max(pq_cov[1, 1], 0.0))
    return out
