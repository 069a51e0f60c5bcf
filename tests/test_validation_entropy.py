"""Entropy estimators against known entropies (uniform, Zipf, Dirichlet draws, a step, a
geometric) and against independent implementations written here from the papers (JVHW's
polynomial-approximation estimator, Valiant-Valiant "unseen" by linear programming) or
installed (infomeasure).

Exact values: H(uniform over K) = ln K; H(Zipf) = -sum p_k ln p_k with p_k ~ 1/k. The
tolerances are statistical: each estimate's own standard error, plus, for the estimators
that do not remove it, the known O((K-1)/2N) plug-in bias.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.stats import poisson

from phasekit.entropy_estimators import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    entropy_from_counts,
    entropy_from_fingerprint,
    entropy_interval_from_fingerprint,
    fingerprint_from_counts,
)


def _zipf(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1)
    return p / p.sum()


def _h(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("name,p,n", [("uniform-50", np.full(50, 1 / 50), 50_000),
                                      ("zipf-200", _zipf(200), 100_000)])
def test_known_entropy_at_large_n(estimator, name, p, n):
    rng = np.random.default_rng({"uniform-50": 1, "zipf-200": 2}[name])
    counts = rng.multinomial(n, p, size=8)
    h, se = entropy_from_counts(counts, estimator, n_states=p.size)
    truth = _h(p)
    plugin_bias = (p.size - 1) / (2 * n)  # only the plug-in keeps it
    assert np.all(np.isfinite(h)) and np.all(se > 0)
    assert np.all(np.abs(h - truth) <= 4 * se + plugin_bias), (h - truth, se)
    assert abs(h.mean() - truth) / truth < 2e-3


def test_nsb_uniform_k100_n50_within_its_error_bar():
    """NSB on 50 draws from a uniform over 100 states: the truth is inside its error bar.

    The NSB posterior mean sits below ln 100 (by ~0.15 nats, ~1.5 posterior sd) but its
    95% error bar (1.96 sd) covers ln 100 at the nominal rate over repetitions.
    """
    rng = np.random.default_rng(100)
    counts = rng.multinomial(50, np.full(100, 0.01), size=400)
    h, se = entropy_from_counts(counts, "nsb", n_states=100)
    z = (h - np.log(100)) / se
    assert abs(z[0]) <= 1.96
    cover = np.mean(np.abs(z) <= 1.96)
    assert 0.9 <= cover <= 1.0
    assert abs(h.mean() - np.log(100)) / np.log(100) < 0.05  # relative bias under 5%


@pytest.mark.parametrize("estimator", ["nsb", DEFAULT_ESTIMATOR, "grassberger", "chao_shen",
                                       "chao_wang_jost"])
def test_error_bars_cover_at_nominal_rate(estimator):
    """Over repetitions from a Dirichlet(1) draw over 50 states (N = 100), the 95% error
    bar covers the true entropy in 87-100% of the repetitions (200 reps: +-3% noise)."""
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(50))
    counts = rng.multinomial(100, p, size=200)
    h, se = entropy_from_counts(counts, estimator, n_states=50)
    cover = np.mean(np.abs(h - _h(p)) <= 1.96 * se)
    assert 0.87 <= cover <= 1.0


def test_plugin_delta_method_error_bar_at_large_n():
    rng = np.random.default_rng(8)
    p = _zipf(30)
    counts = rng.multinomial(20_000, p, size=400)
    h, se = entropy_from_counts(counts, "miller_madow")
    assert 0.9 <= np.mean(np.abs(h - _h(p)) <= 1.96 * se) <= 0.99
    assert np.std(h) == pytest.approx(np.mean(se), rel=0.15)  # delta-method sd = sampling sd


def test_default_is_least_biased_where_nsb_fails():
    """Zipf over 50,000 states with N = 300 (N << K): plain NSB with the true K is biased
    low by ~18%; the default estimator reduces the bias below 9% (measured ~6%)."""
    rng = np.random.default_rng(9)
    p = _zipf(50_000)
    counts = rng.multinomial(300, p, size=30)
    truth = _h(p)
    h_nsb, _ = entropy_from_counts(counts, "nsb", n_states=p.size)
    h_def, se_def = entropy_from_counts(counts, DEFAULT_ESTIMATOR, n_states=p.size)
    bias_nsb = abs(h_nsb.mean() - truth) / truth
    bias_def = abs(h_def.mean() - truth) / truth
    assert bias_nsb > 0.12
    assert bias_def < 0.09
    assert np.mean(np.abs(h_def - truth) <= 1.96 * se_def) >= 0.7


@pytest.mark.slow
def test_default_worst_case_bias_benchmark_distributions():
    """Issue 3's goal on the benchmark distributions (50 reps instead of 200): the default's
    worst |relative bias| is under 15% at N = 300 and under 10% at N = 1000, the smallest of
    phasekit's estimators, and its error bar covers the truth in most repetitions."""
    rng = np.random.default_rng(2026)
    dists = {
        "uniform-1000": np.full(1000, 1e-3),
        "zipf-1000": _zipf(1000),
        "zipf-50000": _zipf(50000),
        "dirichlet0.1-1000": rng.dirichlet(np.full(1000, 0.1)),
    }
    for n, limit in ((300, 0.15), (1000, 0.10)):
        worst = dict.fromkeys(ESTIMATORS, 0.0)
        for p in dists.values():
            counts = rng.multinomial(n, p, size=50)
            truth = _h(p)
            for est in ESTIMATORS:
                h, se = entropy_from_counts(counts, est, n_states=p.size)
                worst[est] = max(worst[est], abs(h.mean() - truth) / truth)
                if est == DEFAULT_ESTIMATOR:
                    assert np.mean(np.abs(h - truth) <= 1.96 * se) >= 0.6
        assert worst[DEFAULT_ESTIMATOR] < limit
        # ties with pym where the evidence selects the PY model: compare with a 1e-6 slack
        assert worst[DEFAULT_ESTIMATOR] <= min(worst.values()) + 1e-6


