"""The whole pipeline in one call: :func:`analyze` → :class:`phasekit.report.Report`.

Defaults chosen from the dataset's dims (each can be overridden):

* **single-answer tasks** (no ``position`` dim): one *configuration* is the set of
  samples of one prompt at one checkpoint (``system="sample"``); the prompts are the
  replicas (``replica="prompt"``), so fluctuations measure how differently the prompts
  behave — the liquid phase's hallmark.
* **sequence tasks** (a ``position`` dim): one configuration is one generated sequence
  (``system="position"``); the sampled sequences and prompts are the replicas.
* the control dim is ``checkpoint`` (its ``step`` coord gives the control values).
* with a ``model`` dim carrying a ``size`` coordinate, the order of the transition is
  classified across sizes; the other stages run on the largest model.

Stages: order parameters (entropy with phasekit's default estimator, Potts
magnetisation, mode fraction…) per configuration and their replica means with standard
errors → susceptibility and Binder cumulant over replicas → between-prompt divergence and
overlap → phase boundaries on the multinomial counts (:func:`phasekit.detect_boundaries`)
→ seed attribution against the first checkpoint → the divergence scan → correlations
along positions (sequence tasks) → the transition's order (when sizes allow).
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from ._meta import as_dims
from ._version import __version__
from .errors import SchemaError
from .report import ORDER_VARS, Report
from .schema import token_array

__all__ = ["analyze", "default_dims", "left_out_without_q"]


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="phasekit", disable=not (enabled and sys.stderr.isatty()), leave=False,
                bar_format="{desc}: {n}/{total} {postfix}")


def default_dims(ds: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The system/replica/control dims :func:`analyze` uses when none are given."""
    tok = token_array(ds)
    control = "checkpoint" if "checkpoint" in tok.dims else tok.dims[0]
    if "position" in tok.dims:
        system: tuple[Hashable, ...] = ("position",)
        replica = tuple(d for d in ("prompt", "sample") if d in tok.dims)
    else:
        system = ("sample",)
        replica = ("prompt",) if "prompt" in tok.dims else ()
    return {"system": system, "replica": replica, "control": control}


def _mean_over(da: xr.DataArray, dims: tuple[Hashable, ...]) -> tuple[xr.DataArray, xr.DataArray]:
    """Replica mean and its standard error (s/√n over the finite values)."""
    if not dims:
        return da, xr.full_like(da, np.nan, dtype=float)
    n = da.notnull().sum(dims)
    mean = da.mean(dims, skipna=True)
    se = da.std(dims, ddof=1, skipna=True) / np.sqrt(n.where(n > 0))
    return mean, se


def _versions() -> dict[str, str]:
    import numpy
    import pandas
    import ruptures
    import scipy
    import statsmodels

    return {"phasekit": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "pandas": pandas.__version__, "xarray": xr.__version__,
            "statsmodels": statsmodels.__version__, "ruptures": ruptures.__version__}


def _seed_reference(ds: xr.Dataset, control: Hashable) -> Any:
    """The reference for seed attribution: every checkpoint of the ``base`` stage, pooled,
    when a ``stage`` coordinate says which they are; else the first checkpoint."""
    if "stage" in ds.coords and ds["stage"].dims == (control,):
        stages = np.asarray(ds["stage"].values).astype(str)
        base = [i for i, s in enumerate(stages) if s.lower() in ("base", "pretrained", "pretrain")]
        if base and len(base) < stages.size:
            return [ds[control].values[i] for i in base] if control in ds.coords else base
    return 0


def _stack_replicas(da: xr.DataArray, replica: tuple[Hashable, ...]) -> tuple[xr.DataArray, Hashable]:
    if len(replica) == 1:
        return da, replica[0]
    stacked = da.stack(replica=replica)
    stacked = stacked.drop_vars([c for c in ("replica", *replica) if c in stacked.coords])
    return stacked.assign_coords(replica=np.arange(stacked.sizes["replica"])), "replica"


def left_out_without_q(q: int | None) -> list[str]:
    """The quantities ``analyze`` cannot compute without q, each with why (empty when q is known)."""
    if q is not None:
        return []
    return ["magnetization m = (q p_max - 1)/(q - 1): needs q",
            "order_entropy 1 - H/ln q: needs q",
            "susceptibility and Binder cumulant (of m): need q",
            "divergences from the uniform distribution: need q",
            "prompt overlaps q_ab: need q",
            "transition order across sizes (from m): needs q"]


