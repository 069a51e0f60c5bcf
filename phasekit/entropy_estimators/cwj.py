"""Chao-Wang-Jost (2013): the seen-species term, the unseen-tail term from singletons and
doubletons, and its delete-one-token jackknife from the sufficient statistics."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from .fingerprint import _FP

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
    """``T = sum_k n_k psi(n_k) = sum_j j f_j psi(j)``, the seen-term statistic of Chao-Wang-Jost."""
    return fp.sum(fp.f * fp.j * digamma(fp.j))


def _h_chao_wang_jost(fp: _FP, k: float | None = None) -> np.ndarray:
    """Chao-Wang-Jost (2013, Methods Ecol. Evol. 4:1091): seen term + unseen-tail term
    (:func:`_cwj_parts`); K is not used."""
    seen, tail = _cwj_parts(fp.N, _cwj_tsum(fp), fp.f1, fp.f2)
    return seen + tail


def _cwj_jackknife(fp: _FP) -> np.ndarray:
    """Delete-one-token jackknife sd of Chao-Wang-Jost from the sufficient statistics.

    Deleting one token of a state seen j times gives ``N - 1``,
    ``T - j psi(j) + (j-1) psi(j-1)`` and ``(f_1, f_2)`` changed only for j <= 3, so the
    unseen-tail series is evaluated 4 times per configuration (j = 1, 2, 3, >= 4) instead of
    once per distinct multiplicity.  Equal to :func:`_jackknife_stderr` (tested).
    """
    return _cwj_leave_one_out(fp)[0]


def _cwj_jackknife_bias(fp: _FP) -> np.ndarray:
    """Jackknife estimate of the bias of Chao-Wang-Jost, ``(N - 1) (mean_i H_(-i) - H)``
    (Quenouille 1956; Efron & Stein 1981), from the same leave-one-out values as
    :func:`_cwj_jackknife`.  Exact for a bias ``b/N``; for a bias falling like ``N^-g``
    it estimates ``g`` times the bias (on the benchmark grid 0.3-1.0 of it where CWJ is
    biased low, ~0 on uniforms, where it is unbiased).  NaN where N <= 1."""
    return _cwj_leave_one_out(fp)[1]


def _cwj_leave_one_out(fp: _FP) -> tuple[np.ndarray, np.ndarray]:
    """``(jackknife sd, jackknife bias)`` of Chao-Wang-Jost (see :func:`_cwj_jackknife`)."""
    out = np.full(fp.n, np.nan)
    bias = np.full(fp.n, np.nan)
    if fp.cfg.size == 0:
        return out, bias
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
        shift = (fp.N - 1.0) * (mean - _h_chao_wang_jost(fp))
    good = (fp.N > 1) & (wsum == fp.N)
    out[good] = np.sqrt(var[good])
    bias[good] = shift[good]
    return out, bias
