"""Resampling, written once: seeds, the delete-one jackknife, the bootstrap and moving-block
bootstrap indices.

Every phasekit function that resamples is deterministic by default: it takes
``seed=DEFAULT_SEED`` and records what it used (:func:`rng_for` returns the value to
record). ``seed=None`` asks for fresh operating-system entropy, a ``numpy.random.Generator``
is used as given.

References: Quenouille (1956), Tukey (1958) and Efron & Tibshirani, *An Introduction to the
Bootstrap* (1993), ch. 6 and 11; Künsch, Ann. Stat. 17, 1217 (1989) and Lahiri,
*Resampling Methods for Dependent Data* (2003), §2.5 for the moving-block bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .errors import SchemaError

__all__ = [
    "DEFAULT_SEED",
    "BootstrapResult",
    "JackknifeResult",
    "block_bootstrap_indices",
    "bootstrap",
    "jackknife",
    "rng_for",
]

#: The seed every resampling function uses unless told otherwise.
DEFAULT_SEED = 20260601


def rng_for(seed: int | np.random.Generator | None = DEFAULT_SEED) -> tuple[np.random.Generator, Any]:
    """A Generator for ``seed`` and what to record about it in a result's attrs.

    An integer gives ``numpy.random.default_rng(seed)`` (recorded: the integer); ``None``
    gives fresh entropy (recorded: ``"fresh entropy (seed=None)"``); a Generator is used as
    it is (recorded: ``"a numpy Generator passed in"``).
    """
    if isinstance(seed, np.random.Generator):
        return seed, "a numpy Generator passed in"
    if seed is None:
        return np.random.default_rng(), "fresh entropy (seed=None)"
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise SchemaError(f"seed must be an integer, None or a numpy Generator, got {type(seed).__name__}",
                          where="seed=", fix=f"pass seed={DEFAULT_SEED} (the default)")
    return np.random.default_rng(int(seed)), int(seed)


def _arrays_equal(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
                                    for x, y in zip(a, b, strict=True))


def _as_dataset(res: tuple, names: tuple[str, ...]) -> xr.Dataset:
    """Plain-data form: the per-cell arrays on dims ``dim_0…``; the replicates add ``replicate``."""
    out = {}
    for name, arr in zip(names, res, strict=True):
        a = np.asarray(arr, dtype=float)
        dims = tuple(f"dim_{i}" for i in range(a.ndim - (name == "replicates"))) + (
            ("replicate",) if name == "replicates" else ())
        out[name] = (dims, a)
    return xr.Dataset(out)


class JackknifeResult(NamedTuple):
    """Result of :func:`jackknife`.

    ``value`` is θ on the full sample, ``bias_corrected`` is n·θ − (n−1)·θ̄₍.₎,
    ``stderr`` is sqrt((n−1)/n · Σ(θ₍ᵢ₎ − θ̄₍.₎)²), ``replicates`` the leave-one-out
    values θ₍ᵢ₎ stacked on the last axis.
    """

    value: np.ndarray
    bias_corrected: np.ndarray
    stderr: np.ndarray
    replicates: np.ndarray

    def __eq__(self, other: object) -> bool:  # array-safe (tuple equality is elementwise)
        return isinstance(other, JackknifeResult) and _arrays_equal(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def to_dataset(self) -> xr.Dataset:
        """``value``, ``bias_corrected``, ``stderr`` and ``replicates`` as variables."""
        return _as_dataset(self, self._fields)


class BootstrapResult(NamedTuple):
    """Result of :func:`bootstrap`: ``value`` on the full sample, ``stderr`` = standard
    deviation (ddof=1) of the bootstrap replicates, ``replicates`` stacked on the last
    axis (n_bootstrap of them)."""

    value: np.ndarray
    stderr: np.ndarray
    replicates: np.ndarray

    def __eq__(self, other: object) -> bool:  # array-safe (tuple equality is elementwise)
        return isinstance(other, BootstrapResult) and _arrays_equal(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def to_dataset(self) -> xr.Dataset:
        """``value``, ``stderr`` and ``replicates`` as variables."""
        return _as_dataset(self, self._fields)


def jackknife(func: Callable[..., Any], data: np.ndarray, axis: int = -1) -> JackknifeResult:
    """Delete-one jackknife of a statistic.

    ``func(x, axis=axis)`` must reduce ``x`` along ``axis``. With θ = func(data) and
    θ₍ᵢ₎ = func(data without element i along axis), n = data.shape[axis]:

    - bias-corrected value  θ_J = n·θ − (n−1)·θ̄₍.₎ ,  θ̄₍.₎ = (1/n) Σᵢ θ₍ᵢ₎
    - standard error        se_J = sqrt((n−1)/n · Σᵢ (θ₍ᵢ₎ − θ̄₍.₎)²)

    Reference: Efron & Tibshirani (1993), ch. 11. The statistic is evaluated n + 1 times
    (cost O(n²) for O(n) statistics); moment-based observables
    (:mod:`phasekit.fluctuations`) use an O(n) closed form instead.
    """
    x = np.asarray(data)
    axis = axis % x.ndim
    n = x.shape[axis]
    if n < 2:
        raise SchemaError(
            f"the jackknife needs at least 2 replicas, got {n}",
            where=f"axis {axis} of an array of shape {x.shape}",
            fix="use more replicas",
        )
    value = np.asarray(func(x, axis=axis), dtype=float)
    reps = np.stack(
        [np.asarray(func(np.delete(x, i, axis=axis), axis=axis), dtype=float) for i in range(n)],
        axis=-1,
    )
    mean = reps.mean(axis=-1)
    se = np.sqrt((n - 1) / n * ((reps - mean[..., None]) ** 2).sum(axis=-1))
    return JackknifeResult(value, n * value - (n - 1) * mean, se, reps)


def bootstrap(
    func: Callable[..., Any],
    data: np.ndarray,
    axis: int = -1,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
) -> BootstrapResult:
    """Nonparametric bootstrap of a statistic over ``axis``.

    Draws ``n_bootstrap`` resamples of size n with replacement along ``axis`` (the same
    replica indices for every other cell), evaluates ``func(x_b, axis=axis)`` on each and
    reports the standard deviation (ddof = 1) of the replicates as standard error:
    se_B = sqrt(Σ_b (θ*_b − θ̄*)² / (B − 1)). Reference: Efron & Tibshirani (1993), ch. 6.
    Deterministic by default (``seed=DEFAULT_SEED``); ``seed=None`` or a Generator for
    fresh randomness.
    """
    x = np.asarray(data)
    axis = axis % x.ndim
    n = x.shape[axis]
    if n < 2 or n_bootstrap < 2:
        raise SchemaError(
            f"the bootstrap needs >= 2 replicas and n_bootstrap >= 2 (got {n}, {n_bootstrap})",
            where=f"axis {axis} of an array of shape {x.shape}",
            fix="use more replicas or a larger n_bootstrap",
        )
    rng, _recorded = rng_for(seed)
    value = np.asarray(func(x, axis=axis), dtype=float)
    idx = rng.integers(0, n, size=(n_bootstrap, n))
    reps = np.stack(
        [np.asarray(func(np.take(x, i, axis=axis), axis=axis), dtype=float) for i in idx],
        axis=-1,
    )
    return BootstrapResult(value, reps.std(axis=-1, ddof=1), reps)


def block_bootstrap_indices(
    n: int,
    n_bootstrap: int,
    rng: np.random.Generator,
    *,
    block_length: int | None = None,
) -> np.ndarray:
    """Index arrays of the moving-block bootstrap of a series of length ``n``.

    Each resample concatenates ⌈n/ℓ⌉ blocks of ℓ consecutive indices whose starts are
    drawn uniformly from 0 … n − ℓ, truncated to n (Künsch 1989). The default block
    length is ℓ = max(1, round(n^{1/3})), the MSE-optimal order for variance estimation
    (Hall, Horowitz & Jing, Biometrika 82, 561 (1995)). Returns an int array
    (n_bootstrap, n); ``x[..., idx[b]]`` is the b-th resampled series.
    """
    n, n_bootstrap = int(n), int(n_bootstrap)
    if n < 1 or n_bootstrap < 1:
        raise SchemaError(f"need n >= 1 and n_bootstrap >= 1 (got {n}, {n_bootstrap})",
                          where="block_bootstrap_indices", fix="pass a non-empty series")
    block = max(1, int(round(n ** (1 / 3)))) if block_length is None else int(block_length)
    if not 1 <= block <= n:
        raise SchemaError(f"block_length must be in 1..{n}, got {block}", where="block_bootstrap_indices",
                          fix="pass a block length no longer than the series")
    n_blocks = int(math.ceil(n / block))
    starts = rng.integers(0, n - block + 1, size=(n_bootstrap, n_blocks))
    return (starts[:, :, None] + np.arange(block)[None, None]).reshape(n_bootstrap, -1)[:, :n]
