r"""Seed attribution: which reference-checkpoint prompt distribution each checkpoint's
behaviour collapsed onto (Samanta, Holtzman & West 2026, arXiv 2606.29933).

For checkpoint :math:`c` and prompt :math:`i` with empirical answer distribution
:math:`\hat p_{ci}` and reference distributions :math:`\hat r_j` (prompt :math:`j` at the
reference checkpoint(s)), the seed is :math:`\arg\min_j \mathrm{JS}(\hat p_{ci}, \hat r_j)`
and the support retention the share of :math:`\hat p_{ci}` on the seed's top-k support.
Divergences and redraws are those of :mod:`phasekit.distributions`; the seed of the
bootstrap follows :mod:`phasekit.resampling` (deterministic by default).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .._meta import (
    append_history,
    as_dims,
    provenance,
    renamed_keyword,
    require_dims,
    require_distinct,
)
from ..count import Counts
from ..distributions import js_divergence, multinomial_redraw, normalise
from ..errors import SchemaError
from ..resampling import DEFAULT_SEED, rng_for
from ._common import counts_of, dim_labels

if TYPE_CHECKING:
    from ..configurations import Ensemble

__all__ = ["seed_attribution"]

#: numbers held by one stacked block of bootstrap redraws (and by one block of the JS matrix)
_BLOCK_BUDGET = 1_000_000


# --------------------------------------------------------------------------- inputs
def _observed_dense(c: Counts) -> np.ndarray:
    """Dense counts (*grid, K) over the K states observed anywhere (a divergence between
    empirical distributions needs no q: states nobody produced contribute nothing)."""
    used = np.unique(c.states)
    dense = np.zeros((c.n_config, max(used.size, 1)))
    rows = np.repeat(np.arange(c.n_config), np.diff(c.indptr))
    dense[rows, np.searchsorted(used, c.states)] = c.counts
    return dense.reshape(*c.shape, dense.shape[-1])


def _reference_positions(tok: xr.DataArray, control: Hashable, reference: Any) -> list[int]:
    """Positions along ``control`` selected by ``reference``.

    An ``int`` is a position (negative counts from the end, as in ``.isel``); any other
    scalar is a label of the ``control`` coordinate; a list/tuple/array of either is pooled.
    """
    items = list(reference) if isinstance(reference, list | tuple | np.ndarray) else [reference]
    if not items:
        raise SchemaError("reference= selects no checkpoint", where="seed_attribution",
                          fix="pass a checkpoint label or integer position")
    n = tok.sizes[control]
    labels = dim_labels(tok, control)
    out = []
    for item in items:
        if isinstance(item, int | np.integer) and not isinstance(item, bool):
            if not -n <= int(item) < n:
                raise SchemaError(f"reference position {item} is outside the {n} entries of {control!r}",
                                  where="seed_attribution(reference=...)",
                                  fix=f"pass a position in [-{n}, {n - 1}] or a label of {control!r}")
            out.append(int(item) % n)
        else:
            hits = np.flatnonzero(labels == item)
            if hits.size == 0:
                raise SchemaError(f"reference label {item!r} is not on dim {control!r}",
                                  where=f"first labels: {list(labels[:5])}",
                                  fix="pass an existing label, or an int for a position")
            out.append(int(hits[0]))
    return sorted(set(out))


def _check_arguments(tok: xr.DataArray, control: Hashable, prompt: Hashable,
                     system: tuple[Hashable, ...], mass: float, top_k: int | None) -> None:
    require_dims(tok, (control,), argument="control")
    require_dims(tok, (prompt,), argument="prompt")
    require_dims(tok, system, argument="system")
    require_distinct(caller="seed_attribution", control=control, prompt=prompt, system=system)
    if not 0 < mass <= 1:
        raise SchemaError(f"mass must be in (0, 1], got {mass}", where="seed_attribution(mass=...)",
                          fix="pass e.g. mass=0.9")
    if top_k is not None and int(top_k) < 1:
        raise SchemaError(f"top_k must be >= 1, got {top_k}", where="seed_attribution(top_k=...)",
                          fix="pass a positive integer or None")


# --------------------------------------------------------------------------- the attribution
def _seed_support(ref_p: np.ndarray, mass: float, top_k: int | None) -> np.ndarray:
    """Boolean support mask (..., q) of each reference distribution.

    With ``top_k=None``, the smallest number k of most-probable states whose total
    probability reaches ``mass``; otherwise the ``top_k`` most probable states. States of
    zero probability are never part of a support.
    """
    q = ref_p.shape[-1]
    p = np.nan_to_num(ref_p, nan=0.0)
    order = np.argsort(-p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    if top_k is None:
        k = (np.cumsum(sorted_p, axis=-1) < mass - 1e-12).sum(axis=-1) + 1
    else:
        k = np.full(p.shape[:-1], int(top_k))
    k = np.minimum(k, (sorted_p > 0).sum(axis=-1))
    mask = np.zeros(p.shape, dtype=bool)
    np.put_along_axis(mask, order, np.arange(q) < k[..., None], axis=-1)
    return mask


def _gather_support(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """``mask[..., seed[..., c, i], :]``: the support (…, C, P, q) of each chosen seed;
    ``mask`` is (…, Pref, q), ``seed`` (…, C, P) with values in 0 … Pref−1."""
    lead = mask.shape[:-2]
    full = np.broadcast_to(mask[..., None, :, :], (*lead, seed.shape[-2], *mask.shape[-2:]))
    return np.take_along_axis(full, seed[..., None], axis=-2)


def _closest(div: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """argmin over the last axis (−1 where every entry is NaN) and the minimum."""
    ok = np.isfinite(div)
    any_ok = ok.any(axis=-1)
    index = np.where(any_ok, np.argmin(np.where(ok, div, np.inf), axis=-1), -1)
    value = np.take_along_axis(div, np.maximum(index, 0)[..., None], axis=-1)[..., 0]
    return index, np.where(any_ok, value, np.nan)


def _retention(p: np.ndarray, ref_p: np.ndarray, seed: np.ndarray, mass: float, top_k: int | None) -> np.ndarray:
    """Σ_{k ∈ S_seed} p_k: the share of each distribution on its seed's support."""
    seed_mask = _gather_support(_seed_support(ref_p, mass, top_k), np.maximum(seed, 0))
    return (np.nan_to_num(p) * seed_mask).sum(axis=-1)


