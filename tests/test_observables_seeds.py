"""Seed attribution (phasekit.observables.seeds): exact values on hand-built counts,
calibration of the error bars against independent redraws, the control= vocabulary, and
bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from _count_data import exact_counts_dataset as _dataset

from phasekit.errors import SchemaError
from phasekit.observables import seed_attribution


def _js_exact(p, r) -> float:
    p, r = np.asarray(p, float), np.asarray(r, float)
    m = (p + r) / 2
    kl = lambda a, b: sum(x * math.log(x / y) for x, y in zip(a, b, strict=True) if x > 0)  # noqa: E731
    return 0.5 * kl(p, m) + 0.5 * kl(r, m)


# --------------------------------------------------------------------------- seed attribution
REF = np.array([[5, 3, 1, 1], [0, 0, 2, 8], [4, 4, 1, 1]])   # three prompts, q = 4, N = 10


def test_seed_attribution_exact_collapse_onto_one_prompt():
    later = np.array([REF[1], REF[1], REF[1]])                  # every prompt copies prompt 1
    mixed = np.array([[0, 0, 5, 5], [10, 0, 0, 0], [3, 3, 2, 2]])
    ds = _dataset(np.stack([REF, later, mixed]))
    res = seed_attribution(ds, reference=0, n_bootstrap=0)
    # the reference checkpoint is its own seed, at zero divergence
    assert list(res.seed.sel(checkpoint="c0").values) == ["p0", "p1", "p2"]
    np.testing.assert_allclose(res.seed_divergence.sel(checkpoint="c0"), 0.0, atol=1e-12)
    # after the collapse every prompt is attributed to p1, exactly
    assert list(res.seed.sel(checkpoint="c1").values) == ["p1"] * 3
    np.testing.assert_allclose(res.seed_divergence.sel(checkpoint="c1"), 0.0, atol=1e-12)
    assert res.consensus_seed.sel(checkpoint="c1").item() == "p1"
    assert res.consensus_share.sel(checkpoint="c1").item() == 1.0
    # the full matrix is the exact JS divergence
    for i in range(3):
        for j in range(3):
            expect = _js_exact(mixed[i] / 10, REF[j] / 10)
            got = res.divergence.sel(checkpoint="c2", prompt=f"p{i}", reference_prompt=f"p{j}").item()
            assert got == pytest.approx(expect, abs=1e-12)
    # disjoint distributions are ln 2 apart
    assert res.divergence.sel(checkpoint="c2", prompt="p1", reference_prompt="p1").item() == pytest.approx(
        math.log(2))
    # the seed of c2/p0 = (0,0,.5,.5) is p1 (support {3, 2}): retention 1 under mass 0.9
    assert res.seed.sel(checkpoint="c2", prompt="p0").item() == "p1"
    assert res.support_retention.sel(checkpoint="c2", prompt="p0").item() == pytest.approx(1.0)


def test_support_rule_mass_and_top_k():
    later = np.array([[0, 0, 5, 5], [5, 0, 0, 5], [2, 2, 3, 3]])
    ds = _dataset(np.stack([REF, later]))
    res = seed_attribution(ds, reference="c0", n_bootstrap=0)
    # k: smallest top set holding >= 90 %: p0 (.5,.3,.1,.1) -> 3 states; p1 (0,0,.2,.8) -> 2;
    # p2 (.4,.4,.1,.1) -> 3
    assert list(res.support_size.values) == [3, 2, 3]
    for i in range(3):
        j = int(res.seed_index.sel(checkpoint="c1", prompt=f"p{i}"))
        support = {0: [0, 1, 2], 1: [2, 3], 2: [0, 1, 2]}[j]
        expect = later[i][support].sum() / 10
        assert res.support_retention.sel(checkpoint="c1", prompt=f"p{i}").item() == pytest.approx(expect)
    top1 = seed_attribution(ds, reference=0, top_k=1, n_bootstrap=0)
    assert list(top1.support_size.values) == [1, 1, 1]


def test_reference_selection_padding_and_extra_dims():
    later = np.array([REF[2], REF[0], REF[2]])
    counts = np.stack([REF, later])
    ds = _dataset(counts)
    a = seed_attribution(ds, reference=0, n_bootstrap=0)
    b = seed_attribution(ds, reference="c0", n_bootstrap=0)
    c = seed_attribution(ds, reference=-2, n_bootstrap=0)
    padded = seed_attribution(_dataset(counts, pad=5), reference=0, n_bootstrap=0)   # -1 never counted
    for other in (b, c, padded):
        np.testing.assert_array_equal(a.seed.values, other.seed.values)
        np.testing.assert_allclose(a.divergence.values, other.divergence.values)
    assert list(a.seed.sel(checkpoint="c1").values) == ["p2", "p0", "p2"]
    # a leading model dim: attribution within each model
    two = xr.concat([ds, _dataset(np.stack([REF, REF]))], dim="model").transpose("model", ...)
    res = seed_attribution(two, reference=0, n_bootstrap=0)
    assert res.seed.dims == ("model", "checkpoint", "prompt")
    assert list(res.seed.isel(model=1, checkpoint=1).values) == ["p0", "p1", "p2"]
    np.testing.assert_array_equal(res.seed.isel(model=0).values, a.seed.values)
    # pooling reference checkpoints adds their counts
    pooled = seed_attribution(ds, reference=["c0", "c1"], n_bootstrap=0)
    assert pooled.attrs["reference"] == "c0,c1"


def test_large_vocabulary_is_handled_sparsely():
    """Token ids up to 250k without n_states: only observed states enter, results unchanged."""
    later = np.array([REF[1], REF[0], REF[2]])
    ds = _dataset(np.stack([REF, later]))
    big = ds.copy()
    big["token"] = xr.where(ds.token >= 0, ds.token * 61_001 + 7, -1)
    big.attrs = {}
    a = seed_attribution(ds, reference=0, n_bootstrap=0)
    b = seed_attribution(big, reference=0, n_bootstrap=0)
    np.testing.assert_array_equal(a.seed.values, b.seed.values)
    np.testing.assert_allclose(a.divergence.values, b.divergence.values, atol=1e-12)


def test_seed_divergence_stderr_matches_independent_redraws():
    """The bootstrap error equals the spread of the estimate over independent datasets."""
    rng = np.random.default_rng(7)
    ref_p = np.array([[0.5, 0.3, 0.1, 0.1], [0.1, 0.1, 0.2, 0.6]])
    now_p = np.array([[0.4, 0.4, 0.1, 0.1], [0.2, 0.1, 0.1, 0.6]])
    est, err = [], []
    for _ in range(30):
        counts = np.stack([rng.multinomial(200, ref_p), rng.multinomial(200, now_p)])
        res = seed_attribution(_dataset(counts), reference=0, n_bootstrap=100, seed=rng)
        est.append(res.seed_divergence.isel(checkpoint=1).values)
        err.append(res.seed_divergence_stderr.isel(checkpoint=1).values)
    spread = np.std(np.array(est), axis=0, ddof=1)
    mean_err = np.mean(np.array(err), axis=0)
    np.testing.assert_array_less(0.6 * spread, mean_err)
    np.testing.assert_array_less(mean_err, 1.6 * spread)


def test_seed_attribution_bad_input():
    ds = _dataset(np.stack([REF, REF]))
    with pytest.raises(SchemaError):
        seed_attribution(ds, reference=5)
    with pytest.raises(SchemaError):
        seed_attribution(ds, reference="nope")
    with pytest.raises(SchemaError):
        seed_attribution(ds.isel(prompt=0), reference=0)        # no prompt dim
    with pytest.raises(SchemaError):
        seed_attribution(ds, mass=0.0)
    with pytest.raises(SchemaError):
        seed_attribution(ds.rename(token="ids"))


# divergence scan: tests/test_changepoints_scan.py


def test_control_vocabulary_and_the_old_dim_keyword():
    """control= names the checkpoint axis; dim= still works, with a DeprecationWarning,
    and gives the same numbers; any control dim name works (here 'temperature')."""
    later = np.array([REF[1], REF[0], REF[2]])
    ds = _dataset(np.stack([REF, later]))
    new = seed_attribution(ds, reference=0, control="checkpoint", n_bootstrap=0)
    with pytest.warns(DeprecationWarning, match="control="):
        old = seed_attribution(ds, reference=0, dim="checkpoint", n_bootstrap=0)
    xr.testing.assert_identical(new.drop_attrs(), old.drop_attrs())
    hot = ds.rename(checkpoint="temperature")
    res = seed_attribution(hot, reference=0, control="temperature", n_bootstrap=0)
    assert res.attrs["control"] == "temperature"
    np.testing.assert_array_equal(res.seed_index.values, new.seed_index.values)
    with pytest.raises(SchemaError, match="both"):
        seed_attribution(ds, control="prompt", n_bootstrap=0)
    with pytest.raises(TypeError):
        seed_attribution(ds, 0)  # keyword-only after the data
