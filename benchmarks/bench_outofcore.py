"""Out-of-core benchmark: ``analyze`` on a Zarr store larger than the memory budget.

Writes a Zarr store of int32 tokens (full size, issue 15 item 7: 100 checkpoints × 100
prompts × 100 samples × 250 positions = 2.5e8 tokens, 1 GB raw; one checkpoint per
chunk; q = 10 states) to a temporary directory, chunk by chunk (the writer never holds
more than one checkpoint), then

1. runs the pipeline (``open_samples`` → ``analyze`` → ``Report.write``, what ``phasekit
   analyze`` does) in a child process and records its wall time, its peak resident memory
   (``ru_maxrss`` of that process, read by a small wrapper process through
   ``RUSAGE_CHILDREN``; target < 768 MiB, aim 400 MiB) and the wall time of every stage
   (``Report.provenance["stage_seconds"]``);
2. runs **one counting pass** over the same store in its own process (``open_samples`` →
   ``count_states(system="position")``: read every chunk once and count it) — the
   alternative the analysis is measured against: its wall time should be within 2× this
   pass plus a fixed overhead;
   The fixed overhead is measured, not defined as what the token-free stages take: the
   same analysis on a store with the same configurations and 10× fewer positions
   (:func:`fixed_overhead`; its stage times, next to the full run's, show how each stage
   scales with the tokens);
3. optionally (``profile=True``) runs ``analyze`` once more with every stage function
   wrapped to record its own peak RSS, to say which stage holds the memory;
4. measures counting-stage throughput on a subset that fits in memory: phasekit's
   ``count_states`` (one configuration = one sequence, as ``analyze`` counts) against
   one ``np.sort`` pass over the same int64 keys ``config * q + token`` and against
   pandas ``groupby([config, token]).size()``; reported as ratios in the same run.

The tokens are a synthetic crystallisation: every sequence draws its tokens i.i.d. from a
distribution that is uniform over the 10 states before the boundary checkpoint and
concentrated on one state (p = 0.7) after it, so the report has a boundary to find.

Run ``python benchmarks/bench_outofcore.py`` for the full size (needs ~1.1 GB of disk
and many minutes on 2 cores), ``--quarter`` for 1/4 of it (25 checkpoints), ``--ci`` or
``--smoke``; ``main(smoke=..., ci=...)`` follows the runner's convention.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE_FULL = (100, 100, 100, 250)
SHAPE_QUARTER = (25, 100, 100, 250)
SHAPE_CI = (24, 20, 20, 50)
SHAPE_SMOKE = (8, 6, 8, 20)
N_STATES = 10
RSS_TARGET_MIB = 768.0  # issue 15 item 7 (aim: 400 MiB)
RSS_AIM_MIB = 400.0
REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the store
def _block_probs(checkpoint: int, n_checkpoint: int, q: int) -> np.ndarray:
    boundary = n_checkpoint // 2
    if checkpoint < boundary:
        return np.full(q, 1.0 / q)
    p = np.full(q, 0.3 / (q - 1))
    p[3] = 0.7
    return p


def _make_block(checkpoint: int, shape: tuple[int, ...], n_checkpoint: int, q: int, seed: int) -> np.ndarray:
    """Tokens of one checkpoint, int32, shape (1, prompt, sample, position)."""
    rng = np.random.default_rng([seed, checkpoint])
    cdf = np.cumsum(_block_probs(checkpoint, n_checkpoint, q))
    u = rng.random(shape[1:], dtype=np.float32)
    tok = np.minimum(np.searchsorted(cdf, u), q - 1).astype(np.int32)
    return tok[None]


def write_store(path: str | Path, shape: tuple[int, int, int, int], n_states: int = N_STATES,
                seed: int = 0) -> dict:
    """Write the synthetic token store chunk by chunk (one checkpoint per chunk)."""
    import dask.array as da
    import xarray as xr

    n_ckpt = shape[0]

    def block(block_info=None):
        loc = block_info[None]["chunk-location"][0]
        return _make_block(loc, shape, n_ckpt, n_states, seed)

    tok = da.map_blocks(block, dtype=np.int32, chunks=((1,) * n_ckpt, (shape[1],), (shape[2],), (shape[3],)))
    ds = xr.Dataset(
        {"token": (("checkpoint", "prompt", "sample", "position"), tok)},
        coords={"checkpoint": np.arange(n_ckpt), "step": ("checkpoint", np.arange(n_ckpt) * 100.0)},
        attrs={"n_states": int(n_states), "source": "bench_outofcore synthetic crystallisation"},
    )
    t0 = time.perf_counter()
    import dask

    with dask.config.set(scheduler="threads", num_workers=1):
        ds.to_zarr(path, mode="w")
    return {"write_seconds": time.perf_counter() - t0, "boundary_step": float((n_ckpt // 2) * 100.0),
            "raw_gib": float(np.prod(shape)) * 4 / 2**30}


# ------------------------------------------------------------ child processes
_WRAPPER = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
dt = time.perf_counter() - t0
print(json.dumps({"returncode": p.returncode, "seconds": dt,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "stdout": p.stdout[-3000:], "stderr": p.stderr[-3000:]}))
"""


