"""Plots (matplotlib). Every function takes ``ax=`` and returns the Axes it drew on.

They are what :class:`phasekit.report.Report` puts in its HTML page, and usable alone::

    ax = pk.plot.order_parameters(report.order, boundaries=report.boundaries)

The control axis (:func:`control_axis`) fits training runs: with several training stages
(base, sft, dpo, rl…) every checkpoint gets the same width and the ticks are labelled
with its step, so a post-training stage of a few thousand steps after 100k of
pretraining is as legible as pretraining; the stages are drawn as named bands along the
top. Phases are shaded between the boundaries themselves (the first checkpoint of each
new phase), and each boundary's interval is a grey band.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ._meta import control_values, with_stderr
from .errors import SchemaError

__all__ = [
    "ControlAxis",
    "binder_cumulant",
    "control_axis",
    "correlation",
    "correlation_length",
    "divergence_scan",
    "entropy",
    "order_histograms",
    "order_parameters",
    "parse_rates",
    "phase_diagram",
    "phases_and_boundaries",
    "prompt_divergence",
    "seed_attribution",
    "seed_divergence",
    "size_comparison",
    "support_retention",
    "susceptibility",
]

PHASE_COLOURS = {"liquid": "#9ecae1", "nucleation": "#fdae6b", "settling": "#a1d99b"}
_FALLBACK = ["#dadaeb", "#fdd0a2", "#c7e9c0", "#fcbba1", "#d9d9d9"]
_STAGE_GREYS = ["#e8e8e8", "#cfcfcf"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 3.6))
    return ax


def _step_text(v: float) -> str:
    from .report.numbers import format_step

    return format_step(v)


def format_control_value(v: float) -> str:
    """A control value as every figure prints it (steps with thousands separators)."""
    return _step_text(v)


@dataclass(frozen=True)
class ControlAxis:
    """Where each checkpoint sits on the x axis, and how the axis is labelled.

    ``mode`` is ``"index"`` (one equal slot per checkpoint, ticks labelled with the step:
    for runs with several training stages), ``"log"`` or ``"linear"`` (the step itself).
    ``stages`` holds ``(name, first_index, last_index)`` runs of the ``stage`` coordinate.
    """

    values: tuple[float, ...]
    mode: str
    unit: str
    stages: tuple[tuple[str, int, int], ...] = ()

    @property
    def positions(self) -> np.ndarray:
        """x of every checkpoint."""
        v = np.asarray(self.values, dtype=float)
        return np.arange(v.size, dtype=float) if self.mode == "index" else v

    def x_of(self, value: float) -> float:
        """x of a control value (interpolated between checkpoints in index mode)."""
        if self.mode != "index":
            return float(value)
        v = np.asarray(self.values, dtype=float)
        return float(np.interp(value, v, np.arange(v.size, dtype=float)))

    def limits(self) -> tuple[float, float]:
        x = self.positions
        if self.mode == "index":
            return -0.5, x.size - 0.5
        return float(x[0]), float(x[-1])

    def label(self) -> str:
        what = "training step" if self.unit == "step" else self.unit
        if self.mode == "index":
            return f"checkpoint (equal spacing; ticks: {what})"
        return what + (" (log scale)" if self.mode == "log" else "")


def control_unit(obj: xr.Dataset | xr.DataArray, dim: Hashable = "checkpoint") -> tuple[str, str]:
    """What the control values are: ``("step", "")`` for training steps, else the
    ``meaning`` and ``units`` attrs of the ``step`` coordinate (``("temperature", "J/k_B")``),
    or the dim's name."""
    if "step" in obj.coords:
        a = obj["step"].attrs
        return str(a.get("meaning", "step")), str(a.get("units", "")) if "meaning" in a else ""
    return str(dim), ""


