"""Transition order — first-order, continuous or crossover — from several sizes.

Finite-size scaling of the susceptibility peak, the Binder-cumulant dip and crossing, and
bimodality of the order parameter across replicas (Binder 1981; Challa, Landau & Binder
1986; Lee & Kosterlitz 1991), with "conclusive" only at a stated error rate calibrated by
simulating each class with the data's layout (issue 14, item 7).

Bimodality has one implementation here, the kernel-density valley test
(:func:`_bimodality`): a moment coefficient (Sarle's, :func:`phasekit.bimodality`)
cannot tell a skewed unimodal distribution from two coexisting phases — the |m| of a
small lattice near T_c is skewed, and BC > 5/9 there — whereas the valley between two
KDE modes is what phase coexistence is (Pfister et al., Front. Psychol. 4, 700 (2013)).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from .._meta import provenance, require_dims
from ..errors import SchemaError
from .curves import fluctuation_curve
from .sizes import by_size, configuration_size, control_axis

__all__ = ["MIN_GROWTH_EXPONENT", "TransitionClass", "classify_transition"]

#: Growth exponents of χ_max in N below this are read as "no growth": every known critical
#: point has γ/(ν d) = (2 − η)/d ≥ 0.375 for d ≤ 4 (η ≤ 1/2 in the usual classes).
MIN_GROWTH_EXPONENT = 0.25


@dataclass
class TransitionClass:
    """The order of a transition and the evidence behind it.

    Attributes
    ----------
    kind : "first_order", "continuous" or "crossover"
    conclusive : whether the data settle it (``False`` with one size, or when the
        evidence disagrees; ``kind`` is then the best guess)
    reason : the rule that fired, in words, with the numbers
    evidence : per size (dim ``size``): ``N``, ``chi_max`` (+ ``_stderr``), ``chi_argmax``,
        ``binder_min`` (+ ``_stderr``), ``binder_argmin``, ``bimodal``, ``valley_ratio``,
        ``bimodality_at``; attrs: the fit of log χ_max against log N (``exponent_N`` and
        ``exponent_N_stderr``, ``exponent_L`` = γ/ν with ``dimension``), the AICs of the
        transition and crossover models and their difference, the Binder crossings, the
        flags used by the rules, and the calibration (``error_rate``, ``error_rate_target``,
        ``calibration_claims``: 3 × 3 confusion of conclusive claims, rows = simulated class
        in ``calibration_classes`` order, ``calibration_n_sim``, ``calibration_seed``,
        ``replicas_to_settle``).
    error_rate : the calibrated probability that another class's data give this answer
        conclusively (NaN with one size)
    error_rate_target : the stated error rate; ``conclusive`` requires error_rate <= it
    to_settle : when not conclusive, what more data would settle it (replicas per control
        point by size, or more sizes)
    """

    kind: str
    conclusive: bool
    reason: str
    evidence: xr.Dataset = field(repr=False)
    error_rate: float = float("nan")
    error_rate_target: float = 0.05
    to_settle: str = ""
    #: every assumption the answer rests on (each also warned about)
    assumptions: tuple[str, ...] = ()
    #: what chi_max growth was measured against: "N" (configuration size) or "size"
    growth_variable: str = "N"

    def to_dataset(self) -> xr.Dataset:
        """The per-size evidence (dim ``size``) with the verdict and the fit in attrs."""
        ds = self.evidence.copy()
        ds.attrs = {**ds.attrs, **provenance(
            kind=self.kind, conclusive=self.conclusive, reason=self.reason,
            error_rate=self.error_rate, error_rate_target=self.error_rate_target,
            to_settle=self.to_settle, assumptions=list(self.assumptions),
            growth_variable=self.growth_variable)}
        return ds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransitionClass):
            return NotImplemented
        same = (self.kind, self.conclusive, self.reason, self.to_settle, self.assumptions,
                self.growth_variable, self.error_rate_target) == (
                other.kind, other.conclusive, other.reason, other.to_settle, other.assumptions,
                other.growth_variable, other.error_rate_target)
        return bool(same and np.array_equal(self.error_rate, other.error_rate, equal_nan=True)
                    and self.evidence.identical(other.evidence))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        ev = self.evidence

        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return [plain(u) for u in v.tolist()]
            if isinstance(v, list | tuple):
                return [plain(u) for u in v]
            if isinstance(v, np.generic):
                return v.item()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        per_size = {str(name): plain(np.asarray(ev[name].values)) for name in ev.data_vars}
        return {
            "kind": self.kind,
            "conclusive": bool(self.conclusive),
            "reason": self.reason,
            "sizes": plain(np.asarray(ev["size"].values)),
            "per_size": per_size,
            "fit": {k: plain(v) for k, v in ev.attrs.items()},
            "assumptions": list(self.assumptions),
            "growth_variable": self.growth_variable,
        }

    def __repr__(self) -> str:
        ev = self.evidence
        x = ev.attrs.get("exponent_N", float("nan"))
        xs = ev.attrs.get("exponent_N_stderr", float("nan"))
        return (f"TransitionClass(kind={self.kind!r}, conclusive={self.conclusive}, "
                f"sizes={np.asarray(ev['size'].values).tolist()}, chi_max ~ N^({x:.3g} ± {xs:.2g}))\n"
                f"  {self.reason}")


def _fluctuations(m: np.ndarray, n: float) -> dict[str, np.ndarray]:
    """χ = N(⟨m²⟩ − ⟨m⟩²) and U = 1 − ⟨m⁴⟩/(3⟨m²⟩²) per row of ``m`` (control, replica):
    the bias-corrected values and jackknife errors of :func:`phasekit.susceptibility` and
    :func:`phasekit.binder_cumulant` (one implementation, :func:`fluctuation_curve`);
    rows with fewer than 3 replicas are NaN."""
    chi, chi_se = fluctuation_curve(m, "chi", n)
    binder, u_se = fluctuation_curve(m, "binder")
    k = np.isfinite(m).sum(axis=1).astype(float)
    few = k < 3
    for arr in (chi, binder, chi_se, u_se):
        arr[few] = np.nan
    return {"chi": chi, "chi_se": chi_se, "binder": binder, "binder_se": u_se, "n_replicas": k}


def _growth_variable(sizes: list[float], ns: list[float]) -> tuple[np.ndarray, str]:
    """What χ_max grows against: N (configuration size) when it differs between sizes, as
    on lattices (N = L^d); the scaling variable ``size`` when every size has the same N (model
    families sampled with the same number of tokens per configuration)."""
    if len(ns) >= 2 and np.allclose(ns, ns[0]):
        return np.asarray(sizes, dtype=float), "size"
    return np.asarray(ns, dtype=float), "N"


def _bimodality(x: np.ndarray, max_valley: float = 0.5, min_mass: float = 0.05) -> dict[str, float | bool]:
    """Whether the values ``x`` have two well-separated modes.

    A Gaussian kernel density estimate with Silverman's bandwidth
    h = 1.06 σ n^(−1/5) (σ the overall standard deviation, which over-smooths a bimodal
    sample, so spurious noise modes are suppressed; h is at least the smallest gap
    between distinct values, so lattice-valued order parameters do not make spikes) is
    evaluated on a fine grid. Bimodal = its two highest modes are separated by a valley
    lower than ``max_valley`` (½) times the lower mode, and each side of the valley holds
    at least ``min_mass`` of the sample. ``valley_ratio`` (valley / lower mode; 1 for a
    unimodal sample) is the strength: it falls towards 0 as the two phases separate.
    (Silverman 1981; a broad or flat critical distribution keeps a ratio near 1.)
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    out: dict[str, float | bool] = {"bimodal": False, "valley_ratio": np.nan}
    n = x.size
    sd = float(np.std(x)) if n else 0.0
    if n < 20 or sd <= 0:
        return out
    distinct = np.unique(x)
    gap = float(np.diff(distinct).min()) if distinct.size > 1 else 0.0
    h = 1.06 * sd * n ** (-0.2)
    if distinct.size >= 10:          # lattice-valued data: no kernel narrower than the lattice
        h = max(h, gap)
    grid = np.linspace(x.min() - 2 * h, x.max() + 2 * h, 512)
    dens = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / h) ** 2).sum(axis=1)
    peaks = np.flatnonzero((dens[1:-1] > dens[:-2]) & (dens[1:-1] >= dens[2:])) + 1
    out["valley_ratio"] = 1.0
    if peaks.size < 2:
        return out
    best_ratio = 1.0
    for i in range(peaks.size - 1):          # every valley between neighbouring modes
        a, b = peaks[i], peaks[i + 1]
        lo = a + int(np.argmin(dens[a : b + 1]))
        frac = float((x < grid[lo]).mean())
        if min(frac, 1.0 - frac) < min_mass:  # a few outliers are not a second phase
            continue
        ratio = float(dens[lo] / min(dens[peaks[: i + 1]].max(), dens[peaks[i + 1 :]].max()))
        best_ratio = min(best_ratio, ratio)
    out["valley_ratio"] = best_ratio
    out["bimodal"] = bool(best_ratio < max_valley)
    return out


