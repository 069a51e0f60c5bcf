"""Phase boundaries (change points along the control axis) and phase labels.

Two paths share one result type (:class:`BoundaryResult`):

* **samples** (a Dataset with ``token``): the detector works on the state counts
  ``n[t, p, k]`` of every checkpoint ``t`` and prompt (channel) ``p``. Their noise is
  known -- multinomial -- so the segment cost is the multinomial deviance
  (:class:`CostMultinomial`), whose split gain is the likelihood-ratio statistic ``G``
  with a chi-square calibration. Gradual drift of the per-prompt distributions (real
  change that is not a transition) is separated from a transition by a scan test whose
  over-dispersion is estimated from windows inside the segments (see
  :func:`detect_boundaries`).
* **series** (any real DataArray/Dataset): every dim other than ``dim`` and every
  variable is one channel of a multivariate signal; each channel is scaled by a robust
  noise estimate (MAD of first differences / sqrt 2), the cost is the Gaussian
  mean-shift cost (:class:`CostMeanShift`) with a BIC-type penalty, and candidate
  boundaries are kept only if they beat a parametric AR(1) bootstrap of the no-change
  null.

The default search (``method="pelt"``) is exact for the cost used
(:func:`optimal_partition`: optimal partitioning with PELT pruning by the cost's own
constant, Killick, Fearnhead & Eckley 2012); ruptures (Truong, Oudre & Vayatis 2020,
Signal Processing 167) provides the alternatives (Binseg, BottomUp, Dynp, KernelCPD).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import ruptures as rpt
import xarray as xr
from ruptures.base import BaseCost
from scipy import stats
from scipy.special import xlogy

from ._meta import as_dims, jsonable, provenance, require_dims
from .errors import SchemaError

__all__ = [
    "DEFAULT_SEED",
    "BoundaryResult",
    "CostMeanShift",
    "CostMultinomial",
    "detect_boundaries",
    "label_phases",
    "optimal_partition",
    "penalty_path",
    "phase_levels",
]

_METHODS = ("pelt", "binseg", "bottomup", "dynp", "kernelcpd")

#: Default shortest segment of the series path (samples path: 2 checkpoints).
#: Chosen with the penalty factor on synthetic series (benchmarks/bench_changepoint_constants.py).
SERIES_MIN_SIZE = 5

#: Factor f of the series-path penalty f (C + 1) log n, chosen on synthetic series
#: (benchmarks/bench_changepoint_constants.py), not on TCPD.
SERIES_PENALTY_FACTOR = 3.0

#: Largest AR(1) autocorrelation of the series no-change null.
RHO_MAX = 0.8

#: Seed of the resampling when ``seed`` is not given: the same call gives the same
#: answer (recorded in ``BoundaryResult.attrs["seed"]``; ``seed=None`` draws fresh).
DEFAULT_SEED = 20260601


# --------------------------------------------------------------------------- costs
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


def _deviance(s: np.ndarray) -> np.ndarray:
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
        dev = float(_deviance(s).sum()) / self.phi
        if self._charge:
            k = (s > 0).sum(axis=-1)
            dev += self._charge * float(np.maximum(k - 1, 0).sum())
        return dev

    def errors(self, starts: np.ndarray, end: int) -> np.ndarray:
        """``error(a, end)`` for every ``a`` in ``starts`` at once (shape of ``starts``)."""
        s = self._cum[end][None] - self._cum[starts]
        dev = _deviance(s).sum(axis=-1) / self.phi
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


# --------------------------------------------------------------------------- result
@dataclass
class BoundaryResult:
    """Phase boundaries along a control dim.

    Attributes
    ----------
    locations : control values (``step``) of the first checkpoint of each new segment
    indices : positions of those checkpoints along ``dim``
    intervals : ``(lower, upper)`` of each location, in control values: the change
        happened after the checkpoint at ``lower`` and no later than the one at
        ``upper`` (a confidence set for the first checkpoint of the new segment,
        inverted from the likelihood ratio and calibrated by a parametric bootstrap;
        see :func:`detect_boundaries`)
    phases : label per checkpoint (DataArray along ``dim``)
    penalty : the penalty used by the search (per boundary)
    evidence : global no-change test (statistic, p-value), per-boundary statistics,
        p-values and the channels that moved, dropped checkpoints, noise estimates
    path : penalty path -- number and locations of boundaries against the penalty
        (a property, computed on first access by re-running the search on a grid)
    attrs : provenance: the seed of the resampling (``seed``), ``n_bootstrap``,
        ``alpha``, package version

    The result is plain data (no closures): it pickles and round-trips.
    """

    locations: list[float]
    indices: list[int]
    intervals: list[tuple[float, float]]
    phases: xr.DataArray
    penalty: float
    evidence: dict[str, Any]
    path_fn: Any = field(default=None, repr=False)
    dim: str = "checkpoint"
    method: str = "pelt"
    kind: str = "series"
    levels: xr.Dataset | None = field(default=None, repr=False)
    search_fn: Any = field(default=None, repr=False)
    _path: pd.DataFrame | None = field(default=None, repr=False)
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def path(self) -> pd.DataFrame:
        """Penalty path (computed on first access): penalty, n_boundaries, locations."""
        if self._path is None:
            self._path = self.path_fn() if callable(self.path_fn) else pd.DataFrame(
                columns=["penalty", "n_boundaries", "locations"])
        return self._path

    def to_dataframe(self) -> pd.DataFrame:
        """One row per boundary: location, index, interval, bootstrap stderr of the
        location (control units), statistic, p-value, channels, phases either side."""
        per = self.evidence.get("boundaries", [])
        rows = []
        for i, (loc, idx, (lo, hi)) in enumerate(
            zip(self.locations, self.indices, self.intervals, strict=True)
        ):
            e = per[i] if i < len(per) else {}
            rows.append(
                {
                    "location": loc,
                    "index": idx,
                    "lower": lo,
                    "upper": hi,
                    "stderr": e.get("stderr", np.nan),
                    "statistic": e.get("statistic", np.nan),
                    "p_value": e.get("p_value", np.nan),
                    "channels": ",".join(str(c) for c in e.get("channels", [])),
                    "phase_before": e.get("phase_before", ""),
                    "phase_after": e.get("phase_after", ""),
                }
            )
        cols = ["location", "index", "lower", "upper", "stderr", "statistic", "p_value", "channels",
                "phase_before", "phase_after"]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return jsonable(
            {
                "dim": self.dim,
                "method": self.method,
                "kind": self.kind,
                "locations": self.locations,
                "indices": self.indices,
                "intervals": [list(iv) for iv in self.intervals],
                "phases": [str(v) for v in np.asarray(self.phases.values)],
                "penalty": self.penalty,
                "evidence": self.evidence,
                "attrs": self.attrs,
                "path": self.path.to_dict(orient="records"),
            }
        )

    def __repr__(self) -> str:
        p = self.evidence.get("p_value_text", f"{self.evidence.get('p_value', np.nan):.3g}")
        locs = ", ".join(
            f"{loc:g} ({lo:g}, {hi:g}]"
            for loc, (lo, hi) in zip(self.locations, self.intervals, strict=True)
        )
        return (
            f"BoundaryResult({self.kind}, {self.method}, {len(self.locations)} boundaries"
            f"{': ' + locs if locs else ''}; no-change p = {p})"
        )


@dataclass
class PenalisedSearch:
    """The search of a :class:`BoundaryResult` at any penalty (picklable, no closure).

    Calling it with a penalty returns the control values of the change points that
    the search (``method`` with ``cost`` on ``signal``) finds there, before any test.
    """

    method: str
    cost: Any
    signal: np.ndarray
    min_size: int
    control: np.ndarray

    def indices(self, pen: float) -> list[int]:
        """Change points (rows of ``signal``) at penalty ``pen``."""
        return _search(self.method, self.cost, self.min_size, self.signal, float(pen))

    def __call__(self, pen: float) -> list[float]:
        return [float(self.control[i]) for i in self.indices(pen)]


@dataclass
class PenaltyPath:
    """Lazy penalty path: the search on a grid of penalties (picklable)."""

    search: PenalisedSearch | None
    grid: np.ndarray

    def __call__(self) -> pd.DataFrame:
        if self.search is None:
            return pd.DataFrame(columns=["penalty", "n_boundaries", "locations"])
        return _path_frame(self.grid, self.search)


def p_value_fields(p: float, n_boot: int) -> dict[str, Any]:
    """A resampling p-value with its floor: at ``1/(B+1)`` it is only a bound.

    Returns ``p_value`` (the number, kept for sorting), ``p_value_floor`` (1/(B+1)),
    ``p_value_at_floor`` and ``p_value_text`` (``"< 0.00498"`` at the floor, else the
    value): no draw of the null was as extreme, so the p-value is below the floor.
    """
    if not np.isfinite(p) or n_boot <= 0:
        return {"p_value": float(p), "p_value_floor": np.nan, "p_value_at_floor": False,
                "p_value_text": f"{p:.3g}"}
    floor = 1.0 / (n_boot + 1)
    at_floor = bool(p <= floor * (1 + 1e-12))
    return {"p_value": float(p), "p_value_floor": floor, "p_value_at_floor": at_floor,
            "p_value_text": f"< {floor:.3g}" if at_floor else f"{p:.3g}"}


# --------------------------------------------------------------------------- helpers
def _control_values(obj: xr.Dataset | xr.DataArray, dim: str, control: str | None) -> np.ndarray:
    """Numeric control value per position along ``dim`` (``step`` coord by default)."""
    names = [control] if control else ["step", dim]
    for name in names:
        if name in obj.coords and obj.coords[name].dims == (dim,):
            vals = obj.coords[name].values
            if np.issubdtype(vals.dtype, np.number):
                return vals.astype(float)
            if np.issubdtype(vals.dtype, np.datetime64):
                return vals.astype("datetime64[ns]").astype(np.int64).astype(float)
    if control:
        raise SchemaError(
            f"no numeric coordinate {control!r} along {dim!r}",
            where=f"coords are {list(obj.coords)}",
            fix=f"add a numeric coord ({dim},) or pass control=None to use positions",
        )
    return np.arange(obj.sizes[dim], dtype=float)


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


def _search(method: str, cost: BaseCost, min_size: int, signal: np.ndarray, pen: float) -> list[int]:
    """Run the search; return change points (first index of new segments).

    ``pelt`` is the exact :func:`optimal_partition` (with the cost's valid pruning
    constant); the others are ruptures' searches.
    """
    n = signal.shape[0]
    if n < 2 * min_size:
        return []
    if method == "pelt":
        return optimal_partition(cost.fit(signal), n, min_size, pen)
    if method == "binseg":
        algo = rpt.Binseg(custom_cost=cost, min_size=min_size, jump=1)
    elif method == "bottomup":
        algo = rpt.BottomUp(custom_cost=cost, min_size=min_size, jump=1)
    elif method == "dynp":
        algo = rpt.Dynp(custom_cost=cost, min_size=min_size, jump=1)
    elif method == "kernelcpd":
        algo = rpt.KernelCPD(kernel="linear", min_size=min_size, jump=1)
    else:  # pragma: no cover - checked by caller
        raise AssertionError(method)
    algo.fit(signal)
    if method == "dynp":
        # Dynp needs a number of change points: choose it by the same penalised cost.
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
        bkps = best
    else:
        bkps = algo.predict(pen=pen)
    cps = [int(b) for b in bkps if 0 < b < n]
    if method in ("bottomup", "kernelcpd", "binseg"):
        cps = _refine(cost if method != "kernelcpd" else cost.fit(signal), cps, n, min_size)
    return cps


def _refine(cost: BaseCost, cps: list[int], n: int, min_size: int) -> list[int]:
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


def _segments(cps: Sequence[int], n: int) -> list[tuple[int, int]]:
    edges = [0, *sorted(cps), n]
    return list(zip(edges[:-1], edges[1:], strict=True))


# --------------------------------------------------------------------------- levels / phases
def _level_arrays(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-checkpoint levels from counts (T, P, K): plug-in entropy, magnetisation...

    Returns arrays of shape (T,) (means over channels) and the pooled distribution
    (T, K).
    """
    tot = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tot > 0, counts / np.where(tot > 0, tot, 1), np.nan)
        logp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = -(np.nan_to_num(p) * logp).sum(axis=-1)
    h = np.where(tot[..., 0] > 0, h, np.nan)
    pooled = counts.sum(axis=1)
    ptot = pooled.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = pooled / np.where(ptot > 0, ptot, 1)
        hp = -(np.where(pp > 0, pp * np.log(np.where(pp > 0, pp, 1.0)), 0.0)).sum(axis=-1)
    w = tot[..., 0] / np.maximum(tot[..., 0].sum(axis=1, keepdims=True), 1)
    with np.errstate(invalid="ignore"):
        js = hp - np.nansum(w * h, axis=1)  # generalised Jensen-Shannon between prompts
    with warnings.catch_warnings():  # checkpoints without samples give NaN levels
        warnings.simplefilter("ignore", RuntimeWarning)
        mode_frac = np.nanmax(p, axis=-1) if p.size else np.zeros(p.shape[:-1])
        return {"entropy": np.nanmean(h, axis=1), "js": js, "pooled": pp,
                "mode_fraction": np.nanmean(mode_frac, axis=1)}


