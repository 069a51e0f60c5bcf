"""Validate the Swendsen-Wang Potts sampler against exact statistical mechanics.

Exact references computed here, independently of the sampler:
- full enumeration of all q^N configurations of small periodic lattices
  (<e>, <m^2>, <m^4> with m = (q max_k n_k / N - 1) / (q - 1));
- the row-to-row transfer matrix of an L x L torus (exact <e> for L up to 10 at q = 2);
- T -> infinity: independent uniform spins, <e> = -2/q;
- Onsager-Yang spontaneous magnetisation of the Ising model (q = 2 is Ising with
  J_Ising = 1/2, since delta(s, s') = (1 + sigma sigma') / 2):
  M = (1 - sinh(2K)^-4)^(1/8), K = J_Ising / T = 1 / (2T);
- the exact energy per site at T_c, -(1 + 1/sqrt(q)) (thermodynamic limit).

Statistical errors use independent chains: the standard error of a chain-mean average is
std(chain means) / sqrt(n_chains).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from phasekit.datasets.potts import critical_energy, critical_temperature, potts_samples


def _potts_m(spins: np.ndarray, q: int) -> np.ndarray:
    counts = np.stack([(spins == k).sum(-1) for k in range(q)], axis=-1)
    return (q * counts.max(-1) / spins.shape[-1] - 1.0) / (q - 1.0)


def _enumerate(q: int, L: int, temperatures: np.ndarray) -> dict[str, np.ndarray]:
    """Exact <e>, <m^2>, <m^4> by summing over all q^(L*L) configurations."""
    N = L * L
    codes = np.arange(q**N)
    spins = np.stack([(codes // q**i) % q for i in range(N)], axis=-1).astype(np.int8)
    idx = np.arange(N).reshape(L, L)
    right, down = np.roll(idx, -1, 1).ravel(), np.roll(idx, -1, 0).ravel()
    n_same = (spins == spins[:, right]).sum(-1) + (spins == spins[:, down]).sum(-1)
    m = _potts_m(spins, q)
    out = {"e": [], "m2": [], "m4": []}
    for T in temperatures:
        w = np.exp((n_same - n_same.max()) / T)
        w /= w.sum()
        out["e"].append(-(w @ n_same) / N)
        out["m2"].append(w @ m**2)
        out["m4"].append(w @ m**4)
    return {k: np.array(v) for k, v in out.items()}


def _transfer_energy(q: int, L: int, T: float) -> float:
    """Exact <e> on an L x L torus: <n_same> = d ln Tr(A^L) / d beta = L Tr(A^(L-1) A') / Tr(A^L).

    A[a, b] = exp(beta (h(a)/2 + v(a, b) + h(b)/2)), rows a, b in {0..q-1}^L, h the
    equal pairs inside a row, v the equal vertical pairs between rows; A' = A * (h/2 + v + h/2).
    """
    beta = 1.0 / T
    codes = np.arange(q**L)
    rows = np.stack([(codes // q**i) % q for i in range(L)], axis=-1)
    h = (rows == np.roll(rows, -1, axis=1)).sum(-1)
    v = (rows[:, None, :] == rows[None, :, :]).sum(-1)
    bonds = h[:, None] / 2 + v + h[None, :] / 2
    A = np.exp(beta * (bonds - bonds.max()))
    lam, vec = np.linalg.eigh(A)
    lam_n = lam / np.abs(lam).max()
    dA = A * bonds
    # Tr(A^(L-1) A') = sum_i lam_i^(L-1) v_i^T A' v_i
    proj = ((vec.T @ dA) * vec.T).sum(axis=1) / np.abs(lam).max()
    n_same = L * np.sum(lam_n ** (L - 1) * proj) / np.sum(lam_n**L)
    return float(-n_same / (L * L))


def _chain_mean_and_se(values: np.ndarray, chain: np.ndarray) -> tuple[float, float]:
    ids = np.unique(chain)
    means = np.array([values[chain == c].mean() for c in ids])
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(ids.size))


def test_transfer_matrix_matches_enumeration_and_tc_limit():
    """The exact references agree with each other and approach -(1 + 1/sqrt 2) at T_c
    like a/L (the Ising energy's leading finite-size correction at T_c)."""
    for T in (1.0, 1.5):
        exact = _enumerate(2, 4, np.array([T]))["e"][0]
        assert abs(_transfer_energy(2, 4, T) - exact) < 1e-10
    Tc = critical_temperature(2)
    sizes = np.array([4, 6, 8])
    gaps = np.array([_transfer_energy(2, L, Tc) for L in sizes]) - critical_energy(2)
    assert np.all(np.diff(np.abs(gaps)) < 0)
    amplitude = gaps * sizes
    assert np.ptp(amplitude) < 0.05 * np.abs(amplitude).mean()


@pytest.mark.parametrize("q", [2, 3, 5])
def test_infinite_temperature_is_uniform(q):
    ds, _ = potts_samples(q, 8, [1e4], 300, n_equilibrate=5, n_between=1, seed=q)
    counts = np.bincount(ds.token.values.ravel(), minlength=q)
    assert counts.size == q
    # p_bond = 1e-4: bonds are rare, sites (nearly) independent; pooled chi-square
    assert stats.chisquare(counts).pvalue > 1e-4
    e, se = _chain_mean_and_se(ds.energy.values[0], ds.chain.values)
    assert abs(e - (-2.0 / q)) < 4 * se + 1e-3


@pytest.mark.parametrize("q", [2, 3, 10])
def test_low_temperature_is_magnetised(q):
    Tc = critical_temperature(q)
    ds, _ = potts_samples(q, 12, [0.3 * Tc], 100, seed=1)
    m = _potts_m(ds.token.values[0], q)
    assert m.min() > 0.95


def test_exact_enumeration_q2_L4():
    """<e>, <m^2>, <m^4> on the 4 x 4 Ising torus at three temperatures, within 4 sigma."""
    temps = np.array([0.8, critical_temperature(2), 1.6])
    exact = _enumerate(2, 4, temps)
    ds, _ = potts_samples(2, 4, temps, 2400, n_equilibrate=20, n_between=2, n_chains=48, seed=3)
    m = _potts_m(ds.token.values, 2)
    for t in range(temps.size):
        for name, values in (("e", ds.energy.values[t]), ("m2", m[t] ** 2), ("m4", m[t] ** 4)):
            mean, se = _chain_mean_and_se(values, ds.chain.values)
            assert abs(mean - exact[name][t]) < 4 * se, (name, temps[t], mean, exact[name][t], se)


def test_exact_enumeration_q3_L3():
    temps = np.array([0.8, critical_temperature(3), 1.4])
    exact = _enumerate(3, 3, temps)
    ds, _ = potts_samples(3, 3, temps, 2400, n_equilibrate=20, n_between=2, n_chains=48, seed=4)
    m = _potts_m(ds.token.values, 3)
    for t in range(temps.size):
        for name, values in (("e", ds.energy.values[t]), ("m2", m[t] ** 2)):
            mean, se = _chain_mean_and_se(values, ds.chain.values)
            assert abs(mean - exact[name][t]) < 4 * se, (name, temps[t], mean, exact[name][t], se)


def test_ising_spontaneous_magnetisation():
    """q = 2 below T_c: <|m|> equals Onsager-Yang's M(T) (finite-size effects are
    exponentially small at L = 16 for xi of order one)."""
    Tc = critical_temperature(2)
    temps = np.array([0.7, 0.8]) * Tc
    ds, _ = potts_samples(2, 16, temps, 400, n_equilibrate=50, n_chains=20, seed=5)
    m = _potts_m(ds.token.values, 2)
    for t, T in enumerate(temps):
        K = 1.0 / (2.0 * T)
        exact = (1.0 - np.sinh(2.0 * K) ** -4) ** 0.125
        mean, se = _chain_mean_and_se(m[t], ds.chain.values)
        assert abs(mean - exact) < 4 * se + 2e-3, (T, mean, exact, se)


@pytest.mark.slow
def test_energy_at_tc_transfer_matrix_L10():
    """q = 2, L = 10 at T_c: sampled <e> equals the exact transfer-matrix value."""
    Tc = critical_temperature(2)
    exact = _transfer_energy(2, 10, Tc)
    ds, _ = potts_samples(2, 10, [Tc], 8000, n_equilibrate=100, n_chains=64, seed=6)
    mean, se = _chain_mean_and_se(ds.energy.values[0], ds.chain.values)
    assert abs(mean - exact) < 4 * se, (mean, exact, se)


@pytest.mark.slow
def test_energy_at_tc_large_lattice():
    """q = 2, L = 32 at T_c: <e> = -(1 + 1/sqrt 2) + a/L, with the amplitude a taken from
    the exact L = 10 transfer matrix (a/L holds to 1 % between L = 4 and 10, so the
    extrapolation error at L = 32 is below 5e-4)."""
    Tc = critical_temperature(2)
    a = 10 * (_transfer_energy(2, 10, Tc) - critical_energy(2))
    expected = critical_energy(2) + a / 32
    ds, _ = potts_samples(2, 32, [Tc], 640, n_equilibrate=100, n_chains=32, seed=7)
    mean, se = _chain_mean_and_se(ds.energy.values[0], ds.chain.values)
    assert abs(mean - expected) < 4 * se + 1e-3, (mean, expected, se)


@pytest.mark.slow
def test_ising_binder_cumulant_at_tc():
    """q = 2 at T_c on L = 16: Binder cumulant U = 1 - <m^4>/(3<m^2>^2) near U* = 0.611."""
    Tc = critical_temperature(2)
    ds, _ = potts_samples(2, 16, [Tc], 6000, n_equilibrate=100, n_chains=60, seed=8)
    m = _potts_m(ds.token.values[0], 2)
    chain = ds.chain.values
    ids = np.unique(chain)

    # jackknife over chains
    def binder(mask):
        return 1 - np.mean(m[mask] ** 4) / (3 * np.mean(m[mask] ** 2) ** 2)

    full = binder(np.ones(m.size, bool))
    jk = np.array([binder(chain != c) for c in ids])
    se = np.sqrt((ids.size - 1) * np.var(jk))
    assert abs(full - 0.61069) < 4 * se + 0.01, (full, se)
