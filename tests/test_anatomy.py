"""Unit tests of phasekit.anatomy: exact values on hand-built counts, calibration of the
error bars against independent redraws, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from phasekit.anatomy import (
    TransitionClass,
    classify_transition,
    divergence_scan,
    scan_peaks,
    seed_attribution,
)
from phasekit.errors import SchemaError


def _samples(counts: np.ndarray, pad: int = 0) -> np.ndarray:
    """Tokens (…, sample) realising exactly the given counts (…, q), padded with -1."""
    counts = np.asarray(counts)
    n = int(counts.sum(axis=-1).max()) + pad
    out = np.full((*counts.shape[:-1], n), -1, dtype=np.int64)
    for idx in np.ndindex(counts.shape[:-1]):
        row = np.repeat(np.arange(counts.shape[-1]), counts[idx])
        out[idx][: row.size] = row
    return out


def _dataset(counts: np.ndarray, pad: int = 0, steps=None) -> xr.Dataset:
    """Samples Dataset (checkpoint, prompt, sample) with the exact counts (checkpoint, prompt, q)."""
    tok = _samples(counts, pad)
    n_c, n_p = counts.shape[:2]
    return xr.Dataset(
        {"token": (("checkpoint", "prompt", "sample"), tok)},
        coords={
            "checkpoint": [f"c{i}" for i in range(n_c)],
            "step": ("checkpoint", np.arange(n_c) * 100 if steps is None else steps),
            "prompt": [f"p{j}" for j in range(n_p)],
        },
        attrs={"n_states": counts.shape[-1]},
    )


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
    np.testing.assert_allclose(divergence_scan(ds, n_null=0).values, divergence_scan(big, n_null=0).values)


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
        divergence_scan(ds, dim="temperature")
    with pytest.raises(SchemaError):
        scan_peaks(per_prompt)


# --------------------------------------------------------------------------- classification
def _m_first_order(sizes, controls, n_rep, rng):
    """Two-phase coexistence: m = 0.9 (ordered) with probability w(c), else ~0, w sharpening
    like N; chi_max = N w(1 - w) (Δm)² grows exactly like N."""
    out = {}
    for L in sizes:
        N = L * L
        w = 1 / (1 + np.exp(-(controls - 0.5) * N / 4))
        ordered = rng.random((controls.size, n_rep)) < w[:, None]
        noise = rng.normal(0, 1 / math.sqrt(N), (controls.size, n_rep))
        m = np.where(ordered, 0.9 + 0.1 * noise, np.abs(noise))
        out[L] = xr.DataArray(m, dims=("control", "sample"), coords={"control": controls},
                              attrs={"N": N})
    return out


def _m_crossover(sizes, controls, n_rep, rng):
    """Independent spins: m ~ |Normal(b(c), 1/N)|, chi bounded."""
    out = {}
    for L in sizes:
        N = L * L
        b = 1 / (1 + np.exp(-(controls - 0.5) / 0.1))
        m = np.abs(b[:, None] + rng.normal(0, 1 / math.sqrt(N), (controls.size, n_rep)))
        out[L] = xr.DataArray(m, dims=("control", "sample"), coords={"control": controls},
                              attrs={"N": N})
    return out


def test_classify_synthetic_first_order_and_crossover():
    rng = np.random.default_rng(5)
    controls = np.linspace(0.4, 0.6, 41)
    fo = classify_transition(_m_first_order([6, 8, 12, 16], controls, 300, rng), replica="sample")
    assert isinstance(fo, TransitionClass) and fo.kind == "first_order" and fo.conclusive
    assert fo.evidence.attrs["exponent_N"] == pytest.approx(1.0, abs=0.15)
    assert bool(fo.evidence.bimodal.sel(size=16))
    assert fo.evidence.attrs["dimension"] == pytest.approx(2.0)
    co = classify_transition(_m_crossover([6, 8, 12, 16], np.linspace(0, 1, 21), 300, rng))
    assert co.kind == "crossover"
    assert abs(co.evidence.attrs["exponent_N"]) < 0.25
    assert co.evidence.attrs["delta_aic"] < 2 or co.evidence.attrs["exponent_N"] < 0.25
    json.dumps(co.to_dict())
    assert "crossover" in repr(co)


def test_classify_single_size_is_inconclusive_and_input_forms():
    rng = np.random.default_rng(1)
    controls = np.linspace(0.4, 0.6, 21)
    one = classify_transition({16: _m_first_order([16], controls, 200, rng)[16]})
    assert not one.conclusive and "one size" in one.reason and one.kind == "first_order"
    ms = _m_crossover([6, 12], controls, 100, rng)
    # a DataArray with a size dim and an N coordinate
    stacked = xr.concat([ms[6], ms[12]], dim="size").assign_coords(size=[6, 12], N=("size", [36, 144]))
    a = classify_transition(stacked)
    b = classify_transition({k: v.drop_attrs() for k, v in ms.items()}, n_by_size={6: 36, 12: 144})
    c = classify_transition({k: v.drop_attrs() for k, v in ms.items()}, dimension=2)
    for other in (b, c):
        np.testing.assert_allclose(a.evidence.chi_max.values, other.evidence.chi_max.values)
    with pytest.raises(SchemaError):
        classify_transition({k: v.drop_attrs() for k, v in ms.items()})       # N unknown
    with pytest.raises(SchemaError):
        classify_transition(ms, replica="chain")
    with pytest.raises(SchemaError):
        classify_transition({})
    with pytest.raises(SchemaError):
        classify_transition({6: ms[6].expand_dims(model=2)})


def test_susceptibility_and_binder_values_are_exact():
    """chi and U of the evidence follow the textbook formulas on a two-point distribution."""
    # m = 0 or 1 with equal weight at the middle control point: chi = N/4, U = 1 - 1/(3*0.5) = 1/3
    m = np.zeros((3, 400))
    m[1, ::2] = 1.0
    m[0] = np.tile([0.1, 0.2], 200)
    m[2] = np.tile([0.8, 0.9], 200)
    da = xr.DataArray(m, dims=("control", "sample"), coords={"control": [0.0, 1.0, 2.0]}, attrs={"N": 100})
    res = classify_transition({10: da})
    ev = res.evidence.sel(size=10)
    assert ev.chi_max.item() == pytest.approx(100 * 0.25)
    assert ev.chi_argmax.item() == 1.0
    assert ev.binder_min.item() == pytest.approx(1 / 3)
    assert bool(ev.bimodal)


def test_classify_uses_step_coordinate_of_checkpoints():
    rng = np.random.default_rng(2)
    ms = _m_first_order([6, 12], np.linspace(0.4, 0.6, 21), 200, rng)
    steps = np.linspace(400, 600, 21)
    relabelled = {
        L: m.rename(control="checkpoint").assign_coords(
            checkpoint=[f"ckpt-{i:02d}" for i in range(21)], step=("checkpoint", steps))
        for L, m in ms.items()
    }
    res = classify_transition(relabelled, replica="sample", control="checkpoint")
    assert res.kind == "first_order"
    assert 400 <= res.evidence.chi_argmax.sel(size=12).item() <= 600
