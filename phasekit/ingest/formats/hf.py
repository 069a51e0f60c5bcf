"""Hugging Face ``datasets`` objects and Parquet/Arrow dataset folders.

Sources: a ``datasets.Dataset`` (or a ``DatasetDict`` with one split) via :func:`read_object`;
via :func:`read`, a folder written by ``save_to_disk`` (``state.json`` + ``data-*.arrow``, or a
``DatasetDict`` folder with ``dataset_dict.json``), a folder of ``.parquet`` / ``.arrow`` files,
or one ``.arrow`` file. Rows are read by pyarrow in record batches of :data:`BATCH` rows, only
the top-level columns the fields name, each batch turned into Python objects once.

``fields`` maps roles (``text``, ``token``, ``checkpoint``, ``step``, ``stage``, ``model``,
``prompt``, ``sample``, ``task``, ``failure``, ``doc_id``) to dotted paths (:mod:`..paths`);
defaults are the role names, used where such a column exists. ``text="outputs.*.text"``
makes each item of the list ``outputs`` a sample (``sample`` = its index unless
``sample="outputs.*.<field>"``). A list where one value is expected is a SchemaError naming the
``*`` path. ``datasets`` and ``pyarrow`` are optional (``pip install 'phasekit[io]' datasets``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import SchemaError
from ..frame import SampleFrame
from ..paths import MISSING, get_path, get_samples, split_path, star_prefix

__all__ = ["FORMAT", "detect", "read", "read_object", "BATCH"]

FORMAT = "hf"
BATCH = 8192
KEY_ROLES = ("checkpoint", "step", "stage", "model", "task", "prompt", "doc_id")
ROLES = (*KEY_ROLES, "sample", "failure", "text", "token")


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise SchemaError("reading Arrow/Parquet datasets needs pyarrow", where="format='hf'",
                          fix="pip install 'phasekit[io]' (or: pip install pyarrow datasets)") from None
    return pyarrow


def detect(path: Path) -> bool:
    """A save_to_disk folder, a folder of .arrow files, or one .arrow file (cheap: names only)."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".arrow"
    if not path.is_dir():
        return False
    if (path / "dataset_dict.json").is_file() or ((path / "state.json").is_file()
                                                  and (path / "dataset_info.json").is_file()):
        return True
    try:
        return any(e.suffix.lower() == ".arrow" for e in path.iterdir())
    except OSError:
        return False


def _data_files(path: Path) -> list[Path]:
    """The Arrow/Parquet files of a dataset folder, in row order."""
    if (path / "dataset_dict.json").is_file():
        splits = _json(path / "dataset_dict.json").get("splits", [])
        if len(splits) != 1:
            raise SchemaError(f"a DatasetDict folder with splits {splits}", where=str(path),
                              fix=f"point at one split's folder, e.g. {path / (splits[0] if splits else 'train')}")
        return _data_files(path / splits[0])
    if (path / "state.json").is_file():
        files = _json(path / "state.json").get("_data_files")
        if not isinstance(files, list) or not all(isinstance(f, Mapping) and "filename" in f for f in files):
            raise SchemaError("state.json has no _data_files list", where=str(path / "state.json"),
                              fix="write the folder with datasets' save_to_disk")
        return [path / f["filename"] for f in files]
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".arrow", ".parquet"))
    if not files:
        raise SchemaError("the folder holds no .arrow or .parquet files", where=str(path),
                          fix="point at a save_to_disk folder or a folder of Parquet/Arrow files")
    return files


def _json(p: Path) -> dict:
    from ..jsonio import load_json_file

    doc = load_json_file(p, max_bytes=16 * 2**20)
    if not isinstance(doc, dict):
        raise SchemaError("not a JSON object", where=str(p), fix="write the folder with datasets' save_to_disk")
    return doc


def _file_batches(f: Path, columns: list[str] | None) -> Generator[Any, None, None]:
    """Record batches of one Arrow (IPC file or stream) or Parquet file."""
    pa = _pyarrow()
    try:
        if f.suffix.lower() == ".parquet":
            pf = pa.parquet.ParquetFile(f)
            cols = [c for c in (columns or []) if c in pf.schema_arrow.names] if columns is not None else None
            yield pf.schema_arrow
            yield from pf.iter_batches(batch_size=BATCH, columns=cols)
            return
        source = pa.memory_map(str(f))
        try:
            reader = pa.ipc.open_file(source)
            yield reader.schema
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        except pa.ArrowInvalid:
            source.seek(0)
            stream = pa.ipc.open_stream(source)
            yield stream.schema
            yield from stream
    except (pa.ArrowException, OSError) as err:
        raise SchemaError(f"cannot read the Arrow/Parquet file: {err}", where=str(f),
                          fix="check that the file is complete (not truncated)") from None


def _resolve_fields(fields: Mapping[str, str], names: list[str], desc: str) -> dict[str, str]:
    """Role → path: the user's, and the defaults (role names) where such a column exists."""
    unknown = set(fields) - set(ROLES)
    if unknown:
        raise SchemaError(f"the hf reader has no role(s) {sorted(unknown)}", where=desc, fix=f"use {', '.join(ROLES)}")
    out = {r: p for r, p in fields.items()}
    for r, p in out.items():
        if split_path(p)[0] not in names:
            raise SchemaError(f"no column {split_path(p)[0]!r} for {r}={p!r}", where=f"{desc}; columns are {names}",
                              fix=f"name the column that holds the {r}")
    if "text" not in out and "token" not in out:
        vrole = "text" if "text" in names else "token" if "token" in names else None
        if vrole is None:
            raise SchemaError("no 'text' or 'token' column", where=f"{desc}; columns are {names}",
                              fix="name the generations: text='<column or dotted.path, e.g. outputs.*.text>'")
        out[vrole] = vrole
    for r in (*KEY_ROLES, "sample"):
        if r not in out and r in names:
            out[r] = r
    return out


