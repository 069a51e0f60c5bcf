"""Scaling: curves, critical points, collapses, power laws, transition order, universality.

The stage of the pipeline after change points (DESIGN.md): from an order parameter
measured at several sizes (``*_by_size``: ``{size: DataArray}`` or a DataArray with a
``size`` dim, or a dim such as ``model`` with a numeric ``size`` coordinate).

* :mod:`~phasekit.scaling.sizes` — the one ``*_by_size`` parser, N, control values;
* :mod:`~phasekit.scaling.curves` — ⟨m⟩, χ, U per size (:func:`scaling_curves`), the same
  bias-corrected numbers as :func:`phasekit.susceptibility` / :func:`phasekit.binder_cumulant`;
* :mod:`~phasekit.scaling.critical` — :func:`critical_point` (Binder crossings, χ peaks);
* :mod:`~phasekit.scaling.collapse` — :func:`finite_size_collapse`;
* :mod:`~phasekit.scaling.fixed_binder` — :func:`fixed_binder_exponents` (no t_c needed);
* :mod:`~phasekit.scaling.powerlaw` — :func:`fit_power_law`;
* :mod:`~phasekit.scaling.order` — :func:`classify_transition`;
* :mod:`~phasekit.scaling.universality` — the classes and :func:`compatible_classes`;
"""

from .collapse import Collapse, finite_size_collapse
from .critical import CriticalPoint, critical_point
from .curves import fluctuation_curve, scaling_curves
from .fixed_binder import FixedBinderExponents, fixed_binder_exponents
from .order import TransitionClass, classify_transition
from .powerlaw import PowerLawFit, fit_power_law
from .universality import UNIVERSALITY_CLASSES, compatible_classes, universality_table

__all__ = [
    "UNIVERSALITY_CLASSES",
    "Collapse",
    "CriticalPoint",
    "FixedBinderExponents",
    "PowerLawFit",
    "TransitionClass",
    "classify_transition",
    "compatible_classes",
    "critical_point",
    "finite_size_collapse",
    "fixed_binder_exponents",
    "fit_power_law",
    "fluctuation_curve",
    "scaling_curves",
    "universality_table",
]
