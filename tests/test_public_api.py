"""DESIGN.md's public-API block, called exactly as written there.

Other labs' pipelines already call these lines; a redesign may add names and keywords
but must keep every one of them working (old keywords may warn, never fail). Each test
checks the call returns what the block promises (type, dims, fields), and where a value
is known exactly (the generators' ground truth) that it is right.
"""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest
import xarray as xr

import phasekit as pk
from phasekit.datasets import demo_dataset, markov_chain, potts_samples


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return demo_dataset().data


@pytest.fixture(scope="module")
def m_by_size() -> dict[int, xr.DataArray]:
    """Ising magnetisation at three small sizes around T_c (few samples: API check only)."""
    tc = 1 / np.log(1 + np.sqrt(2))
    temps = tc * np.linspace(0.85, 1.15, 7)
    out = {}
    for L in (6, 8, 10):
        data = potts_samples(2, L, temps, 48, n_equilibrate=30, seed=L).data
        out[L] = pk.magnetization(data, system="position", n_states=2)
    return out


def test_open_samples_and_validate(tmp_path) -> None:
    path = tmp_path / "generations.jsonl"
    rows = [{"checkpoint": f"step{s}", "prompt": p, "sample": k, "text": str((s + p + k) % 3 + 1)}
            for s in (100, 200, 300) for p in range(2) for k in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = pk.open_samples(str(path), format=None, text="text", encoder="integer", n_states=3)
    assert pk.validate(data) is not None
    assert list(data["step"].values) == [100, 200, 300]
    assert int((data["token"] >= 0).sum()) == len(rows)
    with pytest.raises(pk.SchemaError) as err:
        pk.validate(xr.Dataset({"x": ("a", [1])}))
    assert isinstance(err.value, ValueError)


def test_order_parameters_block(ds) -> None:
    H = pk.entropy(ds, system="sample", estimator=None, n_states=None)
    assert "stderr" in H.coords and set(H.dims) == {"checkpoint", "prompt"}
    m = pk.magnetization(ds, system="sample", n_states=None)
    assert float(m.min()) >= 0 and float(m.max()) <= 1
    op = pk.order_parameters(ds, system="sample")
    assert isinstance(op, xr.Dataset) and "entropy" in op


def test_fluctuations_block(ds) -> None:
    m = pk.magnetization(ds, system="sample")
    chi = pk.susceptibility(m, replica="prompt", n=None)
    u = pk.binder_cumulant(m, replica="prompt")
    assert chi.dims == ("checkpoint",) and u.dims == ("checkpoint",)
    assert "stderr" in chi.coords and "stderr" in u.coords


def test_correlations_block() -> None:
    lam = 0.8
    seqs = markov_chain(4, lam, 200, 64, seed=1).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # dim= is the old keyword
        c = pk.correlation_function(seqs, dim="position", max_lag=None)
        xi = pk.correlation_length(seqs, dim="position")
    assert "lag" in c.dims
    assert float(xi.values.ravel()[0]) == pytest.approx(-1 / np.log(lam), rel=0.15)
    series = xr.DataArray(np.random.default_rng(0).normal(size=200), dims="checkpoint")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        tau = pk.autocorrelation_time(series, dim="checkpoint")
    assert isinstance(tau, xr.DataArray)


def test_detect_boundaries_block(ds) -> None:
    truth = demo_dataset().truth
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        res = pk.detect_boundaries(ds, dim="checkpoint")
    assert len(res.locations) == len(res.intervals)
    assert isinstance(res.phases, xr.DataArray)
    for lo, hi in res.intervals:
        assert lo <= hi
    steps = np.asarray(ds["step"].values, dtype=float)
    true_steps = truth["boundaries"]                    # control values (steps)
    for t in true_steps:   # each true boundary found within one checkpoint
        nearest = min(res.locations, key=lambda x: abs(x - t))
        i_t, i_n = int(np.argmin(abs(steps - t))), int(np.argmin(abs(steps - nearest)))
        assert abs(i_t - i_n) <= 1
    pickle.loads(pickle.dumps(res))


def test_scaling_block(m_by_size) -> None:
    tc = 1 / np.log(1 + np.sqrt(2))
    kind = pk.classify_transition(m_by_size, replica="sample", control="temperature")
    assert str(kind.kind if hasattr(kind, "kind") else kind) in ("first_order", "continuous", "crossover")
    cp = pk.critical_point(m_by_size, replica="sample", control="temperature", method="binder")
    assert np.isfinite(cp.value) and np.isfinite(cp.stderr)
    assert abs(cp.value - tc) / tc < 0.1            # small lattices, few samples: a loose check
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        col = pk.finite_size_collapse(m_by_size, control="temperature", replica="sample", observable="chi")
    for name in ("critical_point", "nu", "exponent"):
        assert hasattr(col, name)


def test_ensemble_block(ds) -> None:
    ens = pk.ensemble(ds, system="sample", replica="prompt", control="checkpoint")
    assert isinstance(ens, pk.Ensemble)
    h_ds = pk.entropy(ds, system="sample")
    m_ens = pk.magnetization(ens)
    m_ds = pk.magnetization(ds, system="sample")
    np.testing.assert_allclose(m_ens.values, m_ds.values)
    assert h_ds.shape == m_ds.shape


def test_phase_diagram_block() -> None:
    from phasekit.datasets import temperature_collapse_run

    run = temperature_collapse_run(temperatures=(0.8, 1.2), n_prompts=6, n_samples=12, seed=3).data
    diag = pk.phase_diagram(run, control="checkpoint", across="temperature")
    out = diag.to_dataset()
    assert {"boundary", "phase"} <= set(out.data_vars)
    assert "temperature" in out["boundary"].dims and "temperature" in out["phase"].dims


def test_analyze_block(ds, tmp_path) -> None:
    rep = pk.analyze(ds, progress=False)
    rep.to_netcdf(tmp_path / "r.nc")
    rep.to_html(tmp_path / "r.html")
    assert "<html" in (tmp_path / "r.html").read_text().lower()
    rep.write(tmp_path / "out")
    assert (tmp_path / "out" / "summary.json").exists()
    fig = rep.plot()
    assert fig is not None
    no_q = ds.copy()
    no_q.attrs.pop("n_states", None)
    rep2 = pk.analyze(no_q, progress=False)            # q optional
    assert rep2.settings["n_states"] is None and rep2.settings["left_out"]
