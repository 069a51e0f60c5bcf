"""Plug phasekit into a pipeline through `summary.json`.

    python examples/pipeline_summary_json.py [--out DIR]

Runs `phasekit analyze` as a subprocess (as a scheduler would), then reads the stable
keys of `summary.json` (see docs/report.md) and decides whether the run crystallised.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from from_jsonl import write_generations  # noqa: E402


def main(out: str = "pipeline-out") -> dict:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / "generations.jsonl"
    write_generations(data, small=True)
    cmd = [sys.executable, "-m", "phasekit.cli", "analyze", str(data), "-o", str(out_dir / "report"),
           "--text", "text", "--encoder", "integer", "--n-states", "10", "--stage", "stage", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:          # 2 = bad input (one line on stderr), 1 = a phasekit bug
        raise SystemExit(f"phasekit failed ({done.returncode}): {done.stderr.strip()}")
    summary = json.loads((out_dir / "report" / "summary.json").read_text())
    assert summary["schema_version"] == 2
    for b in summary["boundaries"]:
        lo, hi = b["interval"]
        print(f"boundary at step {b['step']:g} (interval {lo}..{hi}): {b['phase_before']} -> {b['phase_after']}")
    crystallised = any(p["label"] == "nucleation" for p in summary["phases"])
    print("crystallised:", crystallised, "| seed prompt:", (summary.get("seed") or {}).get("final_seed"))
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="pipeline-out")
    main(ap.parse_args().out)
