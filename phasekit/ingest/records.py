"""Generic records (JSONL lines, JSON/CSV/Parquet rows, DataFrames, dicts) into the sink.

Each *role* (checkpoint, step, stage, model, task, prompt, sample, text, token, position,
failure) is read from a field given as a column name or a dotted path
(:mod:`.paths`). The sample fields ``text``/``token`` (and ``sample``/``failure`` with
them) may contain ``*``: each item of that list is one generation. A role the user named
must be present in the records; a default name (``"checkpoint"``, ``"prompt"``…) is used
only where present. A record whose ``*`` list is empty or absent holds no generation and
is counted in ``attrs["n_records_without_samples"]``.

``name_pattern`` (a regex with named groups ``model``, ``checkpoint``, ``stage``, ``step``)
fills those roles from the model name when there is one, else from the file's path.

Records are processed in blocks (:data:`BLOCK`): one Python pass per block pulls the fields
out, everything after that is vectorised in :mod:`.build`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from ..errors import SchemaError
from .build import KEY_ROLES, Batch, Repeated, SampleSink
from .paths import MISSING, get_path, get_samples, split_path

__all__ = ["FieldMap", "DEFAULT_FIELDS", "NamePattern", "feed_records", "blocks_of", "BLOCK"]

#: Field used for each role when the caller names none.
DEFAULT_FIELDS: dict[str, str] = {
    "model": "model", "checkpoint": "checkpoint", "step": "step", "stage": "stage", "task": "task",
    "prompt": "prompt", "sample": "sample", "token": "token",
}
#: Records per block.
BLOCK = 32_768


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
        if "text" in paths and "token" not in explicit:
            paths.pop("token", None)
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
        if not set(self.rx.groupindex) & set(self.GROUPS):
            raise SchemaError("name_pattern has no named group model, checkpoint, stage or step",
                              where=f"name_pattern={pattern!r}", fix="name the groups: (?P<checkpoint>...)")
        self.pattern = pattern

    def apply(self, text: str) -> dict[str, Any]:
        m = self.rx.search(text)
        if m is None:
            raise SchemaError(f"name_pattern does not match {text!r}", where=f"name_pattern={self.pattern!r}",
                              fix="adjust the pattern so that every model name (or path) matches")
        out: dict[str, Any] = {k: v for k, v in m.groupdict().items() if k in self.GROUPS and v is not None}
        if "step" in out:
            out["step"] = float(out["step"]) if "." in out["step"] else int(out["step"])
        return out

    def apply_column(self, names: list) -> dict[str, list]:
        """The groups for each name of a column (each distinct name matched once)."""
        cache = {n: self.apply(str(n)) for n in dict.fromkeys(names)}
        roles = {k for d in cache.values() for k in d}
        return {r: [cache[n].get(r) for n in names] for r in roles}


def _getter(path: str) -> Callable[[Any], Any]:
    """A fast accessor for a dotted path without '*' (returns MISSING where absent)."""
    keys = split_path(path)
    if len(keys) == 1:
        k = keys[0]
        return lambda r: r.get(k, MISSING) if type(r) is dict else MISSING

    def get(r: Any) -> Any:
        for k in keys:
            if type(r) is dict:
                r = r.get(k, MISSING)
            elif isinstance(r, list) and k.lstrip("-").isdigit() and -len(r) <= int(k) < len(r):
                r = r[int(k)]
            else:
                return MISSING
        return r
    return get


@dataclass
class _Compiled:
    fields: FieldMap
    key_get: dict[str, Callable[[Any], Any]]
    star: str | None                       # the list of samples, e.g. "outputs"
    head: Callable[[Any], Any] | None
    item_get: dict[str, Callable[[Any], Any]]   # per item: value, and sample/failure when starred

    @classmethod
    def build(cls, fields: FieldMap) -> _Compiled:
        vrole = fields.value_role
        vkeys = split_path(fields.paths[vrole])
        star = ".".join(vkeys[: vkeys.index("*")]) if "*" in vkeys else None
        item_get: dict[str, Callable[[Any], Any]] = {}
        key_get = {r: _getter(fields.paths[r]) for r in (*KEY_ROLES, "position") if r in fields.paths
                   and not (r == "sample" and star is not None)}
        for role in (vrole, "sample", "failure"):
            p = fields.paths.get(role)
            if p is None:
                continue
            keys = split_path(p)
            if star is None:
                key_get[role] = _getter(p)
            elif "*" in keys and ".".join(keys[: keys.index("*")]) == star:
                tail = ".".join(keys[keys.index("*") + 1:])
                item_get[role] = _getter(tail) if tail else (lambda it: it)
            elif role in fields.explicit:
                raise SchemaError(f"{role}={p!r} gives one value per record, but each record holds "
                                  f"a list of samples at {star!r}", where=f"{role}={p!r}",
                                  fix=f"point it into the list ({star}.*.<field>), or leave it out")
            elif role == "failure":
                key_get[role] = _getter(p)
        head = _getter(star) if star is not None else None
        return cls(fields, key_get, star, head, item_get)


def _column(recs: list, comp: _Compiled, role: str, present: set) -> list:
    """The values of one role across a block (MISSING where absent)."""
    keys = split_path(comp.fields.paths[role])
    if keys[0] not in present:
        return [MISSING] * len(recs)
    if len(keys) == 1:
        k = keys[0]
        return [r.get(k, MISSING) for r in recs]
    g = comp.key_get[role]
    return [g(r) for r in recs]


def _missing_to_none(column: list, role: str, fields: FieldMap, recs: list, where: Callable[[int], str]) -> list:
    """MISSING → None; a named role missing from every record of a block is an error."""
    required = (role in fields.explicit or role == "token") and role not in ("failure", "position")
    if column and column.count(MISSING) == len(column) and required:
        get_path(recs[0], fields.paths[role], where=where(0), role=role)   # a list on the way: names '*'
        keys = list(recs[0])[:12] if isinstance(recs[0], Mapping) else type(recs[0]).__name__
        raise SchemaError(f"required field {fields.paths[role]!r} ({role}) is missing",
                          where=f"{where(0)}; fields are {keys}",
                          fix=f"name the field that holds the {role} with {role}='<field or dotted.path>'")
    if MISSING not in column:
        return column
    return [None if v is MISSING else v for v in column]


def _record_batch(comp: _Compiled, recs: list, locs: Sequence[Any], describe: Callable[[Any], str],
                  fixed: Mapping[str, Any], pattern: NamePattern | None, path: str) -> tuple[Batch, int]:
    """One block of records as a Batch of generations; also how many records held none."""
    fields = comp.fields

    def rwhere(i: int) -> str:
        return describe(locs[i])

    if {type(r) for r in recs} != {dict}:
        i = next(i for i, r in enumerate(recs) if not isinstance(r, dict))
        raise SchemaError(f"a record is a JSON {type(recs[i]).__name__}, not an object", where=rwhere(i),
                          fix="write one object per line / row")
    present = set().union(*recs)
    cols = {role: _column(recs, comp, role, present) for role in comp.key_get}
    for role, col in cols.items():
        cols[role] = _missing_to_none(col, role, fields, recs, rwhere)
    empty = 0
    if comp.star is None:
        index = np.arange(len(recs))
        values = cols.pop(fields.value_role)
        per_item: dict[str, list] = {}
    else:
        index, per_item, empty = _expand_star(comp, recs, rwhere)
        values = per_item.pop(fields.value_role)
    per_record = {role: _present_or_none(cols.get(role)) for role in KEY_ROLES}
    _fill(per_record, fixed, pattern, path, len(recs))          # once per record, not per generation
    keys = {role: _broadcast(per_record.get(role), index) for role in KEY_ROLES}
    for role, col in per_item.items():
        keys[role] = col
    failure = per_item.get("failure", _broadcast(cols.get("failure"), index))

    def where(i: int) -> str:
        return rwhere(int(index[i])) if len(index) else rwhere(0)

    batch = Batch(keys={r: keys.get(r) for r in KEY_ROLES if r != "sample" or keys.get("sample") is not None},
                  values=values, where=where, failure=failure,
                  position=_broadcast(cols.get("position"), index), record=index, paths=fields.paths)
    return batch, empty


def _expand_star(comp: _Compiled, recs: list, where: Callable[[int], str]) -> tuple[np.ndarray, dict, int]:
    """Each item of every record's ``*`` list as one generation: (record index, per-item values, empty)."""
    head = comp.head
    assert head is not None  # only called when the field map has a '*'
    lists = [head(r) for r in recs]
    lengths = np.fromiter((len(x) if type(x) is list else 0 for x in lists), dtype=np.int64, count=len(lists))
    bad = next((i for i, x in enumerate(lists) if type(x) is not list and x is not MISSING and x is not None), None)
    if bad is not None:
        raise SchemaError(f"{comp.star!r} is not a list", where=where(bad), fix="put '*' only after a list of samples")
    items = [it for x in lists if type(x) is list for it in x]
    per_item: dict[str, list] = {}
    for role, g in comp.item_get.items():
        tail = split_path(comp.fields.paths[role])
        tail = tail[tail.index("*") + 1:]
        col = ([it.get(tail[0], MISSING) if type(it) is dict else MISSING for it in items] if len(tail) == 1
               else [g(it) for it in items])
        if role != "token" and {type(v) for v in col} & {list, dict}:
            k = next(k for k, v in enumerate(col) if type(v) in (list, dict))
            rec = int(np.searchsorted(np.cumsum(lengths), k, side="right"))
            get_samples(recs[rec], comp.fields.paths[role], where=where(rec), role=role)
        per_item[role] = col if MISSING not in col else [None if v is MISSING else v for v in col]
    index = np.repeat(np.arange(len(recs), dtype=np.int64), lengths)
    return index, per_item, int((lengths == 0).sum())


