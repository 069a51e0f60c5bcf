"""Crossing and peak estimators behind :func:`phasekit.scaling.critical_point`.

Pure functions on per-size curves (:class:`~phasekit.scaling.curves.Curve`): the crossing
of two Binder curves, the extrapolation of pairwise crossings, the χ-peak location and
its extrapolation ``T_L = T_c + a L^{−1/ν}``, and the assumptions each estimate rests on.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import optimize

from .curves import Curve as _Curve


def _local_poly(c: _Curve, center: float, n_local: int) -> np.ndarray | None:
    """Weighted polynomial (cubic where there are enough points) on the nearest points."""
    k = min(n_local, c.t.size)
    if k < 3:
        return None
    idx = np.sort(np.argsort(np.abs(c.t - center), kind="stable")[:k])
    deg = min(3, k - 2)
    w = None
    if c.dy is not None:
        dy = np.maximum(c.dy[idx], _floor(c.dy))
        w = 1.0 / dy
    return np.polyfit(c.t[idx] - center, c.y[idx], deg, w=w)


def _floor(dy: np.ndarray) -> float:
    """A small positive error floor (a thousandth of the mean positive error)."""
    pos = dy[np.isfinite(dy) & (dy > 0)]
    return float(pos.mean() * 1e-3) if pos.size else 1e-12


def _pair_crossing(c1: _Curve, c2: _Curve, n_local: int, near: float | None = None) -> float:
    """Where two curves cross: sign change of the linear interpolants, refined by local fits.

    ``near``: only sign changes within two grid steps of this value are considered (used
    for bootstrap resamples, so that noise in flat regions cannot hop branches).
    """
    lo, hi = max(c1.t[0], c2.t[0]), min(c1.t[-1], c2.t[-1])
    if not hi > lo:
        return np.nan
    grid = np.unique(np.concatenate([c1.t, c2.t, [lo, hi]]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    d = np.interp(grid, c2.t, c2.y) - np.interp(grid, c1.t, c1.y)
    sign_change = np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) <= 0)[0]
    if sign_change.size == 0:
        return np.nan
    # a genuine crossing has the difference growing on both sides, beyond the noise; a
    # sign change of two flat, noisy curves (e.g. both U ≈ 0 far above T_c) does not
    if c1.dy is not None and c2.dy is not None:
        sd = np.hypot(np.interp(grid, c1.t, c1.dy), np.interp(grid, c2.t, c2.dy))
        sd = np.maximum(sd, _floor(sd))
    else:
        sd = np.ones_like(d)
    z = d / sd
    last = grid.size - 1

    def score(j):
        left = [z[i] for i in (j - 1, j) if 0 <= i and np.sign(z[i]) == np.sign(z[j])]
        right = [z[i] for i in (j + 1, j + 2) if i <= last and np.sign(z[i]) == np.sign(z[j + 1])]
        return max(np.abs(left), default=0.0) + max(np.abs(right), default=0.0)

    if near is not None and np.isfinite(near):
        step = np.max(np.diff(grid)) if grid.size > 1 else 0.0
        close = np.abs(0.5 * (grid[sign_change] + grid[sign_change + 1]) - near) <= 2.0 * step
        sign_change = sign_change[close]
        if sign_change.size == 0:
            return np.nan
    j = sign_change[int(np.argmax([score(j) for j in sign_change]))]
    if d[j + 1] == d[j]:
        t0 = 0.5 * (grid[j] + grid[j + 1])
    else:
        t0 = grid[j] - d[j] * (grid[j + 1] - grid[j]) / (d[j + 1] - d[j])
    p1, p2 = _local_poly(c1, t0, n_local), _local_poly(c2, t0, n_local)
    if p1 is None or p2 is None:
        return float(t0)
    n = max(p1.size, p2.size)
    diff = np.pad(p2, (n - p2.size, 0)) - np.pad(p1, (n - p1.size, 0))
    roots = np.roots(diff) if np.any(diff[:-1] != 0) else np.array([])
    roots = roots[np.abs(roots.imag) < 1e-9].real
    lo_r = grid[max(j - 1, 0)] - t0
    hi_r = grid[min(j + 2, grid.size - 1)] - t0
    roots = roots[(roots >= lo_r) & (roots <= hi_r)]
    if roots.size == 0:
        return float(t0)
    return float(t0 + roots[np.argmin(np.abs(roots))])


def _binder_estimate(
    curves: dict[float, _Curve], n_local: int, omega: float, weights: np.ndarray | None,
    near: np.ndarray | None = None, extrapolate: bool | str = "auto",
    points: np.ndarray | None = None,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    sizes = list(curves)
    pairs = list(itertools.combinations(sizes, 2))
    if near is None:
        near = np.full(len(pairs), np.nan)
    if points is not None:
        cross = points
    else:
        cross = np.array([_pair_crossing(curves[a], curves[b], n_local, nr)
                          for (a, b), nr in zip(pairs, near, strict=True)])
    x = np.array([a ** (-omega) for a, _ in pairs])
    ok = np.isfinite(cross)
    if weights is not None:
        ok &= np.isfinite(weights) & (weights > 0)
    if not ok.any():
        return cross, float("nan"), {"model": "no crossing found", "parameters": {}}
    w = np.ones(ok.sum()) if weights is None else weights[ok]
    c, xo = cross[ok], x[ok]
    mean = float(np.sum(w * c) / np.sum(w))
    chi2_const = float(np.sum(w * (c - mean) ** 2))
    const: dict[str, Any] = {"model": "weighted mean of the pairwise crossings",
             "parameters": {"T_c": mean}, "chi2": chi2_const, "dof": int(ok.sum() - 1)}
    # a drift needs at least three distinct smaller sizes: with two it is an exact
    # two-point extrapolation that amplifies the noise of one pair without any check
    if extrapolate is False or ok.sum() < 3 or np.unique(xo).size < 3:
        if extrapolate is not False:
            const["model"] += " (too few sizes to extrapolate)"
        const["extrapolated"] = False
        return cross, mean, const
    A = np.column_stack([np.ones(ok.sum()), xo])
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], c * sw, rcond=None)
    chi2_lin = float(np.sum(w * (c - A @ coef) ** 2))
    lin: dict[str, Any] = {"model": f"crossing = T_c + b * L_small^-{omega:g}",
           "parameters": {"T_c": float(coef[0]), "b": float(coef[1])},
           "chi2": chi2_lin, "dof": int(ok.sum() - 2), "extrapolated": True,
           "omega": float(omega)}
    if extrapolate == "auto":
        # keep the 1/L drift only when the data ask for it: AICc (Hurvich & Tsai 1989),
        # AIC with the small-sample correction 2k(k+1)/(n-k-1), which on 6 crossings
        # charges the drift 5 units of chi2 rather than 2
        n = int(ok.sum())
        aic_const = chi2_const + 2.0 + 4.0 / max(n - 2, 1)
        aic_lin = chi2_lin + 4.0 + (12.0 / (n - 3) if n > 3 else np.inf)
        chosen = lin if aic_lin < aic_const else {**const, "extrapolated": False}
        chosen = {**chosen, "aicc": {"constant": aic_const, "drift_in_1/L": aic_lin}}
        return cross, float(chosen["parameters"]["T_c"]), chosen
    return cross, float(coef[0]), lin


def _correction_shift(sizes: list[float], points: np.ndarray, weights: np.ndarray | None,
                      value: float, omega: float, inv_nu: float = 1.0) -> float:
    """|T_c − T_c'|, T_c' from the pairwise crossings with the leading correction to scaling.

    From ``U_L(t) = U* + u t L^{1/ν} + c L^{−ω}`` the sizes (L1, L2) cross at
    ``T* = T_c + a (L1^{−ω} − L2^{−ω}) / (L2^{1/ν} − L1^{1/ν})`` (Binder 1981); weighted
    least squares for (T_c', a). A finite-size systematic of the crossing estimate (it is
    not the estimate: extrapolating amplifies the crossings' noise more than it removes
    bias at L ≲ 32; docs/scaling.md). NaN with fewer than 3 usable pairs.
    """
    pairs = list(itertools.combinations(sizes, 2))
    L1 = np.array([a for a, _ in pairs], dtype=float)
    L2 = np.array([b for _, b in pairs], dtype=float)
    ok = np.isfinite(points)
    if weights is not None:
        ok &= np.isfinite(weights) & (weights > 0)
    x = (L1**-omega - L2**-omega) / (L2**inv_nu - L1**inv_nu)
    if ok.sum() < 3 or np.unique(x[ok]).size < 2 or not np.isfinite(value):
        return float("nan")
    w = np.ones(ok.sum()) if weights is None else weights[ok]
    A = np.column_stack([np.ones(ok.sum()), x[ok]]) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(A, points[ok] * np.sqrt(w), rcond=None)
    return float(abs(value - coef[0]))


def _max_at_edge(c: _Curve) -> bool:
    """Whether the largest value of the curve sits at the first or last control value."""
    j = int(np.nanargmax(c.y))
    return j == 0 or j == c.y.size - 1


def _peak(c: _Curve, n_local: int) -> float:
    """Peak location from a Gaussian (quadratic in log y) fit around the maximum."""
    j = int(np.nanargmax(c.y))
    if j == 0 or j == c.y.size - 1:
        return np.nan
    half = max(1, n_local // 2)
    lo, hi = max(0, j - half), min(c.y.size, j + half + 1)
    t, y = c.t[lo:hi], c.y[lo:hi]
    if np.any(y <= 0) or t.size < 3:
        return np.nan
    w = None
    if c.dy is not None:
        w = y / np.maximum(c.dy[lo:hi], _floor(c.dy))
    a, b, _ = np.polyfit(t - c.t[j], np.log(y), 2, w=w)
    if not a < 0:
        return np.nan
    tp = c.t[j] - b / (2 * a)
    if not (t[0] <= tp <= t[-1]):
        return np.nan
    return float(tp)


#: the free-exponent peak fit ``T_c + a L^{-1/ν}`` has 3 parameters; it is used only with
#: at least this many sizes (two degrees of freedom), else ν is fixed (and that is recorded)
MIN_SIZES_FREE_NU = 5


def _peak_estimate(
    curves: dict[float, _Curve], n_local: int, nu: float | None, weights: np.ndarray | None,
    points: np.ndarray | None = None,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Extrapolate the χ peaks ``T_L = T_c + a L^{-1/ν}`` (weighted least squares).

    ``1/ν`` is fitted only with at least ``MIN_SIZES_FREE_NU`` located peaks and no
    ``nu`` given; otherwise ``ν`` is fixed (at ``nu``, or assumed 1 and recorded in
    ``fit["nu_assumed"]``). Landau & Binder (2014), sec. 4.2.
    """
    sizes = np.array(list(curves))
    peaks = points if points is not None else np.array([_peak(curves[L], n_local) for L in sizes])
    ok = np.isfinite(peaks)
    if weights is not None:
        ok &= np.isfinite(weights) & (weights > 0)
    w = np.ones(ok.sum()) if weights is None else weights[ok]
    L, p = sizes[ok], peaks[ok]
    if ok.sum() >= MIN_SIZES_FREE_NU and nu is None:
        def model(L, tc, a, inv_nu):
            return tc + a * L ** (-inv_nu)

        A = np.column_stack([np.ones(L.size), 1 / L])
        c0, *_ = np.linalg.lstsq(A, p, rcond=None)
        try:
            popt, _ = optimize.curve_fit(
                model, L, p, p0=[c0[0], c0[1], 1.0], sigma=1 / np.sqrt(w),
                bounds=([-np.inf, -np.inf, 0.1], [np.inf, np.inf, 3.0]), maxfev=5000,
            )
            value = float(popt[0])
            fit = {"model": "peak = T_c + a * L^(-1/nu)",
                   "parameters": {"T_c": value, "a": float(popt[1]), "inv_nu": float(popt[2])},
                   "dof": int(L.size - 3), "nu_assumed": None}
            return peaks, value, fit
        except (RuntimeError, ValueError):
            pass
    if ok.sum() >= 3:
        inv_nu = 1.0 if nu is None else 1.0 / nu
        A = np.column_stack([np.ones(L.size), L ** (-inv_nu)])
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(A * sw[:, None], p * sw, rcond=None)
        value = float(coef[0])
        fit = {"model": f"peak = T_c + a * L^-{inv_nu:g}",
               "parameters": {"T_c": value, "a": float(coef[1])}, "dof": int(L.size - 2),
               "nu_assumed": 1.0 if nu is None else None, "nu_fixed": 1.0 / inv_nu}
    elif ok.sum() >= 1:
        value = float(p[-1])
        fit = {"model": "peak of the largest size (too few sizes to extrapolate)",
               "parameters": {"T_c": value}, "nu_assumed": None}
    else:
        value = float("nan")
        fit = {"model": "no peak found inside the control range", "parameters": {},
               "nu_assumed": None}
    return peaks, value, fit


