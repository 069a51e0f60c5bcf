"""Tests of the universality-class table and the compatibility ranking."""

from __future__ import annotations

import numpy as np
import pytest

from phasekit.errors import SchemaError
from phasekit.universality import UNIVERSALITY_CLASSES, compatible_classes, universality_table


def test_table_obeys_scaling_relations():
    """Rushbrooke (α + 2β + γ = 2), Fisher (γ = ν(2 − η)) and, below the upper critical
    dimension, hyperscaling (α = 2 − dν) hold for every class within its uncertainties."""
    for name, c in UNIVERSALITY_CLASSES.items():
        (nu, snu), (beta, sb), (gamma, sg) = c["nu"], c["beta"], c["gamma"]
        (eta, se), (alpha, sa) = c["eta"], c["alpha"]
        tol = 5 * (sa + 2 * sb + sg + snu + se) + 1e-9
        assert abs(alpha + 2 * beta + gamma - 2) < tol + 2e-3, name
        assert abs(gamma - nu * (2 - eta)) < tol + 2e-3, name
        if name != "mean field":
            assert abs(alpha - (2 - c["d"] * nu)) < tol + 2e-3, name


def test_table_frame_has_ratios():
    t = universality_table()
    assert t.loc["2D Ising", "gamma_nu"] == pytest.approx(1.75)
    assert t.loc["2D 3-state Potts", "beta_nu"] == pytest.approx(2 / 15)
    assert t.loc["2D Ising", "nu_err"] == 0


@pytest.mark.parametrize("name", ["2D Ising", "2D 3-state Potts", "3D Ising", "3D XY",
                                  "mean field", "2D percolation"])
def test_exact_exponents_rank_their_class_first(name):
    c = UNIVERSALITY_CLASSES[name]
    res = compatible_classes(nu=(c["nu"][0], 0.01), beta=(c["beta"][0], 0.005),
                             gamma=(c["gamma"][0], 0.01))
    assert res.index[0] == name
    assert res.loc[name, "chi2"] == pytest.approx(0.0, abs=1e-3)
    assert bool(res.loc[name, "compatible"])


def test_chi2_and_p_value_are_exact():
    # one exponent 2 sigma away from 2D Ising: chi2 = 4, p = P(chi2_1 >= 4) = 0.0455
    res = compatible_classes(nu=(1.2, 0.1), dimension=2)
    assert res.loc["2D Ising", "chi2"] == pytest.approx(4.0)
    assert res.loc["2D Ising", "p_value"] == pytest.approx(0.04550026, rel=1e-6)
    assert not res.loc["2D Ising", "compatible"]
    assert res.loc["2D Ising", "max_z"] == pytest.approx(2.0)
    assert set(res["d"]) == {2}


def test_ratios_from_a_collapse():
    res = compatible_classes(gamma_nu=(1.75, 0.02), beta_nu=(0.125, 0.01), nu=(1.0, 0.05))
    assert res.index[0] == "2D Ising"
    # 3-state Potts: gamma/nu = 26/15 is close, but nu = 5/6 is 3.3 sigma away
    assert res.loc["2D 3-state Potts", "chi2"] > 9


def test_bad_input():
    with pytest.raises(SchemaError):
        compatible_classes()
    with pytest.raises(SchemaError):
        compatible_classes(nu=(1.0, np.nan))
    with pytest.raises(SchemaError):
        compatible_classes(nu=(1.0, 0.0))
    with pytest.raises(SchemaError):
        compatible_classes(nu=1.0)
    with pytest.raises(SchemaError):
        compatible_classes(nu=(1.0, 0.1), dimension=1)
