"""Unit tests of phasekit.correlations against brute-force definitions and exact results."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.signal import lfilter

import phasekit.correlations as pc
import phasekit.correlations.pairs as pc_pairs
from phasekit.correlations import (
    autocorrelation_time,
    correlation_function,
    correlation_length,
    mutual_information,
)
from phasekit.datasets.sequences import markov_chain, repeat_avoiding_sequences
from phasekit.errors import SchemaError


# --------------------------------------------------------------------------- references
def _plug_in_d(x: np.ndarray) -> float:
    vals = x[x >= 0]
    p = np.unique(vals, return_counts=True)[1] / vals.size
    return float(np.sum(p**2))


def brute_correlation(x: np.ndarray, max_lag: int, n_groups: int | None = 50) -> np.ndarray:
    """C(r)/C(0) by the definition: loop over lags, -1 excluded pairwise; D = sum_k p_k^2 is
    the delete-a-group jackknife estimate over ``n_groups`` contiguous groups of rows as
    even as possible (the larger ones first), D + sum_g (1 - h_g)(D - D_-g) with h_g the
    group's share of the tokens (Busing et al. 1999), each D_-g recounted from the rows
    left; ``n_groups=None`` gives the plug-in D."""
    d = _plug_in_d(x)
    g = min(x.shape[0], n_groups or 1)
    if g >= 2:
        sizes = [x.shape[0] // g + (i < x.shape[0] % g) for i in range(g)]
        edges = np.concatenate([[0], np.cumsum(sizes)])
        n_tok = (x >= 0).sum()
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            rest = np.delete(x, np.arange(a, b), axis=0)
            d += (1 - (x[a:b] >= 0).sum() / n_tok) * (_plug_in_d(x) - _plug_in_d(rest))
    out = []
    for r in range(max_lag + 1):
        a, b = x[:, : x.shape[1] - r], x[:, r:]
        ok = (a >= 0) & (b >= 0)
        with np.errstate(invalid="ignore"):
            out.append((np.sum((a == b) & ok) / np.sum(ok) - d) / (1 - d))
    return np.array(out)


def brute_position_resolved(x: np.ndarray, max_lag: int) -> np.ndarray:
    m, length = x.shape
    out = np.full((length, max_lag + 1), np.nan)

    def probs(col):
        v = col[col >= 0]
        states, counts = np.unique(v, return_counts=True)
        return dict(zip(states.tolist(), (counts / v.size).tolist(), strict=True))

    ps = [probs(x[:, t]) for t in range(length)]
    var0 = [1 - sum(v**2 for v in p.values()) for p in ps]
    for t in range(length):
        for r in range(max_lag + 1):
            if t + r >= length:
                continue
            a, b = x[:, t], x[:, t + r]
            ok = (a >= 0) & (b >= 0)
            same = np.mean(a[ok] == b[ok])
            marg = sum(ps[t][k] * ps[t + r].get(k, 0.0) for k in ps[t])
            out[t, r] = (same - marg) / math.sqrt(var0[t] * var0[t + r])
    return out


def _tokens(x: np.ndarray, q: int | None = None) -> xr.Dataset:
    ds = xr.Dataset({"token": (("sample", "position"), x)})
    if q is not None:
        ds.attrs["n_states"] = q
    return ds


# --------------------------------------------------------------------------- exact pair counts
@pytest.mark.parametrize("path", ["fft", "enumerate", "enumerate-numpy", "auto"])
def test_stationary_matches_brute_force_with_padding(path, monkeypatch):
    rng = np.random.default_rng(0)
    ds, _ = markov_chain(6, 0.7, 40, 90, seed=1)
    x = ds["token"].values.copy()
    x[rng.random(x.shape) < 0.1] = -1  # scattered holes
    x[::4, 70:] = -1  # ragged ends
    if path == "fft":
        monkeypatch.setattr(pc_pairs, "_PAIR_COST", 1.0)
        monkeypatch.setattr(pc_pairs, "_PAIR_COST_NUMBA", 1.0)
    elif path.startswith("enumerate"):
        monkeypatch.setattr(pc_pairs, "_PAIR_COST", 0.0)
        monkeypatch.setattr(pc_pairs, "_PAIR_COST_NUMBA", 0.0)
    if path == "enumerate-numpy":
        monkeypatch.setattr(pc_pairs, "_NUMBA_KERNEL", False)
    c = correlation_function(_tokens(x, 6), max_lag=30)
    np.testing.assert_allclose(c.values, brute_correlation(x, 30), rtol=0, atol=1e-9)
    assert c.dims == ("lag",)
    np.testing.assert_array_equal(c["lag"].values, np.arange(31))
    assert np.all(np.isfinite(c.stderr.values[1:])) and np.all(c.stderr.values[1:] > 0)


def test_large_vocabulary_is_sparse_and_exact():
    """Zipf tokens over a 200k vocabulary: mixed FFT/enumeration, no dense q arrays."""
    rng = np.random.default_rng(2)
    k = np.arange(1, 200_001)
    p = 1 / k / np.sum(1 / k)
    x = rng.choice(200_000, size=(60, 300), p=p)
    x[:, 1::7] = x[:, 0::7][:, : x[:, 1::7].shape[1]]  # plant some repeats at lag 1
    c = correlation_function(_tokens(x, 200_000), max_lag=40)
    np.testing.assert_allclose(c.values, brute_correlation(x, 40), atol=1e-9)
    assert c.values[1] > 0.1


def test_padding_never_counts():
    """A -1 is not a state: turning tokens into -1 can only remove pairs, never add."""
    x = np.array([[0, 1, -1, -1, -1, 0, 1, -1], [1, -1, -1, 0, -1, -1, 1, 0]])
    c = correlation_function(_tokens(x, 2), max_lag=3, n_jackknife=2)
    np.testing.assert_allclose(c.values, brute_correlation(x, 3), atol=1e-12)
    # -1 runs would give perfect "same state" pairs if counted; they are not
    assert int(c["n_pairs"].sel(lag=1)) == 3  # (0,1), (5,6) in row 0 and (6,7) in row 1
    assert c.attrs["N"] == 8


def test_keep_and_replica_dims():
    a, _ = markov_chain(4, 0.9, 30, 60, seed=3)
    b, _ = markov_chain(4, 0.2, 30, 60, seed=4)
    ds = xr.concat([a, b], dim="checkpoint").assign_coords(checkpoint=[10, 20])
    per = correlation_function(ds, max_lag=5, keep="checkpoint")
    assert per.dims == ("checkpoint", "lag")
    np.testing.assert_allclose(per.sel(checkpoint=10).values, brute_correlation(a["token"].values, 5))
    np.testing.assert_allclose(per.sel(checkpoint=20).values, brute_correlation(b["token"].values, 5))
    same = correlation_function(ds, max_lag=5, replica="sample")
    np.testing.assert_allclose(same.values, per.values)
    # every dim not named is kept (issue 15): the default is one curve per checkpoint
    default = correlation_function(ds, max_lag=5)
    assert default.dims == ("checkpoint", "lag")
    np.testing.assert_allclose(default.values, per.values)
    pooled = correlation_function(ds, max_lag=5, replica=["checkpoint", "sample"])
    assert pooled.dims == ("lag",)
    np.testing.assert_allclose(pooled.values,
                               brute_correlation(np.concatenate([a["token"].values, b["token"].values]), 5))
    assert pooled.attrs["replica"] == "checkpoint,sample"
    with pytest.raises(SchemaError):
        correlation_function(ds, max_lag=5, replica="sample", keep="sample")
    with pytest.raises(SchemaError):
        correlation_function(ds, sequence="tokens")


def test_position_resolved_matches_brute_force():
    ds, _ = markov_chain(3, 0.6, 50, 12, seed=5)
    x = ds["token"].values.copy()
    x[3, 4] = -1
    x[7, 10:] = -1
    c = correlation_function(_tokens(x, 3), max_lag=4, stationary=False, n_jackknife=5)
    assert c.dims == ("position", "lag")
    np.testing.assert_allclose(c.values, brute_position_resolved(x, 4), atol=1e-12)
    assert np.all(c.stderr.values[:8, 1:] > 0)


def test_jackknife_error_is_honest():
    """The C(1) error bar matches the spread over independent samples."""
    vals, errs = [], []
    for seed in range(12):
        ds, _ = markov_chain(5, 0.8, 40, 100, seed=100 + seed)
        c = correlation_function(ds, max_lag=3, n_jackknife=20)
        vals.append(float(c.sel(lag=1)))
        errs.append(float(c.stderr.sel(lag=1)))
    ratio = np.std(vals, ddof=1) / np.mean(errs)
    assert 0.5 < ratio < 1.6
    assert abs(np.mean(vals) - 0.8) < 3 * np.std(vals, ddof=1) / math.sqrt(12)


def test_bad_tokens_raise():
    with pytest.raises(SchemaError):
        correlation_function(_tokens(np.array([[0.5, 1.0, 2.0]])))
    with pytest.raises(SchemaError):
        correlation_function(_tokens(np.array([[0, -2, 1]])))
    with pytest.raises(SchemaError):
        correlation_function(_tokens(np.array([[0, 1, 1]])), max_lag=3)


def test_dask_backed_input():
    pytest.importorskip("dask")
    ds, _ = markov_chain(4, 0.5, 20, 40, seed=6)
    lazy = ds.chunk({"sample": 5})
    np.testing.assert_allclose(
        correlation_function(lazy, max_lag=6).values, correlation_function(ds, max_lag=6).values
    )


class _ReadCounter:
    """Array-like token source counting how often each chunk is read (dask probes read nothing)."""

    def __init__(self, arr: np.ndarray):
        self.arr, self.shape, self.dtype, self.ndim = arr, arr.shape, arr.dtype, arr.ndim
        self.reads: dict[tuple, int] = {}

    def __getitem__(self, key):
        out = self.arr[key]
        if out.size:
            k = tuple((sl.start, sl.stop) if isinstance(sl, slice) else sl for sl in key)
            self.reads[k] = self.reads.get(k, 0) + 1
        return out


@pytest.mark.parametrize("method", ["exponential", "second_moment", "integrated"])
def test_correlation_length_on_dask_input_is_blockwise_and_identical(method):
    """Dask-backed tokens: xi per checkpoint from block-wise curves and jackknife replicates
    (xr.apply_ufunc; one block of tokens in memory at a time, each chunk read once), identical
    to the in-memory result, errors included."""
    da = pytest.importorskip("dask.array")
    runs = [markov_chain(5, lam, 40, 96, seed=20 + i)[0] for i, lam in enumerate((0.8, 0.5, 0.95, 0.3))]
    ds = xr.concat(runs, dim="checkpoint").assign_coords(checkpoint=[1, 2, 3, 4])
    x = ds["token"].values.copy()
    x[:, ::3, 70:] = -1  # ragged
    ds["token"] = (ds["token"].dims, x)
    src = _ReadCounter(x)
    lazy = ds.copy()
    lazy["token"] = (ds["token"].dims, da.from_array(src, chunks=(1, -1, -1), asarray=True, lock=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the lambda = 0.95 cell may be a bound
        eager = correlation_length(ds, method=method)
        got = correlation_length(lazy, method=method)
    xr.testing.assert_identical(got, eager)
    assert got.attrs == eager.attrs and "whole fit" in got.attrs["error_method"]
    assert len(src.reads) == 4 and max(src.reads.values()) == 1
    if method == "exponential":  # the lazy C(r) itself, attrs included (N: all cells' tokens)
        from phasekit.lazy import materialize

        curve = materialize(correlation_function(lazy))
        xr.testing.assert_identical(curve, correlation_function(ds))
        assert curve.attrs == correlation_function(ds).attrs


def test_function_and_length_in_one_pass_equal_the_two_calls():
    """(C(r), xi) from one read of the tokens: identical to correlation_function(ds) and
    correlation_length(ds) (whose whole-fit jackknife error is ~3x the one propagated from a
    precomputed curve), on numpy and on dask input read once per chunk."""
    da = pytest.importorskip("dask.array")
    runs = [markov_chain(5, lam, 40, 96, seed=30 + i)[0] for i, lam in enumerate((0.8, 0.6, 0.7))]
    ds = xr.concat(runs, dim="checkpoint").assign_coords(checkpoint=[1, 2, 3])
    cf, xi = pc.correlation_function_and_length(ds, keep="checkpoint", method="integrated")
    xr.testing.assert_identical(cf, correlation_function(ds, keep="checkpoint"))
    xr.testing.assert_identical(xi, correlation_length(ds, keep="checkpoint", method="integrated"))
    with pytest.warns(UserWarning, match="correlation_function_and_length"):
        from_curve = correlation_length(cf, method="integrated")
    np.testing.assert_array_equal(from_curve.values, xi.values)     # same fit on the same curve ...
    assert np.all(xi.stderr.values > 2 * from_curve.stderr.values)  # ... errors that see the lag correlation
    src = _ReadCounter(ds["token"].values)
    lazy = ds.copy()
    lazy["token"] = (ds["token"].dims, da.from_array(src, chunks=(1, -1, -1), asarray=True, lock=False))
    lcf, lxi = pc.correlation_function_and_length(lazy, keep="checkpoint", method="integrated")
    assert len(src.reads) == 3 and max(src.reads.values()) == 1
    xr.testing.assert_identical(lcf, cf)
    xr.testing.assert_identical(lxi, xi)
    with pytest.raises(SchemaError):
        pc.correlation_function_and_length(cf)


# --------------------------------------------------------------------------- mutual information
def _markov_mi(q: int, lam: float, r: int) -> float:
    """Exact I(r) of the symmetric chain: P(a, b) = (lambda^r delta_ab + (1 - lambda^r)/q)/q."""
    lr = lam**r
    ps = (lr + (1 - lr) / q) / q
    po = (1 - lr) / q / q
    return q * ps * math.log(ps * q * q) + (q * (q - 1) * po * math.log(po * q * q) if po > 0 else 0)


def test_mutual_information_markov_exact():
    q, lam = 4, 0.7
    ds, _ = markov_chain(q, lam, 150, 200, seed=7)
    mi = mutual_information(ds, max_lag=5)
    assert mi.dims == ("lag",)
    np.testing.assert_array_equal(mi["lag"].values, np.arange(1, 6))
    exact = np.array([_markov_mi(q, lam, r) for r in range(1, 6)])
    z = (mi.values - exact) / mi.stderr.values
    assert np.all(np.abs(z) < 4)
    assert mi.attrs["units"] == "nats"


def test_mutual_information_on_dask_input_is_lazy_and_identical():
    """Dask-backed tokens: one I(r) per checkpoint block through xr.apply_ufunc, nothing read
    before compute, identical to the in-memory result (attrs included) after materialize."""
    da = pytest.importorskip("dask.array")
    from phasekit.lazy import materialize

    ds = xr.concat([markov_chain(5, lam, 60, 64, seed=40 + i)[0] for i, lam in enumerate((0.8, 0.4, 0.6))],
                   dim="checkpoint")
    x = ds["token"].values.copy()
    x[:, ::3, 40:] = -1
    ds["token"] = (ds["token"].dims, x)
    lazy = mutual_information(ds.chunk(checkpoint=2), max_lag=5, n_jackknife=7)
    assert isinstance(lazy.data, da.Array)
    got, want = materialize(lazy), mutual_information(ds, max_lag=5, n_jackknife=7)
    xr.testing.assert_identical(got, want)
    assert got.attrs == want.attrs


def test_mutual_information_sees_non_same_state_dependence():
    """Cyclic chain s_{t+1} = s_t + 1 (mod q) w.p. b, = s_t w.p. b/(q-1), else uniform:
    P(same) = 1/q exactly, so C(1) = 0, but I(1) > 0."""
    q, b = 3, 0.6
    a = b / (q - 1)
    rng = np.random.default_rng(8)
    m, length = 200, 150
    u = rng.random((m, length))
    step = np.where(u < b, 1, np.where(u < a + b, 0, rng.integers(0, q, (m, length)) + q))
    x = np.empty((m, length), dtype=np.int64)
    x[:, 0] = rng.integers(0, q, m)
    fresh = rng.integers(0, q, (m, length))
    for t in range(1, length):
        s = step[:, t]
        x[:, t] = np.where(s >= q, fresh[:, t], (x[:, t - 1] + s) % q)
    ds = _tokens(x, q)
    c = correlation_function(ds, max_lag=1)
    assert abs(float(c.sel(lag=1))) < 4 * float(c.stderr.sel(lag=1))
    mi = mutual_information(ds, max_lag=1)
    assert float(mi.sel(lag=1)) > 10 * float(mi.stderr.sel(lag=1))


def test_mutual_information_needs_q_for_nsb():
    x = np.array([[0, 1, 1, 0, 2, 1]] * 4)
    with pytest.raises(SchemaError):
        mutual_information(_tokens(x), max_lag=1, estimator="nsb")


# --------------------------------------------------------------------------- correlation length
def test_markov_exact_lengths_all_methods():
    lam = 0.8
    ds, truth = markov_chain(10, lam, 300, 512, seed=9)
    exp = correlation_length(ds)
    assert exp.attrs["method"] == "exponential" and exp.attrs["decay"] == "exponential"
    assert exp.item() == pytest.approx(truth["correlation_length"], rel=0.05)
    assert abs(exp.item() - truth["correlation_length"]) < 3 * float(exp.stderr)
    sm = correlation_length(ds, method="second_moment")
    assert sm.item() == pytest.approx(truth["second_moment_length"], rel=0.08)
    assert abs(sm.item() - truth["second_moment_length"]) < 3 * float(sm.stderr)
    it = correlation_length(ds, method="integrated")
    assert it.item() == pytest.approx(truth["integrated_length"], rel=0.05)
    assert abs(it.item() - truth["integrated_length"]) < 3 * float(it.stderr)
    assert math.isnan(float(exp.eta))


def test_length_from_precomputed_curve_and_kept_dims():
    a, ta = markov_chain(5, 0.9, 100, 400, seed=10)
    b, tb = markov_chain(5, 0.5, 100, 400, seed=11)
    ds = xr.concat([a, b], dim="checkpoint")
    corr = correlation_function(ds, max_lag=100, keep="checkpoint")
    with pytest.warns(UserWarning, match="understates the error"):   # lags treated as independent
        xi = correlation_length(corr)
    assert xi.dims == ("checkpoint",)
    truth = np.array([ta["correlation_length"], tb["correlation_length"]])
    np.testing.assert_allclose(xi.values, truth, rtol=0.08)
    assert list(xi["decay"].values) == ["exponential", "exponential"]
    assert "independent" in xi.attrs["error_method"]
    assert np.all(xi.stderr.values > 0)


def test_anticorrelated_is_flagged_not_folded():
    ds, truth = repeat_avoiding_sequences(3, 150, 200, avoid=0.9, seed=12)
    xi = correlation_length(ds)
    assert xi.attrs["decay"] == "anticorrelated"
    assert float(xi.c1) < 0
    assert float(xi.c1) == pytest.approx(truth["c1"], abs=4 * 0.01)
    assert xi.item() == pytest.approx(truth["envelope_length"], rel=0.1)
    it = correlation_length(ds, method="integrated")
    lam = truth["lambda"]
    assert it.item() == pytest.approx((1 + lam) / (2 * (1 - lam)), abs=0.03)
    assert it.item() < 0.5  # an anti-correlated tau_int is below its white-noise value


def test_uncorrelated_and_oscillating():
    rng = np.random.default_rng(13)
    white = _tokens(rng.integers(0, 5, (100, 200)), 5)
    xi = correlation_length(white)
    assert xi.attrs["decay"] == "uncorrelated" and xi.item() == 0.0
    # square wave AAABBB... with random phase and 10 % noise: C(1) > 0, C(3) < 0
    phase = rng.integers(0, 6, (200, 1))
    x = ((np.arange(120)[None, :] + phase) // 3) % 2
    x = np.where(rng.random(x.shape) < 0.1, rng.integers(0, 2, x.shape), x)
    wave = correlation_length(_tokens(x, 2), max_lag=12)
    assert wave.attrs["decay"] == "oscillating"
    assert float(wave.c1) > 0 and math.isnan(wave.item())
    osc = xr.DataArray([1.0, 0.6, -0.3, -0.5, -0.2, 0.1, 0.05, 0.0], dims="lag",
                       coords={"lag": np.arange(8), "stderr": ("lag", np.full(8, 0.01))})
    res = correlation_length(osc)
    assert res.attrs["decay"] == "oscillating"
    assert math.isnan(res.item())


def test_correlation_length_rejects_bad_method():
    ds, _ = markov_chain(3, 0.5, 5, 20, seed=0)
    with pytest.raises(SchemaError):
        correlation_length(ds, method="fourier")


# --------------------------------------------------------------------------- autocorrelation time
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_autocorrelation_time_ar1(phi):
    rng = np.random.default_rng(int(phi * 10) + 20)
    x = lfilter([1.0], [1.0, -phi], rng.standard_normal((12, 20_000)), axis=1)
    da = xr.DataArray(x, dims=("run", "checkpoint"))
    tau = autocorrelation_time(da)
    exact = (1 + phi) / (2 * (1 - phi))
    assert tau.dims == ("run",)
    z = (tau.values - exact) / tau.stderr.values
    assert np.all(np.abs(z) < 3.5)
    assert np.mean(tau.values) == pytest.approx(exact, rel=0.05)
    np.testing.assert_allclose(tau["n_effective"].values, 20_000 / (2 * tau.values))
    assert np.all(tau["window"].values >= 5 * tau.values)


def test_autocorrelation_time_errors():
    with pytest.raises(SchemaError):
        autocorrelation_time(xr.DataArray([1.0, np.nan, 2.0, 3.0, 4.0], dims="checkpoint"))
    with pytest.raises(SchemaError):
        autocorrelation_time(xr.DataArray(np.arange(10.0), dims="step"))
    const = autocorrelation_time(xr.DataArray(np.ones(50), dims="checkpoint"))
    assert math.isnan(const.item())


def test_mutual_information_sparse_codes_match_dense():
    """Relabelling states with huge ids (sparse path) leaves I(r) and its error unchanged."""
    ds, _ = markov_chain(5, 0.6, 60, 80, seed=14)
    x = ds["token"].values
    dense = mutual_information(_tokens(x, 5), max_lag=3, estimator="plugin")
    relabelled = _tokens(x * 40_009 + 7, 250_000)
    sparse = mutual_information(relabelled, max_lag=3, estimator="plugin")
    np.testing.assert_allclose(sparse.values, dense.values, rtol=1e-12)
    np.testing.assert_allclose(sparse.stderr.values, dense.stderr.values, rtol=1e-9)


def test_single_long_sequence_uses_block_jackknife():
    """One long chain (the usual Monte Carlo case): errors from segments of the chain."""
    zs = []
    for seed in range(6):
        ds, truth = markov_chain(4, 0.8, 1, 20_000, seed=200 + seed)
        xi = correlation_length(ds, max_lag=60)
        zs.append((xi.item() - truth["correlation_length"]) / float(xi.stderr))
    assert "block jackknife" in xi.attrs["error_method"]
    assert np.all(np.abs(zs) < 3.5)
    assert 0.3 < np.std(zs) < 2.0
    short = correlation_function(markov_chain(3, 0.5, 1, 30, seed=1)[0], max_lag=10)
    assert np.all(np.isnan(short.stderr.values)) and "none" in short.attrs["error_method"]


def test_position_resolved_curve_has_no_single_length():
    ds, _ = markov_chain(3, 0.5, 20, 20, seed=2)
    with pytest.raises(SchemaError):
        correlation_length(correlation_function(ds, max_lag=4, stationary=False))


def test_huge_sparse_token_ids():
    """Hash-like ids up to 2^50: same C(r) and I(r) as the compact labels."""
    ds, _ = markov_chain(6, 0.7, 30, 60, seed=15)
    x = ds["token"].values
    ids = np.array([3, 2**40 + 1, 2**45, 7 * 2**33, 2**50 - 1, 12345678901])
    big = np.where(x >= 0, ids[np.clip(x, 0, None)], -1)
    big[0, :5] = -1
    small = x.copy()
    small[0, :5] = -1
    np.testing.assert_allclose(
        correlation_function(_tokens(big), max_lag=10).values,
        correlation_function(_tokens(small), max_lag=10).values,
    )
    np.testing.assert_allclose(
        mutual_information(_tokens(big), max_lag=2, estimator="plugin").values,
        mutual_information(_tokens(small), max_lag=2, estimator="plugin").values,
    )


# --------------------------------------------------------------------------- vocabulary (issue 15 item 4)
def test_correlation_length_keeps_every_dim_not_named():
    """Two checkpoints with different stay probabilities: the default gives one ξ per
    checkpoint, each near its exact −1/ln λ; pooling the checkpoints is asked for by name."""
    lams = (0.8, 0.4)
    runs = [markov_chain(4, lam, 60, 120, seed=10 + i)[0] for i, lam in enumerate(lams)]
    ds = xr.concat(runs, dim="checkpoint").assign_coords(checkpoint=[100, 200])
    xi = correlation_length(ds)
    assert xi.dims == ("checkpoint",)
    for lam, value, se in zip(lams, xi.values, xi.stderr.values, strict=True):
        exact = -1.0 / math.log(lam)
        assert abs(value - exact) < 4 * se + 0.05 * exact
    assert xi.values[0] > 2 * xi.values[1]
    pooled = correlation_length(ds, replica=["checkpoint", "sample"])
    assert pooled.dims == ()


def test_correlation_length_default_is_per_checkpoint_and_prompt():
    """The data model's dims (checkpoint, prompt, sample, position): the samples are the
    replicas, every other dim is kept; each (checkpoint, prompt) cell near its exact -1/ln lambda."""
    lams = np.array([[0.8, 0.3], [0.6, 0.9]])
    x = np.stack([np.stack([markov_chain(4, lams[i, j], 50, 160, seed=70 + 2 * i + j)[0]["token"].values
                            for j in range(2)]) for i in range(2)])
    ds = xr.Dataset({"token": (("checkpoint", "prompt", "sample", "position"), x)},
                    coords={"checkpoint": [1, 2], "prompt": ["a", "b"]}, attrs={"n_states": 4})
    xi = correlation_length(ds)
    assert xi.dims == ("checkpoint", "prompt") and xi.attrs["decay"] == "exponential"
    exact = -1.0 / np.log(lams)
    assert np.all(np.abs(xi.values - exact) < 4 * xi.stderr.values + 0.05 * exact)
    assert correlation_length(ds, replica=["prompt", "sample"]).dims == ("checkpoint",)


def test_sequence_keyword_and_the_old_dim_alias():
    """sequence= names the sequence axis (any name); dim= still works as written in
    DESIGN.md, warns, and gives the same numbers; arguments after the data are keyword-only."""
    ds, _ = markov_chain(3, 0.7, 40, 50, seed=2)
    renamed = ds.rename(position="t")
    new = correlation_function(renamed, sequence="t", max_lag=6)
    with pytest.warns(DeprecationWarning, match="sequence="):
        old = correlation_function(ds, dim="position", max_lag=6)
    np.testing.assert_array_equal(new.values, old.values)
    assert new.attrs["sequence"] == "t"
    with pytest.warns(DeprecationWarning):
        xi_old = correlation_length(ds, dim="position")
    np.testing.assert_array_equal(xi_old.values, correlation_length(renamed, sequence="t").values)
    with pytest.warns(DeprecationWarning):
        mi_old = mutual_information(ds, dim="position", max_lag=2)
    np.testing.assert_array_equal(mi_old.values, mutual_information(renamed, sequence="t", max_lag=2).values)
    with pytest.raises(SchemaError, match="both"):
        correlation_function(renamed, sequence="t", dim="position")
    with pytest.raises(TypeError):
        correlation_function(ds, "position")  # keyword-only after the data


def test_autocorrelation_time_control_keyword_and_dim_alias():
    x = lfilter([1.0], [1.0, -0.5], np.random.default_rng(3).standard_normal((2, 2000)), axis=1)
    series = xr.DataArray(x, dims=("run", "temperature"))
    tau = autocorrelation_time(series, control="temperature")
    assert tau.dims == ("run",) and tau.attrs["control"] == "temperature"
    with pytest.warns(DeprecationWarning, match="control="):
        old = autocorrelation_time(series, dim="temperature")
    np.testing.assert_array_equal(old.values, tau.values)
    with pytest.raises(SchemaError):
        autocorrelation_time(series)  # no checkpoint dim: named by control=
