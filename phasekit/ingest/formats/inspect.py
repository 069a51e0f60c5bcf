"""Inspect AI eval logs (``.eval`` zip archives and ``.json`` logs): one row per generation.

An ``.eval`` log is a zip archive (Inspect's ``EvalRecorder``): ``header.json`` (the log
without its samples: ``version``, ``status``, ``eval``, ``plan``, ``results``, ``stats``),
``samples/<id>_epoch_<n>.json`` (one ``EvalSample`` each), ``summaries.json``,
``reductions.json`` and ``_journal/`` (``start.json`` is the header of a log still being
written). Inspect ≥ 0.3.2xx writes the members with Zstandard (zip method 93, which
Python's :mod:`zipfile` cannot read before 3.14); older versions used deflate. A member
name written twice supersedes the earlier one (Inspect re-logs requeued samples): the last
wins, as in Inspect. A ``.json`` log is one document: the header keys plus ``samples``.

Rows (see :mod:`phasekit.ingest.frame`): samples × epochs × choices, each sample id's rows
in epoch order (then choice order); ``sample`` counts them 0, 1, 2… within the sample id.

==============  ===============================================================================
role            default (override with ``fields``)
==============  ===============================================================================
``text``        ``output.choices[i].message.content`` of the sample (string content, or the
                ``text`` parts of a content list; reasoning parts left out); one row per choice
``prompt``      the sample id as a string (Inspect's identity of a sample; the input text is
                not unique across ids and may be a list of chat messages)
``doc_id``      the sample id as written (int or str)
``failure``     ``"sample error: <message>"`` when the sample has an ``error``; ``"no output
                (<reason>)"`` when it has no choice; ``"missing from the log (status …)"`` for
                a (sample id, epoch) the header lists (``eval.dataset.sample_ids`` ×
                ``eval.config.epochs``) that the log does not hold
``model``       ``eval.model``
``checkpoint``  the first present of ``eval.model_args.revision``, ``eval.model_args.checkpoint``,
                ``eval.metadata.checkpoint``, ``eval.metadata.revision``,
                ``eval.task_args.checkpoint``, ``eval.task_args.revision`` (a
                :class:`~phasekit.SchemaError` when two of them disagree); else None.
                ``eval.revision`` is the task code's git revision, never the model's.
``step``        ``eval.metadata.step`` when present
``stage``       ``eval.metadata.stage`` when present
``task``        ``eval.task``
==============  ===============================================================================

``fields`` paths starting with ``sample.`` are read from each sample (``"sample.metadata.step"``,
``text="sample.output.choices.*.message.content"``); every other path is read from the log
header (``"eval.metadata.revision"``, ``"plan.config.temperature"``). ``meta`` records the
header's ``version``, ``status``, ``inspect_ai`` package version, ``model_args``, ``metadata``,
which path filled each role (``<role>_from``) and the counts of failed and missing rows.

Hostile archives are refused with a :class:`~phasekit.SchemaError` naming the file and the
member: member names that leave the archive (``../x``, absolute), encrypted members,
methods other than stored/deflate/zstd, members over :data:`MAX_MEMBER_BYTES` decompressed,
archives over :data:`MAX_TOTAL_BYTES` of members read, a compression ratio above
:data:`MAX_RATIO` (beyond :data:`RATIO_FLOOR` bytes), overlapping members, output that
exceeds the size the directory declares, truncated or corrupt streams (CRC-32 checked).
Members are decompressed in bounded chunks, never with an unbounded ``read()``.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import pandas as pd

from ...errors import SchemaError
from ..frame import SampleFrame
from ..jsonio import MAX_JSON_BYTES, load_json_file, loads
from ..paths import MISSING, get_path, get_samples

__all__ = ["FORMAT", "detect", "read", "MAX_MEMBER_BYTES", "MAX_TOTAL_BYTES", "MAX_RATIO",
           "RATIO_FLOOR", "read_member"]

FORMAT = "inspect"

#: Largest decompressed size of one archive member (bytes); as large as a whole JSON log.
MAX_MEMBER_BYTES = MAX_JSON_BYTES
#: Largest total decompressed size of the members read from one archive (bytes).
MAX_TOTAL_BYTES = 64 * 1024**3
#: Largest decompressed/compressed ratio of a member once it exceeds RATIO_FLOOR bytes.
#: Inspect's JSON members compress 4-20x; deflate cannot exceed ~1032x; a bomb of zeros
#: in zstd reaches 10^4 and more.
MAX_RATIO = 500
#: Decompressed size below which the ratio is not checked (small members are harmless).
RATIO_FLOOR = 1024**2

_CHUNK = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")      # signature … name length, extra length
_ZSTD = 93
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", _ZSTD: "zstd"}
_SAMPLE_MEMBER = re.compile(r"^samples/.+\.json$")
_JSON_HEAD = re.compile(rb'^\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:\s*"[a-z_]+"\s*,\s*"eval"\s*:\s*\{')

#: Where a checkpoint is looked for in the header, in this order.
CHECKPOINT_PATHS = ("eval.model_args.revision", "eval.model_args.checkpoint", "eval.metadata.checkpoint",
                    "eval.metadata.revision", "eval.task_args.checkpoint", "eval.task_args.revision")
_DEFAULTS = {"model": ("eval.model",), "task": ("eval.task",), "checkpoint": CHECKPOINT_PATHS,
             "step": ("eval.metadata.step",), "stage": ("eval.metadata.stage",)}
_KEY_ROLES = ("model", "checkpoint", "step", "stage", "task", "prompt")


# --------------------------------------------------------------------------- detection

def detect(path: Path) -> bool:
    """An ``.eval`` file (Inspect's suffix), or a ``.json`` whose first 4 KiB open an Inspect log."""
    path = Path(path)
    if not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return True
    if suffix != ".json":
        return False
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return bool(_JSON_HEAD.match(head))


# --------------------------------------------------------------------------- zip members

def _zip_error(path: Path, member: str | None, problem: str, fix: str) -> SchemaError:
    where = f"{path}, member {member!r}" if member else str(path)
    return SchemaError(problem, where=where, fix=fix)


def _check_name(path: Path, name: str) -> None:
    """Refuse member names that would leave the archive (absolute, drive, ``..``)."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name:
        raise _zip_error(path, name, "an archive member's path leaves the archive",
                         "this is not a log Inspect wrote: check where the file came from")


def _data_span(fh: IO[bytes], path: Path, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(start, end) of a member's compressed bytes, from its local header (checked)."""
    fh.seek(info.header_offset)
    raw = fh.read(_LOCAL_HEADER.size)
    if len(raw) != _LOCAL_HEADER.size or raw[:4] != b"PK\x03\x04":
        raise _zip_error(path, info.filename, "the member's local header is missing or corrupt",
                         "the archive is damaged: copy the log again")
    fields = _LOCAL_HEADER.unpack(raw)
    name_len, extra_len = fields[-2], fields[-1]
    name = fh.read(name_len)
    if name.decode("utf-8", "replace") != info.filename and name.decode("cp437", "replace") != info.filename:
        raise _zip_error(path, info.filename, "the member's local header names another file",
                         "the archive is damaged or crafted: copy the log again")
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    return start, start + info.compress_size


def _check_limits(path: Path, info: zipfile.ZipInfo, max_member: int, max_ratio: float) -> None:
    name = info.filename
    if info.flag_bits & 0x1:
        raise _zip_error(path, name, "the member is encrypted", "write the log without encryption")
    if info.compress_type not in _METHODS:
        raise _zip_error(path, name, f"zip compression method {info.compress_type} is not one "
                         "Inspect writes (stored, deflate, zstd)", "re-save the log with Inspect")
    if info.file_size > max_member:
        raise _zip_error(path, name, f"the member declares {info.file_size} bytes decompressed, over "
                         f"the {max_member}-byte limit (a zip bomb, or a sample too large to read)",
                         "raise phasekit.ingest.formats.inspect.MAX_MEMBER_BYTES if the log is genuine")
    if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
        raise _zip_error(path, name, f"the member's compression ratio "
                         f"{info.file_size / max(info.compress_size, 1):.0f}:1 exceeds {max_ratio:g}:1 "
                         "(a zip bomb)", "raise phasekit.ingest.formats.inspect.MAX_RATIO if the log is genuine")


class _Span:
    """A read-only file view of bytes ``[start, end)`` of ``fh`` (a member's compressed data)."""

    def __init__(self, fh: IO[bytes], start: int, end: int) -> None:
        self.fh, self.pos, self.end = fh, start, end

    def read(self, n: int = -1) -> bytes:
        n = self.end - self.pos if n is None or n < 0 else min(n, self.end - self.pos)
        if n <= 0:
            return b""
        self.fh.seek(self.pos)
        data = self.fh.read(n)
        self.pos += len(data)
        return data


def _inflate(raw: _Span, method: int) -> Iterator[bytes]:
    """Decompressed chunks of at most ``_CHUNK`` bytes each (bounded, whatever the ratio)."""
    if method == zipfile.ZIP_STORED:
        while chunk := raw.read(_CHUNK):
            yield chunk
        return
    if method == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        while chunk := raw.read(_CHUNK):
            while chunk:
                yield d.decompress(chunk, _CHUNK)
                chunk = d.unconsumed_tail
        yield d.flush()
        if not d.eof:
            raise zlib.error("the deflate stream ends early (truncated)")
        return
    yield from _unzstd(raw)


def _unzstd(raw: _Span) -> Iterator[bytes]:
    """Zstandard chunks across frames (Inspect splits large members into several frames)."""
    try:
        import zstandard
    except ImportError:
        raise ImportError("zstandard") from None
    source = cast(IO[bytes], raw)                      # stream_reader needs only read()
    reader = zstandard.ZstdDecompressor().stream_reader(source, read_size=_CHUNK, read_across_frames=True,
                                                         closefd=False)
    while chunk := reader.read(_CHUNK):
        yield chunk


def read_member(fh: IO[bytes], path: Path, info: zipfile.ZipInfo, span: tuple[int, int], *,
                max_member: int) -> bytes:
    """One member's bytes, decompressed in bounded chunks, sized and CRC-checked."""
    name, method = info.filename, info.compress_type
    cap = min(max_member, info.file_size)
    buf = bytearray()
    crc = 0
    try:
        for out in _inflate(_Span(fh, *span), method):
            if len(buf) + len(out) > cap:
                raise _zip_error(path, name, f"the member decompresses past the {info.file_size} bytes "
                                 "its directory entry declares (a zip bomb or a corrupt archive)",
                                 "copy the log again; do not read archives of unknown origin")
            buf += out
            crc = zlib.crc32(out, crc)
    except ImportError:
        raise _zip_error(path, name, "the member is Zstandard-compressed (zip method 93) and the "
                         "zstandard package is not installed", "pip install zstandard") from None
    except SchemaError:
        raise
    except Exception as err:  # zlib.error, zstandard.ZstdError
        raise _zip_error(path, name, f"the {_METHODS[method]} stream is corrupt or truncated ({err})",
                         "copy the log again (the file is damaged)") from None
    if len(buf) != info.file_size or crc != info.CRC:
        raise _zip_error(path, name, f"the member is truncated or corrupt ({len(buf)} of {info.file_size} "
                         "bytes, CRC-32 " + ("matches" if crc == info.CRC else "differs") + ")",
                         "copy the log again (the file is damaged)")
    return bytes(buf)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as err:
        raise _zip_error(path, None, f"not a readable zip archive ({err})",
                         "an .eval log is a zip archive: copy it again, or pass the .json log") from None


def _plan_members(zf: zipfile.ZipFile, fh: IO[bytes], path: Path, max_member: int,
                  max_total: int, max_ratio: float) -> dict[str, tuple[zipfile.ZipInfo, tuple[int, int]]]:
    """The members to read (header and samples, last entry per name), each checked."""
    infos = zf.infolist()
    for info in infos:
        _check_name(path, info.filename)
    last = {info.filename: info for info in infos}
    wanted = {n: i for n, i in last.items()
              if n in ("header.json", "_journal/start.json") or _SAMPLE_MEMBER.match(n)}
    total = 0
    spans = {}
    for name, info in wanted.items():
        _check_limits(path, info, max_member, max_ratio)
        total += info.file_size
        spans[name] = (info, _data_span(fh, path, info))
    if total > max_total:
        raise _zip_error(path, None, f"the members to read decompress to {total} bytes, over the "
                         f"{max_total}-byte limit", "raise phasekit.ingest.formats.inspect.MAX_TOTAL_BYTES "
                         "if the log is genuine")
    ordered = sorted(spans.values(), key=lambda s: s[1][0])
    for (a, (_, a_end)), (b, (b_start, _)) in zip(ordered, ordered[1:], strict=False):
        if a_end > b.header_offset or a_end > b_start:
            raise _zip_error(path, b.filename, f"the member overlaps {a.filename!r} (a zip bomb or a "
                             "corrupt archive)", "this is not a log Inspect wrote: check its origin")
    return spans


def _eval_archive(path: Path, options: Mapping[str, Any]) -> tuple[dict, Iterator[tuple[str, dict]]]:
    """(header, iterator of (member, sample)) of an ``.eval`` archive."""
    max_member = int(options.get("max_member_bytes") or MAX_MEMBER_BYTES)
    max_total = int(options.get("max_total_bytes") or MAX_TOTAL_BYTES)
    max_ratio = float(options.get("max_ratio") or MAX_RATIO)
    zf = _open_zip(path)
    fh = open(path, "rb")
    try:
        spans = _plan_members(zf, fh, path, max_member, max_total, max_ratio)
    except BaseException:
        fh.close()
        zf.close()
        raise
    head = "header.json" if "header.json" in spans else "_journal/start.json"
    if head not in spans:
        fh.close()
        zf.close()
        raise _zip_error(path, None, "the archive has neither header.json nor _journal/start.json",
                         "this is not an Inspect .eval log")

    def parse(name: str) -> Any:
        info, span = spans[name]
        return loads(read_member(fh, path, info, span, max_member=max_member),
                     where=f"{path}, member {name!r}", fix="copy the log again (the member is damaged)")

    header = parse(head)
    if not isinstance(header, dict):
        raise _zip_error(path, head, "the header is not a JSON object", "this is not an Inspect .eval log")
    header["_header_member"] = head

    def samples() -> Iterator[tuple[str, dict]]:
        try:
            for name in sorted(n for n in spans if _SAMPLE_MEMBER.match(n)):
                yield name, parse(name)
        finally:
            fh.close()
            zf.close()

    return header, samples()


def _json_log(path: Path) -> tuple[dict, Iterator[tuple[str, dict]]]:
    log = load_json_file(path)
    if not isinstance(log, dict) or "eval" not in log:
        raise SchemaError("the JSON file is not an Inspect eval log (no 'eval' header)", where=str(path),
                          fix="pass format='json' for plain JSON tables")
    samples = log.pop("samples", None) or []
    if not isinstance(samples, list):
        raise SchemaError("'samples' is not a list", where=str(path), fix="this is not an Inspect eval log")
    return log, ((f"samples[{i}]", s) for i, s in enumerate(samples))


# --------------------------------------------------------------------------- rows

def _split_fields(path: Path, fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """User fields → (header paths, sample paths with the ``sample.`` root removed)."""
    header, sample = {}, {}
    for role, p in fields.items():
        if role in ("sample", "failure", "position"):
            raise SchemaError(f"{role}= cannot be set for Inspect logs", where=f"{path} ({role}={p!r})",
                              fix=f"leave {role}= out: the reader numbers epochs and choices itself")
        if p.startswith("sample."):
            sample[role] = p[len("sample."):]
        elif role in ("text", "token"):
            raise SchemaError(f"{role}={p!r} must start at the sample", where=str(path),
                              fix=f"write {role}='sample.{p}' (paths without 'sample.' start at the log header)")
        else:
            header[role] = p
    return header, sample


def _scalar(value: Any) -> Any:
    return None if value is MISSING or value == "" else value


def _header_roles(path: Path, header: dict, user: Mapping[str, str]) -> tuple[dict, dict]:
    """Role values read once from the header, and where each came from."""
    values, origin = {}, {}
    where = f"{path} (log header)"
    for role, p in user.items():
        values[role] = _scalar(get_path(header, p, where=where))
        if values[role] is None:
            raise SchemaError(f"the log header has no value at {p!r}", where=where,
                              fix=f"name a path that exists, e.g. {role}='eval.metadata.{role}'")
        origin[role] = p
    for role, paths in _DEFAULTS.items():
        if role in values:
            continue
        found = {p: v for p in paths if (v := _scalar(get_path(header, p, where=where))) is not None}
        if len({str(v) for v in found.values()}) > 1:
            raise SchemaError(f"the log names several {role}s: {found}", where=where,
                              fix=f"choose one: {role}='<path>' (e.g. {role}={next(iter(found))!r})")
        if found:
            origin[role], values[role] = next(iter(found.items()))
        else:
            values[role] = None
    return values, origin


def _content_text(content: Any) -> Any:
    """A message's text: the string, or the ``text`` parts of a content list joined."""
    if isinstance(content, list):
        parts = [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"]
        return "".join(parts) if parts else None
    return content


def _resolve(value: Any, attachments: Mapping[str, Any]) -> Any:
    """Inspect's ``attachment://<hash>`` references replaced by the attached text."""
    if isinstance(value, str) and value.startswith("attachment://"):
        return attachments.get(value[len("attachment://"):], value)
    return value


def _generations(sample: dict, where: str, text_path: str | None, value_role: str) -> list[tuple[Any, str | None]]:
    """(text, failure) per choice of one sample-epoch; one failed pair when it has none."""
    if sample.get("error"):
        err = sample["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        return [(None, f"sample error: {msg}")]
    attachments = sample.get("attachments") or {}
    if text_path is not None:
        texts = get_samples(sample, text_path, where=where, list_ok=value_role == "token")
    else:
        output = sample.get("output") or {}
        choices = output.get("choices") or []
        texts = [_content_text(((c or {}).get("message") or {}).get("content")) for c in choices]
    if not texts:
        output = sample.get("output") or {}
        reason = output.get("error") or (sample.get("limit") or {}).get("type") or "no choice in output"
        return [(None, f"no output ({reason})")]
    return [(None, f"no {value_role} in the choice" + (" (reasoning or tool calls only)" if text_path is None
                                                       else f" at {text_path}"))
            if t is MISSING or t is None else (_resolve(t, attachments), None) for t in texts]


def _user_values(sample: dict, user: Mapping[str, str], where: str) -> dict[str, Any]:
    """The roles the user reads from each sample; a named path must be there."""
    out = {}
    for role, p in user.items():
        v = get_path(sample, p, where=where)
        if v is MISSING:
            raise SchemaError(f"the sample has no value at 'sample.{p}'", where=where,
                              fix=f"name a path every sample has (or leave {role}= out)")
        out[role] = v
    return out


def _epoch_rows(sid: Any, epochs: dict[int, tuple[str, dict] | None], fixed: dict, user: Mapping[str, str],
                text_path: str | None, value_role: str, status: str, path: Path) -> list[dict]:
    """The rows of one sample id, epochs in order, choices in order within an epoch."""
    rows = []
    pairs: list[tuple[Any, str | None]]
    for epoch in sorted(epochs):
        got = epochs[epoch]
        if got is None:
            pairs, per = [(None, f"missing from the log (status {status})")], {}
        else:
            member, sample = got
            where = f"{path}, {member}"
            pairs = _generations(sample, where, text_path, value_role)
            per = _user_values(sample, user, where)
        for choice, (text, failure) in enumerate(pairs):
            row = {**fixed, **per, "doc_id": sid, "epoch": epoch, "choice": choice, "failure": failure,
                   value_role: text}
            if row.get("prompt") is None:
                row["prompt"] = str(sid)
            rows.append(row)
    return rows


def _group(path: Path, samples: Iterator[tuple[str, dict]], header: dict) -> dict[Any, dict[int, Any]]:
    """sample id → {epoch: (member, sample)}, plus the epochs the header expects but lacks."""
    by_id: dict[Any, dict[int, Any]] = {}
    for member, s in samples:
        if not isinstance(s, dict) or "id" not in s or not isinstance(s.get("epoch"), int):
            raise SchemaError("a sample without an id and an integer epoch", where=f"{path}, {member}",
                              fix="this is not an Inspect EvalSample")
        slot = by_id.setdefault(s["id"], {})
        if s["epoch"] in slot:
            raise SchemaError(f"sample {s['id']!r} epoch {s['epoch']} appears twice", where=f"{path}, {member}",
                              fix="the log is damaged: re-export it with Inspect")
        slot[s["epoch"]] = (member, s)
    ev = header.get("eval") or {}
    ids = (ev.get("dataset") or {}).get("sample_ids")
    n_epochs = (ev.get("config") or {}).get("epochs")
    if isinstance(ids, list) and isinstance(n_epochs, int):
        for sid in ids:
            slot = by_id.setdefault(sid, {})
            for epoch in range(1, n_epochs + 1):
                slot.setdefault(epoch, None)
    return by_id


def _order_key(sid: Any) -> tuple:
    return (0, int(sid), "") if isinstance(sid, int) else (1, 0, str(sid))


def read(path: Path, *, fields: Mapping[str, str], options: Mapping[str, Any]) -> SampleFrame:
    """Every generation of an Inspect log (``.eval`` or ``.json``) as a :class:`SampleFrame`."""
    path = Path(path)
    head_fields, sample_fields = _split_fields(path, fields)
    value_role = "token" if "token" in sample_fields else "text"
    text_path = sample_fields.pop(value_role, None)
    is_zip = path.suffix.lower() == ".eval" or _is_zip(path)
    header, samples = _eval_archive(path, options) if is_zip else _json_log(path)
    fixed, origin = _header_roles(path, header, head_fields)
    fixed["file"] = str(path)
    status = str(header.get("status", "unknown"))
    by_id = _group(path, samples, header)
    rows = []
    for sid in sorted(by_id, key=_order_key):
        rows.extend(_epoch_rows(sid, by_id[sid], fixed, sample_fields, text_path, value_role, status, path))
    frame = pd.DataFrame(rows, columns=_columns(value_role, rows))
    if len(frame):
        frame["sample"] = frame.groupby(["prompt"], sort=False).cumcount()
    for col in (value_role, "failure"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return SampleFrame(frame, FORMAT, _meta(header, origin, sample_fields, text_path, frame, is_zip))


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _columns(value_role: str, rows: list[dict]) -> list[str]:
    base = ["model", "checkpoint", "step", "stage", "task", "prompt", "doc_id", "epoch", "choice",
            "sample", value_role, "failure", "file"]
    extra = sorted({k for r in rows for k in r} - set(base))
    return base + extra


def _meta(header: dict, origin: dict, sample_fields: dict, text_path: str | None, frame: pd.DataFrame,
          is_zip: bool) -> dict[str, Any]:
    ev = header.get("eval") or {}
    meta: dict[str, Any] = {
        "detected": FORMAT, "container": "eval (zip)" if is_zip else "json",
        "version": header.get("version"), "status": header.get("status"),
        "header_member": header.get("_header_member"),
        "inspect_ai": (ev.get("packages") or {}).get("inspect_ai"),
        "model_args": ev.get("model_args"), "metadata": ev.get("metadata"), "task_args": ev.get("task_args"),
        "prompt_from": "sample.id (as a string)",
        "text_from": f"sample.{text_path}" if text_path else
        "sample.output.choices[*].message.content (text parts; reasoning left out)",
    }
    for role, p in origin.items():
        meta[f"{role}_from"] = p
    for role, p in sample_fields.items():
        meta[f"{role}_from"] = f"sample.{p}"
    if "checkpoint_from" not in meta:
        meta["checkpoint_from"] = None
    failure = frame["failure"] if len(frame) else pd.Series([], dtype=object)
    meta["n_rows"] = int(len(frame))
    meta["n_failed"] = int(failure.notna().sum())
    meta["n_missing"] = int(failure.astype(str).str.startswith("missing from the log").sum())
    return meta