def control_axis(obj: xr.Dataset | xr.DataArray, dim: Hashable = "checkpoint", mode: str = "auto") -> ControlAxis:
    """The control axis of ``obj`` along ``dim``: checkpoint index labelled with steps when
    there are several training stages, else the step (log-scaled when it spans > 50x)."""
    v = np.asarray(control_values(obj, dim), dtype=float)
    stages: tuple[tuple[str, int, int], ...] = ()
    if "stage" in obj.coords and obj["stage"].dims == (dim,):
        names = np.asarray(obj["stage"].values).astype(str)
        runs, start = [], 0
        for i in range(1, names.size + 1):
            if i == names.size or names[i] != names[start]:
                runs.append((str(names[start]), start, i - 1))
                start = i
        stages = tuple(runs)
    if mode == "auto":
        fin = v[np.isfinite(v)]
        if len(stages) > 1 or fin.size < v.size:
            mode = "index"
        elif fin.size > 2 and fin.min() > 0 and fin.max() / fin.min() > 50:
            mode = "log"
        else:
            mode = "linear"
    word, units = control_unit(obj, dim)
    unit = word if not units else f"{word} ({units})"
    return ControlAxis(tuple(float(a) for a in v), mode, unit, stages)


def _index_ticks(axis: ControlAxis, max_ticks: int = 12) -> list[int]:
    n = len(axis.values)
    keep = {0, n - 1} | {a for _, a, _ in axis.stages}
    step = max(1, int(np.ceil(n / max_ticks)))
    for i in range(0, n, step):
        if all(abs(i - k) >= max(1, (step + 1) // 2) for k in keep):
            keep.add(i)
    return sorted(keep)


def style_control_axis(ax, axis: ControlAxis, *, stage_labels: bool = True) -> None:
    """Scale, limits, ticks and label of the control axis, and the stage bands."""
    from matplotlib.ticker import FuncFormatter

    if axis.mode == "index":
        ticks = _index_ticks(axis)
        ax.set_xticks(ticks)
        ax.set_xticklabels([_step_text(axis.values[i]) for i in ticks], rotation=40, ha="right", fontsize=8)
        ax.set_xlim(*axis.limits())
    else:
        if axis.mode == "log":
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _step_text(v)))
        ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(axis.label())
    if stage_labels:
        stage_bands(ax, axis)


def stage_bands(ax, axis: ControlAxis) -> None:
    """Named bands along the top of the axes, one per training stage."""
    if not axis.stages:
        return
    trans = ax.get_xaxis_transform()
    x = axis.positions
    for k, (name, a, b) in enumerate(axis.stages):
        if axis.mode == "index":
            lo, hi = a - 0.5, b + 0.5
        else:
            lo = x[a] if a == 0 else _between(x[a - 1], x[a], axis.mode)
            hi = x[b] if b == x.size - 1 else _between(x[b], x[b + 1], axis.mode)
        ax.axvspan(lo, hi, ymin=0.93, ymax=1.0, color=_STAGE_GREYS[k % 2], lw=0, zorder=3)
        ax.text((lo + hi) / 2 if axis.mode != "log" else np.sqrt(lo * hi), 0.965, name, transform=trans,
                ha="center", va="center", fontsize=7, zorder=4, clip_on=True)
        if k:
            ax.axvline(lo, color="0.55", lw=0.6, zorder=3)


def _between(a: float, b: float, mode: str) -> float:
    return float(np.sqrt(a * b)) if mode == "log" and a > 0 else (a + b) / 2


