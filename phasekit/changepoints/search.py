r"""Penalised change-point search: exact optimal partitioning (PELT) and ruptures' searches.

:func:`optimal_partition` minimises :math:`\sum c(a, b) + \mathrm{pen}\cdot m` exactly for
any cost with a valid pruning constant (Killick, Fearnhead & Eckley 2012); ruptures
(Truong, Oudre & Vayatis 2020) provides Binseg, BottomUp, Dynp and KernelCPD, whose
greedy or grid results are refined by one exact local step (:func:`refine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import ruptures as rpt
from ruptures.base import BaseCost

from .costs import make_cost

__all__ = ["METHODS", "PenalisedSearch", "optimal_partition", "path_frame", "penalised_cost",
           "refine", "run_search", "segments"]

#: The searches :func:`run_search` knows.
METHODS = ("pelt", "binseg", "bottomup", "dynp", "kernelcpd")


def optimal_partition(cost: Any, n: int, min_size: int, pen: float) -> list[int]:
    r"""Exact minimiser of :math:`\sum_{\rm segments} c(a, b) + \mathrm{pen}\cdot m` (m change points).

    Optimal partitioning (Jackson et al. 2005, IEEE Signal Process. Lett. 12:105) with
    the PELT pruning of Killick, Fearnhead & Eckley (2012, JASA 107:1590):
    :math:`F(s) = \min_t F(t) + c(t, s) + \mathrm{pen}`, :math:`F(0) = -\mathrm{pen}`,
    and a start ``t`` is dropped once :math:`F(t) + c(t, s) + K > F(s)`, where ``K`` is
    the cost's own constant (``cost.pruning_constant()``) with
    :math:`c(a,b) + c(b,e) + K \le c(a,e)` -- so pruning never removes the optimum. With
    a shortest segment ``min_size`` a pruned start is removed only from ``s + min_size``
    on (before that the argument's segment ``(s, s')`` would be too short). ``cost`` is a
    fitted cost with ``errors(starts, end)`` (vectorised). Returns the change points
    (first index of each new segment).
    """
    if n < 2 * min_size:
        return []
    k_const = float(cost.pruning_constant())
    f = np.full(n + 1, np.inf)
    f[0] = -pen
    last = np.zeros(n + 1, dtype=int)
    dead_from = np.full(n + 1, n + 1)
    pos = np.arange(n + 1)
    for end in range(min_size, n + 1):
        eligible = (pos <= end - min_size) & ((pos == 0) | (pos >= min_size)) & (dead_from > end)
        starts = pos[eligible]
        starts = starts[np.isfinite(f[starts])]
        seg = np.asarray(cost.errors(starts, end), dtype=float)
        vals = f[starts] + seg + pen
        j = int(np.argmin(vals))
        f[end], last[end] = vals[j], starts[j]
        pruned = starts[f[starts] + seg + k_const > f[end]]
        dead_from[pruned] = np.minimum(dead_from[pruned], end + min_size)
    cps, t = [], int(last[n])
    while t > 0:
        cps.append(t)
        t = int(last[t])
    return sorted(cps)


def penalised_cost(cost: Any, cps: Sequence[int], n: int, pen: float) -> float:
    """Objective of :func:`optimal_partition` for the change points ``cps``."""
    edges = [0, *sorted(cps), n]
    return float(sum(cost.error(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True))
                 + pen * len(cps))



def run_search(method: str, cost: BaseCost, min_size: int, signal: np.ndarray, pen: float) -> list[int]:
    """Run the search; return change points (first index of new segments).

    ``pelt`` is the exact :func:`optimal_partition` (with the cost's valid pruning
    constant); the others are ruptures' searches, refined by :func:`refine`.
    """
    n = signal.shape[0]
    if n < 2 * min_size:
        return []
    if method == "pelt":
        return optimal_partition(cost.fit(signal), n, min_size, pen)
    if method == "dynp":
        return _dynp(cost, min_size, signal, pen)
    if method == "binseg":
        algo = rpt.Binseg(custom_cost=cost, min_size=min_size, jump=1)
    elif method == "bottomup":
        algo = rpt.BottomUp(custom_cost=cost, min_size=min_size, jump=1)
    elif method == "kernelcpd":
        algo = rpt.KernelCPD(kernel="linear", min_size=min_size, jump=1)
    else:
        raise ValueError(f"unknown search {method!r}; use one of {list(METHODS)}")
    algo.fit(signal)
    cps = [int(b) for b in algo.predict(pen=pen) if 0 < b < n]
    return refine(cost if method != "kernelcpd" else cost.fit(signal), cps, n, min_size)


def _dynp(cost: BaseCost, min_size: int, signal: np.ndarray, pen: float) -> list[int]:
    """ruptures' Dynp (exact for a given number of change points), the number chosen by
    the same penalised cost (at most 10 change points)."""
    n = signal.shape[0]
    algo = rpt.Dynp(custom_cost=cost, min_size=min_size, jump=1).fit(signal)
    best, best_val = [n], cost.error(0, n)
    kmax = max(0, min(10, n // min_size - 1))
    for k in range(1, kmax + 1):
        try:
            bk = algo.predict(n_bkps=k)
        except Exception:  # noqa: BLE001 - ruptures raises BadSegmentationParameters
            break
        val = cost.sum_of_costs(bk) + pen * k
        if val < best_val:
            best, best_val = bk, val
    return [int(b) for b in best if 0 < b < n]


def refine(cost: BaseCost, cps: list[int], n: int, min_size: int) -> list[int]:
    """Move each change point to the best split between its neighbours (one sweep).

    Greedy and grid-based searches (BottomUp starts from a regular grid) can leave a
    change point a few positions off; this exact local step puts it back.
    """
    out = list(cps)
    for i in range(len(out)):
        a = out[i - 1] if i > 0 else 0
        b = out[i + 1] if i + 1 < len(out) else n
        best, best_val = out[i], np.inf
        for t in range(a + min_size, b - min_size + 1):
            v = cost.error(a, t) + cost.error(t, b)
            if v < best_val:
                best, best_val = t, v
        out[i] = best
    return out



def segments(cps: Sequence[int], n: int) -> list[tuple[int, int]]:
    """Segments ``[a, b)`` of ``range(n)`` cut at the change points ``cps``."""
    edges = [0, *sorted(cps), n]
    return list(zip(edges[:-1], edges[1:], strict=True))



@dataclass(eq=False)
class PenalisedSearch:
    """The search of a :class:`BoundaryResult` at any penalty, as plain data.

    ``cost`` names the cost (``"meanshift"`` or ``"multinomial"``) and ``cost_params``
    its parameters; ``signal`` is what the search ran on and ``control`` the control
    value of each of its rows. Calling it with a penalty returns the control values of
    the change points the search finds there, before any test.
    """

    method: str
    cost: str
    cost_params: dict[str, Any]
    signal: np.ndarray
    min_size: int
    control: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def indices(self, pen: float) -> list[int]:
        """Change points (rows of ``signal``) at penalty ``pen``."""
        cost = make_cost(self.cost, self.cost_params)
        return run_search(self.method, cost, self.min_size, self.signal, float(pen))

    def __call__(self, pen: float) -> list[float]:
        return [float(self.control[i]) for i in self.indices(pen)]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PenalisedSearch):
            return NotImplemented
        return (self.method, self.cost, self.cost_params, self.min_size) == (
            other.method, other.cost, other.cost_params, other.min_size) and all(
            np.array_equal(a, b) for a, b in ((self.signal, other.signal), (self.control, other.control)))


def path_frame(grid: Iterable[float], search_at: Any) -> pd.DataFrame:
    """Number and locations of change points of ``search_at(pen)`` at each penalty."""
    rows = []
    for pv in grid:
        locs = search_at(float(pv))
        rows.append({"penalty": float(pv), "n_boundaries": len(locs), "locations": locs})
    return pd.DataFrame(rows, columns=["penalty", "n_boundaries", "locations"])
