r"""Whether the window resolves a correlation length; if not, a lower bound or NaN with a reason.

Also the truncation bias of Sokal's window for the integrated length (Sokal 1996, sect. 3)
and the spectral lower bound :math:`\xi_{max} \ge r / (-\ln C_{lo}(r))` of a reversible
chain (Kemeny & Snell 1960; Wilson 1927 for the score limit).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._common import _Z


def _truncated_tail(c: np.ndarray, se: np.ndarray, top: int, end: int,
                    slope: float | None = None) -> tuple[float, float]:
    r"""The part of :math:`\sum_{r\ge1} C(r)` that Sokal's window ``1..top`` leaves out.

    .. math:: T = \sum_{r=W+1}^{W_n} C(r) + C(W_n)\,\frac{\lambda}{1-\lambda},\qquad
              \lambda = e^{-1/\xi_t},

    the measured lags between the Sokal window ``W`` and the noise window ``W_n`` (where C
    reaches ``noise`` standard errors) plus a geometric tail beyond ``W_n``, with
    :math:`\xi_t` the weighted exponential decay length fitted on lags ``W+1..W_n`` (the
    slowest mode that is still visible). A slow mode of small amplitude is what a short
    automatic window misses (Sokal 1996, sect. 3: the window trades bias for variance);
    T is that bias, one-sided (the window underestimates a positive tail). When the noise
    window closes first (``W_n <= W``) the tail beyond W is below the noise but not zero
    (:func:`_tail_beyond_window`).

    Returns ``(T, ln λ)`` (NaN when no decay was fitted). A jackknife replicate passes the
    full curve's ``slope`` = ln λ: refitting λ on a replicate's few noisy lags near the
    noise floor can put λ next to 1 and one replicate's geometric tail at 100× the others',
    which made σ_T alone 1.4× the exact length on pure single-mode chains (1 run in 30 at
    λ = 0.3 and 0.6); with λ held, σ_T is the sampling error of the measured lags and C(W_n).
    """
    if end <= top:
        return _tail_beyond_window(c, se, top, slope)
    rr = np.arange(top + 1, end + 1)
    cc = c[rr]
    measured = float(np.nansum(cc))
    pos = np.isfinite(cc) & (cc > 0)
    if pos.sum() < 2 or not np.isfinite(c[end]) or c[end] <= 0:
        return max(measured, 0.0), float("nan") if slope is None else slope
    if slope is None:
        slope = _log_slope(c, se, rr)
    beyond = 0.0
    if slope < 0:
        lam = math.exp(slope)
        beyond = float(c[end]) * lam / (1.0 - lam)
    return max(measured + beyond, 0.0), slope


def _log_slope(c: np.ndarray, se: np.ndarray, rr: np.ndarray) -> float:
    """Slope of ln C(r) on the positive lags of ``rr``, weights C/σ (the inverse error of
    ln C); NaN with fewer than 2 positive lags."""
    cc = c[rr]
    pos = np.isfinite(cc) & (cc > 0)
    if pos.sum() < 2:
        return float("nan")
    s = se[rr][pos]
    w = np.abs(cc[pos] / s) if np.all(np.isfinite(s)) and np.all(s > 0) else None
    return float(np.polyfit(rr[pos].astype(float), np.log(cc[pos]), 1, w=w)[0])


def _tail_beyond_window(c: np.ndarray, se: np.ndarray, top: int, slope: float | None) -> tuple[float, float]:
    r"""The tail :math:`\sum_{r>W} C(r)` when C reaches the noise inside Sokal's window W.

    .. math:: T = \hat A\,\frac{\lambda}{1-\lambda},\qquad
              \hat A = \frac{\sum_r C(r)\,\lambda^{r-W}}{\sum_r \lambda^{2(r-W)}},

    with λ = e^{slope} from the weighted fit of ln C on the positive lags ``W/2..W`` and Â the
    least-squares amplitude at W of the geometric decay with that λ (linear in C, so a
    jackknife replicate, which keeps the full curve's λ, may have negative lags). Before
    2026-12-04 this tail was taken as 0: on a pure λ = 0.8 chain (100 × 256 tokens) it is
    0.5 % of ξ_int, a quarter of its statistical error, and the 95 % interval missed on the
    upper side in 14 of 150 runs (docs/correlations.md).
    """
    rr = np.arange(max(1, top // 2), top + 1)
    if slope is None:
        slope = _log_slope(c, se, rr)
    cc = c[rr]
    ok = np.isfinite(cc)
    if not np.isfinite(slope) or slope >= 0 or ok.sum() < 2:
        return 0.0, slope
    lam = math.exp(slope)
    basis = lam ** (rr[ok] - top).astype(float)
    amp = float(np.sum(cc[ok] * basis) / np.sum(basis**2))
    return max(amp * lam / (1.0 - lam), 0.0), slope


def _score_interval(xi: float, se_lower: float, se_upper: float, power: float = 1.5) -> tuple[float, float]:
    r"""95 % interval of an integrated length whose error grows with the length itself.

    Madras & Sokal (1988): :math:`\sigma^2(\hat\tau) \approx 2(2W+1)\tau^2/n` with Sokal's
    window :math:`W \propto \tau`, so :math:`\sigma(\tau) \propto \tau^{3/2}`: a run whose
    estimate fluctuates low also reports a smaller error (over 200 runs of a λ = 0.93
    chain, corr(ξ̂, σ̂) = 0.67). Inverting :math:`|\hat\xi - x| = z\,\sigma(x)`, with
    :math:`\sigma(x) = \hat\sigma\,(x/\hat\xi)^{3/2}` (a score-type interval, as Wilson's
    for a proportion), gives bounds :math:`\hat\xi\,y` with
    :math:`1 - y_- = r_- y_-^{3/2}` and :math:`y_+ - 1 = r_+ y_+^{3/2}`,
    :math:`r = z\hat\sigma/\hat\xi`; the upper root exists for :math:`r_+ \le 2/\sqrt{27}`
    (else the data bound nothing above: ``inf``).
    """
    from scipy.optimize import brentq

    if not (np.isfinite(xi) and xi > 0):
        return xi - _Z * se_lower, xi + _Z * se_upper
    r_lo, r_up = _Z * se_lower / xi, _Z * se_upper / xi
    y_lo = brentq(lambda y: 1.0 - y - r_lo * y**power, 0.0, 1.0) if r_lo > 0 else 1.0
    if r_up <= 0:
        return xi * y_lo, xi
    y_min = (1.0 / (power * r_up)) ** (1.0 / (power - 1.0))     # minimum of r y^p - y + 1
    if r_up * y_min**power - y_min + 1.0 > 0:
        return xi * y_lo, math.inf
    y_up = brentq(lambda y: r_up * y**power - y + 1.0, 1.0, y_min)
    return xi * y_lo, xi * y_up


def _exp_lower_bound(c: np.ndarray, se: np.ndarray, upto: int, absolute: bool) -> float:
    r"""One-sided 97.5 % lower bound on the slowest decay length, from lag ``upto``.

    For a reversible Markov chain (and any positive mixture of decays) the normalised
    same-state correlation is :math:`C(r) = \sum_j a_j \lambda_j^r` with
    :math:`a_j \ge 0`, :math:`\sum_j a_j = C(0) = 1` (spectral decomposition;
    Kemeny & Snell 1960), so :math:`|C(r)| \le |\lambda_{max}|^r` and

    .. math:: \xi_{max} = -1/\ln|\lambda_{max}| \ \ge\ \frac{r}{-\ln C_{lo}(r)}.

    :math:`C_{lo} = \min(C_W, C - z\sigma)` (z = 1.96, one-sided 97.5 %). :math:`C_W` is a
    Wilson score lower limit for :math:`C = 1 - d`, treating the decayed fraction d as a
    proportion with the effective count :math:`n = d(1-d)/\sigma^2` implied by the jackknife
    error σ (Wilson 1927): the plain C − zσ alone undercovers when few renewals are seen
    (87 % instead of 97.5 % on λ = 0.98–0.99 chains of ≤ 39 tokens). Near the noise floor
    (C ≈ 0) the proportion model does not hold — σ does not shrink like √(C(1−C)/n) — and
    the Wilson limit alone lies above C − zσ: it put the bound above the exact ξ in 5 of the
    8 flagged runs of a λ = 0.8 chain on ≤ 39 tokens (e.g. C(19) = 0.044 ± 0.023 gave
    C_W = 0.016 > λ^19 = 0.014), hence the minimum of the two. The lag used is the largest
    ``r <= upto`` with :math:`0 < C_{lo} < 1` (one lag: no maximum over lags, which would
    undercover). NaN when no lag is significantly positive.
    """
    r = np.arange(1, upto + 1)
    cc = np.abs(c[r]) if absolute else c[r]
    d = 1.0 - cc
    with np.errstate(invalid="ignore", divide="ignore"):
        n = d * (1.0 - d) / se[r] ** 2
        hi = (d + _Z**2 / (2 * n) + _Z * np.sqrt(d * (1 - d) / n + _Z**2 / (4 * n**2))) / (1 + _Z**2 / n)
        lo = np.fmin(np.where(np.isfinite(n) & (n > 0), 1.0 - hi, np.nan), cc - _Z * se[r])
    ok = np.flatnonzero(np.isfinite(lo) & (lo > 0) & (lo < 1))
    if not ok.size:
        return float("nan")
    k = ok[-1]
    return float(r[k] / -math.log(lo[k]))


#: the decay classes with no decay to measure, and what is said about them
_NO_DECAY = {
    "uncorrelated": "C(1) is not significantly different from 0",
    "oscillating": "C(r) turns significantly negative after its positive decay (oscillation): no single "
                   "decay length",
    "undefined": "C(r) is undefined: no fluctuations (every token in one state, C(0) = 1 - sum_k p_k^2 = 0) "
                 "or no pair of present tokens at lag 1",
}


def _fit_reaches_noise(se: np.ndarray, res: dict[str, Any], noise: float, r_avail: int) -> bool:
    r"""Whether the fitted decay itself falls to the noise floor within the measured lags:
    :math:`A e^{-r/\xi_{exp}} \le` ``noise`` :math:`\sigma(r)` for some :math:`r \le R`.

    The window closes where the *measured* C(r) stays below the noise; when the fit says C is
    still well above it at every measured lag, the closure was a downward fluctuation of the
    whole curve (its lags are strongly correlated), and ξ is not resolved. Without it, 3 of
    60 λ = 0.9 chains on ≤ 39 tokens were called resolved with ξ = 7.5 ± 0.5 (exact 9.49).
    """
    amp, xi = float(res.get("exp_p0", (np.nan,))[0]), float(res["xi_exp"])
    r = np.arange(1, r_avail + 1)
    floor = noise * se[r]
    if not np.any(np.isfinite(floor)):  # no error bars (a single short sequence): nothing to test
        return True
    return bool(np.any(np.isfinite(floor) & (amp * np.exp(-r / xi) <= floor)))


def _resolution(
    c: np.ndarray, se: np.ndarray, method: str, label: str, res: dict[str, Any], end: int,
    xi: float, xi_se: float, noise: float = 2.0,
) -> dict[str, Any]:
    """Whether the window resolves ξ; if not, the lower bound that can be given, or NaN.

    A length is *resolved* when the curve reaches the noise floor before the last measured
    lag (the window closes, ``end < R``) and, for the exponential and second-moment
    lengths, the fitted decay length is at most the window (``ξ_exp <= end``: the decay
    by a factor e is seen, not extrapolated) and the fitted decay itself reaches the noise
    within the measured lags (:func:`_fit_reaches_noise`); for the integrated length when
    Sokal's window closes too. Otherwise the exponential value is replaced by the lower bound of
    :func:`_exp_lower_bound` (``xi_bound="lower"``), the integrated one by the measured
    partial sum minus z standard errors, and the second-moment one is NaN (it needs the
    whole decay), each with a ``reason``.
    """
    finite = np.flatnonzero(np.isfinite(c))
    r_avail = int(finite[-1]) if finite.size else 0
    out = {"value": xi, "se": xi_se, "resolved": True, "bound": "estimate", "reason": "",
           "lower": xi - _Z * xi_se, "upper": xi + _Z * xi_se}
    if label in _NO_DECAY:
        if label == "uncorrelated":
            out.update(lower=xi, upper=xi, reason=f"{_NO_DECAY[label]}: xi = {xi:g} (its white-noise value)")
        else:
            out.update(value=np.nan, se=np.nan, resolved=False, bound="none", lower=np.nan, upper=np.nan,
                       reason=_NO_DECAY[label])
        return out
    closed = end < r_avail
    absolute = label == "anticorrelated"
    why = ""
    if not closed:
        why = (f"C(r) has not decayed into the noise by the last measured lag R = {r_avail}"
               " (a plateau: sequences too short for this xi, or pooled replicas with different"
               " distributions)")
    elif method != "integrated" and not (np.isfinite(res["xi_exp"]) and res["xi_exp"] <= end):
        why = (f"the fitted decay length {res['xi_exp']:.4g} exceeds the fit window W = {end}:"
               " it is extrapolated, not measured")
    elif method != "integrated" and not _fit_reaches_noise(se, res, noise, r_avail):
        why = (f"the fitted decay A exp(-r/{res['xi_exp']:.4g}) stays above the noise floor up to the last"
               f" measured lag R = {r_avail}: the window closed on a fluctuation of the curve, not on its decay")
    elif method == "integrated" and res["window"] >= r_avail:
        why = f"Sokal's automatic window does not close within the {r_avail} measured lags"
    if not why:
        if label == "power_law" and method != "integrated":
            out["reason"] = ("power law preferred by AIC: xi is the window-effective decay length of "
                             f"lags 1..{end}, not a property of the decay (read eta)")
        if method == "second_moment" and not np.isfinite(xi):
            reason = ("the second-moment length is undefined for anti-correlations" if absolute
                      else "the second-moment sum is not positive")
            out.update(resolved=False, bound="none", lower=np.nan, upper=np.nan, reason=reason)
        if method == "integrated":
            tail = float(res.get("truncation", 0.0))
            tail_se = float(res.get("truncation_se", 0.0))
            tail_se = tail_se if np.isfinite(tail_se) else 0.0
            se_stat = xi_se if np.isfinite(xi_se) else 0.0
            lower, upper = _score_interval(xi, se_stat, math.hypot(se_stat, tail_se))
            out.update(se=math.sqrt(se_stat**2 + tail**2 + tail_se**2), lower=lower,
                       upper=upper + tail, truncation=tail)
        return out
    upto = end if closed else r_avail
    if method == "integrated":
        sums = c[1 : r_avail + 1]
        bound = 0.5 + float(np.nansum(sums)) - _Z * float(np.sqrt(np.nansum(se[1 : r_avail + 1] ** 2)))
    else:
        bound = _exp_lower_bound(c, se, upto, absolute)
    out.update(se=np.nan, resolved=False, upper=np.inf, reason=why)
    if method == "second_moment" or not np.isfinite(bound):
        extra = f"; exponential lower bound {bound:.4g}" if np.isfinite(bound) else ""
        out.update(value=np.nan, bound="none", lower=np.nan, upper=np.nan, reason=why + extra)
    else:
        out.update(value=bound, bound="lower", lower=bound)
    return out
