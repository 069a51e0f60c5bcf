"""Phase diagrams (issue 16) against a run whose boundary moves with a second control by a
known law, s*(T) = s_ref (T / T_ref)^kappa (phasekit.datasets.temperature_collapse_run), and
the alignment maths of phasekit.compare against hand-worked answers."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import xarray as xr

import phasekit as pk
from phasekit.compare import boundary_comparison, link_boundaries, phase_agreement, run_spread
from phasekit.datasets import temperature_collapse_run

LAWS = {"rising": {"temperatures": (0.6, 0.8, 1.0, 1.2, 1.4), "exponent": 1.0, "seed": 3},
        "falling": {"temperatures": (0.7, 1.0, 1.4), "exponent": -0.8, "seed": 4}}


@pytest.fixture(scope="module", params=list(LAWS))
def diagram(request):
    law = LAWS[request.param]
    ds, truth = temperature_collapse_run(temperatures=law["temperatures"], exponent=law["exponent"],
                                         seed=law["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pk.phase_diagram(ds, control="checkpoint", across="temperature", n_bootstrap=100)
    return ds, truth, res


def test_each_boundary_within_one_checkpoint_of_the_law(diagram):
    ds, truth, res = diagram
    out = res.to_dataset()
    steps = ds["step"].values
    spacing = float(np.diff(steps).max())
    found = out["boundary"].values
    assert found.shape == (ds.sizes["temperature"], 1)          # one collapse at every temperature
    np.testing.assert_array_less(np.abs(found[:, 0] - truth["boundary_step"]), spacing + 1e-9)
    # linked into ONE boundary line across the temperatures
    assert res.n_lines == 1
    assert np.isfinite(out["line_location"].values).all()


def test_the_boundary_line_recovers_the_law(diagram):
    """log s*(T) = log s_ref + kappa log(T/T_ref): the line's slope in log-log is kappa."""
    ds, truth, res = diagram
    line = res.to_dataset()["line_location"].sel(line=0).values
    kappa = np.polyfit(np.log(truth["temperatures"]), np.log(line), 1)[0]
    assert abs(kappa - truth["exponent"]) < 0.2, kappa


def test_intervals_cover_the_true_boundary(diagram):
    ds, truth, res = diagram
    out = res.to_dataset()
    lo, hi = out["boundary_lower"].values[:, 0], out["boundary_upper"].values[:, 0]
    assert np.all(lo <= out["boundary"].values[:, 0]) and np.all(out["boundary"].values[:, 0] <= hi)
    covered = (lo < truth["boundary_step"]) & (truth["boundary_step"] <= hi)   # (lower, upper]
    assert covered.mean() >= 0.6, (lo, hi, truth["boundary_step"])


def test_phase_labels_follow_the_truth(diagram):
    ds, truth, res = diagram
    phase = res.to_dataset()["phase"].values
    assert phase.shape == truth["phases"].shape
    assert np.mean(phase == truth["phases"].astype(str)) >= 0.95


def test_order_parameter_map_is_the_mean_prompt_magnetization(diagram):
    """Independent recomputation from the tokens: m = (q p_max - 1)/(q - 1) per prompt, mean over prompts."""
    ds, truth, res = diagram
    q = truth["n_states"]
    tok = ds["token"].values                                    # (T, checkpoint, prompt, sample)
    p = np.stack([(tok == k).mean(-1) for k in range(q)], -1)
    m = ((q * p.max(-1) - 1) / (q - 1)).mean(-1)
    np.testing.assert_allclose(res.to_dataset()["magnetization"].values, m, rtol=1e-12)


def test_diagram_is_plain_data(diagram):
    _, _, res = diagram
    back = pickle.loads(pickle.dumps(res))
    assert (back == res) is True
    xr.testing.assert_identical(back.to_dataset(), res.to_dataset())


def test_diagram_argument_errors():
    ds, _ = temperature_collapse_run(temperatures=(0.8, 1.2), seed=1)
    with pytest.raises(pk.SchemaError, match="across dim 'lr'"):
        pk.phase_diagram(ds, across="lr")
    with pytest.raises(pk.SchemaError, match="same dim"):
        pk.phase_diagram(ds, control="temperature", across="temperature")


# --------------------------------------------------------------------------- compare.py maths
def test_link_boundaries_by_hand():
    nan = np.nan
    loc = np.array([[10.0, 50.0], [12.0, nan], [14.0, 53.0], [90.0, nan]])
    # gate 5: 10 -> 12 -> 14 is one line, 50 -> 53 another (member 1 has no second boundary);
    # 90 is farther than 5 from every line: a new line
    np.testing.assert_array_equal(link_boundaries(loc, 5.0), [[0, 1], [0, -1], [0, 1], [2, -1]])
    # the assignment is one-to-one: two boundaries near one line do not both join it
    loc2 = np.array([[10.0, nan], [9.0, 11.0]])
    line = link_boundaries(loc2, 5.0)
    assert sorted(line[1].tolist()) == [0, 1] and line[0, 0] in (0, 1)


