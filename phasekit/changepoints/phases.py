r"""Order-parameter levels per checkpoint and the rule that names the phases.

* :func:`phase_levels` -- plug-in entropy, Potts magnetisation, between-prompt
  Jensen--Shannon divergence, 95 %-mass support and the pooled distribution per
  checkpoint, from the state counts.
* :func:`label_phases` -- each segment between boundaries named liquid / nucleation /
  settling / ordered / unclassified by the rule of Samanta, Holtzman & West (2026,
  arXiv 2606.29933); the segment means of every level are kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._meta import control_values, provenance, resolve_n_states
from ..errors import SchemaError
from .inputs import counts_tensor, resolve_control
from .search import segments

__all__ = ["generic_phases", "label_phases", "level_arrays", "levels_dataset", "phase_levels"]


def level_arrays(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-checkpoint levels from counts (T, P, K): plug-in entropy, magnetisation...

    Returns arrays of shape (T,) (means over channels) and the pooled distribution
    (T, K).
    """
    tot = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tot > 0, counts / np.where(tot > 0, tot, 1), np.nan)
        logp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = -(np.nan_to_num(p) * logp).sum(axis=-1)
    h = np.where(tot[..., 0] > 0, h, np.nan)
    pooled = counts.sum(axis=1)
    ptot = pooled.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = pooled / np.where(ptot > 0, ptot, 1)
        hp = -(np.where(pp > 0, pp * np.log(np.where(pp > 0, pp, 1.0)), 0.0)).sum(axis=-1)
    w = tot[..., 0] / np.maximum(tot[..., 0].sum(axis=1, keepdims=True), 1)
    with np.errstate(invalid="ignore"):
        js = hp - np.nansum(w * h, axis=1)  # generalised Jensen-Shannon between prompts
    with warnings.catch_warnings():  # checkpoints without samples give NaN levels
        warnings.simplefilter("ignore", RuntimeWarning)
        mode_frac = np.nanmax(p, axis=-1) if p.size else np.zeros(p.shape[:-1])
        return {"entropy": np.nanmean(h, axis=1), "js": js, "pooled": pp,
                "mode_fraction": np.nanmean(mode_frac, axis=1)}



def levels_dataset(counts: np.ndarray, q: int | None, dim: str, coord: np.ndarray,
                   control: np.ndarray, states: np.ndarray | None = None) -> xr.Dataset:
    """Levels of :func:`phase_levels` from counts (T, P, K) (``q`` None: K observed states)."""
    lv = level_arrays(counts)
    qn = q if q is not None else counts.shape[-1]
    m = (qn * lv["mode_fraction"] - 1) / (qn - 1) if qn > 1 else lv["mode_fraction"]
    pooled = lv["pooled"]
    order = np.sort(pooled, axis=-1)[:, ::-1]
    support = (np.cumsum(order, axis=-1) < 0.95).sum(axis=-1) + 1
    coords: dict[str, Any] = {dim: coord, "step": (dim, control)}
    if states is not None:
        coords["state"] = states
    return xr.Dataset(
        {"entropy": (dim, lv["entropy"], {"units": "nats", "estimator": "plug-in"}),
         "magnetization": (dim, m),
         "js_divergence": (dim, lv["js"], {"units": "nats"}),
         "support": (dim, support.astype(float)),
         "pooled": ((dim, "state"), pooled)},
        coords=coords, attrs=provenance(n_states=qn, estimator="phase_levels"))


def phase_levels(
    data: xr.Dataset | xr.DataArray,
    *,
    control: str | None = None,
    system: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
    dim: str | None = None,
) -> xr.Dataset:
    r"""Order-parameter levels per checkpoint, the raw material of :func:`label_phases`.

    From the state counts of every (checkpoint, prompt):

    * ``entropy``: mean over prompts of the plug-in entropy :math:`-\sum_k p_k\ln p_k`
      (nats);
    * ``magnetization``: mean Potts magnetisation :math:`(q\max_k p_k-1)/(q-1)`;
    * ``js_divergence``: generalised Jensen-Shannon divergence between the prompts'
      distributions, :math:`H(\bar p) - \sum_j w_j H(p_j)` (nats; Lin 1991, IEEE
      Trans. Inf. Theory 37:145), 0 when all prompts answer alike;
    * ``support``: number of states that carry 95 % of the pooled mass.

    The ``pooled`` distribution (``control``, ``state``) is kept so that support changes
    can be checked. ``control`` is the control dim (default ``"checkpoint"``; ``dim`` is
    its deprecated alias); ``step`` holds the control values.
    """
    dim_, cvals = resolve_control(data, control, dim, caller="phase_levels")
    counts, info = counts_tensor(data, dim_, system, n_states)
    return levels_dataset(counts, info["n_states"], dim_, info["coord"], cvals, info["states"])


