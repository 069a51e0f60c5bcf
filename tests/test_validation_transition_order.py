"""Validation of the anatomy of a transition against exact results and generator truth.

* Transition order on 2D q-state Potts samples (Swendsen-Wang): q = 2 (Ising) and q = 3
  are continuous, q = 10 is first order (Baxter 1973; Wu 1982); independent spins with a
  smoothly rising bias are a crossover (no interaction, chi bounded).
* Seed attribution names the generator's true seed prompt in >= 90 % of synthetic
  crystallisation runs, and the settled distribution stays on the seed's support.
* The divergence scan peaks within 2 checkpoints of the true boundaries.

The fast tests use small lattices (L = 6..16) and 100 samples per temperature; the slow
ones (``-m slow``) check the growth exponent of chi_max against gamma/(nu d) and repeat
the crystallisation checks on more runs.

Issue 14, item 7 (transition order with little evidence): "conclusive" only at the stated
error rate (calibrated by simulation of each class with the data's layout). At 100
replicas per temperature every class is named correctly and conclusively; at 4 replicas
the answer is "not conclusive" with what would settle it (today: "crossover, conclusive"
for Ising data); over many generated datasets of known class the share of conclusive
wrong answers is at most the stated rate (slow).
"""

from __future__ import annotations

import importlib.util
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _order_data import first_order_replicas as _m_first_order

import phasekit as pk
from phasekit.datasets.crystallisation import crystallisation_run
from phasekit.datasets.potts import biased_spins, critical_temperature, potts_by_size
from phasekit.errors import SchemaError
from phasekit.observables import magnetization
from phasekit.scaling import TransitionClass, classify_transition

# the seed attribution and the divergence scan live with the change points / observables
divergence_scan, scan_peaks, seed_attribution = pk.divergence_scan, pk.scan_peaks, pk.seed_attribution

SIZES = [6, 8, 12, 16]


def _potts_m(q: int, sizes, n_samples: int, n_t: int, seed: int, **kw):
    """Order parameter per configuration on a temperature window around each size's
    pseudo-transition: continuous, T/T_c = 1 + [-0.5, 2]/L (the chi peak of small lattices
    sits above T_c, shifted ~ L^(-1/nu)); first order, T/T_c = 1 + [-0.75, 0.75]/L."""
    tc = critical_temperature(q)
    span = (-0.5, 2.0) if q <= 4 else (-0.75, 0.75)
    gen = potts_by_size(q, sizes, lambda L: tc * (1 + np.linspace(*span, n_t) / L), n_samples,
                        seed=seed, **kw)
    return {L: magnetization(ds, system="position") for L, ds in gen.data.items()}


@pytest.mark.parametrize("q", [2, 3])
def test_potts_q2_q3_are_continuous(q):
    res = classify_transition(_potts_m(q, SIZES, 100, 9, seed=q, n_equilibrate=50),
                              replica="sample", control="temperature")
    assert res.kind == "continuous", res.reason
    ev = res.evidence
    assert not bool(ev.bimodal.sel(size=16))
    # chi_max grows, with an exponent in N below 1 (exact gamma/(nu d) = 7/8 and 13/15)
    assert 0.6 < ev.attrs["exponent_N"] < 1.1
    assert ev.attrs["delta_aic"] > 10


def test_potts_q10_is_first_order():
    res = classify_transition(_potts_m(10, SIZES, 100, 9, seed=10, n_equilibrate=50),
                              replica="sample", control="temperature")
    assert res.kind == "first_order", res.reason
    ev = res.evidence
    assert bool(ev.bimodal.sel(size=16))
    # the two phases separate more with size: the valley between the modes deepens
    assert ev.valley_ratio.sel(size=16) < ev.valley_ratio.sel(size=6)
    assert ev.attrs["exponent_N"] > 0.85        # chi_max ~ N (faster at sizes below xi)


