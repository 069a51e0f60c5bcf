"""Samples datasets with exactly given counts, shared by the scan and seed-attribution tests."""

from __future__ import annotations

import numpy as np
import xarray as xr


def exact_samples(counts: np.ndarray, pad: int = 0) -> np.ndarray:
    """Tokens (…, sample) realising exactly the given counts (…, q), padded with -1."""
    counts = np.asarray(counts)
    n = int(counts.sum(axis=-1).max()) + pad
    out = np.full((*counts.shape[:-1], n), -1, dtype=np.int64)
    for idx in np.ndindex(counts.shape[:-1]):
        row = np.repeat(np.arange(counts.shape[-1]), counts[idx])
        out[idx][: row.size] = row
    return out


def exact_counts_dataset(counts: np.ndarray, pad: int = 0, steps=None) -> xr.Dataset:
    """Samples Dataset (checkpoint, prompt, sample) with the exact counts (checkpoint, prompt, q)."""
    tok = exact_samples(counts, pad)
    n_c, n_p = counts.shape[:2]
    return xr.Dataset(
        {"token": (("checkpoint", "prompt", "sample"), tok)},
        coords={
            "checkpoint": [f"c{i}" for i in range(n_c)],
            "step": ("checkpoint", np.arange(n_c) * 100 if steps is None else steps),
            "prompt": [f"p{j}" for j in range(n_p)],
        },
        attrs={"n_states": counts.shape[-1]},
    )

