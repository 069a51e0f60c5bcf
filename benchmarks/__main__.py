"""``python -m benchmarks``: run every benchmark and write docs/benchmarks.json and .md.

Exits 1 when any benchmark failed (after writing the record)."""

import sys

from benchmarks.run import exit_status, main

sys.exit(exit_status(main()))
