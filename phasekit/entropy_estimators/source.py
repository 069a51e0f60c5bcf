"""The source distribution a fingerprint suggests (the Chao-Jost bootstrap assemblage) and the
sampling spread of Chao-Wang-Jost under it, in closed form (the parametric bootstrap's
delta-method limit): the lower end of CWJ's interval (:mod:`.uncertainty`)."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from .cwj import _cwj_parts
from .fingerprint import _FP

_COUNTS = np.arange(0, 72, dtype=float)  # Poisson(lam <= 30) beyond 71: < 1e-10
_PHI = np.where(_COUNTS > 0, _COUNTS * digamma(np.maximum(_COUNTS, 1.0)), 0.0)  # n psi(n)
_LAM_EXACT = 30.0  # above: phi linearised, the singleton/doubleton indicators ~ 0
_CHUNK = 16_384  # groups per pmf block (bounds memory at ~10 MB)


def _chao_jost_source(fp: _FP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of equal-probability states of the source each fingerprint suggests:
    ``(config index, rate lam = N p, number of states)`` per group.

    The bootstrap assemblage of Chao et al. (2014, Ecol. Monogr. 84:45, its appendix; iNEXT):
    ``f0 = (N-1)/N f1^2 / (2 f2)`` unseen states (``(N-1)/N f1 (f1-1)/2`` when f2 = 0,
    Chao1) share the undetected mass ``a = (f1/N) N f0 / (N f0 + f1)`` equally; a state seen
    j times gets ``p_j = (j/N) (1 - w (1 - j/N)^N)`` with
    ``w = a / sum_j f_j (j/N) (1 - j/N)^N``, so the probabilities sum to 1.  The unseen
    states of this source are all alike (a homogeneous tail).
    """
    n_tok, f1, f2 = fp.N, fp.f1, fp.f2
    with np.errstate(divide="ignore", invalid="ignore"):
        f0 = (n_tok - 1.0) / n_tok * np.where(f2 > 0, f1 * f1 / (2.0 * np.maximum(f2, 1.0)),
                                               f1 * (f1 - 1.0) / 2.0)
        f0 = np.nan_to_num(np.maximum(f0, 0.0))
        a = np.nan_to_num(np.where(f1 > 0, f1 / n_tok * n_tok * f0 / (n_tok * f0 + f1), 0.0))
        pj = fp.j / fp.per_entry(n_tok)
        decay = (1.0 - pj) ** fp.per_entry(n_tok)
        b = fp.sum(fp.f * pj * decay)
        w = np.where((f0 > 0) & (b > 0), a / b, 0.0)
    lam_seen = fp.per_entry(n_tok) * pj * (1.0 - fp.per_entry(w) * decay)
    unseen = np.nonzero((f0 > 0) & (a > 0))[0]
    lam_unseen = n_tok[unseen] * a[unseen] / f0[unseen]
    return (np.r_[fp.cfg, unseen], np.r_[lam_seen, lam_unseen], np.r_[fp.f, f0[unseen]])


