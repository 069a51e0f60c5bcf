"""The whole pipeline in one call: :func:`analyze` → :class:`phasekit.report.Report`.

Defaults chosen from the dataset's dims (each can be overridden):

* **single-answer tasks** (no ``position`` dim): one *configuration* is the set of
  samples of one prompt at one checkpoint (``system="sample"``); the prompts are the
  replicas (``replica="prompt"``), so fluctuations measure how differently the prompts
  behave — the liquid phase's hallmark.
* **sequence tasks** (a ``position`` dim): one configuration is one generated sequence
  (``system="position"``); the sampled sequences and prompts are the replicas.
* the control dim is ``checkpoint`` (its ``step`` coord gives the control values).
* a ``task``, ``model`` or ``run`` dim, or ``across=``: every member is analysed on its own
  and the members are compared (:func:`_analyze_members`); with a ``size`` coordinate along
  ``model``, the critical point, exponents and order of the transition across sizes.

Stages: order parameters (entropy with phasekit's default estimator, Potts
magnetisation, mode fraction…) per configuration and their replica means with standard
errors → susceptibility and Binder cumulant over replicas → between-prompt divergence and
overlap → phase boundaries on the multinomial counts (:func:`phasekit.detect_boundaries`)
→ seed attribution against the first checkpoint → the divergence scan → correlations
along positions (sequence tasks) → the transition's order (when sizes allow).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import platform
import sys
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, cast

import numpy as np
import xarray as xr

from ._meta import as_dataset_estimate, as_dims
from ._version import __version__
from .configurations import Ensemble, default_roles
from .errors import SchemaError
from .report import ORDER_VARS, Report
from .schema import token_array

__all__ = ["analyze", "default_dims", "left_out_without_q"]


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="phasekit", disable=not (enabled and sys.stderr.isatty()), leave=False,
                bar_format="{desc}: {n}/{total} {postfix}")


def default_dims(ds: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The system/replica/control dims :func:`analyze` uses when none are given
    (:func:`phasekit.configurations.default_roles`)."""
    return default_roles(ds)


def _mean_over(da: xr.DataArray, dims: tuple[Hashable, ...]) -> tuple[xr.DataArray, xr.DataArray]:
    """Replica mean and its standard error (s/√n over the finite values)."""
    if not dims:
        return da, xr.full_like(da, np.nan, dtype=float)
    n = da.notnull().sum(dims)
    mean = da.mean(dims, skipna=True)
    se = da.std(dims, ddof=1, skipna=True) / np.sqrt(n.where(n > 0))
    return mean, se


