"""Shared machinery of the Bayesian estimators: Dirichlet moments of H (Wolpert & Wolf
1995), per-configuration adaptive grids, Simpson weights, chunking by memory budget."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ._special import _trigamma
from .fingerprint import _FP

_MAX_CELLS = 1_500_000  # entries x grid points evaluated at once (memory bound)


def _dirichlet_sums(a: np.ndarray, w: np.ndarray | float, big_a: np.ndarray, at_a2=None):
    """Per-component terms of the Dirichlet moments of H (rows = components).

    For p ~ Dir(a_1..a_n), A = sum a_i (Wolpert & Wolf 1995):
    ``E[H] = psi(A+1) - sum_i a_i psi(a_i+1)/A`` and
    ``E[H^2] = [ (sum u)^2 - sum u^2 - psi1(A+2)(A^2 - sum a^2)
               + sum a(a+1){(psi(a+2)-psi(A+2))^2 + psi1(a+2) - psi1(A+2)} ] / (A(A+1))``
    with ``u_i = a_i (psi(a_i+1) - psi(A+2))``.  Returns the w-weighted per-row terms
    ``(a psi(a+1), u, u^2, a^2, diag)`` that are summed over components.  ``at_a2``:
    optional precomputed ``(psi(A+2), psi1(A+2))`` broadcastable to ``a`` (they depend on
    the configuration only, not on the component); ``psi(a+2) = psi(a+1) + 1/(a+1)``.
    """
    pa2, t1a2 = _at_a2(big_a) if at_a2 is None else at_a2
    d1 = digamma(a + 1.0)
    u = a * (d1 - pa2)
    dd = d1 + 1.0 / (a + 1.0) - pa2
    diag = a * (a + 1.0) * (dd * dd + _trigamma(a + 2.0) - t1a2)
    return w * a * d1, w * u, w * u * u, w * a * a, w * diag


def _dirichlet_power_sums(a: np.ndarray, w) -> list[np.ndarray]:
    """The A-independent per-component terms of :func:`_dirichlet_sums`.

    With ``d1 = psi(a+1)``, ``e = psi(a+2) = d1 + 1/(a+1)``, ``b = a(a+1)``: the w-weighted
    ``a, a d1, a^2 d1^2, a^2 d1, a^2, b e^2, b e, b, b psi1(a+2)``.  Summed over components
    and combined with ``psi(A+2)``, ``psi1(A+2)`` by :func:`_dirichlet_sums_from_power`
    they give the same five sums (the squares in ``u^2`` and ``diag`` expanded), so a
    family of Dirichlets that differ only in A costs one pass over the components.
    """
    d1 = digamma(a + 1.0)
    e = d1 + 1.0 / (a + 1.0)
    b = a * (a + 1.0)
    wa = w * a
    wa2 = wa * a
    wb = w * b
    return [wa, wa * d1, wa2 * d1 * d1, wa2 * d1, wa2, wb * e * e, wb * e, wb, wb * _trigamma(a + 2.0)]


def _dirichlet_sums_from_power(p: list[np.ndarray], pa2: np.ndarray, t1a2: np.ndarray):
    """The five sums of :func:`_dirichlet_sums` from :func:`_dirichlet_power_sums`:
    ``sum u = sum a d1 - psi(A+2) sum a``, ``sum u^2 = sum a^2 d1^2 - 2 psi(A+2) sum a^2 d1
    + psi(A+2)^2 sum a^2``, ``sum diag = sum b (e - psi(A+2))^2 + sum b psi1(a+2)
    - psi1(A+2) sum b``."""
    sa, sad1, sa2d12, sa2d1, sa2, sbe2, sbe, sb, sbt = p
    s_u = sad1 - pa2 * sa
    s_uu = sa2d12 - 2.0 * pa2 * sa2d1 + pa2 * pa2 * sa2
    s_diag = sbe2 - 2.0 * pa2 * sbe + pa2 * pa2 * sb + sbt - t1a2 * sb
    return [sad1 + 0.0 * pa2, s_u, s_uu, sa2 + 0.0 * pa2, s_diag]


def _at_a2(big_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(psi(A+2), psi1(A+2))``, the component-independent part of :func:`_dirichlet_sums`."""
    return digamma(big_a + 2.0), _trigamma(big_a + 2.0)