def _assumptions(
    method: str, fit: dict[str, Any], sizes: list[float], points: np.ndarray,
    edge: tuple[float, ...],
) -> tuple[list[str], tuple[float, ...], float | None]:
    """The assumptions an estimate rests on, the sizes it could not use, and ν if assumed."""
    notes = []
    if method == "binder":
        pairs = list(itertools.combinations(sizes, 2))
        used = {s for (a, b), x in zip(pairs, points, strict=True) if np.isfinite(x) for s in (a, b)}
        if "too few sizes" in fit["model"]:
            notes.append("Binder crossings taken as size independent (too few sizes to "
                         "extrapolate their drift)")
        if fit.get("extrapolated") and "omega" in fit:
            notes.append(f"Binder crossings extrapolated as T_c + b L_small^-omega with the "
                         f"drift exponent omega fixed at {fit['omega']:g} (not fitted; pass "
                         "omega= to set it, extrapolate=False for the size-independent mean)")
    else:
        used = {L for L, x in zip(sizes, points, strict=True) if np.isfinite(x)}
        if edge:
            notes.append(f"chi maximum at the edge of the control grid for sizes "
                         f"{[float(L) for L in edge]} (no peak inside: widen the range)")
        if fit.get("nu_assumed") is not None:
            notes.append(f"nu assumed {fit['nu_assumed']:g} in T_L = T_c + a L^(-1/nu) "
                         f"(fewer than {MIN_SIZES_FREE_NU} located peaks; pass nu= to set it)")
        if "largest size" in fit["model"]:
            notes.append("T_c taken as the peak of the largest size (no extrapolation)")
    dropped = tuple(float(L) for L in sizes if L not in used)
    if dropped:
        notes.append(f"sizes {list(dropped)} dropped (no {'crossing' if method == 'binder' else 'peak'} found)")
    return notes, dropped, fit.get("nu_assumed")


