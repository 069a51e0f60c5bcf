"""A dask.distributed LocalCluster (2 worker processes) gives the single-process results.

The same code runs against a real cluster with ``Client("tcp://scheduler:8786")``
(see ``examples/dask_cluster.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

distributed = pytest.importorskip("distributed")

from phasekit.count import count_states  # noqa: E402
from phasekit.datasets import crystallisation_run  # noqa: E402
from phasekit.lazy import materialize  # noqa: E402
from phasekit.observables import order_parameters  # noqa: E402
from phasekit.report import analyze  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),  # zarr v3 string dtype notices
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
FAST = "miller_madow"


@pytest.fixture(scope="module")
def run():
    data, truth = crystallisation_run(n_checkpoints=24, n_prompts=6, n_samples=12, settling=False, seed=1)
    return data, truth


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _summary_core(d: dict) -> dict:
    return {k: d[k] for k in ("boundaries", "phases", "no_change_p_value", "seed")}


def test_cli_workers_same_boundaries(tmp_path, run):
    """``phasekit analyze INPUT -o OUT --workers 2`` writes the boundaries the plain run writes."""
    from phasekit.cli import main

    data, truth = run
    store = tmp_path / "run.zarr"
    data.chunk(checkpoint=4).to_zarr(store)
    assert main(["analyze", str(store), "-o", str(tmp_path / "plain"), "--quiet"]) == 0
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "phasekit.cli", "analyze", str(store), "-o",
                           str(tmp_path / "cluster"), "--workers", "2", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    cluster = json.loads((tmp_path / "cluster" / "summary.json").read_text())
    assert plain["boundaries"] == cluster["boundaries"]
    assert _summary_core(plain) == _summary_core(cluster)
    # and the boundary is the generator's (within one checkpoint)
    steps = data["step"].values
    found = [b["step"] for b in plain["boundaries"]]
    assert len(found) == 1
    i_found = int(np.flatnonzero(steps == found[0])[0])
    assert abs(i_found - truth["boundary_index"][0]) <= 1


def test_count_states_on_cluster(client, run):
    data, _ = run
    eager = count_states(data, system="sample")
    dist = count_states(data.chunk(checkpoint=5, prompt=4), system="sample")
    np.testing.assert_array_equal(dist.indptr, eager.indptr)
    np.testing.assert_array_equal(dist.states, eager.states)
    np.testing.assert_array_equal(dist.counts, eager.counts)
    # the work really ran on the cluster's workers
    assert len(client.scheduler_info()["workers"]) == 2


def test_order_parameters_on_cluster(client, run):
    data, _ = run
    eager = order_parameters(data, system="sample", estimator=FAST)
    lazy = order_parameters(data.chunk(checkpoint=3), system="sample", estimator=FAST)
    fut = client.compute(lazy["entropy"].data)  # explicitly on the cluster
    np.testing.assert_array_equal(fut.result(), eager["entropy"].values)
    xr.testing.assert_identical(materialize(lazy), eager)


def test_analyze_on_cluster_matches_single_process(client, run):
    data, _ = run
    kw = {"progress": False, "n_bootstrap": 40, "seed": 3, "estimator": FAST}
    single = analyze(data, **kw)
    dist = analyze(data.chunk(checkpoint=4), **kw)
    a, b = single.to_dict(), dist.to_dict()
    assert a["boundaries"] == b["boundaries"]
    assert _close(a["phases"], b["phases"])
    assert a["seed"] == b["seed"]
    xr.testing.assert_identical(single.per_config, dist.per_config)
    xr.testing.assert_allclose(single.order, dist.order, rtol=1e-12, atol=1e-15)


def _close(x, y) -> bool:
    """Equal structures; floats equal to 1e-12 (replica means may sum in another order)."""
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return len(x) == len(y) and all(_close(u, v) for u, v in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float):
        return bool(np.isclose(x, y, rtol=1e-12, atol=1e-15))
    return x == y
