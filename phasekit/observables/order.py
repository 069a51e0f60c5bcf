"""Order parameters of every configuration, and divergences from a reference.

A *configuration* is one cell of the grid of the dims not named in ``system=``; its
empirical distribution is p̂_k = n_k / N over the tokens along the ``system`` dims
(``-1`` never counted). Everything here works from the sparse counts of
:func:`phasekit.count.count_states` — nothing is dense over the state space, so a
256k-token vocabulary is fine — and a configuration with no tokens gives NaN without
disturbing the others.

Order parameters (DESIGN.md dictionary; Wu, Rev. Mod. Phys. 54, 235 (1982) for Potts):

- Potts magnetisation m = (q·max_k p̂_k − 1)/(q − 1) ∈ [0, 1]
- normalised entropy 1 − H/ln q, effective number of states exp(H)
- mode fraction max_k p̂_k and the mode's state (and label)
- collision probability Σ_k p̂_k²
- KL, Jensen–Shannon and total-variation divergence from a reference distribution
  (:mod:`phasekit.observables.reference`)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import xarray as xr

from .._meta import as_dims, estimate, provenance, resolve_n_states
from ..count import Counts
from ._common import checked_q, counts_of, segments, segsum, size_attr, state_labels, system_attr
from .reference import divergences, is_array_reference, reference_lookup, resolve_label_reference

if TYPE_CHECKING:
    from ..configurations import Ensemble

__all__ = ["Q_DEPENDENT_NOTE", "magnetization", "order_parameters"]


# ------------------------------------------------------------------------- magnetization


def magnetization(
    ds: xr.Dataset | xr.DataArray | Counts,
    *,
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
) -> xr.DataArray:
    """Potts magnetisation of every configuration.

    m = (q · p̂_max − 1) / (q − 1),  p̂_max = max_k n_k / N

    (Wu, Rev. Mod. Phys. 54, 235 (1982); for q = 2 this is |M|/N of the Ising model).
    m = 0 for a uniform configuration, 1 when every token is the same state. q comes from
    ``n_states`` or ``attrs["n_states"]``; without it a SchemaError (q is never guessed).

    Stderr (``error_method="binomial_delta"``): the mode fraction is treated as a
    binomial proportion, se(m) = q/(q − 1) · sqrt(p̂_max(1 − p̂_max)/N) — the sampling
    error of one configuration's m when its tokens are independent draws. Empty
    configurations give NaN. ``attrs["N"]`` is the configuration size when all non-empty
    configurations have the same one (used by :func:`phasekit.susceptibility`).
    """
    from .. import lazy as _lazy

    if isinstance(ds, xr.Dataset | xr.DataArray) and _lazy.is_lazy(ds):  # dask-backed: lazy, one task per block
        return cast(xr.DataArray, _lazy.map_configurations(magnetization, ds, system, kwargs={"n_states": n_states}))
    c = counts_of(ds, system, n_states)
    q = checked_q(c, n_states, "magnetization")
    N = c.totals().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmax = np.where(N > 0, c.max_count() / N, np.nan)
        m = (q * pmax - 1.0) / (q - 1.0)
        se = q / (q - 1.0) * np.sqrt(pmax * (1.0 - pmax) / N)
    return estimate(
        c.wrap(m),
        c.wrap(se),
        name="magnetization",
        estimator="potts_magnetization",
        formula="(q*max_k p_k - 1)/(q - 1)",
        error_method="binomial_delta",
        n_states=q,
        system=system_attr(c),
        units="dimensionless",
        **size_attr(N),
    )


# --------------------------------------------------------------------- entropy plumbing


#: confidence of the entropy interval (``entropy_lower``/``entropy_upper``), as :func:`phasekit.entropy`
ENTROPY_CONFIDENCE = 0.95


def _entropy(c: Counts, estimator: str | None, q: int | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Entropy, stderr, interval ends (at ``ENTROPY_CONFIDENCE``) and attrs per configuration
    from the counts' fingerprints, in one pass: the same call as :func:`phasekit.entropy`
    (:func:`phasekit.entropy_estimators.entropy_interval_from_fingerprint`), so the same data
    give the same, possibly asymmetric, interval on every path."""
    import importlib

    _ent = importlib.import_module("phasekit.entropy_estimators")  # the module, not pk.entropy()
    est = _ent.default_estimator(q) if estimator is None else estimator
    parts = _ent.entropy_interval_from_fingerprint(*c.fingerprint(), estimator=est, n_states=q,
                                                    confidence=ENTROPY_CONFIDENCE)
    attrs = {
        "estimator": est,
        "error_method": getattr(_ent, "_ERROR_METHOD", {}).get(est, "see phasekit.entropy_estimators"),
        "n_states": q,
        "long_name": "Shannon entropy",
    }
    h, se, lo, up = (np.asarray(a, float).reshape(c.shape) for a in parts)
    return h, se, lo, up, attrs


