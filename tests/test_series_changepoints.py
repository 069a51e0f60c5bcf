"""The series path of detect_boundaries against independent results (issue 14.8).

* the exact best segmentation with m boundaries against brute-force enumeration written
  here and against ruptures' Dynp with the same (l2) cost;
* the AR(1) parameters of the no-change null against simulations with a known rho
  (white heavy-tailed noise, an undetected shift, AR(1) noise);
* the sieve bootstrap keeps the noise's autocorrelation and tails;
* the sequential choice of the number of boundaries against known truth: steps found,
  false alarms on white noise near alpha, the global test gating the result;
* the check that the noise is AR(1) where it matters (lag-two partial autocorrelation)
  against statsmodels' PACF and against generators whose noise is or is not AR(1);
* slow: the three synthetic families of benchmarks/bench_changepoint_constants.py and
  the location sets' coverage; TCPD (if its data is there) and the level on noise whose
  autocorrelation falls slower than AR(1)'s as strict xfails.
"""

import itertools
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import ruptures as rpt
import xarray as xr
from scipy.signal import lfilter

from phasekit.changepoints import detect_boundaries
from phasekit.changepoints.series_test import (
    AR1_ADEQUACY_ALPHA,
    BestSegmentations,
    SeriesTest,
    ar1_adequacy,
    ar1_fit,
    ar1_sieve_draws,
    segmentations_of,
    self_normalised_ratios,
    sequential_selection,
)

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _sse(x, cps):
    edges = [0, *cps, len(x)]
    return sum(float(((x[a:b] - x[a:b].mean(axis=0)) ** 2).sum()) for a, b in zip(edges[:-1], edges[1:], strict=True))


def _brute_force(x, m, min_size):
    """Best segmentation with m boundaries by enumerating every admissible one."""
    n = len(x)
    best, best_cps = np.inf, None
    for cps in itertools.combinations(range(min_size, n - min_size + 1), m):
        edges = [0, *cps, n]
        if min(b - a for a, b in zip(edges[:-1], edges[1:], strict=True)) < min_size:
            continue
        v = _sse(x, cps)
        if v < best - 1e-12:
            best, best_cps = v, list(cps)
    return best_cps, best


@pytest.mark.parametrize("min_size", [1, 2, 3])
def test_best_segmentations_equal_brute_force_enumeration(min_size):
    rng = np.random.default_rng(min_size)
    x = rng.normal(size=(16, 2)) + np.repeat([[0, 0], [2, -1], [0.5, 1], [0, 0]], 4, axis=0)
    seg = BestSegmentations(x, min_size)
    for m in range(1, 5):
        cps, val = _brute_force(x, m, min_size)
        got = seg.best(m)
        assert _sse(x, got) == pytest.approx(val, rel=1e-10, abs=1e-10)
        assert got == cps
    assert seg.best(16 // min_size) is None or min_size == 1  # too many boundaries to fit


def test_best_segmentations_equal_ruptures_dynp():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(90, 1)) + np.repeat([0.0, 1.5, -0.5, 1.0, 0.0, 2.0], 15)[:, None]
    seg = BestSegmentations(x, 5)
    dynp = rpt.Dynp(model="l2", min_size=5, jump=1).fit(x)
    for m in range(1, 7):
        ref = [b for b in dynp.predict(n_bkps=m) if b < len(x)]
        assert _sse(x, seg.best(m)) == pytest.approx(_sse(x, ref), rel=1e-10)


def test_rho_is_zero_for_white_heavy_tails_and_an_undetected_shift():
    """White noise has rho 0 whatever its law, and a shift the model has not found is
    no persistence. The earlier estimator (MAD of differences over the mean square of the
    levels) gave about 0.39 on Student-t(3) and 0.6 with 2 % outliers."""
    rng = np.random.default_rng(0)
    t3 = [ar1_fit(rng.standard_t(3, size=(400, 1)))[0][0] for _ in range(50)]
    spikes = [ar1_fit((rng.normal(size=400) + (rng.random(400) < 0.02) * 10)[:, None])[0][0] for _ in range(50)]
    shifted = []
    for _ in range(50):
        x = rng.normal(size=300)
        x[150:] += 3.0
        shifted.append(ar1_fit((x - x.mean())[:, None])[0][0])
    assert np.mean(t3) < 0.05
    assert np.mean(spikes) < 0.05
    assert np.mean(shifted) < 0.1  # a ratio to the levels' variance gives about 0.67


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_rho_of_ar1_noise_with_breaks(rho):
    """AR(1) residuals in 4 segments (means removed): the estimate is within 0.05 of the
    truth on average (the demeaning bias corrected), and never above the cap."""
    rng = np.random.default_rng(int(rho * 10))
    est = []
    for _ in range(40):
        segs = [lfilter([1.0], [1.0, -rho], rng.normal(size=200) * np.sqrt(1 - rho**2)) for _ in range(4)]
        resid = np.concatenate([s - s.mean() for s in segs])[:, None]
        est.append(ar1_fit(resid, [200, 400, 600])[0][0])
    assert abs(np.mean(est) - rho) < 0.05
    assert max(est) <= 0.99


