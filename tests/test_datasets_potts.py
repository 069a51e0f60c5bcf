"""Structure, determinism and ground truth of the Potts and biased-spin generators.

Physics of the sampler itself is validated in tests/test_validation_potts_sampler.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from phasekit.datasets.potts import (
    POTTS_EXACT,
    biased_spins,
    critical_energy,
    critical_temperature,
    potts_by_size,
    potts_samples,
)
from phasekit.errors import SchemaError


def test_critical_temperature_and_table():
    assert critical_temperature(2) == pytest.approx(2.0 / (2.0 * np.log(1.0 + np.sqrt(2.0))))
    assert critical_temperature(2) == pytest.approx(1.1345926571065, rel=1e-12)
    assert critical_temperature(3) == pytest.approx(0.99497286, rel=1e-8)
    assert critical_temperature(10) == pytest.approx(1.0 / np.log(1.0 + np.sqrt(10.0)))
    assert critical_energy(2) == pytest.approx(-(1 + 1 / np.sqrt(2)))
    assert POTTS_EXACT[2]["nu"] == 1 and POTTS_EXACT[2]["beta"] == 1 / 8
    assert POTTS_EXACT[2]["gamma"] == 7 / 4 and POTTS_EXACT[2]["binder_crossing"] == 0.61069
    assert POTTS_EXACT[3]["nu"] == 5 / 6 and POTTS_EXACT[3]["gamma"] == 13 / 9
    assert POTTS_EXACT[4]["beta"] == 1 / 12
    # scaling relations: gamma = nu (2 - eta), alpha = 2 - 2 nu (d = 2)
    for q in (2, 3, 4):
        e = POTTS_EXACT[q]
        assert e["gamma"] == pytest.approx(e["nu"] * (2 - e["eta"]))
        assert e["alpha"] == pytest.approx(2 - 2 * e["nu"])
        assert e["order"] == "continuous"
    with pytest.raises(SchemaError):
        critical_temperature(1)


def test_potts_samples_structure():
    temps = np.array([0.9, 1.0, 1.2])
    ds, truth = potts_samples(3, 6, temps, 10, n_equilibrate=5, seed=0)
    assert ds.token.dims == ("temperature", "sample", "position")
    assert ds.token.shape == (3, 10, 36)
    assert np.issubdtype(ds.token.dtype, np.signedinteger)
    assert ds.token.min() >= 0 and ds.token.max() <= 2
    np.testing.assert_array_equal(ds.temperature.values, temps)
    assert ds.energy.dims == ("temperature", "sample")
    assert ds.attrs["n_states"] == 3 and ds.attrs["L"] == 6 and ds.attrs["N"] == 36
    assert ds.attrs["geometry"] == "square periodic"
    # position is row-major: position = row * L + col
    np.testing.assert_array_equal(ds.position.values, ds.row.values * 6 + ds.col.values)
    assert truth["critical_temperature"] == critical_temperature(3)
    assert truth["order"] == "continuous" and truth["nu"] == 5 / 6
    assert truth["exponents"]["beta"] == 1 / 9
    assert set(ds.chain.values) == set(range(10))


def test_energy_variable_is_energy_of_tokens():
    ds, _ = potts_samples(4, 5, [0.8, 2.0], 6, n_equilibrate=3, seed=1)
    spins = ds.token.values.reshape(2, 6, 5, 5)
    same = (spins == np.roll(spins, -1, axis=-1)).sum((-1, -2)) + (
        spins == np.roll(spins, -1, axis=-2)
    ).sum((-1, -2))
    np.testing.assert_allclose(ds.energy.values, -same / 25.0)


def test_potts_determinism():
    a, _ = potts_samples(2, 6, [1.0, 1.5], 12, n_equilibrate=5, seed=42)
    b, _ = potts_samples(2, 6, [1.0, 1.5], 12, n_equilibrate=5, seed=42)
    c, _ = potts_samples(2, 6, [1.0, 1.5], 12, n_equilibrate=5, seed=43)
    assert a.identical(b)
    assert not np.array_equal(a.token.values, c.token.values)


def test_first_order_truth():
    _, truth = potts_samples(10, 4, [0.7], 2, n_equilibrate=1, seed=0)
    assert truth["order"] == "first_order"
    assert truth["nu"] is None


def test_potts_by_size_ragged():
    Tc = critical_temperature(2)

    def grid(L):
        return Tc * (1 + np.linspace(-0.1, 0.1, 3 if L == 4 else 5) * 4 / L)

    data, truth = potts_by_size(2, [4, 8], grid, 8, seed=0, n_equilibrate=5)
    assert set(data) == {4, 8}
    assert data[4].sizes["temperature"] == 3 and data[8].sizes["temperature"] == 5
    assert data[8].sizes["position"] == 64 and data[8].attrs["L"] == 8
    assert truth["sizes"] == [4, 8] and truth["order"] == "continuous"
    same, _ = potts_by_size(2, [4, 8], [1.0, 1.2], 8, seed=0, n_equilibrate=5)
    again, _ = potts_by_size(2, [4, 8], [1.0, 1.2], 8, seed=0, n_equilibrate=5)
    assert all(same[L].identical(again[L]) for L in (4, 8))
    assert not np.array_equal(same[4].token.values[..., :16], same[8].token.values[..., :16])


def test_biased_spins_truth_and_frequencies():
    controls = np.linspace(0.0, 1.0, 5)
    data, truth = biased_spins(4, [4, 8], controls, 200, seed=3)
    assert truth["order"] == "crossover"
    assert truth["center"] == pytest.approx(0.5) and truth["width"] == pytest.approx(1 / 8)
    p0 = truth["p0"]
    assert np.all(np.diff(p0) > 0) and p0[2] == pytest.approx(1 / 4 + 3 / 4 * 0.5)
    ds = data[8]
    assert ds.token.dims == ("control", "sample", "position")
    assert ds.token.shape == (5, 200, 64) and ds.attrs["n_states"] == 4 and ds.attrs["N"] == 64
    for i, p in enumerate(p0):
        counts = np.bincount(ds.token.values[i].ravel(), minlength=4)
        expected = np.array([p, *(3 * [(1 - p) / 3])]) * counts.sum()
        assert stats.chisquare(counts, expected).pvalue > 1e-4


def test_biased_spins_susceptibility_does_not_grow():
    """Independent sites: N var(m) stays bounded; it does not grow with N as at a transition."""
    controls = np.linspace(-1, 1, 9)
    data, _ = biased_spins(3, [4, 16], controls, 400, seed=5)
    chi_max = {}
    for L, ds in data.items():
        tok = ds.token.values
        counts = np.stack([(tok == k).sum(-1) for k in range(3)], -1)
        m = (3 * counts.max(-1) / tok.shape[-1] - 1) / 2
        chi_max[L] = (tok.shape[-1] * m.var(axis=1)).max()
    assert chi_max[16] < 2 * chi_max[4]


def test_bad_arguments():
    with pytest.raises(SchemaError):
        potts_samples(2, 4, [-1.0], 4)
    with pytest.raises(SchemaError):
        potts_samples(2, 1, [1.0], 4)
    with pytest.raises(SchemaError):
        potts_samples(2, 4, [1.0], 4, n_chains=5)
    with pytest.raises(SchemaError):
        biased_spins(2, [4], [0.0, 1.0], 3, width=0)
    with pytest.raises(SchemaError):
        potts_by_size(2, [], [1.0], 3)
