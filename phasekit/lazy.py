"""Lazy, block-wise evaluation of per-configuration functions on dask-backed tokens.

A per-configuration function (``magnetization``, ``order_parameters``, ``entropy``) maps
the tokens of every configuration — one cell of the grid of the dims **not** in
``system`` — to a few numbers. On dask-backed tokens :func:`map_configurations` runs the
function's numpy path once per dask block and assembles the outputs as lazy xarray
objects:

* the ``system`` dims are rechunked to one chunk (a configuration never straddles
  blocks); the user's chunks along every other dim are kept;
* one task per block computes every output at once (a tuple), and one cheap
  ``getitem`` task per output array and block picks it apart: this is
  ``xr.apply_ufunc(..., dask="parallelized")`` with the ``system`` dims
  as core dims (it is that call), so that outputs may have extra dims. The graph's length
  per checkpoint chunk does not depend on how many prompts and samples a block holds:
  never one task per configuration;
* nothing is read until the user calls ``.compute()`` / ``.load()`` / ``dask.compute``;
  the result equals the in-memory result element for element, because each block runs
  the very same numpy code on the same tokens.

The function's structure (output variables, their dims and dtypes) is learned eagerly
from a synthetic template — one configuration of the real size filled with an alternating
0/1 pattern — so argument errors (missing q, unknown dims) are raised at call time, as on
the numpy path, and no data is read. Outputs may carry extra dims of fixed size besides the
configuration grid (e.g. ``lag`` for a correlation function).

Attributes are computed **from the real blocks**: every block task also returns the attrs
of its result, and :func:`materialize` (which computes the result, each token block read
once) merges them. An attr equal in every block is kept; a *data-dependent* attr is
reduced across blocks as declared (``reduce_attrs``: ``"sum"``, ``"min"``, ``"max"``,
``"mean"`` weighted by the block's number of configurations; the size attrs ``N`` /
``N_min`` / ``N_max`` by default combine like the numpy path's — ``N`` when every
non-empty configuration has the same size, else the extremes). An undeclared attr that
differs between blocks is dropped with a warning and named in
``attrs_varying_across_blocks``. Before :func:`materialize` the lazy result carries only
the attrs that cannot depend on the data: the declared ones, the size attrs and any attr
that differs between two synthetic templates are left out and named in ``N_deferred``
(sizes) / ``attrs_deferred``.

Reference: the dask "blockwise" model (Rocklin, *Dask: Parallel computation with
blocked algorithms and task scheduling*, SciPy 2015).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Iterable
from typing import Any, cast

import numpy as np
import xarray as xr

from ._meta import require_system, resolve_n_states
from .errors import SchemaError

__all__ = ["is_lazy", "map_configurations", "materialize", "SIZE_ATTRS", "REDUCTIONS"]

#: attrs that depend on the configuration sizes, i.e. on the data
SIZE_ATTRS = ("N", "N_min", "N_max")
_DEFERRED_NOTE = ("configuration sizes are data-dependent and were not read (lazy result); "
                  "phasekit.lazy.materialize(result) computes it and fills N from n_tokens")
_ATTRS_DEFERRED_NOTE = ("data-dependent attrs, not read (lazy result); phasekit.lazy.materialize(result) "
                        "computes them from the blocks: ")
#: how a declared data-dependent attr combines over blocks: (values, configurations per block) -> value
REDUCTIONS: dict[str, Callable[[list, np.ndarray], Any]] = {
    "sum": lambda v, n: sum(v),
    "min": lambda v, n: min(v),
    "max": lambda v, n: max(v),
    "mean": lambda v, n: float(np.dot(np.asarray(v, dtype=float), n) / n.sum()),
}
#: attribute of a lazy result's output dask arrays holding the blocks' attrs (a dask array
#: of :class:`_BlockAttrs`) and the declared reductions: it lives and dies with the arrays,
#: so no graph (which may embed the input's numpy data) outlives its result
_BLOCK_ATTRS = "_phasekit_block_attrs"


def is_lazy(obj: Any) -> bool:
    """True when ``obj`` (Dataset with ``token``, token DataArray) holds dask-backed tokens."""
    if isinstance(obj, xr.Dataset):
        if "token" not in obj.data_vars:
            return False
        obj = obj["token"]
    if isinstance(obj, xr.DataArray):
        return type(obj.data).__module__.startswith("dask")
    return False


def _token(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    from .schema import token_array

    return token_array(ds)


def _outputs(result: xr.Dataset | xr.DataArray, kept: tuple[Hashable, ...]
             ) -> tuple[list[tuple[str, str, tuple]], dict[Hashable, Any]]:
    """The per-configuration arrays of a result and its static coordinates.

    Returns ``[(kind, name, dims)]`` with kind "self"/"var"/"coord" and dims = the kept
    dims followed by the output's own extra dims (e.g. ``lag``), and the coordinates that
    live on extra dims only (e.g. the ``lag`` index), which are the same for every block.
    """
    def out_dims(name: str, dims: tuple) -> tuple:
        if not set(kept) <= set(dims):
            raise TypeError(f"map_configurations: {name!r} has dims {dims}; every output must span the "
                            f"configuration grid {kept}")
        return (*kept, *[d for d in dims if d not in kept])

    items: list[tuple[str, str, tuple]] = []
    if isinstance(result, xr.DataArray):
        items.append(("self", "", out_dims(str(result.name), result.dims)))
    else:
        for name, var in result.data_vars.items():
            items.append(("var", str(name), out_dims(str(name), var.dims)))
    static: dict[Hashable, Any] = {}
    for name, coord in result.coords.items():
        if set(coord.dims) & set(kept):
            if name in result.dims:
                continue  # the blocks carry no kept-dim index; the input's is attached
            items.append(("coord", str(name), out_dims(str(name), coord.dims)))
        else:
            static[name] = coord.variable
    return items, static


def _pick(result: xr.Dataset | xr.DataArray, kind: str, name: str, dims: tuple) -> np.ndarray:
    if kind == "self":
        obj = result
    elif kind == "var":
        obj = result[name]
    else:
        obj = result.coords[name]
    return np.asarray(obj.transpose(*dims).values)


def _defer_attrs(attrs: dict[str, Any], deferred: set[str]) -> dict[str, Any]:
    """A template's attrs without the data-dependent ones, which are named instead."""
    out = {k: v for k, v in attrs.items() if k not in deferred and k not in SIZE_ATTRS}
    if any(k in SIZE_ATTRS for k in attrs):
        out["N_deferred"] = _DEFERRED_NOTE
    other = sorted(k for k in attrs if k in deferred and k not in SIZE_ATTRS)
    if other:
        out["attrs_deferred"] = _ATTRS_DEFERRED_NOTE + ", ".join(other)
    return out