def phases_and_boundaries(result: Any, ax=None, *, x: np.ndarray | None = None, label: bool = True,
                          axis: ControlAxis | None = None):
    """Shade the phases of a boundary result and draw each boundary with its interval.

    The shading changes exactly at each boundary (the first checkpoint of the new phase,
    where the dashed line is); the grey band is the boundary's ``(lower, upper]`` interval.
    """
    ax = _axes(ax)
    if result is None:
        return ax
    phases = np.asarray(result.phases.values).astype(str)
    if axis is None:
        axis = control_axis(result.phases, result.phases.dims[0])
        if x is not None:
            axis = ControlAxis(tuple(float(a) for a in np.asarray(x, float)), "linear", axis.unit, axis.stages)
    xs = axis.positions
    if xs.size == 0:
        return ax
    left, right = axis.limits()
    seen: set[str] = set()
    start = 0
    for i in range(1, phases.size + 1):
        if i == phases.size or phases[i] != phases[start]:
            name = phases[start]
            colour = PHASE_COLOURS.get(name) or _FALLBACK[len(seen) % len(_FALLBACK)]
            lo = left if start == 0 else xs[start]
            hi = right if i == phases.size else xs[i]
            ax.axvspan(lo, hi, color=colour, alpha=0.35, lw=0, zorder=0,
                       label=f"phase: {name}" if (label and name not in seen) else None)
            seen.add(name)
            start = i
    for k, (loc, (lo, hi)) in enumerate(zip(result.locations, result.intervals, strict=True)):
        ax.axvline(axis.x_of(loc), color="k", lw=1.2, ls="--", zorder=2,
                   label="boundary (first checkpoint of new phase)" if (label and k == 0) else None)
        if np.isfinite(lo) and np.isfinite(hi):
            ax.axvspan(axis.x_of(lo), axis.x_of(hi), color="k", alpha=0.12, lw=0, zorder=1,
                       label="boundary interval (lower, upper]" if (label and k == 0) else None)
    return ax


def _stderr(da: xr.DataArray) -> np.ndarray | None:
    if "stderr" in da.coords and da.coords["stderr"].dims == da.dims:
        return np.asarray(da.coords["stderr"].values, dtype=float)
    return None


def _var_stderr(ds: xr.Dataset, var: str) -> np.ndarray:
    """The standard error of result variable ``var`` (NaN where none is stored), through
    the one converter :func:`phasekit.with_stderr`."""
    return np.asarray(with_stderr(ds, var).coords["stderr"].values, dtype=float)


def _var_interval(ds: xr.Dataset, var: str) -> tuple[np.ndarray, np.ndarray, float] | None:
    """``(lower, upper, confidence)`` of result variable ``var`` when the Dataset stores its
    interval (``<var>_lower``/``<var>_upper``, e.g. the entropy's, asymmetric for
    ``chao_wang_jost``), else None; through :func:`phasekit.with_stderr`."""
    est = with_stderr(ds, var)
    if "lower" not in est.coords or "upper" not in est.coords:
        return None
    return (np.asarray(est.coords["lower"].values, dtype=float), np.asarray(est.coords["upper"].values, dtype=float),
            float(est.attrs.get("confidence", 0.95)))


def _band_label(label: str, interval: tuple[np.ndarray, np.ndarray, float] | None) -> str:
    """The legend label, naming the band when it is an interval rather than ±1 s.e."""
    return label if interval is None else f"{label}, {interval[2]:.0%} interval"


def _line(ax, axis: ControlAxis, y: np.ndarray, se: np.ndarray | None, label: str, *, band: bool = True,
          interval: tuple[np.ndarray, np.ndarray, float] | None = None, **kw):
    """y against the control axis with its error: the stored ``interval`` (lower, upper,
    confidence) when given, drawn as it is (asymmetric when it is), else ±1 ``se``."""
    x = axis.positions
    (ln,) = ax.plot(x, y, marker="o", ms=3, label=_band_label(label, interval), zorder=5, **kw)
    if interval is not None and np.isfinite(interval[0]).any():
        lo, up = interval[0], interval[1]
        if band:
            ax.fill_between(x, lo, up, color=ln.get_color(), alpha=0.25, lw=0, zorder=4)
        else:
            ax.errorbar(x, y, yerr=[y - lo, up - y], fmt="none", ecolor=ln.get_color(), capsize=2, zorder=4)
    elif se is not None and np.isfinite(se).any():
        if band:
            ax.fill_between(x, y - se, y + se, color=ln.get_color(), alpha=0.25, lw=0, zorder=4)
        else:
            ax.errorbar(x, y, yerr=se, fmt="none", ecolor=ln.get_color(), capsize=2, zorder=4)
    return ln


def _finish(ax, axis: ControlAxis, boundaries: Any, ylabel: str, title: str, *, legend: bool = True,
            phase_legend: bool = False) -> None:
    phases_and_boundaries(boundaries, ax=ax, axis=axis, label=phase_legend)
    style_control_axis(ax, axis)
    if axis.stages:  # head room for the stage bands
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.1 * (hi - lo))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if legend:
        legend_below(ax)