def test_link_boundaries_follows_a_moving_line():
    """A boundary moving by 300 per step, and a false alarm at 900 beside the true 1500 at the
    third value: nearest-last-location ties (900 and 1500 are both 300 from 1200) and can split
    the line; the linear trend (1200 + 300 = 1500) keeps it whole."""
    nan = np.nan
    loc = np.array([[900.0, nan], [1200.0, nan], [900.0, 1500.0], [1800.0, nan], [2100.0, nan]])
    line = link_boundaries(loc, 725.0, trend=True)
    true_line = line[[0, 1, 2, 3, 4], [0, 0, 1, 0, 0]]
    assert len(set(true_line.tolist())) == 1 and line[2, 0] != true_line[0]
    # the extrapolation uses the positions given (uneven steps of the second control)
    loc2 = np.array([[100.0], [200.0], [400.0]])
    np.testing.assert_array_equal(link_boundaries(loc2, 150.0, positions=np.array([0.0, 1.0, 3.0]), trend=True),
                                  [[0], [0], [0]])                        # 200 + 100 * (3 - 1) / 1 = 400
    assert link_boundaries(loc2, 150.0).ravel().tolist() == [0, 0, 1]   # no trend: 400 is 200 from 200


def test_run_spread_is_the_sample_sd():
    class R:  # the fields boundary_comparison reads from a BoundaryResult
        def __init__(self, locs):
            self.locations = locs
            self.intervals = [(x - 1, x) for x in locs]

    locs = {"a": [100.0], "b": [130.0], "c": [115.0], "d": []}
    comp = run_spread(boundary_comparison({k: R(v) for k, v in locs.items()}, "run", control="checkpoint",
                                          control_span=1000.0), "run")
    assert comp["line_n_runs"].item() == 3
    assert comp["line_mean"].item() == pytest.approx(115.0)
    assert comp["line_spread"].item() == pytest.approx(15.0)          # sd of 100, 130, 115 (ddof=1)
    assert comp["line_stderr"].item() == pytest.approx(15.0 / np.sqrt(3))
    assert np.isnan(comp["boundary"].sel(run="d").values).all()


def test_phase_agreement():
    a = phase_agreement({"x": ["liquid"] * 3 + ["nucleation"] * 2, "y": ["liquid"] * 2 + ["nucleation"] * 3})
    assert a["shared"] and a["agreement"] == pytest.approx(0.8)
    b = phase_agreement({"x": ["liquid"] * 5, "y": ["liquid"] * 2 + ["nucleation"] * 3})
    assert not b["shared"]


# --------------------------------------------------------------------------- analyze and the CLI
@pytest.mark.slow
def test_cli_analyze_across_temperature_end_to_end(tmp_path, capsys):
    from phasekit.cli import main

    ds, truth = temperature_collapse_run(temperatures=(0.8, 1.25), n_checkpoints=16, reference_step=800.0,
                                         n_prompts=6, n_samples=12, seed=5)
    path = tmp_path / "run.nc"
    ds.to_netcdf(path)
    rc = main(["analyze", str(path), "--across", "temperature", "--n-states", "10", "--estimator", "miller_madow",
               "-o", str(tmp_path / "out"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    for name in ("report.html", "summary.json", "results.nc"):
        assert (tmp_path / "out" / name).exists(), name
    assert json.loads((tmp_path / "out" / "summary.json").read_text())


@pytest.mark.slow
def test_analyze_across_sets_the_diagram_and_members():
    ds, truth = temperature_collapse_run(temperatures=(0.7, 1.0, 1.3), n_checkpoints=24, reference_step=1200.0,
                                         seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = pk.analyze(ds, across="temperature", progress=False, n_bootstrap=100, estimator="miller_madow")
    assert rep.across == "temperature" and len(rep.members) == 3
    out = rep.diagram.to_dataset()
    np.testing.assert_array_less(np.abs(out["boundary"].values[:, 0] - truth["boundary_step"]), 100 + 1e-9)
    np.testing.assert_array_equal(rep.comparison["boundary"].values, out["boundary"].values)
    back = pickle.loads(pickle.dumps(rep))                       # the whole multi-member report is plain data
    assert (back == rep) is True
    assert json.dumps(rep.to_dict())


@pytest.mark.slow
def test_the_docs_example_runs_and_says_what_it_prints():
    """The worked example of docs/phase-diagrams.md: run it, and check the numbers it quotes."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "phase-diagrams.md").read_text()
    block = next(b.split("```", 1)[0] for b in text.split("```python\n")[1:] if "temperature_collapse_run(" in b)
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, "docs/phase-diagrams.md", "exec"), ns)
    out, truth = ns["out"], ns["truth"]
    assert repr(ns["pd"]) == "PhaseDiagram(checkpoint x temperature: 5 values, 5 boundaries in 1 line(s))"
    np.testing.assert_array_equal(out["boundary"].sel(boundary_index=0).values, [900, 1200, 1500, 1800, 2100])
    np.testing.assert_array_equal(truth["boundary_step"], [900, 1200, 1500, 1800, 2100])
    np.testing.assert_array_equal(out["boundary_lower"].sel(boundary_index=0).values, [800, 1100, 1400, 1700, 2000])


def test_linking_without_any_boundary_gives_no_lines():
    """No member has a boundary (e.g. a narrow temperature grid): no lines, not an IndexError."""
    from phasekit.compare import link_boundaries

    empty = np.full((4, 2), np.nan)
    assert (link_boundaries(empty, gate=100.0) == -1).all()
    assert (link_boundaries(empty, gate=100.0, trend=True) == -1).all()
