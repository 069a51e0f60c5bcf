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

The function's structure (output variables, their dims, dtypes and attrs) is learned
eagerly from a synthetic template — one configuration of the real size filled with an
alternating 0/1 pattern — so argument errors (missing q, unknown dims) are raised at
call time, as on the numpy path, and no data is read. Outputs may carry extra dims of
fixed size besides the configuration grid (e.g. ``lag`` for a correlation function).
Attributes that depend on the data — the configuration size ``N`` (or
``N_min``/``N_max``) — cannot be known without reading every token; lazy results carry
``N_deferred`` instead, and :func:`materialize` computes a result (block by block into
preallocated arrays) and fills ``N`` in from its ``n_tokens`` variable.

Reference: the dask "blockwise" model (Rocklin, *Dask: Parallel computation with
blocked algorithms and task scheduling*, SciPy 2015).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from ._meta import require_system, resolve_n_states
from .errors import SchemaError

__all__ = ["is_lazy", "map_configurations", "materialize", "SIZE_ATTRS"]

#: attrs that depend on the configuration sizes, i.e. on the data
SIZE_ATTRS = ("N", "N_min", "N_max")
_DEFERRED_NOTE = ("configuration sizes are data-dependent and were not read (lazy result); "
                  "phasekit.lazy.materialize(result) computes it and fills N from n_tokens")


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


def _strip_size_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in attrs.items() if k not in SIZE_ATTRS}
    if len(out) != len(attrs):
        out["N_deferred"] = _DEFERRED_NOTE
    return out


