"""The result of :func:`~phasekit.changepoints.detect_boundaries`, as plain data.

:class:`BoundaryResult` holds numbers, strings, lists, numpy arrays and xarray objects
only (no closures), so it pickles and compares equal after a round trip; its penalty
path is recomputed on access from a :class:`PenaltyPath` (the search as plain data and
a grid of penalties). ``to_dataset()`` gives the boundaries as an ``xarray.Dataset``
with ``location``, ``location_lower`` / ``location_upper`` (the confidence set, attr
``confidence``) and ``location_stderr`` along ``boundary``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._meta import jsonable, provenance
from .search import PenalisedSearch, path_frame

__all__ = ["BoundaryResult", "PenaltyPath", "p_value_fields", "same_data"]

_PATH_COLUMNS = ["penalty", "n_boundaries", "locations"]


def p_value_fields(p: float, n_boot: int) -> dict[str, Any]:
    """A resampling p-value with its floor: at ``1/(B+1)`` it is only a bound.

    Returns ``p_value`` (the number, kept for sorting), ``p_value_floor`` (1/(B+1)),
    ``p_value_at_floor`` and ``p_value_text`` (at the floor the bound the report prints,
    ``"< 0.005 (1/201)"`` for B = 200, :func:`phasekit.report.numbers.format_p_value`;
    else the value): no draw of the null was as extreme, so the p-value is below the
    floor (Davison & Hinkley 1997, *Bootstrap Methods*, eq. 4.11).
    """
    if not np.isfinite(p) or n_boot <= 0:
        return {"p_value": float(p), "p_value_floor": np.nan, "p_value_at_floor": False,
                "p_value_text": f"{p:.3g}"}
    from ..report.numbers import format_p_value

    floor = 1.0 / (n_boot + 1)
    at_floor = bool(p <= floor * (1 + 1e-12))
    text = format_p_value(p, n_resamples=n_boot, at_floor=True) if at_floor else f"{p:.3g}"
    return {"p_value": float(p), "p_value_floor": floor, "p_value_at_floor": at_floor, "p_value_text": text}


def same_data(a: Any, b: Any) -> bool:
    """Deep equality of plain data: dicts, lists, tuples, numpy arrays, xarray objects,
    DataFrames; NaN equals NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_data(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, xr.DataArray):
        return isinstance(b, xr.DataArray) and a.identical(b)
    if isinstance(a, xr.Dataset):
        return isinstance(b, xr.Dataset) and a.identical(b)
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@dataclass(eq=False)
class PenaltyPath:
    """The search on a grid of penalties (plain data; the frame is computed on call)."""

    search: PenalisedSearch | None
    grid: np.ndarray

    def __call__(self) -> pd.DataFrame:
        if self.search is None:
            return pd.DataFrame(columns=_PATH_COLUMNS)
        return path_frame(self.grid, self.search)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PenaltyPath):
            return NotImplemented
        return self.search == other.search and same_data(self.grid, other.grid)