def test_sieve_draws_keep_autocorrelation_and_tails():
    rng = np.random.default_rng(1)
    innov = rng.laplace(size=5000)
    resid = lfilter([1.0], [1.0, -0.5], innov)[:, None]
    resid -= resid.mean()
    rho, _ = ar1_fit(resid)
    sims = ar1_sieve_draws(resid, [], rho, 20, np.random.default_rng(2))[:, :, 0]
    lag1 = np.mean([np.corrcoef(s[1:], s[:-1])[0, 1] for s in sims])
    assert abs(lag1 - 0.5) < 0.05
    e = sims[:, 1:] - rho[0] * sims[:, :-1]
    kurt = np.mean((e - e.mean()) ** 4) / np.var(e) ** 2 - 3
    assert kurt > 1.5  # Laplace innovations: excess kurtosis 3; Gaussian draws give 0


@pytest.mark.parametrize("restricted", [True, pytest.param(False, marks=pytest.mark.xfail(
    strict=True, reason="the null before 2026-12-03 (series_test.RESTRICTED_NULL off): mean 0.78, 45 % below 0.8"))])
def test_null_rho_is_not_low_where_the_best_split_is_strongest(restricted, monkeypatch):
    """The null's AR(1) coefficient against the generator's rho = 0.9 (100 series of 200
    points, no change): in the fifth of series whose best split is strongest -- the ones a
    too-narrow null turns into false alarms -- the coefficient the null's paths are
    filtered with is never below 0.8 and within 0.05 of 0.9 on average. Estimated about
    the split alone it is 0.47-0.9 there (mean 0.78): the split absorbs the excursion."""
    import phasekit.changepoints.series_test as st

    monkeypatch.setattr(st, "RESTRICTED_NULL", restricted)
    stats, gens = [], []
    for s in range(100):
        rng = np.random.default_rng([2026_12_03, s])
        e = rng.normal(size=200) * np.sqrt(1 - 0.81)
        e[0] = rng.normal()
        y = lfilter([1.0], [1.0, -0.9], e)
        z = (y / st.robust_sigma(y[:, None]))[:, None]
        c = BestSegmentations(z, 5).best(1)[0]
        test = SeriesTest(z, 200, np.random.default_rng(s), 5)
        resid = test.split_residuals(0, c, 200)
        rho, sd = ar1_fit(resid, [c])
        stats.append(test.gain(0, c, 200) / float(st.long_run_variance(rho, sd**2)[0]))
        gens.append(st.null_rho(resid, c, rho, z - z.mean(axis=0), 200, np.random.default_rng(s), 5)[0])
    gens = np.asarray(gens)
    top = gens[np.asarray(stats) >= np.quantile(stats, 0.8)]
    assert top.min() >= 0.8 and abs(top.mean() - 0.9) < 0.05, (top.min(), top.mean())


