"""The streaming builder: generations in, one canonical token array out, every one counted.

:class:`SampleSink` receives generations one at a time (from any reader), maps each label
to an integer id as it arrives and encodes each answer at once (through a cache, since
answer spaces repeat), so memory grows with a few integers per generation, never with the
texts. :meth:`SampleSink.to_dataset` then orders checkpoints (:mod:`.checkpoints`), scatters
the codes into the dense ``token`` array and writes the audit (:mod:`.audit`).

Every generation ends in exactly one of: parsed (a state), unparsed (with the encoder's
reason), or failed (the client's error). Items of list answers are counted the same way.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SchemaError
from .paths import MISSING

__all__ = ["SampleSink", "FAILED", "Keys"]

#: Reason recorded for a generation the client reports as failed.
FAILED = "request failed"
_MAX_DISTINCT_UNPARSED = 10_000
_N_EXAMPLES = 5


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


@dataclass
class Keys:
    """Where one generation belongs (labels as written; None where absent)."""

    model: Any = None
    checkpoint: Any = None
    step: Any = None
    stage: Any = None
    task: Any = None
    prompt: Any = None
    sample: Any = None


def _clean(value: Any) -> Any:
    """None for missing values (MISSING, None, NaN); the value otherwise."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


class SampleSink:
    """Collects generations into integer columns (see module docs).

    Parameters
    ----------
    encoder : an :class:`~phasekit.ingest.encoders.Encoder` for text answers, or None
        when the generations are token ids
    """

    def __init__(self, encoder: Any = None) -> None:
        self.encoder = encoder
        self.ids = {k: _Ids() for k in ("model", "checkpoint", "prompt", "sample", "reason")}
        self.ids["reason"](None)                         # reason id 0: parsed
        self.states = _Ids()
        if encoder is not None and encoder.labels is not None:
            for lab in encoder.labels:
                self.states(lab)
        self.gen = {k: array("q") for k in ("model", "checkpoint", "prompt", "sample")}
        self.cell = {k: array("q") for k in ("gen", "position", "code", "reason")}
        self.ck_step: dict[tuple[int, int], set] = {}
        self.ck_stage: dict[tuple[int, int], set] = {}
        self.prompt_task: dict[int, Any] = {}
        self.rows: Counter = Counter()                   # records read per (model, checkpoint)
        self.sample_given: bool | None = None
        self._next_sample: Counter = Counter()
        self._cache: dict[Any, Any] = {}
        self.unparsed_texts: Counter = Counter()
        self.failures: Counter = Counter()
        self.examples: dict[Any, str] = {}
        self.token_mode = encoder is None

    # ------------------------------------------------------------------ intake
    def record(self, model: Any, checkpoint: Any) -> None:
        """Count one input record (a line / row) for the audit."""
        ck = _clean(checkpoint)
        self.rows[(_clean(model), None if ck is None else str(ck))] += 1

    def _generation(self, keys: Keys, where: str) -> int:
        model, ck = _clean(keys.model), _clean(keys.checkpoint)
        if ck is None:
            raise SchemaError("a generation has no checkpoint", where=where,
                              fix="name the checkpoint field (checkpoint=), or pass name_pattern= to read "
                              "it from the model name or path")
        m_id, c_id = self.ids["model"](model), self.ids["checkpoint"](str(ck))
        task, prompt = _clean(keys.task), _clean(keys.prompt)
        p_id = self.ids["prompt"]((task, None if prompt is None else str(prompt)))
        self.prompt_task.setdefault(p_id, task)
        self._note_checkpoint(m_id, c_id, _clean(keys.step), _clean(keys.stage))
        sample = _clean(keys.sample)
        given = sample is not None
        if self.sample_given is None:
            self.sample_given = given
        elif given != self.sample_given:
            raise SchemaError("some generations have a sample id and others do not", where=where,
                              fix="give every generation a sample id (sample=), or none (numbered in order)")
        if not given:
            k = (m_id, c_id, p_id)
            sample = self._next_sample[k]
            self._next_sample[k] += 1
        g = len(self.gen["model"])
        for key, value in (("model", m_id), ("checkpoint", c_id), ("prompt", p_id)):
            self.gen[key].append(value)
        self.gen["sample"].append(self.ids["sample"](sample))
        return g

    def _note_checkpoint(self, m_id: int, c_id: int, step: Any, stage: Any) -> None:
        if step is not None:
            self.ck_step.setdefault((m_id, c_id), set()).add(step)
        if stage is not None:
            self.ck_stage.setdefault((m_id, c_id), set()).add(str(stage))

    def _cells(self, g: int, codes: Sequence[int], reasons: Sequence[int], start: int = 0) -> None:
        n = len(codes)
        self.cell["gen"].extend([g] * n)
        self.cell["position"].extend(range(start, start + n))
        self.cell["code"].extend(codes)
        self.cell["reason"].extend(reasons)

    def add_text(self, keys: Keys, text: Any, *, failure: Any = None, where: str = "") -> None:
        """One generated answer text (or a failed generation: ``failure`` set, no text)."""
        if self.encoder is None:
            raise SchemaError("the generations are answer texts, but no encoder was given", where=where,
                              fix="pass encoder='integer' | 'integer-list' | 'exact' (or answer_pattern=); "
                              "see docs/encoders.md")
        g = self._generation(keys, where)
        if _clean(failure) is not None:
            self.failures[str(failure)[:200]] += 1
            self._cells(g, [-1], [self.ids["reason"](FAILED)])
            return
        text = _clean(text)
        hit = self._cache.get(text) if isinstance(text, str | int | None) else None
        if hit is None:
            hit = self._encode(text)
            if isinstance(text, str | int | None) and len(self._cache) < 1_000_000:
                self._cache[text] = hit
        codes, reasons = hit
        self._cells(g, codes, reasons)
        if any(reasons):
            key = (None if text is None else str(text)[:200], self.ids["reason"].labels[max(reasons)])
            if key in self.unparsed_texts or len(self.unparsed_texts) < _MAX_DISTINCT_UNPARSED:
                self.unparsed_texts[key] += 1

    def _encode(self, text: Any) -> tuple[list[int], list[int]]:
        enc = self.encoder
        items = [enc.parse(text)] if enc.kind == "scalar" else enc.parse_list(text)
        if not items:
            items = [(None, "no answer")]
        codes, reasons = [], []
        for label, reason in items:
            if label is None:
                codes.append(-1)
                reasons.append(self.ids["reason"](reason or "unparsed"))
                continue
            if enc.labels is not None and label not in self.states.index:
                codes.append(-1)
                reasons.append(self.ids["reason"]("out of space"))
                continue
            code = self.states(label)
            codes.append(code)
            reasons.append(0)
            if len(self.examples) < 4 * _N_EXAMPLES and label not in self.examples:
                self.examples[label] = str(text)[:200]
        return codes, reasons

    def add_tokens(self, keys: Keys, tokens: Any, *, failure: Any = None, position: Any = None,
                   where: str = "") -> None:
        """Token ids of one generation (a list), or one token at ``position``."""
        if position is not None:
            if not self.sample_given and _clean(keys.sample) is None:
                raise SchemaError("a one-row-per-token table needs a sample column", where=where,
                                  fix="add the sample field (sample=)")
            g = self._generation_for_token(keys, where)
            ids = _token_ids([tokens], where)
            pos = int(position)
            if pos < 0:
                raise SchemaError(f"negative position {pos}", where=where, fix="positions count from 0")
            self._cells(g, ids, [0], start=pos)
            return
        g = self._generation(keys, where)
        if _clean(failure) is not None:
            self.failures[str(failure)[:200]] += 1
            self._cells(g, [-1], [self.ids["reason"](FAILED)])
            return
        ids = _token_ids(tokens, where)
        self._cells(g, ids, [0] * len(ids))

    def _generation_for_token(self, keys: Keys, where: str) -> int:
        k = (keys.model, keys.checkpoint, keys.task, keys.prompt, keys.sample)
        cache = self.__dict__.setdefault("_token_rows", {})
        g = cache.get(k)
        if g is None:
            g = cache[k] = self._generation(keys, where)
        return g


def _token_ids(tokens: Any, where: str) -> list[int]:
    """Integer token ids from a list (or a JSON/space-separated string of ids)."""
    if isinstance(tokens, str):
        s = tokens.strip().strip("[]").replace(",", " ").split()
        try:
            tokens = [int(x) for x in s]
        except ValueError:
            raise SchemaError(f"cannot read token list {tokens[:80]!r}", where=where,
                              fix="write token ids as a JSON list like [12, 7, 5]") from None
    if tokens is None:
        return []
    if isinstance(tokens, int | np.integer) and not isinstance(tokens, bool):
        tokens = [tokens]
    out = []
    for t in tokens:
        if isinstance(t, bool) or not isinstance(t, int | np.integer | float):
            raise SchemaError(f"token {t!r} is not an integer id", where=where,
                              fix="token ids must be integers; for text answers use text= and encoder=")
        if isinstance(t, float) and (t != t or t != int(t)):
            raise SchemaError(f"token value {t!r} is not an integer", where=where,
                              fix="use -1 for missing tokens; map text answers with text= and encoder=")
        if t < -1:
            raise SchemaError(f"token value {int(t)} is below -1", where=where,
                              fix="use -1 for 'no token' and non-negative state ids")
        out.append(int(t))
    return out

