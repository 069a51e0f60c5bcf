"""The report of an analysis: :class:`Report` (plain data) and its writers.

* :mod:`phasekit.report.core` -- the :class:`Report` dataclass, ``to_dict``/``to_netcdf``/
  ``to_html``/``plot``/``write``;
* :mod:`phasekit.report.numbers` -- how numbers are printed (steps, intervals, p-values);
* :mod:`phasekit.report.summary` -- the summary of findings (paragraph, key numbers, the
  ``summary`` block of ``summary.json``, the CLI's lines);
* :mod:`phasekit.report.figures` -- the figures with their captions;
* :mod:`phasekit.report.methods` -- the Methods section and ``references.bib``;
* :mod:`phasekit.report.html` -- the HTML page;
* :mod:`phasekit.report.schema` -- the JSON Schema of ``summary.json`` and its validator.

``analyze`` lives in :mod:`phasekit.pipeline` and is re-exported here lazily.
"""

from __future__ import annotations

from typing import Any

from .core import ORDER_VARS, SUMMARY_SCHEMA_VERSION, Report
from .schema import summary_schema, validate_summary

__all__ = ["ORDER_VARS", "Report", "SUMMARY_SCHEMA_VERSION", "analyze", "summary_schema", "validate_summary"]


def __getattr__(name: str) -> Any:
    if name == "analyze":  # the pipeline lives in phasekit.pipeline; kept importable from here
        from ..pipeline import analyze

        return analyze
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
