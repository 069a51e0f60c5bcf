"""Encoders: map answer texts (chat answers, base-model continuations) to states.

An encoder reads the **answer** a text gives, and never invents one. Every text is either
mapped to a state label or left unparsed with one of a fixed set of reasons (the audit
groups by them):

=======================  ===============================================================
reason                   meaning
=======================  ===============================================================
``EMPTY``                no text (``None``, NaN, ``""``, only whitespace or markup)
``NOT_TEXT``             a value that is not a text (a bool, a dict, a list for a scalar)
``REASONING_ONLY``       an unclosed ``<think>`` block: the generation stopped reasoning
``NO_NUMBER``            (integer) no number once the task's restatement is removed
``DECIMAL``              (integer) the answer is a decimal (``"3.5"``), never rounded
``AMBIGUOUS``            two different answers (``"7 or 8"``, ``"3, 5"``)
``OUT_OF_SPACE``         a readable answer that is not one of ``states``
``NO_MATCH``             ``answer_pattern`` did not match (or its group was empty)
``CALLABLE_NONE``        a user's callable encoder returned ``None``
=======================  ===============================================================

The integer rule (``encoder="integer"``; ``"integer-list"`` applies it per item) is stated
in :data:`INTEGER_RULE` and in ``docs/encoders.md``; the exact rule in :data:`EXACT_RULE`.

Speed: :func:`encode_texts` parses each *distinct* text once (answer spaces repeat heavily)
and maps the rest with array indexing; all regexes are compiled at import.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError

__all__ = [
    "Encoder", "EncodedTexts", "build_encoder", "encode_texts", "encode_answers",
    "integer_encoder", "read_integer", "read_integer_list", "normalize_text", "ENCODER_NAMES", "REASONS",
    "EMPTY", "NOT_TEXT", "REASONING_ONLY", "NO_NUMBER", "DECIMAL", "AMBIGUOUS",
    "OUT_OF_SPACE", "NO_MATCH", "CALLABLE_NONE", "INTEGER_RULE", "INTEGER_LIST_RULE",
    "EXACT_RULE",
]

EMPTY = "empty answer"
NOT_TEXT = "not a text"
REASONING_ONLY = "reasoning only"
NO_NUMBER = "no number"
DECIMAL = "decimal"
AMBIGUOUS = "ambiguous"
OUT_OF_SPACE = "out of space"
NO_MATCH = "no match for answer_pattern"
CALLABLE_NONE = "encoder returned None"
#: Every reason an encoder can give, in the order the audit lists them.
REASONS = (EMPTY, NOT_TEXT, REASONING_ONLY, NO_NUMBER, DECIMAL, AMBIGUOUS, OUT_OF_SPACE,
           NO_MATCH, CALLABLE_NONE)
#: The encoder names accepted by :func:`build_encoder` (besides a callable).
ENCODER_NAMES = ("integer", "integer-list", "exact", "regex")

INTEGER_RULE = (
    "Integer rule: the text is Unicode-normalised (NFKC); reasoning blocks (<think>...</think>, "
    "<thinking>, <reasoning>, and everything before a lone closing tag) are removed, and a "
    "text that opens a reasoning block without closing it is unparsed ('reasoning only'). "
    "If the answer is marked - \\boxed{...}, <answer>...</answer>, 'answer:'/'answer is', or "
    "a bold number **7** - only the marked part is read. Markdown (code fences, emphasis, "
    "headings, LaTeX delimiters) is ignored. Phrases that restate the task are removed before "
    "reading: ranges ('between 1 and 10', 'from 1 to 10', '1 to 10', '1-10', '1\u201310', "
    "'[1, 10]', '(1, 10)', 'out of 10', 'out of 1-10', 'up to 10', 'scale of 10', '1 <= n <= 10') and counts ('10 random "
    "numbers', 'ten-sided'). The numbers left are read: digits (a leading '-' or '\u2212' makes "
    "a number negative; '7.' and '7!' are 7) and, only when no digit is left, number words "
    "('seven', 'twenty-one', 'minus three', 'zero'; 'one' as a pronoun - 'here's one', 'pick one', "
    "'one of' - is not a number). One distinct integer is the answer "
    "(repeats such as '7 ... I chose 7' are one answer); two or more distinct numbers are "
    "'ambiguous', a decimal ('3.5', '7.0') is 'decimal' (never rounded), nothing left is "
    "'no number', and with states= an integer that is not a state is 'out of space'. "
    "Digits glued to letters ('mp3', '7th', '4B') are not numbers."
)
INTEGER_LIST_RULE = (
    "Integer-list rule: the text is prepared as for the integer rule (NFKC, reasoning blocks, "
    "answer markers, markdown). It is cut into segments at line breaks, colons and sentence "
    "ends; bullets and numbered-list markers ('1. 4', '2) 8', '3: 15', numbered 1, 2, 3... in order) "
    "are not items. Task restatements (ranges, '10 random numbers') are removed. A segment "
    "holding only numbers and separators (commas, spaces, semicolons, brackets, 'and', '...') "
    "is a list segment; its numbers are the items, in order. Other segments are prose (an "
    "intro such as 'Here are ten numbers:' or an outro) and are ignored when a list segment "
    "exists; otherwise the numbers of the prose are the items (digits first, number words "
    "only if no digit). Each item follows the integer rule: a decimal item is 'decimal', "
    "'7 or 8' and '7-8' are one 'ambiguous' item, an item outside states= is 'out of space'. "
    "A text with no item is one unparsed item with its reason."
)
EXACT_RULE = (
    "Exact rule: with normalize=True the text is Unicode-normalised (NFKC), reasoning blocks "
    "are removed as for the integer rule, whitespace runs become one space, case is folded, "
    "and surrounding punctuation, quotes, brackets and markdown (**, __, `, #, code fences) "
    "are stripped ('**Paris.**' -> 'paris'); the result is the label. The alias map (keys "
    "normalised the same way) is applied after normalisation. With states= the states are "
    "normalised for matching and the labels stay as given; any other answer is 'out of "
    "space'. With normalize=False the text is the label as written. An empty result is "
    "'empty answer'."
)

# --------------------------------------------------------------------------- regexes
_WORD_MARK = "\u2063"  # invisible separator: marks a number that was written as words
_REASONING_TAGS = r"(?:think|thinking|reasoning|thought)"
_RE_REASONING_BLOCK = re.compile(rf"<{_REASONING_TAGS}>.*?</{_REASONING_TAGS}>", re.S | re.I)
_RE_REASONING_CLOSE = re.compile(rf"^.*</{_REASONING_TAGS}>", re.S | re.I)
_RE_REASONING_OPEN = re.compile(rf"<{_REASONING_TAGS}>.*$", re.S | re.I)
_RE_FAST_INT = re.compile(r"\s*([-+]?\d{1,18})\s*[.!]?\s*")
_RE_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_RE_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_RE_ANSWER_MARK = re.compile(r"\b(?:final\s+)?answer\s*(?:is\b|:|=)", re.I)
_RE_BOLD_NUMBER = re.compile(r"(\*\*|__)\s*([-+]?\d+(?:\.\d+)?|[a-z]+(?:[- ][a-z]+)?)\s*[.!]?\s*\1",
                             re.I)
_RE_FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.M)
_RE_HEADING = re.compile(r"^[ \t]{0,3}(?:#{1,6}|>+)[ \t]*", re.M)
_RE_LATEX_CMD = re.compile(r"\\[a-zA-Z]+|\\[()\[\]]")
_RE_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,40}>")
_RE_EMPHASIS = re.compile(r"[*_`~${}]")

_N = rf"[-+]?\d+(?:\.\d+)?{_WORD_MARK}?"  # a number inside a range phrase
_DASH = r"(?:-|\u2013|\u2014|\u2012|\u2015)"
_RANGE_WORDS = (
    rf"\bbetween\s+{_N}\s*(?:and|&|to|{_DASH})\s*{_N}",
    rf"\bfrom\s+{_N}\s*(?:to|through|thru|until|till|{_DASH})\s*{_N}",
    rf"(?<![\w.]){_N}\s*(?:to|through|thru|\.\.\.?)\s*{_N}(?!\w)",
    rf"\b(?:out\s+of|up\s+to|scale\s+of)\s+{_N}(?:\s*(?:to|through|\.\.\.?|{_DASH})\s*{_N})?",
    rf"(?<![\w.]){_N}\s*(?:<=?|\u2264)\s*[a-z]\w*\s*(?:<=?|\u2264)\s*{_N}",
)
_RANGE_SYMBOLS = (
    rf"(?<![\w.]){_N}\s*{_DASH}\s*{_N}(?!\w)",
    rf"[\[(]\s*{_N}\s*[,;]\s*{_N}\s*[\])]",
)
_COUNT_PHRASES = (
    rf"(?<![\w.]){_N}[\s-]*sided\b",
    rf"(?<![\w.]){_N}\s+(?:[a-z]+\s+)?(?:numbers?|integers?|digits?|values|picks|options|choices)\b",
)
_RE_RANGE_SCALAR = re.compile("|".join(_RANGE_WORDS + _RANGE_SYMBOLS + _COUNT_PHRASES), re.I)
_RE_RANGE_LIST_WORDS = re.compile("|".join(_RANGE_WORDS + _COUNT_PHRASES), re.I)
_RE_RANGE_LIST_SYMBOLS = re.compile("|".join(_RANGE_SYMBOLS), re.I)
_RE_NUMBER = re.compile(rf"(?<![\w.])(?<!\w-)([-+]?)(\d+)(\.\d+)?({_WORD_MARK}?)(?!\w)(?!\.\d)")

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
         if w != "_"}
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_RE_WORD_RUN = re.compile(
    rf"\b(?:(?:minus|negative)\s+)?(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*\b", re.I)
_RE_WORD_SPLIT = re.compile(r"(\s+and\s+|[\s-]+)")
#: "one" as a pronoun ("here's one", "pick one", "one of"), not the number 1
_RE_PRONOUN_ONE = re.compile(
    r"\b(?:here[\u2019']?s|here\s+is|pick|choose|select|give|a|an|the|any|another|no|each|every|this|"
    r"that|which|such|some|just|only)\s+one\b|\bone(?=\s+(?:of|more|another|that|which|who|for|i)\b)", re.I)

_RE_SEGMENT_SPLIT = re.compile(r"\n|(?<!\d):|:(?!\d)|(?<=[.!?])\s+(?=[A-Z])")
_RE_LINE_MARKER = re.compile(r"^[ \t]*(?:[-*\u2022+\u25cf\u25aa]|(\d+)[.):])[ \t]+(?=\S)")
_RE_INLINE_MARKER = re.compile(r"(?<!\S)(\d+)[.)]\s+(?=[-+]?\d)")
_RE_FILLER = re.compile(r"\b(?:and|etc)\b|[\s,;.!?\[\](){}|/&\u2026'\"]+", re.I)
_RE_OR_GROUP = re.compile(rf"(?<![\w.]){_N}(?:(?:\s*\bor\b\s*|{_DASH}|\s+{_DASH}\s+|/){_N})+(?!\w)", re.I)
_EXACT_STRIP = " \t\r\n.,!?;:'\"`*_#()[]{}<>\u00ab\u00bb\u201c\u201d\u2018\u2019\u201e\u2039\u203a\u3002\uff0c-\u2013\u2014~"
_RE_SPACES = re.compile(r"\s+")


# --------------------------------------------------------------------------- text preparation
def _is_missing(text: Any) -> bool:
    if text is None or text is pd.NA or text is pd.NaT:
        return True
    return isinstance(text, float | np.floating) and math.isnan(text)


def _strip_reasoning(s: str) -> tuple[str, str | None]:
    """Remove ``<think>…</think>`` blocks; text up to a lone closing tag is reasoning too.
    An opening tag never closed means the generation is still reasoning: ``REASONING_ONLY``
    unless an answer stands before it."""
    if "<" not in s:
        return s, None
    s = _RE_REASONING_BLOCK.sub(" ", s)
    s = _RE_REASONING_CLOSE.sub(" ", s)
    stripped = _RE_REASONING_OPEN.sub(" ", s)
    if stripped != s and not stripped.strip():
        return "", REASONING_ONLY
    return stripped, None


def _prepare(text: str) -> tuple[str, str | None]:
    """NFKC, the minus sign as ``-``, reasoning removed. Returns (text, reason or None)."""
    s = unicodedata.normalize("NFKC", text).replace("\u2212", "-").replace(_WORD_MARK, "")
    s, reason = _strip_reasoning(s)
    if reason is None and not s.strip():
        reason = EMPTY
    return s, reason


def _strip_markdown(s: str) -> str:
    s = _RE_FENCE.sub(" ", s)
    s = _RE_HEADING.sub(" ", s)
    s = _RE_TAG.sub(" ", s)
    s = _RE_LATEX_CMD.sub(" ", s)
    return _RE_EMPHASIS.sub(" ", s)


def _answer_focus(s: str, *, bold: bool) -> str:
    """The part of the text that is marked as the answer, else the whole text.

    Precedence: ``\\boxed{}``, ``<answer>`` tags, the text after the last "answer:" /
    "answer is", then (scalar answers only) bold numbers ``**7**``."""
    boxed = _RE_BOXED.findall(s)
    if boxed:
        return " ; ".join(boxed)
    tagged = _RE_ANSWER_TAG.findall(s)
    if tagged:
        return " ; ".join(tagged)
    plain = _RE_EMPHASIS.sub(" ", s) if "*" in s or "_" in s else s
    marks = list(_RE_ANSWER_MARK.finditer(plain))
    if marks:
        return plain[marks[-1].end():]
    if bold:
        spans = [m.group(2) for m in _RE_BOLD_NUMBER.finditer(s)]
        spans = [b for b in spans if any(c.isdigit() for c in b) or _RE_WORD_RUN.fullmatch(b)]
        if spans:
            return " ; ".join(spans)
    return s


# --------------------------------------------------------------------------- number words
def _word_run_value(words: list[str]) -> list[int]:
    """Numbers in a run of number words: greedy compounds ("twenty one", "one hundred and
    five"); a word that cannot extend the current number starts a new one ("one two")."""
    out: list[int] = []
    total, cur, last = 0, 0, None
    for w in words:
        if w in _UNITS:
            v, kind = _UNITS[w], "unit"
            ok = last in ("tens", "hundred", "thousand") and (last != "tens" or 0 < v < 10) and v < (
                10 if last == "tens" else 100) and w != "zero"
        elif w in _TENS:
            v, kind = _TENS[w], "tens"
            ok = last in ("hundred", "thousand")
        else:
            v, kind = _SCALES[w], w
            ok = (w == "hundred" and last in ("unit", "tens") and cur < 100 and cur % 100 == cur) or (
                w == "thousand" and last in ("unit", "tens", "hundred") and total == 0)
        if last is not None and not ok:
            out.append(total + cur)
            total, cur, last = 0, 0, None
        if kind == "hundred":
            if last is None:
                return out + [-1]  # a bare "hundred" is not a number we read
            cur *= 100
        elif kind == "thousand":
            if last is None:
                return out + [-1]
            total, cur = (total + cur) * 1000, 0
        else:
            cur += v
        last = kind
    out.append(total + cur)
    return out


def _words_to_digits(s: str) -> str:
    """Replace number words by digits, each followed by :data:`_WORD_MARK`."""
    if not any(c.isalpha() for c in s):
        return s
    s = _RE_PRONOUN_ONE.sub(lambda m: m.group(0)[:-3] + "someone", s)  # every match ends in "one"

    def repl(m: re.Match[str]) -> str:
        parts = _RE_WORD_SPLIT.split(m.group(0).lower())
        words, seps = parts[::2], ["", *parts[1::2]]  # seps[i]: the separator before words[i]
        sign = ""
        if words[0] in ("minus", "negative"):
            sign, words, seps = "-", words[1:], ["", *seps[2:]]
        # keep "and" between separate numbers ("one and ten") as text
        pieces: list[str] = []
        group: list[str] = []
        for w, sep in zip(words, seps, strict=True):
            if group and sep.strip() == "and" and group[-1] not in _SCALES:
                pieces.append(_render_words(group, sign) + " and ")
                group, sign = [], ""
            group.append(w)
        pieces.append(_render_words(group, sign))
        return "".join(pieces)

    return _RE_WORD_RUN.sub(repl, s)


def _render_words(words: list[str], sign: str) -> str:
    values = _word_run_value(words)
    if any(v < 0 for v in values):
        return " ".join(words)
    return " ".join(f"{sign if i == 0 else ''}{v}{_WORD_MARK}" for i, v in enumerate(values))


# --------------------------------------------------------------------------- integer rule
def _numbers(s: str) -> list[tuple[str, bool]]:
    """(number as written without the word mark, written-as-words?) for each number in s."""
    return [(f"{m.group(1) if m.group(1) == '-' else ''}{m.group(2)}{m.group(3) or ''}", bool(m.group(4)))
            for m in _RE_NUMBER.finditer(s)]


def _single_value(nums: list[tuple[str, bool]]) -> tuple[int | None, str | None]:
    """The one answer among numbers: digits before words; >1 distinct value is ambiguous."""
    if not nums:
        return None, NO_NUMBER
    digits = [n for n, w in nums if not w]
    chosen = digits if digits else [n for n, _ in nums]
    distinct = {n if "." in n else int(n) for n in chosen}
    if len(distinct) > 1:
        return None, AMBIGUOUS
    (only,) = distinct
    if isinstance(only, str):
        return None, DECIMAL
    return only, None


def read_integer(text: Any) -> tuple[int | None, str | None]:
    """The integer an answer states, by :data:`INTEGER_RULE`: ``(value, None)`` or
    ``(None, reason)``. No states are applied here (see :meth:`Encoder.parse`)."""
    pre = _non_text_value(text)
    if pre is not None:
        return pre
    m = _RE_FAST_INT.fullmatch(text)
    if m:
        return int(m.group(1)), None
    s, reason = _prepare(text)
    if reason:
        return None, reason
    s = _answer_focus(s, bold=True)
    s = _strip_markdown(s)
    if not s.strip():
        return None, EMPTY
    s = _words_to_digits(s)
    if not any(c.isdigit() for c in s):
        return None, NO_NUMBER
    return _single_value(_numbers(_RE_RANGE_SCALAR.sub(" ", s)))


def _non_text_value(text: Any) -> tuple[int | None, str | None] | None:
    """Values that are not strings: missing, bool, int, float; ``None`` for a string."""
    if isinstance(text, str):
        return None
    if _is_missing(text):
        return None, EMPTY
    if isinstance(text, bool | np.bool_):
        return None, NOT_TEXT
    if isinstance(text, int | np.integer):
        return int(text), None
    if isinstance(text, float | np.floating):
        return (int(text), None) if float(text).is_integer() else (None, DECIMAL)
    return None, NOT_TEXT


def integer_encoder(text: Any) -> int | None:
    """The integer an answer states by :data:`INTEGER_RULE`, ``None`` when unparsed.

    >>> integer_encoder("Between 1 and 10, I pick 3."), integer_encoder("Seven."), integer_encoder("3.5")
    (3, 7, None)
    """
    return read_integer(text)[0]


# --------------------------------------------------------------------------- integer-list rule
def _strip_line_markers(s: str) -> str:
    """Remove bullets, and numbered-list markers when two or more lines count 1, 2, 3…
    (or 0, 1, 2…) in order; a single line may hold an inline numbered list."""
    lines = [_strip_inline_markers(line) for line in s.split("\n")]
    marks = [_RE_LINE_MARKER.match(line) for line in lines]
    numbered = [int(m.group(1)) for m in marks if m and m.group(1) is not None]
    sequential = len(numbered) >= 2 and numbered[0] in (0, 1) and \
        numbered == list(range(numbered[0], numbered[0] + len(numbered)))
    out = []
    for line, m in zip(lines, marks, strict=True):
        if m and (m.group(1) is None or sequential):
            line = line[m.end():]
        out.append(line)
    return "\n".join(out)


def _strip_inline_markers(seg: str) -> str:
    """'1. 42 2. 17 3. 89': markers 1, 2, 3… alternating with values are not items."""
    marks = list(_RE_INLINE_MARKER.finditer(seg))
    if len(marks) < 2 or [int(m.group(1)) for m in marks] != list(range(1, len(marks) + 1)):
        return seg
    starts = {m.start(1) for m in marks}
    pattern = [n.start(2) in starts for n in _RE_NUMBER.finditer(seg)]
    if pattern != [True, False] * len(marks):
        return seg
    for m in reversed(marks):
        seg = seg[:m.start(1)] + " " * (m.end() - m.start(1)) + seg[m.end():]
    return seg


def _segment_items(seg: str) -> tuple[list[tuple[str, bool] | str], bool]:
    """Items of one segment and whether it is a pure list (numbers and separators only).
    An item is (number, written-as-words) or a reason (``AMBIGUOUS`` for '7 or 8', '7-8')."""
    seg = _RE_RANGE_LIST_WORDS.sub(" ", seg)
    bare = _RE_FILLER.sub(" ", _RE_NUMBER.sub(" ", _RE_OR_GROUP.sub(" ", seg)))
    is_list = not re.search(r"[^\W\d_]", bare)
    if not is_list:  # in prose, '1-10' and '[1, 10]' restate the task
        seg = _RE_RANGE_LIST_SYMBOLS.sub(" ", seg)
    items: list[tuple[str, bool] | str] = []
    pos = 0
    for m in _RE_OR_GROUP.finditer(seg):
        items.extend(_numbers(seg[pos:m.start()]))
        items.append(AMBIGUOUS)
        pos = m.end()
    items.extend(_numbers(seg[pos:]))
    return items, is_list


def read_integer_list(text: Any) -> list[tuple[int | None, str | None]]:
    """Items of a list answer by :data:`INTEGER_LIST_RULE`: one (value, reason) per item;
    a text without an item gives one unparsed entry with its reason."""
    if isinstance(text, list | tuple | np.ndarray):
        return [read_integer(t) for t in text] or [(None, EMPTY)]
    pre = _non_text_value(text)
    if pre is not None:
        return [pre]
    s, reason = _prepare(text)
    if reason:
        return [(None, reason)]
    s = _strip_markdown(_answer_focus(s, bold=False))
    s = _words_to_digits(_strip_line_markers(s))
    lists: list[tuple[str, bool] | str] = []
    prose: list[tuple[str, bool] | str] = []
    for seg in _RE_SEGMENT_SPLIT.split(s):
        if seg and seg.strip():
            items, is_list = _segment_items(seg)
            (lists if is_list else prose).extend(items)
    items = lists if lists else _prefer_digits(prose)
    if not items:
        return [(None, NO_NUMBER if s.strip() else EMPTY)]
    return [(None, i) if isinstance(i, str) else _single_value([i]) for i in items]


def _prefer_digits(items: list[tuple[str, bool] | str]) -> list[tuple[str, bool] | str]:
    """In prose, number words count only when no digit is written (as for one answer)."""
    if any(not isinstance(i, str) and not i[1] for i in items):
        return [i for i in items if isinstance(i, str) or not i[1]]
    return items


# --------------------------------------------------------------------------- exact rule
def normalize_text(text: str) -> str:
    """The exact rule's normal form: NFKC, reasoning removed, code fences and markdown
    marks dropped, whitespace collapsed, case folded, surrounding punctuation stripped.

    >>> normalize_text('  **"Paris."**  '), normalize_text("ＰＡＲＩＳ"), normalize_text("New   York!")
    ('paris', 'paris', 'new york')
    """
    s, _ = _prepare(text)
    s = _RE_FENCE.sub(" ", s).replace("**", " ").replace("__", " ")
    s = _RE_SPACES.sub(" ", s).casefold()
    return s.strip(_EXACT_STRIP)


def _read_exact(text: Any, normalize: bool) -> tuple[str | None, str | None]:
    if _is_missing(text):
        return None, EMPTY
    if isinstance(text, bool | np.bool_) or not isinstance(text, str | int | np.integer | float):
        return None, NOT_TEXT
    s = str(text)
    if normalize:
        pre, reason = _prepare(s)
        if reason == REASONING_ONLY:
            return None, reason
        s = normalize_text(s)
    return (s, None) if s else (None, EMPTY)


# --------------------------------------------------------------------------- the encoder
@dataclass(frozen=True, eq=False)
class Encoder:
    """A fixed, picklable mapping from answer texts to state labels (see :func:`build_encoder`).

    ``parse`` (scalar kind) returns ``(label, None)`` or ``(None, reason)``; ``parse_list``
    returns one such pair per item. With ``labels`` (from ``states=``) every label returned
    is one of them, as given; otherwise labels are the parsed values (ints for the integer
    rule, normal forms for the exact rule, whatever a callable returns).
    """

    name: str
    kind: str
    rule: str
    labels: list[Hashable] | None
    method: str = "exact"
    pattern: re.Pattern[str] | None = None
    normalize: bool = True
    aliases: dict[str, Hashable] | None = None
    func: Callable[[Any], Hashable | None] | None = None
    state_keys: dict[Hashable, Hashable] | None = None

    def parse(self, text: Any) -> tuple[Hashable | None, str | None]:
        """``(label, None)`` or ``(None, reason)`` for one answer (scalar kind)."""
        if self.kind != "scalar":
            raise SchemaError(f"the {self.name!r} encoder reads lists", where="Encoder.parse",
                              fix="call parse_list(text) (one entry per item)")
        if self.pattern is None:
            return self._label(*self._read(text))
        results = {self._label(*self._read(part)) if reason is None else (None, reason)
                   for part, reason in _extract(self.pattern, text, self.normalize)}
        return results.pop() if len(results) == 1 else (None, AMBIGUOUS)

    def parse_list(self, text: Any) -> list[tuple[Hashable | None, str | None]]:
        """One ``(label, None)`` / ``(None, reason)`` per item of a list answer; a scalar
        encoder gives one entry."""
        if self.kind == "scalar":
            return [self.parse(text)]
        if self.pattern is not None:
            parts = _extract(self.pattern, text, self.normalize)
            if parts[0][1] is not None:
                return [(None, parts[0][1])]
            text = "\n".join(p for p, _ in parts)
        return [self._label(v, r) for v, r in read_integer_list(text)]

    def _read(self, text: Any) -> tuple[Hashable | None, str | None]:
        if self.method == "integer":
            return read_integer(text)
        if self.method == "exact":
            value, reason = _read_exact(text, self.normalize)
            if value is not None and self.aliases and value in self.aliases:
                return self.aliases[value], None
            return value, reason
        return _call(self.func, self.name, text)

    def _label(self, value: Hashable | None, reason: str | None) -> tuple[Hashable | None, str | None]:
        if reason is not None or self.state_keys is None:
            return value, reason
        try:
            label = self.state_keys.get(value, _ABSENT)
        except TypeError:
            raise SchemaError(f"the encoder {self.name!r} returned an unhashable label {value!r}",
                              where="encoder", fix="return a str, int or other hashable label") from None
        return (None, OUT_OF_SPACE) if label is _ABSENT else (label, None)


_ABSENT = object()


def _call(func: Any, name: str, text: Any) -> tuple[Hashable | None, str | None]:
    """A user's callable on one text: ``None`` → ``CALLABLE_NONE``; an exception → SchemaError."""
    if _is_missing(text) or (isinstance(text, str) and not text):
        return None, EMPTY
    try:
        value = func(text)
    except Exception as exc:  # noqa: BLE001 - reported with the text that caused it
        shown = str(text)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise SchemaError(f"the encoder {name!r} raised {type(exc).__name__}: {exc} on the answer {shown!r}",
                          where="encoder", fix="make the callable return a label, or None for an "
                          "answer it cannot read (counted as unparsed)") from exc
    if value is None:
        return None, CALLABLE_NONE
    try:
        hash(value)
    except TypeError:
        raise SchemaError(f"the encoder {name!r} returned an unhashable label {value!r}",
                          where="encoder", fix="return a str, int or other hashable label") from None
    return value, None


def _extract(pattern: re.Pattern[str], text: Any, normalize: bool) -> list[tuple[str, str | None]]:
    """Every match of ``answer_pattern``: group ``answer``, else group 1, else the match.
    Searched after reasoning blocks are removed (when ``normalize``)."""
    if _is_missing(text):
        return [("", EMPTY)]
    if not isinstance(text, str | int | np.integer):
        return [("", NOT_TEXT)]
    s = str(text)
    if normalize:
        s, reason = _prepare(s)
        if reason:
            return [("", reason)]
    group: int | str = "answer" if "answer" in pattern.groupindex else (1 if pattern.groups else 0)
    found = [m.group(group) for m in pattern.finditer(s)]
    found = [f for f in found if f]
    return [(f, None) for f in found] or [("", NO_MATCH)]


# --------------------------------------------------------------------------- building
def build_encoder(
    encoder: str | Callable[[Any], Hashable | None] | Encoder | None = None,
    *,
    states: Sequence[Hashable] | None = None,
    answer_pattern: str | None = None,
    normalize: bool = True,
    aliases: Mapping[str, Hashable] | None = None,
) -> Encoder:
    """The encoder for ``encoder=`` (a name in :data:`ENCODER_NAMES`, a callable
    ``text -> label | None``, or an :class:`Encoder`), with its options checked.

    ``answer_pattern`` (a regex: group ``answer``, else group 1, else the whole match) is
    applied first; ``encoder=None`` with a pattern means regex then exact. ``states`` fixes
    the labels and their order; anything else is ``OUT_OF_SPACE``.

    >>> enc = build_encoder("integer", states=range(1, 11))
    >>> enc.parse("Between 1 and 10, I pick 3."), enc.parse("11"), enc.parse("7 or 8")
    ((3, None), (None, 'out of space'), (None, 'ambiguous'))
    """
    if isinstance(encoder, Encoder):
        if states is not None or answer_pattern is not None or aliases is not None:
            raise SchemaError("an Encoder is already built with its states, pattern and aliases",
                              where="build_encoder", fix="pass the encoder alone, or its name with options")
        return encoder
    method, name, kind = _method_of(encoder, answer_pattern)
    pattern = _compile_pattern(answer_pattern)
    if aliases is not None and method != "exact":
        raise SchemaError(f"aliases= apply to the exact encoder, not {name!r}", where="aliases=",
                          fix="use encoder='exact' (or answer_pattern= alone), or map labels in a callable")
    labels, state_keys = _state_keys(states, method, normalize)
    alias_map = _alias_map(aliases, normalize, state_keys)
    rule = _rule_text(method, kind, name, answer_pattern, labels, alias_map, normalize)
    return Encoder(name=name, kind=kind, rule=rule, labels=labels, method=method, pattern=pattern,
                   normalize=normalize, aliases=alias_map,
                   func=encoder if method == "callable" and callable(encoder) else None,
                   state_keys=state_keys)


def _method_of(encoder: Any, answer_pattern: str | None) -> tuple[str, str, str]:
    """(method, name, kind) for ``encoder=``; unknown names are an error naming the valid ones."""
    valid = ", ".join(repr(n) for n in ENCODER_NAMES)
    if encoder is None or encoder == "regex":
        if answer_pattern is None:
            what = "no encoder was given" if encoder is None else "encoder='regex' needs answer_pattern="
            raise SchemaError(what, where="encoder=",
                              fix=f"pass encoder= one of {valid} or a callable text -> label, "
                              "or answer_pattern= a regex")
        return "exact", "regex", "scalar"
    if isinstance(encoder, str):
        if encoder == "integer":
            return "integer", "integer", "scalar"
        if encoder == "integer-list":
            return "integer", "integer-list", "list"
        if encoder == "exact":
            return "exact", "exact", "scalar"
        raise SchemaError(f"unknown encoder {encoder!r}", where="encoder=",
                          fix=f"use one of {valid} or a callable text -> label (None if unreadable)")
    if callable(encoder):
        return "callable", getattr(encoder, "__name__", type(encoder).__name__), "scalar"
    raise SchemaError(f"encoder={encoder!r} is neither a name nor a callable", where="encoder=",
                      fix=f"use one of {valid} or a callable text -> label")


def _compile_pattern(answer_pattern: str | None) -> re.Pattern[str] | None:
    if answer_pattern is None:
        return None
    try:
        return re.compile(answer_pattern)
    except re.error as exc:
        raise SchemaError(f"answer_pattern {answer_pattern!r} is not a valid regex: {exc}",
                          where="answer_pattern=",
                          fix=r"write a Python regex, e.g. 'Answer: (?P<answer>\w+)'") from None


def _integer_state(s: Any) -> int | None:
    if isinstance(s, bool | np.bool_):
        return None
    if isinstance(s, int | np.integer):
        return int(s)
    if isinstance(s, float | np.floating) and float(s).is_integer():
        return int(s)
    if isinstance(s, str) and re.fullmatch(r"\s*[-+]?\d+\s*", s):
        return int(s)
    return None


def _state_keys(states: Any, method: str, normalize: bool
                ) -> tuple[list[Hashable] | None, dict[Hashable, Hashable] | None]:
    """(labels as given, matching key -> label): integers for the integer rule, normal forms
    for the exact rule, the labels themselves for a callable."""
    if states is None:
        return None, None
    if isinstance(states, str | bytes) or not hasattr(states, "__iter__"):
        raise SchemaError(f"states={states!r} is not a list of labels", where="states=",
                          fix="pass the list of possible answers, e.g. states=range(1, 11)")
    labels = list(states)
    if not labels:
        raise SchemaError("states= is empty", where="states=", fix="list the possible answers")
    keys: dict[Hashable, Hashable] = {}
    for lab in labels:
        try:
            hash(lab)
        except TypeError:
            raise SchemaError(f"state label {lab!r} is not hashable", where="states=",
                              fix="use str or int labels") from None
        key: Hashable
        if method == "integer":
            key = _integer_state(lab)
            if key is None:
                raise SchemaError(f"state label {lab!r} is not an integer", where="states=",
                                  fix="with encoder='integer' every state label must be an integer "
                                  "(7 or '7'); use encoder='exact' for word labels")
        elif method == "exact":
            key = normalize_text(str(lab)) if normalize else str(lab)
        else:
            key = lab
        if key in keys:
            raise SchemaError(f"state labels {keys[key]!r} and {lab!r} are the same answer ({key!r})",
                              where="states=", fix="list each answer once")
        keys[key] = lab
    return labels, keys


def _alias_map(aliases: Mapping[str, Hashable] | None, normalize: bool,
               state_keys: dict[Hashable, Hashable] | None) -> dict[str, Hashable] | None:
    """Aliases keyed by the normal form; with states each target must be a state (matched
    like an answer), and the alias then yields that state's label as given."""
    if aliases is None:
        return None
    out: dict[str, Hashable] = {}
    for key, target in dict(aliases).items():
        k = normalize_text(str(key)) if normalize else str(key)
        if state_keys is not None:
            t = normalize_text(str(target)) if normalize else str(target)
            if t not in state_keys:
                raise SchemaError(f"alias {key!r} -> {target!r} names no state", where="aliases=",
                                  fix="map each alias to one of states=")
            out[k] = t
        else:
            out[k] = target
    return out


def _rule_text(method: str, kind: str, name: str, pattern: str | None, labels: Any,
               aliases: Any, normalize: bool) -> str:
    if method == "integer":
        base = INTEGER_LIST_RULE if kind == "list" else INTEGER_RULE
    elif method == "exact":
        base = EXACT_RULE if normalize else ("Exact rule without normalisation: each distinct text "
                                             "is a label as written; an empty text is 'empty answer'.")
    else:
        base = (f"The user's callable {name!r} maps each text to a label; None is "
                "'encoder returned None'; missing or empty texts are 'empty answer'.")
    if pattern is not None:
        base = (f"First the regex {pattern!r} is searched (after reasoning blocks are removed"
                f"{'' if normalize else ', off with normalize=False'}); its group 'answer', else "
                "group 1, else the whole match is read; no match is 'no match for answer_pattern', "
                "matches that read differently are 'ambiguous'. Then: " + base)
    if aliases:
        base += f" {len(aliases)} aliases are applied."
    if labels is not None:
        base += f" States ({len(labels)}): answers outside them are 'out of space'."
    return base


# --------------------------------------------------------------------------- encoding many
@dataclass
class EncodedTexts:
    """Codes for many texts: ``codes`` (int64, -1 unparsed; ``(n,)``, or ``(n, max_items)``
    padded with -1 for list encoders), ``lengths`` (items per text, list kind), ``labels``
    (``labels[code]``) and ``reasons`` (object array like ``codes``: None where parsed or
    padding, else the reason)."""

    codes: np.ndarray
    lengths: np.ndarray | None
    labels: list[Hashable]
    reasons: np.ndarray

    def unparsed_counts(self) -> dict[str, int]:
        """reason -> number of unparsed answers (items, for lists), most common first."""
        flat = pd.Series(self.reasons.ravel(), dtype=object).dropna()
        return {str(k): int(v) for k, v in flat.value_counts().items()}


def _object_array(texts: Sequence[Any] | np.ndarray) -> np.ndarray:
    if isinstance(texts, pd.Series | pd.Index):
        return texts.to_numpy(dtype=object)
    if isinstance(texts, np.ndarray) and texts.ndim == 1:
        return texts.astype(object, copy=False)
    items = list(texts)
    return np.fromiter(items, dtype=object, count=len(items))


def _factorize(arr: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(index of each text in the distinct texts, distinct texts); index -1 for None/NaN.
    Strings go through pandas' hash table; anything else by (type, value), unhashables
    (lists of items) each on its own."""
    if pd.api.types.infer_dtype(arr, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        return codes.astype(np.int64, copy=False), list(uniques)
    index: dict[Any, int] = {}
    uniq: list[Any] = []
    out = np.empty(len(arr), dtype=np.int64)
    for i, t in enumerate(arr):
        if _is_missing(t):
            out[i] = -1
            continue
        try:
            key = (type(t), t)
            j = index.get(key)
            if j is None:
                j = index[key] = len(uniq)
                uniq.append(t)
        except TypeError:
            j = len(uniq)
            uniq.append(t)
        out[i] = j
    return out, uniq


def _labels_from(encoder: Encoder, parsed: list[list[tuple[Any, Any]]]) -> list[Hashable]:
    if encoder.labels is not None:
        return list(encoder.labels)
    seen = {lab for items in parsed for lab, reason in items if reason is None}
    try:
        return sorted(seen)
    except TypeError:
        return sorted(seen, key=lambda x: (type(x).__name__, str(x)))


def encode_texts(texts: Sequence[Any], encoder: Encoder) -> EncodedTexts:
    """Encode every text with ``encoder``; each distinct text is parsed once.

    Every text is accounted for: per text (scalar) or per item (list), either a code
    ``>= 0`` or a reason; ``None``/NaN is ``EMPTY``. For list encoders a text with no
    readable item is one item with code -1 and its reason."""
    arr = _object_array(texts)
    fact, uniques = _factorize(arr)
    if encoder.kind == "list":
        parsed = [encoder.parse_list(u) for u in uniques]
    else:
        parsed = [[encoder.parse(u)] for u in uniques]
    parsed.append([(None, EMPTY)])  # index -1: a missing text
    labels = _labels_from(encoder, parsed)
    code_of = {lab: i for i, lab in enumerate(labels)}
    width = max(len(p) for p in parsed)
    ucodes = np.full((len(parsed), width), -1, dtype=np.int64)
    ureasons = np.full((len(parsed), width), None, dtype=object)
    for i, items in enumerate(parsed):
        for j, (lab, reason) in enumerate(items):
            if reason is None:
                ucodes[i, j] = code_of[lab]
            else:
                ureasons[i, j] = reason
    if encoder.kind == "list":
        ulen = np.array([len(p) for p in parsed], dtype=np.int64)
        if len(arr) == 0:
            return EncodedTexts(np.zeros((0, 0), np.int64), np.zeros(0, np.int64), labels,
                                np.empty((0, 0), object))
        return EncodedTexts(ucodes[fact], ulen[fact], labels, ureasons[fact])
    return EncodedTexts(ucodes[fact, 0], None, labels, ureasons[fact, 0])


def encode_answers(
    answers: Sequence[Any],
    encoder: str | Callable[[Any], Hashable | None] | Encoder,
    states: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, list[Hashable], int]:
    """Map answer texts to integer states (the older interface over :func:`build_encoder`
    and :func:`encode_texts`): ``(codes, labels, n_unparsed)``, codes -1 where unparsed.
    For ``"integer-list"`` the codes are ``(n, max_items)`` and ``n_unparsed`` counts items."""
    enc = encoder if isinstance(encoder, Encoder) else build_encoder(encoder, states=states)
    out = encode_texts(answers, enc)
    return out.codes, out.labels, int(sum(out.unparsed_counts().values()))