def _js_matrix(p: np.ndarray, ref_p: np.ndarray) -> np.ndarray:
    """JS(p[..., c, i, :], ref_p[..., j, :]) for every (c, i, j): (..., C, P, Pref).

    The one broadcast formula of :func:`phasekit.distributions.js_divergence`, evaluated on
    consecutive blocks of C (elementwise, then a sum over each row's states: every entry is
    the same floating-point number as in one call), so that only one block's
    (…, c, P, Pref, K) temporaries are alive instead of the whole grid's.
    """
    lead, (n_c, n_p, k), n_ref = p.shape[:-3], p.shape[-3:], ref_p.shape[-2]
    out = np.empty((*lead, n_c, n_p, n_ref))
    step = max(1, _BLOCK_BUDGET // max(1, int(np.prod(lead, dtype=np.int64)) * n_p * n_ref * k))
    for a in range(0, n_c, step):
        b = min(n_c, a + step)
        out[..., a:b, :, :] = js_divergence(p[..., a:b, :, None, :], ref_p[..., None, None, :, :])
    return out


def _nearest_numpy(p: np.ndarray, ref_p: np.ndarray) -> np.ndarray:
    """``_closest(_js_matrix(p, ref_p))[0]`` one block of C at a time (never the whole matrix)."""
    lead, (n_c, n_p, k), n_ref = p.shape[:-3], p.shape[-3:], ref_p.shape[-2]
    out = np.empty((*lead, n_c, n_p), dtype=np.int64)
    step = max(1, _BLOCK_BUDGET // max(1, int(np.prod(lead, dtype=np.int64)) * n_p * n_ref * k))
    for a in range(0, n_c, step):
        b = min(n_c, a + step)
        out[..., a:b, :] = _closest(js_divergence(p[..., a:b, :, None, :], ref_p[..., None, None, :, :]))[0]
    return out


def _nearest(p: np.ndarray, ref_p: np.ndarray) -> np.ndarray:
    r"""The index of the closest reference row, :math:`\arg\min_j \mathrm{JS}(p_{ci}, r_j)`
    (−1 where every divergence is NaN), equal to ``_closest(_js_matrix(p, ref_p))[0]``.

    With numba, a compiled scan computes :math:`\mathrm{JS} = H(m) - \tfrac12 H(p) -
    \tfrac12 H(r)` (Lin 1991, eq. 4.1; one logarithm per state and pair, no temporaries);
    rows whose two best candidates lie within :data:`_TIE_TOLERANCE` of each other — far
    above the rounding difference between the two formulas — are decided again on the
    exact matrix formula, so the index (first minimum on ties) is the one that formula gives.
    Without numba, or below :data:`_KERNEL_MIN_WORK` (where compiling would cost more than
    it saves), the matrix formula block by block.
    """
    if _seed_kernel is None or p.size * ref_p.shape[-2] < _KERNEL_MIN_WORK:
        return _nearest_numpy(p, ref_p)
    lead, (n_c, n_p, k), n_ref = p.shape[:-3], p.shape[-3:], ref_p.shape[-2]
    pf = np.ascontiguousarray(p.reshape(-1, n_c, n_p, k), dtype=float)
    rf = np.ascontiguousarray(np.broadcast_to(ref_p, (*lead, n_ref, k)).reshape(-1, n_ref, k), dtype=float)
    index, tied = _seed_kernel(pf, rf, _TIE_TOLERANCE + 1e-14 * k)
    rows = np.flatnonzero(tied.reshape(-1))
    if rows.size:  # near-ties: the exact formula decides, as in the matrix
        lead_row = rows // (n_c * n_p)
        exact = js_divergence(pf.reshape(-1, k)[rows][:, None, :], rf[lead_row])
        index.reshape(-1)[rows] = _closest(exact)[0]
    return index.reshape(*lead, n_c, n_p)


#: two candidate seeds closer than this (nats) are decided on the exact matrix formula
_TIE_TOLERANCE = 1e-9
#: (rows × states × reference prompts) of one search below which numpy is used
_KERNEL_MIN_WORK = 20_000_000

try:  # pragma: no cover - exercised when numba is installed
    import numba as _numba

    @_numba.njit(parallel=True, cache=True)
    def _seed_kernel(p, ref, tol):
        n_l, n_c, n_p, k = p.shape
        n_ref = ref.shape[1]
        h_ref = np.empty((n_l, n_ref))
        for l_ in range(n_l):
            for j in range(n_ref):
                h = 0.0
                for s in range(k):
                    v = ref[l_, j, s]
                    if v > 0:
                        h -= v * np.log(v)
                h_ref[l_, j] = h  # NaN rows stay NaN
        index = np.full((n_l, n_c, n_p), -1, dtype=np.int64)
        tied = np.zeros((n_l, n_c, n_p), dtype=np.bool_)
        for row in _numba.prange(n_l * n_c):
            l_, c = row // n_c, row % n_c
            for i in range(n_p):
                h_p, bad = 0.0, False
                for s in range(k):
                    v = p[l_, c, i, s]
                    if v != v:
                        bad = True
                    elif v > 0:
                        h_p -= v * np.log(v)
                if bad:
                    continue
                best, second, arg = np.inf, np.inf, -1
                for j in range(n_ref):
                    if h_ref[l_, j] != h_ref[l_, j]:
                        continue
                    hm = 0.0
                    for s in range(k):
                        m = 0.5 * (p[l_, c, i, s] + ref[l_, j, s])
                        if m > 0:
                            hm -= m * np.log(m)
                    js = hm - 0.5 * (h_p + h_ref[l_, j])
                    if js < best:
                        best, second, arg = js, best, j
                    elif js < second:
                        second = js
                index[l_, c, i] = arg
                tied[l_, c, i] = second - best <= tol
        return index, tied
except ImportError:  # pragma: no cover - numba is optional (phasekit[fast])
    _seed_kernel = None  # type: ignore[assignment]


def _attribute(x: np.ndarray, ref_pos: list[int], mass: float, top_k: int | None) -> dict[str, np.ndarray]:
    """Seed attribution on dense counts ``x`` (..., C, P, q); any leading dims are kept."""
    p = normalise(x)                                              # (..., C, P, q)
    ref_p = normalise(x[..., ref_pos, :, :].sum(axis=-3))         # (..., Pref, q)
    div = _js_matrix(p, ref_p)                                    # (..., C, P, Pref)
    seed, seed_div = _closest(div)
    retention = np.where(seed >= 0, _retention(p, ref_p, seed, mass, top_k), np.nan)
    pooled_div = js_divergence(normalise(x.sum(axis=-2))[..., :, None, :], ref_p[..., None, :, :])  # (..., C, Pref)
    consensus, cons_div = _closest(pooled_div)
    valid = seed >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        share = ((seed == consensus[..., None]) & valid).sum(axis=-1) / np.maximum(valid.sum(axis=-1), 1)
    share = np.where(consensus >= 0, share, np.nan)
    k = _seed_support(ref_p, mass, top_k).sum(axis=-1)
    return {"div": div, "seed": seed, "seed_div": seed_div, "retention": retention, "k": k,
            "consensus": consensus, "cons_div": cons_div, "share": share, "pooled_div": pooled_div}


def _redraw_stats(xb: np.ndarray, res: dict[str, np.ndarray], ref_pos: list[int], mass: float,
                  top_k: int | None) -> dict[str, np.ndarray]:
    """What one block of redraws ``xb`` (B, ..., C, P, q) contributes to the bootstrap: the
    divergence to the observed seed and its retention, the consensus divergence, and the
    redraws' own seed and consensus choices — without the full (B, …, C, P, Pref) matrix."""
    p = normalise(xb)
    ref_p = normalise(xb[..., ref_pos, :, :].sum(axis=-3))
    nb = xb.shape[0]
    safe = np.broadcast_to(np.maximum(res["seed"], 0), (nb, *res["seed"].shape))
    chosen = np.take_along_axis(ref_p[..., None, :, :], safe[..., None], axis=-2)  # (B, ..., C, P, q)
    pooled_div = js_divergence(normalise(xb.sum(axis=-2))[..., :, None, :], ref_p[..., None, :, :])
    safe_c = np.broadcast_to(np.maximum(res["consensus"], 0), (nb, *res["consensus"].shape))
    return {"seed_div": js_divergence(p, chosen), "retention": _retention(p, ref_p, safe, mass, top_k),
            "cons_div": np.take_along_axis(pooled_div, safe_c[..., None], axis=-1)[..., 0],
            "seed": _nearest(p, ref_p), "consensus": _closest(pooled_div)[0]}


def _bootstrap(x: np.ndarray, res: dict[str, np.ndarray], ref_pos: list[int], mass: float,
               top_k: int | None, n_boot: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], str]:
    """Parametric bootstrap: every count vector redrawn Multinomial(N, p̂), ``n_boot`` times.

    Standard errors of the divergence to the *chosen* seed, the retention on its (redrawn)
    support and the consensus divergence; the share of redraws choosing the same seed and
    consensus seed (``seed_conf``, ``cons_conf``). Redraws are made in blocks of about
    :data:`_BLOCK_BUDGET` counts (one stream of draws: the same numbers for any block size).
    """
    keys = ("seed_div", "retention", "cons_div")
    if n_boot <= 0:
        out = {k: np.full(res[k].shape, np.nan) for k in keys}
        out.update(seed_conf=np.full(res["seed"].shape, np.nan), cons_conf=np.full(res["consensus"].shape, np.nan))
        return out, "none (n_bootstrap=0)"
    acc = {k: np.empty((n_boot, *res[k].shape)) for k in keys}
    same_seed = np.zeros(res["seed"].shape)
    same_cons = np.zeros(res["consensus"].shape)
    block = int(max(1, min(n_boot, _BLOCK_BUDGET // max(x.size, 1))))
    for start in range(0, n_boot, block):
        nb = min(block, n_boot - start)
        xb = multinomial_redraw(np.broadcast_to(x, (nb, *x.shape)), rng).astype(float)
        rb = _redraw_stats(xb, res, ref_pos, mass, top_k)
        for k in keys:
            acc[k][start:start + nb] = rb[k]
        same_seed += (rb["seed"] == res["seed"]).sum(axis=0)
        same_cons += (rb["consensus"] == res["consensus"]).sum(axis=0)
    out = {k: np.std(v, axis=0, ddof=1) for k, v in acc.items()}
    for key, valid in (("seed_div", res["seed"] >= 0), ("retention", res["seed"] >= 0),
                       ("cons_div", res["consensus"] >= 0)):
        out[key] = np.where(valid, out[key], np.nan)
    out.update(seed_conf=same_seed / n_boot, cons_conf=same_cons / n_boot)
    return out, f"parametric (multinomial) bootstrap of the counts, {n_boot} redraws"


# --------------------------------------------------------------------------- the result
def _label_of(index: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Prompt labels at ``index`` (None, or '' for string labels, where the index is −1)."""
    out = np.empty(index.shape, dtype=object)
    out[...] = None
    ok = index >= 0
    out[ok] = labels[index[ok]]
    if labels.dtype.kind in "US":
        out = np.where(ok, out, "").astype(str)
    return out


def _attribution_dataset(tok: xr.DataArray, res: dict[str, np.ndarray], se: dict[str, np.ndarray],
                         others: list[Hashable], control: Hashable, prompt: Hashable,
                         system: tuple[Hashable, ...], mass: float, top_k: int | None) -> xr.Dataset:
    """The result Dataset: per (…, control, prompt), per (…, control), per reference prompt."""
    prompt_labels = dim_labels(tok, prompt)
    ref_dim = f"reference_{prompt}"
    grid = (*others, control, prompt)
    cdims = (*others, control)
    coords: dict[Hashable, Any] = {name: var.variable for name, var in tok.coords.items()
                                   if set(var.dims) <= set(grid) and name not in system}
    coords[ref_dim] = (ref_dim, prompt_labels)
    out = xr.Dataset({
        "seed": (grid, _label_of(res["seed"], prompt_labels)),
        "seed_index": (grid, res["seed"]),
        "seed_divergence": (grid, res["seed_div"]),
        "seed_divergence_stderr": (grid, se["seed_div"]),
        "seed_confidence": (grid, se["seed_conf"]),
        "support_retention": (grid, res["retention"]),
        "support_retention_stderr": (grid, se["retention"]),
        "divergence": ((*grid, ref_dim), res["div"]),
        "support_size": ((*others, ref_dim), res["k"]),
        "consensus_seed": (cdims, _label_of(res["consensus"], prompt_labels)),
        "consensus_index": (cdims, res["consensus"]),
        "consensus_divergence": (cdims, res["cons_div"]),
        "consensus_divergence_stderr": (cdims, se["cons_div"]),
        "consensus_share": (cdims, res["share"]),
        "consensus_confidence": (cdims, se["cons_conf"]),
    }, coords=coords)
    support = (f"share of probability on the seed's top-k support (k by mass {mass})" if top_k is None
               else f"share of probability on the seed's top-{top_k} states")
    for name, text in (
        ("seed_divergence", "JS divergence (nats) to the closest reference prompt distribution"),
        ("support_retention", support),
        ("seed_confidence", "share of bootstrap redraws choosing the same seed"),
        ("consensus_seed", "reference prompt closest (JS) to the prompt-pooled distribution"),
        ("consensus_share", "share of prompts whose seed is the consensus seed"),
    ):
        out[name].attrs["description"] = text
    out["seed_divergence"].attrs["units"] = "nats"
    out["consensus_divergence"].attrs["units"] = "nats"
    return out


def seed_attribution(
    ds: xr.Dataset | xr.DataArray | Ensemble,
    *,
    reference: Any = 0,
    control: Hashable = "checkpoint",
    prompt: Hashable = "prompt",
    system: Hashable | Iterable[Hashable] = ("sample",),
    top_k: int | None = None,
    mass: float = 0.9,
    n_states: int | None = None,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
    dim: Hashable | None = None,
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
    prompt-pooled behaviour, :math:`\arg\min_j \mathrm{JS}(\bar p_c, \hat r_j)`;
    ``consensus_share`` is the fraction of prompts whose own seed agrees with it (near 1
    after a collapse, low in the liquid phase). Pooling a few reference checkpoints
    (``reference=[...]``) reduces the noise of the reference distributions themselves.

    This makes testable the claim of Samanta, Holtzman & West (2026, arXiv 2606.29933)
    that supervised finetuning collapses every prompt onto one *seed* distribution that
    already existed in the base model, and that preference tuning keeps the mass inside
    that seed's support.

    Parameters
    ----------
    ds : samples Dataset (``token``) or token DataArray with dims ``control``, ``prompt``
        and the ``system`` dims; every other dim is kept (attribution is done within each).
    reference : the reference checkpoint: an ``int`` is a position along ``control`` (as in
        ``.isel``; negative from the end), any other value a label of the ``control``
        coordinate; a list of them pools those checkpoints' counts.
    control : the control dim (checkpoints). ``dim=`` is its deprecated old name.
    prompt : the dim whose entries are the candidate seeds.
    system : dims counted into one distribution (default the samples).
    top_k, mass : how the seed's support is chosen (see above).
    n_states : q (optional: divergences only need the observed states).
    n_bootstrap, seed : parametric bootstrap: every (checkpoint, prompt) count vector,
        the reference included, is redrawn from a multinomial with its own total and
        empirical distribution (this equals the bootstrap over samples when each sample
        gives one token). ``n_bootstrap=0`` gives no error bars. Deterministic by default
        (``seed`` recorded in attrs); ``seed=None`` for fresh randomness.

    Returns
    -------
    xr.Dataset
        over (other dims…, ``control``, ``prompt``): ``seed`` (label of the closest
        reference prompt), ``seed_index``, ``seed_divergence`` and
        ``seed_divergence_stderr`` (nats), ``seed_confidence`` (share of bootstrap redraws
        that pick the same seed), ``support_retention`` and ``support_retention_stderr``;
        ``divergence`` over (…, ``control``, ``prompt``, ``reference_<prompt>``): the full
        JS matrix; ``support_size`` (k per reference prompt); per checkpoint:
        ``consensus_seed``, ``consensus_index``, ``consensus_divergence`` (+ ``_stderr``),
        ``consensus_share``, ``consensus_confidence``. Standard errors are ``*_stderr``
        variables (:func:`phasekit.with_stderr` makes them a ``stderr`` coordinate).

    References
    ----------
    J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37
    (1991) 145. Samanta, Holtzman & West (2026), arXiv 2606.29933.
    """
    from ..configurations import token_view

    control = renamed_keyword("seed_attribution", "dim", "control", dim, control, "checkpoint")
    tok = token_view(ds)  # the token array, or an Ensemble's token-less view (labels, sizes)
    system = as_dims(system)
    _check_arguments(tok, control, prompt, system, mass, top_k)
    ref_pos = _reference_positions(tok, control, reference)
    c = counts_of(ds, system, n_states)  # an Ensemble's counts pooled over system, else counted now
    kept = list(c.dims)
    others = [d for d in kept if d not in (control, prompt)]
    order = [kept.index(d) for d in (*others, control, prompt)]
    x = np.transpose(_observed_dense(c), (*order, len(kept)))
    res = _attribute(x, ref_pos, mass, top_k)
    rng, seed_note = rng_for(seed)
    se, error_method = _bootstrap(x, res, ref_pos, mass, top_k, int(n_bootstrap), rng)
    out = _attribution_dataset(tok, res, se, others, control, prompt, system, mass, top_k)
    ref_labels = [str(v) for v in dim_labels(tok, control)[ref_pos]]
    attrs = provenance(
        estimator="seed attribution: argmin_j JS(p_ci, r_j) over reference prompt distributions",
        reference=",".join(ref_labels), reference_dim=str(control), control=str(control),
        prompt_dim=str(prompt), system=[str(s) for s in system],
        support_rule=(f"smallest top set holding >= {mass} of the seed's mass" if top_k is None
                      else f"top {int(top_k)} states of the seed"),
        n_bootstrap=int(n_bootstrap), seed=seed_note, error_method=error_method, units="nats",
        n_states=c.n_states, reference_paper="Samanta, Holtzman & West 2026, arXiv 2606.29933; JS: Lin 1991",
    )
    out.attrs = append_history(attrs, f"seed_attribution(reference={ref_labels}, control={control!r})")
    return out
