"""Critical point and exponents of the 2D Ising model from a third-party sampler (ising-rs).

ising-rs 0.1.3 (PyPI ``ising-rs``, module ``isingmodel``; Rust, Wolff cluster updates) is
an implementation phasekit was never tuned on. It takes no seed, so five of its datasets
are committed as fixtures (``tests/fixtures/ising_rs``, |m| per sample, float32; made by
``benchmarks/bench_scaling.py:ising_rs_dataset``): L = 8, 12, 16, 24, 17 temperatures
within ±12 % of T_c, 8 chains × 100 records 10 Wolff flips apart. Exact values (Onsager;
Wu 1982): T_c = 2/ln(1 + √2) ≈ 2.2692 with J = k_B = 1, ν = 1, γ/ν = 7/4, β/ν = 1/8.
Code before issue 14 fails the assumption test (no ``nu_assumed``; with 4 sizes it fitted
1/ν to 4 peaks and returned T_c as low as 0.99) and the β/ν coverage (2 of 10 datasets).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from phasekit.scaling import critical_point, finite_size_collapse, fixed_binder_exponents

pytestmark = pytest.mark.slow

TC = 2.0 / np.log(1.0 + np.sqrt(2.0))
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "ising_rs").glob("ising_rs_L8-24_*.nc"))


def _load(path):
    da = xr.open_dataarray(path).load().astype(float)
    return {int(L): da.sel(size=L, drop=True).assign_attrs(N=int(L) ** 2)
            for L in da["size"].values}


@pytest.fixture(scope="module")
def datasets():
    assert len(FIXTURES) == 5
    out = []
    for p in FIXTURES:
        m = _load(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cp = critical_point(m, method="binder", block="chain", n_bootstrap=100)
        out.append((m, cp))
    return out


def _covered(est, err, truth):
    return int(np.sum(np.abs(np.asarray(est) - truth) <= 1.96 * np.asarray(err)))


def test_binder_crossing_recovers_onsager_tc(datasets):
    est = [cp.value for _, cp in datasets]
    err = [cp.stderr for _, cp in datasets]
    assert np.median(np.abs(np.array(est) / TC - 1)) < 0.005, est
    assert _covered(est, err, TC) >= 4, (est, err)


def test_susceptibility_on_four_sizes_records_its_assumption(datasets):
    """Four sizes: nu is not fitted (3 parameters, 4 points) but assumed, as a field and
    a warning; the estimate lies inside the control range."""
    for m, _ in datasets:
        with pytest.warns(RuntimeWarning, match="nu assumed"):
            r = critical_point(m, method="susceptibility", block="chain", n_bootstrap=30)
        assert r.nu_assumed == 1.0
        assert r.control_range[0] <= r.value <= r.control_range[1]


def test_gamma_over_nu_and_nu_from_collapses(datasets):
    g = [finite_size_collapse(m, observable="chi", block="chain", n_bootstrap=8)
         for m, _ in datasets]
    u = [finite_size_collapse(m, observable="binder", block="chain", n_bootstrap=8)
         for m, _ in datasets]
    assert np.median([abs(c.exponent / 1.75 - 1) for c in g]) < 0.05
    assert np.median([abs(c.nu - 1) for c in u]) < 0.08
    assert _covered([c.nu for c in u], [c.nu_stderr for c in u], 1.0) >= 4
    for c in g + u:
        assert c.success == all(c.checks.values())
        assert c.systematic and np.isfinite(c.exponent_stderr)


def test_beta_over_nu_with_the_binder_critical_point_propagated(datasets):
    """Fixing t_c at the Binder estimate without its error made β/ν's error bar far too
    small (2 of 10 covered); passing the CriticalPoint propagates it."""
    c = [finite_size_collapse(m, observable="m", block="chain", n_bootstrap=8,
                              critical_point=cp) for m, cp in datasets]
    est = [-x.exponent for x in c]
    assert np.median(np.abs(np.array(est) / 0.125 - 1)) < 0.15, est
    assert _covered(est, [x.exponent_stderr for x in c], 0.125) >= 4
    assert all(x.propagated["exponent"] > 0 for x in c)


def test_exponents_at_a_fixed_binder_cumulant(datasets):
    """gamma/nu, beta/nu and nu where U_L = U* (no t_c needed; issue 14.6 goals: gamma/nu
    within 3 %, beta/nu within 10 %, nu within 5 %, error bars covering in >= 80 %). The
    collapse of <m> with t_c free gave beta/nu 13 % off (6 of 10 covered). beta/nu is the
    pair-quotient estimate: on these 5 fixtures its median |error| is 9.8 % (the common-U*
    slope's was 6.1 %), covered 4 of 5; over 36 independent ising-rs datasets both have
    median 6.1 % (docs/scaling.md), so the margin here is that of 5 datasets."""
    res = []
    for m, _ in datasets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res.append(fixed_binder_exponents(m, block="chain", n_bootstrap=100))
    for name, truth, goal in (("gamma_nu", 1.75, 0.03), ("beta_nu", 0.125, 0.10), ("nu", 1.0, 0.05)):
        est = np.array([getattr(r, name) for r in res])
        err = np.array([getattr(r, f"{name}_stderr") for r in res])
        assert np.median(np.abs(est / truth - 1)) < goal, (name, est)
        assert _covered(est, err, truth) >= 4, (name, est, err)
        assert all(r.systematic[name] >= 0 for r in res)