def run_measured(cmd: list[str], timeout: float | None = None) -> dict:
    """Run ``cmd`` in a fresh process; its wall time and peak RSS (MiB), via a wrapper.

    The wrapper's ``RUSAGE_CHILDREN`` holds only the command's own peak (this process's
    other children never count).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True,
                         timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"measurement wrapper failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


_ANALYZE = r"""
import json, sys, time
from phasekit.ingest import open_samples
from phasekit.pipeline import analyze
store, out, estimator = sys.argv[1:4]
t0 = time.perf_counter()
ds = open_samples(store)
t_open = time.perf_counter() - t0
rep = analyze(ds, estimator=None if estimator == "default" else estimator, progress=False, input_description=store)
t1 = time.perf_counter()
rep.write(out)
stages = {"open_samples": round(t_open, 3), **rep.provenance.get("stage_seconds", {}),
          "Report.write": round(time.perf_counter() - t1, 3)}
print(json.dumps({"stages": stages, "boundaries": [float(b) for b in rep.boundaries.locations]}))
"""


def analyze_command(store: str | Path, out: str | Path, estimator: str | None) -> list[str]:
    """The pipeline of ``phasekit analyze STORE -o OUT`` through the API (``open_samples``
    → ``analyze(..., estimator=)`` → ``write``; the CLI has no estimator flag), printing
    the wall time of every stage as JSON."""
    return [sys.executable, "-c", _ANALYZE, str(store), str(out), estimator or "default"]


_COUNT_PASS = r"""
import json, sys, time
t0 = time.perf_counter()
from phasekit.count import count_states
from phasekit.ingest import open_samples
c = count_states(open_samples(sys.argv[1]), system="position")
print(json.dumps({"seconds": time.perf_counter() - t0, "entries": int(c.states.size)}))
"""


def counting_pass(store: str | Path, timeout: float | None = None) -> dict:
    """One read-and-count pass over the whole store (what every stage of the old pipeline
    repeated), in its own process: wall time (imports included, as for analyze) and peak RSS."""
    r = run_measured([sys.executable, "-c", _COUNT_PASS, str(store)], timeout=timeout)
    if r["returncode"] != 0:
        raise RuntimeError(f"counting pass failed: {r['stderr'][-2000:]}")
    return {**json.loads(r["stdout"].strip().splitlines()[-1]), "process_seconds": r["seconds"],
            "peak_rss_mib": r["peak_rss_mib"]}


_PROFILE = r"""
import functools, importlib, json, sys, time

