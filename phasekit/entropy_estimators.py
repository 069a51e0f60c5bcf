"""Entropy estimators on count fingerprints, and the ``entropy()`` wrapper.

Two layers, as in arviz-stats and xclim:

* array functions :func:`entropy_from_fingerprint` and :func:`entropy_from_counts`,
  vectorised over configurations.  They work on the *fingerprint* (count of counts)
  of every configuration: for configuration ``i`` the entries
  ``fp_indptr[i]:fp_indptr[i+1]`` say that ``n_with_multiplicity[e]`` states were seen
  exactly ``multiplicity[e]`` times.  Every estimator below is a symmetric function of
  the counts, so the fingerprint is all it needs; nothing is ever dense over the
  alphabet, and there is no Python loop over configurations.
* :func:`entropy`, which counts a samples Dataset with
  :func:`phasekit.count.count_states` and returns a labelled estimate with its
  standard error as the ``stderr`` coordinate.

Notation: a configuration has ``N`` tokens, ``m`` distinct observed states, ``f_j``
states seen ``j`` times (so ``N = sum_j j f_j`` and ``m = sum_j f_j``), and ``K`` is the
alphabet size (``n_states``).  All entropies are in nats.

Estimators (``ESTIMATORS``):

``plugin``
    ``H = -sum_k (n_k/N) ln(n_k/N)``; stderr by the delta method,
    ``Var = (sum_k p_k ln^2 p_k - H^2)/N`` (Basharin 1959).
``miller_madow``
    plug-in ``+ (m - 1)/(2N)`` (Miller 1955); stderr as the plug-in.
``grassberger``
    ``H = ln N - (1/N) sum_k n_k G(n_k)``, ``G(n) = psi(n) + (-1)^n/2 [psi((n+1)/2) - psi(n/2)]``
    (Grassberger 2003, arXiv:physics/0307138, eq. 35); stderr by the jackknife.
``chao_shen``
    coverage-adjusted Horvitz-Thompson estimator: ``C = 1 - f_1/N``, ``pa_k = C n_k/N``,
    ``H = -sum_k pa_k ln pa_k / (1 - (1 - pa_k)^N)`` (Chao & Shen 2003, Environ. Ecol. Stat.
    10:429); stderr by the jackknife.
``chao_wang_jost``
    ``H = sum_k (n_k/N)[psi(N) - psi(n_k)] + (f_1/N)(1-A)^{1-N}[-ln A - sum_{r=1}^{N-1}(1-A)^r/r]``
    with ``A = 2 f_2/((N-1) f_1 + 2 f_2)`` (Chao, Wang & Jost 2013, Methods Ecol. Evol.
    4:1091); the first term is unbiased for the entropy of the seen species' "discovery
    rate" expansion, the second estimates the unseen-tail contribution from the
    singletons and doubletons.  K is not used.  stderr =
    ``sqrt((0.9 jackknife)^2 + (1.4 w T)^2)`` with T the unseen-tail term and w in [0, 1]
    how unequal the rare states are (from ``f_1 f_3 / f_2^2``; 0 for a homogeneous tail):
    the jackknife sees only the sampling spread, the tail term is an extrapolation the data
    cannot check (its bias was -1.4 T to +0.1 T on the benchmark distributions, ~0 where the
    tail is homogeneous; docs/entropy.md).  The default of :func:`entropy` when K is not known.
``nsb``
    Nemenman-Shafee-Bialek (2002, arXiv:physics/0108025): a mixture of symmetric
    Dirichlet(beta) priors over K states, with a hyperprior flat in the prior mean entropy
    ``xi(beta) = psi(K beta + 1) - psi(beta + 1)`` on ``[0, ln K]``.  The posterior over
    ``xi`` is evaluated on an adaptive per-configuration grid (an ``(n_config, n_grid)``
    log-evidence array built from fingerprints); the estimate is the posterior mean of H
    and the stderr the posterior standard deviation, from the exact Dirichlet moments of
    H (Wolpert & Wolf 1995, Phys. Rev. E 52:6841).  Requires K.
``pym``
    Pitman-Yor mixture (Archer, Park & Pillow 2014, JMLR 15:2833): a mixture of PY(d, alpha)
    priors over a countably infinite alphabet, with a hyperprior flat in d on [0, 0.95]
    and flat in the prior mean entropy ``h = psi(alpha + 1) - psi(1 - d)`` on
    ``(0, h_max]``.  Given (d, alpha) the posterior is exact: the seen states and the
    unseen mass p* are Dir(n_1 - d, ..., n_m - d, alpha + m d) and the unseen mass carries an
    independent PY(d, alpha + m d) tail, so
    ``E[H] = psi(A+1) - sum_k (n_k - d) psi(n_k - d + 1)/A - (alpha + m d) psi(1 - d)/A``
    (A = N + alpha) and E[H^2] follows from the Dirichlet moments and the PY prior
    moments of the tail; both are integrated over a refined 2-D grid in (d, h) (Simpson's
    rule).  The power-law tail of PY suits Zipf-like token distributions.  K is optional;
    without it ``h_max`` = 25 nats and the tail is the untruncated PY.  With K,
    ``h_max = ln K`` and the unseen mass is restricted to the K - m unseen states: its mean
    entropy is that of the PY tail truncated, in the mean-field sense, to its K - m largest
    atoms (:func:`_truncated_tail_entropy`) at the steep end and ``ln(K - m)`` (a flat
    tail) at the other; the tail entropy is taken as uniform over that bracket (its
    midpoint enters the mean, its variance ``span^2/12`` the posterior variance).  A
    Pitman-Yor tail cannot be flatter than ``k^{-1/0.95}``, so without the upper half of
    the bracket PYM under-estimated flat tails such as Zipf(0.8) by 7-10% at N = 1000-3000.
``bma``
    Bayesian model average of ``nsb`` (K states, symmetric Dirichlet) and ``pym`` (with K),
    each weighted by its marginal likelihood of the observed partition (for the Dirichlet
    family the partition probability is ``K!/(K-m)!`` times the sequence probability;
    both hyperpriors are normalised).  Estimate = mixture posterior mean; stderr =
    ``sqrt((0.9 posterior sd)^2 + (H - H_cwj)^2 + (w max(H_cwj - H, 0))^2)``: the gap to the
    K-free ``chao_wang_jost`` value of the same configuration (model and K uncertainty,
    which neither posterior contains; issue 14), and a shortfall below it counted again
    where CWJ's tail is heterogeneous (w, as in its own error).  Requires K (one value, or one per configuration).  This is the default of :func:`entropy`
    when K is known (``chao_wang_jost`` when it is not, :func:`default_estimator`): the data
    choose between a finite, flat-ish alphabet (where NSB is near-exact) and a heavy
    power-law tail (where NSB under-estimates badly); ``docs/entropy.md`` has the measured
    accuracy and coverage.

Nothing here resamples: every estimate and error is a deterministic function of the
fingerprint (no seed).

Standard errors (``_ERROR_METHOD``): analytic (delta method) for ``plugin``/``miller_madow``;
posterior sd for ``nsb``/``pym``; widened for the two defaults as above; otherwise the
delete-one-token jackknife computed from the
fingerprint: removing one token of a state seen ``j`` times turns ``f_j`` into ``f_j - 1``
and ``f_{j-1}`` into ``f_{j-1} + 1``, and ``j f_j`` tokens give the same leave-one-out value,
so the jackknife costs one estimator evaluation per distinct multiplicity.  Both the
delta method and the jackknife measure only the sampling spread (not the bias), and both
give 0 when every observed state has the same count (e.g. all singletons): prefer a
Bayesian estimator's posterior sd there.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from typing import Any, cast

import numpy as np
import xarray as xr
from scipy.special import digamma, gammaincc, gammaln
from scipy.special import gamma as gamma_fn

from ._meta import as_dims, estimate, resolve_n_states
from .errors import SchemaError

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DEFAULT_ESTIMATOR_WITHOUT_K",
    "ESTIMATORS",
    "entropy",
    "entropy_from_counts",
    "entropy_from_fingerprint",
    "fingerprint_from_counts",
    "support_k_from_fingerprint",
]

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
_NEEDS_K = {"nsb", "bma"}
_ERROR_METHOD = {
    "plugin": "delta_method",
    "miller_madow": "delta_method",
    "grassberger": "jackknife_tokens",
    "chao_shen": "jackknife_tokens",
    "chao_wang_jost": "jackknife_tokens+weighted_unseen_tail",
    "nsb": "posterior_sd",
    "pym": "posterior_sd",
    "bma": "posterior_sd+kfree_gap",
}

#: how each error_method makes the stderr (the ``error_description`` attr of :func:`entropy`)
_ERROR_DESCRIPTION = {
    "delta_method": "delta method, sqrt((sum p ln^2 p - H^2)/N): sampling spread only, not the bias",
    "jackknife_tokens": "delete-one-token jackknife: sampling spread only, not the bias",
    "jackknife_tokens+weighted_unseen_tail": (
        "sqrt((0.9 jackknife)^2 + (1.4 w T)^2), T = the Chao-Wang-Jost unseen-tail term, "
        "w = r/(1+r) in [0, 1] its heterogeneity from f1 f3/f2^2 (0 for a homogeneous tail, "
        "trusted in proportion f2/(f2+20)): the sampling spread plus the extrapolated unseen "
        "contribution as uncertain as its measured bias; constants chosen on the benchmark grid"),
    "posterior_sd": "posterior standard deviation of H under the estimator's prior mixture",
    "posterior_sd+kfree_gap": (
        "sqrt((0.9 posterior sd)^2 + (H - H_cwj)^2 + (w max(H_cwj - H, 0))^2), H_cwj = the "
        "K-free Chao-Wang-Jost estimate, w in [0, 1] the heterogeneity of its unseen tail: the "
        "posterior spread plus the disagreement with a model that needs no K (model and K "
        "uncertainty), a shortfall below CWJ counted again where CWJ is biased low; constants "
        "chosen on the benchmark grid"),
}
_MAX_CELLS = 1_500_000  # entries x grid points evaluated at once (memory bound)
_PYM_DMAX = 0.95
_PYM_HMAX_UNBOUNDED = 25.0
#: variance of the truncated tail's entropy per span^2 (uniform over the bracket: 1/12)
_TAIL_BRACKET_VAR = 1.0 / 12.0


def _trigamma(x: np.ndarray) -> np.ndarray:
    """psi_1(x) for x > 0: recurrence psi_1(x) = psi_1(x+1) + 1/x^2 up to x >= 6, then the
    asymptotic series 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1) up to B_12 (Abramowitz &
    Stegun 6.4.12; relative error < 1e-10, several times faster than
    ``scipy.special.polygamma(1, x)``)."""
    shape = np.shape(x)
    x = np.array(x, dtype=float, copy=True).reshape(-1)
    acc = np.zeros_like(x)
    small = np.nonzero(x < 6.0)
    if small[0].size:
        xs = x[small]
        add = np.zeros_like(xs)
        for _ in range(6):
            m = xs < 6.0
            if not m.any():
                break
            add += np.where(m, 1.0 / np.where(m, xs * xs, 1.0), 0.0)
            xs = xs + m
        acc[small] = add
        x[small] = xs
    with np.errstate(divide="ignore"):
        r = 1.0 / x
    r2 = r * r
    series = r + r2 * (0.5 + r * (1.0 / 6.0 + r2 * (-1.0 / 30.0 + r2 * (
        1.0 / 42.0 + r2 * (-1.0 / 30.0 + r2 * (5.0 / 66.0 - r2 * 691.0 / 2730.0))))))
    return (acc + series).reshape(shape)


# --------------------------------------------------------------------------------------
# fingerprint plumbing
# --------------------------------------------------------------------------------------


class _FP:
    """Flattened fingerprint: entry -> config index, multiplicity j, number of states f."""

    __slots__ = ("cfg", "j", "f", "n", "N", "m", "f1", "f2", "f3")

    def __init__(self, cfg: np.ndarray, j: np.ndarray, f: np.ndarray, n: int):
        self.cfg = cfg
        self.j = j
        self.f = f
        self.n = n
        self.N = self.sum(j * f)
        self.m = self.sum(f)
        self.f1 = self.sum(np.where(j == 1, f, 0.0))
        self.f2 = self.sum(np.where(j == 2, f, 0.0))
        self.f3 = self.sum(np.where(j == 3, f, 0.0))

    def sum(self, w: np.ndarray) -> np.ndarray:
        return np.bincount(self.cfg, weights=w, minlength=self.n)[: self.n]

    def per_entry(self, x: np.ndarray) -> np.ndarray:
        return x[self.cfg]


def _check_fingerprint(fp_indptr, multiplicity, n_with_multiplicity) -> _FP:
    indptr = np.asarray(fp_indptr)
    j = np.asarray(multiplicity)
    f = np.asarray(n_with_multiplicity)
    where = "entropy_from_fingerprint"
    if indptr.ndim != 1 or indptr.size < 1:
        raise SchemaError("fp_indptr must be a 1-D array of length n_config + 1", where=where,
                          fix="pass the first output of Counts.fingerprint()")
    if j.shape != f.shape or j.ndim != 1:
        raise SchemaError("multiplicity and n_with_multiplicity must be 1-D arrays of equal length",
                          where=where, fix="pass the outputs of Counts.fingerprint()")
    if indptr[0] != 0 or indptr[-1] != j.size or np.any(np.diff(indptr) < 0):
        raise SchemaError("fp_indptr is not a valid CSR index pointer "
                          "(must start at 0, be non-decreasing and end at len(multiplicity))",
                          where=where, fix="pass the outputs of Counts.fingerprint()")
    if j.size and (np.any(j < 1) or np.any(f < 0)):
        raise SchemaError("multiplicities must be >= 1 and numbers of states >= 0", where=where,
                          fix="drop zero counts before building the fingerprint")
    n = indptr.size - 1
    cfg = np.repeat(np.arange(n), np.diff(indptr))
    nz = f > 0
    return _FP(cfg[nz], j[nz].astype(float), f[nz].astype(float), n)


def _resolve_k(estimator: str, n_states: Any, fp: _FP) -> float | np.ndarray | None:
    """K as a float, or as one float per configuration (an array of length n_config)."""
    if n_states is None:
        if estimator in _NEEDS_K:
            raise SchemaError(
                f"estimator {estimator!r} needs the alphabet size K (n_states) and none was given",
                where=f"entropy estimator={estimator!r}",
                fix="pass n_states= (the size q of the outcome space) or set ds.attrs['n_states']; "
                "the observed support is never used in its place"
                + ("; or use estimator='chao_wang_jost' (needs no K)" if estimator == "bma" else ""),
            )
        return None
    k = np.asarray(n_states, dtype=float)
    if k.ndim not in (0, 1) or (k.ndim == 1 and k.size != fp.n):
        raise SchemaError(f"n_states must be one integer or one per configuration ({fp.n}), got "
                          f"shape {k.shape}", where="entropy n_states=",
                          fix="pass the size q of the outcome space")
    if np.any(~np.isfinite(k)) or np.any(k < 1) or np.any(k != np.round(k)):
        raise SchemaError(f"n_states must be a positive integer, got {n_states!r}",
                          where="entropy n_states=", fix="pass the size q of the outcome space")
    too_many = fp.m > k
    if np.any(too_many):
        i = int(np.argmax(too_many))
        raise SchemaError(
            f"a configuration has {int(fp.m[i])} distinct observed states, more than "
            f"n_states={int(np.broadcast_to(k, fp.m.shape)[i])}",
            where="entropy n_states=",
            fix="pass the true size of the outcome space as n_states=",
        )
    return float(k) if k.ndim == 0 else k


# --------------------------------------------------------------------------------------
# frequentist estimators (point values; every one is a sum over fingerprint entries)
# --------------------------------------------------------------------------------------


def _h_plugin(fp: _FP, k: float | None = None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(fp.N) - fp.sum(fp.f * fp.j * np.log(fp.j)) / fp.N


def _h_miller_madow(fp: _FP, k: float | None = None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return _h_plugin(fp) + (fp.m - 1.0) / (2.0 * fp.N)


def _grassberger_g(n: np.ndarray) -> np.ndarray:
    sign = np.where(np.mod(n, 2) == 0, 1.0, -1.0)
    return digamma(n) + 0.5 * sign * (digamma((n + 1.0) / 2.0) - digamma(n / 2.0))


def _h_grassberger(fp: _FP, k: float | None = None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(fp.N) - fp.sum(fp.f * fp.j * _grassberger_g(fp.j)) / fp.N


def _h_chao_shen(fp: _FP, k: float | None = None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(fp.f1 >= fp.N, fp.N - 1.0, fp.f1)  # all singletons: Chao-Shen's fix
        coverage = 1.0 - f1 / fp.N
        n_e = fp.per_entry(fp.N)
        pa = fp.per_entry(coverage) * fp.j / n_e
        ht = -pa * np.log(pa) / -np.expm1(n_e * np.log1p(-pa))
        out = fp.sum(fp.f * np.where(pa > 0, ht, 0.0))
    return np.where(fp.N > 0, out, np.nan)


_LERCH_V = np.arange(-40.0, 6.0, 0.05)
_LERCH_S = np.exp(_LERCH_V)


def _tail_series(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``sum_{t>=1} x^t / (t + c)`` for 0 <= x < 1, c >= 0 (stable for x -> 1, large c).

    Uses ``1/(t+c) = int_0^inf exp(-(t+c)s) ds``, so the sum is
    ``int_0^inf x e^{-(c+1)s} / (1 - x e^{-s}) ds``, integrated by the trapezoid rule in
    ``v = ln s`` (smooth, so the rule converges geometrically).
    """
    x = np.asarray(x, float)[:, None]
    c = np.asarray(c, float)[:, None]
    s = _LERCH_S[None, :]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        lx = np.log(x)
        integrand = np.exp(lx - (c + 1.0) * s) / -np.expm1(lx - s) * s
    integrand = np.where(x > 0, integrand, 0.0)
    return integrand.sum(axis=1) * 0.05


