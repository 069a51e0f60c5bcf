"""Fluctuations of an order parameter over replicas.

The inputs are small per-configuration arrays, e.g. the Potts magnetisation ``m``
with dims ``(temperature, sample)`` returned by :func:`phasekit.magnetization`;
``replica=`` names the dims that index the ensemble (samples, prompts, seeds), every
other dim is kept. Moments ⟨·⟩ are plain averages over the replicas; replicas whose
value is NaN (e.g. empty configurations) are left out cell by cell.

Ratios and differences of moments are biased at finite replica number R; the
jackknife (Quenouille 1956, Tukey 1958; Efron & Tibshirani 1993, ch. 11) gives both
the standard error and the bias correction ``R·θ − (R−1)·mean(θ_(i))``. Every result
says in its attrs which value it reports (``bias_correction``) and how its error was obtained
(``error_method``).

The reusable resampling helpers :func:`jackknife` and :func:`bootstrap` (plain numpy
arrays, any reducing function) live in :mod:`phasekit.resampling` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ._meta import as_dims, estimate, require_dims, stderr_of
from .errors import SchemaError
from .resampling import BootstrapResult, JackknifeResult, bootstrap, jackknife  # re-exported

__all__ = [
    "BootstrapResult",
    "JackknifeResult",
    "bimodality",
    "binder_cumulant",
    "bootstrap",
    "jackknife",
    "order_histogram",
    "response",
    "susceptibility",
]


# --------------------------------------------------------------------------- helpers


def _replica_array(
    m: xr.DataArray, replica: Hashable | Iterable[Hashable], argument: str = "replica"
) -> tuple[np.ndarray, tuple[Hashable, ...], dict[Hashable, Any]]:
    """(values with the replica dims flattened onto the last axis, kept dims, kept coords)."""
    if not isinstance(m, xr.DataArray):
        raise SchemaError(
            f"expected an xarray.DataArray of an order parameter, got {type(m).__name__}",
            where="first argument",
            fix="pass e.g. pk.magnetization(ds, system=...)",
        )
    rep = as_dims(replica)
    if not rep:
        raise SchemaError(
            f"{argument}= must name at least one dim", where=f"dims {list(m.dims)}",
            fix=f"pass {argument}='sample' (or the dims that index replicas)",
        )
    require_dims(m, rep, argument=argument)
    keep = tuple(d for d in m.dims if d not in rep)
    mt = m.transpose(*keep, *rep)
    vals = np.asarray(mt.values, dtype=float)
    vals = vals.reshape(tuple(mt.sizes[d] for d in keep) + (-1,))
    coords = {
        k: v.variable
        for k, v in m.coords.items()
        if k != "stderr" and set(v.dims) <= set(keep)
    }
    return vals, keep, coords


def _wrap(values: np.ndarray, keep: tuple[Hashable, ...], coords: dict[Hashable, Any]) -> xr.DataArray:
    return xr.DataArray(values, dims=keep, coords=coords)


def _moment_jackknife(
    x: np.ndarray, powers: Sequence[int], stat: Callable[[list[np.ndarray], np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """O(R) delete-one jackknife of a function of raw moments, NaN replicas skipped.

    ``stat(moments, n)`` gets the list of raw moments M_p = (1/n) Σ x^p for the given
    powers and the number n of replicas they were computed from. Leave-one-out moments
    are (S_p − x_i^p)/(n − 1). Returns (value, bias_corrected, stderr, n).
    """
    valid = np.isfinite(x)
    n = valid.sum(axis=-1).astype(float)
    xz = np.where(valid, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sums = [(xz**p).sum(axis=-1) for p in powers]
        full = stat([s / n for s in sums], n)
        loo = stat(
            [(s[..., None] - xz**p) / (n[..., None] - 1) for s, p in zip(sums, powers, strict=True)],
            n[..., None] - 1,
        )
        loo = np.where(valid, loo, np.nan)
        mean = np.where(valid, loo, 0.0).sum(axis=-1) / n
        dev2 = np.where(valid, (loo - mean[..., None]) ** 2, 0.0).sum(axis=-1)
        se = np.sqrt((n - 1) / n * dev2)
        corrected = n * full - (n - 1) * mean
    bad = n < 2
    full = np.where(bad, np.nan, full)
    return full, np.where(bad, np.nan, corrected), np.where(bad, np.nan, se), n


def _finite_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the finite entries (0 where there are none), kept dims."""
    ok = np.isfinite(x)
    n = ok.sum(axis=-1, keepdims=True)
    return np.where(ok, x, 0.0).sum(axis=-1, keepdims=True) / np.maximum(n, 1)


