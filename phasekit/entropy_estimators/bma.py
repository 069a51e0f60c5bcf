"""bma: the evidence-weighted average of NSB and the K-truncated Pitman-Yor mixture."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from .bayes import _finish, _k_rows
from .fingerprint import _FP
from .nsb import _nsb_core
from .pym import _pym_core
from .uncertainty import _bma_stderr


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


def _bma(fp: _FP, k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``bma``: the posterior mean of :func:`_bma_posterior`, and
    ``stderr = sqrt((0.9 sd_post)^2 + max(|H - H_cwj|, |H - H_cwj,jk|)^2 + (w max(H_cwj - H, 0))^2)``
    (:func:`_bma_stderr`: the posterior spread plus the gap to the farther of the K-free
    Chao-Wang-Jost estimate and its jackknife bias-corrected value, and a shortfall below CWJ
    counted again where its tail is heterogeneous).  Measured (docs/entropy.md): 0.9 x the
    posterior sd alone covered 16% / 0% on a step at N = 3000 / 10000 and 45 / 0 / 0% with K
    overstated 2x at N = 1000 / 3000 / 10000.
    """
    h, sd = _bma_posterior(fp, k)
    return h, _bma_stderr(fp, h, sd)
