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


# --------------------------------------------------------------------------- the blocked bootstrap
def _reference_bootstrap(counts: np.ndarray, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """The parametric bootstrap of seed attribution written out replicate by replicate:
    each (checkpoint, prompt) count row redrawn Multinomial(N, n/N) from one Generator in
    C order (empty rows draw nothing), the full JS matrix of every redraw (entropy form
    H(m) - H(p)/2 - H(r)/2, Lin 1991 eq. 4.1), its argmin, and the spreads."""
    from scipy.special import entr

    def dist(x):
        tot = x.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, x / np.where(tot > 0, tot, 1), np.nan)

    def js(p, r):
        return entr(0.5 * (p + r)).sum(-1) - 0.5 * (entr(p).sum(-1) + entr(r).sum(-1))

    def attribute(x):
        p, r = dist(x), dist(x[0])
        d = js(p[:, :, None, :], r[None, None])
        seed = np.where(np.isfinite(d).any(-1), np.argmin(np.where(np.isfinite(d), d, np.inf), -1), -1)
        pooled = js(dist(x.sum(1))[:, None, :], r[None])
        return p, r, d, seed, np.argmin(pooled, -1), pooled

    _, _, _, seed0, cons0, _ = attribute(counts.astype(float))
    rng = np.random.default_rng(seed)
    n = counts.sum(-1)
    pi = np.where(n[..., None] > 0, counts / np.maximum(n, 1)[..., None], 1.0 / counts.shape[-1])
    seed_div, cons_div, same, same_c = [], [], np.zeros(seed0.shape), np.zeros(cons0.shape)
    for _ in range(n_boot):
        xb = rng.multinomial(n, pi / pi.sum(-1, keepdims=True)).astype(float)
        p, r, d, s, c, pooled = attribute(xb)
        seed_div.append(np.take_along_axis(d, np.maximum(seed0, 0)[..., None], -1)[..., 0])
        cons_div.append(pooled[np.arange(pooled.shape[0]), cons0])
        same += s == seed0
        same_c += c == cons0
    return {"seed": seed0, "seed_div_se": np.std(seed_div, axis=0, ddof=1),
            "cons_div_se": np.std(cons_div, axis=0, ddof=1), "seed_conf": same / n_boot,
            "cons_conf": same_c / n_boot}


@pytest.mark.parametrize("numba_kernel", [True, False])
def test_blocked_bootstrap_equals_the_replicate_by_replicate_formula(numba_kernel, monkeypatch):
    """Redraws in blocks, the seed search without the full matrix (compiled or numpy),
    give the numbers of the plain replicate-by-replicate bootstrap with the same seed,
    including near-ties: two reference prompts with identical counts (the first wins)."""
    import phasekit.observables.seeds as seeds

    if not numba_kernel:
        monkeypatch.setattr(seeds, "_seed_kernel", None)
    monkeypatch.setattr(seeds, "_KERNEL_MIN_WORK", 0)         # the compiled search even on small data
    monkeypatch.setattr(seeds, "_BLOCK_BUDGET", 150)         # many small blocks of redraws
    rng = np.random.default_rng(11)
    ref = rng.multinomial(40, rng.dirichlet(np.ones(5), size=6))
    ref[4] = ref[1]                                          # an exact tie of two candidate seeds
    later = [rng.multinomial(40, rng.dirichlet(np.ones(5), size=6)) for _ in range(3)]
    counts = np.stack([ref, *later])
    counts[2, 3] = 0                                         # a prompt with no tokens: NaN, index -1
    res = seed_attribution(_dataset(counts), reference=0, n_bootstrap=37, seed=5)
    want = _reference_bootstrap(counts, 37, 5)
    np.testing.assert_array_equal(res.seed_index.values, want["seed"])
    assert 4 not in res.seed_index.values                    # the tie goes to the first (1)
    np.testing.assert_array_equal(res.seed_confidence.values, want["seed_conf"])
    np.testing.assert_array_equal(res.consensus_confidence.values, want["cons_conf"])
    ok = want["seed"] >= 0
    np.testing.assert_allclose(res.seed_divergence_stderr.values[ok], want["seed_div_se"][ok], rtol=0, atol=1e-12)
    assert np.isnan(res.seed_divergence_stderr.values[~ok]).all()
    np.testing.assert_allclose(res.consensus_divergence_stderr.values, want["cons_div_se"], rtol=0, atol=1e-12)


def test_seed_search_kernel_equals_the_matrix_argmin(monkeypatch):
    """The compiled search (with its exact re-decision of near-ties) returns the argmin of
    the full JS matrix, index for index, on many random and tied layouts."""
    import phasekit.observables.seeds as seeds
    from phasekit.distributions import js_divergence

    if seeds._seed_kernel is None:
        pytest.skip("numba not installed")
    monkeypatch.setattr(seeds, "_KERNEL_MIN_WORK", 0)
    rng = np.random.default_rng(3)
    for trial in range(20):
        k = int(rng.integers(2, 12))
        x = rng.multinomial(int(rng.integers(3, 30)), np.ones(k) / k, size=(2, 5, 7)).astype(float)
        r = rng.multinomial(int(rng.integers(3, 30)), np.ones(k) / k, size=(2, 6)).astype(float)
        r[:, 3] = r[:, 0] if trial % 2 else r[:, 3]
        x[0, 1, 2] = 0
        p, rp = seeds.normalise(x), seeds.normalise(r)
        full = js_divergence(p[..., :, :, None, :], rp[..., None, None, :, :])
        np.testing.assert_array_equal(seeds._nearest(p, rp), seeds._closest(full)[0])