def _resolve_size(m: xr.DataArray, n: float | xr.DataArray | None) -> float | xr.DataArray:
    if n is not None:
        return n
    if "N" in m.attrs and np.ndim(m.attrs["N"]) == 0 and float(m.attrs["N"]) > 0:
        return float(m.attrs["N"])
    raise SchemaError(
        "the system size n is not known",
        where="susceptibility(m, n=None) and m.attrs has no scalar 'N'",
        fix="pass n= (number of spins/tokens per configuration); pk.magnetization sets "
        "attrs['N'] when every configuration has the same size",
    )


# ------------------------------------------------------------------------ observables


def susceptibility(
    m: xr.DataArray,
    *,
    replica: Hashable | Iterable[Hashable] = "sample",
    n: float | xr.DataArray | None = None,
    temperature: Hashable | None = None,
    corrected: bool = True,
) -> xr.DataArray:
    """Susceptibility χ = n·(⟨m²⟩ − ⟨m⟩²) over replicas.

    Parameters
    ----------
    m : DataArray
        Order parameter per configuration (e.g. Potts magnetisation).
    replica : dim name(s)
        Dims averaged over (⟨·⟩ = plain mean over replicas; NaN replicas skipped).
    n : number or DataArray, optional
        System size N (spins/tokens per configuration). Default ``m.attrs["N"]``; a
        SchemaError if neither is given.
    temperature : coord/dim name, optional
        Divide by this control value (χ = N·var(m)/T) where the control is a
        temperature; default no division, as in DESIGN.md.
    corrected : bool
        Report the jackknife bias-corrected value (default). For this statistic the
        correction is exact: it equals n·var(m) with the unbiased (ddof = 1) variance.
        ``False`` reports the plain plug-in value.

    Error: delete-one jackknife over replicas (``error_method`` attr).
    Reference: Newman & Barkema, *Monte Carlo Methods in Statistical Physics* (1999),
    §3.4 and §3.4.3 (jackknife); Landau & Binder (2015), §4.
    """
    x, keep, coords = _replica_array(m, replica)
    size = _resolve_size(m, n)
    # central moments are shift invariant: centre for numerical stability
    centre = _finite_mean(x)
    value, corr, se, nrep = _moment_jackknife(
        x - centre, (1, 2), lambda M, _n: M[1] - M[0] ** 2
    )
    chi = corr if corrected else value
    out = _wrap(chi, keep, coords) * size
    err = _wrap(se, keep, coords) * np.abs(size)
    if temperature is not None:
        if temperature not in out.coords:
            raise SchemaError(
                f"temperature={temperature!r} is not a coordinate of the result",
                where=f"coords {list(out.coords)}",
                fix="name a coordinate along a kept dim",
            )
        tvals = out.coords[temperature]
        out = out / tvals
        err = err / abs(tvals)
    out, err = xr.broadcast(out, err)
    return estimate(
        out,
        err,
        name="susceptibility",
        estimator="N*(<m^2>-<m>^2)" + (f"/{temperature}" if temperature is not None else ""),
        bias_correction="jackknife" if corrected else "none",
        error_method="jackknife_over_replicas",
        replica=[str(d) for d in as_dims(replica)],
        N=size if not isinstance(size, xr.DataArray) else "per_cell",
        n_replicas_min=int(np.nanmin(nrep)) if nrep.size else 0,
        order_parameter=str(m.name),
        units="dimensionless",
    )


