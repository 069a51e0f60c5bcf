"""Power-law fits ``y = A |x − x_c|^p`` near a critical point, compared with alternatives.

References
----------
A. Clauset, C. R. Shalizi, M. E. J. Newman, SIAM Rev. 51, 661 (2009) (compare the power
law with alternatives); K. P. Burnham and D. R. Anderson, *Model Selection and Multimodel
Inference* (Springer, 2002).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, stats

from .._meta import jsonable, provenance
from ..errors import SchemaError

__all__ = ["PowerLawFit", "fit_power_law"]

@dataclass
class PowerLawFit:
    """``y = A |x − x_c|^p`` fitted on one side of a critical point.

    Attributes
    ----------
    exponent, exponent_stderr, exponent_ci
        ``p`` (β for an order parameter, −γ for a susceptibility, −ν for a correlation
        length), its bootstrap standard error and 95 % percentile interval.
    amplitude, critical_point (+ ``*_stderr``)
        ``A`` and ``x_c`` (``critical_point_stderr = 0`` when ``x_c`` was fixed).
    method
        ``"ml"`` (Gaussian likelihood with the given error bars, in linear space) or
        ``"wls"`` (least squares of ``log y`` on ``log|x − x_c|``, weights
        ``(y/yerr)²`` when errors are given; used as the primary estimate without them).
    wls, ml
        the two fits' parameters and their asymptotic standard errors.
    chi2, dof, p_value
        goodness of fit of the primary fit (``p_value`` = P(χ²_dof ≥ χ²), the chance of a
        worse fit if the model and the error bars are right; NaN without error bars).
    window, distance_range, n_points
        the range of ``x`` used, the range of ``|x − x_c|`` it covers, and the count.
    window_sensitivity
        the exponent refitted on shrunken windows (far points dropped / nearest points
        dropped): an exponent that moves by more than its error is not asymptotic.
    model_comparison, preferred
        AIC/AICc (and Akaike weights) of the power law against an exponential
        ``C + A e^{bx}`` and a logistic crossover ``C + A/(1 + e^{(x − x₀)/w})``.
    """

    exponent: float
    exponent_stderr: float
    exponent_ci: tuple[float, float]
    amplitude: float
    amplitude_stderr: float
    critical_point: float
    critical_point_stderr: float
    critical_point_fixed: bool
    side: str
    method: str
    wls: dict[str, Any]
    ml: dict[str, Any] | None
    chi2: float
    dof: int
    p_value: float
    r_squared: float
    window: tuple[float, float]
    distance_range: tuple[float, float]
    n_points: int
    window_sensitivity: pd.DataFrame
    model_comparison: pd.DataFrame
    preferred: str
    n_bootstrap: int
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        out = {k: getattr(self, k) for k in (
            "exponent", "exponent_stderr", "exponent_ci", "amplitude", "amplitude_stderr",
            "critical_point", "critical_point_stderr", "critical_point_fixed", "side",
            "method", "wls", "ml", "chi2", "dof", "p_value", "r_squared", "window",
            "distance_range", "n_points", "preferred", "n_bootstrap")}
        out["window_sensitivity"] = self.window_sensitivity
        out["model_comparison"] = self.model_comparison
        out["attrs"] = self.attrs
        return jsonable(out)

    def to_dataset(self) -> xr.Dataset:
        """``exponent`` (+ ``_stderr``, ``_lower``/``_upper`` 95 %), ``amplitude``,
        ``critical_point`` with errors; fit statistics and the comparison as attrs."""
        ds = xr.Dataset({
            "exponent": ((), self.exponent), "exponent_stderr": ((), self.exponent_stderr),
            "exponent_lower": ((), self.exponent_ci[0]), "exponent_upper": ((), self.exponent_ci[1]),
            "amplitude": ((), self.amplitude), "amplitude_stderr": ((), self.amplitude_stderr),
            "critical_point": ((), self.critical_point),
            "critical_point_stderr": ((), self.critical_point_stderr),
        })
        ds.attrs = provenance(confidence=0.95, side=self.side, method=self.method, chi2=self.chi2,
                              dof=self.dof, p_value=self.p_value, r_squared=self.r_squared,
                              critical_point_fixed=self.critical_point_fixed,
                              preferred=self.preferred, n_points=self.n_points,
                              model_comparison=str(self.model_comparison.to_dict(orient="records")))
        return ds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PowerLawFit):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        lo, hi = self.exponent_ci
        return (
            f"PowerLawFit(exponent={self.exponent:.4g} ± {self.exponent_stderr:.2g} "
            f"[95% {lo:.4g}, {hi:.4g}], x_c={self.critical_point:.6g}"
            f"{' (fixed)' if self.critical_point_fixed else f' ± {self.critical_point_stderr:.2g}'}, "
            f"side={self.side!r}, n={self.n_points}, method={self.method!r}, "
            f"chi2/dof={self.chi2:.3g}/{self.dof}, preferred={self.preferred!r})"
        )


def _as_1d(v: Any, name: str) -> np.ndarray:
    a = np.asarray(v.values if isinstance(v, xr.DataArray) else v, dtype=float)
    if a.ndim != 1:
        raise SchemaError(f"{name} must be one-dimensional", where=f"{name}.shape = {a.shape}",
                          fix=f"select one series, e.g. {name}.sel(size=...)")
    return a


def _loglog_wls(x, y, yerr, xc, *, full=False):
    """Least squares of log y on log|x − x_c| (weights (y/yerr)²).

    ``full=True`` returns the statsmodels WLS result (for reporting); otherwise a fast
    numpy solve returning (intercept, slope, weighted RSS).
    """
    d = np.abs(x - xc)
    w = np.ones_like(y) if yerr is None else (y / yerr) ** 2
    if full:
        # the light import (statsmodels.api pulls in its plotting stack: seconds)
        from statsmodels.regression.linear_model import WLS

        X = np.column_stack([np.ones_like(d), np.log(d)])
        return WLS(np.log(y), X, weights=w).fit()
    sw = np.sqrt(w)
    A = np.column_stack([np.ones_like(d), np.log(d)]) * sw[:, None]
    b = np.log(y) * sw
    coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    return float(coef[0]), float(coef[1]), float(np.sum((b - A @ coef) ** 2))


def _power_model(x, logA, p, xc):
    return np.exp(logA) * np.abs(x - xc) ** p


def _fit_power_once(x, y, yerr, xc_fixed, xc_box, use_ml):
    """(logA, p, xc, wls_result, ml_info); x_c profiled when free."""
    if xc_fixed is not None:
        xc = xc_fixed
    else:
        def rss(xc):
            return _loglog_wls(x, y, yerr, xc)[2]

        grid = np.linspace(xc_box[0], xc_box[1], 41)
        vals = [rss(g) for g in grid]
        k = int(np.argmin(vals))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
        xc = float(optimize.minimize_scalar(rss, bounds=(lo, hi), method="bounded",
                                            options={"xatol": 1e-10 * max(1, abs(hi))}).x)
    logA, p, _ = _loglog_wls(x, y, yerr, xc)
    wls = (logA, p, xc)
    ml = None
    if use_ml:
        free_xc = xc_fixed is None

        def resid(theta):
            xcc = theta[2] if free_xc else xc
            return (y - _power_model(x, theta[0], theta[1], xcc)) / yerr

        def jac(theta):
            xcc = theta[2] if free_xc else xc
            f = _power_model(x, theta[0], theta[1], xcc)
            cols = [-f / yerr, -f * np.log(np.abs(x - xcc)) / yerr]
            if free_xc:
                cols.append(f * theta[1] / (x - xcc) / yerr)
            return np.column_stack(cols)

        th0 = [logA, p, xc] if free_xc else [logA, p]
        lb = [-np.inf, -np.inf] + ([xc_box[0]] if free_xc else [])
        ub = [np.inf, np.inf] + ([xc_box[1]] if free_xc else [])
        if free_xc:  # strictly inside the box (least_squares needs an interior start)
            inset = 1e-9 * (xc_box[1] - xc_box[0])
            th0[2] = min(max(th0[2], xc_box[0] + inset), xc_box[1] - inset)
        r = optimize.least_squares(resid, th0, jac=jac, bounds=(lb, ub), method="trf",
                                   x_scale="jac")
        try:
            cov = np.linalg.inv(r.jac.T @ r.jac)
            se = np.sqrt(np.diag(cov))
        except np.linalg.LinAlgError:
            se = np.full(len(th0), np.nan)
        ml = {"logA": float(r.x[0]), "exponent": float(r.x[1]),
              "critical_point": float(r.x[2]) if free_xc else xc,
              "exponent_se": float(se[1]), "amplitude_se": float(np.exp(r.x[0]) * se[0]),
              "critical_point_se": float(se[2]) if free_xc else 0.0,
              "chi2": float(np.sum(r.fun**2)), "converged": bool(r.success)}
        logA, p, xc = ml["logA"], ml["exponent"], ml["critical_point"]
    return logA, p, xc, wls, ml


def _fit_alternatives(x, y, yerr, k_power, power_pred):
    """AIC/AICc of the power law and of two non-critical alternatives (linear-space LS)."""
    sig = np.ones_like(y) if yerr is None else yerr
    n = y.size
    span = np.ptp(x) if np.ptp(x) > 0 else 1.0

    w = 1.0 / sig**2

    def projected_rss(basis):
        """Weighted RSS with the linear coefficients (C, A) solved exactly."""
        B = np.column_stack([np.ones_like(x), basis]) * np.sqrt(w)[:, None]
        if not np.all(np.isfinite(B)):
            return np.inf
        coef, *_ = np.linalg.lstsq(B, y * np.sqrt(w), rcond=None)
        return float(np.sum((y * np.sqrt(w) - B @ coef) ** 2))

    xm = float(np.mean(x))

    # exponential C + A exp(b x): variable projection, 1-D search over the rate b
    def rss_exp(b):
        return projected_rss(np.exp(np.clip(b * (x - xm) / span, -50, 50)))

    bs = np.linspace(-40, 40, 161)
    k = int(np.argmin([rss_exp(b) for b in bs]))
    r_exp = optimize.minimize_scalar(rss_exp, bounds=(bs[max(k - 1, 0)], bs[min(k + 1, 160)]),
                                     method="bounded")
    rss_e = min(float(r_exp.fun), rss_exp(bs[k]))

    # logistic crossover C + A / (1 + exp((x − x0)/w)): search over (x0, log w) per sign
    def rss_log(theta, sign):
        x0, lw = theta
        z = np.clip(sign * (x - x0) / (np.exp(lw) * span), -50, 50)
        return projected_rss(1.0 / (1.0 + np.exp(z)))

    best_l = np.inf
    x0s = np.linspace(x.min() - 0.25 * span, x.max() + 0.25 * span, 13)
    lws = np.log(np.geomspace(0.01, 2.0, 12))
    for sign in (1.0, -1.0):
        grid = [(rss_log((x0, lw), sign), x0, lw) for x0 in x0s for lw in lws]
        v, x0, lw = min(grid)
        r = optimize.minimize(rss_log, [x0, lw], args=(sign,), method="Nelder-Mead",
                              options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 600})
        best_l = min(best_l, v, float(r.fun))
    rss = {
        "power_law": float(np.sum(((y - power_pred) / sig) ** 2)),
        "exponential": rss_e,
        "logistic_crossover": best_l,
    }
    ks = {"power_law": k_power, "exponential": 3, "logistic_crossover": 4}
    rows = []
    for name, r in rss.items():
        k = ks[name]
        if r is None or not np.isfinite(r):
            rows.append({"model": name, "k": k, "chi2": np.nan, "aic": np.nan, "aicc": np.nan})
            continue
        # Gaussian log-likelihood: with known errors -2 ln L = chi2 + const; without,
        # the noise level is profiled out, -2 ln L = n ln(RSS/n) + const
        m2ll = r if yerr is not None else n * np.log(max(r, 1e-300) / n)
        aic = m2ll + 2 * k
        aicc = aic + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)
        rows.append({"model": name, "k": k, "chi2": r, "aic": aic, "aicc": aicc})
    df = pd.DataFrame(rows)
    best = np.nanmin(df["aicc"]) if np.any(np.isfinite(df["aicc"])) else np.nan
    df["delta_aicc"] = df["aicc"] - best
    with np.errstate(over="ignore", invalid="ignore"):
        wts = np.exp(-0.5 * df["delta_aicc"].to_numpy(float))
    wts = np.where(np.isfinite(wts), wts, 0.0)
    df["akaike_weight"] = wts / wts.sum() if wts.sum() > 0 else np.nan
    preferred = str(df.loc[df["aicc"].idxmin(), "model"]) if np.isfinite(best) else "undetermined"
    return df, preferred




def _clean_data(x: Any, y: Any, yerr: Any, critical_point: float | None, side: str,
                window: tuple[float, float] | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Finite points on the requested side and window, sorted by x (SchemaError if too few)."""
    if side not in ("below", "above"):
        raise SchemaError(f"side={side!r}", where="side=", fix="use 'below' or 'above'")
    if yerr is None and isinstance(y, xr.DataArray) and "stderr" in y.coords:
        se = np.asarray(y.coords["stderr"].values, dtype=float)
        yerr = se if np.all(np.isfinite(se) & (se > 0)) else None
    xa, ya = _as_1d(x, "x"), _as_1d(y, "y")
    if xa.size != ya.size:
        raise SchemaError("x and y differ in length", where=f"{xa.size} vs {ya.size}",
                          fix="pass matching arrays")
    ea = None if yerr is None else _as_1d(yerr, "yerr")
    if ea is not None and ea.size != ya.size:
        raise SchemaError("yerr and y differ in length", where="yerr=", fix="pass matching arrays")
    keep = np.isfinite(xa) & np.isfinite(ya)
    if ea is not None:
        keep &= np.isfinite(ea) & (ea > 0)
    if window is not None:
        keep &= (xa >= window[0]) & (xa <= window[1])
    if critical_point is not None:
        keep &= (xa < critical_point) if side == "below" else (xa > critical_point)
    k_power = 3 if critical_point is None else 2
    if keep.sum() < k_power + 2:
        raise SchemaError(
            f"{int(keep.sum())} usable points on the {side} side; need at least {k_power + 2}",
            where="x, y (after window=, side= and dropping NaN)",
            fix="widen the window or add data points",
        )
    if np.any(ya[keep] <= 0):
        raise SchemaError("y must be positive for a power law", where="y",
                          fix="fit |y| or shift the data (e.g. subtract a background)")
    order = np.argsort(xa[keep])
    return xa[keep][order], ya[keep][order], None if ea is None else ea[keep][order]


