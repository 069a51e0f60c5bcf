"""Hand-worked examples for the TCPD metrics (van den Burg & Williams 2020)."""

import pytest

from phasekit.cpmetrics import margin_f1, segmentation_covering, true_positives
from phasekit.errors import SchemaError


def test_perfect_prediction():
    assert margin_f1([10, 20], [10, 20]) == 1.0
    assert segmentation_covering([10, 20], [10, 20], 30) == 1.0


def test_zero_change_baseline_gets_the_start_right():
    # T = {0, 50}, X = {0}: P = 1/1, R = 1/2, F1 = 2 * 0.5 / 1.5
    f1, p, r = margin_f1([50], [], return_pr=True)
    assert (p, r) == (1.0, 0.5)
    assert f1 == pytest.approx(2 / 3)
    # true segments [0,50) and [50,100) are each covered by [0,100) with Jaccard 1/2
    assert segmentation_covering([50], [], 100) == pytest.approx(0.5)


def test_one_prediction_matches_at_most_one_true_point():
    # X = {0, 9, 11}, T = {0, 10}: only one of 9/11 can match 10 -> P = 2/3, R = 1
    f1, p, r = margin_f1([10], [9, 11], margin=5, return_pr=True)
    assert p == pytest.approx(2 / 3) and r == 1.0
    assert f1 == pytest.approx(0.8)
    assert true_positives([0, 10], [0, 9, 11], margin=5) == {0, 10}
    # one prediction between two close true points matches only one of them
    assert true_positives([0, 10, 12], [0, 11], margin=5) == {0, 10}


def test_margin_is_inclusive():
    assert margin_f1([10], [15], margin=5) == 1.0
    assert margin_f1([10], [16], margin=5, return_pr=True)[1:] == (0.5, 0.5)


def test_several_annotators():
    ann = {"1": [10, 20], "2": [11, 20], "3": [10], "4": [0, 5]}
    # margin 2: union {0,5,10,11,20} vs X {0,10,20}: 0,10,20 matched -> P = 3/3.
    # recall per annotator: 1, 1 (11 -> 10), 1, 1/2 (5 unmatched) -> R = 3.5/4.
    f1, p, r = margin_f1(ann, [10, 20], margin=2, return_pr=True)
    assert p == 1.0
    assert r == pytest.approx(0.875)
    assert f1 == pytest.approx(2 * 0.875 / 1.875)
    # a list of annotators is the same as a mapping
    assert margin_f1(list(ann.values()), [10, 20], margin=2) == pytest.approx(f1)


def test_covering_hand_worked():
    # true [0,50),[50,100) vs predicted [0,40),[40,100):
    # J([0,50),[0,40)) = 40/50, J([50,100),[40,100)) = 50/60
    c = segmentation_covering([50], [40], 100)
    assert c == pytest.approx((50 * 0.8 + 50 * 50 / 60) / 100)
    # a second annotator with no change: [0,100) best covered by [40,100), J = 0.6
    c2 = segmentation_covering({"a": [50], "b": []}, [40], 100)
    assert c2 == pytest.approx((c + 0.6) / 2)
    # points at 0 or beyond the end cut nothing
    assert segmentation_covering([0, 50, 100, 120], [50], 100) == 1.0


def test_bad_input():
    with pytest.raises(SchemaError):
        margin_f1([1.5], [1])
    with pytest.raises(SchemaError):
        segmentation_covering([5], [5], 0)


def test_interval_coverage_counts_by_hand():
    """The simulation-study helper on a fake detector with known sets: run 1 has true
    boundaries 10 and 30, sets [9, 11] (holds 10) and [32, 33] (misses 30); run 2 has
    truth 20 and no detection within 3. Coverage 1/2, widths 3 and 2."""
    from types import SimpleNamespace

    from phasekit.changepoints import interval_coverage

    found = {"a": SimpleNamespace(indices=[10, 32], evidence={"boundaries": [
                 {"interval_index": [9, 11]}, {"interval_index": [32, 33]}]}),
             "b": SimpleNamespace(indices=[5], evidence={"boundaries": [{"interval_index": [5, 5]}]})}
    out = interval_coverage([("a", [10, 30]), ("b", [20])], found.__getitem__)
    assert out == {"runs": 2, "detected_true_boundaries": 2, "coverage": 0.5,
                   "mean_width_checkpoints": 2.5}
