"""What a source is: a path, a folder, a glob, a list of them, or an in-memory table.

:func:`resolve_paths` expands folders (recursively, following no symlink twice, so a
symlink loop cannot hang it), globs and lists into files, keeping lm-evaluation-harness
output folders whole. :func:`read_unit` reads one file or folder into the sink: by the
client reader of its format (:mod:`.formats`) or as a generic table (:mod:`.records`).
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import SchemaError
from . import formats
from .build import KEY_ROLES, Batch, SampleSink
from .frame import SampleFrame
from .jsonio import iter_jsonl_blocks, load_json_file
from .records import BLOCK, FieldMap, NamePattern, blocks_of, feed_records

__all__ = ["TABLE_EXTENSIONS", "STORE_EXTENSIONS", "resolve_paths", "read_unit", "feed_frame",
           "feed_table", "table_format"]

TABLE_EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet")
STORE_EXTENSIONS = (".nc", ".zarr")
CLIENT_EXTENSIONS = (".eval",)
_MAX_FILES = 100_000


def _walk(folder: Path) -> Iterator[Path]:
    """Files below ``folder``, sorted, each real directory visited once (no symlink loops)."""
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            st = d.stat()
        except OSError as err:
            raise SchemaError(f"cannot read folder: {err.strerror}", where=str(d), fix="check the path") from None
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        entries = sorted(d.iterdir())
        for e in entries:
            if e.is_dir():
                if e.suffix == ".zarr":
                    yield e
                else:
                    stack.append(e)
            elif e.is_file():
                yield e


def _readable(p: Path) -> bool:
    ext = p.suffix.lower()
    return ext in TABLE_EXTENSIONS + STORE_EXTENSIONS + CLIENT_EXTENSIONS and not p.name.startswith(".")


def _expand_folder(folder: Path, fmt: str | None) -> list[Path]:
    for whole in ("lm-eval", "hf"):        # formats whose unit is a whole folder
        if fmt in (None, whole) and formats.detect_format(folder, only=(whole,)) == whole:
            return [folder]
    files = [p for p in _walk(folder) if _readable(p)]
    if not files:
        raise SchemaError("the folder holds no readable files", where=str(folder),
                          fix=f"phasekit reads {', '.join(TABLE_EXTENSIONS + STORE_EXTENSIONS + CLIENT_EXTENSIONS)}")
    return files


def resolve_paths(source: Any, fmt: str | None) -> list[Path]:
    """The files (and lm-eval folders) a path / folder / glob / list of them names."""
    items = list(source) if isinstance(source, list | tuple) else [source]
    out: list[Path] = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise SchemaError(f"cannot read a {type(item).__name__} in a list of sources",
                              where="open_samples(source=[...])", fix="pass paths")
        text = os.fspath(item)
        if any(ch in text for ch in "*?[") and not Path(text).exists():
            matches = sorted(_glob.glob(text, recursive=True))
            if not matches:
                raise SchemaError("the glob matches no file", where=text, fix="check the pattern")
            out.extend(resolve_paths(matches, fmt))
            continue
        p = Path(text)
        if not p.exists():
            raise SchemaError("file not found", where=str(p), fix="check the path")
        if p.is_dir() and p.suffix.lower() != ".zarr":
            out.extend(_expand_folder(p, fmt))
        else:
            out.append(p)
        if len(out) > _MAX_FILES:
            raise SchemaError(f"more than {_MAX_FILES} files", where=text, fix="point at a smaller folder")
    return out


def table_format(path: Path) -> str:
    """The table format by extension (jsonl, json, csv, parquet, nc, zarr), or an error."""
    ext = path.suffix.lower()
    if ext in TABLE_EXTENSIONS + STORE_EXTENSIONS:
        return ext[1:]
    raise SchemaError(f"unsupported file extension {ext or '(none)'!r}", where=str(path),
                      fix=f"convert to one of {', '.join(TABLE_EXTENSIONS + STORE_EXTENSIONS)}, or pass "
                      "format='lm-eval' | 'inspect' | 'openai-batch'; pickles are never loaded")


def _json_records(path: Path) -> Iterator[tuple[Any, Any]]:
    obj = load_json_file(path)
    if isinstance(obj, list):
        yield from enumerate(obj)
    elif isinstance(obj, dict) and all(isinstance(v, list) for v in obj.values()):
        try:
            df = pd.DataFrame(obj)
        except ValueError as err:
            raise SchemaError(f"cannot read the JSON object as columns: {err}", where=str(path),
                              fix="use equal-length column lists or a list of records") from None
        yield from _frame_records(df)
    else:
        raise SchemaError(f"a JSON {type(obj).__name__} is not a table", where=str(path),
                          fix="the file must hold a list of records or an object of columns")


def _frame_records(df: pd.DataFrame) -> Iterator[tuple[Any, Any]]:
    cols = [str(c) for c in df.columns]
    for i, row in enumerate(zip(*(df[c].tolist() for c in df.columns), strict=True)):
        yield i, dict(zip(cols, row, strict=True))


def _csv_frame(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=True)
    except pd.errors.ParserError as err:
        raise SchemaError(f"malformed CSV: {str(err).strip()}", where=str(path),
                          fix="every row must have the same number of comma-separated fields") from None
    except pd.errors.EmptyDataError:
        raise SchemaError("the CSV file is empty", where=str(path), fix="check the file") from None
    except UnicodeDecodeError as err:
        raise SchemaError(f"the CSV file is not valid UTF-8 text ({err.reason})", where=str(path),
                          fix="save the file as UTF-8") from None


def _parquet_records(path: Path) -> Iterator[tuple[Any, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise SchemaError("reading Parquet needs pyarrow", where=str(path), fix="pip install 'phasekit[io]'") from err
    try:
        pf = pq.ParquetFile(path)
        i = 0
        for batch in pf.iter_batches(batch_size=65_536):
            for rec in batch.to_pylist():
                yield i, rec
                i += 1
    except (OSError, ValueError) as err:
        raise SchemaError(f"cannot read Parquet: {err}", where=str(path), fix="check the file") from None


def table_records(path: Path) -> tuple[Iterator[tuple[Any, list]], Callable[[Any], str]]:
    """Blocks ``(locations, records)`` of a JSONL / JSON / CSV / Parquet file, and the
    function naming a location (``file, line 3`` / ``file, row 3``)."""
    kind = table_format(path)
    if kind == "jsonl":
        return iter_jsonl_blocks(path), lambda n: f"{path}, line {n}"
    if kind == "json":
        return blocks_of(_json_records(path)), lambda i: f"{path}, record {i}"
    if kind == "csv":
        return blocks_of(_frame_records(_csv_frame(path))), lambda i: f"{path}, row {i}"
    if kind == "parquet":
        return blocks_of(_parquet_records(path)), lambda i: f"{path}, row {i}"
    raise SchemaError(f"a {kind} store cannot be combined with other sources", where=str(path),
                      fix="open array stores on their own: open_samples('run.zarr')")


def feed_frame(sink: SampleSink, frame: SampleFrame, *, fixed: dict, pattern: NamePattern | None) -> None:
    """Every row of a client reader's :class:`SampleFrame` into ``sink``, in blocks."""
    rows = frame.rows
    value_role = "text" if "text" in rows.columns else "token"
    files = rows["file"].astype(str).tolist()
    for start in range(0, len(rows), BLOCK):
        part = rows.iloc[start:start + BLOCK]
        n = len(part)
        keys: dict[str, Sequence[Any] | None] = {
            r: [None if not _present(v) else v for v in part[r].tolist()] if r in part.columns else None
            for r in KEY_ROLES}
        for role, value in fixed.items():
            if keys.get(role) is None:
                keys[role] = [value] * n
        if pattern is not None:
            model = keys.get("model")
            names = model if model is not None and all(_present(v) for v in model) else files[start:start + n]
            keys.update(pattern.apply_column([str(v) for v in names]))
        sample = keys.get("sample")
        if sample is not None and all(v is None for v in sample):
            keys["sample"] = None

        def where(i: int, start: int = start) -> str:
            return f"{files[start + i]} ({frame.format}), generation {start + i}"

        failure = part["failure"].tolist()
        sink.add_batch(Batch(keys=keys, values=part[value_role].tolist(), where=where,
                             failure=[f if _present(f) else None for f in failure]))


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and v != v)


