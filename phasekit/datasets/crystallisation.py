"""Synthetic three-phase "randomness crystallisation" training runs with known boundaries.

The model follows the phenomenology of Samanta, Holtzman & West (2026), *Towards Physical
Intuitions for Alignment Dynamics: A Case Study With Randomness Crystallization*
(arXiv 2606.29933): single-answer random-generation tasks ("pick a number from 1 to q")
sampled at every checkpoint of a training run go through

1. **liquid** (pretrained base): every prompt ``p`` has its own answer distribution
   ``pi_p``, drawn from ``Dirichlet(concentration)``; the distributions drift slowly along
   the checkpoints (a real, gradual change that is *not* a transition);
2. **nucleation** (supervised finetuning): over ``nucleation_width`` checkpoints every
   prompt's distribution moves, by a linear mixture ramp
   ``p_c = (1 - w_c) pi_p(c) + w_c s`` with ``w_c = (j + 1) / width`` at the j-th
   checkpoint of the phase, onto ONE seed distribution ``s`` that already existed in the
   base model: the seed prompt's distribution at the last base checkpoint, sharpened
   (``s_k proportional to pi_seed,k ** sharpen`` on its ``seed_top`` most likely states,
   0 elsewhere);
3. **settling** (preference tuning / RL, present in some runs): probability moves
   *inside* the seed's support, ``s' = (1 - rho) s + rho P s`` where ``P`` swaps the two
   most likely states (so the mode changes while the support stays the same).

Tokens are independent categorical draws from these distributions. The true boundary of
a phase is the step of its first checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..errors import SchemaError
from ._common import Generated, rng_from

__all__ = ["crystallisation_run", "demo_dataset", "drifting_jump_run"]

_MIN_PHASE = 6


def _log_steps(n: int, rng: np.random.Generator, log_steps: bool) -> np.ndarray:
    """Irregular, strictly increasing integer steps from about 100 to about 100,000.

    Geometric spacing (``log_steps=True``) or linear spacing, each step jittered by up
    to +-35 % of the local spacing, so that the grid is irregular but keeps its order.
    """
    if n == 1:
        return np.array([100], dtype=np.int64)
    if log_steps:
        grid = np.log(np.geomspace(100.0, 100_000.0, n))
        spacing = grid[1] - grid[0]
        jitter = rng.uniform(-0.35, 0.35, n) * spacing
        jitter[0] = 0.0
        steps = np.exp(grid + jitter)
    else:
        grid = np.linspace(100.0, 100_000.0, n)
        spacing = grid[1] - grid[0]
        jitter = rng.uniform(-0.35, 0.35, n) * spacing
        jitter[0] = 0.0
        steps = grid + jitter
    steps = np.rint(steps).astype(np.int64)
    for i in range(1, n):  # strictly increasing after rounding
        steps[i] = max(steps[i], steps[i - 1] + 1)
    return steps


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sample_categorical(probs: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Independent categorical draws: ``probs`` (..., q) -> tokens (..., n_samples)."""
    cdf = np.cumsum(probs, axis=-1)
    cdf[..., -1] = 1.0
    u = rng.random(probs.shape[:-1] + (n_samples,))
    tokens = (u[..., :, None] >= cdf[..., None, :]).sum(axis=-1)
    return np.minimum(tokens, probs.shape[-1] - 1).astype(np.int64)


def _choose_boundaries(
    n_checkpoints: int,
    n_phases: int,
    nucleation_min: int,
    rng: np.random.Generator,
) -> list[int]:
    """Random, well-separated first-checkpoint indices of phases 2..n_phases."""
    if n_phases == 1:
        return []
    if n_phases == 2:
        candidates = np.arange(_MIN_PHASE, n_checkpoints - nucleation_min + 1)
        if candidates.size == 0:
            raise SchemaError(
                f"{n_checkpoints} checkpoints are too few for a liquid and a nucleation phase",
                where="crystallisation_run(n_checkpoints=...)",
                fix=f"use n_checkpoints >= {_MIN_PHASE + nucleation_min}",
            )
        return [int(rng.choice(candidates))]
    pairs = [
        (b1, b2)
        for b1 in range(_MIN_PHASE, n_checkpoints)
        for b2 in range(b1 + nucleation_min, n_checkpoints - _MIN_PHASE + 1)
    ]
    if not pairs:
        raise SchemaError(
            f"{n_checkpoints} checkpoints are too few for liquid, nucleation and settling phases",
            where="crystallisation_run(n_checkpoints=...)",
            fix=f"use n_checkpoints >= {2 * _MIN_PHASE + nucleation_min}, or settling=False",
        )
    b1, b2 = pairs[int(rng.integers(len(pairs)))]
    return [b1, b2]