def test_biased_independent_spins_are_a_crossover():
    gen = biased_spins(3, SIZES, np.linspace(0.0, 1.0, 9), 100, seed=4)
    m = {L: magnetization(ds, system="position") for L, ds in gen.data.items()}
    res = classify_transition(m, replica="sample", control="control")
    assert res.kind == "crossover", res.reason
    assert abs(res.evidence.attrs["exponent_N"]) < 0.25


def test_adequate_replicas_give_the_true_class_conclusively():
    """100 replicas per temperature: the true class at the stated error rate (5 %)."""
    cases = [(2, "continuous"), (10, "first_order")]
    for q, truth in cases:
        res = classify_transition(_potts_m(q, SIZES, 100, 9, seed=q, n_equilibrate=50),
                                  replica="sample", control="temperature")
        assert (res.kind, res.conclusive) == (truth, True), res.reason
        assert res.error_rate <= res.error_rate_target == 0.05
    gen = biased_spins(3, SIZES, np.linspace(0.0, 1.0, 9), 100, seed=4)
    res = classify_transition({L: magnetization(ds, system="position") for L, ds in gen.data.items()},
                              replica="sample", control="control")
    assert (res.kind, res.conclusive) == ("crossover", True), res.reason


def test_four_replicas_per_size_is_not_conclusive():
    """Ising (q = 2) with 4 replicas per temperature: today "crossover, conclusive: True"
    (a confident wrong answer). Now not conclusive, with the error rate and what would
    settle it; the same for q = 10 (first order)."""
    for q, seed in ((2, 52), (10, 50)):
        res = classify_transition(_potts_m(q, SIZES, 4, 9, seed=seed, n_equilibrate=50),
                                  replica="sample", control="temperature")
        assert not res.conclusive, res.reason
        assert res.error_rate > res.error_rate_target
        assert "NOT conclusive at the stated error rate 0.05" in res.reason
        assert res.to_settle and ("replicas" in res.to_settle)
        ev = res.evidence.attrs
        assert ev["calibration_seed"] == 0 and ev["calibration_n_sim"] == 100
        assert np.asarray(ev["calibration_claims"]).shape == (9,)


def test_calibration_is_deterministic_and_plain_data():

    m = _potts_m(2, SIZES, 4, 9, seed=52, n_equilibrate=50)
    a = classify_transition(m, replica="sample", control="temperature")
    b = classify_transition(m, replica="sample", control="temperature")
    assert a.reason == b.reason and a.error_rate == b.error_rate
    np.testing.assert_array_equal(a.evidence.attrs["calibration_claims"],
                                  b.evidence.attrs["calibration_claims"])
    c = pickle.loads(pickle.dumps(a))
    assert (c.kind, c.conclusive, c.to_settle) == (a.kind, a.conclusive, a.to_settle)


def test_single_size_says_what_cannot_be_concluded():
    res = classify_transition(_potts_m(10, [12], 100, 9, seed=11, n_equilibrate=50))
    assert not res.conclusive
    assert res.kind == "first_order"          # the bimodality is visible at one size
    assert "one size" in res.reason


# ------------------------------------------- classification on synthetic data (from test_anatomy)
def _m_crossover(sizes, controls, n_rep, rng):
    """Independent spins: m ~ |Normal(b(c), 1/N)|, chi bounded."""
    out = {}
    for L in sizes:
        N = L * L
        b = 1 / (1 + np.exp(-(controls - 0.5) / 0.1))
        m = np.abs(b[:, None] + rng.normal(0, 1 / math.sqrt(N), (controls.size, n_rep)))
        out[L] = xr.DataArray(m, dims=("control", "sample"), coords={"control": controls},
                              attrs={"N": N})
    return out