# ------------------------------------------------------------------- order parameters


#: What order_parameters leaves out when q is unknown, and why (reports repeat it).
Q_DEPENDENT_NOTE = ("magnetization (q p_max - 1)/(q - 1) and order_entropy 1 - H/ln q need q, the size of the "
                    "answer space, which is not known (pass n_states=); the divergences from a uniform "
                    "reference need it too. Entropy uses the K-free default estimator.")


def order_parameters(
    ds: xr.Dataset | xr.DataArray | Counts | Ensemble,
    *,
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
    estimator: str | None = None,
    reference: str | Sequence[float] | np.ndarray | Any | None = None,
    reference_dim: Hashable = "checkpoint",
) -> xr.Dataset:
    """Every order parameter of every configuration, as one Dataset.

    Variables (``<var>_stderr`` holds the standard error of ``<var>``; use
    :func:`with_stderr` to get a DataArray with a ``stderr`` coordinate):

    ====================  ==========================================================
    ``entropy``           H in nats, by ``estimator`` (the entropy module's default
                          when None) — see :func:`phasekit.entropy`
    ``order_entropy``     1 − H/ln q                        (se = se_H / ln q)
    ``effective_states``  exp(H)                            (se = exp(H) se_H)
    ``magnetization``     (q p̂_max − 1)/(q − 1), :func:`magnetization`
    ``mode_fraction``     p̂_max = max_k n_k/N               (binomial se)
    ``mode_state``        argmax_k n_k (smallest among ties; −1 when empty)
    ``mode_label``        ``state`` coordinate label of the mode (when the data has one)
    ``collision``         Σ_k p̂_k² (plug-in; delta-method se
                          sqrt(4(Σp̂³ − (Σp̂²)²)/N))
    ``kl_reference``      Σ_k p̂_k ln(p̂_k/r_k)  (inf if p̂_k > 0 where r_k = 0)
    ``js_reference``      ½ KL(p̂‖μ) + ½ KL(r‖μ), μ = (p̂ + r)/2  (≤ ln 2)
    ``tv_reference``      ½ Σ_k |p̂_k − r_k|
    ``n_tokens``          N per configuration
    ====================  ==========================================================

    ``entropy``, ``order_entropy`` and ``effective_states`` also carry the entropy's 95%
    interval as ``<var>_lower``/``<var>_upper`` (attr ``confidence``): the interval
    :func:`phasekit.entropy` gives for the same data, bit for bit (asymmetric for the
    K-free ``chao_wang_jost``; the upper end at most ln K for ``bma``/``nsb``/``pym``),
    mapped through 1 − H/ln q and exp(H) (monotone, so its ends are the ends' images).
    The divergences are plug-in values with delta-method (multinomial) stderrs.
    ``reference`` is ``"uniform"`` (the default when q ≤ 65536), a label along
    ``reference_dim`` (that slice's distribution pooled over all other kept dims, e.g.
    a checkpoint pooled over prompts), or an array of q probabilities. With a large
    alphabet (q > 65536) and no explicit reference the divergences are omitted (attrs
    say so); everything is computed from sparse counts, explicit references included.
    Without q (an open answer space) the q-dependent variables (``order_entropy``,
    ``magnetization``, divergences from the uniform reference) are left out and
    ``attrs["left_out"]`` says so; everything else is computed.
    Configurations with no tokens give NaN (``mode_state`` −1).

    References: Cover & Thomas, *Elements of Information Theory* (2006) ch. 2;
    Lin, IEEE Trans. Inf. Theory 37, 145 (1991) for Jensen–Shannon.
    """
    from .. import lazy as _lazy

    if isinstance(ds, xr.Dataset | xr.DataArray) and _lazy.is_lazy(ds):  # dask-backed: lazy, one task per block
        return _lazy_order_parameters(ds, system, n_states, estimator, reference, reference_dim)
    c = counts_of(ds, system, n_states)
    q = resolve_n_states(c, n_states)
    q = checked_q(c, q, "order_parameters") if q is not None else None
    data: dict[Hashable, xr.DataArray] = {}
    notes: dict[str, str] = {}
    _put_entropies(data, notes, c, estimator, q)
    if q is not None:
        _put(data, "magnetization", magnetization(c, n_states=q))
    _put_mode_and_collision(data, c, state_labels(ds))
    r, ref_label, ref_note = reference_lookup(reference, c, q, reference_dim)
    notes["reference"] = ref_label
    notes["reference_note"] = ref_note
    if r is not None:
        _put_divergences(data, c, r, ref_label, ref_note)
    N = c.totals()
    data["n_tokens"] = c.wrap(N.astype(np.int64)).assign_attrs(provenance(description="tokens counted"))
    out = xr.Dataset(data)
    out.attrs = provenance(
        **({"n_states": q} if q is not None else {}), system=system_attr(c),
        stderr_convention="<var>_stderr (see with_stderr)", **notes, **size_attr(N.astype(float)),
    )
    return out


