"""The change-point stage: phase boundaries along the control axis, phases, the scan.

Modules, in the order the data flows:

* :mod:`.inputs` -- the control axis (``control=``), state counts, real series;
* :mod:`.costs` -- :class:`CostMultinomial` (samples), :class:`CostMeanShift` (series);
* :mod:`.search` -- the exact penalised search (:func:`optimal_partition`) and ruptures';
* :mod:`.samples_test`, :mod:`.series_test` -- the no-change tests of each path;
* :mod:`.intervals` -- likelihood-ratio confidence sets of the locations;
* :mod:`.detection` -- :func:`detect_boundaries`, :func:`penalty_path`;
* :mod:`.phases` -- :func:`phase_levels`, :func:`label_phases`;
* :mod:`.scan` -- :func:`divergence_scan`, :func:`scan_peaks` (Arnold et al. 2024);
* :mod:`.metrics` -- :func:`margin_f1`, :func:`segmentation_covering` (TCPD);
* :mod:`.result` -- :class:`BoundaryResult`, :class:`PenaltyPath` (plain data).
"""

from .costs import CostMeanShift, CostMultinomial
from .detection import (
    DEFAULT_SEED,
    SERIES_MIN_SIZE,
    SERIES_PENALTY_FACTOR,
    detect_boundaries,
    penalty_path,
)
from .metrics import interval_coverage, margin_f1, segmentation_covering, true_positives
from .phases import label_phases, phase_levels
from .result import BoundaryResult, PenaltyPath, p_value_fields
from .scan import divergence_scan, scan_peaks
from .search import PenalisedSearch, optimal_partition, penalised_cost
from .series_test import RHO_MAX

__all__ = [
    "DEFAULT_SEED",
    "RHO_MAX",
    "SERIES_MIN_SIZE",
    "SERIES_PENALTY_FACTOR",
    "BoundaryResult",
    "CostMeanShift",
    "CostMultinomial",
    "PenalisedSearch",
    "PenaltyPath",
    "detect_boundaries",
    "divergence_scan",
    "interval_coverage",
    "label_phases",
    "margin_f1",
    "optimal_partition",
    "p_value_fields",
    "penalised_cost",
    "penalty_path",
    "phase_levels",
    "scan_peaks",
    "segmentation_covering",
    "true_positives",
]
