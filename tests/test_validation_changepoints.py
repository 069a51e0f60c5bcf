"""Change-point accuracy on synthetic crystallisation runs with known boundaries.

Runs from ``phasekit.datasets.crystallisation_run``: irregular (log-spaced) steps, 12
prompts x 16 samples per checkpoint, q = 10, per-prompt distributions drifting in the
liquid phase (a logit random walk: real change that is not a transition), nucleation
spread over 3 checkpoints, and a settling change in about half of the runs. Scored with
margin F1 (margin = 2 checkpoints, van den Burg & Williams 2020) against the
generator's ``boundary_index``; flat runs (``transition=False``) must give no boundary.

The reference the issue quotes (plain ruptures Pelt on prompt-averaged entropy and
magnetisation: F1 about 0.78, false alarms in 6 of 10 flat runs) is recomputed in the
slow test, side by side.
"""

import itertools
import math

import numpy as np
import pytest
import ruptures as rpt

from phasekit.changepoints import (
    CostMeanShift,
    detect_boundaries,
    interval_coverage,
    margin_f1,
    optimal_partition,
    phase_levels,
)
from phasekit.datasets.crystallisation import crystallisation_run, drifting_jump_run


def _score(seeds, n_bootstrap):
    f1s, phase_ok, covered = [], [], []
    for s in seeds:
        ds, truth = crystallisation_run(seed=s)
        res = detect_boundaries(ds, seed=s, n_bootstrap=n_bootstrap)
        f1s.append(margin_f1(truth["boundary_index"], res.indices, margin=2))
        # locations are the steps of the detected checkpoints (irregular grid)
        assert res.locations == [float(ds["step"].values[i]) for i in res.indices]
        phase_ok.append(np.mean(np.asarray(res.phases.values) == np.asarray(truth["phases"])))
        # bootstrap intervals (in steps) of the detected true boundaries hold the true step
        for true_step, true_idx in zip(truth["boundaries"], truth["boundary_index"], strict=True):
            for idx, (lo, hi) in zip(res.indices, res.intervals, strict=True):
                if abs(idx - true_idx) <= 2:
                    covered.append(lo <= true_step <= hi)
    return np.array(f1s), np.array(phase_ok), np.array(covered)


def _false_alarms(seeds, n_bootstrap):
    return sum(
        len(detect_boundaries(crystallisation_run(seed=s, transition=False)[0], seed=s,
                              n_bootstrap=n_bootstrap).indices) > 0
        for s in seeds
    )


def test_crystallisation_boundaries_fast():
    f1, phases, covered = _score(range(100, 105), n_bootstrap=100)
    # 5 runs: one undetectable settling change (two nearly equal masses swapped) would
    # cost 0.2 of one run's F1, so the fast check allows mean >= 0.9
    assert f1.mean() >= 0.9
    assert np.median(phases) >= 0.9
    assert covered.mean() >= 0.8
    assert _false_alarms(range(200, 204), n_bootstrap=100) == 0


def _plain_ruptures(ds):
    lv = phase_levels(ds)
    x = np.column_stack([lv["entropy"].values, lv["magnetization"].values])
    x = (x - x.mean(0)) / x.std(0)
    bk = rpt.Pelt(model="l2", min_size=2, jump=1).fit(x).predict(pen=2 * np.log(len(x)))
    return [b for b in bk if b < len(x)]


@pytest.mark.slow
def test_crystallisation_boundaries_full():
    seeds = range(20)
    f1, phases, covered = _score(seeds, n_bootstrap=200)
    assert f1.mean() >= 0.95
    assert np.mean(phases) >= 0.9
    assert covered.mean() >= 0.9  # 95 % intervals
    alarms = _false_alarms(range(1000, 1020), n_bootstrap=200)
    assert alarms <= 2  # no boundary in >= 90 % of flat runs
    # the plain-ruptures reference on the same runs does clearly worse
    ref = np.mean([margin_f1(crystallisation_run(seed=s)[1]["boundary_index"],
                             _plain_ruptures(crystallisation_run(seed=s)[0]), margin=2)
                   for s in seeds])
    ref_alarms = sum(len(_plain_ruptures(crystallisation_run(seed=s, transition=False)[0])) > 0
                     for s in range(1000, 1020))
    print(f"phasekit F1 {f1.mean():.3f}, {alarms}/20 flat alarms, interval coverage "
          f"{covered.mean():.2f} of {covered.size}, phases right {np.mean(phases):.3f}; "
          f"plain ruptures F1 {ref:.3f}, {ref_alarms}/20 flat alarms")
    assert f1.mean() > ref
    assert alarms < ref_alarms or ref_alarms == 0


