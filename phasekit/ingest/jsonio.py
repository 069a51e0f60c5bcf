"""Bounded JSON reading: one place for JSON Lines and JSON files, safe on hostile input.

* lines longer than :data:`MAX_LINE_BYTES` are refused with their line number, without
  reading them whole (memory stays bounded by the limit);
* whole JSON files larger than :data:`MAX_JSON_BYTES` are refused before reading;
* nesting deeper than the parser's limit (orjson: 1024 levels; the standard library's
  recursion limit otherwise) is a :class:`~phasekit.SchemaError`, never a ``RecursionError``;
* bytes that are not UTF-8 or not JSON name the file and line.

orjson (extra ``phasekit[io]``) is used when installed; it is several times faster than
the standard library's ``json`` on generation dumps. Both give the same objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import SchemaError

try:  # optional speed-up
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

__all__ = ["MAX_LINE_BYTES", "MAX_JSON_BYTES", "loads", "iter_jsonl", "load_json_file"]

#: Longest JSON Lines line accepted (bytes).
MAX_LINE_BYTES = 64 * 1024 * 1024
#: Largest whole-JSON document accepted (bytes); larger logs should be JSON Lines.
MAX_JSON_BYTES = 1024 * 1024 * 1024


def loads(data: bytes | str, *, where: str, fix: str = "check that the file is valid JSON") -> Any:
    """Parse one JSON document, turning every parser failure into a SchemaError at ``where``."""
    try:
        if _orjson is not None:
            return _orjson.loads(data)
        return json.loads(data)
    except RecursionError:
        raise SchemaError("JSON nested too deeply to read", where=where,
                          fix="flatten the record (phasekit reads at most ~1000 levels)") from None
    except UnicodeDecodeError as err:
        raise SchemaError(f"bytes that are not UTF-8 text ({err.reason})", where=where,
                          fix="save the file as UTF-8") from None
    except ValueError as err:  # json.JSONDecodeError and orjson.JSONDecodeError are ValueErrors
        msg = str(err.args[0] if err.args else err)
        if "recursion" in msg.lower() or "depth" in msg.lower():
            raise SchemaError("JSON nested too deeply to read", where=where,
                              fix="flatten the record (phasekit reads at most ~1000 levels)") from None
        raise SchemaError(f"malformed JSON: {msg}", where=where, fix=fix) from None


def iter_jsonl(path: Path | str, *, max_line_bytes: int | None = None,
               fix: str = "each line must be one JSON object") -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON Lines file.

    A line over ``max_line_bytes`` (default :data:`MAX_LINE_BYTES`) is refused without
    being read whole.
    """
    if max_line_bytes is None:
        max_line_bytes = MAX_LINE_BYTES
    with open(path, "rb") as fh:
        lineno = 0
        while True:
            line = fh.readline(max_line_bytes + 1)
            if not line:
                return
            lineno += 1
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                raise SchemaError(
                    f"line {lineno} is longer than {max_line_bytes / 2**20:g} MiB",
                    where=f"{path}, line {lineno}",
                    fix="split very long records across lines (one record per generation or prompt)",
                )
            if not line.strip():
                continue
            yield lineno, loads(line, where=f"{path}, line {lineno}", fix=fix)


def load_json_file(path: Path | str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a whole JSON file, refusing one over ``max_bytes`` before reading it."""
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise SchemaError(f"JSON file of {size / 2**20:.0f} MiB is larger than the "
                          f"{max_bytes / 2**20:.0f} MiB phasekit reads as one document",
                          where=str(path), fix="write it as JSON Lines (one record per line)")
    with open(path, "rb") as fh:
        data = fh.read()
    return loads(data, where=str(path), fix="the file must be one JSON document")