def _moments_from_sums(big_a, s_ad1, s_u, s_uu, s_a2, s_diag):
    """E[H] and E[H^2] of Dir(a) from the component sums of :func:`_dirichlet_sums`:
    ``E[H] = psi(A+1) - sum a psi(a+1)/A`` and ``E[H^2] = [(sum u)^2 - sum u^2 - psi1(A+2)(A^2 -
    sum a^2) + sum diag] / (A(A+1))`` (Wolpert & Wolf 1995, Phys. Rev. E 52:6841)."""
    eh = digamma(big_a + 1.0) - s_ad1 / big_a
    eh2 = (s_u * s_u - s_uu - _trigamma(big_a + 2.0) * (big_a * big_a - s_a2) + s_diag) / (
        big_a * (big_a + 1.0)
    )
    return eh, eh2


def _segment_sum(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum rows of ``x`` over contiguous non-empty segments beginning at ``starts``."""
    return np.add.reduceat(x, starts, axis=0)


def _simpson_weights(x: np.ndarray) -> np.ndarray:
    """Composite Simpson weights along the last axis of per-row uniform grids (odd length)."""
    g = x.shape[-1]
    if g % 2 == 0:
        raise ValueError("Simpson's rule needs an odd number of grid points")
    c = np.ones(g)
    c[1:-1:2] = 4.0
    c[2:-1:2] = 2.0
    step = (x[..., -1:] - x[..., :1]) / (g - 1)
    return step / 3.0 * c


def _refine(grid: np.ndarray, logp: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_grid: int,
            drop: float = 30.0) -> np.ndarray:
    """A new uniform grid per row covering where ``logp`` is within ``drop`` of its max.

    The bracket extends one old grid step beyond the last point above the threshold (or to
    the domain limits ``lo``/``hi``), so a unimodal posterior is never cut.
    """
    g = grid.shape[-1]
    mx = np.max(logp, axis=-1, keepdims=True)
    above = logp >= mx - drop
    idx = np.arange(g)
    first = np.min(np.where(above, idx, g), axis=-1)
    last = np.max(np.where(above, idx, -1), axis=-1)
    rows = np.arange(grid.shape[0])
    left = np.where(first > 0, grid[rows, np.maximum(first - 1, 0)], lo)
    right = np.where(last < g - 1, grid[rows, np.minimum(last + 1, g - 1)], hi)
    t = np.linspace(0.0, 1.0, n_grid)[None, :]
    return left[:, None] + (right - left)[:, None] * t


def _chunks(fp_cfg_sorted: np.ndarray, n_cfg: int, n_grid: int):
    """Split configs (with entries sorted by config) into chunks of bounded size."""
    counts = np.bincount(fp_cfg_sorted, minlength=n_cfg)
    ends = np.cumsum(counts)
    budget = max(_MAX_CELLS // max(n_grid, 1), 1)
    c0 = 0
    while c0 < n_cfg:
        base = ends[c0 - 1] if c0 > 0 else 0
        c1 = int(np.searchsorted(ends, base + budget, side="right"))
        c1 = max(c1, c0 + 1)
        c1 = min(c1, n_cfg)
        yield c0, c1, int(base), int(ends[c1 - 1])
        c0 = c1


def _active(fp: _FP):
    """Configs with N > 0, their entries sorted by config, and segment starts."""
    act = np.nonzero(fp.N > 0)[0]
    remap = np.full(fp.n, -1)
    remap[act] = np.arange(act.size)
    keep = remap[fp.cfg] >= 0
    keep &= fp.f > 0
    cfg = remap[fp.cfg[keep]]
    order = np.argsort(cfg, kind="stable")
    return act, cfg[order], fp.j[keep][order], fp.f[keep][order]


def _unfilled_moments(n_act: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN log-evidence, mean and second moment for ``n_act`` active configurations (a
    posterior fills in what it computes)."""
    return np.full(n_act, np.nan), np.full(n_act, np.nan), np.full(n_act, np.nan)


def _k_rows(k: float | np.ndarray, act: np.ndarray) -> np.ndarray:
    """K per active configuration: a scalar K broadcast, or a per-configuration array
    (length ``n_config``) restricted to the active configurations."""
    k_arr = np.asarray(k, dtype=float)
    return np.full(act.size, float(k_arr)) if k_arr.ndim == 0 else k_arr[act]


def _finish(fp: _FP, act, mean, second) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd ``sqrt(E[H^2] - E[H]^2)`` per configuration (NaN where inactive)."""
    h = np.full(fp.n, np.nan)
    sd = np.full(fp.n, np.nan)
    h[act] = mean
    sd[act] = np.sqrt(np.maximum(second - mean * mean, 0.0))
    return h, sd
