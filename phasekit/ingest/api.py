"""``open_samples``: any source of generations into phasekit's canonical, validated Dataset."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import SchemaError
from ..schema import validate
from . import formats
from .assemble import Layout, assemble
from .audit import check_unparsed
from .build import SampleSink
from .jsonio import gc_paused
from .records import FieldMap, NamePattern
from .sources import STORE_EXTENSIONS, feed_table, read_unit, resolve_paths

__all__ = ["open_samples"]

_ROLE_ARGS = ("checkpoint", "step", "stage", "model", "task", "prompt", "sample", "position",
              "token", "text", "failure")


def _open_store(source: Any, chunks: Any, n_states: int | None,
                sizes: Mapping[Any, float] | None = None) -> xr.Dataset:
    if isinstance(source, xr.DataArray):
        ds = source.to_dataset(name="token")
    elif isinstance(source, xr.Dataset):
        ds = source
    else:
        path = Path(source)
        if chunks is None:
            try:
                import dask  # noqa: F401
                chunks = {"checkpoint": 1}
            except ImportError:
                chunks = None
        try:
            if path.suffix.lower() == ".zarr":
                ds = xr.open_zarr(path, chunks={} if chunks == {"checkpoint": 1} else chunks)
            else:
                ds = xr.open_dataset(path, chunks=chunks)
        except (OSError, ValueError, KeyError) as err:
            raise SchemaError(f"cannot open {path.suffix} store: {err}", where=str(path),
                              fix=f"check that the path is a valid {path.suffix} store "
                              "(and that phasekit[io] is installed)") from None
        if "token" in ds and not np.issubdtype(ds["token"].dtype, np.integer):
            raise SchemaError(f"'token' in the store has dtype {ds['token'].dtype}; tokens must be integer",
                              where=str(path), fix="write tokens as int32/int64 with -1 for 'no token'")
    if n_states is not None:
        ds = ds.assign_attrs(n_states=int(n_states))
    if sizes is not None:
        ds = _store_sizes(ds, sizes)
    return validate(ds)


def _store_sizes(ds: xr.Dataset, sizes: Mapping[Any, float]) -> xr.Dataset:
    """``sizes=`` on an array store: the ``size`` coordinate along its ``model`` dim."""
    from .checkpoints import model_sizes

    if "model" not in ds.dims:
        raise SchemaError("sizes= was given but the store has no 'model' dim", where=f"dims {list(ds.dims)}",
                          fix="drop sizes=, or store the models along a 'model' dim")
    labels = list(ds["model"].values) if "model" in ds.coords else list(range(ds.sizes["model"]))
    values, note = model_sizes(labels, sizes)
    out = ds.assign_coords(size=("model", np.asarray(values, dtype=float)))
    out["size"].attrs["source"] = note
    return out


#: open_samples arguments that describe how to read records; an array store has none
_TABLE_ONLY = ("checkpoint", "step", "stage", "model", "task", "prompt", "sample", "position", "token",
               "text", "failure", "requests", "name_pattern", "stage_order", "encoder", "states",
               "answer_pattern", "aliases", "max_unparsed")


def _refuse_table_arguments(given: Mapping[str, Any], source: Any) -> None:
    """A mapping argument passed with an array store would be silently ignored: refuse it."""
    used = [k for k in _TABLE_ONLY if given.get(k) is not None]
    if used:
        raise SchemaError(f"{', '.join(f'{k}=' for k in used)} only apply when reading records "
                          "(JSONL, CSV, Parquet, client logs); an array store already holds the canonical "
                          "dataset", where=str(source) if not isinstance(source, xr.Dataset | xr.DataArray)
                          else "in-memory xarray input",
                          fix="drop them (rename dims/coords with ds.rename or ds.assign_coords instead)")


def _is_store(source: Any) -> bool:
    if isinstance(source, xr.Dataset | xr.DataArray):
        return True
    return isinstance(source, str | os.PathLike) and Path(source).suffix.lower() in STORE_EXTENSIONS


def _hf_object(source: Any) -> bool:
    return type(source).__module__.split(".")[0] == "datasets"


def _make_encoder(text: Any, encoder: Any, states: Any, answer_pattern: Any, normalize: bool,
                  aliases: Any) -> Any:
    if text is None and encoder is None and answer_pattern is None:
        return None
    from .encoders import build_encoder

    if encoder is None and answer_pattern is None:
        raise SchemaError("text= needs an encoder", where="open_samples(text=...)",
                          fix="pass encoder='exact', 'integer', 'integer-list', a callable, or answer_pattern=")
    return build_encoder(encoder, states=states, answer_pattern=answer_pattern, normalize=normalize,
                         aliases=aliases)


def _feed(sink: SampleSink, source: Any, fmt: str | None, fields: FieldMap, options: dict,
          pattern: NamePattern | None) -> tuple[str, str]:
    """Read ``source`` into ``sink``; returns (description, format(s) used)."""
    if isinstance(source, pd.DataFrame) or (isinstance(source, list) and source
                                             and all(isinstance(r, Mapping) for r in source)):
        feed_table(sink, source, fields, fixed={}, pattern=pattern, desc=type(source).__name__)
        return type(source).__name__, "table"
    if _hf_object(source):
        frame = formats.reader("hf").read_object(source, fields=_explicit(fields), options=options)
        from .sources import feed_frame

        feed_frame(sink, frame, fixed={}, pattern=pattern)
        return type(source).__name__, "hf"
    if isinstance(source, list) and not source:
        raise SchemaError("the list of sources is empty", where="open_samples(source=[])", fix="pass files")
    if not isinstance(source, str | os.PathLike | list | tuple):
        raise SchemaError(f"cannot read a {type(source).__name__}", where="open_samples(source=...)",
                          fix="pass a path, folder, glob, list of paths, DataFrame, list of dicts, "
                          "datasets.Dataset or xarray Dataset")
    paths = resolve_paths(source, fmt)
    options = {**options, "batch": paths}
    used = []
    for path in paths:
        if path.suffix.lower() in STORE_EXTENSIONS:
            raise SchemaError("an array store cannot be combined with other sources", where=str(path),
                              fix="open array stores on their own: open_samples('run.zarr')")
        used.append(read_unit(sink, path, fmt=fmt, fields=fields, options=options, fixed={}, pattern=pattern))
    desc = str(source) if isinstance(source, str | os.PathLike) else f"{len(paths)} files"
    return desc, ",".join(sorted(set(used)))


def _explicit(fields: FieldMap) -> dict[str, str]:
    return {r: p for r, p in fields.paths.items() if r in fields.explicit}


def _table_arg(value: Any, name: str) -> tuple[str | None, Mapping | None]:
    """A role argument is a field name/path, or (step=, stage=) a mapping {checkpoint: value}."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, Mapping):
        return None, {str(k): v for k, v in value.items()}
    raise SchemaError(f"{name}= must be a field name or dotted path" +
                      (" or a mapping {checkpoint: value}" if name in ("step", "stage") else ""),
                      where=f"open_samples({name}={value!r})", fix=f"pass {name}='<field>'")