def _versions() -> dict[str, str]:
    """Versions of phasekit and the libraries it uses, read from the installed package
    metadata: importing a library only to read its version would load it (statsmodels
    alone is ~80 MiB resident) into a run that never uses it."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"phasekit": __version__, "python": platform.python_version(),
            **{name: version(name) for name in ("numpy", "scipy", "pandas", "xarray", "statsmodels", "ruptures")}}


def _seed_reference(ens: Ensemble) -> Any:
    """The reference for seed attribution: every checkpoint of the ``base`` stage, pooled,
    when a ``stage`` coordinate says which they are; else the first checkpoint."""
    if ens.stage is not None:
        stages = np.asarray(ens.stage).astype(str)
        base = [i for i, s in enumerate(stages) if s.lower() in ("base", "pretrained", "pretrain")]
        if base and len(base) < stages.size:
            labels = ens.coords.get(ens.control)
            return [np.asarray(labels.values)[i] for i in base] if labels is not None else base
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


# ----------------------------------------------------------------- several members (issue 16)
#: dims whose members are analysed one by one and compared (tasks outermost: each has its own q)
MEMBER_DIMS = ("task", "model", "run")


def _member_dim(ds: xr.Dataset, across: str | None) -> str | None:
    """The dim :func:`_analyze_members` splits on: ``task`` (a dim, or a coordinate along
    ``prompt`` with several values), then ``across``, then ``model``, then ``run``."""
    dims = token_array(ds).dims
    if "task" in dims or ("task" in ds.coords and ds["task"].dims == ("prompt",)
                          and np.unique(ds["task"].values).size > 1):
        return "task"
    if across is not None:
        if across not in dims:
            raise SchemaError(f"across dim {across!r} is not in the data", where=f"dims are {list(dims)}",
                              fix=f"pass across= with one of {list(dims)}")
        return across
    return next((d for d in MEMBER_DIMS[1:] if d in dims), None)


def _trim_padding(sub: xr.Dataset) -> xr.Dataset:
    """Drop trailing positions that hold no token in this member (a smaller model or lattice
    padded with -1 to the longest), so its configuration size N is its own."""
    tok = token_array(sub)
    if "position" not in tok.dims:
        return sub
    valid = np.flatnonzero((tok >= 0).any([d for d in tok.dims if d != "position"]).values)
    return sub.isel(position=slice(0, int(valid[-1]) + 1 if valid.size else 1))


def _member_q(ds: xr.Dataset, dim: str, label: Any, i: int | None, n_states: Any) -> int | None:
    """q of one member: ``n_states=`` (an int, or a mapping by member label), else an
    ``n_states`` coordinate along ``dim``, else an ``n_states`` mapping in attrs (a dict or a
    JSON object), else attrs ``n_states``; None when unknown (never guessed: the member's
    q-dependent quantities are then left out, as ``settings["left_out"]`` says)."""
    import json
    import warnings

    mapping = n_states if isinstance(n_states, Mapping) else None
    if n_states is not None and mapping is None:
        return int(n_states)
    if mapping is None and i is not None and "n_states" in ds.coords and ds["n_states"].dims == (dim,):
        v = float(ds["n_states"].values[i])
        return int(v) if np.isfinite(v) else None
    attr = ds.attrs.get("n_states")
    if mapping is None and isinstance(attr, str) and attr.strip().startswith("{"):
        mapping = json.loads(attr)
    elif mapping is None and isinstance(attr, Mapping):
        mapping = attr
    if mapping is None:
        return int(attr) if attr is not None else None
    table = {str(k): v for k, v in mapping.items()}
    if str(label) not in table:
        warnings.warn(f"n_states has no entry for {dim} {label!r}: its q-dependent quantities are left out "
                      f"(fix: add {label!r} to the n_states mapping)", RuntimeWarning, stacklevel=3)
        return None
    return int(table[str(label)])


def _members(ds: xr.Dataset, dim: str, n_states: Any) -> list[tuple[str, xr.Dataset, int | None]]:
    """(key ``"dim=label"``, the member's data, its q) for every member along ``dim``."""
    out = []
    if dim == "task" and "task" not in token_array(ds).dims:  # a coordinate along prompt
        labels = np.asarray(ds["task"].values).astype(str)
        for t in dict.fromkeys(labels):
            sub = ds.isel(prompt=np.flatnonzero(labels == t))
            q = _member_q(ds, "task", t, None, n_states)
            sub = sub.drop_vars("task").assign_attrs(task=t)
            sub.attrs = {k: v for k, v in sub.attrs.items() if k != "n_states"}
            out.append((f"task={t}", sub.assign_attrs(n_states=q) if q is not None else sub, q))
        return out
    labels = ds[dim].values if dim in ds.coords else np.arange(ds.sizes[dim])
    for i, label in enumerate(labels):
        sub = _trim_padding(ds.isel({dim: i}))
        for name in ("encoder", "encoder_rule"):
            if name in ds.coords and ds[name].dims == (dim,):
                sub = sub.assign_attrs({name: str(ds[name].values[i])}).drop_vars(name)
        q = _member_q(ds, dim, str(label), i, n_states)
        sub = sub.drop_vars("n_states", errors="ignore")
        sub.attrs = {k: v for k, v in sub.attrs.items() if k != "n_states"}
        if q is not None:
            sub = sub.assign_attrs(n_states=q)
        out.append((f"{dim}={str(label)}", sub, q))
    return out


def _model_sizes(ds: xr.Dataset, sizes: Mapping[Any, float] | None) -> xr.Dataset:
    """``sizes=`` ({model label: size}) as the ``size`` coordinate along ``model``."""
    if sizes is None:
        return ds
    labels = [str(m) for m in ds["model"].values] if "model" in ds.coords else []
    table = {str(k): float(v) for k, v in sizes.items()}
    missing = [m for m in labels if m not in table]
    if missing or not labels:
        raise SchemaError(f"sizes= has no size for model(s) {missing or '(unlabelled models)'}",
                          where=f"models are {labels}", fix="give every model label a size: sizes={'7B': 7e9, ...}")
    return ds.assign_coords(size=("model", [table[m] for m in labels]))


def _scaling_across_models(ds: xr.Dataset, reports: Mapping[str, Report], seed: int,
                           n_bootstrap: int) -> tuple[Any, str]:
    """:func:`phasekit.compare.scale_across_sizes` on the members' magnetizations, or why not."""
    import warnings

    from .compare import scale_across_sizes

    if "size" not in ds.coords or ds["size"].dims != ("model",):
        return None, ("no finite-size scaling: the 'model' dim has no numeric 'size' coordinate (fix: "
                      "analyze(ds, sizes={'7B': 7e9, ...}) or --sizes name=size,...; or assign_coords(size=...))")
    if len(reports) < 2:
        return None, "one model only: scaling across sizes needs at least two"
    m, n_cfg, sizes = {}, {}, {}
    for (key, rep), size in zip(reports.items(), np.asarray(ds["size"].values, dtype=float), strict=True):
        pooled = _pooled_magnetization(rep)
        if pooled is None:
            return None, ("no finite-size scaling: it is measured on the Potts magnetization, which needs q "
                          "(n_states=; CLI --n-states)")
        mi, rep_dim = pooled
        n = mi.attrs.get("N")
        n_cfg[key] = float(n) if n is not None and np.size(n) == 1 else float(
            rep.per_config["n_tokens"].where(rep.per_config["n_tokens"] > 0).mean())
        m[key], sizes[key] = mi, float(size)
    block = "chain" if "chain" in mi.coords and mi["chain"].dims == (rep_dim,) else None
    dimension = ds["size"].attrs.get("dimension")
    units = str(ds["size"].attrs.get("units", ds.attrs.get("size_units", "unknown")))
    try:
        res = scale_across_sizes(m, sizes, n_cfg, replica=rep_dim, control=rep.settings["control"],
                                 dimension=float(dimension) if dimension else None, size_units=units,
                                 block=block, n_bootstrap=n_bootstrap, seed=seed)
    except SchemaError as err:
        warnings.warn(f"scaling across model sizes not done: {err}", RuntimeWarning, stacklevel=3)
        return None, f"no finite-size scaling: {err}"
    return res, ""


def _pooled_magnetization(rep: Report) -> tuple[xr.DataArray, Hashable] | None:
    """One model's magnetization with its replicas stacked on one dim; with members inside
    the model (runs, seeds) every member's replicas pooled, so the size scaling uses all runs
    rather than a representative. None when q is unknown (no magnetization)."""
    if rep.members:
        parts = [_pooled_magnetization(sub) for sub in rep.members.values()]
        if any(p is None for p in parts):
            return None
        dims = {p[1] for p in parts if p is not None}
        if len(dims) != 1:
            return None
        rep_dim = dims.pop()
        arrays, offset = [], 0
        for part in parts:
            a = part[0].drop_vars([rep_dim], errors="ignore") if part is not None else None
            if a is not None and "chain" in a.coords and a["chain"].dims == (rep_dim,):
                chains = np.asarray(a["chain"].values, dtype=int)   # a run's chains are its own blocks
                a = a.assign_coords(chain=(rep_dim, chains + offset))
                offset += int(chains.max()) + 1
            if a is not None:
                arrays.append(a)
        pooled = xr.concat(arrays, dim=rep_dim, join="outer", coords="minimal", compat="override")
        return pooled.assign_coords({rep_dim: np.arange(pooled.sizes[rep_dim])}), rep_dim
    if rep.magnetization is None:
        return None
    return _stack_replicas(rep.magnetization.drop_vars("stderr", errors="ignore"), tuple(rep.settings["replica"]))


def _span(reports: Mapping[str, Report]) -> tuple[np.ndarray, float]:
    """Control values of every member (member × control; NaN-padded) and the span they cover."""
    from ._meta import control_values

    rows = [control_values(r.order, r.settings["control"]) for r in reports.values()]
    grid = np.full((len(rows), max(len(x) for x in rows)), np.nan)
    for i, x in enumerate(rows):
        grid[i, :len(x)] = x
    return grid, float(np.nanmax(grid) - np.nanmin(grid))


def _analyze_members(ds: xr.Dataset, *, across: str | None, sizes: Mapping[Any, float] | None,
                     n_states: Any, **kw: Any) -> Report | None:
    """Analyse every member of a ``task``/``model``/``run``/``across`` dim and compare them.

    Each member goes through :func:`analyze` on its own (with its own q; nested member dims
    are split in turn). Then: ``comparison`` (boundaries aligned across members,
    :func:`phasekit.compare.boundary_comparison`; across runs with the spread of each
    boundary, :func:`phasekit.compare.run_spread`; whether the members share phases in
    attrs); across model sizes ``size_scaling`` (:func:`phasekit.compare.scale_across_sizes`);
    with ``across`` the ``diagram`` (:func:`phasekit.diagram.diagram_from_results`). The
    top-level fields are those of the largest model (models) or of the first member, named
    in ``settings["representative"]``; with nested member dims (runs inside models) the outer
    comparison uses each inner member's representative and the size scaling pools the replicas
    of every inner member (:func:`_pooled_magnetization`). Returns None when
    there is no member dim.
    """
    from .compare import boundary_comparison, phase_agreement, run_spread
    from .diagram import diagram_from_results

    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name="token")
    if sizes is not None and "model" not in token_array(ds).dims:
        raise SchemaError("sizes= names model sizes, but the data have no 'model' dim",
                          where=f"dims are {list(token_array(ds).dims)}",
                          fix="drop sizes=, or stack the models along a 'model' dim")
    dim = _member_dim(ds, across)
    if dim is None:
        return None
    if dim == "model":
        ds = _model_sizes(ds, sizes)
    inner_across = None if dim == across else across
    inner_sizes = None if dim == "model" else sizes          # a model dim nested inside tasks/runs
    reports = {key: analyze(sub, n_states=q, across=inner_across, sizes=inner_sizes, **kw)
               for key, sub, q in _members(ds, dim, n_states)}
    first = next(iter(reports.values()))
    control = first.settings["control"]
    grid, span = _span(reports)
    comparison = boundary_comparison({k: r.boundaries for k, r in reports.items()}, dim, control=control,
                                     control_span=span)
    if dim == "run":
        comparison = run_spread(comparison, dim)
    agree = phase_agreement({k: np.asarray(r.phases.values) for k, r in reports.items()})
    comparison.attrs.update(shares_phases=int(agree["shared"]), phase_agreement=agree["agreement"],
                            phase_sequences="; ".join(f"{k}: {' > '.join(v)}" for k, v in agree["sequences"].items()))
    scaling, note = (_scaling_across_models(ds, reports, kw["seed"], kw["n_bootstrap"]) if dim == "model"
                     else (None, first.transition_note))
    key = next(iter(reports))
    if dim == "model" and "size" in ds.coords and ds["size"].dims == ("model",):
        key = list(reports)[int(np.argmax(np.asarray(ds["size"].values, dtype=float)))]
    diagram = None
    if dim == across:
        labels = ds[dim].values if dim in ds.coords else np.arange(ds.sizes[dim])
        diagram = diagram_from_results([r.boundaries for r in reports.values()],
                                       [np.asarray(r.phases.values) for r in reports.values()],
                                       [r.order for r in reports.values()], across=dim, across_values=labels,
                                       control=control, control_labels=np.asarray(
                                           first.order[control].values if control in first.order.coords
                                           else np.arange(first.order.sizes[control])),
                                       control_grid=grid, attrs={"seed": kw["seed"], "n_bootstrap": kw["n_bootstrap"],
                                                                 "method": "the members' analyses"})
    top = reports[key]
    transition = scaling.transition if scaling is not None else top.transition
    settings = {**top.settings, "members_dim": dim, "representative": key, "across": across}
    provenance = {**top.provenance, "input": kw.get("input_description") or ds.attrs.get("source", "in-memory dataset"),
                  "dims": {str(k): int(v) for k, v in token_array(ds).sizes.items()}}
    return dataclasses.replace(top, members=reports, across=dim, comparison=comparison, size_scaling=scaling,
                               diagram=diagram, transition=transition, transition_note="" if scaling else note,
                               settings=settings, provenance=provenance)


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
    across: str | None = None,
    sizes: Mapping[Any, float] | None = None,
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
    across : a second control dim (sampling temperature, learning rate…): every value is
        analysed (``members``), boundaries compared (``comparison``) and the phase diagram
        drawn (``diagram``, :func:`phasekit.phase_diagram`)
    sizes : ``{model label: size}``, the finite-size variable of a ``model`` dim when the data
        have no ``size`` coordinate

    Several members (issue 16): a ``task`` dim (or a ``task`` coordinate along ``prompt``),
    a ``model`` dim, a ``run`` dim or ``across=`` are split first (see
    :func:`_analyze_members`): each member is analysed on its own (``n_states`` may be a
    mapping by member label, or an ``n_states`` coordinate along the dim), boundaries are
    aligned across members, runs give the spread of their boundaries, models with a
    ``size`` coordinate the critical point, exponents and transition order
    (``size_scaling``). The scaling size is separate from the configuration size N.

    Returns
    -------
    Report
    """
    members = _analyze_members(ds, across=across, sizes=sizes, n_states=n_states, system=system, replica=replica,
                               control=control, estimator=estimator, seed=seed, n_bootstrap=n_bootstrap,
                               progress=progress, input_description=input_description)
    if members is not None:
        return members
    return _analyze_single(ds, system=system, replica=replica, control=control, n_states=n_states,
                           estimator=estimator, seed=seed, n_bootstrap=n_bootstrap, progress=progress,
                           input_description=input_description)


# ----------------------------------------------------------------- one system: the stages
def _release_freed_memory() -> None:
    """Hand the heap memory freed by a stage back to the operating system (glibc's
    ``malloc_trim(0)``, as dask.distributed does for its workers; a no-op elsewhere).

    A stage's temporaries are freed when it ends, but glibc keeps freed heap pages mapped,
    so the process's resident size would carry every stage's largest transient into the
    next one; trimming between stages changes no number, only what stays resident.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (not Linux, or a C library without it)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        return None