def _wls_line(x: np.ndarray, y: np.ndarray, se: np.ndarray) -> dict[str, float]:
    """Weighted fits of y = a + b·x (transition) and y = a (crossover) with known errors.

    Parameters from ``statsmodels`` WLS with weights 1/σ²; standard errors with the
    known scale (``cov_type="fixed scale"``), inflated by √(χ²/dof) when the residuals
    are larger than the errors (Birge ratio). AIC = χ² + 2k (Gaussian likelihood with
    known variances, constants dropped).
    """
    import statsmodels.api as sm

    w = 1.0 / se**2
    out: dict[str, float] = {}
    if x.size >= 2 and np.ptp(x) > 0:
        fit = sm.WLS(y, sm.add_constant(x), weights=w).fit(cov_type="fixed scale")
        resid = y - fit.fittedvalues
        chi2 = float((w * resid**2).sum())
        dof = x.size - 2
        inflate = math.sqrt(chi2 / dof) if dof > 0 and chi2 > dof else 1.0
        out.update(intercept=float(fit.params[0]), slope=float(fit.params[1]),
                   slope_stderr=float(fit.bse[1]) * inflate, chi2_transition=chi2,
                   aic_transition=chi2 + 4.0)
    else:
        out.update(intercept=np.nan, slope=np.nan, slope_stderr=np.nan, chi2_transition=np.nan,
                   aic_transition=np.nan)
    fit0 = sm.WLS(y, np.ones_like(y), weights=w).fit(cov_type="fixed scale")
    chi2_0 = float((w * (y - fit0.fittedvalues) ** 2).sum())
    out.update(level=float(fit0.params[0]), chi2_crossover=chi2_0, aic_crossover=chi2_0 + 2.0)
    out["delta_aic"] = out["aic_crossover"] - out["aic_transition"]
    return out