def test_log_polynomial_scale_recovers_a_known_noise_profile():
    """Noise with a known sd profile over 400 points (linear 2 -> 0.5, exponential decay
    to a floor, a bump, flat), Gaussian and Student-t(5), 64 replicates: the fitted log
    scale, each taken about its geometric mean (the log-chi^2 bias is a constant and
    cancels), is on average within 0.2 of the true one at every point (the linear sd is
    not log-linear or log-quadratic: 0.15 at its end where BIC takes the straight line,
    0.07 with the quadratic); for Gaussian noise its spread at the series' ends is below
    the least-squares value for log-chi^2 with the quadratic, sqrt(pi^2/8 * 9/400) =
    0.17, plus 0.03 (measured 0.13-0.16); and on constant noise BIC keeps the scale constant in at least 85 % of the
    replicates (measured 98 % Gaussian, 89 % t(5))."""
    from phasekit.changepoints.series_test import log_polynomial_scale

    rng = np.random.default_rng(20261203)
    t = np.linspace(0.0, 1.0, 400)
    profiles = (np.linspace(2.0, 0.5, 400), 0.3 + 1.7 * np.exp(-t / 0.25), 1 + 1.5 * np.sin(np.pi * t), np.ones(400))
    valid = np.ones(400, dtype=bool)
    for gaussian, draw in ((True, rng.normal(size=(400, 64))), (False, rng.standard_t(5, size=(400, 64)))):
        for true in profiles:
            log_fit = np.log(log_polynomial_scale(true[:, None] * draw, valid))
            err = (log_fit - log_fit.mean(axis=0)) - (np.log(true) - np.log(true).mean())[:, None]
            assert np.abs(err.mean(axis=1)).max() < 0.2
            if gaussian:
                assert max(err[0].std(), err[-1].std()) < 0.20
        flat = np.log(log_polynomial_scale(draw, valid))
        assert np.mean(np.ptp(flat, axis=0) < 1e-12) >= 0.85


def test_time_varying_scale_keeps_the_null_level_on_falling_noise(monkeypatch):
    """Null series of 200 points whose noise sd falls linearly 2 -> 0.5 (the benchmark's
    ``decaying_sd``; 100 series, seeds 82 000): with constant-scale sieve paths the
    best split is called significant in about 15 % of them (the early, noisy stretch
    against the quiet late one); with the time-varying scale at most 8 of 100 (measured:
    3 % on seeds 50 000, 200 runs)."""
    import phasekit.changepoints.series_test as st

    b = _bench("bench_changepoint_constants")
    for on, bound in ((True, 8), (False, None)):
        monkeypatch.setattr(st, "TIME_VARYING_SCALE", on)
        alarms = sum(len(detect_boundaries(_series(b.null_series(np.random.default_rng([82_000, s]), "decaying_sd",
                                                                  200))).indices) > 0 for s in range(100))
        if bound is not None:
            assert alarms <= bound, alarms
        else:
            assert alarms >= 9, alarms  # the constant-scale null would have failed


def test_sieve_draws_keep_a_drifting_noise_level(monkeypatch):
    """Sieve paths of AR(1) rho = 0.5 residuals whose sd falls 2 -> 0.5: the paths'
    variance over the first and last quarter is in the true ratio (about 10.4, within
    25 %); with the constant-scale draws it is about 1."""
    import phasekit.changepoints.series_test as st

    rng = np.random.default_rng(7)
    sd = np.linspace(2.0, 0.5, 400)
    resid = (lfilter([1.0], [1.0, -0.5], rng.normal(size=400)) * sd)[:, None]
    true = np.mean(sd[:100] ** 2) / np.mean(sd[-100:] ** 2)
    for on, lo, hi in ((True, 0.75 * true, 1.25 * true), (False, 0.5, 2.0)):
        monkeypatch.setattr(st, "TIME_VARYING_SCALE", on)
        paths = ar1_sieve_draws(resid, [], np.array([0.5]), 400, np.random.default_rng(8))[:, :, 0]
        got = np.mean(paths[:, :100] ** 2) / np.mean(paths[:, -100:] ** 2)
        assert lo < got < hi, (on, got, true)


def test_evidence_says_what_the_null_assumed_per_channel():
    """``evidence["null_model"]`` of the global test, per channel, against the generator:
    a white channel gets a constant noise level (degree 0) and rho 0; a channel whose sd
    falls 2 -> 0.5 a time-varying level (degree >= 1); an AR(1) rho = 0.9 channel a null
    rho within 0.1 of 0.9, above the split's (measured 0.92 against 0.87)."""
    rng = np.random.default_rng(11)
    y = np.stack([rng.normal(size=300), rng.normal(size=300) * np.linspace(2.0, 0.5, 300),
                  lfilter([1.0], [1.0, -0.9], rng.normal(size=300) * np.sqrt(0.19))], axis=1)
    res = detect_boundaries(xr.DataArray(y, dims=["checkpoint", "channel"],
                                         coords={"channel": ["white", "falling", "ar09"]}))
    model = res.evidence["null_model"]
    assert set(model) == {"rho_split", "rho_null", "scale_degree"}
    degree, rho, split = model["scale_degree"], model["rho_null"], model["rho_split"]
    assert set(degree) == set(res.evidence["sigma"])  # the same channel names
    assert degree["value[white]"] == 0 and degree["value[falling]"] >= 1
    assert rho["value[white]"] < 0.1
    assert abs(rho["value[ar09]"] - 0.9) < 0.1 and rho["value[ar09]"] > split["value[ar09]"]


