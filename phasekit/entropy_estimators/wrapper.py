"""The xarray layer: :func:`entropy` on a samples Dataset, with the K sensitivity."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from typing import Any, cast

import numpy as np
import xarray as xr

from .._meta import as_dims, estimate, resolve_n_states
from .api import (
    _ERROR_DESCRIPTION,
    _ERROR_METHOD,
    _check_estimator,
    default_estimator,
    entropy_from_fingerprint,
    entropy_interval_from_fingerprint,
)
from .cwj import _h_chao_wang_jost
from .fingerprint import _check_fingerprint, support_k_from_fingerprint


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
        One value per configuration, ``stderr`` coordinate, the 95% interval as the
        ``lower`` and ``upper`` coordinates (attr ``confidence``; ``H -+ 1.96 stderr``, the
        upper end at most ln K, except for ``chao_wang_jost``, whose interval is asymmetric:
        ``error_method``), attrs ``estimator``,
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
    from ..count import count_states
    from ..lazy import is_lazy, map_configurations

    if estimator is not None:
        _check_estimator(estimator)
    system = as_dims(system)
    if is_lazy(ds):  # dask-backed tokens: lazy, one task per block (phasekit.lazy)
        # attrs from the blocks at materialize(): N is a mean over configurations, the count a sum
        return cast(xr.DataArray, map_configurations(
            _entropy_block, ds, system, kwargs={"estimator": estimator, "n_states": n_states,
                                                "k_sensitivity": k_sensitivity},
            reduce_attrs={"N": "mean", "k_moved_beyond_interval": "sum"}))
    n_states = resolve_n_states(ds, n_states)
    c = count_states(ds, system=system, n_states=n_states)
    if n_states is None:
        n_states = c.n_states
    choice = "given" if estimator is not None else (
        "default with K" if n_states is not None else "default without K")
    estimator = default_estimator(n_states) if estimator is None else estimator
    fp = c.fingerprint()
    h, se, lower, upper = entropy_interval_from_fingerprint(*fp, estimator=estimator,
                                                            n_states=n_states)
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
    out = estimate(value, np.asarray(se).reshape(c.shape), name="entropy", confidence=0.95, **attrs)
    out = out.assign_coords(lower=(out.dims, np.asarray(lower, float).reshape(c.shape)),
                            upper=(out.dims, np.asarray(upper, float).reshape(c.shape)))
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
