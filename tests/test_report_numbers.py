"""How the report prints numbers (issue 17 item 4): one step format, intervals with their
width, resampling p-values as bounds at the floor, estimates with errors."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasekit.report.numbers import (
    format_estimate,
    format_interval,
    format_p_value,
    format_step,
    p_value_floor_bound,
)


def test_steps_have_one_format():
    assert format_step(14426) == "14,426"
    assert format_step(14426.0) == "14,426"          # no "1.443e+04"
    assert format_step(2345) == "2,345"
    assert format_step(105000) == "105,000"
    assert format_step(float("nan")) == "–"
    assert format_step(0.7) == "0.7"                  # a temperature, not a step


@pytest.mark.parametrize(("b", "text"), [(200, "< 0.005 (1/201)"), (50, "< 0.02 (1/51)"), (100, "< 0.01 (1/101)"),
                                         (999, "< 0.001 (1/1000)")])
def test_p_value_at_the_floor_is_a_bound(b, text):
    assert format_p_value(1 / (b + 1), n_resamples=b) == text


def test_p_value_above_the_floor_is_a_number():
    assert format_p_value(0.33, n_resamples=200) == "0.33"
    assert format_p_value(0.0149, n_resamples=200) == "0.015"
    assert format_p_value(float("nan"), n_resamples=200) == "not tested"


@given(st.integers(min_value=1, max_value=100_000))
def test_floor_bound_is_true_as_printed(b):
    floor = 1 / (b + 1)
    bound = p_value_floor_bound(floor)
    printed = float(f"{bound:.2g}")
    assert printed >= floor * (1 - 1e-12)           # "p < printed" holds for p <= floor
    assert printed <= floor * 1.11                  # and is tight (2 significant digits)


def test_zero_width_interval_says_so():
    text = format_interval(2345, 2345)
    assert "2345 – 2345" not in text and "2,345 – 2,345" not in text
    assert "zero width" in text and "exact at checkpoint resolution" in text


def test_interval_shows_its_width():
    text = format_interval(1831, 2345, n_checkpoints=1)
    assert "after 1,831" in text and "by 2,345" in text and "width 514" in text
    assert "exact at checkpoint resolution" in text
    wide = format_interval(1000, 5000, n_checkpoints=4)
    assert "width 4,000" in wide and "4 candidate checkpoints" in wide and "exact" not in wide


def test_estimates_print_the_error_to_two_digits():
    assert format_estimate(0.37611, 0.02134) == "0.376 ± 0.021"
    assert format_estimate(5.1729, 0.2214) == "5.17 ± 0.22"
    assert format_estimate(1234.6, 56.0) == "1235 ± 56"
    assert format_estimate(None) == "–"
    v = format_estimate(0.5, None)
    assert v == "0.5" and "±" not in v
    assert not math.isnan(float(format_estimate(0.123456, 0.001).split(" ± ")[0]))
