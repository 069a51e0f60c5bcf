"""Moved to :mod:`phasekit.scaling.universality`; this module re-exports it."""

from .scaling.universality import (  # noqa: F401  (re-export)
    EXPONENTS,
    UNIVERSALITY_CLASSES,
    compatible_classes,
    universality_table,
)

__all__ = ["EXPONENTS", "UNIVERSALITY_CLASSES", "compatible_classes", "universality_table"]
