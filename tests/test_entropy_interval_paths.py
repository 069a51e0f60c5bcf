"""The entropy interval is the same on every public path (issue 14.2 follow-up).

``pk.entropy`` gives each configuration a 95% interval (``lower``/``upper`` coords) that is
asymmetric for the K-free ``chao_wang_jost`` and capped at ln K for ``bma``.  The same data
through :func:`phasekit.order_parameters` (and so :func:`phasekit.analyze`) must give that
same interval bit for bit, not a symmetric H -+ 1.96 stderr, and the transforms
1 - H/ln q and exp(H) must carry it through their (monotone) maps.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import xarray as xr

import phasekit as pk
from phasekit.count import count_states
from phasekit.entropy_estimators import entropy_from_fingerprint
from phasekit.lazy import materialize

K = 60


def _heavy_tailed(n_ckpt=3, n_prompt=3, n_sample=40, seed=11, n_states=True) -> xr.Dataset:
    """Zipf(1.1)-like answers over K states, flattening along checkpoint: many singletons and
    few doubletons, where CWJ's lower end differs from H - 1.96 stderr."""
    rng = np.random.default_rng(seed)
    tok = np.empty((n_ckpt, n_prompt, n_sample), dtype=np.int64)
    for i, s in enumerate(np.linspace(1.4, 0.8, n_ckpt)):
        p = np.arange(1, K + 1, dtype=float) ** -s
        tok[i] = rng.choice(K, size=(n_prompt, n_sample), p=p / p.sum())
    tok[0, 0, :5] = -1  # ragged: one configuration smaller
    return xr.Dataset({"token": (("checkpoint", "prompt", "sample"), tok)},
                      coords={"checkpoint": np.arange(n_ckpt) * 100},
                      attrs={"n_states": K} if n_states else {})


def _entropy(ds: xr.Dataset) -> xr.DataArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the K-sensitivity warning is not what is tested here
        return pk.entropy(ds, system="sample")


@pytest.mark.parametrize("with_k", [False, True], ids=["no_K_cwj", "K_bma"])
@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_order_parameters_interval_is_entropys_bit_for_bit(with_k, lazy):
    ds = _heavy_tailed(n_states=with_k)
    ref = _entropy(ds)
    assert ref.attrs["estimator"] == ("bma" if with_k else "chao_wang_jost")
    o = pk.order_parameters(ds.chunk(checkpoint=1) if lazy else ds, system="sample")
    if lazy:
        o = materialize(o)
    h, lo, up = ref.values, ref.coords["lower"].values, ref.coords["upper"].values
    for end, want in (("lower", lo), ("upper", up)):
        np.testing.assert_array_equal(o[f"entropy_{end}"].transpose(*ref.dims).values, want)
        assert o[f"entropy_{end}"].attrs["confidence"] == 0.95
    # the interval is not the symmetric one (so a symmetric implementation fails here)
    z = 1.959963984540054
    se = ref.coords["stderr"].values
    sym_lo, sym_up = np.maximum(h - z * se, 0.0), h + z * se
    assert not (np.allclose(lo, sym_lo) and np.allclose(up, sym_up))
    # H and stderr are those of the fingerprint function (unchanged by the interval)
    c = count_states(ds, system="sample", n_states=K if with_k else None)
    h0, se0 = entropy_from_fingerprint(*c.fingerprint(), estimator=ref.attrs["estimator"],
                                       n_states=K if with_k else None)
    np.testing.assert_array_equal(o["entropy"].transpose(*ref.dims).values, h0.reshape(c.shape))
    np.testing.assert_array_equal(o["entropy_stderr"].transpose(*ref.dims).values, se0.reshape(c.shape))
    # with_stderr turns the variables into the coordinates pk.entropy has
    w = pk.with_stderr(o, "entropy").transpose(*ref.dims)
    np.testing.assert_array_equal(w.coords["lower"].values, lo)
    assert w.attrs["confidence"] == 0.95


@pytest.mark.parametrize("with_k", [False, True], ids=["no_K_cwj", "K_bma"])
def test_order_entropy_and_effective_states_carry_the_interval(with_k):
    ds = _heavy_tailed(n_states=with_k)
    ref = _entropy(ds)
    o = pk.order_parameters(ds, system="sample")
    lo, up = ref.coords["lower"].values, ref.coords["upper"].values
    np.testing.assert_allclose(o["effective_states_lower"].transpose(*ref.dims).values, np.exp(lo), rtol=1e-15)
    np.testing.assert_allclose(o["effective_states_upper"].transpose(*ref.dims).values, np.exp(up), rtol=1e-15)
    if with_k:  # 1 - H/ln q is decreasing in H: its lower end comes from H's upper end
        np.testing.assert_allclose(o["order_entropy_lower"].transpose(*ref.dims).values,
                                   1.0 - up / np.log(K), rtol=1e-15)
        np.testing.assert_allclose(o["order_entropy_upper"].transpose(*ref.dims).values,
                                   1.0 - lo / np.log(K), rtol=1e-15)
        assert np.all(o["order_entropy_lower"] <= o["order_entropy"])
        assert np.all(o["order_entropy"] <= o["order_entropy_upper"])
    else:
        assert "order_entropy" not in o and "order_entropy_lower" not in o


