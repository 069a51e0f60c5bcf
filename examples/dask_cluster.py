"""Run phasekit on a dask.distributed cluster — a local one here, a real one the same way.

    python examples/dask_cluster.py                          # LocalCluster, 2 worker processes
    python examples/dask_cluster.py --scheduler tcp://scheduler:8786   # an existing cluster
    python examples/dask_cluster.py --store samples.zarr      # your own Zarr/NetCDF samples

What happens:

1. the samples are opened lazily (``open_samples`` on a Zarr/NetCDF store gives dask
   arrays chunked one checkpoint per chunk; here a small synthetic crystallisation run is
   written to a temporary Zarr store first, unless ``--store`` is given);
2. ``order_parameters`` builds a lazy result — one task per checkpoint chunk — and
   ``dask.compute`` runs it on the cluster's workers;
3. ``count_states`` counts chunk by chunk on the workers (one task per chunk) and gathers
   only the sparse counts;
4. the counts go into an incremental :class:`phasekit.store.CountStore`, so tomorrow's
   checkpoints can be appended without recounting today's;
5. the whole report (``analyze``) runs with the client active; the CLI equivalent is
   ``phasekit analyze STORE -o OUT --scheduler tcp://scheduler:8786`` (or ``--workers N``).

With a client active, every dask computation phasekit triggers goes to the cluster: no
phasekit-specific configuration is needed. Workers need phasekit installed (same version).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import phasekit as pk
from phasekit.count import count_states
from phasekit.datasets import crystallisation_run
from phasekit.ingest import open_samples
from phasekit.lazy import materialize
from phasekit.observables import order_parameters
from phasekit.report import analyze
from phasekit.store import CountStore


def main(scheduler: str | None = None, store: str | None = None, workers: int = 2) -> dict:
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)  # a real cluster: the only line that changes
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    print(client)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if store is None:  # small by default: 30 checkpoints x 8 prompts x 24 samples
                data, truth = crystallisation_run(n_checkpoints=30, n_prompts=8, n_samples=24, seed=7)
                store = str(Path(tmp) / "samples.zarr")
                data.chunk(checkpoint=1).to_zarr(store)
                print(f"synthetic run written to {store}; true boundary steps {truth['boundaries']}")
            ds = open_samples(store)  # lazy: one checkpoint per chunk
            print(f"opened lazily: token chunks along checkpoint {ds['token'].chunks[0][:5]}...")

            op = order_parameters(ds, system="sample")  # lazy; nothing computed yet
            print(f"order parameters: {len(op['entropy'].data.__dask_graph__())} tasks for "
                  f"{ds.sizes['checkpoint']} checkpoints")
            op = materialize(op)  # computed on the cluster
            print(op["entropy"].mean("prompt").round(3).values)

            counts = count_states(ds, system="sample")  # one task per chunk, on the workers
            cs = CountStore.create(Path(tmp) / "counts.zarr", ds.isel(checkpoint=slice(0, -5)), system="sample")
            cs.append(ds.isel(checkpoint=slice(-5, None)))  # only the new checkpoints are counted
            assert (cs.counts().counts == counts.counts).all()
            print(cs)

            rep = analyze(ds, progress=False)  # the whole report with the client active
            out = Path(tmp) / "report"
            rep.write(out)
            print(rep.text_summary())
            return rep.to_dict()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scheduler", default=None, help="address of a running dask scheduler")
    ap.add_argument("--store", default=None, help="a Zarr/NetCDF samples store (default: synthetic)")
    ap.add_argument("--workers", type=int, default=2, help="local cluster size (without --scheduler)")
    a = ap.parse_args()
    print(f"phasekit {pk.__version__}")
    main(a.scheduler, a.store, a.workers)