def _binder_crossings(curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[dict[str, Any]]:
    """Significant crossings of Binder curves of consecutive sizes (ordered by N).

    For sizes a < b, U_b − U_a is interpolated onto the union of both control grids (in
    their common range); a crossing needs a difference above +2σ on one side and below
    −2σ on the other; its location is the zero of the linear interpolation between the
    nearest such opposite-signed points.
    """
    found = []
    for (ca, ua, sa), (cb, ub, sb) in zip(curves[:-1], curves[1:], strict=True):
        lo, hi = max(ca.min(), cb.min()), min(ca.max(), cb.max())
        grid = np.union1d(ca, cb)
        grid = grid[(grid >= lo) & (grid <= hi)]
        if grid.size < 2:
            found.append({"crossing": False, "location": np.nan})
            continue

        def interp(c, v, g):
            ok = np.isfinite(v)
            return np.interp(g, c[ok], v[ok]) if ok.sum() >= 2 else np.full(g.shape, np.nan)

        diff = interp(cb, ub, grid) - interp(ca, ua, grid)
        sig = np.sqrt(interp(ca, sa, grid) ** 2 + interp(cb, sb, grid) ** 2)
        pos = np.flatnonzero(diff > 2 * sig)
        neg = np.flatnonzero(diff < -2 * sig)
        if pos.size == 0 or neg.size == 0:
            found.append({"crossing": False, "location": np.nan})
            continue
        pairs = [(i, j) for i in pos for j in neg]
        i, j = min(pairs, key=lambda t: abs(t[0] - t[1]))
        a, b = sorted((i, j))
        seg = diff[a : b + 1]
        k = int(np.flatnonzero(np.sign(seg[:-1]) != np.sign(seg[1:]))[0]) if (
            np.sign(seg[:-1]) != np.sign(seg[1:])).any() else 0
        g0, g1, d0, d1 = grid[a + k], grid[a + k + 1], seg[k], seg[k + 1]
        loc = g0 - d0 * (g1 - g0) / (d1 - d0) if d1 != d0 else 0.5 * (g0 + g1)
        found.append({"crossing": True, "location": float(loc)})
    return found


def _size_row(size: Any, n: float, cvals: np.ndarray, m: np.ndarray) -> tuple[dict[str, Any], tuple]:
    """Per-size evidence: χ maximum, Binder minimum, bimodality near both (see
    :func:`classify_transition`), and the Binder curve (N, control, U, σ_U)."""
    fl = _fluctuations(m, n)
    if not np.isfinite(fl["chi"]).any():
        raise SchemaError(f"size {size!r} has fewer than 3 replicas at every control value",
                          where="classify_transition", fix="give more replicas (samples)")
    i_chi = int(np.nanargmax(fl["chi"]))
    i_u = int(np.nanargmin(fl["binder"]))
    interior = 0 < i_chi < m.shape[0] - 1
    bm: dict[str, Any] = {"bimodal": False, "valley_ratio": np.nan}
    at = np.nan
    for i in sorted({max(i_chi - 1, 0), i_chi, min(i_chi + 1, m.shape[0] - 1), i_u}):
        b = _bimodality(m[i])
        better = (b["bimodal"] and not bm["bimodal"]) or (
            b["bimodal"] == bm["bimodal"] and np.nan_to_num(b["valley_ratio"], nan=2.0)
            < np.nan_to_num(bm["valley_ratio"], nan=2.0))
        if better:
            bm, at = b, cvals[i]
    row = {
        "size": size, "N": n, "chi_max": fl["chi"][i_chi], "chi_max_stderr": fl["chi_se"][i_chi],
        "chi_argmax": cvals[i_chi], "chi_interior": interior,
        "binder_min": fl["binder"][i_u], "binder_min_stderr": fl["binder_se"][i_u],
        "binder_argmin": cvals[i_u], "bimodal": bool(bm["bimodal"]),
        "valley_ratio": float(bm["valley_ratio"]), "bimodality_at": at,
        "n_replicas": float(np.nanmax(fl["n_replicas"])),
    }
    return row, (n, cvals, fl["binder"], fl["binder_se"])


def _growth_fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """WLS of log χ_max on log N (or log size, see :func:`_growth_variable`) against a
    constant (crossover)."""
    n_arr, _ = _growth_variable([r["size"] for r in rows], [r["N"] for r in rows])
    chi = np.maximum(np.array([r["chi_max"] for r in rows]), 1e-12)  # no fluctuation: tiny constant
    chi_se = np.array([r["chi_max_stderr"] for r in rows])
    y_se = np.where(np.isfinite(chi_se) & (chi_se > 0), chi_se / chi, np.nan)
    fallback = np.nanmedian(y_se) if np.isfinite(y_se).any() else 0.05
    y_se = np.where(np.isfinite(y_se), np.maximum(y_se, 1e-3), max(fallback, 1e-3))
    if len(rows) >= 2:
        return _wls_line(np.log(n_arr), np.log(chi), y_se)
    return {"slope": np.nan, "slope_stderr": np.nan, "intercept": np.nan, "aic_transition": np.nan,
            "aic_crossover": np.nan, "delta_aic": np.nan, "chi2_transition": np.nan,
            "chi2_crossover": np.nan, "level": np.nan}


def _decide(layout: list[tuple[Any, float, np.ndarray, np.ndarray]], dimension: float | None,
            min_exponent: float) -> dict[str, Any]:
    """The rules of :func:`classify_transition` on per-size order parameters sorted by N:
    kind, rule-level conclusiveness, reason and every number they used."""
    pairs = [_size_row(size, n, c, m) for size, n, c, m in layout]
    rows, curves = [p[0] for p in pairs], [p[1] for p in pairs]
    sizes = [r["size"] for r in rows]
    n_arr = np.array([r["N"] for r in rows])
    umin = np.array([r["binder_min"] for r in rows])
    umin_se = np.array([r["binder_min_stderr"] for r in rows])
    fit = _growth_fit(rows)
    x = fit["slope"]
    _, against = _growth_variable(sizes, list(n_arr))
    d = dimension if against == "N" else None
    if d is None and against == "N" and len(rows) >= 2 and np.ptp(np.log(np.asarray(sizes, float))) > 0:
        d = float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(n_arr), 1)[0])
    crossings = _binder_crossings([(c, u, s) for _, c, u, s in curves]) if len(curves) >= 2 else []
    flags = {
        "any_cross": any(cr["crossing"] for cr in crossings),
        "dip_last": bool(umin[-1] < -0.05 and umin[-1] + 2 * umin_se[-1] < 0),
        "deepening": bool(len(rows) >= 2 and umin[-1] < umin[0] - 2 * math.hypot(umin_se[0], umin_se[-1])),
        "bimodal_last": bool(rows[-1]["bimodal"]),
        "growth": bool(len(rows) >= 2 and fit["delta_aic"] > 2 and x > min_exponent),
    }
    flags["signature"] = flags["bimodal_last"] or (flags["dip_last"] and (flags["deepening"] or len(rows) == 1))
    kind, conclusive, reason = _rule(rows, fit, flags, crossings, d, min_exponent)
    edge = [r["size"] for r in rows if not r["chi_interior"]]
    if edge and len(rows) >= 2:
        conclusive = False
        reason += (f"; the chi maximum lies at the edge of the control grid for size(s) {edge}: "
                   "the peak is not resolved, widen the grid there")
    return {"kind": kind, "conclusive": bool(conclusive), "reason": reason, "rows": rows, "fit": fit,
            "flags": flags, "crossings": crossings, "d": d, "against": against,
            "gamma_over_nu": x * d if d is not None else np.nan}


