"""Ingestion benchmark: ``open_samples`` on a 1-million-generation lab JSONL.

Compares, in the same run and on the same file:

* a plain ``json.loads`` loop that only collects the answer strings (the floor a user
  would write first: it maps nothing, counts nothing, builds no array);
* the same loop with ``orjson.loads`` (the parser phasekit uses when installed);
* ``phasekit.open_samples(...)`` with the integer encoder: every generation parsed,
  audited and laid out as the canonical token array.

Two layouts of the same 1e6 generations: ``flat`` (one generation per line) and
``nested`` (a lab record per prompt with ``outputs: [{"text": ...}] * 10``, read with
``text="outputs.*.text"``). Each method runs in a fresh child process, so its peak
resident memory (``ru_maxrss``) above the interpreter with its imports is its own; the
table also reports Python's traced peak (``tracemalloc``) against the final arrays'
bytes plus the file's longest line — the issue's memory goal.

Run ``python benchmarks/bench_ingest.py`` (full size), ``--ci`` (2e5) or ``--smoke``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import tempfile
import time
from pathlib import Path

N_FULL = 1_000_000
N_SMOKE = 20_000
N_CI = 200_000
ANSWERS = ["7", "7.", "I pick 7.", "Between 1 and 10, I pick 3.", "**4**", "seven", "3.5", "<think>hmm</think> 9",
           "My answer is 2", "10"]


def write_lab_jsonl(path: Path, n: int, layout: str, seed: int = 0) -> int:
    """Write ``n`` generations; returns the longest line in bytes."""
    rng = random.Random(seed)
    longest = 0
    per = 10 if layout == "nested" else 1
    with open(path, "w") as fh:
        for i in range(n // per):
            ck = f"stage1-step{1000 * (1 + i % 50)}-tokens{4 * (1 + i % 50)}B"
            prompt = f"Pick a random number between 1 and 10. (variant {i % 20})"
            if layout == "nested":
                rec = {"meta": {"checkpoint": ck}, "prompt": prompt,
                       "outputs": [{"text": rng.choice(ANSWERS)} for _ in range(per)]}
            else:
                rec = {"checkpoint": ck, "prompt": prompt, "text": rng.choice(ANSWERS)}
            line = json.dumps(rec) + "\n"
            longest = max(longest, len(line))
            fh.write(line)
    return longest


def _loop(path: str, layout: str, loads) -> int:
    answers = []
    with open(path, "rb") as fh:
        for line in fh:
            rec = loads(line)
            if layout == "nested":
                answers.extend(o["text"] for o in rec["outputs"])
            else:
                answers.append(rec["text"])
    return len(answers)


def _phasekit(path: str, layout: str) -> int:
    import warnings

    import phasekit as pk

    kw = ({"text": "outputs.*.text", "checkpoint": "meta.checkpoint"} if layout == "nested" else {"text": "text"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pk.open_samples(path, encoder="integer", states=list(range(1, 11)), **kw)
    return int(ds.attrs["n_generations"])


def _child(method: str, path: str, layout: str, queue) -> None:
    import tracemalloc

    import numpy
    import orjson
    import pandas  # noqa: F401
    import xarray

    import phasekit.ingest  # noqa: F401

    # one-time imports xarray makes on the first Dataset it builds (dask, sparse, numba
    # type checks) are paid here, outside the timing, as the parsers' imports are
    xarray.Dataset({"x": ("a", numpy.zeros(2, dtype="int32"))}).transpose("a").to_dict()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0 = time.perf_counter()
    if method == "json.loads loop":
        n = _loop(path, layout, json.loads)
    elif method == "orjson.loads loop":
        n = _loop(path, layout, orjson.loads)
    else:
        n = _phasekit(path, layout)
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    queue.put({"method": method, "seconds": dt, "n": n, "traced_peak_mib": peak / 2**20,
               "rss_above_imports_mib": rss / 1024})


def run_method(method: str, path: Path, layout: str) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(method, str(path), layout, q))
    p.start()
    out = q.get()
    p.join()
    return out


def final_array_bytes(n: int) -> int:
    """Bytes of the canonical result: the int32 token array (one cell per generation)."""
    return 4 * n


def measure(n: int) -> list[dict]:
    """Rows of the comparison at ``n`` generations (both layouts, three methods)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("flat", "nested"):
            path = Path(tmp) / f"{layout}.jsonl"
            longest = write_lab_jsonl(path, n, layout)
            res = {m: run_method(m, path, layout) for m in ("json.loads loop", "orjson.loads loop", "phasekit")}
            floor = res["json.loads loop"]["seconds"]
            goal_mib = (2 * final_array_bytes(n) + longest) / 2**20
            for m, r in res.items():
                assert r["n"] == n, (m, r["n"], n)
                rows.append({"layout": layout, "generations": n, **r, "ratio_to_json_loop": r["seconds"] / floor,
                             "memory_goal_mib": goal_mib})
    return rows


def main(smoke: bool = False, ci: bool = False) -> dict:
    """Run the comparison (1e6 generations; ``ci``: 2e5; ``smoke``: 2e4) and print the table."""
    n = N_SMOKE if smoke else (N_CI if ci else N_FULL)
    rows = measure(n)
    print(f"{'layout':<7} {'method':<18} {'seconds':>8} {'x json loop':>11} {'traced MiB':>10} "
          f"{'RSS+ MiB':>9} {'goal MiB':>8}")
    for r in rows:
        print(f"{r['layout']:<7} {r['method']:<18} {r['seconds']:>8.2f} {r['ratio_to_json_loop']:>11.2f} "
              f"{r['traced_peak_mib']:>10.1f} {r['rss_above_imports_mib']:>9.1f} {r['memory_goal_mib']:>8.1f}")
    return {"rows": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("--json", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    out = main(smoke=args.smoke, ci=args.ci)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