def phase_levels(
    data: xr.Dataset | xr.DataArray,
    dim: str = "checkpoint",
    system: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
) -> xr.Dataset:
    r"""Order-parameter levels per checkpoint, the raw material of :func:`label_phases`.

    From the state counts of every (checkpoint, prompt):

    * ``entropy``: mean over prompts of the plug-in entropy :math:`-\sum_k p_k\ln p_k`
      (nats);
    * ``magnetization``: mean Potts magnetisation :math:`(q\max_k p_k-1)/(q-1)`;
    * ``js_divergence``: generalised Jensen-Shannon divergence between the prompts'
      distributions, :math:`H(\bar p) - \sum_j w_j H(p_j)` (nats; Lin 1991, IEEE
      Trans. Inf. Theory 37:145), 0 when all prompts answer alike;
    * ``support``: number of states that carry 95 % of the pooled mass.

    The ``pooled`` distribution (``dim``, ``state``) is kept so that support changes
    can be checked.
    """
    counts, info = _counts_tensor(data, dim, system, n_states)
    lv = _level_arrays(counts)
    q = info["n_states"]
    coords = {dim: info["coord"]}
    if info["step"] is not None:
        coords["step"] = (dim, info["step"])
    qn = q if q is not None else counts.shape[-1]
    m = (qn * lv["mode_fraction"] - 1) / (qn - 1) if qn > 1 else lv["mode_fraction"]
    pooled = lv["pooled"]
    order = np.sort(pooled, axis=-1)[:, ::-1]
    support = (np.cumsum(order, axis=-1) < 0.95).sum(axis=-1) + 1
    ds = xr.Dataset(
        {
            "entropy": (dim, lv["entropy"], {"units": "nats", "estimator": "plug-in"}),
            "magnetization": (dim, m),
            "js_divergence": (dim, lv["js"], {"units": "nats"}),
            "support": (dim, support.astype(float)),
            "pooled": ((dim, "state"), pooled),
        },
        coords={**coords, "state": info["states"]},
        attrs=provenance(n_states=qn, estimator="phase_levels"),
    )
    return ds


def label_phases(
    levels: xr.Dataset,
    boundaries: BoundaryResult | Sequence[int],
    dim: str = "checkpoint",
    *,
    n_states: int | None = None,
    collapse: float = 0.15,
    settle_tolerance: float = 0.15,
) -> xr.Dataset:
    r"""Describe each segment by its order-parameter levels and name it.

    ``levels`` is a Dataset along ``dim`` with (some of) ``entropy`` (nats),
    ``js_divergence`` (nats, between prompts), ``support`` (states carrying 95 % of the
    mass), ``magnetization`` and optionally ``pooled`` (``dim``, ``state``), e.g. from
    :func:`phase_levels`. ``boundaries`` is a :class:`BoundaryResult` or the positions of
    the first checkpoint of each new segment.

    The rule (the dictionary of Samanta, Holtzman & West 2026, arXiv 2606.29933):

    1. Every segment gets its mean levels; entropy and divergence are normalised,
       :math:`h = H/\ln q` and :math:`j = JS/\ln 2`, and the disorder score is
       :math:`d = h + j`.
    2. The *collapse* is the boundary with the largest drop of :math:`d`, provided the
       drop is at least ``collapse`` (absolute) -- entropy and between-prompt
       divergence fall together when the prompts crystallise onto one distribution.
    3. Segments before the collapse are **liquid** (high entropy, distinct prompt
       distributions; several liquid segments mean drift was cut); the segment right
       after it is **nucleation**; each later segment is **settling** when its entropy
       does not exceed the nucleation level by more than ``settle_tolerance`` (in
       :math:`h`) and its support (the states carrying 95 % of the pooled mass, when
       ``pooled`` is given; else the ``support`` count) stays inside the nucleated
       support -- probability redistributed inside a fixed support; otherwise
       **unclassified**.
    4. With no collapse, every segment is **liquid** if :math:`h \ge 0.5` or
       :math:`j \ge 0.25`, else **ordered** (no transition seen in this window).

    Returns a Dataset along ``segment`` with ``label``, ``first_index``, ``start`` and
    ``stop`` (control values), the raw mean levels of every variable (and
    ``<variable>_stderr``, the standard error of the segment mean over its
    checkpoints), ``disorder``, and
    ``phase`` along ``dim`` (the label of every checkpoint), so that users can apply
    their own rule to the kept levels.
    """
    if not isinstance(levels, xr.Dataset) or dim not in levels.dims:
        raise SchemaError(
            f"levels must be a Dataset along {dim!r}",
            where="label_phases(levels=...)",
            fix="pass phase_levels(ds) or pk.order_parameters(ds) reduced to one value per checkpoint",
        )
    n = levels.sizes[dim]
    cps = list(boundaries.indices) if isinstance(boundaries, BoundaryResult) else [int(b) for b in boundaries]
    if any(not 0 < b < n for b in cps):
        raise SchemaError(
            f"boundary positions {cps} are outside 1..{n - 1}",
            where="label_phases(boundaries=...)",
            fix="pass the positions of the first checkpoint of each new segment",
        )
    segs = _segments(sorted(set(cps)), n)
    q = n_states if n_states is not None else levels.attrs.get("n_states")
    scalar_vars = [v for v in levels.data_vars if levels[v].dims == (dim,)]

    def seg_mean(var: str) -> np.ndarray:
        vals = np.asarray(levels[var].values, dtype=float)
        return np.array([np.nanmean(vals[a:b]) if np.isfinite(vals[a:b]).any() else np.nan
                         for a, b in segs])

    def seg_sem(var: str) -> np.ndarray:
        vals = np.asarray(levels[var].values, dtype=float)
        out = []
        for a, b in segs:
            v = vals[a:b][np.isfinite(vals[a:b])]
            out.append(np.std(v, ddof=1) / math.sqrt(v.size) if v.size > 1 else np.nan)
        return np.array(out)

    means = {v: seg_mean(v) for v in scalar_vars}
    s = len(segs)
    if "entropy" in means:
        h = means["entropy"] / math.log(q) if q and q > 1 else means["entropy"] / np.nanmax(
            np.r_[means["entropy"], 1e-12])
    else:
        h = np.zeros(s)
    j = means["js_divergence"] / math.log(2) if "js_divergence" in means else np.zeros(s)
    d = np.nan_to_num(h) + np.nan_to_num(j)
    labels = ["unclassified"] * s
    drops = -np.diff(d)
    if s > 1 and np.nanmax(drops) >= collapse:
        c = int(np.nanargmax(drops)) + 1
        for i in range(c):
            labels[i] = "liquid"
        labels[c] = "nucleation"
        nuc_support = _support_set(levels, dim, segs[c]) if "pooled" in levels else None
        for i in range(c + 1, s):
            low = np.nan_to_num(h[i]) <= np.nan_to_num(h[c]) + settle_tolerance
            if nuc_support is not None:
                inside = _support_set(levels, dim, segs[i]) <= nuc_support
            elif "support" in means:
                inside = means["support"][i] <= means["support"][c] + 0.5
            else:
                inside = True
            labels[i] = "settling" if (low and inside) else "unclassified"
    else:
        for i in range(s):
            labels[i] = "liquid" if (np.nan_to_num(h[i]) >= 0.5 or j[i] >= 0.25) else "ordered"
    control = _control_values(levels, dim, None)
    phase = np.empty(n, dtype=object)
    for (a, b), lab in zip(segs, labels, strict=True):
        phase[a:b] = lab
    out = xr.Dataset(
        {
            "label": ("segment", np.array(labels, dtype=object)),
            "first_index": ("segment", np.array([a for a, _ in segs])),
            "start": ("segment", control[[a for a, _ in segs]]),
            "stop": ("segment", control[[b - 1 for _, b in segs]]),
            "disorder": ("segment", d),
            **{v: ("segment", means[v]) for v in scalar_vars},
            **{f"{v}_stderr": ("segment", seg_sem(v)) for v in scalar_vars},
            "phase": (dim, phase),
        },
        coords={dim: levels[dim].values, "segment": np.arange(s)},
        attrs=provenance(rule="collapse of h+j; see phasekit.transitions.label_phases",
                         collapse=collapse, settle_tolerance=settle_tolerance,
                         n_states=q if q else "unknown (entropy normalised by its maximum)"),
    )
    return out


