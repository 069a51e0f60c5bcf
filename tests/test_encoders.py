"""The encoder interface: build_encoder's options and errors, reasons, the exact rule's
normalisation and aliases, answer_pattern, callables, and encode_texts' arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import phasekit as pk
from phasekit.ingest import encoders as E
from phasekit.ingest.encoders import build_encoder, encode_answers, encode_texts, integer_encoder


def test_reason_constants_are_a_fixed_documented_set():
    assert E.REASONS == ("empty answer", "not a text", "reasoning only", "no number", "decimal",
                         "ambiguous", "out of space", "no match for answer_pattern",
                         "encoder returned None")
    names = ("EMPTY", "NOT_TEXT", "REASONING_ONLY", "NO_NUMBER", "DECIMAL", "AMBIGUOUS",
             "OUT_OF_SPACE", "NO_MATCH", "CALLABLE_NONE")
    assert tuple(getattr(E, n) for n in names) == E.REASONS
    for n in names:  # each one documented in the module docstring's table
        assert f"``{n}``" in E.__doc__


@pytest.mark.parametrize("text, reason", [
    ("", E.EMPTY), ("   ", E.EMPTY), (None, E.EMPTY), (float("nan"), E.EMPTY), (True, E.NOT_TEXT),
    ({"a": 1}, E.NOT_TEXT), ("<think>still thinking", E.REASONING_ONLY), ("no idea", E.NO_NUMBER),
    ("3.5", E.DECIMAL), ("7 or 8", E.AMBIGUOUS), ("11", E.OUT_OF_SPACE), ("```\n```", E.EMPTY),
])
def test_integer_reasons(text, reason):
    assert build_encoder("integer", states=range(1, 11)).parse(text) == (None, reason)


def test_non_text_values():
    enc = build_encoder("integer")
    assert enc.parse(7) == (7, None) and enc.parse(np.int64(7)) == (7, None)
    assert enc.parse(7.0) == (7, None)  # a numeric column upcast by NaN: the value is 7
    assert enc.parse(7.5) == (None, E.DECIMAL)


def test_states_as_strings_match_integers_and_labels_stay_as_given():
    enc = build_encoder("integer", states=[str(k) for k in range(1, 11)])
    assert enc.labels == [str(k) for k in range(1, 11)]
    assert enc.parse("Seven.") == ("7", None) and enc.parse(" 10 ") == ("10", None)
    out = encode_texts(["7", "seven", "**3**", "12"], enc)
    assert out.labels == enc.labels and out.codes.tolist() == [6, 6, 2, -1]


def test_integer_encoder_function_keeps_its_signature():
    assert integer_encoder("Between 1 and 10, I pick 3.") == 3
    assert integer_encoder("seven") == 7 and integer_encoder("3.5") is None
    assert integer_encoder(None) is None and integer_encoder(4) == 4


@pytest.mark.parametrize("kwargs, words", [
    ({"encoder": "integr"}, ["'integer'", "'integer-list'", "'exact'", "'regex'"]),
    ({"encoder": None}, ["answer_pattern"]),
    ({"encoder": "regex"}, ["answer_pattern"]),
    ({"encoder": 3}, ["callable"]),
    ({"encoder": "exact", "answer_pattern": "(unclosed"}, ["not a valid regex"]),
    ({"encoder": "integer", "states": ["one", "two"]}, ["not an integer"]),
    ({"encoder": "integer", "states": [7, "7"]}, ["same answer"]),
    ({"encoder": "exact", "states": ["Paris", "paris."]}, ["same answer"]),
    ({"encoder": "exact", "states": []}, ["empty"]),
    ({"encoder": "exact", "states": "HT"}, ["not a list"]),
    ({"encoder": "exact", "states": ["H", "T"], "aliases": {"edge": "E"}}, ["names no state"]),
    ({"encoder": "integer", "aliases": {"a dozen": 12}}, ["exact encoder"]),
])
def test_build_errors_say_how_to_fix(kwargs, words):
    enc = kwargs.pop("encoder")
    with pytest.raises(pk.SchemaError) as e:
        build_encoder(enc, **kwargs)
    assert e.value.fix
    for w in words:
        assert w in str(e.value)


def test_exact_normalisation():
    enc = build_encoder("exact")
    for text in ["Paris", "paris", "Paris.", "  PARIS!  ", "**Paris**", '"Paris"', "\uff30\uff41\uff52\uff49\uff53",
                 "<think>London? no.</think> Paris", "# Paris", "```\nParis\n```", "\u201cParis\u201d"]:
        assert enc.parse(text) == ("paris", None), text
    assert enc.parse("New \t  York") == ("new york", None)
    assert enc.parse("St. Louis") == ("st. louis", None)  # inner punctuation is kept
    assert enc.parse("...") == (None, E.EMPTY)
    raw = build_encoder("exact", normalize=False)
    assert raw.parse("Paris.") == ("Paris.", None) and raw.parse("paris") == ("paris", None)
    assert raw.parse(" ") == (" ", None) and raw.parse("") == (None, E.EMPTY)


def test_exact_states_and_aliases():
    enc = build_encoder("exact", states=["Heads", "Tails"], aliases={"H": "heads", "  t ": "Tails"})
    assert enc.labels == ["Heads", "Tails"]
    assert [enc.parse(t) for t in ["heads!", "HEADS", "h", "T.", "edge"]] == [
        ("Heads", None), ("Heads", None), ("Heads", None), ("Tails", None), (None, E.OUT_OF_SPACE)]
    free = build_encoder("exact", aliases={"Heads": "H", "tails": "T"})
    out = encode_texts(["Heads.", "TAILS", "heads", "edge"], free)
    assert out.labels == ["H", "T", "edge"] and out.codes.tolist() == [0, 1, 0, 2]


def test_answer_pattern_groups():
    named = build_encoder(answer_pattern=r"Answer:\s*(?P<answer>\w+)")
    assert named.name == "regex" and named.parse("blah. Answer: Paris") == ("paris", None)
    assert named.parse("no marker") == (None, E.NO_MATCH)
    assert named.parse("Answer: Paris ... Answer: Rome") == (None, E.AMBIGUOUS)
    assert named.parse("Answer: Paris ... Answer: paris") == ("paris", None)
    group1 = build_encoder("integer", answer_pattern=r"\[\[(.*?)\]\]", states=range(1, 11))
    assert group1.parse("I think 3 or 4 [[ 7 ]]") == (7, None)
    assert group1.parse("[[ 3.5 ]]") == (None, E.DECIMAL)
    whole = build_encoder("exact", answer_pattern=r"\b(?:yes|no)\b")
    assert whole.parse("Well, yes.") == ("yes", None)
    # reasoning is removed before the search, unless normalize=False
    assert named.parse("<think>Answer: Rome</think> Answer: Paris") == ("paris", None)
    lst = build_encoder("integer-list", answer_pattern=r"NUMBERS: (.*)")
    assert lst.parse_list("ok NUMBERS: 3, 4, 5") == [(3, None), (4, None), (5, None)]
    assert lst.parse_list("nothing") == [(None, E.NO_MATCH)]


def test_callable_encoder():
    def coin(text):
        return {"H": "heads", "T": "tails"}.get(text.strip())

    enc = build_encoder(coin)
    assert enc.name == "coin" and enc.kind == "scalar"
    assert enc.parse("H") == ("heads", None) and enc.parse("x") == (None, E.CALLABLE_NONE)
    assert enc.parse(None) == (None, E.EMPTY)
    with_states = build_encoder(coin, states=["heads"])
    assert with_states.parse("T") == (None, E.OUT_OF_SPACE)

    def broken(text):
        raise KeyError("boom")

    with pytest.raises(pk.SchemaError, match=r"'broken' raised KeyError.*'x{77}\.\.\.'"):
        build_encoder(broken).parse("x" * 500)
    with pytest.raises(pk.SchemaError, match="unhashable"):
        build_encoder(lambda t: [t]).parse("a")


def test_encoders_pickle():
    for enc in [build_encoder("integer", states=range(1, 11)), build_encoder("integer-list"),
                build_encoder("exact", aliases={"h": "H"}), build_encoder(answer_pattern=r"(\w+)")]:
        back = pickle.loads(pickle.dumps(enc))
        assert (back.name, back.kind, back.rule, back.labels) == (enc.name, enc.kind, enc.rule, enc.labels)
        assert back.parse_list("Answer: 7, 8") == enc.parse_list("Answer: 7, 8")


def test_rules_are_stated():
    assert "between 1 and 10" in build_encoder("integer").rule
    assert "numbered" in build_encoder("integer-list").rule
    assert "NFKC" in build_encoder("exact").rule and "out of space" in build_encoder("exact", states=["a"]).rule
    assert "regex" in build_encoder(answer_pattern="x").rule


def test_encode_texts_scalar_arrays():
    enc = build_encoder("integer")
    texts = ["7", "Seven.", None, "3", "3.5", "7 or 8", "12", "", "7"]
    out = encode_texts(texts, enc)
    assert out.labels == [3, 7, 12] and out.lengths is None
    assert out.codes.dtype == np.int64 and out.codes.tolist() == [1, 1, -1, 0, -1, -1, 2, -1, 1]
    assert out.reasons.tolist() == [None, None, E.EMPTY, None, E.DECIMAL, E.AMBIGUOUS, None, E.EMPTY, None]
    assert out.unparsed_counts() == {E.EMPTY: 2, E.DECIMAL: 1, E.AMBIGUOUS: 1}
    fixed = encode_texts(texts, build_encoder("integer", states=[12, 7, 3]))
    assert fixed.labels == [12, 7, 3] and fixed.codes.tolist() == [1, 1, -1, 2, -1, -1, 0, -1, 1]
    empty = encode_texts([], enc)
    assert empty.codes.shape == (0,) and empty.unparsed_counts() == {}


def test_encode_texts_list_arrays():
    enc = build_encoder("integer-list", states=range(1, 11))
    out = encode_texts(["3, 7, 1", "1. 4\n2. 11", "", [2, 2.5], "none here"], enc)
    assert out.codes.shape == (5, 3) and out.lengths.tolist() == [3, 2, 1, 2, 1]
    assert out.codes.tolist() == [[2, 6, 0], [3, -1, -1], [-1, -1, -1], [1, -1, -1], [-1, -1, -1]]
    assert out.reasons[1].tolist() == [None, E.OUT_OF_SPACE, None]
    assert out.reasons[:, 0].tolist() == [None, None, E.EMPTY, None, E.NO_NUMBER]
    assert out.reasons[3, 1] == E.DECIMAL
    assert out.unparsed_counts() == {E.OUT_OF_SPACE: 1, E.EMPTY: 1, E.DECIMAL: 1, E.NO_NUMBER: 1}
    with pytest.raises(pk.SchemaError, match="parse_list"):
        enc.parse("3, 4")
    assert build_encoder("integer").parse_list("3") == [(3, None)]


def test_encode_texts_accepts_series_arrays_and_mixed_types():
    import pandas as pd

    enc = build_encoder("integer")
    a = encode_texts(pd.Series(["7", None, "8"]), enc)
    b = encode_texts(np.array(["7", "x", "8"], dtype=object), enc)
    c = encode_texts([7, "7", True, 1, 8.0], enc)  # True is not 1: no merging by equality
    assert a.codes.tolist() == [0, -1, 1] and b.codes.tolist() == [0, -1, 1]
    assert c.labels == [1, 7, 8] and c.codes.tolist() == [1, 1, -1, 0, 2] and c.reasons[2] == E.NOT_TEXT


def test_encode_answers_wrapper():
    codes, labels, bad = encode_answers(["a", "b", "a", None], "exact")
    assert labels == ["a", "b"] and codes.tolist() == [0, 1, 0, -1] and bad == 1
    codes, labels, bad = encode_answers(["1", "2", "11"], "integer", states=list(range(1, 11)))
    assert codes.tolist() == [0, 1, -1] and bad == 1 and labels == list(range(1, 11))
    codes, labels, bad = encode_answers(["3, 4", "5.5"], "integer-list")
    assert codes.tolist() == [[0, 1], [-1, -1]] and bad == 1 and labels == [3, 4]


def test_docs_examples_and_docstrings_run():
    """docs/encoders.md and the module's docstring examples print what they say."""
    import doctest
    import re
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "encoders.md").read_text()
    src = "\n".join(re.findall(r"```python\n(.*?)```", page, re.S))
    runner = doctest.DocTestRunner()
    runner.run(doctest.DocTestParser().get_doctest(src, {}, "encoders.md", "docs/encoders.md", 0))
    assert runner.summarize(verbose=False).failed == 0
    assert doctest.testmod(E).failed == 0


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
        "fifteen sixteen seventeen eighteen nineteen".split()
_TENS_W = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty",
           9: "ninety"}


def _english(n: int, joiner: str, use_and: bool) -> str:
    """An independent spelling of 0 <= n < 10000 in English words."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS_W[n // 10] + (joiner + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        head = _ONES[n // 100] + " hundred"
        return head + ((" and " if use_and else " ") + _english(rest, joiner, use_and) if rest else "")
    rest = n % 1000
    head = _english(n // 1000, joiner, use_and) + " thousand"
    return head + (" " + _english(rest, joiner, use_and) if rest else "")


@pytest.mark.parametrize("joiner, use_and", [("-", False), (" ", True)])
def test_number_words_against_an_independent_spelling(joiner, use_and):
    rng = np.random.default_rng(1)
    values = list(range(0, 130)) + rng.integers(130, 10000, 300).tolist()
    for n in values:
        words = _english(n, joiner, use_and)
        assert integer_encoder(words) == n, words
        assert integer_encoder(words.capitalize() + ".") == n
        assert integer_encoder("minus " + words) == (-n if n else 0)