# ------------------------------------------------------------------ issue 14: independent references


@cache
def _best_poly_neg_xlogx(order: int, n_grid: int = 1500) -> np.ndarray:
    """Monomial coefficients g_0..g_order of the best uniform (minimax) polynomial
    approximation of -x ln x on [0, 1], the table JVHW is built on, computed here by a
    linear program (min t subject to |sum_k c_k T_k(2x - 1) + x ln x| <= t on a
    Chebyshev-spaced grid) instead of Remez' algorithm."""
    x = 0.5 * (1.0 - np.cos(np.pi * np.arange(n_grid) / (n_grid - 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        fx = np.where(x > 0, -x * np.log(x), 0.0)
    basis = np.polynomial.chebyshev.chebvander(2.0 * x - 1.0, order)
    ones = np.ones((n_grid, 1))
    sol = linprog(np.r_[np.zeros(order + 1), 1.0],
                  A_ub=np.vstack([np.hstack([basis, -ones]), np.hstack([-basis, -ones])]),
                  b_ub=np.r_[fx, -fx], bounds=[(None, None)] * (order + 1) + [(0, None)],
                  method="highs")
    cheb = np.polynomial.Chebyshev(sol.x[:-1], domain=[0, 1])
    return cheb.convert(kind=np.polynomial.Polynomial).coef


def jvhw_entropy(mult: np.ndarray, nwith: np.ndarray) -> float:
    """JVHW entropy estimate (nats): Jiao, Venkat, Han & Weissman 2015, IEEE Trans. Inf.
    Theory 61:2835, written from the paper. A state seen j of n times, p = j/n: below the
    threshold T = 4 c_1 ln n / n the unbiased estimate of the degree-L best polynomial
    approximation of -p ln p on [0, T] (falling factorials prod_{q<k} (j - q)/(T (n - q))),
    above it the bias-corrected plug-in -p ln p + 1/(2n), linearly blended on [T/2, T];
    L = min(4 + ceil(1.2 ln n), 22); c_1 from the authors' fit to n/f_1."""
    j = np.asarray(mult, float)
    f = np.asarray(nwith, float)
    n = float((j * f).sum())
    order = min(4 + int(np.ceil(1.2 * np.log(n))), 22)
    x = j / n
    mle = -x * np.log(x) + 1.0 / (2.0 * n)
    f1 = f[j == 1].sum()
    if f1 == 0 or n < order:
        return float((f * mle).sum())
    lr = np.log(n / f1)
    if n < 200 or lr > 1.5:
        c1 = 0.3303 * lr + 0.4679
    else:
        c1 = np.polyval([-0.530556484842359, 1.09787328176926, 0.184831781602259], lr)
    c1 = max(c1, 1.0 / (1.9 * np.log(n)))
    t = 4.0 * c1 * np.log(n) / n
    g = _best_poly_neg_xlogx(order)
    q = np.arange(order)
    fall = np.cumprod((j[:, None] - q[None, :]) / (t * (n - q[None, :])), axis=1)
    poly = t * (g[0] + (fall * g[None, 1:]).sum(1)) - x * np.log(t)
    poly = np.where(np.isfinite(poly), poly, mle)
    ratio = np.clip(2.0 * x / t - 1.0, 0.0, 1.0)
    return float((f * np.maximum(ratio * mle + (1.0 - ratio) * poly, 0.0)).sum())


def unseen_entropy(mult: np.ndarray, nwith: np.ndarray, grid_factor: float = 1.05,
                   slack: float = 0.5) -> float:
    """Valiant & Valiant "unseen" estimate (nats): Valiant & Valiant 2013 (NeurIPS, "Estimating
    the unseen: improved estimators for entropy and other properties"), written from the
    paper with scipy.optimize.linprog. Fingerprint entries isolated from their neighbours
    (sum of f over i +- sqrt(i) below sqrt(i)) keep their empirical probability i/n; for
    the rest a histogram h(x) on a geometric grid of probabilities (ratio 1.05, from 1/n^2,
    or from the smallest observed multiplicity / n when it is > 1)
    is fitted by a first LP minimising sum_i |sum_x h(x) Poi(i; n x) - f_i|/sqrt(f_i + 1)
    subject to the remaining probability mass, then a second LP minimises the support size
    sum_x h(x) within `slack` of that objective. H = -sum h(x) x ln x."""
    j = np.asarray(mult, int)
    fj = np.asarray(nwith, float)
    f = np.zeros(int(j.max()))
    f[j - 1] = fj
    n = float((np.arange(1, f.size + 1) * f).sum())
    x_emp, h_emp, f_lp = [], [], np.zeros(f.size)
    for i in range(1, f.size + 1):
        if f[i - 1] == 0:
            continue
        w = int(np.ceil(np.sqrt(i)))
        if f[max(1, i - w) - 1:min(i + w, f.size)].sum() < np.sqrt(i):
            x_emp.append(i / n)
            h_emp.append(f[i - 1])
        else:
            f_lp[i - 1] = f[i - 1]
    xe, he = np.array(x_emp), np.array(h_emp)
    if not f_lp.any():
        return float(-(he * xe * np.log(xe)).sum())
    fmax = int(np.nonzero(f_lp)[0][-1]) + 1
    f_lp = np.r_[f_lp[:fmax], np.zeros(int(np.ceil(np.sqrt(fmax))))]
    nf = f_lp.size
    # grid from 1/n^2, or from the smallest observed probability when no state was seen once
    i_min = int(j.min())
    xmin = i_min / n if i_min > 1 else 1.0 / (n * max(10.0, n))
    x = xmin * grid_factor ** np.arange(int(np.ceil(np.log(fmax / n / xmin) / np.log(grid_factor))) + 1)
    # unknowns: x h(x) (scaled for conditioning), then slacks s+ and s- per fingerprint entry
    pois = poisson.pmf(np.arange(1, nf + 1)[:, None], n * x[None, :]) / x[None, :]
    eye, zero = np.eye(nf), np.zeros((nf, nf))
    a_ub = np.block([[pois, -eye, zero], [-pois, zero, -eye]])
    b_ub = np.r_[f_lp, -f_lp]
    a_eq = np.r_[np.ones(x.size), np.zeros(2 * nf)][None, :]
    b_eq = [1.0 - (xe * he).sum()]
    w = 1.0 / np.sqrt(f_lp + 1.0)
    cost = np.r_[np.zeros(x.size), w, w]
    first = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, method="highs")
    second = linprog(np.r_[1.0 / x, np.zeros(2 * nf)], A_ub=np.vstack([a_ub, cost]),
                     b_ub=np.r_[b_ub, first.fun + slack], A_eq=a_eq, b_eq=b_eq, method="highs")
    hx = second.x[: x.size] / x
    xs, hs = np.r_[xe, x], np.r_[he, hx]
    keep = hs > 0
    return float(-(hs[keep] * xs[keep] * np.log(xs[keep])).sum())


def _fingerprint(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, mult, nwith = fingerprint_from_counts(row[None])
    return mult, nwith


@pytest.mark.parametrize("name,p,n", [("uniform-50", np.full(50, 1 / 50), 50_000),
                                      ("zipf-200", _zipf(200), 100_000)])
def test_independent_references_converge_to_the_exact_entropy(name, p, n):
    """The reference estimators written in this file are right where every estimator must be:
    well sampled (N >> K). JVHW within 0.005 nats of the exact entropy; "unseen" within
    0.03, the resolution of its probability grid (ratio 1.05: ln(1.05)/2 = 0.024 nats where
    the fingerprint is dense, as here, and the LP, not the empirical value, places the mass)."""
    rng = np.random.default_rng(5)
    mult, nwith = _fingerprint(rng.multinomial(n, p))
    assert jvhw_entropy(mult, nwith) == pytest.approx(_h(p), abs=5e-3)
    assert unseen_entropy(mult, nwith) == pytest.approx(_h(p), abs=0.03)


def test_jvhw_polynomial_is_the_minimax_approximation():
    """The LP gives the best uniform approximation of -x ln x: its error equioscillates
    (order + 2 alternating extrema of equal size, Chebyshev's theorem) and shrinks like 1/L^2."""
    x = np.linspace(0, 1, 200_001)
    with np.errstate(divide="ignore", invalid="ignore"):
        fx = np.where(x > 0, -x * np.log(x), 0.0)
    errs = []
    for order in (6, 12):
        err = np.polynomial.polynomial.polyval(x, _best_poly_neg_xlogx(order)) - fx
        e_max = np.abs(err).max()
        peaks = np.nonzero(np.abs(err) > 0.999 * e_max)[0]
        signs = np.sign(err[peaks])
        alternations = 1 + np.count_nonzero(np.diff(signs))
        assert alternations >= order + 2
        errs.append(e_max)
    assert errs[1] < errs[0] / 3.0


def test_chao_wang_jost_equals_infomeasure():
    """CWJ point estimate against infomeasure's independent implementation (same formula)."""
    im = pytest.importorskip("infomeasure")
    rng = np.random.default_rng(44)
    for n, p in ((30, _zipf(100)), (300, _zipf_s(5000, 0.8)), (3000, _step())):
        for _ in range(3):
            counts = rng.multinomial(n, p)
            x = np.repeat(np.arange(counts.size), counts)
            h, _ = entropy_from_counts(counts, "chao_wang_jost")
            assert float(h) == pytest.approx(float(im.entropy(x, approach="chao_wang_jost", base="e")),
                                             rel=1e-10)


def test_default_bias_on_zipf08_against_unseen_and_jvhw():
    """Issue 14: on Zipf(0.8) over 100,000 states at N = 1,000 the default was 9.5% low (the
    Pitman-Yor tail, truncated to K states, was taken at its steep end). Goal: < 5% at
    N >= 1,000, and no worse than the independent peers on the same samples (here
    "unseen" is ~9% low and JVHW ~12% low: N = 1,000 is far below K/ln K = 8,700)."""
    p = _zipf_s(100_000, 0.8)
    truth = _h(p)
    rng = np.random.default_rng(1408)
    counts = rng.multinomial(1000, p, size=12)
    h, _ = entropy_from_counts(counts, None, n_states=p.size)
    refs = np.array([[f(*_fingerprint(c)) for f in (unseen_entropy, jvhw_entropy)] for c in counts])
    bias = abs(h.mean() - truth) / truth
    peer_bias = np.abs(refs.mean(0) - truth) / truth
    assert bias < 0.05, bias
    assert bias <= peer_bias.min(), (bias, peer_bias)


# ------------------------------------------------------------------ issue 14: off-family coverage


def _zipf_s(k: int, s: float) -> np.ndarray:
    p = np.arange(1, k + 1, dtype=float) ** -s
    return p / p.sum()


def _step() -> np.ndarray:
    """100 states with half the mass, 9,900 with the other half (issue 14)."""
    return np.r_[np.full(100, 0.5 / 100), np.full(9900, 0.5 / 9900)]


def _geometric() -> np.ndarray:
    p = 0.999 ** np.arange(10_000)
    return p / p.sum()


def _coverage(p, n, k, reps, seed, estimator=DEFAULT_ESTIMATOR):
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, p, size=reps)
    if k is not None and k > p.size:
        counts = np.pad(counts, ((0, 0), (0, k - p.size)))
    h, _, lo, hi = entropy_interval_from_fingerprint(*fingerprint_from_counts(counts), estimator, n_states=k)
    truth = _h(p)
    return float(np.mean((lo <= truth) & (truth <= hi))), float((h.mean() - truth) / truth)


@pytest.mark.parametrize("name,n,estimator,k_given,before", [
    ("step-10000", 300, "bma", True, 0.57),
    ("zipf0.8-100000", 10_000, "bma", True, 0.04),
    ("zipf0.8-100000", 1000, "chao_wang_jost", False, 0.0),
    ("geometric-10000", 3000, "chao_wang_jost", False, 0.0),
])
def test_failed_coverage_cells_now_cover(name, n, estimator, k_given, before):
    """Issue 14's measured failures, quick (40 repetitions): each cell covered `before` (the
    benchmark, 200 repetitions) and must now cover >= 80% (the goal of 90% less 2 binomial
    sd at 40 repetitions)."""
    make, k = _OFF_FAMILY[name]
    cover, bias = _coverage(make(), n, k if k_given else None, 40, 1401, estimator)
    assert cover >= 0.80, (name, n, estimator, cover, bias, before)


def test_overstated_k_does_not_break_coverage_silently():
    """Issue 14: a uniform over 20,000 states analysed with K = 40,000. NSB's posterior sd
    alone covers 0% at N = 3,000 (it believes the alphabet); the default's error includes
    the gap to the K-free estimate, and the result carries the estimate at the number of
    states the data suggest (Chao1, ~20,000), which is near the truth ln 20,000; each of
    three further configurations' intervals covers ln 20,000."""
    import xarray as xr

    from phasekit.entropy_estimators import entropy

    p = np.full(20_000, 1 / 20_000)
    cover_nsb, bias_nsb = _coverage(p, 3000, 40_000, 40, 31, "nsb")
    cover, bias = _coverage(p, 3000, 40_000, 40, 31)
    assert bias_nsb > 0.02 and cover_nsb < 0.5  # the failure the gap has to absorb
    assert cover >= 0.9
    rng = np.random.default_rng(3)
    tok = rng.integers(0, 20_000, size=(3, 3000))
    ds = xr.Dataset({"token": (("checkpoint", "sample"), tok)}, attrs={"n_states": 40_000})
    h = entropy(ds, system="sample")
    gap = np.abs(h.values - h.entropy_k_free.values)
    assert np.all(gap > 0.05)  # K pulled the estimate up, visibly ...
    assert np.all(np.abs(h.values - np.log(20_000)) <= 1.96 * h.stderr.values)  # ... and it still covers
    assert np.all(np.abs(h.entropy_k_free.values - np.log(20_000)) < 0.15)
    assert np.all((h.support_k.values > 15_000) & (h.support_k.values < 25_000))
    assert np.all(np.abs(h.entropy_at_support_k.values - np.log(20_000)) < 0.15)
    assert np.all(h.values - h.entropy_at_support_k.values > 0.1)  # K moved it, visibly


def test_k_sensitivity_warns_when_k_moves_the_estimate_beyond_its_interval():
    """A K 10x too large for a well-sampled alphabet of 50 states: the estimate at K lies far
    from the estimate at the data's own K, beyond its 95% interval: a warning, and the
    count in the attrs; with the right K, no warning."""
    import warnings

    import xarray as xr

    from phasekit.entropy_estimators import entropy

    rng = np.random.default_rng(8)
    tok = rng.integers(0, 50, size=(4, 60))
    for k, expect in ((500, True), (50, False)):
        ds = xr.Dataset({"token": (("checkpoint", "sample"), tok)}, attrs={"n_states": k})
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            h = entropy(ds, system="sample", estimator="nsb")
        said = [x for x in w if "depends on K" in str(x.message)]
        assert bool(said) == expect and (h.attrs["k_moved_beyond_interval"] > 0) == expect
        if expect:
            assert np.all(h.support_k.values < 100)  # Chao1 from 60 tokens over 50 states


def test_tail_weight_rests_on_the_poisson_mixture_inequality():
    """The CWJ error weights its unseen-tail term T by how unequal the rare states are,
    r = 3 f1 f3 / (2 f2^2) - 1.  Its premise, from the exact Poissonised expectations
    E f_j = sum_k exp(-N p_k) (N p_k)^j / j! (Cauchy-Schwarz): E f1 E f3 >= (2/3) (E f2)^2,
    with equality for a uniform and strictly above for a Zipf law; and on samples the weight
    is small for a uniform (where CWJ's tail term is right) and near 1 for a Zipf law."""
    from phasekit.entropy_estimators import _check_fingerprint, _tail_heterogeneity

    def expected_f(p, n, j):
        lam = n * p
        return float(np.sum(np.exp(-lam) * lam**j) / np.prod(np.arange(1, j + 1)))

    n = 3000
    for p, equal in ((np.full(20_000, 1 / 20_000), True), (_zipf_s(50_000, 1.0), False)):
        f1, f2, f3 = (expected_f(p, n, j) for j in (1, 2, 3))
        r = 1.5 * f1 * f3 / f2**2 - 1.0
        assert (abs(r) < 1e-9) if equal else (r > 1.0), r
    rng = np.random.default_rng(12)
    w_uniform = _tail_heterogeneity(_check_fingerprint(*fingerprint_from_counts(
        rng.multinomial(n, np.full(20_000, 1 / 20_000), size=20))))
    w_zipf = _tail_heterogeneity(_check_fingerprint(*fingerprint_from_counts(
        rng.multinomial(n, _zipf_s(50_000, 1.0), size=20))))
    assert np.median(w_uniform) < 0.2 and np.median(w_zipf) > 0.7, (w_uniform, w_zipf)


def test_k_free_interval_tight_on_a_homogeneous_tail_and_still_covers():
    """Uniform over 20,000 states at N = 3,000: CWJ is unbiased there (its tail term is
    right) but the previous error, sqrt(jackknife^2 + T^2), was ~20x the sampling spread.
    The weighted tail term makes the interval at least 3x narrower and it still covers the
    exact entropy ln 20,000 in >= 90% of 100 repetitions."""
    from phasekit.entropy_estimators import _check_fingerprint, _cwj_jackknife

    p = np.full(20_000, 1 / 20_000)
    rng = np.random.default_rng(1411)
    counts = rng.multinomial(3000, p, size=100)
    fp = fingerprint_from_counts(counts)
    h, se = entropy_from_fingerprint(*fp, None, n_states=None)
    tail = h - np.array([_cwj_seen(c) for c in counts])
    previous = np.hypot(_cwj_jackknife(_check_fingerprint(*fp)), tail)
    assert np.mean(np.abs(h - np.log(20_000)) <= 1.96 * se) >= 0.9
    assert np.mean(se) < np.mean(previous) / 3, (np.mean(se), np.mean(previous))


def _cwj_seen(counts: np.ndarray) -> float:
    """CWJ's seen-states term by hand: sum_k (n_k/N) [psi(N) - psi(n_k)] (Chao, Wang & Jost 2013)."""
    from scipy.special import digamma

    n = counts[counts > 0].astype(float)
    return float(np.sum(n / n.sum() * (digamma(n.sum()) - digamma(n))))


_OFF_FAMILY = {
    "step-10000": (_step, 10_000),
    "zipf0.8-100000": (lambda: _zipf_s(100_000, 0.8), 100_000),
    "zipf1.0-1000": (lambda: _zipf_s(1000, 1.0), 1000),
    "zipf1.2-10000": (lambda: _zipf_s(10_000, 1.2), 10_000),
    "geometric-10000": (_geometric, 10_000),
    "uniform-20000": (lambda: np.full(20_000, 1 / 20_000), 20_000),
    "dirichlet0.3-5000": (lambda: np.random.default_rng(2).dirichlet(np.full(5000, 0.3)), 5000),
}

_SIZES = (100, 300, 1000, 3000, 10_000)


@pytest.mark.slow
@pytest.mark.parametrize("estimator,k_given", [("bma", True), ("chao_wang_jost", False)])
@pytest.mark.parametrize("name", list(_OFF_FAMILY))
def test_defaults_cover_off_their_model_family(name, estimator, k_given):
    """Issue 14's goal for the default with K (bma) and without K (chao_wang_jost): 95%
    intervals cover 90-98% on uniform, Zipf (0.8-1.2), step, geometric and Dirichlet draws
    at N = 100 ... 10,000. 60 repetitions per cell; asserted: coverage >= 82% (90% less 2
    binomial sd) in every cell, and for bma |relative bias| < 10%, < 5% at N >= 1000.
    Before: bma covered the step 57% at N = 300 and Zipf(0.8) 4% at N = 10,000; CWJ
    (jackknife error) 0% in most cells at N >= 1000. The upper end (<= 98%) is not met in
    many cells (test below)."""
    make, k = _OFF_FAMILY[name]
    p = make()
    for i, n in enumerate(_SIZES):
        cover, bias = _coverage(p, n, k if k_given else None, 60, 1400 + i, estimator)
        assert cover >= 0.82, (name, n, cover, bias)
        if estimator == "bma":
            assert abs(bias) < (0.05 if n >= 1000 else 0.10), (name, n, bias)


def _benchmark_grid() -> dict[str, tuple[np.ndarray, int]]:
    """The 11 distributions of benchmarks/bench_entropy.py (same generators and seed)."""
    rng = np.random.default_rng(20260314)
    uni = np.full(20_000, 1 / 20_000)
    return {
        "uniform-1000": (np.full(1000, 1e-3), 1000), "uniform-20000": (uni, 20_000),
        "uniform-20000 (K=40000)": (uni, 40_000), "zipf0.8-100000": (_zipf_s(100_000, 0.8), 100_000),
        "zipf1.0-1000": (_zipf_s(1000, 1.0), 1000), "zipf1.0-50000": (_zipf_s(50_000, 1.0), 50_000),
        "zipf1.2-10000": (_zipf_s(10_000, 1.2), 10_000), "step-10000": (_step(), 10_000),
        "geometric-10000": (_geometric(), 10_000),
        "dirichlet0.1-1000": (rng.dirichlet(np.full(1000, 0.1)), 1000),
        "dirichlet1-1000": (rng.dirichlet(np.ones(1000)), 1000),
    }


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known shortfall (docs/entropy.md, 200 repetitions, "
                   "2026-12-02): nominal 95% intervals cover above 98% in 43 of 55 benchmark "
                   "cells for bma (unchanged) and 33 of 55 for chao_wang_jost (38 before its "
                   "asymmetric interval; none below 90%); the bias they must absorb is "
                   "estimated only to within its own noise (the upper end is kept where "
                   "held-out rare tails under-cover), many cells sit at 97-99% because their "
                   "upper end never misses, and bma's posterior sd alone already covers 100% "
                   "on the heavy Zipf tails")
def test_default_intervals_calibrated_on_the_benchmark_grid():
    """Issue 14's goal in every cell of the benchmark grid (11 distributions x N = 100 ...
    10,000; 60 repetitions): coverage of the 95% interval (``lower``/``upper``, CWJ's
    asymmetric) within 90-98% for both defaults."""
    outside = []
    for i, (name, (p, k)) in enumerate(_benchmark_grid().items()):
        for j, n in enumerate(_SIZES):
            for est, kk in (("bma", k), ("chao_wang_jost", None)):
                cover, _ = _coverage(p, n, kk, 60, 1500 + 10 * i + j, est)
                if not 0.90 <= cover <= 0.98:
                    outside.append((est, name, n, cover))
    assert not outside, outside


def test_bma_covers_the_held_out_zipf06_where_its_previous_error_did_not():
    """The previous session's worst held-out cell for bma: Zipf(0.6) over 5,000 states at
    N = 3,000 (benchmark: 78%).  The previous error, sqrt((0.9 sd)^2 + (H - H_cwj)^2 +
    (w max(H_cwj - H, 0))^2), computed here from its parts on 100 new samples, covers the
    exact entropy < 90%; measuring the gap from the farther of CWJ and its jackknife
    bias-corrected value covers 90-98%."""
    from phasekit.entropy_estimators import (
        _bma_posterior,
        _check_fingerprint,
        _h_chao_wang_jost,
        _tail_heterogeneity,
    )

    p = _zipf_s(5000, 0.6)
    counts = np.random.default_rng(1416).multinomial(3000, p, size=100)
    fp = fingerprint_from_counts(counts)
    h, se = entropy_from_fingerprint(*fp, None, n_states=5000)
    f = _check_fingerprint(*fp)
    h_post, sd = _bma_posterior(f, 5000.0)
    h_cwj = _h_chao_wang_jost(f)
    previous = np.sqrt((0.9 * sd) ** 2 + (h_post - h_cwj) ** 2
                       + (_tail_heterogeneity(f) * np.maximum(h_cwj - h_post, 0.0)) ** 2)
    err = np.abs(h - _h(p))
    assert np.mean(err <= 1.96 * previous) < 0.90
    assert 0.90 <= np.mean(err <= 1.96 * se) <= 0.98


@pytest.mark.slow
def test_k_free_interval_calibrated_where_the_previous_one_was_not():
    """Issue 14's upper end (90-98% for a nominal 95%) on the geometric over 10,000 states at
    N = 1,000 without K (200 repetitions): the previous error sqrt(jackknife^2 + T^2)
    covered 100% there (T counted in full although the bias is ~0.3 T); the weighted tail
    term puts it inside the goal."""
    from phasekit.entropy_estimators import _check_fingerprint, _cwj_jackknife

    p = _geometric()
    counts = np.random.default_rng(1415).multinomial(1000, p, size=200)
    fp = fingerprint_from_counts(counts)
    h, se = entropy_from_fingerprint(*fp, None, n_states=None)
    tail = h - np.array([_cwj_seen(c) for c in counts])
    previous = np.hypot(_cwj_jackknife(_check_fingerprint(*fp)), tail)
    err = np.abs(h - _h(p))
    assert np.mean(err <= 1.96 * previous) > 0.98  # the shortfall this fixes
    assert 0.90 <= np.mean(err <= 1.96 * se) <= 0.98


@pytest.mark.slow
def test_default_bias_no_worse_than_independent_peers():
    """Worst |relative bias| of the default over the off-family distributions at N = 1,000
    and 3,000 (15 repetitions), against the independent JVHW and "unseen" implementations
    above on the same samples: the default's worst case is the smallest (before this
    change: 9.5% / 7.0%, worse than unseen's 9.0% / 4.5% on Zipf(0.8))."""
    rng = np.random.default_rng(1410)
    for n in (1000, 3000):
        worst = np.zeros(3)
        for name in ("zipf0.8-100000", "step-10000", "zipf1.2-10000", "geometric-10000"):
            make, k = _OFF_FAMILY[name]
            p = make()
            counts = rng.multinomial(n, p, size=15)
            h, _ = entropy_from_counts(counts, None, n_states=k)
            refs = np.array([[f(*_fingerprint(c)) for f in (unseen_entropy, jvhw_entropy)]
                             for c in counts])
            truth = _h(p)
            bias = np.abs(np.r_[h.mean(), refs.mean(0)] - truth) / truth
            worst = np.maximum(worst, bias)
        assert worst[0] <= worst[1:].min(), (n, worst)
        assert worst[0] < 0.05, (n, worst)


@pytest.mark.slow
def test_k_free_default_beats_pitman_yor_without_k():
    """Issue 14: without K the documented fallback pym was +67% (uniform, N = 100) to +83%
    (Zipf 0.8, N = 300) off. The K-free default (chao_wang_jost) has the smaller worst-case
    |bias| over these cases (pym without K is at most marginally better on the geometric at
    N = 3000, 1.4% vs 1.5%), and is under 25% everywhere here."""
    cases = [(np.full(1000, 1e-3), 100), (np.full(1000, 1e-3), 1000), (_zipf_s(100_000, 0.8), 300),
             (_zipf_s(100_000, 0.8), 1000), (_step(), 1000), (_geometric(), 3000)]
    rng = np.random.default_rng(77)
    worst_cwj = worst_pym = 0.0
    for p, n in cases:
        counts = rng.multinomial(n, p, size=30)
        truth = _h(p)
        h_cwj, _ = entropy_from_fingerprint(*fingerprint_from_counts(counts), None, n_states=None)
        h_pym, _ = entropy_from_fingerprint(*fingerprint_from_counts(counts), "pym", n_states=None)
        b_cwj = abs(h_cwj.mean() - truth) / truth
        b_pym = abs(h_pym.mean() - truth) / truth
        assert b_cwj < 0.25, (n, b_cwj)
        worst_cwj, worst_pym = max(worst_cwj, b_cwj), max(worst_pym, b_pym)
    assert worst_pym > 0.5 and worst_cwj < worst_pym / 3


def test_k_free_interval_lower_end_calibrated_where_cwj_is_not_high():
    """Issue 14's upper end (<= 98%) without K, where CWJ is unbiased (uniform over 1,000
    states, N = 300, 1,000 samples): the symmetric interval +-1.96 stderr of the previous
    session misses below in < 0.5% of samples (its lower end carries a bias allowance CWJ
    does not need here); the asymmetric one's lower end, the sampling spread under the
    source the data suggest, misses in 1-4% (nominal 2.5%).  The upper end still never
    misses there, so the coverage is ~98.5%: at the goal's edge, not inside it."""
    p = np.full(1000, 1e-3)
    counts = np.random.default_rng(1417).multinomial(300, p, size=1000)
    h, se, lo, hi = entropy_interval_from_fingerprint(*fingerprint_from_counts(counts), None)
    truth = _h(p)
    assert np.mean(h - 1.96 * se > truth) < 0.005
    assert 0.01 <= np.mean(lo > truth) <= 0.04
    assert np.mean((lo <= truth) & (truth <= hi)) >= 0.95


def test_k_free_lower_end_holds_where_too_few_doubletons_over_extrapolate():
    """Uniform over 20,000 states at N = 300 (200 samples): with 0-2 doubletons CWJ's
    unseen-tail term over-extrapolates, CWJ is too high, and a lower end from the sampling
    spread alone (H - 1.96 sd_source, computed here from its part) covers < 80% (benchmark
    grid: 70%); with f2 at its exact (Garwood) upper limit the interval covers >= 90%."""
    from phasekit.entropy_estimators import _check_fingerprint, _cwj_source_sd

    p = np.full(20_000, 1 / 20_000)
    counts = np.random.default_rng(1418).multinomial(300, p, size=200)
    fp = fingerprint_from_counts(counts)
    h, se, lo, hi = entropy_interval_from_fingerprint(*fp, None)
    truth = _h(p)
    sd_only = h - 1.96 * _cwj_source_sd(_check_fingerprint(*fp))
    assert np.mean((sd_only <= truth) & (truth <= hi)) < 0.80
    assert np.mean((lo <= truth) & (truth <= hi)) >= 0.90