@pytest.mark.slow
def test_crystallisation_wide_nucleation_and_strong_drift():
    """A nucleation spread over 5 checkpoints is one boundary; doubled drift is no boundary."""
    f1 = []
    for s in range(8):
        ds, truth = crystallisation_run(seed=s, nucleation_width=5)
        res = detect_boundaries(ds, seed=s, n_bootstrap=100)
        f1.append(margin_f1(truth["boundary_index"], res.indices, margin=2))
    assert np.mean(f1) >= 0.95
    alarms = sum(
        len(detect_boundaries(crystallisation_run(seed=500 + s, transition=False, liquid_drift=0.3)[0],
                              seed=s, n_bootstrap=100).indices) > 0
        for s in range(8)
    )
    assert alarms <= 1


# ---------------------------------------------------------------- issue 14: exact search, consistency
# Runs with known jumps: every prompt's logits jump at two checkpoints (all prompts move,
# each its own way), on top of a logit random walk (drift: real change that is not a
# transition) and, in "jitter", a Dirichlet redraw of every (checkpoint, prompt)
# distribution (over-dispersion). 40 checkpoints, 24 prompts x 8 samples, q = 10.
SCENARIOS = {
    "strong_drift": {"jump": 1.0, "drift": 0.15, "conc": None},
    "moderate": {"jump": 0.7, "drift": 0.05, "conc": None},
    "jitter": {"jump": 0.8, "drift": 0.05, "conc": 200.0},
}
NULLS = {"null_drift": {"jump": 0.0, "drift": 0.15, "conc": None},
         "null_jitter": {"jump": 0.0, "drift": 0.05, "conc": 200.0}}


jump_run = drifting_jump_run


def _counts(ds):
    """Dense counts (T, P, q) written out here, independent of phasekit's counting."""
    tok = ds["token"].values
    q = int(ds.attrs["n_states"])
    return np.stack([[np.bincount(tok[i, j][tok[i, j] >= 0], minlength=q) for j in range(tok.shape[1])]
                     for i in range(tok.shape[0])]).astype(float)


def _segment_cost(counts, a, b, phi, charge):
    """-2 log L of one categorical per prompt on [a, b) / phi + charge * sum_p (k_p - 1)."""
    s = counts[a:b].sum(axis=0)
    n = s.sum(axis=1, keepdims=True)
    pos = s > 0
    dev = -2.0 * float(np.sum(s[pos] * np.log((s / np.where(n > 0, n, 1))[pos])))
    return dev / phi + charge * float(np.maximum(pos.sum(axis=1) - 1, 0).sum())


def _objective(counts, cps, phi, charge, pen):
    edges = [0, *sorted(cps), counts.shape[0]]
    return sum(_segment_cost(counts, a, b, phi, charge) for a, b in zip(edges[:-1], edges[1:], strict=True)) + pen * len(cps)


def _plain_dp(counts, phi, charge, pen, min_size=2):
    """Optimal partitioning without any pruning (Jackson et al. 2005), O(T^2)."""
    t_len = counts.shape[0]
    best = [math.inf] * (t_len + 1)
    best[0] = -pen
    for end in range(min_size, t_len + 1):
        for start in [0, *range(min_size, end - min_size + 1)]:
            v = best[start] + _segment_cost(counts, start, end, phi, charge) + pen
            best[end] = min(best[end], v)
    return best[t_len]


def _search_indices(res, ds):
    steps = list(ds["step"].values)
    return [steps.index(loc) for loc in res.search_fn(res.penalty)]


def test_default_search_is_exact_for_its_own_cost():
    """The pelt search returns the optimum of its penalised multinomial cost (an
    independent, unpruned DP written here), with the measured over-dispersion; ruptures'
    Pelt pruned valid starts (margin = penalty, but the cost has a per-segment charge)."""
    for s in range(3):
        ds, _ = jump_run(s, **SCENARIOS["strong_drift"])
        res = detect_boundaries(ds, test=False, n_bootstrap=50)
        counts = _counts(ds)
        phi, charge = res.evidence["phi"], math.log(counts.shape[0])
        got = _objective(counts, _search_indices(res, ds), phi, charge, res.penalty)
        assert got <= _plain_dp(counts, phi, charge, res.penalty) + 1e-6 * abs(got)


