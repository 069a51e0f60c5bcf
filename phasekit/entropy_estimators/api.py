"""The array layer: estimator names and defaults, :func:`entropy_from_fingerprint` (the
dispatch), :func:`entropy_from_counts`."""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy.special import ndtri

from ..errors import SchemaError
from .bayes import _finish
from .bma import _bma
from .cwj import _h_chao_wang_jost
from .fingerprint import _check_fingerprint, _resolve_k, fingerprint_from_counts
from .nsb import _nsb_core
from .plugin import (
    _h_chao_shen,
    _h_grassberger,
    _h_miller_madow,
    _h_plugin,
    _jackknife_stderr,
    _plugin_stderr,
)
from .pym import _pym_core
from .uncertainty import _cwj_interval, _cwj_stderr

DEFAULT_ESTIMATOR = "bma"
#: the default when the alphabet size K is unknown (docs/entropy.md: it measures best of
#: the K-free estimators; the Pitman-Yor mixture without K over-estimates by up to +75%)
DEFAULT_ESTIMATOR_WITHOUT_K = "chao_wang_jost"
ESTIMATORS = (
    "plugin",
    "miller_madow",
    "grassberger",
    "chao_shen",
    "chao_wang_jost",
    "nsb",
    "pym",
    "bma",
)
#: CWJ: the stderr, and an asymmetric interval (its lower end made differently)
_CWJ_METHOD = ("jackknife_tokens+jackknife_bias+weighted_unseen_tail; "
               "interval lower=min(source_sd,garwood_doubletons), upper=stderr")
_ERROR_METHOD = {
    "plugin": "delta_method",
    "miller_madow": "delta_method",
    "grassberger": "jackknife_tokens",
    "chao_shen": "jackknife_tokens",
    "chao_wang_jost": _CWJ_METHOD,
    "nsb": "posterior_sd",
    "pym": "posterior_sd",
    "bma": "posterior_sd+kfree_gap",
}

#: how each error_method makes the stderr (the ``error_description`` attr of :func:`entropy`)
_ERROR_DESCRIPTION = {
    "delta_method": "delta method, sqrt((sum p ln^2 p - H^2)/N): sampling spread only, not the bias",
    "jackknife_tokens": "delete-one-token jackknife: sampling spread only, not the bias",
    _CWJ_METHOD: (
        "stderr = sqrt((0.9 jackknife)^2 + max(-b_jk, 0)^2 + (1.4 w T)^2), b_jk = (N-1)(mean "
        "H_(-i) - H) the jackknife bias (counted where it says the estimate is low), T = the "
        "Chao-Wang-Jost unseen-tail term, w = r/(1+r) in [0, 1] its heterogeneity from "
        "f1 f3/f2^2 (0 for a homogeneous tail, trusted in proportion f2/(f2+20)): the sampling "
        "spread plus the bias the data show plus the extrapolated unseen contribution as "
        "uncertain as its measured bias; constants chosen on the benchmark grid. The interval "
        "(coordinates lower, upper) is asymmetric: upper = H + z stderr (CWJ's bias is "
        "downward); lower = min(H - z sd_source, CWJ with f2 at its Garwood upper limit), "
        "sd_source the sampling sd of CWJ under the Chao-Jost source the fingerprint "
        "suggests (closed-form parametric bootstrap, conditioned on N), the second term "
        "where too few doubletons over-extrapolate the unseen tail; no fitted constant"),
    "posterior_sd": "posterior standard deviation of H under the estimator's prior mixture",
    "posterior_sd+kfree_gap": (
        "sqrt((0.9 posterior sd)^2 + max(|H - H_cwj|, |H - H_cwj,jk|)^2 + (w max(H_cwj - H, 0))^2), "
        "H_cwj = the K-free Chao-Wang-Jost estimate, H_cwj,jk = the same corrected by its "
        "jackknife bias, w in [0, 1] the heterogeneity of its unseen tail: the posterior spread "
        "plus the disagreement with a model that needs no K (model and K uncertainty), "
        "measured from the farther of the two K-free values, a shortfall below CWJ counted "
        "again where CWJ is biased low; constants chosen on the benchmark grid"),
}

_POINT = {
    "plugin": _h_plugin,
    "miller_madow": _h_miller_madow,
    "grassberger": _h_grassberger,
    "chao_shen": _h_chao_shen,
    "chao_wang_jost": _h_chao_wang_jost,
}


def default_estimator(n_states: object) -> str:
    """The estimator used when none is named: ``bma`` with K, ``chao_wang_jost`` without.

    It depends only on whether K is known, never on the number of configurations or on
    the data, so the same call on more configurations gives the same numbers per
    configuration (issue 14).  Without K, Chao-Wang-Jost measured best of the K-free
    estimators (docs/entropy.md, "Without K").
    """
    return DEFAULT_ESTIMATOR if n_states is not None else DEFAULT_ESTIMATOR_WITHOUT_K


def _check_estimator(estimator: str) -> None:
    """SchemaError unless ``estimator`` is one of ``ESTIMATORS``."""
    if estimator not in ESTIMATORS:
        raise SchemaError(f"unknown entropy estimator {estimator!r}", where="estimator=",
                          fix=f"use one of {list(ESTIMATORS)}")


