"""``python -m benchmarks``: run every benchmark and write docs/benchmarks.json and .md."""

from benchmarks.run import main

main()
