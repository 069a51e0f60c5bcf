"""Phase diagrams: phase boundaries along the control for every value of a second dim.

:func:`phase_diagram` runs the boundary detection (:func:`phasekit.detect_boundaries`,
multinomial counts, with its no-change test and likelihood-ratio intervals) and the phase
labels (:func:`phasekit.label_phases` on :func:`phasekit.phase_levels`) at every value of
``across`` (sampling temperature, learning rate, data fraction, model size…), and links the
boundaries of neighbouring ``across`` values into boundary *lines*
(:func:`phasekit.compare.link_boundaries`: one-to-one assignment within a gate, following
each line's linear trend along ``across``). The result,
:class:`PhaseDiagram`, is plain data; ``.to_dataset()`` holds

* ``boundary``, ``boundary_lower``, ``boundary_upper`` (``across`` × ``boundary_index``, NaN-padded,
  control units) and ``boundary_line`` (the line of each boundary, -1 for padding);
* ``line_location``, ``line_lower``, ``line_upper`` (``across`` × ``line``): the boundary lines;
* ``phase`` (``across`` × control): the phase label at every point;
* the order-parameter map (``across`` × control): entropy, magnetisation, between-prompt
  Jensen–Shannon divergence, support;
* ``p_value`` (``across``): the no-change test at each ``across`` value.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ._meta import control_values, provenance, resolve_n_states
from .compare import boundary_comparison
from .errors import SchemaError
from .schema import token_array

__all__ = ["PhaseDiagram", "diagram_from_results", "phase_diagram"]


@dataclass(eq=False)
class PhaseDiagram:
    """Boundaries and phases over the plane (control × ``across``); see the module docstring.

    Attributes
    ----------
    across, control : the two dims.
    across_values : value of ``across`` at each row.
    control_labels : labels of the control dim; ``control_values`` (across × control) its
        numeric values (the ``step`` coordinate when present).
    boundaries : the comparison Dataset of :func:`phasekit.compare.boundary_comparison`
        (boundaries per ``across`` value and linked into lines; ``gate`` in its attrs).
    phase : label per (across, control) point.
    order : order-parameter map (across × control).
    p_value : the global no-change p-value of the boundary detection at each ``across`` value.
    attrs : how it was made (seed, n_bootstrap, method).
    """

    across: str
    control: str
    across_values: np.ndarray
    control_labels: np.ndarray
    control_values: np.ndarray
    boundaries: xr.Dataset
    phase: np.ndarray
    order: xr.Dataset
    p_value: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_lines(self) -> int:
        """Number of boundary lines."""
        return int(self.boundaries.sizes.get("line", 0))

    def to_dataset(self) -> xr.Dataset:
        """The diagram as one Dataset (see the module docstring)."""
        a, c = self.across, self.control
        b = self.boundaries
        grid = xr.Dataset(
            {"phase": ((a, c), self.phase.astype(str)), "control_value": ((a, c), self.control_values),
             "p_value": (a, self.p_value)},
            coords={a: self.across_values, c: self.control_labels})
        order = self.order.assign_coords({a: self.across_values, c: self.control_labels})
        out = xr.merge([b, grid, order], combine_attrs="drop")
        out.attrs = {**provenance(across=a, control=c, gate=float(b.attrs.get("gate", np.nan))), **self.attrs}
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PhaseDiagram):
            return NotImplemented
        return self.to_dataset().identical(other.to_dataset())

    def __repr__(self) -> str:
        n = np.isfinite(self.boundaries["boundary"].values).sum()
        return (f"PhaseDiagram({self.control} x {self.across}: {self.across_values.size} values, "
                f"{int(n)} boundaries in {self.n_lines} line(s))")


def _order_map(orders: Sequence[xr.Dataset], control: str) -> xr.Dataset:
    """Stack the per-row order parameters (1-D along ``control``) into (row × control)."""
    names = [v for v in orders[0].data_vars
             if all(v in o and o[v].dims == (control,) for o in orders)]
    return xr.Dataset({v: (("row", control), np.stack([np.asarray(o[v].values, dtype=float) for o in orders]),
                           orders[0][v].attrs) for v in names})


def diagram_from_results(
    results: Sequence[Any], phases: Sequence[np.ndarray], orders: Sequence[xr.Dataset], *,
    across: str, across_values: np.ndarray, control: str, control_labels: np.ndarray,
    control_grid: np.ndarray, gate: float | None = None, attrs: dict[str, Any] | None = None,
) -> PhaseDiagram:
    """Assemble a :class:`PhaseDiagram` from one boundary result, phase labelling and
    order-parameter Dataset per ``across`` value (e.g. the members of an analysis)."""
    span = float(np.nanmax(control_grid) - np.nanmin(control_grid))
    values = np.asarray(across_values)
    positions = values.astype(float) if np.issubdtype(values.dtype, np.number) else None
    comp = boundary_comparison(dict(enumerate(results)), across, control=control, control_span=span, gate=gate,
                               positions=positions, trend=True)
    comp = comp.assign_coords({across: np.asarray(across_values)})
    order = _order_map(orders, control).rename({"row": across})
    p = np.array([float(r.evidence.get("p_value", np.nan)) for r in results])
    return PhaseDiagram(across=across, control=control, across_values=np.asarray(across_values),
                        control_labels=np.asarray(control_labels), control_values=np.asarray(control_grid, float),
                        boundaries=comp, phase=np.stack([np.asarray(x).astype(str) for x in phases]),
                        order=order, p_value=p, attrs=dict(attrs or {}))


def _check_dims(ds: xr.Dataset | xr.DataArray, control: str, across: str) -> None:
    dims = list(token_array(ds).dims)
    for name, d in (("control", control), ("across", across)):
        if d not in dims:
            raise SchemaError(f"{name} dim {d!r} is not in the data", where=f"dims are {dims}",
                              fix=f"pass {name}= with one of {dims}")
    if control == across:
        raise SchemaError("control and across name the same dim", where=f"control={control!r}",
                          fix="pass across= the second dim (e.g. 'temperature')")


def phase_diagram(
    ds: xr.Dataset | xr.DataArray,
    *,
    control: str = "checkpoint",
    across: str = "temperature",
    system: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
    n_bootstrap: int = 200,
    seed: int | None = 0,
    gate: float | None = None,
) -> PhaseDiagram:
    """Phase boundaries and phase labels along ``control`` for every value of ``across``.

    At each value of ``across``: :func:`phasekit.detect_boundaries` on the samples (``system``
    dims counted; default ``sample`` and ``position``), :func:`phasekit.phase_levels` (plug-in
    entropy, magnetisation, between-prompt JS divergence, support per control value) and
    :func:`phasekit.label_phases` on them. Boundaries of successive ``across`` values are
    linked into lines when within ``gate`` control units (default: a quarter of the control
    span) by a one-to-one minimum-distance assignment. q from ``n_states`` or
    ``attrs["n_states"]`` (phase labels normalise the entropy by ln q; without q by its
    maximum, as :func:`phasekit.label_phases` records). Deterministic for a fixed ``seed``.
    """
    from . import detect_boundaries, label_phases, phase_levels

    _check_dims(ds, control, across)
    q = resolve_n_states(ds, n_states)
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name="token")
    results, phases, orders, grid = [], [], [], []
    for i in range(ds.sizes[across]):
        sub = ds.isel({across: i})
        res = detect_boundaries(sub, control=control, system=system, n_states=q, n_bootstrap=n_bootstrap, seed=seed)
        levels = phase_levels(sub, control=control, system=system, n_states=q)
        phases.append(np.asarray(label_phases(levels, res, control=control, n_states=q)["phase"].values))
        results.append(res)
        orders.append(levels.drop_vars("pooled"))
        grid.append(control_values(sub, control))
    labels = ds[control].values if control in ds.coords else np.arange(ds.sizes[control])
    values = ds[across].values if across in ds.coords else np.arange(ds.sizes[across])
    return diagram_from_results(results, phases, orders, across=across, across_values=values, control=control,
                                control_labels=labels, control_grid=np.stack(grid), gate=gate,
                                attrs={"seed": "none" if seed is None else seed, "n_bootstrap": n_bootstrap,
                                       "method": "detect_boundaries (multinomial counts) + label_phases",
                                       "n_states": "unknown" if q is None else int(q)})