def open_samples(
    source: Any,
    *,
    format: str | None = None,
    text: str | None = None,
    token: str | None = None,
    checkpoint: str | None = None,
    step: str | Mapping[str, float] | None = None,
    stage: str | Mapping[str, str] | None = None,
    model: str | None = None,
    task: str | None = None,
    prompt: str | None = None,
    sample: str | None = None,
    position: str | None = None,
    failure: str | None = None,
    requests: Any = None,
    responses: str = "resps",
    name_pattern: str | None = None,
    stage_order: Sequence[str] | None = None,
    sizes: Mapping[Any, float] | None = None,
    encoder: str | Callable[[Any], Hashable | None] | None = None,
    states: Sequence[Hashable] | None = None,
    answer_pattern: str | None = None,
    normalize: bool = True,
    aliases: Mapping[str, Hashable] | None = None,
    n_states: int | None = None,
    max_unparsed: float | None = None,
    chunks: Any = None,
) -> xr.Dataset:
    """Read generations into phasekit's canonical, validated dataset; every one accounted for.

    Parameters
    ----------
    source : a file (``.jsonl``, ``.json``, ``.csv``, ``.parquet``, ``.eval``, ``.nc``,
        ``.zarr``), a folder, a glob, a list of them, a DataFrame, a list of dicts, a
        ``datasets.Dataset`` or an xarray Dataset
    format : ``"lm-eval"``, ``"inspect"``, ``"openai-batch"``, ``"hf"`` or a table format
        (``"jsonl"``, ``"csv"``…); detected when None (the format used is ``attrs["format"]``)
    text, token : the field holding the answer text / the token ids; dotted paths, with
        ``*`` marking a list whose items are samples (``"outputs.*.text"``)
    checkpoint, step, stage, model, task, prompt, sample, position, failure : the fields of
        the other roles (column names or dotted paths; for client formats they override the
        reader's defaults). ``step``/``stage`` may also be a mapping ``{checkpoint: value}``.
    requests : the OpenAI batch input file(s), joined on ``custom_id`` for the prompts
    responses : lm-eval: ``"resps"`` (raw generations), or ``"filtered_resps"`` /
        ``"filtered_resps:<filter name>"`` (the name is needed when the task has several filters)
    name_pattern : regex with named groups ``model``, ``checkpoint``, ``stage``, ``step``,
        applied to the model name when there is one, else to the file path
    stage_order : the training stages in order, when stage counters restart (default: the
        conventional pretrain < mid < sft < dpo < rl)
    sizes : ``{model: parameters}``; default: parsed from the names (``OLMo-2-7B`` → 7e9)
    encoder, states, answer_pattern, normalize, aliases : how answer texts become states
        (docs/encoders.md); answers outside ``states`` are unparsed ("out of space")
    n_states : q; defaults to ``len(states)`` when states are given, else unknown
    max_unparsed : fraction of unparsed answers above which loading fails (default: warn)
    chunks : dask chunks for NetCDF/Zarr stores

    Returns
    -------
    Dataset with ``token`` (dims ``[model,] checkpoint[, prompt], sample[, position]``),
    coords ``step`` (monotone; ``stage_step`` the step as written when stages restart),
    ``stage``, ``size``, ``task``, ``state``; the audit in attrs (``n_generations``,
    ``n_parsed``, ``n_unparsed``, ``n_failed``, ``unparsed_reasons``, ``audit``).

    Raises
    ------
    SchemaError
        naming the problem, the place (file, line, record, checkpoint) and the fix.
    """
    if _is_store(source):
        _refuse_table_arguments(dict(checkpoint=checkpoint, step=step, stage=stage, model=model, task=task,
                                     prompt=prompt, sample=sample, position=position, token=token, text=text,
                                     failure=failure, requests=requests, name_pattern=name_pattern,
                                     stage_order=stage_order, encoder=encoder, states=states,
                                     answer_pattern=answer_pattern, aliases=aliases,
                                     max_unparsed=max_unparsed), source)
        return _open_store(source, chunks, n_states, sizes)
    step_field, step_map = _table_arg(step, "step")
    stage_field, stage_map = _table_arg(stage, "stage")
    given = {"checkpoint": checkpoint, "step": step_field, "stage": stage_field, "model": model,
             "task": task, "prompt": prompt, "sample": sample, "position": position, "token": token,
             "text": text, "failure": failure}
    fields = FieldMap.build({k: v for k, v in given.items() if v is not None})
    if step_map is not None:
        fields.paths.pop("step", None)
    if stage_map is not None:
        fields.paths.pop("stage", None)
    enc = _make_encoder(text, encoder, states, answer_pattern, normalize, aliases)
    sink = SampleSink(enc)
    pattern = NamePattern(name_pattern) if name_pattern is not None else None
    options = {"responses": responses, "requests": requests}
    with gc_paused():                    # records are acyclic: see jsonio.gc_paused
        desc, used = _feed(sink, source, format, fields, options, pattern)
    layout = Layout(steps=step_map, stages=stage_map, stage_order=stage_order, sizes=sizes,
                    model_dim=model is not None, source=desc, format=used,
                    sequence=position is not None or (enc is not None and enc.kind == "list"))
    ds = assemble(sink, layout)
    ds = _set_n_states(ds, n_states, states, desc)
    check_unparsed(ds, max_unparsed, stacklevel=3)
    if format is None and used not in ("table", "jsonl", "json", "csv", "parquet"):
        ds.attrs["format_detected"] = 1
    return validate(ds)


def _set_n_states(ds: xr.Dataset, n_states: int | None, states: Sequence | None, desc: str) -> xr.Dataset:
    if n_states is None and states is not None:
        n_states = len(states)
    if n_states is not None:
        n_labels = ds.sizes.get("state")
        if n_labels is not None and n_labels > n_states:
            raise SchemaError(f"the encoder found {n_labels} distinct answers but n_states={n_states}",
                              where=desc, fix="raise n_states or pass states= to fix the label set")
        ds.attrs["n_states"] = int(n_states)
    return ds