def _xc_box(xa: np.ndarray, side: str, critical_point: float | None) -> tuple[float, float]:
    """Where x_c may lie: beyond the data on the side away from them."""
    if critical_point is not None:
        return float(critical_point), float(critical_point)
    span = float(np.ptp(xa))
    edge = xa[-1] if side == "below" else xa[0]
    gap = max(1e-9 * max(abs(edge), 1.0), 1e-6 * span)
    return (edge + gap, edge + span) if side == "below" else (edge - span, edge - gap)


def _bootstrap_power(fit: Any, xa: np.ndarray, ya: np.ndarray, ea: np.ndarray | None,
                     pred: np.ndarray, rng: np.random.Generator, n_bootstrap: int) -> np.ndarray:
    """(logA, p, x_c) refitted on parametric (with errors) or log-residual resamples."""
    boot = []
    log_pred = np.log(pred)
    resid = np.log(ya) - log_pred
    for _ in range(n_bootstrap):
        if ea is not None:
            yb = pred + ea * rng.standard_normal(ya.size)
            yb = np.where(yb > 0, yb, pred)
        else:
            yb = np.exp(log_pred + rng.choice(resid, resid.size, replace=True))
        try:
            lb, pb, xb, _, _ = fit(xa, yb, ea)
        except (ValueError, np.linalg.LinAlgError):
            continue
        boot.append((lb, pb, xb))
    return np.array(boot) if boot else np.empty((0, 3))