def _record_rows(rec: Mapping, paths: Mapping[str, str], vrole: str, star: str | None,
                 where: str, file: str) -> list[dict]:
    values = get_samples(rec, paths[vrole], where=where, list_ok=vrole == "token")
    base: dict[str, Any] = {"file": file}
    for role in KEY_ROLES:
        if role in paths:
            v = get_path(rec, paths[role], where=where)
            base[role] = None if v is MISSING else v
    per_item = {}
    for role in ("sample", "failure"):
        p = paths.get(role)
        if p is None:
            continue
        if star_prefix(p) is not None:
            if star_prefix(p) != star:
                raise SchemaError(f"{role}={p!r} marks a different list than {vrole}={paths[vrole]!r}",
                                  where=where, fix=f"point it into the same list: {star}.*.<field>")
            per_item[role] = get_samples(rec, p, where=where)
        elif star is not None and role == "sample":
            raise SchemaError(f"sample={p!r} gives one value per record, but each record holds a list of "
                              f"samples at {star!r}", where=where, fix=f"use {star}.*.<field>, or leave it out")
        else:
            v = get_path(rec, p, where=where)
            per_item[role] = [None if v is MISSING else v] * len(values)
    if "sample" not in per_item:
        per_item["sample"] = list(range(len(values))) if star is not None else [None] * len(values)
    failure = per_item.get("failure", [None] * len(values))
    return [{**base, "sample": None if s is MISSING else s, vrole: None if v is MISSING else v,
             "failure": None if f is MISSING else f}
            for s, v, f in zip(per_item["sample"], values, failure, strict=True)]


def _frame(batches: Iterator[tuple[str, Any]], schema_names: list[str], fields: Mapping[str, str],
           desc: str) -> SampleFrame:
    paths = _resolve_fields(fields, schema_names, desc)
    vrole = "text" if "text" in paths else "token"
    star = star_prefix(paths[vrole])
    top = sorted({split_path(p)[0] for p in paths.values()})
    rows: list[dict] = []
    n_records = empty = 0
    for file, batch in batches:
        recs = batch.select(top).to_pylist() if hasattr(batch, "select") else batch
        for rec in recs:
            got = _record_rows(rec, paths, vrole, star, f"{file}, row {n_records}", file)
            n_records += 1
            empty += not got
            rows.extend(got)
    cols = [*(r for r in KEY_ROLES if r in paths), "sample", vrole, "failure", "file"]
    if "prompt" not in cols:
        cols.insert(0, "prompt")
    meta = {"detected": FORMAT, "fields": paths, "n_records": n_records, "n_records_without_samples": empty}
    return SampleFrame(rows=pd.DataFrame(rows, columns=cols), format=FORMAT, meta=meta)


def read(path: Path, *, fields: Mapping[str, str], options: Mapping[str, Any]) -> SampleFrame:
    """A save_to_disk folder, a folder of Parquet/Arrow files or one .arrow/.parquet file."""
    path = Path(path)
    files = _data_files(path) if path.is_dir() else [path]
    first = _file_batches(files[0], None)
    names = list(next(first).names)

    def batches() -> Iterator[tuple[str, Any]]:
        top = sorted({split_path(p)[0] for p in _resolve_fields(fields, names, str(path)).values()})
        for f in files:
            it = _file_batches(f, top)
            schema = next(it)
            if list(schema.names) != names:
                raise SchemaError(f"columns {list(schema.names)} differ from {names} of {files[0].name}",
                                  where=str(f), fix="keep one schema across the dataset's files")
            for b in it:
                yield str(f), b

    first.close()
    return _frame(batches(), names, fields, str(path))


def read_object(obj: Any, *, fields: Mapping[str, str], options: Mapping[str, Any]) -> SampleFrame:
    """A ``datasets.Dataset`` (or one-split ``DatasetDict``), read by Arrow batches."""
    _pyarrow()
    if hasattr(obj, "column_names") and isinstance(obj.column_names, dict):       # DatasetDict
        splits = list(obj.keys())
        if len(splits) != 1:
            raise SchemaError(f"a DatasetDict with splits {splits}", where="open_samples(DatasetDict)",
                              fix=f"pass one split: open_samples(dsdict[{splits[0]!r}])" if splits else "pass a Dataset")
        obj = obj[splits[0]]
    if not hasattr(obj, "with_format") or not hasattr(obj, "column_names"):
        raise SchemaError(f"cannot read a {type(obj).__name__}", where="open_samples(source=...)",
                          fix="pass a datasets.Dataset (an IterableDataset: materialise it with Dataset.from_generator)")
    desc = f"datasets.Dataset({len(obj)} rows)"
    names = list(obj.column_names)
    top = sorted({split_path(p)[0] for p in _resolve_fields(fields, names, desc).values()})

    def batches() -> Iterator[tuple[str, Any]]:
        for table in obj.select_columns(top).with_format("arrow").iter(batch_size=BATCH):
            yield desc, table

    return _frame(batches(), names, fields, desc)