def _cwj_parts(big_n: np.ndarray, t_sum: np.ndarray, f1: np.ndarray, f2: np.ndarray):
    """Chao-Wang-Jost from its sufficient statistics: (seen term, unseen-tail term).

    ``seen = psi(N) - T/N`` with ``T = sum_k n_k psi(n_k)`` (= sum_k (n_k/N)[psi(N) - psi(n_k)]);
    ``tail = (f_1/N) (1-A)^{1-N} [-ln A - sum_{r<N} (1-A)^r/r] = (f_1/N) sum_{t>=1} (1-A)^t/(t+N-1)``
    with ``A = 2 f_2/((N-1) f_1 + 2 f_2)`` (``2/((N-1)(f_1-1)+2)`` when f_2 = 0; Chao, Wang &
    Jost 2013).  Arrays of equal shape; NaN where N = 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        seen = digamma(big_n) - t_sum / big_n
        a = np.where(
            f2 > 0,
            2.0 * f2 / ((big_n - 1.0) * f1 + 2.0 * f2),
            np.where(f1 > 0, 2.0 / ((big_n - 1.0) * (f1 - 1.0) + 2.0), 1.0),
        )
    a = np.clip(np.nan_to_num(a, nan=1.0), 0.0, 1.0)
    tail = np.zeros(np.shape(big_n))
    need = (f1 > 0) & (a < 1.0) & (big_n > 1)
    if np.any(need):
        tail[need] = f1[need] / big_n[need] * _tail_series(1.0 - a[need], big_n[need] - 1.0)
    ok = big_n > 0
    return np.where(ok, seen, np.nan), np.where(ok, tail, np.nan)


def _cwj_tsum(fp: _FP) -> np.ndarray:
    return fp.sum(fp.f * fp.j * digamma(fp.j))


def _h_chao_wang_jost(fp: _FP, k: float | None = None) -> np.ndarray:
    seen, tail = _cwj_parts(fp.N, _cwj_tsum(fp), fp.f1, fp.f2)
    return seen + tail


def _cwj_jackknife(fp: _FP) -> np.ndarray:
    """Delete-one-token jackknife sd of Chao-Wang-Jost from the sufficient statistics.

    Deleting one token of a state seen j times gives ``N - 1``,
    ``T - j psi(j) + (j-1) psi(j-1)`` and ``(f_1, f_2)`` changed only for j <= 3, so the
    unseen-tail series is evaluated 4 times per configuration (j = 1, 2, 3, >= 4) instead of
    once per distinct multiplicity.  Equal to :func:`_jackknife_stderr` (tested).
    """
    out = np.full(fp.n, np.nan)
    if fp.cfg.size == 0:
        return out
    t_sum = _cwj_tsum(fp)
    cls = np.minimum(fp.j, 4.0).astype(int) - 1  # 0: j=1, 1: j=2, 2: j=3, 3: j>=4
    d1 = np.array([-1.0, 1.0, 0.0, 0.0])
    d2 = np.array([0.0, -1.0, 1.0, 0.0])
    n_new = np.repeat(fp.N - 1.0, 4)
    f1n = (fp.f1[:, None] + d1[None, :]).reshape(-1)
    f2n = (fp.f2[:, None] + d2[None, :]).reshape(-1)
    _, tail4 = _cwj_parts(n_new, np.zeros_like(n_new), f1n, f2n)
    tail = tail4.reshape(fp.n, 4)[fp.cfg, cls]
    with np.errstate(divide="ignore", invalid="ignore"):
        jm1 = fp.j - 1.0
        t_new = fp.per_entry(t_sum) - fp.j * digamma(fp.j) + np.where(jm1 > 0, jm1 * digamma(
            np.maximum(jm1, 1.0)), 0.0)
        n_e = fp.per_entry(fp.N) - 1.0
        h_loo = digamma(n_e) - t_new / n_e + tail
    w = fp.j * fp.f
    ok = np.isfinite(h_loo)
    wsum = fp.sum(np.where(ok, w, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = fp.sum(np.where(ok, w * h_loo, 0.0)) / wsum
        dev = np.where(ok, h_loo - fp.per_entry(mean), 0.0)
        var = (fp.N - 1.0) / fp.N * fp.sum(w * dev * dev)
    good = (fp.N > 1) & (wsum == fp.N)
    out[good] = np.sqrt(var[good])
    return out


#: CWJ error constants, chosen on the benchmark grid only (benchmarks/bench_entropy.py,
#: docs/entropy.md "How the constants were chosen"); the held-out generators are the check
_CWJ_JACK_SCALE = 0.9  # the delete-one-token jackknife over-states the spread 1.0-1.7x
_CWJ_TAIL_SCALE = 1.4  # the measured bias reached -1.4 T (a step at N = 300)
_CWJ_F2_TRUST = 20.0  # doubletons at which the heterogeneity r is trusted half


def _tail_heterogeneity(fp: _FP) -> np.ndarray:
    """Weight in [0, 1] of the unseen-tail term in the CWJ error: how unequal the rare states are.

    For multinomial (Poissonised) sampling E f_j = sum_k e^{-lam_k} lam_k^j / j!, and by
    Cauchy-Schwarz E f_1 E f_3 >= (2/3) (E f_2)^2, with equality iff every state that
    contributes has the same rate (a homogeneous tail, where the CWJ tail term is right:
    measured bias ~0 T on uniforms).  ``r = max(3 f_1 f_3 / (2 f_2^2) - 1, 0)`` measures the
    departure and ``r / (1 + r)`` maps it to [0, 1) (on the benchmark grid the CWJ bias was
    about -0.5 T at r ~ 1 and -0.9 T at r ~ 6).  With few doubletons r is noise, so it is
    trusted with weight ``f_2 / (f_2 + 20)`` and the rest of the weight is 1 (the full term).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.maximum(1.5 * fp.f1 * fp.f3 / np.maximum(fp.f2, 1.0) ** 2 - 1.0, 0.0)
    trust = fp.f2 / (fp.f2 + _CWJ_F2_TRUST)
    return trust * r / (1.0 + r) + (1.0 - trust)