def test_classify_synthetic_first_order_and_crossover():
    rng = np.random.default_rng(5)
    controls = np.linspace(0.4, 0.6, 41)
    fo = classify_transition(_m_first_order([6, 8, 12, 16], controls, 300, rng), replica="sample")
    assert isinstance(fo, TransitionClass) and fo.kind == "first_order"
    # the closest continuous model (Gaussian, chi ~ N^0.875) shows a KDE bimodality at the
    # largest size in ~5 % of its simulations (0.049 over 203), so this case sits at the
    # stated rate: conclusive exactly when the calibrated rate is within it
    assert fo.conclusive == (fo.error_rate <= fo.error_rate_target) and fo.error_rate <= 0.1
    assert fo.evidence.attrs["exponent_N"] == pytest.approx(1.0, abs=0.15)
    assert bool(fo.evidence.bimodal.sel(size=16))
    assert fo.evidence.attrs["dimension"] == pytest.approx(2.0)
    co = classify_transition(_m_crossover([6, 8, 12, 16], np.linspace(0, 1, 21), 300, rng))
    assert co.kind == "crossover"
    assert abs(co.evidence.attrs["exponent_N"]) < 0.25
    assert co.evidence.attrs["delta_aic"] < 2 or co.evidence.attrs["exponent_N"] < 0.25
    json.dumps(co.to_dict())
    assert "crossover" in repr(co)


def test_classify_single_size_is_inconclusive_and_input_forms():
    rng = np.random.default_rng(1)
    controls = np.linspace(0.4, 0.6, 21)
    one = classify_transition({16: _m_first_order([16], controls, 200, rng)[16]})
    assert not one.conclusive and "one size" in one.reason and one.kind == "first_order"
    ms = _m_crossover([6, 12], controls, 100, rng)
    # a DataArray with a size dim and an N coordinate
    stacked = xr.concat([ms[6], ms[12]], dim="size").assign_coords(size=[6, 12], N=("size", [36, 144]))
    a = classify_transition(stacked, n_calibration=0)
    b = classify_transition({k: v.drop_attrs() for k, v in ms.items()}, n_by_size={6: 36, 12: 144},
                            n_calibration=0)
    c = classify_transition({k: v.drop_attrs() for k, v in ms.items()}, dimension=2, n_calibration=0)
    for other in (b, c):
        np.testing.assert_allclose(a.evidence.chi_max.values, other.evidence.chi_max.values)
    with pytest.raises(SchemaError):
        classify_transition({k: v.drop_attrs() for k, v in ms.items()})       # N unknown
    with pytest.raises(SchemaError):
        classify_transition(ms, replica="chain")
    with pytest.raises(SchemaError):
        classify_transition({})
    with pytest.raises(SchemaError):
        classify_transition({6: ms[6].expand_dims(model=2)})


def test_susceptibility_and_binder_values_are_exact():
    """chi and U of the evidence follow the textbook formulas on a two-point distribution."""
    # m = 0 or 1 with equal weight at the middle control point: chi = N/4, U = 1 - 1/(3*0.5) = 1/3
    m = np.zeros((3, 400))
    m[1, ::2] = 1.0
    m[0] = np.tile([0.1, 0.2], 200)
    m[2] = np.tile([0.8, 0.9], 200)
    da = xr.DataArray(m, dims=("control", "sample"), coords={"control": [0.0, 1.0, 2.0]}, attrs={"N": 100})
    res = classify_transition({10: da})
    ev = res.evidence.sel(size=10)
    n = m.shape[1]
    # bias corrected, as pk.susceptibility: N times the ddof = 1 variance
    assert ev.chi_max.item() == pytest.approx(100 * 0.25 * n / (n - 1))
    assert ev.chi_argmax.item() == 1.0

    def u(x):
        return 1 - (x**4).mean() / (3 * (x**2).mean() ** 2)

    loo = np.mean([u(np.delete(m[1], i)) for i in range(n)])
    assert u(m[1]) == pytest.approx(1 / 3)
    assert ev.binder_min.item() == pytest.approx(n * u(m[1]) - (n - 1) * loo)  # jackknife corrected
    assert bool(ev.bimodal)


