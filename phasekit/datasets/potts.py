"""2D q-state Potts samples (Swendsen-Wang) and a non-interacting crossover reference.

The ferromagnetic q-state Potts model on a periodic L x L square lattice,

    H(s) = - sum_<ij> delta(s_i, s_j),        s_i in {0, ..., q - 1}

(J = 1, k_B = 1, each nearest-neighbour pair counted once, 2 L^2 bonds), has its
transition at the self-dual point

    T_c = 1 / ln(1 + sqrt(q))

(Potts 1952; Baxter 1973), continuous for q <= 4 and first order for q >= 5. At T_c the
internal energy per site is exactly u_c = -(1 + 1/sqrt(q)) in the thermodynamic limit
(for q > 4 the mean of the ordered and disordered phases' energies). For q = 2 this is
the Ising model with J_Ising = 1/2, since delta(s_i, s_j) = (1 + sigma_i sigma_j) / 2.

Samples are drawn with Swendsen-Wang cluster updates (Swendsen & Wang 1987, Phys. Rev.
Lett. 58, 86): between equal neighbours a bond is put with probability
p = 1 - exp(-1/T); the connected clusters of the bond graph each get a new uniformly
random state. All temperatures and chains are simulated at once as one big graph, whose
clusters are found by :func:`scipy.sparse.csgraph.connected_components`, so the Python
loop runs only over sweeps.

References
----------
F. Y. Wu, "The Potts model", Rev. Mod. Phys. 54, 235 (1982) (exponents, T_c, u_c).
R. H. Swendsen and J.-S. Wang, Phys. Rev. Lett. 58, 86 (1987).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from ..errors import SchemaError
from ._common import Generated, rng_from

__all__ = [
    "POTTS_EXACT",
    "biased_spins",
    "critical_energy",
    "critical_temperature",
    "exact_properties",
    "potts_by_size",
    "potts_samples",
]

#: Exact critical data of the 2D q-state Potts model (Wu 1982; Baxter 1973). Exponents
#: are those of the order parameter m, its susceptibility chi and the correlation length
#: xi; ``binder_crossing`` is the Binder cumulant U* = 1 - <m^4>/(3<m^2>^2) at T_c in the
#: limit of large periodic square lattices (known precisely for Ising: 0.61069,
#: Salas & Sokal 2000); None where no value is established.
POTTS_EXACT: dict[int, dict[str, Any]] = {
    2: {
        "nu": 1.0,
        "beta": 1.0 / 8.0,
        "gamma": 7.0 / 4.0,
        "alpha": 0.0,
        "eta": 1.0 / 4.0,
        "binder_crossing": 0.61069,
        "order": "continuous",
        "universality": "2D Ising",
    },
    3: {
        "nu": 5.0 / 6.0,
        "beta": 1.0 / 9.0,
        "gamma": 13.0 / 9.0,
        "alpha": 1.0 / 3.0,
        "eta": 4.0 / 15.0,
        "binder_crossing": None,
        "order": "continuous",
        "universality": "2D 3-state Potts",
    },
    4: {
        "nu": 2.0 / 3.0,
        "beta": 1.0 / 12.0,
        "gamma": 7.0 / 6.0,
        "alpha": 2.0 / 3.0,
        "eta": 1.0 / 4.0,
        "binder_crossing": None,
        "order": "continuous",
        "universality": "2D 4-state Potts (logarithmic corrections)",
    },
}
_FIRST_ORDER: dict[str, Any] = {
    "nu": None,
    "beta": None,
    "gamma": None,
    "alpha": None,
    "eta": None,
    "binder_crossing": None,
    "order": "first_order",
    "universality": "first-order (discontinuous); chi_max ~ L^d, Binder dip below 0",
}


def critical_temperature(q: int) -> float:
    """Exact transition temperature of the 2D q-state Potts model, ``1 / ln(1 + sqrt(q))``.

    Square lattice, H = -sum delta(s_i, s_j), J = k_B = 1 (Wu 1982, eq. 2.13).
    """
    q = _check_q(q)
    return float(1.0 / np.log1p(np.sqrt(q)))


def critical_energy(q: int) -> float:
    """Exact internal energy per site at T_c, ``-(1 + 1/sqrt(q))`` (thermodynamic limit).

    From self-duality (Baxter 1973); for q > 4 it is the mean of the two coexisting
    phases' energies. q = 2 gives -(1 + 1/sqrt 2), i.e. the Ising -sqrt(2) with
    J_Ising = 1/2 shifted by the constant -1 per site.
    """
    q = _check_q(q)
    return float(-(1.0 + 1.0 / np.sqrt(q)))


def exact_properties(q: int) -> dict[str, Any]:
    """The ground-truth dict of the 2D Potts model for q states."""
    q = _check_q(q)
    table = POTTS_EXACT.get(q, _FIRST_ORDER)
    return {
        "critical_temperature": critical_temperature(q),
        "energy_at_critical_temperature": critical_energy(q),
        "exponents": {k: table[k] for k in ("nu", "beta", "gamma", "alpha", "eta")},
        **{k: table[k] for k in ("nu", "beta", "gamma", "binder_crossing", "order")},
        "universality": table["universality"],
        "n_states": q,
    }


def _check_q(q: int) -> int:
    if int(q) != q or int(q) < 2:
        raise SchemaError(
            f"q={q!r} is not an integer >= 2",
            where="Potts number of states q",
            fix="pass q = 2, 3, ...",
        )
    return int(q)


def _token_dtype(q: int) -> type[np.signedinteger]:
    """Smallest comfortable signed integer type for states 0..q-1 and -1 (int16 minimum)."""
    return np.int16 if q <= np.iinfo(np.int16).max else np.int32


def _neighbours(L: int) -> tuple[np.ndarray, np.ndarray]:
    """Right and down neighbour of every site of a periodic L x L lattice (row-major)."""
    idx = np.arange(L * L).reshape(L, L)
    return np.roll(idx, -1, axis=1).ravel(), np.roll(idx, -1, axis=0).ravel()


def _bond_energy(spins: np.ndarray, right: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Energy per site -(1/N) sum_<ij> delta(s_i, s_j) of configurations (..., N)."""
    same = (spins == spins[..., right]).sum(-1) + (spins == spins[..., down]).sum(-1)
    return -same / spins.shape[-1]


