"""Plots (matplotlib). Every function takes ``ax=`` and returns the Axes it drew on.

They are what :class:`phasekit.report.Report` puts in its HTML page, and usable alone::

    ax = pk.plot.order_parameters(report.order, boundaries=report.boundaries)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._meta import control_values

__all__ = [
    "order_parameters",
    "prompt_divergence",
    "susceptibility",
    "binder_cumulant",
    "order_histograms",
    "correlation",
    "seed_attribution",
    "divergence_scan",
    "phases_and_boundaries",
]

PHASE_COLOURS = {"liquid": "#9ecae1", "nucleation": "#fdae6b", "settling": "#a1d99b"}
_FALLBACK = ["#dadaeb", "#fdd0a2", "#c7e9c0", "#fcbba1", "#d9d9d9"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 3.6))
    return ax


def _use_log(ax, x: np.ndarray) -> None:
    x = x[np.isfinite(x)]
    if x.size > 2 and x.min() > 0 and x.max() / x.min() > 50:
        ax.set_xscale("log")


def _stderr(da: xr.DataArray) -> np.ndarray | None:
    if "stderr" in da.coords:
        return np.asarray(da.coords["stderr"].values, dtype=float)
    return None


def phases_and_boundaries(result: Any, ax=None, *, x: np.ndarray | None = None, label: bool = True):
    """Shade the phases of a boundary result and draw each boundary with its interval."""
    ax = _axes(ax)
    if result is None:
        return ax
    phases = np.asarray(result.phases.values).astype(str)
    dim = result.phases.dims[0]
    xs = control_values(result.phases, dim) if x is None else np.asarray(x, float)
    if xs.size == 0:
        return ax
    # segment edges halfway (geometrically on log axes) between checkpoints
    log = ax.get_xscale() == "log"
    mid = np.sqrt(xs[1:] * xs[:-1]) if log else (xs[1:] + xs[:-1]) / 2
    edges = np.concatenate([[xs[0]], mid, [xs[-1]]])
    seen: dict[str, int] = {}
    start = 0
    for i in range(1, phases.size + 1):
        if i == phases.size or phases[i] != phases[start]:
            name = phases[start]
            colour = PHASE_COLOURS.get(name) or _FALLBACK[len(seen) % len(_FALLBACK)]
            ax.axvspan(edges[start], edges[i], color=colour, alpha=0.35, lw=0,
                       label=name if (label and name not in seen) else None)
            seen.setdefault(name, 1)
            start = i
    for loc, (lo, hi) in zip(result.locations, result.intervals, strict=True):
        ax.axvline(loc, color="k", lw=1.2, ls="--")
        if np.isfinite(lo) and np.isfinite(hi):
            ax.axvspan(lo, hi, color="k", alpha=0.12, lw=0)
    return ax


def order_parameters(
    order: xr.Dataset,
    variables: Sequence[str] = ("order_entropy", "magnetization", "mode_fraction"),
    *,
    dim: Hashable = "checkpoint",
    boundaries: Any = None,
    ax=None,
):
    """Order parameters against the control value, with ±1 s.e. bands and phases shaded."""
    ax = _axes(ax)
    x = control_values(order, dim)
    _use_log(ax, x)
    for var in variables:
        if var not in order:
            continue
        y = np.asarray(order[var].values, dtype=float)
        ax.plot(x, y, marker="o", ms=3, label=var.replace("_", " "))
        se = order.get(f"{var}_stderr")
        if se is not None:
            s = np.asarray(se.values, dtype=float)
            ax.fill_between(x, y - s, y + s, alpha=0.25)
    phases_and_boundaries(boundaries, ax=ax, x=x)
    ax.set_xlabel("step" if "step" in order.coords else str(dim))
    ax.set_ylabel("order parameter")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, ncol=2, loc="best")
    ax.set_title("Order parameters")
    return ax


def _series(da: xr.DataArray, dim: Hashable, ax, label: str, *, boundaries_result=None, log_y=False):
    x = control_values(da, dim)
    _use_log(ax, x)
    y = np.asarray(da.values, dtype=float)
    se = _stderr(da)
    ax.errorbar(x, y, yerr=se, marker="o", ms=3, capsize=2, label=label)
    phases_and_boundaries(boundaries_result, ax=ax, x=x, label=False)
    ax.set_xlabel("step" if "step" in da.coords else str(dim))
    if log_y and np.nanmin(y) > 0:
        ax.set_yscale("log")
    return ax


def prompt_divergence(structure: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None):
    """Between-prompt Jensen–Shannon divergence (and its finite-sample null) per checkpoint."""
    ax = _axes(ax)
    js = structure["js_divergence"]
    if "js_divergence_stderr" in structure:
        js = js.assign_coords(stderr=structure["js_divergence_stderr"])
    _series(js, dim, ax, "mean pairwise JS between prompts", boundaries_result=boundaries)
    if "js_divergence_null" in structure:
        ax.plot(control_values(structure, dim), structure["js_divergence_null"].values, color="0.4", ls=":",
                label="null (one shared distribution)")
    ax.set_ylabel("JS divergence (nats)")
    ax.set_title("Between-prompt divergence")
    ax.legend(fontsize=7)
    return ax


def susceptibility(chi: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None):
    """Susceptibility χ = N(⟨m²⟩ − ⟨m⟩²) over replicas, per control value."""
    ax = _axes(ax)
    _series(chi, dim, ax, "χ", boundaries_result=boundaries)
    ax.set_ylabel("susceptibility χ")
    ax.set_title("Susceptibility")
    return ax


def binder_cumulant(u: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None):
    """Binder cumulant U = 1 − ⟨m⁴⟩/(3⟨m²⟩²); a dip below 0 signals a first-order transition."""
    ax = _axes(ax)
    _series(u, dim, ax, "U", boundaries_result=boundaries)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axhline(2 / 3, color="0.6", lw=0.8, ls=":")
    ax.set_ylabel("Binder cumulant U")
    ax.set_title("Binder cumulant")
    return ax


def order_histograms(
    m: xr.DataArray,
    boundaries: Any,
    *,
    dim: Hashable = "checkpoint",
    bins: int = 15,
    ax=None,
):
    """Histogram of the order parameter across replicas on both sides of each boundary."""
    ax = _axes(ax)
    if boundaries is None or not len(boundaries.indices):
        values = np.asarray(m.values, dtype=float).ravel()
        ax.hist(values[np.isfinite(values)], bins=bins, range=(0, 1), alpha=0.7, label="all checkpoints")
    else:
        n = m.sizes[dim]
        for k, idx in enumerate(boundaries.indices):
            for side, j, style in (("before", max(idx - 1, 0), "step"), ("after", min(idx, n - 1), "stepfilled")):
                v = np.asarray(m.isel({dim: j}).values, dtype=float).ravel()
                v = v[np.isfinite(v)]
                ax.hist(v, bins=bins, range=(0, 1), histtype=style, alpha=0.55 if style == "stepfilled" else 1,
                        lw=1.5, color=f"C{k}",
                        label=f"boundary {k + 1} {side} ({control_values(m, dim)[j]:g})")
    ax.set_xlabel(str(m.name or "order parameter"))
    ax.set_ylabel("replicas")
    ax.set_title("Order-parameter histogram at each boundary")
    ax.legend(fontsize=7)
    return ax


def correlation(corr: xr.DataArray, *, lag: Hashable = "lag", ax=None, label_dim: Hashable | None = None):
    """Connected correlation C(r)/C(0) against lag, with error bars; one line per other coord."""
    ax = _axes(ax)
    others = [d for d in corr.dims if d != lag]
    if others:
        d = label_dim or others[0]
        stacked = corr.stack(_line=others) if len(others) > 1 else corr.rename({d: "_line"})
        n = stacked.sizes["_line"]
        picks = np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int))
        for i in picks:
            line = stacked.isel(_line=i)
            lab = line["_line"].values.item() if "_line" in line.coords else i
            se = _stderr(line)
            ax.errorbar(line[lag].values, line.values, yerr=se, marker=".", ms=3, lw=1, capsize=1,
                        label=f"{d}={lab}")
    else:
        ax.errorbar(corr[lag].values, corr.values, yerr=_stderr(corr), marker=".", capsize=1)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xlabel("lag r")
    ax.set_ylabel("C(r) / C(0)")
    ax.set_title("Correlation decay")
    if others:
        ax.legend(fontsize=7)
    return ax


def seed_attribution(seed: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None):
    """Divergence to the seed distribution and support retention per checkpoint."""
    ax = _axes(ax)
    x = control_values(seed, dim)
    _use_log(ax, x)
    other = [d for d in seed["seed_divergence"].dims if d != dim]
    div = seed["seed_divergence"].mean(other) if other else seed["seed_divergence"]
    ax.plot(x, div.values, marker="o", ms=3, label="JS to the closest base distribution")
    if "support_retention" in seed:
        ret = seed["support_retention"].mean(other) if other else seed["support_retention"]
        ax.plot(x, ret.values, marker="s", ms=3, label="mass on the seed's support")
    phases_and_boundaries(boundaries, ax=ax, x=x, label=False)
    ax.set_xlabel("step" if "step" in seed.coords else str(dim))
    ax.set_title("Seed attribution")
    ax.legend(fontsize=7)
    return ax


def divergence_scan(scan: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None):
    """The before/after divergence scan (Arnold et al. 2024) with its null level."""
    ax = _axes(ax)
    _series(scan, dim, ax, "divergence before vs after", boundaries_result=boundaries)
    if "null" in scan.coords:
        ax.plot(control_values(scan, dim), scan.coords["null"].values, color="0.4", ls=":", label="null level")
    ax.set_ylabel(f"{scan.attrs.get('divergence', 'JS')} divergence")
    ax.set_title("Divergence scan")
    ax.legend(fontsize=7)
    return ax
