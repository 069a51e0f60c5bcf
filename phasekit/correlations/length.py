"""The correlation length ξ of every kept cell: classify, estimate, jackknife, resolve.

See :func:`correlation_length`; the estimators are in :mod:`.estimators`, the decay classes
and windows in :mod:`.decay`, the resolvability flags and lower bounds in :mod:`.resolution`.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from .._meta import estimate, renamed_keyword, stderr_of
from ..errors import SchemaError
from ..lazy import is_lazy
from ._common import CONFIDENCE, _jackknife_se
from .decay import _classify
from .estimators import _METHODS, _length_of
from .function import _correlation
from .resolution import _resolution
from .streaming import lazy_curves_and_replicates


def _as_corr_input(ds_or_corr: Any) -> bool:
    return isinstance(ds_or_corr, xr.DataArray) and "lag" in ds_or_corr.dims


def correlation_length(
    ds_or_corr: xr.Dataset | xr.DataArray,
    *,
    sequence: Hashable = "position",
    method: str = "exponential",
    max_lag: int | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    keep: Hashable | Iterable[Hashable] | None = None,
    threshold: float = 3.0,
    noise: float = 2.0,
    aic_margin: float = 2.0,
    c_window: float = 5.0,
    eta_start: int = 4,
    n_jackknife: int = 50,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Correlation length ξ along the sequence axis, with the kind of decay it comes from.

    Every dim not named is kept: on samples with ``checkpoint``, ``prompt``, ``sample`` and
    ``position`` dims, ``correlation_length(ds)`` gives one ξ per checkpoint and prompt
    (the samples are the replicas); name pooled dims in ``replica=``.

    Takes samples (then :func:`correlation_function` is computed, and the error of ξ is a
    delete-a-group jackknife of the whole fit, which accounts for the correlation between
    lags) or an already computed correlation function (dim ``lag``; then errors are
    propagated from its ``stderr`` as if lags were independent, which understates them, and a
    ``UserWarning`` says so).

    Methods (the default, ``"exponential"``, is the one whose exactness the tests check):

    * ``"exponential"``: weighted least squares of :math:`C(r) = A e^{-r/\xi}` over lags
      ``1..W``, ``W`` the last lag before C stays below ``noise`` standard errors for 3
      consecutive lags.
      Exact for the symmetric Markov chain: :math:`\xi = -1/\ln\lambda`. When C(r) is a
      sum of several decays it is the *window-effective* decay length of lags ``1..W``,
      not :math:`-1/\ln|\lambda_2|` (25 % below it on a chain with eigenvalues 0.87, 0.89,
      0.91; docs/correlations.md).
    * ``"second_moment"``: :math:`\xi^2 = \sum_{r\ne0} r^2 C(r) / (2\sum_r C(r))
      = \sum_{r\ge1} r^2 C(r) / (1 + 2\sum_{r\ge1} C(r))`, summed over the measured
      lags ``1..W`` plus the tail of the exponential fit beyond ``W`` (the r² weight makes a
      plain sum of noisy lags diverge); for :math:`C = \lambda^{|r|}` it is
      :math:`\sqrt\lambda/(1-\lambda)`. Not defined (NaN) for anti-correlations.
    * ``"integrated"``: :math:`\xi_{int} = \tfrac12 + \sum_{r=1}^{W} C(r)` with Sokal's
      automatic window (smallest ``W >= c_window * xi_int(W)``); :math:`(1+\lambda)/(2(1-\lambda))`
      for the Markov chain.

    Classification (coordinate ``decay``; also an attr when there is one cell):

    * ``"anticorrelated"``: C(1) below ``-threshold`` standard errors (repeat avoidance).
      ξ is then the decay length of the envelope :math:`|C(r)|` (exponential method),
      never a length folded from negative values.
    * ``"oscillating"``: C(1) > 0 but C turns significantly negative soon after the
      window (Bonferroni-corrected over the lags tested, and deeper than 5 % of C(1));
      ξ is NaN.
    * ``"uncorrelated"``: C(1) within ``threshold`` standard errors of 0; ξ = 0 (integrated:
      1/2, the white-noise value of :math:`\tfrac12 + \sum_r C(r)`).
    * ``"undefined"``: C(1) is NaN (every token of the cell in one state, or no pair at
      lag 1); ξ is NaN with a reason.
    * otherwise ``"exponential"`` or ``"power_law"``: both :math:`A e^{-r/\xi}` and
      :math:`B r^{-\eta}` are fitted on the window; with 2 parameters each,
      :math:`\Delta AIC = \chi^2_{exp} - \chi^2_{pow}`; power law wins when
      :math:`\Delta AIC >` ``aic_margin`` (Burnham & Anderson: > 2 is support). η itself
      is fitted on lags ``eta_start..W`` (default 4: short-distance corrections to
      scaling bias the first lags); it and its error are reported in coords ``eta`` and
      ``eta_stderr`` (NaN where exponential wins). For a power law ξ is finite only
      because the window is.

    Resolution (:func:`~phasekit.correlations.resolution._resolution`): ξ is *resolved* when
    C(r) reaches the noise before the last measured lag R and, for the exponential and
    second-moment lengths, the fitted ξ is at most W and the fitted decay reaches the noise
    by lag R (the window did not close on a fluctuation); for the integrated one, Sokal's
    window closes. Otherwise the exponential value is a one-sided 97.5 % lower bound on the
    slowest decay length, :math:`r / (-\ln C_{lo}(r))` (``xi_bound="lower"``, ``upper=inf``,
    ``stderr`` NaN), the integrated one the partial sum minus 1.96 σ, the second moment NaN;
    NaN (``xi_bound="none"``) wherever nothing can be said, always with a ``reason``, and a
    UserWarning names the unresolved cells. The integrated length's ``stderr`` and ``upper``
    include the truncation bias of Sokal's window (coord ``truncation_bias``; Sokal 1996).

    Parameters
    ----------
    ds_or_corr : samples (Dataset with ``token`` or token DataArray) or the output of
        :func:`correlation_function` (stationary, dim ``lag``).
    sequence, max_lag, replica, keep, n_jackknife : as in :func:`correlation_function`
        (samples only; ``dim=`` is the deprecated old name of ``sequence=``).
    method : ``"exponential"`` (default), ``"second_moment"`` or ``"integrated"``.
    threshold : |C(1)| / stderr needed to call a curve (anti)correlated.
    noise : C / stderr below which a lag is noise (window end).
    aic_margin : ΔAIC above which the power law is preferred.
    c_window : Sokal's window constant for ``"integrated"``.
    eta_start : first lag of the exponent fit.

    Returns
    -------
    DataArray ``correlation_length`` over the kept dims (in index steps of the sequence
    axis), coords
    ``stderr``, ``decay``, ``eta``, ``eta_stderr``, ``delta_aic``, ``c1`` (C(1)),
    ``window`` (last lag used), ``resolved``, ``xi_bound`` (``estimate``/``lower``/``none``),
    ``lower``/``upper`` (attr ``confidence``), ``truncation_bias`` (integrated) and
    ``reason``; attrs ``method``, ``decay`` (single cell), ``error_method``.
    """
    sequence = renamed_keyword("correlation_length", "dim", "sequence", dim, sequence, "position")
    if method not in _METHODS:
        raise SchemaError(f"unknown method {method!r}", where="method", fix=f"use one of {list(_METHODS)}")
    corr, reps, error_method = _curves_for_length(ds_or_corr, sequence, max_lag, replica, keep, n_jackknife)
    opts = {"method": method, "threshold": threshold, "noise": noise, "aic_margin": aic_margin,
            "c_window": c_window, "eta_start": eta_start}
    return _lengths_of_curves(corr, reps, error_method, sequence, opts)


