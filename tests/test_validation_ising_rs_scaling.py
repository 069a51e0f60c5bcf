"""Critical point and exponents of the 2D Ising model from a third-party sampler (ising-rs).

ising-rs (PyPI ``ising-rs``, module ``isingmodel``; Rust, Wolff cluster updates) is an
implementation phasekit was never tuned on. Exact values (Onsager; Wu 1982): T_c =
2/ln(1 + √2) ≈ 2.2692 with J = k_B = 1, ν = 1, γ/ν = 7/4, β/ν = 1/8. Three independent
datasets, L = 8, 12, 16, 24, 17 temperatures within ±12 % of T_c, 8 chains × 60 records
each. ising-rs takes no seed, so each session draws new data: the thresholds hold with
margin over the spread measured in benchmarks/bench_scaling.py (10 datasets).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("isingmodel", reason="the third-party sampler ising-rs is not installed "
                    "(pip install ising-rs)")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_scaling import ISING_TC, ising_rs_dataset  # noqa: E402

from phasekit.scaling import critical_point, finite_size_collapse  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def datasets():
    return [ising_rs_dataset(per_chain=60) for _ in range(3)]


def test_binder_crossing_recovers_onsager_tc(datasets):
    rows = []
    for m in datasets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = critical_point(m, method="binder", block="chain", n_bootstrap=60)
        rows.append((r.value, r.stderr))
    est, err = np.array(rows).T
    assert np.median(np.abs(est / ISING_TC - 1)) < 0.005, est
    assert np.sum(np.abs(est - ISING_TC) <= 1.96 * err) >= 2, (est, err)


def test_susceptibility_on_four_sizes_records_its_assumption(datasets):
    """Four sizes: nu is not fitted (3 parameters, 4 points) but assumed, as a field and
    a warning; the estimate lies inside the control range."""
    for m in datasets:
        with pytest.warns(RuntimeWarning, match="nu assumed"):
            r = critical_point(m, method="susceptibility", block="chain", n_bootstrap=30)
        assert r.nu_assumed == 1.0
        assert r.control_range[0] <= r.value <= r.control_range[1]


def test_gamma_over_nu_and_nu_from_collapses(datasets):
    g, nu = [], []
    for m in datasets:
        g.append(finite_size_collapse(m, observable="chi", block="chain", n_bootstrap=8))
        nu.append(finite_size_collapse(m, observable="binder", block="chain", n_bootstrap=8))
    assert np.median([abs(c.exponent / 1.75 - 1) for c in g]) < 0.05
    assert np.median([abs(c.nu - 1) for c in nu]) < 0.08
    for c in g + nu:
        assert c.success == all(c.checks.values())
        assert c.systematic and np.isfinite(c.exponent_stderr)
