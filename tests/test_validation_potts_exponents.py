"""Recover the exact critical point and exponents of the 2D Potts model from samples.

Samples: Swendsen-Wang (phasekit.datasets.potts), periodic L x L lattices, q = 2 with
L = 8..32 and q = 3 with L = 8..24, 17 temperatures within ±12 % of
T_c = 1/ln(1 + √q), 1,500 samples each (32 chains, recorded every 3 sweeps; the
bootstrap resamples whole chains, ``block="chain"``, so chain correlations enter the
error bars). Generating them takes ~2 minutes, so they are cached, exactly (the count of
the most frequent state per sample), in ``tests/fixtures/potts`` by
``tests/fixtures/potts/make_potts_fixtures.py``; ``test_fixture_is_the_generator_output``
regenerates the smallest size of each q and requires the file to match it. Exact values (Wu 1982): q = 2: ν = 1, γ/ν = 7/4, β/ν = 1/8;
q = 3: ν = 5/6, γ/ν = 26/15, β/ν = 2/15.

Exponents at a fixed Binder cumulant (no t_c needed; issue 14.6 goals): q = 2: nu within
5 %, gamma/nu within 3 %, beta/nu within 10 %; q = 3: gamma/nu within 3 %, nu within 10 %,
beta/nu within 25 %, each within 3 error bars. beta/nu is the pair-quotient estimate
(``FixedBinderExponents.quotients``). Still missed, as strict xfails with the measured
numbers: beta/nu within 10 % for q = 3 (median |error| 13.2 % over 20 held-out seeds at
L = 8..24, bias -8.8 %; corrections to scaling of the q = 3 magnetisation) and nu from the
chi collapse within 5 % (marked ``untrusted``; nu comes from the Binder collapse). The numbers
over independent datasets are ``benchmarks/bench_scaling.py --estimators`` (docs/scaling.md).

Earlier targets (issue 6): T_c within 0.5 % and within 3 error bars (Binder crossings);
ν within 10 % (Binder collapse), γ/ν within 5 % (collapse of χ), β/ν within 25 %
(collapse of ⟨m⟩), each with a finite error bar; and the right universality class
ranked first among the 2D classes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from phasekit.datasets.potts import POTTS_EXACT, critical_temperature
from phasekit.scaling import critical_point, finite_size_collapse, fixed_binder_exponents
from phasekit.universality import compatible_classes

pytestmark = pytest.mark.slow

_SCRIPT = Path(__file__).parent / "fixtures" / "potts" / "make_potts_fixtures.py"
_spec = importlib.util.spec_from_file_location("make_potts_fixtures", _SCRIPT)
assert _spec is not None and _spec.loader is not None
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


@pytest.mark.parametrize("q", [2, 3])
def test_fixture_is_the_generator_output(q):
    """The cached samples are what the generator draws today (smallest size, same seed)."""
    L = fixtures.SIZES[q][0]
    fresh = fixtures.generate(q, (L,))[L]
    cached = fixtures.load(q)[L]
    np.testing.assert_allclose(cached.values, fresh.values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(cached["chain"].values, fresh["chain"].values)
    np.testing.assert_array_equal(cached["temperature"].values, fresh["temperature"].values)
    assert cached.attrs["N"] == fresh.attrs["N"]


@pytest.fixture(scope="module", params=[2, 3], ids=["q2", "q3"])
def potts(request):
    q = request.param
    tc = critical_temperature(q)
    m = fixtures.load(q)
    exact = POTTS_EXACT[q]
    collapses = {
        obs: finite_size_collapse(m, observable=obs, block="chain", n_bootstrap=20, seed=1)
        for obs in ("binder", "chi", "m")
    }
    fixed = fixed_binder_exponents(m, block="chain", n_bootstrap=200, seed=0)
    return {"q": q, "tc": tc, "m": m, "exact": exact, "collapse": collapses, "fixed": fixed}


def test_binder_critical_temperature(potts):
    tc = potts["tc"]
    r = critical_point(potts["m"], method="binder", block="chain", n_bootstrap=200, seed=0)
    assert np.isfinite(r.stderr) and r.stderr > 0
    assert abs(r.value / tc - 1) < 0.005, (r.value, tc)
    assert abs(r.value - tc) < 3 * r.stderr, (r.value, r.stderr, tc)


def test_nu_from_binder_collapse(potts):
    c = potts["collapse"]["binder"]
    nu = potts["exact"]["nu"]
    # success=False is allowed only for the finite-size check (corrections to scaling at
    # these sizes; the shift is then part of the error bar)
    assert c.success or [k for k, ok in c.checks.items() if not ok] == ["stable_without_smallest_size"], c.message
    assert np.isfinite(c.nu_stderr) and c.nu_stderr > 0
    assert abs(c.nu / nu - 1) < 0.10, (c.nu, nu)
    assert abs(c.critical_point / potts["tc"] - 1) < 0.01


def test_gamma_over_nu_from_chi_collapse(potts):
    c = potts["collapse"]["chi"]
    ex = potts["exact"]
    # success=False is allowed only for the finite-size check (corrections to scaling at
    # these sizes; the shift is then part of the error bar)
    assert c.success or [k for k, ok in c.checks.items() if not ok] == ["stable_without_smallest_size"], c.message
    assert np.isfinite(c.exponent_stderr) and c.exponent_stderr > 0
    assert abs(c.exponent / (ex["gamma"] / ex["nu"]) - 1) < 0.05, c.exponent
    assert abs(c.nu / ex["nu"] - 1) < 0.10


def test_beta_over_nu_from_magnetization_collapse(potts):
    c = potts["collapse"]["m"]
    ex = potts["exact"]
    # success=False is allowed only for the finite-size check (corrections to scaling at
    # these sizes; the shift is then part of the error bar)
    assert c.success or [k for k, ok in c.checks.items() if not ok] == ["stable_without_smallest_size"], c.message
    assert np.isfinite(c.exponent_stderr) and c.exponent_stderr > 0
    assert abs(-c.exponent / (ex["beta"] / ex["nu"]) - 1) < 0.25, c.exponent


def test_universality_class_ranked_first(potts):
    col = potts["collapse"]
    table = compatible_classes(
        nu=(col["binder"].nu, col["binder"].nu_stderr),
        gamma_nu=(col["chi"].exponent, col["chi"].exponent_stderr),
        dimension=2,
    )
    assert table.index[0] == potts["exact"]["universality"], table


def test_exponents_at_a_fixed_binder_cumulant(potts):
    r, ex, q = potts["fixed"], potts["exact"], potts["q"]
    goals = {2: {"nu": 0.05, "gamma_nu": 0.03, "beta_nu": 0.10},
             3: {"nu": 0.10, "gamma_nu": 0.03, "beta_nu": 0.25}}[q]
    truth = {"nu": ex["nu"], "gamma_nu": ex["gamma"] / ex["nu"], "beta_nu": ex["beta"] / ex["nu"]}
    for name, goal in goals.items():
        est, se = getattr(r, name), getattr(r, f"{name}_stderr")
        assert np.isfinite(se) and se > 0
        assert abs(est / truth[name] - 1) < goal, (name, est, truth[name])
        assert abs(est - truth[name]) < 3 * se, (name, est, se, truth[name])


def test_beta_over_nu_at_a_fixed_binder_cumulant_within_the_goal(potts, request):
    """Issue 14.6 goal: β/ν within 10 %. Met for q = 2 (this fixture +4.7 %; over 30
    independent seeds median |error| 3.5 %, benchmarks/bench_scaling.py --estimators). Missed
    for q = 3 at L = 8..24 with the pair quotients (common U* before): this fixture −15.2 %
    (−15.9 %); over 20 held-out seeds median |error| 13.2 % (14.9 %), mean −8.8 % (−13.0 %),
    covered 19 of 20 (17); on the 10 seeds it was chosen on 6.4 % (10.0 %)."""
    if potts["q"] == 3:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "issue 14.6 goal missed for q = 3: beta/nu (pair quotients) -15.2 % on this fixture, median "
            "|err| 13.2 % over 20 held-out seeds (mean -8.8 %) at L = 8..24")))
    r, ex = potts["fixed"], potts["exact"]
    assert abs(r.beta_nu / (ex["beta"] / ex["nu"]) - 1) < 0.10, r.beta_nu


def test_nu_from_chi_collapse_is_marked_untrusted(potts):
    """The chi collapse's nu misses the goal (next test), so it is a field and its error
    bar includes the fit-window shift; with it the bar covers the exact nu."""
    c = potts["collapse"]["chi"]
    assert "nu" in c.untrusted and c.window_shift["nu"] >= 0
    assert abs(c.nu - potts["exact"]["nu"]) < 3 * c.nu_stderr, (c.nu, c.nu_stderr)


@pytest.mark.xfail(strict=True, reason=(
    "issue 14.6 goal missed: nu from the chi collapse +8.7 % (q = 2) and +7.9 % (q = 3) on these "
    "fixtures; median |err| over independent datasets (q = 2 / q = 3 / ising-rs) 3.9 / 6.5 / 6.9 % "
    "(choice set), 7.9 / 5.3 / 8.7 % (held out), 3.1 / 4.5 / 9.8 % (fresh); keeping only chi >= "
    "chi_max/5 gives 7.3 / 7.1 / 6.4 % on the choice set (the shape of chi far from its peak does not "
    "scale at these sizes, near it there are 3 temperatures at the largest size): nu is marked "
    "untrusted and comes from the Binder collapse"))
def test_nu_from_chi_collapse_within_the_goal(potts):
    c = potts["collapse"]["chi"]
    assert abs(c.nu / potts["exact"]["nu"] - 1) < 0.05, c.nu
