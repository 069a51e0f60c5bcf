r"""Phase boundaries along the control axis, with a no-change test and intervals.

Two paths share one result type (:class:`~phasekit.changepoints.result.BoundaryResult`):

* **samples** (a Dataset with ``token``): state counts ``n[t, p, k]`` per checkpoint
  ``t`` and channel ``p``; exact search with :class:`CostMultinomial`, a scan test whose
  null is multinomial with over-dispersion measured inside the segments
  (:mod:`~phasekit.changepoints.samples_test`), likelihood-ratio intervals;
* **series** (any real DataArray/Dataset): channels scaled by a robust noise estimate,
  exact search with :class:`CostMeanShift` and a BIC-type penalty, an AR(1) parametric
  bootstrap no-change test (:mod:`~phasekit.changepoints.series_test`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from .._meta import provenance
from ..errors import SchemaError
from ..resampling import DEFAULT_SEED, rng_for
from .costs import CostMeanShift, CostMultinomial
from .inputs import counts_tensor, is_samples, resolve_control, series_matrix
from .intervals import (
    interval_values,
    location_spread,
    lr_interval_counts,
    lr_interval_series,
    series_boot_cums,
)
from .phases import generic_phases, label_phases, levels_dataset
from .result import BoundaryResult, PenaltyPath, p_value_fields
from .samples_test import (
    LocalTest,
    eliminate,
    g_stat,
    grow,
    merge_ramps,
    observed_and_null,
    over_dispersion,
    ramp_partners,
    scan_stats,
    significant_peaks,
    window_sums,
)
from .search import METHODS, PenalisedSearch, path_frame, run_search
from .series_test import (
    AR1_ADEQUACY_ALPHA,
    SelfNormalisedTest,
    SeriesTest,
    ar1_adequacy,
    residual_model,
    robust_sigma,
    segmentations_of,
    sequential_selection,
)

if TYPE_CHECKING:
    from ..configurations import Ensemble

__all__ = ["DEFAULT_SEED", "SERIES_MIN_SIZE", "SERIES_NULLS", "SERIES_PENALTY_FACTOR", "detect_boundaries",
           "penalty_path"]

#: Default shortest segment of the series path (samples path: 2 checkpoints); chosen
#: on synthetic series (benchmarks/bench_changepoint_constants.py), not on TCPD.
SERIES_MIN_SIZE = 5

#: Factor f of the series-path penalty f (C + 1) log n, chosen with RHO_MAX on synthetic
#: series (benchmarks/bench_changepoint_constants.py), not on TCPD.
SERIES_PENALTY_FACTOR = 2.0

#: The series path's no-change nulls (``series_null=``): ``"auto"`` (the AR(1) sieve,
#: and the self-normalised test where the AR(1) check rejects), ``"ar1"`` (the AR(1)
#: sieve only, the default until 2026-12-08) and ``"self_normalised"`` (always).
SERIES_NULLS = ("auto", "ar1", "self_normalised")



@dataclass
class _Options:
    """The arguments every step of a path needs."""

    method: str
    penalty: float | str
    n_boot: int
    alpha: float
    rng: np.random.Generator
    min_size: int
    system: Any
    n_states: int | None
    window: int
    merge_within: int
    test: bool
    series_null: str = "auto"




def _check_penalty(penalty: float | str) -> float | str:
    if isinstance(penalty, str) and penalty == "auto":
        return penalty
    try:
        value = float(penalty)
    except (TypeError, ValueError) as err:
        raise SchemaError(f"penalty={penalty!r} is neither 'auto' nor a number",
                          where="detect_boundaries(penalty=...)", fix="pass 'auto' or a float") from err
    if not value >= 0:
        raise SchemaError("penalty must be >= 0", where=f"penalty={penalty}", fix="pass a non-negative number")
    return value


def _check_arguments(data: Any, method: str, alpha: float, min_size: int | None, series_null: str) -> None:
    if series_null not in SERIES_NULLS:
        raise SchemaError(f"unknown series_null {series_null!r}", where="detect_boundaries(series_null=...)",
                          fix=f"use one of {list(SERIES_NULLS)}")
    if method not in METHODS:
        raise SchemaError(f"unknown method {method!r}", where="detect_boundaries(method=...)",
                          fix=f"use one of {list(METHODS)}")
    if not isinstance(data, xr.Dataset | xr.DataArray):
        raise SchemaError(f"expected an xarray Dataset or DataArray, got {type(data).__name__}",
                          where="detect_boundaries(data=...)",
                          fix="wrap the series in xarray.DataArray(values, dims=['checkpoint'])")
    if min_size is not None and min_size < 1:
        raise SchemaError("min_size must be >= 1", where=f"min_size={min_size}", fix="pass min_size >= 1")
    if not 0 < alpha < 1:
        raise SchemaError("alpha must lie in (0, 1)", where=f"alpha={alpha}", fix="e.g. alpha=0.05")


def detect_boundaries(
    data: xr.Dataset | xr.DataArray | Ensemble,
    *,
    control: str | None = None,
    method: str = "pelt",
    penalty: float | str = "auto",
    n_bootstrap: int = 200,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
    min_size: int | None = None,
    system: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
    window: int = 5,
    merge_within: int = 6,
    test: bool = True,
    series_null: str = "auto",
    dim: str | None = None,
) -> BoundaryResult:
    r"""Find phase boundaries along the control dim, with a no-change test and intervals.

    **Samples** (a Dataset with ``token``): counts ``n[t, p, k]`` per checkpoint ``t`` and
    channel ``p`` (every kept dim except the control dim, usually prompts), counted
    over ``system`` (default: ``sample`` and ``position``).

    1. *Candidates*: the exact search (:func:`optimal_partition`, PELT with the valid
       pruning constant of the cost) with :class:`CostMultinomial` (deviance divided by
       the over-dispersion ``phi`` plus the BIC charge :math:`\log T\sum_p(k_p-1)` per
       segment); ``penalty="auto"`` adds :math:`\log T` per boundary.
    2. *Scan statistic*: between the pooled counts of the ``window`` checkpoints before
       and after ``t``, :math:`D_t = \sum_p G_p(t)` and :math:`G^{pool}_t` (counts pooled
       over prompts), each standardised by its own multinomial null draws
       (``n_bootstrap``); :math:`Z_t` is the larger.
    3. *Over-dispersion*: each statistic is divided by
       :math:`\hat\phi = \operatorname{median}_t D_t / E[D^*_t]` (>= 1) and its
       standardised value by the spread :math:`\hat\psi` (>= 1, 1.4826 MAD), measured
       away from the significant scan maxima and, per boundary, also around it.
    4. *Test*: the null of the scan is :math:`M^* = \max_t Z^*_t`; the global no-change
       p-value is :math:`P(M^* \ge \max_t Z_t)` (``"< 1/(B+1)"`` at the resampling floor).
       It is the gate: no boundary unless it rejects, and then at least one, so the
       result never contradicts its own test. Candidates (search + significant scan
       maxima) are tested with windows clipped at their neighbours, removed weakest
       first, and grown by the significant maxima inside each segment until stable.
    5. Two boundaries closer than ``merge_within`` are one transition (at the first
       cut) when the middle segment is a transit (a mixture of its neighbours); the
       closest pair first, a kept cut never merged again.
    6. *Intervals*: likelihood-ratio confidence sets (Siegmund 1988) calibrated by
       multinomial draws from the fitted model, ``(lower, upper]`` in control values.
    7. *Channels*: a prompt moved if its own :math:`G_p/\hat\phi` is significant at
       ``alpha / P`` against :math:`\chi^2_{k_p-1}`.

    **Series** (any real DataArray / Dataset): columns = other dims x variables, each
    scaled by :math:`\hat\sigma_c = \mathrm{MAD}(\Delta x_c)/(0.6745\sqrt2)`; cost
    :class:`CostMeanShift`, ``penalty="auto"`` = ``SERIES_PENALTY_FACTOR`` (2)
    :math:`(C + 1)\log n` (the modified BIC of Zhang & Siegmund 2007, Biometrics 63:22),
    whose number of boundaries is an upper bound. The number is chosen by the test: for
    m = 1, 2, ... the exact best segmentation with m boundaries has each boundary tested
    between its neighbours by an AR(1) sieve bootstrap of the best split's gain over
    its AR(1) long-run variance, rho re-estimated on every path (a pivot; the paths
    filtered with at least the no-change estimate of rho,
    :func:`~phasekit.changepoints.series_test.null_rho`; ``RHO_MAX`` caps it; the
    innovations drawn on a smooth time-varying scale,
    :func:`~phasekit.changepoints.series_test.log_polynomial_scale`), and the last m
    that passes before the first that fails is kept
    (:func:`~phasekit.changepoints.series_test.sequential_selection`).
    Where the AR(1) check (the residuals' lag-two partial autocorrelation,
    :func:`~phasekit.changepoints.series_test.ar1_adequacy`) rejects that noise model, the
    test is liberal; with ``series_null="auto"`` the boundaries are then chosen again the
    same way with the self-normalised test
    (:class:`~phasekit.changepoints.series_test.SelfNormalisedTest`), which needs no
    autocorrelation model.
    ``evidence["p_value"]`` is that of m = 1, the best single split against no change,
    and gates the result as above. With a numeric ``penalty`` the search's candidates
    are tested instead, the weakest dropped until all pass. Intervals: likelihood-ratio
    sets calibrated by a moving-block residual bootstrap.

    Parameters
    ----------
    data
        Samples Dataset (``token``), an :class:`~phasekit.Ensemble` (its counts are
        used; no token is read again), or a real-valued DataArray/Dataset.
    control
        The control dim (default ``"checkpoint"``; ``"temperature"``...), or a non-dim
        coordinate holding the control values (e.g. ``"step"``; its dim is then the
        control dim). Control values: that coordinate, else ``step`` along the dim, else
        the dim's numeric coordinate, else positions (:func:`phasekit._meta.control_values`).
    method
        ``"pelt"`` (exact), ``"binseg"``, ``"bottomup"``, ``"dynp"`` or ``"kernelcpd"``
        (linear kernel = mean shift, series only).
    penalty
        ``"auto"`` or a number (per boundary, in the cost's units).
    n_bootstrap, alpha, seed
        Resamples (samples path: at least 50), test level (no-change test; intervals at
        ``1 - alpha``), random seed: ``DEFAULT_SEED`` by default, so the same call gives
        the same answer (bit-identical for numpy- and dask-backed input and across
        processes); ``seed=None`` (or a Generator) for fresh draws; recorded in
        ``result.attrs["seed"]``.
    min_size
        Fewest checkpoints in a segment; default 2 for samples and ``SERIES_MIN_SIZE``
        for series.
    system, n_states
        Samples path: dims counted over, and q (used for labels only).
    window, merge_within
        Samples path: checkpoints on each side of the scan; largest width of a
        transition whose two cuts are merged (0 to disable).
    test
        Apply the no-change test (``False`` returns the raw search result).
    series_null
        Series path: ``"auto"`` (default) tests with the AR(1) sieve and, where the AR(1)
        check rejects its noise model (the test is then liberal), chooses the boundaries
        again with the self-normalised test, which needs no autocorrelation model (Shao
        & Zhang 2010; less power); ``"ar1"`` the AR(1) sieve only (a warning where the
        check rejects); ``"self_normalised"`` always
        (:class:`~phasekit.changepoints.series_test.SelfNormalisedTest`). Recorded in
        ``attrs["series_null"]`` and ``evidence["null"]``.
    dim
        Deprecated alias of ``control`` (a DeprecationWarning).

    Returns
    -------
    BoundaryResult

    Notes
    -----
    Checkpoints with a missing value (NaN in any channel, or no counted sample) are
    dropped before the search (``evidence["n_dropped"]``); locations and phases refer
    to the original positions.
    """
    from ..configurations import is_ensemble, token_view

    ensemble = data if is_ensemble(data) else None  # held: its view counts through it
    if ensemble is not None:  # labels and sizes from the view, counts from the Ensemble (no token read)
        data = token_view(ensemble)
    _check_arguments(data, method, alpha, min_size, series_null)
    assert isinstance(data, xr.Dataset | xr.DataArray)  # narrowed: _check_arguments raised otherwise
    penalty = _check_penalty(penalty)
    dim_, cvals = resolve_control(data, control, dim, caller="detect_boundaries")
    n_total = data.sizes[dim_]
    if n_total < 3:
        raise SchemaError(f"{n_total} checkpoint(s) along {dim_!r}: a boundary needs at least 3",
                          where=f"dim {dim_!r}", fix="provide a longer series along the control dim")
    samples = is_samples(data)
    if samples and method == "kernelcpd":
        raise SchemaError("kernelcpd works on real-valued series only",
                          where="detect_boundaries(method='kernelcpd')",
                          fix="use pelt/binseg/bottomup/dynp on samples, or pass order parameters")
    size = min_size if min_size is not None else (2 if samples else SERIES_MIN_SIZE)
    size = max(1, min(int(size), n_total // 2))
    rng, seed_attr = rng_for(seed)
    opts = _Options(method, penalty, int(n_bootstrap), alpha, rng, size, system, n_states,
                    int(window), int(merge_within), test, series_null)
    res = _detect_counts(data, dim_, cvals, opts) if samples else _detect_series(data, dim_, cvals, opts)
    res.attrs = provenance(seed=seed_attr, n_bootstrap=int(res.evidence.get("n_bootstrap", n_bootstrap)),
                           alpha=alpha, method=method, min_size=size, estimator="detect_boundaries",
                           **({} if samples else {"series_null": series_null}))
    res.confidence = 1.0 - alpha
    return res


# --------------------------------------------------------------------------- samples path
@dataclass
class _CountScan:
    """The scan of one run: cumulative counts, statistics and their null draws."""

    counts: np.ndarray
    cum: np.ndarray
    positions: np.ndarray
    d_obs: np.ndarray
    d_null: np.ndarray

    @classmethod
    def build(cls, counts: np.ndarray, window: int, n_boot: int, rng: np.random.Generator) -> _CountScan:
        t_len, n_ch, k = counts.shape
        cum = np.concatenate([np.zeros((1, n_ch, k)), np.cumsum(counts, axis=0)])
        positions = np.arange(1, t_len)
        sums = [window_sums(cum, int(t), 0, t_len, window) for t in positions]
        lefts, rights = np.stack([s[0] for s in sums]), np.stack([s[1] for s in sums])
        if k > 1:
            d_obs, d_null = observed_and_null(lefts, rights, n_boot, rng)
        else:  # one state: nothing can change
            d_obs, d_null = scan_stats(lefts, rights), np.zeros((n_boot, len(positions), 2))
        return cls(counts, cum, positions, d_obs, d_null)


def _kept_counts(data: Any, dim: str, o: _Options) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """All counts, the counts of the checkpoints with samples, their positions, info."""
    counts_all, info = counts_tensor(data, dim, o.system, o.n_states)
    keep = counts_all.sum(axis=(1, 2)) > 0
    if keep.sum() < 3:
        raise SchemaError(
            f"only {int(keep.sum())} checkpoint(s) have counted samples (of {counts_all.shape[0]}); "
            "need at least 3", where=f"dim {dim!r}", fix="provide more checkpoints with samples")
    return counts_all, counts_all[keep], np.flatnonzero(keep), info


def _select_counts(scan: _CountScan, o: _Options, n_boot: int, pen: float,
                   evidence: dict[str, Any]) -> tuple[list[int], list[int], LocalTest, float]:
    """Search, global test, elimination and growth; returns boundaries (after the ramp
    merge), every cut before it, the local test and phi."""
    counts, positions = scan.counts, scan.positions
    t_len, _, k = counts.shape
    null = over_dispersion(scan.d_obs, scan.d_null, positions, o.window, o.alpha)
    phi = float(null.phi[0])
    cost = CostMultinomial(n_states=k, phi=phi, beta=1.0)
    cps = run_search(o.method, cost, o.min_size, counts.reshape(t_len, -1), pen) if k > 1 else []
    # the gate: the scan maximum over the positions a boundary may take (min_size
    # checkpoints either side, as in the search), against the null of that maximum
    valid = (positions >= o.min_size) & (positions <= t_len - o.min_size)
    null.m_null = np.max((scan.d_null[:, valid] - null.mu[valid]) / null.sd[valid], axis=(1, 2))
    z = np.where(valid, null.z(scan.d_obs), -np.inf) if k > 1 else np.zeros(len(positions))
    stat = float(z.max()) if z.size else 0.0
    p_global = null.p(stat) if k > 1 else 1.0
    peak = int(positions[int(np.argmax(z))]) if z.size else 0
    evidence.update({"phi": phi, "phi_pooled": float(null.phi[1]), "over_dispersion": null.note,
                     "statistic": stat, "scan_peak_index": peak, **p_value_fields(p_global, n_boot),
                     "n_candidates": len(cps)})
    local = LocalTest(scan.cum, t_len, o.window, null, n_boot, o.rng, scan=(scan.d_obs, scan.d_null),
                      min_size=o.min_size)
    if o.test:
        cands = sorted({*cps, *significant_peaks(z, positions, o.window, null, o.alpha, cps)})
        evidence["n_candidates"] = len(cands)
        cps = eliminate(cands, local, o.alpha) if p_global <= o.alpha else []
        if p_global <= o.alpha and not cps:
            cps = [peak]  # the global test rejected no change: its peak is the boundary
        if cps:
            cps = grow(cps, local, o.alpha, o.min_size)
        if p_global <= o.alpha and not cps:
            cps = [peak]
    return merge_ramps(cps, counts, o.window, o.merge_within), list(cps), local, phi


def _channels_moved(scan: _CountScan, c: int, bounds: tuple[int, int], window: int, phi: float,
                    alpha: float, names: Sequence[str]) -> dict[str, Any]:
    """Per-channel G test at a boundary (Bonferroni over channels)."""
    left, right = window_sums(scan.cum, c, *bounds, window)
    g = g_stat(left, right)
    kk = ((left + right) > 0).sum(axis=-1)
    with np.errstate(invalid="ignore"):
        pch = stats.chi2.sf(g / phi, np.maximum(kk - 1, 1))
    n_ch = len(names)
    return {"channels": [names[j] for j in range(n_ch) if kk[j] > 1 and pch[j] <= alpha / n_ch],
            "channel_p_values": {names[j]: float(pch[j]) for j in range(n_ch)}}


def _count_details(scan: _CountScan, cps: list[int], all_cuts: list[int], local: LocalTest,
                   phi: float, o: _Options, n_boot: int, kept_pos: np.ndarray, cvals: np.ndarray,
                   names: Sequence[str], peak: int,
                   p_global: float) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    """Per-boundary evidence and intervals of the samples path."""
    counts = scan.counts
    t_len = counts.shape[0]
    log_t = math.log(max(t_len, 2))
    extra = log_t * (1 + float(np.maximum((counts.sum(axis=0) > 0).sum(axis=-1) - 1, 0).sum()))
    # each boundary's test between the cuts it was accepted with; a merged ramp (its two
    # cuts) is significant when both of them are
    partners = ramp_partners(all_cuts, cps)
    cuts_of = {c: (c, partners[c]) if c in partners else (c,) for c in cps}
    pvals = {c: max(local.p(x, all_cuts) for x in cuts_of[c]) for c in cps}
    if cps == [peak]:  # one boundary at the scan maximum: its test is the global scan test
        pvals[peak] = min(pvals[peak], p_global)
    per, intervals = [], []
    for i, c in enumerate(cps):
        lo = max([x for x in all_cuts if x < c], default=0)
        hi = cps[i + 1] if i + 1 < len(cps) else t_len
        first, last, boot, detail = lr_interval_counts(
            counts, lo, hi, c, min_size=o.min_size, merge_within=o.merge_within, phi=phi, extra=extra,
            n_boot=n_boot, alpha=o.alpha, rng=o.rng)
        intervals.append(interval_values(first, last, kept_pos, cvals))
        per.append({"index": int(kept_pos[c]), "statistic": local.z(c, all_cuts),
                    **p_value_fields(pvals[c], n_boot),
                    **_channels_moved(scan, c, local.neighbours(c, cps), o.window, phi, o.alpha, names),
                    **location_spread(boot, kept_pos, cvals),
                    "interval_index": [int(kept_pos[first]), int(kept_pos[last])], **detail})
    return per, intervals


def _detect_counts(data: Any, dim: str, cvals: np.ndarray, o: _Options) -> BoundaryResult:
    counts_all, counts, kept_pos, info = _kept_counts(data, dim, o)
    t_len, _, k = counts.shape
    n_boot = max(o.n_boot, 50)  # the null (and phi) needs draws even for a quick look
    evidence: dict[str, Any] = {"n_dropped": int(counts_all.shape[0] - t_len), "statistic": np.nan,
                                **p_value_fields(1.0, n_boot), "boundaries": [],
                                "test": "parametric bootstrap, scan of Z = max(per-prompt G, pooled G)",
                                "window": o.window, "n_bootstrap": n_boot, "alpha": o.alpha}
    scan = _CountScan.build(counts, o.window, n_boot, o.rng)
    pen = math.log(max(t_len, 2)) if o.penalty == "auto" else float(o.penalty)
    cps, all_cuts, local, phi = _select_counts(scan, o, n_boot, pen, evidence)
    peak = int(evidence["scan_peak_index"])
    evidence["scan_peak_index"] = int(kept_pos[peak])
    per, intervals = _count_details(scan, cps, all_cuts, local, phi, o, n_boot, kept_pos, cvals,
                                    info["channels"], peak, evidence["p_value"])
    indices = [int(kept_pos[c]) for c in cps]
    search = PenalisedSearch(o.method, "multinomial", {"n_states": k, "phi": phi, "beta": 1.0},
                             counts.reshape(t_len, -1), o.min_size, cvals[kept_pos]) if k > 1 else None
    grid = pen * np.geomspace(0.25, 64, 13) if pen > 0 else np.geomspace(0.1, 1000, 13)
    levels = levels_dataset(counts_all, info["n_states"], dim, info["coord"], cvals)
    labelled = label_phases(levels, indices, control=dim, n_states=info["n_states"])
    phases = labelled["phase"].assign_attrs(rule="see phasekit.changepoints.label_phases")
    _phases_either_side(per, indices, phases)
    evidence["boundaries"] = per
    evidence["segment_levels"] = {str(v): labelled[v].values.tolist() for v in labelled.data_vars
                                  if labelled[v].dims == ("segment",)}
    return BoundaryResult([float(cvals[i]) for i in indices], indices, intervals, phases, float(pen),
                          evidence, control=dim, method=o.method, kind="samples", levels=labelled,
                          penalty_path=PenaltyPath(search, grid))


def _phases_either_side(per: list[dict[str, Any]], indices: list[int], phases: xr.DataArray) -> None:
    for e, b in zip(per, indices, strict=True):
        e["phase_before"] = str(phases.values[b - 1])
        e["phase_after"] = str(phases.values[b])


# --------------------------------------------------------------------------- series path
def _scaled_series(data: Any, dim: str) -> tuple[np.ndarray, np.ndarray, int, list[str], np.ndarray, np.ndarray]:
    """Finite rows scaled by the robust sigma: z, kept positions, n_total, names, sigma, varying."""
    x_all, names = series_matrix(data, dim)
    finite = np.isfinite(x_all).all(axis=1)
    kept_pos = np.flatnonzero(finite)
    x = x_all[finite]
    if x.shape[0] < 3:
        raise SchemaError(
            f"only {x.shape[0]} of {x_all.shape[0]} checkpoints have finite values in every channel; "
            "need >= 3", where=f"dim {dim!r}", fix="fill or drop the missing values")
    sigma = robust_sigma(x)
    varying = np.ptp(x, axis=0) > 0
    z = (x[:, varying] - np.median(x[:, varying], axis=0)) / sigma[varying] if varying.any() else x[:, :0]
    return z, kept_pos, x_all.shape[0], names, sigma, varying


def _select_series(t: SeriesTest, cps: list[int], o: _Options,
                   evidence: dict[str, Any]) -> tuple[list[int], dict[int, float]]:
    r"""Global test (the gate) and backward elimination of the candidates.

    The global p-value is the smallest of the tests made: the best single split of the
    whole series and each candidate between its neighbours (first round); a boundary
    is returned exactly when it is <= alpha, and then at least one.
    """
    best, stat = t.best_single_split()
    p_single = t.p(0, best, t.n) if best is not None and o.n_boot > 0 else np.nan
    evidence["statistic"] = stat
    current = sorted(cps)
    first_round = t.round_pvals(current) if o.n_boot > 0 else {}
    tests = {**({best: p_single} if best is not None else {}), **first_round}
    if best is not None and best in first_round:
        tests[best] = min(first_round[best], p_single)
    strongest = min(tests, key=lambda c: (tests[c], c)) if tests else None
    p_global = min(tests.values()) if tests else 1.0
    evidence.update(p_value_fields(p_global, o.n_boot) if o.n_boot > 0 else {"p_value": np.nan})
    evidence["p_value_single_split"] = p_single
    evidence["n_tests"] = len(first_round) + 1
    if o.test and o.n_boot > 0 and not p_global <= o.alpha:
        current = []
    pvals: dict[int, float] = {}
    while current and o.n_boot > 0:
        pvals = t.round_pvals(current)
        worst = max(current, key=lambda c: (pvals[c], -c))
        if not o.test or pvals[worst] <= o.alpha:
            break
        current.remove(worst)
    if o.test and o.n_boot > 0 and p_global <= o.alpha and not current and strongest is not None:
        current = [strongest]
        pvals = t.round_pvals(current)
    return current, pvals


def _select_series_sequential(t: SeriesTest, n_search: int, o: _Options,
                              evidence: dict[str, Any]) -> tuple[list[int], dict[int, float]]:
    """``penalty="auto"``: the best segmentations with 1, 2, ... boundaries, at most as
    many as the penalised search found (``n_search``), while every boundary passes
    (:func:`~phasekit.changepoints.series_test.sequential_selection`); the global
    p-value is that of m = 1."""
    _, stat = t.best_single_split()
    cps, pvals, p_global, n_tested = sequential_selection(
        t, segmentations_of(o.method, t.z, o.min_size), o.alpha, n_search)
    evidence["statistic"] = stat
    evidence.update(p_value_fields(p_global, o.n_boot))
    evidence["p_value_single_split"] = p_global
    evidence["n_tests"] = n_tested
    evidence["selection"] = ("sequential: best segmentation with m = 1, 2, ... boundaries "
                             "(m at most the penalised search's) while all pass")
    return cps, pvals


def _series_details(t: SeriesTest, cps: list[int], pvals: dict[int, float], o: _Options,
                    kept_pos: np.ndarray, cvals: np.ndarray, names: list[str],
                    sigma: np.ndarray) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    """Per-boundary evidence (per-channel tests of ``t``: z-tests with the AR(1)
    long-run variance, or self-normalised) and likelihood-ratio intervals of the series
    path."""
    boot = series_boot_cums(t.z, cps, o.n_boot, o.rng) if cps and o.n_boot > 0 else None
    n_ch = t.z.shape[1]
    intervals, per = [], []
    for c in cps:
        a, b = t.neighbours(c, cps)
        first, last, where = lr_interval_series(t.cum, boot, a, b, c, o.min_size, o.alpha)
        intervals.append(interval_values(first, last, kept_pos, cvals))
        diff = t.z[c:b].mean(axis=0) - t.z[a:c].mean(axis=0)
        pch = t.channel_p_values(a, c, b)
        per.append({"index": int(kept_pos[c]), "statistic": t.gain(a, c, b),
                    **p_value_fields(pvals.get(c, np.nan), o.n_boot),
                    "channels": [names[i] for i in range(n_ch) if pch[i] <= o.alpha / n_ch],
                    "channel_p_values": dict(zip(names, pch.tolist(), strict=True)),
                    "shift": dict(zip(names, (diff * sigma).tolist(), strict=True)),
                    "interval_index": [int(kept_pos[first]), int(kept_pos[last])],
                    **location_spread(where, kept_pos, cvals)})
    return per, intervals


AR1_TEST = ("AR(1) sieve bootstrap (rho at least its no-change estimate, innovations on a smooth time-varying "
            "scale), best split gain over its long-run variance")
SELF_NORMALISED_TEST = ("self-normalised (Shao & Zhang 2010) ratio of the split, against the same at the best split "
                        "of the residuals resampled on a smooth time-varying scale: no autocorrelation model")


def _check_ar1_noise(z: np.ndarray, cps: list[int], names: list, evidence: dict[str, Any]) -> list[str]:
    """Record whether the residuals about the chosen segmentation are AR(1) in the one
    way that makes the AR(1) no-change test liberal (:func:`ar1_adequacy`); the
    channels where it rejects."""
    resid = residual_model(z, cps)[0]
    p, phi22 = ar1_adequacy(resid, [c for c in cps if 0 < c < z.shape[0]])
    evidence["ar1_check"] = {"p_value": dict(zip(names, p.tolist(), strict=True)),
                             "partial_autocorrelation_lag2": dict(zip(names, phi22.tolist(), strict=True)),
                             "alpha": AR1_ADEQUACY_ALPHA}
    if np.isnan(p).any():
        evidence["ar1_check"]["note"] = "not tested: fewer than 12 lag-two pairs inside segments"
    bad = [str(nm) for nm, pv in zip(names, p, strict=True) if pv < AR1_ADEQUACY_ALPHA]
    if bad:
        evidence["ar1_check"]["rejected"] = bad
        evidence["ar1_check"]["summary"] = (f"the AR(1) noise the AR(1) no-change test assumes is rejected for "
                                            f"{', '.join(bad)} (lag-two partial autocorrelation {np.nanmax(phi22):.2f}, "
                                            f"p = {np.nanmin(p):.1e}): the autocorrelation falls slower than AR(1)'s")
    return bad


def _ar1_rejected_note(evidence: dict[str, Any], series_null: str) -> str:
    """The null note of a result whose AR(1) check rejected, for ``series_null``."""
    head = evidence["ar1_check"]["summary"]
    if series_null == "auto":
        return (f"{head}; the boundaries were chosen again with the self-normalised test, which needs no "
                "autocorrelation model but has less power (the AR(1) test's choice is in "
                "evidence['ar1_selection']; docs/changepoints.md, 'When the noise is not AR(1)')")
    return (f"{head}, where that test is liberal (AR(2) and AR(1)-plus-white-noise nulls of 200-800 points: "
            "60-97 % false alarms at alpha = 5 %); treat the boundaries as candidates, or pass series_null='auto' "
            "(docs/changepoints.md, Known limits)")


def _choose_series(t: SeriesTest, n_search: int, cps: list[int], o: _Options, names: list[str],
                   evidence: dict[str, Any]) -> tuple[list[int], dict[int, float]]:
    """The boundaries the no-change test ``t`` keeps, and their p-values; the test and
    what its global null assumed go in ``evidence``."""
    evidence["test"] = SELF_NORMALISED_TEST if isinstance(t, SelfNormalisedTest) else AR1_TEST
    if o.penalty == "auto" and o.test and o.n_boot > 0:
        kept, pvals = _select_series_sequential(t, n_search, o, evidence)
    else:
        kept, pvals = _select_series(t, cps, o, evidence)
    evidence.pop("null_model", None)
    if (model := t.global_null_model()) is not None:
        evidence["null_model"] = {key: dict(zip(names, vals, strict=True)) for key, vals in model.items()}
    return kept, pvals


def _series_boundaries(z: np.ndarray, cps: list[int], o: _Options, names: list[str],
                       evidence: dict[str, Any]) -> tuple[SeriesTest, list[int], dict[int, float]]:
    """The series path's test and choice (``o.series_null``): the AR(1) sieve, then, for
    ``"auto"`` where the AR(1) check rejects, the self-normalised test again."""
    first = SelfNormalisedTest if o.series_null == "self_normalised" else SeriesTest
    t = first(z, o.n_boot, o.rng, o.min_size)
    kept, pvals = _choose_series(t, len(cps), cps, o, names, evidence)
    evidence["null"] = "self_normalised" if first is SelfNormalisedTest else "ar1"
    bad = _check_ar1_noise(t.z, kept, names, evidence)
    if bad and o.series_null == "auto" and o.test and o.n_boot > 0:
        evidence["ar1_selection"] = {"indices": list(kept), "p_value": evidence["p_value"], "test": AR1_TEST}
        t = SelfNormalisedTest(z, o.n_boot, o.rng, o.min_size)
        kept, pvals = _choose_series(t, len(cps), cps, o, names, evidence)
        evidence["null"] = "self_normalised (the AR(1) check rejected)"
    if bad and first is SeriesTest:
        evidence["null_note"] = note = _ar1_rejected_note(evidence, o.series_null)
        warnings.warn(note, RuntimeWarning, stacklevel=4)
    return t, kept, pvals


def _detect_series(data: Any, dim: str, cvals: np.ndarray, o: _Options) -> BoundaryResult:
    z, kept_pos, n_total, names, sigma, varying = _scaled_series(data, dim)
    n, n_ch = z.shape
    evidence: dict[str, Any] = {"n_dropped": int(n_total - n), "statistic": 0.0,
                                **p_value_fields(1.0, o.n_boot), "boundaries": [],
                                "sigma": dict(zip(names, sigma.tolist(), strict=True)),
                                "test": AR1_TEST, "n_bootstrap": o.n_boot, "alpha": o.alpha}
    pen = SERIES_PENALTY_FACTOR * (n_ch + 1) * math.log(n) if o.penalty == "auto" else float(o.penalty)
    if n_ch == 0:
        evidence["note"] = "every channel is constant: no boundary"
        return BoundaryResult([], [], [], generic_phases(data, dim, [], n_total), float(pen), evidence,
                              control=dim, method=o.method, kind="series")
    cps = run_search(o.method, CostMeanShift(), o.min_size, z, pen)
    evidence["n_candidates"] = len(cps)
    ch_names = [nm for nm, v in zip(names, varying, strict=True) if v]
    t, cps, pvals = _series_boundaries(z, cps, o, ch_names, evidence)
    if "ar1_selection" in evidence:  # positions in the original series, as every other index
        evidence["ar1_selection"]["indices"] = [int(kept_pos[c]) for c in evidence["ar1_selection"]["indices"]]
    per, intervals = _series_details(t, cps, pvals, o, kept_pos, cvals, ch_names, sigma[varying])
    indices = [int(kept_pos[c]) for c in cps]
    evidence["boundaries"] = per
    search = PenalisedSearch(o.method, "meanshift", {}, z, o.min_size, cvals[kept_pos])
    grid = pen * np.geomspace(0.125, 8, 13) if pen > 0 else np.geomspace(0.1, 1000, 13)
    phases = generic_phases(data, dim, indices, n_total)
    _phases_either_side(per, indices, phases)
    return BoundaryResult([float(cvals[i]) for i in indices], indices, intervals, phases, float(pen),
                          evidence, control=dim, method=o.method, kind="series",
                          penalty_path=PenaltyPath(search, grid))


def penalty_path(
    data: xr.Dataset | xr.DataArray,
    *,
    control: str | None = None,
    method: str = "pelt",
    penalties: Sequence[float] | None = None,
    dim: str | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Boundaries of the search against the penalty (before the no-change test).

    Returns a DataFrame with ``penalty``, ``n_boundaries`` and ``locations`` (control
    values) -- the raw search (exact for ``pelt``) with the cost, scaling and
    over-dispersion that :func:`detect_boundaries` uses. Without ``penalties``, a
    geometric grid around the automatic penalty (the same as
    ``detect_boundaries(...).path``).
    """
    kwargs.setdefault("n_bootstrap", 50)
    if dim is not None:
        from .inputs import _deprecated_dim

        _deprecated_dim("penalty_path")
        control = control or dim
    res = detect_boundaries(data, control=control, method=method, test=False, **kwargs)
    if penalties is None or res.search_fn is None:
        return res.path
    return path_frame(penalties, res.search_fn)