def correlation_function_and_length(
    ds: xr.Dataset | xr.DataArray,
    *,
    sequence: Hashable = "position",
    method: str = "exponential",
    max_lag: int | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    keep: Hashable | Iterable[Hashable] | None = None,
    threshold: float = 3.0,
    noise: float = 2.0,
    aic_margin: float = 2.0,
    c_window: float = 5.0,
    eta_start: int = 4,
    n_jackknife: int = 50,
) -> tuple[xr.DataArray, xr.DataArray]:
    """``(correlation_function(ds, ...), correlation_length(ds, ...))`` from one pass over the tokens.

    The two results are identical to the two calls (the stationary C(r) with its jackknife
    ``stderr``; ξ with the delete-a-group jackknife of the whole fit, which accounts for the
    correlation between lags), but the tokens are read once: C(r), its replicates and ξ come
    from the same pair counts. On dask-backed tokens the curves are computed block by block
    of the kept dims (:mod:`.streaming`) and C(r) is returned computed. Computing ξ from an
    already computed curve instead (``correlation_length(correlation_function(ds))``)
    propagates its ``stderr`` as if lags were independent, 2.8–3.6× too small on Markov chains.
    Arguments as in :func:`correlation_length`.
    """
    if method not in _METHODS:
        raise SchemaError(f"unknown method {method!r}", where="method", fix=f"use one of {list(_METHODS)}")
    if _as_corr_input(ds):
        raise SchemaError("correlation_function_and_length needs samples, not a correlation function",
                          where="the data has a 'lag' dim", fix="call correlation_length(corr) on a curve")
    corr, reps, error_method = _curves_for_length(ds, sequence, max_lag, replica, keep, n_jackknife)
    opts = {"method": method, "threshold": threshold, "noise": noise, "aic_margin": aic_margin,
            "c_window": c_window, "eta_start": eta_start}
    return corr, _lengths_of_curves(corr, reps, error_method, sequence, opts)