def _item_attrs(result: xr.Dataset | xr.DataArray, items: list[tuple[str, str, tuple]]) -> dict[str, dict]:
    """The attrs of a result ("") and of each of its output arrays (by name)."""
    out: dict[str, dict] = {"": dict(result.attrs)}
    for kind, name, _dims in items:
        if kind == "var":
            out[name] = dict(result[name].attrs)
        elif kind == "coord":
            out[name] = dict(result.coords[name].attrs)
    return out


def _differing(a: dict[str, dict], b: dict[str, dict]) -> set[str]:
    """Attr names whose values differ between two templates' :func:`_item_attrs`."""
    return {k for item in a for k in set(a[item]) | set(b.get(item, {}))
            if not _same(a[item].get(k), b.get(item, {}).get(k))}


def _same(x: Any, y: Any) -> bool:
    try:
        return bool(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True))
    except TypeError:  # not numeric: NaN cannot occur
        return bool(np.array_equal(np.asarray(x, dtype=object), np.asarray(y, dtype=object)))


def map_configurations(
    func: Callable[..., xr.Dataset | xr.DataArray],
    ds: xr.Dataset | xr.DataArray,
    system: Hashable | Iterable[Hashable],
    *,
    kwargs: dict[str, Any] | None = None,
    n_states: int | None = None,
    extra_coords: dict[Hashable, Any] | None = None,
    system_kwarg: str | None = "system",
    reduce_attrs: dict[str, str] | None = None,
) -> xr.Dataset | xr.DataArray:
    """Apply a per-configuration function block by block to dask-backed tokens, lazily.

    Parameters
    ----------
    func : callable ``func(tokens, system=..., **kwargs)`` whose numpy path returns a
        DataArray or Dataset whose every variable and non-index coordinate (e.g.
        ``stderr``) spans the configuration grid (all token dims not in ``system``),
        possibly with extra dims of fixed size (e.g. ``lag``); it must treat every
        configuration independently.
    ds : Dataset with a dask-backed ``token`` variable, or that DataArray
    system : the dims one configuration spans
    kwargs : further keyword arguments for ``func`` (e.g. ``n_states``, ``estimator``);
        must not depend on other configurations
    n_states : q, attached to every block's tokens as ``attrs["n_states"]`` (default:
        the data's ``n_states`` attr)
    extra_coords : coordinates on dims other than the token dims (e.g. the ``state``
        labels) given to every block; the blocks are then passed as Datasets
    system_kwarg : the keyword through which ``func`` receives the system dims (None:
        not passed, e.g. ``correlation_function(..., keep=...)`` which names the kept
        dims itself)
    reduce_attrs : data-dependent attrs of ``func``'s result and how the blocks' values
        combine into the value over all configurations (a name of :data:`REDUCTIONS`,
        e.g. ``{"N": "mean", "k_moved_beyond_interval": "sum"}``). The size attrs
        ``N``/``N_min``/``N_max`` need no entry unless they mean something else.

    Returns
    -------
    The same kind of object ``func`` returns, dask-backed, with the coordinates of the
    input along the kept dims. Its data-dependent attrs are left out until
    :func:`materialize`, which computes them from the blocks (module docstring).

    Notes
    -----
    Graph size: with ``B`` blocks along the kept dims and ``V`` output arrays the graph
    holds the input's own tasks, one ``func`` task per block and ``V + 1`` getitem tasks
    per block (the last for the block's attrs) — linear in the number of blocks,
    independent of the block size.
    """
    tok = _token(ds)
    system = require_system(tok, system, caller="map_configurations")
    if not np.issubdtype(tok.dtype, np.integer):
        raise SchemaError(f"tokens must be integers, got dtype {tok.dtype}", where="variable 'token'",
                          fix="map answers to integer states with open_samples(..., encoder=...)")
    reductions = _check_reductions(reduce_attrs)
    kwargs = dict(kwargs or {})
    q = resolve_n_states(tok, n_states)  # the token variable's attrs first, then the Dataset's
    if isinstance(ds, xr.Dataset) and q is None:
        q = resolve_n_states(ds)
    kept = tuple(d for d in tok.dims if d not in system)
    if not kept:
        raise SchemaError("every dim is a system dim: there is a single configuration",
                          where=f"system={list(system)}", fix="compute() the tokens first (one block)")
    block_coords = dict(extra_coords or {})
    run = _BlockRunner(func, kept, system, {} if q is None else {"n_states": int(q)}, block_coords,
                       system_kwarg, kwargs)
    # structure (names, dims, dtypes) from two synthetic one-configuration templates; this
    # raises argument errors now, as the numpy path would, and reads no data. Attrs that
    # differ between the templates are data-dependent, as are the declared ones and the sizes.
    template = run(_template_block(tok, kept, system, pattern=0))
    items, static = _outputs(template, kept)
    deferred = set(reductions) | _differing(_item_attrs(template, items),
                                            _item_attrs(run(_template_block(tok, kept, system, pattern=1)), items))
    picked = [_pick(template, kind, name, dims) for kind, name, dims in items]
    spec = _BlockFunction(_block_key(func, tok.data, system, q, kwargs, block_coords), run, items, len(system))
    # xarray's own machinery: one task per block computes every output and the block's attrs
    # (the system dims are the core dims, one chunk each; the user's chunks along the kept
    # dims are kept); dask's apply_gufunc picks them apart, one getitem task per output and block
    extra_sizes = {d: int(n) for (_k, _n, dims), ex in zip(items, picked, strict=True)
                   for d, n in zip(dims[len(kept):], ex.shape[len(kept):], strict=True)}
    res = xr.apply_ufunc(spec, tok.chunk({d: -1 for d in system}), input_core_dims=[list(system)],
                         output_core_dims=[list(dims[len(kept):]) for _k, _n, dims in items] + [[]],
                         dask="parallelized", output_dtypes=[ex.dtype for ex in picked] + [object],
                         dask_gufunc_kwargs={"output_sizes": extra_sizes} if extra_sizes else None)
    *res_list, block_attrs = res
    coords = {k: v.variable for k, v in tok.coords.items() if set(v.dims) <= set(kept)}
    coords.update(static)
    outs = [xr.DataArray(r.data, dims=dims, coords={k: v for k, v in coords.items() if set(v.dims) <= set(dims)})
            for r, (_k, _n, dims) in zip(res_list, items, strict=True)]
    _register_block_attrs(outs, block_attrs.data, reductions)
    return _assemble(template, items, outs, deferred)


