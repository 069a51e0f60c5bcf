"""Unit tests of phasekit.changepoints (old path phasekit.transitions): costs, series and
samples paths, phase labels, the result as plain data, the control vocabulary."""

import json

import numpy as np
import pytest
import ruptures as rpt
import xarray as xr
from scipy.stats import chi2_contingency

from phasekit.changepoints import (
    BoundaryResult,
    CostMeanShift,
    CostMultinomial,
    detect_boundaries,
    label_phases,
    penalty_path,
    phase_levels,
)
from phasekit.errors import SchemaError


def _log_steps(n, rng):
    return np.round(np.exp(np.sort(rng.uniform(np.log(100), np.log(1e5), n)))).astype(float) + np.arange(n)


def _step_series(seed=0, n=60, at=(20, 40), jumps=(4.0, -3.0), channels=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, channels))
    for a, j in zip(at, jumps, strict=True):
        x[a:, 0] += j
    steps = _log_steps(n, rng)
    da = xr.DataArray(x, dims=("checkpoint", "channel"),
                      coords={"step": ("checkpoint", steps), "channel": [f"c{i}" for i in range(channels)]})
    return da, steps


# ---------------------------------------------------------------- costs against exact results
def test_mean_shift_cost_equals_ruptures_l2():
    x = np.random.default_rng(1).normal(size=(50, 3))
    ours = CostMeanShift().fit(x)
    ref = rpt.costs.CostL2().fit(x)
    for a, b in [(0, 50), (3, 17), (10, 12)]:
        assert ours.error(a, b) == pytest.approx(ref.error(a, b), rel=1e-9)


def test_multinomial_split_gain_is_the_g_statistic():
    rng = np.random.default_rng(2)
    counts = rng.multinomial(40, [0.5, 0.3, 0.2], size=(10, 1))  # (T, P=1, K)
    cost = CostMultinomial(n_states=3).fit(counts.reshape(10, -1))
    gain = cost.error(0, 10) - cost.error(0, 4) - cost.error(4, 10)
    table = np.stack([counts[:4, 0].sum(0), counts[4:, 0].sum(0)])
    g, _, dof, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert gain == pytest.approx(g, rel=1e-9)
    assert dof == 2


# ---------------------------------------------------------------- series path
def test_series_steps_found_at_control_values():
    da, steps = _step_series(seed=3)
    res = detect_boundaries(da, seed=0, n_bootstrap=100)
    assert isinstance(res, BoundaryResult)
    assert len(res.indices) == 2
    assert np.all(np.abs(np.array(res.indices) - [20, 40]) <= 1)
    assert res.locations == [steps[i] for i in res.indices]  # control values, not indices
    for (lo, hi), loc, true in zip(res.intervals, res.locations, [steps[20], steps[40]], strict=True):
        assert lo <= loc <= hi
        assert lo <= true <= hi
    assert all(b["p_value"] <= 0.05 for b in res.evidence["boundaries"])
    assert list(np.unique(res.phases.values)) == ["phase 0", "phase 1", "phase 2"]


def test_series_consensus_names_the_channel_that_moved():
    da, _ = _step_series(seed=4, at=(30,), jumps=(3.0,), channels=3)
    res = detect_boundaries(da, seed=0, n_bootstrap=100)
    assert res.indices == [30]
    assert res.evidence["boundaries"][0]["channels"] == ["value[c0]"]


def test_flat_white_noise_rarely_has_a_boundary():
    alarms = 0
    for seed in range(20):
        x = np.random.default_rng(100 + seed).normal(size=80)
        res = detect_boundaries(xr.DataArray(x, dims="checkpoint"), seed=seed, n_bootstrap=100)
        alarms += len(res.indices) > 0
    # test at alpha = 0.05: expected about 1 in 20
    assert alarms <= 3


def test_constant_series_and_constant_channels():
    res = detect_boundaries(xr.DataArray(np.full(30, 2.5), dims="checkpoint"))
    assert res.indices == [] and res.locations == []
    assert set(res.phases.values) == {"phase 0"}
    da, _ = _step_series(seed=5, at=(15,), jumps=(5.0,), channels=1)
    ds = xr.Dataset({"m": da.isel(channel=0, drop=True), "flat": ("checkpoint", np.ones(60))})
    res = detect_boundaries(ds, seed=0, n_bootstrap=50)
    assert res.indices == [15]


