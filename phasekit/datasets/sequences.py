"""Categorical token sequences with exactly known correlations along ``position``.

Three generators, each returning ``Generated(data, truth)`` where ``data`` is a token
Dataset with dims ``(sample, position)`` and attr ``n_states``:

``markov_chain``
    the symmetric q-state chain that keeps its state with probability ``lambda`` and
    otherwise draws a fresh state uniformly from all q states. Its transition matrix is
    ``P = lambda I + (1 - lambda) J / q``; the non-uniform eigenvalue is ``lambda``, so
    ``P(s_t = s_{t+r}) = lambda^r + (1 - lambda^r) / q`` and the normalised connected
    same-state correlation is exactly ``C(r) / C(0) = lambda^r``, ``xi = -1 / ln lambda``.
``repeat_avoiding_sequences``
    uniform proposals whose repeats of the previous token are rejected (and redrawn) with
    probability ``avoid``; a symmetric chain with negative eigenvalue
    ``lambda = -avoid / (q - avoid)``, so ``C(r) / C(0) = lambda^r`` alternates in sign
    and ``C(1) < 0`` (the repeat avoidance of aligned models listing "random" numbers).
``power_law_sequences``
    ``s_t = argmax_j g_j(t)`` over q independent fractional-Gaussian-noise fields with
    Hurst exponent ``H = 1 - eta / 2``; the field correlation decays as
    ``rho(r) ~ H (2H - 1) r^-eta`` and the same-state correlation inherits the exponent
    (see :func:`power_law_sequences` for the derivation).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import integrate, stats

from ..errors import SchemaError
from ._common import Generated, rng_from

__all__ = ["markov_chain", "repeat_avoiding_sequences", "power_law_sequences"]


def _check_sizes(q: int, n_sequences: int, length: int) -> None:
    if int(q) < 2:
        raise SchemaError(f"n_states q={q} must be at least 2", where="q", fix="pass q >= 2")
    if int(n_sequences) < 1 or int(length) < 2:
        raise SchemaError(
            f"need n_sequences >= 1 and length >= 2, got {n_sequences} and {length}",
            where="n_sequences / length",
            fix="pass positive sizes (length of at least 2 positions)",
        )


def _as_dataset(tokens: np.ndarray, q: int, generator: str, **attrs: object) -> xr.Dataset:
    n, length = tokens.shape
    return xr.Dataset(
        {"token": (("sample", "position"), tokens.astype(np.int64, copy=False))},
        coords={"sample": np.arange(n), "position": np.arange(length)},
        attrs={"n_states": int(q), "generator": generator, **attrs},
    )


def markov_chain(
    q: int,
    stay_probability: float,
    n_sequences: int,
    length: int,
    *,
    seed: int | np.random.Generator | None = None,
) -> Generated:
    r"""Symmetric q-state Markov chains with exactly exponential correlations.

    At every step the chain keeps its state with probability :math:`\lambda` and
    otherwise draws a new state uniformly from all q states (possibly the same one).
    The first state is drawn from the (uniform) stationary distribution. The connected
    same-state correlation is

    .. math:: C(r) = P(s_t = s_{t+r}) - \sum_k p_k^2 = \lambda^r (1 - 1/q),

    so :math:`C(r)/C(0) = \lambda^r` and :math:`\xi = -1/\ln\lambda` exactly. Other
    exact lengths of :math:`C(r) = \lambda^{|r|}`: the lattice second-moment length
    :math:`\sqrt{\lambda}/(1-\lambda)` and the integrated length
    :math:`\tfrac12 + \sum_{r\ge1}\lambda^r = (1+\lambda)/(2(1-\lambda))`.

    Sampling is vectorised: the state at ``t`` is the fresh draw made at the last
    renewal time ``<= t`` (renewals happen with probability ``1 - lambda``).

    Parameters
    ----------
    q : number of states (>= 2).
    stay_probability : :math:`\lambda \in [0, 1)`.
    n_sequences, length : size of the ``(sample, position)`` token array.
    seed : int, Generator or None.

    Returns
    -------
    Generated(data, truth) with truth keys ``correlation_length``, ``stay_probability``,
    ``second_moment_length``, ``integrated_length``, ``decay`` ("exponential").

    References
    ----------
    Kemeny & Snell, *Finite Markov Chains* (1960), ch. 4 (spectral decomposition of P).
    """
    _check_sizes(q, n_sequences, length)
    lam = float(stay_probability)
    if not 0.0 <= lam < 1.0:
        raise SchemaError(
            f"stay_probability={stay_probability} is outside [0, 1)",
            where="stay_probability",
            fix="pass a probability 0 <= lambda < 1 (lambda = 1 never mixes)",
        )
    rng = rng_from(seed)
    fresh = rng.integers(0, q, size=(n_sequences, length))
    renew = rng.random((n_sequences, length)) >= lam
    renew[:, 0] = True
    last = np.where(renew, np.arange(length)[None, :], 0)
    np.maximum.accumulate(last, axis=1, out=last)
    tokens = np.take_along_axis(fresh, last, axis=1)
    xi = 0.0 if lam == 0.0 else -1.0 / math.log(lam)
    truth = {
        "correlation_length": xi,
        "stay_probability": lam,
        "second_moment_length": math.sqrt(lam) / (1.0 - lam),
        "integrated_length": (1.0 + lam) / (2.0 * (1.0 - lam)),
        "decay": "exponential",
    }
    ds = _as_dataset(tokens, q, "markov_chain", stay_probability=lam)
    return Generated(ds, truth)


def repeat_avoiding_sequences(
    q: int,
    n_sequences: int,
    length: int,
    *,
    avoid: float = 0.8,
    seed: int | np.random.Generator | None = None,
) -> Generated:
    r"""Anti-correlated sequences: repeats of the previous token are avoided.

    Each step proposes a state uniformly; a proposal equal to the previous token is
    rejected with probability ``avoid`` = :math:`a` and redrawn. Summing over rejections,
    the chain repeats with probability :math:`p_s = (1-a)/(q-a)` and moves to each other
    state with probability :math:`1/(q-a)`. Its transition matrix is
    :math:`P = \lambda I + (1-\lambda) J/q` with

    .. math:: \lambda = p_s - \frac{1}{q-a} = -\frac{a}{q-a} < 0,

    so the normalised connected correlation is exactly :math:`C(r)/C(0) = \lambda^r`:
    :math:`C(1) = -a/(q-a) < 0`, alternating in sign with envelope length
    :math:`-1/\ln|\lambda|`. Sampling is exact and vectorised: ``s_t = (s_{t-1} + k_t)
    mod q`` with ``k_t = 0`` w.p. :math:`p_s` and uniform on ``1..q-1`` otherwise.

    Returns
    -------
    Generated(data, truth) with truth keys ``avoid``, ``repeat_probability``,
    ``lambda``, ``c1`` (exact normalised C(1)), ``envelope_length`` and ``decay``
    ("anticorrelated").
    """
    _check_sizes(q, n_sequences, length)
    a = float(avoid)
    if not 0.0 < a <= 1.0:
        raise SchemaError(
            f"avoid={avoid} is outside (0, 1]",
            where="avoid",
            fix="pass the rejection probability of repeats, 0 < avoid <= 1",
        )
    rng = rng_from(seed)
    p_repeat = (1.0 - a) / (q - a)
    lam = -a / (q - a)
    step = rng.integers(1, q, size=(n_sequences, length))
    step[rng.random((n_sequences, length)) < p_repeat] = 0
    step[:, 0] = rng.integers(0, q, size=n_sequences)
    tokens = np.cumsum(step, axis=1) % q
    truth = {
        "avoid": a,
        "repeat_probability": p_repeat,
        "lambda": lam,
        "c1": lam,
        "envelope_length": -1.0 / math.log(abs(lam)) if abs(lam) < 1 else math.inf,
        "decay": "anticorrelated",
    }
    ds = _as_dataset(tokens, q, "repeat_avoiding_sequences", avoid=a)
    return Generated(ds, truth)


def _fgn_autocovariance(hurst: float, length: int) -> np.ndarray:
    """Unit-variance fractional Gaussian noise autocovariance at lags 0..length-1."""
    k = np.arange(length, dtype=float)
    h2 = 2.0 * hurst
    return 0.5 * (np.abs(k + 1) ** h2 - 2.0 * np.abs(k) ** h2 + np.abs(k - 1) ** h2)


def _fgn(hurst: float, n_fields: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Exact fGn samples by circulant embedding (Davies & Harte 1987), shape (n_fields, length).

    With ``m = 2(length-1)`` and the circulant eigenvalues ``ev = FFT(c)`` (non-negative
    for fGn), ``Z = FFT(sqrt(ev/m) W)`` for complex white noise ``W``; the real and
    imaginary parts of ``Z[:length]`` are two independent exact samples.
    """
    gamma = _fgn_autocovariance(hurst, length)
    circ = np.concatenate([gamma, gamma[-2:0:-1]])
    m = circ.size
    ev = np.fft.fft(circ).real
    ev = np.clip(ev, 0.0, None)
    n_pairs = (n_fields + 1) // 2
    w = rng.standard_normal((n_pairs, m)) + 1j * rng.standard_normal((n_pairs, m))
    z = np.fft.fft(np.sqrt(ev / m)[None, :] * w, axis=1)[:, :length]
    out = np.concatenate([z.real, z.imag], axis=0)[:n_fields]
    return out


