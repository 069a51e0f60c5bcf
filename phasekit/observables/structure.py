"""How different the prompts' answer distributions are: :func:`prompt_structure`.

Mean pairwise Jensen–Shannon divergence against its finite-sample null, and the spin-glass
overlap q_ab = (q Σ_k p_k^a p_k^b − 1)/(q − 1) (Edwards & Anderson, J. Phys. F 5, 965
(1975); Parisi, PRL 50, 1946 (1983)). The distribution maths is
:mod:`phasekit.distributions` (``pairwise_js``, ``multinomial_redraw``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from .._meta import as_dims, provenance, require_distinct, resolve_n_states
from ..count import Counts
from ..distributions import multinomial_redraw, pairwise_js
from ..errors import SchemaError
from ..resampling import DEFAULT_SEED, rng_for
from ._common import checked_q, counts_of

if TYPE_CHECKING:
    from ..configurations import Ensemble

__all__ = ["prompt_structure"]

_NAMES = ("js_divergence", "js_divergence_null", "overlap", "self_overlap")
_UNITS = {"js_divergence": "nats", "js_divergence_null": "nats",
          "overlap": "dimensionless", "self_overlap": "dimensionless"}
_METHODS = {"js_divergence": "jackknife_over_prompts", "overlap": "jackknife_over_prompts",
            "self_overlap": "stderr_of_mean_over_prompts",
            "js_divergence_null": "monte_carlo_error_of_parametric_bootstrap"}


def _pair_mean_jackknife(D: np.ndarray) -> tuple[float, float]:
    """Mean over pairs a < b of a symmetric matrix, with its delete-one-prompt jackknife se."""
    n = D.shape[0]
    iu = np.triu_indices(n, 1)
    total = D[iu].sum()
    npairs = n * (n - 1) / 2
    mean = total / npairs
    if n < 3:
        return float(mean), np.nan
    row = D.sum(axis=1) - np.diag(D)
    loo = (total - row) / ((n - 1) * (n - 2) / 2)
    se = np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())
    return float(mean), float(se)


def _overlaps(P: np.ndarray, Cn: np.ndarray, q: int) -> dict[str, tuple[float, float]]:
    """Potts overlaps of one group of prompts: q_ab = (q Σ_k p_k^a p_k^b − 1)/(q − 1) between
    prompts (jackknife over prompts) and q_aa from the unbiased collision estimate
    Σ_k n_k(n_k − 1)/(N(N − 1)) (mean over prompts, its standard error)."""
    Na = Cn.sum(axis=1)
    out = {"overlap": _pair_mean_jackknife((q * (P @ P.T) - 1.0) / (q - 1.0))}
    with np.errstate(divide="ignore", invalid="ignore"):
        coll = (Cn * (Cn - 1)).sum(axis=1) / (Na * (Na - 1))
    qaa = (q * coll - 1.0) / (q - 1.0)
    qaa = qaa[np.isfinite(qaa)]
    if qaa.size:
        se = qaa.std(ddof=1) / np.sqrt(qaa.size) if qaa.size > 1 else np.nan
        out["self_overlap"] = (float(qaa.mean()), float(se))
    return out


def _js_null(Cn: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Mean pairwise JS when every prompt's N_a tokens are redrawn Multinomial(N_a, p_pooled)."""
    pooled = Cn.sum(axis=0) / Cn.sum()
    n = Cn.shape[0]
    draws = multinomial_redraw(np.broadcast_to(Cn, (n_bootstrap, *Cn.shape)), rng,
                               probs=np.broadcast_to(pooled, (n_bootstrap, *Cn.shape)))
    D = pairwise_js(draws)
    iu = np.triu_indices(n, 1)
    return D[:, iu[0], iu[1]].mean(axis=-1)


def _group_stats(c: Counts, rows: np.ndarray, q: int | None, n_bootstrap: int,
                 rng: np.random.Generator) -> tuple[dict[str, tuple[float, float]], float, int]:
    """Statistics of one group of prompts (one cell of the other kept dims)."""
    parts = [(c.states[c.indptr[i]:c.indptr[i + 1]], c.counts[c.indptr[i]:c.indptr[i + 1]]) for i in rows]
    parts = [pt for pt in parts if pt[1].sum() > 0]
    if len(parts) < 2:
        return {}, np.nan, len(parts)
    support = np.unique(np.concatenate([s for s, _ in parts]))
    Cn = np.zeros((len(parts), support.size))
    for a, (s, n) in enumerate(parts):
        Cn[a, np.searchsorted(support, s)] = n
    P = Cn / Cn.sum(axis=1)[:, None]
    res = {"js_divergence": _pair_mean_jackknife(pairwise_js(P))}
    if q is not None:
        res.update(_overlaps(P, Cn, q))
    pval = np.nan
    if n_bootstrap >= 2:
        null = _js_null(Cn, n_bootstrap, rng)
        res["js_divergence_null"] = (float(null.mean()), float(null.std(ddof=1) / np.sqrt(n_bootstrap)))
        pval = (1 + np.sum(null >= res["js_divergence"][0] - 1e-12)) / (n_bootstrap + 1)
    return res, float(pval), len(parts)