def _check_reductions(reduce_attrs: dict[str, str] | None) -> dict[str, str]:
    unknown = {k: v for k, v in (reduce_attrs or {}).items() if v not in REDUCTIONS}
    if unknown:
        raise SchemaError(f"unknown attr reductions {unknown}", where="map_configurations(reduce_attrs=...)",
                          fix=f"use one of {sorted(REDUCTIONS)}")
    return dict(reduce_attrs or {})


def _template_block(tok: xr.DataArray, kept: tuple, system: tuple, *, pattern: int) -> np.ndarray:
    """One configuration of the real size: 0/1 alternating (pattern 0) or a single 1 among
    0s (pattern 1) — valid tokens for any q >= 2, with different statistics."""
    shape = (1,) * len(kept) + tuple(int(tok.sizes[d]) for d in system)
    if pattern == 0:
        return (np.indices(shape).sum(axis=0) % 2).astype(tok.dtype)
    block = np.zeros(shape, dtype=tok.dtype)
    block.reshape(-1)[0] = 1
    return block


def _assemble(template: xr.Dataset | xr.DataArray, items: list[tuple[str, str, tuple]], outs: list[xr.DataArray],
              deferred: set[str]) -> xr.Dataset | xr.DataArray:
    """The lazy result: ``func``'s kind of object from the lazy output arrays, with the
    template's attrs less the data-dependent ones."""
    def coord(name: str, o: xr.DataArray) -> xr.Variable:
        v = o.variable.copy(deep=False)
        v.attrs = _defer_attrs(dict(template.coords[name].attrs), deferred)
        return v

    if isinstance(template, xr.DataArray):
        main = outs[0].rename(template.name)
        main.attrs = _defer_attrs(dict(template.attrs), deferred)
        return main.assign_coords({name: coord(name, o) for (_k, name, _d), o in zip(items[1:], outs[1:], strict=True)})
    result_vars = {}
    for (kind, name, _dims), o in zip(items, outs, strict=True):
        if kind == "var":
            result_vars[name] = o.rename(name)
            result_vars[name].attrs = _defer_attrs(dict(template[name].attrs), deferred)
    out = xr.Dataset(result_vars).assign_coords(
        {name: coord(name, o) for (kind, name, _d), o in zip(items, outs, strict=True) if kind == "coord"})
    out.attrs = _defer_attrs(dict(template.attrs), deferred)
    return out