def binder_cumulant(
    m: xr.DataArray,
    *,
    replica: Hashable | Iterable[Hashable] = "sample",
    corrected: bool = True,
) -> xr.DataArray:
    """Binder cumulant U = 1 − ⟨m⁴⟩ / (3⟨m²⟩²) over replicas.

    U → 2/3 in an ordered phase (m sharply peaked at m₀ > 0), to a constant set by
    the disordered-phase distribution of m, and crosses at T_c for different sizes
    (2D Ising: U* ≈ 0.611). A negative dip that deepens with size signals a
    first-order transition (Challa, Landau & Binder, PRB 34, 1841 (1986)).

    The ratio is biased at finite replica number; ``corrected=True`` (default) reports
    the jackknife bias-corrected value R·U − (R−1)·Ū₍.₎ (the plug-in value is kept in
    nothing else; ask ``corrected=False`` for it). Error: delete-one jackknife over
    replicas. Reference: Binder, Z. Phys. B 43, 119 (1981); Newman & Barkema (1999).
    """
    x, keep, coords = _replica_array(m, replica)
    value, corr, se, nrep = _moment_jackknife(
        x, (2, 4), lambda M, _n: 1.0 - M[1] / (3.0 * M[0] ** 2)
    )
    out = _wrap(corr if corrected else value, keep, coords)
    return estimate(
        out,
        _wrap(se, keep, coords),
        name="binder_cumulant",
        estimator="1-<m^4>/(3<m^2>^2)",
        bias_correction="jackknife" if corrected else "none",
        error_method="jackknife_over_replicas",
        replica=[str(d) for d in as_dims(replica)],
        n_replicas_min=int(np.nanmin(nrep)) if nrep.size else 0,
        order_parameter=str(m.name),
        units="dimensionless",
    )


def _bimodality_from_moments(M: list[np.ndarray], n: np.ndarray) -> np.ndarray:
    m1, m2, m3, m4 = M
    mu2 = m2 - m1**2
    mu3 = m3 - 3 * m1 * m2 + 2 * m1**3
    mu4 = m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4
    g1 = mu3 / mu2**1.5
    g2 = mu4 / mu2**2 - 3.0
    G1 = np.sqrt(n * (n - 1)) / (n - 2) * g1
    G2 = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6)
    return (G1**2 + 1) / (G2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def bimodality(
    m: xr.DataArray, *, replica: Hashable | Iterable[Hashable] = "sample"
) -> xr.DataArray:
    """Sarle's bimodality coefficient of the order parameter across replicas.

    BC = (G₁² + 1) / (G₂ + 3(n−1)² / ((n−2)(n−3)))

    with G₁, G₂ the sample-size-adjusted skewness and excess kurtosis (SAS/Joanes &
    Gill 1998 type-2 estimators) over the n replicas. BC of a uniform distribution is
    5/9 ≈ 0.556; BC > 5/9 suggests a bimodal (or very skewed) distribution — at a
    first-order transition the ordered and disordered phases coexist across replicas.
    Reference: SAS/STAT User's Guide (PROC CLUSTER); Pfister et al., Front. Psychol.
    4, 700 (2013). Error: delete-one jackknife over replicas; the value is the plain
    estimate (not bias corrected). Needs n ≥ 4 replicas (else NaN).
    """
    x, keep, coords = _replica_array(m, replica)
    centre = _finite_mean(x)
    value, _corr, se, nrep = _moment_jackknife(x - centre, (1, 2, 3, 4), _bimodality_from_moments)
    few = nrep < 5  # leave-one-out needs n-1 >= 4
    value = np.where(nrep < 4, np.nan, value)
    se = np.where(few, np.nan, se)
    return estimate(
        _wrap(value, keep, coords),
        _wrap(se, keep, coords),
        name="bimodality",
        estimator="sarle_bimodality_coefficient",
        threshold=5.0 / 9.0,
        bias_correction="none",
        error_method="jackknife_over_replicas",
        replica=[str(d) for d in as_dims(replica)],
        order_parameter=str(m.name),
        units="dimensionless",
    )


def order_histogram(
    m: xr.DataArray,
    *,
    replica: Hashable | Iterable[Hashable] = "sample",
    bins: int | Sequence[float] | np.ndarray = 20,
    range: tuple[float, float] | None = None,  # noqa: A002 - numpy's name
) -> xr.DataArray:
    """Histogram of the order parameter across replicas, per kept cell.

    Returns the fraction f_b = n_b / n of the (non-NaN) replicas in bin b, with dims
    ``(*kept, "bin")``: coordinate ``bin`` holds the bin centres, ``bin_lower`` and
    ``bin_upper`` the edges. All cells share the same edges: ``bins`` edges, or
    ``bins`` equal bins over ``range`` (default [0, 1] when all values lie there, as
    for the Potts magnetisation, else [min, max]). The last bin is closed. Stderr:
    binomial sqrt(f(1 − f)/n). A two-peaked histogram at the boundary is the signature
    of phase coexistence (first-order transition); see :func:`bimodality` for a number.
    """
    x, keep, coords = _replica_array(m, replica)
    finite = x[np.isfinite(x)]
    if np.ndim(bins) == 0:
        nb = int(bins)  # type: ignore[arg-type]
        if nb < 1:
            raise SchemaError("bins must be >= 1", where=f"bins={bins}", fix="pass bins=20")
        if range is None:
            if finite.size == 0 or (finite.min() >= 0.0 and finite.max() <= 1.0):
                range = (0.0, 1.0)
            else:
                lo, hi = float(finite.min()), float(finite.max())
                range = (lo, hi if hi > lo else lo + 1.0)
        edges = np.linspace(range[0], range[1], nb + 1)
    else:
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise SchemaError(
                "bin edges must be a strictly increasing 1-D sequence of >= 2 values",
                where=f"bins={bins!r}", fix="pass e.g. bins=np.linspace(0, 1, 21)",
            )
    nb = edges.size - 1
    idx = np.searchsorted(edges, x, side="right") - 1
    idx = np.where(x == edges[-1], nb - 1, idx)
    ok = np.isfinite(x) & (idx >= 0) & (idx < nb)
    flat = x.reshape(-1, x.shape[-1])
    cells = np.broadcast_to(np.arange(flat.shape[0])[:, None], flat.shape).reshape(x.shape)
    hist = np.bincount(
        (cells * nb + np.where(ok, idx, 0))[ok], minlength=flat.shape[0] * nb
    ).reshape(x.shape[:-1] + (nb,))
    ntot = np.isfinite(x).sum(axis=-1)[..., None].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = hist / ntot
        se = np.sqrt(frac * (1 - frac) / ntot)
    centres = 0.5 * (edges[:-1] + edges[1:])
    coords = dict(coords)
    coords.update({"bin": centres, "bin_lower": ("bin", edges[:-1]), "bin_upper": ("bin", edges[1:])})
    out = xr.DataArray(frac, dims=keep + ("bin",), coords=coords)
    return estimate(
        out,
        se,
        name="order_histogram",
        estimator="histogram_fraction",
        error_method="binomial",
        replica=[str(d) for d in as_dims(replica)],
        order_parameter=str(m.name),
        units="fraction of replicas",
    )


# ----------------------------------------------------------------------------- response


def _local_fits(
    x: np.ndarray, window: int, order: int
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
    """Local polynomial fits of every point of a 1-D grid ``x`` (all finite, sorted).

    Returns, per point j that has a well-posed fit, ``(j, idx, weights, resid)``: the
    window's indices, the derivative weights (ŷ'(x_j) = weights · y[idx]) and the
    residual operator I − A A⁺ (None when the window has no spare points).
    """
    nv = x.size
    w = min(window, nv)
    out: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]] = []
    if w < order + 1 or w < 2:
        return out
    p = min(order, w - 1)
    half = w // 2
    for j in range(nv):
        lo = min(max(j - half, 0), nv - w)
        idx = np.arange(lo, lo + w)
        dx = x[idx] - x[j]
        h = np.max(np.abs(dx))
        if h == 0:
            continue
        A = np.vander(dx / h, p + 1, increasing=True)
        if np.linalg.matrix_rank(A) < p + 1:
            continue
        pinv = np.linalg.pinv(A)
        resid = np.eye(w) - A @ pinv if w > p + 1 else None
        out.append((j, idx, pinv[1] / h, resid))
    return out


