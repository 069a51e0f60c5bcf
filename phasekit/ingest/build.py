"""The streaming builder: generations in, integer columns out, every one counted.

Readers hand :class:`SampleSink` a :class:`Batch` of generations at a time (a block of
JSONL lines, a Parquet row group, a client reader's frame). Within a batch everything is
vectorised: labels are factorised (:func:`pandas.factorize`) and only the *distinct*
labels go through the Python dictionaries that give them global ids; answer texts are
factorised too and only distinct texts are encoded (through a cache, since answer spaces
repeat). Memory grows with a few integers per generation, never with the texts.

Every generation ends in exactly one of: parsed (a state), unparsed (with the encoder's
reason), or failed (the client's error). Items of list answers are counted the same way.
:func:`phasekit.ingest.assemble.assemble` turns the sink into the Dataset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError

__all__ = ["SampleSink", "Batch", "Repeated", "FAILED", "KEY_ROLES"]

#: Reason recorded for a generation the client reports as failed.
FAILED = "request failed"
#: The roles that say where a generation belongs.
KEY_ROLES = ("model", "checkpoint", "step", "stage", "task", "prompt", "sample")
_MAX_DISTINCT_UNPARSED = 10_000
_MAX_CACHE = 1_000_000
_N_EXAMPLES = 10


class _Ids:
    """Labels → dense ids in order of first appearance."""

    __slots__ = ("index", "labels")

    def __init__(self) -> None:
        self.index: dict[Hashable, int] = {}
        self.labels: list[Hashable] = []

    def __call__(self, label: Hashable) -> int:
        i = self.index.get(label)
        if i is None:
            i = self.index[label] = len(self.labels)
            self.labels.append(label)
        return i

    def many(self, labels: Sequence[Hashable]) -> np.ndarray:
        return np.fromiter((self(lab) for lab in labels), dtype=np.int64, count=len(labels))


@dataclass
class Batch:
    """A block of generations, column by column (one entry per generation).

    ``keys[role]`` is a sequence of labels or None where the role is absent; ``values``
    are the answer texts (or token-id lists, or single tokens with ``position``);
    ``failure`` the client's error per generation (None where it succeeded);
    ``record`` the input record each generation came from (for the rows count);
    ``where(i)`` describes generation ``i`` for error messages.
    """

    keys: dict[str, Sequence[Any] | None]
    values: Sequence[Any]
    where: Callable[[int], str]
    failure: Sequence[Any] | None = None
    position: Sequence[Any] | None = None
    record: np.ndarray | None = None
    paths: dict[str, str] | None = None      # role -> the field path it was read from


class Repeated(Sequence):
    """``values[index[i]]`` for each generation ``i``: a record's label shared by its generations.

    Factorised at the record level (:func:`_factorize`), never expanded per generation.
    """

    def __init__(self, values: list, index: np.ndarray) -> None:
        self.values, self.rows = values, index  # (not .index: Sequence.index is a method)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.values[j] for j in self.rows[i].tolist()]
        return self.values[int(self.rows[i])]


def _factorize(values: Sequence[Any], role: str, batch: Batch) -> tuple[np.ndarray, list]:
    """Codes (-1 for missing) and distinct labels; a list/dict value is an error naming its place."""
    if isinstance(values, Repeated):
        codes, uniques = _factorize(values.values, role, batch)
        return codes[values.rows], uniques
    try:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    except TypeError:
        raise _container_error(values, role, batch) from None
    return codes.astype(np.int64), list(uniques)


def _container_error(values: Sequence[Any], role: str, batch: Batch) -> SchemaError:
    """A list or object where one value is expected, with the path to use instead."""
    i = next(i for i, v in enumerate(values) if isinstance(v, list | dict | set))
    role = "prompt" if role == "prompt_text" else role          # the id table's name is internal
    path = (batch.paths or {}).get(role, role)
    if isinstance(values[i], dict):
        return SchemaError(f"field path {path!r} ({role}) holds an object where one value is expected",
                           where=batch.where(i), fix=f"name a field inside it, e.g. {role}='{path}.<field>'")
    fix = (f"if its items are samples use {role}='{path}.*' (or '{path}.*.<field>')"
           if role in ("text", "token") else f"point {role}= at one value, e.g. '{path}.0'")
    return SchemaError(f"field path {path!r} ({role}) holds a list where one value is expected",
                       where=batch.where(i), fix=fix)


def _group(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of integer columns (ids >= -1) and each row's group: ``(uniq, inverse)``.

    Rows are packed into one int64 key and hashed (:func:`pandas.factorize`), so this is
    linear in the rows; groups are numbered in order of first appearance.
    """
    dims = [int(c.max(initial=-1)) + 2 for c in cols]
    if float(np.prod(dims, dtype=float)) < 2.0**62:
        key = np.ravel_multi_index([c + 1 for c in cols], dims)
        inv, uniq_key = pd.factorize(key)
        uniq = np.stack(np.unravel_index(uniq_key, dims), axis=1) - 1
        return uniq, inv.astype(np.int64)
    uniq, inv = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    return uniq, inv.ravel()