def test_classify_uses_step_coordinate_of_checkpoints():
    rng = np.random.default_rng(2)
    ms = _m_first_order([6, 12], np.linspace(0.4, 0.6, 21), 200, rng)
    steps = np.linspace(400, 600, 21)
    relabelled = {
        L: m.rename(control="checkpoint").assign_coords(
            checkpoint=[f"ckpt-{i:02d}" for i in range(21)], step=("checkpoint", steps))
        for L, m in ms.items()
    }
    res = classify_transition(relabelled, replica="sample", control="checkpoint", n_calibration=0)
    assert res.kind == "first_order"
    assert 400 <= res.evidence.chi_argmax.sel(size=12).item() <= 600


# --------------------------------------------------------------------------- crystallisation
def _named_seed(ds, truth, res) -> str:
    """The run's seed: the most frequent consensus seed once the nucleation ramp is over
    (before any settling)."""
    b = truth["boundary_index"]
    end = b[1] if len(b) > 1 else ds.sizes["checkpoint"]
    labels, counts = np.unique(res.consensus_seed.values[b[0] + 3 : end], return_counts=True)
    return labels[np.argmax(counts)]


def _last_base(ds) -> list:
    """Reference: the last five base checkpoints, pooled (the base model's late behaviour;
    pooling beats the last checkpoint alone, whose 16 samples per prompt are too few)."""
    base = np.flatnonzero(ds.stage.values == "base")
    return list(ds.checkpoint.values[base[-5:]])


def _mean_js(p, r):
    """Exact JS divergence (nats) between true distributions, averaged over prompts."""
    from scipy.special import rel_entr

    m = 0.5 * (p + r)
    return float(np.mean(0.5 * rel_entr(p, m).sum(-1) + 0.5 * rel_entr(r, m).sum(-1)))


def _true_retention(ds, truth, reference) -> float:
    """Exact share of the final distribution on the true seed prompt's 90 % support."""
    pos = [list(ds.checkpoint.values).index(c) for c in reference]
    j = list(ds.prompt.values).index(truth["seed_prompt"])
    ref = truth["probabilities"][pos, j].mean(axis=0)
    order = np.argsort(-ref, kind="stable")
    k = int(np.searchsorted(np.cumsum(ref[order]), 0.9 - 1e-12) + 1)
    return float(truth["probabilities"][-1].mean(axis=0)[order[:k]].sum())


def _check_runs(seeds):
    named, retention, scan_ok, peaks_ok, settling_found = [], [], [], [], []
    for s in seeds:
        ds, truth = crystallisation_run(seed=s)
        reference = _last_base(ds)
        res = seed_attribution(ds, reference=reference, n_bootstrap=20, seed=s)
        named.append(_named_seed(ds, truth, res) == truth["seed_prompt"])
        est = res.support_retention.isel(checkpoint=-1)
        se = float(np.sqrt((res.support_retention_stderr.isel(checkpoint=-1) ** 2).mean()))
        retention.append((float(est.mean()), _true_retention(ds, truth, reference), se))
        scan = divergence_scan(ds, window=3, n_null=60, seed=s)
        peaks = scan_peaks(scan)
        idx = np.array([list(ds.checkpoint.values).index(c) for c in peaks.checkpoint.values])
        bounds = np.asarray(truth["boundary_index"])
        probs = truth["probabilities"]
        # every peak is within 2 checkpoints of a true boundary
        peaks_ok.append(all(np.min(np.abs(bounds - i)) <= 2 for i in idx))
        # the nucleation boundary always has a peak within 2 checkpoints; a settling boundary
        # must be found when the true change it makes is visible (mean JS >= 0.05 nats)
        need = [bounds[0]]
        if len(bounds) > 1 and _mean_js(probs[bounds[1] - 1], probs[bounds[1]]) >= 0.05:
            need.append(bounds[1])
            settling_found.append(bool(idx.size) and np.min(np.abs(idx - bounds[1])) <= 2)
        scan_ok.append(all(idx.size and np.min(np.abs(idx - b)) <= 2 for b in need))
    return (np.array(named), np.array(retention), np.array(scan_ok), np.array(peaks_ok),
            np.array(settling_found))


