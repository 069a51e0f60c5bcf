"""Generators for studies across a second axis: model families and sampling temperatures.

* :func:`potts_models` — 2D Potts lattices of several linear sizes L stacked along a
  ``model`` dim, as a model family would be: the finite-size variable ``size = L²``
  (lattice sites) is a coordinate along ``model``, and the control (temperature) rides in
  the ``step`` coordinate along ``checkpoint``, so the samples look like checkpoints of
  several models. Ground truth: the exact Potts results (T_c = 1/ln(1 + √q), exponents,
  order of the transition; Wu 1982).
* :func:`temperature_collapse_run` — a training run sampled at several sampling
  temperatures whose collapse step moves with the temperature by a known law,
  ``s*(T) = s_ref · (T / T_ref)^κ``. Ground truth: the boundary step and index at every
  temperature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import SchemaError
from ._common import Generated, rng_from
from .crystallisation import _sample_categorical, _softmax
from .potts import potts_by_size

__all__ = ["potts_models", "temperature_collapse_run"]


def _pad_positions(tokens: np.ndarray, n_max: int) -> np.ndarray:
    """Pad the last axis of ``tokens`` with -1 ("no token") up to ``n_max`` positions."""
    pad = np.full(tokens.shape[:-1] + (n_max - tokens.shape[-1],), -1, dtype=tokens.dtype)
    return np.concatenate([tokens, pad], axis=-1)


def potts_models(
    q: int,
    sizes: Iterable[int],
    temperatures: Sequence[float] | np.ndarray | Callable[[int], Sequence[float]],
    n_samples: int,
    *,
    seed: int | np.random.Generator | None = None,
    **kw: Any,
) -> Generated:
    """Potts samples at several lattice sizes L laid out as a family of "models".

    Each L is sampled by :func:`phasekit.datasets.potts_by_size` (Swendsen–Wang; keywords
    ``kw`` go to :func:`phasekit.datasets.potts_samples`). The result has dims
    ``(model, checkpoint, sample, position)``: ``model`` labels ``"L8"``…, coordinate
    ``size = L²`` (the finite-size variable, in lattice sites; attr ``dimension = 2`` says
    size = L^d, so the scaling fits use L = size^(1/2)) and ``L`` along ``model``;
    the temperatures are the ``step`` coordinate along ``checkpoint`` (dims
    ``(model, checkpoint)`` when ``temperatures`` is a callable ``L -> grid`` giving each
    size its own window; the grids must have the same length). Positions beyond L² of the
    smaller lattices are ``-1`` (no token), so each model's configuration size is N = L².

    Returns
    -------
    Generated
        ``data``: the Dataset (attrs ``n_states``, ``size_units``); ``truth``: the exact
        properties of the q-state Potts model (``critical_temperature``, ``nu``, ``beta``,
        ``gamma``, ``order``…) plus ``L`` (linear sizes) and ``sizes`` (L², the ``size``
        coordinate).
    """
    gen = potts_by_size(q, sizes, temperatures, n_samples, seed=seed, **kw)
    lattices = list(gen.data)
    grids = [np.asarray(gen.data[L]["temperature"].values, dtype=float) for L in lattices]
    if len({g.size for g in grids}) != 1:
        raise SchemaError("the temperature grids of the sizes have different lengths",
                          where="potts_models(temperatures=...)",
                          fix="give every size the same number of temperatures")
    n_max = max(L * L for L in lattices)
    tokens = np.stack([_pad_positions(gen.data[L]["token"].values, n_max) for L in lattices])
    shared = all(np.array_equal(g, grids[0]) for g in grids)
    step: tuple[Any, ...] = ("checkpoint", grids[0]) if shared else (("model", "checkpoint"), np.stack(grids))
    first = gen.data[lattices[0]]
    ds = xr.Dataset(
        {"token": (("model", "checkpoint", "sample", "position"), tokens)},
        coords={
            "model": [f"L{L}" for L in lattices],
            "size": ("model", np.array([L * L for L in lattices], dtype=float),
                     {"units": "lattice sites", "dimension": 2}),
            "L": ("model", np.array(lattices)),
            "checkpoint": [f"t{i:02d}" for i in range(grids[0].size)],
            "step": (*step[:1], step[1], {"units": "J/k_B", "meaning": "temperature"}),
            "sample": np.arange(int(n_samples)),
            "chain": ("sample", first["chain"].values),
            "position": np.arange(n_max),
        },
        attrs={"n_states": int(q), "size_units": "lattice sites (L^2)", "geometry": "square periodic",
               "hamiltonian": first.attrs["hamiltonian"], "sampler": first.attrs["sampler"],
               "control": "temperature, in the step coordinate",
               "generator": "phasekit.datasets.potts_models"},
    )
    return Generated(ds, {**gen.truth, "L": lattices, "sizes": [float(L * L) for L in lattices]})


def collapse_law(temperature: np.ndarray | float, reference_step: float, reference_temperature: float,
                 exponent: float) -> np.ndarray:
    """The collapse step ``s*(T) = s_ref · (T / T_ref)^κ`` of :func:`temperature_collapse_run`."""
    t = np.asarray(temperature, dtype=float)
    return float(reference_step) * (t / float(reference_temperature)) ** float(exponent)


def _check_run(temps: np.ndarray, n_checkpoints: int, first: np.ndarray, n_states: int) -> None:
    if temps.ndim != 1 or temps.size == 0 or not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise SchemaError("temperatures must be a non-empty 1-D array of positive numbers",
                          where="temperature_collapse_run(temperatures=...)", fix="pass e.g. [0.7, 1.0, 1.3]")
    if n_states < 3:
        raise SchemaError(f"n_states={n_states} is below 3", where="temperature_collapse_run(n_states=...)",
                          fix="pass n_states >= 3 (the seed needs a support smaller than the answer space)")
    if np.any(first < 4) or np.any(first > n_checkpoints - 4):
        raise SchemaError(
            f"the law puts boundaries at checkpoints {first.tolist()}, closer than 4 to an end of the "
            f"{n_checkpoints} checkpoints", where="temperature_collapse_run(reference_step=, exponent=)",
            fix="move reference_step towards the middle of the steps, lower |exponent| or add checkpoints")


def _tempered(liquid: np.ndarray, seed_dist: np.ndarray, temps: np.ndarray,
              first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sampling distributions ``p_T ∝ p_1^{1/T}`` (temperature × checkpoint × prompt × q), p_1
    liquid before each temperature's collapse checkpoint and the seed from it on; and the phases."""
    C = liquid.shape[0]
    probs = np.empty((temps.size, *liquid.shape))
    phases = np.empty((temps.size, C), dtype=object)
    for i, (t, b) in enumerate(zip(temps, first, strict=True)):
        p1 = liquid.copy()
        p1[b:] = seed_dist
        with np.errstate(divide="ignore"):
            probs[i] = _softmax(np.where(p1 > 0, np.log(np.where(p1 > 0, p1, 1.0)) / t, -np.inf))
        phases[i] = ["liquid"] * int(b) + ["nucleation"] * (C - int(b))
    return probs, phases


