"""The anatomy of a transition: which seed, where the output distribution moves, what order.

Three questions a lab asks once it knows *that* behaviour changed along training:

* :func:`seed_attribution` — after the collapse, whose distribution is it? For every
  checkpoint and prompt, the reference-checkpoint prompt distribution it is closest to
  in Jensen–Shannon divergence (the *seed*), the divergence, and the share of mass kept
  on the seed's support (Samanta, Holtzman & West 2026: finetuning collapses onto a seed
  distribution that already existed in the base model, preference tuning stays inside
  its support).
* :func:`divergence_scan` and :func:`scan_peaks` — the black-box scan of Arnold et al.
  (2024, arXiv 2405.17088): at each point of the control axis, the divergence between
  the pooled output distributions of the checkpoints just before and just after it,
  against the level finite samples alone would give.
* :func:`classify_transition` — first-order (nucleation), continuous, or a smooth
  crossover, from the order parameter measured at several system sizes
  (finite-size scaling of the susceptibility peak, Binder-cumulant dip and crossing,
  bimodality of the order parameter; Binder 1981, Challa, Landau & Binder 1986,
  Lee & Kosterlitz 1991).

All three work on the counts of :func:`phasekit.count.count_states` (divergences) or on
per-configuration order parameters (classification); every number comes with a
standard error and attrs saying how it was made.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy.signal import find_peaks
from scipy.special import rel_entr

from ._meta import append_history, as_dims, estimate, provenance, require_dims
from .fluctuations import _moment_jackknife
from .errors import SchemaError

__all__ = [
    "TransitionClass",
    "classify_transition",
    "divergence_scan",
    "scan_peaks",
    "seed_attribution",
]

_LN2 = math.log(2.0)

#: Seed of the resampling of seed_attribution / divergence_scan when ``seed`` is not
#: given (deterministic by default; recorded in attrs["seed"]; ``seed=None`` is fresh).
DEFAULT_SEED = 20260601


def _seed_attr(seed: Any) -> Any:
    """What to record in attrs about the seed used."""
    if isinstance(seed, int | np.integer):
        return int(seed)
    return "fresh entropy (seed=None)" if seed is None else "a numpy Generator passed in"


# --------------------------------------------------------------------------- divergences
def _js(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence (nats) along the last axis, broadcasting.

    JS(p, r) = ½ KL(p ‖ m) + ½ KL(r ‖ m), m = (p + r)/2; 0 ≤ JS ≤ ln 2 (Lin 1991).
    Rows that contain NaN (empty distributions) give NaN.
    """
    m = 0.5 * (p + r)
    return 0.5 * rel_entr(p, m).sum(axis=-1) + 0.5 * rel_entr(r, m).sum(axis=-1)