class _BlockRunner:
    """``func`` on one block of tokens (kept dims leading, system dims trailing), as a
    picklable object (dask.distributed ships it to the workers)."""

    def __init__(self, func: Callable, kept: tuple, system: tuple, tok_attrs: dict, block_coords: dict,
                 system_kwarg: str | None, kwargs: dict):
        self.func, self.kept, self.system, self.tok_attrs = func, kept, system, tok_attrs
        self.block_coords, self.system_kwarg, self.kwargs = block_coords, system_kwarg, kwargs

    def __call__(self, block: np.ndarray) -> xr.Dataset | xr.DataArray:
        arr: xr.Dataset | xr.DataArray = xr.DataArray(block, dims=(*self.kept, *self.system), attrs=self.tok_attrs)
        if self.block_coords:
            arr = xr.Dataset({"token": arr}, coords=self.block_coords, attrs=self.tok_attrs)
        if self.system_kwarg is None:
            return self.func(arr, **self.kwargs)
        return self.func(arr, **{self.system_kwarg: self.system}, **self.kwargs)


class _BlockAttrs:
    """One block's attrs (:func:`_item_attrs`) and its number of configurations, carried
    through an object array (in the block's first cell)."""

    __slots__ = ("attrs", "n_config")

    def __init__(self, attrs: dict[str, dict], n_config: int):
        self.attrs, self.n_config = attrs, n_config

    def __reduce__(self) -> tuple:
        return (_BlockAttrs, (self.attrs, self.n_config))