def legend_below(ax, ncol: int = 3) -> None:
    """The legend under the axes (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, fontsize=7, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.3),
                  frameon=False)


def order_parameters(
    order: xr.Dataset,
    variables: Sequence[str] = ("order_entropy", "magnetization", "mode_fraction"),
    *,
    dim: Hashable = "checkpoint",
    boundaries: Any = None,
    ax=None,
    axis: ControlAxis | None = None,
):
    """Order parameters (dimensionless, 0 = disordered, 1 = one answer) against the control
    value, each with a ±1 standard-error band over replicas, or its stored interval
    (``<var>_lower``/``<var>_upper``, e.g. 1 − H/ln q from the entropy's; the legend says
    so) when the Dataset has one; phases shaded."""
    ax = _axes(ax)
    axis = axis or control_axis(order, dim)
    names = {"order_entropy": "1 − H/ln q", "magnetization": "Potts magnetisation m",
             "mode_fraction": "mode fraction"}
    for var in variables:
        if var in order:
            _line(ax, axis, np.asarray(order[var].values, float), _var_stderr(order, var),
                  names.get(var, var.replace("_", " ")), interval=_var_interval(order, var))
    ax.set_ylim(-0.05, 1.02)
    _finish(ax, axis, boundaries, "order parameter (dimensionless)", "Order parameters", phase_legend=True)
    return ax


def entropy(order: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
            axis: ControlAxis | None = None):
    """Entropy H (nats) of the answers per configuration, replica mean ± 1 s.e., or the
    stored interval ``entropy_lower``/``entropy_upper`` (as :func:`phasekit.entropy` gives
    it, asymmetric for ``chao_wang_jost``) when ``order`` has one."""
    ax = _axes(ax)
    axis = axis or control_axis(order, dim)
    est = order["entropy"].attrs.get("estimator")
    _line(ax, axis, np.asarray(order["entropy"].values, float), _var_stderr(order, "entropy"),
          "H" + (f" ({est})" if est else ""), interval=_var_interval(order, "entropy"))
    _finish(ax, axis, boundaries, "entropy H (nats)", "Entropy of the answers")
    return ax


def prompt_divergence(structure: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                      axis: ControlAxis | None = None):
    """Between-prompt Jensen–Shannon divergence (nats) ± 1 s.e., and its finite-sample null."""
    ax = _axes(ax)
    axis = axis or control_axis(structure, dim)
    _line(ax, axis, np.asarray(structure["js_divergence"].values, float),
          _var_stderr(structure, "js_divergence"), "mean pairwise JS between prompts")
    if "js_divergence_null" in structure:
        ax.plot(axis.positions, structure["js_divergence_null"].values, color="0.35", ls=":", zorder=5,
                label="null: all prompts share one distribution")
    _finish(ax, axis, boundaries, "JS divergence (nats)", "Between-prompt divergence")
    return ax


def susceptibility(chi: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                   axis: ControlAxis | None = None):
    """Susceptibility χ = N(⟨m²⟩ − ⟨m⟩²) over replicas (dimensionless), ±1 jackknife s.e."""
    ax = _axes(ax)
    axis = axis or control_axis(chi, dim)
    _line(ax, axis, np.asarray(chi.values, float), _stderr(chi), "χ", band=False)
    _finish(ax, axis, boundaries, "susceptibility χ (dimensionless)", "Susceptibility", legend=False)
    return ax


def binder_cumulant(u: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                    axis: ControlAxis | None = None):
    """Binder cumulant U = 1 − ⟨m⁴⟩/(3⟨m²⟩²) ±1 jackknife s.e., with its reference values:
    2/3 (one sharp value of m: ordered) and 0 (Gaussian fluctuations); a dip below 0
    signals a first-order transition."""
    ax = _axes(ax)
    axis = axis or control_axis(u, dim)
    _line(ax, axis, np.asarray(u.values, float), _stderr(u), "U", band=False)
    ax.axhline(2 / 3, color="0.35", lw=0.9, ls=":", label="U = 2/3 (ordered limit)", zorder=5)
    ax.axhline(0, color="0.35", lw=0.9, ls="-.", label="U = 0 (Gaussian limit)", zorder=5)
    _finish(ax, axis, boundaries, "Binder cumulant U (dimensionless)", "Binder cumulant")
    return ax


def order_histograms(
    m: xr.DataArray,
    boundaries: Any,
    *,
    dim: Hashable = "checkpoint",
    bins: int = 15,
    ax=None,
    replica: str = "replicas",
):
    """Histogram of the order parameter across replicas just before and just after each
    boundary (counts of replicas: integer ticks)."""
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    steps = control_values(m, dim)
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
                        lw=1.5, color=f"C{k}", label=f"boundary {k + 1}, {side} (step {_step_text(steps[j])})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    names = {"magnetization": "Potts magnetisation m", "mode_fraction": "mode fraction"}
    ax.set_xlabel(f"{names.get(str(m.name), str(m.name or 'order parameter'))} (dimensionless)")
    ax.set_ylabel(f"number of {replica}")
    ax.set_title("Order-parameter histogram either side of each boundary", fontsize=10)
    ax.legend(fontsize=7)
    return ax


def correlation(corr: xr.DataArray, *, lag: Hashable = "lag", ax=None, label_dim: Hashable | None = None,
                stderr: xr.DataArray | None = None, line_labels: Sequence[str] | None = None):
    """Connected correlation C(r)/C(0) against lag r (positions), with C's own standard
    error as error bars (``stderr``, or a ``stderr`` coord with C's dims); one line per
    value of the other dim (at most 6, evenly spread), labelled by ``line_labels``
    (one per value of that dim) or by its coordinate."""
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    own = "stderr" in corr.coords and corr.coords["stderr"].dims == corr.dims
    se_all = stderr if stderr is not None else (corr.coords["stderr"] if own else None)
    corr = corr.drop_vars("stderr", errors="ignore")
    others = [d for d in corr.dims if d != lag]
    if others:
        d = label_dim if label_dim in others else others[0]
        n = corr.sizes[d]
        picks = np.unique(np.linspace(0, n - 1, min(n, 6)).round().astype(int))
        for i in picks:
            line = corr.isel({d: i})
            se_line = se_all.isel({d: i}) if se_all is not None and d in se_all.dims else None
            if line.ndim > 1:  # more kept dims: their mean, without an error bar
                line, se_line = line.mean([x for x in line.dims if x != lag]), None
            se = None if se_line is None else np.asarray(se_line.values, float)
            lab = line_labels[i] if line_labels is not None else f"{d} = {corr[d].values[i]}" \
                if d in corr.coords else f"{d} {i}"
            ax.errorbar(line[lag].values, line.values, yerr=se, marker=".", ms=3, lw=1, capsize=1, label=lab)
        ax.legend(fontsize=7)
    else:
        se = None if se_all is None else np.asarray(se_all.values, float)
        ax.errorbar(corr[lag].values, corr.values, yerr=se, marker=".", capsize=1)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("lag r (positions)")
    ax.set_ylabel("C(r) / C(0) (dimensionless)")
    ax.set_title("Correlation decay", fontsize=10)
    return ax


def correlation_length(xi: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                       axis: ControlAxis | None = None):
    """Correlation length ξ (positions) per checkpoint, ±1 s.e."""
    ax = _axes(ax)
    xi1 = xi
    other = [d for d in xi.dims if d != dim]
    if other:
        xi1 = xi.mean(other)
    axis = axis or control_axis(xi1, dim)
    se = _stderr(xi) if not other else None
    _line(ax, axis, np.asarray(xi1.values, float), se, "ξ", band=False)
    _finish(ax, axis, boundaries, "correlation length ξ (positions)", "Correlation length", legend=False)
    return ax


def _seed_mean(seed: xr.Dataset, var: str, dim: Hashable) -> tuple[np.ndarray, np.ndarray]:
    """Mean over prompts and its standard error over prompts (s/√n)."""
    da = seed[var]
    other = [d for d in da.dims if d != dim]
    if not other:
        return np.asarray(da.values, float), _var_stderr(seed, var)
    n = da.notnull().sum(other)
    mean = da.mean(other)
    se = da.std(other, ddof=1) / np.sqrt(n.where(n > 1))
    return np.asarray(mean.values, float), np.asarray(se.values, float)


def seed_divergence(seed: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                    axis: ControlAxis | None = None):
    """JS divergence (nats) of each prompt to its closest base distribution, mean over
    prompts ± 1 s.e. over prompts."""
    ax = _axes(ax)
    axis = axis or control_axis(seed, dim)
    y, se = _seed_mean(seed, "seed_divergence", dim)
    _line(ax, axis, y, se, "JS to the closest base distribution", band=False)
    _finish(ax, axis, boundaries, "JS divergence to seed (nats)", "Distance to the seed", legend=False)
    return ax


def support_retention(seed: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                      axis: ControlAxis | None = None):
    """Share of probability on the seed's support, mean over prompts ± 1 s.e. over prompts."""
    ax = _axes(ax)
    axis = axis or control_axis(seed, dim)
    y, se = _seed_mean(seed, "support_retention", dim)
    _line(ax, axis, y, se, "mass on the seed's support", band=False, color="C1")
    ax.set_ylim(-0.02, 1.02)
    _finish(ax, axis, boundaries, "mass on seed's support (fraction)", "Support retention", legend=False)
    return ax


def seed_attribution(seed: xr.Dataset, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                     axis: ControlAxis | None = None):
    """Seed attribution on two axes (one quantity each): distance to the seed, and the
    share of probability on its support. ``ax``: a pair of Axes (new figure if None).
    Returns the pair."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    a1, a2 = ax
    seed_divergence(seed, dim=dim, boundaries=boundaries, ax=a1, axis=axis)
    support_retention(seed, dim=dim, boundaries=boundaries, ax=a2, axis=axis)
    return ax


def divergence_scan(scan: xr.DataArray, *, dim: Hashable = "checkpoint", boundaries: Any = None, ax=None,
                    axis: ControlAxis | None = None):
    """The before/after divergence scan (Arnold et al. 2024), ±1 s.e., with its null level
    and the null's upper quantile."""
    ax = _axes(ax)
    axis = axis or control_axis(scan, dim)
    _line(ax, axis, np.asarray(scan.values, float), _stderr(scan), "divergence, window before vs after",
          band=False)
    if "null" in scan.coords:
        ax.plot(axis.positions, scan.coords["null"].values, color="0.35", ls=":", zorder=5,
                label="null mean (no change)")
    if "null_upper" in scan.coords:
        ax.plot(axis.positions, scan.coords["null_upper"].values, color="0.35", ls="--", lw=0.8, zorder=5,
                label="null upper quantile")
    name = str(scan.attrs.get("divergence", "js")).upper()
    _finish(ax, axis, boundaries, f"{name} divergence ({scan.attrs.get('units', 'nats')})", "Divergence scan")
    return ax


def parse_rates(rates: Sequence[dict[str, Any]], axis: ControlAxis, *, boundaries: Any = None, ax=None):
    """Share of generations parsed into a state, per checkpoint (from the ingestion audit)."""
    ax = _axes(ax)
    y = np.array([np.nan if r["parse_rate"] is None else r["parse_rate"] for r in rates], dtype=float)
    _line(ax, axis, y, None, "parsed / generations", color="C2")
    ax.set_ylim(-0.02, 1.02)
    _finish(ax, axis, boundaries, "parse rate (fraction)", "Answers parsed per checkpoint", legend=False)
    return ax


def phase_diagram(phase: xr.DataArray, *, control: Hashable, across: Hashable, boundary: xr.DataArray | None = None,
                  lower: xr.DataArray | None = None, upper: xr.DataArray | None = None,
                  control_value: xr.DataArray | None = None, ax=None):
    """Phase per (across, control) cell as coloured tiles; boundaries (control units) as
    black ticks with their (lower, upper] intervals as bars. ``control_value`` (across ×
    control) gives the control values of the cells (default: ``phase``'s own)."""
    from matplotlib.patches import Patch

    ax = _axes(ax)
    if control_value is not None:
        v = np.nanmean(np.asarray(control_value.transpose(across, control).values, float), axis=0)
        fin = v[np.isfinite(v)]
        mode = "log" if fin.size > 2 and fin.min() > 0 and fin.max() / fin.min() > 50 else "linear"
        axis = ControlAxis(tuple(float(a) for a in v), mode, "step")
    else:
        axis = control_axis(phase, control)
    labels = np.asarray(phase.transpose(across, control).values).astype(str)
    names = [n for n in dict.fromkeys(labels.ravel().tolist()) if n not in ("", "nan", "None")]
    colours = {n: PHASE_COLOURS.get(n) or _FALLBACK[i % len(_FALLBACK)] for i, n in enumerate(names)}
    x = axis.positions
    # a cell spans from its checkpoint to the next one, so the colour changes exactly at the
    # first checkpoint of each new phase (the boundary), as on the 1-D figures
    last = x[-1] * (x[-1] / x[-2]) ** 0.5 if axis.mode == "log" and x.size > 1 else \
        x[-1] + (x[-1] - x[-2]) / 2 if x.size > 1 else x[-1] + 0.5
    edges = np.concatenate([x, [last]])
    for r in range(labels.shape[0]):
        for c in range(labels.shape[1]):
            if labels[r, c] in colours:
                ax.fill_between([edges[c], edges[c + 1]], r - 0.45, r + 0.45, color=colours[labels[r, c]], lw=0)
    if boundary is not None:
        _diagram_boundaries(ax, axis, boundary, lower, upper, across)
    ax.set_yticks(range(labels.shape[0]))
    ax.set_yticklabels([str(v) for v in phase[across].values])
    ax.set_ylabel(str(across))
    style_control_axis(ax, axis, stage_labels=False)
    handles = [Patch(color=colours[n], label=f"phase: {n}") for n in names]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"Phase diagram: {control} × {across}", fontsize=10)
    return ax


