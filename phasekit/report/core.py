"""The :class:`Report` that :func:`phasekit.analyze` returns, and its writers.

A Report holds every stage's result as plain data (xarray objects and result classes);
``to_netcdf``/``to_dict``/``to_html``/``plot``/``write`` turn it into files for pipelines
and people. The pipeline itself lives in :mod:`phasekit.pipeline`; ``analyze`` is
re-exported here for code written against earlier versions.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._meta import control_values
from .._version import __version__

__all__ = ["ORDER_VARS", "Report", "SUMMARY_SCHEMA_VERSION"]

#: Version of the ``summary.json`` layout (bumped on any incompatible change).
SUMMARY_SCHEMA_VERSION = 1


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
    boundaries : :class:`phasekit.transitions.BoundaryResult`
    phases : phase label per control value
    seed : seed attribution against the first checkpoint (or None without prompts)
    divergence : the before/after divergence scan
    correlation : C(r) per control value and the correlation length (sequence tasks)
    transition : :class:`phasekit.anatomy.TransitionClass` when sizes allow, else None
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
    _figures: dict[str, bytes] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ summaries
    def phase_table(self) -> list[dict[str, Any]]:
        """Contiguous phases: label, first/last control value, mean order-parameter levels."""
        control = self.settings["control"]
        labels = np.asarray(self.phases.values).astype(str)
        x = control_values(self.order, control)
        rows, start = [], 0
        for i in range(1, labels.size + 1):
            if i == labels.size or labels[i] != labels[start]:
                seg = self.order.isel({control: slice(start, i)})
                levels = {v: _finite(seg[v].mean().item()) for v in (*ORDER_VARS, "js_divergence", "overlap",
                                                                      "susceptibility", "binder") if v in seg}
                rows.append({"label": labels[start], "first_step": float(x[start]), "last_step": float(x[i - 1]),
                             "n_checkpoints": i - start, "levels": levels})
                start = i
        return rows

    def boundary_table(self) -> list[dict[str, Any]]:
        """One entry per boundary: step, interval, channels that moved, p-value, phases."""
        per = self.boundaries.evidence.get("boundaries", [])
        out = []
        for i, (loc, (lo, hi)) in enumerate(zip(self.boundaries.locations, self.boundaries.intervals, strict=True)):
            e = per[i] if i < len(per) else {}
            out.append({"step": float(loc), "interval": [_finite(lo), _finite(hi)],
                        "channels": [str(c) for c in e.get("channels", [])],
                        "p_value": _finite(e.get("p_value", np.nan)),
                        "phase_before": e.get("phase_before"), "phase_after": e.get("phase_after")})
        return out

    def seed_summary(self) -> dict[str, Any] | None:
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
                {"step": float(x[i]), "consensus_seed": cons[i], "seed_divergence": _finite(div_c.values[i]),
                 "support_retention": _finite(ret_c.values[i])}
                for i in range(x.size)
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` content (stable keys, see ``docs/report.md``)."""
        transition: dict[str, Any]
        if self.transition is not None:
            transition = self.transition.to_dict()
        else:
            transition = {"kind": None, "conclusive": False, "reason": self.transition_note}
        corr = None
        if self.correlation is not None and "correlation_length" in self.correlation:
            xi = self.correlation["correlation_length"]
            corr = {"method": xi.attrs.get("method"), "decay": xi.attrs.get("decay"),
                    "correlation_length": [_finite(v) for v in np.asarray(xi.values).ravel()],
                    "stderr": [_finite(v) for v in np.asarray(xi.coords["stderr"].values).ravel()]
                    if "stderr" in xi.coords else None}
        return {
            "schema_version": SUMMARY_SCHEMA_VERSION,
            "boundaries": self.boundary_table(),
            "no_change_p_value": _finite(self.boundaries.evidence.get("p_value", np.nan)),
            "phases": self.phase_table(),
            "transition": transition,
            "seed": self.seed_summary(),
            "correlation": corr,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.settings.items()},
            "provenance": self.provenance,
        }

    def text_summary(self, truth: dict[str, Any] | None = None) -> str:
        """A few lines for the terminal."""
        lines = [f"phasekit {__version__}: {self.provenance.get('input', '')}"]
        b = self.boundary_table()
        if b:
            for i, e in enumerate(b, 1):
                lo, hi = e["interval"]
                lines.append(f"  boundary {i}: step {e['step']:g}  (interval {lo:g}..{hi:g}; "
                             f"{e.get('phase_before')} -> {e.get('phase_after')})")
        else:
            p = self.boundaries.evidence.get("p_value", np.nan)
            lines.append(f"  no phase boundary (no-change test p = {p:.3g})")
        lines.append("  phases: " + " | ".join(f"{r['label']} {r['first_step']:g}-{r['last_step']:g}"
                                               for r in self.phase_table()))
        s = self.seed_summary()
        if s and s["final_seed"]:
            last = s["per_checkpoint"][-1]
            lines.append(f"  seed: final behaviour is closest to base prompt {s['final_seed']} "
                         f"(support retention {last['support_retention']:.2f})")
        if self.transition is not None:
            lines.append(f"  transition: {self.transition.kind} "
                         f"({'conclusive' if self.transition.conclusive else 'not conclusive'})")
        if truth and "boundaries" in truth:
            lines.append(f"  truth (generator): boundaries at steps {[float(v) for v in truth['boundaries']]}, "
                         f"seed prompt {truth.get('seed_prompt')}")
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

        Returns ``{name: Figure}``.
        """
        import matplotlib.pyplot as plt

        from .. import plot as pkplot

        control = self.settings["control"]
        figs: dict[str, Any] = {}

        def new(name, ncols=1, width=7.5):
            fig, axes = plt.subplots(1, ncols, figsize=(width, 3.8))
            fig.subplots_adjust(left=0.09 if ncols == 1 else 0.06, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
            figs[name] = fig
            return axes

        pkplot.order_parameters(self.order, dim=control, boundaries=self.boundaries, ax=new("order_parameters"))
        if "js_divergence" in self.order:
            pkplot.prompt_divergence(self.order, dim=control, boundaries=self.boundaries,
                                     ax=new("prompt_divergence"))
        if "susceptibility" in self.order:
            a1, a2 = new("fluctuations", ncols=2, width=11)
            pkplot.susceptibility(_with_se(self.order, "susceptibility"), dim=control,
                                  boundaries=self.boundaries, ax=a1)
            pkplot.binder_cumulant(_with_se(self.order, "binder"), dim=control, boundaries=self.boundaries, ax=a2)
        hist_of = self.magnetization if self.magnetization is not None else _with_se(self.per_config, "mode_fraction")
        pkplot.order_histograms(hist_of, self.boundaries, dim=control, ax=new("boundary_histograms"))
        if self.correlation is not None and "correlation_function" in self.correlation:
            pkplot.correlation(self.correlation["correlation_function"], ax=new("correlation"))
        if self.seed is not None:
            pkplot.seed_attribution(self.seed, dim=control, boundaries=self.boundaries, ax=new("seed_attribution"))
        if self.divergence is not None:
            pkplot.divergence_scan(self.divergence, dim=control, boundaries=self.boundaries,
                                   ax=new("divergence_scan"))
        if directory is not None:
            directory = Path(directory)
            directory.mkdir(parents=True, exist_ok=True)
            for name, fig in figs.items():
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110)
                self._figures[name] = buf.getvalue()
                (directory / f"{name}.png").write_bytes(self._figures[name])
        return figs

    def to_html(self, path: str | Path, figures_dir: str | Path | None = None) -> None:
        """Write a self-contained HTML page (figures embedded as PNG data URIs)."""
        import matplotlib.pyplot as plt

        if not self._figures:
            figs = self.plot(figures_dir or Path(path).parent / "figures")
            for f in figs.values():
                plt.close(f)
        Path(path).write_text(_render_html(self), encoding="utf-8")

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """Write ``report.html``, ``results.nc``, ``summary.json`` and ``figures/*.png``."""
        import matplotlib.pyplot as plt

        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        figs = self.plot(outdir / "figures")
        for f in figs.values():
            plt.close(f)
        paths = {"html": outdir / "report.html", "netcdf": outdir / "results.nc", "summary": outdir / "summary.json"}
        self.to_html(paths["html"])
        self.to_netcdf(paths["netcdf"])
        paths["summary"].write_text(json.dumps(self.to_dict(), indent=2, default=str))
        return paths


# ---------------------------------------------------------------------- helpers
def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


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


# ---------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.6em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3} img{max-width:100%;border:1px solid #eee;margin:.4em 0} .note{color:#555;font-size:.9em}
code{background:#f5f5f5;padding:0 3px}
"""


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


def _img(rep: Report, name: str, alt: str) -> str:
    data = rep._figures.get(name)
    if not data:
        return ""
    b64 = base64.b64encode(data).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></figure>'


def _render_html(rep: Report) -> str:
    d = rep.to_dict()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>phasekit report</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>phasekit report</h1><p class='note'>{html.escape(str(d['provenance']['input']))} · "
             f"phasekit {__version__} · {d['provenance']['created']}</p>"]
    if d["settings"].get("left_out"):
        items = "".join(f"<li>{html.escape(x)}</li>" for x in d["settings"]["left_out"])
        parts.append("<p class='note'><b>q (the size of the answer space) is not known</b>, so these were "
                     f"left out (pass <code>--n-states</code> / <code>n_states=</code>):</p><ul>{items}</ul>")
    parts.append("<h2>Phase boundaries</h2>")
    if d["boundaries"]:
        rows = [{**b, "interval": f"{_fmt(b['interval'][0])} – {_fmt(b['interval'][1])}"} for b in d["boundaries"]]
        parts.append(_table(rows, ["step", "interval", "phase_before", "phase_after", "p_value", "channels"]))
    else:
        parts.append(f"<p>No boundary: the no-change test gives p = {_fmt(d['no_change_p_value'])}.</p>")
    parts.append("<h2>Phases</h2>")
    parts.append(_table([{**p, "levels": p["levels"]} for p in d["phases"]],
                        ["label", "first_step", "last_step", "n_checkpoints", "levels"]))
    parts.append("<p class='note'>Phase rule: liquid = high entropy and distinct prompt distributions; "
                 "nucleation = collapse of entropy and of between-prompt divergence; settling = low entropy with "
                 "mass redistributed inside a fixed support. Levels are segment means.</p>")
    parts.append("<h2>Order parameters</h2>" + _img(rep, "order_parameters", "order parameters against step"))
    parts.append(_img(rep, "prompt_divergence", "between-prompt divergence"))
    parts.append("<h2>Fluctuations</h2>" + _img(rep, "fluctuations", "susceptibility and Binder cumulant"))
    parts.append(_img(rep, "boundary_histograms", "order-parameter histogram at each boundary"))
    parts.append("<h2>Seed attribution and divergence scan</h2>" + _img(rep, "seed_attribution", "seed attribution"))
    s = d.get("seed")
    if s and s.get("final_seed"):
        parts.append(f"<p>Final checkpoint's behaviour is closest to the base distribution of prompt "
                     f"<b>{html.escape(str(s['final_seed']))}</b>.</p>")
    parts.append(_img(rep, "divergence_scan", "divergence scan"))
    parts.append("<h2>Correlations</h2>")
    if "correlation" in rep._figures:
        parts.append(_img(rep, "correlation", "correlation decay"))
    else:
        parts.append("<p class='note'>No position dim: sequence correlations do not apply to single-answer "
                     "tasks.</p>")
    parts.append("<h2>Transition order</h2>")
    t = d["transition"]
    parts.append(f"<p><b>{html.escape(str(t.get('kind')))}</b> — {html.escape(str(t.get('reason', '')))}</p>")
    parts.append("<h2>Provenance</h2><pre>" + html.escape(json.dumps({"settings": d["settings"],
                                                                      "provenance": d["provenance"]},
                                                                     indent=2, default=str)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