def _segment_stats(levels: xr.Dataset, var: str, segs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``var`` over each segment and its standard error over checkpoints."""
    vals = np.asarray(levels[var].values, dtype=float)
    means, sems = [], []
    for a, b in segs:
        v = vals[a:b][np.isfinite(vals[a:b])]
        means.append(float(np.mean(v)) if v.size else np.nan)
        sems.append(float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else np.nan)
    return np.array(means), np.array(sems)


def _support_set(levels: xr.Dataset, seg: tuple[int, int], mass: float = 0.95) -> set:
    pooled = np.nanmean(np.asarray(levels["pooled"].values, dtype=float)[seg[0]:seg[1]], axis=0)
    order = np.argsort(pooled)[::-1]
    k = int((np.cumsum(pooled[order]) < mass).sum()) + 1
    return set(order[:k].tolist())


def _disorder(means: dict[str, np.ndarray], q: int | None, s: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Normalised entropy :math:`h = H/\ln q` (or H / its maximum without q) and
    :math:`j = JS/\ln 2` per segment."""
    if "entropy" in means:
        ent = means["entropy"]
        h = ent / math.log(q) if q and q > 1 else ent / np.nanmax(np.r_[ent, 1e-12])
    else:
        h = np.zeros(s)
    j = means["js_divergence"] / math.log(2) if "js_divergence" in means else np.zeros(s)
    return h, j


def _name_segments(levels: xr.Dataset, segs: list[tuple[int, int]], means: dict[str, np.ndarray],
                   h: np.ndarray, j: np.ndarray, collapse: float, settle_tolerance: float) -> list[str]:
    """The rule of :func:`label_phases` (steps 2-4)."""
    s = len(segs)
    d = np.nan_to_num(h) + np.nan_to_num(j)
    drops = -np.diff(d)
    if not (s > 1 and np.nanmax(drops) >= collapse):
        return ["liquid" if (np.nan_to_num(h[i]) >= 0.5 or j[i] >= 0.25) else "ordered"
                for i in range(s)]
    c = int(np.nanargmax(drops)) + 1
    labels = ["liquid"] * c + ["nucleation"] + ["unclassified"] * (s - c - 1)
    nuc_support = _support_set(levels, segs[c]) if "pooled" in levels else None
    for i in range(c + 1, s):
        low = np.nan_to_num(h[i]) <= np.nan_to_num(h[c]) + settle_tolerance
        if nuc_support is not None:
            inside = _support_set(levels, segs[i]) <= nuc_support
        elif "support" in means:
            inside = means["support"][i] <= means["support"][c] + 0.5
        else:
            inside = True
        labels[i] = "settling" if (low and inside) else "unclassified"
    return labels


def _boundary_positions(boundaries: Any, n: int) -> list[int]:
    cps = list(boundaries.indices) if hasattr(boundaries, "indices") else [int(b) for b in boundaries]
    if any(not 0 < b < n for b in cps):
        raise SchemaError(f"boundary positions {cps} are outside 1..{n - 1}",
                          where="label_phases(boundaries=...)",
                          fix="pass the positions of the first checkpoint of each new segment")
    return sorted(set(cps))


def label_phases(
    levels: xr.Dataset,
    boundaries: Any,
    *,
    control: str | None = None,
    n_states: int | None = None,
    collapse: float = 0.15,
    settle_tolerance: float = 0.15,
    dim: str | None = None,
) -> xr.Dataset:
    r"""Describe each segment by its order-parameter levels and name it.

    ``levels`` is a Dataset along ``control`` (default ``"checkpoint"``; ``dim`` is the
    deprecated alias) with (some of) ``entropy`` (nats), ``js_divergence`` (nats,
    between prompts), ``support`` (states carrying 95 % of the mass),
    ``magnetization`` and optionally ``pooled`` (``control``, ``state``), e.g. from
    :func:`phase_levels`. ``boundaries`` is a :class:`BoundaryResult` or the positions
    of the first checkpoint of each new segment.

    The rule (the dictionary of Samanta, Holtzman & West 2026, arXiv 2606.29933):

    1. Every segment gets its mean levels; entropy and divergence are normalised,
       :math:`h = H/\ln q` and :math:`j = JS/\ln 2`, and the disorder score is
       :math:`d = h + j`.
    2. The *collapse* is the boundary with the largest drop of :math:`d`, provided the
       drop is at least ``collapse`` (absolute) -- entropy and between-prompt
       divergence fall together when the prompts crystallise onto one distribution.
    3. Segments before the collapse are **liquid**; the segment right after it is
       **nucleation**; each later segment is **settling** when its :math:`h` does not
       exceed the nucleation level by more than ``settle_tolerance`` and its support
       (95 % of the pooled mass when ``pooled`` is given, else the ``support`` count)
       stays inside the nucleated support; otherwise **unclassified**.
    4. With no collapse, every segment is **liquid** if :math:`h \ge 0.5` or
       :math:`j \ge 0.25`, else **ordered** (no transition seen in this window).

    Returns a Dataset along ``segment`` with ``label``, ``first_index``, ``start`` and
    ``stop`` (control values), the mean levels of every variable and
    ``<variable>_stderr`` (standard error of the segment mean over its checkpoints),
    ``disorder``, and ``phase`` along ``control`` (the label of every checkpoint).
    """
    if dim is not None:
        warnings.warn("label_phases(dim=...) is deprecated: the control dim is now control=...",
                      DeprecationWarning, stacklevel=2)
    name = dim if dim is not None else (control or "checkpoint")
    if not isinstance(levels, xr.Dataset) or name not in levels.dims:
        raise SchemaError(f"levels must be a Dataset along {name!r}", where="label_phases(levels=...)",
                          fix="pass phase_levels(ds) or pk.order_parameters(ds) reduced to one value per checkpoint")
    n = levels.sizes[name]
    segs = segments(_boundary_positions(boundaries, n), n)
    q = resolve_n_states(levels, n_states)
    scalar_vars = [str(v) for v in levels.data_vars if levels[v].dims == (name,)]
    stats = {v: _segment_stats(levels, v, segs) for v in scalar_vars}
    means = {v: m for v, (m, _) in stats.items()}
    h, j = _disorder(means, q, len(segs))
    labels = _name_segments(levels, segs, means, h, j, collapse, settle_tolerance)
    cvals = control_values(levels, name)
    phase = np.empty(n, dtype=object)
    for (a, b), lab in zip(segs, labels, strict=True):
        phase[a:b] = lab
    return xr.Dataset(
        {"label": ("segment", np.array(labels, dtype=object)),
         "first_index": ("segment", np.array([a for a, _ in segs])),
         "start": ("segment", cvals[[a for a, _ in segs]]),
         "stop": ("segment", cvals[[b - 1 for _, b in segs]]),
         "disorder": ("segment", np.nan_to_num(h) + np.nan_to_num(j)),
         **{v: ("segment", m) for v, (m, _) in stats.items()},
         **{f"{v}_stderr": ("segment", se) for v, (_, se) in stats.items()},
         "phase": (name, phase)},
        coords={name: levels[name].values, "segment": np.arange(len(segs))},
        attrs=provenance(rule="collapse of h+j; see phasekit.changepoints.label_phases",
                         collapse=collapse, settle_tolerance=settle_tolerance,
                         n_states=q if q else "unknown (entropy normalised by its maximum)"))


def generic_phases(data: xr.Dataset | xr.DataArray, dim: str, indices: Sequence[int],
                   n_total: int) -> xr.DataArray:
    """Segments numbered in order (``"phase 0"``, ``"phase 1"``...) along ``dim``."""
    labels = np.empty(n_total, dtype=object)
    for i, (a, b) in enumerate(segments(indices, n_total)):
        labels[a:b] = f"phase {i}"
    coords = {dim: data[dim].values} if dim in data.coords else {}
    return xr.DataArray(labels, dims=(dim,), coords=coords, name="phase",
                        attrs={"rule": "segments numbered in order; name them with label_phases"})