def _diagram_boundaries(ax, axis: ControlAxis, boundary: xr.DataArray, lower: xr.DataArray | None,
                        upper: xr.DataArray | None, across: Hashable) -> None:
    def rows(da: xr.DataArray | None) -> np.ndarray | None:
        if da is None:
            return None
        return np.asarray(da.transpose(across, ...).values, float).reshape(da.sizes[across], -1)

    b, lo, hi = rows(boundary), rows(lower), rows(upper)
    assert b is not None
    for r in range(b.shape[0]):
        for k in range(b.shape[1]):
            if not np.isfinite(b[r, k]):
                continue
            ax.plot(axis.x_of(b[r, k]), r, "k|", ms=14, mew=2)
            if lo is not None and hi is not None and np.isfinite(lo[r, k]) and np.isfinite(hi[r, k]):
                ax.plot([axis.x_of(lo[r, k]), axis.x_of(hi[r, k])], [r, r], color="k", lw=1.5)


def order_map(diagram: xr.Dataset, *, control: Hashable, across: Hashable, variable: str | None = None,
              ax=None):
    """The order parameter as a colour map over control × across, with the boundary lines.

    ``diagram`` is :meth:`phasekit.PhaseDiagram.to_dataset`: ``variable`` (default the
    magnetization, else the entropy) over (across, control) is drawn as coloured cells at
    the checkpoints' control values (``control_value``); each linked boundary line
    (``line_location`` over across × line) is a black line through its locations, with its
    (lower, upper] interval (``line_lower``/``line_upper``) as a horizontal bar at each value of
    ``across``. The y axis is ``across`` in its own units, evenly spaced by index.
    """
    ax = _axes(ax)
    name = variable or next((v for v in ("magnetization", "entropy") if v in diagram), None)
    if name is None:
        raise SchemaError("the diagram holds no order parameter to map", where="PhaseDiagram.to_dataset()",
                          fix="pass variable= naming one of its (across, control) variables")
    values = np.asarray(diagram[name].transpose(across, control).values, float)
    cv = np.asarray(diagram["control_value"].transpose(across, control).values, float) \
        if "control_value" in diagram else np.tile(np.arange(values.shape[1], dtype=float), (values.shape[0], 1))
    axis = ControlAxis(tuple(float(a) for a in np.nanmean(cv, axis=0)), "linear", "step")
    x = axis.positions
    edges = np.concatenate([[x[0] - (x[1] - x[0]) / 2], (x[:-1] + x[1:]) / 2, [x[-1] + (x[-1] - x[-2]) / 2]]) \
        if x.size > 1 else np.array([x[0] - 0.5, x[0] + 0.5])
    mesh = ax.pcolormesh(edges, np.arange(values.shape[0] + 1) - 0.5, values, cmap="viridis", shading="flat")
    units = diagram[name].attrs.get("units", "")
    ax.figure.colorbar(mesh, ax=ax, label=f"{name} ({units})" if units else name)
    if "line_location" in diagram:
        loc = np.asarray(diagram["line_location"].transpose(across, ...).values, float)
        lo = np.asarray(diagram["line_lower"].transpose(across, ...).values, float) if "line_lower" in diagram else None
        hi = np.asarray(diagram["line_upper"].transpose(across, ...).values, float) if "line_upper" in diagram else None
        rows = np.arange(loc.shape[0])
        for k in range(loc.shape[1]):
            ok = np.isfinite(loc[:, k])
            ax.plot(loc[ok, k], rows[ok], "w-", lw=3, zorder=3)
            ax.plot(loc[ok, k], rows[ok], "k-o", lw=1.2, ms=3, zorder=4, label="boundary line" if k == 0 else None)
            if lo is not None and hi is not None:
                for r in rows[ok & np.isfinite(lo[:, k]) & np.isfinite(hi[:, k])]:
                    ax.plot([lo[r, k], hi[r, k]], [r, r], color="k", lw=2.5, zorder=4)
        if loc.shape[1]:
            ax.legend(fontsize=7, loc="upper left")
    ax.set_yticks(range(values.shape[0]))
    ax.set_yticklabels([f"{v:g}" if isinstance(v, int | float | np.number) else str(v)
                        for v in diagram[across].values.tolist()])
    ax.set_ylabel(str(across))
    ax.set_xlabel(axis.label())
    ax.set_title(f"{name} over {control} × {across}, with the boundary lines", fontsize=10)
    return ax