class _BlockFunction:
    """The per-block function: runs ``func``'s numpy path on one block and returns its output
    arrays and an object array holding the block's attrs. Dask names its tasks by ``key``
    (:func:`_block_key`): closures do not tokenize by value, so the key says which function,
    input and arguments they are."""

    def __init__(self, key: str, run: Callable[[np.ndarray], xr.Dataset | xr.DataArray],
                 items: list[tuple[str, str, tuple]], n_system: int):
        self.key, self.run, self.items, self.n_system = key, run, items, n_system
        # dask names the graph layer "<__name__>-<token>" (and splits it at the one dash)
        self.__name__ = "phasekit_" + key.split("-")[1].replace("-", "_") if key.count("-") >= 2 else "phasekit_map"

    def __dask_tokenize__(self) -> str:
        return self.key

    def __call__(self, block: np.ndarray) -> tuple[np.ndarray, ...]:
        block = np.asarray(block)
        res = self.run(block)
        grid = np.empty(block.shape[: block.ndim - self.n_system], dtype=object)
        if grid.size:
            grid.reshape(-1)[0] = _BlockAttrs(_item_attrs(res, self.items), grid.size)
        return (*(_pick(res, kind, name, dims) for kind, name, dims in self.items), grid)


def _block_key(func: Callable, data: Any, system: tuple, q: Any, kwargs: dict, extra: dict) -> str:
    """A graph key unique to (function, input, arguments): closures do not tokenize by value."""
    from dask.base import tokenize

    fname = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"
    try:
        tok = tokenize(fname, data.name, system, q, kwargs, {k: np.asarray(getattr(v, "values", v))
                                                             for k, v in extra.items()})
    except Exception:  # an argument dask cannot hash: never share keys
        import uuid

        tok = uuid.uuid4().hex
    return f"phasekit-{getattr(func, '__name__', 'map')}-{tok}"


def _size_attrs(n_tokens: np.ndarray) -> dict[str, int]:
    nz = np.asarray(n_tokens)
    nz = nz[nz > 0]
    if nz.size and np.all(nz == nz.flat[0]):
        return {"N": int(nz.flat[0])}
    if nz.size:
        return {"N_min": int(nz.min()), "N_max": int(nz.max())}
    return {}