def _cwj_stderr(fp: _FP) -> np.ndarray:
    """``sqrt((0.9 jackknife)^2 + (1.4 w T)^2)``, T the unseen-tail term, w its heterogeneity.

    The jackknife sees only the sampling spread (and over-states it 1.0-1.7x on the benchmark
    grid); the unseen-tail term T is an extrapolation the data cannot check, biased between
    -1.4 T and +0.1 T on the benchmark grid, and the bias grows with how unequal the rare
    states are (:func:`_tail_heterogeneity`, w = 0 for a homogeneous tail, where CWJ is
    unbiased).  The constants were chosen on the benchmark grid to put the most cells'
    coverage in 90-98% with none below 91% (docs/entropy.md).  Where nothing is unseen
    (T -> 0) it is 0.9 x the jackknife.
    """
    _, tail = _cwj_parts(fp.N, _cwj_tsum(fp), fp.f1, fp.f2)
    jack = _CWJ_JACK_SCALE * _cwj_jackknife(fp)
    tail_err = _CWJ_TAIL_SCALE * _tail_heterogeneity(fp) * tail
    return np.sqrt(jack * jack + tail_err * tail_err)


_POINT = {
    "plugin": _h_plugin,
    "miller_madow": _h_miller_madow,
    "grassberger": _h_grassberger,
    "chao_shen": _h_chao_shen,
    "chao_wang_jost": _h_chao_wang_jost,
}


def _plugin_stderr(fp: _FP) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        n_e = fp.per_entry(fp.N)
        p = fp.j / n_e
        lp = np.log(p)
        h = -fp.sum(fp.f * p * lp)
        m2 = fp.sum(fp.f * p * lp * lp)
        var = np.maximum(m2 - h * h, 0.0) / fp.N
    return np.where(fp.N > 0, np.sqrt(var), np.nan)


