"""Readers for the files evaluation clients write, one module per format.

Each module defines

* ``FORMAT`` — its name for ``open_samples(format=...)``;
* ``detect(path: Path) -> bool`` — cheap check (reads at most a few KiB) whether ``path``
  (a file, or for lm-eval also a folder) is in this format;
* ``read(path: Path, *, fields: Mapping[str, str], options: Mapping[str, Any]) -> SampleFrame``
  — ``fields`` are the user's field overrides (role → dotted path, e.g.
  ``{"checkpoint": "eval.metadata.revision"}``), ``options`` format options
  (``responses``, ``requests``…). See :mod:`phasekit.ingest.frame` for the rows it returns.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from types import ModuleType

from ...errors import SchemaError

__all__ = ["READERS", "reader", "detect_format"]

#: format name -> module under phasekit.ingest.formats, in detection order
READERS = {
    "lm-eval": "lmeval",
    "inspect": "inspect",
    "openai-batch": "openai_batch",
    "hf": "hf",
}


def reader(name: str) -> ModuleType:
    """The reader module for a format name."""
    if name not in READERS:
        raise SchemaError(f"unknown format {name!r}", where="open_samples(format=...)",
                          fix=f"use one of {', '.join(READERS)}, or a table format by extension")
    return import_module(f".{READERS[name]}", __name__)


def detect_format(path: Path, only: tuple[str, ...] | None = None) -> str | None:
    """The client format of ``path``, or None when it is none of them (a plain table)."""
    for name in only or tuple(READERS):
        try:
            mod = reader(name)
        except ImportError:  # a reader module not shipped
            continue
        if mod.detect(path):
            return name
    return None
