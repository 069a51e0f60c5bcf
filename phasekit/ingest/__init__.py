"""Ingestion: read generations from tables and files into the canonical dataset.

:func:`open_samples` accepts a pandas DataFrame, a list of dicts, an xarray Dataset,
or a file path by extension (``.jsonl``, ``.json``, ``.csv``, ``.parquet``, ``.nc``,
``.zarr``). Any other extension — pickle included — is refused: nothing is ever
unpickled or evaluated.

Three table layouts are understood:

* **one row per token** — a ``position`` column names the position in the sequence;
* **one row per sample with a list of token ids** — the ``token`` column holds lists
  (ragged lists are padded with ``-1``);
* **one row per sample with an answer text** — ``text=`` names the column and
  ``encoder=`` maps it to states: ``"exact"`` (each distinct string a state),
  ``"integer"`` (the integer the answer states: ``" 7"``, ``"7."``, ``"The number is 4"``)
  or a callable ``str -> label | None``. Labels are kept as the ``state`` coordinate;
  answers that cannot be mapped become ``-1`` and are counted in ``attrs["n_unparsed"]``
  and reported by a warning — never dropped silently.

Missing samples are ``-1``, not invented. A checkpoint's numeric ``step`` comes from the
``step`` column, else from its label (``ckpt-1000``, ``step_2000``), else an error asks
for it.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import SchemaError
from ..schema import validate

__all__ = ["open_samples", "encode_answers", "integer_encoder", "SUPPORTED_EXTENSIONS"]

SUPPORTED_EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet", ".nc", ".zarr")
#: Longest JSONL line accepted (bytes); longer lines are refused with their line number.
MAX_LINE_BYTES = 64 * 1024 * 1024

_INT_RE = re.compile(r"[-+]?\d+")
_STEP_RE = re.compile(r"(\d+)(?!.*\d)")


# --------------------------------------------------------------------------- encoders
def integer_encoder(text: Any) -> int | None:
    """The integer an answer states: the first integer in the text (``" 7"``, ``"7."``,
    ``"The number is 4"`` → 7, 7, 4); ``None`` when there is none.

    Words for numbers are not parsed: "seven" is unparsed (and counted as such).
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    if isinstance(text, bool):
        return None
    if isinstance(text, int | np.integer):
        return int(text)
    m = _INT_RE.search(str(text))
    return int(m.group()) if m else None


def _exact_encoder(text: Any) -> str | None:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    return str(text)


def encode_answers(
    answers: Sequence[Any],
    encoder: str | Callable[[Any], Hashable | None],
    states: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, list[Hashable], int]:
    """Map answer texts to integer states.

    Parameters
    ----------
    answers : the answer texts
    encoder : "exact", "integer" or a callable returning a label (or None if unparsable)
    states : optional explicit list of labels (defines the order of states and q);
        answers whose label is not in it count as unparsed

    Returns
    -------
    codes : int64 array, -1 where unparsed
    labels : the label of each state (``labels[code]``)
    n_unparsed : how many answers could not be mapped
    """
    if encoder == "integer":
        fn: Callable[[Any], Hashable | None] = integer_encoder
    elif encoder == "exact":
        fn = _exact_encoder
    elif callable(encoder):
        fn = encoder
    else:
        raise SchemaError(
            f"unknown encoder {encoder!r}",
            where="open_samples(encoder=...)",
            fix="use 'exact', 'integer' or a callable str -> label",
        )
    labels_of = [fn(a) for a in answers]
    if states is None:
        seen = {lab for lab in labels_of if lab is not None}
        try:
            labels = sorted(seen)
        except TypeError:
            labels = sorted(seen, key=str)
    elif encoder == "integer":
        # the integer encoder yields ints: read the given labels the same way ("7" == 7)
        labels = [integer_encoder(s) for s in states]
        if any(lab is None for lab in labels):
            bad = states[[lab is None for lab in labels].index(True)]
            raise SchemaError(f"state label {bad!r} is not an integer", where="open_samples(states=...)",
                              fix="with encoder='integer' every state label must be an integer")
    else:
        labels = list(states)
    index = {lab: i for i, lab in enumerate(labels)}
    codes = np.fromiter((index.get(lab, -1) if lab is not None else -1 for lab in labels_of),
                        dtype=np.int64, count=len(labels_of))
    n_unparsed = int((codes < 0).sum())
    return codes, labels, n_unparsed