class _SwendsenWang:
    """Swendsen-Wang updates of M independent L x L lattices as one graph of M*N nodes.

    Node ``m*N + i`` is site i of lattice m. Each sweep: between equal right/down
    neighbours a bond is active with probability ``p_bond[m] = 1 - exp(-1/T_m)``; the
    CSR adjacency (at most two out-edges per node, so it is assembled without sorting)
    goes to ``connected_components``; every cluster gets a fresh uniform state.
    """

    def __init__(self, q: int, L: int, p_bond: np.ndarray, rng: np.random.Generator):
        self.q = q
        self.rng = rng
        self.right, self.down = _neighbours(L)
        M, N = p_bond.size, L * L
        self.shape = (M, N)
        self.p_bond = p_bond.astype(np.float32)[:, None, None]
        base = np.arange(M, dtype=np.int64)[:, None] * N
        index_type = np.int32 if M * N < np.iinfo(np.int32).max else np.int64
        # candidate partner of every (node, direction): shape (M, N, 2)
        self.partner = np.stack([base + self.right, base + self.down], axis=-1).astype(index_type)
        self.index_type = index_type

    def sweep(self, spins: np.ndarray) -> np.ndarray:
        M, N = self.shape
        same = np.stack([spins == spins[:, self.right], spins == spins[:, self.down]], axis=-1)
        active = same & (self.rng.random((M, N, 2), dtype=np.float32) < self.p_bond)
        indptr = np.zeros(M * N + 1, dtype=self.index_type)
        np.cumsum(active.sum(axis=-1, dtype=self.index_type).ravel(), out=indptr[1:])
        indices = self.partner[active]
        graph = csr_array((np.ones(indices.size), indices, indptr), shape=(M * N, M * N))
        n_clusters, labels = connected_components(graph, directed=True, connection="weak")
        new_state = self.rng.integers(0, self.q, size=n_clusters, dtype=spins.dtype)
        return new_state[labels].reshape(M, N)


