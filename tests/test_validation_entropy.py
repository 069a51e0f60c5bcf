"""Entropy estimators against known entropies (uniform, Zipf, Dirichlet draws).

Exact values: H(uniform over K) = ln K; H(Zipf) = -sum p_k ln p_k with p_k ~ 1/k. The
tolerances are statistical: each estimate's own standard error, plus, for the estimators
that do not remove it, the known O((K-1)/2N) plug-in bias.
"""

from __future__ import annotations

import numpy as np
import pytest

from phasekit.entropy_estimators import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    entropy_from_counts,
    entropy_from_fingerprint,
    fingerprint_from_counts,
)


def _zipf(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1)
    return p / p.sum()


def _h(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("name,p,n", [("uniform-50", np.full(50, 1 / 50), 50_000),
                                      ("zipf-200", _zipf(200), 100_000)])
def test_known_entropy_at_large_n(estimator, name, p, n):
    rng = np.random.default_rng({"uniform-50": 1, "zipf-200": 2}[name])
    counts = rng.multinomial(n, p, size=8)
    h, se = entropy_from_counts(counts, estimator, n_states=p.size)
    truth = _h(p)
    plugin_bias = (p.size - 1) / (2 * n)  # only the plug-in keeps it
    assert np.all(np.isfinite(h)) and np.all(se > 0)
    assert np.all(np.abs(h - truth) <= 4 * se + plugin_bias), (h - truth, se)
    assert abs(h.mean() - truth) / truth < 2e-3


def test_nsb_uniform_k100_n50_within_its_error_bar():
    """NSB on 50 draws from a uniform over 100 states: the truth is inside its error bar.

    The NSB posterior mean sits below ln 100 (by ~0.15 nats, ~1.5 posterior sd) but its
    95% error bar (1.96 sd) covers ln 100 at the nominal rate over repetitions.
    """
    rng = np.random.default_rng(100)
    counts = rng.multinomial(50, np.full(100, 0.01), size=400)
    h, se = entropy_from_counts(counts, "nsb", n_states=100)
    z = (h - np.log(100)) / se
    assert abs(z[0]) <= 1.96
    cover = np.mean(np.abs(z) <= 1.96)
    assert 0.9 <= cover <= 1.0
    assert abs(h.mean() - np.log(100)) / np.log(100) < 0.05  # relative bias under 5%


@pytest.mark.parametrize("estimator", ["nsb", DEFAULT_ESTIMATOR, "grassberger", "chao_shen",
                                       "chao_wang_jost"])
def test_error_bars_cover_at_nominal_rate(estimator):
    """Over repetitions from a Dirichlet(1) draw over 50 states (N = 100), the 95% error
    bar covers the true entropy in 87-100% of the repetitions (200 reps: +-3% noise)."""
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(50))
    counts = rng.multinomial(100, p, size=200)
    h, se = entropy_from_counts(counts, estimator, n_states=50)
    cover = np.mean(np.abs(h - _h(p)) <= 1.96 * se)
    assert 0.87 <= cover <= 1.0


def test_plugin_delta_method_error_bar_at_large_n():
    rng = np.random.default_rng(8)
    p = _zipf(30)
    counts = rng.multinomial(20_000, p, size=400)
    h, se = entropy_from_counts(counts, "miller_madow")
    assert 0.9 <= np.mean(np.abs(h - _h(p)) <= 1.96 * se) <= 0.99
    assert np.std(h) == pytest.approx(np.mean(se), rel=0.15)  # delta-method sd = sampling sd


