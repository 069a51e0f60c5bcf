"""How the report prints numbers: one format for steps, intervals that show their width,
resampling p-values that say when they are only a bound, estimates with their errors.

Every function returns a string and is used by the HTML page, ``summary.json``'s
``summary`` block and the CLI alike, so the three never disagree.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "format_control",
    "format_estimate",
    "format_interval",
    "format_p_value",
    "format_percent",
    "finite_or_none",
    "format_step",
    "is_integral",
    "p_value_floor_bound",
]


def finite_or_none(v: Any) -> float | None:
    """``float(v)`` when it is a finite number, else None (NaN, inf, None, text)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def is_integral(v: Any) -> bool:
    """True for a finite number equal to an integer (a training step, a count)."""
    f = finite_or_none(v)
    return f is not None and f == round(f)


def format_step(v: Any) -> str:
    """A training step: an integer with thousands separators (``14426`` -> ``"14,426"``).

    Every step in the report is printed this way (tables, text, tick labels); a
    non-integer control value (a temperature) falls back to 4 significant digits.
    """
    f = finite_or_none(v)
    if f is None:
        return "–"
    if f == round(f):
        return f"{int(round(f)):,}"
    return f"{f:.4g}"


def format_control(v: Any, unit: str = "step") -> str:
    """A control value with its unit word: ``"step 2,345"``, ``"temperature 0.7"``."""
    return f"{unit} {format_step(v)}"


def format_interval(lower: Any, upper: Any, *, n_checkpoints: int | None = None, unit: str = "steps") -> str:
    """A boundary's location interval ``(lower, upper]`` with its width.

    The change happened after the checkpoint at ``lower`` and by the one at ``upper``
    (:class:`phasekit.changepoints.BoundaryResult`). ``n_checkpoints`` is the number of
    candidate first checkpoints in the confidence set: 1 means the data locate the change
    between two adjacent checkpoints, which is exact at checkpoint resolution. A zero-width
    interval (``lower == upper``) says so instead of printing ``"2345 – 2345"``.
    """
    lo, hi = finite_or_none(lower), finite_or_none(upper)
    if lo is None or hi is None:
        return "interval not available"
    if lo == hi:
        return f"{format_step(hi)} (zero width: exact at checkpoint resolution)"
    width = f"width {format_step(hi - lo)}" + (f" {unit}" if unit else "")
    if n_checkpoints == 1:
        width += ", one checkpoint apart: exact at checkpoint resolution"
    elif n_checkpoints is not None:
        width += f", {n_checkpoints} candidate checkpoints"
    return f"after {format_step(lo)}, by {format_step(hi)} ({width})"


def p_value_floor_bound(floor: float) -> float:
    """The smallest 2-significant-digit number >= the resampling floor ``1/(B+1)``
    (``1/201 = 0.004975`` -> ``0.005``), so that ``"p < bound"`` is true as printed."""
    if floor <= 0 or not math.isfinite(floor):
        return floor
    exp = math.floor(math.log10(floor)) - 1
    scale = 10.0 ** exp
    return math.ceil(floor / scale - 1e-9) * scale


def format_p_value(p: Any, *, n_resamples: int | None = None, at_floor: bool | None = None) -> str:
    """A resampling p-value. At the floor ``1/(B+1)`` (no null draw as extreme as the
    data) it is only a bound: ``"< 0.005 (1/201)"``; otherwise 2 significant digits.

    ``at_floor`` defaults to ``p <= 1/(B+1)`` when ``n_resamples`` (B) is given.
    """
    f = finite_or_none(p)
    if f is None:
        return "not tested"
    if n_resamples is not None and n_resamples > 0:
        floor = 1.0 / (n_resamples + 1)
        if at_floor is None:
            at_floor = f <= floor * (1 + 1e-12)
        if at_floor:
            bound = p_value_floor_bound(floor)
            return f"< {bound:.2g} (1/{n_resamples + 1})"
    if f < 1e-4:
        return f"{f:.1e}"
    return f"{f:.2g}"


def _decimals_for(se: float) -> int:
    """Decimals that show 2 significant digits of the error."""
    if se <= 0:
        return 3
    return max(0, 1 - math.floor(math.log10(se)))


def format_estimate(value: Any, stderr: Any = None) -> str:
    """``"0.376 ± 0.021"``: the error to 2 significant digits and the value to the same
    decimal place; without an error, 3 significant digits; missing -> ``"–"``."""
    v = finite_or_none(value)
    if v is None:
        return "–"
    se = finite_or_none(stderr)
    if se is None:
        return f"{v:.3g}"
    d = min(_decimals_for(se), 8)
    return f"{v:.{d}f} ± {se:.{d}f}"


def format_level(level: Any) -> str:
    """A phase level ``{"value", "stderr"}`` as :func:`format_estimate` prints it, followed by
    its interval when it has one (``lower``, ``upper``, ``confidence``), at the error's
    decimals: ``"1.142 ± 0.046 (95%: 1.061 to 1.247)"``; missing -> ``"–"``."""
    level = level or {}
    text = format_estimate(level.get("value"), level.get("stderr"))
    lo, up, se = (finite_or_none(level.get(k)) for k in ("lower", "upper", "stderr"))
    if text == "–" or lo is None or up is None:
        return text
    d = min(_decimals_for(se), 8) if se is not None else 3
    return f"{text} ({float(level.get('confidence', 0.95)):.0%}: {lo:.{d}f} to {up:.{d}f})"


def format_percent(fraction: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.0342`` -> ``"3.4%"``."""
    f = finite_or_none(fraction)
    if f is None:
        return "–"
    return f"{100 * f:.{digits}f}%"