def _series(y):
    return xr.DataArray(np.asarray(y, dtype=float), dims="checkpoint")


def test_two_steps_of_opposite_sign_are_both_found():
    """Levels 0 | 4 | 1: the single split leaves the second step in its residuals; its null
    must not take that step for persistence."""
    rng = np.random.default_rng(9)
    y = rng.normal(size=60) + np.repeat([0.0, 4.0, 1.0], 20)
    res = detect_boundaries(_series(y), n_bootstrap=100)
    assert np.all(np.abs(np.array(res.indices) - [20, 40]) <= 1) and len(res.indices) == 2
    assert res.evidence["p_value"] <= 0.05


def test_white_noise_false_alarms_near_alpha():
    """40 series of 100 Gaussian points: the global test at alpha = 0.05 gives about 2
    series with a boundary (at most 5 here, P(X > 5) = 1.6 % for Binomial(40, 0.05))."""
    alarms = sum(len(detect_boundaries(_series(np.random.default_rng(300 + s).normal(size=100)),
                                       n_bootstrap=100).indices) > 0 for s in range(40))
    assert alarms <= 5


def test_steps_in_heavy_tailed_noise_are_found():
    """Three steps of 1.5 sd in 300 points of Student-t(3) noise (scaled to unit sd): the
    steps are found within 5 points in at least 8 of 10 runs, with no other boundary in
    at least 8."""
    found = clean = 0
    for s in range(10):
        rng = np.random.default_rng(400 + s)
        y = rng.standard_t(3, size=300) / np.sqrt(3) + np.repeat([0.0, 1.5, 0.0, 1.5], 75)
        idx = detect_boundaries(_series(y), n_bootstrap=100).indices
        found += all(any(abs(i - t) <= 5 for i in idx) for t in (75, 150, 225))
        clean += all(any(abs(i - t) <= 5 for t in (75, 150, 225)) for i in idx)
    assert found >= 8 and clean >= 8


def test_sequential_selection_stops_at_the_first_segmentation_that_fails():
    """Against a scripted test: m = 1 and 2 pass, m = 3 fails, so m = 2 is returned even
    though m = 4 would pass; the global p-value is that of m = 1; the cap is obeyed."""
    plan = {1: {10: 0.01}, 2: {10: 0.01, 20: 0.02}, 3: {10: 0.01, 20: 0.02, 30: 0.2},
            4: {10: 0.001, 20: 0.001, 30: 0.001, 40: 0.001}}

    class Scripted(SeriesTest):
        def round_pvals(self, cur):
            return plan[len(cur)]

    t = Scripted(np.zeros((50, 1)), 10, np.random.default_rng(0), 2)
    cps, pvals, p_global, n_tested = sequential_selection(t, lambda m: sorted(plan[m]) if m in plan else None,
                                                          0.05, max_m=10)
    assert (cps, p_global, n_tested) == ([10, 20], 0.01, 3)
    assert pvals == plan[2]
    cps, _, _, n_tested = sequential_selection(t, lambda m: sorted(plan[m]), 0.05, max_m=1)
    assert cps == [10] and n_tested == 1


@pytest.mark.parametrize("method", ["binseg", "bottomup", "kernelcpd"])
def test_other_searches_give_segmentations_of_each_size(method):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=80) + np.repeat([0.0, 3.0, -2.0, 1.0], 20))[:, None]
    seg = segmentations_of(method, x, 5)
    for m in (1, 2, 3):
        cps = seg(m)
        assert len(cps) == m and all(5 <= c <= 75 for c in cps)
    assert np.all(np.abs(np.array(seg(3)) - [20, 40, 60]) <= 1)
    res = detect_boundaries(_series(x[:, 0]), method=method, n_bootstrap=100)
    assert np.all(np.abs(np.array(res.indices) - [20, 40, 60]) <= 1)