def test_default_is_least_biased_where_nsb_fails():
    """Zipf over 50,000 states with N = 300 (N << K): plain NSB with the true K is biased
    low by ~18%; the default estimator reduces the bias below 9% (measured ~6%)."""
    rng = np.random.default_rng(9)
    p = _zipf(50_000)
    counts = rng.multinomial(300, p, size=30)
    truth = _h(p)
    h_nsb, _ = entropy_from_counts(counts, "nsb", n_states=p.size)
    h_def, se_def = entropy_from_counts(counts, DEFAULT_ESTIMATOR, n_states=p.size)
    bias_nsb = abs(h_nsb.mean() - truth) / truth
    bias_def = abs(h_def.mean() - truth) / truth
    assert bias_nsb > 0.12
    assert bias_def < 0.09
    assert np.mean(np.abs(h_def - truth) <= 1.96 * se_def) >= 0.7


@pytest.mark.slow
def test_default_worst_case_bias_benchmark_distributions():
    """Issue 3's goal on the benchmark distributions (50 reps instead of 200): the default's
    worst |relative bias| is under 15% at N = 300 and under 10% at N = 1000, the smallest of
    phasekit's estimators, and its error bar covers the truth in most repetitions."""
    rng = np.random.default_rng(2026)
    dists = {
        "uniform-1000": np.full(1000, 1e-3),
        "zipf-1000": _zipf(1000),
        "zipf-50000": _zipf(50000),
        "dirichlet0.1-1000": rng.dirichlet(np.full(1000, 0.1)),
    }
    for n, limit in ((300, 0.15), (1000, 0.10)):
        worst = dict.fromkeys(ESTIMATORS, 0.0)
        for p in dists.values():
            counts = rng.multinomial(n, p, size=50)
            truth = _h(p)
            for est in ESTIMATORS:
                h, se = entropy_from_counts(counts, est, n_states=p.size)
                worst[est] = max(worst[est], abs(h.mean() - truth) / truth)
                if est == DEFAULT_ESTIMATOR:
                    assert np.mean(np.abs(h - truth) <= 1.96 * se) >= 0.6
        assert worst[DEFAULT_ESTIMATOR] < limit
        # ties with pym where the evidence selects the PY model: compare with a 1e-6 slack
        assert worst[DEFAULT_ESTIMATOR] <= min(worst.values()) + 1e-6


# ------------------------------------------------------------------ issue 14: off-family coverage


def _zipf_s(k: int, s: float) -> np.ndarray:
    p = np.arange(1, k + 1, dtype=float) ** -s
    return p / p.sum()


def _step() -> np.ndarray:
    """100 states with half the mass, 9,900 with the other half (issue 14)."""
    return np.r_[np.full(100, 0.5 / 100), np.full(9900, 0.5 / 9900)]


def _geometric() -> np.ndarray:
    p = 0.999 ** np.arange(10_000)
    return p / p.sum()


def _coverage(p, n, k, reps, seed, estimator=DEFAULT_ESTIMATOR):
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, p, size=reps)
    if k > p.size:
        counts = np.pad(counts, ((0, 0), (0, k - p.size)))
    h, se = entropy_from_counts(counts, estimator, n_states=k)
    truth = _h(p)
    return float(np.mean(np.abs(h - truth) <= 1.96 * se)), float((h.mean() - truth) / truth)


def test_overstated_k_does_not_break_coverage_silently():
    """Issue 14: a uniform over 20,000 states analysed with K = 40,000. NSB's posterior sd
    alone covers 0% at N = 3,000 (it believes the alphabet); the default's error includes
    the spread to the K-free estimate, and the result carries that estimate."""
    import xarray as xr

    from phasekit.entropy_estimators import entropy

    p = np.full(20_000, 1 / 20_000)
    cover_nsb, bias_nsb = _coverage(p, 3000, 40_000, 40, 31, "nsb")
    cover, bias = _coverage(p, 3000, 40_000, 40, 31)
    assert bias_nsb > 0.02 and cover_nsb < 0.5  # the failure the spread has to absorb
    assert cover >= 0.9
    rng = np.random.default_rng(3)
    tok = rng.integers(0, 20_000, size=(2, 3000))
    ds = xr.Dataset({"token": (("checkpoint", "sample"), tok)}, attrs={"n_states": 40_000})
    h = entropy(ds, system="sample")
    gap = np.abs(h.values - h.entropy_k_free.values)
    assert np.all(gap > 0.05) and np.all(h.stderr.values >= gap)
    assert np.all(np.abs(h.entropy_k_free.values - np.log(20_000)) < 0.15)  # ~2 sd of CWJ here