def _window_table(fit: Any, xa: np.ndarray, ya: np.ndarray, ea: np.ndarray | None, xc: float,
                  k_power: int) -> pd.DataFrame:
    """The exponent refitted after dropping the farthest 20/40/60 % or the nearest 1–2 points."""
    d = np.abs(xa - xc)
    n = xa.size
    rows = [("all", 1.0, np.ones(n, bool))]
    rows += [("drop_far", f, d <= np.quantile(d, f)) for f in (0.8, 0.6, 0.4)]
    for k in (1, 2):
        sel = np.ones(n, bool)
        sel[np.argsort(d)[:k]] = False
        rows.append(("drop_near", k, sel))
    table = []
    for kind, amount, sel in rows:
        if sel.sum() < k_power + 2:
            continue
        try:
            _, pw, xw, _, _ = fit(xa[sel], ya[sel], None if ea is None else ea[sel])
        except (ValueError, np.linalg.LinAlgError):
            continue
        table.append({"window": kind, "amount": amount, "n": int(sel.sum()),
                      "x_lo": float(xa[sel].min()), "x_hi": float(xa[sel].max()),
                      "exponent": pw, "critical_point": xw})
    return pd.DataFrame(table)


def _goodness(xa: np.ndarray, ya: np.ndarray, ea: np.ndarray | None, pred: np.ndarray,
              dof: int) -> tuple[float, float, float]:
    """(χ², p-value, R² of the log-log fit); χ² and p NaN without error bars."""
    if ea is not None:
        chi2 = float(np.sum(((ya - pred) / ea) ** 2))
        p_value = float(stats.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    else:
        chi2, p_value = float("nan"), float("nan")
    resid = np.log(ya) - np.log(pred)
    ss_tot = float(np.sum((np.log(ya) - np.mean(np.log(ya))) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    return chi2, p_value, r2


def fit_power_law(
    x: Any,
    y: Any,
    *,
    yerr: Any = None,
    critical_point: float | None = None,
    side: str = "below",
    window: tuple[float, float] | None = None,
    n_bootstrap: int = 500,
    seed: int | np.random.Generator | None = 0,
) -> PowerLawFit:
    """Fit ``y = A |x − x_c|^p`` on one side of a critical point.

    ``m ∝ (T_c − T)^β`` (``side="below"``: data at ``x < x_c``), ``χ ∝ |T − T_c|^{−γ}``,
    ``ξ ∝ |T − T_c|^{−ν}``. ``x_c = critical_point`` when given, else profiled.

    * WLS (statsmodels): ``log y = log A + p log|x − x_c|``, weights ``(y/σ_y)²``;
    * ML with known errors (``yerr`` or a ``stderr`` coord on ``y``): ``y_i ~
      N(A|x_i − x_c|^p, σ_i²)``, started from WLS — then the primary estimate.

    Uncertainty: ``n_bootstrap`` parametric (with errors) or log-residual resamples,
    everything refitted (std and 2.5–97.5 % percentiles). ``χ²``, ``dof``, ``p_value``
    with known errors, ``R²`` always; a window-sensitivity table (far points dropped,
    nearest dropped); AICc against an exponential and a logistic crossover. Deterministic
    by default (``seed=0``).

    References: Clauset, Shalizi & Newman (2009); Burnham & Anderson (2002).
    """
    xa, ya, ea = _clean_data(x, y, yerr, critical_point, side, window)
    free = critical_point is None
    k_power = 3 if free else 2
    xc_box = _xc_box(xa, side, critical_point)
    use_ml = ea is not None

    def fit(x_: np.ndarray, y_: np.ndarray, e_: np.ndarray | None) -> Any:
        return _fit_power_once(x_, y_, e_, critical_point, xc_box, use_ml)

    logA, p, xc, wls, ml = fit(xa, ya, ea)
    pred = _power_model(xa, logA, p, xc)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    bt = _bootstrap_power(fit, xa, ya, ea, pred, rng, n_bootstrap)
    if bt.shape[0] >= 2:
        p_se = float(np.std(bt[:, 1], ddof=1))
        ci = (float(np.percentile(bt[:, 1], 2.5)), float(np.percentile(bt[:, 1], 97.5)))
        A_se = float(np.std(np.exp(bt[:, 0]), ddof=1))
        xc_se = float(np.std(bt[:, 2], ddof=1)) if free else 0.0
    else:
        p_se, ci, A_se, xc_se = np.nan, (np.nan, np.nan), np.nan, np.nan if free else 0.0
    dof = xa.size - k_power
    chi2, p_value, r_squared = _goodness(xa, ya, ea, pred, dof)
    comparison, preferred = _fit_alternatives(xa, ya, ea, k_power, pred)
    wfit = _loglog_wls(xa, ya, ea, wls[2], full=True)
    d = np.abs(xa - xc)
    return PowerLawFit(
        exponent=float(p), exponent_stderr=p_se, exponent_ci=ci, amplitude=float(np.exp(logA)),
        amplitude_stderr=A_se, critical_point=float(xc), critical_point_stderr=xc_se,
        critical_point_fixed=not free, side=side, method="ml" if use_ml else "wls",
        wls={"exponent": float(wfit.params[1]), "exponent_se": float(wfit.bse[1]),
             "amplitude": float(np.exp(wfit.params[0])),
             "note": "asymptotic errors are conditional on x_c" if free else ""},
        ml=ml, chi2=chi2, dof=int(dof), p_value=p_value, r_squared=r_squared,
        window=(float(xa[0]), float(xa[-1])), distance_range=(float(d.min()), float(d.max())),
        n_points=int(xa.size), window_sensitivity=_window_table(fit, xa, ya, ea, xc, k_power),
        model_comparison=comparison, preferred=preferred, n_bootstrap=int(bt.shape[0]),
        attrs=provenance(
            estimator="fit_power_law", model="y = A |x - x_c|^p",
            error_method=("parametric" if use_ml else "log-residual")
            + f" bootstrap ({bt.shape[0]} resamples)",
            seed="generator passed" if isinstance(seed, np.random.Generator) else str(seed),
        ),
    )
