"""Every report figure readable (issue 17 items 2-3), checked on the matplotlib objects:
labels with units, the control axis of a staged run, shading at the boundaries, integer
ticks for counts, labelled reference lines, one quantity per axis, C(r)'s own error bars,
and the issue-16 figures (phase diagram, boundaries across members)."""

import dataclasses
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from _report_data import staged_run  # noqa: E402

import phasekit as pk  # noqa: E402
from phasekit import plot as pkplot  # noqa: E402
from phasekit.report.figures import captions, draw_figures  # noqa: E402
from phasekit.report.numbers import format_step  # noqa: E402


def _analyze(ds, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pk.analyze(ds, progress=False, n_bootstrap=50, **kw)


@pytest.fixture(scope="module")
def staged():
    """Pretraining to 100k, then short sft/rl stages (steps 100,500-104,000): the case a log
    step axis squashes."""
    _, _, rep = staged_run()
    figs = draw_figures(rep)
    yield rep, figs
    for f in figs.values():
        plt.close(f)


def test_every_axes_has_labels(staged):
    _, figs = staged
    for name, fig in figs.items():
        for ax in fig.axes:
            assert ax.get_xlabel().strip(), (name, ax.get_title())
            assert ax.get_ylabel().strip(), (name, ax.get_title())
            assert ax.get_title().strip(), name


def test_units_on_the_y_axes(staged):
    _, figs = staged
    ylabels = {ax.get_title(): ax.get_ylabel() for f in figs.values() for ax in f.axes}
    assert "nats" in ylabels["Entropy of the answers"]
    assert "nats" in ylabels["Between-prompt divergence"]
    assert "dimensionless" in ylabels["Susceptibility"] and "dimensionless" in ylabels["Binder cumulant"]
    assert "nats" in ylabels["Distance to the seed"] and "fraction" in ylabels["Support retention"]


def test_staged_run_gets_one_slot_per_checkpoint(staged):
    rep, figs = staged
    ax = figs["order_parameters"].axes[1]
    steps = rep.order["step"].values
    ticks = [int(round(t)) for t in ax.get_xticks()]
    assert ax.get_xscale() == "linear" and ax.get_xlim() == (-0.5, steps.size - 0.5)
    assert [t.get_text() for t in ax.get_xticklabels()] == [format_step(steps[i]) for i in ticks]
    for first in (8, 12):                      # each stage's first checkpoint is labelled
        assert first in ticks
    names = [t.get_text() for t in ax.texts]
    assert names == ["pretrain", "sft", "rl"]
    # the post-training checkpoints (a 3.5 % sliver of the step range) get half the axis
    line = ax.get_lines()[0]
    x = np.asarray(line.get_xdata(), float)
    assert np.allclose(x, np.arange(steps.size))


def _spans(ax, zorder):
    out = []
    for p in ax.patches:
        if p.get_zorder() == zorder:
            xy = np.asarray(p.get_path().vertices @ np.eye(2))
            xs = p.get_patch_transform().transform(xy)[:, 0] if hasattr(p, "get_patch_transform") else xy[:, 0]
            out.append((float(np.min(xs)), float(np.max(xs))))
    return sorted(out)


def test_phase_shading_changes_exactly_at_the_boundaries(staged):
    rep, figs = staged
    ax = figs["divergence_scan"].axes[0]
    shading = _spans(ax, 0)
    edges = sorted({round(e, 9) for lo, hi in shading for e in (lo, hi)} - {-0.5, rep.order.sizes["checkpoint"] - 0.5})
    assert edges == [float(i) for i in rep.boundaries.indices]
    assert len(shading) == len(rep.boundaries.indices) + 1


def test_boundary_intervals_are_drawn_in_checkpoint_slots(staged):
    rep, figs = staged
    axis = pkplot.control_axis(rep.order, "checkpoint")
    ax = figs["divergence_scan"].axes[0]
    bands = _spans(ax, 1)
    want = sorted((axis.x_of(lo), axis.x_of(hi)) for lo, hi in rep.boundaries.intervals)
    assert np.allclose(bands, want)


def test_histogram_counts_have_integer_ticks(staged):
    _, figs = staged
    ax = figs["boundary_histograms"].axes[0]
    ticks = ax.get_yticks()
    assert np.allclose(ticks, np.round(ticks))
    assert "number of prompts" == ax.get_ylabel()


def test_binder_reference_lines_are_labelled(staged):
    _, figs = staged
    ax = next(a for a in figs["fluctuations"].axes if a.get_title() == "Binder cumulant")
    refs = {round(float(ln.get_ydata()[0]), 6): ln.get_label() for ln in ax.get_lines()
            if len(set(np.asarray(ln.get_ydata(), float))) == 1}
    assert "2/3" in refs[round(2 / 3, 6)] and "0" in refs[0.0]


def test_seed_attribution_has_one_quantity_per_axis_with_error_bars(staged):
    rep, figs = staged
    axes = figs["seed_attribution"].axes
    assert len(axes) == 2
    ret = rep.seed["support_retention"]
    for ax in axes:
        data = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
        assert len(data) == 1
        assert ax.collections, "error bars"
    # the right panel's bars are the standard error over prompts
    seg = axes[1].collections[-1].get_segments()
    half = np.array([abs(s[1][1] - s[0][1]) / 2 for s in seg])
    se = (ret.std("prompt", ddof=1) / np.sqrt(ret.sizes["prompt"])).values
    ok = np.isfinite(se)
    np.testing.assert_allclose(half, se[ok], rtol=1e-9, atol=1e-12)


def test_captions_say_what_the_error_bars_are(staged):
    rep, figs = staged
    caps = captions(rep)
    for name in figs:
        assert caps[name][1], name
    assert "jackknife" in caps["fluctuations"][1] and "standard error" in caps["order_parameters"][1]
    assert "exactly at each boundary" in caps["divergence_scan"][1]


def test_correlation_error_bars_are_those_of_c_not_of_xi():
    from phasekit.datasets.sequences import markov_chain

    parts = [markov_chain(q=40, stay_probability=lam, n_sequences=16, length=24, seed=i)[0]
             for i, lam in enumerate([0.2] * 4 + [0.7] * 4)]
    ds = xr.concat(parts, dim="checkpoint")
    if "sequence" in ds.dims:
        ds = ds.rename(sequence="sample")
    ds = ds.assign_coords(step=("checkpoint", 1000 * np.arange(1, 9))).assign_attrs(n_states=40)
    rep = _analyze(ds)
    figs = draw_figures(rep)
    ax = figs["correlation"].axes[0]
    se_c = rep.correlation["correlation_function_stderr"].values
    se_xi = rep.correlation["correlation_length"].coords["stderr"].values
    bars = [c for c in ax.collections if hasattr(c, "get_segments")]
    assert bars
    first = np.array([abs(s[1][1] - s[0][1]) / 2 for s in bars[0].get_segments()])
    np.testing.assert_allclose(first, se_c[0][np.isfinite(se_c[0])][:first.size], rtol=1e-9, atol=1e-12)
    assert not np.allclose(first, se_xi[0])
    assert "positions" in ax.get_xlabel()
    assert np.allclose(ax.get_xticks(), np.round(ax.get_xticks()))
    for f in figs.values():
        plt.close(f)


def test_members_figures_from_issue16_fields(staged):
    from phasekit.compare import boundary_comparison
    from phasekit.diagram import diagram_from_results

    rep, _ = staged
    members = {"run=a": rep, "run=b": rep}
    steps = rep.order["step"].values.astype(float)
    comp = boundary_comparison({k: m.boundaries for k, m in members.items()}, "run", control="checkpoint",
                               control_span=float(steps[-1] - steps[0]))
    diag = diagram_from_results([m.boundaries for m in members.values()],
                                [np.asarray(m.phases.values) for m in members.values()],
                                [m.order for m in members.values()], across="run", across_values=np.array(["a", "b"]),
                                control="checkpoint", control_labels=np.asarray(rep.order["checkpoint"].values),
                                control_grid=np.stack([steps, steps]))
    multi = dataclasses.replace(rep, members=members, across="run", comparison=comp, diagram=diag)
    figs = draw_figures(multi)
    assert {"phase_diagram", "size_comparison"} <= set(figs)
    ax = figs["size_comparison"].axes[0]
    pts = sorted(float(x) for ln in ax.get_lines() for x in ln.get_xdata() if ln.get_marker() == "o")
    assert pts == sorted(list(rep.boundaries.locations) * 2)
    block = multi.summary()
    assert [m["member"] for m in block["members"]] == ["run=a", "run=b"]
    assert block["members"][0]["boundaries"] == [float(v) for v in rep.boundaries.locations]
    assert "Across run (2 members)" in block["text"]
    for f in figs.values():
        plt.close(f)


@pytest.mark.slow
def test_size_scaling_from_a_real_model_family_is_rendered():
    """H4's analysis across model sizes (issue 16) in the summary, the key numbers, the
    page and the figures: the numbers are the SizeScaling's own."""
    from phasekit.datasets.families import potts_models
    from phasekit.report.html import render_html
    from phasekit.report.numbers import format_estimate
    from phasekit.report.schema import validate_summary

    ds, _ = potts_models(q=2, sizes=[6, 8, 12], temperatures=np.linspace(1.5, 3.2, 16), n_samples=80, seed=0)
    rep = _analyze(ds)
    assert rep.size_scaling is not None and rep.members
    block = rep.summary()
    sc = rep.size_scaling
    assert block["size_scaling"]["sizes"] == [float(s) for s in sc.sizes]
    if sc.critical_point is not None:
        cp = block["size_scaling"]["critical_point"]
        assert cp["value"] == pytest.approx(sc.critical_point.value)
        row = next(r for r in block["key_numbers"] if r["quantity"].startswith("critical point (Binder"))
        assert format_estimate(sc.critical_point.value, sc.critical_point.stderr) in row["value"]
    source = {"nu": "binder", "gamma/nu": "chi", "beta/nu": "m"}
    for k, (v, se) in sc.exponents().items():
        e = block["size_scaling"]["exponents"][k]
        assert e["value"] == pytest.approx(v)
        if k == "beta/nu" and sc.fixed_binder is not None and np.isfinite(sc.fixed_binder.beta_nu):
            # beta/nu is read at the fixed Binder cumulant (no t_c), trusted when finite
            assert v == sc.fixed_binder.beta_nu and e["trusted"] and "fixed Binder" in e["method"]
        else:
            assert e["trusted"] == bool(sc.collapses[source[k]].success)
        quoted = f"{k} = {format_estimate(v, se)}" in block["text"]
        assert quoted == e["trusted"]           # only trustworthy exponents are findings
    assert [m["member"] for m in block["members"]] == list(rep.members)
    import json

    validate_summary(json.loads(json.dumps(rep.to_dict(), default=str)))
    figs = draw_figures(rep)
    assert "size_comparison" in figs
    ax = figs["order_parameters"].axes[0]
    assert "temperature" in ax.get_xlabel()              # the control is a temperature, not a step
    rep._figures = {n: b"png" for n in figs}
    page = render_html(rep)
    assert "Size scaling" in page and "id='members'" in page
    for f in figs.values():
        plt.close(f)


def test_order_map_shows_the_order_parameter_and_the_boundary_lines():
    """Issue 16 item 2: the diagram is drawn as the order parameter over control × across
    (cells = the diagram's own values) with each linked boundary line through its
    locations and its intervals; checked against the PhaseDiagram's Dataset."""
    from matplotlib.collections import QuadMesh

    from phasekit.datasets import temperature_collapse_run

    run = temperature_collapse_run(n_prompts=6, n_samples=12, seed=3).data
    d = pk.phase_diagram(run, control="checkpoint", across="temperature").to_dataset()
    ax = pkplot.order_map(d, control="checkpoint", across="temperature")
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(5, -1),
                               d["magnetization"].transpose("temperature", "checkpoint").values)
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "boundary line")
    np.testing.assert_allclose(line.get_xdata(), d["line_location"].isel(line=0).values)
    assert ax.get_xlabel() and ax.get_ylabel() == "temperature"
    assert ax.figure.axes[-1].get_ylabel() == "magnetization"          # the colour bar says what it is
    bars = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and ln.get_ydata()[0] == ln.get_ydata()[1]]
    spans = sorted((float(b.get_xdata()[0]), float(b.get_xdata()[1])) for b in bars)
    expected = sorted(zip(d["line_lower"].isel(line=0).values.tolist(), d["line_upper"].isel(line=0).values.tolist(),
                          strict=True))
    assert spans == expected
    plt.close(ax.figure)
