"""Entropy estimators on count fingerprints, and the ``entropy()`` wrapper.

Two layers, as in arviz-stats and xclim:

* array functions :func:`entropy_from_fingerprint` and :func:`entropy_from_counts`
  (and :func:`entropy_interval_from_fingerprint`, the same with the interval), vectorised over configurations.  They work on the *fingerprint* (count of counts)
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

Layout (issue 15.6), in the order the data flows:

* :mod:`.fingerprint` -- the flattened count of counts, its checks, K per configuration,
  :func:`fingerprint_from_counts`, :func:`support_k_from_fingerprint`;
* :mod:`._special` -- trigamma, the stable log rising factorial, inverse digamma, Gamma(a, y);
* :mod:`.plugin` -- plug-in, Miller-Madow, Grassberger, Chao-Shen; delta method and jackknife;
* :mod:`.cwj` -- Chao-Wang-Jost and its fast jackknife;
* :mod:`.bayes` -- Dirichlet moments of H and the adaptive grids shared by NSB and PYM;
* :mod:`.nsb`, :mod:`.pym`, :mod:`.bma` -- the Bayesian estimators;
* :mod:`.uncertainty` -- the error bars of the two defaults (CWJ's interval asymmetric);
* :mod:`.source` -- the source a fingerprint suggests and CWJ's sampling sd under it;
* :mod:`.api` -- names, defaults, :func:`entropy_from_fingerprint`, :func:`entropy_from_counts`;
* :mod:`.wrapper` -- :func:`entropy` on a samples Dataset, with the K sensitivity.

Every name of the former single module is importable from here (``from
phasekit.entropy_estimators import _cwj_jackknife`` keeps working).
"""

from __future__ import annotations

from .._meta import moved_names
from ._special import _log_rising as _log_rising
from .api import _ERROR_DESCRIPTION as _ERROR_DESCRIPTION
from .api import _ERROR_METHOD as _ERROR_METHOD
from .api import (
    DEFAULT_ESTIMATOR,
    DEFAULT_ESTIMATOR_WITHOUT_K,
    ESTIMATORS,
    entropy_from_counts,
    entropy_from_fingerprint,
    entropy_interval_from_fingerprint,
)
from .api import default_estimator as default_estimator
from .bayes import _dirichlet_sums as _dirichlet_sums
from .bayes import _moments_from_sums as _moments_from_sums
from .bma import _bma_posterior as _bma_posterior
from .cwj import _cwj_jackknife as _cwj_jackknife
from .cwj import _cwj_jackknife_bias as _cwj_jackknife_bias
from .cwj import _cwj_parts as _cwj_parts
from .cwj import _cwj_tsum as _cwj_tsum
from .cwj import _h_chao_wang_jost as _h_chao_wang_jost
from .cwj import _tail_series as _tail_series
from .fingerprint import _check_fingerprint as _check_fingerprint
from .fingerprint import fingerprint_from_counts, support_k_from_fingerprint
from .plugin import _grassberger_g as _grassberger_g
from .plugin import _jackknife_stderr as _jackknife_stderr
from .pym import _py_tail_moments as _py_tail_moments
from .uncertainty import _tail_heterogeneity as _tail_heterogeneity
from .wrapper import entropy

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DEFAULT_ESTIMATOR_WITHOUT_K",
    "ESTIMATORS",
    "entropy",
    "entropy_from_counts",
    "entropy_from_fingerprint",
    "entropy_interval_from_fingerprint",
    "fingerprint_from_counts",
    "support_k_from_fingerprint",
]

#: every other name of the former single module ``entropy_estimators.py`` -> its submodule
#: (resolved on first use by :func:`__getattr__`, so old imports of private names still work)
_MOVED = {
    "_BMA_SD_SCALE": "uncertainty",
    "_CWJ_F2_TRUST": "uncertainty",
    "_CWJ_JACK_SCALE": "uncertainty",
    "_CWJ_TAIL_SCALE": "uncertainty",
    "_FP": "fingerprint",
    "_K_WARNING": "wrapper",
    "_LAG_T": "_special",
    "_LAG_W": "_special",
    "_LERCH_S": "cwj",
    "_LERCH_V": "cwj",
    "_MAX_CELLS": "bayes",
    "_NEEDS_K": "fingerprint",
    "_NSB_DROP": "nsb",
    "_NSB_LOGB_RANGE": "nsb",
    "_POINT": "api",
    "_PYM_DMAX": "pym",
    "_PYM_HMAX_UNBOUNDED": "pym",
    "_STIRLING_FROM": "_special",
    "_TAIL_BRACKET_VAR": "pym",
    "_active": "bayes",
    "_at_a2": "bayes",
    "_bma": "bma",
    "_check_estimator": "api",
    "_chao_jost_source": "source",
    "_cwj_interval": "uncertainty",
    "_cwj_source_sd": "source",
    "_chunks": "bayes",
    "_cwj_stderr": "uncertainty",
    "_dirichlet_power_sums": "bayes",
    "_dirichlet_sums_from_power": "bayes",
    "_dxi_dlogbeta": "nsb",
    "_entropy_block": "wrapper",
    "_finish": "bayes",
    "_h_chao_shen": "plugin",
    "_h_grassberger": "plugin",
    "_h_miller_madow": "plugin",
    "_h_plugin": "plugin",
    "_inv_digamma": "_special",
    "_k_rows": "bayes",
    "_leave_one_out": "plugin",
    "_log_falling": "bma",
    "_nsb_core": "nsb",
    "_plugin_stderr": "plugin",
    "_pym_core": "pym",
    "_refine": "bayes",
    "_resolve_k": "fingerprint",
    "_segment_sum": "bayes",
    "_simpson_weights": "bayes",
    "_stirling_tail": "_special",
    "_trigamma": "_special",
    "_truncated_tail_entropy": "pym",
    "_upper_gamma": "_special",
    "_with_k_sensitivity": "wrapper",
    "_xi_of_beta": "nsb",
}


__getattr__ = moved_names(__name__, _MOVED)  # names of the former single module, from their submodule
