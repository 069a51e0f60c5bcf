"""Run every benchmark and write the performance record: docs/benchmarks.json and .md.

    python -m benchmarks            # CI size: fits 2 cores in a few minutes in total
    python -m benchmarks --smoke    # tiny sizes (seconds each)
    python -m benchmarks --full     # the sizes the issues name (long)
    python benchmarks/run.py --only counts,outofcore

Every ``benchmarks/bench_*.py`` is imported in its own child process (a crash, a hang or
a memory blow-up of one benchmark cannot take the others down) and its
``main(smoke: bool = False) -> dict`` is called:

* ``--smoke``: ``main(smoke=True)``;
* default (CI size): ``main(ci=True)`` when ``main`` takes ``ci``; ``main(smoke=False)``
  when it takes ``full`` (then its non-full default is its CI size); otherwise
  ``main(smoke=True)`` — the record says which;
* ``--full``: ``main(smoke=False)`` (and ``full=True`` when ``main`` takes it).

A benchmark that raises (or times out) is recorded as *failed* with its error; an
expected benchmark whose file is missing is recorded as *skipped*. The record is always
written; the command then exits 1 when any benchmark failed (so CI's smoke run goes red
on a benchmark whose own checks, e.g. agreement with its baseline, no longer hold). Each benchmark's
result dict is rendered as Markdown tables (every list of row dicts in it becomes one
table; scalars become a key/value list). By convention a row compares phasekit against
the alternative a user would otherwise write, measured in the same run, as a ratio
(columns named ``ratio``, ``speedup``, ``*_over_*``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOCS = REPO / "docs"

#: benchmarks the performance record expects (missing files are reported as skipped)
EXPECTED = ("counts", "entropy", "correlation", "tcpd", "scaling", "outofcore", "demo", "ingest")

_CHILD = r"""
import importlib, inspect, json, sys, time
sys.path.insert(0, sys.argv[1])
name, mode, out = sys.argv[2], sys.argv[3], sys.argv[4]
mod = importlib.import_module("benchmarks.bench_" + name)
params = inspect.signature(mod.main).parameters
if mode == "smoke":
    kwargs, size = {"smoke": True}, "smoke"
elif mode == "full":
    kwargs, size = {"smoke": False}, "full"
    if "full" in params:
        kwargs["full"] = True
elif "ci" in params:
    kwargs, size = {"ci": True}, "ci"
elif "full" in params:
    kwargs, size = {"smoke": False}, "ci"
else:
    kwargs, size = {"smoke": True}, "smoke (no CI size)"
t0 = time.perf_counter()
res = mod.main(**kwargs)
dt = time.perf_counter() - t0
with open(out, "w") as fh:
    json.dump({"size": size, "kwargs": kwargs, "seconds": dt, "result": res}, fh, default=str)
"""


def discover() -> list[str]:
    """Names of the benchmark modules present (``bench_<name>.py``)."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def run_one(name: str, mode: str, timeout: float | None) -> dict[str, Any]:
    """Run one benchmark in a child process; never raises."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   MPLBACKEND="Agg")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(REPO), name, mode, str(out)],
                                  capture_output=True, text=True, timeout=timeout, env=env, cwd=str(REPO))
        except subprocess.TimeoutExpired:
            return {"status": "failed", "error": f"timed out after {timeout:.0f} s",
                    "seconds": time.perf_counter() - t0}
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()
            return {"status": "failed", "error": tail[-1] if tail else f"exit code {proc.returncode}",
                    "traceback": "\n".join(tail[-25:]), "seconds": wall}
        rec = json.loads(out.read_text())
        rec.update(status="ok", wall_seconds=wall)
        return rec


# ------------------------------------------------------------------ Markdown
def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v) if len(v) <= 8 else f"[{len(v)} values]"
    if isinstance(v, dict):  # only reached for dicts nested in lists: one "k: v" per entry
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in list(v.items())[:8])
    return str(v).replace("|", "\\|").replace("\n", " ")


def _is_rows(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(r, dict) for r in v)


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted columns (``a.b.c``), one value per cell."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict) and not _is_rows(list(v.values())):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _leaf_rows(d: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The innermost dicts of scalars of a nested dict, each with the keys leading to it."""
    if all(not isinstance(v, dict) for v in d.values()):
        return [(path, d)]
    out = []
    for k, v in d.items():
        out += _leaf_rows(v, (*path, str(k))) if isinstance(v, dict) else [((*path, str(k)), {"value": v})]
    return out


def _dict_table(d: dict[str, Any]) -> str:
    """A nested dict as one table: a column per level of keys, then one per leaf key
    (no cell holds several values)."""
    rows = _leaf_rows(d)
    depth = max(len(p) for p, _ in rows)
    cols: list[str] = []
    for _, r in rows:
        cols += [k for k in r if k not in cols]
    keys = ["key"] if depth == 1 else [f"key {i + 1}" for i in range(depth)]
    head = "| " + " | ".join(keys + [str(c) for c in cols]) + " |\n| " + " | ".join("---" for _ in keys + cols) + " |\n"
    return head + "".join("| " + " | ".join([_fmt(k) for k in (*p, *([""] * (depth - len(p))))]
                                           + [_fmt(r.get(c)) for c in cols])
                          + " |\n" for p, r in rows)


