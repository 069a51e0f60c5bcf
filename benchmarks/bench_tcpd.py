"""Score change-point detectors on the Turing change-point benchmark (TCPD).

Reads the TCPD data set (van den Burg & Williams 2020, arXiv:2003.06222) from
``$PHASEKIT_TCPD`` or ``../shared/data/tcpd`` relative to the repository, keeps the
univariate series without missing values (30 series), and scores side by side, with
TCPD's margin of 5 and all annotators:

* ``phasekit``: ``phasekit.changepoints.detect_boundaries`` with its defaults (its
  series-path constants are chosen on synthetic series by
  ``bench_changepoint_constants.py``, not on TCPD, so this is an out-of-sample score);
  the run is repeated to check that the same call gives the same answer;
* ``ruptures_binseg`` / ``ruptures_pelt``: plain ruptures with its default ``l2`` cost,
  ``min_size=2``, ``jump=5``, on the series standardised to unit variance, with the
  BIC penalty ``pen = 2 log n`` (ruptures has no default penalty);
* ``zero``: the baseline that reports no change point.

Published reference values on these 30 series (TCPD's own runs): Binseg as TCPD ran it
(R changepoint, MBIC, at most 5 change points) cover 0.693 / F1 0.738; zero baseline
0.575 / 0.668; oracle (best setting per series, bocpd) about 0.79 / 0.88. The data is
only read; it is never copied into the repository (each data set keeps its licence).

Run ``python benchmarks/bench_tcpd.py`` (or ``main(ci=True)``, the same 30 series);
``main(smoke=True)`` scores 3 short series. Every full run is a look at TCPD, and so a
chance to tune on it: docs/changepoints.md ("TCPD") lists each run made while the
series path was being changed, with its scores. Changes are judged on the synthetic
families of ``bench_changepoint_constants.py`` instead.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import ruptures as rpt
import xarray as xr

from phasekit.changepoints import detect_boundaries, margin_f1, segmentation_covering

PUBLISHED = {
    "binseg_tcpd_default": (0.693, 0.738),
    "zero_tcpd": (0.575, 0.668),
    "oracle_bocpd": (0.79, 0.88),
}


def data_dir() -> Path:
    env = os.environ.get("PHASEKIT_TCPD")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tcpd"


def load_series(root: Path) -> list[dict]:
    """Univariate TCPD series without missing values, with their annotations."""
    annotations = json.loads((root / "annotations.json").read_text())
    out = []
    for path in sorted((root / "datasets").glob("*/*.json")):
        d = json.loads(path.read_text())
        if d.get("n_dim") != 1 or len(d["series"]) != 1:
            continue
        raw = d["series"][0]["raw"]
        if any(v is None for v in raw):
            continue
        name = d["name"]
        if name not in annotations:
            continue
        out.append({"name": name, "y": np.asarray(raw, dtype=float), "annotations": annotations[name]})
    return out


def _phasekit(y: np.ndarray, **kwargs) -> list[int]:
    with warnings.catch_warnings():  # the AR(1) check's warning: counted, not printed
        warnings.simplefilter("ignore", RuntimeWarning)
        res = detect_boundaries(xr.DataArray(y, dims=["t"]), control="t", **kwargs)  # defaults, default seed
    return list(res.indices)


def ruptures_breaks(y: np.ndarray, algo: str) -> list[int]:
    """Plain ruptures ``binseg`` or ``pelt`` (l2, min_size 2, jump 5, pen = 2 log n) on
    the series standardised to unit variance: the baseline above."""
    z = (y - y.mean()) / (y.std() if y.std() > 0 else 1.0)
    cls = rpt.Binseg if algo == "binseg" else rpt.Pelt
    bk = cls(model="l2", min_size=2, jump=5).fit(z[:, None]).predict(pen=2 * np.log(len(z)))
    return [b for b in bk if b < len(z)]


_phasekit_cache: list = []

DETECTORS = {
    "phasekit": _phasekit,
    "phasekit_ar1_null": lambda y: _phasekit(y, series_null="ar1"),  # the default before 2026-12-08
    "ruptures_binseg": lambda y: ruptures_breaks(y, "binseg"),
    "ruptures_pelt": lambda y: ruptures_breaks(y, "pelt"),
    "zero": lambda y: [],
}


def main(smoke: bool = False, ci: bool = False) -> dict:
    """Score every detector on the TCPD series (``smoke``: 3 short series; ``ci``: all 30,
    which take about a minute)."""
    root = data_dir()
    if not (root / "annotations.json").exists():
        print(f"TCPD data not found at {root} (set PHASEKIT_TCPD); nothing to do")
        return {}
    series = load_series(root)
    if smoke:
        series = sorted(series, key=lambda s: len(s["y"]))[:3]
    _phasekit_cache.clear()
    scores: dict[str, dict[str, float]] = {}
    per_series: dict[str, dict[str, tuple[float, float]]] = {}
    for det, fn in DETECTORS.items():
        t0 = time.perf_counter()
        cov, f1 = [], []
        for s in series:
            pred = fn(s["y"])
            if det == "phasekit":
                _phasekit_cache.append(pred)
            c = segmentation_covering(s["annotations"], pred, len(s["y"]))
            f = margin_f1(s["annotations"], pred, margin=5)
            cov.append(c)
            f1.append(f)
            per_series.setdefault(s["name"], {})[det] = (round(c, 3), round(f, 3))
        scores[det] = {"cover": float(np.mean(cov)), "f1": float(np.mean(f1)),
                       "seconds": time.perf_counter() - t0}
    print(f"TCPD: {len(series)} univariate series without missing values (margin 5)")
    print(f"{'detector':<22}{'cover':>8}{'F1':>8}{'seconds':>10}")
    for det, sc in scores.items():
        print(f"{det:<22}{sc['cover']:8.3f}{sc['f1']:8.3f}{sc['seconds']:10.1f}")
    for name, (c, f) in PUBLISHED.items():
        print(f"{name + ' (published)':<22}{c:8.3f}{f:8.3f}")
    again = [_phasekit(s["y"]) for s in series]
    same = all(again[i] == list(_phasekit_cache[i]) for i in range(len(series)))
    print(f"phasekit repeated: identical predictions on all {len(series)} series: {same}")
    z = scores["zero"]
    pk = scores["phasekit"]
    print(f"phasekit / zero baseline: cover x{pk['cover'] / z['cover']:.3f}, F1 x{pk['f1'] / z['f1']:.3f}")
    return {"n_series": len(series), "scores": scores, "published": PUBLISHED,
            "per_series": per_series, "deterministic": same}


if __name__ == "__main__":
    main()
