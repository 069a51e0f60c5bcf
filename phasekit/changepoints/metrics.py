"""Change-point evaluation metrics of the Turing change-point benchmark (TCPD).

Both metrics follow van den Burg & Williams (2020), "An Evaluation of Change Point
Detection Algorithms", arXiv:2003.06222, section 4 ("Evaluation"):

* change points are 0-based indices of the first observation of a new segment;
* the start index 0 is counted as a change point by convention, in the annotations of
  every annotator *and* in the predictions (so a detector that reports nothing still gets
  the start right, which is what makes the zero-change baseline non-trivial);
* several annotators may annotate the same series: the F1 score combines the precision
  against the union of all annotations with the recall averaged over annotators, and the
  covering is averaged over annotators.

Annotations may be given as one sequence of change points (one annotator) or as a
mapping ``{annotator_id: sequence}`` (the layout of TCPD's ``annotations.json``), or a
list of sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import SchemaError

__all__ = ["interval_coverage", "margin_f1", "segmentation_covering", "true_positives"]


def _as_points(cps: Iterable[Any], *, argument: str) -> set[int]:
    out: set[int] = set()
    for c in cps:
        try:
            value = float(c)
        except (TypeError, ValueError) as err:
            raise SchemaError(
                f"change point {c!r} is not a number",
                where=f"{argument}=",
                fix="pass 0-based integer indices of the first point of each new segment",
            ) from err
        if not np.isfinite(value) or value != int(value):
            raise SchemaError(
                f"change point {c!r} is not an integer index",
                where=f"{argument}=",
                fix="pass 0-based integer indices of the first point of each new segment",
            )
        out.add(int(value))
    return out


def _annotator_sets(true_cps: Any) -> list[set[int]]:
    """Normalise annotations to a list of sets, one per annotator."""
    if isinstance(true_cps, Mapping):
        groups = [true_cps[k] for k in true_cps]
    elif (
        isinstance(true_cps, Sequence | np.ndarray)
        and len(true_cps) > 0
        and all(isinstance(g, Iterable) and not isinstance(g, str) for g in true_cps)
    ):
        groups = list(true_cps)
    else:
        groups = [true_cps]
    if not groups:
        raise SchemaError(
            "no annotators in true_cps",
            where="true_cps=",
            fix="pass a sequence of change points, or {annotator: sequence}",
        )
    return [_as_points(g, argument="true_cps") for g in groups]


def true_positives(true_cps: Iterable[int], pred_cps: Iterable[int], margin: int = 5) -> set[int]:
    """True change points that are matched by a prediction within ``margin``.

    Each true point ``tau`` (in increasing order) is matched to the closest still
    unmatched prediction ``x`` with ``|tau - x| <= margin``; a prediction can match at
    most one true point, so two predictions near one true point count once
    (van den Burg & Williams 2020, eq. for TP(T, X)).
    """
    available = sorted(_as_points(pred_cps, argument="pred_cps"))
    matched: set[int] = set()
    for tau in sorted(_as_points(true_cps, argument="true_cps")):
        best = None
        for x in available:
            d = abs(tau - x)
            if d <= margin and (best is None or d < abs(tau - best)):
                best = x
        if best is not None:
            matched.add(tau)
            available.remove(best)
    return matched


def margin_f1(
    true_cps: Any, pred_cps: Iterable[int], margin: int = 5, *, return_pr: bool = False
) -> float | tuple[float, float, float]:
    r"""Margin F1 score of predicted change points against (several) annotators.

    With annotators :math:`k = 1..K` giving sets :math:`\mathcal{T}_k` (each with 0
    added), their union :math:`\mathcal{T}^*`, and predictions :math:`\mathcal{X}` (with
    0 added),

    .. math::
        P = \frac{|TP(\mathcal{T}^*, \mathcal{X})|}{|\mathcal{X}|},\qquad
        R = \frac{1}{K}\sum_k \frac{|TP(\mathcal{T}_k, \mathcal{X})|}{|\mathcal{T}_k|},
        \qquad F_1 = \frac{2PR}{P + R},

    where :math:`TP` counts true points matched one-to-one within ``margin``
    (:func:`true_positives`). Reference: van den Burg & Williams (2020), sec. 4.

    Parameters
    ----------
    true_cps
        Change points of one annotator, a list of such sequences, or
        ``{annotator: sequence}``.
    pred_cps
        Predicted change points (0-based index of the first point of a new segment).
    margin
        Largest distance (in indices) at which a prediction counts as a hit (TCPD: 5).
    return_pr
        Also return precision and recall: ``(F1, P, R)``.
    """
    annotators = _annotator_sets(true_cps)
    for a in annotators:
        a.add(0)
    predicted = _as_points(pred_cps, argument="pred_cps")
    predicted.add(0)
    union: set[int] = set().union(*annotators)
    precision = len(true_positives(union, predicted, margin)) / len(predicted)
    recall = float(
        np.mean([len(true_positives(a, predicted, margin)) / len(a) for a in annotators])
    )
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    if return_pr:
        return f1, precision, recall
    return f1


def _partition(cps: set[int], n: int) -> list[tuple[int, int]]:
    """Segments [start, end) of range(n) cut at the change points inside (0, n)."""
    cuts = sorted(c for c in cps if 0 < c < n)
    edges = [0, *cuts, n]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _jaccard(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union


def segmentation_covering(true_cps: Any, pred_cps: Iterable[int], n: int) -> float:
    r"""Segmentation covering of the predicted partition, averaged over annotators.

    A set of change points cuts ``range(n)`` into segments (0 is the start by
    convention; points outside ``(0, n)`` cut nothing). For a true partition
    :math:`\mathcal{G}` and a predicted one :math:`\mathcal{G}'`,

    .. math::
        C(\mathcal{G}', \mathcal{G}) = \frac{1}{n}\sum_{A\in\mathcal{G}} |A|
        \max_{A'\in\mathcal{G}'} \frac{|A\cap A'|}{|A\cup A'|},

    and the score is the mean of :math:`C` over annotators. Reference: van den Burg &
    Williams (2020), sec. 4 (after Arbelaez et al. 2011).
    """
    if int(n) != n or n < 1:
        raise SchemaError(
            f"series length n={n!r} must be a positive integer",
            where="n=",
            fix="pass the number of observations of the series",
        )
    n = int(n)
    predicted = _partition(_as_points(pred_cps, argument="pred_cps"), n)
    scores = []
    for annotator in _annotator_sets(true_cps):
        total = 0.0
        for seg in _partition(annotator, n):
            total += (seg[1] - seg[0]) * max(_jaccard(seg, p) for p in predicted)
        scores.append(total / n)
    return float(np.mean(scores))


def interval_coverage(
    runs: Iterable[tuple[Any, Sequence[int]]],
    detect: Callable[[Any], Any] | None = None,
    *,
    near: int = 3,
) -> dict[str, float]:
    r"""Coverage of boundary intervals over a simulation study with known boundaries.

    For each run ``(data, true_indices)``, ``detect(data)`` (default
    :func:`phasekit.detect_boundaries` with its defaults) returns a
    :class:`~phasekit.changepoints.BoundaryResult`; every true boundary ``t`` with a
    detected boundary within ``near`` checkpoints is *detected*, and it is *covered*
    when the first such boundary's set ``evidence["boundaries"][i]["interval_index"]
    = [first, last]`` (checkpoint indices) holds it, ``first <= t <= last``. Returns the
    number of runs, of detected true boundaries, the share covered (the empirical
    coverage of a nominal ``1 - alpha`` set; a simulation estimate with binomial error
    :math:`\sqrt{c(1-c)/n}`) and the mean width of the sets in checkpoints. Undetected
    boundaries do not enter: coverage is conditional on detection, as for the
    confidence sets of Siegmund (1988), which assume a change is there.
    """
    if detect is None:
        from .detection import detect_boundaries

        detect = detect_boundaries
    covered, widths, n_runs = [], [], 0
    for data, truth in runs:
        n_runs += 1
        res = detect(data)
        pairs = list(zip(res.evidence["boundaries"], res.indices, strict=True))
        for t in truth:
            hits = [b for b, i in pairs if abs(i - int(t)) <= near]
            if hits:
                first, last = hits[0]["interval_index"]
                covered.append(first <= int(t) <= last)
                widths.append(last - first + 1)
    return {"runs": n_runs, "detected_true_boundaries": len(covered),
            "coverage": float(np.mean(covered)) if covered else float("nan"),
            "mean_width_checkpoints": float(np.mean(widths)) if widths else float("nan")}
