"""Entropy estimators against known entropies (uniform, Zipf, Dirichlet draws).

Exact values: H(uniform over K) = ln K; H(Zipf) = -sum p_k ln p_k with p_k ~ 1/k. The
tolerances are statistical: each estimate's own standard error, plus, for the estimators
that do not remove it, the known O((K-1)/2N) plug-in bias.
"""

from __future__ import annotations

import numpy as np
import pytest

from phasekit.entropy import DEFAULT_ESTIMATOR, ESTIMATORS, entropy_from_counts


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
