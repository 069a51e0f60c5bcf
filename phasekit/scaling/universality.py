"""Universality classes of continuous transitions, and which ones fitted exponents fit.

:data:`UNIVERSALITY_CLASSES` lists the static critical exponents (ν, β, γ, η, α) of the
common classes with their literature uncertainties (0 for exact values), and
:func:`compatible_classes` ranks the classes by

    χ² = Σ_e (x̂_e − x_e)² / (σ̂_e² + σ_e²)

over the exponents (or exponent ratios ``gamma_nu = γ/ν``, ``beta_nu = β/ν``, as a
finite-size collapse measures them) that the user supplies with their standard errors,
with the p-value P(χ²_k ≥ χ²) for k supplied exponents.

References
----------
A. Pelissetto and E. Vicari, Phys. Rep. 368, 549 (2002) (O(n) models, mean field);
F. Y. Wu, Rev. Mod. Phys. 54, 235 (1982) (2D Potts);
F. Kos, D. Poland, D. Simmons-Duffin, A. Vichi, JHEP 08 (2016) 036 (3D Ising bootstrap);
M. Hasenbusch, Phys. Rev. B 100, 224517 (2019) (3D XY);
M. Hasenbusch, Phys. Rev. B 102, 024406 (2020) (3D Heisenberg);
D. Stauffer and A. Aharony, *Introduction to Percolation Theory* (1994); X. Xu, J. Wang,
J.-P. Lv, Y. Deng, Front. Phys. 9, 113 (2014) (3D percolation).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from scipy import stats

from ..errors import SchemaError

__all__ = ["EXPONENTS", "UNIVERSALITY_CLASSES", "compatible_classes", "universality_table"]

#: exponents a class is described by (ratios are derived from them)
EXPONENTS = ("nu", "beta", "gamma", "eta", "alpha")


def _c(d: int, nu, beta, gamma, eta, alpha, note: str) -> dict[str, Any]:
    """One class: each exponent as (value, standard uncertainty)."""
    return {"d": d, "nu": nu, "beta": beta, "gamma": gamma, "eta": eta, "alpha": alpha,
            "note": note}


#: static critical exponents: name -> {d, nu, beta, gamma, eta, alpha: (value, uncertainty)}
UNIVERSALITY_CLASSES: dict[str, dict[str, Any]] = {
    "2D Ising": _c(2, (1.0, 0.0), (1 / 8, 0.0), (7 / 4, 0.0), (1 / 4, 0.0), (0.0, 0.0),
                   "exact (Onsager 1944); alpha = 0 is a logarithm"),
    "2D 3-state Potts": _c(2, (5 / 6, 0.0), (1 / 9, 0.0), (13 / 9, 0.0), (4 / 15, 0.0),
                           (1 / 3, 0.0), "exact (Baxter; den Nijs; Nienhuis)"),
    "2D 4-state Potts": _c(2, (2 / 3, 0.0), (1 / 12, 0.0), (7 / 6, 0.0), (1 / 4, 0.0),
                           (2 / 3, 0.0), "exact, with strong logarithmic corrections"),
    "2D percolation": _c(2, (4 / 3, 0.0), (5 / 36, 0.0), (43 / 18, 0.0), (5 / 24, 0.0),
                         (-2 / 3, 0.0), "exact (den Nijs; Nienhuis; Smirnov)"),
    "3D Ising": _c(3, (0.629971, 4e-6), (0.326419, 3e-6), (1.237075, 1e-5),
                   (0.0362978, 2e-6), (0.110087, 1.2e-5), "conformal bootstrap (Kos et al. 2016)"),
    "3D XY": _c(3, (0.67169, 7e-5), (0.34864, 7e-5), (1.31779, 2e-4), (0.03810, 8e-5),
                (-0.01507, 2e-4), "Monte Carlo (Hasenbusch 2019); beta, gamma, alpha by "
                "scaling relations"),
    "3D Heisenberg": _c(3, (0.71164, 1e-4), (0.36929, 1e-4), (1.39635, 2e-4), (0.03784, 5e-5),
                        (-0.13492, 3e-4), "Monte Carlo (Hasenbusch 2020); beta, gamma, alpha "
                        "from nu and eta by scaling relations"),
    "3D percolation": _c(3, (0.8762, 1.2e-3), (0.4181, 8e-4), (1.7933, 3e-3), (-0.046, 8e-3),
                         (-0.6286, 3.6e-3), "Monte Carlo (Xu et al. 2014); alpha = 2 - 3 nu"),
    "mean field": _c(4, (0.5, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 0.0), (0.0, 0.0),
                     "Landau theory; exact at and above the upper critical dimension"),
}

_RATIOS = {"gamma_nu": ("gamma", "nu"), "beta_nu": ("beta", "nu")}


def _value(cls: dict[str, Any], name: str) -> tuple[float, float]:
    """(value, uncertainty) of an exponent or ratio of a class (ratios by error propagation)."""
    if name in _RATIOS:
        (a, sa), (b, sb) = cls[_RATIOS[name][0]], cls[_RATIOS[name][1]]
        r = a / b
        return r, abs(r) * math.hypot(sa / a if a else 0.0, sb / b if b else 0.0)
    if name == "inv_nu":
        v, s = cls["nu"]
        return 1.0 / v, s / v**2
    return cls[name]


def universality_table() -> pd.DataFrame:
    """The table of classes: one row per class, exponents, ratios γ/ν, β/ν and notes."""
    rows = []
    for name, cls in UNIVERSALITY_CLASSES.items():
        row: dict[str, Any] = {"class": name, "d": cls["d"]}
        for e in (*EXPONENTS, "gamma_nu", "beta_nu"):
            row[e], row[f"{e}_err"] = _value(cls, e)
        row["note"] = cls["note"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("class")


def _parse(name: str, value: Any) -> tuple[float, float]:
    try:
        v, s = (float(value[0]), float(value[1]))
    except (TypeError, IndexError, ValueError):
        raise SchemaError(
            f"{name}={value!r} is not a (value, stderr) pair",
            where=f"compatible_classes({name}=...)",
            fix=f"pass {name}=(estimate, standard_error), e.g. from a Collapse result",
        ) from None
    if not (math.isfinite(v) and math.isfinite(s) and s > 0):
        raise SchemaError(
            f"{name}={value!r} needs a finite estimate and a positive finite standard error",
            where=f"compatible_classes({name}=...)",
            fix="an exponent without an error bar cannot be tested; pass its stderr",
        )
    return v, s


def compatible_classes(
    *,
    nu: tuple[float, float] | None = None,
    beta: tuple[float, float] | None = None,
    gamma: tuple[float, float] | None = None,
    eta: tuple[float, float] | None = None,
    alpha: tuple[float, float] | None = None,
    gamma_nu: tuple[float, float] | None = None,
    beta_nu: tuple[float, float] | None = None,
    dimension: int | None = None,
    level: float = 0.05,
) -> pd.DataFrame:
    """Rank universality classes by how well they fit measured exponents.

    Each argument is ``(estimate, standard_error)``; ``gamma_nu`` and ``beta_nu`` are the
    ratios γ/ν and β/ν that a finite-size collapse of χ and ⟨m⟩ gives. For every class,

        χ² = Σ_e (x̂_e − x_e)² / (σ̂_e² + σ_e²),   p = P(χ²_k ≥ χ²)

    with k the number of exponents supplied (σ_e the literature uncertainty; the measured
    exponents are treated as independent — when they come from one fit and are
    correlated the p-value is approximate). ``compatible`` is ``p ≥ level``; the largest
    single deviation is reported in standard deviations as ``max_z``. ``dimension``
    keeps only classes of that dimension (mean field is kept for every dimension ≥ 4).

    Returns
    -------
    pandas.DataFrame indexed by class, sorted by χ² (best first), with columns ``chi2``,
    ``dof``, ``p_value``, ``max_z``, ``worst`` (exponent of the largest deviation),
    ``compatible`` and ``d``.
    """
    given = {k: v for k, v in {"nu": nu, "beta": beta, "gamma": gamma, "eta": eta,
                               "alpha": alpha, "gamma_nu": gamma_nu, "beta_nu": beta_nu}.items()
             if v is not None}
    if not given:
        raise SchemaError(
            "no exponent given",
            where="compatible_classes()",
            fix="pass at least one of nu=, beta=, gamma=, eta=, alpha=, gamma_nu=, beta_nu= "
            "as (value, stderr)",
        )
    measured = {k: _parse(k, v) for k, v in given.items()}
    rows = []
    for name, cls in UNIVERSALITY_CLASSES.items():
        if dimension is not None:
            if name == "mean field":
                if dimension < 4:
                    continue
            elif cls["d"] != dimension:
                continue
        chi2 = 0.0
        worst, max_z = "", 0.0
        for e, (v, s) in measured.items():
            ref, sref = _value(cls, e)
            z = (v - ref) / math.hypot(s, sref)
            chi2 += z * z
            if abs(z) >= abs(max_z):
                worst, max_z = e, z
        k = len(measured)
        p = float(stats.chi2.sf(chi2, k))
        rows.append({"class": name, "d": cls["d"], "chi2": chi2, "dof": k, "p_value": p,
                     "max_z": max_z, "worst": worst, "compatible": p >= level})
    if not rows:
        raise SchemaError(
            f"no class of dimension {dimension} in the table",
            where="compatible_classes(dimension=...)",
            fix=f"use one of {sorted({c['d'] for c in UNIVERSALITY_CLASSES.values()})} or None",
        )
    df = pd.DataFrame(rows).set_index("class").sort_values("chi2")
    df["p_value"] = df["p_value"].astype(float)
    df["compatible"] = df["compatible"].astype(bool)
    return df[["chi2", "dof", "p_value", "max_z", "worst", "compatible", "d"]]
