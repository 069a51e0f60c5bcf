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

import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from ..errors import SchemaError

__all__ = ["open_samples", "encode_answers", "integer_encoder", "audit_table", "SUPPORTED_EXTENSIONS"]

SUPPORTED_EXTENSIONS = (".jsonl", ".json", ".csv", ".parquet", ".eval", ".nc", ".zarr")

_INT_RE = re.compile(r"[-+]?\d+")


# --------------------------------------------------------------------------- encoders
def integer_encoder(text: Any) -> int | None:
    """The integer an answer states: the first integer in the text (``" 7"``, ``"7."``,
    ``"The number is 4"`` → 7, 7, 4); ``None`` when there is none.

    Words for numbers are not parsed: "seven" is unparsed (and counted as such).
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    if isinstance(text, bool):
        return None
    if isinstance(text, int | np.integer):
        return int(text)
    m = _INT_RE.search(str(text))
    return int(m.group()) if m else None


def _exact_encoder(text: Any) -> str | None:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    return str(text)


def encode_answers(
    answers: Sequence[Any],
    encoder: str | Callable[[Any], Hashable | None],
    states: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, list[Hashable], int]:
    """Map answer texts to integer states.

    Parameters
    ----------
    answers : the answer texts
    encoder : "exact", "integer" or a callable returning a label (or None if unparsable)
    states : optional explicit list of labels (defines the order of states and q);
        answers whose label is not in it count as unparsed

    Returns
    -------
    codes : int64 array, -1 where unparsed
    labels : the label of each state (``labels[code]``)
    n_unparsed : how many answers could not be mapped
    """
    if encoder == "integer":
        fn: Callable[[Any], Hashable | None] = integer_encoder
    elif encoder == "exact":
        fn = _exact_encoder
    elif callable(encoder):
        fn = encoder
    else:
        raise SchemaError(
            f"unknown encoder {encoder!r}",
            where="open_samples(encoder=...)",
            fix="use 'exact', 'integer' or a callable str -> label",
        )
    labels_of = [fn(a) for a in answers]
    if states is None:
        seen = {lab for lab in labels_of if lab is not None}
        try:
            labels = sorted(seen)
        except TypeError:
            labels = sorted(seen, key=str)
    elif encoder == "integer":
        # the integer encoder yields ints: read the given labels the same way ("7" == 7)
        labels = [integer_encoder(s) for s in states]
        if any(lab is None for lab in labels):
            bad = states[[lab is None for lab in labels].index(True)]
            raise SchemaError(f"state label {bad!r} is not an integer", where="open_samples(states=...)",
                              fix="with encoder='integer' every state label must be an integer")
    else:
        labels = list(states)
    index = {lab: i for i, lab in enumerate(labels)}
    codes = np.fromiter((index.get(lab, -1) if lab is not None else -1 for lab in labels_of),
                        dtype=np.int64, count=len(labels_of))
    n_unparsed = int((codes < 0).sum())
    return codes, labels, n_unparsed


# --------------------------------------------------------------------------- entry point
from .api import open_samples  # noqa: E402
from .audit import audit_table  # noqa: E402