# --------------------------------------------------------------------------- readers
def _read_jsonl(path: Path) -> pd.DataFrame:
    """Read JSON Lines, naming the file and line of the first malformed line."""
    records = []
    with open(path, "rb") as fh:
        lineno = 0
        while True:
            line = fh.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            lineno += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise SchemaError(
                    f"line {lineno} is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB",
                    where=f"{path}, line {lineno}",
                    fix="split very long sequences across rows (one row per sample or per token)",
                )
            text = line.strip()
            if not text:
                continue
            try:
                rec = json.loads(text)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise SchemaError(
                    f"malformed JSON on line {lineno}: {err.args[0] if err.args else err}",
                    where=f"{path}, line {lineno}",
                    fix="each line must be one JSON object, e.g. "
                    '{"checkpoint": "ckpt-100", "prompt": "p0", "sample": 0, "text": "7"}',
                ) from None
            if not isinstance(rec, dict):
                raise SchemaError(
                    f"line {lineno} is a JSON {type(rec).__name__}, not an object",
                    where=f"{path}, line {lineno}",
                    fix="write one JSON object per line",
                )
            records.append(rec)
    return pd.DataFrame.from_records(records)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=True)
    except pd.errors.ParserError as err:
        msg = str(err)
        m = re.search(r"line (\d+)", msg)
        where = f"{path}, line {m.group(1)}" if m else str(path)
        raise SchemaError(f"malformed CSV: {msg.strip()}", where=where,
                          fix="every row must have the same number of comma-separated fields") from None
    except pd.errors.EmptyDataError:
        raise SchemaError("the CSV file is empty", where=str(path), fix="check the file") from None
    except UnicodeDecodeError as err:
        raise SchemaError(f"the CSV file is not valid UTF-8 text ({err.reason})", where=str(path),
                          fix="save the file as UTF-8") from None


def _read_json(path: Path) -> pd.DataFrame:
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        line = getattr(err, "lineno", None)
        raise SchemaError(f"malformed JSON: {err}", where=f"{path}" + (f", line {line}" if line else ""),
                          fix="the file must hold a list of records or an object of columns") from None
    if isinstance(obj, list):
        if not all(isinstance(r, dict) for r in obj):
            raise SchemaError("a JSON list must hold objects (records)", where=str(path),
                              fix="write [{...}, {...}] with one object per sample or token")
        return pd.DataFrame.from_records(obj)
    if isinstance(obj, dict):
        try:
            return pd.DataFrame(obj)
        except ValueError as err:
            raise SchemaError(f"cannot read the JSON object as columns: {err}", where=str(path),
                              fix="use equal-length column lists or a list of records") from None
    raise SchemaError(f"a JSON {type(obj).__name__} is not a table", where=str(path),
                      fix="the file must hold a list of records or an object of columns")


def _lazy_chunks(chunks: Any) -> Any:
    if chunks is not None:
        return chunks
    try:
        import dask  # noqa: F401
    except ImportError:
        return None
    return {"checkpoint": 1}


def _open_array_store(path: Path, ext: str, chunks: Any) -> xr.Dataset:
    chunks = _lazy_chunks(chunks)
    try:
        if ext == ".zarr":
            # the store's own chunks (pipelines write one checkpoint block per chunk)
            return xr.open_zarr(path, chunks={} if chunks == {"checkpoint": 1} else chunks)
        return xr.open_dataset(path, chunks=chunks)
    except (OSError, ValueError, KeyError) as err:
        raise SchemaError(f"cannot open {ext} store: {err}", where=str(path),
                          fix=f"check that the path is a valid {ext} store "
                          "(and that phasekit[io] is installed)") from None