def test_a_numeric_penalty_keeps_the_penalised_search_and_elimination():
    rng = np.random.default_rng(4)
    y = rng.normal(size=80) + np.repeat([0.0, 3.0], 40)
    res = detect_boundaries(_series(y), penalty=10.0, n_bootstrap=100)
    assert res.indices == [40] and "selection" not in res.evidence
    auto = detect_boundaries(_series(y), n_bootstrap=100)
    assert auto.indices == [40] and auto.evidence["selection"].startswith("sequential")


# ---------------------------------------------------------------- slow: the families
def _bench(name):
    sys.path.insert(0, str(BENCH))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.slow
def test_synthetic_families_before_and_after():
    """Defaults on the three synthetic families (docs/changepoints.md, "Series path"): the
    family the constants were chosen on (before 0.815 / 0.738), the held-out family
    built before any change (before 0.902 / 0.838) and the fresh check family built
    before the final candidate was scored on it (before 0.900 / 0.872). Measured
    2026-12-03 with the null's restricted rho and time-varying scale: 0.897 / 0.875,
    0.907 / 0.853, 0.895 / 0.890 (with neither 0.891 / 0.867, 0.905 / 0.850, 0.904 /
    0.900: the fresh family's correlated kinds pay for the AR(1) null's level, its cover
    now 0.005 below "before"). The drifting-variance family (built 2026-12-03, before its
    null's candidates were scored) 0.910 / 0.891, its falling-noise nulls 0.979 F1 (no
    boundary in most); with the 2026-12-02 null 0.931 / 0.897, with a constant scale
    0.911 / 0.884. With the self-normalised test where the AR(1) check rejects (the default
    since 2026-12-08): 0.897 / 0.874, 0.887 / 0.836, 0.879 / 0.879, 0.905 / 0.888 -- the
    price of the level on noise that is not AR(1), paid where the check fires (held-out
    seasonal, fresh MA(2)); the floors below were lowered by 0.02 / 0.015 (held-out) and
    0.01 (fresh) for it; the synthetic floor still fails the code before the sequential test
    (0.815 / 0.738)."""
    b = _bench("bench_changepoint_constants")
    a = b.score_defaults([b.synthetic_series(10_000 + s) for s in range(192)], b.NOISE_KINDS)
    h = b.score_defaults([b.heldout_series(s) for s in range(112)], b.HELDOUT_KINDS)
    f = b.score_defaults([b.fresh_series(s) for s in range(120)], b.FRESH_KINDS)
    d = b.score_defaults([b.drifting_variance_series(s) for s in range(96)], b.DRIFT_KINDS)
    print(a["cover"], a["f1"], h["cover"], h["f1"], f["cover"], f["f1"], d["cover"], d["f1"])
    assert a["cover"] >= 0.85 and a["f1"] >= 0.83
    assert h["cover"] >= 0.88 and h["f1"] >= 0.83
    assert f["cover"] >= 0.87 and f["f1"] >= 0.87
    assert d["cover"] >= 0.89 and d["f1"] >= 0.87 and d["f1_null_decay"] >= 0.95


@pytest.mark.slow
def test_series_location_sets_cover_the_true_shift():
    """95 % sets of a 1 sd shift in 100 Gaussian points hold the truth in 90-100 % of the
    detected shifts (100 runs; the sets are known to be conservative here)."""
    out = _bench("bench_changepoint_constants").series_interval_coverage(100)
    print(out)
    assert out["detected_true_boundaries"] >= 50
    assert out["coverage"] >= 0.90
    assert out["mean_width_checkpoints"] > 5


def _null_alarms(kinds, n, runs_per_kind, seed0, **kwargs):
    b = _bench("bench_changepoint_constants")
    alarms = 0
    for ik, kind in enumerate(kinds):
        for s in range(runs_per_kind):
            y = b.null_series(np.random.default_rng([seed0, n, ik, s]), kind, n)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the AR(1) check's, on the non-AR(1) kinds
                alarms += len(detect_boundaries(_series(y), **kwargs).indices) > 0
    return alarms


