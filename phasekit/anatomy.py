"""Old import path of three computations that now live where their stage is (issue 15).

* :func:`seed_attribution` — :mod:`phasekit.observables.seeds`;
* :func:`divergence_scan`, :func:`scan_peaks` — :mod:`phasekit.changepoints.scan`;
* :func:`classify_transition`, :class:`TransitionClass` — :mod:`phasekit.scaling.order`.

``from phasekit.anatomy import ...`` keeps working for code written against it; new code
imports from ``phasekit`` (``pk.seed_attribution`` …) or from the modules above.
"""

from __future__ import annotations

__all__ = [
    "TransitionClass",
    "classify_transition",
    "divergence_scan",
    "scan_peaks",
    "seed_attribution",
]

from .changepoints.scan import divergence_scan, scan_peaks  # noqa: E402,F401  # moved
from .observables.seeds import seed_attribution  # noqa: E402,F401  moved to phasekit/observables/seeds.py
from .scaling.order import (  # noqa: E402,F401  moved to phasekit/scaling/order.py
    MIN_GROWTH_EXPONENT,
    TransitionClass,
    _bimodality,
    classify_transition,
)