def _simulate(
    q: int,
    L: int,
    temperatures: np.ndarray,
    n_samples: int,
    n_equilibrate: int,
    n_between: int,
    n_chains: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run Swendsen-Wang chains; return tokens (T, S, N), energy (T, S), chain, sweep."""
    N = L * L
    n_T = temperatures.size
    right, down = _neighbours(L)
    dtype = _token_dtype(q)
    p_bond = np.repeat(-np.expm1(-1.0 / temperatures), n_chains)  # (n_T * n_chains,)
    sw = _SwendsenWang(q, L, p_bond, rng)
    # half the chains start hot (random sites), half cold (one random state everywhere),
    # so that metastability near a first-order T_c cannot bias the ensemble one way
    spins = rng.integers(0, q, size=(n_T * n_chains, N), dtype=dtype)
    cold = (np.arange(n_T * n_chains) % n_chains) % 2 == 1
    spins[cold] = rng.integers(0, q, size=(int(cold.sum()), 1), dtype=dtype)
    for _ in range(n_equilibrate):
        spins = sw.sweep(spins)
    n_rounds = -(-n_samples // n_chains)
    tokens = np.empty((n_T, n_rounds * n_chains, N), dtype=dtype)
    sweep = np.empty(n_rounds * n_chains, dtype=np.int64)
    for r in range(n_rounds):
        for _ in range(n_between):
            spins = sw.sweep(spins)
        tokens[:, r * n_chains : (r + 1) * n_chains] = spins.reshape(n_T, n_chains, N)
        sweep[r * n_chains : (r + 1) * n_chains] = n_equilibrate + (r + 1) * n_between
    chain = np.tile(np.arange(n_chains), n_rounds)
    tokens = tokens[:, :n_samples]
    energy = _bond_energy(tokens, right, down)
    return tokens, energy, chain[:n_samples], sweep[:n_samples]


def potts_samples(
    q: int,
    L: int,
    temperatures: Sequence[float] | np.ndarray,
    n_samples: int,
    *,
    n_equilibrate: int = 200,
    n_between: int = 2,
    n_chains: int | None = None,
    seed: int | np.random.Generator | None = None,
) -> Generated:
    """Equilibrium samples of the 2D q-state Potts model by Swendsen-Wang updates.

    H = -sum_<ij> delta(s_i, s_j) on a periodic L x L square lattice, Boltzmann weight
    exp(-H/T). Every temperature runs ``n_chains`` independent chains, the even ones from
    a random (infinite-temperature) start and the odd ones from an ordered start (one
    random state everywhere); each chain is equilibrated for ``n_equilibrate`` sweeps and
    then recorded every ``n_between`` sweeps. Sample ``k`` comes from chain
    ``k % n_chains`` (coords ``chain`` and ``sweep`` along ``sample`` allow blocking by
    chain, since successive samples of one chain are correlated).

    Swendsen-Wang decorrelates quickly at a continuous transition: the integrated
    autocorrelation time of the energy at T_c, measured with this sampler, is ~4 sweeps
    for q = 2, L = 32, and ~9 (L = 16) to ~13 (L = 32) sweeps for q = 3. At a first-order
    transition (q >= 5) tunnelling between the ordered and disordered phases slows down
    like exp(2 sigma L): for q = 10 near T_c, ~20-30 sweeps at L = 16 and ~120 at L = 32.
    Samples of one chain are correlated over that many sweeps: use more chains and a
    larger ``n_between`` / ``n_equilibrate`` where it matters, and estimate errors by
    blocking over ``chain``.

    Parameters
    ----------
    q, L
        Number of states (>= 2) and linear lattice size (>= 2).
    temperatures
        Positive temperatures (units of J / k_B).
    n_samples
        Samples per temperature.
    n_equilibrate, n_between
        Sweeps discarded at the start of each chain, and sweeps between records.
    n_chains
        Independent chains per temperature; default
        ``ceil(n_samples * n_between / n_equilibrate)`` clipped to [16, 32] (and to
        n_samples), which keeps the equilibration cost near the recording cost.
    seed
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    Generated
        ``data``: Dataset with ``token`` (temperature, sample, position) (position =
        row-major flattened site index, int16), ``energy`` (temperature, sample) per site,
        coords ``temperature``, ``chain``, ``sweep``, ``row`` and ``col`` of each
        position; attrs n_states, L, N, geometry. ``truth``: :func:`exact_properties`
        (critical temperature, exponents, order, energy at T_c, ...).
    """
    q = _check_q(q)
    L = int(L)
    temps = np.atleast_1d(np.asarray(temperatures, dtype=float))
    if L < 2:
        raise SchemaError(f"L={L} is too small", where="potts_samples(L=...)", fix="pass L >= 2")
    if temps.ndim != 1 or temps.size == 0 or not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise SchemaError(
            "temperatures must be a non-empty 1-D array of positive finite numbers",
            where="potts_samples(temperatures=...)",
            fix="pass e.g. np.linspace(0.9, 1.1, 9) * critical_temperature(q)",
        )
    if int(n_samples) < 1 or int(n_between) < 1 or int(n_equilibrate) < 0:
        raise SchemaError(
            "n_samples and n_between must be >= 1, n_equilibrate >= 0",
            where="potts_samples(n_samples=, n_between=, n_equilibrate=)",
            fix="pass positive counts",
        )
    n_samples = int(n_samples)
    if n_chains is None:
        # balance equilibration (n_chains * n_equilibrate sweeps) against recording
        # (n_samples * n_between sweeps), with 16 to 32 independent chains
        wanted = -(-n_samples * int(n_between) // max(int(n_equilibrate), 1))
        chains = min(n_samples, max(16, min(32, wanted)))
    else:
        chains = int(n_chains)
    if not 1 <= chains <= n_samples:
        raise SchemaError(
            f"n_chains={n_chains} must lie in [1, n_samples={n_samples}]",
            where="potts_samples(n_chains=...)",
            fix="pass fewer chains or more samples",
        )
    rng = rng_from(seed)
    tokens, energy, chain, sweep = _simulate(
        q, L, temps, n_samples, int(n_equilibrate), int(n_between), chains, rng
    )
    N = L * L
    pos = np.arange(N)
    ds = xr.Dataset(
        {
            "token": (("temperature", "sample", "position"), tokens),
            "energy": (
                ("temperature", "sample"),
                energy,
                {"long_name": "energy per site", "definition": "-(1/N) sum_<ij> delta(s_i, s_j)"},
            ),
        },
        coords={
            "temperature": ("temperature", temps, {"units": "J/k_B"}),
            "sample": np.arange(n_samples),
            "position": pos,
            "chain": ("sample", chain),
            "sweep": ("sample", sweep),
            "row": ("position", pos // L),
            "col": ("position", pos % L),
        },
        attrs={
            "n_states": q,
            "L": L,
            "N": N,
            "geometry": "square periodic",
            "hamiltonian": "H = -sum_<ij> delta(s_i, s_j), J = k_B = 1",
            "sampler": "Swendsen-Wang",
            "n_equilibrate": int(n_equilibrate),
            "n_between": int(n_between),
            "n_chains": chains,
            "generator": "phasekit.datasets.potts_samples",
        },
    )
    return Generated(ds, exact_properties(q))


def potts_by_size(
    q: int,
    sizes: Iterable[int],
    temperatures: Sequence[float] | np.ndarray | Callable[[int], Sequence[float]],
    n_samples: int,
    *,
    seed: int | np.random.Generator | None = None,
    **kw: Any,
) -> Generated:
    """Potts samples for several lattice sizes: ``data = {L: Dataset}``.

    ``temperatures`` is one grid for every size or a callable ``L -> grid`` (ragged grids,
    e.g. windows that shrink like L^(-1/nu) around T_c). Other keywords go to
    :func:`potts_samples`. Each size gets its own independent random stream.
    """
    sizes = [int(L) for L in sizes]
    if not sizes:
        raise SchemaError(
            "no sizes given", where="potts_by_size(sizes=...)", fix="pass e.g. [8, 16, 32]"
        )
    rng = rng_from(seed)
    streams = rng.spawn(len(sizes))
    data: dict[int, xr.Dataset] = {}
    truth: dict[str, Any] = {}
    for L, stream in zip(sizes, streams, strict=True):
        grid = temperatures(L) if callable(temperatures) else temperatures
        data[L], truth = potts_samples(q, L, grid, n_samples, seed=stream, **kw)
    return Generated(data, {**truth, "sizes": sizes})


def _logistic(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def biased_spins(
    q: int,
    sizes: Iterable[int],
    controls: Sequence[float] | np.ndarray,
    n_samples: int,
    *,
    width: float | None = None,
    center: float | None = None,
    dim: str = "control",
    seed: int | np.random.Generator | None = None,
) -> Generated:
    """Independent spins with a smoothly rising bias: a crossover, not a transition.

    Every one of the N = L^2 positions is drawn independently with

        P(s = 0) = p0(c) = 1/q + (1 - 1/q) * sigma((c - center) / width),
        P(s = k) = (1 - p0(c)) / (q - 1)  for k != 0,

    sigma the logistic function. There is no interaction, so the order parameter
    m = (q max_k p_k - 1)/(q - 1) tends to sigma((c - center)/width) for every size and
    its fluctuations shrink like 1/N: the susceptibility N var(m) stays bounded (no
    growth with size) and the Binder cumulant shows no crossing at a common point.

    Parameters
    ----------
    q
        Number of states.
    sizes
        Linear sizes L (N = L^2 positions per configuration, as for :func:`potts_by_size`).
    controls
        Control values (one grid for all sizes).
    n_samples
        Configurations per control value.
    width, center
        Logistic width and midpoint; defaults: 1/8 of the control range and its middle.
    dim
        Name of the control dimension.

    Returns
    -------
    Generated
        ``data = {L: Dataset}``, each with ``token`` (dim, sample, position) and attrs
        n_states, L, N. ``truth``: order "crossover", center, width, the exact p0 and the
        large-N order parameter per control value.
    """
    q = _check_q(q)
    c = np.atleast_1d(np.asarray(controls, dtype=float))
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
        raise SchemaError(
            "controls must be a non-empty 1-D array of finite numbers",
            where="biased_spins(controls=...)",
            fix="pass e.g. np.linspace(0, 1, 11)",
        )
    span = float(c.max() - c.min())
    width = (span / 8.0 if span > 0 else 1.0) if width is None else float(width)
    center = float(c.min() + span / 2.0) if center is None else float(center)
    if width <= 0:
        raise SchemaError(
            f"width={width} must be positive", where="biased_spins(width=...)", fix="pass width > 0"
        )
    sizes = [int(L) for L in sizes]
    if not sizes or min(sizes) < 1:
        raise SchemaError(
            "sizes must be a non-empty list of positive integers",
            where="biased_spins(sizes=...)",
            fix="pass e.g. [8, 16, 32]",
        )
    bias = _logistic((c - center) / width)
    p0 = 1.0 / q + (1.0 - 1.0 / q) * bias
    rng = rng_from(seed)
    dtype = _token_dtype(q)
    data: dict[int, xr.Dataset] = {}
    for L in sizes:
        N = L * L
        u = rng.random((c.size, int(n_samples), N))
        other = rng.integers(1, q, size=u.shape, dtype=dtype)
        tokens = np.where(u < p0[:, None, None], np.array(0, dtype=dtype), other)
        data[L] = xr.Dataset(
            {"token": ((dim, "sample", "position"), tokens)},
            coords={dim: c, "sample": np.arange(int(n_samples)), "position": np.arange(N)},
            attrs={
                "n_states": q,
                "L": L,
                "N": N,
                "geometry": "independent sites",
                "generator": "phasekit.datasets.biased_spins",
            },
        )
    truth = {
        "order": "crossover",
        "center": center,
        "width": width,
        "p0": p0,
        "magnetization_limit": bias,
        "n_states": q,
        "sizes": sizes,
    }
    return Generated(data, truth)
