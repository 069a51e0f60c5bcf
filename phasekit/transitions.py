"""Old import path of the change-point stage: everything moved to :mod:`phasekit.changepoints`.

``from phasekit.transitions import detect_boundaries`` (and the other names below) keeps
working; new code imports from ``phasekit.changepoints``.
"""

from .changepoints import (
    DEFAULT_SEED,
    RHO_MAX,
    SERIES_MIN_SIZE,
    SERIES_PENALTY_FACTOR,
    BoundaryResult,
    CostMeanShift,
    CostMultinomial,
    PenalisedSearch,
    PenaltyPath,
    detect_boundaries,
    label_phases,
    optimal_partition,
    p_value_fields,
    penalised_cost,
    penalty_path,
    phase_levels,
)

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
    "label_phases",
    "optimal_partition",
    "p_value_fields",
    "penalised_cost",
    "penalty_path",
    "phase_levels",
]
