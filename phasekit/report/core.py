"""The :class:`Report` that :func:`phasekit.analyze` returns, and its writers.

A Report holds every stage's result as plain data (xarray objects and result classes);
``to_netcdf``/``to_dict``/``to_html``/``plot``/``write`` turn it into files for pipelines
and people. The pipeline itself lives in :mod:`phasekit.pipeline`; ``analyze`` is
re-exported here for code written against earlier versions.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._meta import control_values
from .._version import __version__
from .numbers import finite_or_none

__all__ = ["ORDER_VARS", "Report", "SUMMARY_SCHEMA_VERSION"]

#: Version of the ``summary.json`` layout (bumped on any incompatible change).
SUMMARY_SCHEMA_VERSION = 2


ORDER_VARS = ("entropy", "order_entropy", "magnetization", "mode_fraction", "collision", "effective_states")


@dataclass
class Report:
    """Everything :func:`analyze` computed, with writers for pipelines and people.

    Attributes
    ----------
    order : Dataset per control value: replica means of the order parameters with
        ``<var>_stderr``, ``susceptibility``, ``binder`` (and stderrs), between-prompt
        ``js_divergence`` and ``overlap`` where there are prompts.
    per_config : the order parameters per configuration (before the replica mean).
    magnetization : m per configuration (for histograms and fluctuations).
    boundaries : :class:`phasekit.changepoints.BoundaryResult`
    phases : phase label per control value
    seed : seed attribution against the first checkpoint (or None without prompts)
    divergence : the before/after divergence scan
    correlation : C(r) per control value and the correlation length (sequence tasks)
    transition : :class:`phasekit.scaling.TransitionClass` when sizes allow, else None
    transition_note : why there is no classification, when there is none
    settings, provenance : how it was made
    members : one Report per member of a ``model``/``run``/``task`` dim (keys like
        ``"model=7B"``, ``"run=seed1"``, ``"task=coin"``); empty for one system
    across : the dim of ``members`` or of ``diagram`` (None for one system)
    diagram : :class:`phasekit.diagram.PhaseDiagram` when ``analyze(across=...)`` ran, else None
    size_scaling : critical point, collapse exponents and transition class across model sizes
        (plain-data result), or None
    comparison : boundaries aligned across members: ``boundary`` (member × boundary index,
        NaN-padded, control units) with ``boundary_lower``/``boundary_upper``; across runs the spread
    """

    order: xr.Dataset
    per_config: xr.Dataset
    magnetization: xr.DataArray | None
    boundaries: Any
    phases: xr.DataArray
    seed: xr.Dataset | None
    divergence: xr.DataArray | None
    correlation: xr.Dataset | None
    transition: Any
    transition_note: str
    settings: dict[str, Any]
    provenance: dict[str, Any]
    members: dict[str, Report] = field(default_factory=dict)
    across: str | None = None
    diagram: Any = None
    size_scaling: Any = None
    comparison: xr.Dataset | None = None
    _figures: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ summaries
    def phase_table(self) -> list[dict[str, Any]]:
        """Contiguous phases: label, first/last control value, checkpoints, stages, and the
        segment mean of each order parameter with its standard error
        (:func:`phasekit.report.summary.phase_rows`)."""
        from .summary import phase_rows

        return phase_rows(self)

    def boundary_table(self) -> list[dict[str, Any]]:
        """One entry per boundary: step, interval and its width, test and p-value (a bound
        at the resampling floor), channels that moved, phases and stages either side."""
        from .summary import boundary_rows

        return boundary_rows(self)

    def seed_summary(self) -> dict[str, Any] | None:
        """Seed attribution per checkpoint (consensus seed, divergence, support retention)."""
        if self.seed is None:
            return None
        control = self.settings["control"]
        s = self.seed
        cons = np.asarray(s["consensus_seed"].values).astype(str).ravel()
        ret = s["support_retention"]
        other = [d for d in ret.dims if d != control]
        ret_c = ret.mean(other) if other else ret
        div_c = s["seed_divergence"].mean(other) if other else s["seed_divergence"]
        x = control_values(s, control)
        return {
            "reference": str(s.attrs.get("reference", "first checkpoint")),
            "final_seed": cons[-1] if cons.size else None,
            "per_checkpoint": [
                {"step": float(x[i]), "consensus_seed": cons[i], "seed_divergence": finite_or_none(div_c.values[i]),
                 "support_retention": finite_or_none(ret_c.values[i])}
                for i in range(x.size)
            ],
        }

    def summary(self) -> dict[str, Any]:
        """The summary of findings (``summary.json``'s ``summary`` block; the HTML page's
        first section and the CLI's lines are rendered from it)."""
        from .summary import summary_block

        return summary_block(self)

    def methods(self) -> str:
        """The Methods section as Markdown (what ``methods.md`` holds)."""
        from .methods import methods_markdown

        return methods_markdown(self)

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` content (schema: ``phasekit/schemas/summary.schema.json``,
        documented in ``docs/report.md``)."""
        from .methods import methods_entries
        from .summary import parse_rates

        transition: dict[str, Any]
        if self.transition is not None:
            transition = self.transition.to_dict()
        else:
            transition = {"kind": None, "conclusive": False, "reason": self.transition_note}
        corr = None
        if self.correlation is not None and "correlation_length" in self.correlation:
            xi = self.correlation["correlation_length"]
            corr = {"method": xi.attrs.get("method"), "decay": xi.attrs.get("decay"),
                    "correlation_length": [finite_or_none(v) for v in np.asarray(xi.values).ravel()],
                    "stderr": [finite_or_none(v) for v in np.asarray(xi.coords["stderr"].values).ravel()]
                    if "stderr" in xi.coords else None}
        summary = self.summary()
        return {
            "schema_version": SUMMARY_SCHEMA_VERSION,
            "summary": summary,
            "boundaries": summary["boundaries"],
            "no_change_p_value": summary["no_change_test"]["p_value"],
            "phases": summary["phases"],
            "transition": transition,
            "seed": self.seed_summary(),
            "correlation": corr,
            "parse_rates": parse_rates(self),
            "methods": methods_entries(self),
            "members": {k: m.summary() for k, m in self.members.items()},
            "across": self.across,
            "comparison": _comparison_dict(self.comparison),
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.settings.items()},
            "provenance": self.provenance,
        }

    def text_summary(self, truth: dict[str, Any] | None = None) -> str:
        """A few lines for the terminal, from the same summary block as the HTML page."""
        from .summary import summary_lines

        lines = [f"phasekit {__version__}: {self.provenance.get('input', '')}", *summary_lines(self.summary())]
        if truth and "boundaries" in truth:
            from .numbers import format_step
            from .summary import _join

            steps = _join([format_step(v) for v in truth["boundaries"]]) if len(truth["boundaries"]) else "none"
            lines.append(f"  truth (generator): boundaries at steps {steps}; seed prompt {truth.get('seed_prompt')}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ writers
    def to_dataset(self) -> xr.Dataset:
        """Every computed quantity as one Dataset (what ``to_netcdf`` writes)."""
        control = self.settings["control"]
        out = self.order.copy()
        out["phase"] = self.phases.astype(str)
        for v in self.per_config.data_vars:
            out[f"config_{v}"] = self.per_config[v]
        if self.seed is not None:
            for v in self.seed.data_vars:
                out[f"seed_{v}"] = self.seed[v].rename({d: f"seed_{d}" for d in self.seed[v].dims
                                                        if d not in (control, "prompt")})
        if self.divergence is not None:
            scan = self.divergence
            out["divergence_scan"] = scan.reset_coords(drop=True)
            for c in ("stderr", "null", "null_upper"):
                if c in scan.coords:
                    out[f"divergence_scan_{c}"] = scan.coords[c].reset_coords(drop=True)
        if self.correlation is not None:
            for v in self.correlation.data_vars:
                da = self.correlation[v]
                out[f"correlation_{v}"] = da.reset_coords(drop=True)
                if "stderr" in da.coords:
                    out[f"correlation_{v}_stderr"] = da.coords["stderr"].reset_coords(drop=True)
        b = self.boundary_table()
        out["boundary_step"] = ("boundary", np.array([e["step"] for e in b], dtype=float))
        out["boundary_lower"] = ("boundary", np.array([_nan(e["interval"][0]) for e in b], dtype=float))
        out["boundary_upper"] = ("boundary", np.array([_nan(e["interval"][1]) for e in b], dtype=float))
        out["boundary_channels"] = ("boundary", np.array([",".join(e["channels"]) for e in b], dtype=str))
        out = out.drop_vars([c for c in out.coords if c == "stderr"], errors="ignore")
        out.attrs = {"title": "phasekit analysis", "phasekit_version": __version__,
                     "summary_json": json.dumps(self.to_dict(), default=str)}
        return _netcdf_safe(out)

    def to_netcdf(self, path: str | Path) -> None:
        """Write every computed quantity to one NetCDF file."""
        self.to_dataset().to_netcdf(path)

    def plot(self, directory: str | Path | None = None) -> dict[str, Any]:
        """Draw the report's figures; save them as PNG in ``directory`` when given.

        Returns ``{name: Figure}``; the captions are :func:`phasekit.report.figures.captions`.
        """
        from .figures import draw_figures

        figs = draw_figures(self)
        if directory is not None:
            directory = Path(directory)
            directory.mkdir(parents=True, exist_ok=True)
            for name, fig in figs.items():
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=120)
                self._figures[name] = buf.getvalue()
                (directory / f"{name}.png").write_bytes(self._figures[name])
        return figs

    def _ensure_figures(self, figures_dir: str | Path | None) -> None:
        import matplotlib.pyplot as plt

        if not self._figures:
            figs = self.plot(figures_dir)
            if figures_dir is None:  # keep the PNG bytes for the page without writing files
                for name, fig in figs.items():
                    buf = io.BytesIO()
                    fig.savefig(buf, format="png", dpi=120)
                    self._figures[name] = buf.getvalue()
            for f in figs.values():
                plt.close(f)

    def to_html(self, path: str | Path, figures_dir: str | Path | None = None) -> None:
        """Write a self-contained HTML page (figures embedded as PNG data URIs)."""
        from .html import render_html

        self._ensure_figures(figures_dir or Path(path).parent / "figures")
        Path(path).write_text(render_html(self), encoding="utf-8")

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """Write ``report.html``, ``results.nc``, ``summary.json``, ``methods.md``,
        ``references.bib`` and ``figures/*.png`` into ``outdir``."""
        from .methods import bibtex_for

        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        self._figures.clear()
        self._ensure_figures(outdir / "figures")
        paths = {"html": outdir / "report.html", "netcdf": outdir / "results.nc", "summary": outdir / "summary.json",
                 "methods": outdir / "methods.md", "references": outdir / "references.bib"}
        self.to_html(paths["html"])
        self.to_netcdf(paths["netcdf"])
        paths["summary"].write_text(json.dumps(_json_safe(self.to_dict()), indent=2, default=str, allow_nan=False),
                                    encoding="utf-8")
        paths["methods"].write_text(self.methods(), encoding="utf-8")
        paths["references"].write_text(bibtex_for(self), encoding="utf-8")
        return paths

    # ------------------------------------------------------------------ equality
    def __eq__(self, other: object) -> bool:
        """Field-by-field equality (xarray objects compared with ``identical``, arrays with
        NaN == NaN); the figure cache is not compared."""
        if not isinstance(other, Report):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name))
                   for f in fields(self) if f.compare)

    __hash__ = None  # type: ignore[assignment]


# ---------------------------------------------------------------------- helpers
def _nan(v: Any) -> float:
    return np.nan if v is None else float(v)


def _with_se(ds: xr.Dataset, var: str) -> xr.DataArray:
    from .._meta import with_stderr  # the one converter of <var>_stderr/_lower/_upper variables

    return with_stderr(ds, var)


def _netcdf_safe(ds: xr.Dataset) -> xr.Dataset:
    """Make attrs and object/string variables writable by every NetCDF engine."""
    from .._meta import _clean_attr

    ds = ds.copy()
    for name in list(ds.variables):
        var = ds[name]
        if var.dtype == object:
            ds[name] = var.astype(str)
        ds[name].attrs = {k: _clean_attr(v) for k, v in var.attrs.items()}
        if name in ds.data_vars and "stderr" in ds[name].coords:
            ds[name] = ds[name].drop_vars("stderr")
    ds.attrs = {k: _clean_attr(v) for k, v in ds.attrs.items()}
    return ds


def _comparison_dict(comp: xr.Dataset | None) -> dict[str, Any] | None:
    """The aligned-boundaries Dataset of issue 16 as JSON: variables as nested lists."""
    if comp is None:
        return None
    out: dict[str, Any] = {"dims": {str(k): int(v) for k, v in comp.sizes.items()}, "coords": {}, "variables": {}}
    for name, c in comp.coords.items():
        out["coords"][str(name)] = [_plain_value(v) for v in np.asarray(c.values).ravel().tolist()]
    for name, v in comp.data_vars.items():
        out["variables"][str(name)] = {"dims": [str(d) for d in v.dims],
                                       "values": _plain_value(np.asarray(v.values).tolist())}
    return out


def _json_safe(v: Any) -> Any:
    """Strict JSON: NaN and infinities become null (JSON has no NaN), numpy scalars plain."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, np.ndarray):
        return _json_safe(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _plain_value(v: Any) -> Any:
    if isinstance(v, list):
        return [_plain_value(u) for u in v]
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    if isinstance(v, np.generic):
        return _plain_value(v.item())
    return v if isinstance(v, int | str | bool) or v is None else str(v)


def _same(a: Any, b: Any, _depth: int = 0) -> bool:
    """Structural equality of plain data: xarray objects by ``identical``, arrays with
    NaN == NaN, dicts/sequences/dataclasses/objects field by field."""
    if _depth > 40:
        return a is b
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, xr.DataArray | xr.Dataset):
        return bool(a.identical(b))
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        try:
            return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        except TypeError:
            return bool(np.array_equal(a, b))
    if isinstance(a, float | np.floating):
        return bool(a == b or (np.isnan(a) and np.isnan(b)))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], _depth + 1) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y, _depth + 1) for x, y in zip(a, b, strict=True))
    if isinstance(a, Report):
        return a == b
    if is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name), _depth + 1) for f in fields(a) if f.compare)
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return _same(vars(a), vars(b), _depth + 1)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