class _Stages:
    """Progress bar and wall time of each stage (``provenance["stage_seconds"]``)."""

    def __init__(self, total: int, progress: bool):
        self.bar = _progress(total, progress)
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        start = time.perf_counter()
        yield
        _release_freed_memory()
        self.seconds[name] = round(time.perf_counter() - start, 4)
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


def _prepare(ds: xr.Dataset | xr.DataArray, system: Any, replica: Any, control: str | None,
             n_states: int | None) -> tuple[xr.Dataset, tuple[Hashable, ...], tuple[Hashable, ...], str, int | None]:
    """The Dataset with q recorded, and the roles checked (a SchemaError names what is wrong)."""
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
    # model/run/task dims and across= were split by _analyze_members before this point
    other_extra = [d for d in tok.dims if d not in (*system, *replica, control, "prompt", "sample")]
    if other_extra:
        raise SchemaError(f"analyze does not know what to do with dim(s) {other_extra}",
                          where=f"dims are {list(tok.dims)}",
                          fix=f"a second control: analyze(ds, across={str(other_extra[0])!r}) (CLI --across); "
                          "else select one value (ds.sel(...)) or name the dims in system=/replica=")
    return ds, system, replica, str(control), q


def _token_dims(ens: Ensemble) -> list[Hashable]:
    """The token dims in the data's order."""
    return list(ens.provenance.get("dims", [*ens.dims, *ens.system]))