def _table(rows: list[dict[str, Any]]) -> str:
    rows = [_flat(r) for r in rows]
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols and not _is_rows(r[k])]
    head = "| " + " | ".join(cols) + " |\n| " + " | ".join("---" for _ in cols) + " |\n"
    return head + "".join("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |\n" for r in rows)


def _tables(result: Any, path: str = "") -> list[tuple[str, str]]:
    """Every list of row dicts inside ``result`` as (title, markdown table)."""
    found: list[tuple[str, str]] = []
    if _is_rows(result):
        found.append((path or "results", _table(result)))
        for i, r in enumerate(result):
            for k, v in r.items():
                if _is_rows(v):
                    found += _tables(v, f"{path}[{i}].{k}")
    elif isinstance(result, dict):
        for k, v in result.items():
            found += _tables(v, f"{path}.{k}" if path else str(k))
    return found


def _scalars(result: Any) -> list[tuple[str, Any]]:
    if not isinstance(result, dict):
        return []
    return [(k, v) for k, v in result.items()
            if not _is_rows(v) and not (isinstance(v, dict) and any(_is_rows(x) for x in v.values()))]


def to_markdown(record: dict[str, Any]) -> str:
    lines = ["# Benchmarks", "",
             f"Generated by `python -m benchmarks{'' if record['mode'] == 'ci' else ' --' + record['mode']}` on "
             f"{record['created']} ({record['machine']['cpus']} CPUs, Python {record['machine']['python']}). "
             "Each row compares phasekit against the alternative a user would otherwise write, measured in the "
             "same run; ratios > 1 in `speedup` columns favour phasekit, `*_over_*` columns are the named "
             "quotient. Timings on a shared CI machine are noisy; the ratios are the record. "
             "Full-size measurements (e.g. the 5e8-token out-of-core run) are recorded in "
             "`docs/performance.md`.", "",
             "| benchmark | status | size | seconds |", "| --- | --- | --- | --- |"]
    for name, rec in record["benchmarks"].items():
        lines.append(f"| {name} | {rec['status']} | {rec.get('size', '–')} | {_fmt(rec.get('seconds'))} |")
    for name, rec in record["benchmarks"].items():
        lines += ["", f"## {name}", ""]
        if rec["status"] != "ok":
            lines.append(f"**{rec['status']}**: {_fmt(rec.get('error', ''))}")
            continue
        result = rec.get("result")
        tabs = _tables(result)
        for title, tab in tabs:
            lines += [f"**{title}**", "", tab]
        sc = _scalars(result)
        plain = [(k, v) for k, v in sc if not isinstance(v, dict)]
        if plain:
            lines += ["| key | value |", "| --- | --- |"] + [f"| {k} | {_fmt(v)} |" for k, v in plain]
        for k, v in sc:
            if isinstance(v, dict) and v:
                lines += ["", f"**{k}**", "", _dict_table(v)]
        if not tabs and not sc:
            lines.append(f"`{_fmt(result)}`")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ entry point
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--smoke", action="store_true", help="tiny sizes")
    g.add_argument("--full", action="store_true", help="the full sizes (long)")
    ap.add_argument("--only", default=None, help="comma-separated benchmark names")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per benchmark (default by mode)")
    ap.add_argument("--out", default=str(DOCS), help="directory for benchmarks.json/.md (default docs/)")
    a = ap.parse_args(argv)
    mode = "smoke" if a.smoke else ("full" if a.full else "ci")
    timeout = a.timeout or {"smoke": 600.0, "ci": 1200.0, "full": 6 * 3600.0}[mode]
    present = discover()
    names = [n.strip() for n in a.only.split(",")] if a.only else sorted(set(present) | set(EXPECTED))
    record: dict[str, Any] = {
        "mode": mode, "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "benchmarks": {},
    }
    for name in names:
        if name not in present:
            record["benchmarks"][name] = {"status": "skipped", "error": f"benchmarks/bench_{name}.py is missing"}
            print(f"{name:<14} skipped (missing)", flush=True)
            continue
        print(f"{name:<14} running ({mode})...", flush=True)
        rec = run_one(name, mode, timeout)
        record["benchmarks"][name] = rec
        print(f"{name:<14} {rec['status']} in {rec.get('wall_seconds', rec.get('seconds', 0)):.1f} s"
              f"{'' if rec['status'] == 'ok' else ': ' + str(rec.get('error'))}", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(record, indent=2, default=str))
    (out / "benchmarks.md").write_text(to_markdown(record))
    print(f"wrote {out / 'benchmarks.json'} and {out / 'benchmarks.md'}")
    return record


def exit_status(record: dict[str, Any]) -> int:
    """1 when any benchmark in ``record`` failed (skipped ones do not count), else 0."""
    return int(any(r.get("status") == "failed" for r in record["benchmarks"].values()))


if __name__ == "__main__":
    sys.exit(exit_status(main()))