def entropy_from_fingerprint(
    fp_indptr: np.ndarray,
    multiplicity: np.ndarray,
    n_with_multiplicity: np.ndarray,
    estimator: str | None = None,
    n_states: int | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Entropy (nats) and its standard error for every configuration, from fingerprints.

    Parameters
    ----------
    fp_indptr, multiplicity, n_with_multiplicity
        CSR fingerprint as returned by ``Counts.fingerprint()``: for configuration ``i``
        the entries ``fp_indptr[i]:fp_indptr[i+1]`` say ``n_with_multiplicity[e]`` states
        were seen ``multiplicity[e]`` times.
    estimator
        One of ``ESTIMATORS`` (see the module docstring for formulas and references), or
        None: ``DEFAULT_ESTIMATOR`` (``bma``) when ``n_states`` is given, else
        ``DEFAULT_ESTIMATOR_WITHOUT_K`` (``chao_wang_jost``); see :func:`default_estimator`.
    n_states
        Alphabet size K: one integer, or one per configuration (e.g. from
        :func:`support_k_from_fingerprint`).  Required by ``nsb`` and ``bma`` (SchemaError
        otherwise); used by ``pym`` to bound its prior; ignored by the others.

    Returns
    -------
    (H, stderr)
        Float arrays of length ``n_config``; NaN where a configuration has no tokens.
    """
    estimator = default_estimator(n_states) if estimator is None else estimator
    _check_estimator(estimator)
    fp = _check_fingerprint(fp_indptr, multiplicity, n_with_multiplicity)
    k = _resolve_k(estimator, n_states, fp)
    if estimator in _POINT:
        point = _POINT[estimator]
        h = point(fp, None)  # none of them uses K
        if estimator in ("plugin", "miller_madow"):
            se = _plugin_stderr(fp)
        elif estimator == "chao_wang_jost":
            se = _cwj_stderr(fp)
        else:
            se = _jackknife_stderr(point, fp, None)
        h = np.where(fp.N > 0, h, np.nan)
        return h, np.where(fp.N > 0, se, np.nan)
    if estimator == "pym":
        act, _, mean, second = _pym_core(fp, k)
        return _finish(fp, act, mean, second)
    k_known = cast("float | np.ndarray", k)  # nsb and bma: _resolve_k raised if K is missing
    if estimator == "nsb":
        act, _, mean, second = _nsb_core(fp, k_known)
        return _finish(fp, act, mean, second)
    return _bma(fp, k_known)


def entropy_interval_from_fingerprint(
    fp_indptr: np.ndarray,
    multiplicity: np.ndarray,
    n_with_multiplicity: np.ndarray,
    estimator: str | None = None,
    n_states: int | np.ndarray | None = None,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(H, stderr, lower, upper)`` per configuration: :func:`entropy_from_fingerprint` and
    its interval at ``confidence``.

    ``lower, upper = H -+ z stderr`` (z the normal quantile; for the estimators that use K
    the upper end at most ln K, a bound every distribution over K states obeys) for every
    estimator but ``chao_wang_jost``, whose interval is asymmetric (its ``error_method``): the upper end
    is ``H + z stderr`` and the lower end the smaller of ``H - z sd_source`` (the sampling
    sd under the source the fingerprint suggests) and CWJ with the doubletons at their
    exact upper confidence limit (docs/entropy.md, "Error bars").  The lower end is at least
    0 (H >= 0); where the stderr is undefined (NaN, e.g. a single token for the jackknife
    estimators) so is the interval.  Deterministic.
    """
    if not 0.0 < confidence < 1.0:
        raise SchemaError(f"confidence must be in (0, 1), got {confidence!r}",
                          where="entropy_interval_from_fingerprint confidence=", fix="pass e.g. 0.95")
    h, se = entropy_from_fingerprint(fp_indptr, multiplicity, n_with_multiplicity,
                                     estimator=estimator, n_states=n_states)
    estimator = default_estimator(n_states) if estimator is None else estimator
    if estimator == "chao_wang_jost":
        lower, upper = _cwj_interval(_check_fingerprint(fp_indptr, multiplicity, n_with_multiplicity),
                                     h, se, confidence)
    else:
        z = float(ndtri(0.5 + confidence / 2.0))
        lower, upper = h - z * se, h + z * se
        if n_states is not None and estimator in ("nsb", "pym", "bma"):
            upper = np.minimum(upper, np.log(np.asarray(n_states, dtype=float)))  # H <= ln K always
    lower = np.where(np.isnan(upper), np.nan, np.maximum(lower, 0.0))  # H >= 0; no stderr, no interval
    return h, se, lower, upper


def entropy_from_counts(
    counts: np.ndarray,
    estimator: str | None = None,
    n_states: int | None = None,
    axis: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """Entropy (nats) and standard error from a dense count array ``(..., K, ...)``.

    The states run along ``axis``; every other index is a configuration.  Builds the
    fingerprints and calls :func:`entropy_from_fingerprint`.  ``n_states=None`` means the
    alphabet is the length of ``axis`` (the array declares its states explicitly; this is
    not the observed support).  Returns two arrays of shape ``counts.shape`` without
    ``axis``.
    """
    c = np.asarray(counts)
    if c.ndim == 0:
        raise SchemaError("counts must have at least one dimension (the states)",
                          where="entropy_from_counts", fix="pass an array (..., K) of counts")
    if not np.issubdtype(c.dtype, np.number) or (c.size and np.nanmin(c) < 0):
        raise SchemaError("counts must be non-negative numbers", where="entropy_from_counts",
                          fix="pass an array of counts")
    if c.size and np.any(c != np.round(c)):
        raise SchemaError("counts must be whole numbers", where="entropy_from_counts",
                          fix="pass integer counts, not probabilities")
    c = np.moveaxis(c, axis, -1)
    shape = c.shape[:-1]
    k = c.shape[-1] if n_states is None else n_states
    flat = c.reshape(-1, c.shape[-1])
    h, se = entropy_from_fingerprint(*fingerprint_from_counts(flat), estimator=estimator,
                                     n_states=k)
    return h.reshape(shape), se.reshape(shape)
