"""Error bars of the two defaults: Chao-Wang-Jost's (jackknife sd, its jackknife bias when
that says the estimate is low, and the weighted unseen tail; its interval's lower end from
the sampling spread under the source the data suggest) and bma's (posterior sd and the gap
to the jackknife bias-corrected K-free estimate)."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincinv, ndtri

from .cwj import _cwj_leave_one_out, _cwj_parts, _cwj_tsum, _h_chao_wang_jost
from .fingerprint import _FP
from .source import _cwj_source_sd

#: CWJ error constants, chosen on the benchmark grid only (benchmarks/bench_entropy.py,
#: docs/entropy.md "How the constants were chosen"); the held-out generators are the check
_CWJ_JACK_SCALE = 0.9  # the delete-one-token jackknife over-states the spread 1.0-1.7x
_CWJ_TAIL_SCALE = 1.4  # the measured bias reached -1.4 T (a step at N = 300)
_CWJ_F2_TRUST = 20.0  # doubletons at which the heterogeneity r is trusted half
_CWJ_JK_BIAS_SCALE = 1.0  # the jackknife bias, where negative, counted once


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
    """``sqrt((0.9 jackknife)^2 + max(-b_jk, 0)^2 + (1.4 w T)^2)``: b_jk the jackknife bias,
    T the unseen-tail term, w its heterogeneity.

    The jackknife sd sees only the sampling spread (and over-states it 1.0-1.7x on the
    benchmark grid: Efron-Stein); ``b_jk = (N-1)(mean H_(-i) - H)`` is the jackknife's own
    bias estimate (:func:`_cwj_jackknife_bias`): where it says CWJ is too low (a tail still
    being discovered, H rising with N) it is counted in full -- it sees 0.3-1.0 of the
    measured bias there and ~0 on uniforms, where CWJ is unbiased; the unseen-tail term T is
    an extrapolation the data cannot check, biased between -1.4 T and +0.1 T on the
    benchmark grid, growing with how unequal the rare states are (:func:`_tail_heterogeneity`,
    w = 0 for a homogeneous tail).  Constants chosen on the benchmark grid (docs/entropy.md);
    the held-out generators are the check.  Where nothing is unseen it is 0.9 x the jackknife.
    """
    _, tail = _cwj_parts(fp.N, _cwj_tsum(fp), fp.f1, fp.f2)
    jack_sd, jack_bias = _cwj_leave_one_out(fp)
    jack = _CWJ_JACK_SCALE * jack_sd
    low = _CWJ_JK_BIAS_SCALE * np.maximum(-np.nan_to_num(jack_bias, nan=0.0), 0.0)
    tail_err = _CWJ_TAIL_SCALE * _tail_heterogeneity(fp) * tail
    return np.sqrt(jack * jack + low * low + tail_err * tail_err)


def _poisson_upper_limit(x: np.ndarray, level: float) -> np.ndarray:
    """Garwood's exact one-sided upper confidence limit at ``level`` for the mean of a
    Poisson count x: ``chi2_{level}(2 (x + 1)) / 2 = P^{-1}(x + 1, level)`` (the inverse
    regularised lower incomplete gamma); 3.69 for x = 0 at 0.975."""
    return gammaincinv(x + 1.0, level)


def _cwj_interval(fp: _FP, h: np.ndarray, se: np.ndarray, confidence: float = 0.95
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Chao-Wang-Jost's interval ``(lower, upper)`` at ``confidence``, asymmetric.

    ``upper = H + z stderr`` (:func:`_cwj_stderr`: sampling spread plus the bias the data
    show plus the unseen tail -- CWJ's bias is downward, so this end carries it);
    ``lower = min(H - z sd_src, seen + tail(f1, f2_up))``: ``sd_src`` the sampling sd under
    the source the fingerprint suggests (:func:`._cwj_source_sd`), and, since CWJ is too
    *high* only where the unseen-tail term is over-extrapolated from too few doubletons,
    the estimate with f2 at its exact (Garwood) upper confidence limit ``f2_up``.  No
    fitted constant: z and the limit's level are the interval's own (``1/2 + confidence/2``).
    The lower end misses about its nominal 2.5% where CWJ is unbiased (1.3-2.5% on uniforms,
    tested; at most 6% in one benchmark cell), where the symmetric one missed ~0%
    (docs/entropy.md); the upper end is the symmetric interval's, so nothing is narrower on
    the side where CWJ under-covers (rare tails not yet seen).
    """
    level = 0.5 + confidence / 2.0
    z = float(ndtri(level))
    seen, _ = _cwj_parts(fp.N, _cwj_tsum(fp), fp.f1, fp.f2)
    _, tail_up = _cwj_parts(fp.N, _cwj_tsum(fp), fp.f1, _poisson_upper_limit(fp.f2, level))
    lower = np.minimum(h - z * _cwj_source_sd(fp), seen + tail_up)
    return np.minimum(lower, h), h + z * se


#: bma error constant, chosen on the benchmark grid only (docs/entropy.md)
_BMA_SD_SCALE = 0.9


def _cwj_bias_corrected(fp: _FP) -> np.ndarray:
    """Jackknife bias-corrected Chao-Wang-Jost, ``H_cwj - b_jk = N H - (N - 1) mean H_(-i)``
    (Quenouille 1956); the plain CWJ where the jackknife is undefined (N <= 1)."""
    _, jack_bias = _cwj_leave_one_out(fp)
    return _h_chao_wang_jost(fp) - np.nan_to_num(jack_bias, nan=0.0)


def _bma_stderr(fp: _FP, h: np.ndarray, sd_post: np.ndarray) -> np.ndarray:
    """``sqrt((0.9 sd_post)^2 + max(|H - H_cwj|, |H - H_cwj,jk|)^2 + (w max(H_cwj - H, 0))^2)``.

    ``H_cwj`` is the K-free Chao-Wang-Jost value of the same configuration and
    ``H_cwj,jk`` the same corrected by its jackknife bias (:func:`_cwj_bias_corrected`).  The
    gap is the disagreement between the two prior families (which share their blind spot: a
    tail neither a symmetric Dirichlet nor a Pitman-Yor law describes, e.g. a two-level
    step) and a coverage-based estimate that needs no K, so it also carries the sensitivity
    to an overstated K.  Which K-free value to measure it from is itself uncertain: plain CWJ
    is biased low on heavy tails (up to -11% at N = 1000), the corrected one removes only
    0.3-1.0 of that bias and over-corrects where a second level is being discovered; the
    farther of the two is used.  CWJ is biased low where the rare states are unequal (by
    about ``w T``, :func:`_tail_heterogeneity`), so an estimate *below* it is more likely too
    low: that shortfall counts again, weighted by w.  The posterior sd is scaled by 0.9 (on
    the benchmark grid it covered 98-100% alone in the Zipf cells).  Each term is a lower
    bound on the error the previous versions used, so no configuration's interval is
    narrower than before (docs/entropy.md: the gap to the corrected value alone covered a
    step over 100,000 states 57% at N = 1,000, the plain gap 89%).
    """
    h_cwj = _h_chao_wang_jost(fp)
    gap = np.maximum(np.abs(h - h_cwj), np.abs(h - _cwj_bias_corrected(fp)))
    shortfall = _tail_heterogeneity(fp) * np.maximum(h_cwj - h, 0.0)
    sd = _BMA_SD_SCALE * sd_post
    return np.sqrt(sd * sd + gap * gap + shortfall * shortfall)
