"""phasekit: statistical physics of language-model training dynamics, from samples.

The public API (see ``docs/api.md``)::

    import phasekit as pk
    ds = pk.open_samples("generations.jsonl", text="answer", encoder="integer", n_states=10)
    H = pk.entropy(ds, system="sample")            # nats, with H.stderr
    m = pk.magnetization(ds, system="sample")
    report = pk.analyze(ds)                         # the whole pipeline
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__
from .errors import SchemaError

# name -> module that defines it; imported lazily so `import phasekit` stays fast and
# the CLI's error path does not pay for scipy/statsmodels/ruptures/matplotlib.
_API = {
    "open_samples": "ingest",
    "encode_answers": "ingest",
    "validate": "schema",
    "count_states": "count",
    "Counts": "count",
    "Ensemble": "configurations",
    "ensemble": "configurations",
    "entropy": "entropy_estimators",
    "entropy_from_counts": "entropy_estimators",
    "entropy_from_fingerprint": "entropy_estimators",
    "magnetization": "observables",
    "order_parameters": "observables",
    "prompt_structure": "observables",
    "with_stderr": "_meta",
    "susceptibility": "fluctuations",
    "binder_cumulant": "fluctuations",
    "order_histogram": "fluctuations",
    "bimodality": "fluctuations",
    "response": "fluctuations",
    "jackknife": "fluctuations",
    "bootstrap": "fluctuations",
    "correlation_function": "correlations",
    "mutual_information": "correlations",
    "correlation_length": "correlations",
    "correlation_function_and_length": "correlations",
    "autocorrelation_time": "correlations",
    "detect_boundaries": "changepoints",
    "label_phases": "changepoints",
    "penalty_path": "changepoints",
    "phase_levels": "changepoints",
    "BoundaryResult": "changepoints",
    "seed_attribution": "observables",
    "divergence_scan": "changepoints",
    "classify_transition": "scaling.order",
    "TransitionClass": "scaling.order",
    "scan_peaks": "changepoints",
    "margin_f1": "changepoints",
    "segmentation_covering": "changepoints",
    "critical_point": "scaling.critical",
    "CriticalPoint": "scaling.critical",
    "fit_power_law": "scaling.powerlaw",
    "finite_size_collapse": "scaling.collapse",
    "fixed_binder_exponents": "scaling.fixed_binder",
    "Collapse": "scaling.collapse",
    "scaling_curves": "scaling.curves",
    "universality_table": "scaling.universality",
    "compatible_classes": "scaling.universality",
    "UNIVERSALITY_CLASSES": "scaling.universality",
    "analyze": "pipeline",
    "phase_diagram": "diagram",
    "PhaseDiagram": "diagram",
    "CountStore": "store",
    "map_configurations": "lazy",
    "materialize": "lazy",
    "is_lazy": "lazy",
    "Report": "report",
}
_SUBMODULES = ("datasets", "plot", "accessor")

__all__ = ["SchemaError", "__version__", *_API, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'phasekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


try:  # register the ``.phase`` accessor on import (cheap: it delegates lazily)
    from . import accessor as _accessor  # noqa: F401
except ImportError:  # pragma: no cover
    pass
