"""Nemenman-Shafee-Bialek (2002): a mixture of symmetric Dirichlet priors flat in the prior
mean entropy, integrated on an adaptive grid in ln beta."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._special import _log_rising, _trigamma
from .bayes import (
    _active,
    _at_a2,
    _chunks,
    _dirichlet_sums,
    _k_rows,
    _moments_from_sums,
    _refine,
    _segment_sum,
    _simpson_weights,
    _unfilled_moments,
)
from .fingerprint import _FP

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
    le, mh, mh2 = _unfilled_moments(n_act)
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
            """``sum_k ln[beta]_{n_k} - ln[K beta]_N + ln dxi/du`` at ``u = ln beta``."""
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
