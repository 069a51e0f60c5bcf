"""Wall time of `phasekit demo` (the README's first command), in a fresh process.

    python benchmarks/bench_demo.py

Target (issue 7): well under 60 s on the CI machine (2 cores). The time includes the
interpreter start, imports and numba's first-call compilation when its cache is cold.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time


def main(smoke: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "phasekit.cli", "demo", "-o", f"{tmp}/demo", "--quiet"],
                       check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    print(f"phasekit demo: {seconds:.1f} s (target < 60 s)")
    return {"benchmark": "demo", "rows": [{"method": "phasekit demo (fresh process)", "seconds": round(seconds, 2),
                                           "target_seconds": 60}]}


if __name__ == "__main__":
    main()