class SampleSink:
    """Collects generations into integer columns (see module docs).

    Parameters
    ----------
    encoder : an :class:`~phasekit.ingest.encoders.Encoder` for text answers, or None
        when the generations are token ids
    """

    def __init__(self, encoder: Any = None) -> None:
        self.encoder = encoder
        self.token_mode = encoder is None
        self.ids = {k: _Ids() for k in ("model", "checkpoint", "task", "prompt_text", "prompt", "sample", "reason")}
        self.ids["reason"](None)                         # reason id 0: parsed
        self.states = _Ids()
        if encoder is not None and encoder.labels is not None:
            for lab in encoder.labels:
                self.states(lab)
        self.gen: dict[str, list[np.ndarray]] = {k: [] for k in ("model", "checkpoint", "prompt", "sample")}
        self.cell: dict[str, list[np.ndarray]] = {k: [] for k in ("gen", "position", "code", "reason")}
        self.n_gen = 0
        self.ck_step: dict[tuple[int, int], set] = {}
        self.ck_stage: dict[tuple[int, int], set] = {}
        self.rows: Counter = Counter()                   # records read per (model, checkpoint) label
        self.sample_given: bool | None = None
        self._next_sample: Counter = Counter()
        self._token_gen: dict[tuple, int] = {}
        self._cache: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        self.unparsed_texts: Counter = Counter()
        self.failures: Counter = Counter()
        self.examples: dict[Any, str] = {}
        self.records_without_samples = 0
        self.sequence = False                            # some generation is a token sequence

    # ------------------------------------------------------------------ labels
    def _label_ids(self, role: str, values: Sequence[Any] | None, n: int, batch: Batch,
                   as_str: bool = True) -> np.ndarray:
        """Global ids per generation for a label role (-1 where absent)."""
        if values is None:
            return np.full(n, -1, dtype=np.int64)
        codes, uniques = _factorize(values, role, batch)
        labels = [str(u) for u in uniques] if as_str else uniques
        glob = self.ids[role].many(labels)
        return np.where(codes >= 0, glob[np.maximum(codes, 0)] if len(glob) else -1, -1)

    def _model_ids(self, values: Sequence[Any] | None, n: int, batch: Batch) -> np.ndarray:
        ids = self._label_ids("model", values, n, batch)
        if (ids < 0).any():
            none_id = self.ids["model"](None)
            ids = np.where(ids < 0, none_id, ids)
        return ids

    def _prompt_ids(self, batch: Batch, n: int) -> np.ndarray:
        task = self._label_ids("task", batch.keys.get("task"), n, batch)
        text = self._label_ids("prompt_text", batch.keys.get("prompt"), n, batch)
        uniq, inv = _group(task, text)
        t_lab, p_lab = self.ids["task"].labels, self.ids["prompt_text"].labels
        keys = [(t_lab[t] if t >= 0 else None, p_lab[p] if p >= 0 else None) for t, p in uniq.tolist()]
        return self.ids["prompt"].many(keys)[inv]

    def _checkpoint_ids(self, batch: Batch, n: int) -> np.ndarray:
        ids = self._label_ids("checkpoint", batch.keys.get("checkpoint"), n, batch)
        if (ids < 0).any():
            raise SchemaError("a generation has no checkpoint", where=batch.where(int(np.argmax(ids < 0))),
                              fix="name the checkpoint field (checkpoint=), or pass name_pattern= to read "
                              "it from the model name or path")
        return ids

    def _note_per_checkpoint(self, table: dict, m: np.ndarray, c: np.ndarray, values: Sequence[Any] | None,
                             role: str, batch: Batch) -> None:
        if values is None:
            return
        codes, uniques = _factorize(values, role, batch)
        ok = codes >= 0
        if not ok.any():
            return
        trip, _ = _group(m[ok], c[ok], codes[ok])
        for mi, ci, ui in trip.tolist():
            v = uniques[ui]
            table.setdefault((int(mi), int(ci)), set()).add(v if role == "step" else str(v))

    def _sample_ids(self, batch: Batch, m: np.ndarray, c: np.ndarray, p: np.ndarray, n: int) -> np.ndarray:
        values = batch.keys.get("sample")
        ids = self._label_ids("sample", values, n, batch, as_str=False) if values is not None else None
        given = ids is not None and bool(np.any(ids >= 0))
        if ids is not None and given and bool(np.any(ids < 0)):
            raise SchemaError("some generations have a sample id and others do not",
                              where=batch.where(int(np.argmax(ids < 0))),
                              fix="give every generation a sample id (sample=), or none (numbered in order)")
        if self.sample_given is None:
            self.sample_given = given
        elif given != self.sample_given:
            raise SchemaError("some generations have a sample id and others do not", where=batch.where(0),
                              fix="give every generation a sample id (sample=), or none (numbered in order)")
        if ids is not None and given:
            return ids
        uniq, inv = _group(m, c, p)
        order = np.argsort(inv, kind="stable")
        starts = np.searchsorted(inv[order], np.arange(len(uniq)))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - starts[inv[order]]
        counts = np.bincount(inv, minlength=len(uniq))
        base = np.empty(len(uniq), dtype=np.int64)
        for j, key in enumerate(map(tuple, uniq.tolist())):
            base[j] = self._next_sample[key]
            self._next_sample[key] += int(counts[j])
        num_inv, numbers = pd.factorize(base[inv] + rank)
        return self.ids["sample"].many(numbers.tolist())[num_inv]

    # ------------------------------------------------------------------ intake
    def add_batch(self, batch: Batch) -> None:
        """Take one block of generations (see :class:`Batch`)."""
        n = len(batch.values)
        if n == 0:
            return
        keys = batch.keys
        m = self._model_ids(keys.get("model"), n, batch)
        c = self._checkpoint_ids(batch, n)
        self._note_per_checkpoint(self.ck_step, m, c, keys.get("step"), "step", batch)
        self._note_per_checkpoint(self.ck_stage, m, c, keys.get("stage"), "stage", batch)
        p = self._prompt_ids(batch, n)
        s = self._sample_ids(batch, m, c, p, n)
        self._count_rows(batch, m, c)
        if batch.position is not None:
            g = self._token_rows(m, c, p, s)
            self._add_token_rows(batch, g)
            return
        g = np.arange(self.n_gen, self.n_gen + n, dtype=np.int64)
        self.n_gen += n
        for key, col in (("model", m), ("checkpoint", c), ("prompt", p), ("sample", s)):
            self.gen[key].append(col.astype(np.int32))
        failed = self._failed_mask(batch, n)
        if self.token_mode:
            self._add_token_lists(batch, g, failed)
        else:
            self._add_texts(batch, g, failed)

    def _count_rows(self, batch: Batch, m: np.ndarray, c: np.ndarray) -> None:
        rec = batch.record if batch.record is not None else np.arange(len(m))
        trip, _ = _group(rec, m, c)
        pairs, inv = _group(trip[:, 1], trip[:, 2])
        counts = np.bincount(inv, minlength=len(pairs))
        m_lab, c_lab = self.ids["model"].labels, self.ids["checkpoint"].labels
        for (mi, ci), k in zip(pairs.tolist(), counts.tolist(), strict=True):
            self.rows[(m_lab[mi], c_lab[ci])] += int(k)

    def _failed_mask(self, batch: Batch, n: int) -> np.ndarray:
        if batch.failure is None:
            return np.zeros(n, dtype=bool)
        failed = np.fromiter((f is not None and not (isinstance(f, float) and f != f) for f in batch.failure),
                             dtype=bool, count=n)
        for i in np.flatnonzero(failed)[:1000]:
            self.failures[str(batch.failure[i])[:200]] += 1
        if failed.sum() > 1000:
            self.failures["(more failures not itemised)"] += int(failed.sum() - 1000)
        return failed

    def _append_cells(self, gen: np.ndarray, pos: np.ndarray, code: np.ndarray, reason: np.ndarray) -> None:
        self.cell["gen"].append(gen.astype(np.int32))
        self.cell["position"].append(pos.astype(np.int32))
        small = not code.size or int(code.max()) < np.iinfo(np.int32).max
        self.cell["code"].append(code.astype(np.int32 if small else np.int64))
        self.cell["reason"].append(reason.astype(np.int16))

    # ------------------------------------------------------------------ text answers
    def _encode_unique(self, text: Any) -> tuple[np.ndarray, np.ndarray]:
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        enc = self.encoder
        items = [enc.parse(text)] if enc.kind == "scalar" else list(enc.parse_list(text))
        if not items:
            items = [(None, "no answer")]
        codes = np.empty(len(items), dtype=np.int64)
        reasons = np.empty(len(items), dtype=np.int64)
        for j, (label, reason) in enumerate(items):
            if label is None:
                codes[j], reasons[j] = -1, self.ids["reason"](reason or "unparsed")
            elif enc.labels is not None and label not in self.states.index:
                codes[j], reasons[j] = -1, self.ids["reason"]("out of space")
            else:
                codes[j], reasons[j] = self.states(label), 0
                if len(self.examples) < _N_EXAMPLES and label not in self.examples:
                    self.examples[label] = str(text)[:200]
        if len(self._cache) < _MAX_CACHE:
            self._cache[text] = (codes, reasons)
        return codes, reasons

    def _add_texts(self, batch: Batch, g: np.ndarray, failed: np.ndarray) -> None:
        if self.encoder is None:
            raise SchemaError("the generations are answer texts, but no encoder was given", where=batch.where(0),
                              fix="pass encoder='integer' | 'integer-list' | 'exact' (or answer_pattern=); "
                              "see docs/encoders.md")
        codes_t, uniq = _factorize_texts(batch.values, batch)
        encoded = [self._encode_unique(u) for u in uniq] + [self._encode_unique(None)]
        codes_t = np.where(codes_t < 0, len(uniq), codes_t)          # missing text -> the None entry
        lengths_u = np.fromiter((len(e[0]) for e in encoded), dtype=np.int64, count=len(encoded))
        flat_code = np.concatenate([e[0] for e in encoded])
        flat_reason = np.concatenate([e[1] for e in encoded])
        starts_u = np.concatenate([[0], np.cumsum(lengths_u)[:-1]])
        lengths = np.where(failed, 1, lengths_u[codes_t])
        gen = np.repeat(g, lengths)
        pos = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        src = np.repeat(starts_u[codes_t], lengths) + pos
        code = flat_code[src]
        reason = flat_reason[src]
        fcell = np.repeat(failed, lengths)
        code[fcell], reason[fcell] = -1, self.ids["reason"](FAILED)
        self._append_cells(gen, pos, code, reason)
        self._count_unparsed(codes_t[~failed], uniq, encoded)

    def _count_unparsed(self, codes_t: np.ndarray, uniq: list, encoded: list) -> None:
        counts = np.bincount(codes_t, minlength=len(encoded))
        labels = self.ids["reason"].labels
        for u in np.flatnonzero(counts):
            reasons = encoded[u][1]
            if reasons.any():
                text = uniq[u] if u < len(uniq) else None
                key = (None if text is None else str(text)[:200], labels[int(reasons.max())])
                if key in self.unparsed_texts or len(self.unparsed_texts) < _MAX_DISTINCT_UNPARSED:
                    self.unparsed_texts[key] += int(counts[u])

    # ------------------------------------------------------------------ token ids
    def _add_token_lists(self, batch: Batch, g: np.ndarray, failed: np.ndarray) -> None:
        seqs = [[] if f else _as_list(v, batch, i) for i, (v, f) in enumerate(zip(batch.values, failed, strict=True))]
        lengths = np.fromiter((max(len(s), 1) if f else len(s) for s, f in zip(seqs, failed, strict=True)),
                              dtype=np.int64, count=len(seqs))
        flat = _token_values(chain.from_iterable(seqs), int(lengths.sum() - failed.sum()), batch)
        gen = np.repeat(g, lengths)
        pos = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        code = np.empty(lengths.sum(), dtype=np.int64)
        fcell = np.repeat(failed, lengths)
        code[~fcell] = flat
        code[fcell] = -1
        reason = np.where(fcell, self.ids["reason"](FAILED), 0)
        self.sequence = self.sequence or any(isinstance(v, list | tuple | np.ndarray | str)
                                                                 for v in batch.values)
        self._append_cells(gen, pos, code, reason)

    def _token_rows(self, m: np.ndarray, c: np.ndarray, p: np.ndarray, s: np.ndarray) -> np.ndarray:
        uniq, inv = _group(m, c, p, s)
        out = np.empty(len(uniq), dtype=np.int64)
        for j, key in enumerate(map(tuple, uniq.tolist())):
            gid = self._token_gen.get(key)
            if gid is None:
                gid = self._token_gen[key] = self.n_gen
                self.n_gen += 1
                for role, v in zip(("model", "checkpoint", "prompt", "sample"), key, strict=True):
                    self.gen[role].append(np.asarray([v], dtype=np.int32))
            out[j] = gid
        return out[inv]

    def _add_token_rows(self, batch: Batch, g: np.ndarray) -> None:
        if not self.sample_given:
            raise SchemaError("a one-row-per-token table needs a sample column", where=batch.where(0),
                              fix="add the sample field (sample=)")
        pos = _token_values(iter(batch.position or ()), len(g), batch, what="position")
        if (pos < 0).any():
            i = int(np.argmax(pos < 0))
            raise SchemaError(f"negative position {int(pos[i])}", where=batch.where(i), fix="positions count from 0")
        code = _token_values(iter(batch.values), len(g), batch)
        self.sequence = True
        self._append_cells(g, pos, code, np.zeros(len(g), dtype=np.int64))