@pytest.mark.slow
def test_false_alarms_on_uncorrelated_null_series_at_most_five_percent():
    """1000 null series of 200 points (white Gaussian, Student-t(3), Gaussian with 2 %
    outliers of 5-10 sd; 334 / 333 / 333), defaults: at most 61 get a boundary. A real
    5 % rate passes with probability 0.95 (Binomial(1000, 0.05) <= 61); a real 8 % rate
    fails with probability 0.99 (Binomial(1000, 0.08) > 61), a 6 % rate with 0.57.
    Seeds 80_000 (the benchmark's table uses 60_000, the fix was chosen on 50_000).
    Measured on seeds 60_000 (400 runs each): 4.3 / 6.5 / 5.0 % now, 4.0 / 6.8 / 4.3 %
    with the plug-in null before (whose AR(1) rates were 8.5-22.8 %)."""
    kinds = ("white", "student_t3", "outliers_2pct")
    alarms = sum(_null_alarms([k], 200, r, 80_000 + i) for i, (k, r) in enumerate(zip(kinds, (334, 333, 333),
                                                                                       strict=True)))
    print(alarms)
    assert alarms <= 61


@pytest.mark.slow
def test_false_alarms_on_persistent_ar1_null_series_at_most_five_percent():
    """300 AR(1) rho = 0.9 null series of 200 points (seeds 81_000, which chose nothing):
    at most 20 with a boundary (a real 5 % rate passes with probability 0.92, 10 % with
    0.03). The null before its restricted rho (2026-12-03) gave 10.0 % on the benchmark's
    seeds and failed here; now 14 of 300."""
    alarms = _null_alarms(["ar1_0.9"], 200, 300, 81_000)
    print(alarms)
    assert alarms <= 20


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="untuned TCPD 0.661 / 0.725 (2026-12-08 run 9: the self-normalised test "
                   "where the AR(1) check rejects; 0.666 / 0.734 with the AR(1) null alone, run 7; 0.667 / 0.719 "
                   "with the studentised null alone, 0.689 / 0.737 with the share-of-variance null) is below "
                   "TCPD's published Binseg 0.693 / 0.738")
def test_untuned_tcpd_score_reaches_binseg():
    b = _bench("bench_tcpd")
    root = b.data_dir()
    if not (root / "annotations.json").exists():
        pytest.skip("TCPD data not found (set PHASEKIT_TCPD)")
    from phasekit.changepoints import margin_f1, segmentation_covering

    cov, f1 = [], []
    for s in b.load_series(root):
        pred = detect_boundaries(xr.DataArray(s["y"], dims=["t"]), control="t").indices
        cov.append(segmentation_covering(s["annotations"], pred, len(s["y"])))
        f1.append(margin_f1(s["annotations"], pred, margin=5))
    print(np.mean(cov), np.mean(f1))
    assert np.mean(cov) >= 0.693 and np.mean(f1) >= 0.738


def test_ar1_check_is_the_lag_two_partial_autocorrelation_of_statsmodels():
    """On one segment the check's phi_22 is statsmodels' Yule-Walker PACF at lag two of
    the residuals over their smooth scale (centred), and its p-value the upper normal tail of
    sqrt(n) phi_22 with n the lag-two pairs; with a break, pairs across it are left out."""
    from scipy import stats
    from statsmodels.tsa.stattools import pacf

    from phasekit.changepoints.series_test import log_polynomial_scale

    x = lfilter([1.0], [1.0, -0.5, -0.25], np.random.default_rng(4).normal(size=400))[:, None]
    r = x - x.mean(axis=0)
    p, phi22 = ar1_adequacy(r, [])
    scaled = r[:, 0] / log_polynomial_scale(r, np.ones(400, dtype=bool))[:, 0]
    ref = pacf(scaled - scaled.mean(), nlags=2, method="ywm")[2]
    np.testing.assert_allclose(phi22[0], ref, rtol=1e-10)
    np.testing.assert_allclose(p[0], stats.norm.sf(np.sqrt(398) * ref), rtol=1e-10)
    # two segments: the same as pooling each segment's lag-one and lag-two products
    r2 = np.concatenate([r[:200] - r[:200].mean(), r[200:] - r[200:].mean()])
    _, phi_split = ar1_adequacy(r2, [200])
    z = r2[:, 0] / log_polynomial_scale(r2, np.ones(400, dtype=bool))[:, 0]
    z = np.concatenate([z[:200] - z[:200].mean(), z[200:] - z[200:].mean()])
    num = [sum(float(np.sum(seg[k:] * seg[:-k])) for seg in (z[:200], z[200:])) for k in (1, 2)]
    r1_, r2_ = (v / float(np.sum(z**2)) for v in num)
    np.testing.assert_allclose(phi_split[0], (r2_ - r1_**2) / (1 - r1_**2), rtol=1e-10)


def _null_residuals(kind, n, seed):
    y = _bench("bench_changepoint_constants").null_series(np.random.default_rng(seed), kind, n)[:, None]
    return y - y.mean(axis=0)


