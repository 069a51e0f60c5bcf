"""The critical point from several sizes: Binder crossings or susceptibility peaks.

References
----------
K. Binder, Z. Phys. B 43, 119 (1981); D. P. Landau and K. Binder, *A Guide to Monte
Carlo Simulations in Statistical Physics*, ch. 4 (Cambridge, 2014).
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
from .crossings import (
    _assumptions,
    _binder_estimate,
    _correction_shift,
    _max_at_edge,
    _peak_estimate,
)
from .curves import Curve, block_labels, curves_from_replicas, replica_data, resample_index
from .sizes import by_size

__all__ = ["CriticalPoint", "critical_point"]


@dataclass
class CriticalPoint:
    """The location of a transition estimated from several sizes (plain data).

    ``value`` ± ``stderr`` (bootstrap over replicas ⊕ the finite-size ``systematic``);
    ``crossings``: one row per pair of sizes (``binder``) or per size (``susceptibility``);
    ``fit``: the extrapolation to infinite size; every assumption in ``assumptions`` (and
    warned about), with ``nu_assumed``, ``edge_peaks``, ``dropped_sizes`` as fields.
    """

    value: float
    stderr: float
    crossings: pd.DataFrame
    fit: dict[str, Any]
    method: str
    n_bootstrap: int = 0
    bootstrap: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: every assumption the estimate rests on (each also warned about)
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
    #: finite-size systematic: the shift when the smallest size is dropped (in ``stderr``)
    systematic: float = float("nan")
    #: where the control values came from (``step`` coordinate, the dim's values, positions)
    control_source: str = ""
    #: ``method="binder"``: the shift of T_c when the crossings are fitted with the leading
    #: correction to scaling (ω = ``omega``, 1/ν = 1), in ``stderr`` (NaN: < 3 pairs)
    correction_systematic: float = float("nan")
    #: ``method="binder"``: the fixed drift exponent ω of ``T_c + b L_small^-ω`` when the
    #: crossings were extrapolated (an assumption: ω is not fitted), else None
    omega_assumed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        keys = ("value", "stderr", "method", "n_bootstrap", "fit", "nu_assumed", "seed",
                "systematic", "correction_systematic", "control_source", "omega_assumed",
                "attrs")
        out = {k: getattr(self, k) for k in keys}
        out.update(crossings=self.crossings.to_dict(orient="records"),
                   assumptions=list(self.assumptions), edge_peaks=list(self.edge_peaks),
                   dropped_sizes=list(self.dropped_sizes), control_range=list(self.control_range))
        return jsonable(out)

    def to_dataset(self) -> xr.Dataset:
        """``critical_point`` (+ ``_stderr``, ``_systematic``), the crossings table, attrs."""
        dim = "pair" if self.method == "binder" else "size_index"
        table = {f"crossing_{c}": ((dim,), self.crossings[c].to_numpy())
                 for c in self.crossings.columns}
        ds = xr.Dataset({"critical_point": ((), self.value), "critical_point_stderr": ((), self.stderr),
                         "critical_point_systematic": ((), self.systematic),
                         "critical_point_correction_systematic": ((), self.correction_systematic),
                         **table})
        ds.attrs = provenance(method=self.method, assumptions=list(self.assumptions),
                              nu_assumed=self.nu_assumed, edge_peaks=list(self.edge_peaks),
                              dropped_sizes=list(self.dropped_sizes),
                              control_range=list(self.control_range), seed=self.seed,
                              control_source=self.control_source, fit=str(self.fit),
                              omega_assumed=self.omega_assumed)
        return ds

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


@dataclass
class _Estimator:
    """One run of the crossing / peak estimate with fixed settings (not kept in results)."""

    method: str
    n_local: int
    omega: float
    nu: float | None
    mode: bool | str
    near: np.ndarray | None = None

    def __call__(self, curves: dict[float, Curve], weights: np.ndarray | None,
                 points: np.ndarray | None = None) -> tuple[np.ndarray, float, dict[str, Any]]:
        if self.method == "binder":
            return _binder_estimate(curves, self.n_local, self.omega, weights, self.near,
                                    self.mode, points)
        return _peak_estimate(curves, self.n_local, self.nu, weights, points)


def _check_arguments(method: str, n_bootstrap: int) -> None:
    if method not in ("binder", "susceptibility"):
        raise SchemaError(f"unknown method {method!r}", where="method=",
                          fix="use 'binder' or 'susceptibility'")
    if n_bootstrap < 0:
        raise SchemaError("n_bootstrap must be >= 0", where="n_bootstrap=", fix="pass e.g. 200")


def _bootstrap_points(est: _Estimator, mats: dict, observable: str, sites: dict,
                      rng: np.random.Generator, blocks: dict | None, n_bootstrap: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Crossings (or peaks) on ``n_bootstrap`` replica resamples and their std per point."""
    boot = [est(curves_from_replicas(mats, observable, sites, resample_index(mats, rng, blocks)),
                None)[0] for _ in range(n_bootstrap)]
    n_points = 0 if est.near is None else len(est.near)
    bp = np.array(boot, dtype=float).reshape(len(boot), n_points)
    if bp.shape[0] >= 2:
        return bp, np.nanstd(bp, axis=0, ddof=1)
    return bp, np.full(n_points, np.nan)