def map_configurations(
    func: Callable[..., xr.Dataset | xr.DataArray],
    ds: xr.Dataset | xr.DataArray,
    system: Hashable | Iterable[Hashable],
    *,
    kwargs: dict[str, Any] | None = None,
    n_states: int | None = None,
    extra_coords: dict[Hashable, Any] | None = None,
    system_kwarg: str | None = "system",
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

    Returns
    -------
    The same kind of object ``func`` returns, dask-backed, with the coordinates of the
    input along the kept dims. Data-dependent size attrs (``N``, ``N_min``, ``N_max``)
    are replaced by ``N_deferred`` (see :func:`materialize`).

    Notes
    -----
    Graph size: with ``B`` blocks along the kept dims and ``V`` output arrays the graph
    holds the input's own tasks, one ``func`` task per block and ``V`` getitem tasks per
    block — linear in the number of blocks, independent of the block size.
    """
    tok = _token(ds)
    system = require_system(tok, system, caller="map_configurations")
    if not np.issubdtype(tok.dtype, np.integer):
        raise SchemaError(f"tokens must be integers, got dtype {tok.dtype}", where="variable 'token'",
                          fix="map answers to integer states with open_samples(..., encoder=...)")
    kwargs = dict(kwargs or {})
    q = resolve_n_states(tok, n_states)  # the token variable's attrs first, then the Dataset's
    if isinstance(ds, xr.Dataset) and q is None:
        q = resolve_n_states(ds)
    kept = tuple(d for d in tok.dims if d not in system)
    if not kept:
        raise SchemaError("every dim is a system dim: there is a single configuration",
                          where=f"system={list(system)}", fix="compute() the tokens first (one block)")
    tok_in = tok  # apply_ufunc moves the core (system) dims last itself
    tok = tok.transpose(*kept, *system)
    tok_attrs = {} if q is None else {"n_states": int(q)}

    block_coords = dict(extra_coords or {})

    def run(block: np.ndarray) -> xr.Dataset | xr.DataArray:
        arr: xr.Dataset | xr.DataArray = xr.DataArray(block, dims=(*kept, *system), attrs=tok_attrs)
        if block_coords:
            arr = xr.Dataset({"token": arr}, coords=block_coords, attrs=tok_attrs)
        if system_kwarg is None:
            return func(arr, **kwargs)
        return func(arr, **{system_kwarg: system}, **kwargs)

    # structure (names, dims, dtypes, attrs) from a template: one configuration of the
    # real size holding an alternating 0/1 pattern (valid for any q >= 2); this raises
    # argument errors now, as the numpy path would, and reads no data
    tshape = (1,) * len(kept) + tuple(int(tok.sizes[d]) for d in system)
    template = run((np.indices(tshape).sum(axis=0) % 2).astype(tok.dtype))
    items, static = _outputs(template, kept)
    picked = [_pick(template, kind, name, dims) for kind, name, dims in items]

    spec = _BlockFunction(_block_key(func, tok.data, system, q, kwargs, block_coords), run, items)
    # xarray's own machinery: one task per block computes every output (the system dims are
    # the core dims, one chunk each; the user's chunks along the kept dims are kept), and
    # dask's apply_gufunc picks the outputs apart with one getitem task per output and block
    extra_sizes = {d: int(n) for (_k, _n, dims), ex in zip(items, picked, strict=True)
                   for d, n in zip(dims[len(kept):], ex.shape[len(kept):], strict=True)}
    res = xr.apply_ufunc(spec, tok_in.chunk({d: -1 for d in system}), input_core_dims=[list(system)],
                         output_core_dims=[list(dims[len(kept):]) for _k, _n, dims in items],
                         dask="parallelized", output_dtypes=[ex.dtype for ex in picked],
                         dask_gufunc_kwargs={"output_sizes": extra_sizes} if extra_sizes else None)
    res_list = list(res) if isinstance(res, tuple) else [res]
    coords = {k: v.variable for k, v in tok.coords.items() if set(v.dims) <= set(kept)}
    coords.update(static)
    outs = [xr.DataArray(r.data, dims=dims, coords={k: v for k, v in coords.items() if set(v.dims) <= set(dims)})
            for r, (_k, _n, dims) in zip(res_list, items, strict=True)]
    if isinstance(template, xr.DataArray):
        main = outs[0].rename(template.name)
        main.attrs = _strip_size_attrs(dict(template.attrs))
        for (_kind, name, _dims), o in zip(items[1:], outs[1:], strict=True):
            v = o.variable.copy(deep=False)
            v.attrs = dict(template.coords[name].attrs)
            main = main.assign_coords({name: v})
        return main
    result_vars: dict[str, xr.DataArray] = {}
    out_coords: dict[str, Any] = {}
    for (kind, name, _dims), o in zip(items, outs, strict=True):
        if kind == "var":
            o = o.rename(name)
            o.attrs = _strip_size_attrs(dict(template[name].attrs))
            result_vars[name] = o
        else:
            v = o.variable.copy(deep=False)
            v.attrs = dict(template.coords[name].attrs)
            out_coords[name] = v
    out = xr.Dataset(result_vars)
    if out_coords:
        out = out.assign_coords(out_coords)
    out.attrs = _strip_size_attrs(dict(template.attrs))
    return out


class _BlockFunction:
    """The per-block function: runs ``func``'s numpy path on one block and returns its output
    arrays (one, or a tuple). Dask names its tasks by ``key`` (:func:`_block_key`): closures do
    not tokenize by value, so the key says which function, input and arguments they are."""

    def __init__(self, key: str, run: Callable[[np.ndarray], xr.Dataset | xr.DataArray],
                 items: list[tuple[str, str, tuple]]):
        self.key, self.run, self.items = key, run, items
        # dask names the graph layer "<__name__>-<token>" (and splits it at the one dash)
        self.__name__ = "phasekit_" + key.split("-")[1].replace("-", "_") if key.count("-") >= 2 else "phasekit_map"

    def __dask_tokenize__(self) -> str:
        return self.key

    def __call__(self, block: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        res = self.run(np.asarray(block))
        out = tuple(_pick(res, kind, name, dims) for kind, name, dims in self.items)
        return out if len(out) > 1 else out[0]


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
    """Compute a (possibly lazy) result and fill in its deferred size attrs.

    ``N`` (or ``N_min``/``N_max``) is computed from ``n_tokens`` (the result's own
    ``n_tokens`` variable when it is a Dataset, or the array passed) exactly as the
    in-memory path computes it: ``N`` when every non-empty configuration has the same
    number of tokens. Eager results are returned unchanged.
    """
    lazy = any(type(v.data).__module__.startswith("dask") for v in
               (result.variables.values() if isinstance(result, xr.Dataset) else [result.variable,
                                                                                    *result.coords.values()]))
    if not lazy and not _has_deferred(result):
        return result
    result = _compute_in_place(result)  # one graph: n_tokens of a Dataset comes with the rest
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
    return result


def _distributed_client() -> Any:
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _compute_in_place(result: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
    """``result.compute()`` without the transient copies of a dask concatenation.

    With the local schedulers every block is written straight into a preallocated numpy
    array (``dask.array.store``), so the peak memory is the result itself plus a few
    blocks, not the result two or three times over (blocks, concatenation, copy). With a
    dask.distributed client the results must travel back anyway: plain ``compute``.
    """
    import dask.array as da

    variables = result.variables if isinstance(result, xr.Dataset) else {
        **{k: v.variable for k, v in result.coords.items()}, None: result.variable}
    lazy = {k: v for k, v in variables.items() if isinstance(v.data, da.Array)}
    if not lazy or _distributed_client() is not None:
        return result.compute()
    targets = {k: np.empty(v.shape, dtype=v.dtype) for k, v in lazy.items()}
    da.store([v.data for v in lazy.values()], list(targets.values()), lock=False)
    if isinstance(result, xr.Dataset):
        return result.copy(data={k: targets.get(k, v.data) for k, v in result.data_vars.items()}).assign_coords(
            {k: result[k].variable.copy(data=targets[k]) for k in targets if k in result.coords})
    out = result.copy(data=targets[None]) if None in targets else result.copy()
    return out.assign_coords({k: out[k].variable.copy(data=targets[k]) for k in targets if k is not None})


def _has_deferred(result: xr.Dataset | xr.DataArray) -> bool:
    if "N_deferred" in result.attrs:
        return True
    return isinstance(result, xr.Dataset) and any("N_deferred" in v.attrs for v in result.data_vars.values())