@pytest.mark.parametrize(("kind", "at_most", "at_least"), [
    ("white", 6, None), ("ar1_0.9", 6, None), ("student_t3", 6, None), ("decaying_sd", 6, None),
    ("arma11_0.5_0.5", 6, None),  # falls faster than AR(1): the test is conservative there, the check silent
    ("noisy_ar1_0.9", None, 120), ("ar2_0.5_0.25", None, 120)])
def test_ar1_check_fires_where_the_noise_is_not_ar1_in_the_liberal_direction(kind, at_most, at_least):
    """200 null series of 200 points (seeds 85 000): the check (alpha 1 %) fires on AR(1),
    white, heavy-tailed and decaying-variance noise in at most 6 (3 %; measured 0-1 % on
    seeds 70 000), and on AR(2) (0.5, 0.25) and AR(1) 0.9 observed with as much white noise,
    where the no-change test's level fails, in at least 120 (60 %; measured 81 / 80 %)."""
    fired = sum(ar1_adequacy(_null_residuals(kind, 200, [85_000, s]), [])[0][0] < AR1_ADEQUACY_ALPHA
                for s in range(200))
    print(kind, fired)
    if at_most is not None:
        assert fired <= at_most
    else:
        assert fired >= at_least


def test_a_result_on_noise_that_is_not_ar1_says_so():
    """detect_boundaries on AR(1) 0.9 observed with white noise (800 points): with
    ``series_null="ar1"`` it warns that the boundaries are candidates and records the check
    in ``evidence["ar1_check"]``; the default ``"auto"`` warns that it chose again with the
    self-normalised test, keeps the AR(1) choice in ``evidence["ar1_selection"]``, and
    returns no more boundaries than it (a null series: every boundary is false); on white
    noise both record the check, say nothing and agree."""
    rng = np.random.default_rng(11)
    y = _bench("bench_changepoint_constants").null_series(rng, "noisy_ar1_0.9", 800)
    with pytest.warns(RuntimeWarning, match="treat the boundaries as candidates"):
        ar1 = detect_boundaries(_series(y), series_null="ar1")
    assert "assumes is rejected" in ar1.evidence["null_note"] and ar1.evidence["null"] == "ar1"
    assert ar1.evidence["ar1_check"]["p_value"]["value"] < AR1_ADEQUACY_ALPHA
    with pytest.warns(RuntimeWarning, match="chosen again with the self-normalised test"):
        auto = detect_boundaries(_series(y))
    assert auto.evidence["ar1_selection"]["indices"] == ar1.indices
    assert auto.evidence["null"].startswith("self_normalised") and auto.attrs["series_null"] == "auto"
    assert len(auto.indices) <= len(ar1.indices)
    white = _series(rng.normal(size=200))
    quiet, quiet_ar1 = detect_boundaries(white), detect_boundaries(white, series_null="ar1")
    assert "null_note" not in quiet.evidence and quiet.evidence["ar1_check"]["p_value"]["value"] > AR1_ADEQUACY_ALPHA
    assert quiet.indices == quiet_ar1.indices and quiet.evidence["null"] == "ar1"
    short = detect_boundaries(_series(rng.normal(size=10)))  # too short to test: NaN with a reason
    assert np.isnan(short.evidence["ar1_check"]["p_value"]["value"])
    assert "not tested" in short.evidence["ar1_check"]["note"]


def test_a_shift_in_one_channel_of_noisy_ar1_noise_is_found_with_its_channel():
    """Two channels of AR(1) 0.9 plus white noise (800 points), a shift of 8 in the first at
    400: the default finds one boundary, at 400, and names the first channel only (its
    per-channel test is self-normalised as well); the AR(1) null alone cuts the noise into
    many more (the true boundary is one of them)."""
    rng = np.random.default_rng(21)
    b = _bench("bench_changepoint_constants")
    y = np.stack([b.null_series(rng, "noisy_ar1_0.9", 800), b.null_series(rng, "noisy_ar1_0.9", 800)], axis=1)
    y[400:, 0] += 8.0
    da = xr.DataArray(y, dims=("t", "ch"), coords={"ch": ["moved", "still"]})
    with pytest.warns(RuntimeWarning, match="chosen again"):
        auto = detect_boundaries(da, control="t")
    with pytest.warns(RuntimeWarning, match="candidates"):
        ar1 = detect_boundaries(da, control="t", series_null="ar1")
    assert auto.indices == [400]
    assert auto.evidence["boundaries"][0]["channels"] == ["value[moved]"]
    assert len(ar1.indices) > 3 and 400 in ar1.indices


