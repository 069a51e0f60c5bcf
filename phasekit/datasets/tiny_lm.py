"""Real training data: samples from a small language model trained from scratch.

The file ``data/tiny_lm.jsonl.gz`` was written by the case study
``examples/tiny_lm_crystallisation/run.py --seed 0`` (see ``docs/case_study.md``): a
~240k-parameter causal transformer pretrained on a corpus in which every wording of
"pick a random number between 1 and 10" has its own answer distribution, then
supervised-finetuned on one narrow distribution (favouring 7), then trained with
REINFORCE (reward for answering 3 or 7). At log-spaced steps through the three stages
every number prompt was sampled at temperature 1 with a fixed seed.

One JSON object per sample: ``checkpoint`` (``"step-<n>"``), ``step``, ``stage``
(``base``/``sft``/``rl``), ``prompt`` (the wording), ``sample`` and ``text`` (the
generated answer; early pretraining checkpoints also produce words that are not
numbers, which the integer encoder counts as unparsed).

Loading needs no torch.
"""

from __future__ import annotations

import gzip
import json
import warnings
from importlib import resources
from typing import Any

import pandas as pd
import xarray as xr

__all__ = ["load_tiny_lm", "TINY_LM_FILE"]

#: name of the shipped file inside ``phasekit/datasets/data``
TINY_LM_FILE = "tiny_lm.jsonl.gz"


def _records() -> list[dict[str, Any]]:
    ref = resources.files("phasekit.datasets").joinpath("data", TINY_LM_FILE)
    with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_tiny_lm(*, as_dataset: bool = True) -> xr.Dataset | list[dict[str, Any]]:
    """The number task of the tiny-LM crystallisation case study.

    Parameters
    ----------
    as_dataset : True (default) maps the answers to states with
        :func:`phasekit.ingest.open_samples` (``text="text"``, ``encoder="integer"``,
        ``n_states=10``, ``stage="stage"``); False returns the raw records (dicts), one
        per sample, exactly as stored.

    Returns
    -------
    Dataset with ``token`` (dims checkpoint, prompt, sample; -1 where the answer is not
    an integer), coords ``step``, ``stage`` and ``state`` (the integer labels), attrs
    ``n_states=10`` and ``n_unparsed`` (answers that are not numbers) — or the records.

    Notes
    -----
    The unparsed answers (words an undertrained model emits) are counted in
    ``attrs["n_unparsed"]`` rather than warned about on every load.

    References
    ----------
    Samanta, Holtzman & West (2026), "Towards Physical Intuitions for Alignment
    Dynamics: A Case Study With Randomness Crystallization", arXiv 2606.29933 — the
    three-phase picture this run tests.
    """
    records = _records()
    if not as_dataset:
        return records
    from ..ingest import open_samples

    df = pd.DataFrame.from_records(records)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*could not be mapped to a state.*")
        ds = open_samples(df, text="text", encoder="integer", n_states=10, stage="stage")
    ds.attrs["source"] = f"phasekit/datasets/data/{TINY_LM_FILE}"
    ds.attrs["description"] = ("tiny causal LM trained from scratch (examples/tiny_lm_crystallisation, "
                               "seed 0): number task through pretraining, SFT and RL")
    return ds
