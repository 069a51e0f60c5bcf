"""Fluctuations over replicas: phasekit.fluctuations against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

from phasekit.errors import SchemaError
from phasekit.fluctuations import (
    bimodality,
    binder_cumulant,
    bootstrap,
    jackknife,
    order_histogram,
    response,
    susceptibility,
)


def _m(values: np.ndarray, N: int | None = 64) -> xr.DataArray:
    da = xr.DataArray(
        values,
        dims=("temperature", "sample"),
        coords={"temperature": np.linspace(1.0, 2.0, values.shape[0])},
        name="magnetization",
    )
    if N is not None:
        da.attrs["N"] = N
    return da


@pytest.fixture
def mvals() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.beta(2.0, 5.0, size=(4, 50))


# ---------------------------------------------------------------------- jackknife


def test_jackknife_of_mean_is_standard_error():
    x = np.random.default_rng(1).normal(size=(3, 40))
    res = jackknife(np.mean, x, axis=1)
    np.testing.assert_allclose(res.value, x.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(res.bias_corrected, x.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(res.stderr, x.std(axis=1, ddof=1) / np.sqrt(40), rtol=1e-12)
    assert res.replicates.shape == (3, 40)


def test_jackknife_bias_correction_of_variance_is_exact():
    x = np.random.default_rng(2).normal(size=30)
    res = jackknife(np.var, x, axis=0)  # np.var has ddof=0: biased
    np.testing.assert_allclose(res.bias_corrected, x.var(ddof=1), rtol=1e-12)


def test_bootstrap_of_mean_is_reproducible_and_close_to_analytic():
    x = np.random.default_rng(3).normal(size=(2, 200))
    a = bootstrap(np.mean, x, axis=1, n_bootstrap=2000, seed=7)
    b = bootstrap(np.mean, x, axis=1, n_bootstrap=2000, seed=7)
    np.testing.assert_array_equal(a.stderr, b.stderr)
    analytic = x.std(axis=1, ddof=1) / np.sqrt(200)
    # MC error of an sd estimate from 2000 replicates is ~1.6 %; 8 % is a 5-sigma margin
    np.testing.assert_allclose(a.stderr, analytic, rtol=0.08)
    assert a.replicates.shape == (2, 2000)


def test_resampling_needs_two_replicas():
    with pytest.raises(SchemaError):
        jackknife(np.mean, np.ones(1))
    with pytest.raises(SchemaError):
        bootstrap(np.mean, np.ones(1))


# ------------------------------------------------------------------- susceptibility


def test_susceptibility_matches_direct_formula(mvals):
    m = _m(mvals)
    chi = susceptibility(m, replica="sample")
    # jackknife bias correction of <m^2>-<m>^2 is exactly the ddof=1 variance
    np.testing.assert_allclose(chi.values, 64 * mvals.var(axis=1, ddof=1), rtol=1e-10)
    plain = susceptibility(m, replica="sample", corrected=False)
    np.testing.assert_allclose(
        plain.values, 64 * ((mvals**2).mean(1) - mvals.mean(1) ** 2), rtol=1e-10
    )
    # stderr = generic jackknife of the plug-in statistic
    ref = jackknife(lambda x, axis: 64 * np.var(x, axis=axis), mvals, axis=1)
    np.testing.assert_allclose(chi.stderr.values, ref.stderr, rtol=1e-8)
    assert chi.attrs["error_method"] == "jackknife_over_replicas"
    assert chi.attrs["bias_correction"] == "jackknife"
    assert chi.dims == ("temperature",)


def test_susceptibility_size_argument_and_errors(mvals):
    m = _m(mvals, N=None)
    with pytest.raises(SchemaError):
        susceptibility(m, replica="sample")
    chi = susceptibility(m, replica="sample", n=10)
    np.testing.assert_allclose(chi.values, 10 * mvals.var(axis=1, ddof=1), rtol=1e-10)
    with pytest.raises(SchemaError):
        susceptibility(m, replica="nope", n=10)


def test_susceptibility_divided_by_temperature(mvals):
    m = _m(mvals)
    chi = susceptibility(m, replica="sample", temperature="temperature")
    T = m.temperature.values
    np.testing.assert_allclose(chi.values, 64 * mvals.var(axis=1, ddof=1) / T, rtol=1e-10)
    np.testing.assert_allclose(
        chi.stderr.values, susceptibility(m, replica="sample").stderr.values / T, rtol=1e-10
    )


def test_nan_replicas_are_skipped_cell_by_cell(mvals):
    x = mvals.copy()
    x[1, :7] = np.nan
    x[2, :] = np.nan
    chi = susceptibility(_m(x), replica="sample")
    U = binder_cumulant(_m(x), replica="sample", corrected=False)
    np.testing.assert_allclose(chi.values[1], 64 * np.var(x[1, 7:], ddof=1), rtol=1e-10)
    np.testing.assert_allclose(chi.values[[0, 3]], 64 * mvals[[0, 3]].var(1, ddof=1), rtol=1e-10)
    assert np.isnan(chi.values[2]) and np.isnan(U.values[2])
    v = x[1, 7:]
    np.testing.assert_allclose(U.values[1], 1 - (v**4).mean() / (3 * (v**2).mean() ** 2), rtol=1e-12)


def test_multiple_replica_dims():
    rng = np.random.default_rng(5)
    x = rng.random((3, 4, 6))
    m = xr.DataArray(x, dims=("checkpoint", "prompt", "sample"), attrs={"N": 5})
    chi = susceptibility(m, replica=("prompt", "sample"))
    np.testing.assert_allclose(chi.values, 5 * x.reshape(3, -1).var(1, ddof=1), rtol=1e-10)


# ------------------------------------------------------------------------- binder


def test_binder_matches_direct_formula_and_jackknife(mvals):
    m = _m(mvals)
    U = binder_cumulant(m, replica="sample", corrected=False)
    direct = 1 - (mvals**4).mean(1) / (3 * (mvals**2).mean(1) ** 2)
    np.testing.assert_allclose(U.values, direct, rtol=1e-12)

    def stat(x, axis):
        return 1 - (x**4).mean(axis) / (3 * (x**2).mean(axis) ** 2)

    ref = jackknife(stat, mvals, axis=1)
    Uc = binder_cumulant(m, replica="sample")
    np.testing.assert_allclose(Uc.values, ref.bias_corrected, rtol=1e-10)
    np.testing.assert_allclose(Uc.stderr.values, ref.stderr, rtol=1e-8)


def test_binder_limits():
    ordered = _m(np.full((1, 30), 0.8))
    np.testing.assert_allclose(binder_cumulant(ordered, replica="sample").values, 2 / 3, rtol=1e-12)
    # a Gaussian order parameter (disordered phase of a vector/Ising magnet) gives U -> 0
    g = np.random.default_rng(6).normal(size=(1, 20000))
    U = binder_cumulant(_m(g), replica="sample")
    assert abs(U.values[0]) < 5 * U.stderr.values[0] + 1e-3


# --------------------------------------------------------------- histogram, bimodality


def test_order_histogram_matches_numpy(mvals):
    h = order_histogram(_m(mvals), replica="sample", bins=10)
    assert h.dims == ("temperature", "bin")
    for i in range(mvals.shape[0]):
        ref, edges = np.histogram(mvals[i], bins=10, range=(0, 1))
        np.testing.assert_allclose(h.values[i], ref / mvals.shape[1], rtol=1e-12)
    np.testing.assert_allclose(h.bin_lower.values, edges[:-1])
    np.testing.assert_allclose(h.bin_upper.values, edges[1:])
    np.testing.assert_allclose(h.sum("bin").values, 1.0)
    f = h.values
    np.testing.assert_allclose(h.stderr.values, np.sqrt(f * (1 - f) / 50), rtol=1e-12)


def test_order_histogram_edges_and_closed_last_bin():
    x = np.array([[0.0, 0.5, 1.0, 1.0, np.nan]])
    h = order_histogram(_m(x), replica="sample", bins=[0.0, 0.5, 1.0])
    np.testing.assert_allclose(h.values, [[0.25, 0.75]])
    with pytest.raises(SchemaError):
        order_histogram(_m(x), replica="sample", bins=[1.0, 0.0])


def test_bimodality_matches_sarle_formula_and_detects_two_peaks():
    rng = np.random.default_rng(8)
    uni = rng.normal(size=400)
    bi = np.concatenate([rng.normal(0.1, 0.03, 200), rng.normal(0.9, 0.03, 200)])
    x = np.stack([uni, bi])
    bc = bimodality(_m(x), replica="sample")
    n = 400
    G1 = st.skew(x, axis=1, bias=False)
    G2 = st.kurtosis(x, axis=1, bias=False)
    np.testing.assert_allclose(bc.values, (G1**2 + 1) / (G2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))),
                               rtol=1e-9)
    assert bc.values[0] < 5 / 9 < bc.values[1]
    assert np.all(bc.stderr.values > 0)


# ------------------------------------------------------------------------ response


def test_response_exact_for_polynomial_on_irregular_grid():
    x = np.array([0.0, 0.3, 0.5, 1.2, 1.3, 2.0, 3.1, 3.3, 4.0])
    y = 2.0 * x**2 - 3.0 * x + 1.0
    s = xr.DataArray(y, dims="checkpoint", coords={"step": ("checkpoint", x)}, name="m")
    d = response(s, control="checkpoint", smooth=5, order=2)
    np.testing.assert_allclose(d.values, 4.0 * x - 3.0, atol=1e-9)
    assert d.attrs["control_coord"] == "step"
    # residuals are zero: the residual-based error is zero too
    np.testing.assert_allclose(d.stderr.values, 0.0, atol=1e-8)


def test_response_propagates_stderr_like_monte_carlo():
    rng = np.random.default_rng(9)
    x = np.sort(rng.uniform(0, 5, 15))
    truth = np.sin(x)
    sigma = 0.05
    s = xr.DataArray(truth, dims="temperature", coords={"temperature": x})
    s = s.assign_coords(stderr=("temperature", np.full(15, sigma)))
    d0 = response(s, control="temperature", smooth=7, order=2)
    assert d0.attrs["error_method"] == "propagated"
    noisy = xr.DataArray(truth + rng.normal(0, sigma, (2000, 15)), dims=("rep", "temperature"),
                         coords={"temperature": x})
    d = response(noisy, control="temperature", smooth=7, order=2)
    assert d.dims == ("rep", "temperature")
    mc = d.std("rep").values
    # sd from 2000 draws has ~1.6 % relative error; allow 8 %
    np.testing.assert_allclose(d0.stderr.values, mc, rtol=0.08)


def test_response_skips_nan_and_validates():
    x = np.arange(8.0)
    y = 3 * x
    y[3] = np.nan
    s = xr.DataArray(y, dims="checkpoint")
    d = response(s, control="checkpoint", smooth=3, order=1)
    assert np.isnan(d.values[3])
    np.testing.assert_allclose(np.delete(d.values, 3), 3.0, rtol=1e-12)
    with pytest.raises(SchemaError):
        response(s, control="checkpoint", smooth=2, order=2)
    with pytest.raises(SchemaError):
        response(s, control="time")


def test_response_residual_error_is_unbiased_for_variance():
    rng = np.random.default_rng(10)
    x = np.sort(rng.uniform(0, 5, 12))
    truth = 0.3 * x**2 - x
    sigma = 0.1
    noisy = xr.DataArray(truth + rng.normal(0, sigma, (4000, 12)), dims=("rep", "temperature"),
                         coords={"temperature": x})
    d = response(noisy, control="temperature", smooth=7, order=2)
    assert d.attrs["error_method"] == "local_fit_residuals"
    np.testing.assert_allclose(d.mean("rep").values, 0.6 * x - 1, atol=5 * d.std("rep").values.max() / 60)
    # E[se^2] = Var(derivative) when the local model is right; 4000 reps -> ~3 % error
    np.testing.assert_allclose((d.stderr**2).mean("rep").values, d.var("rep").values, rtol=0.12)


def test_response_prefers_step_over_checkpoint_index():
    steps = np.array([0.0, 10.0, 30.0, 60.0, 100.0])
    s = xr.DataArray(0.5 * steps, dims="checkpoint",
                     coords={"checkpoint": np.arange(5), "step": ("checkpoint", steps)})
    d = response(s, smooth=3, order=1)
    np.testing.assert_allclose(d.values, 0.5, rtol=1e-12)
    assert d.attrs["control_coord"] == "step"
    d2 = response(s, smooth=3, order=1, coord="checkpoint")
    assert d2.attrs["control_coord"] == "checkpoint"
