"""Unit tests of phasekit.changepoints.scan (moved from tests/test_anatomy.py): exact values
of the divergence scan on hand-built counts, calibration of its null and error bars against
independent redraws, the control vocabulary, and bad input."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import xarray as xr
from _count_data import exact_counts_dataset as _dataset

from phasekit.changepoints import divergence_scan, scan_peaks
from phasekit.errors import SchemaError


def _js_exact(p, r) -> float:
    p, r = np.asarray(p, float), np.asarray(r, float)
    m = (p + r) / 2
    kl = lambda a, b: sum(x * math.log(x / y) for x, y in zip(a, b, strict=True) if x > 0)  # noqa: E731
    return 0.5 * kl(p, m) + 0.5 * kl(r, m)


# --------------------------------------------------------------------------- divergence scan
def test_divergence_scan_exact_step():
    p = np.array([[6, 2, 2, 0]])
    r = np.array([[0, 2, 2, 6]])
    ds = _dataset(np.stack([p, p, r, r]))
    js = divergence_scan(ds, window=1, n_null=20, seed=0)
    assert math.isnan(js.values[0])
    np.testing.assert_allclose(js.values[1:], [0.0, _js_exact(p[0] / 10, r[0] / 10), 0.0], atol=1e-12)
    tv = divergence_scan(ds, window=2, divergence="tv", n_null=0)
    np.testing.assert_allclose(tv.values[1:], [0.3, 0.6, 0.3], atol=1e-12)   # windows pool 2 points
    assert "stderr" in js.coords and {"null", "null_upper", "p_value"} <= set(js.coords)
    assert js.attrs["units"] == "nats" and js.attrs["window"] == 1
    pk = scan_peaks(js)
    assert list(pk.checkpoint.values) == ["c2"] and list(pk.step.values) == [200]


def test_divergence_scan_null_is_calibrated_and_finds_the_change():
    rng = np.random.default_rng(3)
    q, n_c, n_p, n_s = 6, 24, 4, 30
    flat_p = rng.dirichlet(np.ones(q), size=n_p)
    flat = np.stack([[rng.multinomial(n_s, flat_p[j]) for j in range(n_p)] for _ in range(n_c)])
    scan = divergence_scan(_dataset(flat), window=3, n_null=200, seed=1)
    frac_above = float((scan.values[1:] > scan.null_upper.values[1:]).mean())
    assert frac_above <= 0.1                                   # no change: rarely above the 99 % null
    assert len(scan_peaks(scan)) == 0
    new_p = rng.dirichlet(np.ones(q), size=n_p)
    jump = flat.copy()
    jump[14:] = np.stack([[rng.multinomial(n_s, new_p[j]) for j in range(n_p)] for _ in range(n_c - 14)])
    scan = divergence_scan(_dataset(jump), window=3, n_null=200, seed=1)
    pk = scan_peaks(scan)
    assert len(pk) == 1 and abs(int(pk.step.item()) // 100 - 14) <= 1
    assert pk.p_value.item() < 0.01


def test_divergence_scan_stderr_matches_independent_redraws():
    rng = np.random.default_rng(11)
    q = 5
    a, b = rng.dirichlet(np.ones(q)), rng.dirichlet(np.ones(q))
    vals, errs = [], []
    for _ in range(30):
        counts = np.stack([rng.multinomial(60, a if i < 3 else b)[None] for i in range(6)])
        s = divergence_scan(_dataset(counts), window=3, n_null=100, seed=rng)
        vals.append(s.values[3])
        errs.append(s.stderr.values[3])
    spread = np.std(vals, ddof=1)
    assert 0.6 * spread < np.mean(errs) < 1.6 * spread


def test_divergence_scan_pool_average_and_bad_input():
    rng = np.random.default_rng(0)
    counts = rng.multinomial(20, np.ones(4) / 4, size=(8, 3))
    ds = _dataset(counts)
    pooled = divergence_scan(ds, pool="prompt", n_null=10, seed=0)
    assert pooled.dims == ("checkpoint",) and pooled.attrs["pooled"] == "prompt"
    per_prompt = divergence_scan(ds, average=(), n_null=10, seed=0)
    assert per_prompt.dims == ("prompt", "checkpoint")
    with pytest.raises(SchemaError):
        divergence_scan(ds, divergence="kl")
    with pytest.raises(SchemaError):
        divergence_scan(ds, window=0)
    with pytest.raises(SchemaError):
        divergence_scan(ds.isel(checkpoint=[0]))
    with pytest.raises(SchemaError):
        divergence_scan(ds, control="temperature")
    with pytest.raises(SchemaError):
        scan_peaks(per_prompt)


def test_dim_alias_warns_and_gives_the_same_scan():
    """``dim=`` (the old keyword) still works, warns and gives the ``control=`` result (the old
    import path ``phasekit.anatomy`` is checked in tests/test_anatomy.py)."""
    rng = np.random.default_rng(5)
    ds = _dataset(rng.multinomial(20, np.ones(4) / 4, size=(6, 2)))
    new = divergence_scan(ds, control="checkpoint", n_null=10)
    with pytest.warns(DeprecationWarning, match="control="):
        old = divergence_scan(ds, dim="checkpoint", n_null=10)
    # the history lines carry a time stamp to the second: two calls may straddle one
    stamp = re.compile(r"^\[[^]]*\] ", re.M)
    assert stamp.sub("", new.attrs["history"]) == stamp.sub("", old.attrs["history"])
    xr.testing.assert_identical(new.reset_coords(drop=True).drop_attrs(), old.reset_coords(drop=True).drop_attrs())
    assert {k: v for k, v in new.attrs.items() if k != "history"} == \
        {k: v for k, v in old.attrs.items() if k != "history"}
    assert new.attrs["control"] == "checkpoint" and new.attrs["seed"] == 20260601


def test_scan_is_bit_identical_for_dask_backed_input():
    """The same call on numpy- and dask-backed tokens gives the same numbers, bit for bit
    (the default seed; the redraws do not depend on the chunking)."""
    pytest.importorskip("dask")
    rng = np.random.default_rng(9)
    ds = _dataset(rng.multinomial(15, np.ones(5) / 5, size=(9, 3)))
    a = divergence_scan(ds, n_null=40)
    b = divergence_scan(ds.chunk({"checkpoint": 4}), n_null=40)
    for name in ("stderr", "null", "null_upper", "p_value"):
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    assert np.array_equal(a.values, b.values, equal_nan=True)
