"""Per-size curves of ⟨m⟩, χ and the Binder cumulant along the control axis.

The numbers are those of :func:`phasekit.susceptibility` and
:func:`phasekit.binder_cumulant` — the same O(R) moment jackknife
(:func:`phasekit.fluctuations._moment_jackknife`), bias corrected, with its delete-one
standard error — so the χ and U that are plotted, classified and scaled agree
(issue 15, item 2; ``tests/test_scaling.py`` checks it):

* ``m = ⟨m⟩``;
* ``chi = N (⟨m²⟩ − ⟨m⟩²)``, jackknife corrected (= N times the ddof = 1 variance);
  N is the configuration size (not divided by the control value);
* ``binder = 1 − ⟨m⁴⟩/(3⟨m²⟩²)``, jackknife corrected ``R·U − (R−1)·Ū₍.₎``.

References: K. Binder, Z. Phys. B 43, 119 (1981); B. Efron and C. Stein, Ann. Stat. 9,
586 (1981) (jackknife); M. E. J. Newman and G. T. Barkema (1999), §3.4.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._meta import provenance
from ..errors import SchemaError
from ..fluctuations import _moment_jackknife
from .sizes import by_size, configuration_size, control_axis, replica_matrix

__all__ = ["OBSERVABLES", "fluctuation_curve", "scaling_curves"]

OBSERVABLES = ("m", "chi", "binder")


def fluctuation_curve(m: np.ndarray, observable: str, n_sites: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(value, jackknife stderr) of ``observable`` per row of ``m`` (control, replica).

    Bias-corrected values, as :func:`phasekit.susceptibility` (times ``n_sites``) and
    :func:`phasekit.binder_cumulant` return them; NaN replicas are skipped.
    """
    m = np.asarray(m, dtype=float)
    if observable == "m":
        value, _, se, _ = _moment_jackknife(m, (1,), lambda M, _n: M[0])
        return value, se
    if observable == "chi":
        ok = np.isfinite(m)
        centre = np.where(ok, m, 0.0).sum(axis=-1, keepdims=True) / np.maximum(
            ok.sum(axis=-1, keepdims=True), 1)
        _, corr, se, _ = _moment_jackknife(m - centre, (1, 2), lambda M, _n: M[1] - M[0] ** 2)
        return n_sites * corr, abs(n_sites) * se
    if observable == "binder":
        _, corr, se, _ = _moment_jackknife(m, (2, 4), lambda M, _n: 1.0 - M[1] / (3.0 * M[0] ** 2))
        return corr, se
    raise SchemaError(f"unknown observable {observable!r}", where="observable=",
                      fix=f"use one of {OBSERVABLES}")


@dataclass
class Curve:
    """One size's curve: sorted control values, values and their errors (or None)."""

    t: np.ndarray
    y: np.ndarray
    dy: np.ndarray | None


_Curve = Curve  # the name the collapse kernels and older tests use


def curves_from_replicas(
    mats: dict[float, tuple[np.ndarray, np.ndarray]], observable: str,
    sites: dict[float, float], index: dict[float, np.ndarray] | None = None,
) -> dict[float, Curve]:
    """Curves of ``observable`` per size from replica matrices (optionally resampled)."""
    out = {}
    for L, (t, m) in mats.items():
        mm = m if index is None else m[:, index[L]]
        y, dy = fluctuation_curve(mm, observable, sites[L])
        ok = np.isfinite(y) & np.isfinite(dy)
        out[L] = Curve(t[ok], y[ok], dy[ok])
    return out


def check_observable(observable: str | None) -> None:
    if observable is not None and observable not in OBSERVABLES:
        raise SchemaError(f"unknown observable {observable!r}", where="observable=",
                          fix=f"use one of {OBSERVABLES}")


def scaling_curves(
    m_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    observable: str = "chi",
    *,
    replica: Hashable = "sample",
    control: Hashable = "temperature",
    n_by_size: Mapping[Any, float] | float | None = None,
    dimension: float | None = None,
) -> dict[float, xr.DataArray]:
    """Per-size curves of ``m``, ``chi`` or ``binder`` along the control dim.

    Values and ``stderr`` coords are those of :func:`phasekit.susceptibility` /
    :func:`phasekit.binder_cumulant` (bias-corrected, jackknife over ``replica``);
    N for χ from ``n_by_size``, ``attrs["N"]`` or ``size ** dimension``. Control values
    from :func:`phasekit._meta.control_values` (the ``step`` coordinate of checkpoints).

    Returns ``{size: DataArray(control)}``, ready for :func:`finite_size_collapse`.
    """
    if observable not in OBSERVABLES:
        check_observable(observable)
    data = by_size(m_by_size, argument="m_by_size")
    out = {}
    for L, da in data.items():
        t, m, source = replica_matrix(da, control, replica, L)
        n, n_source = (configuration_size(da, L, n_by_size=n_by_size, dimension=dimension)
                       if observable == "chi" else (1.0, "not used"))
        y, dy = fluctuation_curve(m, observable, n)
        out[L] = xr.DataArray(
            y, dims=(control,), coords={control: t, "stderr": ((control,), dy)}, name=observable,
            attrs=provenance(estimator=f"{observable} over {replica}", bias_correction="jackknife",
                             error_method="jackknife over replicas", size=L, N=n,
                             N_source=n_source, control_source=source),
        )
    return out