def test_nan_gaps_are_dropped_and_counted():
    da, steps = _step_series(seed=6, at=(30,), jumps=(5.0,))
    da = da.copy()
    da[[5, 29, 31], 0] = np.nan
    res = detect_boundaries(da, seed=0, n_bootstrap=50)
    assert res.evidence["n_dropped"] == 3
    assert res.indices == [30]
    assert res.locations == [steps[30]]
    assert res.phases.sizes["checkpoint"] == 60


def test_bad_input():
    with pytest.raises(SchemaError):
        detect_boundaries(xr.DataArray([1.0, 2.0], dims="checkpoint"))
    with pytest.raises(SchemaError):
        detect_boundaries(xr.DataArray(np.r_[1.0, np.nan, np.nan, 2.0], dims="checkpoint"))
    with pytest.raises(SchemaError):
        detect_boundaries(xr.DataArray(np.zeros(10), dims="checkpoint"), method="nope")
    with pytest.raises(SchemaError):
        detect_boundaries(xr.DataArray(np.zeros(10), dims="checkpoint"), penalty=-1)
    with pytest.raises(SchemaError):
        detect_boundaries(xr.DataArray(np.zeros(10), dims="time"))
    with pytest.raises(SchemaError):
        detect_boundaries(np.zeros(10))


@pytest.mark.parametrize("method", ["binseg", "bottomup", "dynp", "kernelcpd"])
def test_other_searches(method):
    da, _ = _step_series(seed=7, n=40, at=(18,), jumps=(5.0,))
    res = detect_boundaries(da, method=method, seed=0, n_bootstrap=50)
    assert res.indices == [18]


def test_penalty_path_is_monotone():
    da, _ = _step_series(seed=8)
    res = detect_boundaries(da, seed=0, n_bootstrap=20)
    path = res.path
    assert list(path.columns) == ["penalty", "n_boundaries", "locations"]
    assert np.all(np.diff(path["n_boundaries"].to_numpy()) <= 0)
    assert (path["n_boundaries"] == 2).any()
    p2 = penalty_path(da, penalties=[1.0, 1e6])
    assert p2["n_boundaries"].iloc[-1] == 0


def test_serialisation():
    da, _ = _step_series(seed=9)
    res = detect_boundaries(da, seed=0, n_bootstrap=50)
    d = res.to_dict()
    json.dumps(d)
    assert d["indices"] == res.indices
    df = res.to_dataframe()
    assert list(df["index"]) == res.indices
    assert (df["stderr"] >= 0).all()
    assert ((df["lower"] <= df["location"]) & (df["location"] <= df["upper"])).all()
    assert "2 boundaries" in repr(res)


# ---------------------------------------------------------------- samples path
def _three_phase_samples(seed=0, t=30, prompts=6, samples=24, q=6):
    """Liquid (prompt-specific distributions) -> one shared seed -> redistributed seed."""
    rng = np.random.default_rng(seed)
    liquid = rng.dirichlet(np.ones(q), size=prompts)
    seed_d = np.array([0.6, 0.3, 0.1] + [0.0] * (q - 3))
    settled = np.array([0.2, 0.7, 0.1] + [0.0] * (q - 3))
    probs = np.empty((t, prompts, q))
    probs[:10] = liquid
    probs[10:20] = seed_d
    probs[20:] = settled
    tok = np.stack([[rng.choice(q, size=samples, p=probs[i, j]) for j in range(prompts)]
                    for i in range(t)])
    steps = _log_steps(t, rng)
    return xr.Dataset({"token": (("checkpoint", "prompt", "sample"), tok)},
                      coords={"step": ("checkpoint", steps)}, attrs={"n_states": q}), steps


def test_samples_three_phases():
    ds, steps = _three_phase_samples()
    res = detect_boundaries(ds, seed=0, n_bootstrap=100)
    assert res.kind == "samples"
    assert res.indices == [10, 20]
    assert res.locations == [steps[10], steps[20]]
    labels = list(res.phases.values)
    assert labels == ["liquid"] * 10 + ["nucleation"] * 10 + ["settling"] * 10
    moved = res.evidence["boundaries"][0]["channels"]
    assert len(moved) >= 5  # every prompt collapses onto the seed


