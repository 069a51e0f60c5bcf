"""Segment costs of the change-point search.

* :class:`CostMeanShift` -- Gaussian mean shift with unit noise (ruptures' ``l2``),
  O(1) per segment from cumulative sums; used for real-valued series.
* :class:`CostMultinomial` -- multinomial deviance of state counts, one categorical per
  channel (prompt) and segment, plus a BIC charge; used for samples.

Both follow ruptures' ``BaseCost`` interface (``fit``, ``error``) so that ruptures'
searches can use them (Truong, Oudre & Vayatis 2020, Signal Processing 167), and add
``errors(starts, end)`` (vectorised) and ``pruning_constant()`` for the exact search of
:mod:`phasekit.changepoints.search`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import ruptures as rpt
from ruptures.base import BaseCost
from scipy.special import xlogy

__all__ = ["CostMeanShift", "CostMultinomial", "deviance", "make_cost"]


class CostMeanShift(BaseCost):
    r"""Gaussian mean-shift cost with unit noise, O(1) per segment via cumulative sums.

    For a segment :math:`[a, b)` of a (pre-scaled) signal :math:`x_{t,c}`,

    .. math:: c(a, b) = \sum_c \sum_{t=a}^{b-1} (x_{t,c} - \bar x_{c})^2,

    which is :math:`-2\log L` of a constant mean with unit variance up to a constant
    (ruptures' ``l2`` cost, computed from running sums so that Pelt is fast on long
    series).
    """

    model = "meanshift"
    min_size = 2

    def fit(self, signal: np.ndarray) -> CostMeanShift:
        x = np.asarray(signal, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        self.signal = x
        zero = np.zeros((1, x.shape[1]))
        self._s1 = np.concatenate([zero, np.cumsum(x, axis=0)])
        self._s2 = np.concatenate([zero, np.cumsum(x**2, axis=0)])
        self._uni = x.shape[1] == 1
        if self._uni:  # plain floats: much faster per call inside the search loops
            self._f1 = self._s1[:, 0].tolist()
            self._f2 = self._s2[:, 0].tolist()
        return self

    def error(self, start: int, end: int) -> float:
        if end - start < self.min_size:
            raise rpt.exceptions.NotEnoughPoints
        n = end - start
        if self._uni:
            s1 = self._f1[end] - self._f1[start]
            return (self._f2[end] - self._f2[start]) - s1 * s1 / n
        s1 = self._s1[end] - self._s1[start]
        s2 = self._s2[end] - self._s2[start]
        return float(np.sum(s2 - s1**2 / n))

    def errors(self, starts: np.ndarray, end: int) -> np.ndarray:
        """``error(a, end)`` for every ``a`` in ``starts`` at once (shape of ``starts``)."""
        n = (end - starts)[:, None]
        s1 = self._s1[end][None] - self._s1[starts]
        s2 = self._s2[end][None] - self._s2[starts]
        return np.sum(s2 - s1**2 / n, axis=1)

    def pruning_constant(self) -> float:
        r"""``K`` with :math:`c(a,b) + c(b,e) + K \le c(a,e)`: 0 (splitting never raises a
        sum of squares about segment means)."""
        return 0.0



def deviance(s: np.ndarray) -> np.ndarray:
    """-2 log L of one categorical per row for summed counts ``s`` (..., K)."""
    tot = s.sum(axis=-1)
    return -2.0 * (xlogy(s, s).sum(axis=-1) - xlogy(tot, tot))



class CostMultinomial(BaseCost):
    r"""Multinomial deviance of state counts, one categorical per channel and segment.

    The signal has shape ``(T, P*K)``: counts of ``K`` states for ``P`` channels
    (prompts) at ``T`` checkpoints. For a segment with summed counts :math:`S_{pk}`,

    .. math:: c(a, b) = \frac{1}{\phi}\Big(-2\sum_p\sum_k S_{pk}\log\frac{S_{pk}}{S_p}\Big)
              + \beta \log T \sum_p (k_p - 1),

    where :math:`k_p` is the number of states channel ``p`` shows in the segment. The
    first term is :math:`-2\log L` of a shared categorical (Agresti 2013, *Categorical
    Data Analysis*, sec. 3.2: its split gain is the likelihood-ratio statistic
    :math:`G`, chi-square with :math:`\sum_p (k_p-1)` degrees of freedom under no change);
    ``phi`` (>= 1) is an over-dispersion factor; the second term is the BIC charge for
    the segment's free probabilities (``beta=0`` gives the plain deviance).
    """

    model = "multinomial"
    min_size = 2

    def __init__(self, n_states: int = 2, phi: float = 1.0, beta: float = 0.0):
        self.n_states = int(n_states)
        self.phi = float(phi)
        self.beta = float(beta)

    def fit(self, signal: np.ndarray) -> CostMultinomial:
        x = np.asarray(signal, dtype=float)
        t = x.shape[0]
        x = x.reshape(t, -1, self.n_states)
        self.signal = x
        self._cum = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])
        self._charge = self.beta * math.log(max(t, 2))
        return self

    def error(self, start: int, end: int) -> float:
        if end - start < self.min_size:
            raise rpt.exceptions.NotEnoughPoints
        s = self._cum[end] - self._cum[start]
        dev = float(deviance(s).sum()) / self.phi
        if self._charge:
            k = (s > 0).sum(axis=-1)
            dev += self._charge * float(np.maximum(k - 1, 0).sum())
        return dev

    def errors(self, starts: np.ndarray, end: int) -> np.ndarray:
        """``error(a, end)`` for every ``a`` in ``starts`` at once (shape of ``starts``)."""
        s = self._cum[end][None] - self._cum[starts]
        dev = deviance(s).sum(axis=-1) / self.phi
        if self._charge:
            k = (s > 0).sum(axis=-1)
            dev = dev + self._charge * np.maximum(k - 1, 0).sum(axis=-1)
        return dev

    def pruning_constant(self) -> float:
        r"""``K`` with :math:`c(a,b) + c(b,e) + K \le c(a,e)` for all ``a < b < e``.

        The deviance part never grows when a segment is split (its split gain is the
        likelihood-ratio statistic, >= 0), but the BIC charge can: each piece pays for
        the states it shows, at most all the states the whole series shows, so
        :math:`K = -\beta\log T\sum_p (k^{\rm all}_p - 1)` (Killick, Fearnhead & Eckley 2012,
        JASA 107:1590, sec. 3: pruning needs this constant, not 0).
        """
        if not self._charge:
            return 0.0
        k_all = (self._cum[-1] > 0).sum(axis=-1)
        return -self._charge * float(np.maximum(k_all - 1, 0).sum())



def make_cost(name: str, params: dict[str, Any]) -> BaseCost:
    """A fresh cost object from its plain-data description (``name``, ``params``)."""
    if name == "meanshift":
        return CostMeanShift()
    if name == "multinomial":
        return CostMultinomial(**params)
    raise ValueError(f"unknown cost {name!r}")