def crystallisation_run(
    *,
    n_checkpoints: int = 40,
    n_prompts: int = 12,
    n_samples: int = 16,
    n_states: int = 10,
    transition: bool = True,
    settling: bool | None = None,
    nucleation_width: int = 3,
    liquid_drift: float = 0.15,
    log_steps: bool = True,
    concentration: float = 0.5,
    seed_top: int = 4,
    sharpen: float = 2.0,
    settling_shift: float = 0.65,
    missing: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> Generated:
    """A realistic liquid -> nucleation -> settling training run of single-answer samples.

    Parameters
    ----------
    n_checkpoints, n_prompts, n_samples
        Grid sizes. Every phase lasts at least 6 checkpoints (nucleation at least
        ``max(6, nucleation_width + 3)``).
    n_states
        q, the number of answers; their labels ``"1"`` .. ``"q"`` form the ``state``
        coordinate.
    transition
        ``False`` gives a flat run: the liquid phase only (with its drift), no boundary.
    settling
        ``True``/``False`` forces a settling phase on/off; ``None`` decides at random
        (probability 1/2). Requires ``transition=True``.
    nucleation_width
        Number of checkpoints over which the mixture weight onto the seed ramps from
        ``1/width`` to 1 (1 = an abrupt jump).
    liquid_drift
        Standard deviation of the per-checkpoint Gaussian random-walk step of every
        prompt's logits in the liquid phase: the logits drift by about
        ``liquid_drift * sqrt(n)`` over ``n`` checkpoints.
    log_steps
        Roughly geometric (``True``) or linear step grid between ~100 and ~100,000, jittered.
    concentration
        Dirichlet concentration of the base prompt distributions (0.5: prompts clearly
        differ, each still spread over several answers).
    seed_top, sharpen
        The seed distribution lives on the ``seed_top`` most likely states of the seed
        prompt's last base distribution, with probabilities raised to ``sharpen``.
    settling_shift
        rho in ``s' = (1 - rho) s + rho P s`` (P swaps the two top states); rho > 1/2
        changes the mode.
    missing
        Fraction of tokens replaced by -1 (unparsed answers), at random.
    seed
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    Generated
        ``data``: Dataset with ``token`` (checkpoint, prompt, sample) int64, coords ``step``
        and ``stage`` ("base", "sft", "rl") along checkpoint, ``checkpoint`` labels
        ``ckpt-000``…, ``prompt`` labels ``p00``…, ``state`` labels on dim ``state``, attr
        ``n_states``. ``truth``: ``boundaries`` (step of the first checkpoint of each new
        phase, floats), ``boundary_index``, ``phases`` (per checkpoint: "liquid",
        "nucleation", "settling"), ``seed_prompt`` (label or None), ``seed_distribution``
        (q-vector or None), ``settled_distribution``, ``seed_support`` (states),
        ``probabilities`` (checkpoint, prompt, q) the exact distributions sampled from,
        ``settling`` (bool), ``transition`` (bool), ``n_states``.

    References
    ----------
    Samanta, Holtzman & West (2026), arXiv 2606.29933.
    """
    q = int(n_states)
    _check_run_arguments(n_checkpoints, n_prompts, n_samples, q, nucleation_width, seed_top, missing,
                         liquid_drift, concentration, transition, settling)
    rng = rng_from(seed)
    C, P, S = int(n_checkpoints), int(n_prompts), int(n_samples)

    steps = _log_steps(C, rng, log_steps)
    if settling is None:
        settling = bool(transition and rng.random() < 0.5)
    settling = bool(settling and transition)
    n_phases = 1 + int(transition) + int(settling)
    if n_phases == 1 and C < 2:
        raise SchemaError("a run needs at least 2 checkpoints", where="crystallisation_run(n_checkpoints=...)",
                          fix="pass n_checkpoints >= 2")
    bounds = _choose_boundaries(C, n_phases, max(_MIN_PHASE, nucleation_width + 3), rng)
    probs = _liquid_probabilities(rng, C, P, q, concentration, liquid_drift)
    truth: dict[str, Any] = {"phases": ["liquid"] * C, "stage": ["base"] * C, "seed_prompt": None,
                             "seed_distribution": None, "settled_distribution": None, "seed_support": []}
    if transition:
        truth.update(_nucleate(probs, bounds[0], rng, seed_top, sharpen, nucleation_width))
        if settling:
            truth.update(_settle(probs, bounds[1], truth, settling_shift))

    tokens = _sample_categorical(probs, S, rng)
    if missing > 0:
        tokens[rng.random(tokens.shape) < missing] = -1
    truth.pop("_top", None)
    ds = _run_dataset(tokens, steps, truth.pop("stage"), q)
    truth.update({"boundaries": [float(steps[b]) for b in bounds], "boundary_index": [int(b) for b in bounds],
                  "probabilities": probs, "transition": bool(transition), "settling": settling, "n_states": q})
    return Generated(ds, truth)


def _check_run_arguments(n_checkpoints: int, n_prompts: int, n_samples: int, q: int, nucleation_width: int,
                         seed_top: int, missing: float, liquid_drift: float, concentration: float,
                         transition: bool, settling: bool | None) -> None:
    """SchemaError for any :func:`crystallisation_run` argument out of range."""
    for name, value, low in (("n_checkpoints", n_checkpoints, 1), ("n_prompts", n_prompts, 1),
                             ("n_samples", n_samples, 1), ("n_states", q, 2),
                             ("nucleation_width", nucleation_width, 1)):
        if int(value) < low:
            raise SchemaError(f"{name}={value} is below {low}", where=f"crystallisation_run({name}=...)",
                              fix=f"pass {name} >= {low}")
    if not 2 <= seed_top <= q:
        raise SchemaError(f"seed_top={seed_top} must lie in [2, n_states={q}]",
                          where="crystallisation_run(seed_top=...)",
                          fix="the seed support needs at least two states so that settling can move mass")
    if not 0.0 <= missing < 1.0 or liquid_drift < 0 or concentration <= 0:
        raise SchemaError("missing must lie in [0, 1), liquid_drift >= 0 and concentration > 0",
                          where="crystallisation_run(missing=, liquid_drift=, concentration=)",
                          fix="pass values in range")
    if settling and not transition:
        raise SchemaError("a settling phase needs a nucleation before it",
                          where="crystallisation_run(transition=False, settling=True)",
                          fix="pass transition=True, or settling=False/None")


def _liquid_probabilities(rng: np.random.Generator, C: int, P: int, q: int, concentration: float,
                          liquid_drift: float) -> np.ndarray:
    """(C, P, q) liquid distributions: a Dirichlet(concentration) base per prompt whose logits
    random-walk with Gaussian steps of sd ``liquid_drift`` along the checkpoints."""
    base = np.clip(rng.dirichlet(np.full(q, float(concentration)), size=P), 1e-12, None)
    walk = rng.normal(0.0, float(liquid_drift), size=(C, P, q))
    walk[0] = 0.0
    return _softmax(np.log(base)[None] + np.cumsum(walk, axis=0))


def _nucleate(probs: np.ndarray, b1: int, rng: np.random.Generator, seed_top: int, sharpen: float,
              nucleation_width: int) -> dict[str, Any]:
    """Ramp every prompt onto the seed from checkpoint ``b1`` (in place): mixture weight
    min((c − b1 + 1)/width, 1) on the seed distribution, which is the seed prompt's last
    liquid distribution on its ``seed_top`` likeliest states raised to ``sharpen``."""
    C, P, q = probs.shape
    s_idx = int(rng.integers(P))
    parent = probs[b1 - 1, s_idx]  # the seed as it exists in the last base checkpoint
    top = np.argsort(-parent, kind="stable")[:seed_top]
    seed_dist = np.zeros(q)
    seed_dist[top] = parent[top] ** float(sharpen)
    seed_dist /= seed_dist.sum()
    ramp = np.minimum((np.arange(C - b1) + 1) / float(nucleation_width), 1.0)
    probs[b1:] = (1.0 - ramp)[:, None, None] * probs[b1:] + ramp[:, None, None] * seed_dist
    phases = ["liquid"] * b1 + ["nucleation"] * (C - b1)
    stage = ["base"] * b1 + ["sft"] * (C - b1)
    return {"phases": phases, "stage": stage, "seed_prompt": f"p{s_idx:02d}", "seed_distribution": seed_dist,
            "seed_support": sorted(int(k) for k in top), "_top": top}


def _settle(probs: np.ndarray, b2: int, truth: dict[str, Any], settling_shift: float) -> dict[str, Any]:
    """From checkpoint ``b2`` every prompt samples s' = (1 − ρ) s + ρ P s (P swaps the seed's
    two likeliest states), in place."""
    seed_dist, top = truth["seed_distribution"], truth["_top"]
    swapped = seed_dist.copy()
    swapped[[top[0], top[1]]] = seed_dist[[top[1], top[0]]]
    settled = (1.0 - settling_shift) * seed_dist + settling_shift * swapped
    probs[b2:] = settled
    C = probs.shape[0]
    return {"settled_distribution": settled, "phases": truth["phases"][:b2] + ["settling"] * (C - b2),
            "stage": truth["stage"][:b2] + ["rl"] * (C - b2)}


def _run_dataset(tokens: np.ndarray, steps: np.ndarray, stage: list[str], q: int) -> xr.Dataset:
    C, P, S = tokens.shape
    return xr.Dataset(
        {"token": (("checkpoint", "prompt", "sample"), tokens)},
        coords={"checkpoint": [f"ckpt-{i:03d}" for i in range(C)], "prompt": [f"p{j:02d}" for j in range(P)],
                "sample": np.arange(S), "step": ("checkpoint", steps),
                "stage": ("checkpoint", np.array(stage, dtype=str)), "state": [str(k + 1) for k in range(q)]},
        attrs={"n_states": q, "generator": "phasekit.datasets.crystallisation_run",
               "description": "synthetic liquid/nucleation/settling run of single-answer samples"})


_DEMO_SEED = 20260601


def demo_dataset() -> Generated:
    """The embedded demo: a fixed crystallisation run (same output on every call).

    30 checkpoints x 12 prompts x 32 samples, q = 10, with a nucleation and a settling
    phase, built by :func:`crystallisation_run` with a fixed seed. The seed distribution
    is sharpened onto 3 states (``seed_top=3, sharpen=3``) so that the collapse shows in
    the entropy (about 1.6 → 1.0 nats) as well as in the between-prompt divergence, and
    the settling swap is made large enough (``settling_shift=0.85``) to be detectable at
    12 × 32 samples per checkpoint.
    """
    return crystallisation_run(
        n_checkpoints=30,
        n_prompts=12,
        n_samples=32,
        n_states=10,
        transition=True,
        settling=True,
        seed_top=3,
        sharpen=3.0,
        settling_shift=0.85,
        seed=_DEMO_SEED,
    )


def drifting_jump_run(seed: int, jump: float, drift: float, conc: float | None, t: int = 40, prompts: int = 24,
                      samples: int = 8, q: int = 10) -> tuple[xr.Dataset, list[int]]:
    """A run with two abrupt changes on top of drift, and its true boundary indices.

    Each prompt's logits start from a Dirichlet(0.7) draw and random-walk with step sd
    ``drift``; at two checkpoints (drawn in the run when ``t >= 24``, else at t/3, 2t/3)
    they jump by N(0, ``jump``²) (no boundaries when ``jump`` is 0: the null); ``conc``
    adds Dirichlet jitter of that concentration around each checkpoint's distribution.
    The change-point validation and benchmark use it for recall/precision and false alarms.
    """
    rng = np.random.default_rng(seed)
    if t >= 24:
        b1 = int(rng.integers(6, t - 14))
        b2 = int(rng.integers(b1 + 8, t - 5))
    else:
        b1, b2 = t // 3, 2 * t // 3
    bounds = [b1, b2] if jump > 0 else []
    logit = np.log(rng.dirichlet(np.full(q, 0.7), size=prompts) + 1e-9)
    walk = rng.normal(0, drift, size=(t, prompts, q))
    walk[0] = 0
    lg = logit[None] + np.cumsum(walk, axis=0)
    for b in bounds:
        lg[b:] += rng.normal(0, jump, size=(prompts, q))[None]
    p = np.exp(lg - lg.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if conc:
        p = np.stack([[rng.dirichlet(conc * p[i, j] + 1e-6) for j in range(prompts)] for i in range(t)])
    cdf = np.cumsum(p, -1)
    cdf[..., -1] = 1
    tok = (rng.random((t, prompts, samples))[..., None] >= cdf[:, :, None, :]).sum(-1)
    ds = xr.Dataset({"token": (("checkpoint", "prompt", "sample"), tok)},
                    coords={"step": ("checkpoint", 100.0 * np.arange(1, t + 1))}, attrs={"n_states": q})
    return ds, bounds
