"""The collapse quality (Houdayer–Hartmann on ragged grids) and its global search.

Pure numerical pieces of :func:`phasekit.scaling.finite_size_collapse`: the stacked
points of all sizes, the quality kernel (compiled with numba when installed; the
pure-Python reference is tested equal), the search box, the penalised objective,
differential evolution + Nelder–Mead, and a finite-difference Hessian.

References: J. Houdayer and A. K. Hartmann, Phys. Rev. B 70, 014418 (2004);
O. Melchert, arXiv:0910.5403 (2009).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from ..errors import SchemaError
from .curves import Curve as _Curve

_PARAMS = ("critical_point", "inv_nu", "exponent", "correction")


@dataclass
class _Stack:
    """All points of all sizes, concatenated (ragged grids welcome)."""

    sizes: np.ndarray  # (n_sizes,)
    L: np.ndarray  # (n,)
    group: np.ndarray  # (n,) index into sizes
    t: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    has_errors: bool
    bounds: list[tuple[int, int]]  # slice of each size in the stacked arrays


def _stack(curves: dict[float, _Curve]) -> _Stack:
    sizes = np.array(list(curves), dtype=float)
    L, g, t, y, dy, bounds = [], [], [], [], [], []
    start = 0
    has_errors = all(c.dy is not None for c in curves.values())
    for i, (size, c) in enumerate(curves.items()):
        n = c.t.size
        L.append(np.full(n, size))
        g.append(np.full(n, i))
        t.append(c.t)
        y.append(c.y)
        if has_errors and c.dy is not None:
            d = np.where(np.isfinite(c.dy) & (c.dy > 0), c.dy, np.nan)
            fill = np.nanmin(d) if np.any(np.isfinite(d)) else 1.0
            dy.append(np.where(np.isfinite(d), d, fill))
        else:
            dy.append(np.ones(n))
        bounds.append((start, start + n))
        start += n
    return _Stack(sizes, np.concatenate(L), np.concatenate(g), np.concatenate(t),
                  np.concatenate(y), np.concatenate(dy), has_errors, bounds)


@dataclass
class _Quality:
    S: Any  # (P,) array, or a float at the optimum
    n_overlap: Any  # (P,)
    n_total: int
    S_null: Any  # (P,)

    @property
    def overlap(self) -> np.ndarray:
        return self.n_overlap / self.n_total

    @property
    def relative(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.S_null > 0, self.S / self.S_null, np.inf)


def _quality_rows_py(x, y, dy, starts, group, order):
    """Pure-Python reference of the collapse-quality kernel (compiled by numba when present).

    ``x, y, dy``: (P, n) scaled points, each size's block sorted by x; ``starts``:
    block boundaries (n_sizes + 1,); returns (S, n_over, S_null) per row.
    """
    P, n = x.shape
    n_sizes = starts.size - 1
    S = np.empty(P)
    n_over = np.zeros(P, dtype=np.int64)
    S_null = np.empty(P)
    used = np.zeros(n, dtype=np.bool_)
    Ym = np.zeros(n)
    dYm2 = np.zeros(n)
    for p in range(P):
        for i in range(n):
            xi = x[p, i]
            W = WY = 0.0
            used[i] = False
            for k in range(n_sizes):
                if group[i] == k:
                    continue
                lo, hi = starts[k], starts[k + 1]
                nk = hi - lo
                if nk < 2 or xi < x[p, lo] or xi > x[p, hi - 1]:
                    continue
                a, b = 0, nk
                while a < b:  # first index with x > xi
                    mid = (a + b) // 2
                    if x[p, lo + mid] <= xi:
                        a = mid + 1
                    else:
                        b = mid
                j = a
                if j >= nk:
                    j = nk - 1
                m = min(order + 1, nk)
                s0 = min(max(j - m // 2, 0), nk - m)
                Yk = Vk = 0.0
                ok = True
                for u in range(m):
                    cu = 1.0
                    xu = x[p, lo + s0 + u]
                    for v in range(m):
                        if v != u:
                            den = xu - x[p, lo + s0 + v]
                            if den == 0.0:
                                ok = False
                                break
                            cu *= (xi - x[p, lo + s0 + v]) / den
                    Yk += cu * y[p, lo + s0 + u]
                    Vk += cu * cu * dy[p, lo + s0 + u] ** 2
                if not ok or not (Vk > 0.0) or not np.isfinite(Yk):
                    continue
                W += 1.0 / Vk
                WY += Yk / Vk
            if W > 0.0:
                used[i] = True
                Ym[i] = WY / W
                dYm2[i] = 1.0 / W
        cnt, acc, sw, swy = 0, 0.0, 0.0, 0.0
        for i in range(n):
            if used[i]:
                cnt += 1
                acc += (y[p, i] - Ym[i]) ** 2 / (dy[p, i] ** 2 + dYm2[i])
                w = 1.0 / dy[p, i] ** 2
                sw += w
                swy += w * y[p, i]
        n_over[p] = cnt
        if cnt >= 3:
            S[p] = acc / cnt
            ybar = swy / sw
            acc0 = 0.0
            for i in range(n):
                if used[i]:
                    acc0 += (y[p, i] - ybar) ** 2 / dy[p, i] ** 2
            S_null[p] = acc0 / cnt
        else:
            S[p] = np.inf
            S_null[p] = np.nan
    return S, n_over, S_null


try:  # numba is optional (phasekit[fast]); the kernel is ~100x faster compiled
    import numba as _numba

    _quality_rows: Any = _numba.njit(cache=True, nogil=True)(_quality_rows_py)
except ImportError:  # pragma: no cover - exercised only without numba
    _quality_rows = _quality_rows_py


def _quality(st: _Stack, tc, inv_nu, a, c, omega: float, order: int = 3) -> _Quality:
    """Houdayer–Hartmann-type collapse quality for a batch of P parameter sets.

    Every point ``(x_ij, y_ij ± dy_ij)`` of size i (``x = (t − t_c) L^{1/ν}``,
    ``y = obs L^{−a}/(1 + c L^{−ω})``, errors scaled alike) is compared with the master
    curve built from the *other* sizes only, and only where they bracket ``x_ij``: each
    such size k gives a local Lagrange interpolant ``Y_k ± dY_k`` (degree ``order``,
    cubic by default, on the points around the bracket; linear propagation of the
    errors), and the sizes are combined by inverse-variance weighting into
    ``Y_ij ± dY_ij``. Then

        S = (1/N_over) Σ (y_ij − Y_ij)² / (dy_ij² + dY_ij²)

    over the ``N_over`` points that have at least one bracketing size (Houdayer &
    Hartmann 2004 use a weighted line through the bracketing points, i.e. ``order=1``
    with a joint fit; the cubic interpolant removes the bias of linear interpolation
    on coarse grids). ``S ≈ 1`` when the collapse holds within the error bars. Ragged
    grids need no common support. ``S_null`` is the same statistic for a flat master
    curve (the weighted mean of the compared points).
    """
    tc, inv_nu, a, c = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (tc, inv_nu, a, c))
    P = max(tc.size, inv_nu.size, a.size, c.size)
    tc, inv_nu, a, c = (np.broadcast_to(v, (P,)) for v in (tc, inv_nu, a, c))
    L = st.L[None, :]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        x = (st.t[None, :] - tc[:, None]) * L ** inv_nu[:, None]
        scale = L ** (-a[:, None]) / (1.0 + c[:, None] * L ** (-omega))
        y = st.y[None, :] * scale
        dy = st.dy[None, :] * np.abs(scale)
    starts = np.array([b[0] for b in st.bounds] + [st.bounds[-1][1]], dtype=np.int64)
    S, n_over, S_null = _quality_rows(
        np.ascontiguousarray(x), np.ascontiguousarray(y), np.ascontiguousarray(dy),
        starts, st.group.astype(np.int64), int(order),
    )
    S = np.where(np.isfinite(S), S, np.inf)
    return _Quality(S, n_over, st.t.size, S_null)




def _box(curves: dict[float, _Curve], bounds: Mapping[str, Sequence[float]] | None,
         ) -> dict[str, tuple[float, float]]:
    lo = max(c.t[0] for c in curves.values())
    hi = min(c.t[-1] for c in curves.values())
    if not hi > lo:
        lo = min(c.t[0] for c in curves.values())
        hi = max(c.t[-1] for c in curves.values())
    box = {"critical_point": (lo, hi), "inv_nu": (0.1, 3.0), "exponent": (-3.0, 3.0),
           "correction": (-5.0, 5.0)}
    for key, val in (bounds or {}).items():
        b = (float(val[0]), float(val[1]))
        if not b[1] > b[0]:
            raise SchemaError(f"bounds[{key!r}] = {val} is empty", where="bounds=",
                              fix="pass (low, high) with low < high")
        if key == "nu":
            if b[0] <= 0:
                raise SchemaError("bounds for nu must be positive", where="bounds=",
                                  fix="pass e.g. {'nu': (0.3, 10)}")
            box["inv_nu"] = (1.0 / b[1], 1.0 / b[0])
        elif key in box:
            box[key] = b
        else:
            raise SchemaError(f"unknown bounds key {key!r}", where="bounds=",
                              fix="use critical_point, nu, inv_nu, exponent or correction")
    return box


@dataclass
class Objective:
    """Penalised quality as a function of the free parameters (vectorised over columns).

    Parameter choices that leave fewer than ``min_overlap`` of the points with another
    size to compare with are penalised: an unguarded S is smallest where almost nothing
    overlaps (the trivial minima pyfssa's search lands in from a neutral start).
    """

    st: _Stack
    fixed: dict[str, float]
    free: list[str]
    omega: float
    min_overlap: float
    order: int

    def full(self, theta: Any) -> dict[str, Any]:
        p: dict[str, Any] = dict(self.fixed)
        p.update(zip(self.free, theta, strict=True))
        return p

    def quality(self, theta: Any) -> _Quality:
        p = self.full(np.asarray(theta, dtype=float))
        return _quality(self.st, p["critical_point"], p["inv_nu"], p["exponent"],
                        p.get("correction", 0.0), self.omega, self.order)

    def __call__(self, theta: Any) -> Any:
        theta = np.asarray(theta, dtype=float)
        q = self.quality(theta)
        deficit = np.maximum(0.0, self.min_overlap - q.overlap) / self.min_overlap
        null = np.where(np.isfinite(q.S_null) & (q.S_null > 0), q.S_null, 1.0)
        val = q.S * (1.0 + 20.0 * deficit) + 1e3 * deficit * null
        val = np.where(np.isfinite(val), val, 1e12)
        return val if theta.ndim > 1 else float(val[0])


def _minimize(objective, box_free, x0=None, seed=None, global_search=True, maxiter=200):
    """Differential evolution over the box (vectorised), then bounded Nelder–Mead."""
    if global_search:
        res = optimize.differential_evolution(
            objective, box_free, seed=seed, maxiter=maxiter, popsize=15, tol=1e-3,
            atol=1e-9, mutation=(0.5, 1.0), recombination=0.7, polish=False, init="sobol",
            vectorized=True, updating="deferred",
        )
        x0 = res.x
    res = optimize.minimize(
        objective, x0, method="Nelder-Mead", bounds=box_free,
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000, "adaptive": True},
    )
    return res.x, float(res.fun)


def _hessian(f, x, h):
    n = x.size
    H = np.empty((n, n))
    f0 = f(x)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (
                f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
            ) / (4 * h[i] * h[j])
    return H