def _present_or_none(column: list | None) -> list | None:
    return None if column is None or column.count(None) == len(column) else column


def _broadcast(column: list | None, index: np.ndarray) -> Sequence[Any] | None:
    """A record-level column seen per generation (without copying it per generation)."""
    if column is None or column.count(None) == len(column):
        return None
    if len(index) == len(column) and (not len(index) or index[-1] == len(column) - 1):
        return column                                  # one generation per record
    return Repeated(column, index)


def _fill(keys: dict, fixed: Mapping[str, Any], pattern: NamePattern | None, path: str, n: int) -> None:
    for role, value in fixed.items():
        if keys.get(role) is None:
            keys[role] = [value] * n
        else:
            keys[role] = [value if v is None else v for v in keys[role]]
    if pattern is None:
        return
    if keys.get("model") is not None:
        keys.update(pattern.apply_column(keys["model"]))
    else:
        for role, value in pattern.apply(path).items():
            keys[role] = [value] * n


def blocks_of(pairs: Iterable[tuple[Any, Any]], size: int = BLOCK) -> Iterator[tuple[list, list]]:
    """``(location, record)`` pairs regrouped as ``(locations, records)`` blocks."""
    it = iter(pairs)
    while True:
        block = list(islice(it, size))
        if not block:
            return
        yield [w for w, _ in block], [r for _, r in block]


def feed_records(sink: SampleSink, blocks: Iterable[tuple[Sequence[Any], list]], fields: FieldMap, *,
                 describe: Callable[[Any], str], fixed: Mapping[str, Any] | None = None,
                 pattern: NamePattern | None = None, path: str = "") -> int:
    """Feed ``(locations, records)`` blocks into ``sink``; returns the records read.

    ``describe(location)`` names a record's place for error messages (built only on error).
    """
    comp = _Compiled.build(fields)
    n = 0
    for locs, recs in blocks:
        batch, empty = _record_batch(comp, recs, locs, describe, fixed or {}, pattern, path)
        sink.records_without_samples += empty
        sink.add_batch(batch)
        n += len(recs)
    return n
