"""The report's figures and their captions.

:func:`draw_figures` draws every figure that applies to a :class:`~phasekit.report.Report`
(``{name: Figure}``); :func:`captions` says, for each, what is drawn and what its error
bars or bands are. Both use one :class:`phasekit.plot.ControlAxis` per report, so every
figure along the control axis has the same ticks, stage bands and phase shading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import plot as pkplot

if TYPE_CHECKING:
    from .core import Report

__all__ = ["FIGURE_ORDER", "captions", "draw_figures"]

#: Figure names in page order, with their section.
FIGURE_ORDER = (
    ("order_parameters", "Order parameters"),
    ("prompt_divergence", "Order parameters"),
    ("fluctuations", "Fluctuations"),
    ("boundary_histograms", "Fluctuations"),
    ("seed_attribution", "Seed attribution and divergence scan"),
    ("divergence_scan", "Seed attribution and divergence scan"),
    ("correlation", "Correlations"),
    ("parse_rates", "Data quality"),
    ("order_map", "Across members"),
    ("phase_diagram", "Across members"),
    ("size_comparison", "Across members"),
)


def _new(figs: dict[str, Any], name: str, ncols: int = 1, width: float = 7.5, height: float = 4.2):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), layout="constrained")
    figs[name] = fig
    return axes


def _replica_word(rep: Report) -> str:
    rep_dims = tuple(str(d) for d in rep.settings.get("replica", ()))
    words: dict[tuple[str, ...], str] = {("prompt",): "prompts", ("sample",): "samples"}
    return words.get(rep_dims, "replicas")


def _order_bands(rep: Report, rw: str) -> str:
    """What the lines and bands of the order-parameter figure are: replica means ± 1 s.e.,
    or, without replicas, each configuration's own estimate and error (the entropy's stored
    interval where there is one, as :func:`phasekit.entropy` gives it)."""
    if rep.settings.get("replica"):
        return f"Lines are means over {rw}; bands are ±1 standard error of that mean (s/√n over {rw}). "
    conf = rep.order["entropy_lower"].attrs.get("confidence", 0.95) if "entropy_lower" in rep.order else None
    ent = (f"for H and 1 − H/ln q the entropy's {conf:.0%} interval (asymmetric where the estimator's is), "
           if conf is not None else "")
    return ("One configuration per checkpoint (no replicas): lines are its estimates; bands are each estimate's "
            f"own error, {ent}±1 standard error for the others. ")


def draw_figures(rep: Report) -> dict[str, Any]:
    """Every figure that applies to the report, ``{name: matplotlib Figure}``."""
    from .._meta import with_stderr
    from .summary import parse_rates

    control = rep.settings["control"]
    axis = pkplot.control_axis(rep.order, control)
    b = rep.boundaries
    figs: dict[str, Any] = {}
    kw = {"dim": control, "boundaries": b, "axis": axis}
    if "entropy" in rep.order:
        a1, a2 = _new(figs, "order_parameters", ncols=2, width=12)
        pkplot.entropy(rep.order, ax=a1, **kw)
        pkplot.order_parameters(rep.order, ax=a2, **kw)
    else:
        pkplot.order_parameters(rep.order, ax=_new(figs, "order_parameters"), **kw)
    if "js_divergence" in rep.order:
        pkplot.prompt_divergence(rep.order, ax=_new(figs, "prompt_divergence"), **kw)
    if "susceptibility" in rep.order:
        a1, a2 = _new(figs, "fluctuations", ncols=2, width=12)
        pkplot.susceptibility(with_stderr(rep.order, "susceptibility"), ax=a1, **kw)
        pkplot.binder_cumulant(with_stderr(rep.order, "binder"), ax=a2, **kw)
    hist_of = rep.magnetization if rep.magnetization is not None else rep.per_config["mode_fraction"]
    pkplot.order_histograms(hist_of.drop_vars("stderr", errors="ignore"), b, dim=control,
                            ax=_new(figs, "boundary_histograms"), replica=_replica_word(rep))
    if rep.seed is not None:
        pkplot.seed_attribution(rep.seed, ax=_new(figs, "seed_attribution", ncols=2, width=12), **kw)
    if rep.divergence is not None:
        pkplot.divergence_scan(rep.divergence, ax=_new(figs, "divergence_scan"), **kw)
    if rep.correlation is not None and "correlation_function" in rep.correlation:
        _draw_correlation(rep, figs, kw)
    rates = parse_rates(rep)
    if rates and len(rates) == len(axis.values):
        pkplot.parse_rates(rates, axis, boundaries=b, ax=_new(figs, "parse_rates"))
    _draw_members(rep, figs)
    return figs


def _draw_correlation(rep: Report, figs: dict[str, Any], kw: dict[str, Any]) -> None:
    corr = rep.correlation
    assert corr is not None
    control = rep.settings["control"]
    cf = corr["correlation_function"].drop_vars("stderr", errors="ignore")   # never xi's stderr
    se = corr["correlation_function_stderr"].drop_vars("stderr", errors="ignore") \
        if "correlation_function_stderr" in corr else None
    axis = kw["axis"]
    labels = [f"{axis.unit} {pkplot.format_control_value(v)}" for v in axis.values] \
        if control in cf.dims and cf.sizes[control] == len(axis.values) else None
    ckw: dict[str, Any] = {"stderr": se, "label_dim": control if control in cf.dims else None, "line_labels": labels}
    if "correlation_length" in corr:
        a1, a2 = _new(figs, "correlation", ncols=2, width=12)
        pkplot.correlation(cf, ax=a1, **ckw)
        pkplot.correlation_length(corr["correlation_length"], ax=a2, **kw)
    else:
        pkplot.correlation(cf, ax=_new(figs, "correlation"), **ckw)


def _draw_members(rep: Report, figs: dict[str, Any]) -> None:
    d = rep.diagram
    if d is not None and hasattr(d, "to_dataset"):
        ds = d.to_dataset()
        across = rep.across or getattr(d, "across", None)
        control = getattr(d, "control", rep.settings["control"])
        if any(v in ds for v in ("magnetization", "entropy")) and across in ds.dims and control in ds.dims:
            pkplot.order_map(ds, control=control, across=across, ax=_new(figs, "order_map", width=9))
        if "phase" in ds and across in ds["phase"].dims and control in ds["phase"].dims:
            pkplot.phase_diagram(ds["phase"], control=control, across=across,
                                 boundary=ds.get("boundary"), lower=ds.get("boundary_lower"),
                                 upper=ds.get("boundary_upper"), control_value=ds.get("control_value"),
                                 ax=_new(figs, "phase_diagram", width=9))
    comp = rep.comparison
    if comp is not None and "boundary" in comp:
        member = rep.across if rep.across in comp["boundary"].dims else comp["boundary"].dims[0]
        unit = "step" if "step" in rep.order.coords else str(rep.settings["control"])
        pkplot.size_comparison(comp, member=member, unit=unit, ax=_new(figs, "size_comparison"))


def captions(rep: Report) -> dict[str, tuple[str, str]]:
    """``{name: (alt text, caption)}`` for every figure of :func:`draw_figures`."""
    n_boot = rep.settings.get("n_bootstrap")
    axis_note = ("The x axis gives every checkpoint the same width (ticks: training step) so that short "
                 "post-training stages stay legible; grey bands along the top name the training stages. "
                 if "stage" in rep.order.coords else "")
    shade = ("Background colours are the phases, changing exactly at each boundary (dashed line: the first "
             "checkpoint of the new phase); the grey band around it is the boundary's (lower, upper] "
             "interval. ")
    rw = _replica_word(rep)
    est = rep.order["entropy"].attrs.get("estimator", "default") if "entropy" in rep.order else "default"
    js_err = str(rep.order["js_divergence"].attrs.get("error_method", "jackknife over prompts")).replace("_", " ") \
        if "js_divergence" in rep.order else ""
    return {
        "order_parameters": (
            "entropy and order parameters against training step",
            f"Left: entropy H of the answers (nats; estimator {est}) per configuration. Right: order parameters "
            "(dimensionless). " + _order_bands(rep, rw) + shade + axis_note),
        "prompt_divergence": (
            "between-prompt divergence against training step",
            "Mean pairwise Jensen–Shannon divergence (nats) between the prompts' answer distributions; error "
            f"band ±1 standard error ({js_err}). Dotted: the same statistic when all prompts share one "
            f"distribution (finite-sample null, {n_boot} multinomial redraws). " + shade + axis_note),
        "fluctuations": (
            "susceptibility and Binder cumulant against training step",
            f"Susceptibility χ = N(⟨m²⟩ − ⟨m⟩²) and Binder cumulant U = 1 − ⟨m⁴⟩/(3⟨m²⟩²) of the Potts "
            f"magnetisation m over {rw} (N = answers per configuration). Error bars: ±1 delete-one jackknife "
            f"standard error over {rw}. Reference lines: U = 2/3 (m takes one sharp value: ordered) and U = 0 "
            "(Gaussian fluctuations); a dip below 0 signals a first-order transition. " + shade + axis_note),
        "boundary_histograms": (
            "order-parameter histogram either side of each boundary",
            f"Histogram of the order parameter over {rw} at the last checkpoint before (outline) and the first "
            f"after (filled) each boundary; y is a count of {rw}. Two separated modes at a boundary are the "
            "signature of coexisting phases (first-order)."),
        "seed_attribution": (
            "distance to the seed and support retention",
            "Left: Jensen–Shannon divergence (nats) of each prompt's distribution to the closest base-model "
            "prompt distribution (its seed). Right: share of probability on the seed's support (the smallest "
            "top set holding ≥ 90% of the seed's mass). Points are means over prompts; error bars ±1 standard "
            "error over prompts. " + shade + axis_note),
        "divergence_scan": (
            "divergence scan against training step",
            f"Divergence between the pooled samples of the {rep.divergence.attrs.get('window', '')} checkpoints "
            "before and after each checkpoint (Arnold et al. 2024); error bars ±1 standard error from multinomial "
            "redraws. Dotted: the null mean (no change); dashed: its upper quantile. " + shade + axis_note
            if rep.divergence is not None else ""),
        "correlation": (
            "correlation decay and correlation length",
            "Left: connected same-state correlation C(r)/C(0) along positions for up to six checkpoints; error "
            "bars ±1 standard error of C(r) itself. Right: correlation length ξ (positions) per checkpoint, "
            "±1 standard error. " + axis_note),
        "parse_rates": (
            "parse rate per checkpoint",
            "Share of generations mapped to a state by the encoder, per checkpoint (ingestion audit); unparsed "
            "answers are not counted in any estimate. " + axis_note),
        "order_map": (
            "order parameter over control × the second dim",
            "Colour: the order parameter (magnetization when q is known, else the entropy in nats) of every "
            "(value of the second dim, checkpoint) cell, pooled over prompts and samples; black lines: the linked "
            "boundary lines of the phase diagram through each boundary location, with its (lower, upper] interval "
            "as a thick horizontal bar."),
        "phase_diagram": (
            "phase diagram",
            "Phase of every (member, checkpoint) cell; black ticks: boundaries, horizontal bars: their "
            "(lower, upper] intervals."),
        "size_comparison": (
            "boundaries across members",
            "Boundary locations of every member (training step); bars are the (lower, upper] intervals of each "
            "boundary, NaN-padded boundaries omitted."),
    }
