"""Checkpoint order from names and stages, and model sizes from names — never a guess.

Steps
    A step is read from a checkpoint name only by a recognised pattern
    (:data:`STEP_PATTERNS`): ``step1000`` inside ``stage1-step1000-tokens4B``,
    ``checkpoint-1500``, ``global_step500``, ``step_1000``, ``ckpt-step-100``, ``ckpt-1000``,
    ``iter_0001000``, or a bare number. Other numbers in the name (``tokens4B``, ``lr3e-5``,
    ``ep2``) are never read. A name with no recognised step, or with two different ones, is
    a :class:`~phasekit.SchemaError` whose fix names the argument (``step=``) to pass.

Stages
    Stages whose step counters restart (``sft-step100`` after ``stage1-step100000``) are
    ordered by stage, then step. The stage comes from the ``stage`` field, else from a stage
    word in the name (:data:`STAGE_WORDS`). The stage order is ``stage_order=`` or the
    conventional one: pretrain/base < mid-training < sft < dpo/preference < rl/ppo/grpo.
    A stage outside it is an error naming ``stage_order=``.

    The ``step`` coordinate is made monotone along ``checkpoint``: when a stage's counter
    restarts, its steps are offset by the last step of the stage before
    (``step = stage_step + offset``); the stage-local step is kept as ``stage_step`` and the
    offsets are recorded in attrs. Stages whose counters continue are not offset.

Model sizes
    ``size`` (parameters) from ``sizes=`` or from the model name (:func:`size_from_name`:
    ``OLMo-2-1B`` → 1e9, ``Qwen2.5-0.5B`` → 5e8, ``350M`` → 3.5e8, ``8x7B`` → 5.6e10).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SchemaError

__all__ = ["STEP_PATTERNS", "STAGE_WORDS", "CONVENTIONAL_STAGE_ORDER", "step_from_name",
           "stage_from_name", "CheckpointOrder", "order_checkpoints", "size_from_name", "model_sizes"]

#: Patterns that read a step from a checkpoint name (case-insensitive), tried together.
STEP_PATTERNS: tuple[str, ...] = (
    r"(?<![a-z])global[_-]?step[_-]?(\d+)(?![\d.])",
    r"(?<![a-z])step[_-]?(\d+)(?![\d.])",
    r"(?<![a-z])checkpoint[_-](\d+)(?![\d.])",
    r"(?<![a-z])ckpt[_-]?(\d+)(?![\d.])",
    r"(?<![a-z])iter(?:ation)?[_-]?(\d+)(?![\d.])",
    r"^(\d+)$",
)
_STEP_RES = tuple(re.compile(p, re.IGNORECASE) for p in STEP_PATTERNS)

#: Conventional training-stage order; each entry lists the names that mean that stage.
CONVENTIONAL_STAGE_ORDER: tuple[tuple[str, ...], ...] = (
    ("pretrain", "pretraining", "pt", "base", "stage1"),
    ("mid", "midtrain", "mid-training", "midtraining", "anneal", "stage2", "stage3"),
    ("sft", "instruct", "it"),
    ("dpo", "preference", "pref", "rm", "simpo", "kto", "orpo"),
    ("rl", "ppo", "grpo", "rlvr", "rlhf", "reinforce"),
)
#: Words that name a stage inside a checkpoint name, mapped to the canonical stage name.
STAGE_WORDS: dict[str, str] = {w: grp[0] for grp in CONVENTIONAL_STAGE_ORDER for w in grp}
_STAGE_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def step_from_name(name: Any) -> int | None:
    """The step a checkpoint name states by a recognised pattern, or None.

    Numbers are never parsed from other parts of the name: ``stage1-step1000-tokens4B``
    → 1000. Two different steps in one name (``step100-step200``) → None.
    """
    if isinstance(name, int | np.integer) and not isinstance(name, bool):
        return int(name)
    s = str(name).strip()
    found = {int(m.group(1)) for rx in _STEP_RES for m in rx.finditer(s)}
    # "global_step500" also matches the plain step pattern with the same number
    return found.pop() if len(found) == 1 else None


def stage_from_name(name: Any) -> str | None:
    """The canonical stage named by a word in a checkpoint name, or None.

    Words are split at non-alphanumerics and at ``step``: ``sft-step100`` → "sft",
    ``stage1-step1000-tokens4B`` → "pretrain", ``tulu3-dpo-step50`` → "dpo".
    Two different stages in one name → None.
    """
    tokens = [t.lower() for t in re.split(r"[^A-Za-z0-9]+|(?i:step)\d*", str(name)) if t]
    stages = {STAGE_WORDS[t] for t in tokens if t in STAGE_WORDS}
    return stages.pop() if len(stages) == 1 else None


def _stage_rank(stage_order: Sequence[str] | None) -> dict[str, int]:
    if stage_order is not None:
        return {str(s).lower(): i for i, s in enumerate(stage_order)}
    return {w: i for i, grp in enumerate(CONVENTIONAL_STAGE_ORDER) for w in grp}


@dataclass(frozen=True)
class CheckpointOrder:
    """The true training order of checkpoints: a permutation and the coordinates it implies."""

    order: np.ndarray            # indices into the input labels, in training order
    step: np.ndarray             # monotone control coordinate, in training order
    stage_step: np.ndarray       # the step as written (stage-local), in training order
    stage: np.ndarray | None     # stage per checkpoint, in training order (None: no stages)
    notes: dict[str, Any] = field(default_factory=dict)   # step_source, stage_source, offsets


def _steps_for(labels: Sequence[Any], steps: Sequence[Any] | None) -> tuple[np.ndarray, str]:
    if steps is not None:
        arr = np.asarray([np.nan if s is None else float(s) for s in steps])
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise SchemaError(f"checkpoint {str(labels[bad[0]])!r} has no numeric step",
                              where="the step field", fix="give every checkpoint a numeric step (step=)")
        return arr, "field"
    parsed = [step_from_name(lab) for lab in labels]
    missing = [lab for lab, p in zip(labels, parsed, strict=True) if p is None]
    if missing:
        raise SchemaError(
            f"no training step can be read from checkpoint name {str(missing[0])!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            where="checkpoint names",
            fix="name checkpoints like 'step1000' / 'checkpoint-1000', or pass step= (a field or "
            "mapping {checkpoint: step}) or name_pattern= with a (?P<step>...) group",
        )
    return np.asarray(parsed, dtype=float), "checkpoint names"


def _stages_for(labels: Sequence[Any], stages: Sequence[Any] | None) -> tuple[list[str] | None, str]:
    if stages is not None:
        return [str(s) for s in stages], "field"
    named = [stage_from_name(lab) for lab in labels]
    if all(s is None for s in named):
        return None, "none"
    if any(s is None for s in named):
        # a name without a stage word among names with one: pretraining checkpoints are
        # often plain 'step1000'; anything else is ambiguous
        bad = [lab for lab, s in zip(labels, named, strict=True) if s is None]
        raise SchemaError(
            f"checkpoint {str(bad[0])!r} names no stage, while others do "
            f"({sorted({s for s in named if s})})",
            where="checkpoint names", fix="pass stage= (a field or mapping {checkpoint: stage})",
        )
    return [s for s in named if s is not None], "checkpoint names"


def _rank_stages(stage_list: list[str], stage_order: Sequence[str] | None) -> np.ndarray:
    rank = _stage_rank(stage_order)
    unknown = sorted({s for s in stage_list if s.lower() not in rank})
    if unknown:
        known = list(stage_order) if stage_order is not None else [g[0] for g in CONVENTIONAL_STAGE_ORDER]
        raise SchemaError(f"unknown training stage(s) {unknown}", where=f"stage order {known}",
                          fix="pass stage_order= listing every stage in training order, "
                          f"e.g. stage_order={known + unknown}")
    return np.asarray([rank[s.lower()] for s in stage_list])


def _offset_restarts(stage_step: np.ndarray, ranks: np.ndarray, names: list[str]) -> tuple[np.ndarray, dict]:
    """Make steps monotone across stages: offset a stage whose counter restarts."""
    step = stage_step.astype(float).copy()
    offsets: dict[str, float] = {}
    offset, last = 0.0, -np.inf
    for r in np.unique(ranks):
        sel = ranks == r
        lo = float(stage_step[sel].min())
        if lo + offset <= last:          # counter restarted: continue after the last step
            offset = last
        step[sel] = stage_step[sel] + offset
        offsets[names[int(np.flatnonzero(sel)[0])]] = offset
        last = float(step[sel].max())
    return step, offsets


def order_checkpoints(labels: Sequence[Any], *, steps: Sequence[Any] | None = None,
                      stages: Sequence[Any] | None = None,
                      stage_order: Sequence[str] | None = None) -> CheckpointOrder:
    """Order checkpoints by (stage, step), with a monotone control coordinate.

    Parameters
    ----------
    labels : the checkpoint names as written, one per checkpoint
    steps : numeric steps per checkpoint (from a field); else read from the names
    stages : stage per checkpoint (from a field); else from stage words in the names
    stage_order : the stages in training order (default: the conventional order)
    """
    labels = list(labels)
    stage_step, step_source = _steps_for(labels, steps)
    stage_list, stage_source = _stages_for(labels, stages)
    notes: dict[str, Any] = {"step_source": step_source, "stage_source": stage_source}
    if stage_list is None or len(set(stage_list)) == 1:
        ranks = np.zeros(len(labels), dtype=int)
    else:
        ranks = _rank_stages(stage_list, stage_order)
    order = np.lexsort((stage_step, ranks))
    key = np.stack([ranks[order], stage_step[order]], axis=1)
    dup = np.flatnonzero((np.diff(key, axis=0) == 0).all(axis=1))
    if dup.size:
        a, b = labels[order[dup[0]]], labels[order[dup[0] + 1]]
        raise SchemaError(f"checkpoints {str(a)!r} and {str(b)!r} have the same stage and step",
                          where="checkpoint order", fix="give them distinct steps (step=) or stages (stage=)")
    names = [stage_list[i] for i in order] if stage_list is not None else [""] * len(order)
    step, offsets = _offset_restarts(stage_step[order], ranks[order], names)
    if stage_list is not None and any(offsets.values()):
        notes["stage_offsets"] = {k: v for k, v in offsets.items()}
    as_int = np.all(step == np.round(step)) and np.all(stage_step == np.round(stage_step))
    cast = (lambda a: a.astype(np.int64)) if as_int else (lambda a: a)
    return CheckpointOrder(order=order, step=cast(step), stage_step=cast(stage_step[order]),
                           stage=np.asarray(names) if stage_list is not None else None, notes=notes)


_SIZE_RE = re.compile(r"(?<![A-Za-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)\s*([KMBT])(?![A-Za-z0-9])", re.IGNORECASE)
_UNIT = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def size_from_name(name: Any) -> float | None:
    """Parameter count stated in a model name, or None.

    ``OLMo-2-1124-7B`` → 7e9, ``pythia-410m`` → 4.1e8, ``Mixtral-8x7B`` → 5.6e10.
    A name with two different sizes (``7B-distilled-from-70B``) → None.
    """
    found = set()
    for m in _SIZE_RE.finditer(str(name)):
        mult = int(m.group(1)) if m.group(1) else 1
        found.add(mult * float(m.group(2)) * _UNIT[m.group(3).lower()])
    return found.pop() if len(found) == 1 else None


def model_sizes(models: Sequence[Any], sizes: Mapping[Any, float] | None = None) -> tuple[np.ndarray | None, str]:
    """Sizes for each model: from ``sizes`` (a mapping name → size), else from the names.

    Returns (sizes or None, a note saying where they came from or why they are absent).
    """
    if sizes is not None:
        missing = [m for m in models if m not in sizes and str(m) not in sizes]
        if missing:
            raise SchemaError(f"sizes= has no size for model {str(missing[0])!r}", where="sizes=",
                              fix=f"give a size for every model: {[str(m) for m in models]}")
        return np.asarray([float(sizes[m] if m in sizes else sizes[str(m)]) for m in models]), "sizes="
    parsed = [size_from_name(m) for m in models]
    if all(p is not None for p in parsed):
        return np.asarray(parsed, dtype=float), "model names"
    bad = [m for m, p in zip(models, parsed, strict=True) if p is None]
    return None, f"no size: model name {str(bad[0])!r} states none; pass sizes="