def test_unknown_series_null_is_a_schema_error():
    from phasekit import SchemaError

    with pytest.raises(SchemaError, match="unknown series_null"):
        detect_boundaries(_series(np.zeros(20)), series_null="ar2")


def test_self_normalised_ratio_is_shao_and_zhangs_statistic():
    """self_normalised_ratios against Shao & Zhang's (2010) D(k)^2 / V(k) written out with
    loops from their definition, at every k, for two channels with a level offset."""
    x = np.random.default_rng(5).normal(size=(23, 2)) + [3.0, -1.0]
    got = self_normalised_ratios(x)
    n = x.shape[0]
    for k in range(1, n):
        for c in range(2):
            v = x[:, c]
            d = (v[:k].sum() - k / n * v.sum()) / np.sqrt(n)
            left = sum((v[:t].sum() - t / k * v[:k].sum()) ** 2 for t in range(1, k + 1))
            right = sum((v[t - 1:].sum() - (n - t + 1) / (n - k) * v[k:].sum()) ** 2 for t in range(k + 1, n + 1))
            np.testing.assert_allclose(got[k - 1, c], d**2 / ((left + right) / n**2), rtol=1e-9)


def test_self_normalised_sup_has_the_published_critical_values():
    """The sup over k of the ratio on white noise (3,000 paths of 400 points) has the
    quantiles of Shao & Zhang's (2010) Table 1 (29.6 / 40.1 at 90 / 95 %) within 5 %, and
    within 10 % on AR(1) 0.5 noise: the statistic does not depend on the autocorrelation
    (a long-run-variance-free pivot), up to a finite-length excess."""
    rng = np.random.default_rng(6)
    white = rng.normal(size=(3000, 400, 1))
    ar1 = lfilter([1.0], [1.0, -0.5], rng.normal(size=(3000, 600, 1)), axis=1)[:, 200:]
    for paths in (white, ar1):
        q90, q95 = np.quantile(self_normalised_ratios(paths)[..., 0].max(axis=1), [0.9, 0.95])
        print(q90, q95)
        tol = 0.05 if paths is white else 0.10  # AR(1) 0.5 at 400 points: +4 % / +7 % (finite length)
        assert abs(q90 / 29.6 - 1) < tol and abs(q95 / 40.1 - 1) < tol


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known limit (2026-12-07/08): the AR(1) null is liberal where the autocorrelation "
                   "falls slower than AR(1)'s from lag one to two, and the self-normalised fallback only runs where the "
                   "AR(1) check sees it; AR(1) 0.9 plus as much white noise: 38 / 56 / 9.5 % false alarms at alpha = 5 % "
                   "at 50 / 200 / 800 points (38 / 77 / 97 % with the AR(1) null alone), AR(2) (0.5, 0.25) 28 / 25 / 7.5 % "
                   "(29 / 60 / 84 %; seeds 60 000); the check fires on 1.5 / 37 / 98 % and 5 / 69 / 100 % of them")
def test_false_alarms_on_noisy_ar1_null_series_at_most_five_percent():
    alarms = _null_alarms(["noisy_ar1_0.9"], 200, 300, 84_000)
    print(alarms)
    assert alarms <= 20


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["noisy_ar1_0.9", "ar2_0.5_0.25"])
def test_long_null_series_whose_noise_is_not_ar1_keep_the_level(kind):
    """100 null series of 800 points (seeds 86 000, which chose nothing) of AR(1) 0.9 plus as
    much white noise, and of AR(2) (0.5, 0.25): the default (``series_null="auto"``: the
    self-normalised test where the AR(1) check rejects) puts a boundary in at most 15 (a
    real 10 % rate passes with probability 0.96, 20 % with 0.13; measured 9.5 / 7.5 % on the
    reporting seeds: near, not at, the 5 % level); the AR(1) null alone in at least 60
    (measured 96.5 / 84 %)."""
    auto = _null_alarms([kind], 800, 100, 86_000)
    ar1 = _null_alarms([kind], 800, 100, 86_000, series_null="ar1")
    print(kind, auto, ar1)
    assert auto <= 15 and ar1 >= 60