def _lengths_of_curves(corr: xr.DataArray, reps: np.ndarray | None, error_method: str, sequence: Hashable,
                       opts: dict[str, Any]) -> xr.DataArray:
    """The correlation-length DataArray of stationary curves (…, lag) and their replicates:
    one :func:`_cell_length` per kept cell, the attrs, the unresolved-cell warning."""
    method, threshold, noise, aic_margin = opts["method"], opts["threshold"], opts["noise"], opts["aic_margin"]
    kdims = tuple(d for d in corr.dims if d != "lag")
    kshape = tuple(corr.sizes[d] for d in kdims)
    n_lags = corr.sizes["lag"]
    cmat = np.asarray(corr.values, dtype=np.float64).reshape(-1, n_lags)
    smat = np.asarray(stderr_of(corr).values, dtype=np.float64).reshape(-1, n_lags)
    rep_mat = None if reps is None else reps.reshape(cmat.shape[0], reps.shape[-2], n_lags)
    cells = [_cell_length(cmat[i], smat[i], None if rep_mat is None else rep_mat[i], opts)
             for i in range(cmat.shape[0])]
    attrs: dict[str, Any] = {
        "method": method,
        "estimator": f"correlation length ({method})",
        "units": f"index steps along {corr.attrs.get('sequence', corr.attrs.get('dim', sequence))}",
        "sequence": str(corr.attrs.get("sequence", sequence)),
        "error_method": error_method,
        "threshold": threshold,
        "noise": noise,
        "aic_margin": aic_margin,
        "n_states": corr.attrs.get("n_states"),
        "N": corr.attrs.get("N"),
        "confidence": CONFIDENCE,
        "interval": "lower/upper: estimate ± z stderr (integrated: a score interval with "
                    "stderr ∝ xi^1.5, Madras-Sokal, and the upper end adds the truncation bias); "
                    "for xi_bound='lower' a one-sided 97.5 % bound and upper = inf",
    }
    unresolved = [c["reason"] for c in cells if not c["resolved"] and c["bound"] != "estimate"]
    if unresolved:
        warnings.warn(f"correlation_length: {len(unresolved)} of {len(cells)} cells not resolved by the window "
                      f"(reported as lower bounds or NaN, see coords 'xi_bound' and 'reason'); first: "
                      f"{unresolved[0]}", UserWarning, stacklevel=4)
    if len({c["decay"] for c in cells}) == 1:
        attrs["decay"] = cells[0]["decay"]
    coords: dict[Hashable, Any] = {d: corr.coords[d] for d in kdims if d in corr.coords}
    value = xr.DataArray(np.array([c["value"] for c in cells], dtype=float).reshape(kshape),
                         dims=kdims, coords=coords)
    se = np.array([c["se"] for c in cells], dtype=float).reshape(kshape)
    out = estimate(value, se, name="correlation_length", **attrs)
    return out.assign_coords(_length_coords(cells, kdims, kshape))


def _curves_for_length(
    ds_or_corr: xr.Dataset | xr.DataArray, sequence: Hashable, max_lag: int | None, replica: Any,
    keep: Any, n_jackknife: int,
) -> tuple[xr.DataArray, np.ndarray | None, str]:
    """The stationary C(r) curves (…, lag), their jackknife replicates (None when a curve
    was passed in) and the error method of ξ; checks that lags are 0, 1, 2, …"""
    if isinstance(ds_or_corr, xr.DataArray) and _as_corr_input(ds_or_corr):
        corr = ds_or_corr
        if sequence in corr.dims and sequence != "lag":
            raise SchemaError(
                "a position-resolved correlation function cannot give one ξ per cell",
                where=f"dims {list(corr.dims)}",
                fix="compute correlation_function(..., stationary=True)",
            )
        corr = corr.transpose(..., "lag")
        reps = None
        error_method = "propagated from the correlation stderr, lags treated as independent"
        warnings.warn(
            "correlation_length on a precomputed curve propagates C(r)'s stderr as if its lags were "
            "independent, which understates the error of xi (about 3x on Markov chains); for the "
            "whole-fit jackknife pass the tokens, or call correlation_function_and_length(ds) to get "
            "both from one pass", UserWarning, stacklevel=3)
    else:
        streamed = lazy_curves_and_replicates(ds_or_corr, sequence=sequence, max_lag=max_lag, replica=replica,
                                              keep=keep, n_jackknife=n_jackknife) if is_lazy(ds_or_corr) else None
        corr, reps = streamed if streamed is not None else _correlation(
            ds_or_corr, sequence, max_lag, replica, keep, True, n_jackknife)
        error_method = corr.attrs["error_method"] + " (of the whole fit)"
    lags = np.asarray(corr["lag"].values)
    if lags.size < 2 or lags[0] != 0 or np.any(np.diff(lags) != 1):
        raise SchemaError(
            "the correlation function must have lags 0, 1, 2, ... with C(0) = 1",
            where=f"lag coordinate {lags[:5]}...",
            fix="pass the output of phasekit.correlation_function",
        )
    return corr, reps, error_method


