"""Order parameter and fluctuations on 2D Potts samples against textbook definitions.

Validates phasekit.magnetization / susceptibility / binder_cumulant on Swendsen-Wang
samples from phasekit.datasets (q = 2, 3, 10) against direct per-configuration numpy
computations, and the Ising Binder cumulant at T_c against its universal value
U* = 0.61069 (Kamieniarz & Blöte, J. Phys. A 26, 201 (1993); periodic square lattice).
"""

from __future__ import annotations

import numpy as np
import pytest

from phasekit.datasets.potts import critical_temperature, potts_samples
from phasekit.fluctuations import binder_cumulant, jackknife, susceptibility
from phasekit.observables import magnetization, order_parameters

U_STAR_ISING = 0.61069


def _direct_m(tokens: np.ndarray, q: int) -> np.ndarray:
    """(q · max_k p_k − 1)/(q − 1) of every configuration, one bincount at a time."""
    out = np.empty(tokens.shape[:-1])
    for idx in np.ndindex(*tokens.shape[:-1]):
        n = np.bincount(tokens[idx], minlength=q)
        out[idx] = (q * n.max() / n.sum() - 1.0) / (q - 1.0)
    return out


@pytest.mark.parametrize("q", [2, 3, 10])
def test_potts_magnetization_susceptibility_binder_match_definitions(q):
    Tc = critical_temperature(q)
    temps = Tc * np.array([0.7, 1.0, 1.4])
    ds = potts_samples(q, 8, temps, 120, seed=100 + q).data
    N = ds.attrs["N"]
    m = magnetization(ds, system="position")
    direct = _direct_m(ds.token.values, q)
    np.testing.assert_allclose(m.values, direct, rtol=0, atol=1e-12)
    assert m.attrs["N"] == N == 64
    op = order_parameters(ds, system="position", estimator="plugin")
    np.testing.assert_allclose(op.magnetization.values, direct, rtol=0, atol=1e-12)

    chi = susceptibility(m, replica="sample")  # n from m.attrs["N"]
    np.testing.assert_allclose(chi.values, N * direct.var(axis=1, ddof=1), rtol=1e-10)
    chi_plain = susceptibility(m, replica="sample", corrected=False)
    np.testing.assert_allclose(
        chi_plain.values, N * ((direct**2).mean(1) - direct.mean(1) ** 2), rtol=1e-10
    )
    U = binder_cumulant(m, replica="sample", corrected=False)
    np.testing.assert_allclose(
        U.values, 1 - (direct**4).mean(1) / (3 * (direct**2).mean(1) ** 2), rtol=1e-12
    )
    ref = jackknife(lambda x, axis: 1 - (x**4).mean(axis) / (3 * (x**2).mean(axis) ** 2),
                    direct, axis=1)
    Uc = binder_cumulant(m, replica="sample")
    np.testing.assert_allclose(Uc.values, ref.bias_corrected, rtol=1e-10)
    np.testing.assert_allclose(Uc.stderr.values, ref.stderr, rtol=1e-8)
    # physics: ordered at 0.7 T_c, disordered at 1.4 T_c
    mean_m = m.mean("sample").values
    assert mean_m[0] > 0.8 and mean_m[2] < mean_m[0] - 0.3
    assert abs(Uc.values[0] - 2 / 3) < 0.02


def test_empty_configurations_give_nan_on_potts_samples():
    ds = potts_samples(3, 6, [1.0], 20, seed=1).data
    tok = ds.token.values.copy()
    tok[0, 5, :] = -1
    ds = ds.copy(data={"token": tok, "energy": ds.energy.values})
    m = magnetization(ds, system="position")
    assert np.isnan(m.values[0, 5])
    keep = np.delete(np.arange(20), 5)
    np.testing.assert_allclose(m.values[0, keep], _direct_m(tok[0, keep], 3), atol=1e-12)
    m_nan = m.copy()
    chi = susceptibility(m_nan, replica="sample")
    np.testing.assert_allclose(chi.values, 36 * np.var(m.values[0, keep], ddof=1), rtol=1e-10)


@pytest.mark.parametrize("L", [8, 12, 16])
def test_ising_binder_at_tc_is_universal(L):
    """U(T_c) ≈ 0.611 for every L (500 SW samples: jackknife se ≈ 0.005; ±0.03)."""
    ds = potts_samples(2, L, [critical_temperature(2)], 500, seed=10 + L).data
    U = binder_cumulant(magnetization(ds, system="position"), replica="sample")
    assert abs(U.values[0] - U_STAR_ISING) < 0.03, (L, U.values[0], U.stderr.values[0])
    assert 0 < U.stderr.values[0] < 0.015


@pytest.mark.slow
@pytest.mark.parametrize("L", [8, 12, 16, 24])
def test_ising_binder_at_tc_precise(L):
    """3000 samples per size: U(T_c) within 0.015 of U* and within 4 jackknife se
    (SW samples of one chain are slightly correlated, so 4 se rather than 3)."""
    ds = potts_samples(2, L, [critical_temperature(2)], 3000, n_between=3, seed=1000 + L).data
    U = binder_cumulant(magnetization(ds, system="position"), replica="sample")
    u, se = U.values[0], U.stderr.values[0]
    assert abs(u - U_STAR_ISING) < 0.015, (L, u, se)
    assert abs(u - U_STAR_ISING) < 4 * se + 0.004, (L, u, se)


@pytest.mark.slow
def test_ising_binder_curves_cross_near_tc():
    """Above T_c the Binder cumulant falls faster for larger L; below it stays higher."""
    Tc = critical_temperature(2)
    temps = Tc * np.array([0.94, 1.0, 1.06])
    U = {}
    for L in (8, 16):
        ds = potts_samples(2, L, temps, 1500, seed=2000 + L).data
        U[L] = binder_cumulant(magnetization(ds, system="position"), replica="sample")
    below = U[16].values[0] - U[8].values[0]
    above = U[16].values[2] - U[8].values[2]
    se = np.hypot(U[16].stderr.values, U[8].stderr.values)
    assert below > 2 * se[0] and above < -2 * se[2]
