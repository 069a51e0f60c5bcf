"""The shipped tiny-LM case-study data (real gradient descent; no torch needed)."""

from __future__ import annotations

import numpy as np
import pytest

from phasekit.datasets.tiny_lm import load_tiny_lm
from phasekit.ingest import integer_encoder


@pytest.fixture(scope="module")
def records():
    return load_tiny_lm(as_dataset=False)


@pytest.fixture(scope="module")
def ds():
    return load_tiny_lm()


def test_records_have_the_documented_columns(records):
    assert len(records) > 1000
    keys = {"checkpoint", "step", "stage", "prompt", "sample", "text"}
    assert all(keys <= set(r) for r in records)
    assert {r["stage"] for r in records} == {"base", "sft", "rl"}


def test_loads_losslessly(records, ds):
    tok = ds["token"].values
    assert ds.attrs["n_states"] == 10
    assert ds["token"].dims == ("checkpoint", "prompt", "sample")
    # every record is either a parsed answer or a counted unparsed one; nothing invented
    n_parsed = int((tok >= 0).sum())
    assert n_parsed + ds.attrs["n_unparsed"] == len(records)
    assert tok.size == len(records)  # a complete grid: no missing sample
    # record by record: the state stored is the integer the text states
    ck = {c: i for i, c in enumerate(ds["checkpoint"].values.astype(str))}
    pr = {p: i for i, p in enumerate(ds["prompt"].values.astype(str))}
    sm = {int(s): i for i, s in enumerate(ds["sample"].values)}
    labels = ds["state"].values.astype(str)
    for r in records:
        t = tok[ck[r["checkpoint"]], pr[r["prompt"]], sm[int(r["sample"])]]
        val = integer_encoder(r["text"])
        if val is None:
            assert t == -1
        else:
            assert labels[t] == str(val)
    # steps and stages per checkpoint agree with the records and run base -> sft -> rl
    step_of = {r["checkpoint"]: r["step"] for r in records}
    stage_of = {r["checkpoint"]: r["stage"] for r in records}
    for c, i in ck.items():
        assert ds["step"].values[i] == step_of[c]
        assert str(ds["stage"].values[i]) == stage_of[c]
    assert np.all(np.diff(ds["step"].values) > 0)
    order = {"base": 0, "sft": 1, "rl": 2}
    assert np.all(np.diff([order[s] for s in ds["stage"].values.astype(str)]) >= 0)


def test_analyze_finds_the_sft_onset(ds):
    report = pytest.importorskip("phasekit.report", reason="phasekit.report (analyze) is not importable")
    rep = report.analyze(ds, seed=0, progress=False, n_bootstrap=100)
    steps = ds["step"].values
    stage = ds["stage"].values.astype(str)
    i0 = int(np.flatnonzero(stage == "sft")[0])  # first SFT checkpoint
    # "within the checkpoints around it": from the last base checkpoint to the third SFT
    # checkpoint (SFT checkpoints are log-spaced: 4, 8, 16 steps in; the collapse needs a
    # few optimizer steps, and the boundary is the first checkpoint of the new phase)
    lo, hi = steps[i0 - 1], steps[min(i0 + 2, steps.size - 1)]
    locs = np.asarray(rep.boundaries.locations, dtype=float)
    assert locs.size >= 1
    assert np.any((locs >= lo) & (locs <= hi)), (locs, lo, hi)


def test_detect_boundaries_finds_the_sft_onset(ds):
    """The same claim through the change-point stage alone (independent of the report)."""
    from phasekit.transitions import detect_boundaries

    res = detect_boundaries(ds, dim="checkpoint", seed=0, n_bootstrap=100, n_states=10)
    steps = ds["step"].values
    i0 = int(np.flatnonzero(ds["stage"].values.astype(str) == "sft")[0])
    lo, hi = steps[i0 - 1], steps[min(i0 + 2, steps.size - 1)]
    assert res.evidence["p_value"] <= 0.05  # the no-change null is rejected
    locs = np.asarray(res.locations, dtype=float)
    assert np.any((locs >= lo) & (locs <= hi)), (locs, lo, hi)
    # every located boundary's interval is ordered and contains its location
    for loc, (a, b) in zip(res.locations, res.intervals, strict=True):
        assert a <= loc <= b
