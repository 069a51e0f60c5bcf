"""Validation of correlation lengths against exact results (issue 4, "Must show").

* symmetric q-state Markov chains: xi = -1/ln(lambda) exactly, for lambda in
  {0.3, 0.6, 0.8, 0.9, 0.95}, within 5 % and covered by the error bar;
* repeat-avoiding chains: C(1) = -a/(q-a) < 0, flagged anti-correlated;
* argmax-of-fGn sequences: C(r) ~ r^-eta, classified power law with eta recovered;
  Markov chains classified exponential.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasekit.correlations import correlation_length
from phasekit.datasets.sequences import (
    markov_chain,
    power_law_sequences,
    repeat_avoiding_sequences,
)

LAMBDAS = [0.3, 0.6, 0.8, 0.9, 0.95]


def _max_lag(xi: float, length: int) -> int:
    return min(length // 2, int(10 * xi) + 10)


@pytest.mark.parametrize("lam", LAMBDAS)
def test_markov_xi_within_five_percent(lam):
    ds, truth = markov_chain(10, lam, 200, 512, seed=int(lam * 100))
    xi_true = truth["correlation_length"]
    xi = correlation_length(ds, max_lag=_max_lag(xi_true, 512))
    assert xi.attrs["decay"] == "exponential"
    assert xi.item() == pytest.approx(xi_true, rel=0.05)
    assert abs(xi.item() - xi_true) < 3.5 * float(xi.stderr)
    assert float(xi.stderr) < 0.05 * xi_true  # the error bar is informative


@pytest.mark.slow
@pytest.mark.parametrize("lam", LAMBDAS)
def test_markov_xi_error_bar_coverage(lam):
    """Over 20 seeds the 2-sigma (jackknife) interval covers the truth in >= 80 % of runs,
    and every estimate is within 5 %."""
    xi_true = -1.0 / math.log(lam)
    covered, rel = [], []
    for seed in range(20):
        ds, _ = markov_chain(10, lam, 150, 512, seed=1000 + seed)
        xi = correlation_length(ds, max_lag=_max_lag(xi_true, 512), n_jackknife=30)
        covered.append(abs(xi.item() - xi_true) < 2 * float(xi.stderr))
        rel.append(xi.item() / xi_true - 1)
    assert np.mean(covered) >= 0.8
    assert np.max(np.abs(rel)) < 0.05
    assert abs(np.mean(rel)) < 0.015  # no systematic bias


@pytest.mark.parametrize("q,avoid", [(3, 0.9), (10, 0.8)])
def test_repeat_avoiding_is_anticorrelated(q, avoid):
    ds, truth = repeat_avoiding_sequences(q, 200, 200, avoid=avoid, seed=q)
    xi = correlation_length(ds)
    assert xi.attrs["decay"] == "anticorrelated"
    c1 = float(xi.c1)
    assert c1 < 0
    assert c1 == pytest.approx(truth["c1"], abs=0.02)
    assert math.isnan(float(xi.eta))


@pytest.mark.parametrize("eta", [0.3, 0.5, 0.7])
def test_power_law_classified_with_exponent(eta):
    ds, truth = power_law_sequences(2, 400, 512, eta=eta, seed=int(eta * 10))
    xi = correlation_length(ds, max_lag=256)
    assert xi.attrs["decay"] == "power_law"
    assert float(xi.delta_aic) > 10
    assert float(xi.eta) == pytest.approx(truth["eta"], abs=0.1)
    assert abs(float(xi.eta) - truth["eta"]) < 3.5 * float(xi.eta_stderr)


def test_power_law_q3():
    ds, truth = power_law_sequences(3, 400, 512, eta=0.5, seed=33)
    xi = correlation_length(ds, max_lag=256)
    assert xi.attrs["decay"] == "power_law"
    assert float(xi.eta) == pytest.approx(0.5, abs=0.08)


@pytest.mark.parametrize("lam", [0.6, 0.9])
def test_exponential_classified_exponential(lam):
    ds, _ = markov_chain(5, lam, 300, 512, seed=77)
    xi = correlation_length(ds)
    assert xi.attrs["decay"] == "exponential"
    assert float(xi.delta_aic) < 0
    assert math.isnan(float(xi.eta))


@pytest.mark.slow
@pytest.mark.parametrize("eta", [0.3, 0.5, 0.7])
def test_power_law_exponent_coverage(eta):
    """Over 10 seeds of 1000 x 512 tokens: always classified power law; every eta within
    0.1, no bias beyond 0.03; the 2-sigma (jackknife) interval covers eta in >= 70 %."""
    hits, errs = [], []
    for seed in range(10):
        ds, _ = power_law_sequences(2, 1000, 512, eta=eta, seed=500 + seed)
        xi = correlation_length(ds, max_lag=256, n_jackknife=30)
        assert xi.attrs["decay"] == "power_law"
        errs.append(float(xi.eta) - eta)
        hits.append(abs(float(xi.eta) - eta) < 2 * float(xi.eta_stderr))
    assert np.max(np.abs(errs)) < 0.1
    assert abs(np.mean(errs)) < 0.03
    assert np.mean(hits) >= 0.7
