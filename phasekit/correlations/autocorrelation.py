r"""The integrated autocorrelation time along the control axis, with Sokal's automatic window.

.. math:: \tau_{int} = \tfrac12 + \sum_{t=1}^{W} \rho(t)

(Madras & Sokal, J. Stat. Phys. 50, 109 (1988); Sokal, Cargèse lectures (1996)).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import scipy.fft as sfft
import xarray as xr

from .._meta import estimate, renamed_keyword
from ..errors import SchemaError
from .decay import _sokal_window


def _acf(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation rho(t) of rows of x (mean removed, biased 1/n), by FFT."""
    n = x.shape[-1]
    y = x - x.mean(axis=-1, keepdims=True)
    nf = sfft.next_fast_len(2 * n, real=True)
    f = sfft.rfft(y, nf, axis=-1)
    ac = sfft.irfft(f.real**2 + f.imag**2, nf, axis=-1)[..., :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ac / ac[..., :1]


def _as_series(series: Any, control: Hashable) -> np.ndarray:
    """The finite values of a one-variable series, control axis last (checked)."""
    if isinstance(series, xr.Dataset):
        if len(series.data_vars) != 1:
            raise SchemaError(
                "autocorrelation_time needs one series, got a Dataset with several variables",
                where=f"variables {list(series.data_vars)}",
                fix="pass a DataArray, e.g. ds['m']",
            )
        series = next(iter(series.data_vars.values()))
    if not isinstance(series, xr.DataArray):
        raise SchemaError(
            f"expected a DataArray, got {type(series).__name__}",
            where="series",
            fix="wrap the values: xr.DataArray(values, dims=['checkpoint'])",
        )
    if control not in series.dims:
        raise SchemaError(
            f"the control dim {control!r} is not in the series",
            where=f"series dims are {list(series.dims)}",
            fix=f"pass control= one of {list(series.dims)}",
        )
    vals = np.asarray(series.transpose(..., control).values, dtype=np.float64)
    if not np.all(np.isfinite(vals)):
        raise SchemaError(
            "the series contains NaN or infinite values",
            where=f"series {series.name!r} along {control!r}",
            fix=f"drop or interpolate the missing points first (series.dropna({control!r}))",
        )
    if vals.shape[-1] < 4:
        raise SchemaError(
            f"a series of {vals.shape[-1]} points is too short for an autocorrelation time",
            where=f"dim {control!r}",
            fix="use at least a few tens of points",
        )
    return vals


def autocorrelation_time(
    series: xr.DataArray | xr.Dataset,
    *,
    control: Hashable = "checkpoint",
    c_window: float = 5.0,
    dim: Hashable | None = None,
) -> xr.DataArray:
    r"""Integrated autocorrelation time along the control axis with Sokal's automatic window.

    .. math:: \tau_{int} = \tfrac12 + \sum_{t=1}^{W} \rho(t),\qquad
              W = \min\{W : W \ge c\,\tau_{int}(W)\},\ c = 5,

    with :math:`\rho(t)` the normalised autocorrelation (mean removed, FFT). Its standard
    error is the Madras–Sokal formula :math:`\sigma^2(\tau) \approx 2(2W+1)\tau^2/n`, and
    :math:`n_{eff} = n / (2\tau_{int})` is the number of effectively independent points
    (the variance of the mean of n points is :math:`2\tau_{int}\sigma^2/n`). For an AR(1)
    series :math:`x_t = \phi x_{t-1} + \epsilon_t`, :math:`\tau_{int} = (1+\phi)/(2(1-\phi))`.

    Parameters
    ----------
    series : numeric DataArray; every other dim indexes an independent series (every dim
        not named is kept).
    control : the control dim along which the series is ordered (default
        ``"checkpoint"``); ``dim=`` is its deprecated old name.
    c_window : Sokal's window constant c.

    Returns
    -------
    DataArray ``autocorrelation_time`` (in index steps of ``control``) over the other dims,
    coords ``stderr``, ``n_effective`` and ``window``.

    References
    ----------
    Madras & Sokal, J. Stat. Phys. 50, 109 (1988); Sokal, Cargèse lectures (1996).
    """
    control = renamed_keyword("autocorrelation_time", "dim", "control", dim, control, "checkpoint")
    vals = _as_series(series, control)
    arr = (next(iter(series.data_vars.values())) if isinstance(series, xr.Dataset) else series)
    arr = arr.transpose(..., control)
    n = vals.shape[-1]
    flat = vals.reshape(-1, n)
    rho = _acf(flat)
    tau = np.full(flat.shape[0], np.nan)
    win = np.zeros(flat.shape[0], dtype=np.int64)
    for i in range(flat.shape[0]):
        if not np.isfinite(rho[i, 0]):
            continue  # constant series: no fluctuations, tau undefined
        win[i] = _sokal_window(rho[i], c_window)
        tau[i] = 0.5 + float(np.sum(rho[i, 1 : win[i] + 1]))
    se = np.sqrt(2.0 * (2.0 * win + 1.0) / n) * tau
    kdims = arr.dims[:-1]
    kshape = vals.shape[:-1]
    value = xr.DataArray(tau.reshape(kshape), dims=kdims, coords={d: arr.coords[d] for d in kdims if d in arr.coords})
    out = estimate(
        value,
        se.reshape(kshape),
        name="autocorrelation_time",
        estimator="integrated autocorrelation time, Sokal automatic window",
        units=f"index steps along {control}",
        c_window=c_window,
        n=n,
        error_method="Madras-Sokal: var(tau) = 2 (2W + 1) tau^2 / n",
        control=str(control),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = n / (2.0 * tau)
    return out.assign_coords(n_effective=(kdims, n_eff.reshape(kshape)), window=(kdims, win.reshape(kshape)))
