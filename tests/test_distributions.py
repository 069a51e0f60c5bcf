"""phasekit.distributions against scipy and the textbook formulas, dense and sparse rows."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from phasekit.count import count_states
from phasekit.distributions import (
    SparseRows,
    js_divergence,
    kl_divergence,
    multinomial_redraw,
    normalise,
    pairwise_js,
    plugin_entropy,
    tv_distance,
)


@pytest.fixture
def rows():
    rng = np.random.default_rng(11)
    c = rng.integers(0, 6, size=(4, 5, 30))
    c[..., ::3] = 0  # states nobody saw in some rows
    c[1, 2] = 0      # one empty row
    return c


def _sparse(dense: np.ndarray) -> SparseRows:
    flat = dense.reshape(-1, dense.shape[-1])
    r, s = np.nonzero(flat)
    indptr = np.zeros(flat.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=flat.shape[0]), out=indptr[1:])
    return SparseRows(indptr, s, flat[r, s], dense.shape[:-1])


def test_normalise_dense_and_sparse(rows):
    p = normalise(rows)
    ok = rows.sum(-1) > 0
    np.testing.assert_allclose(p[ok].sum(-1), 1.0)
    assert np.isnan(p[1, 2]).all()
    sp = normalise(_sparse(rows))
    np.testing.assert_allclose(sp.counts, p.reshape(-1, 30)[np.nonzero(rows.reshape(-1, 30))])


def test_plugin_entropy_matches_scipy(rows):
    ok = rows.sum(-1) > 0
    ref = np.full(rows.shape[:-1], np.nan)
    for idx in zip(*np.nonzero(ok), strict=True):
        ref[idx] = scipy_entropy(rows[idx])
    np.testing.assert_allclose(plugin_entropy(rows), ref, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(plugin_entropy(normalise(rows)), ref, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(plugin_entropy(_sparse(rows)), ref, rtol=1e-12, equal_nan=True)


def test_plugin_entropy_on_counts_object_keeps_the_grid():
    rng = np.random.default_rng(0)
    tok = rng.integers(-1, 7, size=(3, 4, 50))
    c = count_states(xr.Dataset({"token": (("checkpoint", "prompt", "sample"), tok)}), system="sample")
    h = plugin_entropy(c)
    assert h.shape == (3, 4)
    ref = [[scipy_entropy(np.bincount(tok[i, j][tok[i, j] >= 0])) for j in range(4)] for i in range(3)]
    np.testing.assert_allclose(h, ref, rtol=1e-12)


def test_kl_js_tv_match_direct_formulas(rows):
    rng = np.random.default_rng(3)
    r = rng.dirichlet(np.ones(30), size=rows.shape[:-1])
    p = normalise(rows)
    ok = rows.sum(-1) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_ref = np.where(ok, np.nansum(np.where(p > 0, p * np.log(p / r), 0.0), -1), np.nan)
    np.testing.assert_allclose(kl_divergence(rows, r), kl_ref, rtol=1e-12, equal_nan=True)
    js_ref = np.full(rows.shape[:-1], np.nan)
    for idx in zip(*np.nonzero(ok), strict=True):
        js_ref[idx] = jensenshannon(p[idx], r[idx]) ** 2  # scipy returns the square root
    np.testing.assert_allclose(js_divergence(rows, r), js_ref, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(tv_distance(rows, r), 0.5 * np.abs(p - r).sum(-1), equal_nan=True)


def test_sparse_pairs_equal_dense(rows):
    rng = np.random.default_rng(4)
    other = rng.integers(0, 4, size=rows.shape)
    other[..., 1::4] = 0
    for f in (kl_divergence, js_divergence, tv_distance):
        np.testing.assert_allclose(f(_sparse(rows), _sparse(other)), f(rows, other), rtol=1e-12,
                                   equal_nan=True)
    # one reference row for every row, and a dense reference vector
    ref = rng.dirichlet(np.ones(30))
    ref[5] = 0.0
    for f in (kl_divergence, js_divergence, tv_distance):
        dense = f(rows, np.broadcast_to(ref, rows.shape))
        np.testing.assert_allclose(f(_sparse(rows), ref), dense, rtol=1e-12, equal_nan=True)
        one_row = _sparse(ref[None] * 1000)._replace(shape=(1,))
        np.testing.assert_allclose(f(_sparse(rows), one_row), dense, rtol=1e-12, equal_nan=True)


def test_kl_is_infinite_off_support_and_js_bounded():
    assert np.isinf(kl_divergence([1.0, 0.0], [0.0, 1.0]))
    np.testing.assert_allclose(js_divergence([1.0, 0.0], [0.0, 1.0]), np.log(2.0))
    np.testing.assert_allclose(tv_distance([1.0, 0.0], [0.0, 1.0]), 1.0)


def test_pairwise_js_matches_pairs(rows):
    P = rows[0]  # (5, 30), row 0 non-empty
    D = pairwise_js(P)
    for a in range(5):
        for b in range(5):
            np.testing.assert_allclose(D[a, b], jensenshannon(P[a], P[b]) ** 2, atol=1e-12)
    np.testing.assert_allclose(pairwise_js(_sparse(P)), D, atol=1e-12)
    np.testing.assert_allclose(pairwise_js(rows)[2], pairwise_js(rows[2]), atol=1e-14)  # batched


def test_dense_redraw_is_numpys_multinomial(rows):
    got = multinomial_redraw(rows, np.random.default_rng(5))
    n = rows.sum(-1)
    p = normalise(rows)
    p = np.where(np.isfinite(p), p, 1.0 / 30)
    ref = np.random.default_rng(5).multinomial(n, p / p.sum(-1, keepdims=True))
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got.sum(-1), n)
    assert (got[rows == 0] == 0).all()


def test_sparse_redraw_has_multinomial_moments():
    counts = np.array([[50, 30, 15, 5, 0], [0, 0, 10, 0, 0]])
    sp = _sparse(counts)
    rng = np.random.default_rng(6)
    draws = np.stack([multinomial_redraw(sp, rng).counts for _ in range(4000)])
    np.testing.assert_array_equal(draws[:, :4].sum(1), 100)
    np.testing.assert_array_equal(draws[:, 4], 10)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    mean, cov = draws[:, :4].mean(0), np.cov(draws[:, :4].T)
    assert np.all(np.abs(mean - 100 * p) < 4 * np.sqrt(100 * p * (1 - p) / 4000))
    ref_cov = 100 * (np.diag(p) - np.outer(p, p))
    np.testing.assert_allclose(cov, ref_cov, atol=0.12 * ref_cov.diagonal().max())
    a = multinomial_redraw(sp, np.random.default_rng(1)).counts
    b = multinomial_redraw(sp, np.random.default_rng(1)).counts
    np.testing.assert_array_equal(a, b)


def test_sparse_redraw_with_probs_per_entry():
    sp = _sparse(np.array([[5, 5, 0], [2, 0, 8]]))
    out = multinomial_redraw(sp, np.random.default_rng(0), probs=np.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_array_equal(out.counts, [10, 0, 0, 10])