def test_samples_path_penalty_path_and_too_short():
    ds, steps = _three_phase_samples(seed=2)
    path = penalty_path(ds, penalties=[1.0, 10.0, 1e7])
    assert list(path["n_boundaries"])[-1] == 0
    assert [steps[10], steps[20]] == path["locations"].iloc[0]
    with pytest.raises(SchemaError):
        detect_boundaries(ds.isel(checkpoint=slice(0, 2)))
    json.dumps(detect_boundaries(ds, seed=0, n_bootstrap=50).to_dict())


def test_samples_flat_and_missing_checkpoint():
    rng = np.random.default_rng(11)
    p = rng.dirichlet(np.ones(5), size=4)
    tok = np.stack([[rng.choice(5, size=20, p=p[j]) for j in range(4)] for _ in range(25)])
    tok[7] = -1  # a checkpoint without samples
    ds = xr.Dataset({"token": (("checkpoint", "prompt", "sample"), tok)}, attrs={"n_states": 5})
    res = detect_boundaries(ds, seed=0, n_bootstrap=100)
    assert res.indices == []
    assert res.evidence["n_dropped"] == 1
    assert set(res.phases.values) == {"liquid"}


def test_phase_levels_and_label_rule():
    ds, _ = _three_phase_samples(seed=1)
    lv = phase_levels(ds)
    assert set(lv.data_vars) >= {"entropy", "magnetization", "js_divergence", "support", "pooled"}
    assert float(lv["js_divergence"][:10].mean()) > float(lv["js_divergence"][10:].mean())
    lab = label_phases(lv, [10, 20], n_states=6)
    assert list(lab["label"].values) == ["liquid", "nucleation", "settling"]
    assert lab["entropy"].dims == ("segment",)
    assert lab["entropy_stderr"].dims == ("segment",)
    # levels are the segment means of the per-checkpoint values
    assert float(lab["entropy"][1]) == pytest.approx(float(lv["entropy"][10:20].mean()))
    # drift cut inside the liquid phase: both pieces stay liquid
    lab2 = label_phases(lv, [5, 10, 20], n_states=6)
    assert list(lab2["label"].values) == ["liquid", "liquid", "nucleation", "settling"]
    # no collapse: high entropy alone is liquid
    lab3 = label_phases(lv.isel(checkpoint=slice(0, 10)), [], n_states=6)
    assert list(lab3["label"].values) == ["liquid"]
    with pytest.raises(SchemaError):
        label_phases(lv, [0])


# ---------------------------------------------------------------- issue 14: determinism, pickling, intervals
def _fingerprint(res):
    """Everything a figure would show, as JSON text (bit-identical comparison)."""
    d = res.to_dict()
    d.pop("path")
    d["attrs"].pop("phasekit_version", None)
    return json.dumps(d, sort_keys=True)


def test_same_call_same_answer_by_default():
    ds, _ = _three_phase_samples(seed=4)
    a, b = detect_boundaries(ds), detect_boundaries(ds)
    assert _fingerprint(a) == _fingerprint(b)
    from phasekit.transitions import DEFAULT_SEED
    assert a.attrs["seed"] == DEFAULT_SEED
    da, _ = _step_series(seed=3)
    assert _fingerprint(detect_boundaries(da)) == _fingerprint(detect_boundaries(da))
    assert detect_boundaries(da, seed=None).attrs["seed"] == "fresh entropy (seed=None)"


def test_numpy_and_dask_input_give_identical_results():
    pytest.importorskip("dask")
    ds, _ = _three_phase_samples(seed=5)
    lazy = ds.chunk({"checkpoint": 7})
    assert _fingerprint(detect_boundaries(ds)) == _fingerprint(detect_boundaries(lazy))
    da, _ = _step_series(seed=3)
    assert _fingerprint(detect_boundaries(da)) == _fingerprint(detect_boundaries(da.chunk({"checkpoint": 20})))