def test_empty_configuration_has_no_interval():
    ds = _heavy_tailed()
    ds["token"][1, 2, :] = -1
    o = pk.order_parameters(ds, system="sample")
    for v in ("entropy", "order_entropy", "effective_states"):
        for end in ("lower", "upper"):
            assert np.isnan(o[f"{v}_{end}"].values[1, 2])
            assert np.isfinite(np.delete(o[f"{v}_{end}"].values.ravel(), 5)).all()


# --------------------------------------------------------------- analyze and its report
@functools.cache
def _one_prompt_run():
    """A run with one configuration per checkpoint (no replicas), where the report's entropy
    error bar is the estimate's own."""
    ds, _ = pk.datasets.crystallisation_run(n_checkpoints=18, n_prompts=1, n_samples=40, seed=4)
    ds = ds.isel(prompt=0, drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = pk.analyze(ds, seed=2, progress=False, n_bootstrap=20)
    return ds, rep


def test_analyze_without_replicas_reports_entropys_interval():
    ds, rep = _one_prompt_run()
    ref = _entropy(ds)
    assert rep.settings["replica"] == ()
    lo, up = ref.coords["lower"].values, ref.coords["upper"].values
    np.testing.assert_array_equal(rep.order["entropy_lower"].values, lo)
    np.testing.assert_array_equal(rep.order["entropy_upper"].values, up)
    np.testing.assert_array_equal(rep.order["entropy_stderr"].values, ref.coords["stderr"].values)
    np.testing.assert_array_equal(rep.to_dataset()["config_entropy_lower"].values, lo)
    # the figure's band is that interval, point by point
    import matplotlib.pyplot as plt

    figs = rep.plot()
    try:
        ax = figs["order_parameters"].axes[0]
        assert ax.get_legend_handles_labels()[1] == [f"H ({ref.attrs['estimator']}), 95% interval"]
        (band,) = ax.collections
        xy = band.get_paths()[0].vertices
        x = pk.plot.control_axis(rep.order, "checkpoint").positions
        for i, xi in enumerate(x):
            y = xy[np.isclose(xy[:, 0], xi), 1]
            assert y.min() == pytest.approx(lo[i], abs=1e-12) and y.max() == pytest.approx(up[i], abs=1e-12)
    finally:
        for f in figs.values():
            plt.close(f)
    from phasekit.report.figures import captions

    cap = captions(rep)["order_parameters"][1]
    assert "95% interval" in cap and "no replicas" in cap
    methods = {e["name"]: e["text"] for e in rep.to_dict()["methods"]}
    assert "95% interval" in methods["order parameters"] and "means over replicas" not in methods["order parameters"]


def test_analyze_with_replicas_keeps_the_replica_error_and_stores_the_interval_per_configuration():
    from _report_data import staged_run

    ds, _, rep = staged_run()
    ref = _entropy(ds).transpose(*rep.per_config["entropy"].dims)
    np.testing.assert_array_equal(rep.per_config["entropy_lower"].values, ref.coords["lower"].values)
    np.testing.assert_array_equal(rep.to_dataset()["config_entropy_upper"].values, ref.coords["upper"].values)
    # the per-checkpoint value is a mean over prompts: its error is their spread, not one interval
    assert "entropy_lower" not in rep.order
    sd = ref.std("prompt", ddof=1) / np.sqrt(ref.sizes["prompt"])
    np.testing.assert_allclose(rep.order["entropy_stderr"].values, sd.values, rtol=1e-12)


def test_phase_levels_carry_the_interval_into_summary_json_and_html(tmp_path):
    from phasekit.report.numbers import format_level
    from phasekit.report.schema import validate_summary

    ds, rep = _one_prompt_run()
    ref = _entropy(ds)
    h, lo, up = ref.values, ref.coords["lower"].values, ref.coords["upper"].values
    d = rep.to_dict()
    validate_summary(d)
    for ph in d["phases"]:
        a, b = ph["first_index"], ph["last_index"] + 1
        lev = ph["levels"]["entropy"]
        n = b - a  # every checkpoint has tokens here
        assert lev["value"] == pytest.approx(h[a:b].mean(), rel=1e-12)
        assert lev["lower"] == pytest.approx(h[a:b].mean() - np.sqrt(np.sum((h[a:b] - lo[a:b]) ** 2)) / n, rel=1e-12)
        assert lev["upper"] == pytest.approx(h[a:b].mean() + np.sqrt(np.sum((up[a:b] - h[a:b]) ** 2)) / n, rel=1e-12)
        assert lev["confidence"] == 0.95
        assert lo[a:b].mean() <= lev["lower"] <= lev["value"] <= lev["upper"] <= up[a:b].mean()
        assert "lower" not in ph["levels"]["magnetization"]  # no interval stored: none invented
    rep.to_html(tmp_path / "r.html", figures_dir=tmp_path / "fig")
    page = (tmp_path / "r.html").read_text()
    assert format_level(d["phases"][0]["levels"]["entropy"]) in page
    assert format_level({"value": 1.0, "stderr": 0.05, "lower": 0.93, "upper": 1.2}) == "1.000 ± 0.050 (95%: 0.930 to 1.200)"
