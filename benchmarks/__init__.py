"""phasekit's performance record: ``python -m benchmarks`` runs every ``bench_*.py``."""