def curves_from_arrays(obs: dict[float, xr.DataArray], control: Hashable) -> dict[float, Curve]:
    """Curves given directly (one value per control point, optional ``stderr`` coord)."""
    out, have_err = {}, []
    for L, da in obs.items():
        t, _ = control_axis(da, control, L)
        extra = [d for d in da.dims if d != control]
        if extra:
            raise SchemaError(
                f"observable for size {L:g} has dims {extra} besides the control dim",
                where=f"dims are {list(da.dims)}",
                fix="pass replica= and observable= to compute the observable from "
                "per-replica data, or reduce the extra dims first",
            )
        y = np.asarray(da.values, dtype=float)
        dy = np.asarray(da.coords["stderr"].values, dtype=float) if "stderr" in da.coords else None
        if dy is not None and not np.any(np.isfinite(dy) & (dy > 0)):
            dy = None
        have_err.append(dy is not None)
        ok = np.isfinite(t) & np.isfinite(y)
        if dy is not None:
            ok &= np.isfinite(dy) & (dy > 0)
        order = np.argsort(t[ok], kind="stable")
        out[L] = Curve(t[ok][order], y[ok][order], None if dy is None else dy[ok][order])
    if any(have_err) and not all(have_err):
        raise SchemaError("some sizes carry a `stderr` coord and some do not",
                          where="obs_by_size", fix="give error bars for all sizes or for none")
    for L, c in out.items():
        if c.t.size < 3:
            raise SchemaError(f"size {L:g} has {c.t.size} usable control values; need at least 3",
                              where="obs_by_size", fix="add control values or drop that size")
    return out


def block_labels(data: dict[float, xr.DataArray], replica: Hashable, block: Hashable | None
                 ) -> dict[float, np.ndarray] | None:
    """Group label of every replica (from coordinate ``block`` along ``replica``)."""
    if block is None:
        return None
    out = {}
    for L, da in data.items():
        if block not in da.coords or da[block].dims != (replica,):
            raise SchemaError(
                f"block={block!r} is not a coordinate along {replica!r} for size {L:g}",
                where=f"coords are {list(da.coords)}",
                fix=f"pass the name of a coordinate with dims ({replica!r},), e.g. 'chain'",
            )
        out[L] = np.unique(np.asarray(da[block].values), return_inverse=True)[1].ravel()
    return out


def resample_index(mats: dict[float, tuple[np.ndarray, np.ndarray]], rng: np.random.Generator,
                   blocks: dict[float, np.ndarray] | None = None) -> dict[float, np.ndarray]:
    """Bootstrap replica indices per size (one draw shared by every control value).

    With ``blocks`` (a group label per replica, e.g. the Markov chain a sample came
    from), whole groups are drawn with replacement (block bootstrap; Künsch 1989).
    """
    out: dict[float, np.ndarray] = {}
    for L, (_, m) in mats.items():
        n = m.shape[1]
        if blocks is None:
            out[L] = np.asarray(rng.integers(0, n, n))
            continue
        labels = blocks[L]
        members = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
        pick = rng.integers(0, len(members), len(members))
        out[L] = np.concatenate([members[g] for g in pick])
    return out


@dataclass
class ReplicaData:
    """Per-size replica matrices and what was read to build them (recorded in results)."""

    mats: dict[float, tuple[np.ndarray, np.ndarray]]
    sites: dict[float, float]
    n_source: dict[float, str]
    control_source: str

    def assumptions(self, control: Hashable) -> list[str]:
        if self.control_source == "positions":
            return [f"control {control!r} has no numeric coordinate and no `step` coordinate: "
                    "control values taken as positions 0, 1, 2, ... (add a `step` coordinate)"]
        return []


def replica_data(data: dict[float, xr.DataArray], control: Hashable, replica: Hashable,
                 observable: str | None, *, n_by_size: Mapping[Any, float] | float | None = None,
                 dimension: float | None = None, argument: str = "m_by_size") -> ReplicaData:
    """Replica matrices of every size, N where χ needs it, and the control-value source."""
    mats, sites, n_source, sources = {}, {}, {}, set()
    for L, da in data.items():
        t, m, source = replica_matrix(da, control, replica, L)
        if t.size < 3:
            raise SchemaError(
                f"size {L:g} has {t.size} usable control values; need at least 3",
                where=argument, fix="add control values (with >= 2 replicas each) or drop that size")
        mats[L] = (t, m)
        sources.add(source)
        if observable == "chi":
            sites[L], n_source[L] = configuration_size(da, L, n_by_size=n_by_size,
                                                       dimension=dimension, argument=argument)
        else:
            sites[L], n_source[L] = 1.0, "not used"
    source = "positions" if "positions" in sources else sorted(sources)[0]
    return ReplicaData(mats, sites, n_source, source)