def test_identical_across_processes():
    import os
    import subprocess
    import sys

    code = ("import json, numpy as np, xarray as xr\n"
            "from phasekit.transitions import detect_boundaries\n"
            "x = np.random.default_rng(3).normal(size=60); x[20:] += 4; x[40:] -= 3\n"
            "d = detect_boundaries(xr.DataArray(x, dims='checkpoint')).to_dict()\n"
            "d.pop('path'); d['attrs'].pop('phasekit_version'); print(json.dumps(d, sort_keys=True))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.strip()
    x = np.random.default_rng(3).normal(size=60)
    x[20:] += 4
    x[40:] -= 3
    here = detect_boundaries(xr.DataArray(x, dims="checkpoint"))
    assert out == _fingerprint(here)
    assert len(here.indices) == 2


def test_scan_and_seed_attribution_resampling_is_deterministic_by_default():
    from phasekit.changepoints import divergence_scan
    from phasekit.observables import seed_attribution

    ds, _ = _three_phase_samples(seed=6)
    a, b = seed_attribution(ds, n_bootstrap=30), seed_attribution(ds, n_bootstrap=30)

    def same(x: np.ndarray, y: np.ndarray) -> bool:
        return np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")

    differ = [v for v in a.variables if not same(a[v].values, b[v].values)]
    assert not differ, differ
    s1, s2 = divergence_scan(ds, n_null=30), divergence_scan(ds, n_null=30)
    assert np.array_equal(s1.values, s2.values, equal_nan=True)
    assert np.array_equal(s1["p_value"].values, s2["p_value"].values, equal_nan=True)
    assert "seed" in s1.attrs and "seed" in a.attrs


def test_results_pickle_round_trip():
    import pickle

    for data in (_three_phase_samples(seed=7)[0], _step_series(seed=9)[0]):
        res = detect_boundaries(data, n_bootstrap=50)
        back = pickle.loads(pickle.dumps(res))
        assert back == res
        assert _fingerprint(back) == _fingerprint(res)
        assert back.path.equals(res.path)
        assert back.search_fn(res.penalty) == res.search_fn(res.penalty)


def test_every_interval_contains_its_estimate_and_is_half_open():
    """(lower, upper]: the change happened after the checkpoint at lower and by upper."""
    for seed in range(3):
        for data in (_three_phase_samples(seed=seed)[0], _step_series(seed=seed)[0]):
            res = detect_boundaries(data, n_bootstrap=100)
            for loc, (lo, hi) in zip(res.locations, res.intervals, strict=True):
                assert lo < loc <= hi  # never zero width: at least one checkpoint spacing
            for b, loc in zip(res.evidence["boundaries"], res.indices, strict=True):
                first, last = b["interval_index"]
                assert first <= loc <= last


def test_p_values_at_the_resampling_floor_are_bounds():
    ds, _ = _three_phase_samples(seed=0)
    res = detect_boundaries(ds, n_bootstrap=99)
    ev = res.evidence
    assert ev["p_value_floor"] == pytest.approx(0.01)
    assert ev["p_value_at_floor"] and ev["p_value_text"] == "< 0.01 (1/100)"
    assert all(b["p_value_text"].startswith("< ") == b["p_value_at_floor"] for b in ev["boundaries"])
    assert "p = < 0.01" in repr(res) or "p = <" in repr(res)


def test_a_sharp_change_in_a_short_run_is_found_and_the_null_assumption_recorded():
    """8 checkpoints, uniform over 10 states -> 0.7 on one state: the drift estimate must not
    absorb the change itself (it did: phi = 18.9, p = 0.33); a flat short run stays quiet."""
    rng = np.random.default_rng(3)
    q, T = 10, 8
    after = np.full(q, 0.3 / (q - 1))
    after[3] = 0.7
    tok = np.stack([rng.choice(q, size=(6, 8, 20), p=np.full(q, 1 / q) if t < T // 2 else after)
                    for t in range(T)])
    coords = {"checkpoint": np.arange(T), "step": ("checkpoint", np.arange(T) * 100)}
    ds = xr.Dataset({"token": (("checkpoint", "prompt", "sample", "position"), tok)}, coords=coords,
                    attrs={"n_states": q})
    r = detect_boundaries(ds, control="checkpoint")
    assert list(r.locations) == [400]
    assert "not measurable" in r.evidence["over_dispersion"]
    flat = ds.copy(data={"token": rng.integers(0, q, size=tok.shape)})
    assert len(detect_boundaries(flat, control="checkpoint").locations) == 0


# ---------------------------------------------------------------- issue 15: vocabulary, plain data, old paths
def test_control_vocabulary_and_the_dim_alias():
    """control= names the dim; dim= is an alias that warns; control= naming a non-dim
    coordinate (the old meaning) takes the control values from it."""
    da, steps = _step_series(seed=3)
    new = detect_boundaries(da, control="checkpoint")
    with pytest.warns(DeprecationWarning, match="control="):
        old = detect_boundaries(da, dim="checkpoint")
    assert new == old
    by_coord = detect_boundaries(da, control="step")
    assert by_coord.locations == new.locations == [steps[i] for i in new.indices]
    other = da.assign_coords(half=("checkpoint", steps / 2))
    assert detect_boundaries(other, control="half").locations == [steps[i] / 2 for i in new.indices]
    renamed = da.rename(checkpoint="temperature")
    assert detect_boundaries(renamed, control="temperature").indices == new.indices
    with pytest.raises(TypeError):
        detect_boundaries(da, "checkpoint")  # keyword-only after the data
    with pytest.raises(SchemaError):
        detect_boundaries(da, control="temperature")
    lv = phase_levels(_three_phase_samples(seed=1)[0], control="checkpoint")
    with pytest.warns(DeprecationWarning):
        lab = label_phases(lv, [10, 20], dim="checkpoint", n_states=6)
    assert lab.identical(label_phases(lv, [10, 20], control="checkpoint", n_states=6))


def test_boundary_result_is_plain_data_with_a_dataset_form():
    import pickle

    ds, steps = _three_phase_samples(seed=0)
    res = detect_boundaries(ds, n_bootstrap=99)
    assert res == pickle.loads(pickle.dumps(res))
    assert not any(callable(v) and not hasattr(v, "__dataclass_fields__") for v in vars(res).values())
    out = res.to_dataset()
    np.testing.assert_array_equal(out["location"].values, [steps[10], steps[20]])
    lo, hi = out["location_lower"].values, out["location_upper"].values
    assert np.all(lo < out["location"].values) and np.all(out["location"].values <= hi)
    assert out["location_lower"].attrs["confidence"] == pytest.approx(0.95)
    assert list(out["p_value_text"].values) == ["< 0.01 (1/100)", "< 0.01 (1/100)"]
    assert out.attrs["no_change_p_value_text"] == "< 0.01 (1/100)"
    assert out["phase"].dims == ("checkpoint",)
    assert out.identical(pickle.loads(pickle.dumps(res)).to_dataset())
    assert detect_boundaries(ds, n_bootstrap=99, seed=1) != res  # other draws: other statistics


def test_old_import_paths_keep_working():
    import phasekit as pk
    import phasekit.cpmetrics as cpm
    import phasekit.transitions as tr
    from phasekit.changepoints import margin_f1, segmentation_covering

    assert tr.detect_boundaries is pk.detect_boundaries is detect_boundaries
    assert tr.BoundaryResult is pk.BoundaryResult is BoundaryResult
    assert cpm.margin_f1 is margin_f1 and cpm.segmentation_covering is segmentation_covering
    assert pk.scan_peaks is __import__("phasekit.changepoints.scan").changepoints.scan.scan_peaks


def test_samples_path_identical_across_processes():
    """Bit-identical samples-path result in a fresh interpreter (another hash seed)."""
    import os
    import subprocess
    import sys

    here = os.path.dirname(__file__)
    code = (f"import sys\nsys.path.insert(0, {here!r})\n"
            "from test_transitions import _three_phase_samples, _fingerprint\n"
            "from phasekit.changepoints import detect_boundaries\n"
            "print(_fingerprint(detect_boundaries(_three_phase_samples(seed=8)[0], n_bootstrap=60)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "777"}).stdout.strip()
    assert out == _fingerprint(detect_boundaries(_three_phase_samples(seed=8)[0], n_bootstrap=60))


def test_an_ensemble_gives_the_same_boundaries_as_its_dataset():
    import phasekit as pk

    ds, _ = _three_phase_samples(seed=3)
    a = detect_boundaries(ds, n_bootstrap=60)
    b = detect_boundaries(pk.ensemble(ds, system="sample"), n_bootstrap=60)
    assert a.indices == b.indices and a.locations == b.locations and a.intervals == b.intervals
    assert a.evidence["p_value"] == b.evidence["p_value"]