def materialize(result: xr.Dataset | xr.DataArray, n_tokens: Any = None) -> xr.Dataset | xr.DataArray:
    """Compute a (possibly lazy) result and fill in its data-dependent attrs.

    For a result of :func:`map_configurations` made in this process, the attrs come from
    the blocks themselves (computed in the same pass as the arrays, each token block read
    once) and are merged as the module docstring says, so they equal the numpy path's.
    Otherwise ``N`` (or ``N_min``/``N_max``) is computed from ``n_tokens`` (the result's
    own ``n_tokens`` variable when it is a Dataset, or the array passed) exactly as the
    in-memory path computes it: ``N`` when every non-empty configuration has the same
    number of tokens. Eager results are returned unchanged.
    """
    lazy = any(type(v.data).__module__.startswith("dask") for v in
               (result.variables.values() if isinstance(result, xr.Dataset) else [result.variable,
                                                                                    *result.coords.values()]))
    if not lazy and not _has_deferred(result):
        return result
    entry = _lookup_block_attrs(result) if lazy else None
    result, extra = _compute_in_place(result, [entry[0]] if entry else [])
    if entry:
        return _apply_block_attrs(result, extra[0], entry[1])
    if n_tokens is None and isinstance(result, xr.Dataset) and "n_tokens" in result.data_vars:
        n_tokens = result["n_tokens"]
    if n_tokens is not None:
        if isinstance(n_tokens, xr.DataArray):
            n_tokens = n_tokens.compute()
        sizes = _size_attrs(np.asarray(n_tokens))
        targets = [result] + (list(result.data_vars.values()) if isinstance(result, xr.Dataset) else [])
        for t in targets:
            if "N_deferred" in t.attrs:
                del t.attrs["N_deferred"]
                t.attrs.update(sizes)
    if "attrs_deferred" in result.attrs:
        warnings.warn("phasekit.lazy.materialize: the block attrs of this lazy result are no longer attached "
                      f"(its arrays were replaced or unpickled); {result.attrs['attrs_deferred']}", stacklevel=2)
    return result


def _register_block_attrs(outs: list[xr.DataArray], block_attrs: Any, reductions: dict[str, str]) -> None:
    """Attach a lazy result's per-block attrs to each of its output dask arrays."""
    for o in outs:
        setattr(o.data, _BLOCK_ATTRS, (block_attrs, reductions))


def _lookup_block_attrs(result: xr.Dataset | xr.DataArray) -> tuple[Any, dict[str, str]] | None:
    """The block attrs of a lazy result (None once its arrays were replaced, e.g. by
    arithmetic or a pickle round trip)."""
    variables = result.variables.values() if isinstance(result, xr.Dataset) else [result.variable,
                                                                                  *result.coords.values()]
    for v in variables:
        entry = getattr(v.data, _BLOCK_ATTRS, None)
        if entry is not None:
            return cast("tuple[Any, dict[str, str]]", entry)
    return None


def _apply_block_attrs(result: xr.Dataset | xr.DataArray, grid: np.ndarray,
                       reductions: dict[str, str]) -> xr.Dataset | xr.DataArray:
    """Set the computed result's attrs (and its variables' and coordinates') to the blocks' merged attrs."""
    blocks = [b for b in np.asarray(grid).reshape(-1) if b is not None]
    merged, varying = _merge_block_attrs([b.attrs for b in blocks], np.array([b.n_config for b in blocks]),
                                         reductions)
    notes = {"N_deferred", "attrs_deferred", "attrs_varying_across_blocks"}
    for item, attrs in merged.items():
        target = result if item == "" else (result[item] if isinstance(result, xr.Dataset) and item in result.data_vars
                                            else result.coords[item])
        kept = {k: v for k, v in target.attrs.items() if k not in notes and k not in varying and k not in SIZE_ATTRS}
        target.attrs = {**kept, **attrs}
    if varying:
        result.attrs["attrs_varying_across_blocks"] = tuple(sorted(varying))
        warnings.warn(f"phasekit.lazy.materialize: attrs {sorted(varying)} differ between blocks and declare no "
                      "reduction (map_configurations(reduce_attrs=...)); they were dropped", stacklevel=3)
    return result


