"""Pitman-Yor mixture (Archer, Park & Pillow 2014), with the K-truncated tail closure."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaincc, gammaln
from scipy.special import gamma as gamma_fn

from ._special import _LAG_T, _LAG_W, _inv_digamma, _trigamma, _upper_gamma
from .bayes import (
    _active,
    _at_a2,
    _chunks,
    _dirichlet_power_sums,
    _dirichlet_sums,
    _dirichlet_sums_from_power,
    _k_rows,
    _moments_from_sums,
    _refine,
    _segment_sum,
    _simpson_weights,
    _unfilled_moments,
)
from .fingerprint import _FP

_PYM_DMAX = 0.95
_PYM_HMAX_UNBOUNDED = 25.0
#: variance of the truncated tail's entropy per span^2 (uniform over the bracket: 1/12)
_TAIL_BRACKET_VAR = 1.0 / 12.0
#: lower end of the prior mean entropy h (nats)
_PYM_HMIN = 1e-6


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
        """ln of the expected atom count above ``y = e^u`` and its slope in u."""
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


class _PymChunk(NamedTuple):
    """One chunk of configurations, shaped to broadcast over (configuration, d, h):
    entries' multiplicities ``jj`` and numbers of states ``ff`` with their configuration
    ``cc`` and segment ``starts``; per configuration N (``nn``), m (``mm``), the prior's
    ``h_max`` and K (``k``, None without K)."""

    nn: np.ndarray
    mm: np.ndarray
    jj: np.ndarray
    ff: np.ndarray
    cc: np.ndarray
    starts: np.ndarray
    nc: int
    h_max: np.ndarray
    k: np.ndarray | None


def _pym_loglik(ch: _PymChunk, d: np.ndarray, alpha: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Log-probability of the observed partition under PY(d, alpha) (Pitman 1995):
    ``sum_{i<m} ln(alpha + i d) - ln[alpha + 1]_{N-1} + sum_k ln[1 - d]_{n_k - 1}``, with
    ``prod_{i=1}^{m-1}(alpha + i d) = d^{m-1} Gamma(alpha/d + m)/Gamma(alpha/d + 1)``
    (``alpha^{m-1}`` at d = 0); ``seen`` is the last sum (it does not depend on alpha)."""
    mm, nn = ch.mm, ch.nn
    dd = np.broadcast_to(d, alpha.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = alpha / np.where(dd > 0, dd, 1.0)
        pos = (mm - 1.0) * np.log(np.where(dd > 0, dd, 1.0)) + gammaln(r + mm) - gammaln(r + 1.0)
        zero = (mm - 1.0) * np.log(np.where(alpha > 0, alpha, 1.0))
        prod = np.where(dd > 1e-12, pos, zero)
        prod = np.where(mm > 1, prod, 0.0)
    return prod - gammaln(alpha + nn) + gammaln(alpha + 1.0) + seen


def _pym_h_grid(ch: _PymChunk, d: np.ndarray, n_h: int, n_refine: int):
    """Per-(configuration, d) uniform grid in the prior mean entropy ``h`` on
    ``[h_min, h_max]``, refined ``n_refine`` times to where the likelihood is within 30 of
    its maximum; ``alpha(h)`` from ``h = psi(alpha + 1) - psi(1 - d)``.  Returns
    ``h, alpha, loglik`` of shape ``(nc, n_d, n_h)``."""
    seen = _segment_sum(ch.ff * (gammaln(ch.jj - d[ch.cc]) - gammaln(1.0 - d[ch.cc])), ch.starts)
    n_dd = d.shape[1]
    t_h = np.linspace(0.0, 1.0, n_h)
    h = np.broadcast_to(_PYM_HMIN + (ch.h_max - _PYM_HMIN) * t_h, (ch.nc, n_dd, n_h)).copy()
    for it in range(n_refine + 1):
        alpha = _inv_digamma(h + digamma(1.0 - d)) - 1.0
        ll = _pym_loglik(ch, d, alpha, seen)
        ll = np.where(np.isfinite(ll), ll, -np.inf)
        if it < n_refine:
            flat = _refine(h.reshape(-1, n_h), ll.reshape(-1, n_h),
                           np.full(h.shape[0] * h.shape[1], _PYM_HMIN),
                           np.broadcast_to(ch.h_max[..., 0], h.shape[:2]).reshape(-1), n_h)
            h = flat.reshape(h.shape)
    return h, alpha, ll


def _pym_truncated_tail(ch: _PymChunk, d, a_star, e_t, e_t2, lz, ll, mx):
    """Tail moments with K: the unseen mass lives on at most K - m states.

    Its entropy lies between the mean-field truncated PY value (:func:`_truncated_tail_entropy`,
    a tail as steep as PY allows) and ``ln(K - m)`` (a flat tail); it is taken as uniform over
    that bracket: the midpoint enters the mean and ``span^2/12`` the variance.  Evaluated only
    where the posterior weight is not negligible (within 25 of the maximum; it is costly).
    """
    k, mm = ch.k, ch.mm
    lzf = np.where(np.isfinite(lz), lz, -np.inf)
    row_ok = lzf >= np.max(lzf, axis=1, keepdims=True) - 25.0
    sel = np.nonzero(row_ok[..., None] & (ll >= mx - 25.0))
    e_tc = e_t.copy()
    e_tc[sel] = _truncated_tail_entropy(np.broadcast_to(d, a_star.shape)[sel],
                                        a_star[sel],
                                        np.broadcast_to(k - mm, a_star.shape)[sel])
    span = np.maximum(np.log(np.maximum(k - mm, 1.0)) - e_tc, 0.0)
    e_tm = e_tc + 0.5 * span
    e_t2 = e_t2 - e_t * e_t + e_tm * e_tm + _TAIL_BRACKET_VAR * span * span
    return e_tm, e_t2


def _pym_moments(ch: _PymChunk, d, alpha, lz, ll, mx):
    """E[H], E[H^2] given (d, alpha): the seen states and the unseen mass p* are
    Dir(n_1 - d, ..., n_m - d, alpha + m d) and p* carries an independent PY(d, alpha + m d)
    tail (Archer, Park & Pillow 2014, eqs. 12-15), so ``E[H] = E[H_D] + E[p*] E[H_tail]`` and
    ``E[H^2] = E[H_D^2] + 2 E[p* H_D] E[H_tail] + E[p*^2] E[H_tail^2]``."""
    big_a = ch.nn + alpha
    a_star = alpha + ch.mm * d
    pa2, t1a2 = _at_a2(big_a)
    # the seen states' parameters n_k - d do not depend on alpha: their sums are
    # taken once per (config, d) and expanded in psi(A+2), psi1(A+2)
    power = [_segment_sum(t, ch.starts) for t in _dirichlet_power_sums(ch.jj - d[ch.cc], ch.ff)]
    sums = _dirichlet_sums_from_power(power, pa2, t1a2)
    s_ad1, s_u, s_uu, s_a2, s_diag = (
        s + z for s, z in zip(sums, _dirichlet_sums(a_star, 1.0, big_a, (pa2, t1a2)), strict=True)
    )
    eh_d, eh2_d = _moments_from_sums(big_a, s_ad1, s_u, s_uu, s_a2, s_diag)
    e_t, e_t2 = _py_tail_moments(d, a_star)
    if ch.k is not None:
        e_t, e_t2 = _pym_truncated_tail(ch, d, a_star, e_t, e_t2, lz, ll, mx)
    # E[p* H_D]: tilt the Dirichlet by p* (a* -> a* + 1, A -> A + 1)
    s_seen = s_ad1 - a_star * digamma(a_star + 1.0)
    e_ph = a_star / big_a * (
        digamma(big_a + 2.0) - (s_seen + (a_star + 1.0) * digamma(a_star + 2.0)) / (big_a + 1.0)
    )
    e_p2 = a_star * (a_star + 1.0) / (big_a * (big_a + 1.0))
    eh = eh_d + a_star / big_a * e_t  # E[H_D] + E[p*] E[H_tail]
    eh2 = eh2_d + 2.0 * e_ph * e_t + e_p2 * e_t2
    return eh, eh2


def _pym_at_d(ch: _PymChunk, dgrid: np.ndarray, n_h: int, n_refine: int, moments: bool = True):
    """Log-marginal over h (flat on ``[h_min, h_max]``, Simpson's rule), and E[H], E[H^2]
    given d, for ``(nc, n_d)`` values of d (``moments=False``: the log-marginal only)."""
    d = dgrid[:, :, None]
    h, alpha, ll = _pym_h_grid(ch, d, n_h, n_refine)
    mx = np.max(ll, axis=-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    w = np.exp(ll - mx) * _simpson_weights(h)
    z = w.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lz = np.log(z) + mx[..., 0] - np.log(ch.h_max[..., 0] - _PYM_HMIN)
    if not moments:
        return lz, None, None
    eh, eh2 = _pym_moments(ch, d, alpha, lz, ll, mx)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lz, (w * eh).sum(-1) / z, (w * eh2).sum(-1) / z


def _pym_core(fp: _FP, k: float | np.ndarray | None, n_d: int = 33, n_h: int = 17, n_refine: int = 1):
    """Posterior log-evidence (of the partition), mean and second moment of H for PYM.

    Hyperprior flat in d on ``[0, 0.95]`` and in ``h = psi(alpha + 1) - psi(1 - d)`` on
    ``(0, h_max]`` (``h_max = ln K``, or 25 nats without K); per chunk of configurations
    the d-grid is refined once to where the marginal is within 25 of its maximum, then
    ``E[H | n] = int E[H | d, alpha, n] p(d, alpha | n)`` by Simpson's rule in d and h
    (Archer, Park & Pillow 2014).  Returns ``act, log_evidence, mean, second_moment``.
    """
    act, cfg, j, f = _active(fp)
    n_act = act.size
    le, mh, mh2 = _unfilled_moments(n_act)
    if n_act == 0:
        return act, le, mh, mh2
    k_all = None if k is None else np.maximum(_k_rows(k, act), 1.0 + 1e-9)
    h_max_all = np.full(n_act, _PYM_HMAX_UNBOUNDED) if k_all is None else np.log(k_all)
    h_max_all = np.maximum(h_max_all, 2.0 * _PYM_HMIN)
    big_n = fp.N[act]
    m = fp.m[act]
    for c0, c1, e0, e1 in _chunks(cfg, n_act, n_d * n_h):
        cc = cfg[e0:e1] - c0
        ch = _PymChunk(nn=big_n[c0:c1, None, None], mm=m[c0:c1, None, None],
                       jj=j[e0:e1, None, None], ff=f[e0:e1, None, None], cc=cc,
                       starts=np.concatenate([[0], np.nonzero(np.diff(cc))[0] + 1]), nc=c1 - c0,
                       h_max=h_max_all[c0:c1, None, None],
                       k=None if k_all is None else k_all[c0:c1, None, None])
        nc = ch.nc
        dgrid = np.broadcast_to(np.linspace(0.0, _PYM_DMAX, n_d), (nc, n_d)).copy()
        lz, _, _ = _pym_at_d(ch, dgrid, n_h, n_refine, moments=False)
        dgrid = _refine(dgrid, lz, np.zeros(nc), np.full(nc, _PYM_DMAX), n_d, drop=25.0)
        lz, e1_, e2_ = _pym_at_d(ch, dgrid, n_h, n_refine)
        good = np.isfinite(lz) & np.isfinite(e1_) & np.isfinite(e2_)
        lz = np.where(good, lz, -np.inf)
        mx = lz.max(axis=1, keepdims=True)
        w = np.exp(lz - mx) * _simpson_weights(dgrid)
        z = w.sum(axis=1)
        le[c0:c1] = np.log(z) + mx[:, 0] - np.log(_PYM_DMAX)
        mh[c0:c1] = (w * np.where(good, e1_, 0.0)).sum(axis=1) / z
        mh2[c0:c1] = (w * np.where(good, e2_, 0.0)).sum(axis=1) / z
    return act, le, mh, mh2