def test_exact_search_against_brute_force_enumeration():
    """Every segmentation of a short run (T = 12, segments >= 2) enumerated."""
    ds, _ = jump_run(3, jump=1.5, drift=0.1, conc=None, t=12, prompts=3, samples=20, q=4)
    res = detect_boundaries(ds, test=False, n_bootstrap=50, penalty=2.0)
    counts = _counts(ds)
    phi, charge = res.evidence["phi"], math.log(12)
    best = math.inf
    for m in range(0, 6):
        for cps in itertools.combinations(range(2, 11), m):
            edges = [0, *cps, 12]
            if min(np.diff(edges)) >= 2:
                best = min(best, _objective(counts, cps, phi, charge, 2.0))
    assert _objective(counts, _search_indices(res, ds), phi, charge, 2.0) == pytest.approx(best, rel=1e-9)


def test_result_never_contradicts_its_own_test():
    """A boundary is returned exactly when the no-change p-value is <= alpha, and every
    returned boundary passes its own test."""
    runs = [jump_run(s, **SCENARIOS["moderate"])[0] for s in range(3)]
    runs += [jump_run(50 + s, **NULLS["null_drift"])[0] for s in range(2)]
    for ds in runs:
        res = detect_boundaries(ds, n_bootstrap=100)
        assert (len(res.indices) > 0) == (res.evidence["p_value"] <= res.evidence["alpha"])
        assert all(b["p_value"] <= res.evidence["alpha"] for b in res.evidence["boundaries"])


def _contradictions(ds) -> list[tuple[int, float]]:
    """Returned boundaries whose own p-value exceeds alpha (and a global mismatch as -1)."""
    res = detect_boundaries(ds)
    alpha = res.evidence["alpha"]
    bad = [(b["index"], b["p_value"]) for b in res.evidence["boundaries"] if b["p_value"] > alpha]
    if (len(res.indices) > 0) != (res.evidence["p_value"] <= alpha):
        bad.append((-1, res.evidence["p_value"]))
    return bad


def _audit_ramp_run(run: int):
    """A layout of the independent audit of 2026-12-03 (not a tuning set): 30 checkpoints,
    4 prompts x 10 samples, q = 20, nucleation ramp and settling."""
    return crystallisation_run(n_checkpoints=30, n_prompts=4, n_samples=10, n_states=20, settling=True,
                               seed=[917000, 12, run]).data


def test_every_returned_boundary_passes_under_the_null_it_is_reported_with():
    """The audit's four runs (of 150) where a returned boundary failed its own test (p =
    0.055, 0.10, 0.070, 0.25 at alpha = 0.05): the growth step tested each round's set
    under the drift measured given the round before, and a merged ramp was reported with
    the test of its first cut alone. Now every cut passes under the null measured given
    exactly the cuts kept (``settle``) and a ramp is reported with the test of both its
    cuts."""
    for run in (70, 72, 73, 88):
        assert not _contradictions(_audit_ramp_run(run)), run


def test_series_search_is_exact_against_ruptures_dynp():
    """The series search (optimal partitioning with pruning) reaches the penalised optimum
    that ruptures' exact Dynp gives when the number of change points is enumerated."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(90, 2))
    x[30:, 0] += 2.0
    x[55:, 1] -= 1.5
    x[70:] += 0.8
    pen, min_size = 6.0, 5
    ours = optimal_partition(CostMeanShift().fit(x), 90, min_size, pen)
    l2 = rpt.costs.CostL2().fit(x)

    def objective(cps):
        edges = [0, *cps, 90]
        return sum(l2.error(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)) + pen * len(cps)

    dynp = rpt.Dynp(model="l2", min_size=min_size, jump=1).fit(x)
    best = min([objective([])] + [objective(dynp.predict(n_bkps=k)[:-1]) for k in range(1, 8)])
    assert objective(ours) == pytest.approx(best, rel=1e-10)


def test_a_boundary_leaves_min_size_either_side_and_passes_its_own_test():
    """A null run with Dirichlet jitter: the code before this session put a boundary at
    the last checkpoint (one checkpoint after it, below min_size = 2) with its own
    p-value 1.0 while reporting the run's no-change p-value as 0.005."""
    ds, _ = jump_run(919, **NULLS["null_jitter"])
    res = detect_boundaries(ds)
    n = ds.sizes["checkpoint"]
    assert all(2 <= i <= n - 2 for i in res.indices)
    assert (len(res.indices) > 0) == (res.evidence["p_value"] <= res.evidence["alpha"])
    assert all(b["p_value"] <= res.evidence["alpha"] for b in res.evidence["boundaries"])