def _read_source(source: Any, chunks: Any) -> pd.DataFrame | xr.Dataset:
    if isinstance(source, xr.Dataset):
        return source
    if isinstance(source, xr.DataArray):
        return source.to_dataset(name="token")
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if isinstance(source, list):
        if not all(isinstance(r, Mapping) for r in source):
            raise SchemaError("a list source must hold dicts (one per sample or token)",
                              where="open_samples(source=...)",
                              fix="pass [{'checkpoint': ..., 'sample': ..., 'token': ...}, ...]")
        return pd.DataFrame.from_records(source)
    if not isinstance(source, str | os.PathLike):
        raise SchemaError(f"cannot read a {type(source).__name__}",
                          where="open_samples(source=...)",
                          fix="pass a path, a pandas DataFrame, a list of dicts or an xarray Dataset")
    path = Path(source)
    ext = "".join(path.suffixes[-1:]).lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise SchemaError(
            f"unsupported file extension {ext or '(none)'!r}",
            where=str(path),
            fix=f"convert to one of {', '.join(SUPPORTED_EXTENSIONS)}; pickles are never loaded",
        )
    if not path.exists():
        raise SchemaError("file not found", where=str(path), fix="check the path")
    if ext == ".jsonl":
        return _read_jsonl(path)
    if ext == ".json":
        return _read_json(path)
    if ext == ".csv":
        return _read_csv(path)
    if ext == ".parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as err:
            raise SchemaError("reading Parquet needs pyarrow", where=str(path),
                              fix="pip install 'phasekit[io]'") from err
        except (OSError, ValueError) as err:
            raise SchemaError(f"cannot read Parquet: {err}", where=str(path),
                              fix="check the file") from None
    return _open_array_store(path, ext, chunks)


# --------------------------------------------------------------------------- tables
def step_from_label(label: Any) -> float | None:
    """Parse a training step from a checkpoint label (``ckpt-1000``, ``step_2000``, ``500``)."""
    if isinstance(label, int | float | np.integer | np.floating) and not isinstance(label, bool):
        return float(label)
    m = _STEP_RE.search(str(label))
    return float(m.group(1)) if m else None


def _require_column(df: pd.DataFrame, col: str | None, role: str, source_desc: str) -> None:
    if col is not None and col not in df.columns:
        raise SchemaError(
            f"required column {col!r} ({role}) is missing",
            where=f"{source_desc}; columns are {list(map(str, df.columns))}",
            fix=f"name the column that holds the {role} with open_samples(..., {role}='<column>')",
        )