def _put(data: dict[Hashable, xr.DataArray], name: str, est: xr.DataArray,
         interval: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """An estimate as Dataset variables ``name`` and ``name_stderr``, and with ``interval``
    (its lower and upper ends at ``ENTROPY_CONFIDENCE``) ``name_lower``/``name_upper``
    (attr ``confidence``; :func:`phasekit.with_stderr` makes them coordinates)."""
    se = est.coords["stderr"].values if "stderr" in est.coords else np.full(est.shape, np.nan)
    val = est.drop_vars("stderr", errors="ignore")
    data[name] = val
    data[f"{name}_stderr"] = xr.DataArray(se, dims=val.dims, coords=val.coords,
                                          attrs={"long_name": f"standard error of {name}"})
    for end, bound in zip(("lower", "upper"), interval or (), strict=False):
        data[f"{name}_{end}"] = xr.DataArray(
            np.asarray(bound, float), dims=val.dims, coords=val.coords,
            attrs={"long_name": f"{end} end of the {ENTROPY_CONFIDENCE:.0%} interval of {name}",
                   "confidence": ENTROPY_CONFIDENCE})


def _put_entropies(data: dict[Hashable, xr.DataArray], notes: dict[str, str], c: Counts,
                   estimator: str | None, q: int | None) -> None:
    """entropy, order_entropy 1 − H/ln q (with q) and effective_states exp(H), each with its
    stderr and the entropy's interval carried through the (monotone) map: order_entropy
    [1 − upper/ln q, 1 − lower/ln q], effective_states [exp(lower), exp(upper)]."""
    empty = c.totals() == 0
    h, hse, lo, up, ent_attrs = _entropy(c, estimator, q)
    h, hse, lo, up = (np.where(empty, np.nan, a) for a in (h, hse, lo, up))
    name = ent_attrs.get("estimator", "entropy")
    _put(data, "entropy", estimate(c.wrap(h), c.wrap(hse), **{**ent_attrs, "units": "nats"}), (lo, up))
    if q is not None:
        _put(data, "order_entropy", estimate(
            c.wrap(1.0 - h / np.log(q)), c.wrap(hse / np.log(q)),
            estimator=f"1 - H/ln q ({name})", n_states=q, units="dimensionless",
        ), (1.0 - up / np.log(q), 1.0 - lo / np.log(q)))
    else:
        notes["left_out"] = Q_DEPENDENT_NOTE
    _put(data, "effective_states", estimate(
        c.wrap(np.exp(h)), c.wrap(np.exp(h) * hse),
        estimator=f"exp(H) ({name})", error_method="delta", units="states",
    ), (np.exp(lo), np.exp(up)))


def _put_mode_and_collision(data: dict[Hashable, xr.DataArray], c: Counts, labels: np.ndarray | None) -> None:
    """mode_fraction (binomial se), collision Σ p̂² (delta-method se), mode_state/label."""
    N = c.totals().astype(float)
    empty = N == 0
    seg = segments(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmax = np.where(empty, np.nan, c.max_count() / N)
        _put(data, "mode_fraction", estimate(
            c.wrap(pmax), c.wrap(np.sqrt(pmax * (1 - pmax) / N)),
            estimator="max_k n_k / N", error_method="binomial", units="fraction",
        ))
        s2 = np.where(empty, np.nan, c.sum_squares() / N**2)
        p = c.counts / N.reshape(-1)[seg]
        s3 = segsum(p**3, seg, c.n_config).reshape(c.shape)
        _put(data, "collision", estimate(
            c.wrap(s2), c.wrap(np.sqrt(np.clip(4 * (s3 - s2**2), 0, None) / N)),
            estimator="plugin sum_k p_k^2", error_method="delta", units="probability",
        ))
    mode = c.mode_state()
    data["mode_state"] = c.wrap(mode).assign_attrs(
        provenance(description="most frequent state (smallest among ties); -1 = no tokens")
    )
    if labels is not None and (mode.size == 0 or int(mode.max(initial=-1)) < labels.size):
        lab = np.where(mode >= 0, labels[np.clip(mode, 0, None)].astype(str), "")
        data["mode_label"] = c.wrap(lab.astype(str)).assign_attrs(
            provenance(description="state-coordinate label of the mode; '' = no tokens")
        )


def _put_divergences(data: dict[Hashable, xr.DataArray], c: Counts, r: np.ndarray,
                     ref_label: str, ref_note: str) -> None:
    """kl_reference, js_reference, tv_reference with delta-method (multinomial) stderrs."""
    div = divergences(c, r)
    for key, desc in (("kl", "Kullback-Leibler"), ("js", "Jensen-Shannon"), ("tv", "total variation")):
        val, se = div[key]
        _put(data, f"{key}_reference", estimate(
            c.wrap(val.reshape(c.shape)), c.wrap(se.reshape(c.shape)),
            estimator=f"plugin {desc} divergence from the reference",
            reference=ref_label, reference_note=ref_note,
            error_method="delta_multinomial",
            units="probability" if key == "tv" else "nats",
        ))


def _lazy_order_parameters(
    ds: xr.Dataset | xr.DataArray, system: Any, n_states: int | None, estimator: str | None,
    reference: Any, reference_dim: Hashable,
) -> xr.Dataset:
    """:func:`order_parameters` on dask-backed tokens: lazy, one task per block.

    A label ``reference`` is resolved first (only its slice is counted, now); the
    ``mode_label`` variable is added when the data's ``state`` labels cover all q states
    (the in-memory path adds it whenever every observed mode has a label).
    """
    from ..lazy import map_configurations

    system = as_dims(system)
    q = resolve_n_states(ds, n_states)
    is_label = not (reference is None or isinstance(reference, str) and reference == "uniform"
                    or is_array_reference(reference))
    if is_label:
        reference = resolve_label_reference(ds, system, q, reference, reference_dim)
    labels = state_labels(ds)
    extra: dict[Hashable, Any] = {}
    if labels is not None and q is not None and labels.size >= q:  # every mode has a label
        extra["state"] = ds.coords["state"].variable
    return cast(xr.Dataset, map_configurations(order_parameters, ds, system, n_states=q, extra_coords=extra, kwargs={
        "n_states": q, "estimator": estimator, "reference": reference, "reference_dim": reference_dim}))