def _leave_one_out(fp: _FP) -> tuple[_FP, np.ndarray, np.ndarray]:
    """Fingerprints of every distinct delete-one-token case, their config and weight.

    Case ``e`` (one per fingerprint entry) removes one token of a state with multiplicity
    ``j_e``: ``f_{j_e} -> f_{j_e} - 1`` and a state with multiplicity ``j_e - 1`` appears.
    It stands for ``j_e f_e`` identical leave-one-out samples.
    """
    order = np.argsort(fp.cfg, kind="stable")
    cfg, j, f = fp.cfg[order], fp.j[order], fp.f[order]
    counts = np.bincount(cfg, minlength=fp.n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_case = cfg.size
    reps = counts[cfg]  # entries copied per case
    case_of = np.repeat(np.arange(n_case), reps)
    offs = np.arange(case_of.size) - np.repeat(np.cumsum(reps) - reps, reps)
    src = starts[cfg][case_of] + offs
    f_new = f[src] - (src == case_of)
    j_new = j[src]
    extra = j > 1
    keep = f_new > 0  # a multiplicity emptied by the deletion is dropped
    cfg_all = np.concatenate([case_of[keep], np.nonzero(extra)[0]])
    j_all = np.concatenate([j_new[keep], j[extra] - 1.0])
    f_all = np.concatenate([f_new[keep], np.ones(int(extra.sum()))])
    return _FP(cfg_all, j_all, f_all, n_case), cfg, j * f


def _jackknife_stderr(point, fp: _FP, k: float | None) -> np.ndarray:
    """Delete-one-token jackknife: ``Var = (N-1)/N sum_i (H_(-i) - mean)^2``."""
    out = np.full(fp.n, np.nan)
    if fp.cfg.size == 0:
        return out
    loo, case_cfg, w = _leave_one_out(fp)
    h_loo = point(loo, k)
    ok = np.isfinite(h_loo)
    wsum = np.bincount(case_cfg, weights=np.where(ok, w, 0.0), minlength=fp.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(case_cfg, weights=np.where(ok, w * h_loo, 0.0), minlength=fp.n) / wsum
        dev = np.where(ok, h_loo - mean[case_cfg], 0.0)
        ss = np.bincount(case_cfg, weights=w * dev * dev, minlength=fp.n)
        var = (fp.N - 1.0) / fp.N * ss
    good = (fp.N > 1) & (wsum == fp.N)
    out[good] = np.sqrt(var[good])
    return out


# --------------------------------------------------------------------------------------
# Bayesian estimators: Dirichlet moments of H and adaptive posterior grids
# --------------------------------------------------------------------------------------


def _dirichlet_sums(a: np.ndarray, w: np.ndarray, big_a: np.ndarray, at_a2=None):
    """Per-component terms of the Dirichlet moments of H (rows = components).

    For p ~ Dir(a_1..a_n), A = sum a_i (Wolpert & Wolf 1995):
    ``E[H] = psi(A+1) - sum_i a_i psi(a_i+1)/A`` and
    ``E[H^2] = [ (sum u)^2 - sum u^2 - psi1(A+2)(A^2 - sum a^2)
               + sum a(a+1){(psi(a+2)-psi(A+2))^2 + psi1(a+2) - psi1(A+2)} ] / (A(A+1))``
    with ``u_i = a_i (psi(a_i+1) - psi(A+2))``.  Returns the w-weighted per-row terms
    ``(a psi(a+1), u, u^2, a^2, diag)`` that are summed over components.  ``at_a2``:
    optional precomputed ``(psi(A+2), psi1(A+2))`` broadcastable to ``a`` (they depend on
    the configuration only, not on the component); ``psi(a+2) = psi(a+1) + 1/(a+1)``.
    """
    pa2, t1a2 = _at_a2(big_a) if at_a2 is None else at_a2
    d1 = digamma(a + 1.0)
    u = a * (d1 - pa2)
    dd = d1 + 1.0 / (a + 1.0) - pa2
    diag = a * (a + 1.0) * (dd * dd + _trigamma(a + 2.0) - t1a2)
    return w * a * d1, w * u, w * u * u, w * a * a, w * diag


def _dirichlet_power_sums(a: np.ndarray, w) -> list[np.ndarray]:
    """The A-independent per-component terms of :func:`_dirichlet_sums`.

    With ``d1 = psi(a+1)``, ``e = psi(a+2) = d1 + 1/(a+1)``, ``b = a(a+1)``: the w-weighted
    ``a, a d1, a^2 d1^2, a^2 d1, a^2, b e^2, b e, b, b psi1(a+2)``.  Summed over components
    and combined with ``psi(A+2)``, ``psi1(A+2)`` by :func:`_dirichlet_sums_from_power`
    they give the same five sums (the squares in ``u^2`` and ``diag`` expanded), so a
    family of Dirichlets that differ only in A costs one pass over the components.
    """
    d1 = digamma(a + 1.0)
    e = d1 + 1.0 / (a + 1.0)
    b = a * (a + 1.0)
    wa = w * a
    wa2 = wa * a
    wb = w * b
    return [wa, wa * d1, wa2 * d1 * d1, wa2 * d1, wa2, wb * e * e, wb * e, wb, wb * _trigamma(a + 2.0)]


def _dirichlet_sums_from_power(p: list[np.ndarray], pa2: np.ndarray, t1a2: np.ndarray):
    """The five sums of :func:`_dirichlet_sums` from :func:`_dirichlet_power_sums`:
    ``sum u = sum a d1 - psi(A+2) sum a``, ``sum u^2 = sum a^2 d1^2 - 2 psi(A+2) sum a^2 d1
    + psi(A+2)^2 sum a^2``, ``sum diag = sum b (e - psi(A+2))^2 + sum b psi1(a+2)
    - psi1(A+2) sum b``."""
    sa, sad1, sa2d12, sa2d1, sa2, sbe2, sbe, sb, sbt = p
    s_u = sad1 - pa2 * sa
    s_uu = sa2d12 - 2.0 * pa2 * sa2d1 + pa2 * pa2 * sa2
    s_diag = sbe2 - 2.0 * pa2 * sbe + pa2 * pa2 * sb + sbt - t1a2 * sb
    return [sad1 + 0.0 * pa2, s_u, s_uu, sa2 + 0.0 * pa2, s_diag]


def _at_a2(big_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(psi(A+2), psi1(A+2))``, the component-independent part of :func:`_dirichlet_sums`."""
    return digamma(big_a + 2.0), _trigamma(big_a + 2.0)


def _moments_from_sums(big_a, s_ad1, s_u, s_uu, s_a2, s_diag):
    eh = digamma(big_a + 1.0) - s_ad1 / big_a
    eh2 = (s_u * s_u - s_uu - _trigamma(big_a + 2.0) * (big_a * big_a - s_a2) + s_diag) / (
        big_a * (big_a + 1.0)
    )
    return eh, eh2


def _segment_sum(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum rows of ``x`` over contiguous non-empty segments beginning at ``starts``."""
    return np.add.reduceat(x, starts, axis=0)


def _simpson_weights(x: np.ndarray) -> np.ndarray:
    """Composite Simpson weights along the last axis of per-row uniform grids (odd length)."""
    g = x.shape[-1]
    if g % 2 == 0:
        raise ValueError("Simpson's rule needs an odd number of grid points")
    c = np.ones(g)
    c[1:-1:2] = 4.0
    c[2:-1:2] = 2.0
    step = (x[..., -1:] - x[..., :1]) / (g - 1)
    return step / 3.0 * c


def _refine(grid: np.ndarray, logp: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_grid: int,
            drop: float = 30.0) -> np.ndarray:
    """A new uniform grid per row covering where ``logp`` is within ``drop`` of its max.

    The bracket extends one old grid step beyond the last point above the threshold (or to
    the domain limits ``lo``/``hi``), so a unimodal posterior is never cut.
    """
    g = grid.shape[-1]
    mx = np.max(logp, axis=-1, keepdims=True)
    above = logp >= mx - drop
    idx = np.arange(g)
    first = np.min(np.where(above, idx, g), axis=-1)
    last = np.max(np.where(above, idx, -1), axis=-1)
    rows = np.arange(grid.shape[0])
    left = np.where(first > 0, grid[rows, np.maximum(first - 1, 0)], lo)
    right = np.where(last < g - 1, grid[rows, np.minimum(last + 1, g - 1)], hi)
    t = np.linspace(0.0, 1.0, n_grid)[None, :]
    return left[:, None] + (right - left)[:, None] * t


def _chunks(fp_cfg_sorted: np.ndarray, n_cfg: int, n_grid: int):
    """Split configs (with entries sorted by config) into chunks of bounded size."""
    counts = np.bincount(fp_cfg_sorted, minlength=n_cfg)
    ends = np.cumsum(counts)
    budget = max(_MAX_CELLS // max(n_grid, 1), 1)
    c0 = 0
    while c0 < n_cfg:
        base = ends[c0 - 1] if c0 > 0 else 0
        c1 = int(np.searchsorted(ends, base + budget, side="right"))
        c1 = max(c1, c0 + 1)
        c1 = min(c1, n_cfg)
        yield c0, c1, int(base), int(ends[c1 - 1])
        c0 = c1


def _active(fp: _FP):
    """Configs with N > 0, their entries sorted by config, and segment starts."""
    act = np.nonzero(fp.N > 0)[0]
    remap = np.full(fp.n, -1)
    remap[act] = np.arange(act.size)
    keep = remap[fp.cfg] >= 0
    keep &= fp.f > 0
    cfg = remap[fp.cfg[keep]]
    order = np.argsort(cfg, kind="stable")
    return act, cfg[order], fp.j[keep][order], fp.f[keep][order]


# ---- NSB -----------------------------------------------------------------------------

_STIRLING_FROM = 10.0


def _stirling_tail(y: np.ndarray) -> np.ndarray:
    """``ln Gamma(y) - [(y - 1/2) ln y - y + ln(2 pi)/2]`` for y >= 10: the Stirling series
    1/(12y) - 1/(360y^3) + 1/(1260y^5) - 1/(1680y^7) (A&S 6.1.40; next term < 1e-12)."""
    r = 1.0 / y
    r2 = r * r
    return r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)))


def _log_rising(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """ln of the rising factorial, ``ln Gamma(x + n) - ln Gamma(x)`` for x > 0, n >= 0,
    without the cancellation of two huge ``gammaln`` values.

    For x < 10 the ``gammaln`` difference is exact to rounding (both terms are moderate).
    For x >= 10, Stirling's series for both terms with ``ln(x+n) = ln x + log1p(n/x)``:
    ``n ln x + (x + n - 1/2) log1p(n/x) - n + S(x + n) - S(x)`` (S = :func:`_stirling_tail`),
    whose rounding error is ~ n eps instead of ~ x ln x eps: at x = K beta ~ 1e16 the naive
    difference loses tens of nats (issue 14), this form keeps ~1e-12 relative accuracy.
    """
    x, n = np.broadcast_arrays(np.asarray(x, float), np.asarray(n, float))
    out = np.empty(x.shape)
    small = x < _STIRLING_FROM
    if np.any(small):
        out[small] = gammaln(x[small] + n[small]) - gammaln(x[small])
    big = ~small
    if np.any(big):
        xb, nb = x[big], n[big]
        out[big] = (nb * np.log(xb) + (xb + nb - 0.5) * np.log1p(nb / xb) - nb
                    + _stirling_tail(xb + nb) - _stirling_tail(xb))
    return out


_NSB_LOGB_RANGE = (-30.0, 30.0)  # ln beta; beyond it the prior mass in xi is < 1e-11 ln K
_NSB_DROP = 16.0  # refine to where the log density is within this of its max


def _xi_of_beta(beta: np.ndarray, k: float) -> np.ndarray:
    """Prior mean entropy of Dir(beta, ..., beta) over K states, psi(K beta + 1) - psi(beta + 1)."""
    return digamma(k * beta + 1.0) - digamma(beta + 1.0)


def _dxi_dlogbeta(beta: np.ndarray, k: float) -> np.ndarray:
    """``d xi / d ln beta = beta [K psi_1(K beta + 1) - psi_1(beta + 1)]`` (> 0).

    For beta > 1e3 the two trigammas cancel to ~1/beta^2 of their size; there the
    asymptotic series psi_1(x + 1) = 1/x - 1/(2x^2) + 1/(6x^3) - 1/(30x^5) (A&S 6.4.12)
    gives ``(1 - 1/K)/(2 beta) - (1 - 1/K^2)/(6 beta^2) + (1 - 1/K^4)/(30 beta^4)``.
    """
    beta = np.asarray(beta, float)
    big = beta > 1e3
    b = np.where(big, 1.0, beta)
    direct = b * (k * _trigamma(k * b + 1.0) - _trigamma(b + 1.0))
    r = 1.0 / np.where(big, beta, 1.0)
    series = (1.0 - 1.0 / k) / 2.0 * r - (1.0 - 1.0 / k**2) / 6.0 * r * r \
        + (1.0 - 1.0 / k**4) / 30.0 * r**4
    return np.where(big, series, direct)


def _k_rows(k: float | np.ndarray, act: np.ndarray) -> np.ndarray:
    """K per active configuration: a scalar K broadcast, or a per-configuration array
    (length ``n_config``) restricted to the active configurations."""
    k_arr = np.asarray(k, dtype=float)
    return np.full(act.size, float(k_arr)) if k_arr.ndim == 0 else k_arr[act]


def _nsb_core(fp: _FP, k: float | np.ndarray, n_grid: int = 65, n_refine: int = 2):
    """Posterior log-evidence, mean and second moment of H for NSB (per active config).

    The hyperprior is flat in ``xi(beta)`` on ``[0, ln K]``; the integral over xi is done
    in ``u = ln beta`` with the Jacobian ``d xi/du`` (:func:`_dxi_dlogbeta`), on a per-row
    uniform u-grid (coarse on ``_NSB_LOGB_RANGE``, then refined twice to where the log
    posterior density is within ``_NSB_DROP`` = 16 of its maximum; Simpson's rule).  In u the posterior is smooth
    even where it piles up against ``xi -> ln K`` (all tokens distinct, or a near-uniform
    sample), which a uniform xi-grid cannot resolve.  The log-likelihood
    ``sum_k ln[beta]_{n_k} - ln[K beta]_N`` uses :func:`_log_rising`, exact to ~1e-12 at
    any beta.  Returns ``act, log_evidence, mean, second_moment`` where the log-evidence
    is ``ln int p(n | beta) dxi / ln K`` up to the multinomial coefficient.
    """
    act, cfg, j, f = _active(fp)
    n_act = act.size
    le = np.full(n_act, np.nan)
    mh = np.full(n_act, np.nan)
    mh2 = np.full(n_act, np.nan)
    if n_act == 0:
        return act, le, mh, mh2
    k_act = _k_rows(k, act)
    one = k_act <= 1.0  # one state: H = 0 and every sample has probability 1
    le[one] = mh[one] = mh2[one] = 0.0
    k_act = np.where(one, 2.0, k_act)
    big_n = fp.N[act]
    m = fp.m[act]
    u_lo, u_hi = _NSB_LOGB_RANGE
    for c0, c1, e0, e1 in _chunks(cfg, n_act, n_grid):
        cc = cfg[e0:e1] - c0
        jj = j[e0:e1, None]
        ff = f[e0:e1, None]
        starts = np.concatenate([[0], np.nonzero(np.diff(cc))[0] + 1])
        nn = big_n[c0:c1, None]
        mm = m[c0:c1, None]
        k = k_act[c0:c1, None]
        nc = c1 - c0

        def log_density(u, nn=nn, jj=jj, ff=ff, cc=cc, starts=starts, k=k):
            beta = np.exp(u)
            s = _segment_sum(ff * _log_rising(beta[cc], jj), starts)
            return s - _log_rising(k * beta, nn) + np.log(_dxi_dlogbeta(beta, k))

        u = np.broadcast_to(np.linspace(u_lo, u_hi, n_grid), (nc, n_grid)).copy()
        for it in range(n_refine + 1):
            ld = log_density(u)
            if it < n_refine:
                u = _refine(u, ld, np.full(nc, u_lo), np.full(nc, u_hi), n_grid, drop=_NSB_DROP)
        beta = np.exp(u)
        big_a = nn + k * beta
        pa2, t1a2 = _at_a2(big_a)
        sums = [_segment_sum(t, starts)
                for t in _dirichlet_sums(jj + beta[cc], ff, big_a[cc], (pa2[cc], t1a2[cc]))]
        zero = _dirichlet_sums(beta, k - mm, big_a, (pa2, t1a2))  # the K - m unseen states
        sums = [s + z for s, z in zip(sums, zero, strict=True)]
        eh, eh2 = _moments_from_sums(big_a, *sums)
        mx = ld.max(axis=1, keepdims=True)
        w = np.exp(ld - mx) * _simpson_weights(u)
        z = w.sum(axis=1)
        keep = ~one[c0:c1]
        le[c0:c1][keep] = (np.log(z) + mx[:, 0] - np.log(np.log(k[:, 0])))[keep]
        mh[c0:c1][keep] = ((w * eh).sum(axis=1) / z)[keep]
        mh2[c0:c1][keep] = ((w * eh2).sum(axis=1) / z)[keep]
    return act, le, mh, mh2


# ---- PYM -----------------------------------------------------------------------------


def _inv_digamma(y: np.ndarray) -> np.ndarray:
    """x with psi(x) = y (Newton's method from Minka's starting point; 5 steps: < 1e-13)."""
    x = np.where(y >= -2.22, np.exp(y) + 0.5, -1.0 / (y - digamma(1.0)))
    for _ in range(5):
        x = x - (digamma(x) - y) / _trigamma(x)
    return x


def _py_tail_moments(d: np.ndarray, theta: np.ndarray):
    """Prior mean and second moment of the entropy of PY(d, theta).

    With size-biased sticks V_1 ~ Beta(1-d, theta+d), V_2 ~ Beta(1-d, theta+2d):
    ``E[H] = psi(theta+1) - psi(1-d)`` and
    ``E[H^2] = E[V1 ln^2 V1] + E[(1-V1) ln V1 ln(1-V1)] + E[(1-V1) ln V1] E[ln V2]``.
    """
    a = 1.0 - d
    b = theta + d
    s = a + b
    ps1 = digamma(s + 1.0)
    t1s1 = _trigamma(s + 1.0)
    e1 = digamma(s) - digamma(a)
    x = digamma(a + 1.0) - ps1
    t1 = a / s * (x * x + _trigamma(a + 1.0) - t1s1)
    t2 = b / s * ((digamma(a) - ps1) * (digamma(b + 1.0) - ps1) - t1s1)
    t3 = b / s * (digamma(a) - ps1)
    eln_v2 = digamma(1.0 - d) - digamma(1.0 + theta + d)
    return e1, t1 + t2 + t3 * eln_v2


_LAG_T, _LAG_W = np.polynomial.laguerre.laggauss(40)


def _upper_gamma(a: np.ndarray, y: np.ndarray, gamma_a: np.ndarray) -> np.ndarray:
    """Gamma(a, y) for 0 < a <= 1: ``Gamma(a) - y^a sum_k (-y)^k / (k! (a+k))`` for y <= 4
    (A&S 6.5.29; 40 terms, exact to rounding), ``Gamma(a) Q(a, y)`` beyond."""
    out = np.empty_like(y)
    # 14 terms suffice for y <= 1/4 (the next is < 1e-19), 40 up to y = 4
    for small, n_terms in (((y <= 0.25), 14), ((y > 0.25) & (y <= 4.0), 40)):
        if not np.any(small):
            continue
        ys, as_ = y[small], a[small]
        term = np.ones_like(ys)
        acc = np.zeros_like(ys)
        for k in range(n_terms):
            acc += term / (as_ + k)
            term = term * (-ys) / (k + 1.0)
        out[small] = gamma_a[small] - ys**as_ * acc
    big = y > 4.0
    if np.any(big):
        out[big] = gamma_a[big] * gammaincc(a[big], y[big])
    return out


def _truncated_tail_entropy(d: np.ndarray, theta: np.ndarray, n_free: np.ndarray) -> np.ndarray:
    """Mean entropy of a PY(d, theta) tail restricted to its ``n_free`` largest atoms.

    Mean-field truncation: PY(d, theta) has on average ``nu(x) dx`` atoms of size in dx,
    ``nu(x) = x^{-1} Beta(x; 1-d, theta+d)`` ~ ``theta/Gamma(1-d) y^{-1-d} e^{-y} dy`` with
    ``y = theta x`` (large theta).  Keep the atoms above the size ``y_c`` at which the
    expected count ``theta Gamma(-d, y_c)/Gamma(1-d)`` equals ``n_free`` and renormalise
    them: their mass is ``M = Q(1-d, y_c)`` and their entropy
    ``ln theta + ln M - L/M``, ``L = int_{y_c}^inf y^{-d} ln y e^{-y} dy / Gamma(1-d)``.
    The untruncated mean-field value ``ln theta - psi(1-d)`` is replaced by the exact
    ``psi(theta+1) - psi(1-d)``, i.e. the result is ``psi(theta+1) + ln M - L/M``, capped
    at ``ln n_free``.  With ``y_c -> 0`` (truncation irrelevant) it is the PY mean exactly.
    """
    d = np.clip(np.asarray(d, float), 1e-4, 1.0 - 1e-9)
    theta = np.asarray(theta, float)
    n_free = np.maximum(np.asarray(n_free, float), 1.0)
    g1 = gamma_fn(1.0 - d)

    def log_count_and_slope(u, dd, th, gg):
        y = np.exp(u)
        dens = np.exp(-dd * u - y)  # y^{-d} e^{-y}
        inc = np.maximum((dens - _upper_gamma(1.0 - dd, y, gg)) / dd, 1e-300)  # Gamma(-d, y)
        return np.log(th / gg * inc), -dens / inc

    # safeguarded Newton on ln count(e^u) = ln n_free (count decreases in u), iterating
    # only on the elements that have not converged yet
    target = np.log(n_free).reshape(-1)
    dflat, tflat, gflat = d.reshape(-1), theta.reshape(-1), g1.reshape(-1)
    u = np.clip(-np.log(n_free * d * g1 / theta) / d, -59.0, 5.0).reshape(-1)  # small-y_c limit
    lo = np.full(u.shape, -60.0)
    hi = np.full(u.shape, 6.0)
    # no root inside the bracket (e.g. d ~ 0 and a small theta: fewer than n_free atoms
    # even above e^-60): the bracket end is the answer, without 36 bisection steps
    f_lo = log_count_and_slope(lo, dflat, tflat, gflat)[0] - target
    u = np.where(f_lo <= 0, lo, u)
    act = np.nonzero(f_lo > 0)[0]
    for _ in range(60):
        if act.size == 0:
            break
        ua = u[act]
        f, slope = log_count_and_slope(ua, dflat[act], tflat[act], gflat[act])
        f = f - target[act]
        lo[act] = np.where(f > 0, ua, lo[act])
        hi[act] = np.where(f > 0, hi[act], ua)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = ua - f / slope
        # a Newton step onto a bracket end is kept (f = 0 there: converged)
        bad = ~np.isfinite(step) | (step < lo[act]) | (step > hi[act])
        un = np.where(bad, 0.5 * (lo[act] + hi[act]), step)
        u[act] = un
        done = (np.abs(un - ua) < 1e-9) | (hi[act] - lo[act] < 1e-9)
        act = act[~done]
    yc = np.exp(u).reshape(theta.shape)
    mass = gammaincc(1.0 - d, yc)
    big_l = np.empty_like(yc)
    # psi(1-d) - (1/Gamma(1-d)) int_0^{y_c} y^{-d} ln y e^{-y} dy, by the series
    # int_0^{y_c} y^{k-d} ln y dy = y_c^{k+1-d} [ln y_c/(k+1-d) - 1/(k+1-d)^2]:
    # 16 terms for y_c <= 1/4 (the next < 1e-20), 48 up to y_c = 8
    for small, n_terms in (((yc <= 0.25), 16), ((yc > 0.25) & (yc <= 8.0), 48)):
        if not np.any(small):
            continue
        ys, ds = yc[small], d[small]
        ly = np.log(ys)
        part = np.zeros_like(ys)
        term = np.ones_like(ys)  # (-y_c)^k / k!
        for kk in range(n_terms):
            sx = kk + 1.0 - ds
            part += term * (ly / sx - 1.0 / (sx * sx))
            term = term * (-ys) / (kk + 1.0)
        big_l[small] = digamma(1.0 - ds) - ys ** (1.0 - ds) * part / g1[small]
    small = yc <= 8.0
    if np.any(~small):
        # e^{-y_c}/Gamma(1-d) int_0^inf (y_c+t)^{-d} ln(y_c+t) e^{-t} dt, Gauss-Laguerre
        yb, db = yc[~small], d[~small]
        yt = yb[:, None] + _LAG_T
        big_l[~small] = np.exp(-yb) / g1[~small] * np.sum(
            _LAG_W * yt ** (-db[:, None]) * np.log(yt), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = digamma(theta + 1.0) + np.log(mass) - big_l / mass
    full = digamma(theta + 1.0) - digamma(1.0 - d)
    out = np.where(np.isfinite(out), out, full)
    return np.minimum(np.minimum(out, full), np.log(n_free))


def _pym_core(fp: _FP, k: float | np.ndarray | None, n_d: int = 33, n_h: int = 17, n_refine: int = 1):
    """Posterior log-evidence (of the partition), mean and second moment of H for PYM."""
    act, cfg, j, f = _active(fp)
    n_act = act.size
    le = np.full(n_act, np.nan)
    mh = np.full(n_act, np.nan)
    mh2 = np.full(n_act, np.nan)
    if n_act == 0:
        return act, le, mh, mh2
    k_all = None if k is None else np.maximum(_k_rows(k, act), 1.0 + 1e-9)
    h_min = 1e-6
    h_max_all = np.full(n_act, _PYM_HMAX_UNBOUNDED) if k_all is None else np.log(k_all)
    h_max_all = np.maximum(h_max_all, 2.0 * h_min)
    t_h = np.linspace(0.0, 1.0, n_h)
    big_n = fp.N[act]
    m = fp.m[act]
    for c0, c1, e0, e1 in _chunks(cfg, n_act, n_d * n_h):
        cc = cfg[e0:e1] - c0
        starts = np.concatenate([[0], np.nonzero(np.diff(cc))[0] + 1])
        nc = c1 - c0
        jj = j[e0:e1, None, None]
        ff = f[e0:e1, None, None]
        nn = big_n[c0:c1, None, None]
        mm = m[c0:c1, None, None]
        h_max = h_max_all[c0:c1, None, None]
        k = None if k_all is None else k_all[c0:c1, None, None]

        def at_d(dgrid, moments=True, nn=nn, mm=mm, jj=jj, ff=ff, cc=cc, starts=starts, nc=nc,
                 h_max=h_max, k=k):
            """Log-marginal over h, and E[H], E[H^2] given d, for (nc, n_d) values of d."""
            d = dgrid[:, :, None]
            seen = _segment_sum(ff * (gammaln(jj - d[cc]) - gammaln(1.0 - d[cc])), starts)

            def loglik(alpha):
                dd = np.broadcast_to(d, alpha.shape)
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = alpha / np.where(dd > 0, dd, 1.0)
                    pos = (mm - 1.0) * np.log(np.where(dd > 0, dd, 1.0)) + gammaln(r + mm) - gammaln(r + 1.0)
                    zero = (mm - 1.0) * np.log(np.where(alpha > 0, alpha, 1.0))
                    prod = np.where(dd > 1e-12, pos, zero)
                    prod = np.where(mm > 1, prod, 0.0)
                return prod - gammaln(alpha + nn) + gammaln(alpha + 1.0) + seen

            h = np.broadcast_to(h_min + (h_max - h_min) * t_h, (nc, dgrid.shape[1], n_h)).copy()
            for it in range(n_refine + 1):
                alpha = _inv_digamma(h + digamma(1.0 - d)) - 1.0
                ll = loglik(alpha)
                ll = np.where(np.isfinite(ll), ll, -np.inf)
                if it < n_refine:
                    flat = _refine(h.reshape(-1, n_h), ll.reshape(-1, n_h),
                                   np.full(h.shape[0] * h.shape[1], h_min),
                                   np.broadcast_to(h_max[..., 0], h.shape[:2]).reshape(-1), n_h)
                    h = flat.reshape(h.shape)
            mx = np.max(ll, axis=-1, keepdims=True)
            mx = np.where(np.isfinite(mx), mx, 0.0)
            w = np.exp(ll - mx) * _simpson_weights(h)
            z = w.sum(axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                lz = np.log(z) + mx[..., 0] - np.log(h_max[..., 0] - h_min)
            if not moments:
                return lz, None, None
            # posterior moments given (d, alpha)
            big_a = nn + alpha
            a_star = alpha + mm * d
            pa2, t1a2 = _at_a2(big_a)
            # the seen states' parameters n_k - d do not depend on alpha: their sums are
            # taken once per (config, d) and expanded in psi(A+2), psi1(A+2)
            power = [_segment_sum(t, starts) for t in _dirichlet_power_sums(jj - d[cc], ff)]
            sums = _dirichlet_sums_from_power(power, pa2, t1a2)
            s_ad1, s_u, s_uu, s_a2, s_diag = (
                s + z for s, z in zip(sums, _dirichlet_sums(a_star, 1.0, big_a, (pa2, t1a2)), strict=True)
            )
            eh_d, eh2_d = _moments_from_sums(big_a, s_ad1, s_u, s_uu, s_a2, s_diag)
            e_t, e_t2 = _py_tail_moments(d, a_star)
            if k is not None:
                # the unseen mass lives on at most K - m states (see _truncated_tail_entropy)
                # only where the posterior weight is not negligible (it is costly)
                lzf = np.where(np.isfinite(lz), lz, -np.inf)
                row_ok = lzf >= np.max(lzf, axis=1, keepdims=True) - 25.0
                sel = np.nonzero(row_ok[..., None] & (ll >= mx - 25.0))
                e_tc = e_t.copy()
                e_tc[sel] = _truncated_tail_entropy(np.broadcast_to(d, a_star.shape)[sel],
                                                    a_star[sel],
                                                    np.broadcast_to(k - mm, a_star.shape)[sel])
                # closure: the truncated tail's entropy lies between the mean-field value
                # (a tail as steep as PY allows) and its maximum ln(K - m) (a flat tail);
                # taken as uniform over that bracket: its mean (the midpoint) and its
                # variance span^2/12 are added to the PY tail's
                span = np.maximum(np.log(np.maximum(k - mm, 1.0)) - e_tc, 0.0)
                e_tm = e_tc + 0.5 * span
                e_t2 = e_t2 - e_t * e_t + e_tm * e_tm + _TAIL_BRACKET_VAR * span * span
                e_t = e_tm
            # E[p* H_D]: tilt the Dirichlet by p* (a* -> a* + 1, A -> A + 1)
            s_seen = s_ad1 - a_star * digamma(a_star + 1.0)
            e_ph = a_star / big_a * (
                digamma(big_a + 2.0) - (s_seen + (a_star + 1.0) * digamma(a_star + 2.0)) / (big_a + 1.0)
            )
            e_p2 = a_star * (a_star + 1.0) / (big_a * (big_a + 1.0))
            eh = eh_d + a_star / big_a * e_t  # E[H_D] + E[p*] E[H_tail]
            eh2 = eh2_d + 2.0 * e_ph * e_t + e_p2 * e_t2
            with np.errstate(divide="ignore", invalid="ignore"):
                return lz, (w * eh).sum(-1) / z, (w * eh2).sum(-1) / z

        dgrid = np.broadcast_to(np.linspace(0.0, _PYM_DMAX, n_d), (nc, n_d)).copy()
        lz, _, _ = at_d(dgrid, moments=False)
        dgrid = _refine(dgrid, lz, np.zeros(nc), np.full(nc, _PYM_DMAX), n_d, drop=25.0)
        lz, e1_, e2_ = at_d(dgrid)
        good = np.isfinite(lz) & np.isfinite(e1_) & np.isfinite(e2_)
        lz = np.where(good, lz, -np.inf)
        mx = lz.max(axis=1, keepdims=True)
        w = np.exp(lz - mx) * _simpson_weights(dgrid)
        z = w.sum(axis=1)
        le[c0:c1] = np.log(z) + mx[:, 0] - np.log(_PYM_DMAX)
        mh[c0:c1] = (w * np.where(good, e1_, 0.0)).sum(axis=1) / z
        mh2[c0:c1] = (w * np.where(good, e2_, 0.0)).sum(axis=1) / z
    return act, le, mh, mh2


def _finish(fp: _FP, act, mean, second) -> tuple[np.ndarray, np.ndarray]:
    h = np.full(fp.n, np.nan)
    sd = np.full(fp.n, np.nan)
    h[act] = mean
    sd[act] = np.sqrt(np.maximum(second - mean * mean, 0.0))
    return h, sd


def _log_falling(k: float | np.ndarray, m: np.ndarray) -> np.ndarray:
    """ln K!/(K-m)!: labelled sequences per unlabelled partition with m blocks."""
    return gammaln(k + 1.0) - gammaln(k - m + 1.0)


def _bma_posterior(fp: _FP, k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evidence-weighted average of NSB and the K-truncated PYM: posterior mean and sd.

    Each family is weighted by its marginal likelihood of the observed partition (for the
    Dirichlet family the partition probability is ``K!/(K-m)!`` times the sequence
    probability; both hyperpriors are normalised).  ``k``: a scalar K, or one K per
    configuration.
    """
    act, le_n, m_n, s_n = _nsb_core(fp, k)
    _, le_p, m_p, s_p = _pym_core(fp, k)
    le_n = le_n + _log_falling(_k_rows(k, act), fp.m[act])  # sequence -> partition probability
    mx = np.maximum(le_n, le_p)
    wn = np.exp(le_n - mx)
    wp = np.exp(le_p - mx)
    tot = wn + wp
    wn, wp = wn / tot, wp / tot
    return _finish(fp, act, wn * m_n + wp * m_p, wn * s_n + wp * s_p)


#: bma error constant, chosen on the benchmark grid only (docs/entropy.md)
_BMA_SD_SCALE = 0.9


def _bma(fp: _FP, k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``bma``: the posterior mean, and
    ``stderr = sqrt((0.9 sd_post)^2 + (H - H_cwj)^2 + (w max(H_cwj - H, 0))^2)``.

    ``H_cwj`` is the K-free Chao-Wang-Jost value of the same configuration: the gap is
    the disagreement between the two prior families (which share their blind spot: a
    tail neither a symmetric Dirichlet nor a Pitman-Yor law describes, e.g. a two-level
    step) and a coverage-based estimate that needs no K, so it also carries the
    sensitivity to an overstated K.  CWJ is itself biased low where the rare states are
    unequal (by about ``w T``, :func:`_tail_heterogeneity`), so an estimate *below* it is
    more likely too low: that shortfall counts again, weighted by w.  The posterior sd is
    scaled by 0.9 (on the benchmark grid it covered 98-100% alone in the Zipf cells).
    Measured (docs/entropy.md): the posterior sd alone covered 32% / 0% on a step at
    N = 3000 / 10000 and 50 / 0 / 0% with K overstated 2x at N = 1000 / 3000 / 10000; with
    this error >= 91% in all 55 benchmark cells.  Where the two agree only the posterior
    sd remains.
    """
    h, sd = _bma_posterior(fp, k)
    h_cwj = _h_chao_wang_jost(fp)
    gap = h - h_cwj
    shortfall = _tail_heterogeneity(fp) * np.maximum(h_cwj - h, 0.0)
    sd = _BMA_SD_SCALE * sd
    return h, np.sqrt(sd * sd + gap * gap + shortfall * shortfall)


# --------------------------------------------------------------------------------------
# public array layer
# --------------------------------------------------------------------------------------


def default_estimator(n_states: object) -> str:
    """The estimator used when none is named: ``bma`` with K, ``chao_wang_jost`` without.

    It depends only on whether K is known, never on the number of configurations or on
    the data, so the same call on more configurations gives the same numbers per
    configuration (issue 14).  Without K, Chao-Wang-Jost measured best of the K-free
    estimators (docs/entropy.md, "Without K").
    """
    return DEFAULT_ESTIMATOR if n_states is not None else DEFAULT_ESTIMATOR_WITHOUT_K


def _check_estimator(estimator: str) -> None:
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


def support_k_from_fingerprint(
    fp_indptr: np.ndarray,
    multiplicity: np.ndarray,
    n_with_multiplicity: np.ndarray,
    n_states: int | None = None,
) -> np.ndarray:
    """The alphabet size the data alone suggest, per configuration (bias-corrected Chao1).

    ``K_hat = m + (N - 1)/N * f_1 (f_1 - 1) / (2 (f_2 + 1))`` (Chao 1987, Biometrics 43:783;
    bias-corrected form, Chao 2005), rounded up, at least m and at most ``n_states`` when
    given.  A lower bound in expectation on the number of states with non-zero probability:
    used to show how much an estimate that needs K depends on it (:func:`entropy`,
    coordinate ``entropy_at_support_k``), never in place of a K the user did not give.
    """
    fp = _check_fingerprint(fp_indptr, multiplicity, n_with_multiplicity)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(fp.N > 0, (fp.N - 1.0) / fp.N, 0.0) * fp.f1 * (fp.f1 - 1.0) / (2.0 * (fp.f2 + 1.0))
    k_hat = np.maximum(np.ceil(fp.m + np.maximum(extra, 0.0) - 1e-9), np.maximum(fp.m, 1.0))
    if n_states is not None:
        k_hat = np.minimum(k_hat, float(n_states))
    return k_hat


def fingerprint_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR fingerprint of a dense ``(n_config, K)`` count array (zeros are skipped)."""
    c = np.asarray(counts)
    n_config = c.shape[0]
    rows, cols = np.nonzero(c > 0)
    vals = c[rows, cols].astype(np.int64)
    if vals.size == 0:
        return np.zeros(n_config + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = rows.astype(np.int64) * (int(vals.max()) + 1) + vals
    uniq, nwith = np.unique(key, return_counts=True)
    fp_rows = uniq // (int(vals.max()) + 1)
    mult = uniq % (int(vals.max()) + 1)
    indptr = np.zeros(n_config + 1, np.int64)
    np.cumsum(np.bincount(fp_rows, minlength=n_config), out=indptr[1:])
    return indptr, mult, nwith.astype(np.int64)


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


# --------------------------------------------------------------------------------------
# xarray wrapper
# --------------------------------------------------------------------------------------


def entropy(
    ds: xr.Dataset | xr.DataArray,
    *,
    system: Hashable | Iterable[Hashable] = ("sample",),
    estimator: str | None = None,
    n_states: int | None = None,
    k_sensitivity: bool = True,
) -> xr.DataArray:
    """Entropy (nats) of the states observed in each configuration, with its stderr.

    A configuration is one cell of the grid of the dims *not* in ``system``; its tokens
    are those along the ``system`` dims (``-1`` = no token, never counted).

    Parameters
    ----------
    ds
        Samples Dataset with an integer ``token`` variable, or the token DataArray.
    system
        Dim(s) counted over, e.g. ``("sample",)`` or ``("sample", "position")``.
    estimator
        One of ``ESTIMATORS``; None (default): ``"bma"`` when K is known, else
        ``"chao_wang_jost"`` (:func:`default_estimator`; see ``docs/entropy.md``).  The
        choice never depends on the number of configurations.
    n_states
        Alphabet size q; else ``ds.attrs["n_states"]``; else the counts' ``n_states``.
    k_sensitivity
        For an estimator that uses K: evaluate it again with K replaced by the alphabet size
        the data suggest (:func:`support_k_from_fingerprint`), as the coordinate
        ``entropy_at_support_k`` (and ``support_k``), and warn where that value lies outside
        the 95% interval.  Doubles the cost; ``False`` skips it.

    Returns
    -------
    xr.DataArray
        One value per configuration, ``stderr`` coordinate, attrs ``estimator``,
        ``estimator_choice`` (``"given"``, ``"default with K"`` or ``"default without K"``),
        ``units="nats"``, ``n_states``, ``N`` (mean tokens per configuration),
        ``error_method``, ``phasekit_version``.  NaN where a configuration has no tokens.
        When the estimate uses K, the coordinate ``entropy_k_free`` holds the K-free
        Chao-Wang-Jost estimate of the same configuration (an overstated K pulls
        ``bma``/``nsb`` up, never ``entropy_k_free``; for ``bma`` the difference is part of
        ``stderr``), and, with ``k_sensitivity``, ``entropy_at_support_k`` the same
        estimator at the data's own K (attrs ``k_sensitivity``, ``k_moved_beyond_interval``:
        the number of configurations where the estimate at ``support_k`` lies outside the
        95% interval, ±1.96 stderr; a warning says so).
    """
    from .count import count_states
    from .lazy import is_lazy, map_configurations

    if estimator is not None:
        _check_estimator(estimator)
    system = as_dims(system)
    if is_lazy(ds):  # dask-backed tokens: lazy, one task per block (phasekit.lazy)
        lazy = cast(xr.DataArray, map_configurations(
            _entropy_block, ds, system, kwargs={"estimator": estimator, "n_states": n_states,
                                                "k_sensitivity": k_sensitivity}))
        if "k_moved_beyond_interval" in lazy.attrs:  # the template block's count, not the data's
            del lazy.attrs["k_moved_beyond_interval"]
            lazy.attrs["k_sensitivity"] += ("; dask input: no count and no warning (compare "
                                            "entropy_at_support_k with +-1.96 stderr after compute)")
        return lazy
    n_states = resolve_n_states(ds, n_states)
    c = count_states(ds, system=system, n_states=n_states)
    if n_states is None:
        n_states = c.n_states
    choice = "given" if estimator is not None else (
        "default with K" if n_states is not None else "default without K")
    estimator = default_estimator(n_states) if estimator is None else estimator
    fp = c.fingerprint()
    h, se = entropy_from_fingerprint(*fp, estimator=estimator, n_states=n_states)
    totals = np.asarray(c.totals(), dtype=float)
    value = c.wrap(np.asarray(h).reshape(c.shape), name="entropy")
    attrs: dict[str, Any] = {
        "long_name": "Shannon entropy",
        "estimator": estimator,
        "estimator_choice": choice,
        "units": "nats",
        "n_states": int(n_states) if n_states is not None else None,
        "N": float(totals.mean()) if totals.size else float("nan"),
        "error_method": _ERROR_METHOD[estimator],
        "error_description": _ERROR_DESCRIPTION[_ERROR_METHOD[estimator]],
        "system": tuple(str(s) for s in system),
    }
    out = estimate(value, np.asarray(se).reshape(c.shape), name="entropy", **attrs)
    if n_states is not None and estimator in ("nsb", "pym", "bma"):
        out = _with_k_sensitivity(out, fp, estimator, int(n_states), np.asarray(h), np.asarray(se),
                                  c.shape, k_sensitivity)
    return out


_K_WARNING = "the result depends on K"


def _entropy_block(ds: xr.Dataset | xr.DataArray, system: Any, **kwargs: Any) -> xr.DataArray:
    """:func:`entropy` on one block of dask-backed tokens (phasekit.lazy), without the
    K-sensitivity warning: a block (or the structure template) is not the user's data."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*{_K_WARNING}")
        return entropy(ds, system=system, **kwargs)


def _with_k_sensitivity(out: xr.DataArray, fp: tuple[np.ndarray, np.ndarray, np.ndarray], estimator: str, n_states: int, h: np.ndarray,
                        se: np.ndarray, shape: tuple, at_support: bool) -> xr.DataArray:
    """Attach the K-free estimate and (``at_support``) the estimate at the data's own K;
    warn where that lies outside the 95% interval (issue 14: an overstated K)."""
    h_free = _h_chao_wang_jost(_check_fingerprint(*fp))
    out = out.assign_coords(entropy_k_free=(out.dims, np.asarray(h_free, float).reshape(shape)))
    note = ("coordinate entropy_k_free = chao_wang_jost (no K): the difference from the "
            "estimate is its sensitivity to n_states")
    if not at_support:
        out.attrs["k_sensitivity"] = note
        return out
    k_hat = support_k_from_fingerprint(*fp, n_states=n_states)
    h_s, _ = entropy_from_fingerprint(*fp, estimator=estimator, n_states=k_hat)
    out = out.assign_coords(entropy_at_support_k=(out.dims, np.asarray(h_s, float).reshape(shape)),
                            support_k=(out.dims, k_hat.reshape(shape)))
    with np.errstate(invalid="ignore"):
        moved = np.abs(h - h_s) > 1.96 * se  # outside the 95% interval
    n_moved = int(np.sum(moved))
    out.attrs["k_sensitivity"] = note + (
        "; coordinate entropy_at_support_k = the same estimator with K = support_k, the "
        "bias-corrected Chao1 number of states (at most n_states)")
    out.attrs["k_moved_beyond_interval"] = n_moved
    if n_moved:
        i = int(np.nanargmax(np.where(moved, np.abs(h - h_s), -np.inf)))
        warnings.warn(
            f"entropy: with n_states={n_states} the {estimator} estimate at the number of states "
            f"the data suggest lies outside its 95% interval in {n_moved} of "
            f"{int(np.isfinite(h).sum())} configurations (largest: {h[i]:.3f} at K={n_states} vs "
            f"{h_s[i]:.3f} at K={int(k_hat[i])}, stderr {se[i]:.3f}); {_K_WARNING}: "
            "check n_states (coordinates entropy_at_support_k, support_k, entropy_k_free)",
            UserWarning, stacklevel=3)
    return out