def _rule(rows: list[dict[str, Any]], fit: dict[str, float], flags: dict[str, bool],
          crossings: list[dict[str, Any]], d: float | None, min_exponent: float) -> tuple[str, bool, str]:
    """(kind, conclusive by the rules, reason) from the flags; see :func:`classify_transition`."""
    x, sx = fit["slope"], fit["slope_stderr"]
    umin = [r["binder_min"] for r in rows]
    signature, bimodal_last, dip_last = flags["signature"], flags["bimodal_last"], flags["dip_last"]
    if len(rows) == 1:
        if signature:
            kind = "first_order"
            why = "it shows a first-order signature (" + ("bimodal m" if bimodal_last else
                                                           f"Binder dip U_min = {umin[0]:.3g}") + ")"
        elif rows[0]["chi_interior"]:
            kind, why = "continuous", "chi has a maximum inside the control range and no bimodality"
        else:
            kind, why = "crossover", "chi has no maximum inside the control range"
        return kind, False, (
            f"only one size (N = {rows[0]['N']:g}): whether chi_max grows with size, whether Binder "
            f"curves cross and whether a dip deepens cannot be judged; best guess {kind} because "
            f"{why}. A sharp crossover and a transition look alike at one size.")
    if not flags["growth"]:
        conclusive = not signature and fit["delta_aic"] <= 2
        reason = (f"chi_max does not grow with size: log chi_max vs log N slope x = {x:.3g} ± {sx:.2g}, "
                  f"AIC(crossover) - AIC(transition) = {fit['delta_aic']:.3g} (growth needs > 2 and "
                  f"x > {min_exponent})")
        if signature:
            reason += "; but a first-order signature (bimodality / Binder dip) is present: inconclusive"
        elif not conclusive:
            reason += "; the growth is too slow for any known critical point"
        return "crossover", bool(conclusive), reason
    if signature:
        near_one = x >= 1.0 - max(2 * sx, 0.25)
        conclusive = bool(near_one or (bimodal_last and dip_last and flags["deepening"]))
        parts = []
        if bimodal_last:
            parts.append(f"bimodal m at the largest size (valley/peak = {rows[-1]['valley_ratio']:.2g})")
        if dip_last:
            parts.append(f"Binder minimum {umin[-1]:.3g} ± {rows[-1]['binder_min_stderr']:.2g} at the "
                         "largest size" + (f", deepening from {umin[0]:.3g}" if flags["deepening"] else ""))
        reason = (f"first-order: {'; '.join(parts)}; chi_max ~ N^x with x = {x:.3g} ± {sx:.2g}"
                  f" (first-order: 1, faster at small sizes), delta AIC = {fit['delta_aic']:.3g}")
        if not near_one:
            reason += "; chi_max grows slower than N so far (sizes below the correlation length?)"
        return "first_order", conclusive, reason
    cross = [cr["location"] for cr in crossings if cr["crossing"]]
    reason = (f"continuous: chi_max grows as N^x with x = {x:.3g} ± {sx:.2g}"
              + (f" (gamma/nu = {x * d:.3g} for d = {d:.3g})" if d is not None else "")
              + f", delta AIC = {fit['delta_aic']:.3g}; no bimodality, no deepening Binder dip"
              + ("; Binder curves cross at " + ", ".join(f"{c:.4g}" for c in cross) if cross else
                 "; no significant Binder crossing"))
    return "continuous", bool(x + 2 * sx < 1.0 or cross), reason


#: the order of the classes in confusion matrices (rows: simulated class, columns: claim)
_KINDS = ("first_order", "continuous", "crossover")
#: range of chi_max growth exponents x = gamma/(nu d) of the continuous model: the known 2D and
#: 3D critical points lie in it (3D Ising 0.66, 2D Ising / Potts q = 3, 4 near 0.87)
_CONTINUOUS_X = (0.375, 0.875)
#: at most this many simulated order-parameter values per calibration (the number of
#: simulations per class is lowered to fit, never below 20; recorded as calibration_n_sim)
_CALIBRATION_BUDGET = 20_000_000