def _poisson_moments(lam: np.ndarray) -> dict[str, np.ndarray]:
    """Moments of ``phi(n) = n psi(n)``, ``1[n=1]``, ``1[n=2]`` and n for n ~ Poisson(lam),
    one state: ``e_phi, var_phi, cov_phi_n, p1, p2`` (exact sums over n for lam <= 30,
    ``phi`` linearised above, where a state is never a singleton or doubleton)."""
    small = lam <= _LAM_EXACT
    out = {k: np.zeros(lam.size) for k in ("e_phi", "var_phi", "cov_phi_n", "p1", "p2")}
    idx = np.nonzero(small)[0]
    for lo in range(0, idx.size, _CHUNK):
        sel = idx[lo:lo + _CHUNK]
        ls = lam[sel][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            pmf = np.exp(_COUNTS * np.log(ls) - ls - gammaln(_COUNTS + 1.0))
        pmf = np.where(ls > 0, pmf, _COUNTS == 0)
        e_phi = (pmf * _PHI).sum(axis=1)  # row sums, not BLAS: the same bits in any batch
        out["e_phi"][sel] = e_phi
        out["var_phi"][sel] = (pmf * (_PHI * _PHI)).sum(axis=1) - e_phi * e_phi
        out["cov_phi_n"][sel] = (pmf * (_PHI * _COUNTS)).sum(axis=1) - e_phi * lam[sel]
        out["p1"][sel], out["p2"][sel] = pmf[:, 1], pmf[:, 2]
    big = ~small
    lb = lam[big]
    slope = digamma(lb) + lb * polygamma(1, lb)  # d phi / dn at lam
    out["e_phi"][big] = lb * digamma(lb)
    out["var_phi"][big] = slope * slope * lb
    out["cov_phi_n"][big] = slope * lb
    return out


def _source_covariance(fp: _FP) -> np.ndarray:
    """Covariance ``(n_config, 3, 3)`` of ``(S, f1, f2)``, ``S = sum_k n_k psi(n_k)``, over
    Poisson draws from :func:`_chao_jost_source`, conditioned on the number of tokens N.

    States are independent under Poisson sampling, so every (co)variance is a sum over the
    groups of (number of states) x (one state's); conditioning on ``N = sum_k n_k`` removes
    the part linear in N: ``C - c c^T / Var N`` with ``c = Cov(., N)`` (exact for jointly
    Gaussian sums, the usual Poissonisation correction).
    """
    cfg, lam, cnt = _chao_jost_source(fp)
    mo = _poisson_moments(lam)
    e_phi, p1, p2 = mo["e_phi"], mo["p1"], mo["p2"]
    phi1, phi2 = _PHI[1], _PHI[2]
    pair = {  # one state's covariances, by (row, column) of (S, f1, f2)
        (0, 0): mo["var_phi"], (0, 1): p1 * (phi1 - e_phi), (0, 2): p2 * (phi2 - e_phi),
        (1, 1): p1 * (1.0 - p1), (1, 2): -p1 * p2, (2, 2): p2 * (1.0 - p2),
    }
    with_n = (mo["cov_phi_n"], p1 * (1.0 - lam), p2 * (2.0 - lam))

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(cfg, weights=cnt * x, minlength=fp.n)[: fp.n]

    cov = np.zeros((fp.n, 3, 3))
    for (r, c), x in pair.items():
        cov[:, r, c] = cov[:, c, r] = total(x)
    c_n = np.stack([total(x) for x in with_n], axis=1)
    var_n = total(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        return cov - c_n[:, :, None] * c_n[:, None, :] / var_n[:, None, None]


def _cwj_source_sd(fp: _FP) -> np.ndarray:
    """Sampling sd of Chao-Wang-Jost under the source its fingerprint suggests, for fixed N:
    ``sqrt(g^T C g)`` with C from :func:`_source_covariance` and g the gradient of
    ``H = psi(N) - S/N + tail(f1, f2)`` (``-1/N`` in S, central differences of the tail
    term in f1 and f2, one-sided at 0).

    The closed-form limit of a parametric bootstrap that redraws N tokens from
    :func:`_chao_jost_source` (delta method; on the benchmark grid within 0.9-1.2x of the
    redraws' sd and of the true sd, where the delete-one-token jackknife over-states it
    1.0-1.8x).  It measures sampling spread only: the source's unseen tail is homogeneous,
    so it cannot see CWJ's bias on an unequal tail (the redraws' bias was 0.05-0.35 of the
    true one on the Zipf cells).  Nothing is random: deterministic in the fingerprint.
    """
    cov = _source_covariance(fp)
    n_tok, f1, f2 = fp.N, fp.f1, fp.f2
    zero = np.zeros_like(n_tok)

    def tail(a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
        return _cwj_parts(n_tok, zero, np.maximum(a1, 0.0), np.maximum(a2, 0.0))[1]

    here = tail(f1, f2)
    d1 = np.where(f1 >= 1, (tail(f1 + 1.0, f2) - tail(f1 - 1.0, f2)) / 2.0, tail(f1 + 1.0, f2) - here)
    d2 = np.where(f2 >= 1, (tail(f1, f2 + 1.0) - tail(f1, f2 - 1.0)) / 2.0, tail(f1, f2 + 1.0) - here)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.stack([-1.0 / n_tok, d1, d2], axis=1)
    var = np.zeros(fp.n)
    for i in range(3):  # g^T C g term by term (no BLAS: the same bits in any batch)
        for k in range(3):
            var = var + g[:, i] * cov[:, i, k] * g[:, k]
    return np.sqrt(np.maximum(var, 0.0))
