"""Plug-in and coverage-adjusted point estimators (sums over fingerprint entries), the
delta-method error of the plug-in and the delete-one-token jackknife from the fingerprint."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from .fingerprint import _FP


def _h_plugin(fp: _FP, k: float | None = None) -> np.ndarray:
    """Plug-in ``H = ln N - (1/N) sum_j f_j j ln j`` (= -sum_k (n_k/N) ln(n_k/N))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(fp.N) - fp.sum(fp.f * fp.j * np.log(fp.j)) / fp.N


def _h_miller_madow(fp: _FP, k: float | None = None) -> np.ndarray:
    """Miller-Madow: plug-in ``+ (m - 1)/(2N)`` (Miller 1955)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _h_plugin(fp) + (fp.m - 1.0) / (2.0 * fp.N)


def _grassberger_g(n: np.ndarray) -> np.ndarray:
    """``G(n) = psi(n) + (-1)^n/2 [psi((n+1)/2) - psi(n/2)]`` (Grassberger 2003,
    arXiv:physics/0307138, eq. 35)."""
    sign = np.where(np.mod(n, 2) == 0, 1.0, -1.0)
    return digamma(n) + 0.5 * sign * (digamma((n + 1.0) / 2.0) - digamma(n / 2.0))


def _h_grassberger(fp: _FP, k: float | None = None) -> np.ndarray:
    """Grassberger: ``H = ln N - (1/N) sum_k n_k G(n_k)`` (Grassberger 2003)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(fp.N) - fp.sum(fp.f * fp.j * _grassberger_g(fp.j)) / fp.N


def _h_chao_shen(fp: _FP, k: float | None = None) -> np.ndarray:
    """Chao-Shen: ``C = 1 - f_1/N``, ``pa = C n/N``, ``H = -sum pa ln pa / (1 - (1 - pa)^N)``
    (Chao & Shen 2003, Environ. Ecol. Stat. 10:429; f_1 = N is replaced by N - 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(fp.f1 >= fp.N, fp.N - 1.0, fp.f1)  # all singletons: Chao-Shen's fix
        coverage = 1.0 - f1 / fp.N
        n_e = fp.per_entry(fp.N)
        pa = fp.per_entry(coverage) * fp.j / n_e
        ht = -pa * np.log(pa) / -np.expm1(n_e * np.log1p(-pa))
        out = fp.sum(fp.f * np.where(pa > 0, ht, 0.0))
    return np.where(fp.N > 0, out, np.nan)


def _plugin_stderr(fp: _FP) -> np.ndarray:
    """Delta method: ``sqrt((sum_k p_k ln^2 p_k - H^2)/N)`` (Basharin 1959)."""
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
