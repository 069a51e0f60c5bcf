"""Critical points, critical exponents and finite-size scaling.

Three estimators, each returning a small result object with uncertainties:

* :func:`critical_point` — the transition point from the crossings of Binder cumulants
  of different sizes, or from the drift of the susceptibility peaks with size;
* :func:`fit_power_law` — ``y ∝ |x − x_c|^p`` near a critical point, with goodness of
  fit, a window-sensitivity table and an AIC comparison against non-critical
  alternatives;
* :func:`finite_size_collapse` — the data collapse ``obs(t, L) = L^a f((t − t_c) L^{1/ν})``
  scored by the Houdayer–Hartmann quality on ragged grids, found by a global search
  with local refinement, with bootstrap errors over replicas.

Inputs ``*_by_size`` are a mapping ``{size: DataArray}`` or a DataArray with a ``size``
dim. Per-replica order parameters (dims ``control`` and ``replica``, e.g. the output of
``magnetization(ds, system="position")`` on data with dims temperature/sample/position)
are turned into curves by :func:`scaling_curves`: the mean order parameter ``m``,
the susceptibility ``chi = N (⟨m²⟩ − ⟨m⟩²)`` and the Binder cumulant
``binder = 1 − ⟨m⁴⟩ / (3 ⟨m²⟩²)``, each with a jackknife standard error over replicas.

References
----------
K. Binder, Z. Phys. B 43, 119 (1981) — the cumulant crossing.
J. Houdayer and A. K. Hartmann, Phys. Rev. B 70, 014418 (2004) — the collapse quality.
O. Melchert, arXiv:0910.5403 (2009) — autoScale / pyfssa.
K. Harada, Phys. Rev. E 84, 056704 (2011) — Bayesian scaling analysis.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, stats

from ._meta import control_values, jsonable, provenance
from .errors import SchemaError

__all__ = [
    "Collapse",
    "CriticalPoint",
    "PowerLawFit",
    "critical_point",
    "finite_size_collapse",
    "fit_power_law",
    "scaling_curves",
]

_OBSERVABLES = ("m", "chi", "binder")
#: a collapse whose quality is not at least this much better than a flat master curve fails
RELATIVE_QUALITY_MAX = 0.1
#: a collapse with errors given fails when S (≈ 1 for a perfect collapse) exceeds this
QUALITY_MAX = 10.0


# --------------------------------------------------------------------------- inputs


def _by_size(obj: Any, *, argument: str) -> dict[float, xr.DataArray]:
    """Normalise a ``{size: DataArray}`` mapping or a DataArray with a ``size`` dim."""
    if isinstance(obj, xr.Dataset):
        raise SchemaError(
            f"{argument} is a Dataset",
            where=argument,
            fix="pass per-configuration order parameters (a DataArray, e.g. from "
            "pk.magnetization) as {size: DataArray} or a DataArray with a `size` dim",
        )
    if isinstance(obj, xr.DataArray):
        if "size" not in obj.dims:
            raise SchemaError(
                f"{argument} is a DataArray without a `size` dim",
                where=f"dims are {list(obj.dims)}",
                fix="pass a mapping {size: DataArray} or add a `size` dim",
            )
        out = {}
        for s in obj["size"].values:
            out[float(s)] = obj.sel(size=s, drop=True)
    elif isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            try:
                size = float(k)
            except (TypeError, ValueError):
                raise SchemaError(
                    f"size key {k!r} is not a number",
                    where=argument,
                    fix="key the mapping by the numeric system size L",
                ) from None
            if not isinstance(v, xr.DataArray):
                raise SchemaError(
                    f"value for size {k!r} is a {type(v).__name__}, not a DataArray",
                    where=argument,
                    fix="pass DataArrays (e.g. from pk.magnetization)",
                )
            out[size] = v
    else:
        raise SchemaError(
            f"{argument} is a {type(obj).__name__}",
            where=argument,
            fix="pass {size: DataArray} or a DataArray with a `size` dim",
        )
    if len(out) < 2:
        raise SchemaError(
            f"{argument} has {len(out)} size(s); finite-size scaling needs at least 2",
            where=argument,
            fix="add data for more system sizes",
        )
    if any(not (s > 0) for s in out):
        raise SchemaError(
            "system sizes must be positive", where=argument, fix="key sizes by L > 0"
        )
    return dict(sorted(out.items()))


def _control_values(da: xr.DataArray, control: Hashable, size: float) -> np.ndarray:
    if control not in da.dims:
        raise SchemaError(
            f"control dim {control!r} is not in the data for size {size:g}",
            where=f"dims are {list(da.dims)}",
            fix=f"pass control= with one of {list(da.dims)}",
        )
    if np.issubdtype(da[control].dtype, np.number):
        return np.asarray(da[control].values, dtype=float)
    if "step" in da.coords and da["step"].dims == (control,):
        return control_values(da, control)  # string labels ('step100'): the numeric step
    try:
        return np.asarray(da[control].values, dtype=float)
    except (TypeError, ValueError):
        raise SchemaError(
            f"control dim {control!r} has non-numeric labels and no numeric `step` coordinate",
            where=f"labels {list(da[control].values[:3])}...",
            fix=f"add a numeric coordinate `step` along {control!r} (e.g. the training step)",
        ) from None


def _replica_matrix(
    da: xr.DataArray, control: Hashable, replica: Hashable, size: float
) -> tuple[np.ndarray, np.ndarray]:
    """(control values (n_t,), values (n_t, n_replica)) sorted by control; NaN rows dropped."""
    t = _control_values(da, control, size)
    if replica not in da.dims:
        raise SchemaError(
            f"replica dim {replica!r} is not in the data for size {size:g}",
            where=f"dims are {list(da.dims)}",
            fix=f"pass replica= with one of {list(da.dims)}",
        )
    extra = [d for d in da.dims if d not in (control, replica)]
    if extra:
        raise SchemaError(
            f"data for size {size:g} has dims {extra} besides control and replica",
            where=f"dims are {list(da.dims)}",
            fix="select or average the extra dims first (e.g. .isel(prompt=0))",
        )
    m = np.asarray(da.transpose(control, replica).values, dtype=float)
    keep = np.isfinite(t) & (np.sum(np.isfinite(m), axis=1) >= 2)
    t, m = t[keep], m[keep]
    order = np.argsort(t, kind="stable")
    return t[order], m[order]


def _site_count(da: xr.DataArray, size: float, observable: str) -> float:
    """N, the number of sites of one configuration (from attrs ``N``), for chi."""
    if observable != "chi":
        return 1.0
    if "N" not in da.attrs:
        raise SchemaError(
            f"the susceptibility needs the number of sites N, but the data for size {size:g} "
            "has no `N` attr",
            where="attrs of the order-parameter DataArray",
            fix="use pk.magnetization (which records N) or set da.attrs['N'] = L**d",
        )
    n = np.asarray(da.attrs["N"], dtype=float)
    finite = n[np.isfinite(n)]
    if finite.size == 0 or not np.allclose(finite, finite.flat[0]):
        raise SchemaError(
            f"attr N for size {size:g} is not one number",
            where="attrs['N']",
            fix="set a single number of sites per configuration",
        )
    return float(finite.flat[0])


def _moment_curve(m: np.ndarray, observable: str, n_sites: float) -> tuple[np.ndarray, np.ndarray]:
    """Observable per row of ``m`` (n_t, n_replica) and its jackknife standard error.

    Leave-one-out moments are computed in closed form, so the jackknife costs O(n).
    """
    valid = np.isfinite(m)
    n = valid.sum(axis=1).astype(float)
    z = np.where(valid, m, 0.0)
    s1 = z.sum(axis=1)
    s2 = (z**2).sum(axis=1)
    s4 = (z**4).sum(axis=1)

    def f(m1, m2, m4):
        if observable == "m":
            return m1
        if observable == "chi":
            return n_sites * (m2 - m1**2)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - m4 / (3.0 * m2**2)

    value = f(s1 / n, s2 / n, s4 / n)
    nn = (n - 1.0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = f((s1[:, None] - z) / nn, (s2[:, None] - z**2) / nn, (s4[:, None] - z**4) / nn)
    loo = np.where(valid, loo, np.nan)
    mean_loo = np.nanmean(loo, axis=1)
    var = (n - 1.0) / n * np.nansum((loo - mean_loo[:, None]) ** 2, axis=1)
    return value, np.sqrt(var)


@dataclass
class _Curve:
    t: np.ndarray
    y: np.ndarray
    dy: np.ndarray | None


def _curves_from_replicas(
    mats: dict[float, tuple[np.ndarray, np.ndarray]],
    observable: str,
    sites: dict[float, float],
    index: dict[float, np.ndarray] | None = None,
) -> dict[float, _Curve]:
    out = {}
    for L, (t, m) in mats.items():
        mm = m if index is None else m[:, index[L]]
        y, dy = _moment_curve(mm, observable, sites[L])
        ok = np.isfinite(y)
        out[L] = _Curve(t[ok], y[ok], dy[ok])
    return out


def _block_labels(
    data: dict[float, xr.DataArray], replica: Hashable, block: Hashable | None
) -> dict[float, np.ndarray] | None:
    """Group label of every replica (from coordinate ``block`` along ``replica``)."""
    if block is None:
        return None
    out = {}
    for L, da in data.items():
        if block not in da.coords or da[block].dims != (replica,):
            raise SchemaError(
                f"block={block!r} is not a coordinate along {replica!r} for size {L:g}",
                where=f"coords are {list(da.coords)}",
                fix=f"pass the name of a coordinate with dims ({replica!r},), e.g. 'chain'",
            )
        out[L] = np.unique(np.asarray(da[block].values), return_inverse=True)[1].ravel()
    return out


def _resample_index(
    mats: dict[float, tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    blocks: dict[float, np.ndarray] | None = None,
) -> dict[float, np.ndarray]:
    """Bootstrap replica indices per size (one draw shared by every control value).

    With ``blocks`` (a group label per replica, e.g. the Markov chain a sample came
    from), whole groups are drawn with replacement, so that correlations inside a group
    enter the error bar (block bootstrap; Künsch 1989).
    """
    out = {}
    for L, (_, m) in mats.items():
        n = m.shape[1]
        if blocks is None:
            out[L] = rng.integers(0, n, n)
            continue
        labels = blocks[L]
        members = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
        pick = rng.integers(0, len(members), len(members))
        out[L] = np.concatenate([members[g] for g in pick])
    return out


def scaling_curves(
    m_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    observable: str = "chi",
    *,
    replica: Hashable = "sample",
    control: Hashable = "temperature",
) -> dict[float, xr.DataArray]:
    """Per-size curves of ``m``, ``chi`` or ``binder`` along the control dim.

    ``m = ⟨m⟩``, ``chi = N (⟨m²⟩ − ⟨m⟩²)`` (N from the ``N`` attr; not divided by the
    temperature), ``binder = 1 − ⟨m⁴⟩/(3⟨m²⟩²)``; averages over ``replica``. The standard
    error (coord ``stderr``) is the jackknife over replicas (Efron & Stein 1981).

    Returns ``{size: DataArray(control)}``, ready for :func:`finite_size_collapse`.
    """
    if observable not in _OBSERVABLES:
        raise SchemaError(
            f"unknown observable {observable!r}",
            where="observable=",
            fix=f"use one of {_OBSERVABLES}",
        )
    data = _by_size(m_by_size, argument="m_by_size")
    out = {}
    for L, da in data.items():
        t, m = _replica_matrix(da, control, replica, L)
        y, dy = _moment_curve(m, observable, _site_count(da, L, observable))
        out[L] = xr.DataArray(
            y,
            dims=(control,),
            coords={control: t, "stderr": ((control,), dy)},
            name=observable,
            attrs=provenance(
                estimator=f"{observable} over {replica}",
                error_method="jackknife over replicas",
                size=L,
            ),
        )
    return out


def _curves_from_arrays(obs: dict[float, xr.DataArray], control: Hashable) -> dict[float, _Curve]:
    out = {}
    have_err = []
    for L, da in obs.items():
        t = _control_values(da, control, L)
        extra = [d for d in da.dims if d != control]
        if extra:
            raise SchemaError(
                f"observable for size {L:g} has dims {extra} besides the control dim",
                where=f"dims are {list(da.dims)}",
                fix="pass replica= and observable= to compute the observable from "
                "per-replica data, or reduce the extra dims first",
            )
        y = np.asarray(da.values, dtype=float)
        dy = np.asarray(da.coords["stderr"].values, dtype=float) if "stderr" in da.coords else None
        if dy is not None and not np.any(np.isfinite(dy) & (dy > 0)):
            dy = None
        have_err.append(dy is not None)
        ok = np.isfinite(t) & np.isfinite(y)
        if dy is not None:
            ok &= np.isfinite(dy) & (dy > 0)
        order = np.argsort(t[ok], kind="stable")
        out[L] = _Curve(t[ok][order], y[ok][order], None if dy is None else dy[ok][order])
    if any(have_err) and not all(have_err):
        raise SchemaError(
            "some sizes carry a `stderr` coord and some do not",
            where="obs_by_size",
            fix="give error bars for all sizes or for none",
        )
    for L, c in out.items():
        if c.t.size < 3:
            raise SchemaError(
                f"size {L:g} has {c.t.size} usable control values; need at least 3",
                where="obs_by_size",
                fix="add control values or drop that size",
            )
    return out


# --------------------------------------------------------------------- critical point


@dataclass
class CriticalPoint:
    """The location of a transition estimated from several system sizes.

    Attributes
    ----------
    value, stderr
        the estimate of the critical control value and its bootstrap standard error.
    crossings
        ``method="binder"``: one row per pair of sizes (``size_1``, ``size_2``,
        ``crossing``, ``stderr``); ``method="susceptibility"``: one row per size
        (``size``, ``peak``, ``stderr``).
    fit
        the extrapolation to infinite size (model, parameters, their errors, χ²/dof).
    method
        ``"binder"`` or ``"susceptibility"``.
    """

    value: float
    stderr: float
    crossings: pd.DataFrame
    fit: dict[str, Any]
    method: str
    n_bootstrap: int = 0
    bootstrap: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: every assumption the estimate rests on (each also warned about), e.g. "nu fixed at 1"
    assumptions: tuple[str, ...] = ()
    #: ``method="susceptibility"``: ν used in the extrapolation when it was not fitted
    nu_assumed: float | None = None
    #: sizes whose χ maximum lies at the edge of the control grid (no peak inside)
    edge_peaks: tuple[float, ...] = ()
    #: sizes left out of the extrapolation (no peak or crossing found)
    dropped_sizes: tuple[float, ...] = ()
    #: the control range every size covers; the estimate lies inside it
    control_range: tuple[float, float] = (float("nan"), float("nan"))
    seed: int | None = 0
    #: finite-size systematic: the shift of the estimate when the smallest size is
    #: dropped, added in quadrature to the bootstrap error in ``stderr``
    systematic: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return jsonable(
            {
                "value": self.value,
                "stderr": self.stderr,
                "method": self.method,
                "n_bootstrap": self.n_bootstrap,
                "crossings": self.crossings.to_dict(orient="records"),
                "fit": self.fit,
                "assumptions": list(self.assumptions),
                "nu_assumed": self.nu_assumed,
                "edge_peaks": list(self.edge_peaks),
                "dropped_sizes": list(self.dropped_sizes),
                "control_range": list(self.control_range),
                "seed": self.seed,
                "systematic": self.systematic,
                "attrs": self.attrs,
            }
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CriticalPoint):
            return NotImplemented
        return (self.to_dict() == other.to_dict()
                and np.array_equal(self.bootstrap, other.bootstrap, equal_nan=True))

    def __repr__(self) -> str:
        return (
            f"CriticalPoint(method={self.method!r}, value={self.value:.6g} ± {self.stderr:.2g}, "
            f"{len(self.crossings)} {'pairs' if self.method == 'binder' else 'sizes'}, "
            f"fit={self.fit.get('model')})"
        )


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
    const = {"model": "weighted mean of the pairwise crossings",
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
    lin = {"model": f"crossing = T_c + b * L_small^-{omega:g}",
           "parameters": {"T_c": float(coef[0]), "b": float(coef[1])},
           "chi2": chi2_lin, "dof": int(ok.sum() - 2), "extrapolated": True}
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


def critical_point(
    m_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    replica: Hashable = "sample",
    control: Hashable = "temperature",
    method: str = "binder",
    *,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = 0,
    n_local: int = 5,
    omega: float = 1.0,
    extrapolate: bool | str = "auto",
    nu: float | None = None,
    block: Hashable | None = None,
) -> CriticalPoint:
    """Critical point from per-replica order parameters of several sizes.

    ``method="binder"``: the Binder cumulant ``U_L(T) = 1 − ⟨m⁴⟩/(3⟨m²⟩²)`` is, at
    the critical point, size independent up to corrections, so curves of different sizes
    cross at ``T_c``. Each pair ``(L1 < L2)`` is crossed by locating the sign change of
    ``U_{L2} − U_{L1}`` and refining it with weighted local cubic fits of each curve
    (``n_local`` nearest grid points); the pairwise crossings ``T*(L1, L2) = T_c +
    b L1^{−ω}`` (ω = ``omega``, the 1/L extrapolation by default; in theory
    ``ω = 1/ν + ω_corr``) are extrapolated by weighted least squares with the
    bootstrap variances of the crossings as weights. ``extrapolate="auto"`` keeps the
    drift term only when it lowers the AICc (AIC with the small-sample correction)
    against a size-independent crossing (their weighted mean); ``True``/``False`` force either model (with fewer than three distinct
    smaller sizes, i.e. fewer than 4 sizes, the mean is used).

    ``method="susceptibility"``: ``χ_L(T) = N(⟨m²⟩ − ⟨m⟩²)`` peaks at
    ``T_L = T_c + a L^{−1/ν}``; each peak is located by a Gaussian fit (a quadratic in
    ``log χ``) on the ``n_local`` points around the maximum, and the peaks are
    extrapolated with ``1/ν`` fitted (≥ 5 located peaks, unless ``nu`` is given) or fixed
    (ν = 1 assumed when not given: recorded in ``nu_assumed`` and warned about).

    Every assumption (ν fixed, a size dropped, a χ maximum at the grid edge, crossings
    taken size independent) is a field of the result (``assumptions``, ``nu_assumed``,
    ``edge_peaks``, ``dropped_sizes``) and a ``RuntimeWarning``. An estimate outside the
    control range covered by every size raises :class:`SchemaError`.

    The standard error is the standard deviation of the whole procedure repeated on
    ``n_bootstrap`` resamples of the replicas (one draw of replica indices per size,
    shared by all control values); deterministic by default (``seed=0``, recorded in
    ``seed``), fresh randomness with ``seed=None`` or a Generator. A finite-size
    systematic, the shift of the estimate when the smallest size is dropped
    (``systematic``), is added in quadrature (the bootstrap part is
    ``fit["statistical_stderr"]``). When replicas are correlated in groups (samples of
    one Markov chain, of one prompt), name the coordinate along ``replica`` that labels
    the groups with ``block=`` and whole groups are resampled.

    Parameters
    ----------
    m_by_size
        ``{size: DataArray}`` (or a DataArray with a ``size`` dim) of per-configuration
        order parameters with dims ``control`` and ``replica``; control grids may
        differ between sizes. ``method="susceptibility"`` needs attr ``N``.

    References
    ----------
    K. Binder, Z. Phys. B 43, 119 (1981); D. P. Landau and K. Binder, *A Guide to Monte
    Carlo Simulations in Statistical Physics*, ch. 4 (Cambridge, 2014).
    """
    if method not in ("binder", "susceptibility"):
        raise SchemaError(
            f"unknown method {method!r}", where="method=", fix="use 'binder' or 'susceptibility'"
        )
    if n_bootstrap < 0:
        raise SchemaError("n_bootstrap must be >= 0", where="n_bootstrap=", fix="pass e.g. 200")
    data = _by_size(m_by_size, argument="m_by_size")
    observable = "binder" if method == "binder" else "chi"
    mats = {L: _replica_matrix(da, control, replica, L) for L, da in data.items()}
    sites = {L: _site_count(data[L], L, observable) for L in data}
    for L, (t, _) in mats.items():
        if t.size < 3:
            raise SchemaError(
                f"size {L:g} has {t.size} usable control values; need at least 3",
                where="m_by_size",
                fix="add control values (with >= 2 replicas each) or drop that size",
            )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    near = None
    mode: bool | str = extrapolate

    def estimate_once(curves, weights, points=None):
        if method == "binder":
            return _binder_estimate(curves, n_local, omega, weights, near, mode, points)
        return _peak_estimate(curves, n_local, nu, weights, points)

    base_curves = _curves_from_replicas(mats, observable, sites)
    points0, _, _ = estimate_once(base_curves, None)
    near = points0  # resamples look for the same crossing, not for noise elsewhere
    boot_points = []
    blocks = _block_labels(data, replica, block)
    for _ in range(n_bootstrap):
        curves = _curves_from_replicas(mats, observable, sites,
                                       _resample_index(mats, rng, blocks))
        boot_points.append(estimate_once(curves, None)[0])
    if n_bootstrap >= 2:
        bp = np.array(boot_points)
        point_err = np.nanstd(bp, axis=0, ddof=1) if bp.shape[0] > 1 else np.full(points0.shape, np.nan)
        point_err = np.where(np.isfinite(points0), point_err, np.nan)
        weights = 1.0 / point_err**2
    else:
        point_err = np.full(points0.shape, np.nan)
        weights = None
    points, value, fit = estimate_once(base_curves, weights)
    mode = fit.get("extrapolated", extrapolate)  # resamples use the model chosen here
    boot_values = np.array([estimate_once(base_curves, weights, bpts)[1] for bpts in boot_points])
    finite = boot_values[np.isfinite(boot_values)]
    stderr = float(np.std(finite, ddof=1)) if finite.size >= 2 else float("nan")
    fit["bootstrap_failures"] = int(boot_values.size - finite.size)
    systematic = _drop_smallest_shift(base_curves, points, weights, value, estimate_once, method)
    fit["statistical_stderr"] = stderr
    if np.isfinite(systematic):
        stderr = float(math.hypot(stderr, systematic))

    if method == "binder":
        pairs = list(itertools.combinations(mats, 2))
        table = pd.DataFrame(
            {
                "size_1": [a for a, _ in pairs],
                "size_2": [b for _, b in pairs],
                "crossing": points,
                "stderr": point_err,
            }
        )
    else:
        table = pd.DataFrame({"size": list(mats), "peak": points, "stderr": point_err})
    sizes = list(mats)
    edge = tuple(float(L) for L, c in base_curves.items()
                 if method == "susceptibility" and _max_at_edge(c))
    notes, dropped, nu_assumed = _assumptions(method, fit, sizes, points, edge)
    lo = max(float(t[0]) for t, _ in mats.values())
    hi = min(float(t[-1]) for t, _ in mats.values())
    if not np.isfinite(value):
        notes.append(f"no estimate: {fit['model']}")
    elif not lo <= value <= hi:
        raise SchemaError(
            f"critical_point({method!r}) extrapolates to {value:.6g}, outside the control "
            f"range [{lo:.6g}, {hi:.6g}] that every size covers ({fit['model']})",
            where="m_by_size",
            fix="widen the control range around the transition, add sizes, or pass nu= "
            "(susceptibility) / extrapolate=False (binder)",
        )
    if notes:
        warnings.warn(f"critical_point({method!r}): " + "; ".join(notes), RuntimeWarning,
                      stacklevel=2)
    return CriticalPoint(
        value=value,
        stderr=stderr,
        crossings=table,
        fit=fit,
        method=method,
        n_bootstrap=n_bootstrap,
        bootstrap=boot_values,
        attrs=provenance(
            estimator=f"critical_point({method})",
            control=str(control),
            replica=str(replica),
            error_method=f"bootstrap over replicas ({n_bootstrap} resamples)",
            seed="generator passed" if isinstance(seed, np.random.Generator) else str(seed),
            assumptions="; ".join(notes),
        ),
        assumptions=tuple(notes),
        nu_assumed=nu_assumed,
        edge_peaks=edge,
        dropped_sizes=dropped,
        control_range=(lo, hi),
        seed=seed if isinstance(seed, int) else None,
        systematic=float(systematic),
    )


def _drop_smallest_shift(curves, points, weights, value, estimate_once, method) -> float:
    """|estimate − estimate without the smallest size|, from the same crossings or peaks.

    A finite-size systematic: crossings (peaks) of the smallest sizes carry the largest
    corrections to scaling. NaN when fewer than 3 sizes (or nothing left to estimate).
    """
    sizes = list(curves)
    if len(sizes) < 3 or not np.isfinite(value):
        return float("nan")
    smallest = sizes[0]
    if method == "binder":
        keep = np.array([a != smallest for a, _ in itertools.combinations(sizes, 2)])
    else:
        keep = np.array([L != smallest for L in sizes])
    rest = {L: c for L, c in curves.items() if L != smallest}
    w = None if weights is None else weights[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = estimate_once(rest, w, points[keep])[1]
    return float(abs(value - v)) if np.isfinite(v) else float("nan")


# -------------------------------------------------------------------------- collapse

_PARAMS = ("critical_point", "inv_nu", "exponent", "correction")


@dataclass
class _Stack:
    """All points of all sizes, concatenated (ragged grids welcome)."""

    sizes: np.ndarray  # (n_sizes,)
    L: np.ndarray  # (n,)
    group: np.ndarray  # (n,) index into sizes
    t: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    has_errors: bool
    bounds: list[tuple[int, int]]  # slice of each size in the stacked arrays


def _stack(curves: dict[float, _Curve]) -> _Stack:
    sizes = np.array(list(curves), dtype=float)
    L, g, t, y, dy, bounds = [], [], [], [], [], []
    start = 0
    has_errors = all(c.dy is not None for c in curves.values())
    for i, (size, c) in enumerate(curves.items()):
        n = c.t.size
        L.append(np.full(n, size))
        g.append(np.full(n, i))
        t.append(c.t)
        y.append(c.y)
        if has_errors:
            d = np.where(np.isfinite(c.dy) & (c.dy > 0), c.dy, np.nan)
            fill = np.nanmin(d) if np.any(np.isfinite(d)) else 1.0
            dy.append(np.where(np.isfinite(d), d, fill))
        else:
            dy.append(np.ones(n))
        bounds.append((start, start + n))
        start += n
    return _Stack(sizes, np.concatenate(L), np.concatenate(g), np.concatenate(t),
                  np.concatenate(y), np.concatenate(dy), has_errors, bounds)


@dataclass
class _Quality:
    S: np.ndarray  # (P,)
    n_overlap: np.ndarray  # (P,)
    n_total: int
    S_null: np.ndarray  # (P,)

    @property
    def overlap(self) -> np.ndarray:
        return self.n_overlap / self.n_total

    @property
    def relative(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.S_null > 0, self.S / self.S_null, np.inf)


def _quality_rows_py(x, y, dy, starts, group, order):
    """Pure-Python reference of the collapse-quality kernel (compiled by numba when present).

    ``x, y, dy``: (P, n) scaled points, each size's block sorted by x; ``starts``:
    block boundaries (n_sizes + 1,); returns (S, n_over, S_null) per row.
    """
    P, n = x.shape
    n_sizes = starts.size - 1
    S = np.empty(P)
    n_over = np.zeros(P, dtype=np.int64)
    S_null = np.empty(P)
    used = np.zeros(n, dtype=np.bool_)
    Ym = np.zeros(n)
    dYm2 = np.zeros(n)
    for p in range(P):
        for i in range(n):
            xi = x[p, i]
            W = 0.0
            WY = 0.0
            used[i] = False
            for k in range(n_sizes):
                if group[i] == k:
                    continue
                lo = starts[k]
                hi = starts[k + 1]
                nk = hi - lo
                if nk < 2 or xi < x[p, lo] or xi > x[p, hi - 1]:
                    continue
                a = 0
                b = nk
                while a < b:  # first index with x > xi
                    mid = (a + b) // 2
                    if x[p, lo + mid] <= xi:
                        a = mid + 1
                    else:
                        b = mid
                j = a
                if j >= nk:
                    j = nk - 1
                m = min(order + 1, nk)
                s0 = min(max(j - m // 2, 0), nk - m)
                Yk = 0.0
                Vk = 0.0
                ok = True
                for u in range(m):
                    cu = 1.0
                    xu = x[p, lo + s0 + u]
                    for v in range(m):
                        if v != u:
                            den = xu - x[p, lo + s0 + v]
                            if den == 0.0:
                                ok = False
                                break
                            cu *= (xi - x[p, lo + s0 + v]) / den
                    Yk += cu * y[p, lo + s0 + u]
                    Vk += cu * cu * dy[p, lo + s0 + u] ** 2
                if not ok or not (Vk > 0.0) or not np.isfinite(Yk):
                    continue
                W += 1.0 / Vk
                WY += Yk / Vk
            if W > 0.0:
                used[i] = True
                Ym[i] = WY / W
                dYm2[i] = 1.0 / W
        cnt = 0
        acc = 0.0
        sw = 0.0
        swy = 0.0
        for i in range(n):
            if used[i]:
                cnt += 1
                acc += (y[p, i] - Ym[i]) ** 2 / (dy[p, i] ** 2 + dYm2[i])
                w = 1.0 / dy[p, i] ** 2
                sw += w
                swy += w * y[p, i]
        n_over[p] = cnt
        if cnt >= 3:
            S[p] = acc / cnt
            ybar = swy / sw
            acc0 = 0.0
            for i in range(n):
                if used[i]:
                    acc0 += (y[p, i] - ybar) ** 2 / dy[p, i] ** 2
            S_null[p] = acc0 / cnt
        else:
            S[p] = np.inf
            S_null[p] = np.nan
    return S, n_over, S_null


try:  # numba is optional (phasekit[fast]); the kernel is ~100x faster compiled
    import numba as _numba

    _quality_rows = _numba.njit(cache=True, nogil=True)(_quality_rows_py)
except ImportError:  # pragma: no cover - exercised only without numba
    _quality_rows = _quality_rows_py


def _quality(st: _Stack, tc, inv_nu, a, c, omega: float, order: int = 3) -> _Quality:
    """Houdayer–Hartmann-type collapse quality for a batch of P parameter sets.

    Every point ``(x_ij, y_ij ± dy_ij)`` of size i (``x = (t − t_c) L^{1/ν}``,
    ``y = obs L^{−a}/(1 + c L^{−ω})``, errors scaled alike) is compared with the master
    curve built from the *other* sizes only, and only where they bracket ``x_ij``: each
    such size k gives a local Lagrange interpolant ``Y_k ± dY_k`` (degree ``order``,
    cubic by default, on the points around the bracket; linear propagation of the
    errors), and the sizes are combined by inverse-variance weighting into
    ``Y_ij ± dY_ij``. Then

        S = (1/N_over) Σ (y_ij − Y_ij)² / (dy_ij² + dY_ij²)

    over the ``N_over`` points that have at least one bracketing size (Houdayer &
    Hartmann 2004 use a weighted line through the bracketing points, i.e. ``order=1``
    with a joint fit; the cubic interpolant removes the bias of linear interpolation
    on coarse grids). ``S ≈ 1`` when the collapse holds within the error bars. Ragged
    grids need no common support. ``S_null`` is the same statistic for a flat master
    curve (the weighted mean of the compared points).
    """
    tc, inv_nu, a, c = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (tc, inv_nu, a, c))
    P = max(tc.size, inv_nu.size, a.size, c.size)
    tc, inv_nu, a, c = (np.broadcast_to(v, (P,)) for v in (tc, inv_nu, a, c))
    L = st.L[None, :]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        x = (st.t[None, :] - tc[:, None]) * L ** inv_nu[:, None]
        scale = L ** (-a[:, None]) / (1.0 + c[:, None] * L ** (-omega))
        y = st.y[None, :] * scale
        dy = st.dy[None, :] * np.abs(scale)
    starts = np.array([b[0] for b in st.bounds] + [st.bounds[-1][1]], dtype=np.int64)
    S, n_over, S_null = _quality_rows(
        np.ascontiguousarray(x), np.ascontiguousarray(y), np.ascontiguousarray(dy),
        starts, st.group.astype(np.int64), int(order),
    )
    S = np.where(np.isfinite(S), S, np.inf)
    return _Quality(S, n_over, st.t.size, S_null)


@dataclass
class Collapse:
    """A finite-size-scaling data collapse ``obs(t, L) = L^a f((t − t_c) L^{1/ν})``.

    Attributes
    ----------
    critical_point, nu, exponent
        the fitted (or fixed) ``t_c``, ``ν`` and ``a`` (``a = γ/ν`` for χ, ``−β/ν`` for
        ⟨m⟩, 0 for the Binder cumulant), with ``*_stderr`` (0 for fixed parameters).
    correction
        the correction-to-scaling amplitude ``c`` in ``L^a (1 + c L^{−ω})`` (0 if off).
    quality
        Houdayer–Hartmann ``S`` at the optimum (≈ 1 for a collapse within the error bars;
        in units of the squared data when no error bars were given).
    quality_relative
        ``S`` divided by the same statistic for a flat master curve: ≪ 1 when the
        collapse explains the data, ≈ 1 or more for noise.
    overlap
        fraction of points that had at least one other size to compare with.
    success, message
        whether the collapse is trustworthy, and why not.
    """

    critical_point: float
    nu: float
    exponent: float
    critical_point_stderr: float
    nu_stderr: float
    exponent_stderr: float
    quality: float
    quality_relative: float
    overlap: float
    success: bool
    message: str
    correction: float = 0.0
    correction_stderr: float = 0.0
    omega: float = 1.0
    observable: str | None = None
    error_method: str = ""
    fitted: tuple[str, ...] = ()
    #: the statistical part of each ``*_stderr`` (bootstrap or curvature)
    statistical_stderr: dict[str, float] = field(default_factory=dict)
    #: finite-size systematic per parameter: the shift when the smallest size is dropped
    systematic: dict[str, float] = field(default_factory=dict)
    #: error propagated from the uncertainty of a fixed ``critical_point=(value, stderr)``
    propagated: dict[str, float] = field(default_factory=dict)
    #: each verdict criterion and whether it passed; ``success`` is their conjunction
    checks: dict[str, bool] = field(default_factory=dict)
    seed: int | None = 0
    n_bootstrap: int = 0
    bootstrap: pd.DataFrame | None = field(default=None, repr=False)
    curves: dict[float, xr.DataArray] = field(default_factory=dict, repr=False)
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def inv_nu(self) -> float:
        return 1.0 / self.nu

    def scaled(self) -> dict[float, pd.DataFrame]:
        """The rescaled data per size: columns ``x = (t − t_c) L^{1/ν}``, ``y = obs L^{−a}/(1 + c L^{−ω})``, ``dy``."""
        out = {}
        for L, da in self.curves.items():
            t = np.asarray(da[da.dims[0]].values, dtype=float)
            y = np.asarray(da.values, dtype=float)
            dy = np.asarray(da["stderr"].values, dtype=float) if "stderr" in da.coords else np.full(y.shape, np.nan)
            scale = L ** (-self.exponent)
            if self.correction:
                scale = scale / (1 + self.correction * L ** (-self.omega))
            out[L] = pd.DataFrame({"x": (t - self.critical_point) * L ** (1 / self.nu),
                                   "y": y * scale, "dy": dy * abs(scale)})
        return out

    def plot(self, ax: Any = None) -> Any:
        """The collapse plot (rescaled observable against the scaling variable); returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        for L, df in self.scaled().items():
            if np.all(np.isnan(df["dy"])):
                ax.plot(df["x"], df["y"], "o-", ms=3, label=f"L = {L:g}")
            else:
                ax.errorbar(df["x"], df["y"], yerr=df["dy"], fmt="o-", ms=3, capsize=2,
                            label=f"L = {L:g}")
        name = self.observable or "obs"
        ax.set_xlabel(r"$(t - t_c)\,L^{1/\nu}$")
        ax.set_ylabel(rf"{name} $\cdot L^{{-a}}$")
        status = "" if self.success else " (FAILED)"
        ax.set_title(
            f"$t_c$={self.critical_point:.4g}±{self.critical_point_stderr:.1g}, "
            f"$\\nu$={self.nu:.3g}±{self.nu_stderr:.1g}, a={self.exponent:.3g}±"
            f"{self.exponent_stderr:.1g}{status}",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        return ax

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (without the data)."""
        keys = ("critical_point", "nu", "exponent", "critical_point_stderr", "nu_stderr",
                "exponent_stderr", "correction", "correction_stderr", "omega", "quality",
                "quality_relative", "overlap", "success", "message", "observable",
                "error_method", "fitted", "n_bootstrap", "statistical_stderr", "systematic",
                "propagated", "checks", "seed")
        return jsonable({k: getattr(self, k) for k in keys} | {"attrs": self.attrs})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collapse):
            return NotImplemented
        same_boot = (self.bootstrap is None and other.bootstrap is None) or (
            self.bootstrap is not None and other.bootstrap is not None
            and self.bootstrap.equals(other.bootstrap))
        return (self.to_dict() == other.to_dict() and same_boot
                and self.curves.keys() == other.curves.keys()
                and all(self.curves[k].identical(other.curves[k]) for k in self.curves))

    def __repr__(self) -> str:
        return (
            f"Collapse(success={self.success}, t_c={self.critical_point:.6g}±"
            f"{self.critical_point_stderr:.2g}, nu={self.nu:.4g}±{self.nu_stderr:.2g}, "
            f"a={self.exponent:.4g}±{self.exponent_stderr:.2g}, S={self.quality:.3g}, "
            f"S/S_flat={self.quality_relative:.3g}, message={self.message!r})"
        )


def _box(curves: dict[float, _Curve], bounds: Mapping[str, Sequence[float]] | None,
         ) -> dict[str, tuple[float, float]]:
    lo = max(c.t[0] for c in curves.values())
    hi = min(c.t[-1] for c in curves.values())
    if not hi > lo:
        lo = min(c.t[0] for c in curves.values())
        hi = max(c.t[-1] for c in curves.values())
    box = {"critical_point": (lo, hi), "inv_nu": (0.1, 3.0), "exponent": (-3.0, 3.0),
           "correction": (-5.0, 5.0)}
    for key, val in (bounds or {}).items():
        b = (float(val[0]), float(val[1]))
        if not b[1] > b[0]:
            raise SchemaError(f"bounds[{key!r}] = {val} is empty", where="bounds=",
                              fix="pass (low, high) with low < high")
        if key == "nu":
            if b[0] <= 0:
                raise SchemaError("bounds for nu must be positive", where="bounds=",
                                  fix="pass e.g. {'nu': (0.3, 10)}")
            box["inv_nu"] = (1.0 / b[1], 1.0 / b[0])
        elif key in box:
            box[key] = b
        else:
            raise SchemaError(f"unknown bounds key {key!r}", where="bounds=",
                              fix="use critical_point, nu, inv_nu, exponent or correction")
    return box


def _objective_factory(st: _Stack, fixed: dict[str, float], free: list[str], omega: float,
                       min_overlap: float, order: int) -> Callable[[np.ndarray], Any]:
    """Penalised quality as a function of the free parameters (vectorised over columns)."""

    def full(theta):
        p = dict(fixed)
        p.update(zip(free, theta, strict=True))
        return p

    def quality(theta) -> _Quality:
        p = full(np.asarray(theta, dtype=float))
        return _quality(st, p["critical_point"], p["inv_nu"], p["exponent"],
                        p.get("correction", 0.0), omega, order)

    def objective(theta):
        theta = np.asarray(theta, dtype=float)
        q = quality(theta)
        deficit = np.maximum(0.0, min_overlap - q.overlap) / min_overlap
        # parameter choices that leave few points to compare with another size are
        # penalised: an unguarded S is smallest where almost nothing overlaps
        null = np.where(np.isfinite(q.S_null) & (q.S_null > 0), q.S_null, 1.0)
        val = q.S * (1.0 + 20.0 * deficit) + 1e3 * deficit * null
        val = np.where(np.isfinite(val), val, 1e12)
        return val if theta.ndim > 1 else float(val[0])

    objective.full = full  # type: ignore[attr-defined]
    objective.quality = quality  # type: ignore[attr-defined]
    return objective


def _minimize(objective, box_free, x0=None, seed=None, global_search=True, maxiter=200):
    """Differential evolution over the box (vectorised), then bounded Nelder–Mead."""
    if global_search:
        res = optimize.differential_evolution(
            objective, box_free, seed=seed, maxiter=maxiter, popsize=15, tol=1e-3,
            atol=1e-9, mutation=(0.5, 1.0), recombination=0.7, polish=False, init="sobol",
            vectorized=True, updating="deferred",
        )
        x0 = res.x
    res = optimize.minimize(
        objective, x0, method="Nelder-Mead", bounds=box_free,
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000, "adaptive": True},
    )
    return res.x, float(res.fun)


def _hessian(f, x, h):
    n = x.size
    H = np.empty((n, n))
    f0 = f(x)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (
                f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
            ) / (4 * h[i] * h[j])
    return H


def finite_size_collapse(
    obs_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    control: Hashable = "temperature",
    critical_point: float | tuple[float, float] | CriticalPoint | None = None,
    nu: float | None = None,
    exponent: float | None = None,
    *,
    bounds: Mapping[str, Sequence[float]] | None = None,
    correction: bool | float = False,
    observable: str | None = None,
    replica: Hashable = "sample",
    block: Hashable | None = None,
    n_bootstrap: int = 40,
    min_overlap: float = 0.5,
    interpolation_order: int = 3,
    seed: int | None = 0,
) -> Collapse:
    """Fit the finite-size-scaling collapse ``obs(t, L) = L^a f((t − t_c) L^{1/ν})``.

    The parameters ``t_c``, ``1/ν`` and ``a`` (those not fixed by ``critical_point=``,
    ``nu=``, ``exponent=``) minimise the Houdayer–Hartmann quality ``S`` (see
    ``_quality``): every point is compared with the master curve interpolated from
    the *other* sizes within their ranges, so each size may have its own control grid.
    No starting values are needed: differential evolution searches the box (``t_c``
    inside the common control range, ``1/ν ∈ (0.1, 3)``, ``a ∈ (−3, 3)``; override with
    ``bounds={"critical_point": (lo, hi), "nu": (lo, hi), "exponent": (lo, hi)}``) and
    Nelder–Mead refines the best point. Parameter choices that leave fewer than
    ``min_overlap`` of the points with another size to compare with are penalised — this
    removes the trivial minima (no overlap, hence "perfect" S) that an unguarded search
    falls into.

    ``correction=True`` (ω = 1) or a number ω fits ``obs = L^a (1 + c L^{−ω}) f(x)``.

    Inputs: either curves (``{size: DataArray(control)}``, optionally with a ``stderr``
    coord; without error bars unit weights are used and the quality is in units of the
    squared data) or per-replica order parameters (dims ``control`` and ``replica``) with
    ``observable="m" | "chi" | "binder"`` (see :func:`scaling_curves`).

    Errors: with per-replica data, the standard deviation of the parameters over
    ``n_bootstrap`` resamples of the replicas (each refitted from the optimum; whole
    groups of replicas labelled by the coordinate ``block=`` when given); otherwise
    from the curvature of ``χ² = N_over S``: ``cov = 2 H⁻¹ max(1, S)`` (the factor
    ``S`` rescales the unknown noise level when no error bars are given).

    Finite-size systematics: with three sizes or more the collapse is refitted without
    the smallest size; the shift of each parameter (``systematic``) is added in
    quadrature to its statistical error (``statistical_stderr``) to give ``*_stderr``.
    ``critical_point=(value, stderr)`` or a :class:`CriticalPoint` fixes ``t_c`` and
    propagates its uncertainty: the collapse is refitted at ``t_c ± stderr`` and half the
    spread (``propagated``) is added in quadrature as well. Resampling is deterministic
    by default (``seed=0``, recorded); ``seed=None`` draws fresh randomness.

    The result reports ``success=False`` with a ``message`` when the collapse is not
    trustworthy; ``checks`` lists each criterion: ``S > 10`` with error bars, ``S`` not
    below ``0.1`` of the flat-curve value (``quality_relative``; pure noise gives ≈ 1), a
    fitted parameter on the edge of the box, too little overlap, bootstrap refits that
    mostly fail, no finite error bar, and ``stable_without_smallest_size``: dropping the
    smallest size moves a parameter by more than 3 statistical errors (the scaling form
    without corrections does not hold at these sizes; the shift is in the error bar).

    References
    ----------
    J. Houdayer and A. K. Hartmann, Phys. Rev. B 70, 014418 (2004); O. Melchert,
    arXiv:0910.5403 (2009); S. M. Bhattacharjee and F. Seno, J. Phys. A 34, 6375 (2001).
    """
    data = _by_size(obs_by_size, argument="obs_by_size")
    if observable is not None and observable not in _OBSERVABLES:
        raise SchemaError(f"unknown observable {observable!r}", where="observable=",
                          fix=f"use one of {_OBSERVABLES}")
    if not 0 < min_overlap <= 1:
        raise SchemaError("min_overlap must be in (0, 1]", where="min_overlap=", fix="e.g. 0.5")
    if interpolation_order not in (1, 2, 3):
        raise SchemaError(f"interpolation_order={interpolation_order}", where="interpolation_order=",
                          fix="use 1 (linear), 2 or 3 (cubic, the default)")
    has_replicas = any(replica in da.dims for da in data.values())
    mats = None
    if has_replicas:
        if observable is None:
            raise SchemaError(
                f"the data have a replica dim {replica!r} but no observable was named",
                where="observable=",
                fix="pass observable='m', 'chi' or 'binder' (or pass curves without the replica dim)",
            )
        mats = {L: _replica_matrix(da, control, replica, L) for L, da in data.items()}
        sites = {L: _site_count(data[L], L, observable) for L in data}
        blocks = _block_labels(data, replica, block)
        curves = _curves_from_replicas(mats, observable, sites)
        for L, c in curves.items():
            if c.t.size < 3:
                raise SchemaError(f"size {L:g} has {c.t.size} usable control values",
                                  where="obs_by_size", fix="need at least 3 per size")
    else:
        if observable is not None:
            raise SchemaError(
                f"observable={observable!r} needs per-replica data with dim {replica!r}",
                where=f"dims are {[list(d.dims) for d in data.values()][:1]}",
                fix="pass replica= naming the replica dim, or observable=None for curves",
            )
        curves = _curves_from_arrays(data, control)
    if exponent is None and observable == "binder":
        exponent = 0.0
    omega = 1.0 if correction is True else float(correction or 1.0)
    use_corr = bool(correction)

    box = _box(curves, bounds)
    fixed: dict[str, float] = {}
    tc_given, tc_err = _given_critical_point(critical_point)
    if tc_given is not None:
        fixed["critical_point"] = tc_given
    if nu is not None:
        if not nu > 0:
            raise SchemaError("nu must be positive", where="nu=", fix="pass nu > 0 or None")
        fixed["inv_nu"] = 1.0 / float(nu)
    if exponent is not None:
        fixed["exponent"] = float(exponent)
    if not use_corr:
        fixed["correction"] = 0.0
    free = [p for p in _PARAMS if p not in fixed]
    st = _stack(curves)
    if free:
        objective = _objective_factory(st, fixed, free, omega, min_overlap, interpolation_order)
        box_free = [box[p] for p in free]
        theta, _ = _minimize(objective, box_free, seed=seed)
    else:
        objective = None
        box_free = []
        theta = np.empty(0)
    params = dict(fixed)
    params.update(zip(free, theta, strict=True))
    q0 = _quality(st, params["critical_point"], params["inv_nu"], params["exponent"],
                  params.get("correction", 0.0), omega, interpolation_order)
    q = _Quality(float(q0.S[0]), int(q0.n_overlap[0]), q0.n_total, float(q0.S_null[0]))

    # ------------------------------------------------------------------ errors
    stderr = dict.fromkeys(_PARAMS, 0.0)
    boot_df = None
    notes = []
    if free and mats is not None and n_bootstrap >= 2:
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(n_bootstrap):
            cb = _curves_from_replicas(mats, observable, sites,
                                       _resample_index(mats, rng, blocks))
            if any(c.t.size < 3 for c in cb.values()):
                continue
            stb = _stack(cb)
            ob = _objective_factory(stb, fixed, free, omega, min_overlap, interpolation_order)
            tb, _ = _minimize(ob, box_free, x0=theta, global_search=False)
            rows.append(dict(zip(free, tb, strict=True)))
        boot_df = pd.DataFrame(rows, columns=free)
        for p in free:
            vals = boot_df[p].to_numpy(float)
            vals = vals[np.isfinite(vals)]
            stderr[p] = float(np.std(vals, ddof=1)) if vals.size >= 2 else float("nan")
        error_method = f"bootstrap over replicas ({len(rows)} refits from the optimum)"
        nu_err = float(np.std(1.0 / boot_df["inv_nu"], ddof=1)) if "inv_nu" in free and len(rows) > 1 else 0.0
    elif free:
        h = np.array([0.005 * (b[1] - b[0]) for b in box_free])

        def chi2(th):
            qq = objective.quality(th)
            return float(qq.S[0] * qq.n_overlap[0])

        H = _hessian(chi2, np.asarray(theta, float), h)
        try:
            cov = 2.0 * np.linalg.inv(H) * max(1.0, q.S)
            diag = np.diag(cov)
            if np.any(diag <= 0) or not np.all(np.isfinite(diag)):
                raise np.linalg.LinAlgError
            for p, v in zip(free, np.sqrt(diag), strict=True):
                stderr[p] = float(v)
        except np.linalg.LinAlgError:
            for p in free:
                stderr[p] = float("nan")
            notes.append("the quality surface is not curved upwards at the optimum (no error bars)")
        error_method = "curvature of chi2 = N_over * S at the optimum" + (
            "" if st.has_errors else " (unit errors, scaled by S)")
        nu_err = stderr["inv_nu"] / params["inv_nu"] ** 2
    else:
        error_method = "all parameters fixed"
        nu_err = 0.0

    # ------------------------------------------------- finite-size systematics
    stat = dict(stderr)
    stat["nu"] = float(nu_err)

    def refit(cv, fx, global_search=False):
        fr = [p for p in _PARAMS if p not in fx]
        ob = _objective_factory(_stack(cv), fx, fr, omega, min_overlap, interpolation_order)
        tb, _ = _minimize(ob, [box[p] for p in fr], x0=[params[p] for p in fr],
                          seed=0 if seed is None else seed, global_search=global_search)
        return dict(fx) | dict(zip(fr, tb, strict=True))

    systematic: dict[str, float] = {}
    propagated: dict[str, float] = {}
    if free and len(curves) >= 3:
        smallest = min(curves)
        rest = {L: c for L, c in curves.items() if L != smallest}
        # a global search: a local refit from the full optimum stays in its basin
        systematic = _shifts(params, refit(rest, fixed, global_search=True), free)
    if free and tc_err:
        up = refit(curves, fixed | {"critical_point": tc_given + tc_err})
        down = refit(curves, fixed | {"critical_point": tc_given - tc_err})
        propagated = {k: 0.5 * v for k, v in _shifts(up, down, free).items()}
        stderr["critical_point"] = tc_err
        stat["critical_point"] = tc_err
    for p in free:
        stderr[p] = math.hypot(stat[p], systematic.get(p, 0.0), propagated.get(p, 0.0))
    if "inv_nu" in free:
        nu_err = math.hypot(stat["nu"], systematic.get("nu", 0.0), propagated.get("nu", 0.0))
    if systematic or propagated:
        error_method += " (+) finite-size systematic (refit without the smallest size)" * bool(
            systematic) + " (+) propagated t_c uncertainty" * bool(propagated)

    # ----------------------------------------------------------------- verdict
    checks = {}
    unstable = [p for p, v in systematic.items() if p != "nu" and stat.get(p, 0) > 0
                and v > 3.0 * stat[p]]
    checks["stable_without_smallest_size"] = not unstable
    if unstable:
        notes.append("dropping the smallest size moves " + ", ".join(
            f"{ {'inv_nu': '1/nu'}.get(p, p)} by {systematic[p] / stat[p]:.1f} statistical errors"
            for p in unstable) + " (corrections to scaling at these sizes; included in the error bars)")
    if st.has_errors and q.S > QUALITY_MAX:
        notes.append(f"S = {q.S:.3g} > {QUALITY_MAX:g}: the data do not collapse within their error bars")
    if not q.relative < RELATIVE_QUALITY_MAX:
        notes.append(f"S / S_flat = {q.relative:.3g} >= {RELATIVE_QUALITY_MAX}: "
                     "the collapse explains no more than a flat curve (no scaling signal)")
    if q.overlap < min_overlap:
        notes.append(f"only {q.overlap:.0%} of the points overlap another size (trivial collapse)")
    for p, (lo, hi) in zip(free, box_free, strict=True):
        if p == "correction":
            continue
        v = params[p]
        if min(v - lo, hi - v) < 0.01 * (hi - lo):
            name = {"inv_nu": "1/nu"}.get(p, p)
            notes.append(f"{name} = {v:.4g} is on the edge of the search box ({lo:.4g}, {hi:.4g})")
    if boot_df is not None and len(boot_df) < max(2, n_bootstrap // 2):
        notes.append("most bootstrap refits failed")
    for p in free:
        if not math.isfinite(stderr[p]):
            notes.append(f"no finite error bar for {p}")
            break
    checks["quality_within_errors"] = not (st.has_errors and q.S > QUALITY_MAX)
    checks["better_than_flat_curve"] = bool(q.relative < RELATIVE_QUALITY_MAX)
    checks["overlap"] = bool(q.overlap >= min_overlap)
    checks["inside_search_box"] = not any("edge of the search box" in n for n in notes)
    checks["bootstrap_refits"] = not any("bootstrap refits failed" in n for n in notes)
    checks["finite_error_bars"] = not any("no finite error bar" in n for n in notes)
    success = not notes
    message = "collapse converged" if success else "; ".join(notes)

    curves_da = {
        L: xr.DataArray(c.y, dims=(control,), coords={control: c.t, **(
            {"stderr": ((control,), c.dy)} if c.dy is not None else {})}, name=observable or "obs")
        for L, c in curves.items()
    }
    return Collapse(
        critical_point=float(params["critical_point"]),
        nu=float(1.0 / params["inv_nu"]),
        exponent=float(params["exponent"]),
        critical_point_stderr=float(stderr["critical_point"]),
        nu_stderr=float(nu_err),
        exponent_stderr=float(stderr["exponent"]),
        quality=float(q.S),
        quality_relative=float(q.relative),
        overlap=float(q.overlap),
        success=success,
        message=message,
        correction=float(params.get("correction", 0.0)),
        correction_stderr=float(stderr["correction"]),
        omega=omega,
        observable=observable,
        error_method=error_method,
        fitted=tuple("nu" if p == "inv_nu" else p for p in free),
        statistical_stderr={p: float(v) for p, v in stat.items()
                            if p in free or p == "nu" and "inv_nu" in free
                            or p == "critical_point" and tc_err},
        systematic={p: float(v) for p, v in systematic.items()},
        propagated={p: float(v) for p, v in propagated.items()},
        checks=checks,
        seed=seed,
        n_bootstrap=0 if boot_df is None else len(boot_df),
        bootstrap=boot_df,
        curves=curves_da,
        attrs=provenance(
            estimator="finite_size_collapse (Houdayer-Hartmann quality, differential "
            "evolution + Nelder-Mead)",
            control=str(control),
            error_method=error_method,
            box=str({k: box[k] for k in free}),
            seed=str(seed),
        ),
    )


def _shifts(a: dict[str, float], b: dict[str, float], free: list[str]) -> dict[str, float]:
    """|a − b| per free parameter (and for ν = 1/inv_nu when 1/ν is free)."""
    out = {p: abs(float(a[p]) - float(b[p])) for p in free}
    if "inv_nu" in free:
        out["nu"] = abs(1.0 / a["inv_nu"] - 1.0 / b["inv_nu"])
    return out


def _given_critical_point(cp: Any) -> tuple[float | None, float]:
    """(value, stderr) of a fixed critical point given as a number, a pair or a CriticalPoint."""
    if cp is None:
        return None, 0.0
    if isinstance(cp, CriticalPoint):
        value, err = cp.value, cp.stderr
    elif isinstance(cp, tuple | list):
        if len(cp) != 2:
            raise SchemaError(f"critical_point={cp!r}", where="critical_point=",
                              fix="pass a number, (value, stderr) or a CriticalPoint")
        value, err = cp
    else:
        value, err = cp, 0.0
    value, err = float(value), float(err)
    if not math.isfinite(value) or not (math.isfinite(err) and err >= 0):
        raise SchemaError(f"critical_point = {value} ± {err} is not usable",
                          where="critical_point=",
                          fix="pass a finite value and a finite, non-negative stderr")
    return value, err


# ------------------------------------------------------------------------ power law


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

    ``m ∝ (T_c − T)^β`` (``side="below"``, p = β), ``χ ∝ |T − T_c|^{−γ}``,
    ``ξ ∝ |T − T_c|^{−ν}`` (p = −γ, −ν). ``x_c = critical_point`` when given, else fitted
    (profiled over the side of the data; ``side="below"`` means the data lie at
    ``x < x_c``).

    * WLS (statsmodels): ``log y = log A + p log|x − x_c|`` with weights ``(y/σ_y)²``
      (the delta-method variance of ``log y``), unit weights without errors;
    * ML with known errors: ``y_i ~ N(A|x_i − x_c|^p, σ_i²)``, i.e. weighted nonlinear
      least squares in linear space, started from the WLS solution — the primary
      estimate when ``yerr`` is given (or ``y`` carries a ``stderr`` coord).

    Uncertainty: ``n_bootstrap`` resamples (parametric, ``y* = ŷ + σ ε`` with known
    errors; residual bootstrap in log space without), refitting everything including
    ``x_c``; standard error = bootstrap std, CI = 2.5–97.5 % percentiles.
    Goodness of fit: ``χ²``, ``dof``, ``p_value`` with known errors; ``R²`` of the
    log-log fit always. ``window=(x_lo, x_hi)`` restricts the data by ``x``; the
    window-sensitivity table refits after dropping the farthest 20/40/60 % and the
    nearest one or two points. ``model_comparison`` ranks the power law, an exponential
    and a logistic crossover by AICc (Burnham & Anderson 2002).

    References
    ----------
    A. Clauset, C. R. Shalizi, M. E. J. Newman, SIAM Rev. 51, 661 (2009) (compare the
    power law with alternatives); K. P. Burnham and D. R. Anderson, *Model Selection and
    Multimodel Inference* (Springer, 2002).
    """
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
    xa, ya = xa[keep], ya[keep]
    ea = None if ea is None else ea[keep]
    free = critical_point is None
    k_power = 3 if free else 2
    if xa.size < k_power + 2:
        raise SchemaError(
            f"{xa.size} usable points on the {side} side; need at least {k_power + 2}",
            where="x, y (after window=, side= and dropping NaN)",
            fix="widen the window or add data points",
        )
    if np.any(ya <= 0):
        raise SchemaError("y must be positive for a power law", where="y",
                          fix="fit |y| or shift the data (e.g. subtract a background)")
    order = np.argsort(xa)
    xa, ya = xa[order], ya[order]
    ea = None if ea is None else ea[order]
    span = float(np.ptp(xa))
    if free:
        edge = xa[-1] if side == "below" else xa[0]
        gap = max(1e-9 * max(abs(edge), 1.0), 1e-6 * span)
        xc_box = (edge + gap, edge + span) if side == "below" else (edge - span, edge - gap)
    else:
        xc_box = (float(critical_point), float(critical_point))
    use_ml = ea is not None

    def fit(x_, y_, e_):
        return _fit_power_once(x_, y_, e_, critical_point, xc_box, use_ml)

    logA, p, xc, wls, ml = fit(xa, ya, ea)
    pred = _power_model(xa, logA, p, xc)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boot = []
    log_pred = np.log(pred)
    resid = np.log(ya) - log_pred
    for _ in range(n_bootstrap):
        if ea is not None:
            yb = pred + ea * rng.standard_normal(ya.size)
            if np.any(yb <= 0):
                yb = np.where(yb > 0, yb, pred)
        else:
            yb = np.exp(log_pred + rng.choice(resid, resid.size, replace=True))
        try:
            lb, pb, xb, _, _ = fit(xa, yb, ea)
        except (ValueError, np.linalg.LinAlgError):
            continue
        boot.append((lb, pb, xb))
    bt = np.array(boot) if boot else np.empty((0, 3))
    if bt.shape[0] >= 2:
        p_se = float(np.std(bt[:, 1], ddof=1))
        ci = (float(np.percentile(bt[:, 1], 2.5)), float(np.percentile(bt[:, 1], 97.5)))
        A_se = float(np.std(np.exp(bt[:, 0]), ddof=1))
        xc_se = float(np.std(bt[:, 2], ddof=1)) if free else 0.0
    else:
        p_se, ci, A_se, xc_se = np.nan, (np.nan, np.nan), np.nan, np.nan if free else 0.0

    n = xa.size
    dof = n - k_power
    if ea is not None:
        chi2 = float(np.sum(((ya - pred) / ea) ** 2))
        p_value = float(stats.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    else:
        chi2, p_value = float("nan"), float("nan")
    ss_tot = float(np.sum((np.log(ya) - np.mean(np.log(ya))) ** 2))
    r_squared = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")

    # how the exponent moves with the window
    d = np.abs(xa - xc)
    rows = []
    for kind, frac in (("all", 1.0), ("drop_far", 0.8), ("drop_far", 0.6), ("drop_far", 0.4)):
        sel = d <= np.quantile(d, frac) if frac < 1 else np.ones(n, bool)
        rows.append((kind, frac, sel))
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
    sens = pd.DataFrame(table)

    comparison, preferred = _fit_alternatives(xa, ya, ea, k_power, pred)
    wls = _loglog_wls(xa, ya, ea, wls[2], full=True)
    wls_info = {"exponent": float(wls.params[1]), "exponent_se": float(wls.bse[1]),
                "amplitude": float(np.exp(wls.params[0])),
                "note": "asymptotic errors are conditional on x_c" if free else ""}
    return PowerLawFit(
        exponent=float(p),
        exponent_stderr=p_se,
        exponent_ci=ci,
        amplitude=float(np.exp(logA)),
        amplitude_stderr=A_se,
        critical_point=float(xc),
        critical_point_stderr=xc_se,
        critical_point_fixed=not free,
        side=side,
        method="ml" if use_ml else "wls",
        wls=wls_info,
        ml=ml,
        chi2=chi2,
        dof=int(dof),
        p_value=p_value,
        r_squared=r_squared,
        window=(float(xa[0]), float(xa[-1])),
        distance_range=(float(d.min()), float(d.max())),
        n_points=int(n),
        window_sensitivity=sens,
        model_comparison=comparison,
        preferred=preferred,
        n_bootstrap=int(bt.shape[0]),
        attrs=provenance(
            estimator="fit_power_law",
            model="y = A |x - x_c|^p",
            error_method=("parametric" if use_ml else "log-residual")
            + f" bootstrap ({bt.shape[0]} resamples)",
            seed="generator passed" if isinstance(seed, np.random.Generator) else str(seed),
        ),
    )