def rss(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # Linux: reset VmHWM to the current RSS
        return True
    except OSError:
        return False

rows = []
STAGES = [("phasekit.configurations", "ensemble"), ("phasekit.pipeline", "_order_stage"),
          ("phasekit.pipeline", "_fluctuation_stage"), ("phasekit.pipeline", "_prompt_structure_stage"),
          ("phasekit.changepoints", "detect_boundaries"), ("phasekit.pipeline", "_seed_stage"),
          ("phasekit.pipeline", "_scan_stage"), ("phasekit.pipeline", "_correlation_stage")]

depth = [0]

def wrap(fn, label):
    @functools.wraps(fn)
    def inner(*a, **k):
        depth[0] += 1
        if depth[0] > 2:  # a stage called inside a stage (e.g. per dask block): not a row
            try:
                return fn(*a, **k)
            finally:
                depth[0] -= 1
        ok = reset_peak()
        before, t0 = rss("VmRSS"), time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            depth[0] -= 1
            rows.append({"stage": label, "seconds": round(time.perf_counter() - t0, 2),
                         "rss_before_mib": round(before, 1), "peak_rss_mib": round(rss("VmHWM"), 1) if ok else None,
                         "rss_after_mib": round(rss("VmRSS"), 1)})
    return inner

for mod, name in STAGES:
    m = importlib.import_module(mod)
    setattr(m, name, wrap(getattr(m, name), name))
from phasekit.report import Report
from phasekit.pipeline import analyze
from phasekit.ingest import open_samples
Report.write = wrap(Report.write, "Report.write (html, netcdf, json, figures)")
store, out, estimator = sys.argv[1:4]
ds = wrap(open_samples, "open_samples")(store)
rep = wrap(analyze, "analyze (all stages)")(ds, estimator=None if estimator == "default" else estimator,
                                           progress=False, input_description=store)
rep.write(out)
print(json.dumps(rows))
"""


def profile_stages(store: str | Path, out: str | Path, estimator: str | None = "miller_madow",
                   timeout: float | None = None) -> list[dict]:
    """Time and peak RSS of every stage ``analyze`` runs, in one process.

    Each stage function is wrapped; before it runs the kernel's peak-RSS counter is
    reset (``/proc/self/clear_refs``), so ``peak_rss_mib`` is the stage's own peak
    (nested stages reset it too: the outer ``analyze`` row is then the peak since the
    last inner stage began).
    """
    r = run_measured([sys.executable, "-c", _PROFILE, str(store), str(out), estimator or "default"],
                     timeout=timeout)
    if r["returncode"] != 0:
        return [{"stage": "profile", "error": r["stderr"].strip().splitlines()[-1:]}]
    return json.loads(r["stdout"].strip().splitlines()[-1])


def fixed_overhead(shape: tuple[int, int, int, int], tmp: str | Path, estimator: str | None,
                   timeout: float | None = None) -> dict:
    """The analysis's fixed overhead, measured rather than defined as "the stages that read
    no token": the same pipeline on a store with the same configurations (checkpoints ×
    prompts × samples) and :data:`OVERHEAD_POSITION_FACTOR` times fewer positions, in its
    own process (imports included, as for the full run). Its wall time bounds the part of
    the analysis that does not grow with the number of tokens."""
    small = overhead_shape(shape)
    path = Path(tmp) / "tokens_overhead.zarr"
    write_store(path, small)
    r = run_measured(analyze_command(path, Path(tmp) / "report_overhead", estimator), timeout=timeout)
    stages = json.loads(r["stdout"].strip().splitlines()[-1])["stages"] if r["returncode"] == 0 else {}
    shutil.rmtree(path, ignore_errors=True)
    return {"shape": list(small), "seconds": r["seconds"], "peak_rss_mib": r["peak_rss_mib"],
            "returncode": r["returncode"], "stages": stages}


# -------------------------------------------------------- counting throughput
_COUNT = r"""
import json, sys, time
import numpy as np
import xarray as xr
path, method, q = sys.argv[1], sys.argv[2], int(sys.argv[3])
tok = np.load(path)
width = tok.shape[-1]
n_cfg = tok.size // width
def keys_of(t):
    return np.repeat(np.arange(n_cfg, dtype=np.int64), width) * q + t.reshape(-1)
if method == "phasekit":
    from phasekit.count import count_states
    count_states(xr.DataArray(tok[:1, :1], dims=("checkpoint", "prompt", "sample", "position")),
                 system="position")  # load the compiled kernels outside the timing
t0 = time.perf_counter()
if method == "phasekit":
    c = count_states(xr.DataArray(tok, dims=("checkpoint", "prompt", "sample", "position")),
                     system="position", n_states=q)
    check = [int(c.states.size), int(c.counts.sum()), int((c.states * c.counts).sum())]