def test_seed_attribution_and_scan_on_crystallisation_runs():
    named, retention, scan_ok, peaks_ok, _ = _check_runs(range(1000, 1010))
    assert named.mean() >= 0.9, named
    # the final (finetuned / settled) behaviour stays on the seed's top support: the estimate
    # agrees with the exact share within 3 standard errors (the estimated support can miss a
    # state, so it errs low), and is high on average
    est, exact, se = retention.T
    assert np.all(np.abs(est - exact) <= 3 * se + 0.01), retention
    assert est.mean() >= 0.95
    assert scan_ok.all(), scan_ok
    assert peaks_ok.all(), peaks_ok


def test_divergence_scan_on_flat_runs_stays_low():
    """Without a transition (only the liquid drift), the scan's largest value is well below
    the nucleation peaks (JS ~ 0.2 nats with 12 prompts x 16 samples x 3 checkpoints)."""
    highest = []
    for s in range(2000, 2005):
        ds, _ = crystallisation_run(seed=s, transition=False)
        highest.append(float(np.nanmax(divergence_scan(ds, n_null=0).values)))
    assert max(highest) < 0.15, highest


# --------------------------------------------------------------------------- slow
@pytest.mark.slow
@pytest.mark.parametrize("q, exact", [(2, 7 / 8), (3, 13 / 15)])
def test_potts_growth_exponent_matches_gamma_over_nu_d(q, exact):
    """chi_max ~ N^(gamma/(nu d)): 7/8 for Ising, 13/15 for q = 3 (Wu 1982)."""
    res = classify_transition(_potts_m(q, [8, 12, 16, 24], 400, 15, seed=100 + q, n_equilibrate=100))
    assert res.kind == "continuous" and res.conclusive, res.reason
    x, sx = res.evidence.attrs["exponent_N"], res.evidence.attrs["exponent_N_stderr"]
    assert abs(x - exact) < max(3 * sx, 0.1), (x, sx)
    # the Binder curves of successive sizes cross near the exact T_c = 1/ln(1 + sqrt(q))
    crossings = np.atleast_1d(res.evidence.attrs["binder_crossing_locations"])
    assert crossings.size >= 1
    assert abs(np.median(crossings) / critical_temperature(q) - 1) < 0.04, crossings


@pytest.mark.slow
def test_potts_q10_first_order_at_larger_sizes():
    res = classify_transition(_potts_m(10, [8, 12, 16, 24], 300, 15, seed=110, n_equilibrate=100))
    assert res.kind == "first_order" and res.conclusive, res.reason
    assert res.evidence.attrs["exponent_N"] > 0.9


@pytest.mark.slow
def test_crystallisation_checks_on_many_runs():
    named, retention, scan_ok, peaks_ok, settling = _check_runs(range(4000, 4040))
    assert named.mean() >= 0.9
    est, exact, se = retention.T
    assert np.mean(np.abs(est - exact) <= 3 * se + 0.01) >= 0.95 and est.mean() >= 0.95
    assert scan_ok.mean() >= 0.95
    assert peaks_ok.mean() >= 0.9
    assert settling.size == 0 or settling.mean() >= 0.9