def _factorize_texts(values: Sequence[Any], batch: Batch) -> tuple[np.ndarray, list]:
    try:
        codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    except TypeError:
        raise _container_error(values, "text", batch) from None
    return codes.astype(np.int64), list(uniq)


def _as_list(value: Any, batch: Batch, i: int) -> list:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        parts = value.strip().strip("[]").replace(",", " ").split()
        try:
            return [int(x) for x in parts]
        except ValueError:
            raise SchemaError(f"cannot read token list {value[:80]!r}", where=batch.where(i),
                              fix="write token ids as a JSON list like [12, 7, 5]") from None
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return [value]


def _token_values(values: Any, count: int, batch: Batch, what: str = "token") -> np.ndarray:
    """Integer ids from an iterable; floats must be integral, nothing below -1."""
    items = list(values)
    try:
        arr = np.asarray(items, dtype=np.float64) if items else np.zeros(0)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != (len(items),) or any(isinstance(v, bool) for v in items[:1000]):
        bad = next((v for v in items if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating)
                    ), items[0] if items else None)
        raise SchemaError(f"{what} {bad!r} is not an integer id", where=batch.where(0),
                          fix="token ids must be integers (-1 for 'no token'); for text answers use text= and "
                          "encoder=")
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    if bad.any():
        raise SchemaError(f"{what} value {items[int(np.argmax(bad))]!r} is not an integer", where=batch.where(0),
                          fix="use -1 for missing tokens; map text answers with text= and encoder=")
    out = arr.astype(np.int64)
    if what == "token" and out.size and out.min() < -1:
        raise SchemaError(f"token value {int(out.min())} is below -1", where=batch.where(0),
                          fix="use -1 for 'no token' and non-negative state ids")
    return out
