r"""Shared pieces of the correlation stage: confidence constants, groups of sequences, the jackknife.

The delete-a-group jackknife (Efron & Stein, Ann. Stat. 9, 586 (1981)) over ``G`` contiguous
blocks of sequences: with :math:`\hat\theta_{(g)}` the estimate without group ``g``,

.. math:: \sigma^2_{JK} = \frac{G-1}{G} \sum_g (\hat\theta_{(g)} - \bar\theta)^2 .
"""

from __future__ import annotations

import numpy as np

#: two-sided confidence of the ``lower``/``upper`` coords and one-sided level of lower bounds
CONFIDENCE = 0.95
_Z = 1.959963984540054
_DENSE_KEYS = 30_000_000


def _group_starts(m: int, n_groups: int) -> np.ndarray:
    """First row of each of ``n_groups`` contiguous, nearly equal blocks of ``m`` rows."""
    sizes = np.full(n_groups, m // n_groups, dtype=np.int64)
    sizes[: m % n_groups] += 1
    return np.concatenate([[0], np.cumsum(sizes)[:-1]])


def _group_ids(m: int, starts: np.ndarray) -> np.ndarray:
    gid = np.zeros(m, dtype=np.int64)
    gid[starts[1:]] = 1
    return np.cumsum(gid)



def _jackknife_se(reps: np.ndarray) -> np.ndarray:
    """Delete-a-group jackknife standard error along axis 0 (NaN-aware)."""
    g = reps.shape[0]
    if g < 2:
        return np.full(reps.shape[1:], np.nan)
    finite = np.isfinite(reps)
    n_ok = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, reps, 0.0).sum(axis=0) / n_ok
        dev = np.where(finite, reps - mean, 0.0)
        se = np.sqrt((g - 1) / g * (dev**2).sum(axis=0))
    return np.where(n_ok == g, se, np.nan)