def size_comparison(comparison: xr.Dataset, *, member: Hashable = "member", ax=None, unit: str = "step"):
    """Boundary locations (control units) of every member, with their intervals: one row
    per member, one marker per boundary index."""
    from matplotlib.ticker import FuncFormatter

    ax = _axes(ax)
    b = comparison["boundary"]
    mdim = member if member in b.dims else b.dims[0]
    kdim = [d for d in b.dims if d != mdim]
    lo = comparison.get("boundary_lower")
    hi = comparison.get("boundary_upper")
    names = [str(v) for v in (comparison[mdim].values if mdim in comparison.coords else range(b.sizes[mdim]))]
    for r in range(b.sizes[mdim]):
        vals = np.atleast_1d(np.asarray(b.isel({mdim: r}).values, float))
        for k, v in enumerate(vals):
            if not np.isfinite(v):
                continue
            xerr = None
            if lo is not None and hi is not None:
                lv = float(np.atleast_1d(np.asarray(lo.isel({mdim: r}).values, float))[k])
                hv = float(np.atleast_1d(np.asarray(hi.isel({mdim: r}).values, float))[k])
                if np.isfinite(lv) and np.isfinite(hv):
                    xerr = [[max(v - lv, 0)], [max(hv - v, 0)]]
            ax.errorbar([v], [r], xerr=xerr, fmt="o", color=f"C{k}", capsize=3,
                        label=f"boundary {k + 1}" if r == 0 else None)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.set_ylabel(str(mdim))
    ax.set_xlabel(f"boundary location (training {unit})")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _step_text(v)))
    ax.set_title("Boundaries across members (bars: (lower, upper] intervals)", fontsize=10)
    if kdim and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return ax
