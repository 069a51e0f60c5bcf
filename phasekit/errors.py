"""Errors raised by phasekit."""

from __future__ import annotations


class SchemaError(ValueError):
    """Input that does not follow phasekit's data model.

    Every message names three things: the problem, where it is (variable,
    dimension, checkpoint, file and line), and how to fix it.
    """

    def __init__(self, problem: str, *, where: str | None = None, fix: str | None = None):
        self.problem = problem
        self.where = where
        self.fix = fix
        parts = [problem]
        if where:
            parts.append(f"where: {where}")
        if fix:
            parts.append(f"fix: {fix}")
        super().__init__("; ".join(parts))
