"""Exponents at a fixed value of the Binder cumulant (phenomenological renormalisation).

Under finite-size scaling ``U_L(t) = g((t − t_c) L^{1/ν})``: at the control value
``t_U(L)`` where ``U_L = U*`` the scaling variable ``x = g⁻¹(U*)`` is the same for every
size, so

    χ(t_U(L), L) ∝ L^{γ/ν},   ⟨m⟩(t_U(L), L) ∝ L^{−β/ν},   |dU/dt|(t_U(L), L) ∝ L^{1/ν}

hold exactly, *without knowing t_c* — up to corrections to scaling. A collapse of ⟨m⟩ or
a fit at an estimated t_c trades a shift of t_c for a change of β/ν (on ising-rs data a
0.2 % error of t_c moves β/ν by ~50 %); here t_c never enters. The exponents are the
slopes of least-squares lines of the logarithms against ``log L`` — except β/ν, which is
read pair by pair (the quotient method): at the temperature T*(L1, L2) where U_L1 = U_L2
both sizes share U *and* T, and ``β/ν(L1, L2) = −ln(⟨m⟩_L2/⟨m⟩_L1)/ln(L2/L1)``; the pairs
that contain the smallest size (where corrections to scaling are largest) are left out of
the estimate and their shift is part of the systematic error.

References
----------
M. P. Nightingale, Physica A 83, 561 (1976) (phenomenological renormalisation);
M. Hasenbusch, J. Phys. A 32, 4851 (1999) (observables at a fixed phenomenological
coupling); H. G. Ballesteros, L. A. Fernández, V. Martín-Mayor and A. Muñoz Sudupe,
Phys. Lett. B 387, 125 (1996) (the quotient method); K. Binder, Z. Phys. B 43, 119 (1981).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._meta import jsonable, provenance
from ..errors import SchemaError
from .crossings import _pair_crossing
from .curves import Curve, block_labels, curves_from_replicas, replica_data, resample_index
from .sizes import by_size

__all__ = ["FixedBinderExponents", "fixed_binder_exponents"]

#: the three exponents: name -> (observable, sign of the log-log slope)
_EXPONENTS = {"inv_nu": ("dbinder", 1.0), "gamma_nu": ("chi", 1.0), "beta_nu": ("m", -1.0)}


@dataclass
class FixedBinderExponents:
    """ν, γ/ν and β/ν from observables at a fixed Binder cumulant ``U*`` (plain data).

    Each exponent has ``*_stderr`` = bootstrap over replicas ⊕ the finite-size
    ``systematic`` = ``drop_smallest`` (shift when the smallest size is dropped) ⊕
    ``size_drift`` (half the difference between the fits without the largest and without
    the smallest size: how far the effective exponent drifts with L); ``per_size`` holds ``t_U``
    (the control value where ``U_L = U*``), χ, ⟨m⟩ and |dU/dt| there, with errors.

    β/ν is the quotient estimate: ``quotients`` has one row per pair of sizes (L1 < L2) with
    the crossing T* of their Binder cumulants, U there, ⟨m⟩ of both sizes at T*, the pair's
    ``beta_nu = −ln(⟨m⟩_L2/⟨m⟩_L1)/ln(L2/L1)`` ± its bootstrap error, and ``used`` (the pairs
    without the smallest size when there are ≥ 3 sizes). For β/ν ``drop_smallest`` is the
    shift to the mean over all pairs and ``size_drift`` half the difference between the pairs
    without the smallest and without the largest size. ``beta_nu_common`` (± stderr) is the
    slope of log ⟨m⟩ at the one common ``U*`` (what ``beta_nu`` was before; for comparison).
    """

    nu: float
    nu_stderr: float
    gamma_nu: float
    gamma_nu_stderr: float
    beta_nu: float
    beta_nu_stderr: float
    binder_value: float
    binder_value_source: str
    per_size: pd.DataFrame
    statistical_stderr: dict[str, float] = field(default_factory=dict)
    systematic: dict[str, float] = field(default_factory=dict)
    drop_smallest: dict[str, float] = field(default_factory=dict)
    size_drift: dict[str, float] = field(default_factory=dict)
    quotients: pd.DataFrame = field(default_factory=pd.DataFrame)
    beta_nu_common: float = float("nan")
    beta_nu_common_stderr: float = float("nan")
    assumptions: tuple[str, ...] = ()
    n_bootstrap: int = 0
    seed: int | None = 0
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        keys = ("nu", "nu_stderr", "gamma_nu", "gamma_nu_stderr", "beta_nu", "beta_nu_stderr",
                "binder_value", "binder_value_source", "statistical_stderr", "systematic",
                "drop_smallest", "size_drift", "beta_nu_common", "beta_nu_common_stderr",
                "n_bootstrap", "seed", "attrs")
        out = {k: getattr(self, k) for k in keys}
        out.update(per_size=self.per_size.to_dict(orient="records"),
                   quotients=self.quotients.to_dict(orient="records"),
                   assumptions=list(self.assumptions))
        return jsonable(out)

    def to_dataset(self) -> xr.Dataset:
        """Exponents with ``*_stderr``; the per-size values along ``size``."""
        data: dict[str, Any] = {}
        for k in ("nu", "gamma_nu", "beta_nu"):
            data[k] = ((), getattr(self, k))
            data[f"{k}_stderr"] = ((), getattr(self, f"{k}_stderr"))
            data[f"{k}_systematic"] = ((), self.systematic.get(k, np.nan))
        table = self.per_size.set_index("size")
        for c in table.columns:
            data[f"at_fixed_binder_{c}"] = (("size",), table[c].to_numpy(float))
        for c in self.quotients.columns:
            data[f"quotient_{c}"] = (("pair",), self.quotients[c].to_numpy())
        data["beta_nu_common"] = ((), self.beta_nu_common)
        data["beta_nu_common_stderr"] = ((), self.beta_nu_common_stderr)
        ds = xr.Dataset(data, coords={"size": table.index.to_numpy(float)})
        ds.attrs = provenance(binder_value=self.binder_value, source=self.binder_value_source,
                              assumptions=list(self.assumptions), seed=self.seed,
                              n_bootstrap=self.n_bootstrap)
        return ds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FixedBinderExponents):
            return NotImplemented
        return self.to_dict() == other.to_dict()


def _local_fit(c: Curve, center: float, k: int, deg: int) -> np.ndarray | None:
    """Weighted polynomial in (t − center) on the k nearest points (None if too few)."""
    if c.t.size < k:
        k = c.t.size
    if k < deg + 2:
        return None
    idx = np.sort(np.argsort(np.abs(c.t - center), kind="stable")[:k])
    w = None
    if c.dy is not None:
        pos = c.dy[idx][np.isfinite(c.dy[idx]) & (c.dy[idx] > 0)]
        floor = float(pos.mean() * 1e-3) if pos.size else 1e-12
        w = 1.0 / np.maximum(c.dy[idx], floor)
    return np.polyfit(c.t[idx] - center, c.y[idx], deg, w=w)


def _where_binder_is(c: Curve, u_star: float, near: float) -> float:
    """The control value where U_L = U*: the sign change of U − U* nearest ``near``,
    refined by the root of a weighted local cubic (5 points) within the bracket."""
    d = c.y - u_star
    sc = np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) <= 0)[0]
    if sc.size == 0:
        return float("nan")
    j = sc[np.argmin(np.abs(0.5 * (c.t[sc] + c.t[sc + 1]) - near))]
    t0 = c.t[j] if d[j + 1] == d[j] else c.t[j] - d[j] * (c.t[j + 1] - c.t[j]) / (d[j + 1] - d[j])
    p = _local_fit(c, t0, 5, 3)
    if p is None:
        return float(t0)
    q = p.copy()
    q[-1] -= u_star
    roots = np.roots(q) if np.any(q[:-1] != 0) else np.array([])
    roots = roots[np.abs(roots.imag) < 1e-9].real
    roots = roots[(roots >= c.t[j] - t0) & (roots <= c.t[j + 1] - t0)]
    return float(t0 + roots[np.argmin(np.abs(roots))]) if roots.size else float(t0)


def _at_fixed_binder(curves: dict[str, dict[float, Curve]], u_star: float, near: float
                     ) -> np.ndarray:
    """Per size (rows): t_U, |dU/dt|, χ and ⟨m⟩ at t_U (NaN where U* is not crossed)."""
    rows = []
    for L, cu in curves["binder"].items():
        t_u = _where_binder_is(cu, u_star, near)
        if not np.isfinite(t_u):
            rows.append([np.nan] * 4)
            continue
        pu = _local_fit(cu, t_u, 7, 2)
        pc = _local_fit(curves["chi"][L], t_u, 5, 3)
        pm = _local_fit(curves["m"][L], t_u, 5, 3)
        vals = [t_u, abs(pu[-2]) if pu is not None else np.nan,
                pc[-1] if pc is not None else np.nan, pm[-1] if pm is not None else np.nan]
        rows.append(vals)
    return np.array(rows, dtype=float)


def _pair_quotients(curves: dict[str, dict[float, Curve]], near: np.ndarray | None) -> np.ndarray:
    """Per pair of sizes (L1 < L2, rows in ``itertools.combinations`` order of the sorted
    sizes): the crossing T* of U_L1 and U_L2 (as :func:`critical_point` finds it), U there,
    ⟨m⟩_L1 and ⟨m⟩_L2 at T* (weighted local cubics on 5 points) and the pair's exponent
    ``β/ν(L1, L2) = −ln(⟨m⟩_L2/⟨m⟩_L1)/ln(L2/L1)`` (the quotient method, Ballesteros et al.
    1996: at T* the two sizes share U, hence — up to corrections — the scaling variable)."""
    cu, cm = curves["binder"], curves["m"]
    pairs = list(itertools.combinations(sorted(cu), 2))
    near = np.full(len(pairs), np.nan) if near is None else near
    rows = []
    for (a, b), nr in zip(pairs, near, strict=True):
        t = _pair_crossing(cu[a], cu[b], 5, nr)
        fits = [_local_fit(c, t, 5, 3) if np.isfinite(t) else None for c in (cu[a], cu[b], cm[a], cm[b])]
        if any(f is None for f in fits):
            rows.append([t, np.nan, np.nan, np.nan, np.nan])
            continue
        ua, ub, ma, mb = (float(f[-1]) for f in fits)  # type: ignore[index]
        q = -math.log(mb / ma) / math.log(b / a) if ma > 0 and mb > 0 else np.nan
        rows.append([t, 0.5 * (ua + ub), ma, mb, q])
    return np.array(rows, dtype=float).reshape(len(pairs), 5)


def _quotient_means(pairs: list[tuple[float, float]], q: np.ndarray) -> dict[str, float]:
    """Means of the pair exponents ``q`` weighted by ln(L2/L1)² (the inverse variance of a
    two-point slope when log ⟨m⟩ has the same error at every size): over all pairs, the
    pairs without the smallest size and the pairs without the largest size."""
    a, b = (np.array(x, dtype=float) for x in zip(*pairs, strict=True))
    w = np.log(b / a) ** 2
    ok = np.isfinite(q)

    def mean(sel: np.ndarray) -> float:
        sel = sel & ok
        return float(np.sum(w[sel] * q[sel]) / np.sum(w[sel])) if sel.any() else float("nan")

    return {"all": mean(ok), "without_smallest": mean(a > a.min()), "without_largest": mean(b < b.max())}


def _quotient_beta_nu(base: np.ndarray, boot: np.ndarray, sizes: np.ndarray) -> tuple[dict[str, float], pd.DataFrame]:
    """β/ν from the pair quotients: the estimate (pairs without the smallest size when there are
    ≥ 3 sizes, else all), its bootstrap error, the shift to all pairs (``drop_smallest``) and
    half the difference between the pairs without the smallest and without the largest size
    (``size_drift``); and the per-pair table."""
    pairs = list(itertools.combinations(sorted(float(L) for L in sizes), 2))
    means = _quotient_means(pairs, base[:, 4])
    reduced = sizes.size >= 3 and np.isfinite(means["without_smallest"])
    key = "without_smallest" if reduced else "all"
    reps = np.array([_quotient_means(pairs, b[:, 4])[key] for b in boot], dtype=float)
    reps = reps[np.isfinite(reps)]
    out = {"value": means[key], "stat": float(np.std(reps, ddof=1)) if reps.size >= 2 else float("nan"),
           "drop": abs(means[key] - means["all"]) if reduced else float("nan"),
           "drift": 0.5 * abs(means[key] - means["without_largest"]) if reduced else float("nan")}
    pair_err = np.nanstd(boot[:, :, 4], axis=0, ddof=1) if boot.shape[0] >= 2 else np.full(len(pairs), np.nan)
    smallest = min(a for a, _ in pairs)
    table = pd.DataFrame({"size_1": [a for a, _ in pairs], "size_2": [b for _, b in pairs],
                          "control": base[:, 0], "binder": base[:, 1], "m_1": base[:, 2], "m_2": base[:, 3],
                          "beta_nu": base[:, 4], "beta_nu_stderr": pair_err,
                          "used": [bool(np.isfinite(q) and (not reduced or a > smallest))
                                   for (a, _), q in zip(pairs, base[:, 4], strict=True)]})
    return out, table


def _slopes(sizes: np.ndarray, values: np.ndarray, weights: np.ndarray | None) -> dict[str, float]:
    """Weighted LS slopes of log |dU/dt|, log χ, log ⟨m⟩ against log L → 1/ν, γ/ν, β/ν."""
    out = {}
    for (name, (_, sign)), col in zip(_EXPONENTS.items(), (1, 2, 3), strict=True):
        y = np.log(np.where(values[:, col] > 0, values[:, col], np.nan))
        ok = np.isfinite(y)
        if weights is not None:
            ok &= np.isfinite(weights[:, col]) & (weights[:, col] > 0)
        if ok.sum() < 2:
            out[name] = float("nan")
            continue
        w = np.ones(ok.sum()) if weights is None else weights[ok, col]
        x = np.log(sizes[ok])
        xm = np.sum(w * x) / w.sum()
        ym = np.sum(w * y[ok]) / w.sum()
        out[name] = float(sign * np.sum(w * (x - xm) * (y[ok] - ym)) / np.sum(w * (x - xm) ** 2))
    return out


def _points_across_window(c: Curve) -> int:
    """Control values where U lies in the central half of its range on the grid (the
    scaling window the local fits at t_U have to resolve)."""
    lo, hi = float(np.nanmin(c.y)), float(np.nanmax(c.y))
    return int(np.sum((c.y > lo + 0.25 * (hi - lo)) & (c.y < hi - 0.25 * (hi - lo))))


def _reference_binder(cu: dict[float, Curve], binder_value: float | None
                      ) -> tuple[float, float, str]:
    """(U*, the control value near which U* is sought, where U* came from)."""
    cross, us = [], []
    for a, b in itertools.combinations(cu, 2):
        x = _pair_crossing(cu[a], cu[b], 5)
        if np.isfinite(x):
            cross.append(x)
            us.append(0.5 * (np.interp(x, cu[a].t, cu[a].y) + np.interp(x, cu[b].t, cu[b].y)))
    if binder_value is not None:
        near = float(np.median(cross)) if cross else float(np.median(
            [c.t[np.argmin(np.abs(c.y - binder_value))] for c in cu.values()]))
        return float(binder_value), near, "given"
    if not cross:
        raise SchemaError(
            "the Binder cumulants of the sizes do not cross: no common value U* to fix",
            where="m_by_size", fix="widen the control range around the transition, or pass "
            "binder_value= (e.g. 0.61 for 2D Ising)")
    return float(np.mean(us)), float(np.median(cross)), "mean U at the pairwise Binder crossings"


def _bootstrap_values(curves_of: Any, rd: Any, rng: np.random.Generator, blocks: Any,
                      u_star: float, near: float, n_bootstrap: int, near_pairs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """On replica resamples: (n_bootstrap, n_sizes, 4) per-size values (U* held fixed) and
    (n_bootstrap, n_pairs, 5) pair quotients (crossings sought near the data's)."""
    out, pairs = [], []
    for _ in range(n_bootstrap):
        c = curves_of(resample_index(rd.mats, rng, blocks))
        out.append(_at_fixed_binder(c, u_star, near))
        pairs.append(_pair_quotients(c, near_pairs))
    n_pairs = len(rd.mats) * (len(rd.mats) - 1) // 2
    return (np.array(out, dtype=float).reshape(n_bootstrap, len(rd.mats), 4),
            np.array(pairs, dtype=float).reshape(n_bootstrap, n_pairs, 5))


def _exponent_errors(sizes: np.ndarray, values: np.ndarray, boot: np.ndarray,
                     weights: np.ndarray | None) -> tuple[dict[str, float], dict[str, float],
                                                          dict[str, float], dict[str, float]]:
    """(estimates, statistical errors, drop-smallest-size shifts, size drifts) of ν, γ/ν, β/ν.

    The drift is half the difference between the slopes fitted without the largest and
    without the smallest size: how far the effective exponent moves across the sizes (the
    corrections to scaling the pure power law leaves out).
    """
    est = _slopes(sizes, values, weights)
    reps = [_slopes(sizes, b, weights) for b in boot]
    stat, sys_, drift = {}, {}, {}
    parts = {}
    if sizes.size >= 3:
        parts = {"small": _slopes(sizes[1:], values[1:], None if weights is None else weights[1:]),
                 "large": _slopes(sizes[:-1], values[:-1], None if weights is None else weights[:-1])}

    def as_exponent(k: str, v: float) -> float:
        return 1.0 / v if k == "inv_nu" else v

    for k in est:
        r = np.array([as_exponent(k, x[k]) for x in reps], dtype=float)
        r = r[np.isfinite(r)]
        stat[k] = float(np.std(r, ddof=1)) if r.size >= 2 else float("nan")
        if parts and np.isfinite(parts["small"][k]):
            sys_[k] = float(abs(as_exponent(k, est[k]) - as_exponent(k, parts["small"][k])))
        if parts and np.isfinite(parts["small"][k]) and np.isfinite(parts["large"][k]):
            drift[k] = 0.5 * float(abs(as_exponent(k, parts["small"][k]) - as_exponent(k, parts["large"][k])))
    est["nu"] = 1.0 / est.pop("inv_nu")
    for d in (stat, sys_, drift):
        if "inv_nu" in d:
            d["nu"] = d.pop("inv_nu")
    return est, stat, sys_, drift


def _use_quotient_beta_nu(pairs: np.ndarray, boot_pairs: np.ndarray, sizes: np.ndarray,
                          est: dict[str, float], stat: dict[str, float], drop: dict[str, float],
                          drift: dict[str, float]) -> pd.DataFrame:
    """Replace β/ν of the common-U* fit (in place, in the four dicts) by the quotient estimate
    (:func:`_quotient_beta_nu`); return the per-pair table."""
    q, table = _quotient_beta_nu(pairs, boot_pairs, sizes)
    est["beta_nu"], stat["beta_nu"] = q["value"], q["stat"]
    for d, k in ((drop, "drop"), (drift, "drift")):
        if np.isfinite(q[k]):
            d["beta_nu"] = q[k]
        else:
            d.pop("beta_nu", None)
    return table


def fixed_binder_exponents(
    m_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    replica: Hashable = "sample",
    control: Hashable = "temperature",
    *,
    binder_value: float | None = None,
    block: Hashable | None = None,
    n_bootstrap: int = 200,
    seed: int | None = 0,
    n_by_size: Mapping[Any, float] | float | None = None,
    dimension: float | None = None,
) -> FixedBinderExponents:
    """ν, γ/ν and β/ν from χ, ⟨m⟩ and dU/dt where the Binder cumulant equals ``U*``.

    For each size the control value ``t_U`` with ``U_L(t_U) = U*`` is found (root of a
    weighted local cubic on 5 points), and there χ, ⟨m⟩ (local cubics on 5 points) and
    |dU/dt| (slope of a local quadratic on 7 points) are read. Since ``x = (t_U − t_c) L^{1/ν}`` is
    then the same for every size, the slopes of ``log χ``, ``−log ⟨m⟩`` and
    ``log |dU/dt|`` against ``log L`` are γ/ν, β/ν and 1/ν with no t_c needed (ordinary
    least squares, one weight per size: on ising-rs data, weights from bootstrap variances
    of 8 chains were themselves too noisy and doubled the error of γ/ν). ``U*`` defaults to the mean
    of U at the pairwise Binder crossings (``binder_value=`` sets it).

    β/ν itself is the quotient estimate (Ballesteros et al. 1996): for each pair L1 < L2,
    ``−ln(⟨m⟩_L2/⟨m⟩_L1)/ln(L2/L1)`` at the crossing T* of U_L1 and U_L2, averaged with
    weights ln(L2/L1)² over the pairs without the smallest size (all pairs with 2 sizes);
    table ``quotients``. Each pair has its own U (no common U* far from a pair's crossing,
    where ⟨m⟩ at fixed U moves β/ν by ~2 % per 0.01 of U* on these data), and the
    smallest size — where corrections to scaling are largest — enters only the systematic.
    Chosen on 10 + 10 Potts (q = 2, 3) and 12 ising-rs datasets, checked on others
    (docs/scaling.md): median |error| of q = 3 β/ν 10.0 → 6.4 % (chosen on), 14.9 → 10.7 %
    (held out); q = 2 and ising-rs stay within 10 %. The common-U* slope is kept as
    ``beta_nu_common``.

    χ, U and ⟨m⟩ are the bias-corrected values of :func:`scaling_curves`; N (the
    configuration size in χ) from ``n_by_size``, ``attrs["N"]`` or ``size ** dimension``;
    ``size`` is the scaling variable L.

    Errors: the whole procedure on ``n_bootstrap`` replica resamples (whole ``block=``
    groups; U* held fixed) ⊕ the finite-size systematic (``systematic``): the shift when
    the smallest size is dropped (``drop_smallest``) ⊕ half the difference between the
    fits without the largest and without the smallest size (``size_drift``); for β/ν the
    shift from all pairs to the pairs without the smallest size, and half the difference
    between the pairs without the smallest and without the largest size. The drift
    term is what makes the error bars cover where corrections to scaling bend log ⟨m⟩
    against log L (q = 3 Potts, L ≤ 24); with 2 sizes there is no systematic, which is an
    assumption.
    Deterministic by default (``seed=0``). Every assumption is in ``assumptions`` and
    warned about.

    References: Nightingale (1976); Hasenbusch (1999); Ballesteros et al. (1996); Binder (1981).
    """
    data = by_size(m_by_size, argument="m_by_size")
    rd = replica_data(data, control, replica, "chi", n_by_size=n_by_size, dimension=dimension)
    blocks = block_labels(data, replica, block)

    def curves_of(index: Any = None) -> dict[str, dict[float, Curve]]:
        return {o: curves_from_replicas(rd.mats, o, rd.sites, index) for o in ("binder", "chi", "m")}

    base = curves_of()
    u_star, near, source = _reference_binder(base["binder"], binder_value)
    values = _at_fixed_binder(base, u_star, near)
    pairs = _pair_quotients(base, None)
    rng = np.random.default_rng(seed)
    boot, boot_pairs = _bootstrap_values(curves_of, rd, rng, blocks, u_star, near, n_bootstrap, pairs[:, 0])
    err = np.nanstd(boot, axis=0, ddof=1) if n_bootstrap >= 2 else np.full(values.shape, np.nan)
    sizes = np.array(list(rd.mats), dtype=float)
    est, stat, drop, drift = _exponent_errors(sizes, values, boot, None)
    common = (est["beta_nu"], math.hypot(stat.get("beta_nu", np.nan), math.hypot(
        drop.get("beta_nu", 0.0), drift.get("beta_nu", 0.0))))
    quotients = _use_quotient_beta_nu(pairs, boot_pairs, sizes, est, stat, drop, drift)
    sys_ = {k: math.hypot(drop[k], drift.get(k, 0.0)) for k in drop}
    notes = rd.assumptions(control)
    if not quotients["beta_nu"].notna().all():
        bad = [(a, b) for a, b, q in quotients[["size_1", "size_2", "beta_nu"]].itertuples(index=False)
               if not np.isfinite(q)]
        notes.append(f"pairs of sizes {bad} left out of beta/nu (their Binder cumulants do not cross)")
    missing = [float(L) for L, v in zip(sizes, values[:, 0], strict=True) if not np.isfinite(v)]
    if missing:
        notes.append(f"sizes {missing} dropped (their Binder cumulant does not reach U* = {u_star:.4g})")
    if sizes.size - len(missing) < 3:
        notes.append("fewer than 3 sizes: no finite-size systematic in the error bars")
    coarse = {float(L): k for L, c in base["binder"].items() if (k := _points_across_window(c)) < 3}
    if coarse:
        notes.append(f"control grid coarse for sizes {list(coarse)}: only {list(coarse.values())} control values "
                     "where U is in the central half of its range (the local fits at t_U want >= 3; refine the "
                     "grid near the transition for the largest sizes)")
    if notes:
        warnings.warn("fixed_binder_exponents: " + "; ".join(notes), RuntimeWarning, stacklevel=2)
    table = pd.DataFrame({"size": sizes, "control": values[:, 0], "control_stderr": err[:, 0],
                          "dbinder": values[:, 1], "dbinder_stderr": err[:, 1],
                          "chi": values[:, 2], "chi_stderr": err[:, 2],
                          "m": values[:, 3], "m_stderr": err[:, 3]})
    total = {k: math.hypot(stat.get(k, np.nan), sys_.get(k, 0.0)) for k in est}
    return FixedBinderExponents(
        nu=est["nu"], nu_stderr=total["nu"], gamma_nu=est["gamma_nu"],
        gamma_nu_stderr=total["gamma_nu"], beta_nu=est["beta_nu"], beta_nu_stderr=total["beta_nu"],
        binder_value=u_star, binder_value_source=source, per_size=table, statistical_stderr=stat,
        systematic=sys_, drop_smallest=drop, size_drift=drift, quotients=quotients,
        beta_nu_common=common[0], beta_nu_common_stderr=common[1], assumptions=tuple(notes), n_bootstrap=n_bootstrap, seed=seed,
        attrs=provenance(estimator="exponents at a fixed Binder cumulant (phenomenological "
                         "renormalisation)", control=str(control), replica=str(replica),
                         error_method=f"bootstrap over replicas ({n_bootstrap}) (+) drop-smallest-"
                         "size shift (+) half the drift between the small- and large-size fits", seed=str(seed), N=str({float(k): v for k, v in rd.sites.items()}),
                         beta_nu_method="quotients of <m> at the pairwise Binder crossings (pairs without the "
                         "smallest size when >= 3 sizes), weighted by ln(L2/L1)^2"),
    )