def _local_poly_derivative(
    x: np.ndarray, Y: np.ndarray, S: np.ndarray | None, window: int, order: int
) -> tuple[np.ndarray, np.ndarray]:
    """Derivative of local polynomial fits for a batch of series Y (n_series, n_x).

    NaN points are skipped: series are grouped by their pattern of missing points and
    the fits are computed once per pattern.
    """
    D = np.full(Y.shape, np.nan)
    E = np.full(Y.shape, np.nan)
    ok = np.isfinite(Y) & np.isfinite(x)[None, :]
    patterns, inverse = np.unique(ok, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse.reshape(-1) == k)
        pos = np.flatnonzero(pattern)
        ys = Y[np.ix_(rows, pos)]
        ss = S[np.ix_(rows, pos)] if S is not None else None
        w_used = min(window, pos.size)
        p_used = min(order, max(w_used - 1, 0))
        for j, idx, weights, resid in _local_fits(x[pos], window, order):
            col = pos[j]
            D[rows, col] = ys[:, idx] @ weights
            if ss is not None:
                E[rows, col] = np.sqrt((weights**2 * ss[:, idx] ** 2).sum(axis=1))
            elif resid is not None:
                r = ys[:, idx] @ resid.T
                s2 = (r**2).sum(axis=1) / (w_used - p_used - 1)
                E[rows, col] = np.sqrt(s2 * np.sum(weights**2))
    return D, E


