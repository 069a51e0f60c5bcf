"""False alarms and power of the samples path, with and without the pooled-channel deflation.

The samples path scans two statistics (``phasekit.changepoints.samples_test``): the sum
of per-prompt G statistics and the G of the counts pooled over prompts. Independent
random walks of the prompts add up to a pooled walk, which the multinomial null of the
pooled statistic does not know; ``samples_test.DEFLATE_POOLED`` divides the observed
pooled statistic by the part that independent prompt changes explain
(``pooled_deflation``). This benchmark measures both settings on the same runs:

* null runs -- 120 flat crystallisation runs (``transition=False``, seeds 3000-3119) and
  60 ``null_drift`` / ``null_jitter`` jump runs (seeds 930-989): runs with any boundary;
* jump runs -- ``strong_drift``, ``moderate``, ``jitter`` (seeds 0-29): recall and
  precision within +-1 checkpoint;
* three-phase runs -- the layouts of ``bench_changepoints`` (8 detectable runs each):
  mean margin-F1 (margin 2).

Run ``python benchmarks/bench_changepoint_nulls.py`` (about 7 minutes on 2 cores);
``main(ci=True)`` uses a quarter of the runs, ``main(smoke=True)`` a handful.
"""

from __future__ import annotations

import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script too

import phasekit.changepoints.samples_test as samples_test  # noqa: E402
from benchmarks.bench_changepoints import LAYOUTS, SCENARIOS, _hits, detectable_seeds  # noqa: E402
from phasekit.changepoints import detect_boundaries, margin_f1  # noqa: E402
from phasekit.datasets.crystallisation import crystallisation_run, drifting_jump_run  # noqa: E402

JUMPS = ("strong_drift", "moderate", "jitter")
NULLS = ("null_drift", "null_jitter")


def _one(task: tuple) -> tuple[str, bool, object]:
    kind, seed, deflate, layout = task
    samples_test.DEFLATE_POOLED = deflate
    if kind == "flat":
        found = detect_boundaries(crystallisation_run(seed=seed, transition=False)[0]).indices
        return kind, deflate, len(found) > 0
    if kind in NULLS:
        return kind, deflate, len(detect_boundaries(drifting_jump_run(seed, **SCENARIOS[kind])[0]).indices) > 0
    if kind in JUMPS:
        ds, truth = drifting_jump_run(seed, **SCENARIOS[kind])
        return kind, deflate, _hits(truth, detect_boundaries(ds).indices)
    ds, truth = crystallisation_run(seed=seed, n_prompts=layout[0], n_samples=layout[1], settling=True)
    return kind, deflate, margin_f1(truth["boundary_index"], detect_boundaries(ds).indices, margin=2)


def _tasks(n_flat: int, n_null: int, n_jump: int, n_layout: int) -> list[tuple]:
    tasks: list[tuple] = []
    for deflate in (True, False):
        tasks += [("flat", 3000 + s, deflate, None) for s in range(n_flat)]
        tasks += [(k, 930 + s, deflate, None) for k in NULLS for s in range(n_null)]
        tasks += [(k, s, deflate, None) for k in JUMPS for s in range(n_jump)]
        for p, m in LAYOUTS:
            tasks += [(f"{p} x {m}", s, deflate, (p, m)) for s in detectable_seeds(p, m, n_layout)]
    return tasks


def _null_row(runs: str, n: int, on: int, off: int) -> dict:
    """Runs with any boundary, deflated and not, and their ratio (deflated over undeflated)."""
    return {"runs": runs, "n": n, "alarms_deflated": on, "alarms_undeflated": off,
            "deflated_over_undeflated": round(on / off, 3) if off else float("nan")}


def _rows(results: list[tuple]) -> dict[str, list[dict]]:
    by: dict[tuple[str, bool], list] = {}
    for kind, deflate, value in results:
        by.setdefault((kind, deflate), []).append(value)
    kinds = list(dict.fromkeys(k for k, _ in by))
    nulls, jumps, layouts = [], [], []
    for k in kinds:
        on, off = by[(k, True)], by[(k, False)]
        if k == "flat" or k in NULLS:
            nulls.append(_null_row(k, len(on), int(sum(on)), int(sum(off))))
        elif k in JUMPS:
            a, b = np.sum(on, axis=0), np.sum(off, axis=0)
            jumps.append({"scenario": k, "recall_deflated": round(a[0] / a[1], 3),
                          "precision_deflated": round(a[2] / max(a[3], 1), 3),
                          "recall_undeflated": round(b[0] / b[1], 3),
                          "precision_undeflated": round(b[2] / max(b[3], 1), 3)})
        else:
            layouts.append({"layout": k, "n": len(on), "f1_deflated": round(float(np.mean(on)), 3),
                            "f1_undeflated": round(float(np.mean(off)), 3)})
    nulls.append(_null_row("all", *(sum(r[c] for r in nulls) for c in ("n", "alarms_deflated", "alarms_undeflated"))))
    return {"null_runs": nulls, "jump_runs": jumps, "three_phase": layouts}


def main(smoke: bool = False, ci: bool = False) -> dict:
    sizes = (4, 2, 2, 1) if smoke else ((30, 15, 8, 2) if ci else (120, 60, 30, 8))
    t0 = time.perf_counter()
    with get_context("spawn").Pool(2) as pool:
        results = pool.map(_one, _tasks(*sizes), chunksize=1)
    out = _rows(results)
    for name, rows in out.items():
        print(name)
        for r in rows:
            print("  " + ", ".join(f"{k}={v}" for k, v in r.items()))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"{out['seconds']:.0f} s")
    return out


if __name__ == "__main__":
    main()
