"""The sequence generators produce the statistics their truth claims (checked directly)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasekit.datasets.sequences import (
    _fgn,
    _fgn_autocovariance,
    expected_max_normal,
    markov_chain,
    power_law_sequences,
    repeat_avoiding_sequences,
)
from phasekit.errors import SchemaError


def _p_same(x: np.ndarray, r: int) -> float:
    return float(np.mean(x[:, :-r] == x[:, r:]))


def test_markov_chain_layout_and_seed():
    ds, truth = markov_chain(5, 0.6, 7, 30, seed=1)
    assert ds["token"].dims == ("sample", "position")
    assert ds["token"].shape == (7, 30)
    assert ds.attrs["n_states"] == 5
    assert ds["token"].values.min() >= 0 and ds["token"].values.max() < 5
    again, _ = markov_chain(5, 0.6, 7, 30, seed=1)
    np.testing.assert_array_equal(ds["token"].values, again["token"].values)
    assert truth["correlation_length"] == pytest.approx(-1 / math.log(0.6))
    assert truth["second_moment_length"] == pytest.approx(math.sqrt(0.6) / 0.4)
    assert truth["integrated_length"] == pytest.approx(1.6 / 0.8)


@pytest.mark.parametrize("lam", [0.3, 0.8])
def test_markov_chain_same_state_probability(lam):
    q = 4
    ds, _ = markov_chain(q, lam, 400, 200, seed=2)
    x = ds["token"].values
    # stationary uniform marginals (first position included)
    np.testing.assert_allclose(np.bincount(x[:, 0], minlength=q) / 400, 1 / q, atol=0.08)
    np.testing.assert_allclose(np.bincount(x.ravel(), minlength=q) / x.size, 1 / q, atol=0.02)
    for r in (1, 2, 5):
        exact = lam**r + (1 - lam**r) / q
        n_eff = x.shape[0] * (x.shape[1] - r) / (1 + 2 * lam / (1 - lam))
        tol = 4 * math.sqrt(exact * (1 - exact) / n_eff)
        assert _p_same(x, r) == pytest.approx(exact, abs=tol)


def test_repeat_avoiding_transition_probabilities():
    q, a = 5, 0.8
    ds, truth = repeat_avoiding_sequences(q, 300, 200, avoid=a, seed=3)
    x = ds["token"].values
    p_rep = (1 - a) / (q - a)
    assert truth["repeat_probability"] == pytest.approx(p_rep)
    assert truth["c1"] == pytest.approx(-a / (q - a))
    n = x.shape[0] * (x.shape[1] - 1)
    assert _p_same(x, 1) == pytest.approx(p_rep, abs=4 * math.sqrt(p_rep / n))
    # moves to each other state with equal probability 1/(q - a)
    prev, nxt = x[:, :-1].ravel(), x[:, 1:].ravel()
    diff = (nxt - prev) % q
    frac = np.bincount(diff, minlength=q) / diff.size
    np.testing.assert_allclose(frac[1:], 1 / (q - a), atol=4 * math.sqrt(0.25 / n))
    np.testing.assert_allclose(np.bincount(x.ravel(), minlength=q) / x.size, 1 / q, atol=0.01)
    # lag 2: P(same) = lambda^2 (1 - 1/q) + 1/q
    lam = truth["lambda"]
    exact2 = lam**2 * (1 - 1 / q) + 1 / q
    assert _p_same(x, 2) == pytest.approx(exact2, abs=4 * math.sqrt(exact2 / n))


def test_fgn_has_exact_autocovariance():
    rng = np.random.default_rng(4)
    z = _fgn(0.75, 4000, 64, rng)
    gamma = _fgn_autocovariance(0.75, 64)
    for r in (0, 1, 4, 16):
        emp = float(np.mean(z[:, : 64 - r] * z[:, r:]))
        assert emp == pytest.approx(gamma[r], abs=0.03)


def test_expected_max_normal():
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-7)
    assert expected_max_normal(3) == pytest.approx(1.5 / math.sqrt(math.pi), rel=1e-7)


def test_power_law_q2_matches_sheppard():
    """q = 2: P(same) - 1/2 = arcsin(rho)/pi exactly, so C(r)/C(0) = (2/pi) arcsin rho."""
    ds, truth = power_law_sequences(2, 3000, 64, eta=0.5, seed=5)
    x = ds["token"].values
    c = truth["correlation_function"]
    for r in (1, 4, 16):
        emp = 2 * (_p_same(x, r) - 0.5)
        assert emp == pytest.approx(c[r], abs=0.03)
    assert truth["asymptotic_amplitude"] == pytest.approx(2 / math.pi * 0.75 * 0.5)


def test_power_law_q3_first_order_amplitude():
    """q = 3: C(r)/C(0) = (q mu_q^2 / (q-1)^2) rho(r) + O(rho^2), checked at large r."""
    q = 3
    ds, truth = power_law_sequences(q, 4000, 128, eta=0.5, seed=6)
    x = ds["token"].values
    rho = truth["field_correlation"]
    amp = q * expected_max_normal(q) ** 2 / (q - 1) ** 2
    lags = np.arange(16, 65, 8)
    emp = np.array([(_p_same(x, r) - 1 / q) / (1 - 1 / q) for r in lags])
    ratio = emp.sum() / (amp * rho[lags]).sum()
    assert ratio == pytest.approx(1.0, abs=0.15)


def test_generators_reject_bad_arguments():
    with pytest.raises(SchemaError):
        markov_chain(1, 0.5, 3, 10)
    with pytest.raises(SchemaError):
        markov_chain(3, 1.0, 3, 10)
    with pytest.raises(SchemaError):
        repeat_avoiding_sequences(3, 3, 10, avoid=0.0)
    with pytest.raises(SchemaError):
        power_law_sequences(3, 3, 10, eta=1.2)
