"""Memory-bounded computations of analyze give the numbers of the one-shot formulas:
the Ensemble's pooling by blocks of checkpoints, and the likelihood-ratio intervals'
redraws by blocks of replicates (issue 15 item 7; the seed-attribution bootstrap is
checked in tests/test_observables_seeds.py)."""

from __future__ import annotations

import numpy as np
import xarray as xr

import phasekit.changepoints.intervals as intervals
import phasekit.configurations as configurations
from phasekit.count import count_states
from phasekit.datasets import demo_dataset


def _sequence_counts():
    rng = np.random.default_rng(0)
    tok = rng.integers(-1, 7, size=(9, 6, 5, 20)).astype(np.int32)
    ds = xr.Dataset({"token": (("checkpoint", "prompt", "sample", "position"), tok)},
                    coords={"checkpoint": np.arange(9) * 3, "step": ("checkpoint", np.arange(9.0)),
                            "prompt": [f"p{i}" for i in range(6)]}, attrs={"n_states": 7})
    return count_states(ds, system="position")


def _pool_by_hand(c, extra):
    """Pooled counts straight from the definition: per kept cell, the sum of its rows' counts."""
    keep = [i for i, d in enumerate(c.dims) if d not in extra]
    out = {}
    for row, idx in enumerate(np.ndindex(*c.shape)):
        cell = tuple(idx[i] for i in keep)
        acc = out.setdefault(cell, {})
        for s, n in zip(c.states[c.indptr[row]:c.indptr[row + 1]], c.counts[c.indptr[row]:c.indptr[row + 1]],
                        strict=True):
            acc[int(s)] = acc.get(int(s), 0) + int(n)
    return out


def test_pooling_in_blocks_equals_pooling_by_the_definition(monkeypatch):
    monkeypatch.setattr(configurations, "POOL_BLOCK_ENTRIES", 40)   # many blocks of checkpoints
    c = _sequence_counts()
    for extra in (("sample",), ("prompt", "sample"), ("prompt",)):
        got = configurations.pool_in_blocks(c, extra)
        assert got == c.pool(extra)
        want = _pool_by_hand(c, extra)
        for row, cell in enumerate(np.ndindex(*got.shape)):
            sl = slice(got.indptr[row], got.indptr[row + 1])
            assert dict(zip(got.states[sl].tolist(), got.counts[sl].tolist(), strict=True)) == want.get(cell, {})
        assert set(got.coords) == {k for k, v in c.coords.items() if set(v.dims) <= set(got.dims)}


def test_interval_redraws_in_blocks_give_the_one_block_numbers(monkeypatch):
    """lr_interval_counts draws its replicates from one stream in replicate order: one block
    of all replicates (the unblocked formula) and one replicate per block agree exactly."""
    rng = np.random.default_rng(4)
    p = np.vstack([np.tile([0.4, 0.3, 0.2, 0.1], (7, 1)), np.tile([0.1, 0.2, 0.3, 0.4], (9, 1))])
    counts = np.stack([rng.multinomial(30, row, size=5) for row in p])           # (L, P, K)
    kw = dict(min_size=2, merge_within=6, phi=1.0, extra=3.0, n_boot=23, alpha=0.05)
    monkeypatch.setattr(intervals, "REDRAW_BLOCK_BUDGET", 10**12)
    whole = intervals.lr_interval_counts(counts, 0, 16, 7, rng=np.random.default_rng(9), **kw)
    monkeypatch.setattr(intervals, "REDRAW_BLOCK_BUDGET", 1)
    blocked = intervals.lr_interval_counts(counts, 0, 16, 7, rng=np.random.default_rng(9), **kw)
    assert whole[:2] == blocked[:2]
    np.testing.assert_array_equal(whole[2], blocked[2])
    assert whole[3] == blocked[3]


def test_boundaries_of_the_demo_do_not_depend_on_the_redraw_block(monkeypatch):
    from phasekit.changepoints import detect_boundaries

    ds, _ = demo_dataset()
    monkeypatch.setattr(intervals, "REDRAW_BLOCK_BUDGET", 10**12)
    whole = detect_boundaries(ds).to_dataset()
    monkeypatch.setattr(intervals, "REDRAW_BLOCK_BUDGET", 500)
    blocked = detect_boundaries(ds).to_dataset()
    xr.testing.assert_identical(whole.drop_attrs(), blocked.drop_attrs())


def test_stages_on_the_pooled_ensemble_equal_the_stages_on_the_fine_one():
    """analyze frees the per-sequence rows after the order parameters: every later stage on
    Ensemble.pooled(...) gives what it gives on the per-sequence Ensemble."""
    from phasekit.changepoints import detect_boundaries, divergence_scan
    from phasekit.configurations import ensemble
    from phasekit.observables import prompt_structure, seed_attribution

    rng = np.random.default_rng(2)
    tok = rng.integers(0, 5, size=(10, 4, 3, 12)).astype(np.int32)
    tok[5:] = np.where(rng.random(tok[5:].shape) < 0.5, 1, tok[5:])
    tok[rng.random(tok.shape) < 0.05] = -1
    ds = xr.Dataset({"token": (("checkpoint", "prompt", "sample", "position"), tok)},
                    coords={"checkpoint": np.arange(10), "step": ("checkpoint", np.arange(10) * 5.0)},
                    attrs={"n_states": 5})
    fine = ensemble(ds, system="position")
    coarse = fine.pooled(("sample", "position"))
    assert coarse.counts == fine.counts_over(("sample", "position")) and coarse.replica == ("prompt",)
    kw = dict(system=("sample", "position"), n_bootstrap=15)
    for func in (prompt_structure, seed_attribution):
        xr.testing.assert_identical(func(fine, **kw).drop_attrs(), func(coarse, **kw).drop_attrs())
    xr.testing.assert_identical(divergence_scan(fine, system=("prompt", "sample", "position")).drop_attrs(),
                                divergence_scan(coarse, system=("prompt", "sample", "position")).drop_attrs())
    xr.testing.assert_identical(detect_boundaries(fine, n_bootstrap=15).to_dataset().drop_attrs(),
                                detect_boundaries(coarse, n_bootstrap=15).to_dataset().drop_attrs())