def _cell_length(c: np.ndarray, s: np.ndarray, reps: np.ndarray | None, opts: dict[str, Any]) -> dict[str, Any]:
    """ξ of one curve: classify the decay, fit, jackknife over the replicates, and decide
    whether the window resolves it (:func:`_resolution`)."""
    method = opts["method"]
    kind, end = _classify(c, s, opts["threshold"], opts["noise"])
    res = _length_of(c, s, method, kind, end, opts["c_window"], opts["eta_start"])
    label = kind
    if kind == "decaying":
        label = "power_law" if res["delta_aic"] > opts["aic_margin"] else "exponential"
    xi, xi_se = res["xi"], res["xi_se"] if np.isfinite(res["xi"]) else np.nan
    eta, eta_se = (res["eta"], res["eta_se"]) if label == "power_law" else (np.nan, np.nan)
    if reps is not None and reps.shape[0] >= 2 and kind not in ("uncorrelated", "oscillating", "undefined"):
        jk = _jackknife_length(reps, s, res, kind, end, opts)
        if "truncation" in res:
            res["truncation_se"] = jk["truncation"]
        if np.isfinite(xi):
            xi_se = jk["xi"]
        if label == "power_law":
            eta_se = jk["eta"]
    st = _resolution(c, s, method, label, res, end, xi, xi_se, opts["noise"])
    return {**st, "decay": label, "eta": eta, "eta_se": eta_se, "delta_aic": res["delta_aic"],
            "window": res["window"], "c1": c[1]}


def _jackknife_length(reps: np.ndarray, s: np.ndarray, res: dict[str, Any], kind: str, end: int,
                      opts: dict[str, Any]) -> dict[str, float]:
    """Delete-a-group jackknife errors of ξ, η and the truncation bias: the whole fit redone
    on every replicate curve with the full curve's window, starting values and tail decay
    (:func:`~.resolution._truncated_tail`)."""
    fixed = {
        "window": res["window"],
        "exp_p0": res.get("exp_p0", (1.0, 1.0)),
        "exp_p0c": res.get("exp_p0c", (1.0, 1.0)),
        "pow_p0": res.get("pow_p0", (1.0, 0.5)),
        "tail_slope": res.get("tail_slope"),
    }
    vals = np.full((reps.shape[0], 3), np.nan)
    for k in range(reps.shape[0]):
        rres = _length_of(reps[k], s, opts["method"], kind, end, opts["c_window"], opts["eta_start"], fixed)
        vals[k] = rres["xi"], rres["eta"], rres.get("truncation", np.nan)
    se = _jackknife_se(vals)
    return {"xi": float(se[0]), "eta": float(se[1]), "truncation": float(se[2])}


def _length_coords(cells: list[dict[str, Any]], kdims: tuple[Hashable, ...],
                   kshape: tuple[int, ...]) -> dict[Hashable, Any]:
    """The per-cell coordinates of :func:`correlation_length` (decay class, η, ΔAIC, window,
    resolution status, interval, truncation bias, reason)."""
    def col(key: str, dtype: Any, default: Any = None) -> tuple[tuple[Hashable, ...], np.ndarray]:
        return kdims, np.array([c.get(key, default) for c in cells], dtype=dtype).reshape(kshape)

    return {
        "decay": col("decay", str),
        "eta": col("eta", float),
        "eta_stderr": col("eta_se", float),
        "delta_aic": col("delta_aic", float),
        "c1": col("c1", float),
        "window": col("window", np.int64),
        "resolved": col("resolved", bool),
        "xi_bound": col("bound", str),
        "lower": col("lower", float),
        "upper": col("upper", float),
        "truncation_bias": col("truncation", float, np.nan),
        "reason": col("reason", str),
    }
