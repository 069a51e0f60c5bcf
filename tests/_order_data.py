"""Synthetic order-parameter replicas of known transition class, shared by the tests."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr


def first_order_replicas(sizes, controls, n_rep, rng):
    """Two-phase coexistence: m = 0.9 (ordered) with probability w(c), else ~0, w sharpening
    like N; chi_max = N w(1 - w) (Δm)² grows exactly like N."""
    out = {}
    for L in sizes:
        N = L * L
        w = 1 / (1 + np.exp(-(controls - 0.5) * N / 4))
        ordered = rng.random((controls.size, n_rep)) < w[:, None]
        noise = rng.normal(0, 1 / math.sqrt(N), (controls.size, n_rep))
        m = np.where(ordered, 0.9 + 0.1 * noise, np.abs(noise))
        out[L] = xr.DataArray(m, dims=("control", "sample"), coords={"control": controls},
                              attrs={"N": N})
    return out
