"""The deflation of the pooled scan statistic (``samples_test.pooled_deflation``) against
what it must do by construction, on draws whose truth is known:

* no change: the deflated pooled statistic keeps the multinomial null mean;
* one change that every prompt shares: it is left alone (the flip mean alone, the rejected
  deflation of docs/changepoints.md, would divide it by several);
* changes of each prompt in its own direction (nothing shared): the deflated pooled
  statistic comes back to the multinomial null mean, which the raw one exceeds by far.
"""

from __future__ import annotations

import numpy as np

from phasekit.changepoints.samples_test import flip_mean, null_draws, pooled_deflation, scan_stats

P, K, N, REPS = 12, 6, 40, 300


def _windows(shift: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """REPS independent positions: P prompts, N samples per window, the right window's
    logits moved by ``shift`` (REPS, P, K)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.5, (REPS, P, K))
    pl = np.exp(base) / np.exp(base).sum(-1, keepdims=True)
    pr = np.exp(base + shift) / np.exp(base + shift).sum(-1, keepdims=True)
    left = np.stack([[rng.multinomial(N, pl[r, p]) for p in range(P)] for r in range(REPS)]).astype(float)
    right = np.stack([[rng.multinomial(N, pr[r, p]) for p in range(P)] for r in range(REPS)]).astype(float)
    return left, right


def _pooled(left, right, seed=1):
    mu = null_draws(left, right, 200, np.random.default_rng(seed)).mean(axis=0)[:, 1]
    obs = scan_stats(left, right)[:, 1]
    f = pooled_deflation(left, right, obs, mu, np.random.default_rng(seed + 1))
    return obs, mu, f


def test_no_change_keeps_the_null_mean():
    obs, mu, f = _pooled(*_windows(np.zeros((REPS, P, K)), 0))
    assert abs(obs.mean() / mu.mean() - 1) < 0.1  # the draws are right
    assert (obs / f).mean() / mu.mean() > 0.85  # max(1, .) only removes noise above the mean
    assert np.median(f) < 1.2


def test_a_shared_change_is_not_deflated():
    shift = np.broadcast_to(np.random.default_rng(5).normal(0, 0.5, K), (REPS, P, K))
    left, right = _windows(shift, 2)
    obs, mu, f = _pooled(left, right)
    assert obs.mean() > 5 * mu.mean()  # a strong shared change
    assert np.median(f) < 1.25
    # the flip mean alone holds 1/P of the shared change: it would divide by more
    assert np.median(flip_mean(left, right, np.random.default_rng(3)) / mu) > 1.3


def test_independent_changes_come_back_to_the_null_mean():
    shift = np.random.default_rng(7).normal(0, 0.6, (REPS, P, K))  # each prompt its own way
    obs, mu, f = _pooled(*_windows(shift, 3))
    assert obs.mean() > 1.8 * mu.mean()  # the raw pooled statistic is inflated
    assert abs((obs / f).mean() / mu.mean() - 1) < 0.2