def _support_set(levels: xr.Dataset, dim: str, seg: tuple[int, int], mass: float = 0.95) -> set:
    pooled = np.nanmean(np.asarray(levels["pooled"].values, dtype=float)[seg[0]:seg[1]], axis=0)
    order = np.argsort(pooled)[::-1]
    k = int((np.cumsum(pooled[order]) < mass).sum()) + 1
    return set(order[:k].tolist())


# --------------------------------------------------------------------------- data access
def _is_samples(data: Any) -> bool:
    if isinstance(data, xr.Dataset):
        return "token" in data.data_vars
    return (
        isinstance(data, xr.DataArray)
        and data.name == "token"
        and np.issubdtype(data.dtype, np.integer)
    )


def _counts_tensor(
    data: xr.Dataset | xr.DataArray, dim: str, system: Any, n_states: int | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Counts (T, P, K) over the observed states, channels = all kept dims but ``dim``."""
    from .count import count_states, resolve_n_states
    from .schema import token_array

    tok = token_array(data)
    require_dims(tok, [dim], argument="dim")
    if system is None:
        system = tuple(d for d in ("sample", "position") if d in tok.dims)
        if not system:
            raise SchemaError(
                "cannot tell which dims hold the samples",
                where=f"token dims are {list(tok.dims)}",
                fix="pass system= (the dims counted over, e.g. system='sample')",
            )
    system = as_dims(system)
    if dim in system:
        raise SchemaError(f"dim {dim!r} cannot also be a system dim", where="system=",
                          fix="count over the sample dims only")
    q = resolve_n_states(data, n_states)
    c = count_states(tok, system=system, n_states=q)
    uniq, inv = np.unique(c.states, return_inverse=True)
    k = max(len(uniq), 1)
    dense = np.zeros((c.n_config, k))
    rows = np.repeat(np.arange(c.n_config), np.diff(c.indptr))
    dense[rows, inv] = c.counts
    dense = dense.reshape(*c.shape, k)
    axis = list(c.dims).index(dim)
    dense = np.moveaxis(dense, axis, 0)
    channels = [d for d in c.dims if d != dim]
    t = dense.shape[0]
    dense = dense.reshape(t, -1, k)
    if channels:
        idx = pd.MultiIndex.from_product([tok[d].values for d in channels]) if len(channels) > 1 \
            else tok[channels[0]].values
        names = [str(v) if not isinstance(v, tuple) else "/".join(map(str, v)) for v in idx]
    else:
        names = ["all"]
    step = None
    for name in ("step",):
        if name in tok.coords and tok.coords[name].dims == (dim,):
            step = np.asarray(tok.coords[name].values)
    state_labels = uniq
    if isinstance(data, xr.Dataset) and "state" in data.coords and q is not None \
            and data.sizes.get("state", -1) == q:
        state_labels = np.asarray(data["state"].values)[uniq]
    info = {"n_states": q, "channels": names, "coord": tok[dim].values, "step": step,
            "states": state_labels, "control": _control_values(tok, dim, None),
            "system": system}
    return dense, info


def _series_matrix(data: xr.Dataset | xr.DataArray, dim: str) -> tuple[np.ndarray, list[str]]:
    """(n, C) float matrix: every other dim and variable is a channel."""
    if isinstance(data, xr.Dataset):
        arrays = {str(v): data[v] for v in data.data_vars if dim in data[v].dims}
        if not arrays:
            raise SchemaError(f"no variable of the dataset runs along {dim!r}",
                              where=f"variables {list(data.data_vars)}",
                              fix=f"pass dim= naming the control dim, or a DataArray along {dim!r}")
    else:
        arrays = {str(data.name) if data.name is not None else "value": data}
    cols, names = [], []
    for name, da in arrays.items():
        if not (np.issubdtype(da.dtype, np.number) or np.issubdtype(da.dtype, np.bool_)):
            raise SchemaError(f"variable {name!r} is not numeric", where=f"dtype {da.dtype}",
                              fix="pass real-valued series (or a samples Dataset with 'token')")
        other = [d for d in da.dims if d != dim]
        da = da.transpose(dim, *other)
        vals = np.asarray(da.values, dtype=float).reshape(da.sizes[dim], -1)
        if other:
            stacked = da.stack(_ch=other)["_ch"].values
            labels = [f"{name}[{v if not isinstance(v, tuple) else ','.join(map(str, v))}]"
                      for v in stacked]
        else:
            labels = [name]
        cols.append(vals)
        names.extend(labels)
    return np.concatenate(cols, axis=1), names


# --------------------------------------------------------------------------- public entry
def detect_boundaries(
    data: xr.Dataset | xr.DataArray,
    dim: str = "checkpoint",
    method: str = "pelt",
    penalty: float | str = "auto",
    n_bootstrap: int = 200,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
    min_size: int | None = None,
    *,
    system: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
    control: str | None = None,
    window: int = 5,
    merge_within: int = 6,
    test: bool = True,
) -> BoundaryResult:
    r"""Find phase boundaries along ``dim``, with a no-change test and intervals.

    **Samples** (a Dataset with ``token``): counts ``n[t, p, k]`` per checkpoint ``t`` and
    channel ``p`` (all kept dims except ``dim``, usually prompts), counted over
    ``system`` (default: ``sample`` and ``position``).

    1. *Candidates*: the exact search (:func:`optimal_partition`, PELT with the valid
       pruning constant of the cost) with :class:`CostMultinomial` (deviance divided by
       the over-dispersion ``phi`` plus the BIC charge :math:`\log T\sum_p(k_p-1)` for
       each segment's free probabilities); ``penalty="auto"`` adds :math:`\log T` per
       boundary (its location), i.e. the BIC of a piecewise-constant categorical model
       with known multinomial noise.
    2. *Scan statistic*: between the pooled counts of the ``window`` checkpoints before
       and after ``t``, :math:`D_t = \sum_p G_p(t)` (prompts changing each their own
       way) and :math:`G^{pool}_t` (counts pooled over prompts: a change all prompts
       share, such as settling inside one seed), each standardised by the mean and sd
       of its own multinomial null draws (``n_bootstrap``; every prompt keeps its pooled
       distribution in both windows); :math:`Z_t` is the larger of the two.
    3. *Over-dispersion*: slow drift inflates the statistics, so each is divided by
       :math:`\hat\phi = \operatorname{median}_t D_t / E[D^*_t]` (>= 1) and its
       standardised value by the spread :math:`\hat\psi` (>= 1, 1.4826 MAD), measured
       at positions away from the significant scan maxima (found iteratively) and,
       for each boundary, also in the stretch around it (the larger is used).
    4. *Test*: the null of the scan is :math:`M^* = \max_t Z^*_t`; the global
       no-change p-value is :math:`P(M^* \ge \max_t Z_t)` (reported as
       ``"< 1/(B+1)"`` at the resampling floor). It is the gate: no boundary unless it
       rejects, and then at least one (its peak if nothing else survives), so the
       result never contradicts its own test. Candidates (search + significant scan
       maxima) are tested with windows clipped at their neighbours and removed weakest
       first; then the significant maxima of the scan inside each segment are added
       and the elimination rerun until stable (a strong change hides a weaker one a
       few checkpoints away from the unclipped scan).
    5. A transition spread over a few checkpoints (nucleation) can be cut twice: two
       kept boundaries closer than ``merge_within`` checkpoints are one transition
       (located at the first cut) when the middle segment is a transit: its disorder
       lies between the neighbours' and a mixture of the neighbours explains it
       better (BIC) than a phase of its own.
    6. *Intervals*: likelihood-ratio confidence sets (Siegmund 1988): between its
       neighbours, every first cut ``t`` whose profile cost (one cut, or a ramp of two)
       is within :math:`c_\alpha` of the best, :math:`c_\alpha` being the
       :math:`1-\alpha` quantile of the same gap at the true location in multinomial
       draws from the fitted model. Reported in control values as ``(lower, upper]``:
       the change happened after the checkpoint at ``lower`` and by the one at
       ``upper`` (the estimate is always inside; a location known to the checkpoint
       still spans one checkpoint spacing, which is what the data resolve).
    7. *Channels*: a prompt moved at a boundary if its own :math:`G_p/\hat\phi` is
       significant at ``alpha / P`` against :math:`\chi^2_{k_p-1}`.

    **Series** (any real DataArray / Dataset): columns = other dims x variables. Each
    channel is scaled by :math:`\hat\sigma_c = \mathrm{MAD}(\Delta x_c)/(0.6745\sqrt2)`
    (robust to level shifts); the cost is :class:`CostMeanShift` and
    ``penalty="auto"`` is the BIC-type :math:`\mathrm{pen} = 3\,(C + 1)\log n` per
    boundary in units of :math:`\hat\sigma^2` (C channel means and one location, each
    charged the 3 log n of the modified BIC of Zhang & Siegmund 2007, Biometrics 63:22).
    Each candidate ``c`` is then tested between its neighbours ``[a, b)`` by a parametric
    bootstrap of the no-change null: the statistic is the share of variance explained
    by the best single split, :math:`R^2 = \max_s \mathrm{gain}(s) / SS(a, b)`, and the
    null draws are stationary Gaussian AR(1) paths whose autocorrelation comes from the
    split's residuals by the variance ratio
    :math:`\hat\rho = 1 - \hat s^2_{\Delta} / (2 \hat s^2)`, capped at ``RHO_MAX`` = 0.8
    (persistent residuals widen the null, so slow drift is less often taken for a
    change); the weakest candidate is
    dropped until all pass (backward elimination). ``evidence["p_value"]`` is the
    smallest p-value of the tests made (best single split of the whole series, each
    candidate in the first round) and is the gate as in the samples path: a boundary
    is returned exactly when it is <= ``alpha``. Intervals are likelihood-ratio
    confidence sets of the split gain calibrated by a moving-block residual bootstrap
    of the fit, ``(lower, upper]`` as above; a channel moved if its segment-mean
    difference is significant at ``alpha / C`` with the AR(1) long-run variance. The
    constants (``SERIES_PENALTY_FACTOR`` = 3, ``SERIES_MIN_SIZE`` = 5) were chosen on
    synthetic series (``benchmarks/bench_changepoint_constants.py``); ``RHO_MAX`` made no
    difference there.

    Parameters
    ----------
    data
        Samples Dataset (``token``) or real-valued DataArray/Dataset along ``dim``.
    dim
        The control dim (``checkpoint``; ``temperature``...).
    method
        ``"pelt"``, ``"binseg"``, ``"bottomup"``, ``"dynp"`` or ``"kernelcpd"`` (linear
        kernel = mean shift, series only).
    penalty
        ``"auto"`` or a number (per boundary, in the cost's units).
    n_bootstrap, alpha, seed
        Bootstrap size (samples path: at least 50), test level (no-change test and
        intervals), random seed: ``DEFAULT_SEED`` by default, so the same call gives
        the same answer (bit-identical for numpy- and dask-backed input and across
        processes); ``seed=None`` (or a Generator) for fresh draws. Recorded in
        ``result.attrs["seed"]``.
    min_size
        Fewest checkpoints in a segment; default 2 for samples and
        ``SERIES_MIN_SIZE`` (5) for series, where isolated outliers would otherwise
        make 2-point segments.
    system, n_states
        Samples path: dims counted over, and q (used for labels only).
    control
        Coordinate holding the control value (default ``step`` if present, else the
        ``dim`` coordinate when numeric, else positions).
    window
        Checkpoints on each side for the samples scan statistic.
    merge_within
        Samples path: largest width (checkpoints) of a transition spread over several
        checkpoints whose two cuts are merged (0 to disable).
    test
        Apply the no-change test (``False`` returns the raw search result).

    Returns
    -------
    BoundaryResult

    Notes
    -----
    Checkpoints with a missing value (NaN in any channel, or no counted sample at all)
    are dropped before the search, and their number is reported in
    ``evidence["n_dropped"]``; locations and phases refer to the original positions.
    """
    if method not in _METHODS:
        raise SchemaError(f"unknown method {method!r}", where="detect_boundaries(method=...)",
                          fix=f"use one of {list(_METHODS)}")
    if not isinstance(data, xr.Dataset | xr.DataArray):
        raise SchemaError(f"expected an xarray Dataset or DataArray, got {type(data).__name__}",
                          where="detect_boundaries(data=...)",
                          fix="wrap the series in xarray.DataArray(values, dims=[dim])")
    require_dims(data, [dim], argument="dim")
    if not (isinstance(penalty, str) and penalty == "auto"):
        try:
            penalty = float(penalty)
        except (TypeError, ValueError) as err:
            raise SchemaError(f"penalty={penalty!r} is neither 'auto' nor a number",
                              where="detect_boundaries(penalty=...)", fix="pass 'auto' or a float") from err
        if not penalty >= 0:
            raise SchemaError("penalty must be >= 0", where=f"penalty={penalty}", fix="pass a non-negative number")
    samples = _is_samples(data)
    if min_size is None:
        min_size = 2 if samples else SERIES_MIN_SIZE
    if min_size < 1:
        raise SchemaError("min_size must be >= 1", where=f"min_size={min_size}", fix="pass min_size >= 1")
    if not 0 < alpha < 1:
        raise SchemaError("alpha must lie in (0, 1)", where=f"alpha={alpha}", fix="e.g. alpha=0.05")
    n_total = data.sizes[dim]
    if n_total < 3:
        raise SchemaError(
            f"{n_total} checkpoint(s) along {dim!r}: a boundary needs at least 3",
            where=f"dim {dim!r}",
            fix="provide a longer series along the control dim",
        )
    rng = np.random.default_rng(seed)
    seed_attr = seed if isinstance(seed, int | np.integer) else (
        "fresh entropy (seed=None)" if seed is None else "a numpy Generator passed in")
    control_vals = _control_values(data, dim, control)
    min_size = max(1, min(int(min_size), n_total // 2))
    if samples:
        if method == "kernelcpd":
            raise SchemaError("kernelcpd works on real-valued series only",
                              where="detect_boundaries(method='kernelcpd')",
                              fix="use pelt/binseg/bottomup/dynp on samples, or pass order parameters")
        res = _detect_counts(data, dim, method, penalty, n_bootstrap, alpha, rng, min_size,
                             system, n_states, control_vals, window, merge_within, test)
    else:
        res = _detect_series(data, dim, method, penalty, n_bootstrap, alpha, rng, min_size,
                             control_vals, test)
    res.attrs = provenance(seed=seed_attr, n_bootstrap=int(res.evidence.get("n_bootstrap", n_bootstrap)),
                           alpha=alpha, method=method, min_size=min_size, estimator="detect_boundaries")
    return res


# --------------------------------------------------------------------------- samples path
def _window_sums(cum: np.ndarray, t: int, lo: int, hi: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    a = max(lo, t - w)
    b = min(hi, t + w)
    return cum[t] - cum[a], cum[b] - cum[t]


def _g_stat(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Likelihood-ratio statistic per channel between two count arrays (..., P, K)."""
    return _deviance(left + right) - _deviance(left) - _deviance(right)


def _scan_stats(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    r"""The two scan statistics between windows (..., P, K) -> (..., 2).

    ``[..., 0]``: :math:`\sum_p G_p`, prompts changing each their own way;
    ``[..., 1]``: :math:`G` of the counts pooled over prompts, a change that all
    prompts share (e.g. settling inside one seed distribution) -- with
    :math:`k-1` instead of :math:`\sum_p (k_p-1)` degrees of freedom.
    """
    per_prompt = _g_stat(left, right).sum(axis=-1)
    pooled = _g_stat(left.sum(axis=-2), right.sum(axis=-2))
    return np.stack([per_prompt, pooled], axis=-1)


def _null_draws(left: np.ndarray, right: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial draws of both scan statistics under 'same distribution in both windows'.

    left/right: (n_pos, P, K) -> (n_boot, n_pos, 2): every prompt keeps its own pooled
    distribution in both windows, with the observed numbers of samples.
    """
    pooled = left + right
    tot = pooled.sum(axis=-1, keepdims=True)
    k = pooled.shape[-1]
    p = np.where(tot > 0, pooled / np.where(tot > 0, tot, 1), 1.0 / k)
    nl = left.sum(axis=-1).astype(np.int64)
    nr = right.sum(axis=-1).astype(np.int64)
    out = np.empty((n_boot, left.shape[0], 2))
    chunk = max(1, 2_000_000 // max(1, left.size))
    for s in range(0, n_boot, chunk):
        m = min(chunk, n_boot - s)
        lb = rng.multinomial(nl[None], p[None], size=(m, *nl.shape))
        rb = rng.multinomial(nr[None], p[None], size=(m, *nr.shape))
        out[s:s + m] = _scan_stats(lb.astype(float), rb.astype(float))
    return out


@dataclass
class _ScanNull:
    r"""Standardisation and null of the scan: :math:`Z = \max_j (D_j/\phi_j - \mu_j)/\sigma_j`.

    ``mu``/``sd`` (n_pos, 2): null mean and sd of each statistic per position; ``phi``
    (2,): over-dispersion of each; ``m_null`` (B,): the null of :math:`\max_t Z_t`.
    """

    mu: np.ndarray
    sd: np.ndarray
    phi: np.ndarray
    psi: np.ndarray
    m_null: np.ndarray
    note: str = "measured away from the significant scan peaks"

    def z(self, d: np.ndarray, mu: np.ndarray | None = None, sd: np.ndarray | None = None) -> np.ndarray:
        mu = self.mu if mu is None else mu
        sd = self.sd if sd is None else sd
        return np.max((d / self.phi - mu) / (sd * self.psi), axis=-1)

    def p(self, z: float) -> float:
        return float((1 + np.sum(self.m_null >= z)) / (self.m_null.size + 1))


def _scan_null(d_obs: np.ndarray, d_null: np.ndarray, clean: np.ndarray) -> _ScanNull:
    r"""Over-dispersion from the positions without a candidate, and the max-Z null.

    Gradual drift (real change that is not a transition) inflates the statistics
    between windows inside a segment. Two robust factors are measured there, per
    statistic: the level :math:`\phi = \operatorname{median}_t D_t / E[D^*_t]` (>= 1) and
    the spread :math:`\psi` (>= 1) of the standardised :math:`(D_t/\phi - \mu_t)/\sigma_t`
    (1.4826 MAD; 1 for pure multinomial noise): drift varies from window to window, so
    it widens the distribution as well as shifting it.
    """
    mu = d_null.mean(axis=0)
    sd = np.maximum(d_null.std(axis=0, ddof=1), 1e-9 * np.maximum(mu, 1.0))
    ratio = np.where(mu > 0, d_obs / np.where(mu > 0, mu, 1), np.nan)
    use = clean if clean.sum() >= max(5, clean.size // 3) else np.ones_like(clean)
    phi, psi = np.ones(2), np.ones(2)
    for j in range(2):
        r = ratio[use, j]
        if np.isfinite(r).any():
            phi[j] = max(1.0, float(np.median(r[np.isfinite(r)])))
        zc = (d_obs[use, j] / phi[j] - mu[use, j]) / sd[use, j]
        zc = zc[np.isfinite(zc)]
        if zc.size >= 5:
            psi[j] = max(1.0, float(1.4826 * np.median(np.abs(zc - np.median(zc)))))
    m_null = np.max((d_null - mu) / sd, axis=(1, 2))  # the draws are the no-change model
    return _ScanNull(mu, sd, phi, psi, m_null)


#: Scans over fewer positions (checkpoints - 1) than this start their drift estimate away
#: from the strongest peak (see :func:`_over_dispersion`).
SHORT_SCAN = 12


def _over_dispersion(d_obs: np.ndarray, d_null: np.ndarray, positions: np.ndarray, window: int,
                     alpha: float, rounds: int = 3) -> _ScanNull:
    """:func:`_scan_null` with the clean positions found iteratively.

    Start from every position (the median is robust to a few changes), then leave out
    the windows around the significant scan maxima and measure again, until stable.
    Positions are not left out around mere search candidates: drift makes candidates,
    and leaving their windows out would measure the drift where it is weakest.
    """
    clean = np.ones(len(positions), dtype=bool)
    null = _scan_null(d_obs, d_null, clean)
    if len(positions) < SHORT_SCAN:
        # few checkpoints: one change touches most windows, so the median over all
        # positions measures the change itself as "drift" and masks it. Leave out the
        # windows around the strongest multinomial peak first; if too few positions are
        # left to measure drift, assume none (pure multinomial) and say so.
        raw = _ScanNull(null.mu, null.sd, np.ones(2), np.ones(2), null.m_null)
        top = positions[int(np.argmax(raw.z(d_obs)))]
        clean = np.array([not (top - window < t < top + window) for t in positions])
        if clean.sum() < 5:
            return _ScanNull(null.mu, null.sd, np.ones(2), np.ones(2), null.m_null,
                             note=f"not measurable from {len(positions) + 1} checkpoints: a multinomial "
                             "null without drift is assumed (drift between checkpoints would "
                             "then read as change)")
        null = _scan_null(d_obs, d_null, clean)
    for _ in range(rounds):
        peaks = _scan_peaks(null.z(d_obs), positions, window, null, alpha, [])
        new = np.array([all(not (t - window < c < t + window) for c in peaks) for t in positions])
        if np.array_equal(new, clean):
            break
        clean = new
        null = _scan_null(d_obs, d_null, clean)
    return null


class _LocalTest:
    """No-change test of a boundary between its neighbours (windows clipped there).

    The statistic is the scan's Z for the clipped windows, standardised by its own
    null draws (cached per window), and compared with the max-Z null of the whole scan.
    """

    def __init__(self, cum: np.ndarray, t_len: int, window: int, null: _ScanNull, n_boot: int,
                 rng: np.random.Generator, scan: tuple[np.ndarray, np.ndarray] | None = None):
        self.cum, self.t_len, self.window, self.null = cum, t_len, window, null
        self.n_boot, self.rng = n_boot, rng
        self.scan = scan  # (d_obs, d_null) of the unclipped scan at positions 1..T-1
        self._cache: dict[tuple[int, int, int], float] = {}

    def null_in(self, lo: int, hi: int, skip: Sequence[int] = ()) -> _ScanNull:
        """The null with the over-dispersion of the stretch ``[lo, hi)`` if larger.

        Drift differs between phases (the liquid drifts, a collapsed phase does not):
        a boundary is tested against the drift measured around it (positions of the
        stretch away from ``skip``, at least 5 of them), or the global one if larger.
        """
        if self.scan is None:
            return self.null
        d_obs, d_null = self.scan
        pos = np.arange(1, self.t_len)
        use = (pos > lo) & (pos < hi)
        for c in skip:
            use &= ~((pos > c - self.window) & (pos < c + self.window))
        if use.sum() < 5:
            return self.null
        loc = _scan_null(d_obs[use], d_null[:, use], np.ones(int(use.sum()), dtype=bool))
        return _ScanNull(self.null.mu, self.null.sd, np.maximum(self.null.phi, loc.phi),
                         np.maximum(self.null.psi, loc.psi), self.null.m_null)

    def neighbours(self, c: int, cps: Sequence[int]) -> tuple[int, int]:
        srt = sorted(cps)
        i = srt.index(c)
        return (srt[i - 1] if i > 0 else 0), (srt[i + 1] if i + 1 < len(srt) else self.t_len)

    def z(self, c: int, cps: Sequence[int]) -> float:
        lo, hi = self.neighbours(c, cps)
        a, b = max(lo, c - self.window), min(hi, c + self.window)
        key = (a, c, b)
        if key not in self._cache:
            left, right = self.cum[c] - self.cum[a], self.cum[b] - self.cum[c]
            draws = _null_draws(left[None], right[None], self.n_boot, self.rng)[:, 0]
            mu = draws.mean(axis=0)
            sd = np.maximum(draws.std(axis=0, ddof=1), 1e-9 * np.maximum(mu, 1.0))
            null = self.null_in(lo, hi, [c])
            self._cache[key] = float(null.z(_scan_stats(left, right), mu, sd))
        return self._cache[key]

    def p(self, c: int, cps: Sequence[int]) -> float:
        return self.null.p(self.z(c, cps))

    def best_in(self, lo: int, hi: int, min_size: int) -> tuple[int, float]:
        """Strongest position of the scan inside ``[lo, hi)``, windows clipped there.

        Returns the position and its Z (-inf when the stretch is too short).
        """
        ts = np.arange(lo + min_size, hi - min_size + 1)
        if ts.size == 0:
            return lo, -np.inf
        a = np.maximum(lo, ts - self.window)
        b = np.minimum(hi, ts + self.window)
        left, right = self.cum[ts] - self.cum[a], self.cum[b] - self.cum[ts]
        draws = _null_draws(left, right, self.n_boot, self.rng)
        mu = draws.mean(axis=0)
        sd = np.maximum(draws.std(axis=0, ddof=1), 1e-9 * np.maximum(mu, 1.0))
        z = self.null_in(lo, hi).z(_scan_stats(left, right), mu, sd)
        j = int(np.argmax(z))
        return int(ts[j]), float(z[j])


def _grow(cps: list[int], local: _LocalTest, alpha: float, min_size: int, max_rounds: int = 50) -> list[int]:
    """Add the significant scan maxima inside the segments, then re-test (until stable).

    A strong change dominates the unclipped scan over its whole window, hiding a weaker
    change a few checkpoints away (e.g. settling after nucleation); inside the segments
    cut by the boundaries found so far, with windows clipped at them, it shows. Each
    round adds the strongest significant maximum of every segment (same max-Z null as
    every other test) and runs the backward elimination again -- binary segmentation
    with the scan test (Vostrikova 1981) on top of the exact search.
    """
    current = sorted(cps)
    for _ in range(max_rounds):
        added = []
        for a, b in _segments(current, local.t_len):
            t, zt = local.best_in(a, b, min_size)
            if np.isfinite(zt) and local.null.p(zt) <= alpha:
                added.append(t)
        if not added:
            break
        new = _eliminate(sorted({*current, *added}), local, alpha)
        if new == current:
            break
        current = new
    return current


def _eliminate(cands: list[int], local: _LocalTest, alpha: float) -> list[int]:
    """Backward elimination: drop the weakest boundary until every one has p <= alpha."""
    current = sorted(cands)
    while current:
        pvals = {c: local.p(c, current) for c in current}
        worst = max(current, key=lambda c: (pvals[c], -c))
        if pvals[worst] <= alpha:
            break
        current.remove(worst)
    return current


def _scan_peaks(z: np.ndarray, positions: np.ndarray, window: int, null: _ScanNull, alpha: float,
                near: Sequence[int], gap: int = 3) -> list[int]:
    """Significant local maxima of the scan (within +-window) away from the candidates."""
    out: list[int] = []
    for i, t in enumerate(positions):
        lo, hi = max(0, i - window), min(len(z), i + window + 1)
        if z[i] < z[lo:hi].max() or null.p(float(z[i])) > alpha:
            continue
        if all(abs(int(t) - c) >= gap for c in [*near, *out]):
            out.append(int(t))
    return out


def _mixture_fits_better(counts: np.ndarray, a: int, b1: int, b2: int, b: int) -> bool:
    r"""Is ``[b1, b2)`` a transit between ``[a, b1)`` and ``[b2, b)`` rather than a phase?

    A ramp moves every prompt from its left to its right distribution: each middle
    checkpoint ``i`` is a mixture :math:`w_i \hat p^L_p + (1-w_i)\hat p^R_p` (one weight
    for all prompts). A phase of its own holds one distribution per prompt over the
    stretch. The stretch is a transit when the mixture has the better BIC (Schwarz
    1978: one weight per checkpoint against :math:`\sum_p (k_p - 1)` probabilities;
    ``w_i`` on a grid of 51 values; left/right proportions with a 1/2 pseudo-count).
    """
    mid = counts[b1:b2]
    pl = counts[a:b1].sum(axis=0) + 0.5
    pr = counts[b2:b].sum(axis=0) + 0.5
    pl /= pl.sum(axis=-1, keepdims=True)
    pr /= pr.sum(axis=-1, keepdims=True)
    w = np.linspace(0.0, 1.0, 51)[:, None, None]
    logmix = np.log(w * pl[None] + (1 - w) * pr[None])  # (51, P, K)
    ll_mix = sum(float(np.max((mid[i][None] * logmix).sum(axis=(1, 2)))) for i in range(mid.shape[0]))
    plateau = mid.sum(axis=0)
    tot = plateau.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(plateau > 0, np.log(plateau / np.where(tot > 0, tot, 1)), 0.0)
    ll_plateau = float((mid * logp[None]).sum())
    log_n = math.log(max(float(mid.sum()), 2.0))
    df_plateau = float(np.maximum((plateau > 0).sum(axis=-1) - 1, 0).sum())
    return ll_mix - 0.5 * log_n * mid.shape[0] >= ll_plateau - 0.5 * log_n * df_plateau


def _merge_ramps(cps: list[int], counts: np.ndarray, window: int, merge_within: int) -> list[int]:
    """Merge two cuts closer than ``merge_within`` whose middle segment is a transit.

    A transition spread over a few checkpoints (a ramp) can be cut twice; the short
    segment between is a transit when its disorder (normalised entropy + between-prompt
    JS) lies between its neighbours'. The first cut (where the change begins) is kept.
    """
    if not merge_within or len(cps) < 2:
        return list(cps)
    t_len = counts.shape[0]
    lv = _level_arrays(counts)
    disorder = np.nan_to_num(lv["entropy"]) + np.nan_to_num(lv["js"])
    merged = list(cps)
    changed = True
    while changed and len(merged) > 1:
        changed = False
        for i in range(len(merged) - 1):
            b1, b2 = merged[i], merged[i + 1]
            if b2 - b1 >= merge_within:
                continue
            lo = merged[i - 1] if i > 0 else 0
            hi = merged[i + 2] if i + 2 < len(merged) else t_len
            d_l = disorder[max(lo, b1 - window):b1].mean()
            d_m = disorder[b1:b2].mean()
            d_r = disorder[b2:min(hi, b2 + window)].mean()
            if min(d_l, d_r) <= d_m <= max(d_l, d_r) and _mixture_fits_better(
                    counts, max(lo, b1 - window), b1, b2, min(hi, b2 + window)):
                del merged[i + 1]
                changed = True
                break
    return merged


def _location_profile(cum: np.ndarray, min_size: int, merge_within: int, phi: float,
                      extra: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Best cost of a stretch ``[0, L)`` given the boundary's first cut at ``t``, per draw.

    The boundary is one cut ``t`` (cost :math:`c(0,t) + c(t,L)`) or a ramp of two cuts
    ``t < u < t + merge_within`` (:math:`c(0,t)+c(t,u)+c(u,L) + \mathrm{extra}`, the
    BIC charge of the extra segment), reported at ``t`` as the merge rule does;
    :math:`c` is the multinomial deviance / ``phi``. ``cum``: cumulative counts
    (B, L+1, P, K). Returns ``ts``, the profile (B, len(ts)) and the ramp's second cut
    (B, len(ts); -1 for one cut).
    """
    length = cum.shape[1] - 1
    ts = np.arange(min_size, length - min_size + 1)

    def segcost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _deviance(cum[:, b] - cum[:, a]).sum(axis=-1) / phi

    zero, end = np.zeros_like(ts), np.full_like(ts, length)
    head = segcost(zero, ts)
    prof = head + segcost(ts, end)
    second = np.full(prof.shape, -1)
    if merge_within > min_size and ts.size:
        t1 = np.concatenate([np.full(max(0, min(t + merge_within, length - min_size + 1) - t - min_size), j)
                             for j, t in enumerate(ts)]).astype(int)
        if t1.size:
            t2 = np.concatenate([np.arange(t + min_size, min(t + merge_within, length - min_size + 1))
                                 for t in ts]).astype(int)
            ramp = head[:, t1] + segcost(ts[t1], t2) + segcost(t2, np.full_like(t2, length)) + extra
            for j in np.unique(t1):
                sel = np.flatnonzero(t1 == j)
                best = sel[np.argmin(ramp[:, sel], axis=1)]
                val = ramp[np.arange(ramp.shape[0]), best]
                better = val < prof[:, j]
                prof[better, j] = val[better]
                second[better, j] = t2[best[better]]
    return ts, prof, second


def _fitted_probs(sub: np.ndarray, cuts: Sequence[int]) -> np.ndarray:
    """Per-(checkpoint, prompt) probabilities of the piecewise-constant fit (L, P, K)."""
    out = np.empty_like(sub, dtype=float)
    k = sub.shape[-1]
    for a, b in _segments(cuts, sub.shape[0]):
        tot = sub[a:b].sum(axis=0)
        n = tot.sum(axis=-1, keepdims=True)
        out[a:b] = np.where(n > 0, tot / np.where(n > 0, n, 1), 1.0 / k)
    return out


def _lr_interval_counts(counts: np.ndarray, lo: int, hi: int, est: int, *, min_size: int,
                        merge_within: int, phi: float, extra: float, n_boot: int, alpha: float,
                        rng: np.random.Generator) -> tuple[int, int, np.ndarray, dict[str, Any]]:
    r"""Confidence set of a boundary by inverting the likelihood ratio (Siegmund 1988).

    On the stretch ``[lo, hi)`` between the neighbouring boundaries, the profile cost
    :math:`\ell(t)` (:func:`_location_profile`) is minimal at :math:`\hat t`. The set is
    :math:`\{t: \ell(t) - \ell(\hat t) \le c_\alpha\}`, where :math:`c_\alpha` is the
    :math:`1-\alpha` quantile of :math:`\ell^*(\hat t) - \min_t \ell^*(t)` over
    multinomial draws from the fitted model (segments cut at :math:`\hat t`, and at the
    ramp's second cut when the ramp fits best) with the observed numbers of samples --
    the distribution of the statistic at the true location (Siegmund 1988, Biometrika
    75:539; Hinkley 1970, Biometrika 57:1). Returns the first and last checkpoint of the
    set (the estimate ``est`` included), the bootstrap locations :math:`\hat t^*` and
    details.
    """
    sub = counts[lo:hi]
    cum_obs = np.concatenate([np.zeros((1, *sub.shape[1:])), np.cumsum(sub, axis=0)])[None]
    ts, prof, second = _location_profile(cum_obs, min_size, merge_within, phi, extra)
    if ts.size == 0 or n_boot <= 0:
        return est, est, np.array([est]), {"c_alpha": np.nan}
    j_hat = int(np.argmin(prof[0]))
    cuts = [int(ts[j_hat])] + ([int(second[0, j_hat])] if second[0, j_hat] > 0 else [])
    probs = _fitted_probs(sub, cuts)
    tot = sub.sum(axis=-1).astype(np.int64)
    gaps, where = [], []
    chunk = max(1, 2_000_000 // max(1, sub.size))
    for s in range(0, n_boot, chunk):
        m = min(chunk, n_boot - s)
        sim = rng.multinomial(tot[None], probs[None], size=(m, *tot.shape)).astype(float)
        cs = np.concatenate([np.zeros((m, 1, *sub.shape[1:])), np.cumsum(sim, axis=1)], axis=1)
        _, pb, _ = _location_profile(cs, min_size, merge_within, 1.0, extra)
        gaps.append(pb[:, j_hat] - pb.min(axis=1))
        where.append(ts[np.argmin(pb, axis=1)])
    gap = np.concatenate(gaps)
    c_alpha = float(np.quantile(gap, 1 - alpha, method="higher"))
    rel = prof[0] - prof[0, j_hat]
    inside = ts[rel <= c_alpha + 1e-9 * max(1.0, abs(float(prof[0, j_hat])))] + lo
    first = int(min(inside.min(), est))
    last = int(max(inside.max(), est))
    return first, last, np.concatenate(where) + lo, {"c_alpha": c_alpha, "profile_minimum": int(ts[j_hat] + lo),
                             "ramp_end": int(second[0, j_hat] + lo) if second[0, j_hat] > 0 else None}


def _location_spread(boot: np.ndarray, kept_pos: np.ndarray, control_vals: np.ndarray) -> dict[str, float]:
    """Bootstrap standard deviation of a location, in control units and in checkpoints."""
    if boot.size < 2:
        return {"stderr": np.nan, "stderr_checkpoints": np.nan}
    return {"stderr": float(np.std(control_vals[kept_pos[boot]], ddof=1)),
            "stderr_checkpoints": float(np.std(boot, ddof=1))}


def _interval_values(first: int, last: int, kept_pos: np.ndarray, control_vals: np.ndarray) -> tuple[float, float]:
    """``(lower, upper]`` in control values: after the checkpoint before ``first``, by ``last``."""
    return float(control_vals[kept_pos[first - 1]]), float(control_vals[kept_pos[last]])


def _detect_counts(data, dim, method, penalty, n_boot, alpha, rng, min_size, system, n_states,
                   control_vals, window, merge_within, test) -> BoundaryResult:
    counts_all, info = _counts_tensor(data, dim, system, n_states)
    n_total = counts_all.shape[0]
    n_boot = max(int(n_boot), 50)  # the null (and phi) needs draws even for a quick look
    keep = counts_all.sum(axis=(1, 2)) > 0
    kept_pos = np.flatnonzero(keep)
    counts = counts_all[keep]
    t_len, n_ch, k = counts.shape
    evidence: dict[str, Any] = {"n_dropped": int((~keep).sum()), "statistic": np.nan,
                                **p_value_fields(1.0, n_boot), "boundaries": [],
                                "test": "parametric bootstrap, scan of Z = max(per-prompt G, pooled G)",
                                "window": window, "n_bootstrap": n_boot, "alpha": alpha}
    if t_len < 3:
        raise SchemaError(
            f"only {t_len} checkpoint(s) have counted samples (of {n_total}); need at least 3",
            where=f"dim {dim!r}", fix="provide more checkpoints with samples")
    cum = np.concatenate([np.zeros((1, n_ch, k)), np.cumsum(counts, axis=0)])
    positions = np.arange(1, t_len)
    lefts = np.stack([_window_sums(cum, t, 0, t_len, window)[0] for t in positions])
    rights = np.stack([_window_sums(cum, t, 0, t_len, window)[1] for t in positions])
    d_obs = _scan_stats(lefts, rights)
    d_null = _null_draws(lefts, rights, n_boot, rng) if k > 1 else np.zeros((n_boot, len(positions), 2))

    charge = 1.0  # BIC charge log T per free probability of each segment
    log_t = math.log(max(t_len, 2))
    pen = log_t if penalty == "auto" else float(penalty)
    signal = counts.reshape(t_len, -1)

    def candidates(phi: float, pen_value: float) -> list[int]:
        return _search(method, CostMultinomial(n_states=k, phi=phi, beta=charge), min_size, signal, pen_value)

    null = _over_dispersion(d_obs, d_null, positions, window, alpha)
    phi = float(null.phi[0])
    cps = candidates(phi, pen) if k > 1 else []  # the search with the measured over-dispersion
    z = null.z(d_obs) if k > 1 else np.zeros(len(positions))
    stat = float(z.max()) if z.size else 0.0
    p_global = null.p(stat) if k > 1 else 1.0
    peak = int(positions[int(np.argmax(z))]) if z.size else 0
    evidence.update({"phi": phi, "phi_pooled": float(null.phi[1]), "over_dispersion": null.note,
                     "statistic": stat,
                     "scan_peak_index": int(kept_pos[peak]), **p_value_fields(p_global, n_boot),
                     "n_candidates": len(cps)})
    local = _LocalTest(cum, t_len, window, null, n_boot, rng, scan=(d_obs, d_null))
    if test:
        cands = sorted({*cps, *_scan_peaks(z, positions, window, null, alpha, cps)})
        evidence["n_candidates"] = len(cands)
        cps = _eliminate(cands, local, alpha) if p_global <= alpha else []
        if p_global <= alpha and not cps:
            cps = [peak]  # the global test rejected no change: its peak is the boundary
        if cps:
            cps = _grow(cps, local, alpha, min_size)
    all_cuts = list(cps)
    cps = _merge_ramps(cps, counts, window, merge_within)
    pvals = {c: local.p(c, cps) for c in cps}

    extra = log_t * (1 + float(np.maximum((counts.sum(axis=0) > 0).sum(axis=-1) - 1, 0).sum()))
    per, intervals = [], []
    channel_names = info["channels"]
    for i, c in enumerate(cps):
        lo = max([x for x in all_cuts if x < c], default=0)
        hi = cps[i + 1] if i + 1 < len(cps) else t_len
        first, last, boot, detail = _lr_interval_counts(
            counts, lo, hi, c, min_size=min_size, merge_within=merge_within, phi=phi, extra=extra,
            n_boot=n_boot, alpha=alpha, rng=rng)
        intervals.append(_interval_values(first, last, kept_pos, control_vals))
        left, right = _window_sums(cum, c, *local.neighbours(c, cps), window)
        g = _g_stat(left, right)
        kk = ((left + right) > 0).sum(axis=-1)
        with np.errstate(invalid="ignore"):
            pch = stats.chi2.sf(g / phi, np.maximum(kk - 1, 1))
        per.append({"index": int(kept_pos[c]), "statistic": local.z(c, cps),
                    **p_value_fields(pvals[c], n_boot),
                    "channels": [channel_names[j] for j in range(n_ch) if kk[j] > 1 and pch[j] <= alpha / n_ch],
                    "channel_p_values": {channel_names[j]: float(pch[j]) for j in range(n_ch)},
                    **_location_spread(boot, kept_pos, control_vals),
                    "interval_index": [int(kept_pos[first]), int(kept_pos[last])], **detail})
    indices = [int(kept_pos[c]) for c in cps]
    search = PenalisedSearch(method, CostMultinomial(n_states=k, phi=phi, beta=charge), signal,
                             min_size, control_vals[kept_pos]) if k > 1 else None
    grid = pen * np.geomspace(0.25, 64, 13) if pen > 0 else np.geomspace(0.1, 1000, 13)
    levels = _levels_dataset(counts_all, info, dim, control_vals)
    labelled = label_phases(levels, indices, dim, n_states=info["n_states"])
    phases = labelled["phase"].assign_attrs(rule="see phasekit.transitions.label_phases")
    for e, b in zip(per, indices, strict=True):
        e["phase_before"] = str(phases.values[b - 1])
        e["phase_after"] = str(phases.values[b])
    evidence["boundaries"] = per
    evidence["segment_levels"] = {
        str(v): labelled[v].values.tolist() for v in labelled.data_vars if labelled[v].dims == ("segment",)
    }
    return BoundaryResult([float(control_vals[i]) for i in indices], indices, intervals, phases,
                          float(pen), evidence, PenaltyPath(search, grid), dim=dim, method=method,
                          kind="samples", levels=labelled, search_fn=search)


def _levels_dataset(counts_all: np.ndarray, info: dict, dim: str, control_vals: np.ndarray) -> xr.Dataset:
    lv = _level_arrays(counts_all)
    k = counts_all.shape[-1]
    q = info["n_states"] if info["n_states"] is not None else k
    m = (q * lv["mode_fraction"] - 1) / (q - 1) if q > 1 else lv["mode_fraction"]
    pooled = lv["pooled"]
    order = np.sort(pooled, axis=-1)[:, ::-1]
    support = (np.cumsum(order, axis=-1) < 0.95).sum(axis=-1) + 1
    return xr.Dataset(
        {"entropy": (dim, lv["entropy"]), "magnetization": (dim, m),
         "js_divergence": (dim, lv["js"]), "support": (dim, support.astype(float)),
         "pooled": ((dim, "state"), pooled)},
        coords={dim: info["coord"], "step": (dim, control_vals)},
        attrs={"n_states": q},
    )


# --------------------------------------------------------------------------- series path
def _robust_sigma(x: np.ndarray) -> np.ndarray:
    """MAD of first differences / (0.6745 sqrt 2), per column; fallback mean |diff|."""
    d = np.diff(x, axis=0)
    med = np.median(d, axis=0)
    mad = np.median(np.abs(d - med), axis=0) / 0.6744897501960817 / math.sqrt(2)
    fallback = np.mean(np.abs(d - med), axis=0) * math.sqrt(math.pi / 2) / math.sqrt(2)
    return np.where(mad > 0, mad, fallback)


def _split_gain_max(z: np.ndarray, min_size: int) -> np.ndarray:
    """Max over split points of the mean-shift gain; z (B, L, C) -> (B,)."""
    length = z.shape[1]
    s = np.cumsum(z, axis=1)
    total = s[:, -1:, :]
    t = np.arange(1, length)[None, :, None]
    left = s[:, :-1, :]
    gain = (left**2 / t + (total - left) ** 2 / (length - t) - total**2 / length).sum(axis=-1)
    valid = (np.arange(1, length) >= min_size) & (np.arange(1, length) <= length - min_size)
    if not valid.any():
        return np.zeros(z.shape[0])
    return gain[:, valid].max(axis=1)


def _ar1_draws(length: int, rho: np.ndarray, sd: np.ndarray, n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """Stationary Gaussian AR(1) paths, (n_boot, length, C), marginal sd ``sd``."""
    from scipy.signal import lfilter

    n_ch = rho.shape[0]
    e = rng.normal(size=(n_boot, length, n_ch))
    out = np.empty_like(e)
    for c in range(n_ch):
        innov = e[:, :, c] * math.sqrt(1 - rho[c] ** 2)
        innov[:, 0] = e[:, 0, c]  # start in the stationary distribution
        out[:, :, c] = lfilter([1.0], [1.0, -rho[c]], innov, axis=1) * sd[c]
    return out


def _ar1_fit(resid: np.ndarray, breaks: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    r"""AR(1) parameters of residuals, per column: autocorrelation and marginal sd.

    Uses the variance ratio of a stationary AR(1), :math:`\operatorname{Var}(\Delta r) =
    2 s^2 (1 - \rho)`, with a robust (MAD) variance of the differences (differences
    across ``breaks``, the segment starts, left out): :math:`\hat\rho = 1 -
    \hat s_\Delta^2 / (2\hat s^2)`, clipped to [0, ``RHO_MAX``] (0.8). Persistent residuals (a
    trend or slow drift left in them) give a large :math:`\hat\rho` and so a wider
    null; the cap keeps a few strongly persistent series from hiding every change.
    """
    d = np.diff(resid, axis=0)
    if len(breaks):
        mask = np.ones(d.shape[0], dtype=bool)
        mask[np.asarray(breaks, dtype=int) - 1] = False
        d = d[mask]
    s2 = np.mean(resid**2, axis=0)
    if d.shape[0] >= 2:
        sd_d = np.median(np.abs(d - np.median(d, axis=0)), axis=0) / 0.6744897501960817
    else:
        sd_d = np.sqrt(2 * s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(s2 > 0, 1 - sd_d**2 / (2 * s2), 0.0)
    rho = np.clip(np.nan_to_num(rho), 0.0, RHO_MAX)
    sd = np.sqrt(s2)
    return rho, np.where(sd > 0, sd, 1e-12)


def _residual_model(z: np.ndarray, cps: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of the piecewise-constant fit, their sd and lag-1 autocorrelation."""
    resid = np.empty_like(z)
    for a, b in _segments(cps, z.shape[0]):
        resid[a:b] = z[a:b] - z[a:b].mean(axis=0)
    rho, sd = _ar1_fit(resid, [c for c in cps if 0 < c < z.shape[0]])
    return resid, sd, rho


def _detect_series(data, dim, method, penalty, n_boot, alpha, rng, min_size, control_vals, test):
    x_all, names = _series_matrix(data, dim)
    n_total = x_all.shape[0]
    finite = np.isfinite(x_all).all(axis=1)
    n_dropped = int((~finite).sum())
    kept_pos = np.flatnonzero(finite)
    x = x_all[finite]
    n = x.shape[0]
    if n < 3:
        raise SchemaError(
            f"only {n} of {n_total} checkpoints have finite values in every channel; need >= 3",
            where=f"dim {dim!r}", fix="fill or drop the missing values")
    sigma = _robust_sigma(x)
    varying = np.ptp(x, axis=0) > 0
    evidence: dict[str, Any] = {"n_dropped": n_dropped, "statistic": 0.0, **p_value_fields(1.0, n_boot),
                                "boundaries": [], "sigma": dict(zip(names, sigma.tolist(), strict=True)),
                                "test": "parametric AR(1) bootstrap, best split gain",
                                "n_bootstrap": n_boot, "alpha": alpha}
    z = (x[:, varying] - np.median(x[:, varying], axis=0)) / sigma[varying] if varying.any() else x[:, :0]
    ch_names = [nm for nm, v in zip(names, varying, strict=True) if v]
    n_ch = z.shape[1]
    pen = SERIES_PENALTY_FACTOR * (n_ch + 1) * math.log(n) if penalty == "auto" else float(penalty)
    if n_ch == 0:
        evidence["note"] = "every channel is constant: no boundary"
        return BoundaryResult([], [], [], _generic_phases(data, dim, [], n_total), float(pen),
                              evidence, PenaltyPath(None, np.array([])), dim=dim, method=method,
                              kind="series")

    cps = _search(method, CostMeanShift(), min_size, z, pen)
    evidence["n_candidates"] = len(cps)
    cum1 = np.concatenate([np.zeros((1, n_ch)), np.cumsum(z, axis=0)])

    def gain(a: int, b: int, c: int) -> float:
        tot = cum1[c] - cum1[a]
        left = cum1[b] - cum1[a]
        return float((left**2 / (b - a) + (tot - left) ** 2 / (c - b) - tot**2 / (c - a)).sum())

    cache: dict[tuple[int, int, int], float] = {}

    def local_p(a: int, c: int, b: int) -> float:
        """No-change test of c in [a, b): share of variance explained by the best split,
        against AR(1) paths fitted to the merged segment (the no-change model)."""
        key = (a, c, b)
        if key not in cache:
            seg = z[a:b]
            ss = float(((seg - seg.mean(axis=0)) ** 2).sum())
            split = np.concatenate([seg[: c - a] - seg[: c - a].mean(axis=0),
                                    seg[c - a:] - seg[c - a:].mean(axis=0)])
            rho, sd = _ar1_fit(split, [c - a])
            sims = _ar1_draws(b - a, rho, sd, n_boot, rng)
            sims -= sims.mean(axis=1, keepdims=True)
            null = _split_gain_max(sims, min_size) / np.maximum((sims**2).sum(axis=(1, 2)), 1e-300)
            r2 = gain(a, c, b) / ss if ss > 0 else 0.0
            cache[key] = float((1 + np.sum(null >= r2)) / (n_boot + 1))
        return cache[key]

    def neighbours(c: int, cur: list[int]) -> tuple[int, int]:
        srt = sorted(cur)
        i = srt.index(c)
        return (srt[i - 1] if i > 0 else 0), (srt[i + 1] if i + 1 < len(srt) else n)

    # global no-change test, the gate of the procedure (no boundary unless it rejects,
    # and then at least one, so the result never contradicts its own test): the
    # smallest p-value of the tests made -- the best single split of the whole series
    # and each candidate between its neighbours (first elimination round); each of
    # them alone decides a boundary at alpha, so this is the level the procedure works
    # at (its false-alarm rate is measured by simulation in the tests)
    ts = np.arange(min_size, n - min_size + 1)
    best, p_single = None, 1.0
    if ts.size:
        gains = np.array([gain(0, t, n) for t in ts])
        best = int(ts[np.argmax(gains)])
        evidence["statistic"] = float(gains.max())
        p_single = local_p(0, best, n) if n_boot > 0 else np.nan

    def round_pvals(cur: list[int]) -> dict[int, float]:
        out = {}
        for c in cur:
            lo, hi = neighbours(c, cur)
            out[c] = local_p(lo, c, hi)
        return out

    current = sorted(cps)
    first_round = round_pvals(current) if n_boot > 0 else {}
    tests = {**({best: p_single} if best is not None else {}), **first_round}
    if best is not None and best in first_round:
        tests[best] = min(first_round[best], p_single)
    strongest = min(tests, key=lambda c: (tests[c], c)) if tests else None
    p_global = min(tests.values()) if tests else 1.0
    evidence.update(p_value_fields(p_global, n_boot) if n_boot > 0 else {"p_value": np.nan})
    evidence["p_value_single_split"] = p_single
    evidence["n_tests"] = len(first_round) + 1
    # backward elimination: test every candidate against the no-change null of the
    # window between its neighbours; drop the weakest until all pass
    if test and n_boot > 0 and not p_global <= alpha:
        current = []
    pvals: dict[int, float] = {}
    while current and n_boot > 0:
        pvals = round_pvals(current)
        worst = max(current, key=lambda c: (pvals[c], -c))
        if not test or pvals[worst] <= alpha:
            break
        current.remove(worst)
    if test and n_boot > 0 and p_global <= alpha and not current and strongest is not None:
        current = [strongest]
        pvals = round_pvals(current)
    cps = current

    # intervals: likelihood-ratio confidence sets calibrated by a moving-block
    # residual bootstrap of the fitted piecewise-constant model
    boot = _series_boot_cums(z, cps, n_boot, rng) if cps and n_boot > 0 else None
    intervals, per = [], []
    for c in cps:
        a, b = neighbours(c, cps)
        first, last, where = _lr_interval_series(cum1, boot, a, b, c, min_size, alpha)
        intervals.append(_interval_values(first, last, kept_pos, control_vals))
        seg = z[a:b]
        resid = np.concatenate([seg[: c - a] - seg[: c - a].mean(axis=0),
                                seg[c - a:] - seg[c - a:].mean(axis=0)])
        rho, sd = _ar1_fit(resid, [c - a])
        lrv = sd**2 * (1 + rho) / (1 - rho)
        diff = z[c:b].mean(axis=0) - z[a:c].mean(axis=0)
        se = np.sqrt(lrv * (1 / (c - a) + 1 / (b - c)))
        pch = 2 * stats.norm.sf(np.abs(diff) / se)
        per.append({"index": int(kept_pos[c]), "statistic": gain(a, c, b),
                    **p_value_fields(pvals.get(c, np.nan), n_boot),
                    "channels": [ch_names[i] for i in range(n_ch) if pch[i] <= alpha / n_ch],
                    "channel_p_values": dict(zip(ch_names, pch.tolist(), strict=True)),
                    "shift": dict(zip(ch_names, (diff * sigma[varying]).tolist(), strict=True)),
                    "interval_index": [int(kept_pos[first]), int(kept_pos[last])],
                    **_location_spread(where, kept_pos, control_vals)})
    indices = [int(kept_pos[c]) for c in cps]
    evidence["boundaries"] = per
    search = PenalisedSearch(method, CostMeanShift(), z, min_size, control_vals[kept_pos])
    grid = pen * np.geomspace(0.125, 8, 13) if pen > 0 else np.geomspace(0.1, 1000, 13)
    phases = _generic_phases(data, dim, indices, n_total)
    for e, b in zip(per, indices, strict=True):
        e["phase_before"] = str(phases.values[b - 1])
        e["phase_after"] = str(phases.values[b])
    return BoundaryResult([float(control_vals[i]) for i in indices], indices, intervals, phases,
                          float(pen), evidence, PenaltyPath(search, grid), dim=dim, method=method,
                          kind="series", search_fn=search)


def _series_boot_cums(z: np.ndarray, cps: list[int], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative sums (B, n+1, C) of moving-block residual bootstrap series.

    The residuals of the piecewise-constant fit at ``cps`` are resampled in blocks of
    :math:`n^{1/3}` (Kuensch 1989, Ann. Stat. 17:1217; keeps short-range dependence)
    and added back to the fit.
    """
    n, n_ch = z.shape
    resid, _, _ = _residual_model(z, cps)
    fitted = z - resid
    block = max(1, int(round(n ** (1 / 3))))
    n_blocks = int(math.ceil(n / block))
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None]).reshape(n_boot, -1)[:, :n]
    zb = fitted[None] + resid[idx]
    return np.concatenate([np.zeros((n_boot, 1, n_ch)), np.cumsum(zb, axis=1)], axis=1)


def _split_gains(cum: np.ndarray, a: int, b: int, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-shift gain of every split ``t`` of ``[a, b)``; cum (B, n+1, C) -> ts, (B, len(ts))."""
    ts = np.arange(a + min_size, b - min_size + 1)
    tot = cum[:, b] - cum[:, a]
    left = cum[:, ts] - cum[:, a][:, None]
    g = (left**2 / (ts - a)[None, :, None] + (tot[:, None] - left) ** 2 / (b - ts)[None, :, None]
         - tot[:, None] ** 2 / (b - a)).sum(axis=-1)
    return ts, g


def _lr_interval_series(cum_obs: np.ndarray, boot: np.ndarray | None, a: int, b: int, est: int,
                        min_size: int, alpha: float) -> tuple[int, int, np.ndarray]:
    r"""Confidence set of a mean-shift location between its neighbours ``[a, b)``.

    The set is :math:`\{t: g(\hat t) - g(t) \le c_\alpha\}` with :math:`g` the split gain
    and :math:`c_\alpha` the :math:`1-\alpha` quantile of :math:`\max_t g^*(t) - g^*(t_0)`
    over bootstrap series made from the fit with the boundary at :math:`t_0` = ``est``
    (likelihood-ratio inversion, Siegmund 1988, Biometrika 75:539). Returns the first and
    last index of the set (``est`` included) and the bootstrap locations.
    """
    ts, g_obs = _split_gains(cum_obs[None], a, b, min_size)
    if ts.size == 0 or boot is None:
        return est, est, np.array([est])
    _, gb = _split_gains(boot, a, b, min_size)
    j0 = int(np.clip(est - ts[0], 0, ts.size - 1))
    c_alpha = float(np.quantile(gb.max(axis=1) - gb[:, j0], 1 - alpha, method="higher"))
    rel = g_obs[0].max() - g_obs[0]
    inside = ts[rel <= c_alpha + 1e-9 * max(1.0, float(g_obs[0].max()))]
    return int(min(inside.min(), est)), int(max(inside.max(), est)), ts[np.argmax(gb, axis=1)]


def _generic_phases(data, dim: str, indices: list[int], n_total: int) -> xr.DataArray:
    labels = np.empty(n_total, dtype=object)
    for i, (a, b) in enumerate(_segments(indices, n_total)):
        labels[a:b] = f"phase {i}"
    coords = {dim: data[dim].values} if dim in data.coords else {}
    return xr.DataArray(labels, dims=(dim,), coords=coords, name="phase",
                        attrs={"rule": "segments numbered in order; name them with label_phases"})


def _path_frame(grid: Iterable[float], search_at: Any) -> pd.DataFrame:
    rows = []
    for pv in grid:
        locs = search_at(float(pv))
        rows.append({"penalty": float(pv), "n_boundaries": len(locs), "locations": locs})
    return pd.DataFrame(rows, columns=["penalty", "n_boundaries", "locations"])


def penalty_path(
    data: xr.Dataset | xr.DataArray,
    dim: str = "checkpoint",
    method: str = "pelt",
    penalties: Sequence[float] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Boundaries of the search against the penalty (before the no-change test).

    Returns a DataFrame with ``penalty``, ``n_boundaries`` and ``locations`` (control
    values) -- the raw search (exact for ``pelt``) with the cost, scaling and over-dispersion that
    :func:`detect_boundaries` uses. Without ``penalties``, a geometric grid around the
    automatic penalty (the same as ``detect_boundaries(...).path``).
    """
    kwargs.setdefault("n_bootstrap", 50)
    res = detect_boundaries(data, dim=dim, method=method, test=False, **kwargs)
    if penalties is None:
        return res.path
    return _path_frame(penalties, res.search_fn)
