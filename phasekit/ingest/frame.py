"""The sample frame: what every reader of a client's files hands to the core of ingestion.

A reader (``formats/lmeval.py``, ``formats/inspect.py``, ``formats/openai_batch.py``…)
turns one file into a :class:`pandas.DataFrame` with **one row per generation**, including
the generations that failed, so that nothing is lost on the way to the dataset:

=============  ========  ==============================================================
column         required  meaning
=============  ========  ==============================================================
``text``       yes*      the generated text (``None`` where the request failed)
``token``      yes*      token ids (a list of ints) instead of ``text``
``prompt``     yes       the prompt's identity (text, or a stable key such as doc_id)
``sample``     yes       index of this generation within its (model, checkpoint, task,
                         prompt): 0, 1, 2… in the client's order (epochs, resps order)
``failure``    yes       ``None``, or why this generation is missing ("request failed:
                         HTTP 500 …", "sample error: …"); such rows carry no text
``checkpoint`` no        the revision / checkpoint as written, when the file says it
``step``       no        a numeric step, when the file states one
``stage``      no        the training stage, when the file states it
``model``      no        the model's name as written
``task``       no        the task / eval name
``doc_id``     no        the client's document id
``file``       yes       the path the row came from
=============  ========  ==============================================================

(*) exactly one of ``text`` and ``token``.

Readers also return ``meta``: a dict of what they read from the file's header (the
client, its version, model_args, the eval's metadata) — the ``detected`` format name, and
anything used to fill ``checkpoint``/``model``/``step`` so the audit can say where each
came from.

A reader must raise :class:`~phasekit.SchemaError` naming the file for anything it cannot
read, and must never drop a generation without a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["SampleFrame", "FRAME_COLUMNS", "REQUIRED_COLUMNS"]

FRAME_COLUMNS = ("model", "checkpoint", "step", "stage", "task", "prompt", "doc_id", "sample",
                 "text", "token", "failure", "file")
REQUIRED_COLUMNS = ("prompt", "sample", "failure", "file")


@dataclass
class SampleFrame:
    """One reader's output: ``rows`` (one per generation, see module docs) and ``meta``."""

    rows: pd.DataFrame
    format: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.rows.columns]
        if missing:
            raise TypeError(f"reader for {self.format!r} produced no column(s) {missing}")
        if ("text" in self.rows.columns) == ("token" in self.rows.columns):
            raise TypeError(f"reader for {self.format!r} must produce exactly one of 'text' and 'token'")
