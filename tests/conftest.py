"""Shared fixtures: small hand-made samples datasets."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr


def _make_samples(n_ck=4, n_pr=3, n_sm=20, n_pos=None, q=5, seed=0, pad=0.0):
    """A canonical samples dataset with uniform random tokens (and optional padding)."""
    rng = np.random.default_rng(seed)
    shape = (n_ck, n_pr, n_sm) + ((n_pos,) if n_pos else ())
    tok = rng.integers(0, q, size=shape)
    if pad:
        tok[rng.random(shape) < pad] = -1
    dims = ("checkpoint", "prompt", "sample") + (("position",) if n_pos else ())
    return xr.Dataset(
        {"token": (dims, tok)},
        coords={
            "checkpoint": [f"ckpt-{100 * (i + 1)}" for i in range(n_ck)],
            "step": ("checkpoint", 100 * (np.arange(n_ck) + 1)),
            "prompt": [f"p{i}" for i in range(n_pr)],
        },
        attrs={"n_states": q},
    )


@pytest.fixture
def make_samples():
    """Factory fixture: ``make_samples(n_ck=4, n_pr=3, n_sm=20, n_pos=None, q=5, seed=0, pad=0.0)``."""
    return _make_samples


@pytest.fixture
def samples():
    return _make_samples()
