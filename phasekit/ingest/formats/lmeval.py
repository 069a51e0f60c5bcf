"""lm-evaluation-harness ``--log_samples --output_path`` output.

Layout written by the harness (0.4.x)::

    <output_path>/<pretrained with '/' etc. -> '__'>/results_<datetime>.json
    <output_path>/<pretrained with '/' etc. -> '__'>/samples_<task>_<datetime>.jsonl

one ``results``/``samples`` pair per run (``<datetime>`` is ``isoformat()`` with ``:`` -> ``-``).
Each samples line is one doc *for one filter*: ``doc_id``, ``doc``, ``arguments``
(``{"gen_args_0": {"arg_0": <context>, "arg_1": <gen_kwargs>}}``), ``resps`` (one list of raw
generations per request, ``repeats`` long), ``filtered_resps``, ``filter``. A doc logged once per
filter is read once (its ``resps`` must agree). Rows: one per raw generation (``resps``), or per
filtered answer with ``options["responses"] == "filtered_resps"`` (one filter: pick it with
``"filtered_resps:<filter>"`` or ``options["filter"]`` when there are several).

Defaults: ``checkpoint`` = ``revision=`` of the run's ``config.model_args`` (a string
``"pretrained=...,revision=..."`` or a dict), else the folder name; ``model`` = ``pretrained=``;
``prompt`` = the request's context (``arguments.gen_args_0.arg_0``); ``task`` = the file name's
task; ``sample`` = index of the generation within the doc. ``fields`` override any of them with
dotted paths into each samples line (``{"prompt": "doc.question"}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import SchemaError
from ..frame import SampleFrame
from ..jsonio import iter_jsonl, load_json_file
from ..paths import MISSING, get_path, get_samples

__all__ = ["FORMAT", "detect", "read"]

FORMAT = "lm-eval"
_DT = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
SAMPLES_RX = re.compile(rf"^samples_(?P<task>.+)_(?P<dt>{_DT})\.jsonl$")
RESULTS_RX = re.compile(rf"^results_(?P<dt>{_DT})\.json$")
_KEY_ROLES = ("checkpoint", "step", "stage", "model", "task", "prompt", "sample", "doc_id")
_MAX_DEPTH = 3


def _is_samples_file(p: Path) -> bool:
    if SAMPLES_RX.match(p.name):
        return True
    if p.suffix.lower() != ".jsonl":
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    first = head.split(b"\n", 1)[0]
    return all(k in first for k in (b'"doc_id"', b'"resps"', b'"filtered_resps"', b'"arguments"'))


def _samples_files(folder: Path, depth: int = 0, seen: set | None = None) -> list[Path]:
    """samples_*.jsonl in ``folder`` and its sub-folders (a few levels, symlink loops skipped)."""
    seen = set() if seen is None else seen
    try:
        st = folder.stat()
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise SchemaError(f"cannot read folder: {err.strerror}", where=str(folder), fix="check the path") from None
    if (st.st_dev, st.st_ino) in seen:
        return []
    seen.add((st.st_dev, st.st_ino))
    out = [e for e in entries if e.is_file() and SAMPLES_RX.match(e.name)]
    if depth < _MAX_DEPTH:
        for e in entries:
            if e.is_dir():
                out.extend(_samples_files(e, depth + 1, seen))
    return out


def detect(path: Path) -> bool:
    """A samples file, or a folder holding samples_<task>_<datetime>.jsonl (itself or a sub-folder)."""
    path = Path(path)
    if path.is_file():
        return _is_samples_file(path)
    if not path.is_dir():
        return False
    try:
        for e in path.iterdir():
            if e.is_file() and SAMPLES_RX.match(e.name):
                return True
            if e.is_dir() and any(SAMPLES_RX.match(x.name) for x in e.iterdir() if x.is_file()):
                return True
    except OSError:
        return False
    return False


def parse_model_args(model_args: Any, where: str) -> dict[str, Any]:
    """``"pretrained=a/b,revision=r"`` (lm-eval's comma-separated form) or a dict → dict."""
    if model_args is None:
        return {}
    if isinstance(model_args, Mapping):
        return dict(model_args)
    if isinstance(model_args, str):
        out = {}
        for part in model_args.split(","):
            if part.strip():
                key, sep, value = part.partition("=")
                if not sep:
                    raise SchemaError(f"model_args item {part!r} is not key=value", where=where,
                                      fix="pass checkpoint= / model= explicitly")
                out[key.strip()] = value.strip()
        return out
    raise SchemaError(f"config.model_args is a {type(model_args).__name__}", where=where,
                      fix="pass checkpoint= / model= explicitly")


def _run_info(samples: Path) -> dict[str, Any]:
    """What the matching results_<datetime>.json says about this samples file's run."""
    m = SAMPLES_RX.match(samples.name)
    info: dict[str, Any] = {"samples_file": str(samples), "task": m.group("task") if m else None,
                            "results_file": None, "model_args": None}
    results = samples.with_name(f"results_{m.group('dt')}.json") if m else None
    config: dict[str, Any] = {}
    if results is not None and results.is_file():
        doc = load_json_file(results)
        if not isinstance(doc, Mapping):
            raise SchemaError("results file is not a JSON object", where=str(results),
                              fix="point at the harness's own results_<datetime>.json")
        info["results_file"] = str(results)
        info["lm_eval_version"] = doc.get("lm_eval_version")
        config = doc.get("config") or {}
        info["model_args"] = config.get("model_args")
        task_cfg = (doc.get("configs") or {}).get(info["task"]) or {}
        info["output_type"] = task_cfg.get("output_type")
    args = parse_model_args(info["model_args"], where=f"{results}, config.model_args")
    folder = samples.parent.name
    pretrained = args.get("pretrained", args.get("model", args.get("path")))
    if args.get("revision"):
        info.update(checkpoint=str(args["revision"]), checkpoint_from="model_args revision=")
    else:
        info.update(checkpoint=folder, checkpoint_from="folder name")
    names_ckpt = pretrained is not None and re.sub(r"[\"<>:/|\\?*\[\]]+", "__", str(pretrained)) == folder \
        and info["checkpoint_from"] == "folder name"
    if pretrained is not None and not names_ckpt:
        info.update(model=str(pretrained), model_from="model_args pretrained=")
    else:
        info.update(model=None, model_from=None)
    return info


def _responses(options: Mapping[str, Any]) -> tuple[str, str | None]:
    value = str(options.get("responses") or "resps")
    key, _, flt = value.partition(":")
    if key not in ("resps", "filtered_resps"):
        raise SchemaError(f"responses={value!r}", where="open_samples(responses=...)",
                          fix="use 'resps' (raw generations) or 'filtered_resps' ('filtered_resps:<filter>')")
    return key, (flt or options.get("filter") or None)


def _generations(record: Mapping, key: str, where: str) -> list[Any]:
    """The generations of one samples line: ``resps`` / ``filtered_resps`` flattened over requests."""
    value = record.get(key, MISSING)
    if not isinstance(value, list):
        raise SchemaError(f"the samples line has no list {key!r}", where=where,
                          fix="point at an lm-eval --log_samples samples_<task>_<datetime>.jsonl")
    out = []
    for per_request in value:
        items = per_request if isinstance(per_request, list) else [per_request]
        for item in items:
            if not isinstance(item, str):
                raise SchemaError(f"{key} holds a {type(item).__name__} ({str(item)[:40]!r}), not generated "
                                  "text: this is a loglikelihood / multiple-choice task",
                                  where=where, fix="phasekit reads generations: use generate_until tasks")
            out.append(item)
    return out


def _context(record: Mapping, where: str) -> Any:
    args = record.get("arguments")
    if isinstance(args, Mapping):
        return get_path(args, "gen_args_0.arg_0", where=where)
    if isinstance(args, list) and args and isinstance(args[0], list) and args[0]:
        return args[0][0]                      # older harness: [[context, gen_kwargs], ...]
    return MISSING


def _read_lines(path: Path, info: dict, fields: Mapping[str, str], key: str, flt: str | None) -> tuple[list, dict]:
    rows: list[dict] = []
    seen: dict[Any, tuple[str, Any]] = {}          # doc_id -> (first filter, resps)
    filters: dict[str, int] = {}
    for lineno, rec in iter_jsonl(path, fix="each line must be one lm-eval sample (JSON object)"):
        where = f"{path}, line {lineno}"
        if not isinstance(rec, Mapping) or "doc_id" not in rec:
            raise SchemaError("the line is not an lm-eval sample (no doc_id)", where=where,
                              fix="point at an lm-eval --log_samples samples_<task>_<datetime>.jsonl")
        doc_id, name = rec["doc_id"], str(rec.get("filter", "none"))
        filters[name] = filters.get(name, 0) + 1
        doc_key = doc_id if not isinstance(doc_id, list | dict) else repr(doc_id)
        if key == "resps":
            resps = rec.get("resps")
            if doc_key in seen:
                first, prev = seen[doc_key]
                if first == name:
                    raise SchemaError(f"doc {doc_id!r} is logged twice for filter {name!r}", where=where,
                                      fix="merge the runs into separate files")
                if prev != resps:
                    raise SchemaError(f"doc {doc_id!r}: resps for filter {name!r} differ from those logged "
                                      f"for filter {first!r}", where=where,
                                      fix="the file mixes runs; write each run to its own output_path")
                continue
            seen[doc_key] = (name, resps)
        elif flt is not None and name != flt:
            continue
        rows.extend(_rows_of(rec, info, fields, key, where, name))
    if key == "filtered_resps" and flt is None and len(filters) > 1:
        raise SchemaError(f"filtered_resps differ per filter and the file has {len(filters)} filters "
                          f"({', '.join(filters)})", where=str(path),
                          fix=f"choose one: responses='filtered_resps:{next(iter(filters))}'")
    if flt is not None and key == "filtered_resps" and flt not in filters:
        raise SchemaError(f"no filter {flt!r} in the file (it has {', '.join(filters)})", where=str(path),
                          fix="name one of the file's filters")
    return rows, filters


def _rows_of(rec: Mapping, info: dict, fields: Mapping[str, str], key: str, where: str,
             flt: str) -> list[dict]:
    vrole = "token" if "token" in fields and "text" not in fields else "text"
    if vrole in fields:
        values = get_samples(rec, fields[vrole], where=where, list_ok=vrole == "token")
    else:
        values = _generations(rec, key, where)
    base = {"checkpoint": info["checkpoint"], "model": info["model"], "task": info["task"],
            "prompt": _context(rec, where), "doc_id": rec.get("doc_id"), "file": info["samples_file"]}
    for role in _KEY_ROLES:
        if role in fields and role != "sample":
            base[role] = get_path(rec, fields[role], where=where)
    base = {k: (None if v is MISSING else v) for k, v in base.items()}
    samples = get_samples(rec, fields["sample"], where=where) if "sample" in fields else range(len(values))
    return [{**base, "sample": s, vrole: v, "failure": None} for s, v in zip(samples, values, strict=False)]


def read(path: Path, *, fields: Mapping[str, str], options: Mapping[str, Any]) -> SampleFrame:
    """Every generation of an lm-eval output folder or samples file (see module docs)."""
    path = Path(path)
    unknown = set(fields) - set(_KEY_ROLES) - {"text", "token"}
    if unknown:
        raise SchemaError(f"lm-eval reader has no role(s) {sorted(unknown)}", where=str(path),
                          fix=f"use {', '.join(_KEY_ROLES + ('text', 'token'))}")
    files = _samples_files(path) if path.is_dir() else [path]
    if not files:
        raise SchemaError("no samples_<task>_<datetime>.jsonl in the folder", where=str(path),
                          fix="run lm_eval with --log_samples --output_path <folder>")
    key, flt = _responses(options)
    rows: list[dict] = []
    runs = []
    for f in files:
        info = _run_info(f)
        if info.get("output_type") not in (None, "generate_until"):
            raise SchemaError(f"task {info['task']!r} is a {info['output_type']} task, not generations",
                              where=str(f), fix="phasekit reads generate_until tasks")
        got, filters = _read_lines(f, info, fields, key, flt)
        rows.extend(got)
        runs.append({**info, "filters": filters, "n_generations": len(got)})
    vrole = "token" if "token" in fields and "text" not in fields else "text"
    cols = ["model", "checkpoint", "task", "prompt", "doc_id", "sample", vrole, "failure", "file"]
    cols += [r for r in ("step", "stage") if r in fields]
    frame = pd.DataFrame(rows, columns=cols)
    meta = {"detected": FORMAT, "client": "lm-evaluation-harness", "responses": key, "filter": flt,
            "runs": runs}
    return SampleFrame(rows=frame, format=FORMAT, meta=meta)