def _tv(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Total-variation distance ½ Σ_k |p_k − r_k| along the last axis (0 … 1)."""
    return 0.5 * np.abs(p - r).sum(axis=-1)


_DIVERGENCES = {"js": (_js, "nats", "Jensen-Shannon divergence (Lin 1991), natural log"),
                "tv": (_tv, "1", "total-variation distance 1/2 sum |p - r|")}


def _normalise(counts: np.ndarray) -> np.ndarray:
    """Empirical distributions along the last axis; NaN rows where there are no counts."""
    tot = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, counts / np.where(tot > 0, tot, 1), np.nan)


def _resample(counts: np.ndarray, rng: np.random.Generator, probs: np.ndarray | None = None) -> np.ndarray:
    """Multinomial redraw of every row of ``counts`` (same totals) from ``probs`` (default: the
    rows' own empirical distributions). Rows with no counts stay empty."""
    n = counts.sum(axis=-1).astype(np.int64)
    p = _normalise(counts) if probs is None else probs
    q = counts.shape[-1]
    p = np.where(np.isfinite(p).all(axis=-1, keepdims=True) & (n[..., None] > 0), p, 1.0 / q)
    p = p / p.sum(axis=-1, keepdims=True)
    return rng.multinomial(n, p).astype(float)


def _block_size(n_elements: int, n_draws: int, budget: int = 2_000_000) -> int:
    """How many random redraws to stack at once so one block holds about ``budget`` numbers."""
    return int(max(1, min(n_draws, budget // max(n_elements, 1))))


def _token(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    from .schema import token_array

    return token_array(ds)


def _dense(tok: xr.DataArray, system: tuple[Hashable, ...], n_states: int | None):
    """Counts over ``system`` as a dense float array (*kept grid, K) and the Counts object.

    A divergence between empirical distributions needs no q: states nobody produced
    contribute nothing. The state axis therefore holds only the K states observed
    anywhere in the data (in increasing order), which keeps large vocabularies cheap.
    """
    from .count import count_states

    c = count_states(tok, system=system, n_states=n_states)
    return c, _observed_dense(c)


def _observed_dense(c: Any) -> np.ndarray:
    """Dense counts (*grid, K) of a Counts object over the K states it observed."""
    used = np.unique(c.states)
    k = max(used.size, 1)
    dense = np.zeros((c.n_config, k))
    rows = np.repeat(np.arange(c.n_config), np.diff(c.indptr))
    dense[rows, np.searchsorted(used, c.states)] = c.counts
    return dense.reshape(*c.shape, k)


def _labels(tok: xr.DataArray, dim: Hashable) -> np.ndarray:
    if dim in tok.coords:
        return np.asarray(tok[dim].values)
    return np.arange(tok.sizes[dim])


def _reference_positions(tok: xr.DataArray, dim: Hashable, reference: Any) -> list[int]:
    """Positions along ``dim`` selected by ``reference``.

    An ``int`` is a position (negative counts from the end, as in ``.isel``); any other
    scalar is a label of the ``dim`` coordinate; a list/tuple/array of either is pooled.
    """
    items = list(reference) if isinstance(reference, list | tuple | np.ndarray) else [reference]
    if not items:
        raise SchemaError("reference= selects no checkpoint", where="seed_attribution",
                          fix="pass a checkpoint label or integer position")
    n = tok.sizes[dim]
    labels = _labels(tok, dim)
    out = []
    for item in items:
        if isinstance(item, int | np.integer) and not isinstance(item, bool):
            if not -n <= int(item) < n:
                raise SchemaError(f"reference position {item} is outside the {n} entries of {dim!r}",
                                  where="seed_attribution(reference=...)",
                                  fix=f"pass a position in [-{n}, {n - 1}] or a label of {dim!r}")
            out.append(int(item) % n)
        else:
            hits = np.flatnonzero(labels == item)
            if hits.size == 0:
                raise SchemaError(f"reference label {item!r} is not on dim {dim!r}",
                                  where=f"first labels: {list(labels[:5])}",
                                  fix="pass an existing label, or an int for a position")
            out.append(int(hits[0]))
    return sorted(set(out))


def _seed_support(ref_p: np.ndarray, mass: float, top_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean support mask (..., q) of each reference distribution and its size k.

    With ``top_k=None``, k is the smallest number of most-probable states whose total
    probability reaches ``mass``; otherwise the ``top_k`` most probable states. States
    of zero probability are never part of a support.
    """
    q = ref_p.shape[-1]
    p = np.nan_to_num(ref_p, nan=0.0)
    order = np.argsort(-p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    if top_k is None:
        cum = np.cumsum(sorted_p, axis=-1)
        k = (cum < mass - 1e-12).sum(axis=-1) + 1
    else:
        k = np.full(p.shape[:-1], int(top_k))
    k = np.minimum(k, (sorted_p > 0).sum(axis=-1))
    rank_mask = np.arange(q) < k[..., None]
    mask = np.zeros_like(rank_mask)
    np.put_along_axis(mask, order, rank_mask, axis=-1)
    return mask, k


def _gather_support(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """``mask[..., seed[..., c, i], :]``: the support (…, C, P, q) of each chosen seed.

    ``mask`` is (…, Pref, q), ``seed`` (…, C, P) with values in 0 … Pref−1.
    """
    lead = mask.shape[:-2]
    full = np.broadcast_to(mask[..., None, :, :], (*lead, seed.shape[-2], *mask.shape[-2:]))
    return np.take_along_axis(full, seed[..., None], axis=-2)


def _attribute(x: np.ndarray, ref_pos: list[int], mass: float, top_k: int | None):
    """Core of seed attribution on dense counts ``x`` of shape (..., C, P, q)."""
    p = _normalise(x)                                   # (..., C, P, q)
    ref_p = _normalise(x[..., ref_pos, :, :].sum(axis=-3))   # (..., P, q)
    div = _js(p[..., :, :, None, :], ref_p[..., None, None, :, :])   # (..., C, P, Pref)
    ok = np.isfinite(div)
    any_ok = ok.any(axis=-1)
    seed = np.where(any_ok, np.argmin(np.where(ok, div, np.inf), axis=-1), -1)
    safe = np.maximum(seed, 0)
    seed_div = np.where(any_ok, np.take_along_axis(div, safe[..., None], axis=-1)[..., 0], np.nan)
    mask, k = _seed_support(ref_p, mass, top_k)       # (..., Pref, q)
    seed_mask = _gather_support(mask, safe)
    retention = np.where(any_ok, (np.nan_to_num(p) * seed_mask).sum(axis=-1), np.nan)
    mean_div = _js(_normalise(x.sum(axis=-2))[..., :, None, :], ref_p[..., None, :, :])  # (..., C, Pref)
    ok_c = np.isfinite(mean_div)
    any_c = ok_c.any(axis=-1)
    consensus = np.where(any_c, np.argmin(np.where(ok_c, mean_div, np.inf), axis=-1), -1)
    cons_div = np.where(
        any_c, np.take_along_axis(mean_div, np.maximum(consensus, 0)[..., None], axis=-1)[..., 0], np.nan
    )
    valid_prompt = seed >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            any_c,
            ((seed == consensus[..., None]) & valid_prompt).sum(axis=-1) / np.maximum(valid_prompt.sum(axis=-1), 1),
            np.nan,
        )
    return {"div": div, "seed": seed, "seed_div": seed_div, "retention": retention, "k": k,
            "consensus": consensus, "cons_div": cons_div, "share": share, "pooled_div": mean_div}


def seed_attribution(
    ds: xr.Dataset | xr.DataArray,
    reference: Any = 0,
    *,
    dim: Hashable = "checkpoint",
    prompt: Hashable = "prompt",
    system: Hashable | Iterable[Hashable] = ("sample",),
    top_k: int | None = None,
    mass: float = 0.9,
    n_states: int | None = None,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
) -> xr.Dataset:
    r"""Which reference-checkpoint prompt distribution each checkpoint's behaviour is closest to.

    For checkpoint :math:`c` and prompt :math:`i` with empirical answer distribution
    :math:`\hat p_{ci}`, and reference distributions :math:`\hat r_j` (prompt :math:`j`
    at the reference checkpoint(s), counts pooled when several are given):

    .. math::

        \mathrm{seed}_{ci} = \arg\min_j \mathrm{JS}(\hat p_{ci}, \hat r_j), \qquad
        \mathrm{JS}(p, r) = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(r \,\|\, m),
        \; m = \tfrac12 (p + r)

    (nats, :math:`0 \le \mathrm{JS} \le \ln 2`; Lin 1991). ``support_retention`` is
    :math:`\sum_{k \in S_j} \hat p_{ci,k}` for the seed :math:`j`, where :math:`S_j` is the
    seed's *top-k support*: the smallest set of most probable states of :math:`\hat r_j`
    holding at least ``mass`` (default 90 %) of its probability, or its ``top_k`` most
    probable states when ``top_k`` is given (zero-probability states never count). The
    per-checkpoint *consensus* seed is the reference prompt closest to the checkpoint's
    prompt-pooled behaviour, :math:`\arg\min_j \mathrm{JS}(\bar p_c, \hat r_j)` with
    :math:`\bar p_c` the distribution of all the checkpoint's answers (pooling makes it
    far less noisy than any one prompt's); ``consensus_share`` is the fraction of prompts
    whose own seed agrees with it (near 1 after a collapse, low in the liquid phase).
    Pooling a few reference checkpoints (``reference=[...]``) reduces the noise of the
    reference distributions themselves.

    This makes testable the claim of Samanta, Holtzman & West (2026, arXiv 2606.29933)
    that supervised finetuning collapses every prompt onto one *seed* distribution that
    already existed in the base model, and that preference tuning keeps the mass inside
    that seed's support.

    Parameters
    ----------
    ds : samples Dataset (``token``) or token DataArray with dims ``dim``, ``prompt`` and
        the ``system`` dims; any other dims are kept (attribution is done within each).
    reference : the reference checkpoint: an ``int`` is a position along ``dim`` (as in
        ``.isel``; negative from the end), any other value a label of the ``dim``
        coordinate; a list of them pools those checkpoints' counts.
    dim : the control dim (checkpoints).
    prompt : the dim whose entries are the candidate seeds.
    system : dims counted into one distribution (default the samples).
    top_k, mass : how the seed's support is chosen (see above).
    n_states : q (optional: divergences only need the observed states).
    n_bootstrap, seed : parametric bootstrap: every (checkpoint, prompt) count vector,
        the reference included, is redrawn from a multinomial with its own total and
        empirical distribution (this equals the bootstrap over samples when each sample
        gives one token). ``n_bootstrap=0`` gives no error bars.

    Returns
    -------
    xr.Dataset
        over (other dims…, ``dim``, ``prompt``): ``seed`` (label of the closest reference
        prompt), ``seed_index``, ``seed_divergence`` and ``seed_divergence_stderr`` (nats),
        ``seed_confidence`` (share of bootstrap redraws that pick the same seed),
        ``support_retention`` and ``support_retention_stderr``; ``divergence`` over
        (…, ``dim``, ``prompt``, ``reference_<prompt>``): the full JS matrix;
        ``support_size`` (k per reference prompt); per checkpoint: ``consensus_seed``,
        ``consensus_index``, ``consensus_divergence`` (+ ``_stderr``),
        ``consensus_share``, ``consensus_confidence``. Standard errors are separate
        ``*_stderr`` variables because a Dataset cannot hold one ``stderr`` coordinate
        per variable.

    References
    ----------
    J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37
    (1991) 145. Samanta, Holtzman & West (2026), arXiv 2606.29933.
    """
    tok = _token(ds)
    system = as_dims(system)
    require_dims(tok, (dim,), argument="dim")
    require_dims(tok, (prompt,), argument="prompt")
    require_dims(tok, system, argument="system")
    if dim in system or prompt in system or dim == prompt:
        raise SchemaError("dim, prompt and system must be different dims",
                          where=f"dim={dim!r}, prompt={prompt!r}, system={system}",
                          fix="count over samples (system='sample') and keep checkpoint and prompt")
    if not 0 < mass <= 1:
        raise SchemaError(f"mass must be in (0, 1], got {mass}", where="seed_attribution(mass=...)",
                          fix="pass e.g. mass=0.9")
    if top_k is not None and int(top_k) < 1:
        raise SchemaError(f"top_k must be >= 1, got {top_k}", where="seed_attribution(top_k=...)",
                          fix="pass a positive integer or None")
    ref_pos = _reference_positions(tok, dim, reference)
    c, dense = _dense(tok, system, n_states)
    kept = list(c.dims)
    others = [d for d in kept if d not in (dim, prompt)]
    order = [kept.index(d) for d in (*others, dim, prompt)]
    x = np.transpose(dense, (*order, len(kept)))
    res = _attribute(x, ref_pos, mass, top_k)

    n_boot = int(n_bootstrap)
    rng = np.random.default_rng(seed)
    if n_boot > 0:
        acc = {k: [] for k in ("seed_div", "retention", "cons_div")}
        same_seed = np.zeros(res["seed"].shape)
        same_cons = np.zeros(res["consensus"].shape)
        safe = np.maximum(res["seed"], 0)
        safe_c = np.maximum(res["consensus"], 0)
        block = _block_size(res["div"].size, n_boot)
        for start in range(0, n_boot, block):
            nb = min(block, n_boot - start)
            # redraws stacked on a new leading axis: every helper works on leading dims
            xb = _resample(np.broadcast_to(x, (nb, *x.shape)), rng)
            rb = _attribute(xb, ref_pos, mass, top_k)
            # the divergence to the *chosen* seed, and the retention on its (redrawn) support
            sb = np.broadcast_to(safe, (nb, *safe.shape))
            acc["seed_div"].append(np.take_along_axis(rb["div"], sb[..., None], axis=-1)[..., 0])
            pb = _normalise(xb)
            ref_b = _normalise(xb[..., ref_pos, :, :].sum(axis=-3))
            mask_b, _ = _seed_support(ref_b, mass, top_k)
            sm = _gather_support(mask_b, sb)
            acc["retention"].append((np.nan_to_num(pb) * sm).sum(axis=-1))
            cb = np.broadcast_to(safe_c, (nb, *safe_c.shape))
            acc["cons_div"].append(np.take_along_axis(rb["pooled_div"], cb[..., None], axis=-1)[..., 0])
            same_seed += (rb["seed"] == res["seed"]).sum(axis=0)
            same_cons += (rb["consensus"] == res["consensus"]).sum(axis=0)
        se = {k: np.std(np.concatenate(v), axis=0, ddof=1) for k, v in acc.items()}
        conf_seed = same_seed / n_boot
        conf_cons = same_cons / n_boot
        error_method = f"parametric (multinomial) bootstrap of the counts, {n_boot} redraws"
    else:
        se = {k: np.full(res[k].shape, np.nan) for k in ("seed_div", "retention", "cons_div")}
        conf_seed = np.full(res["seed"].shape, np.nan)
        conf_cons = np.full(res["consensus"].shape, np.nan)
        error_method = "none (n_bootstrap=0)"
    for key, valid in (("seed_div", res["seed"] >= 0), ("retention", res["seed"] >= 0),
                       ("cons_div", res["consensus"] >= 0)):
        se[key] = np.where(valid, se[key], np.nan)

    prompt_labels = _labels(tok, prompt)
    ref_dim = f"reference_{prompt}"
    grid_dims = (*others, dim, prompt)
    coords: dict[Hashable, Any] = {}
    for name, var in tok.coords.items():
        if set(var.dims) <= set(grid_dims) and name not in system:
            coords[name] = var.variable
    coords[ref_dim] = (ref_dim, prompt_labels)

    def label_of(index: np.ndarray) -> np.ndarray:
        out = np.empty(index.shape, dtype=object)
        out[...] = None
        ok = index >= 0
        out[ok] = prompt_labels[index[ok]]
        if prompt_labels.dtype.kind in "US":
            out = np.where(ok, out, "").astype(str)
        return out

    cdims = (*others, dim)
    ref_labels = [str(v) for v in _labels(tok, dim)[ref_pos]]
    out = xr.Dataset(
        {
            "seed": (grid_dims, label_of(res["seed"])),
            "seed_index": (grid_dims, res["seed"]),
            "seed_divergence": (grid_dims, res["seed_div"]),
            "seed_divergence_stderr": (grid_dims, se["seed_div"]),
            "seed_confidence": (grid_dims, conf_seed),
            "support_retention": (grid_dims, res["retention"]),
            "support_retention_stderr": (grid_dims, se["retention"]),
            "divergence": ((*grid_dims, ref_dim), res["div"]),
            "support_size": ((*others, ref_dim), res["k"]),
            "consensus_seed": (cdims, label_of(res["consensus"])),
            "consensus_index": (cdims, res["consensus"]),
            "consensus_divergence": (cdims, res["cons_div"]),
            "consensus_divergence_stderr": (cdims, se["cons_div"]),
            "consensus_share": (cdims, res["share"]),
            "consensus_confidence": (cdims, conf_cons),
        },
        coords=coords,
    )
    for name, text in (
        ("seed_divergence", "JS divergence (nats) to the closest reference prompt distribution"),
        ("support_retention", f"share of probability on the seed's top-k support (k by mass {mass}"
                              if top_k is None else f"share of probability on the seed's top-{top_k} states"),
        ("seed_confidence", "share of bootstrap redraws choosing the same seed"),
        ("consensus_seed", "reference prompt closest (JS) to the prompt-pooled distribution"),
        ("consensus_share", "share of prompts whose seed is the consensus seed"),
    ):
        out[name].attrs["description"] = text + (")" if name == "support_retention" and top_k is None else "")
    out["seed_divergence"].attrs["units"] = "nats"
    out["consensus_divergence"].attrs["units"] = "nats"
    attrs = provenance(
        estimator="seed attribution: argmin_j JS(p_ci, r_j) over reference prompt distributions",
        reference=",".join(ref_labels),
        reference_dim=str(dim),
        prompt_dim=str(prompt),
        system=[str(s) for s in system],
        support_rule=(f"smallest top set holding >= {mass} of the seed's mass" if top_k is None
                      else f"top {int(top_k)} states of the seed"),
        n_bootstrap=n_boot,
        seed=_seed_attr(seed),
        error_method=error_method,
        units="nats",
        n_states=c.n_states,
        reference_paper="Samanta, Holtzman & West 2026, arXiv 2606.29933; JS: Lin 1991",
    )
    out.attrs = append_history(attrs, f"seed_attribution(reference={ref_labels}, dim={dim!r})")
    return out


# --------------------------------------------------------------------------- divergence scan
def _window_sums(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the ``window`` points before (left) and from (right) each split point.

    ``x`` has the control axis at position -2: (..., C, q). Split ``i`` (1 ≤ i < C) puts
    points ``max(0, i-w) … i-1`` left and ``i … min(C, i+w) - 1`` right; split 0 is empty.
    """
    n = x.shape[-2]
    cum = np.concatenate([np.zeros((*x.shape[:-2], 1, x.shape[-1])), np.cumsum(x, axis=-2)], axis=-2)
    i = np.arange(n)
    lo = np.maximum(i - window, 0)
    hi = np.minimum(i + window, n)
    left = cum[..., i, :] - cum[..., lo, :]
    right = cum[..., hi, :] - cum[..., i, :]
    left[..., 0, :] = 0.0
    return left, right


def _scan_stat(left: np.ndarray, right: np.ndarray, func, avg_axes: tuple[int, ...]) -> np.ndarray:
    """The divergence of every configuration, averaged (NaN-aware) over ``avg_axes``."""
    d = func(_normalise(left), _normalise(right))
    if not avg_axes:
        return d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d, axis=avg_axes)


def divergence_scan(
    ds: xr.Dataset | xr.DataArray,
    dim: Hashable = "checkpoint",
    window: int = 3,
    divergence: str = "js",
    *,
    system: Hashable | Iterable[Hashable] = ("sample",),
    pool: Hashable | Iterable[Hashable] = (),
    average: Hashable | Iterable[Hashable] | None = None,
    n_states: int | None = None,
    n_null: int = 200,
    level: float = 0.99,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
) -> xr.DataArray:
    r"""Divergence between the output distributions just before and just after each point.

    The black-box scan of Arnold et al. (2024): at split point :math:`i` along ``dim``,

    .. math::

        D_i = \big\langle\, d\big(\hat P^{\mathrm{left}}_i, \hat P^{\mathrm{right}}_i\big)
        \big\rangle_{\mathrm{average}}

    where :math:`\hat P^{\mathrm{left}}_i` pools the counts of the ``window`` points
    :math:`i-w … i-1` and :math:`\hat P^{\mathrm{right}}_i` those of :math:`i … i+w-1`
    (windows are truncated at the ends), :math:`d` is the Jensen–Shannon divergence
    (``"js"``, nats) or the total-variation distance (``"tv"``), and the divergence of
    each configuration (e.g. each prompt) is averaged over the ``average`` dims. The
    value at point :math:`i` is therefore the change *entering* checkpoint :math:`i` (its
    label is that of the first checkpoint after the split, like a boundary's location);
    the first point has no left window and is NaN. Peaks mark transitions
    (:func:`scan_peaks`).

    Finite samples make :math:`D` positive even without any change, so the result carries
    the *null level*: left and right counts are redrawn from a multinomial with their
    own totals and the pooled distribution of both windows, ``n_null`` times
    (coords ``null`` = mean, ``null_upper`` = the ``level`` quantile, ``p_value`` =
    (1 + #{null ≥ D}) / (1 + n_null)). The standard error (coord ``stderr``) is the
    spread of :math:`D` over redraws of each window from its own empirical distribution.

    Parameters
    ----------
    ds : samples Dataset (``token``) or token DataArray.
    dim : the control dim scanned (checkpoints, temperatures, …).
    window : points pooled on each side (≥ 1).
    divergence : ``"js"`` or ``"tv"``.
    system : dims counted into one distribution (default the samples).
    pool : kept dims whose counts are added before the divergence (``pool="prompt"``
        scans the prompt-pooled output distribution, as in Arnold et al.).
    average : kept dims over which the per-configuration divergences are averaged
        (default: ``"prompt"`` when present); remaining dims stay in the result.
    n_states : q (optional: divergences only need the observed states).
    n_null, level, seed : null and error redraws, the quantile reported as
        ``null_upper``, and the random seed.

    Returns
    -------
    xr.DataArray
        Along ``dim`` (with its coords, e.g. ``step``) and any remaining dims; coords
        ``stderr``, ``null``, ``null_upper``, ``p_value``; attrs say the divergence,
        window and null.

    References
    ----------
    J. Arnold, F. Holtorf, F. Schäfer, N. Lörch, "Phase transitions in the output
    distribution of large language models", arXiv 2405.17088 (2024).
    """
    if divergence not in _DIVERGENCES:
        raise SchemaError(f"unknown divergence {divergence!r}", where="divergence_scan(divergence=...)",
                          fix=f"use one of {sorted(_DIVERGENCES)}")
    if int(window) < 1:
        raise SchemaError(f"window must be >= 1, got {window}", where="divergence_scan(window=...)",
                          fix="pass the number of points pooled on each side, e.g. window=3")
    if not 0 < level < 1:
        raise SchemaError(f"level must be in (0, 1), got {level}", where="divergence_scan(level=...)",
                          fix="pass e.g. level=0.99")
    window = int(window)
    func, units, desc = _DIVERGENCES[divergence]
    tok = _token(ds)
    system = as_dims(system)
    require_dims(tok, (dim,), argument="dim")
    require_dims(tok, system, argument="system")
    pool = as_dims(pool)
    require_dims(tok, pool, argument="pool")
    if dim in system or dim in pool:
        raise SchemaError(f"the scanned dim {dim!r} cannot be counted over or pooled",
                          where=f"system={system}, pool={pool}", fix="scan a kept dim")
    n_points = tok.sizes[dim]
    if n_points < 2:
        raise SchemaError(f"a scan needs at least 2 points along {dim!r}, got {n_points}",
                          where="divergence_scan", fix="pass data with more checkpoints")
    c, dense = _dense(tok, system, n_states)
    if pool:
        c = c.pool(pool)
        dense = _observed_dense(c)
    kept = list(c.dims)
    if average is None:
        average = tuple(d for d in ("prompt",) if d in kept and d != dim)
    else:
        average = as_dims(average)
        bad = [d for d in average if d not in kept or d == dim]
        if bad:
            raise SchemaError(f"cannot average over {bad}", where=f"kept dims are {kept}",
                              fix=f"name dims among {[d for d in kept if d != dim]}")
    rest = [d for d in kept if d != dim and d not in average]
    order = [kept.index(d) for d in (*rest, *average, dim)]
    x = np.transpose(dense, (*order, len(kept)))
    avg_axes = tuple(range(len(rest), len(rest) + len(average)))
    left, right = _window_sums(x, window)
    value = _scan_stat(left, right, func, avg_axes)
    value[..., 0] = np.nan

    rng = np.random.default_rng(seed)
    pooled = _normalise(left + right)
    n_null = int(n_null)
    null_draws, err_draws = [], []
    shifted = tuple(a + 1 for a in avg_axes)
    block = _block_size(left.size, max(n_null, 1))
    for start in range(0, max(n_null, 0), block):
        nb = min(block, n_null - start)
        lb = np.broadcast_to(left, (nb, *left.shape))
        rb = np.broadcast_to(right, (nb, *right.shape))
        pb = np.broadcast_to(pooled, (nb, *pooled.shape))
        null_draws.append(_scan_stat(_resample(lb, rng, pb), _resample(rb, rng, pb), func, shifted))
        err_draws.append(_scan_stat(_resample(lb, rng), _resample(rb, rng), func, shifted))
    if n_null > 0:
        null = np.concatenate(null_draws)
        null_mean = null.mean(axis=0)
        null_upper = np.quantile(null, level, axis=0)
        p_value = (1.0 + (null >= value[None] - 1e-12).sum(axis=0)) / (1.0 + n_null)
        stderr = np.std(np.concatenate(err_draws), axis=0, ddof=1)
        error_method = f"multinomial redraws of each window, {n_null} draws"
    else:
        null_mean = null_upper = p_value = stderr = np.full(value.shape, np.nan)
        error_method = "none (n_null=0)"
    for arr in (null_mean, null_upper, p_value, stderr):
        arr[..., 0] = np.nan

    out_dims = (*rest, dim)
    coords = {name: var.variable for name, var in tok.coords.items()
              if set(var.dims) <= set(out_dims) and name not in system}
    da = xr.DataArray(value, dims=out_dims, coords=coords, name=f"{divergence}_scan")
    res = estimate(
        da, stderr, name=f"{divergence}_scan",
        estimator=f"divergence scan (Arnold et al. 2024): {desc} between pooled windows",
        units=units, divergence=divergence, window=window, dim=str(dim),
        system=[str(s) for s in system], pooled=[str(p) for p in pool],
        averaged=[str(a) for a in average], n_null=n_null, level=level, seed=_seed_attr(seed),
        null_method="multinomial redraws of both windows from their pooled distribution",
        error_method=error_method, n_states=c.n_states,
        location_convention="value at point i compares points i-w..i-1 with i..i+w-1",
        reference="Arnold, Holtorf, Schaefer, Loerch 2024, arXiv 2405.17088",
    )
    res = res.assign_coords(null=(out_dims, null_mean), null_upper=(out_dims, null_upper),
                            p_value=(out_dims, p_value))
    res.attrs = append_history(res.attrs, f"divergence_scan(dim={dim!r}, window={window}, "
                                          f"divergence={divergence!r})")
    return res


def scan_peaks(
    scan: xr.DataArray,
    *,
    distance: int | None = None,
    significant: bool = True,
    min_prominence: float | None = None,
) -> xr.DataArray:
    r"""The peaks of a :func:`divergence_scan`: where the output distribution jumps.

    A peak is a local maximum of the scan (``scipy.signal.find_peaks``; the ends count)
    at least ``distance`` points (default: the scan's window) from a higher peak that

    * exceeds the scan's null level ``null_upper`` at that point (``significant=True``):
      more change than finite samples would give; and
    * stands out from its surroundings by a prominence of at least ``min_prominence``
      (default: 3 × the scan's standard error at the peak plus the spread of the null,
      ``null_upper - null``), so that wiggles of sampling noise are not reported.

    Returns the scan at the peaks (all its coords, e.g. ``step`` = the location, and
    ``stderr``, ``null``, ``p_value``), sorted by position, with coord ``prominence``.
    """
    if not isinstance(scan, xr.DataArray) or scan.ndim != 1:
        raise SchemaError("scan_peaks needs a one-dimensional scan",
                          where=f"got dims {getattr(scan, 'dims', None)}",
                          fix="select one series first, e.g. scan.sel(model=...)")
    dim = scan.dims[0]
    values = np.asarray(scan.values, dtype=float)
    if distance is None:
        distance = int(scan.attrs.get("window", 1))
    padded = np.concatenate([[-np.inf], np.where(np.isfinite(values), values, -np.inf), [-np.inf]])
    finite_min = np.nanmin(values) if np.isfinite(values).any() else 0.0
    padded = np.where(np.isfinite(padded), padded, finite_min - 1.0)
    idx, props = find_peaks(padded, distance=max(int(distance), 1), prominence=0.0)
    idx = idx - 1
    prom = props["prominences"]
    keep = (idx >= 0) & (idx < values.size)
    idx, prom = idx[keep], prom[keep]
    keep = np.isfinite(values[idx])
    idx, prom = idx[keep], prom[keep]

    def coord(name: str) -> np.ndarray:
        if name in scan.coords:
            return np.asarray(scan.coords[name].values, dtype=float)
        return np.full(values.shape, np.nan)

    se, null, upper = coord("stderr"), coord("null"), coord("null_upper")
    if significant and np.isfinite(upper).any():
        keep = values[idx] > upper[idx]
        idx, prom = idx[keep], prom[keep]
    if min_prominence is None:
        need = 3.0 * (np.nan_to_num(se[idx]) + np.nan_to_num(upper[idx] - null[idx]))
    else:
        need = np.full(idx.shape, float(min_prominence))
    keep = prom >= need
    idx, prom = idx[keep], prom[keep]
    out = scan.isel({dim: idx}).assign_coords(prominence=(dim, prom))
    out.attrs = append_history(
        {**scan.attrs, "peaks": "local maxima above null_upper with prominence >= "
                                + ("3*(stderr + null_upper - null)" if min_prominence is None
                                   else str(min_prominence))},
        "scan_peaks",
    )
    return out


# --------------------------------------------------------------------------- transition order
#: Growth exponents of χ_max in N below this are read as "no growth": every known critical
#: point has γ/(ν d) = (2 − η)/d ≥ 0.375 for d ≤ 4 (η ≤ 1/2 in the usual classes).
MIN_GROWTH_EXPONENT = 0.25


@dataclass
class TransitionClass:
    """The order of a transition and the evidence behind it.

    Attributes
    ----------
    kind : "first_order", "continuous" or "crossover"
    conclusive : whether the data settle it (``False`` with one size, or when the
        evidence disagrees; ``kind`` is then the best guess)
    reason : the rule that fired, in words, with the numbers
    evidence : per size (dim ``size``): ``N``, ``chi_max`` (+ ``_stderr``), ``chi_argmax``,
        ``binder_min`` (+ ``_stderr``), ``binder_argmin``, ``bimodal``, ``valley_ratio``,
        ``bimodality_at``; attrs: the fit of log χ_max against log N (``exponent_N`` and
        ``exponent_N_stderr``, ``exponent_L`` = γ/ν with ``dimension``), the AICs of the
        transition and crossover models and their difference, the Binder crossings, the
        flags used by the rules, and the calibration (``error_rate``, ``error_rate_target``,
        ``calibration_claims``: 3 × 3 confusion of conclusive claims, rows = simulated class
        in ``calibration_classes`` order, ``calibration_n_sim``, ``calibration_seed``,
        ``replicas_to_settle``).
    error_rate : the calibrated probability that another class's data give this answer
        conclusively (NaN with one size)
    error_rate_target : the stated error rate; ``conclusive`` requires error_rate <= it
    to_settle : when not conclusive, what more data would settle it (replicas per control
        point by size, or more sizes)
    """

    kind: str
    conclusive: bool
    reason: str
    evidence: xr.Dataset = field(repr=False)
    error_rate: float = float("nan")
    error_rate_target: float = 0.05
    to_settle: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        ev = self.evidence

        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return [plain(u) for u in v.tolist()]
            if isinstance(v, list | tuple):
                return [plain(u) for u in v]
            if isinstance(v, np.generic):
                return v.item()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        per_size = {str(name): plain(np.asarray(ev[name].values)) for name in ev.data_vars}
        return {
            "kind": self.kind,
            "conclusive": bool(self.conclusive),
            "reason": self.reason,
            "sizes": plain(np.asarray(ev["size"].values)),
            "per_size": per_size,
            "fit": {k: plain(v) for k, v in ev.attrs.items()},
        }

    def __repr__(self) -> str:
        ev = self.evidence
        x = ev.attrs.get("exponent_N", float("nan"))
        xs = ev.attrs.get("exponent_N_stderr", float("nan"))
        return (f"TransitionClass(kind={self.kind!r}, conclusive={self.conclusive}, "
                f"sizes={np.asarray(ev['size'].values).tolist()}, chi_max ~ N^({x:.3g} ± {xs:.2g}))\n"
                f"  {self.reason}")


def _jackknife_fluctuations(m: np.ndarray, n: float) -> dict[str, np.ndarray]:
    """χ = N(⟨m²⟩ − ⟨m⟩²) and U = 1 − ⟨m⁴⟩/(3⟨m²⟩²) per row of ``m`` (control, replica),
    with delete-one jackknife standard errors (the O(R) moment jackknife of
    :mod:`phasekit.fluctuations`); NaN entries are ignored, rows with < 3 replicas are NaN."""
    chi, _, chi_se, k = _moment_jackknife(m, (1, 2), lambda mo, _n: n * (mo[1] - mo[0] ** 2))
    binder, _, u_se, _ = _moment_jackknife(m, (2, 4), lambda mo, _n: 1.0 - mo[1] / (3.0 * mo[0] ** 2))
    few = k < 3
    for arr in (chi, binder, chi_se, u_se):
        arr[few] = np.nan
    return {"chi": chi, "chi_se": chi_se, "binder": binder, "binder_se": u_se, "n_replicas": k}


def _bimodality(x: np.ndarray, max_valley: float = 0.5, min_mass: float = 0.05) -> dict[str, float | bool]:
    """Whether the values ``x`` have two well-separated modes.

    A Gaussian kernel density estimate with Silverman's bandwidth
    h = 1.06 σ n^(−1/5) (σ the overall standard deviation, which over-smooths a bimodal
    sample, so spurious noise modes are suppressed; h is at least the smallest gap
    between distinct values, so lattice-valued order parameters do not make spikes) is
    evaluated on a fine grid. Bimodal = its two highest modes are separated by a valley
    lower than ``max_valley`` (½) times the lower mode, and each side of the valley holds
    at least ``min_mass`` of the sample. ``valley_ratio`` (valley / lower mode; 1 for a
    unimodal sample) is the strength: it falls towards 0 as the two phases separate.
    (Silverman 1981; a broad or flat critical distribution keeps a ratio near 1.)
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    out: dict[str, float | bool] = {"bimodal": False, "valley_ratio": np.nan}
    n = x.size
    sd = float(np.std(x)) if n else 0.0
    if n < 20 or sd <= 0:
        return out
    distinct = np.unique(x)
    gap = float(np.diff(distinct).min()) if distinct.size > 1 else 0.0
    h = 1.06 * sd * n ** (-0.2)
    if distinct.size >= 10:          # lattice-valued data: no kernel narrower than the lattice
        h = max(h, gap)
    grid = np.linspace(x.min() - 2 * h, x.max() + 2 * h, 512)
    dens = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / h) ** 2).sum(axis=1)
    peaks = np.flatnonzero((dens[1:-1] > dens[:-2]) & (dens[1:-1] >= dens[2:])) + 1
    out["valley_ratio"] = 1.0
    if peaks.size < 2:
        return out
    best_ratio = 1.0
    for i in range(peaks.size - 1):          # every valley between neighbouring modes
        a, b = peaks[i], peaks[i + 1]
        lo = a + int(np.argmin(dens[a : b + 1]))
        frac = float((x < grid[lo]).mean())
        if min(frac, 1.0 - frac) < min_mass:  # a few outliers are not a second phase
            continue
        ratio = float(dens[lo] / min(dens[peaks[: i + 1]].max(), dens[peaks[i + 1 :]].max()))
        best_ratio = min(best_ratio, ratio)
    out["valley_ratio"] = best_ratio
    out["bimodal"] = bool(best_ratio < max_valley)
    return out


def _as_size_mapping(m_by_size: Any, replica: Hashable) -> dict[Any, xr.DataArray]:
    if isinstance(m_by_size, Mapping):
        items = dict(m_by_size)
    elif isinstance(m_by_size, xr.DataArray):
        if "size" not in m_by_size.dims:
            items = {m_by_size.attrs.get("size", 0): m_by_size}
        else:
            items = {}
            for s in m_by_size["size"].values:
                da = m_by_size.sel(size=s)
                if "N" in da.coords:
                    da = da.assign_attrs(N=float(da["N"].values))
                items[s.item() if hasattr(s, "item") else s] = da
    else:
        raise SchemaError(f"m_by_size must be a mapping {{size: DataArray}} or a DataArray, got "
                          f"{type(m_by_size).__name__}", where="classify_transition",
                          fix="pass {L: magnetization(ds_L, system='position')} for each size L")
    if not items:
        raise SchemaError("m_by_size is empty", where="classify_transition",
                          fix="pass the order parameter for at least one size")
    for s, da in items.items():
        if not isinstance(da, xr.DataArray):
            raise SchemaError(f"the value for size {s!r} is a {type(da).__name__}, not a DataArray",
                              where="classify_transition(m_by_size=...)",
                              fix="pass per-configuration order parameters as DataArrays")
        require_dims(da, (replica,), argument="replica")
    return items


def _control_values(da: xr.DataArray, ctrl: Hashable) -> np.ndarray:
    """Numeric control values: the ``ctrl`` coordinate, else a numeric ``step`` coordinate
    along it (checkpoint labels), else positions."""
    for name in (ctrl, "step"):
        if name in da.coords and da[name].dims == (ctrl,):
            vals = np.asarray(da[name].values)
            if np.issubdtype(vals.dtype, np.number):
                return vals.astype(float)
    return np.arange(da.sizes[ctrl], dtype=float)


def _n_of(size: Any, da: xr.DataArray, n_by_size: Any, dimension: float | None) -> float:
    if n_by_size is not None:
        if isinstance(n_by_size, Mapping):
            if size not in n_by_size:
                raise SchemaError(f"n_by_size has no entry for size {size!r}",
                                  where=f"n_by_size keys: {list(n_by_size)}",
                                  fix="give N (spins per configuration) for every size")
            return float(n_by_size[size])
        return float(n_by_size)
    n = da.attrs.get("N")
    if n is not None:
        try:
            val = float(np.asarray(n, dtype=float).reshape(-1)[0]) if np.size(n) == 1 else None
        except (TypeError, ValueError):
            val = None
        if val is not None and val > 0:
            return val
    if dimension is not None and isinstance(size, int | float | np.integer | np.floating):
        return float(size) ** float(dimension)
    raise SchemaError(
        f"the configuration size N for size {size!r} is unknown",
        where="classify_transition: attrs['N'] missing or not a single positive number",
        fix="pass n_by_size={size: N, ...} (N = L**2 for a 2D lattice) or dimension=d",
    )


def _wls_line(x: np.ndarray, y: np.ndarray, se: np.ndarray) -> dict[str, float]:
    """Weighted fits of y = a + b·x (transition) and y = a (crossover) with known errors.

    Parameters from ``statsmodels`` WLS with weights 1/σ²; standard errors with the
    known scale (``cov_type="fixed scale"``), inflated by √(χ²/dof) when the residuals
    are larger than the errors (Birge ratio). AIC = χ² + 2k (Gaussian likelihood with
    known variances, constants dropped).
    """
    import statsmodels.api as sm

    w = 1.0 / se**2
    out: dict[str, float] = {}
    if x.size >= 2 and np.ptp(x) > 0:
        fit = sm.WLS(y, sm.add_constant(x), weights=w).fit(cov_type="fixed scale")
        resid = y - fit.fittedvalues
        chi2 = float((w * resid**2).sum())
        dof = x.size - 2
        inflate = math.sqrt(chi2 / dof) if dof > 0 and chi2 > dof else 1.0
        out.update(intercept=float(fit.params[0]), slope=float(fit.params[1]),
                   slope_stderr=float(fit.bse[1]) * inflate, chi2_transition=chi2,
                   aic_transition=chi2 + 4.0)
    else:
        out.update(intercept=np.nan, slope=np.nan, slope_stderr=np.nan, chi2_transition=np.nan,
                   aic_transition=np.nan)
    fit0 = sm.WLS(y, np.ones_like(y), weights=w).fit(cov_type="fixed scale")
    chi2_0 = float((w * (y - fit0.fittedvalues) ** 2).sum())
    out.update(level=float(fit0.params[0]), chi2_crossover=chi2_0, aic_crossover=chi2_0 + 2.0)
    out["delta_aic"] = out["aic_crossover"] - out["aic_transition"]
    return out


def _binder_crossings(curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[dict[str, Any]]:
    """Significant crossings of Binder curves of consecutive sizes (ordered by N).

    For sizes a < b, U_b − U_a is interpolated onto the union of both control grids (in
    their common range); a crossing needs a difference above +2σ on one side and below
    −2σ on the other; its location is the zero of the linear interpolation between the
    nearest such opposite-signed points.
    """
    found = []
    for (ca, ua, sa), (cb, ub, sb) in zip(curves[:-1], curves[1:], strict=True):
        lo, hi = max(ca.min(), cb.min()), min(ca.max(), cb.max())
        grid = np.union1d(ca, cb)
        grid = grid[(grid >= lo) & (grid <= hi)]
        if grid.size < 2:
            found.append({"crossing": False, "location": np.nan})
            continue

        def interp(c, v, g):
            ok = np.isfinite(v)
            return np.interp(g, c[ok], v[ok]) if ok.sum() >= 2 else np.full(g.shape, np.nan)

        diff = interp(cb, ub, grid) - interp(ca, ua, grid)
        sig = np.sqrt(interp(ca, sa, grid) ** 2 + interp(cb, sb, grid) ** 2)
        pos = np.flatnonzero(diff > 2 * sig)
        neg = np.flatnonzero(diff < -2 * sig)
        if pos.size == 0 or neg.size == 0:
            found.append({"crossing": False, "location": np.nan})
            continue
        pairs = [(i, j) for i in pos for j in neg]
        i, j = min(pairs, key=lambda t: abs(t[0] - t[1]))
        a, b = sorted((i, j))
        seg = diff[a : b + 1]
        k = int(np.flatnonzero(np.sign(seg[:-1]) != np.sign(seg[1:]))[0]) if (
            np.sign(seg[:-1]) != np.sign(seg[1:])).any() else 0
        g0, g1, d0, d1 = grid[a + k], grid[a + k + 1], seg[k], seg[k + 1]
        loc = g0 - d0 * (g1 - g0) / (d1 - d0) if d1 != d0 else 0.5 * (g0 + g1)
        found.append({"crossing": True, "location": float(loc)})
    return found


def _size_row(size: Any, n: float, cvals: np.ndarray, m: np.ndarray) -> tuple[dict[str, Any], tuple]:
    """Per-size evidence: χ maximum, Binder minimum, bimodality near both (see
    :func:`classify_transition`), and the Binder curve (N, control, U, σ_U)."""
    fl = _jackknife_fluctuations(m, n)
    if not np.isfinite(fl["chi"]).any():
        raise SchemaError(f"size {size!r} has fewer than 3 replicas at every control value",
                          where="classify_transition", fix="give more replicas (samples)")
    i_chi = int(np.nanargmax(fl["chi"]))
    i_u = int(np.nanargmin(fl["binder"]))
    interior = 0 < i_chi < m.shape[0] - 1
    bm: dict[str, Any] = {"bimodal": False, "valley_ratio": np.nan}
    at = np.nan
    for i in sorted({max(i_chi - 1, 0), i_chi, min(i_chi + 1, m.shape[0] - 1), i_u}):
        b = _bimodality(m[i])
        better = (b["bimodal"] and not bm["bimodal"]) or (
            b["bimodal"] == bm["bimodal"] and np.nan_to_num(b["valley_ratio"], nan=2.0)
            < np.nan_to_num(bm["valley_ratio"], nan=2.0))
        if better:
            bm, at = b, cvals[i]
    row = {
        "size": size, "N": n, "chi_max": fl["chi"][i_chi], "chi_max_stderr": fl["chi_se"][i_chi],
        "chi_argmax": cvals[i_chi], "chi_interior": interior,
        "binder_min": fl["binder"][i_u], "binder_min_stderr": fl["binder_se"][i_u],
        "binder_argmin": cvals[i_u], "bimodal": bool(bm["bimodal"]),
        "valley_ratio": float(bm["valley_ratio"]), "bimodality_at": at,
        "n_replicas": float(np.nanmax(fl["n_replicas"])),
    }
    return row, (n, cvals, fl["binder"], fl["binder_se"])


def _growth_fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """WLS of log χ_max on log N (transition) against a constant (crossover)."""
    n_arr = np.array([r["N"] for r in rows])
    chi = np.maximum(np.array([r["chi_max"] for r in rows]), 1e-12)  # no fluctuation: tiny constant
    chi_se = np.array([r["chi_max_stderr"] for r in rows])
    y_se = np.where(np.isfinite(chi_se) & (chi_se > 0), chi_se / chi, np.nan)
    fallback = np.nanmedian(y_se) if np.isfinite(y_se).any() else 0.05
    y_se = np.where(np.isfinite(y_se), np.maximum(y_se, 1e-3), max(fallback, 1e-3))
    if len(rows) >= 2:
        return _wls_line(np.log(n_arr), np.log(chi), y_se)
    return {"slope": np.nan, "slope_stderr": np.nan, "intercept": np.nan, "aic_transition": np.nan,
            "aic_crossover": np.nan, "delta_aic": np.nan, "chi2_transition": np.nan,
            "chi2_crossover": np.nan, "level": np.nan}


def _decide(layout: list[tuple[Any, float, np.ndarray, np.ndarray]], dimension: float | None,
            min_exponent: float) -> dict[str, Any]:
    """The rules of :func:`classify_transition` on per-size order parameters sorted by N:
    kind, rule-level conclusiveness, reason and every number they used."""
    pairs = [_size_row(size, n, c, m) for size, n, c, m in layout]
    rows, curves = [p[0] for p in pairs], [p[1] for p in pairs]
    sizes = [r["size"] for r in rows]
    n_arr = np.array([r["N"] for r in rows])
    umin = np.array([r["binder_min"] for r in rows])
    umin_se = np.array([r["binder_min_stderr"] for r in rows])
    fit = _growth_fit(rows)
    x = fit["slope"]
    numeric = all(isinstance(s, int | float | np.integer | np.floating) for s in sizes)
    d = dimension
    if d is None and numeric and len(rows) >= 2 and np.ptp(np.log(np.asarray(sizes, float))) > 0:
        d = float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(n_arr), 1)[0])
    crossings = _binder_crossings([(c, u, s) for _, c, u, s in curves]) if len(curves) >= 2 else []
    flags = {
        "any_cross": any(cr["crossing"] for cr in crossings),
        "dip_last": bool(umin[-1] < -0.05 and umin[-1] + 2 * umin_se[-1] < 0),
        "deepening": bool(len(rows) >= 2 and umin[-1] < umin[0] - 2 * math.hypot(umin_se[0], umin_se[-1])),
        "bimodal_last": bool(rows[-1]["bimodal"]),
        "growth": bool(len(rows) >= 2 and fit["delta_aic"] > 2 and x > min_exponent),
    }
    flags["signature"] = flags["bimodal_last"] or (flags["dip_last"] and (flags["deepening"] or len(rows) == 1))
    kind, conclusive, reason = _rule(rows, fit, flags, crossings, d, min_exponent)
    edge = [r["size"] for r in rows if not r["chi_interior"]]
    if edge and len(rows) >= 2:
        conclusive = False
        reason += (f"; the chi maximum lies at the edge of the control grid for size(s) {edge}: "
                   "the peak is not resolved, widen the grid there")
    return {"kind": kind, "conclusive": bool(conclusive), "reason": reason, "rows": rows, "fit": fit,
            "flags": flags, "crossings": crossings, "d": d,
            "gamma_over_nu": x * d if d is not None else np.nan}


def _rule(rows: list[dict[str, Any]], fit: dict[str, float], flags: dict[str, bool],
          crossings: list[dict[str, Any]], d: float | None, min_exponent: float) -> tuple[str, bool, str]:
    """(kind, conclusive by the rules, reason) from the flags; see :func:`classify_transition`."""
    x, sx = fit["slope"], fit["slope_stderr"]
    umin = [r["binder_min"] for r in rows]
    signature, bimodal_last, dip_last = flags["signature"], flags["bimodal_last"], flags["dip_last"]
    if len(rows) == 1:
        if signature:
            kind = "first_order"
            why = "it shows a first-order signature (" + ("bimodal m" if bimodal_last else
                                                           f"Binder dip U_min = {umin[0]:.3g}") + ")"
        elif rows[0]["chi_interior"]:
            kind, why = "continuous", "chi has a maximum inside the control range and no bimodality"
        else:
            kind, why = "crossover", "chi has no maximum inside the control range"
        return kind, False, (
            f"only one size (N = {rows[0]['N']:g}): whether chi_max grows with size, whether Binder "
            f"curves cross and whether a dip deepens cannot be judged; best guess {kind} because "
            f"{why}. A sharp crossover and a transition look alike at one size.")
    if not flags["growth"]:
        conclusive = not signature and fit["delta_aic"] <= 2
        reason = (f"chi_max does not grow with size: log chi_max vs log N slope x = {x:.3g} ± {sx:.2g}, "
                  f"AIC(crossover) - AIC(transition) = {fit['delta_aic']:.3g} (growth needs > 2 and "
                  f"x > {min_exponent})")
        if signature:
            reason += "; but a first-order signature (bimodality / Binder dip) is present: inconclusive"
        elif not conclusive:
            reason += "; the growth is too slow for any known critical point"
        return "crossover", bool(conclusive), reason
    if signature:
        near_one = x >= 1.0 - max(2 * sx, 0.25)
        conclusive = bool(near_one or (bimodal_last and dip_last and flags["deepening"]))
        parts = []
        if bimodal_last:
            parts.append(f"bimodal m at the largest size (valley/peak = {rows[-1]['valley_ratio']:.2g})")
        if dip_last:
            parts.append(f"Binder minimum {umin[-1]:.3g} ± {rows[-1]['binder_min_stderr']:.2g} at the "
                         "largest size" + (f", deepening from {umin[0]:.3g}" if flags["deepening"] else ""))
        reason = (f"first-order: {'; '.join(parts)}; chi_max ~ N^x with x = {x:.3g} ± {sx:.2g}"
                  f" (first-order: 1, faster at small sizes), delta AIC = {fit['delta_aic']:.3g}")
        if not near_one:
            reason += "; chi_max grows slower than N so far (sizes below the correlation length?)"
        return "first_order", conclusive, reason
    cross = [cr["location"] for cr in crossings if cr["crossing"]]
    reason = (f"continuous: chi_max grows as N^x with x = {x:.3g} ± {sx:.2g}"
              + (f" (gamma/nu = {x * d:.3g} for d = {d:.3g})" if d is not None else "")
              + f", delta AIC = {fit['delta_aic']:.3g}; no bimodality, no deepening Binder dip"
              + ("; Binder curves cross at " + ", ".join(f"{c:.4g}" for c in cross) if cross else
                 "; no significant Binder crossing"))
    return "continuous", bool(x + 2 * sx < 1.0 or cross), reason


#: the order of the classes in confusion matrices (rows: simulated class, columns: claim)
_KINDS = ("first_order", "continuous", "crossover")
#: range of chi_max growth exponents x = gamma/(nu d) of the continuous model: the known 2D and
#: 3D critical points lie in it (3D Ising 0.66, 2D Ising / Potts q = 3, 4 near 0.87)
_CONTINUOUS_X = (0.375, 0.875)
#: at most this many simulated order-parameter values per calibration (the number of
#: simulations per class is lowered to fit, never below 20; recorded as calibration_n_sim)
_CALIBRATION_BUDGET = 20_000_000


def _across_sizes(layout: list[tuple[Any, float, np.ndarray, np.ndarray]], values: list[np.ndarray],
                  i: int) -> np.ndarray:
    """Median over sizes of per-size curves, interpolated onto the control grid of size i."""
    grid = layout[i][2]
    out = []
    for (_, _, c, _), v in zip(layout, values, strict=True):
        ok = np.isfinite(v)
        if ok.sum() >= 1:
            order = np.argsort(c[ok])
            out.append(np.interp(grid, c[ok][order], v[ok][order]))
    return np.nanmedian(np.stack(out), axis=0)


def _class_models(layout: list[tuple[Any, float, np.ndarray, np.ndarray]], x_obs: float) -> dict[str, list]:
    """The member of each class closest to the data, as plain per-size parameters.

    All three keep each size's measured mean curve ⟨m⟩(c) and replica layout:

    * ``crossover``: Gaussian m with N·var(m) = χ(c) the same at every size (the median over
      sizes of the measured χ(c)): no growth.
    * ``continuous``: Gaussian (unimodal) m with χ_L(c) = A(c) N^x, x the measured growth
      exponent clipped to ``_CONTINUOUS_X``, A(c) the median over sizes of χ_L(c)/N^x.
    * ``first_order``: two coexisting phases at the size's 5th and 95th percentiles of m, in
      proportion w(c) that reproduces ⟨m⟩(c), each with N·var = the smallest crossover χ:
      χ = N w(1−w)Δm² + const grows like N (Challa, Landau & Binder 1986).
    """
    means = [np.nanmean(m, axis=1) for _, _, _, m in layout]
    with np.errstate(invalid="ignore"):
        chis = [n * np.nanvar(m, axis=1) for _, n, _, m in layout]
    x = float(np.clip(x_obs if np.isfinite(x_obs) else _CONTINUOUS_X[1], *_CONTINUOUS_X))
    scaled = [chi / n**x for chi, (_, n, _, _) in zip(chis, layout, strict=True)]
    models: dict[str, list] = {k: [] for k in _KINDS}
    for i, (_, n, _, m) in enumerate(layout):
        mu = np.where(np.isfinite(means[i]), means[i], np.nanmean(means[i]))
        chi_c = np.maximum(np.nan_to_num(_across_sizes(layout, chis, i), nan=0.0), 1e-12)
        chi_x = np.maximum(np.nan_to_num(_across_sizes(layout, scaled, i), nan=0.0), 1e-12) * n**x
        lo, hi = np.nanpercentile(m, [5, 95])
        hi = max(hi, lo + 1e-9)
        models["crossover"].append({"mu": mu, "sd": np.sqrt(chi_c / n)})
        models["continuous"].append({"mu": mu, "sd": np.sqrt(chi_x / n), "x": x})
        models["first_order"].append({"lo": float(lo), "hi": float(hi), "w": np.clip((mu - lo) / (hi - lo), 0, 1),
                                      "sd": float(np.sqrt(chi_c.min() / n))})
    return models


def _simulate(kind: str, params: list[dict[str, Any]], layout: list, rng: np.random.Generator,
              factor: int) -> list[tuple[Any, float, np.ndarray, np.ndarray]]:
    """One dataset of the class model with the data's layout; ``factor`` times the replicas
    (factor 1 keeps the data's missing-value pattern)."""
    out = []
    for p, (size, n, c, m) in zip(params, layout, strict=True):
        shape = (m.shape[0], m.shape[1] * factor)
        z = rng.standard_normal(shape)
        if kind == "first_order":
            ordered = rng.random(shape) < p["w"][:, None]
            sim = np.where(ordered, p["hi"], p["lo"]) + p["sd"] * z
        else:
            sim = p["mu"][:, None] + p["sd"][:, None] * z
        if factor == 1:
            sim[~np.isfinite(m)] = np.nan
        out.append((size, n, c, sim))
    return out


def _claims(models: dict[str, list], layout: list, rng: np.random.Generator, n_sim: int,
            factor: int, dimension: float | None, min_exponent: float,
            classes: tuple[str, ...] = _KINDS) -> np.ndarray:
    """Confusion matrix (3 × 3, order ``_KINDS``): the share of ``n_sim`` simulations of each
    class model (rows; NaN for classes not simulated) in which the rules *claim* each kind
    conclusively (columns)."""
    out = np.full((3, 3), np.nan)
    for a, truth in enumerate(_KINDS):
        if truth not in classes:
            continue
        out[a] = 0.0
        for _ in range(n_sim):
            try:
                dec = _decide(_simulate(truth, models[truth], layout, rng, factor), dimension, min_exponent)
            except SchemaError:
                continue
            if dec["conclusive"]:
                out[a, _KINDS.index(dec["kind"])] += 1
    return out / n_sim


def _calibrate(kind: str, layout: list, dec: dict[str, Any], n_sim: int, rng: np.random.Generator,
               dimension: float | None, min_exponent: float) -> dict[str, Any]:
    """Error rate of a conclusive ``kind``: the largest share, over the other two classes'
    closest models (:func:`_class_models`) simulated with this layout, of simulations in
    which the rules claim ``kind`` conclusively (a parametric bootstrap of the decision)."""
    models = _class_models(layout, dec["fit"]["slope"])
    per = sum(m.size for _, _, _, m in layout)
    n_sim = int(min(n_sim, max(20, _CALIBRATION_BUDGET // (2 * per))))  # cost bound
    others = tuple(k for k in _KINDS if k != kind)
    claims = _claims(models, layout, rng, n_sim, 1, dimension, min_exponent, others)
    col = _KINDS.index(kind)
    err = max(claims[a, col] for a in range(3) if a != col)
    return {"error_rate": float(err), "claims": claims, "n_sim": n_sim, "models": models}


def _replicas_to_settle(models: dict[str, list], layout: list, rng: np.random.Generator,
                        dimension: float | None, min_exponent: float, error_rate: float,
                        n_scan: int, factors: tuple[int, ...] = (2, 4, 8, 16, 32),
                        budget: float = 3e6) -> dict[str, Any]:
    """Smallest replica multiplier at which the three class models are told apart: no class
    is claimed conclusively for another's in more than ``error_rate`` of the simulations, and
    each is claimed conclusively as itself in at least half of them. Simulation cost is
    bounded by ``budget`` simulated values in total."""
    per = sum(m.size for _, _, _, m in layout)
    spent = 0.0
    for f in factors:
        cost = 3.0 * n_scan * per * f
        if spent + cost > budget:
            break
        spent += cost
        claims = _claims(models, layout, rng, n_scan, f, dimension, min_exponent)
        off = claims - np.diag(np.diag(claims))
        if np.all(np.diag(claims) >= 0.5) and off.max() <= error_rate:
            reps = np.array([m.shape[1] * f for _, _, _, m in layout], dtype=float)
            return {"factor": float(f), "replicas": reps,
                    "text": (f"About {f} times the replicas ({reps.astype(int).tolist()} per control "
                             "point, by size) would settle it with these sizes and control grids.")}
    return {"factor": np.nan, "replicas": np.array([], dtype=float),
            "text": (f"Up to {f} times the replicas do not separate the classes within the simulation "
                     "budget at these sizes: add larger sizes (the classes differ in how chi_max "
                     "grows with N) and more replicas.")}


def _transition_result(kind: str, conclusive: bool, reason: str, dec: dict[str, Any],
                       cal: dict[str, Any], settle: dict[str, Any], error_rate: float, seed: Any,
                       min_exponent: float) -> TransitionClass:
    rows, fit, flags = dec["rows"], dec["fit"], dec["flags"]
    per = {k: ("size", np.array([r[k] for r in rows])) for k in rows[0] if k != "size"}
    ev = xr.Dataset(per, coords={"size": ("size", np.asarray([r["size"] for r in rows]))})
    d = dec["d"]
    ev.attrs = provenance(
        estimator="transition order from finite-size scaling of chi_max, Binder cumulant and bimodality",
        exponent_N=fit["slope"], exponent_N_stderr=fit["slope_stderr"], exponent_L=dec["gamma_over_nu"],
        dimension=d if d is not None else np.nan,
        intercept=fit["intercept"], aic_transition=fit["aic_transition"],
        aic_crossover=fit["aic_crossover"], delta_aic=fit["delta_aic"],
        chi2_transition=fit["chi2_transition"], chi2_crossover=fit["chi2_crossover"],
        growth=flags["growth"], first_order_signature=flags["signature"], binder_dip=flags["dip_last"],
        binder_dip_deepens=flags["deepening"], bimodal_largest=flags["bimodal_last"],
        binder_crossing=flags["any_cross"],
        binder_crossing_locations=np.array([cr["location"] for cr in dec["crossings"] if cr["crossing"]],
                                           dtype=float),
        min_exponent=min_exponent,
        error_method="delete-one jackknife over replicas; slope error with known scale (Birge-inflated)",
        chi_definition="N * (<m^2> - <m>^2) (not divided by the control value)",
        kind=kind, conclusive=conclusive, rule_conclusive=dec["conclusive"],
        error_rate_target=float(error_rate), error_rate=cal["error_rate"],
        calibration="parametric simulation of the closest first-order / continuous / crossover models "
                    "with this layout (sizes, control grids, replicas); error_rate = largest share of "
                    "another class's simulations claiming this kind conclusively",
        calibration_n_sim=cal["n_sim"], calibration_classes=",".join(_KINDS),
        calibration_claims=np.asarray(cal["claims"], dtype=float).ravel(),
        calibration_seed=seed if isinstance(seed, int | np.integer) else str(type(seed).__name__),
        replicas_factor_to_settle=settle["factor"], replicas_to_settle=settle["replicas"],
    )
    return TransitionClass(kind=kind, conclusive=bool(conclusive), reason=reason, evidence=ev,
                           error_rate=cal["error_rate"], error_rate_target=float(error_rate),
                           to_settle=settle["text"])


def classify_transition(
    m_by_size: Mapping[Any, xr.DataArray] | xr.DataArray,
    replica: Hashable = "sample",
    control: Hashable | None = None,
    *,
    n_by_size: Mapping[Any, float] | float | None = None,
    dimension: float | None = None,
    min_exponent: float = MIN_GROWTH_EXPONENT,
    error_rate: float = 0.05,
    n_calibration: int = 100,
    seed: int | np.random.Generator | None = 0,
) -> TransitionClass:
    r"""First-order, continuous or crossover, from the order parameter at several sizes.

    For each size, from the per-configuration order parameter :math:`m` (dims
    ``control`` × ``replica``):

    * susceptibility :math:`\chi = N(\langle m^2\rangle - \langle m\rangle^2)` along the
      control axis, its maximum :math:`\chi_{\max}` and location (jackknife errors over
      replicas);
    * Binder cumulant :math:`U = 1 - \langle m^4\rangle / (3\langle m^2\rangle^2)`, its
      minimum;
    * bimodality of :math:`m` across replicas at the transition (the control points at
      and next to :math:`\chi_{\max}` and to the Binder minimum): two modes of a kernel
      density estimate separated by a valley below half the lower mode;

    and across sizes the weighted fit :math:`\log\chi_{\max} = a + x \log N` (statsmodels
    WLS) against the constant :math:`\log\chi_{\max} = a`, compared by AIC. With
    :math:`N = L^d`, :math:`x = \gamma/(\nu d)` at a continuous transition and
    :math:`x = 1` at a first-order one (Challa, Landau & Binder 1986).

    Rules, applied in order:

    1. **growth**: the transition model is preferred (ΔAIC = AIC_crossover −
       AIC_transition > 2) *and* :math:`x >` ``min_exponent`` (0.25: every known
       critical point has :math:`(2-\eta)/d \ge 0.375` for :math:`d \le 4`). No growth
       → ``"crossover"`` (χ_max does not grow with size: a smooth change).
    2. **first-order signature**: bimodal :math:`m` at the largest size, or a Binder
       minimum significantly below zero (:math:`U_{\min} < -0.05` and
       :math:`U_{\min} + 2\sigma < 0`) at the largest size that deepens with size
       (lower than at the smallest size by more than 2σ). Growth with the signature →
       ``"first_order"`` (conclusive when :math:`x \ge 1 - \max(2\sigma_x, 0.25)`:
       growth at least like N, which no continuous transition has since
       :math:`\gamma/\nu \le d` (small sizes below the correlation length often grow
       faster than N); or when both dip and bimodality are seen).
    3. Growth without it → ``"continuous"`` (conclusive when :math:`x + 2\sigma_x < 1`
       or the Binder curves of successive sizes cross).

    Whatever the kind, the answer is not conclusive when the χ maximum of some size lies
    at the edge of its control grid (the peak is not resolved).

    **Calibration (the stated error rate).** With two sizes or more, a conclusive answer
    must also hold at the stated ``error_rate`` (default 0.05) for *this* layout: the
    member of each other class closest to the data (same mean curves and replica pattern;
    crossover = χ(c) equal at every size, continuous = unimodal with χ ∝ N^x,
    x in [0.375, 0.875], first-order = two coexisting phases reproducing ⟨m⟩(c)) is
    simulated ``n_calibration`` times with the same sizes, control grids and replica
    counts, and the rules run on each simulation. The error rate of the answer is the
    largest share of another class's simulations in which the rules claim the answer
    conclusively; above ``error_rate`` the answer is not conclusive (a parametric
    bootstrap of the decision; Efron & Tibshirani 1993, ch. 6). The replica count that
    would settle it (the smallest multiple, up to 32, at which no class is confidently
    mistaken for another and each is recognised in half the simulations) is then searched
    by the same simulation and reported in ``to_settle`` (or: add sizes). The simulation is
    seeded (``seed=0`` by default, recorded; ``seed=None`` for fresh randomness) and
    cost-bounded (at most 2·10⁷ simulated values for the calibration, 3·10⁶ for the
    search). The models are the closest members of each class, not the worst case; the
    calibration is validated on Potts q = 2, q = 10 and biased spins at 4–100 replicas
    (``tests/test_validation_transition_order.py``).

    With one size nothing about growth can be said: ``kind`` is the best guess
    (first-order when that size shows the signature; else continuous when χ has an
    interior maximum, crossover otherwise) and ``conclusive`` is ``False``.

    Parameters
    ----------
    m_by_size : {size: DataArray} or a DataArray with a ``size`` dim (then a coord ``N``
        along ``size`` may give N). Each holds one order-parameter value per
        configuration, dims ``control`` and ``replica``; sizes may have different control
        grids and replica counts.
    replica : the dim over which fluctuations are taken.
    control : the control dim (default: the one dim besides ``replica``).
    n_by_size : N (spins per configuration) per size, or one number; default
        ``attrs["N"]`` of each DataArray, else ``size ** dimension``.
    dimension : d, used for N when no N is given and to report γ/ν = x·d (default: the
        slope of log N against log size when sizes are numbers).
    min_exponent : the smallest growth exponent in N read as growth.
    error_rate : the stated error rate of a conclusive answer (see Calibration).
    n_calibration : simulations per alternative class (0: no calibration; then
        ``conclusive`` is the rules' alone, recorded as ``error_rate = NaN``).
    seed : seed or Generator of the calibration simulations (default 0: deterministic).

    References
    ----------
    K. Binder, Z. Phys. B 43, 119 (1981); M. S. S. Challa, D. P. Landau, K. Binder,
    Phys. Rev. B 34, 1841 (1986); J. Lee, J. M. Kosterlitz, Phys. Rev. B 43, 3265 (1991);
    B. W. Silverman, J. R. Stat. Soc. B 43, 97 (1981).
    """
    items = _as_size_mapping(m_by_size, replica)
    layout = []
    for size, da in items.items():
        ctrl = control
        if ctrl is None:
            rest = [d for d in da.dims if d != replica]
            if len(rest) != 1:
                raise SchemaError(f"cannot tell the control dim of size {size!r} from dims {list(da.dims)}",
                                  where="classify_transition", fix="pass control=<dim name>")
            ctrl = rest[0]
        require_dims(da, (ctrl,), argument="control")
        extra = [d for d in da.dims if d not in (ctrl, replica)]
        if extra:
            raise SchemaError(f"size {size!r} has extra dims {extra}", where="classify_transition",
                              fix="select or average them first (one control and one replica dim)")
        n = _n_of(size, da, n_by_size, dimension)
        m = np.asarray(da.transpose(ctrl, replica).values, dtype=float)
        layout.append((size, n, _control_values(da, ctrl), m))
    layout.sort(key=lambda t: t[1])
    n_arr = np.array([t[1] for t in layout])
    if len(layout) >= 2 and len(set(n_arr)) < 2:
        raise SchemaError("all sizes have the same N", where=f"N = {n_arr.tolist()}",
                          fix="pass the right n_by_size (configuration size per system size)")
    if not 0 < float(error_rate) < 1:
        raise SchemaError(f"error_rate={error_rate} is not a probability", where="error_rate",
                          fix="pass e.g. error_rate=0.05")
    dec = _decide(layout, dimension, min_exponent)
    kind, conclusive, reason = dec["kind"], dec["conclusive"], dec["reason"]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    cal: dict[str, Any] = {"error_rate": np.nan, "claims": np.full((3, 3), np.nan), "n_sim": 0,
                           "models": {}}
    settle: dict[str, Any] = {"factor": np.nan, "replicas": np.array([], dtype=float), "text": ""}
    if len(layout) >= 2 and int(n_calibration) > 0:
        cal = _calibrate(kind, layout, dec, int(n_calibration), rng, dimension, min_exponent)
        if conclusive and not cal["error_rate"] <= error_rate:
            conclusive = False
        if conclusive:
            reason += (f"; conclusive at the stated error rate {error_rate:g}: the closest "
                       f"alternative models claim '{kind}' in {cal['error_rate']:.3g} of "
                       f"{cal['n_sim']} simulations of this layout")
        else:
            settle = _replicas_to_settle(cal["models"], layout, rng, dimension, min_exponent,
                                         error_rate, n_scan=max(20, int(n_calibration) // 3))
            if cal["error_rate"] <= error_rate:
                reason += (f"; not conclusive by the rules above (calibrated error rate "
                           f"{cal['error_rate']:.3g} of {cal['n_sim']} simulations, stated "
                           f"{error_rate:g}). " + settle["text"])
            else:
                reason += (f"; NOT conclusive at the stated error rate {error_rate:g}: the closest "
                           f"alternative models claim '{kind}' in {cal['error_rate']:.3g} of "
                           f"{cal['n_sim']} simulations of this layout. " + settle["text"])
    elif len(layout) == 1:
        settle["text"] = ("Measure the same order parameter at two or more further sizes: growth of "
                          "chi_max with N is what separates the classes.")
    return _transition_result(kind, conclusive, reason, dec, cal, settle, error_rate, seed,
                              min_exponent)
