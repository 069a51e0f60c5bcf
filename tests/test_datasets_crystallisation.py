"""Tests of the synthetic crystallisation runs against their own ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from phasekit.datasets.crystallisation import crystallisation_run, demo_dataset
from phasekit.errors import SchemaError


def _counts(tokens: np.ndarray, q: int) -> np.ndarray:
    """(..., sample) tokens -> (..., q) counts, ignoring -1."""
    return np.stack([(tokens == k).sum(axis=-1) for k in range(q)], axis=-1).astype(float)


def _js(p: np.ndarray, r: np.ndarray) -> float:
    """Plug-in Jensen-Shannon divergence in nats."""
    m = 0.5 * (p + r)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / b[mask])))

    return 0.5 * kl(p, m) + 0.5 * kl(r, m)


def _mean_pairwise_js(dists: np.ndarray) -> float:
    n = dists.shape[0]
    return float(np.mean([_js(dists[i], dists[j]) for i in range(n) for j in range(i + 1, n)]))


def test_shapes_coords_attrs():
    ds, truth = crystallisation_run(
        n_checkpoints=25, n_prompts=5, n_samples=7, n_states=6, seed=1, settling=True
    )
    assert ds.token.dims == ("checkpoint", "prompt", "sample")
    assert ds.token.shape == (25, 5, 7)
    assert np.issubdtype(ds.token.dtype, np.integer)
    assert ds.token.min() >= 0 and ds.token.max() < 6
    assert ds.attrs["n_states"] == 6 == truth["n_states"]
    assert list(ds.checkpoint.values[:2]) == ["ckpt-000", "ckpt-001"]
    assert list(ds.prompt.values) == ["p00", "p01", "p02", "p03", "p04"]
    assert list(ds.state.values) == ["1", "2", "3", "4", "5", "6"]
    assert ds.state.dims == ("state",)
    steps = ds.step.values
    assert np.issubdtype(steps.dtype, np.integer)
    assert np.all(np.diff(steps) > 0)
    assert 50 <= steps[0] <= 200 and 50_000 <= steps[-1] <= 200_000
    # roughly log-spaced and irregular
    ratios = steps[1:] / steps[:-1]
    assert ratios.std() > 0
    assert np.all(ratios > 1.0) and np.median(ratios) < 1.6


def test_determinism_and_seed_dependence():
    a, ta = crystallisation_run(seed=7)
    b, tb = crystallisation_run(seed=7)
    c, _ = crystallisation_run(seed=8)
    assert a.identical(b)
    assert ta["boundaries"] == tb["boundaries"] and ta["seed_prompt"] == tb["seed_prompt"]
    assert not np.array_equal(a.token.values, c.token.values)


@pytest.mark.parametrize("seed", range(6))
def test_truth_consistency(seed):
    ds, truth = crystallisation_run(seed=seed, n_checkpoints=40)
    steps = ds.step.values
    idx = truth["boundary_index"]
    assert truth["boundaries"] == [float(steps[i]) for i in idx]
    assert all(isinstance(b, float) for b in truth["boundaries"])
    phases = truth["phases"]
    assert len(phases) == ds.sizes["checkpoint"]
    # the boundaries are exactly the checkpoints where the phase label changes
    changes = [i for i in range(1, len(phases)) if phases[i] != phases[i - 1]]
    assert changes == idx
    expected = ["liquid", "nucleation", "settling"][: len(idx) + 1]
    assert [phases[0]] + [phases[i] for i in idx] == expected
    assert truth["settling"] == ("settling" in phases)
    # each phase lasts at least 6 checkpoints
    edges = [0, *idx, len(phases)]
    assert min(np.diff(edges)) >= 6
    stage_of = {"liquid": "base", "nucleation": "sft", "settling": "rl"}
    assert list(ds.stage.values) == [stage_of[p] for p in phases]
    assert truth["seed_prompt"] in ds.prompt.values
    np.testing.assert_allclose(truth["probabilities"].sum(-1), 1.0, atol=1e-12)


def test_settling_none_is_random_half():
    flags = [
        crystallisation_run(seed=s, n_checkpoints=30, n_samples=2)[1]["settling"] for s in range(40)
    ]
    assert 8 <= sum(flags) <= 32


def test_flat_run_has_no_boundary():
    ds, truth = crystallisation_run(transition=False, seed=3)
    assert truth["boundaries"] == [] and truth["boundary_index"] == []
    assert set(truth["phases"]) == {"liquid"}
    assert set(ds.stage.values) == {"base"}
    assert truth["seed_prompt"] is None and truth["seed_distribution"] is None
    assert truth["settling"] is False


def test_phases_physics_with_plugin_js():
    """Liquid: distinct prompt distributions; nucleation: one shared (seed) distribution."""
    ds, truth = crystallisation_run(
        n_checkpoints=30, n_prompts=6, n_samples=400, settling=True, seed=11
    )
    q = truth["n_states"]
    p_hat = _counts(ds.token.values, q)
    p_hat /= p_hat.sum(-1, keepdims=True)
    b1, b2 = truth["boundary_index"]
    liquid = _mean_pairwise_js(p_hat[b1 - 1])
    crystal = _mean_pairwise_js(p_hat[b2 - 1])
    # plug-in JS between two samples of the same distribution with N = 400, q = 10 is
    # about (q - 1) / (4 N) ~ 0.006 nats; distinct Dirichlet(0.5) prompts ~0.2 nats
    assert liquid > 0.08
    assert crystal < 0.02
    # the shared distribution is the seed, and it descends from the seed prompt's base
    seed = truth["seed_distribution"]
    pooled = p_hat[b1 + 3 : b2].mean(axis=(0, 1))
    assert _js(pooled, seed) < 0.005
    s = list(ds.prompt.values).index(truth["seed_prompt"])
    parent = truth["probabilities"][b1 - 1, s]
    top = np.argsort(-parent)[: len(truth["seed_support"])]
    assert sorted(top.tolist()) == truth["seed_support"]


def test_settling_keeps_support_and_moves_mode():
    ds, truth = crystallisation_run(n_samples=300, n_prompts=4, settling=True, seed=5)
    q = truth["n_states"]
    b1, b2 = truth["boundary_index"]
    seed, settled = truth["seed_distribution"], truth["settled_distribution"]
    support = set(np.flatnonzero(seed > 0).tolist())
    assert support == set(np.flatnonzero(settled > 0).tolist()) == set(truth["seed_support"])
    assert np.argmax(seed) != np.argmax(settled)
    # samples: no token outside the support after the ramp is complete
    after = ds.token.values[b1 + 3 :]
    assert set(np.unique(after).tolist()) <= support
    # the observed mode changes at the settling boundary
    before = _counts(ds.token.values[b2 - 3 : b2], q).sum(axis=(0, 1))
    later = _counts(ds.token.values[b2:], q).sum(axis=(0, 1))
    assert np.argmax(before) == np.argmax(seed) and np.argmax(later) == np.argmax(settled)


def test_liquid_drift_is_gradual():
    _, truth = crystallisation_run(transition=False, liquid_drift=0.15, seed=2, n_checkpoints=40)
    p = truth["probabilities"]
    tv_step = 0.5 * np.abs(np.diff(p, axis=0)).sum(-1)  # (C-1, P)
    tv_total = 0.5 * np.abs(p[-1] - p[0]).sum(-1)
    assert tv_step.max() < 0.15  # no jump
    assert tv_total.mean() > 0.1  # but a real change over the run
    _, still = crystallisation_run(transition=False, liquid_drift=0.0, seed=2)
    np.testing.assert_allclose(still["probabilities"] - still["probabilities"][:1], 0.0, atol=1e-12)


def test_nucleation_ramp_width():
    _, truth = crystallisation_run(nucleation_width=4, settling=False, seed=9)
    b1 = truth["boundary_index"][0]
    p, seed = truth["probabilities"], truth["seed_distribution"]
    dist = 0.5 * np.abs(p - seed).sum(-1).mean(-1)  # mean TV to the seed per checkpoint
    assert np.all(dist[b1 + 3 :] < 1e-12)
    assert np.all(np.diff(dist[b1 - 1 : b1 + 4]) < 0)
    assert dist[b1 + 2] > 1e-3


def test_missing_tokens():
    ds, _ = crystallisation_run(missing=0.2, seed=4, n_samples=50)
    frac = float((ds.token.values == -1).mean())
    assert 0.17 < frac < 0.23


def test_demo_dataset_fixed():
    a, ta = demo_dataset()
    b, _ = demo_dataset()
    assert a.identical(b)
    assert a.token.shape == (30, 12, 32) and a.attrs["n_states"] == 10
    assert len(ta["boundaries"]) == 2 and ta["settling"]


def test_bad_arguments():
    with pytest.raises(SchemaError):
        crystallisation_run(n_checkpoints=10, settling=True)
    with pytest.raises(SchemaError):
        crystallisation_run(transition=False, settling=True)
    with pytest.raises(SchemaError):
        crystallisation_run(n_states=1)
    with pytest.raises(SchemaError):
        crystallisation_run(seed_top=1)