def analyze(
    ds: xr.Dataset,
    *,
    system: Hashable | Iterable[Hashable] | None = None,
    replica: Hashable | Iterable[Hashable] | None = None,
    control: str | None = None,
    n_states: int | None = None,
    estimator: str | None = None,
    seed: int = 0,
    n_bootstrap: int = 200,
    progress: bool = True,
    input_description: str | None = None,
) -> Report:
    """Run the whole pipeline on a samples dataset.

    Parameters
    ----------
    ds : samples Dataset (``token`` variable; see the data model)
    system, replica, control : dims of one configuration, the replica dims and the
        control dim; defaults from :func:`default_dims` (documented in the module)
    n_states : q; default ``ds.attrs["n_states"]``. Optional: without it (an open answer
        space) every q-free quantity is computed and ``settings["left_out"]`` names the
        q-dependent ones left out (phasekit never guesses q).
    estimator : entropy estimator (default: phasekit's default ``bma``, see ``docs/entropy.md``;
        the same for any number of configurations)
    seed : seeds every bootstrap and permutation test (same seed → identical report)
    n_bootstrap : resamples for bootstrap intervals
    progress : show a progress bar on a terminal

    Returns
    -------
    Report
    """
    from .anatomy import classify_transition, divergence_scan, seed_attribution
    from .correlations import correlation_function, correlation_length
    from .fluctuations import binder_cumulant, susceptibility
    from .lazy import is_lazy, map_configurations, materialize
    from .observables import magnetization, order_parameters, prompt_structure, with_stderr
    from .transitions import detect_boundaries

    tok = token_array(ds)
    defaults = default_dims(ds)
    control = control or defaults["control"]
    system = as_dims(system) if system is not None else defaults["system"]
    if replica is None:
        replica = tuple(d for d in defaults["replica"] if d not in system)
    replica = as_dims(replica)
    for name, dims in (("system", system), ("replica", replica), ("control", (control,))):
        missing = [d for d in dims if d not in tok.dims]
        if missing:
            raise SchemaError(f"{name} dim(s) {missing} are not in the data", where=f"dims are {list(tok.dims)}",
                              fix=f"pass {name}= with names from {list(tok.dims)}")
    q = n_states if n_states is not None else ds.attrs.get("n_states", tok.attrs.get("n_states"))
    q = int(q) if q is not None else None      # unknown q: every q-free quantity still runs
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name="token")
    if q is not None:
        ds = ds.assign_attrs(n_states=q)

    # sizes: classify across models, analyse the largest
    transition, transition_note = None, ""
    work = ds
    if "model" in tok.dims:
        if "size" in ds.coords and ds["size"].dims == ("model",):
            largest = int(np.argmax(ds["size"].values))
            work = ds.isel(model=largest)
        else:
            raise SchemaError("a 'model' dim needs a numeric 'size' coordinate", where="coords",
                              fix="ds.assign_coords(size=('model', [n_params...]))")
    other_extra = [d for d in token_array(work).dims if d not in (*system, *replica, control, "prompt", "sample")]
    if other_extra:
        raise SchemaError(f"analyze does not know what to do with dim(s) {other_extra}",
                          where=f"dims are {list(tok.dims)}",
                          fix="select one value (ds.sel(...)) or name the dims in system=/replica=")

    bar = _progress(8, progress)
    est_kw = {} if estimator is None else {"estimator": estimator}

    bar.set_postfix_str("order parameters")
    # dask-backed tokens: order_parameters is lazy (one task per block); compute it once
    # here and reuse its magnetization instead of counting every token a second time
    per_config = materialize(order_parameters(work, system=system, n_states=q, **est_kw))
    m = with_stderr(per_config, "magnetization") if "magnetization" in per_config else None
    order_vars: dict[str, Any] = {}
    for v in ORDER_VARS:
        if v in per_config:
            mean, se = _mean_over(per_config[v], replica)
            order_vars[v] = mean
            order_vars[f"{v}_stderr"] = se
    order = xr.Dataset(order_vars)
    bar.update()

    bar.set_postfix_str("fluctuations")
    if replica and m is not None:
        m_rep, rep_dim = _stack_replicas(m, replica)
        if m_rep.sizes[rep_dim] >= 2:
            # N per configuration; when configurations differ in size (unparsed answers,
            # missing samples) chi uses the mean size, and the attrs say so
            n_sys = float(m.attrs["N"]) if "N" in m.attrs else float(
                per_config["n_tokens"].where(per_config["n_tokens"] > 0).mean())
            chi = susceptibility(m_rep, replica=rep_dim, n=n_sys)
            u = binder_cumulant(m_rep, replica=rep_dim)
            if "N" not in m.attrs:
                chi.attrs["N_note"] = "configurations differ in size; n = their mean size"
            order["susceptibility"] = chi.reset_coords(drop=True)
            order["susceptibility_stderr"] = chi.coords["stderr"].reset_coords(drop=True)
            order["binder"] = u.reset_coords(drop=True)
            order["binder_stderr"] = u.coords["stderr"].reset_coords(drop=True)
    bar.update()

    bar.set_postfix_str("between-prompt structure")
    if "prompt" in token_array(work).dims and token_array(work).sizes["prompt"] >= 2:
        struct_system = tuple(d for d in token_array(work).dims if d not in (control, "prompt"))
        ps = prompt_structure(work, prompt="prompt", system=struct_system, n_states=q,
                              n_bootstrap=n_bootstrap, seed=seed)
        for v in ps.data_vars:
            order[v] = ps[v].reset_coords(drop=True)
    bar.update()
    for c in ("step", "stage"):
        if c in work.coords and work[c].dims == (control,):
            order = order.assign_coords({c: work[c]})

    bar.set_postfix_str("phase boundaries")
    boundaries = detect_boundaries(work, dim=control, seed=seed, n_bootstrap=n_bootstrap, n_states=q)
    bar.update()

    bar.set_postfix_str("seed attribution")
    seed_ds = None
    if "prompt" in token_array(work).dims:
        seed_system = tuple(d for d in token_array(work).dims if d not in (control, "prompt"))
        seed_ds = seed_attribution(work, reference=_seed_reference(work, control), dim=control,
                                   prompt="prompt", system=seed_system,
                                   n_states=q, n_bootstrap=n_bootstrap, seed=seed)
    bar.update()

    bar.set_postfix_str("divergence scan")
    scan_system = tuple(d for d in token_array(work).dims if d != control)
    scan = divergence_scan(work, dim=control, system=scan_system, n_states=q, seed=seed)
    bar.update()

    bar.set_postfix_str("correlations")
    corr = None
    if "position" in token_array(work).dims and token_array(work).sizes["position"] >= 4:
        if is_lazy(work):  # dask-backed: one C(r) per checkpoint block, never all tokens at once
            cf_system = tuple(d for d in token_array(work).dims if d != control)
            cf = materialize(map_configurations(correlation_function, work, cf_system, system_kwarg=None,
                                                kwargs={"dim": "position", "keep": control}))
        else:
            cf = correlation_function(work, dim="position", keep=control)
        xi = correlation_length(cf, dim="position")
        cf_vars = {"correlation_function": cf.drop_vars("stderr", errors="ignore")}
        if "stderr" in cf.coords:  # one 'stderr' coord per Dataset: keep C(r)'s as a variable
            cf_vars["correlation_function_stderr"] = cf.coords["stderr"].reset_coords(drop=True)
        corr = xr.Dataset({**cf_vars, "correlation_length": xi})
    bar.update()

    bar.set_postfix_str("transition order")
    if "model" in tok.dims and q is None:
        transition_note = ("the order of the transition is classified from the Potts magnetization across "
                           "sizes, which needs q (n_states=; CLI --n-states)")
    elif "model" in tok.dims:
        sizes = ds["size"].values
        m_by_size = {}
        for i, size in enumerate(sizes):
            mi = magnetization(ds.isel(model=i), system=system, n_states=q)
            mi_rep, rep_dim = _stack_replicas(mi, replica)
            m_by_size[float(size)] = mi_rep
        transition = classify_transition(m_by_size, replica=rep_dim, control=control)
    else:
        transition_note = ("one system size only: the order of the transition (first-order vs continuous vs "
                           "crossover) needs the same analysis at several sizes (a 'model' dim with a 'size' "
                           "coordinate); the Binder cumulant and the order-parameter histograms above are "
                           "single-size hints only")
    bar.update()
    bar.close()

    phases = boundaries.phases
    settings = {"system": system, "replica": replica, "control": control, "n_states": q, "seed": seed,
                "n_bootstrap": n_bootstrap, "left_out": left_out_without_q(q)}
    provenance = {
        "input": input_description or ds.attrs.get("source", "in-memory dataset"),
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": _versions(),
        "seed": seed,
        "estimators": {
            "entropy": per_config["entropy"].attrs.get("estimator", estimator or "default")
            if "entropy" in per_config else None,
            "boundaries": f"{boundaries.method} ({boundaries.kind})",
            "stderr": "replica mean: s/sqrt(n); fluctuations: jackknife over replicas",
        },
        "mapping": {k: (v.item() if hasattr(v, "item") else v) for k, v in ds.attrs.items()
                    if k in ("source", "encoder", "text_column", "n_unparsed", "n_missing", "n_rows")},
        "dims": {str(k): int(v) for k, v in tok.sizes.items()},
    }
    return Report(order=order, per_config=per_config, magnetization=m, boundaries=boundaries, phases=phases,
                  seed=seed_ds, divergence=scan, correlation=corr, transition=transition,
                  transition_note=transition_note, settings=settings, provenance=provenance)
