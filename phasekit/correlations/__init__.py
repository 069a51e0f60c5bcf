"""Correlation functions, correlation lengths and autocorrelation times.

Along the sequence axis (``sequence=``, ``position`` by default) the connected same-state correlation

.. math:: C(r) = P(s_t = s_{t+r}) - \\sum_k p_k(t)\\, p_k(t+r)

is the categorical analogue of the spin-spin correlation of a Potts model (for Potts spins
:math:`\\delta_{s_t s_{t+r}} - 1/q` is the natural two-point function). It is normalised by
:math:`C(0) = 1 - \\sum_k p_k^2`, so that :math:`C(0) = 1`. Along training (``checkpoint``)
the integrated autocorrelation time with Sokal's automatic window gives the number of
effectively independent checkpoints.

Conventions (see ``docs/correlations.md`` and the glossary, ``docs/glossary.md``):

* Vocabulary: ``sequence=`` names the sequence axis, ``replica=`` the dims averaged over,
  ``control=`` the control axis of :func:`autocorrelation_time`. ``dim=``, their old
  name, is still accepted with a DeprecationWarning. Arguments after the data are
  keyword-only.

* ``replica`` dims are averaged over (default: ``sample`` only; every dim not named is
  kept, so ``correlation_length(ds)`` gives one ξ per checkpoint and prompt); each cell of
  the kept dims gets its own curve. To pool, name the pooled dims in ``replica=`` (or
  name the kept ones in ``keep=``). Pool prompts or checkpoints only when they share one
  distribution: a mixture of distributions shows up as a positive correlation.
* ``-1`` (no token) is excluded pairwise: a pair counts only when both tokens are present.
* Errors: delete-a-group jackknife over groups of sequences (``n_jackknife`` groups,
  contiguous blocks of the flattened replica dims); for a single long sequence, a block
  jackknife over contiguous segments of it.
* Lags are in index steps along the sequence axis, whatever its coordinate values.
Layout (one module per step of the computation):

* :mod:`.layout` — the token array, kept and pooled dims, cells of sequences;
* :mod:`.pairs` — exact same-state pair counts (FFT for frequent states, enumeration for rare);
* :mod:`.function` — C(r) and its jackknife (:func:`correlation_function`); on dask-backed
  tokens one curve per block of the kept dims through :mod:`.streaming`
  (``xr.apply_ufunc(dask="parallelized")`` via :func:`phasekit.lazy.map_configurations`);
* :mod:`.information` — the mutual information I(r) (:func:`mutual_information`);
* :mod:`.decay` (decay class, windows), :mod:`.fits` (exponential and power-law fits),
  :mod:`.estimators` (the three estimators of ξ on a window), :mod:`.resolution`
  (resolvability flags, lower bounds, the integrated length's truncation bias) and
  :mod:`.length` (:func:`correlation_length`);
* :mod:`.autocorrelation` — :func:`autocorrelation_time` along the control axis;
* :mod:`._common` — confidence constants, groups of sequences, the jackknife.

References
----------
Sokal, "Monte Carlo Methods in Statistical Mechanics: Foundations and New Algorithms"
(Cargèse lectures, 1996); Madras & Sokal, J. Stat. Phys. 50, 109 (1988);
Li, "Mutual information functions versus correlation functions", J. Stat. Phys. 60, 823
(1990); Efron & Stein, Ann. Stat. 9, 586 (1981) (jackknife); Burnham & Anderson, *Model
Selection and Multimodel Inference* (2002) (AIC).
"""

from __future__ import annotations

from .._meta import moved_names
from ._common import CONFIDENCE as CONFIDENCE
from .autocorrelation import autocorrelation_time
from .function import correlation_function
from .information import mutual_information
from .layout import DEFAULT_REPLICA as DEFAULT_REPLICA
from .length import correlation_function_and_length, correlation_length

__all__ = [
    "correlation_function",
    "mutual_information",
    "correlation_length",
    "correlation_function_and_length",
    "autocorrelation_time",
]

#: every other top-level name of the former single module ``correlations.py`` -> its submodule
#: (resolved on first use by :func:`__getattr__`, so old imports of private names still work;
#: to monkeypatch a constant, patch the submodule, e.g. ``phasekit.correlations.pairs``)
_MOVED = {
    "_CHUNK_ROWS": "pairs",
    "_DENSE_KEYS": "_common",
    "_FFT_COST": "pairs",
    "_METHODS": "estimators",
    "_NUMBA_KERNEL": "pairs",
    "_OSC_DEPTH": "decay",
    "_PAIR_COST": "pairs",
    "_PAIR_COST_NUMBA": "pairs",
    "_Z": "_common",
    "_acf": "autocorrelation",
    "_as_corr_input": "length",
    "_as_series": "autocorrelation",
    "_cell_length": "length",
    "_cells": "layout",
    "_chain_pairs_loop": "pairs",
    "_classify": "decay",
    "_compact_states": "layout",
    "_correlation": "function",
    "_curves_for_length": "length",
    "_entropy_batch": "information",
    "_enumerate_kernel": "pairs",
    "_enumerate_numpy": "pairs",
    "_enumerated_pair_counts": "pairs",
    "_exp_lower_bound": "resolution",
    "_fft_pair_counts": "pairs",
    "_fit": "fits",
    "_group_ids": "_common",
    "_group_starts": "_common",
    "_group_state_sums": "pairs",
    "_jackknife_length": "length",
    "_jackknife_se": "_common",
    "_layout": "layout",
    "_length_coords": "length",
    "_length_of": "estimators",
    "_loglin": "fits",
    "_loo_counts": "information",
    "_mi_at_lag": "information",
    "_position_cell": "function",
    "_resolution": "resolution",
    "_same_state_pairs": "pairs",
    "_sokal_window": "decay",
    "_state_pairs_loop": "pairs",
    "_stationary_cell": "function",
    "_token_da": "layout",
    "_token_values": "layout",
    "_truncated_tail": "resolution",
    "_window_end": "decay",
}


__getattr__ = moved_names(__name__, _MOVED)  # names of the former single module, from their submodule
