"""The audit of every mapping: per checkpoint, what was read, parsed, unparsed (by reason), failed.

:func:`attach` writes it into the dataset's attrs (netCDF-safe: numbers and JSON strings):

* ``n_rows`` (records read), ``n_generations``, ``n_parsed``, ``n_unparsed``, ``n_failed``
  — totals; for list answers ``n_items``/``n_parsed``/``n_unparsed`` count items;
* ``unparsed_reasons`` — JSON ``{reason: count}``;
* ``audit`` — JSON records, one per (model,) checkpoint: ``rows``, ``generations``,
  ``parsed``, ``unparsed``, ``failed`` and one ``unparsed: <reason>`` column per reason;
* ``audit_examples`` — JSON: the most common unparsed answers (text, reason, count),
  a few (text → state) examples, the most common failure messages.

:func:`audit_table` reads it back as a :class:`pandas.DataFrame`. A checkpoint with no
parsed answer is named in a warning at error level (its observables will be NaN).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import SchemaError

__all__ = ["attach", "audit_table", "check_unparsed", "DataQualityWarning"]


class DataQualityWarning(UserWarning):
    """Data were read but some cannot be used (unparsed answers, empty checkpoints)."""


def _counts_by(keys: np.ndarray, n_keys: int, reason: np.ndarray, n_reasons: int) -> np.ndarray:
    flat = keys * n_reasons + reason
    return np.bincount(flat, minlength=n_keys * n_reasons).reshape(n_keys, n_reasons)


def attach(ds: xr.Dataset, sink: Any, *, gen_model: np.ndarray, gen_ck: np.ndarray, cell: dict,
           ck_labels: np.ndarray, models: list, model_dim: bool) -> None:
    """Write the audit of ``sink`` into ``ds.attrs`` (see module docs)."""
    from .build import FAILED

    reasons = sink.ids["reason"].labels            # [None, reason1, ...]
    cell_gen, cell_reason = cell["gen"], cell["reason"]
    n_ck, n_m = len(ck_labels), max(len(models), 1)
    gen_key = gen_model * n_ck + gen_ck
    cell_counts = _counts_by(gen_key[cell_gen], n_m * n_ck, cell_reason, len(reasons))
    gens = np.bincount(gen_key, minlength=n_m * n_ck)
    used = cell_counts.sum(axis=0) > 0
    records = []
    for key in np.flatnonzero(gens):
        m, c = divmod(int(key), n_ck)
        row: dict[str, Any] = {"checkpoint": str(ck_labels[c])}
        if model_dim:
            row = {"model": str(models[m]), **row}
        row["rows"] = int(sink.rows.get((models[m], str(ck_labels[c])), 0))
        row["generations"] = int(gens[key])
        row["parsed"] = int(cell_counts[key, 0])
        row["failed"] = int(sum(cell_counts[key, i] for i, r in enumerate(reasons) if r == FAILED))
        row["unparsed"] = int(cell_counts[key].sum() - row["parsed"] - row["failed"])
        for i, r in enumerate(reasons):
            if r is not None and r != FAILED and used[i]:
                row[f"unparsed: {r}"] = int(cell_counts[key, i])
        records.append(row)
    _write_totals(ds, records, reasons, sink)
    ds.attrs["audit"] = json.dumps(records)
    ds.attrs["audit_examples"] = json.dumps(_examples(sink))
    _warn_empty(records, model_dim)


def _write_totals(ds: xr.Dataset, records: list[dict], reasons: list, sink: Any) -> None:
    tot = pd.DataFrame(records).sum(numeric_only=True)
    ds.attrs["n_rows"] = int(sum(sink.rows.values())) + int(sink.records_without_samples)
    ds.attrs["n_generations"] = int(tot["generations"])
    ds.attrs["n_parsed"] = int(tot["parsed"])
    ds.attrs["n_unparsed"] = int(tot["unparsed"])
    ds.attrs["n_failed"] = int(tot["failed"])
    by_reason = {k.removeprefix("unparsed: "): int(v) for k, v in tot.items()
                 if k.startswith("unparsed: ") and v}
    ds.attrs["unparsed_reasons"] = json.dumps(by_reason)


def _examples(sink: Any) -> dict:
    return {
        "unparsed_top": [[t, r, n] for (t, r), n in sink.unparsed_texts.most_common(10)],
        "parsed_examples": [[t, str(lab)] for lab, t in list(sink.examples.items())[:10]],
        "failures_top": [[m, n] for m, n in sink.failures.most_common(5)],
    }


def _warn_empty(records: list[dict], model_dim: bool) -> None:
    empty = [r for r in records if r["parsed"] == 0]
    if empty:
        names = [f"{r['model']}@{r['checkpoint']}" if model_dim else r["checkpoint"] for r in empty[:5]]
        warnings.warn(f"ERROR-LEVEL: {len(empty)} checkpoint(s) have no parsed answer: {names}; "
                      "their observables will be NaN (see phasekit validate for the unparsed answers)",
                      DataQualityWarning, stacklevel=4)


def audit_table(ds: xr.Dataset) -> pd.DataFrame:
    """The per-checkpoint audit written by :func:`attach`, as a DataFrame."""
    if "audit" not in ds.attrs:
        raise SchemaError("the dataset carries no ingestion audit", where="ds.attrs['audit']",
                          fix="load it with phasekit.open_samples from the generations")
    return pd.DataFrame(json.loads(ds.attrs["audit"])).fillna(0)


def check_unparsed(ds: xr.Dataset, max_unparsed: float | None, *, stacklevel: int = 3) -> None:
    """Warn about unparsed answers, or raise when their fraction exceeds ``max_unparsed``."""
    n_un, n_ok = ds.attrs.get("n_unparsed", 0), ds.attrs.get("n_parsed", 0)
    total = n_un + n_ok
    if not n_un or not total:
        return
    frac = n_un / total
    reasons = json.loads(ds.attrs.get("unparsed_reasons", "{}"))
    top = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
    msg = (f"{n_un} of {total} answers ({frac:.1%}) could not be mapped to a state by the "
           f"{ds.attrs.get('encoder', '?')!r} encoder ({top}); stored as -1 and counted in attrs['audit']")
    if max_unparsed is not None and frac > max_unparsed:
        raise SchemaError(msg, where=str(ds.attrs.get("source", "")),
                          fix=f"check the encoder (encoder=, answer_pattern=, states=) or raise max_unparsed= "
                          f"(now {max_unparsed})")
    warnings.warn(msg, DataQualityWarning, stacklevel=stacklevel)
