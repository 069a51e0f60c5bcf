"""Generic records (JSONL lines, JSON/CSV/Parquet rows, DataFrames, dicts) into the sink.

Each *role* (checkpoint, step, stage, model, task, prompt, sample, text, token, position,
failure) is read from a field given as a column name or a dotted path
(:mod:`.paths`). The sample fields ``text``/``token`` (and ``sample``/``failure`` with
them) may contain ``*``: each item of that list is one generation. A role the user named
must be present in every record; a default name (``"checkpoint"``, ``"prompt"``…) is used
only where present.

``name_pattern`` (a regex with named groups ``model``, ``checkpoint``, ``stage``, ``step``)
fills those roles from the model name when there is one, else from the file's path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SchemaError
from .build import Keys, SampleSink
from .paths import MISSING, get_path, get_samples, split_path, star_prefix

__all__ = ["FieldMap", "DEFAULT_FIELDS", "feed_records", "NamePattern"]

#: Field used for each role when the caller names none.
DEFAULT_FIELDS: dict[str, str] = {
    "model": "model", "checkpoint": "checkpoint", "step": "step", "stage": "stage", "task": "task",
    "prompt": "prompt", "sample": "sample", "token": "token",
}
KEY_ROLES = ("model", "checkpoint", "step", "stage", "task", "prompt")
SAMPLE_ROLES = ("sample", "failure")


@dataclass(frozen=True)
class FieldMap:
    """Role → field path, and which roles the caller named (those are required)."""

    paths: dict[str, str]
    explicit: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, given: Mapping[str, Any], defaults: Mapping[str, str] = DEFAULT_FIELDS) -> FieldMap:
        paths = dict(defaults)
        explicit = set()
        for role, value in given.items():
            if isinstance(value, str):
                split_path(value)                        # validates the path now
                paths[role] = value
                explicit.add(role)
        if "text" in paths and "token" in paths and "token" not in explicit:
            paths.pop("token")
        return cls(paths, frozenset(explicit))

    @property
    def value_role(self) -> str:
        return "text" if "text" in self.paths else "token"


class NamePattern:
    """A regex with named groups (model, checkpoint, stage, step) read from names or paths."""

    GROUPS = ("model", "checkpoint", "stage", "step")

    def __init__(self, pattern: str) -> None:
        try:
            self.rx = re.compile(pattern)
        except re.error as err:
            raise SchemaError(f"name_pattern is not a valid regex: {err}", where=f"name_pattern={pattern!r}",
                              fix="write a Python regex with named groups, e.g. "
                              r"'(?P<model>[^@]+)@(?P<checkpoint>.+)'") from None
        groups = set(self.rx.groupindex) & set(self.GROUPS)
        if not groups:
            raise SchemaError("name_pattern has no named group model, checkpoint, stage or step",
                              where=f"name_pattern={pattern!r}", fix="name the groups: (?P<checkpoint>...)")
        self.pattern = pattern

    def apply(self, text: str) -> dict[str, str]:
        m = self.rx.search(text)
        if m is None:
            raise SchemaError(f"name_pattern does not match {text!r}", where=f"name_pattern={self.pattern!r}",
                              fix="adjust the pattern so that every model name (or path) matches")
        return {k: v for k, v in m.groupdict().items() if k in self.GROUPS and v is not None}


def _key_value(rec: Any, role: str, fields: FieldMap, where: str) -> Any:
    path = fields.paths.get(role)
    if path is None:
        return None
    value = get_path(rec, path, where=where)
    if value is MISSING:
        if role in fields.explicit:
            keys = list(rec)[:12] if isinstance(rec, Mapping) else type(rec).__name__
            raise SchemaError(f"required field {path!r} ({role}) is missing", where=f"{where}; fields are {keys}",
                              fix=f"name the field that holds the {role} with {role}='<field or dotted.path>'")
        return None
    return value


def _keys(rec: Any, fields: FieldMap, fixed: Mapping[str, Any], pattern: NamePattern | None,
          path: str, where: str) -> Keys:
    values = {role: _key_value(rec, role, fields, where) for role in KEY_ROLES}
    for role, v in fixed.items():
        if values.get(role) is None:
            values[role] = v
    if pattern is not None:
        name = values.get("model")
        values.update(pattern.apply(str(name) if name is not None else path))
    return Keys(**values)


def _sample_values(rec: Any, role: str, fields: FieldMap, n: int, where: str) -> list[Any]:
    path = fields.paths.get(role)
    star = star_prefix(fields.paths[fields.value_role])
    if path is None:
        return [None] * n
    if star is not None and star_prefix(path) is None:
        if role in fields.explicit:
            raise SchemaError(f"{role}={path!r} gives one value per record, but each record holds "
                              f"a list of samples at {star!r}", where=where,
                              fix=f"point it into the list ({star}.*.<field>), or leave it out")
        return [None] * n
    vals = get_samples(rec, path, where=where) if star_prefix(path) else [get_path(rec, path, where=where)]
    if role in fields.explicit and vals and all(v is MISSING for v in vals):
        raise SchemaError(f"required field {path!r} ({role}) is missing", where=where,
                          fix=f"name the field that holds the {role} with {role}='<field>'")
    if len(vals) != n:
        if len(vals) == 1:
            return vals * n
        raise SchemaError(f"{role}={path!r} has {len(vals)} values for {n} samples", where=where,
                          fix="point it at the same list as text=/token=")
    return vals


def feed_record(sink: SampleSink, rec: Any, fields: FieldMap, *, fixed: Mapping[str, Any],
                pattern: NamePattern | None, path: str, where: str) -> None:
    """Read one record's generations (one, or one per ``*`` item) into ``sink``."""
    if not isinstance(rec, Mapping):
        raise SchemaError(f"a record is a JSON {type(rec).__name__}, not an object", where=where,
                          fix="write one object per line / row")
    keys = _keys(rec, fields, fixed, pattern, path, where)
    sink.record(keys.model, keys.checkpoint)
    role = fields.value_role
    vpath = fields.paths[role]
    values = get_samples(rec, vpath, where=where, list_ok=(role == "token"))
    if star_prefix(vpath) is None and values and values[0] is MISSING and role in fields.explicit | {"token"}:
        keys_ = list(rec)[:12]
        raise SchemaError(f"required field {vpath!r} ({role}) is missing", where=f"{where}; fields are {keys_}",
                          fix=f"name the field that holds the {role} with {role}='<field or dotted.path>'")
    samples = _sample_values(rec, "sample", fields, len(values), where)
    failures = _sample_values(rec, "failure", fields, len(values), where)
    position = _key_value(rec, "position", fields, where) if "position" in fields.paths else None
    for value, sample, failure in zip(values, samples, failures, strict=True):
        k = Keys(**{**keys.__dict__, "sample": None if sample is MISSING else sample})
        if role == "text":
            sink.add_text(k, None if value is MISSING else value, failure=failure, where=where)
        else:
            sink.add_tokens(k, None if value is MISSING else value, failure=failure, position=position, where=where)


def feed_records(sink: SampleSink, records: Iterable[tuple[str, Any]], fields: FieldMap, *,
                 fixed: Mapping[str, Any] | None = None, pattern: NamePattern | None = None,
                 path: str = "") -> int:
    """Feed ``(where, record)`` pairs into ``sink``; returns the number of records read."""
    n = 0
    for where, rec in records:
        feed_record(sink, rec, fields, fixed=fixed or {}, pattern=pattern, path=path, where=where)
        n += 1
    return n
