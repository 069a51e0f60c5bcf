"""Benchmark: correlation_function (FFT + sort hybrid) against a direct O(N R) loop over lags.

Full size (the issue's target): 10,000 sequences x 1,024 positions, lags 0..512, for
(a) q = 10 states (Markov chain, every state on the FFT path) and (b) a 50,000-token
Zipf vocabulary (frequent tokens by FFT, the long tail by sort-based pair enumeration).

The baseline is the obvious vectorised numpy loop: for every lag r, compare the token
array with itself shifted by r (``(x[:, :-r] == x[:, r:]) & valid``) and sum, i.e.
O(N R) work for N tokens. At full size it is timed on an evenly spaced subset of lags and
scaled to all lags (its cost per lag is ~ N, nearly constant for r << L); the reported
ratio says so. Both methods' C(r) are compared on the measured lags, with the same
disconnected part (the jackknife-corrected D = sum p_k^2, recomputed here from
per-group counts).

Run ``python benchmarks/bench_correlation.py`` (full) or ``main(smoke=True)`` (tiny).
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from phasekit.correlations import correlation_function
from phasekit.datasets.sequences import markov_chain


def jackknife_d(x: np.ndarray, n_groups: int = 50) -> float:
    """D = sum_k p_k^2 with phasekit's bias correction, recomputed from per-group counts.

    Delete-a-group jackknife for unequal groups (Busing et al. 1999): D_J = D + sum_g
    (1 - h_g)(D - D_-g), groups being contiguous runs of sequences as even as possible
    (the larger first), h_g a group's share of the valid tokens. Dense counts over the
    states are fine here (a reference, not the library). Not timed: it is O(N), the loop
    below is O(N R).
    """
    valid = x >= 0
    states, inv = np.unique(x[valid], return_inverse=True)
    g = min(x.shape[0], n_groups)
    sizes = [x.shape[0] // g + (i < x.shape[0] % g) for i in range(g)]
    row_group = np.repeat(np.arange(g), sizes)
    group_of_token = np.broadcast_to(row_group[:, None], x.shape)[valid]
    counts = np.zeros((g, states.size))
    np.add.at(counts, (group_of_token, inv), 1.0)
    total = counts.sum()
    d = float(np.sum((counts.sum(0) / total) ** 2))
    if g < 2:
        return d
    rest = counts.sum(0)[None, :] - counts
    d_minus = np.sum(rest**2, axis=1) / rest.sum(1) ** 2
    h = counts.sum(1) / total
    return float(np.clip(d + np.sum((1 - h) * (d - d_minus)), 0.0, 1.0))


def direct_loop(x: np.ndarray, lags: np.ndarray, d: float) -> np.ndarray:
    """C(r)/C(0) at the given lags by comparing shifted copies (the O(N R) baseline)."""
    valid = x >= 0
    out = np.empty(lags.size)
    for i, r in enumerate(lags):
        a, b = x[:, : x.shape[1] - r], x[:, r:]
        ok = valid[:, : x.shape[1] - r] & valid[:, r:]
        same = np.count_nonzero((a == b) & ok)
        out[i] = (same / np.count_nonzero(ok) - d) / (1 - d)
    return out


def _zipf_tokens(n: int, length: int, vocab: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.arange(1, vocab + 1, dtype=float)
    p = 1.0 / k
    p /= p.sum()
    x = rng.choice(vocab, size=(n, length), p=p)
    # make it correlated: with probability 0.5 copy the token 1..8 positions back
    back = rng.integers(1, 9, size=(n, length))
    copy = rng.random((n, length)) < 0.5
    for t in range(8, length):
        sel = copy[:, t]
        x[sel, t] = x[sel, t - back[sel, t]]
    return x


def _case(name: str, x: np.ndarray, max_lag: int, n_loop_lags: int) -> dict:
    ds = xr.Dataset({"token": (("sample", "position"), x)})
    t0 = time.perf_counter()
    corr = correlation_function(ds, max_lag=max_lag)
    t_fast = time.perf_counter() - t0
    lags = np.unique(np.linspace(0, max_lag, n_loop_lags).astype(int))
    d = jackknife_d(x)
    t0 = time.perf_counter()
    ref = direct_loop(x, lags, d)
    t_loop_measured = time.perf_counter() - t0
    t_loop = t_loop_measured * (max_lag + 1) / lags.size
    err = float(np.max(np.abs(corr.values[lags] - ref)))
    row = {
        "case": name,
        "sequences": x.shape[0],
        "length": x.shape[1],
        "max_lag": max_lag,
        "fast_s": round(t_fast, 3),
        "loop_s_scaled": round(t_loop, 3),
        "loop_lags_measured": int(lags.size),
        "ratio": round(t_loop / t_fast, 2),
        "max_abs_diff": err,
    }
    print(
        f"{name:28s} {x.shape[0]:6d} x {x.shape[1]:5d}, lags 0..{max_lag}: "
        f"fast {t_fast:7.2f} s | direct loop {t_loop:7.2f} s "
        f"(measured on {lags.size} lags, scaled) | ratio {t_loop / t_fast:6.1f}x | "
        f"max |diff| {err:.1e}"
    )
    return row


def main(smoke: bool = False) -> dict:
    """Run the benchmark; ``smoke=True`` uses a tiny size (seconds) for CI."""
    if smoke:
        n, length, max_lag, n_loop, vocab = 200, 128, 64, 65, 2000
    else:
        n, length, max_lag, n_loop, vocab = 10_000, 1_024, 512, 33, 50_000
    ds, _ = markov_chain(10, 0.9, n, length, seed=0)
    rows = [_case("markov q=10", ds["token"].values, max_lag, n_loop)]
    rows.append(_case(f"zipf vocab={vocab}", _zipf_tokens(n, length, vocab, 1), max_lag, n_loop))
    for row in rows:
        assert row["max_abs_diff"] < 1e-6, row
    return {"smoke": smoke, "results": rows}


if __name__ == "__main__":
    main()
