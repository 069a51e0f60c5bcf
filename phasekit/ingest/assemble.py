"""From a filled :class:`~phasekit.ingest.build.SampleSink` to the canonical Dataset.

Orders checkpoints (stage, then step; :mod:`.checkpoints`), lays out the dense
``token`` array with dims ``[model,] checkpoint[, prompt], sample[, position]``
(``-1`` where nothing was generated), refuses duplicates, and attaches the coordinates
(``step``, ``stage_step``, ``stage``, ``size``, ``task``, ``state``) and the audit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import xarray as xr

from ..errors import SchemaError
from . import audit as _audit
from .build import SampleSink
from .checkpoints import model_sizes, order_checkpoints

__all__ = ["Layout", "assemble"]


@dataclass(frozen=True)
class Layout:
    """What the caller decided about the dims and the per-checkpoint tables."""

    steps: Mapping[str, Any] | None = None        # {checkpoint: step} given by the user
    stages: Mapping[str, Any] | None = None       # {checkpoint: stage} given by the user
    stage_order: Sequence[str] | None = None
    sizes: Mapping[Any, float] | None = None
    model_dim: bool = False                       # keep a model dim even for one model
    sequence: bool = False                        # generations are sequences (position dim)
    source: str = ""
    format: str = ""


def _per_checkpoint(sink: SampleSink, table: dict, given: Mapping | None, what: str) -> list | None:
    labels = sink.ids["checkpoint"].labels
    if given is not None:
        missing = [c for c in labels if c not in given]
        if missing:
            raise SchemaError(f"{what}= has no entry for checkpoint {missing[0]!r}", where=f"{what}=",
                              fix=f"give a {what} for every checkpoint: {labels[:5]}…")
        return [given[c] for c in labels]
    if not table:
        return None
    merged: dict[int, set] = {}
    for (_, c), values in table.items():
        merged.setdefault(c, set()).update(values)
    out = []
    for c, lab in enumerate(labels):
        vals = merged.get(c)
        if not vals:
            raise SchemaError(f"checkpoint {lab!r} has no {what} while others do", where=f"the {what} field",
                              fix=f"give every generation a {what}, or none")
        if len(vals) > 1:
            raise SchemaError(f"checkpoint {lab!r} has more than one {what}: {sorted(map(str, vals))[:4]}",
                              where=f"the {what} field", fix=f"give each checkpoint one {what}")
        out.append(next(iter(vals)))
    return out


def _checkpoint_order(sink: SampleSink, layout: Layout):
    labels = sink.ids["checkpoint"].labels
    steps = _per_checkpoint(sink, sink.ck_step, layout.steps, "step")
    if steps is not None:
        bad = [s for s in steps if not _is_number(s)]
        if bad:
            raise SchemaError(f"step {bad[0]!r} is not a number", where="the step field",
                              fix="steps must be numeric training steps")
    stages = _per_checkpoint(sink, sink.ck_stage, layout.stages, "stage")
    if steps is None and len(labels) == 1:
        from .checkpoints import step_from_name

        if step_from_name(labels[0]) is None:
            steps = [0]
            order = order_checkpoints(labels, steps=steps, stages=stages, stage_order=layout.stage_order)
            order.notes["step_source"] = "single checkpoint without a step: step 0"
            return order
    return order_checkpoints(labels, steps=steps, stages=stages, stage_order=layout.stage_order)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def _rank(order: np.ndarray) -> np.ndarray:
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank


def _prompt_labels(sink: SampleSink) -> tuple[np.ndarray | None, np.ndarray | None]:
    keys = cast("list[tuple[Any, Any]]", sink.ids["prompt"].labels)  # (task, prompt) pairs
    tasks = [t for t, _ in keys]
    prompts = [p for _, p in keys]
    if all(p is None for p in prompts) and len(keys) == 1:
        return None, None
    labels = [p if p is not None else str(t) for t, p in keys]
    if len(set(labels)) < len(labels):
        labels = [f"{t}/{p}" if t is not None else str(p) for t, p in keys]
    task = np.asarray([str(t) for t in tasks]) if any(t is not None for t in tasks) else None
    return np.asarray(labels, dtype=object).astype(str), task


def _sample_labels(sink: SampleSink) -> tuple[np.ndarray, np.ndarray]:
    labels = sink.ids["sample"].labels
    arr = np.asarray(labels)
    if arr.dtype == object:
        arr = arr.astype(str)
    order = np.argsort(arr, kind="stable")
    return arr[order], _rank(order)


def _state_labels(sink: SampleSink, code: np.ndarray) -> tuple[list | None, np.ndarray]:
    if sink.token_mode:
        return None, code
    labels = cast("list[Any]", sink.states.labels)
    if sink.encoder.labels is not None:
        return list(labels), code
    try:
        order = sorted(range(len(labels)), key=lambda i: labels[i])
    except TypeError:
        order = sorted(range(len(labels)), key=lambda i: str(labels[i]))
    remap = np.full(len(labels) + 1, -1, dtype=np.int64)
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return [labels[i] for i in order], np.where(code >= 0, remap[code], -1)


def _dense(index: tuple[np.ndarray, ...], shape: tuple[int, ...], code: np.ndarray, describe) -> np.ndarray:
    flat = np.ravel_multi_index(index, shape)
    seen = np.zeros(int(np.prod(shape)), dtype=bool)
    seen[flat] = True
    if int(np.count_nonzero(seen)) < flat.size:         # some cell twice: find it (error path only)
        del seen
        uniq, cnt = np.unique(flat, return_counts=True)
        raise SchemaError("the same generation (or token) appears more than once (duplicate rows)",
                          where=describe(np.unravel_index(int(uniq[cnt > 1][0]), shape)),
                          fix="remove duplicate rows, or name the field that tells them apart "
                          "(sample=, prompt=, model=, position=)")
    del seen
    hi = int(code.max(initial=0))
    arr = np.full(shape, -1, dtype=np.int32 if hi < np.iinfo(np.int32).max else np.int64)
    arr.reshape(-1)[flat] = code
    return arr


def assemble(sink: SampleSink, layout: Layout) -> xr.Dataset:
    """The canonical Dataset for everything the sink received (see module docs)."""
    if not sink.n_gen:
        raise SchemaError("the source holds no generations", where=layout.source,
                          fix="check the file and the field mapping (text=, token=; '*' for lists of samples)")
    col = {k: np.concatenate(v) for k, v in sink.gen.items()}           # int32: ids
    cell = {k: np.concatenate(v) for k, v in sink.cell.items()}
    sink.gen.clear()
    sink.cell.clear()
    ck = _checkpoint_order(sink, layout)
    gen_ck = _rank(ck.order)[col["checkpoint"]]
    prompts, task = _prompt_labels(sink)
    samples, sample_rank = _sample_labels(sink)
    states, code = _state_labels(sink, cell["code"])
    models = sink.ids["model"].labels
    model_dim = layout.model_dim or len(models) > 1
    sequence = layout.sequence or sink.sequence or bool(cell["position"].max(initial=0) > 0)
    g = cell["gen"]
    parts = [(gen_ck[g], ck.step.size)]
    if model_dim:
        parts.insert(0, (col["model"][g], len(models)))
    if prompts is not None:
        parts.append((col["prompt"][g], prompts.size))
    parts.append((sample_rank[col["sample"]][g], samples.size))
    if sequence:
        parts.append((cell["position"], int(cell["position"].max(initial=0)) + 1))
    dims = (["model"] if model_dim else []) + ["checkpoint"] + (["prompt"] if prompts is not None else []) \
        + ["sample"] + (["position"] if sequence else [])
    ck_labels = np.asarray(sink.ids["checkpoint"].labels, dtype=object)[ck.order].astype(str)

    def describe(idx: tuple) -> str:
        parts_ = [f"{d}={_coord_label(d, i, models, ck_labels, prompts, samples)}" for d, i in zip(dims, idx, strict=True)]
        return f"{layout.source}: " + ", ".join(parts_)

    arr = _dense(tuple(p[0] for p in parts), tuple(p[1] for p in parts), code, describe)
    coords = _coords(ck, ck_labels, prompts, task, samples, states, models, model_dim, sequence, arr, layout)
    ds = xr.Dataset({"token": (tuple(dims), arr)}, coords=coords)
    ds.attrs.update(_attrs(sink, ck, layout, models, model_dim, arr, len(cell["code"])))
    _audit.attach(ds, sink, gen_model=col["model"], gen_ck=gen_ck, cell=cell, ck_labels=ck_labels,
                  models=models, model_dim=model_dim)
    return ds


def _coord_label(dim: str, i: int, models, ck_labels, prompts, samples) -> Any:
    table = {"model": models, "checkpoint": ck_labels, "prompt": prompts, "sample": samples}
    return table[dim][i] if dim in table else i


def _coords(ck, ck_labels, prompts, task, samples, states, models, model_dim, sequence, arr, layout) -> dict:
    coords: dict[str, Any] = {"checkpoint": ck_labels, "step": ("checkpoint", ck.step), "sample": samples}
    if not np.array_equal(ck.step, ck.stage_step):
        coords["stage_step"] = ("checkpoint", ck.stage_step)
    if ck.stage is not None:
        coords["stage"] = ("checkpoint", ck.stage.astype(str))
    if prompts is not None:
        coords["prompt"] = prompts
        if task is not None:
            coords["task"] = ("prompt", task)
    if sequence:
        coords["position"] = np.arange(arr.shape[-1])
    if states is not None:
        coords["state"] = ("state", np.asarray([str(s) for s in states]))
    if model_dim:
        coords["model"] = np.asarray([str(m) for m in models])
        sizes, _ = model_sizes([str(m) for m in models], layout.sizes)
        if sizes is not None:
            coords["size"] = ("model", sizes)
    return coords


def _attrs(sink: SampleSink, ck, layout: Layout, models, model_dim: bool, arr: np.ndarray, n_cells: int) -> dict:
    attrs: dict[str, Any] = {"source": layout.source, "format": layout.format,
                             "step_source": ck.notes["step_source"], "stage_source": ck.notes["stage_source"]}
    if "stage_offsets" in ck.notes:
        attrs["stage_offsets"] = json.dumps(ck.notes["stage_offsets"])
    if model_dim:
        _, note = model_sizes([str(m) for m in models], layout.sizes)
        attrs["size_source"] = note
        attrs["size_units"] = "parameters"
    elif models and models[0] is not None:
        attrs["model"] = str(models[0])
    if sink.encoder is not None:
        attrs["encoder"] = sink.encoder.name
        attrs["encoder_rule"] = sink.encoder.rule
    if sink.sample_given is False:
        attrs["samples_numbered_by_row_order"] = 1
    attrs["n_missing"] = int(arr.size - n_cells)        # cells nothing was generated for
    if sink.records_without_samples:
        attrs["n_records_without_samples"] = int(sink.records_without_samples)
    return attrs