def expected_max_normal(q: int) -> float:
    r""":math:`\mu_q = E[\max_{j<q} g_j]` for q iid standard normals (numerical quadrature)."""
    f = lambda x: x * q * stats.norm.pdf(x) * stats.norm.cdf(x) ** (q - 1)  # noqa: E731
    return float(integrate.quad(f, -np.inf, np.inf)[0])


def power_law_sequences(
    q: int,
    n_sequences: int,
    length: int,
    *,
    eta: float = 0.5,
    seed: int | np.random.Generator | None = None,
) -> Generated:
    r"""Categorical sequences whose same-state correlation decays as a power law r^-eta.

    ``s_t = argmax_j g_j(t)`` over q independent unit-variance fractional Gaussian noise
    fields with Hurst exponent :math:`H = 1 - \eta/2` (``0 < eta < 1``), sampled exactly
    by circulant embedding. The field correlation is
    :math:`\rho(r) = \tfrac12(|r+1|^{2H} - 2|r|^{2H} + |r-1|^{2H}) \sim H(2H-1) r^{-\eta}`.

    Derivation of the exponent: by Mehler's expansion of the bivariate normal density,
    :math:`P(s_t = s_{t+r} = 0) = 1/q^2 + \rho \sum_j (E[1_{s=0}\, g_j])^2 + O(\rho^2)`.
    With :math:`\mu_q = E[\max_j g_j]`, :math:`E[1_{s=0}\, g_0] = \mu_q/q` and, since
    :math:`E[1_{s=0}\sum_j g_j] = 0`, :math:`E[1_{s=0}\, g_j] = -\mu_q/(q(q-1))` for
    :math:`j \ne 0`. Hence

    .. math:: \frac{C(r)}{C(0)} = \frac{q\,\mu_q^2}{(q-1)^2}\,\rho(r) + O(\rho^2)
              \sim A\, r^{-\eta},\qquad A = \frac{q\,\mu_q^2}{(q-1)^2} H(2H-1),

    and the :math:`O(\rho^2)` terms decay as :math:`r^{-2\eta}`. For q = 2 the result is
    exact: :math:`C(r)/C(0) = (2/\pi)\arcsin\rho(r)` (Sheppard's formula), returned as
    ``truth["correlation_function"]``.

    Returns
    -------
    Generated(data, truth) with truth keys ``eta``, ``hurst``, ``asymptotic_amplitude``
    (A), ``field_correlation`` (rho at lags 0..length-1), ``decay`` ("power_law") and,
    for q = 2, ``correlation_function``.

    References
    ----------
    Davies & Harte, Biometrika 74, 95 (1987); Mandelbrot & Van Ness, SIAM Rev. 10, 422
    (1968); Sheppard, Phil. Trans. A 192, 101 (1899).
    """
    _check_sizes(q, n_sequences, length)
    eta = float(eta)
    if not 0.0 < eta < 1.0:
        raise SchemaError(
            f"eta={eta} is outside (0, 1)",
            where="eta",
            fix="fractional Gaussian noise gives power-law exponents 0 < eta < 1",
        )
    hurst = 1.0 - eta / 2.0
    rng = rng_from(seed)
    fields = _fgn(hurst, n_sequences * q, length, rng).reshape(n_sequences, q, length)
    tokens = np.argmax(fields, axis=1)
    rho = _fgn_autocovariance(hurst, length)
    mu = expected_max_normal(q)
    amp = q * mu**2 / (q - 1) ** 2
    truth: dict[str, object] = {
        "eta": eta,
        "hurst": hurst,
        "asymptotic_amplitude": amp * hurst * (2 * hurst - 1),
        "field_correlation": rho,
        "decay": "power_law",
    }
    if q == 2:
        truth["correlation_function"] = (2.0 / np.pi) * np.arcsin(rho)
    ds = _as_dataset(tokens, q, "power_law_sequences", eta=eta)
    return Generated(ds, truth)