def temperature_collapse_run(
    *,
    temperatures: Sequence[float] | np.ndarray = (0.6, 0.8, 1.0, 1.2, 1.4),
    n_checkpoints: int = 30,
    n_prompts: int = 8,
    n_samples: int = 16,
    n_states: int = 10,
    step_spacing: float = 100.0,
    reference_step: float = 1500.0,
    reference_temperature: float = 1.0,
    exponent: float = 1.0,
    concentration: float = 0.5,
    liquid_drift: float = 0.05,
    seed_top: int = 3,
    sharpen: float = 3.0,
    seed: int | np.random.Generator | None = None,
) -> Generated:
    """A run whose collapse (liquid → nucleation) step depends on the sampling temperature.

    At temperature 1 each prompt's answer distribution is liquid (a ``Dirichlet(concentration)``
    draw whose logits random-walk with step sd ``liquid_drift`` along the checkpoints) until
    the collapse step, and from then on the seed distribution (the seed prompt's last liquid
    distribution restricted to its ``seed_top`` likeliest states, raised to ``sharpen``).
    Sampling at temperature T draws from ``p_T ∝ p_1^{1/T}`` (the logits divided by T). The
    collapse step moves with T by the law

        s*(T) = reference_step · (T / reference_temperature)^exponent,

    and the boundary at T is the first checkpoint whose step is at least ``s*(T)``. Steps are
    ``step_spacing · (1, 2, …, n_checkpoints)``.

    Returns
    -------
    Generated
        ``data``: ``token`` (temperature, checkpoint, prompt, sample), coords ``temperature``,
        ``checkpoint`` labels, ``step``, ``prompt``, attr ``n_states``. ``truth``:
        ``boundary_step`` (per temperature, the step of the first collapsed checkpoint),
        ``boundary_index``, ``collapse_step`` (the law's s*(T)), ``law``, its parameters,
        ``phases`` (temperature × checkpoint: "liquid"/"nucleation"), ``seed_prompt``,
        ``seed_distribution``, ``n_states``.
    """
    temps = np.atleast_1d(np.asarray(temperatures, dtype=float))
    C, P, S, q = int(n_checkpoints), int(n_prompts), int(n_samples), int(n_states)
    steps = step_spacing * np.arange(1, C + 1, dtype=float)
    s_star = collapse_law(temps, reference_step, reference_temperature, exponent)
    first = np.searchsorted(steps, s_star, side="left")
    _check_run(temps, C, first, q)
    if not 2 <= seed_top < q:
        raise SchemaError(f"seed_top={seed_top} must lie in [2, n_states)", where="temperature_collapse_run",
                          fix="pass 2 <= seed_top < n_states")
    rng = rng_from(seed)
    base = np.clip(rng.dirichlet(np.full(q, float(concentration)), size=P), 1e-12, None)
    walk = rng.normal(0.0, float(liquid_drift), size=(C, P, q))
    walk[0] = 0.0
    liquid = _softmax(np.log(base)[None] + np.cumsum(walk, axis=0))  # (C, P, q) at T = 1
    seed_prompt = int(rng.integers(P))
    parent = liquid[int(first.min()) - 1, seed_prompt]
    top = np.argsort(-parent, kind="stable")[:seed_top]
    seed_dist = np.zeros(q)
    seed_dist[top] = parent[top] ** float(sharpen)
    seed_dist /= seed_dist.sum()
    probs, phases = _tempered(liquid, seed_dist, temps, first)
    tokens = _sample_categorical(probs, S, rng)
    ds = xr.Dataset(
        {"token": (("temperature", "checkpoint", "prompt", "sample"), tokens)},
        coords={"temperature": ("temperature", temps, {"meaning": "sampling temperature"}),
                "checkpoint": [f"ckpt-{i:03d}" for i in range(C)], "step": ("checkpoint", steps),
                "prompt": [f"p{j:02d}" for j in range(P)], "sample": np.arange(S),
                "state": [str(k + 1) for k in range(q)]},
        attrs={"n_states": q, "generator": "phasekit.datasets.temperature_collapse_run",
               "law": "s*(T) = s_ref (T/T_ref)^kappa"},
    )
    truth = {"boundary_step": steps[first], "boundary_index": first, "collapse_step": s_star,
             "law": "s*(T) = reference_step * (T / reference_temperature) ** exponent",
             "reference_step": float(reference_step), "reference_temperature": float(reference_temperature),
             "exponent": float(exponent), "temperatures": temps, "phases": phases,
             "seed_prompt": f"p{seed_prompt:02d}", "seed_distribution": seed_dist, "n_states": q}
    return Generated(ds, truth)