def _hits(truth, pred, margin=1):
    """(true points matched, true points, predictions matching a true point, predictions)."""
    tp = sum(any(abs(t - x) <= margin for x in pred) for t in truth)
    good = sum(any(abs(t - x) <= margin for t in truth) for x in pred)
    return np.array([tp, len(truth), good, len(pred)])


@pytest.mark.slow
def test_jump_scenarios_precision_recall_coverage_and_null():
    """Precision and recall >= 0.9 within +-1 checkpoint in every scenario; intervals
    hold the true boundary; at most 5 % false alarms over the null runs (drift,
    Dirichlet jitter). "moderate" on runs 0-29: the code before this session reached
    recall 0.77 there (drift measured over the changes themselves masked them)."""
    covered = []
    runs = {"strong_drift": range(8), "moderate": range(30), "jitter": range(8)}
    for name, kw in SCENARIOS.items():
        acc = np.zeros(4)
        for s in runs[name]:
            ds, truth = jump_run(s, **kw)
            res = detect_boundaries(ds)
            acc += _hits(truth, res.indices)
            for b, idx in zip(res.evidence["boundaries"], res.indices, strict=True):
                near = [t for t in truth if abs(t - idx) <= 1]
                if near:
                    covered.append(b["interval_index"][0] <= near[0] <= b["interval_index"][1])
        recall, precision = acc[0] / acc[1], acc[2] / max(acc[3], 1)
        print(f"{name}: recall {recall:.2f} precision {precision:.2f}")
        assert recall >= 0.9 and precision >= 0.9, name
    # these jumps are located exactly (sets of one checkpoint): coverage is ~1 by
    # right, the calibration is checked where the location is uncertain (below)
    assert np.mean(covered) >= 0.9
    alarms = sum(len(detect_boundaries(jump_run(900 + s, **kw)[0]).indices) > 0
                 for kw in NULLS.values() for s in range(10))
    assert alarms <= 1  # <= 5 % of 20 null runs


@pytest.mark.slow
def test_three_phase_layouts_find_the_settling_boundary():
    """Mean margin-F1 (margin 2) >= 0.97 at every layout from 24 x 8 to 8 x 64 samples
    per checkpoint, on runs whose settling swap is detectable (the seed's two top masses
    differ by >= 0.1; a swap of nearly equal masses is below the noise of any detector).
    Without the pooled-channel deflation 8 x 64 gave 0.964 (a drift cut in the liquid)."""
    for prompts, samples in [(24, 8), (12, 16), (8, 64)]:
        f1, seed = [], 0
        while len(f1) < 8:
            ds, truth = crystallisation_run(seed=seed, n_prompts=prompts, n_samples=samples, settling=True)
            seed += 1
            top = np.sort(truth["seed_distribution"])[::-1]
            if top[0] - top[1] < 0.1:
                continue
            f1.append(margin_f1(truth["boundary_index"], detect_boundaries(ds).indices, margin=2))
        print(f"{prompts} x {samples}: mean F1 {np.mean(f1):.3f}")
        assert np.mean(f1) >= 0.97, (prompts, samples)


@pytest.mark.slow
def test_flat_runs_false_alarms_at_most_five_percent():
    """120 flat crystallisation runs (``transition=False``, fresh seeds 3000-3119, the
    generator's default liquid drift), ``detect_boundaries`` as a user calls it: at most
    9 with a boundary. A true 5 % rate passes with probability 0.92 (Binomial(120, 0.05)
    <= 9); 12 % fails with probability 0.92. The 20 flat runs of the tests above (0 of 20)
    are too few to show the rate. Before the pooled statistic was deflated by the
    independent prompt changes (``samples_test.pooled_deflation``) 18 of 120 got one."""
    alarms = sum(len(detect_boundaries(crystallisation_run(seed=3000 + s, transition=False)[0]).indices) > 0
                 for s in range(120))
    print(f"{alarms} of 120 flat runs with a boundary")
    assert alarms <= 9


@pytest.mark.slow
def test_interval_coverage_where_the_location_is_uncertain():
    """95 % intervals hold the true boundary in 90-98 % of the detected boundaries, on
    weak jumps (3 prompts x 12 samples, q = 4) whose location is uncertain by a few
    checkpoints (sets 2 checkpoints wide on average)."""
    runs = (jump_run(2000 + s, jump=0.9, drift=0.0, conc=None, prompts=3, samples=12, q=4)
            for s in range(100))
    out = interval_coverage(runs)
    print(out)
    assert out["detected_true_boundaries"] >= 60
    assert 0.90 <= out["coverage"] <= 0.98
    assert out["mean_width_checkpoints"] > 1.2  # not a point where the data leave the location open