def _across_sizes(layout: list[tuple[Any, float, np.ndarray, np.ndarray]], values: list[np.ndarray],
                  i: int) -> np.ndarray:
    """Median over sizes of per-size curves, interpolated onto the control grid of size i."""
    grid = layout[i][2]
    out = []
    for (_, _, c, _), v in zip(layout, values, strict=True):
        ok = np.isfinite(v)
        if ok.sum() >= 1:
            order = np.argsort(c[ok])
            out.append(np.interp(grid, c[ok][order], v[ok][order]))
    return np.nanmedian(np.stack(out), axis=0)


def _class_models(layout: list[tuple[Any, float, np.ndarray, np.ndarray]], x_obs: float) -> dict[str, list]:
    """The member of each class closest to the data, as plain per-size parameters.

    All three keep each size's measured mean curve ⟨m⟩(c) and replica layout:

    * ``crossover``: Gaussian m with N·var(m) = χ(c) the same at every size (the median over
      sizes of the measured χ(c)): no growth.
    * ``continuous``: Gaussian (unimodal) m with χ_L(c) = A(c) N^x, x the measured growth
      exponent clipped to ``_CONTINUOUS_X``, A(c) the median over sizes of χ_L(c)/N^x.
    * ``first_order``: two coexisting phases at the size's 5th and 95th percentiles of m, in
      proportion w(c) that reproduces ⟨m⟩(c), each with N·var = the smallest crossover χ:
      χ = N w(1−w)Δm² + const grows like N (Challa, Landau & Binder 1986).
    """
    means = [np.nanmean(m, axis=1) for _, _, _, m in layout]
    with np.errstate(invalid="ignore"):
        chis = [n * np.nanvar(m, axis=1) for _, n, _, m in layout]
    x = float(np.clip(x_obs if np.isfinite(x_obs) else _CONTINUOUS_X[1], *_CONTINUOUS_X))
    g, _ = _growth_variable([s for s, _, _, _ in layout], [n for _, n, _, _ in layout])
    scaled = [chi / gi**x for chi, gi in zip(chis, g, strict=True)]
    models: dict[str, list] = {k: [] for k in _KINDS}
    for i, (_, n, _, m) in enumerate(layout):
        mu = np.where(np.isfinite(means[i]), means[i], np.nanmean(means[i]))
        chi_c = np.maximum(np.nan_to_num(_across_sizes(layout, chis, i), nan=0.0), 1e-12)
        chi_x = np.maximum(np.nan_to_num(_across_sizes(layout, scaled, i), nan=0.0), 1e-12) * g[i]**x
        lo, hi = np.nanpercentile(m, [5, 95])
        hi = max(hi, lo + 1e-9)
        models["crossover"].append({"mu": mu, "sd": np.sqrt(chi_c / n)})
        models["continuous"].append({"mu": mu, "sd": np.sqrt(chi_x / n), "x": x})
        models["first_order"].append({"lo": float(lo), "hi": float(hi), "w": np.clip((mu - lo) / (hi - lo), 0, 1),
                                      "sd": float(np.sqrt(chi_c.min() / n))})
    return models


def _simulate(kind: str, params: list[dict[str, Any]], layout: list, rng: np.random.Generator,
              factor: int) -> list[tuple[Any, float, np.ndarray, np.ndarray]]:
    """One dataset of the class model with the data's layout; ``factor`` times the replicas
    (factor 1 keeps the data's missing-value pattern)."""
    out = []
    for p, (size, n, c, m) in zip(params, layout, strict=True):
        shape = (m.shape[0], m.shape[1] * factor)
        z = rng.standard_normal(shape)
        if kind == "first_order":
            ordered = rng.random(shape) < p["w"][:, None]
            sim = np.where(ordered, p["hi"], p["lo"]) + p["sd"] * z
        else:
            sim = p["mu"][:, None] + p["sd"][:, None] * z
        if factor == 1:
            sim[~np.isfinite(m)] = np.nan
        out.append((size, n, c, sim))
    return out


def _claims(models: dict[str, list], layout: list, rng: np.random.Generator, n_sim: int,
            factor: int, dimension: float | None, min_exponent: float,
            classes: tuple[str, ...] = _KINDS) -> np.ndarray:
    """Confusion matrix (3 × 3, order ``_KINDS``): the share of ``n_sim`` simulations of each
    class model (rows; NaN for classes not simulated) in which the rules *claim* each kind
    conclusively (columns)."""
    out = np.full((3, 3), np.nan)
    for a, truth in enumerate(_KINDS):
        if truth not in classes:
            continue
        out[a] = 0.0
        for _ in range(n_sim):
            try:
                dec = _decide(_simulate(truth, models[truth], layout, rng, factor), dimension, min_exponent)
            except SchemaError:
                continue
            if dec["conclusive"]:
                out[a, _KINDS.index(dec["kind"])] += 1
    return out / n_sim