_OFF_FAMILY = {
    "step-10000": (_step, 10_000),
    "zipf0.8-100000": (lambda: _zipf_s(100_000, 0.8), 100_000),
    "zipf1.0-1000": (lambda: _zipf_s(1000, 1.0), 1000),
    "zipf1.2-10000": (lambda: _zipf_s(10_000, 1.2), 10_000),
    "geometric-10000": (_geometric, 10_000),
}


#: cells where the benchmark (200 reps) measures the default below 90%: step N = 300 at 57%,
#: Zipf(0.8) N = 100 at 82% (docs/entropy.md); guarded against getting worse, not hidden
_KNOWN_SHORT = {("step-10000", 300): 0.4, ("zipf0.8-100000", 100): 0.65}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_OFF_FAMILY))
def test_default_covers_off_its_model_family(name):
    """Issue 14: the default's 95% interval covered a step 66/26/0/0% (N = 100..3000), Zipf(0.8)
    over 100k states 38/66/39/5%, a geometric 86/79%. 100 repetitions per cell; asserted:
    coverage >= 81%, i.e. the goal of 90% less 3 binomial sd (sqrt(0.9 * 0.1 / 100) = 3%), the
    two known shortfalls against their own floor, and |relative bias| < 10% at N >= 1000.
    Zipf(0.8) at N = 10,000: known failure (below)."""
    make, k = _OFF_FAMILY[name]
    p = make()
    for i, n in enumerate((100, 300, 1000, 3000)):
        cover, bias = _coverage(p, n, k, 100, 1400 + i)
        assert cover >= _KNOWN_SHORT.get((name, n), 0.81), (name, n, cover, bias)
        if n >= 1000:
            assert abs(bias) < 0.10, (name, n, bias)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known failure (docs/entropy.md): Zipf(0.8) over 100k states "
                   "at N = 10,000 still has ~1/3 of its mass unseen; every estimator here, phasekit's "
                   "and the peers', is 3.7-4.6% low and they agree, so the spread does not widen")
def test_default_covers_zipf08_at_n10000():
    cover, _ = _coverage(_zipf_s(100_000, 0.8), 10_000, 100_000, 30, 1499)
    assert cover >= 0.85


@pytest.mark.slow
def test_k_free_default_beats_pitman_yor_without_k():
    """Issue 14: without K the documented fallback pym was +67% (uniform, N = 100) to +83%
    (Zipf 0.8, N = 300) off. The K-free default (chao_wang_jost) has the smaller worst-case
    |bias| over these cases (pym without K is at most marginally better on the geometric at
    N = 3000, 1.4% vs 1.5%), and is under 25% everywhere here."""
    cases = [(np.full(1000, 1e-3), 100), (np.full(1000, 1e-3), 1000), (_zipf_s(100_000, 0.8), 300),
             (_zipf_s(100_000, 0.8), 1000), (_step(), 1000), (_geometric(), 3000)]
    rng = np.random.default_rng(77)
    worst_cwj = worst_pym = 0.0
    for p, n in cases:
        counts = rng.multinomial(n, p, size=30)
        truth = _h(p)
        h_cwj, _ = entropy_from_fingerprint(*fingerprint_from_counts(counts), None, n_states=None)
        h_pym, _ = entropy_from_fingerprint(*fingerprint_from_counts(counts), "pym", n_states=None)
        b_cwj = abs(h_cwj.mean() - truth) / truth
        b_pym = abs(h_pym.mean() - truth) / truth
        assert b_cwj < 0.25, (n, b_cwj)
        worst_cwj, worst_pym = max(worst_cwj, b_cwj), max(worst_pym, b_pym)
    assert worst_pym > 0.5 and worst_cwj < worst_pym / 3