def _merge_block_attrs(blocks: list[dict[str, dict]], n_config: np.ndarray,
                       reductions: dict[str, str]) -> tuple[dict[str, dict], set[str]]:
    """The attrs over all configurations from the blocks' (module docstring): equal values
    kept, declared ones reduced, the sizes combined, the rest reported as varying."""
    merged: dict[str, dict] = {}
    varying: set[str] = set()
    for item in blocks[0] if blocks else {}:
        per_block = [b.get(item, {}) for b in blocks]
        attrs: dict[str, Any] = {}
        for key in dict.fromkeys(k for b in per_block for k in b):
            have = [i for i, b in enumerate(per_block) if key in b]
            values = [per_block[i][key] for i in have]
            if key in reductions:
                attrs[key] = REDUCTIONS[reductions[key]](values, n_config[have])
            elif key in SIZE_ATTRS:
                continue
            elif len(have) == len(per_block) and all(_same(values[0], v) for v in values[1:]):
                attrs[key] = values[0]
            else:
                varying.add(key)
        attrs.update(_merge_sizes([{k: v for k, v in b.items() if k in SIZE_ATTRS and k not in reductions}
                                   for b in per_block]))
        merged[item] = attrs
    return merged, varying


def _merge_sizes(per_block: list[dict[str, Any]]) -> dict[str, int]:
    """``N`` when every block's non-empty configurations have one common size, else
    ``N_min``/``N_max`` — what :func:`_size_attrs` gives over all configurations."""
    lo = [int(b["N"] if "N" in b else b["N_min"]) for b in per_block if b]
    hi = [int(b["N"] if "N" in b else b["N_max"]) for b in per_block if b]
    if not lo:
        return {}
    if min(lo) == max(hi):
        return {"N": int(min(lo))}
    return {"N_min": int(min(lo)), "N_max": int(max(hi))}


def _distributed_client() -> Any:
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _compute_in_place(result: xr.Dataset | xr.DataArray, extra: list[Any]
                      ) -> tuple[xr.Dataset | xr.DataArray, list[np.ndarray]]:
    """``result.compute()`` (and the dask arrays ``extra``, in the same pass) without the
    transient copies of a dask concatenation.

    With the local schedulers every block is written straight into a preallocated numpy
    array (``dask.array.store``), so the peak memory is the result itself plus a few
    blocks, not the result two or three times over (blocks, concatenation, copy). With a
    dask.distributed client the results must travel back anyway: plain ``compute``.
    """
    import dask
    import dask.array as da

    variables = result.variables if isinstance(result, xr.Dataset) else {
        **{k: v.variable for k, v in result.coords.items()}, None: result.variable}
    lazy = {k: v for k, v in variables.items() if isinstance(v.data, da.Array)}
    if not lazy or _distributed_client() is not None:
        out, *done = dask.compute(result, *extra)
        return out, [np.asarray(d) for d in done]
    targets = {k: np.empty(v.shape, dtype=v.dtype) for k, v in lazy.items()}
    extra_targets = [np.empty(e.shape, dtype=e.dtype) for e in extra]
    da.store([v.data for v in lazy.values()] + list(extra), list(targets.values()) + extra_targets, lock=False)
    if isinstance(result, xr.Dataset):
        return result.copy(data={k: targets.get(k, v.data) for k, v in result.data_vars.items()}).assign_coords(
            {k: result[k].variable.copy(data=targets[k]) for k in targets if k in result.coords}), extra_targets
    out = result.copy(data=targets[None]) if None in targets else result.copy()
    return out.assign_coords({k: out[k].variable.copy(data=targets[k]) for k in targets if k is not None}), \
        extra_targets


def _has_deferred(result: xr.Dataset | xr.DataArray) -> bool:
    notes = ("N_deferred", "attrs_deferred")
    if any(n in result.attrs for n in notes):
        return True
    return isinstance(result, xr.Dataset) and any(n in v.attrs for v in result.data_vars.values() for n in notes)