def read_unit(sink: SampleSink, path: Path, *, fmt: str | None, fields: FieldMap, options: dict,
              fixed: dict, pattern: NamePattern | None) -> str:
    """Read one file (or lm-eval folder) into ``sink``; returns the format used."""
    name = fmt if fmt in formats.READERS else (formats.detect_format(path) if fmt is None else None)
    if name is not None:
        frame = formats.reader(name).read(path, fields={r: p for r, p in fields.paths.items()
                                                        if r in fields.explicit}, options=options)
        feed_frame(sink, frame, fixed=fixed, pattern=pattern)
        return name
    if fmt is not None and fmt not in ("jsonl", "json", "csv", "parquet"):
        formats.reader(fmt)                     # raises the unknown-format error
    records, describe = table_records(path)
    feed_records(sink, records, fields, describe=describe, fixed=fixed, pattern=pattern, path=str(path))
    return table_format(path)


def feed_table(sink: SampleSink, table: Any, fields: FieldMap, *, fixed: dict,
               pattern: NamePattern | None, desc: str) -> None:
    """A DataFrame or a list of dicts into ``sink``."""
    records = _frame_records(table) if isinstance(table, pd.DataFrame) else enumerate(table)
    feed_records(sink, blocks_of(records), fields, describe=lambda i: f"{desc}, row {i}", fixed=fixed,
                 pattern=pattern, path=desc)
