"""Shared pieces of the reference generators."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Generated(NamedTuple):
    """Synthetic data together with the ground truth it was generated from.

    Unpacks as ``data, truth = generator(...)``. ``data`` is an ``xarray.Dataset`` in
    phasekit's data model (or a ``{size: Dataset}`` mapping for size scans); ``truth`` is a
    plain dict of the exact values an estimator should recover.
    """

    data: Any
    truth: dict[str, Any]


def rng_from(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, an existing Generator, or fresh entropy."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