def _drop_smallest_shift(curves: dict[float, Curve], points: np.ndarray,
                         weights: np.ndarray | None, value: float, est: _Estimator) -> float:
    """|estimate − estimate without the smallest size|, from the same crossings or peaks.

    A finite-size systematic: crossings (peaks) of the smallest sizes carry the largest
    corrections to scaling. NaN when fewer than 3 sizes (or nothing left to estimate).
    """
    sizes = list(curves)
    if len(sizes) < 3 or not np.isfinite(value):
        return float("nan")
    smallest = sizes[0]
    if est.method == "binder":
        keep = np.array([a != smallest for a, _ in itertools.combinations(sizes, 2)])
    else:
        keep = np.array([L != smallest for L in sizes])
    rest = {L: c for L, c in curves.items() if L != smallest}
    w = None if weights is None else weights[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = est(rest, w, points[keep])[1]
    return float(abs(value - v)) if np.isfinite(v) else float("nan")


def _table(method: str, sizes: list[float], points: np.ndarray, err: np.ndarray) -> pd.DataFrame:
    if method == "binder":
        pairs = list(itertools.combinations(sizes, 2))
        return pd.DataFrame({"size_1": [a for a, _ in pairs], "size_2": [b for _, b in pairs],
                             "crossing": points, "stderr": err})
    return pd.DataFrame({"size": sizes, "peak": points, "stderr": err})


def _check_range(method: str, value: float, fit: dict[str, Any], lo: float, hi: float,
                 notes: list[str]) -> None:
    """No estimate outside the control range every size covers (a SchemaError)."""
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
    n_by_size: Mapping[Any, float] | float | None = None,
    dimension: float | None = None,
) -> CriticalPoint:
    """Critical point from per-replica order parameters of several sizes.

    ``method="binder"``: Binder cumulants ``U_L = 1 − ⟨m⁴⟩/(3⟨m²⟩²)`` of different sizes
    cross at ``T_c``. Each pair ``(L1 < L2)`` is crossed at the sign change of
    ``U_{L2} − U_{L1}`` refined by weighted local cubic fits (``n_local`` points); the
    crossings ``T*(L1, L2) = T_c + b L1^{−ω}`` are extrapolated by weighted least squares
    (weights: their bootstrap variances). ``extrapolate="auto"`` keeps the drift only when
    it lowers the AICc against a size-independent crossing; ``True``/``False`` force it.

    ``method="susceptibility"``: ``χ_L = N(⟨m²⟩ − ⟨m⟩²)`` peaks at ``T_L = T_c + a
    L^{−1/ν}`` (Gaussian fit around the maximum); ``1/ν`` fitted with ≥ 5 located peaks and
    no ``nu=``, else fixed (ν = 1 assumed when not given: ``nu_assumed`` and a warning).
    N (configuration size, not the scaling variable ``size``) from ``n_by_size``,
    ``attrs["N"]`` or ``size ** dimension``.

    χ and U are the bias-corrected values of :func:`phasekit.susceptibility` /
    :func:`phasekit.binder_cumulant`. Control values come from
    :func:`phasekit._meta.control_values` (``control="checkpoint"`` reads ``step``).
    Every assumption is a field (``assumptions``, ``nu_assumed``, ``edge_peaks``,
    ``dropped_sizes``) and a ``RuntimeWarning``; an estimate outside the control range
    every size covers raises :class:`SchemaError`.

    Error: the procedure repeated on ``n_bootstrap`` replica resamples (whole ``block=``
    groups when replicas are correlated in groups), ⊕ the finite-size systematic (shift
    when the smallest size is dropped; the bootstrap part is ``fit["statistical_stderr"]``)
    ⊕, for ``binder``, ``correction_systematic``: the shift when the crossings are fitted
    with the leading correction to scaling ``T* = T_c + a (L1^−ω − L2^−ω)/(L2^{1/ν} −
    L1^{1/ν})`` (ω = ``omega``, 1/ν = 1). Without it the q = 3 Potts error bars covered
    T_c in 1 of 4 seeds (crossings converge from below); with it 4 of 4.
    Deterministic by default (``seed=0``); ``seed=None`` or a Generator for fresh draws.

    References: Binder (1981); Landau & Binder (2014), ch. 4.
    """
    _check_arguments(method, n_bootstrap)
    data = by_size(m_by_size, argument="m_by_size")
    observable = "binder" if method == "binder" else "chi"
    rd = replica_data(data, control, replica, observable, n_by_size=n_by_size,
                      dimension=dimension)
    mats, sites = rd.mats, rd.sites
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    est = _Estimator(method, n_local, omega, nu, extrapolate)
    base = curves_from_replicas(mats, observable, sites)
    est.near = est(base, None)[0]  # resamples look for the same crossing, not noise elsewhere
    boot, point_err = _bootstrap_points(est, mats, observable, sites, rng,
                                        block_labels(data, replica, block), n_bootstrap)
    point_err = np.where(np.isfinite(est.near), point_err, np.nan)
    weights = 1.0 / point_err**2 if n_bootstrap >= 2 else None
    points, value, fit = est(base, weights)
    est.mode = fit.get("extrapolated", extrapolate)  # resamples use the model chosen here
    boot_values = np.array([est(base, weights, b)[1] for b in boot])
    finite = boot_values[np.isfinite(boot_values)]
    stderr = float(np.std(finite, ddof=1)) if finite.size >= 2 else float("nan")
    fit["bootstrap_failures"] = int(boot_values.size - finite.size)
    fit["statistical_stderr"] = stderr
    systematic = _drop_smallest_shift(base, points, weights, value, est)
    if np.isfinite(systematic):
        stderr = float(math.hypot(stderr, systematic))
    correction = (_correction_shift(list(mats), points, weights, value, omega)
                  if method == "binder" else float("nan"))
    if np.isfinite(correction):
        stderr = float(math.hypot(stderr, correction))
    fit["correction_systematic_model"] = (
        f"T* = T_c + a (L1^-{omega:g} - L2^-{omega:g})/(L2^(1/nu) - L1^(1/nu)), 1/nu = 1"
        if method == "binder" else "none")
    sizes = list(mats)
    edge = tuple(float(L) for L, c in base.items() if method == "susceptibility" and _max_at_edge(c))
    notes, dropped, nu_assumed = _assumptions(method, fit, sizes, points, edge)
    notes = rd.assumptions(control) + notes
    lo = max(float(t[0]) for t, _ in mats.values())
    hi = min(float(t[-1]) for t, _ in mats.values())
    _check_range(method, value, fit, lo, hi, notes)
    if notes:
        warnings.warn(f"critical_point({method!r}): " + "; ".join(notes), RuntimeWarning,
                      stacklevel=2)
    return CriticalPoint(
        value=value, stderr=stderr, crossings=_table(method, sizes, points, point_err), fit=fit,
        method=method, n_bootstrap=n_bootstrap, bootstrap=boot_values,
        attrs=provenance(
            estimator=f"critical_point({method})", control=str(control), replica=str(replica),
            error_method=f"bootstrap over replicas ({n_bootstrap} resamples) (+) shift when the "
            "smallest size is dropped" + (" (+) shift under the leading correction to scaling "
                                          "of the crossings" if method == "binder" else ""),
            seed="generator passed" if isinstance(seed, np.random.Generator) else str(seed),
            assumptions="; ".join(notes),
            N={str(k): v for k, v in sites.items()} if observable == "chi" else "not used",
        ),
        assumptions=tuple(notes), nu_assumed=nu_assumed, edge_peaks=edge, dropped_sizes=dropped,
        control_range=(lo, hi), seed=seed if isinstance(seed, int) else None,
        systematic=float(systematic), control_source=rd.control_source,
        omega_assumed=float(omega) if method == "binder" and fit.get("extrapolated") else None,
        correction_systematic=float(correction),
    )