def _labels_in_order(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels in order of first appearance."""
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), np.asarray(uniques)


def _as_token_lists(col: pd.Series, column: str, source_desc: str) -> list[list[int]]:
    out = []
    for i, v in enumerate(col.tolist()):
        if isinstance(v, str):
            s = v.strip()
            try:
                v = json.loads(s) if s.startswith("[") else [int(x) for x in s.replace(",", " ").split()]
            except (ValueError, json.JSONDecodeError):
                raise SchemaError(f"cannot read token list {v!r}", where=f"{source_desc}, row {i}, column {column!r}",
                                  fix="write token ids as a JSON list like [12, 7, 5]") from None
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append([])
            continue
        try:
            seq = np.asarray(v)
        except (TypeError, ValueError):
            seq = np.asarray([], dtype=object)
        if seq.ndim != 1 or (seq.size and not np.issubdtype(seq.dtype, np.integer)):
            if seq.size and seq.dtype.kind == "f" and np.all(seq == np.round(seq)):
                seq = seq.astype(np.int64)
            else:
                raise SchemaError(
                    f"token list {v!r} is not a list of integer ids",
                    where=f"{source_desc}, row {i}, column {column!r}",
                    fix="token ids must be integer; for text answers use text= and encoder=",
                )
        out.append(seq.astype(np.int64).tolist())
    return out


def _integer_column(col: pd.Series, column: str, source_desc: str) -> np.ndarray:
    values = col.to_numpy()
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SchemaError(f"token value {values[i].item()!r} is not an integer",
                              where=f"{source_desc}, row {i}, column {column!r}",
                              fix="use -1 for missing tokens; map text answers with text= and encoder=")
        return values.astype(np.int64)
    # object column: mixed types
    out = np.empty(values.size, dtype=np.int64)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            kind = type(v).__name__
            raise SchemaError(
                f"column {column!r} mixes types: row {i} holds a {kind} ({v!r}) where integer token ids are expected",
                where=f"{source_desc}, row {i}",
                fix="make every token an integer id, or pass text='<column>' with encoder='exact'|'integer'",
            )
        out[i] = int(v)
    return out


def _table_to_dataset(
    df: pd.DataFrame,
    *,
    checkpoint: str,
    step: str,
    prompt: str,
    sample: str,
    position: str | None,
    token: str,
    text: str | None,
    encoder: Any,
    states: Sequence[Hashable] | None,
    stage: str | None,
    source_desc: str,
) -> xr.Dataset:
    n_rows = len(df)
    if n_rows == 0:
        raise SchemaError("the source holds no rows", where=source_desc, fix="check the file")
    attrs: dict[str, Any] = {"n_rows": n_rows, "source": source_desc}
    if checkpoint not in df.columns:
        if step in df.columns:
            df = df.assign(**{checkpoint: df[step]})
        else:
            _require_column(df, checkpoint, "checkpoint", source_desc)
    ck_codes, ck_labels = _labels_in_order(df[checkpoint].astype(str)
                                           if df[checkpoint].dtype == object else df[checkpoint])
    # steps
    if step in df.columns:
        step_vals = pd.to_numeric(df[step], errors="coerce")
        if step_vals.isna().any():
            i = int(np.flatnonzero(step_vals.isna().to_numpy())[0])
            raise SchemaError(f"step {df[step].iloc[i]!r} is not a number", where=f"{source_desc}, row {i}",
                              fix="steps must be numeric training steps")
        per_ck = pd.Series(step_vals.to_numpy()).groupby(ck_codes).agg(["min", "max"])
        incons = per_ck.index[per_ck["min"] != per_ck["max"]]
        if len(incons):
            raise SchemaError(f"checkpoint {str(ck_labels[incons[0]])!r} has more than one step",
                              where=source_desc, fix="give each checkpoint one step value")
        steps = per_ck["min"].reindex(range(len(ck_labels))).to_numpy(dtype=float)
    else:
        parsed = [step_from_label(lab) for lab in ck_labels]
        if any(p is None for p in parsed):
            bad = ck_labels[[p is None for p in parsed].index(True)]
            raise SchemaError(
                f"no step for checkpoint {str(bad)!r}: there is no {step!r} column and the label holds no number",
                where=source_desc,
                fix=f"add a {step!r} column, or label checkpoints like 'ckpt-1000'",
            )
        steps = np.asarray(parsed, dtype=float)
    order = np.argsort(steps, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    ck_codes = rank[ck_codes]
    ck_labels, steps = ck_labels[order], steps[order]
    row_ck = ck_codes.copy()
    if np.all(steps == np.round(steps)):
        steps = steps.astype(np.int64)
    # prompts and samples
    if prompt in df.columns:
        pr_codes, pr_labels = _labels_in_order(df[prompt].astype(str))
    else:
        pr_codes, pr_labels = np.zeros(n_rows, np.int64), None
    if sample in df.columns:
        sm_codes, sm_labels = _labels_in_order(df[sample])
        srt = np.argsort(sm_labels.astype(str) if sm_labels.dtype == object else sm_labels, kind="stable")
        rk = np.empty_like(srt)
        rk[srt] = np.arange(srt.size)
        sm_codes, sm_labels = rk[sm_codes], sm_labels[srt]
    else:
        # number samples in order of appearance within each (checkpoint, prompt)
        key = ck_codes * (pr_codes.max() + 1) + pr_codes
        if position is not None and position in df.columns:
            raise SchemaError("a one-row-per-token table needs a sample column",
                              where=source_desc, fix=f"add a {sample!r} column")
        sm_codes = pd.Series(key).groupby(key).cumcount().to_numpy().astype(np.int64)
        sm_labels = np.arange(sm_codes.max() + 1)
        attrs["samples_numbered_by_row_order"] = 1
    # tokens
    state_labels = None
    n_unparsed = 0
    if text is not None:
        _require_column(df, text, "text", source_desc)
        if encoder is None:
            raise SchemaError("text= needs an encoder", where="open_samples(text=...)",
                              fix="pass encoder='exact', 'integer' or a callable")
        values, state_labels, n_unparsed = encode_answers(df[text].tolist(), encoder, states)
        pos_codes = np.zeros(n_rows, np.int64)
        n_pos = 1
        has_position = False
    else:
        _require_column(df, token, "token", source_desc)
        col = df[token]
        is_list = col.map(lambda v: isinstance(v, list | tuple | np.ndarray)).any() or (
            col.dtype == object and col.map(lambda v: isinstance(v, str) and v.strip().startswith("[")).any()
        )
        if is_list and position is None:
            seqs = _as_token_lists(col, token, source_desc)
            lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
            n_pos = int(lengths.max(initial=0))
            row_rep = np.repeat(np.arange(n_rows), lengths)
            values = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=int(lengths.sum()))
            pos_codes = np.concatenate([np.arange(n) for n in lengths]) if n_rows else np.zeros(0, np.int64)
            ck_codes, pr_codes, sm_codes = ck_codes[row_rep], pr_codes[row_rep], sm_codes[row_rep]
            has_position = True
            attrs["n_padding"] = int(n_pos * n_rows - lengths.sum())
        else:
            values = _integer_column(col, token, source_desc)
            if position is not None:
                _require_column(df, position, "position", source_desc)
                pos = _integer_column(df[position], position, source_desc)
                if (pos < 0).any():
                    raise SchemaError(f"negative position {int(pos.min())}", where=source_desc,
                                      fix="positions count from 0")
                pos_codes, n_pos, has_position = pos, int(pos.max()) + 1, True
            else:
                pos_codes, n_pos, has_position = np.zeros(n_rows, np.int64), 1, False
    if values.size and values.min() < -1:
        i = int(np.argmin(values))
        raise SchemaError(f"token value {int(values[i])} is below -1", where=f"{source_desc}, row {i}",
                          fix="use -1 for 'no token' and non-negative state ids")
    n_ck, n_pr = len(ck_labels), (len(pr_labels) if pr_labels is not None else 1)
    n_sm = len(sm_labels)
    shape = (n_ck, n_pr, n_sm, n_pos)
    flat = np.ravel_multi_index((ck_codes, pr_codes, sm_codes, pos_codes), shape)
    uniq, cnt = np.unique(flat, return_counts=True)
    if (cnt > 1).any():
        c, p, s, t = np.unravel_index(int(uniq[cnt > 1][0]), shape)
        where = f"checkpoint={ck_labels[c]!s}, sample={sm_labels[s]!s}"
        if pr_labels is not None:
            where += f", prompt={pr_labels[p]!s}"
        if has_position:
            where += f", position={t}"
        raise SchemaError("the same token appears more than once (duplicate rows)", where=f"{source_desc}: {where}",
                          fix="remove duplicate rows or add the column that tells them apart (sample, position)")
    dtype = np.int32 if (values.size == 0 or values.max() < np.iinfo(np.int32).max) else np.int64
    arr = np.full(shape, -1, dtype=dtype)
    arr.reshape(-1)[flat] = values
    dims = ["checkpoint", "prompt", "sample", "position"]
    if pr_labels is None:
        arr = arr[:, 0]
        dims.remove("prompt")
    if not has_position:
        arr = arr[..., 0]
        dims.remove("position")
    coords: dict[str, Any] = {
        "checkpoint": np.asarray(ck_labels).astype(str),
        "step": ("checkpoint", steps),
        "sample": sm_labels,
    }
    if pr_labels is not None:
        coords["prompt"] = pr_labels
    if has_position:
        coords["position"] = np.arange(n_pos)
    if stage is not None:
        _require_column(df, stage, "stage", source_desc)
        st = pd.Series(df[stage].astype(str).to_numpy()).groupby(row_ck).first()
        coords["stage"] = ("checkpoint", st.reindex(range(n_ck)).fillna("").to_numpy().astype(str))
    if state_labels is not None:
        coords["state"] = ("state", np.asarray([str(s) for s in state_labels]))
    ds = xr.Dataset({"token": (tuple(dims), arr)}, coords=coords, attrs=attrs)
    if text is not None:
        ds.attrs["n_unparsed"] = n_unparsed
        ds.attrs["encoder"] = encoder if isinstance(encoder, str) else getattr(encoder, "__name__", "callable")
        ds.attrs["text_column"] = text
        if n_unparsed:
            warnings.warn(
                f"{n_unparsed} of {n_rows} answers could not be mapped to a state by the "
                f"{ds.attrs['encoder']!r} encoder; they are stored as -1 and counted in attrs['n_unparsed']",
                UserWarning, stacklevel=3,
            )
    n_cells = int(np.prod([arr.shape[i] for i in range(arr.ndim)]))
    ds.attrs["n_missing"] = int(n_cells - values.size)
    return ds


def open_samples(
    source: Any,
    *,
    checkpoint: str = "checkpoint",
    step: str = "step",
    prompt: str = "prompt",
    sample: str = "sample",
    position: str | None = None,
    token: str = "token",
    text: str | None = None,
    encoder: str | Callable[[Any], Hashable | None] | None = None,
    states: Sequence[Hashable] | None = None,
    n_states: int | None = None,
    stage: str | None = None,
    chunks: Any = None,
) -> xr.Dataset:
    """Read samples into phasekit's canonical, validated dataset.

    Parameters
    ----------
    source : path (``.jsonl``, ``.json``, ``.csv``, ``.parquet``, ``.nc``, ``.zarr``),
        pandas DataFrame, list of dicts, or xarray Dataset
    checkpoint, step, prompt, sample, position, token : column names of a table source
        (``position=None``: no per-token rows; a ``token`` column of lists is read as
        sequences). For NetCDF/Zarr stores they are ignored (the store must already use
        phasekit's dims).
    text, encoder, states : map an answer-text column to states (see module docs);
        ``states`` fixes the label list (and so q) explicitly
    n_states : q, the size of the outcome space. Defaults to the number of labels when
        ``states`` is given; otherwise left unset (estimators that need q then ask).
    stage : column holding the training stage (base, sft, dpo, rl…) per checkpoint
    chunks : dask chunks for NetCDF/Zarr (default: one checkpoint per chunk when dask
        is installed, so the stores open lazily)

    Returns
    -------
    Dataset with ``token`` (dims checkpoint[, prompt], sample[, position]), coords
    ``step`` (and ``stage``/``state``), attrs ``n_states`` (when known), ``n_rows``,
    ``n_unparsed``, ``n_missing``, ``source``.

    Raises
    ------
    SchemaError
        naming the problem, the place (file, line, row, checkpoint) and the fix.

    Examples
    --------
    >>> ds = open_samples("generations.jsonl", text="answer", encoder="integer",
    ...                   n_states=10, stage="stage")   # doctest: +SKIP
    """
    raw = _read_source(source, chunks)
    desc = str(source) if isinstance(source, str | os.PathLike) else type(source).__name__
    if isinstance(raw, xr.Dataset):
        ds = raw
        if n_states is not None:
            ds = ds.assign_attrs(n_states=int(n_states))
        if "token" in ds and isinstance(source, str | os.PathLike):
            dtype = ds["token"].dtype
            if not np.issubdtype(dtype, np.integer):
                raise SchemaError(f"'token' in the store has dtype {dtype}; tokens must be integer",
                                  where=desc, fix="write tokens as int32/int64 with -1 for 'no token'")
        return validate(ds)
    ds = _table_to_dataset(
        raw, checkpoint=checkpoint, step=step, prompt=prompt, sample=sample, position=position,
        token=token, text=text, encoder=encoder, states=states, stage=stage, source_desc=desc,
    )
    if n_states is None and states is not None:
        n_states = len(states)
    if n_states is not None:
        n_labels = ds.sizes.get("state")
        if n_labels is not None and n_labels > n_states:
            raise SchemaError(f"the encoder found {n_labels} distinct answers but n_states={n_states}",
                              where=desc, fix="raise n_states or pass states= to fix the label set")
        ds.attrs["n_states"] = int(n_states)
    return validate(ds)