#: configurations per block of the order-parameter stage (caps its per-entry temporaries:
#: ~35 MiB at q = 10)
ORDER_BLOCK_CONFIGS = 25_000


def _by_control_blocks(ens: Ensemble, func: Any) -> xr.Dataset:
    """``func`` (a per-configuration function of an Ensemble) on consecutive blocks of the
    control dim of about :data:`ORDER_BLOCK_CONFIGS` configurations, assembled.

    Every configuration is computed from its own counts, so the result equals one call on
    the whole Ensemble; the attrs that depend on all configurations (``N`` or
    ``N_min``/``N_max``) are recomputed from ``n_tokens``. Only one block's temporaries are
    alive at once, and each block's values are copied into arrays allocated once at the
    full size (:func:`_assemble_along`), so the blocks are never all held next to their
    concatenation.
    """
    from .lazy import SIZE_ATTRS, _size_attrs

    c = ens.counts
    n_ctrl = c.shape[c.dims.index(ens.control)]
    step = max(1, ORDER_BLOCK_CONFIGS // max(1, c.n_config // max(n_ctrl, 1)))
    if step >= n_ctrl:
        return func(ens)
    blocks = (func(dataclasses.replace(
        ens, counts=c.isel({ens.control: slice(a, min(n_ctrl, a + step))}),
        control_values=ens.control_values[a:a + step],
        stage=None if ens.stage is None else ens.stage[a:a + step], _pooled={})) for a in range(0, n_ctrl, step))
    out = _assemble_along(blocks, ens.control, n_ctrl)
    if "n_tokens" in out:
        sizes = _size_attrs(out["n_tokens"].values)
        for obj in (out, *out.data_vars.values()):
            if any(k in obj.attrs for k in SIZE_ATTRS):
                obj.attrs = {**{k: v for k, v in obj.attrs.items() if k not in SIZE_ATTRS}, **sizes}
    return out


def _assemble_along(blocks: Iterable[xr.Dataset], dim: Hashable, size: int) -> xr.Dataset:
    """``xr.concat(blocks, dim, data_vars="all", coords="minimal", compat="override",
    combine_attrs="override")`` for blocks whose every data variable lies along ``dim``,
    consumed one at a time: each block's values go into arrays of the full size (dtype
    promoted if a later block needs it), the coordinates along ``dim`` are concatenated
    (small), everything else (other coordinates, attrs) is the first block's."""
    first: xr.Dataset | None = None
    arrays: dict[Hashable, np.ndarray] = {}
    along: list[xr.Dataset] = []
    start = 0
    for part in blocks:
        if first is None:
            first = part.isel({dim: slice(0, 0)})
            if any(dim not in part[v].dims for v in part.data_vars):
                return xr.concat([part, *blocks], dim=dim, data_vars="all", coords="minimal", compat="override",
                                 combine_attrs="override")
        n = part.sizes[dim]
        for name, var in part.data_vars.items():
            axis = var.dims.index(dim)
            if name not in arrays:
                shape = list(var.shape)
                shape[axis] = size
                arrays[name] = np.empty(shape, dtype=var.dtype)
            elif np.result_type(arrays[name].dtype, var.dtype) != arrays[name].dtype:
                arrays[name] = arrays[name].astype(np.result_type(arrays[name].dtype, var.dtype))
            index = [slice(None)] * var.ndim
            index[axis] = slice(start, start + n)
            arrays[name][tuple(index)] = var.values
        along.append(part.drop_vars(list(part.data_vars)).coords.to_dataset()[
            [k for k, v in part.coords.items() if dim in v.dims]])
        start += n
    assert first is not None
    joined = (xr.concat(along, dim=dim, coords="minimal", compat="override", combine_attrs="override").coords
              if along[0].coords else {})
    return xr.Dataset({name: (first[name].dims, arrays[name], first[name].attrs) for name in first.data_vars},
                      coords={**{k: v.variable for k, v in first.coords.items() if dim not in v.dims},
                              **{k: v.variable for k, v in joined.items()}},
                      attrs=first.attrs)


def _order_stage(ens: Ensemble, estimator: str | None) -> tuple[xr.Dataset, xr.DataArray | None, xr.Dataset]:
    """Order parameters per configuration (from the Ensemble's counts) and their replica means
    with the standard error over replicas; without replicas each value is one configuration's
    estimate and keeps its own error (``<var>_stderr``, and ``_lower``/``_upper`` where the
    estimate has an interval: the entropy's, as :func:`phasekit.entropy` gives it)."""
    from .observables import order_parameters, with_stderr

    est_kw = {} if estimator is None else {"estimator": estimator}
    per_config = _by_control_blocks(ens, lambda part: order_parameters(part, system=ens.system,
                                                                       n_states=ens.n_states, **est_kw))
    m = with_stderr(per_config, "magnetization") if "magnetization" in per_config else None
    order_vars: dict[str, Any] = {}
    for v in ORDER_VARS:
        if v in per_config:
            mean, se = _mean_over(per_config[v], ens.replica)
            order_vars[v] = mean
            order_vars[f"{v}_stderr"] = se
            if not ens.replica:  # one configuration per point: its own error bar and interval
                order_vars.update({f"{v}_{k}": per_config[f"{v}_{k}"] for k in ("stderr", "lower", "upper")
                                   if f"{v}_{k}" in per_config})
    return per_config, m, xr.Dataset(order_vars)


def _pooled_for_later_stages(ens: Ensemble) -> Ensemble:
    """The Ensemble pooled over every dim but control and prompt, when that is coarser than
    its configurations (sequence tasks: one row per sequence → one per prompt and checkpoint).

    Every stage after the order parameters counts over those dims or more (prompt
    structure, boundaries, seed attribution: all but control and prompt; the divergence
    scan: all but control), and those counts are exact sums of the stored rows, so each
    stage gets the same counts while the finer rows (1e7 entries on the 2.5e8-token store,
    ~130 MiB) are freed.
    """
    if "prompt" not in ens.dims:
        return ens
    coarse = tuple(d for d in _token_dims(ens) if d not in (ens.control, "prompt"))
    if set(coarse) == set(ens.system) or not set(ens.system) <= set(coarse):
        return ens
    return ens.pooled(coarse)


def _fluctuation_stage(order: xr.Dataset, per_config: xr.Dataset, m: xr.DataArray | None,
                       replica: tuple[Hashable, ...]) -> xr.Dataset:
    """Susceptibility and Binder cumulant of m over the replicas (jackknife errors)."""
    from .fluctuations import binder_cumulant, susceptibility

    if not replica or m is None:
        return order
    m_rep, rep_dim = _stack_replicas(m, replica)
    if m_rep.sizes[rep_dim] < 2:
        return order
    # N per configuration; when configurations differ in size (unparsed answers, missing
    # samples) chi uses the mean size, and the attrs say so
    n_sys = float(m.attrs["N"]) if "N" in m.attrs else float(
        per_config["n_tokens"].where(per_config["n_tokens"] > 0).mean())
    chi = susceptibility(m_rep, replica=rep_dim, n=n_sys)
    u = binder_cumulant(m_rep, replica=rep_dim)
    if "N" not in m.attrs:
        chi.attrs["N_note"] = "configurations differ in size; n = their mean size"
    for name, est in (("susceptibility", chi), ("binder", u)):  # <name>, <name>_stderr variables
        for var, da in as_dataset_estimate(est, name).items():
            order[var] = da.reset_coords(drop=True)
    return order


def _prompt_structure_stage(order: xr.Dataset, ens: Ensemble, n_bootstrap: int, seed: int) -> xr.Dataset:
    """Between-prompt divergence and overlap (counts pooled over every dim but control and prompt)."""
    from .observables import prompt_structure

    if "prompt" in ens.dims and ens.sizes["prompt"] >= 2:
        struct_system = tuple(d for d in _token_dims(ens) if d not in (ens.control, "prompt"))
        ps = prompt_structure(ens, prompt="prompt", system=struct_system, n_states=ens.n_states,
                              n_bootstrap=n_bootstrap, seed=seed)
        for v in ps.data_vars:
            order[v] = ps[v].reset_coords(drop=True)
    for c in ("step", "stage"):
        coord = ens.coords.get(c)
        if coord is not None and tuple(coord.dims) == (ens.control,):
            order = order.assign_coords({c: coord})
    return order


def _seed_stage(ens: Ensemble, n_bootstrap: int, seed: int) -> xr.Dataset | None:
    """Seed attribution of every (checkpoint, prompt) against the base stage (or the first checkpoint)."""
    from .observables import seed_attribution

    if "prompt" not in ens.dims:
        return None
    seed_system = tuple(d for d in _token_dims(ens) if d not in (ens.control, "prompt"))
    return seed_attribution(ens, reference=_seed_reference(ens), control=ens.control, prompt="prompt",
                            system=seed_system, n_states=ens.n_states, n_bootstrap=n_bootstrap, seed=seed)


def _scan_stage(ens: Ensemble, seed: int) -> xr.DataArray:
    """The divergence scan along the control dim (counts pooled over every other dim)."""
    from .changepoints import divergence_scan

    scan_system = tuple(d for d in _token_dims(ens) if d != ens.control)
    return divergence_scan(ens, control=ens.control, system=scan_system, n_states=ens.n_states, seed=seed)


def _correlation_stage(work: xr.Dataset, control: str) -> xr.Dataset | None:
    """C(r) along positions per checkpoint and ξ (sequence tasks): the second read of the tokens.

    Both from one pass (:func:`phasekit.correlations.correlation_function_and_length`), so ξ's
    error is the jackknife of the whole fit; ξ fitted to the finished curve would treat the lags
    as independent (2.8–3.6× too small on Markov chains). Dask-backed tokens are read block by
    block of the control dim, never all at once.
    """
    from .correlations import correlation_function_and_length

    tok = token_array(work)
    if "position" not in tok.dims or tok.sizes["position"] < 4:
        return None
    cf, xi = correlation_function_and_length(work, sequence="position", keep=control)
    # one 'stderr' coord per Dataset: C(r)'s is kept as a correlation_function_stderr variable
    cf_vars = as_dataset_estimate(cast(xr.DataArray, cf), "correlation_function")  # C(r) is a DataArray
    return xr.Dataset({**cf_vars, "correlation_length": xi})


_SINGLE_SIZE_NOTE = ("one system size only: the order of the transition (first-order vs continuous vs "
                     "crossover) needs the same analysis at several sizes (a 'model' dim with a 'size' "
                     "coordinate); the Binder cumulant and the order-parameter histograms in this report are "
                     "single-size hints only")


def _provenance(ds: xr.Dataset, ens: Ensemble, per_config: xr.Dataset, boundaries: Any, estimator: str | None,
                seed: int, input_description: str | None, stage_seconds: dict[str, float]) -> dict[str, Any]:
    return {
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
                    if k in ("source", "encoder", "text_column", "n_unparsed", "n_missing", "n_rows",
                             "n_generations", "n_parsed", "n_failed", "unparsed_reasons", "audit")},
        "dims": {str(k): int(v) for k, v in token_array(ds).sizes.items()},
        "counted_once": "every count-based stage used one Ensemble (phasekit.ensemble); correlations read "
                        "the tokens a second time (sequence tasks)",
        "stage_seconds": dict(stage_seconds),
    }


