"""Choose the series-path constants of ``detect_boundaries`` on synthetic series only.

The series path has three constants: the factor ``f`` of the penalty
``f (C + 1) log n``, the shortest segment ``SERIES_MIN_SIZE`` and the cap ``RHO_MAX``
of the AR(1) no-change null. They used to be chosen on the 30 TCPD series, which made
TCPD an in-sample score. Here they are chosen on a synthetic family that shares no
data with TCPD -- piecewise-constant means (0-4 changes, jumps of 0.5-4 noise sd) with
Gaussian, AR(1) (rho 0.3-0.7), Student-t(3) or Gaussian + slow random-walk noise,
segments of 3 or more points, lengths 40-400 -- scored like TCPD (margin F1 with margin 5, segmentation covering,
van den Burg & Williams 2020). TCPD (``bench_tcpd.py``) is then out-of-sample.

Run ``python benchmarks/bench_changepoint_constants.py`` (a few minutes);
``main(smoke=True)`` scores a 2 x 2 grid on 6 series.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import xarray as xr

import phasekit.transitions as tr
from phasekit.cpmetrics import margin_f1, segmentation_covering

GRID = {"factor": (2.0, 3.0, 4.0, 6.0), "min_size": (2, 3, 5, 8), "rho_max": (0.8, 0.95)}


def synthetic_series(seed: int) -> tuple[np.ndarray, list[int]]:
    """One synthetic series and its true change points (first index of new segments)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 401))
    m = int(min(rng.poisson(1.5), 4, n // 20))
    cps = sorted(rng.choice(np.arange(3, n - 2), size=m, replace=False).tolist()) if m else []
    while any(b - a < 3 for a, b in zip([0, *cps], [*cps, n], strict=True)):
        cps = cps[:-1]
    mean = np.zeros(n)
    for c in cps:
        mean[c:] += rng.choice([-1, 1]) * rng.uniform(0.5, 4.0)
    kind = rng.integers(4)
    if kind == 0:
        noise = rng.normal(size=n)
    elif kind == 1:
        rho = rng.uniform(0.3, 0.7)
        e = rng.normal(size=n) * np.sqrt(1 - rho**2)
        noise = np.empty(n)
        noise[0] = rng.normal()
        for i in range(1, n):
            noise[i] = rho * noise[i - 1] + e[i]
    elif kind == 2:
        noise = rng.standard_t(3, size=n) / np.sqrt(3)
    else:
        noise = rng.normal(size=n) + np.cumsum(rng.normal(0, 0.05, size=n))
    return mean + noise, [int(c) for c in cps]


def score(factor: float, min_size: int, rho_max: float, series: list) -> tuple[float, float]:
    old = tr.RHO_MAX
    tr.RHO_MAX = rho_max
    try:
        f1, cov = [], []
        for y, cps in series:
            pen = factor * 2 * np.log(len(y))  # (C + 1) = 2 for one channel
            res = tr.detect_boundaries(xr.DataArray(y, dims="t"), dim="t", penalty=pen, min_size=min_size)
            f1.append(margin_f1(cps, res.indices, margin=5))
            cov.append(segmentation_covering(cps, res.indices, len(y)))
    finally:
        tr.RHO_MAX = old
    return float(np.mean(cov)), float(np.mean(f1))


def main(smoke: bool = False) -> dict:
    n_series = 6 if smoke else 200
    grid = {k: v[:2] for k, v in GRID.items()} if smoke else GRID
    series = [synthetic_series(10_000 + s) for s in range(n_series)]
    t0 = time.perf_counter()
    rows = []
    for factor, min_size, rho_max in itertools.product(*grid.values()):
        cov, f1 = score(factor, min_size, rho_max, series)
        rows.append({"factor": factor, "min_size": min_size, "rho_max": rho_max, "cover": cov, "f1": f1})
    rows.sort(key=lambda r: -(r["cover"] + r["f1"]))
    print(f"synthetic family: {n_series} series, {len(rows)} settings, {time.perf_counter() - t0:.0f} s")
    print(f"{'factor':>7}{'min_size':>9}{'rho_max':>8}{'cover':>8}{'F1':>8}")
    for r in rows[:8]:
        print(f"{r['factor']:7.1f}{r['min_size']:9d}{r['rho_max']:8.2f}{r['cover']:8.3f}{r['f1']:8.3f}")
    current = [r for r in rows if (r["factor"], r["min_size"], r["rho_max"]) == (3.0, 5, 0.8)]
    if current:
        c = current[0]
        print(f"previous (TCPD-tuned) setting 3.0 / 5 / 0.80: cover {c['cover']:.3f}, F1 {c['f1']:.3f}")
    return {"best": rows[0], "rows": rows}


if __name__ == "__main__":
    main()