def _calibrate(kind: str, layout: list, dec: dict[str, Any], n_sim: int, rng: np.random.Generator,
               dimension: float | None, min_exponent: float) -> dict[str, Any]:
    """Error rate of a conclusive ``kind``: the largest share, over the other two classes'
    closest models (:func:`_class_models`) simulated with this layout, of simulations in
    which the rules claim ``kind`` conclusively (a parametric bootstrap of the decision)."""
    models = _class_models(layout, dec["fit"]["slope"])
    per = sum(m.size for _, _, _, m in layout)
    n_sim = int(min(n_sim, max(20, _CALIBRATION_BUDGET // (2 * per))))  # cost bound
    others = tuple(k for k in _KINDS if k != kind)
    claims = _claims(models, layout, rng, n_sim, 1, dimension, min_exponent, others)
    col = _KINDS.index(kind)
    err = max(claims[a, col] for a in range(3) if a != col)
    return {"error_rate": float(err), "claims": claims, "n_sim": n_sim, "models": models}


def _replicas_to_settle(models: dict[str, list], layout: list, rng: np.random.Generator,
                        dimension: float | None, min_exponent: float, error_rate: float,
                        n_scan: int, factors: tuple[int, ...] = (2, 4, 8, 16, 32),
                        budget: float = 3e6) -> dict[str, Any]:
    """Smallest replica multiplier at which the three class models are told apart: no class
    is claimed conclusively for another's in more than ``error_rate`` of the simulations, and
    each is claimed conclusively as itself in at least half of them. Simulation cost is
    bounded by ``budget`` simulated values in total."""
    per = sum(m.size for _, _, _, m in layout)
    spent, tried = 0.0, 0
    for f in factors:
        cost = 3.0 * n_scan * per * f
        if spent + cost > budget:
            break
        spent, tried = spent + cost, f
        claims = _claims(models, layout, rng, n_scan, f, dimension, min_exponent)
        off = claims - np.diag(np.diag(claims))
        if np.all(np.diag(claims) >= 0.5) and off.max() <= error_rate:
            reps = np.array([m.shape[1] * f for _, _, _, m in layout], dtype=float)
            return {"factor": float(f), "replicas": reps, "largest_factor_simulated": float(f),
                    "text": (f"About {f} times the replicas ({reps.astype(int).tolist()} per control "
                             "point, by size) would settle it with these sizes and control grids.")}
    checked = (f"Up to {tried} times the replicas (the most the simulation budget allows) do not separate "
               "the classes at these sizes" if tried else
               f"The simulation budget does not allow checking {factors[0]} times the replicas at these sizes")
    return {"factor": np.nan, "replicas": np.array([], dtype=float), "largest_factor_simulated": float(tried),
            "text": (f"{checked}: add larger sizes (the classes differ in how chi_max grows with N) "
                     "and more replicas.")}


def _transition_result(kind: str, conclusive: bool, reason: str, dec: dict[str, Any],
                       cal: dict[str, Any], settle: dict[str, Any], error_rate: float, seed: Any,
                       min_exponent: float, assumptions: tuple[str, ...] = ()) -> TransitionClass:
    rows, fit, flags = dec["rows"], dec["fit"], dec["flags"]
    per = {k: ("size", np.array([r[k] for r in rows])) for k in rows[0] if k != "size"}
    ev = xr.Dataset(per, coords={"size": ("size", np.asarray([r["size"] for r in rows]))})
    d = dec["d"]
    ev.attrs = provenance(
        estimator="transition order from finite-size scaling of chi_max, Binder cumulant and bimodality",
        exponent_N=fit["slope"], exponent_N_stderr=fit["slope_stderr"], exponent_L=dec["gamma_over_nu"],
        dimension=d if d is not None else np.nan,
        intercept=fit["intercept"], aic_transition=fit["aic_transition"],
        aic_crossover=fit["aic_crossover"], delta_aic=fit["delta_aic"],
        chi2_transition=fit["chi2_transition"], chi2_crossover=fit["chi2_crossover"],
        growth=flags["growth"], first_order_signature=flags["signature"], binder_dip=flags["dip_last"],
        binder_dip_deepens=flags["deepening"], bimodal_largest=flags["bimodal_last"],
        binder_crossing=flags["any_cross"],
        binder_crossing_locations=np.array([cr["location"] for cr in dec["crossings"] if cr["crossing"]],
                                           dtype=float),
        min_exponent=min_exponent,
        error_method="delete-one jackknife over replicas; slope error with known scale (Birge-inflated)",
        chi_definition="N * (<m^2> - <m>^2) (not divided by the control value)",
        kind=kind, conclusive=conclusive, rule_conclusive=dec["conclusive"],
        error_rate_target=float(error_rate), error_rate=cal["error_rate"],
        calibration="parametric simulation of the closest first-order / continuous / crossover models "
                    "with this layout (sizes, control grids, replicas); error_rate = largest share of "
                    "another class's simulations claiming this kind conclusively",
        calibration_n_sim=cal["n_sim"], calibration_classes=",".join(_KINDS),
        calibration_claims=np.asarray(cal["claims"], dtype=float).ravel(),
        calibration_seed=seed if isinstance(seed, int | np.integer) else str(type(seed).__name__),
        replicas_factor_to_settle=settle["factor"], replicas_to_settle=settle["replicas"],
    )
    return TransitionClass(kind=kind, conclusive=bool(conclusive), reason=reason, evidence=ev,
                           error_rate=cal["error_rate"], error_rate_target=float(error_rate),
                           to_settle=settle["text"], assumptions=assumptions,
                           growth_variable=dec.get("against", "N"))




def classify_transition(
    m_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    replica: Hashable = "sample",
    control: Hashable | None = None,
    *,
    n_by_size: Mapping[Any, float] | float | None = None,
    dimension: float | None = None,
    min_exponent: float = MIN_GROWTH_EXPONENT,
    error_rate: float = 0.05,
    n_calibration: int = 100,
    seed: int | np.random.Generator | None = 0,
    settle: bool = True,
) -> TransitionClass:
    r"""First-order, continuous or crossover, from the order parameter at several sizes.

    For each size, from the per-configuration order parameter :math:`m` (dims
    ``control`` × ``replica``):

    * susceptibility :math:`\chi = N(\langle m^2\rangle - \langle m\rangle^2)` along the
      control axis, its maximum :math:`\chi_{\max}` and location (jackknife errors over
      replicas);
    * Binder cumulant :math:`U = 1 - \langle m^4\rangle / (3\langle m^2\rangle^2)`, its
      minimum;
    * bimodality of :math:`m` across replicas at the transition (the control points at
      and next to :math:`\chi_{\max}` and to the Binder minimum): two modes of a kernel
      density estimate separated by a valley below half the lower mode;

    and across sizes the weighted fit :math:`\log\chi_{\max} = a + x \log N` (statsmodels
    WLS) against the constant :math:`\log\chi_{\max} = a`, compared by AIC. With
    :math:`N = L^d`, :math:`x = \gamma/(\nu d)` at a continuous transition and
    :math:`x = 1` at a first-order one (Challa, Landau & Binder 1986).

    Rules, applied in order:

    1. **growth**: the transition model is preferred (ΔAIC = AIC_crossover −
       AIC_transition > 2) *and* :math:`x >` ``min_exponent`` (0.25: every known
       critical point has :math:`(2-\eta)/d \ge 0.375` for :math:`d \le 4`). No growth
       → ``"crossover"`` (χ_max does not grow with size: a smooth change).
    2. **first-order signature**: bimodal :math:`m` at the largest size, or a Binder
       minimum significantly below zero (:math:`U_{\min} < -0.05` and
       :math:`U_{\min} + 2\sigma < 0`) at the largest size that deepens with size
       (lower than at the smallest size by more than 2σ). Growth with the signature →
       ``"first_order"`` (conclusive when :math:`x \ge 1 - \max(2\sigma_x, 0.25)`:
       growth at least like N, which no continuous transition has since
       :math:`\gamma/\nu \le d` (small sizes below the correlation length often grow
       faster than N); or when both dip and bimodality are seen).
    3. Growth without it → ``"continuous"`` (conclusive when :math:`x + 2\sigma_x < 1`
       or the Binder curves of successive sizes cross).

    Whatever the kind, the answer is not conclusive when the χ maximum of some size lies
    at the edge of its control grid (the peak is not resolved).

    **Calibration (the stated error rate).** With two sizes or more, a conclusive answer
    must also hold at the stated ``error_rate`` (default 0.05) for *this* layout: the
    member of each other class closest to the data (same mean curves and replica pattern;
    crossover = χ(c) equal at every size, continuous = unimodal with χ ∝ N^x,
    x in [0.375, 0.875], first-order = two coexisting phases reproducing ⟨m⟩(c)) is
    simulated ``n_calibration`` times with the same sizes, control grids and replica
    counts, and the rules run on each simulation. The error rate of the answer is the
    largest share of another class's simulations in which the rules claim the answer
    conclusively; above ``error_rate`` the answer is not conclusive (a parametric
    bootstrap of the decision; Efron & Tibshirani 1993, ch. 6). The replica count that
    would settle it (the smallest multiple, up to 32, at which no class is confidently
    mistaken for another and each is recognised in half the simulations) is then searched
    by the same simulation and reported in ``to_settle`` (or: add sizes). The simulation is
    seeded (``seed=0`` by default, recorded; ``seed=None`` for fresh randomness) and
    cost-bounded (at most 2·10⁷ simulated values for the calibration, 3·10⁶ for the
    search). The models are the closest members of each class, not the worst case; the
    calibration is validated on Potts q = 2, q = 10 and biased spins at 4–100 replicas
    (``tests/test_validation_transition_order.py``).

    χ and U are the bias-corrected values of :func:`phasekit.susceptibility` and
    :func:`phasekit.binder_cumulant`. Control values come from
    :func:`phasekit._meta.control_values` (``control="checkpoint"`` reads ``step``).
    ``size`` is the scaling variable; N, the configuration size in χ, is read from
    ``n_by_size``, ``attrs["N"]`` (or an ``N`` coordinate along the size dim) or
    ``size ** dimension``. When every size has the same N (model families sampled with
    the same tokens per configuration), χ_max growth is measured against ``size``
    instead, and that is an assumption (``growth_variable="size"``, ``assumptions``, a
    warning): the thresholds then treat ``size`` as the number of degrees of freedom.

    With one size nothing about growth can be said: ``kind`` is the best guess
    (first-order when that size shows the signature; else continuous when χ has an
    interior maximum, crossover otherwise) and ``conclusive`` is ``False``.

    Parameters
    ----------
    m_by_size : {size: DataArray} or a DataArray with a ``size`` dim (then a coord ``N``
        along ``size`` may give N). Each holds one order-parameter value per
        configuration, dims ``control`` and ``replica``; sizes may have different control
        grids and replica counts.
    replica : the dim over which fluctuations are taken.
    control : the control dim (default: the one dim besides ``replica``).
    n_by_size : N (spins per configuration) per size, or one number; default
        ``attrs["N"]`` of each DataArray, else ``size ** dimension``.
    dimension : d, used for N when no N is given and to report γ/ν = x·d (default: the
        slope of log N against log size when sizes are numbers).
    min_exponent : the smallest growth exponent in N read as growth.
    error_rate : the stated error rate of a conclusive answer (see Calibration).
    n_calibration : simulations per alternative class (0: no calibration; then
        ``conclusive`` is the rules' alone, recorded as ``error_rate = NaN``).
    seed : seed or Generator of the calibration simulations (default 0: deterministic).
    settle : when not conclusive, also search by simulation for how many more replicas
        would settle it (``to_settle``; the costliest step). ``False`` skips the search
        (``to_settle`` then says so); ``kind``, ``conclusive`` and ``error_rate`` are the
        same either way (the search runs after the calibration).

    References
    ----------
    K. Binder, Z. Phys. B 43, 119 (1981); M. S. S. Challa, D. P. Landau, K. Binder,
    Phys. Rev. B 34, 1841 (1986); J. Lee, J. M. Kosterlitz, Phys. Rev. B 43, 3265 (1991);
    B. W. Silverman, J. R. Stat. Soc. B 43, 97 (1981).
    """
    items = by_size(m_by_size, argument="m_by_size", min_sizes=1)
    if not 0 < float(error_rate) < 1:
        raise SchemaError(f"error_rate={error_rate} is not a probability", where="error_rate",
                          fix="pass e.g. error_rate=0.05")
    layout, assumptions = _layout(items, replica, control, n_by_size, dimension)
    dec = _decide(layout, dimension, min_exponent)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    conclusive, reason, cal, to_settle = _calibrated(layout, dec, rng, dimension, min_exponent,
                                                     float(error_rate), int(n_calibration),
                                                     bool(settle))
    if assumptions:
        warnings.warn("classify_transition: " + "; ".join(assumptions), RuntimeWarning,
                      stacklevel=2)
    return _transition_result(dec["kind"], conclusive, reason, dec, cal, to_settle, error_rate, seed,
                              min_exponent, tuple(assumptions))


def _layout(items: dict[float, xr.DataArray], replica: Hashable, control: Hashable | None,
            n_by_size: Any, dimension: float | None) -> tuple[list, list[str]]:
    """[(size, N, control values, m (control, replica))] sorted by N then size, and the
    assumptions made reading them."""
    layout: list[tuple[float, float, np.ndarray, np.ndarray]] = []
    notes: list[str] = []
    for size, da in items.items():
        require_dims(da, (replica,), argument="replica")
        ctrl = control
        if ctrl is None:
            rest = [d for d in da.dims if d != replica]
            if len(rest) != 1:
                raise SchemaError(f"cannot tell the control dim of size {size:g} from dims "
                                  f"{list(da.dims)}", where="classify_transition",
                                  fix="pass control=<dim name>")
            ctrl = rest[0]
        extra = [d for d in da.dims if d not in (ctrl, replica)]
        if extra:
            raise SchemaError(f"size {size:g} has extra dims {extra}", where="classify_transition",
                              fix="select or average them first (one control and one replica dim)")
        cvals, source = control_axis(da, ctrl, size)
        if source == "positions" and not notes:
            notes.append(f"control {ctrl!r} has no numeric coordinate and no `step` coordinate: "
                         "control values taken as positions 0, 1, 2, ...")
        n, _ = configuration_size(da, size, n_by_size=n_by_size, dimension=dimension)
        layout.append((size, n, cvals, np.asarray(da.transpose(ctrl, replica).values, dtype=float)))
    layout.sort(key=lambda t: (t[1], t[0]))
    if len(layout) >= 2 and np.allclose([t[1] for t in layout], layout[0][1]):
        notes.append(f"every size has the same configuration size N = {layout[0][1]:g}: chi_max "
                     "growth measured against `size` (the thresholds treat size as the number "
                     "of degrees of freedom; pass n_by_size= if N differs)")
    return layout, notes


def _calibrated(layout: list, dec: dict[str, Any], rng: np.random.Generator,
                dimension: float | None, min_exponent: float, error_rate: float,
                n_calibration: int, search: bool = True
                ) -> tuple[bool, str, dict[str, Any], dict[str, Any]]:
    """Conclusive only at the stated error rate (see :func:`classify_transition`): the
    calibration, the reason extended with it, and what more data would settle it."""
    kind, conclusive, reason = dec["kind"], dec["conclusive"], dec["reason"]
    cal: dict[str, Any] = {"error_rate": np.nan, "claims": np.full((3, 3), np.nan), "n_sim": 0,
                           "models": {}}
    settle: dict[str, Any] = {"factor": np.nan, "replicas": np.array([], dtype=float), "text": ""}
    if len(layout) == 1:
        settle["text"] = ("Measure the same order parameter at two or more further sizes: growth of "
                          "chi_max with N is what separates the classes.")
        return conclusive, reason, cal, settle
    if n_calibration <= 0:
        return conclusive, reason, cal, settle
    cal = _calibrate(kind, layout, dec, n_calibration, rng, dimension, min_exponent)
    rate = f"{cal['error_rate']:.3g} of {cal['n_sim']} simulations"
    if conclusive and cal["error_rate"] <= error_rate:
        return True, reason + (
            f"; conclusive at the stated error rate {error_rate:g}: the closest alternative "
            f"models claim '{kind}' in {rate} of this layout"), cal, settle
    if search:
        settle = _replicas_to_settle(cal["models"], layout, rng, dimension, min_exponent,
                                     error_rate, n_scan=max(20, n_calibration // 3))
    else:
        settle["text"] = ("What more data would settle it was not searched for (settle=False).")
    if cal["error_rate"] <= error_rate:
        reason += (f"; not conclusive by the rules above (calibrated error rate {rate}, stated "
                   f"{error_rate:g}). " + settle["text"])
    else:
        reason += (f"; NOT conclusive at the stated error rate {error_rate:g}: the closest "
                   f"alternative models claim '{kind}' in {rate} of this layout. " + settle["text"])
    return False, reason, cal, settle