def _structure_dataset(c: Counts, keep: tuple[Hashable, ...], gshape: tuple[int, ...],
                       stats: list[tuple[dict[str, tuple[float, float]], float, int]],
                       q: int | None) -> dict[Hashable, xr.DataArray]:
    """The variables of :func:`prompt_structure` over the kept dims."""
    kept_coords = {k: v for k, v in c.coords.items() if set(getattr(v, "dims", ())) <= set(keep)}

    def wrap(v: np.ndarray) -> xr.DataArray:
        return xr.DataArray(v.reshape(gshape), dims=keep, coords=kept_coords)

    names = [k for k in _NAMES if q is not None or "overlap" not in k]  # overlaps need q
    data: dict[Hashable, xr.DataArray] = {}
    for k in names:
        val = np.array([s[0].get(k, (np.nan, np.nan))[0] for s in stats], dtype=float)
        se = np.array([s[0].get(k, (np.nan, np.nan))[1] for s in stats], dtype=float)
        data[k] = wrap(val).assign_attrs(provenance(units=_UNITS[k], error_method=_METHODS[k]))
        data[f"{k}_stderr"] = wrap(se).assign_attrs(provenance(long_name=f"standard error of {k}"))
    data["js_divergence_pvalue"] = wrap(np.array([s[1] for s in stats], dtype=float)).assign_attrs(provenance(
        description="parametric-bootstrap p-value of 'all prompts share one distribution'"))
    data["n_prompts"] = wrap(np.array([s[2] for s in stats], dtype=np.int64)).assign_attrs(
        provenance(description="prompts with tokens"))
    return data


def prompt_structure(
    ds: xr.Dataset | xr.DataArray | Ensemble,
    *,
    prompt: Hashable = "prompt",
    system: Hashable | Iterable[Hashable] = ("sample",),
    n_states: int | None = None,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = DEFAULT_SEED,
) -> xr.Dataset:
    """How different the prompts' answer distributions are, per remaining cell.

    For each cell of the dims other than ``prompt`` and ``system`` (e.g. per checkpoint),
    with p^a the empirical distribution of prompt a (counted over ``system``; prompts
    with no tokens are left out):

    - ``js_divergence`` = mean over pairs a < b of JS(p^a, p^b) in nats (0 … ln 2). It
      is biased upwards by finite samples (≈ (S − 1)/(4N) per pair for S occupied
      states, N tokens per prompt), so
    - ``js_divergence_null`` = its expectation when all prompts share the pooled
      distribution, by parametric bootstrap: each prompt's N_a tokens redrawn
      Multinomial(N_a, p_pooled), ``n_bootstrap`` times (``seed``, deterministic by
      default; ``seed=None`` for fresh randomness); stderr = Monte-Carlo error of that
      mean. Tokens are treated as independent draws.
    - ``js_divergence_pvalue`` = (1 + #{null ≥ observed})/(n_bootstrap + 1), the
      bootstrap p-value of "all prompts share one distribution".
    - ``overlap`` = mean over a ≠ b of q_ab = (q Σ_k p_k^a p_k^b − 1)/(q − 1)
      (spin-glass overlap; 1 when all prompts put all mass on one common state, 0 for
      uniform or for orthogonal-enough prompts, negative when disjoint). Unbiased for
      independent prompts. Needs q: left out (``attrs["left_out"]``) without it.
    - ``self_overlap`` = mean over prompts of q_aa with the unbiased collision estimate
      Σ_k n_k(n_k − 1)/(N(N − 1)); equals ``overlap`` in expectation when prompts share
      one distribution, exceeds it when they differ (the liquid phase).
    - ``n_prompts`` used.

    Stderrs of ``js_divergence``, ``overlap`` and ``self_overlap``: delete-one jackknife
    over prompts (needs ≥ 3 prompts), i.e. the uncertainty from which prompts were
    asked. References: Lin, IEEE Trans. Inf. Theory 37, 145 (1991); Mézard, Parisi &
    Virasoro, *Spin Glass Theory and Beyond* (1987) ch. 1.
    """
    system = as_dims(system)
    require_distinct(caller="prompt_structure", prompt=prompt, system=system)
    c = counts_of(ds, system, n_states)  # a Dataset is counted now; an Ensemble's counts are pooled
    if prompt not in c.dims:
        raise SchemaError(
            f"dimension {prompt!r} is not in the data", where=f"kept dims {list(c.dims)}",
            fix="pass prompt= naming the dim that indexes prompts",
        )
    q = resolve_n_states(c, n_states)
    q = checked_q(c, q, "prompt_structure (overlap)") if q is not None else None
    rng, seed_note = rng_for(seed)
    keep = tuple(d for d in c.dims if d != prompt)
    rows = np.moveaxis(np.arange(c.n_config).reshape(c.shape), c.dims.index(prompt), -1)
    gshape = rows.shape[:-1]
    B = int(n_bootstrap)
    stats = [_group_stats(c, rr, q, B, rng) for rr in rows.reshape(-1, rows.shape[-1])]
    out = xr.Dataset(_structure_dataset(c, keep, gshape, stats, q))
    out.attrs = provenance(
        prompt=str(prompt), system=[str(d) for d in system], n_bootstrap=B,
        **({"n_states": q} if q is not None else {"left_out": "overlap and self_overlap need q (n_states=)"}),
        seed=seed_note, stderr_convention="<var>_stderr (see with_stderr)",
        js_bias_note="plug-in JS is biased upwards at finite N; compare with js_divergence_null",
    )
    return out
