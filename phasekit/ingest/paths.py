"""Dotted paths into nested records: ``"outputs.*.text"``, ``"eval.metadata.revision"``.

A path is a dot-separated list of keys. A key that is a whole number also indexes a
list (``"choices.0.message.content"``). ``*`` marks a list whose items are *samples*:
``"outputs.*.text"`` on ``{"outputs": [{"text": "3"}, {"text": "7"}]}`` gives the two
samples ``"3"`` and ``"7"``. At most one ``*`` per path (one list of samples per record).

A list found where the path expects a scalar is never collapsed silently: it is a
:class:`~phasekit.SchemaError` whose fix names the path with ``*`` to use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SchemaError

__all__ = ["MISSING", "split_path", "get_path", "get_samples", "star_prefix"]


class _Missing:
    """The value of a path that does not exist in a record (distinct from ``None``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def split_path(path: str) -> list[str]:
    """The keys of a dotted path; ``"a.*.b"`` → ``["a", "*", "b"]``.

    Raises SchemaError for an empty key or more than one ``*``.
    """
    keys = str(path).split(".")
    if any(k == "" for k in keys):
        raise SchemaError(f"field path {path!r} has an empty key", where=f"field path {path!r}",
                          fix="write keys separated by single dots, e.g. 'outputs.*.text'")
    if keys.count("*") > 1:
        raise SchemaError(f"field path {path!r} has more than one '*'", where=f"field path {path!r}",
                          fix="mark only the list whose items are samples with '*'")
    return keys


def _step(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key, MISSING)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and key.lstrip("-").isdigit():
        i = int(key)
        return value[i] if -len(value) <= i < len(value) else MISSING
    return MISSING


def _name(path: str, role: str | None) -> str:
    return f"{role}={path!r}" if role else f"field path {path!r}"


def _walk(value: Any, keys: Sequence[str], full: str, where: str, role: str | None = None) -> Any:
    for depth, key in enumerate(keys):
        if value is MISSING or value is None:
            return value
        if isinstance(value, list) and not key.lstrip("-").isdigit():
            done = ".".join(keys[:depth]) if depth else ""
            prefix = f"{done}." if done else ""
            raise SchemaError(
                f"{_name(full, role)} meets a list at {done or '(the record)'!r} where it expects an object",
                where=where,
                fix=f"mark the list of samples with '*': {prefix}*.{'.'.join(keys[depth:])!s}"
                if full.count("*") == 0 else "index the list with a number, e.g. '.0.'",
            )
        value = _step(value, key)
    return value


def get_path(record: Any, path: str, *, where: str = "a record", role: str | None = None) -> Any:
    """The scalar at ``path`` in ``record`` (``MISSING`` when absent).

    A list at the end of a path without ``*`` is an error naming ``path.*``: a list of
    samples must be marked, and a list of token ids is read by :func:`get_samples`
    with ``list_ok=True``.
    """
    keys = split_path(path)
    if "*" in keys:
        raise SchemaError(f"field path {path!r} has '*' where one value per record is expected",
                          where=where, fix="remove the '*' (only the sample fields text=/token= take it)")
    value = _walk(record, keys, path, where, role)
    if isinstance(value, list | dict):
        kind = "a list" if isinstance(value, list) else "an object"
        fix = (f"if its items are samples use {path}.* (or {path}.*.<field>)" if isinstance(value, list)
               else f"name a field inside it, e.g. {path}.<field>")
        raise SchemaError(f"{_name(path, role)} holds {kind} where one value is expected", where=where, fix=fix)
    return value


def star_prefix(path: str) -> str | None:
    """The part of a path before its ``*`` (``"outputs"`` for ``"outputs.*.text"``), or None."""
    keys = split_path(path)
    return ".".join(keys[: keys.index("*")]) if "*" in keys else None


def get_samples(record: Any, path: str, *, where: str = "a record", list_ok: bool = False,
                role: str | None = None) -> list[Any]:
    """The samples a record holds at ``path``: one value, or one per item of the ``*`` list.

    Returns a list (one entry per sample; ``MISSING`` where an item lacks the field).
    Without ``*`` the record holds one sample. ``list_ok`` allows the final value to be a
    list (token ids); otherwise a list there is an error that names the ``*`` path.
    """
    keys = split_path(path)
    if "*" not in keys:
        if list_ok:
            value = _walk(record, keys, path, where, role)
            return [value]
        return [get_path(record, path, where=where, role=role)]
    i = keys.index("*")
    head = _walk(record, keys[:i], path, where, role)
    if head is MISSING or head is None:
        return []
    if not isinstance(head, list):
        raise SchemaError(f"field path {path!r}: {'.'.join(keys[:i])!r} is not a list",
                          where=where, fix="put '*' only after a list of samples")
    tail = keys[i + 1:]
    out = []
    for item in head:
        value = _walk(item, tail, path, where, role) if tail else item
        if isinstance(value, dict) or (isinstance(value, list) and not list_ok):
            sub = ".".join(tail) or "(the item)"
            raise SchemaError(f"field path {path!r}: {sub} of an item is a {type(value).__name__}, not one value",
                              where=where, fix=f"name the field inside it, e.g. {path}.<field>")
        out.append(value)
    return out