def response(
    series: xr.DataArray,
    *,
    control: Hashable = "checkpoint",
    smooth: int = 5,
    order: int = 2,
    coord: Hashable | None = None,
) -> xr.DataArray:
    """Response d(series)/d(control) from a local polynomial (Savitzky–Golay) fit.

    At every point x_i a polynomial of degree ``order`` is fitted by least squares to
    the ``smooth`` points nearest in index (the window is shifted inwards at the ends,
    as ``scipy.signal.savgol_filter(mode="interp")`` does) and its slope at x_i is
    reported: ŷ'(x_i) = Σ_j w_ij y_j, with w_i the second row of the pseudo-inverse
    of the design matrix [(x_j − x_i)^k]. This is the Savitzky–Golay derivative
    generalised to irregular grids (Savitzky & Golay, Anal. Chem. 36, 1627 (1964);
    Gorry, Anal. Chem. 62, 570 (1990)). NaN points are skipped.

    Control values come from ``coord`` (default: ``step`` when ``control ==
    "checkpoint"`` and it exists — the data model's control value — else the index
    coordinate of ``control``, else 0, 1, 2…). Values need not be evenly spaced.

    Stderr: if ``series`` carries a ``stderr`` coordinate it is propagated,
    sqrt(Σ_j w_ij² se_j²) (independent errors assumed; ``error_method="propagated"``);
    otherwise it is estimated from the residuals of each local fit
    (``error_method="local_fit_residuals"``, NaN when the window has no spare points).
    """
    if not isinstance(series, xr.DataArray):
        raise SchemaError(
            f"expected a DataArray, got {type(series).__name__}", where="series",
            fix="pass an order-parameter series, e.g. pk.magnetization(...).mean('sample')",
        )
    require_dims(series, (control,), argument="control")
    if int(smooth) < 2 or int(order) < 1 or int(smooth) < int(order) + 1:
        raise SchemaError(
            f"need smooth >= order + 1 and order >= 1 (got smooth={smooth}, order={order})",
            where="response()", fix="e.g. smooth=5, order=2",
        )
    if coord is None:
        if control == "checkpoint" and "step" in series.coords:
            coord = "step"
        elif control in series.coords:
            coord = control
    if coord is not None:
        if coord not in series.coords or series.coords[coord].dims != (control,):
            raise SchemaError(
                f"coordinate {coord!r} is not a 1-D coordinate along {control!r}",
                where=f"coords {list(series.coords)}", fix="pass coord= naming one",
            )
        xvals = np.asarray(series.coords[coord].values, dtype=float)
    else:
        xvals = np.arange(series.sizes[control], dtype=float)
    has_se = "stderr" in series.coords
    order_idx = np.argsort(xvals, kind="stable")
    keep = tuple(d for d in series.dims if d != control)
    y = np.asarray(series.transpose(*keep, control).values, dtype=float)
    s = np.asarray(stderr_of(series).transpose(*keep, control).values, dtype=float) if has_se else None
    flat_y = y.reshape(-1, y.shape[-1])[:, order_idx]
    flat_s = s.reshape(-1, s.shape[-1])[:, order_idx] if s is not None else None
    xs = xvals[order_idx]
    d = np.full(flat_y.shape, np.nan)
    e = np.full(flat_y.shape, np.nan)
    d[:, order_idx], e[:, order_idx] = _local_poly_derivative(xs, flat_y, flat_s, int(smooth), int(order))
    d = d.reshape(y.shape)
    e = e.reshape(y.shape)
    coords = {k: v.variable for k, v in series.coords.items() if k != "stderr"}
    out = xr.DataArray(d, dims=keep + (control,), coords=coords).transpose(*series.dims)
    err = xr.DataArray(e, dims=keep + (control,), coords=coords).transpose(*series.dims)
    return estimate(
        out,
        err,
        name=f"d_{series.name}_d_{coord if coord is not None else control}" if series.name else "response",
        estimator="local_polynomial_derivative",
        window=int(smooth),
        order=int(order),
        control=str(control),
        control_coord=str(coord) if coord is not None else "index",
        error_method="propagated" if has_se else "local_fit_residuals",
        units=f"{series.attrs.get('units', 'dimensionless')} per control unit",
    )