elif method == "np.sort":
    k = keys_of(tok)
    k.sort()
    check = [int(np.count_nonzero(np.diff(k)) + 1), int(k.size), int((k % q).sum())]
elif method == "pandas":
    import pandas as pd
    df = pd.DataFrame({"config": np.repeat(np.arange(n_cfg, dtype=np.int64), width),
                       "token": tok.reshape(-1)})
    s = df.groupby(["config", "token"]).size()
    tokv = s.index.get_level_values("token").to_numpy()
    check = [int(s.size), int(s.sum()), int((tokv * s.to_numpy()).sum())]
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "check": check}))
"""


def counting_throughput(store: str | Path, max_tokens: int, tmp: str | Path) -> dict:
    """phasekit count_states vs one np.sort of the keys vs pandas groupby, same tokens."""
    import xarray as xr

    ds = xr.open_zarr(store)
    n_ckpt = ds.sizes["checkpoint"]
    per = int(np.prod([ds.sizes[d] for d in ("prompt", "sample", "position")]))
    k = max(1, min(n_ckpt, max_tokens // per))
    # take checkpoints from both phases
    idx = np.unique(np.linspace(0, n_ckpt - 1, k).round().astype(int))
    tok = ds["token"].isel(checkpoint=idx).values
    path = Path(tmp) / "subset.npy"
    np.save(path, tok)
    res = {}
    for method in ("phasekit", "np.sort", "pandas"):
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run([sys.executable, "-c", _COUNT, str(path), method, str(N_STATES)],
                             capture_output=True, text=True, env=env, check=True)
        res[method] = json.loads(out.stdout.strip().splitlines()[-1])
    # all three counted the same (config, token) pairs and tokens
    checks = {m: r["check"] for m, r in res.items()}
    agree = len({tuple(v) for v in checks.values()}) == 1
    n_tok = int(tok.size)
    pk = res["phasekit"]["seconds"]
    return {
        "tokens": n_tok, "checkpoints": int(idx.size), "results_agree": agree, "checks": checks,
        "phasekit_seconds": pk, "sort_seconds": res["np.sort"]["seconds"],
        "pandas_seconds": res["pandas"]["seconds"],
        "phasekit_mtokens_per_s": n_tok / pk / 1e6,
        "phasekit_over_sort_time": pk / res["np.sort"]["seconds"],
        "pandas_over_phasekit_time": res["pandas"]["seconds"] / pk,
    }


# ------------------------------------------------------------------ main
#: stages that read the tokens (the rest work from the Ensemble's counts)
TOKEN_STAGES = ("open_samples", "counts", "correlations")
#: the fixed-overhead store has the same configurations and this many times fewer positions
OVERHEAD_POSITION_FACTOR = 10


def overhead_shape(shape: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The store that measures the fixed overhead: the same checkpoints × prompts × samples
    (the same configurations, pooled counts and bootstraps) with
    :data:`OVERHEAD_POSITION_FACTOR` times fewer positions, i.e. tokens."""
    c, p, n, t = shape
    return c, p, n, max(1, t // OVERHEAD_POSITION_FACTOR)


def _rows(run: dict, stages: dict, count: dict, thr: dict, tokens: int, found: list, truth: float,
          small: dict) -> list[dict]:
    token_mib = tokens * 4 / 2**20
    overhead = small["seconds"]
    rows = [
        {"measure": "analyze peak RSS (MiB)", "phasekit": round(run["peak_rss_mib"], 1),
         "alternative": "raw token array in memory", "alternative_value": round(token_mib, 1),
         "ratio": round(run["peak_rss_mib"] / token_mib, 3),
         "note": f"target < {RSS_TARGET_MIB:.0f} MiB, aim {RSS_AIM_MIB:.0f}; rc={run['returncode']}"},
        {"measure": "analyze wall time (s)", "phasekit": round(run["seconds"], 2),
         "alternative": "one counting pass over the store (s)", "alternative_value": round(count["process_seconds"], 2),
         "ratio": round(run["seconds"] / count["process_seconds"], 3),
         "note": f"goal: <= 2 x pass + fixed overhead (the same analysis on the store with the same "
                 f"configurations and 1/{OVERHEAD_POSITION_FACTOR} of the positions: {overhead:.1f} s): "
                 f"{run['seconds']:.1f} vs {2 * count['process_seconds'] + overhead:.1f}; boundaries {found}, "
                 f"truth {truth}"},
        {"measure": "fixed overhead: analyze on 1/10 of the positions (s)", "phasekit": round(overhead, 2),
         "alternative": "same store shape's analyze (s)", "alternative_value": round(run["seconds"], 2),
         "ratio": round(overhead / run["seconds"], 3),
         "note": f"peak RSS {small['peak_rss_mib']:.0f} MiB; shape {small['shape']}; rc={small['returncode']}"},
        {"measure": "counting pass peak RSS (MiB)", "phasekit": round(count["peak_rss_mib"], 1),
         "alternative": "-", "alternative_value": None, "ratio": None, "note": f"{count['entries']} sparse entries"},
    ]
    rows += [{"measure": f"stage: {k} (s)", "phasekit": v, "alternative": "same stage, 1/10 of the positions (s)",
              "alternative_value": small["stages"].get(k), "ratio": None,
              "note": "reads the tokens" if k in TOKEN_STAGES else "reads no token"}
             for k, v in stages.items()]
    rows += [
        {"measure": "counting time (s)", "phasekit": round(thr["phasekit_seconds"], 4),
         "alternative": "one np.sort of int64 keys", "alternative_value": round(thr["sort_seconds"], 4),
         "ratio": round(thr["phasekit_over_sort_time"], 3), "note": f"phasekit/sort time; {thr['tokens']} tokens"},
        {"measure": "counting time (s)", "phasekit": round(thr["phasekit_seconds"], 4),
         "alternative": "pandas groupby([config, token]).size()",
         "alternative_value": round(thr["pandas_seconds"], 4), "ratio": round(thr["pandas_over_phasekit_time"], 2),
         "note": f"pandas/phasekit time (speedup); results agree: {thr['results_agree']}"},
    ]
    return rows


def _store(store: str | None, shape: tuple[int, int, int, int], tmp: str) -> tuple[Path, tuple, dict]:
    if store is None:
        path = Path(tmp) / "tokens.zarr"
        return path, shape, write_store(path, shape)
    import xarray as xr

    with xr.open_zarr(store) as existing:
        c, p, n, t = (int(existing.sizes[d]) for d in ("checkpoint", "prompt", "sample", "position"))
    shape = (c, p, n, t)
    return Path(store), shape, {"write_seconds": float("nan"), "boundary_step": float((shape[0] // 2) * 100.0),
                                "raw_gib": float(np.prod(shape)) * 4 / 2**30}


def main(smoke: bool = False, ci: bool = False, quarter: bool = False, profile: bool | None = None,
         workdir: str | None = None, keep: bool = False, timeout: float | None = None,
         store: str | None = None, estimator: str | None = "miller_madow") -> dict:
    """Run the benchmark; returns ``{"benchmark": "outofcore", "rows": [...], ...}``.

    ``smoke``: tiny store; ``ci``: 24 × 20 × 20 × 50 = 4.8e5 tokens; ``quarter``: 25 of the
    full store's 100 checkpoints (6.25e7 tokens); default: the 2.5e8-token store of issue
    15. ``profile`` also measures each stage's own peak RSS in another process. ``store``:
    reuse a store written earlier by :func:`write_store` (its shape is read from it).
    ``estimator``: the entropy estimator of the analysis (None = phasekit's default; the
    default here is Miller–Madow because the default Bayesian estimator costs ~10–20 ms per
    configuration, i.e. hours for the 1e6 sequences of the full store — see
    docs/performance.md).
    """
    shape = SHAPE_SMOKE if smoke else (SHAPE_CI if ci else (SHAPE_QUARTER if quarter else SHAPE_FULL))
    tmp = tempfile.mkdtemp(prefix="pk_outofcore_", dir=workdir)
    try:
        path, shape, info = _store(store, shape, tmp)
        print(f"  wrote {path} ({info['raw_gib']:.3f} GiB raw) in {info['write_seconds']:.1f} s", flush=True)
        run = run_measured(analyze_command(path, Path(tmp) / "report", estimator), timeout=timeout)
        ok = run["returncode"] == 0
        parsed = json.loads(run["stdout"].strip().splitlines()[-1]) if ok else {"stages": {}, "boundaries": []}
        found, stages = parsed["boundaries"], parsed["stages"]
        print(f"  analyze: rc={run['returncode']} {run['seconds']:.1f} s, peak RSS {run['peak_rss_mib']:.0f} MiB, "
              f"boundaries {found} (truth {info['boundary_step']}); stages {stages}", flush=True)
        if not ok:
            print(run["stderr"][-2000:], file=sys.stderr)
        small = fixed_overhead(shape, tmp, estimator, timeout=timeout)
        print(f"  fixed overhead (same configurations, 1/{OVERHEAD_POSITION_FACTOR} of the positions, "
              f"{small['shape']}): {small['seconds']:.1f} s, peak RSS {small['peak_rss_mib']:.0f} MiB; "
              f"stages {small['stages']}", flush=True)
        count = counting_pass(path, timeout=timeout)
        print(f"  one counting pass: {count['process_seconds']:.1f} s, peak RSS {count['peak_rss_mib']:.0f} MiB",
              flush=True)
        profiled = profile_stages(path, Path(tmp) / "report_profiled", estimator, timeout=timeout) if profile else []
        for row in profiled:
            print(f"    stage {row}", flush=True)
        thr = counting_throughput(path, max_tokens=2_000_000 if smoke else (10_000_000 if ci else 50_000_000),
                                  tmp=tmp)
        print(f"  counting {thr['tokens']:.3g} tokens: phasekit {thr['phasekit_seconds']:.3f} s, "
              f"np.sort {thr['sort_seconds']:.3f} s, pandas {thr['pandas_seconds']:.3f} s", flush=True)
        tokens = int(np.prod(shape))
        return {
            "benchmark": "outofcore", "shape": list(shape), "tokens": tokens, "n_states": N_STATES,
            "rss_target_mib": RSS_TARGET_MIB, "rss_aim_mib": RSS_AIM_MIB,
            "analyze": {k: run[k] for k in ("returncode", "seconds", "peak_rss_mib")}, "analyze_ok": ok,
            "estimator": estimator or "default", "under_rss_target": bool(run["peak_rss_mib"] < RSS_TARGET_MIB),
            "boundaries_found": found, "boundary_truth": info["boundary_step"],
            "write_seconds": info["write_seconds"], "stage_seconds": stages, "counting_pass": count,
            "stages_profiled": profiled, "counting": thr, "fixed_overhead": small,
            "rows": _rows(run, stages, count, thr, tokens, found, info["boundary_step"], small),
        }
    finally:
        if keep:
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--ci", action="store_true", help="CI size instead of the full size")
    ap.add_argument("--quarter", action="store_true", help="25 of the full store's 100 checkpoints")
    ap.add_argument("--profile", action="store_true", help="also profile every analyze stage's peak RSS")
    ap.add_argument("--workdir", default=None, help="where to write the temporary store")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None, help="write the result as JSON here")
    ap.add_argument("--estimator", default="miller_madow", help="entropy estimator ('default' = phasekit's)")
    ap.add_argument("--store", default=None, help="reuse this store instead of writing one")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per child process")
    ap.add_argument("--write-only", default=None, metavar="PATH", help="only write the store to PATH")
    a = ap.parse_args()
    if a.write_only:
        print(write_store(a.write_only, SHAPE_SMOKE if a.smoke else (
            SHAPE_CI if a.ci else (SHAPE_QUARTER if a.quarter else SHAPE_FULL))))
        sys.exit(0)
    res = main(smoke=a.smoke, ci=a.ci, quarter=a.quarter, profile=a.profile or None, workdir=a.workdir,
               keep=a.keep, store=a.store, timeout=a.timeout,
               estimator=None if a.estimator == "default" else a.estimator)
    text = json.dumps(res, indent=2, default=str)
    if a.json:
        Path(a.json).write_text(text)
    print(text)