@pytest.mark.slow
def test_measured_error_rate_at_most_the_stated_one():
    """Generated data of each class (q = 10 Potts first order, q = 2 Potts continuous,
    biased independent spins crossover) at 4 and 16 replicas, 6 seeds each: for every true
    class, the share of runs answered conclusively and wrongly is at most the stated 5 %
    (today: 2 of the 12 Ising runs, "crossover, conclusive"). The search for what would
    settle an inconclusive answer (two thirds of the time) is skipped, ``settle=False``: it
    runs after the calibration and cannot change the verdict (checked on the first runs)."""
    wrong = {"first_order": 0, "continuous": 0, "crossover": 0}
    n = dict.fromkeys(wrong, 0)
    for reps in CLASS_CASES.REPLICAS:
        for i, seed in enumerate(CLASS_CASES.seeds(reps)):
            for truth, m, ctrl in CLASS_CASES.load(reps, seed):
                res = classify_transition(m, replica="sample", control=ctrl, settle=False)
                if i == 0 and reps == 4:
                    full = classify_transition(m, replica="sample", control=ctrl)
                    assert (full.kind, full.conclusive, full.error_rate) == (
                        res.kind, res.conclusive, res.error_rate)
                    assert full.conclusive or full.to_settle
                    assert "not searched" in res.to_settle or res.conclusive
                n[truth] += 1
                wrong[truth] += bool(res.conclusive and res.kind != truth)
    for truth in wrong:
        assert wrong[truth] / n[truth] <= 0.05, (truth, wrong, n)


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: the 36 datasets of known class, generated once and cached exactly (~20 s to generate)
CLASS_CASES = _load_script(Path(__file__).parent / "fixtures" / "transition_order"
                           / "make_class_cases.py")


@pytest.mark.slow
def test_class_cases_fixture_is_the_generator_output():
    """The cached datasets are what the generators draw today (first seed, 4 replicas),
    and they are the layout this module's generator gives (sizes, grids, N)."""
    reps, seed = 4, CLASS_CASES.seeds(4)[0]
    assert tuple(SIZES) == CLASS_CASES.SIZES
    for (kind, fresh, ctrl), (kind2, cached, ctrl2) in zip(
            CLASS_CASES.generate(reps, seed), CLASS_CASES.load(reps, seed), strict=True):
        assert (kind, ctrl) == (kind2, ctrl2)
        for L in SIZES:
            a = fresh[L].transpose(ctrl, "sample")
            np.testing.assert_array_equal(a.values, cached[L].values)
            np.testing.assert_array_equal(a[ctrl].values, cached[L][ctrl].values)
            assert a.attrs["N"] == cached[L].attrs["N"]
    np.testing.assert_array_equal(
        _potts_m(2, SIZES, reps, 9, seed=seed, n_equilibrate=50)[8].values,
        CLASS_CASES.load(reps, seed)[1][1][8].values)


def test_to_settle_says_only_what_was_simulated(monkeypatch):
    """An independent audit (2026-12-03) found 17 of 318 runs whose advice said "Up to f
    times the replicas do not separate the classes" for an f the simulation budget had
    stopped before simulating. The claims are counted here: the text names the largest
    factor simulated, or says that none could be."""
    from phasekit.scaling import order

    simulated: list[int] = []

    def no_separation(models, layout, rng, n_scan, f, *args):
        simulated.append(f)
        return np.full((3, 3), 1 / 3)

    monkeypatch.setattr(order, "_claims", no_separation)
    layout = [(8, 64.0, np.zeros(11), np.zeros((11, 16)))]  # 176 values: 52,800 f per factor at n_scan 100
    rng = np.random.default_rng(0)
    out = order._replicas_to_settle({}, layout, rng, None, 0.25, 0.05, 100, budget=3e5)
    assert simulated == [2] and out["largest_factor_simulated"] == 2
    assert out["text"].startswith("Up to 2 times the replicas") and math.isnan(out["factor"])
    simulated.clear()
    out = order._replicas_to_settle({}, layout, rng, None, 0.25, 0.05, 100, budget=1e4)
    assert simulated == [] and out["largest_factor_simulated"] == 0
    assert "does not allow checking 2 times" in out["text"]
    simulated.clear()
    out = order._replicas_to_settle({}, layout, rng, None, 0.25, 0.05, 100, budget=1e9)
    assert simulated == [2, 4, 8, 16, 32] and out["text"].startswith("Up to 32 times")