def _analyze_single(ds: xr.Dataset, *, system: Any, replica: Any, control: str | None, n_states: int | None,
                    estimator: str | None, seed: int, n_bootstrap: int, progress: bool,
                    input_description: str | None) -> Report:
    """The pipeline on one system: the tokens are counted once into an Ensemble that every
    count-based stage shares; only correlations (sequence tasks) read the tokens again."""
    from .changepoints import detect_boundaries
    from .configurations import ensemble

    ds, system, replica, control, q = _prepare(ds, system, replica, control, n_states)
    stage = _Stages(9, progress)
    with stage("counts"):
        ens = ensemble(ds, system=system, replica=replica, control=control, n_states=q)
    with stage("order parameters"):
        per_config, m, order = _order_stage(ens, estimator)
    with stage("fluctuations"):
        order = _fluctuation_stage(order, per_config, m, replica)
    with stage("between-prompt structure"):
        ens = _pooled_for_later_stages(ens)  # the per-configuration rows are freed from here on
        order = _prompt_structure_stage(order, ens, n_bootstrap, seed)
    with stage("phase boundaries"):
        boundaries = detect_boundaries(ens, control=control, seed=seed, n_bootstrap=n_bootstrap, n_states=q)
    with stage("seed attribution"):
        seed_ds = _seed_stage(ens, n_bootstrap, seed)
    with stage("divergence scan"):
        scan = _scan_stage(ens, seed)
    with stage("correlations"):
        corr = _correlation_stage(ds, control)
    with stage("transition order"):  # one size here; across model sizes see _analyze_members
        transition_note = _SINGLE_SIZE_NOTE
    stage.close()
    settings = {"system": system, "replica": replica, "control": control, "n_states": q, "seed": seed,
                "n_bootstrap": n_bootstrap, "left_out": left_out_without_q(q)}
    return Report(order=order, per_config=per_config, magnetization=m, boundaries=boundaries,
                  phases=boundaries.phases, seed=seed_ds, divergence=scan, correlation=corr, transition=None,
                  transition_note=transition_note, settings=settings,
                  provenance=_provenance(ds, ens, per_config, boundaries, estimator, seed, input_description,
                                         stage.seconds))
