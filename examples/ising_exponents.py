"""Recover the 2D Ising critical point and exponents from samples alone.

Samples of the q = 2 Potts (= Ising) model on periodic L x L lattices are drawn by
Swendsen-Wang (``phasekit.datasets.potts``); from the per-sample Potts magnetisation
m = 2 max_k p_k - 1 (= |M|/N) we estimate

* T_c from the crossings of the Binder cumulants (exact: 1/ln(1 + sqrt 2) = 1.1346);
* nu from the collapse of the Binder cumulant (exact 1);
* gamma/nu from the collapse of chi = N (<m^2> - <m>^2) (exact 7/4);
* beta/nu from the collapse of <m> with t_c fixed at the Binder value (exact 1/8);

and ask which universality class the exponents are compatible with. The collapse plot is
saved as ``ising_collapse.png``.

    python examples/ising_exponents.py            # small: L = 8, 12, 16; ~1 minute
    python examples/ising_exponents.py --full     # L = 8..32, 1500 samples; several minutes
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phasekit.datasets.potts import POTTS_EXACT, critical_temperature, potts_by_size  # noqa: E402
from phasekit.observables import magnetization  # noqa: E402
from phasekit.scaling import critical_point, finite_size_collapse  # noqa: E402
from phasekit.universality import compatible_classes  # noqa: E402


def main(full: bool = False, out: str = "ising_collapse.png", seed: int = 1) -> dict:
    sizes = (8, 12, 16, 24, 32) if full else (8, 12, 16)
    n_samples = 1500 if full else 600
    n_temps = 17 if full else 13
    tc = critical_temperature(2)
    exact = POTTS_EXACT[2]
    temps = tc * np.linspace(0.88, 1.12, n_temps)
    print(f"sampling L = {sizes}, {n_temps} temperatures, {n_samples} samples each ...")
    data, _ = potts_by_size(2, sizes, temps, n_samples, seed=seed, n_between=3,
                            n_equilibrate=100)
    m = {L: magnetization(ds, system="position") for L, ds in data.items()}

    cp = critical_point(m, method="binder", block="chain", n_bootstrap=200, seed=0)
    col = {obs: finite_size_collapse(m, observable=obs, block="chain", n_bootstrap=30, seed=0)
           for obs in ("binder", "chi")}
    # <m> alone cannot separate a shift of t_c from a change of beta/nu: fix t_c at the
    # Binder estimate, passing the whole result so that its error propagates into beta/nu
    col["m"] = finite_size_collapse(m, observable="m", critical_point=cp, block="chain",
                                    n_bootstrap=30, seed=0)

    rows = [
        ("T_c (Binder crossings)", cp.value, cp.stderr, tc),
        ("nu (Binder collapse)", col["binder"].nu, col["binder"].nu_stderr, exact["nu"]),
        ("gamma/nu (chi collapse)", col["chi"].exponent, col["chi"].exponent_stderr,
         exact["gamma"] / exact["nu"]),
        ("beta/nu (<m> collapse)", -col["m"].exponent, col["m"].exponent_stderr,
         exact["beta"] / exact["nu"]),
    ]
    print(f"\n{'quantity':<26}{'estimate':>10}{'stderr':>9}{'exact':>9}{'rel. err':>10}")
    for name, v, s, t in rows:
        print(f"{name:<26}{v:>10.4f}{s:>9.4f}{t:>9.4f}{(v - t) / t:>10.1%}")
    for obs, c in col.items():
        print(f"collapse of {obs:<6}: success={c.success}  S={c.quality:.2f}  ({c.message})")

    table = compatible_classes(
        nu=(col["binder"].nu, col["binder"].nu_stderr),
        gamma_nu=(col["chi"].exponent, col["chi"].exponent_stderr),
        dimension=2,
    )
    print("\nuniversality classes (2D), best first:")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, obs in zip(axes, ("binder", "chi", "m"), strict=True):
        col[obs].plot(ax=ax)
        ax.set_ylabel({"binder": "U", "chi": r"$\chi\,L^{-\gamma/\nu}$",
                       "m": r"$\langle m\rangle\,L^{\beta/\nu}$"}[obs])
    fig.suptitle("2D Ising from Swendsen-Wang samples: finite-size collapses")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"\ncollapse plot saved to {out}")
    return {"critical_point": cp.to_dict(), **{k: v.to_dict() for k, v in col.items()},
            "best_class": str(table.index[0])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="L up to 32 and 1500 samples")
    parser.add_argument("--out", default="ising_collapse.png", help="where to save the plot")
    args = parser.parse_args()
    main(full=args.full, out=args.out)