@dataclass(eq=False)
class BoundaryResult:
    """Phase boundaries along a control dim.

    Attributes
    ----------
    locations : control values (``step``) of the first checkpoint of each new segment
    indices : positions of those checkpoints along ``control``
    intervals : ``(lower, upper)`` of each location, in control values: the change
        happened after the checkpoint at ``lower`` and no later than the one at
        ``upper`` -- a likelihood-ratio confidence set (level ``confidence``) for the
        first checkpoint of the new segment, calibrated by a parametric bootstrap
    phases : label per checkpoint (DataArray along ``control``)
    penalty : the penalty used by the search (per boundary)
    evidence : global no-change test (statistic, p-value; at the resampling floor the
        p-value is a bound, ``p_value_text`` = ``"< 1/(B+1)"``), per-boundary
        statistics, p-values and the channels that moved, dropped checkpoints, noise
    control : the control dim
    method, kind : the search, and ``"samples"`` or ``"series"``
    levels : per-segment levels and labels (samples path; :func:`label_phases`)
    penalty_path : the search as plain data and its grid (``path`` computes the frame)
    attrs : provenance: the seed of the resampling (``seed``), ``n_bootstrap``,
        ``alpha``, package version
    confidence : level of the intervals (1 - alpha)
    """

    locations: list[float]
    indices: list[int]
    intervals: list[tuple[float, float]]
    phases: xr.DataArray
    penalty: float
    evidence: dict[str, Any]
    control: str = "checkpoint"
    method: str = "pelt"
    kind: str = "series"
    levels: xr.Dataset | None = field(default=None, repr=False)
    penalty_path: PenaltyPath = field(default_factory=lambda: PenaltyPath(None, np.zeros(0)),
                                      repr=False)
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    confidence: float = 0.95

    @property
    def dim(self) -> str:
        """The control dim (old name of :attr:`control`)."""
        return self.control

    @property
    def search_fn(self) -> PenalisedSearch | None:
        """The search at any penalty (``search_fn(pen)`` -> control values), before tests."""
        return self.penalty_path.search

    @cached_property
    def path(self) -> pd.DataFrame:
        """Penalty path (computed on first access): penalty, n_boundaries, locations."""
        return self.penalty_path()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BoundaryResult):
            return NotImplemented
        names = ("locations", "indices", "intervals", "phases", "penalty", "evidence", "control",
                 "method", "kind", "levels", "attrs", "confidence")
        return self.penalty_path == other.penalty_path and all(
            same_data(getattr(self, n), getattr(other, n)) for n in names)

    def _rows(self) -> list[dict[str, Any]]:
        per = self.evidence.get("boundaries", [])
        rows = []
        for i, (loc, idx, (lo, hi)) in enumerate(
            zip(self.locations, self.indices, self.intervals, strict=True)
        ):
            e = per[i] if i < len(per) else {}
            rows.append({
                "location": loc, "index": idx, "lower": lo, "upper": hi,
                "stderr": e.get("stderr", np.nan), "statistic": e.get("statistic", np.nan),
                "p_value": e.get("p_value", np.nan), "p_value_text": e.get("p_value_text", ""),
                "p_value_at_floor": bool(e.get("p_value_at_floor", False)),
                "channels": ",".join(str(c) for c in e.get("channels", [])),
                "phase_before": e.get("phase_before", ""), "phase_after": e.get("phase_after", ""),
            })
        return rows

    def to_dataframe(self) -> pd.DataFrame:
        """One row per boundary: location, index, interval, bootstrap stderr of the
        location (control units), statistic, p-value (and its text: ``"< 1/(B+1)"`` at
        the floor), channels, phases either side."""
        cols = ["location", "index", "lower", "upper", "stderr", "statistic", "p_value",
                "p_value_text", "p_value_at_floor", "channels", "phase_before", "phase_after"]
        return pd.DataFrame(self._rows(), columns=cols)

    def to_dataset(self) -> xr.Dataset:
        """The boundaries as a Dataset along ``boundary`` and the phases along ``control``.

        Variables: ``location`` (control units) with ``location_lower`` /
        ``location_upper`` (the ``(lower, upper]`` confidence set, attr ``confidence``)
        and ``location_stderr`` (bootstrap sd), ``index``, ``statistic``, ``p_value``,
        ``p_value_at_floor`` and ``p_value_text`` (``"< 1/(B+1)"`` at the resampling
        floor), ``channels``, ``phase_before`` / ``phase_after``, and ``phase``. The
        attrs hold the global no-change test and the provenance;
        ``phasekit.with_stderr(ds, "location")`` gives the DataArray form.
        """
        df = self.to_dataframe()
        iv = {"confidence": self.confidence, "interval": "(lower, upper]", "units": "control"}
        data = {
            "location": ("boundary", df["location"].to_numpy(float), {"units": "control"}),
            "location_lower": ("boundary", df["lower"].to_numpy(float), iv),
            "location_upper": ("boundary", df["upper"].to_numpy(float), iv),
            "location_stderr": ("boundary", df["stderr"].to_numpy(float)),
            "index": ("boundary", df["index"].to_numpy(int)),
            "statistic": ("boundary", df["statistic"].to_numpy(float)),
            "p_value": ("boundary", df["p_value"].to_numpy(float)),
            "p_value_at_floor": ("boundary", df["p_value_at_floor"].to_numpy(bool)),
        }
        for name in ("p_value_text", "channels", "phase_before", "phase_after"):
            data[name] = ("boundary", df[name].to_numpy(str).astype(str))
        ds = xr.Dataset(data, coords={"boundary": np.arange(len(df))})
        ds["phase"] = self.phases.astype(str)
        ev = self.evidence
        ds.attrs = provenance(
            **{k: v for k, v in self.attrs.items() if k != "phasekit_version"},
            control=self.control, kind=self.kind, search=self.method, penalty=self.penalty,
            confidence=self.confidence, no_change_p_value=float(ev.get("p_value", np.nan)),
            no_change_p_value_text=str(ev.get("p_value_text", "")),
            no_change_p_value_at_floor=bool(ev.get("p_value_at_floor", False)),
            n_dropped=int(ev.get("n_dropped", 0)))
        return ds

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return jsonable({
            "control": self.control, "dim": self.control, "method": self.method,
            "kind": self.kind, "locations": self.locations, "indices": self.indices,
            "intervals": [list(iv) for iv in self.intervals],
            "phases": [str(v) for v in np.asarray(self.phases.values)],
            "penalty": self.penalty, "confidence": self.confidence, "evidence": self.evidence,
            "attrs": self.attrs, "path": self.path.to_dict(orient="records"),
        })

    def __repr__(self) -> str:
        p = self.evidence.get("p_value_text", f"{self.evidence.get('p_value', np.nan):.3g}")
        locs = ", ".join(
            f"{loc:g} ({lo:g}, {hi:g}]"
            for loc, (lo, hi) in zip(self.locations, self.intervals, strict=True)
        )
        return (
            f"BoundaryResult({self.kind}, {self.method}, {len(self.locations)} boundaries"
            f"{': ' + locs if locs else ''}; no-change p = {p})"
        )
