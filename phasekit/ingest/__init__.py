"""Ingestion: generations as labs store them, read into the canonical dataset.

:func:`open_samples` is the one entry point. The package is laid out by stage:

* :mod:`.sources` — what a source is (file, folder, glob, list, table) and which reader
  reads it; :mod:`.formats` — one reader per client format (lm-eval, Inspect, OpenAI
  batch, Hugging Face datasets); :mod:`.records` — generic tables with dotted field paths;
* :mod:`.encoders` — answer texts to states, with a reason for every answer not read;
* :mod:`.build` — the streaming sink every reader fills; :mod:`.checkpoints` — true
  training order from names and stages, model sizes; :mod:`.assemble` — the dense token
  array and its coordinates; :mod:`.audit` — per-checkpoint counts of everything read.

Nothing is ever unpickled or evaluated; hostile files (huge lines, deep nesting, zip bombs)
are refused with a :class:`~phasekit.SchemaError` naming the file.
"""

from __future__ import annotations

from .encoders import encode_answers, integer_encoder

__all__ = ["open_samples", "encode_answers", "integer_encoder", "audit_table", "SUPPORTED_EXTENSIONS"]

SUPPORTED_EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet", ".eval", ".nc", ".zarr")

# --------------------------------------------------------------------------- entry point
from .api import open_samples  # noqa: E402
from .audit import audit_table  # noqa: E402
