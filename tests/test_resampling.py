"""phasekit.resampling: seeds, jackknife, bootstrap and moving-block indices against formulas."""

from __future__ import annotations

import numpy as np
import pytest

from phasekit import SchemaError
from phasekit.resampling import DEFAULT_SEED, block_bootstrap_indices, bootstrap, jackknife, rng_for


def test_rng_for_records_what_it_used():
    g, rec = rng_for()
    assert rec == DEFAULT_SEED == 20260601
    assert g.integers(1 << 30) == np.random.default_rng(DEFAULT_SEED).integers(1 << 30)
    _, rec = rng_for(None)
    assert "fresh" in rec
    mine = np.random.default_rng(1)
    g, rec = rng_for(mine)
    assert g is mine and "Generator" in rec
    with pytest.raises(SchemaError):
        rng_for(1.5)  # type: ignore[arg-type]


def test_fluctuations_reexports_the_same_functions():
    from phasekit import fluctuations

    assert fluctuations.jackknife is jackknife and fluctuations.bootstrap is bootstrap


def test_jackknife_of_ratio_against_loop():
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, size=25)
    res = jackknife(lambda a, axis: a.mean(axis) ** 2, x, axis=0)
    loo = np.array([np.delete(x, i).mean() ** 2 for i in range(25)])
    np.testing.assert_allclose(res.replicates, loo)
    np.testing.assert_allclose(res.bias_corrected, 25 * x.mean() ** 2 - 24 * loo.mean())
    np.testing.assert_allclose(res.stderr, np.sqrt(24 / 25 * ((loo - loo.mean()) ** 2).sum()))


def test_bootstrap_default_is_deterministic_and_indices_match_manual_draw():
    x = np.random.default_rng(3).normal(size=40)
    a = bootstrap(np.mean, x, n_bootstrap=50)
    b = bootstrap(np.mean, x, n_bootstrap=50)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    idx = np.random.default_rng(DEFAULT_SEED).integers(0, 40, size=(50, 40))
    np.testing.assert_allclose(a.replicates, x[idx].mean(axis=1))
    np.testing.assert_allclose(a.stderr, x[idx].mean(axis=1).std(ddof=1))


def test_block_bootstrap_indices_are_moving_blocks():
    n, B = 30, 200
    idx = block_bootstrap_indices(n, B, np.random.default_rng(0))
    ell = round(n ** (1 / 3))  # 3
    assert idx.shape == (B, n) and idx.min() >= 0 and idx.max() < n
    blocks = idx[:, : (n // ell) * ell].reshape(B, -1, ell)
    np.testing.assert_array_equal(np.diff(blocks, axis=-1), 1)  # consecutive inside a block
    starts = blocks[:, :, 0].ravel()
    counts = np.bincount(starts, minlength=n - ell + 1)
    assert counts.size == n - ell + 1 and counts.min() > 0  # every start 0..n-ell drawn
    # the moving-block bootstrap variance of a mean of iid data ~ var/n
    x = np.random.default_rng(1).normal(size=n)
    big = block_bootstrap_indices(n, 4000, np.random.default_rng(2), block_length=1)
    np.testing.assert_allclose(x[big].mean(1).std(), x.std() / np.sqrt(n), rtol=0.1)


def test_block_length_checked():
    with pytest.raises(SchemaError):
        block_bootstrap_indices(5, 10, np.random.default_rng(0), block_length=6)
