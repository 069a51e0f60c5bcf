"""Change points on samples with known boundaries: phasekit's default against alternatives.

Scenarios (all with ground truth):

* jump runs -- 40 checkpoints, 24 prompts x 8 samples, q = 10; every prompt's logits
  jump at two checkpoints on top of a logit random walk: ``strong_drift`` (jump sd 1.0,
  drift 0.15), ``moderate`` (0.7, 0.05), ``jitter`` (0.8, 0.05, plus a Dirichlet(200 p)
  redraw of every (checkpoint, prompt) distribution); the same without jumps as nulls;
* three-phase runs of ``phasekit.datasets.crystallisation_run`` (settling forced, runs
  with a detectable swap: the seed's two top masses differ by >= 0.1) at layouts from
  24 prompts x 8 samples to 8 x 64.

Detectors: ``detect_boundaries`` with its defaults (exact PELT + scan test), the same
with ``method="binseg"``, and plain ruptures Pelt (l2, BIC ``2 log n``) on the
prompt-averaged entropy and magnetisation. Recall / precision within +-1 checkpoint
(jump runs), margin-F1 with margin 2 (three-phase runs), runs with any boundary (nulls).

Interval calibration: weak single jumps whose location is uncertain (3 prompts x 12
samples, q = 4, jump sd 0.9, no drift): the share of detected true boundaries whose 95 %
set holds the true checkpoint, and the mean width of the sets.

Run ``python benchmarks/bench_changepoints.py`` (30 runs per scenario, 8 per layout, 100
coverage runs); ``main(ci=True)`` 12 / 4 / 40; ``main(smoke=True)`` is a quick look.
"""

from __future__ import annotations

import time

import numpy as np
import ruptures as rpt

from phasekit.changepoints import detect_boundaries, interval_coverage, margin_f1, phase_levels
from phasekit.datasets.crystallisation import crystallisation_run, drifting_jump_run

SCENARIOS = {
    "strong_drift": {"jump": 1.0, "drift": 0.15, "conc": None},
    "moderate": {"jump": 0.7, "drift": 0.05, "conc": None},
    "jitter": {"jump": 0.8, "drift": 0.05, "conc": 200.0},
    "null_drift": {"jump": 0.0, "drift": 0.15, "conc": None},
    "null_jitter": {"jump": 0.0, "drift": 0.05, "conc": 200.0},
}
LAYOUTS = [(24, 8), (16, 12), (12, 16), (8, 24), (8, 64)]


jump_run = drifting_jump_run   # the generator of tests/test_validation_changepoints.py


def _ruptures_levels(ds) -> list[int]:
    lv = phase_levels(ds)
    x = np.column_stack([lv["entropy"].values, lv["magnetization"].values])
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    bk = rpt.Pelt(model="l2", min_size=2, jump=1).fit(x).predict(pen=2 * np.log(len(x)))
    return [b for b in bk if b < len(x)]


DETECTORS = {
    "phasekit": lambda ds: detect_boundaries(ds).indices,
    "phasekit_binseg": lambda ds: detect_boundaries(ds, method="binseg").indices,
    "ruptures_levels": _ruptures_levels,
}


def _hits(truth, pred, margin=1):
    tp = sum(any(abs(t - x) <= margin for x in pred) for t in truth)
    good = sum(any(abs(t - x) <= margin for t in truth) for x in pred)
    return np.array([tp, len(truth), good, len(pred)])


def detectable_seeds(prompts: int, samples: int, n: int) -> list[int]:
    """The first ``n`` seeds from 0 whose settling swap is detectable (the seed's two top
    masses differ by >= 0.1; a swap of nearly equal masses is below any detector's noise)."""
    out, seed = [], 0
    while len(out) < n:
        _, truth = crystallisation_run(seed=seed, n_prompts=prompts, n_samples=samples, settling=True)
        top = np.sort(truth["seed_distribution"])[::-1]
        if top[0] - top[1] >= 0.1:
            out.append(seed)
        seed += 1
    return out


def coverage(n_runs: int) -> dict[str, float]:
    """Coverage of the 95 % location sets on weak jumps (location uncertain by a few checkpoints)."""
    runs = (jump_run(2000 + s, jump=0.9, drift=0.0, conc=None, prompts=3, samples=12, q=4)
            for s in range(n_runs))
    return interval_coverage(runs)


def main(smoke: bool = False, ci: bool = False) -> dict:
    n_runs = 3 if smoke else (12 if ci else 30)
    n_layout = 2 if smoke else (4 if ci else 8)
    out: dict = {"jump": {}, "layouts": {}}
    t0 = time.perf_counter()
    print(f"jump runs ({n_runs} per scenario): recall / precision within +-1; nulls: runs with a boundary")
    print(f"{'scenario':<14}" + "".join(f"{d:>22}" for d in DETECTORS))
    for name, kw in SCENARIOS.items():
        acc = {d: np.zeros(4) for d in DETECTORS}
        alarms = dict.fromkeys(DETECTORS, 0)
        for s in range(n_runs):
            ds, truth = jump_run(s, **kw)
            for d, fn in DETECTORS.items():
                pred = fn(ds)
                acc[d] += _hits(truth, pred)
                alarms[d] += len(pred) > 0
        if kw["jump"] > 0:
            cells = {d: (a[0] / a[1], a[2] / max(a[3], 1)) for d, a in acc.items()}
            print(f"{name:<14}" + "".join(f"{r:>13.2f} / {p:.2f}" for r, p in cells.values()))
        else:
            cells = {d: alarms[d] / n_runs for d in DETECTORS}
            print(f"{name:<14}" + "".join(f"{alarms[d]:>17d} / {n_runs}" for d in DETECTORS))
        out["jump"][name] = cells
    print(f"three-phase runs ({n_layout} per layout, detectable settling): mean margin-F1 (margin 2)")
    print(f"{'prompts x samples':<18}" + "".join(f"{d:>18}" for d in DETECTORS))
    for prompts, samples in LAYOUTS[:2] if smoke else LAYOUTS:
        f1 = {d: [] for d in DETECTORS}
        for seed in detectable_seeds(prompts, samples, n_layout):
            ds, truth = crystallisation_run(seed=seed, n_prompts=prompts, n_samples=samples, settling=True)
            for d, fn in DETECTORS.items():
                f1[d].append(margin_f1(truth["boundary_index"], fn(ds), margin=2))
        cells = {d: float(np.mean(v)) for d, v in f1.items()}
        print(f"{f'{prompts} x {samples}':<18}" + "".join(f"{v:>18.3f}" for v in cells.values()))
        out["layouts"][f"{prompts}x{samples}"] = cells
    out["coverage"] = coverage(5 if smoke else (40 if ci else 100))
    print("interval coverage (weak jumps):", out["coverage"])
    print(f"{time.perf_counter() - t0:.0f} s")
    return out


if __name__ == "__main__":
    main()
