"""Adversarial extraction set: chat answers as models write them, each with the reading a
human gives it (written down before the encoder was run on it).

Truth is the human reading: a state, or ``U`` (a careful reader would not map it to a
state: no number, a decimal, out of the answer space, two answers, reasoning only).
Asserted: **0 misreads** (no state other than the human one is ever produced, and no state
where the human reads none) and at least 99 % of the human-clear answers read.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from phasekit.ingest.encoders import build_encoder, encode_texts

U = None  # unparsed: the human reads no state
S10 = list(range(1, 11))
S100 = list(range(1, 101))
S0_9 = list(range(10))
SNEG = list(range(-5, 6))

# (answer, states, human reading)
SCALAR_CASES = [
    # --- the task's range restated in the answer
    ("Between 1 and 10, I pick 3.", S10, 3),
    ("From 1 to 10, my choice is 6.", S10, 6),
    ("I'll choose 4 out of 10.", S10, 4),
    ("On a scale of 1 to 10, I'd say 8.", S10, 8),
    ("Pick a number 1-10: 5", S10, 5),
    ("1\u201310? I'll go with 9.", S10, 9),
    ("[1, 10] -> 2", S10, 2),
    ("A number in the range (1, 10): 7", S10, 7),
    ("My pick from 1 through 10 is 10.", S10, 10),
    ("From one to ten, I choose seven.", S10, 7),
    ("Between 1 and 10... hmm, 1.", S10, 1),
    ("Out of the numbers 1 to 10, I choose 10.", S10, 10),
    ("Random number between 1 and 10: **4**", S10, 4),
    ("Sure! A random number between 1 and 10 is 6.", S10, 6),
    ("I'd pick 3 (from 1-10).", S10, 3),
    ("Here's a random number from 1 to 10: 8. Enjoy!", S10, 8),
    ("1 to 10... let me think... 5!", S10, 5),
    ("Between 1 and 10, there are 10 options; I'll take 4.", S10, 4),
    ("Sure, picking from 1-10 at random... 6", S10, 6),
    ("I pick 10 out of 10", S10, 10),
    ("From 1 to 100, I pick 37.", S100, 37),
    ("pick a number 1-100: 42", S100, 42),
    ("Guess: 5 (range 1\u201310)", S10, 5),
    ("My favorite number between 1 and 10 is 7, since 7 is lucky.", S10, 7),
    ("Roll of a ten-sided die: 3", S10, 3),
    ("On a 1-10 scale: 6", S10, 6),
    ("Here's a random number between 1 and 10:\n\n**7**", S10, 7),
    ("Number between 1 and 10? 3.", S10, 3),
    ("Answer: between 1 and 10, 8", S10, 8),
    # --- markdown and answer markers
    ("**7**", S10, 7),
    ("# 7", S10, 7),
    ("```\n7\n```", S10, 7),
    ("Answer: 7", S10, 7),
    ("\\boxed{7}", S10, 7),
    ("**Answer:** 3", S10, 3),
    ("The answer is $\\boxed{9}$.", S10, 9),
    ("`5`", S10, 5),
    ("> 2", S10, 2),
    ("*6*", S10, 6),
    ("I thought about 3, but I'll go with **8**.", S10, 8),
    ("<answer>4</answer>", S10, 4),
    ("Final answer: 6", S10, 6),
    ("Let me choose: 2", S10, 2),
    # --- reasoning blocks
    ("<think>The user wants a number between 1 and 10. Maybe 3 or 5.</think>\n\n7", S10, 7),
    ("<think>\nLet me pick 2.\n</think>\nMy number is 9.", S10, 9),
    ("Okay, the user wants a random number; 4 is common, avoid it.</think>\n\n6", S10, 6),
    ("<think>I should choose 3... or maybe 8", S10, U),
    ("<thinking>5? 6?</thinking> 2", S10, 2),
    ("<think></think>\n\n10", S10, 10),
    ("<think>hmm</think>", S10, U),
    # --- number words
    ("seven", S10, 7),
    ("Seven.", S10, 7),
    ("SEVEN!", S10, 7),
    ("I choose seven.", S10, 7),
    ("Let's go with three", S10, 3),
    ("twenty-one", S100, 21),
    ("zero", S0_9, 0),
    ("ten", S10, 10),
    ("Eight (8)", S10, 8),
    ("ninety nine", S100, 99),
    ("one hundred", S100, 100),
    ("I'd pick one: 7", S10, 7),
    ("One.", S10, 1),
    ("I pick number one", S10, 1),
    ("Here's one!", S10, U),
    ("Sure, I can pick one for you.", S10, U),
    ("I choose the number 3 (three).", S10, 3),
    ("Three (3)!", S10, 3),
    # --- plain forms
    ("7", S10, 7),
    (" 7", S10, 7),
    ("7.", S10, 7),
    ("7!", S10, 7),
    ("7\n", S10, 7),
    ("The number is 4", S10, 4),
    ("My number: 10", S10, 10),
    ("\uff17", S10, 7),
    ("7\ufe0f\u20e3", S10, 7),
    ("7 is my pick. I chose 7 because it feels random.", S10, 7),
    ("Number 5", S10, 5),
    ("The die shows 5.", S10, 5),
    # --- negative numbers
    ("-3", SNEG, -3),
    ("\u22123", SNEG, -3),
    ("Between -5 and 5, I pick -2.", SNEG, -2),
    ("minus four", SNEG, -4),
    ("-3", S10, U),
    # --- decimals: never rounded
    ("3.5", S10, U),
    ("I'd say 7.5", S10, U),
    ("Between 1 and 10: 4.2", S10, U),
    ("7.0", S10, U),
    ("0.5", S10, U),
    # --- outside the answer space
    ("11", S10, U),
    ("0", S10, U),
    ("Between 1 and 10, I pick 42.", S10, U),
    ("fifteen", S10, U),
    ("a hundred", S10, U),
    # --- ambiguous: two answers
    ("7 or 8", S10, U),
    ("3, 5", S10, U),
    ("Either 2 or 9.", S10, U),
    ("I can't decide between 4 and 6.", S10, U),
    ("**3** or **7**", S10, U),
    ("seven or eight", S10, U),
    ("5 and 6", S10, U),
    ("\\boxed{3} \\boxed{4}", S10, U),
    ("3-4", S10, U),
    ("I pick 4. Actually, make that 9.", S10, U),
    ("7/10", S10, U),
    # --- no answer
    ("", S10, U),
    (None, S10, U),
    ("I can't pick a number.", S10, U),
    ("As an AI, I don't have preferences.", S10, U),
    ("mp3", S10, U),
    ("7th", S10, U),
    ("I choose one.", S10, U),  # "one": the number, or a pronoun? a reader cannot tell
    # --- a second round, written after the first passed (probing for what the rule misses)
    ("I'll go with 7 \u2014 it's a classic!", S10, 7),
    ("7 (seven)", S10, 7),
    ("The number I'm thinking of is... 4!", S10, 4),
    ("Okay! 5", S10, 5),
    ("Number: #3", S10, 3),
    ("I pick 3 \u2014 no wait, 3 is fine.", S10, 3),
    ("1 to 10: 10", S10, 10),
    ("The answer lies between 1 and 10: it's 6", S10, 6),
    ("Random pick (1\u201310): 9", S10, 9),
    ("Sure thing!\n\n### 4", S10, 4),
    ("7\n\nExplanation: I chose 7 because it's a prime between 1 and 10.", S10, 7),
    ("7. It's the most popular choice among 10 options.", S10, 7),
    ("It's a 6.", S10, 6),
    ("**Answer: 7**", S10, 7),
    ("$7$", S10, 7),
    ('"7"', S10, 7),
    ("'seven'", S10, 7),
    ("I choose number 7 out of 1-10.", S10, 7),
    ("I'd choose the number four, between one and ten.", S10, 4),
    ("My choice (1 \u2264 n \u2264 10): 7", S10, 7),
    ("Random integer in [1..10]: 3", S10, 3),
    ("Number from 1 to ten: 5", S10, 5),
    ("I'm picking 7 out of the 10 possible numbers.", S10, 7),
    ("Of the ten numbers, I choose 8.", S10, 8),
    ("Hmm, 5? Yes, 5.", S10, 5),
    ("My pick: 3 (not 7)", S10, 3),  # known miss: read as ambiguous (never as 7)
]

# (answer, states, human reading per item)
LIST_CASES = [
    ("3, 7, 1, 9", S100, [3, 7, 1, 9]),
    ("[3, 7, 1]", S100, [3, 7, 1]),
    ("3\n7\n1", S100, [3, 7, 1]),
    ("1. 4\n2. 8\n3. 15", S100, [4, 8, 15]),
    ("Here are ten numbers: 4, 8, 15, 16, 23, 42, 7, 3, 9, 1", S100, [4, 8, 15, 16, 23, 42, 7, 3, 9, 1]),
    ("Here are 10 random numbers between 1 and 100:\n\n1. 42\n2. 17\n3. 89\n\n"
     "Let me know if you want 5 more!", S100, [42, 17, 89]),
    ("- 12\n- 5\n- 77", S100, [12, 5, 77]),
    ("<think>They want numbers; maybe 1 2 3</think>\n5, 6, 7", S100, [5, 6, 7]),
    ("4, 8, 3.5, 9", S100, [4, 8, U, 9]),
    ("4, 8, 101, 9", S100, [4, 8, U, 9]),
    ("4, 7 or 8, 9", S100, [4, U, 9]),
    ("four, eight, fifteen", S100, [4, 8, 15]),
    ("1) 23\n2) 45\n3) 67", S100, [23, 45, 67]),
    ("23 45 67 89", S100, [23, 45, 67, 89]),
    ("Sure! Here you go: 5; 12; 33.", S100, [5, 12, 33]),
    ("```\n3, 1, 4, 1, 5\n```", S100, [3, 1, 4, 1, 5]),
    ("**Numbers:** 2, 4, 6", S100, [2, 4, 6]),
    ("", S100, [U]),
    ("I can't generate random numbers.", S100, [U]),
    ("3.\n7.\n1.", S100, [3, 7, 1]),
    ("1. 2. 3. 4.", S100, [1, 2, 3, 4]),
    ("1. 42 2. 17 3. 89", S100, [42, 17, 89]),
    ("Random numbers from 1 to 100: 55, 3, 78", S100, [55, 3, 78]),
    ("Here are 5 numbers (1-100): 10, 20, 30, 40, 50", S100, [10, 20, 30, 40, 50]),
    ("7, 7, 7", S100, [7, 7, 7]),
    ("42, 17, and 89", S100, [42, 17, 89]),
    ("Answer: 5, 6, 7", S100, [5, 6, 7]),
    ("3, -7, 2", list(range(-10, 11)), [3, -7, 2]),
    ("1. 4\n2. 8\n\nThese are random.", S100, [4, 8]),
    ("Sure, here are ten random numbers\n3\n7\n1", S100, [3, 7, 1]),
    ("0, 5, 10", S100, [U, 5, 10]),
    ("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", S10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ("<think>unfinished", S100, [U]),
    ("Here are ten numbers: 4, 8, \u2026", S100, [4, 8]),
    ("1: 23\n2: 7\n3: 91", S100, [23, 7, 91]),
    ("#1: 23\n#2: 7", S100, [23, 7]),
    ("Number 1: 23\nNumber 2: 7", S100, [23, 7]),
    ("(23, 7, 91)", S100, [23, 7, 91]),
    ("{23, 7, 91}", S100, [23, 7, 91]),
    ("**1.** 23\n**2.** 7", S100, [23, 7]),
    ("Here are 3 numbers: 5, 6, 7. Enjoy these 3!", S100, [5, 6, 7]),
]


def _scalar_reading(text, states):
    label, _reason = build_encoder("integer", states=states).parse(text)
    return label


def test_the_set_is_large_and_covers_every_kind():
    assert len(SCALAR_CASES) >= 130 and len(LIST_CASES) >= 40
    assert sum(h is U for _, _, h in SCALAR_CASES) >= 25  # plenty of traps


def test_no_misread_and_clear_answers_read():
    misreads, missed, clear = [], [], 0
    for text, states, human in SCALAR_CASES:
        got = _scalar_reading(text, states)
        if human is U:
            if got is not None:
                misreads.append((text, got, human))
            continue
        clear += 1
        if got is None:
            missed.append(text)
        elif got != human:
            misreads.append((text, got, human))
    assert misreads == []
    assert 1 - len(missed) / clear >= 0.99, missed


def test_list_answers_item_by_item():
    misreads, missed, clear = [], [], 0
    for text, states, human in LIST_CASES:
        got = [lab for lab, _ in build_encoder("integer-list", states=states).parse_list(text)]
        assert len(got) == len(human), (text, got, human)
        for g, h in zip(got, human, strict=True):
            if h is U:
                if g is not None:
                    misreads.append((text, g, h))
                continue
            clear += 1
            if g is None:
                missed.append(text)
            elif g != h:
                misreads.append((text, g, h))
    assert misreads == []
    assert 1 - len(missed) / clear >= 0.99, missed


def test_first_integer_rule_regression():
    # Regression (issue 13): the encoder on main up to commit 9d84c13 took the first integer,
    # re.search(r"[-+]?\d+"), so this answer became 1 and a base model's magnetisation came out
    # 0.31-0.41 instead of ~0. The new rule reads the answer.
    text = "Between 1 and 10, I pick 3."
    assert re.search(r"[-+]?\d+", text).group() == "1"  # what the first-integer rule sees
    assert _scalar_reading(text, S10) == 3


_RANGES = ["between 1 and {hi}", "from 1 to {hi}", "1-{hi}", "1\u2013{hi}", "[1, {hi}]",
           "on a scale of 1 to {hi}", "out of {hi}", "1 to {hi}"]
_FRAMES = ["{r}, I pick {k}.", "{k} ({r})", "A number {r}: {k}", "Sure! {r}... **{k}**",
           "<think>{r}, maybe {j}?</think> {k}", "My answer {r} is {k}!"]


@settings(max_examples=200, deadline=None)
@given(hi=st.integers(2, 1000), data=st.data())
def test_range_phrases_never_become_the_answer(hi, data):
    """Any range phrase in any frame: the answer read is the number picked, whatever it is
    (including the range's own ends)."""
    k = data.draw(st.integers(1, hi))
    j = data.draw(st.integers(1, hi))
    text = data.draw(st.sampled_from(_FRAMES)).format(r=data.draw(st.sampled_from(_RANGES)).format(hi=hi),
                                                        k=k, j=j)
    assert _scalar_reading(text, range(1, hi + 1)) == k, text


_FRAGMENTS = ["7", "3.5", "seven", " or ", "between 1 and 10", ", ", "\n", "1. ", "**", "<think>",
              "</think>", "Answer: ", "-", "twenty-one", "11", "\\boxed{4}", "Here are ten numbers: ",
              "x", "…", "[", "]", "0"]
_TEXTS = st.one_of(st.none(), st.text(max_size=30),
                   st.lists(st.sampled_from(_FRAGMENTS), max_size=8).map("".join))


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(_TEXTS, max_size=40))
def test_every_text_is_parsed_or_unparsed_with_a_reason(texts):
    """samples in = parsed + unparsed, text by text (scalar) and item by item (list); the
    cached bulk path agrees with parsing each text on its own."""
    enc = build_encoder("integer", states=S10)
    out = encode_texts(texts, enc)
    parsed = out.codes >= 0
    assert ((out.reasons != None) ^ parsed).all()  # noqa: E711 - elementwise on an object array
    assert int(parsed.sum()) + sum(out.unparsed_counts().values()) == len(texts)
    for t, c, r in zip(texts, out.codes, out.reasons, strict=True):
        lab, reason = enc.parse(t)
        assert (out.labels[c] if c >= 0 else None, r) == (lab, reason)
    lenc = build_encoder("integer-list", states=S10)
    lo = encode_texts(texts, lenc)
    assert lo.codes.shape[0] == len(texts) and (lo.lengths >= 1).all()
    for i, t in enumerate(texts):
        n = lo.lengths[i]
        items = lenc.parse_list(t)
        assert n == len(items)
        assert ((lo.codes[i, :n] >= 0) ^ (lo.reasons[i, :n] != None)).all()  # noqa: E711
        assert (lo.codes[i, n:] == -1).all() and all(r is None for r in lo.reasons[i, n:])
    assert int((lo.codes >= 0).sum()) + sum(lo.unparsed_counts().values()) == int(lo.lengths.sum())
