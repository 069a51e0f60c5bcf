"""The series path's no-change tests (an AR(1) sieve bootstrap of the best split; the
self-normalised ratio where the noise is not AR(1)) and the sequential choice of the
number of boundaries.

Each channel is scaled by a robust noise estimate (:func:`robust_sigma`); a candidate
boundary ``c`` between its neighbours ``[a, b)`` is tested with its split gain over the
AR(1) long-run variance of the split's residuals, against the same studentised best
split of AR(1) sieve-bootstrap paths of those residuals, rho re-estimated on every path, the
paths filtered with at least the no-change (restricted) estimate of rho
(:func:`null_rho`, :class:`SeriesTest`). With ``penalty="auto"`` the number of
boundaries is chosen by that test: the exact best segmentation with ``m`` boundaries
(:class:`BestSegmentations`) for ``m = 1, 2, ...`` while every boundary passes
(:func:`sequential_selection`). Where the residuals' lag-two partial autocorrelation
rejects the AR(1) noise model (:func:`ar1_adequacy`; the AR(1) test is then liberal),
``detect_boundaries`` makes the same choice again with :class:`SelfNormalisedTest`,
whose statistic needs no autocorrelation model (Shao & Zhang 2010).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .search import segments

__all__ = ["AR1_ADEQUACY_ALPHA", "CHANNEL_DRAWS", "RESTRICTED_NULL", "RHO_MAX", "TIME_VARYING_SCALE", "BestSegmentations",
           "SelfNormalisedTest", "SeriesTest", "ar1_adequacy", "ar1_draws", "ar1_estimates_segments", "ar1_fit",
           "ar1_fit_segments", "ar1_sieve_draws", "best_split_fit", "best_split_self_normalised", "bias_corrected",
           "innovations_in_time", "log_polynomial_scale", "long_run_variance", "noise_scale_degrees", "null_rho",
           "resampled_on_scale", "residual_model", "robust_sigma", "segment_labels", "segmentations_of",
           "self_normalised_ratios", "sequential_selection", "variance_ratio_rho"]

#: Largest AR(1) coefficient of the series no-change null. Chosen on synthetic series
#: that include strongly persistent noise (AR(1) rho 0.8-0.97, random walks), where the
#: cap matters (benchmarks/bench_changepoint_constants.py; 0.95 and 0.99 tie there, 0.8
#: cut persistent noise into steps), never on TCPD.
RHO_MAX = 0.99

#: Filter the null's paths with at least the restricted (no-change) estimate of rho
#: (:func:`null_rho`). A switch so that ``benchmarks/bench_changepoint_constants.py
#: --null`` can score the null with and without it in the same run; no reason to turn it
#: off otherwise.
RESTRICTED_NULL = True

#: Draw the sieve's innovations on a smooth time-varying scale (:func:`ar1_sieve_draws`,
#: :func:`log_polynomial_scale`). A switch for the same-run comparison of
#: ``benchmarks/bench_changepoint_constants.py``; no reason to turn it off otherwise.
TIME_VARYING_SCALE = True

#: Level of :func:`ar1_adequacy` below which a result says its noise is not AR(1).
AR1_ADEQUACY_ALPHA = 0.01

#: Resampled paths behind each per-channel p-value of :class:`SelfNormalisedTest`
#: (resolution 1 / 2001, enough for ``alpha / C`` with up to ~100 channels at 5 %).
CHANNEL_DRAWS = 2000


def robust_sigma(x: np.ndarray) -> np.ndarray:
    """MAD of first differences / (0.6745 sqrt 2), per column; fallback mean |diff|."""
    d = np.diff(x, axis=0)
    med = np.median(d, axis=0)
    mad = np.median(np.abs(d - med), axis=0) / 0.6744897501960817 / math.sqrt(2)
    fallback = np.mean(np.abs(d - med), axis=0) * math.sqrt(math.pi / 2) / math.sqrt(2)
    return np.where(mad > 0, mad, fallback)


def long_run_variance(rho: np.ndarray, s2: np.ndarray) -> np.ndarray:
    r"""AR(1) long-run variance :math:`s^2 (1 + \rho) / (1 - \rho)` (floored at 1e-300)."""
    return np.maximum(s2 * (1 + rho) / (1 - rho), 1e-300)


def best_split_fit(x: np.ndarray, min_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""The studentised best-split statistic of each path and the fit it came from.

    x (B, L, C): the best split :math:`\hat s` of each path (largest mean-shift gain
    summed over channels, segments at least ``min_size``), then per channel its gain
    over the AR(1) long-run variance of the path's own residuals about that split,
    :math:`T = \sum_c \mathrm{gain}_c(\hat s) / \widehat{\mathrm{LRV}}_c`
    (:func:`ar1_fit` re-run on every path, :func:`long_run_variance`). Returns T (B,),
    the residuals (B, L, C), the segment labels (B, L) and rho (B, C).
    """
    n_b, length, n_ch = x.shape
    s = np.cumsum(x, axis=1)
    total = s[:, -1:, :]
    cut, gain = _best_split(s, min_size)
    if cut is None:
        return np.zeros(n_b), x - x.mean(axis=1, keepdims=True), np.zeros((n_b, length), int), np.zeros((n_b, n_ch))
    seg = (np.arange(length)[None, :] >= cut[:, None]).astype(int)
    rows = np.arange(n_b)
    mean_left = s[rows, cut - 1] / cut[:, None]
    mean_right = (total[:, 0] - s[rows, cut - 1]) / (length - cut)[:, None]
    resid = x - np.where(seg[..., None] == 0, mean_left[:, None], mean_right[:, None])
    rho, s2 = ar1_fit_segments(resid, seg)
    return (gain / long_run_variance(rho, s2)).sum(axis=-1), resid, seg, rho


def _best_split(s: np.ndarray, min_size: int) -> tuple[np.ndarray | None, np.ndarray]:
    r"""The best single split of each path, from its partial sums ``s`` (B, L, C): the
    first index after it (B,), the one of largest mean-shift gain summed over channels,
    :math:`\mathrm{gain}_c(k) = S_k^2/k + (S_L - S_k)^2/(L-k) - S_L^2/L`, both segments
    at least ``min_size`` long; and the per-channel gain there (B, C). None (and an
    empty gain) where no split fits."""
    length = s.shape[1]
    t = np.arange(1, length)[None, :, None]
    left, total = s[:, :-1, :], s[:, -1:, :]
    gain = left**2 / t + (total - left) ** 2 / (length - t) - total**2 / length
    valid = (np.arange(1, length) >= min_size) & (np.arange(1, length) <= length - min_size)
    if not valid.any():
        return None, np.zeros((s.shape[0], 0))
    cut = np.flatnonzero(valid)[np.argmax(gain[:, valid].sum(axis=-1), axis=1)] + 1
    return cut, gain[np.arange(s.shape[0]), cut - 1]


def ar1_draws(length: int, rho: np.ndarray, sd: np.ndarray, n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """Stationary Gaussian AR(1) paths, (n_boot, length, C), marginal sd ``sd``."""
    from scipy.signal import lfilter

    n_ch = rho.shape[0]
    e = rng.normal(size=(n_boot, length, n_ch))
    out = np.empty_like(e)
    for c in range(n_ch):
        innov = e[:, :, c] * math.sqrt(1 - rho[c] ** 2)
        innov[:, 0] = e[:, 0, c]  # start in the stationary distribution
        out[:, :, c] = lfilter([1.0], [1.0, -rho[c]], innov, axis=1) * sd[c]
    return out


def segment_labels(breaks: Sequence[int], length: int) -> np.ndarray:
    """The segment of each of ``length`` points, (L,): 0 before the first of ``breaks``
    (segment starts), 1 from it to the next, and so on."""
    return np.searchsorted(np.asarray(sorted(breaks), dtype=int), np.arange(length), side="right")


def ar1_fit(resid: np.ndarray, breaks: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    r"""AR(1) parameters of residuals, per column: autocorrelation and marginal sd.

    Two estimates from mean squares inside segments (pairs across ``breaks``, the
    segment starts, left out), and the smaller is taken, clipped to [0, ``RHO_MAX``]:

    * differences only: for a stationary AR(1), :math:`E(r_t - r_{t-1})^2 = 2 s^2
      (1 - \rho)` and :math:`E(r_t - r_{t-2})^2 = 2 s^2 (1 - \rho^2)`, so
      :math:`\hat\rho_D = \overline{\Delta_2^2} / \overline{\Delta_1^2} - 1`. The
      levels never enter, so a mean shift the model has not found moves one or two
      differences only (white noise with one undetected 3 sd shift: 0.67 by the ratio
      below, about 0 here); but it is the AR(1) coefficient only for AR(1) noise
      (ARMA(1,1) noise gives values near 1);
    * variance ratio: :math:`\hat\rho_V = 1 - \overline{\Delta_1^2} / (2\,\overline{r^2})`,
      the lag-one autocorrelation for any short-memory noise, but inflated by an
      undetected shift; its demeaning bias :math:`-(1 + 3\rho) K / N` (K segments, N
      points; Marriott & Pope 1954, Biometrika 41:390) is removed,
      :math:`(\hat\rho_V + K/N) / (1 - 3K/N)`.

    Each is pushed up by the failure of its own assumption, so the smaller is the one
    whose assumption holds. Both are mean squares, so the estimate is consistent
    whatever the marginal law (a robust MAD of the differences over a mean-square
    variance of the levels, used before, gave 0.39 on white Student-t(3) noise and 0.60
    with 2 % outliers, a null too wide to find changes); heavy tails and outliers enter
    the null through the resampled innovations instead (:func:`ar1_sieve_draws`). The
    cap keeps a few strongly persistent series from hiding every change. ``sd`` is the
    root mean square of the residuals.
    """
    rho, s2 = ar1_fit_segments(resid[None], segment_labels(breaks, resid.shape[0])[None])
    sd = np.sqrt(s2[0])
    return rho[0], np.where(sd > 0, sd, 1e-12)


def ar1_estimates_segments(resid: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The two AR(1) estimates of :func:`ar1_fit` for a batch, unclipped.

    Residuals (B, L, C), segment labels (B, L) -> :math:`\hat\rho_D` (differences only),
    :math:`\hat\rho_V` (variance ratio, demeaning bias removed), each (B, C), and the
    mean square (B, C). Pairs with different labels are left out; both are 0 where no
    lag-2 pair lies inside a segment.
    """
    length = resid.shape[1]
    s2 = np.mean(resid**2, axis=1)
    if length < 3:
        return np.zeros_like(s2), np.zeros_like(s2), s2
    d = []
    for lag in (1, 2):
        same = (seg[:, lag:] == seg[:, :-lag])[..., None]
        cnt = same.sum(axis=1)
        d.append((same * (resid[:, lag:] - resid[:, :-lag]) ** 2).sum(axis=1) / np.maximum(cnt, 1))
    ok = same.sum(axis=1) >= 1  # at least one lag-2 pair inside a segment
    share = (seg.max(axis=1) + 1)[:, None] / length  # segments per point: the demeaning bias
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(s2 > 0, 1 - d[0] / (2 * s2), 0.0)
        ratio = (ratio + share) / np.maximum(1 - 3 * share, 1e-3)
        diff = np.where(d[0] > 0, d[1] / d[0] - 1, 0.0)
    return np.where(ok, np.nan_to_num(diff), 0.0), np.where(ok, np.nan_to_num(ratio), 0.0), s2


def ar1_fit_segments(resid: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ar1_fit` of a batch: residuals (B, L, C), segment labels (B, L) ->
    rho (B, C), the smaller of the two estimates clipped to [0, ``RHO_MAX``], and the
    mean square (B, C) (:func:`ar1_estimates_segments`)."""
    diff, ratio, s2 = ar1_estimates_segments(resid, seg)
    return np.clip(np.minimum(diff, ratio), 0.0, RHO_MAX), s2


def variance_ratio_rho(resid: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """The variance-ratio estimate alone (:func:`ar1_estimates_segments`), clipped to
    [0, ``RHO_MAX``]: (B, L, C), (B, L) -> (B, C)."""
    return np.clip(ar1_estimates_segments(resid, seg)[1], 0.0, RHO_MAX)


def bias_corrected(estimate: np.ndarray, on_paths: np.ndarray) -> np.ndarray:
    r"""Bootstrap bias correction :math:`2\hat\theta - \overline{\hat\theta^*}` (Efron &
    Tibshirani 1993, ch. 10), clipped to [0, ``RHO_MAX``]; ``on_paths`` (B, C)."""
    return np.clip(2 * estimate - on_paths.mean(axis=0), 0.0, RHO_MAX)


def ar1_sieve_draws(resid: np.ndarray, breaks: Sequence[int], rho: np.ndarray, n_boot: int,
                    rng: np.random.Generator) -> np.ndarray:
    r"""AR(1) sieve bootstrap paths (n_boot, L, C) of residuals ``resid`` (L, C).

    Innovations :math:`e_t = r_t - \hat\rho\, r_{t-1}` (inside segments), centred, are
    drawn with replacement (rows jointly, so channels keep their cross-correlation) and
    filtered, :math:`x_t = \hat\rho x_{t-1} + e^*_t`, from a start drawn among the
    residuals (Kreiss 1992; Buehlmann 1997, Bernoulli 3:123). The paths keep the noise's
    own marginal law -- heavy tails, outliers -- where Gaussian paths
    (:func:`ar1_draws`) would call an outlier-driven split significant.

    With ``TIME_VARYING_SCALE`` (and at least 12 innovations) the innovations are first
    divided by a smooth scale :math:`\hat\sigma_t` (:func:`log_polynomial_scale`), drawn,
    and multiplied by the scale at the time they land, :math:`e^*_t = \hat\sigma_t
    (e/\hat\sigma)_{J_t}`; the start is a residual rescaled the same way. The null then
    keeps a noise level that drifts (noise falling 2 -> 0.5 over 200 points: 14.5 % of
    null series got a boundary at alpha = 5 % with constant-scale paths, 3.0 % with
    these; 200 runs, seeds 50 000).
    """
    from scipy.signal import lfilter

    length, n_ch = resid.shape
    e_t, valid = innovations_in_time(resid, breaks, rho)
    scale = log_polynomial_scale(e_t, valid) if TIME_VARYING_SCALE and valid.sum() >= 12 else np.ones_like(resid)
    pool = e_t[valid] / scale[valid] if valid.any() else resid - resid.mean(axis=0)
    e = pool[rng.integers(0, pool.shape[0], size=(n_boot, length))] * scale[None]
    start = rng.integers(0, length, size=n_boot)
    e[:, 0] = resid[start] * scale[0][None] / scale[start]
    out = np.empty_like(e)
    for c in range(n_ch):
        out[:, :, c] = lfilter([1.0], [1.0, -rho[c]], e[:, :, c], axis=1)
    return out


def innovations_in_time(resid: np.ndarray, breaks: Sequence[int], rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""AR(1) innovations :math:`e_t = r_t - \hat\rho\, r_{t-1}` at their own times, (L, C),
    centred over the valid ones, and which are valid (L,): not the first point, not a
    segment start (``breaks``)."""
    length = resid.shape[0]
    seg = segment_labels(breaks, length)
    valid = np.zeros(length, dtype=bool)
    valid[1:] = seg[1:] == seg[:-1]
    e = np.zeros_like(resid)
    e[1:] = resid[1:] - rho[None] * resid[:-1]
    if not valid.any():
        return e, valid
    return np.where(valid[:, None], e - e[valid].mean(axis=0), 0.0), valid


def _log_polynomial_fit(e: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_polynomial_scale`'s log variance (L, C) and the degree BIC chose (C,)."""
    length, n_ch = e.shape
    u = np.linspace(-1.0, 1.0, length)
    n = int(valid.sum())
    eps = 1e-3 * np.median(e[valid] ** 2, axis=0) + 1e-300
    y = np.log(e[valid] ** 2 + eps)
    best, best_bic = np.zeros((length, n_ch)), np.full(n_ch, np.inf)
    degrees = np.zeros(n_ch, dtype=int)
    for degree in (0, 1, 2):
        x = np.stack([u**k for k in range(degree + 1)], axis=1)
        beta = np.linalg.lstsq(x[valid], y, rcond=None)[0]
        log_var = np.clip(x @ beta, -600, 600)
        log_var = log_var + np.log(np.mean(e[valid] ** 2 / np.exp(log_var[valid]), axis=0) + 1e-300)
        bic = n * (1.0 + np.log(2 * np.pi)) + log_var[valid].sum(axis=0) + (degree + 1) * np.log(n)
        take = bic < best_bic
        best[:, take], best_bic[take], degrees[take] = log_var[:, take], bic[take], degree
    return best, degrees


def log_polynomial_scale(e: np.ndarray, valid: np.ndarray) -> np.ndarray:
    r"""A smooth noise scale :math:`\hat\sigma_t = \exp\{(b_0 + b_1 u + \dots + b_d u^d)/2\}`,
    :math:`u = 2t/(L-1) - 1`, per column of ``e`` (L, C), of degree :math:`d \le 2`.

    Each degree is fitted by least squares of :math:`\log(e_t^2 + \epsilon)` on the
    powers of :math:`u` over the ``valid`` rows (multiplicative heteroscedasticity, Harvey
    1976, Econometrica 44:461), its constant then set so that
    :math:`\overline{e^2/\hat\sigma^2} = 1` (the Gaussian likelihood's maximum over it).
    The degree is the one of least BIC, :math:`\sum_t \log\hat\sigma_t^2 + n(1 + \log 2\pi)
    + (d + 1)\log n` (n valid rows), so constant noise keeps a constant scale rather than
    the fit's noise (the quadratic's log scale at the ends of 400 points has sd 0.13, of
    50 points about 0.4). :math:`\epsilon` = 1e-3 times the median :math:`e^2` keeps exact
    zeros finite.
    """
    return np.exp(_log_polynomial_fit(e, valid)[0] / 2)


def noise_scale_degrees(resid: np.ndarray, breaks: Sequence[int], rho: np.ndarray) -> list[int | None]:
    """Per channel, the degree of the time-varying scale the sieve draws of ``resid``
    use (:func:`ar1_sieve_draws`): 0 = constant noise level; None where the scale is
    not used (``TIME_VARYING_SCALE`` off, or fewer than 12 innovations)."""
    e_t, valid = innovations_in_time(resid, breaks, rho)
    if not TIME_VARYING_SCALE or valid.sum() < 12:
        return [None] * resid.shape[1]
    return [int(d) for d in _log_polynomial_fit(e_t, valid)[1]]


def null_rho(resid: np.ndarray, cut: int, rho: np.ndarray, centred: np.ndarray, n_boot: int,
             rng: np.random.Generator, min_size: int) -> np.ndarray:
    r"""The AR(1) coefficient the no-change null's paths are filtered with, per channel.

    The larger of two bias-corrected estimates (:func:`bias_corrected`), each corrected
    with ``n_boot`` pilot sieve paths of the split's residuals ``resid``
    (:func:`ar1_sieve_draws`, split at ``cut``) filtered with it:

    * the studentisation's :math:`\hat\rho = \min(\hat\rho_D, \hat\rho_V)` of the
      split's residuals (``rho``, :func:`ar1_fit`), re-estimated about the best split of
      each pilot path;
    * the restricted estimate: the variance ratio :math:`\hat\rho_V` of the stretch
      about its one mean (``centred``), as the null says it is, re-estimated about each
      pilot path's mean (:func:`variance_ratio_rho`).

    A bootstrap test's null should be estimated under the null (Davidson & MacKinnon
    1999, Econometric Theory 15:361). The split's residuals are not: the best split
    absorbs the largest excursion of persistent noise, so exactly the series whose
    split looks strongest get a low :math:`\hat\rho` (AR(1) :math:`\rho = 0.9`, 200
    points: 0.5-0.8 in the series that alarmed, 0.85 on average), and the null's
    quantiles grow steeply with the filter's coefficient (95 % point of the
    studentised best split ~12 at 0.75, ~29 at 0.91). No unconditional bias correction
    reaches that conditional bias (the variance ratio about the split instead of the
    restricted one: 7.7 -> 7.2 % false alarms there). Under a real change the restricted
    estimate is inflated by it, so the null is wider: the power it costs, and the false
    alarms it removes, are in docs/changepoints.md.
    """
    pilot = ar1_sieve_draws(resid, [cut], rho, n_boot, rng)
    gen_min = bias_corrected(rho, best_split_fit(pilot, min_size)[3])
    if not RESTRICTED_NULL:
        return gen_min
    one_mean = np.zeros((1, centred.shape[0]), dtype=int)
    rho_v = variance_ratio_rho(centred[None], one_mean)[0]
    paths = ar1_sieve_draws(resid, [cut], rho_v, n_boot, rng)
    paths = paths - paths.mean(axis=1, keepdims=True)
    gen_v = bias_corrected(rho_v, variance_ratio_rho(paths, np.broadcast_to(one_mean, paths.shape[:2])))
    return np.maximum(gen_min, gen_v)


def residual_model(z: np.ndarray, cps: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of the piecewise-constant fit, their sd and lag-1 autocorrelation."""
    resid = np.empty_like(z)
    for a, b in segments(cps, z.shape[0]):
        resid[a:b] = z[a:b] - z[a:b].mean(axis=0)
    rho, sd = ar1_fit(resid, [c for c in cps if 0 < c < z.shape[0]])
    return resid, sd, rho


def ar1_adequacy(resid: np.ndarray, breaks: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    r"""One-sided test that the autocorrelation of residuals ``resid`` (L, C) falls no
    slower than AR(1)'s from lag one to two, per channel: p-values (C,) and the partial
    autocorrelation at lag two (C,).

    :math:`\hat\phi_{22} = (\hat r_2 - \hat r_1^2)/(1 - \hat r_1^2)`, with :math:`\hat r_k`
    the lag-k autocorrelations over pairs inside one segment (``breaks``, the segment
    starts) of the residuals divided by their smooth time-varying scale
    (:func:`log_polynomial_scale`, so that a drifting noise level is not read as
    dependence) and centred again inside each segment. Under AR(1)
    :math:`\sqrt n\,\hat\phi_{22} \to N(0, 1)` (Quenouille 1949; Box & Jenkins 1976,
    sec. 6.2), n the number of lag-two pairs; p is its upper tail.

    The no-change test's null is AR(1), and its rho (the smaller of two AR(1)
    estimates, :func:`ar1_fit`) is far too low exactly when :math:`r_2 > r_1^2` (AR(2)
    with a dominant positive root, AR(1) observed with noise): there the test is liberal
    (docs/changepoints.md, Known limits). Where the autocorrelation falls faster (MA,
    ARMA with a positive MA part) the test is conservative and this one is silent.
    """
    from scipy import stats

    length, n_ch = resid.shape
    seg = segment_labels(breaks, length)
    pairs = [seg[k:] == seg[:-k] for k in (1, 2)]
    n = int(pairs[1].sum())
    if n < 12:
        return np.full(n_ch, np.nan), np.full(n_ch, np.nan)
    valid = np.ones(length, dtype=bool)
    x = resid / log_polynomial_scale(resid, valid)
    for k in range(int(seg[-1]) + 1):  # centred again inside each segment
        x[seg == k] -= x[seg == k].mean(axis=0)
    denom = np.sum(x**2, axis=0)
    denom = np.where(denom > 0, denom, 1.0)
    r1, r2 = (np.sum(np.where(same[:, None], x[k:] * x[:-k], 0.0), axis=0) / denom
              for k, same in zip((1, 2), pairs, strict=True))
    phi22 = (r2 - r1**2) / np.maximum(1 - r1**2, 1e-12)
    return stats.norm.sf(np.sqrt(n) * phi22), phi22


class SeriesTest:
    r"""No-change tests of boundaries of a scaled series ``z`` (n, C), cached.

    :meth:`p` tests ``c`` in ``[a, b)``: the statistic is the split's gain per channel
    over the AR(1) long-run variance of its residuals, :math:`T = \sum_c
    \mathrm{gain}_c / \widehat{\mathrm{LRV}}_c` (:func:`ar1_fit`,
    :func:`long_run_variance`), against the same statistic of the best split of
    ``n_boot`` AR(1) sieve-bootstrap paths of those residuals, rho and the scale
    re-estimated on every path (:func:`best_split_fit`): a studentised (pivot) null
    that carries the estimator's error (Beran 1988, JASA 83:687). The paths are filtered
    with :func:`null_rho`: at least the restricted (no-change) estimate, each
    bias-corrected on pilot paths. p-value :math:`(1 + \#\{T^* \ge T\}) / (B + 1)`.
    (False alarms on AR(1) noise of 200 points, rho 0.3 / 0.6 / 0.9: 8.5 / 12.2 / 22.8 %
    with the share of variance explained against plug-in-rho paths, 6.5 / 6.8 / 10.0 %
    studentised with the split's rho, 6.8 / 5.5 / 4.5 % with the restricted rho;
    ``benchmarks/bench_changepoint_constants.py --null``.)
    """

    def __init__(self, z: np.ndarray, n_boot: int, rng: np.random.Generator, min_size: int):
        self.z, self.n, self.n_boot, self.rng, self.min_size = z, z.shape[0], n_boot, rng, min_size
        self.cum = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0)])
        self._cache: dict[tuple[int, int, int], float] = {}
        #: What each global test's null assumed (tests ``(0, c, n)``): the studentisation's
        #: rho, the rho the paths were filtered with, the time-varying scale's degree (per channel).
        self.null_models: dict[tuple[int, int, int], dict[str, list]] = {}

    def channel_gains(self, a: int, b: int, c: int) -> np.ndarray:
        """Mean-shift gain of splitting ``[a, c)`` at ``b``, per channel."""
        tot = self.cum[c] - self.cum[a]
        left = self.cum[b] - self.cum[a]
        return left**2 / (b - a) + (tot - left) ** 2 / (c - b) - tot**2 / (c - a)

    def gain(self, a: int, b: int, c: int) -> float:
        """Mean-shift gain of splitting ``[a, c)`` at ``b``, summed over channels."""
        return float(self.channel_gains(a, b, c).sum())

    def split_residuals(self, a: int, c: int, b: int) -> np.ndarray:
        """Residuals of ``[a, b)`` about the two segment means of the split at ``c``."""
        seg = self.z[a:b]
        return np.concatenate([seg[: c - a] - seg[: c - a].mean(axis=0),
                               seg[c - a:] - seg[c - a:].mean(axis=0)])

    def p(self, a: int, c: int, b: int) -> float:
        """p-value of the no-change test of ``c`` in ``[a, b)``."""
        key = (a, c, b)
        if key not in self._cache:
            resid = self.split_residuals(a, c, b)
            rho, sd = ar1_fit(resid, [c - a])
            stretch = self.z[a:b]
            gen = null_rho(resid, c - a, rho, stretch - stretch.mean(axis=0), self.n_boot, self.rng,
                           self.min_size)
            null = best_split_fit(ar1_sieve_draws(resid, [c - a], gen, self.n_boot, self.rng), self.min_size)[0]
            stat = float((self.channel_gains(a, c, b) / long_run_variance(rho, sd**2)).sum())
            self._cache[key] = float((1 + np.sum(null >= stat * (1 - 1e-12))) / (self.n_boot + 1))
            if a == 0 and b == self.n:  # the global test: what its null assumed goes in the evidence
                self.null_models[key] = {"rho_split": rho.tolist(), "rho_null": gen.tolist(),
                                         "scale_degree": noise_scale_degrees(resid, [c - a], gen)}
        return self._cache[key]

    def channel_p_values(self, a: int, c: int, b: int) -> np.ndarray:
        r"""Per-channel two-sided p-values (C,) of the shift at ``c`` in ``[a, b)``: the
        segment-mean difference over its AR(1) long-run standard error,
        :math:`z_c = \Delta_c / \sqrt{\widehat{\mathrm{LRV}}_c (1/(c-a) + 1/(b-c))}`
        against N(0, 1)."""
        from scipy import stats

        rho, sd = ar1_fit(self.split_residuals(a, c, b), [c - a])
        diff = self.z[c:b].mean(axis=0) - self.z[a:c].mean(axis=0)
        return 2 * stats.norm.sf(np.abs(diff) / np.sqrt(long_run_variance(rho, sd**2) * (1 / (c - a) + 1 / (b - c))))

    def global_null_model(self) -> dict[str, list] | None:
        """The null model of the test of the best single split against no change (the
        test ``(0, c, n)``), or None if it was not made."""
        return next(iter(self.null_models.values()), None)

    def neighbours(self, c: int, cur: Sequence[int]) -> tuple[int, int]:
        """The boundaries either side of ``c`` in ``cur`` (0 and n at the ends)."""
        srt = sorted(cur)
        i = srt.index(c)
        return (srt[i - 1] if i > 0 else 0), (srt[i + 1] if i + 1 < len(srt) else self.n)

    def round_pvals(self, cur: Sequence[int]) -> dict[int, float]:
        """p-value of every boundary of ``cur`` between its neighbours."""
        return {c: self.p(self.neighbours(c, cur)[0], c, self.neighbours(c, cur)[1]) for c in cur}

    def best_single_split(self) -> tuple[int | None, float]:
        """The best split of the whole series and its gain (None if too short)."""
        ts = np.arange(self.min_size, self.n - self.min_size + 1)
        if not ts.size:
            return None, 0.0
        gains = np.array([self.gain(0, t, self.n) for t in ts])
        return int(ts[np.argmax(gains)]), float(gains.max())


def _bridge_square_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\sum_{t \le k} (S_t - \tfrac{t}{k} S_k)^2` for k = 1 .. L (along axis -2 of
    ``x``, (..., L, C)) by prefix sums, and the partial sums :math:`S_t`."""
    s = np.cumsum(x, axis=-2)
    t = np.arange(1, x.shape[-2] + 1, dtype=float)[:, None]
    sum_s2, sum_ts = np.cumsum(s**2, axis=-2), np.cumsum(t * s, axis=-2)
    sum_t2 = np.cumsum(t**2, axis=-2)
    return sum_s2 - 2 * s / t * sum_ts + (s / t) ** 2 * sum_t2, s


def self_normalised_ratios(x: np.ndarray) -> np.ndarray:
    r"""The self-normalised mean-shift ratio of a split after each point k = 1 .. L-1,
    per channel: ``x`` (..., L, C) -> (..., L-1, C).

    :math:`G(k) = D(k)^2 / V(k)`, :math:`D(k) = L^{-1/2}(S_k - \tfrac{k}{L} S_L)`,
    :math:`V(k) = L^{-2}\{\sum_{t \le k}(S_{1,t} - \tfrac{t}{k} S_{1,k})^2 +
    \sum_{t > k}(S_{t,L} - \tfrac{L-t+1}{L-k} S_{k+1,L})^2\}` (Shao & Zhang 2010,
    JASA 105:1228). The normaliser is made from the two segments' own partial sums, so
    under any short-memory stationary noise the ratio's distribution does not depend on
    the long-run variance: no autocorrelation model is needed (the sup over k has 95 %
    point 40.1, their Table 1). Invariant to the level; computed on the centred series.
    """
    z = x - x.mean(axis=-2, keepdims=True)
    left, s = _bridge_square_sums(z)
    right = _bridge_square_sums(z[..., ::-1, :])[0][..., ::-1, :]
    length = x.shape[-2]
    return length * s[..., :-1, :] ** 2 / np.maximum(left[..., :-1, :] + right[..., 1:, :], 1e-300)


def best_split_self_normalised(x: np.ndarray, min_size: int) -> np.ndarray:
    """The self-normalised ratio summed over channels at each path's best least-squares
    split (segments at least ``min_size``): x (B, L, C) -> (B,). The statistic of
    :class:`SelfNormalisedTest` on its null paths."""
    cut = _best_split(np.cumsum(x, axis=1), min_size)[0]
    if cut is None:
        return np.zeros(x.shape[0])
    return self_normalised_ratios(x).sum(axis=-1)[np.arange(x.shape[0]), cut - 1]


def resampled_on_scale(resid: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Null paths (n_boot, L, C) for the self-normalised test: rows of ``resid`` (L, C)
    divided by a smooth scale :math:`\hat\sigma_t` (:func:`log_polynomial_scale`, at
    least 12 points), centred, drawn with replacement (rows jointly, so channels keep
    their cross-correlation) and multiplied by :math:`\hat\sigma_t` where they land;
    and the scale's degree per channel (C,), -1 where no scale was fitted.

    Independent draws suffice because the statistic is free of the serial dependence
    (:func:`self_normalised_ratios`); the scale keeps a drifting noise level in the null,
    whose limit depends on the variance profile."""
    length, n_ch = resid.shape
    valid = np.ones(length, dtype=bool)
    if length >= 12:
        log_var, degrees = _log_polynomial_fit(resid, valid)
        scale = np.exp(log_var / 2)
    else:
        scale, degrees = np.ones_like(resid), np.full(n_ch, -1)
    pool = resid / scale
    pool = pool - pool.mean(axis=0)
    return pool[rng.integers(0, length, size=(n_boot, length))] * scale[None], degrees


class SelfNormalisedTest(SeriesTest):
    r"""No-change tests of boundaries of ``z`` free of any autocorrelation model.

    :meth:`p` tests ``c`` in ``[a, b)`` with :math:`\sum_c G_c(c)`, the self-normalised
    ratio of the split (:func:`self_normalised_ratios`), against the same sum at the best
    least-squares split of ``n_boot`` paths of the split's residuals resampled on their
    smooth scale (:func:`resampled_on_scale`, :func:`best_split_self_normalised`).
    p-value :math:`(1 + \#\{G^* \ge G\}) / (B + 1)`.

    Used where the AR(1) check (:func:`ar1_adequacy`) rejects the AR(1) null of
    :class:`SeriesTest`, which is then liberal. The price is power: the normaliser is
    estimated from the stretch itself, so the null has heavy tails and short stretches
    between close boundaries are hard to pass (docs/changepoints.md, "When the noise is
    not AR(1)").
    """

    def p(self, a: int, c: int, b: int) -> float:
        """p-value of the self-normalised no-change test of ``c`` in ``[a, b)``."""
        key = (a, c, b)
        if key not in self._cache:
            resid = self.split_residuals(a, c, b)
            paths, degrees = resampled_on_scale(resid, self.n_boot, self.rng)
            null = best_split_self_normalised(paths, self.min_size)
            stat = float(self_normalised_ratios(self.z[a:b][None]).sum(axis=-1)[0, c - a - 1])
            self._cache[key] = float((1 + np.sum(null >= stat * (1 - 1e-12))) / (self.n_boot + 1))
            if a == 0 and b == self.n:
                self.null_models[key] = {"scale_degree": [int(d) if d >= 0 else None for d in degrees]}
        return self._cache[key]

    def channel_p_values(self, a: int, c: int, b: int) -> np.ndarray:
        """Per-channel p-values (C,) of the shift at ``c`` in ``[a, b)``: each channel's
        self-normalised ratio at that split against the same on ``CHANNEL_DRAWS`` paths
        of the split's residuals resampled on their scale (:func:`resampled_on_scale`,
        :func:`self_normalised_ratios`), so that no autocorrelation model enters here
        either; p = (1 + #exceeding) / (draws + 1)."""
        stat = self_normalised_ratios(self.z[a:b][None])[0, c - a - 1]
        resid = self.split_residuals(a, c, b)
        exceed = np.zeros(resid.shape[1])
        for start in range(0, CHANNEL_DRAWS, 500):  # blocks bound the memory to 500 paths
            paths = resampled_on_scale(resid, min(500, CHANNEL_DRAWS - start), self.rng)[0]
            exceed += np.sum(self_normalised_ratios(paths)[:, c - a - 1] >= stat * (1 - 1e-12), axis=0)
        return (1 + exceed) / (CHANNEL_DRAWS + 1)


class BestSegmentations:
    r"""Exact least-squares segmentations with ``m`` boundaries, for ``m = 1, 2, ...``.

    Segment neighbourhood (Auger & Lawrence 1989, Bull. Math. Biol. 51:39):
    :math:`F_m(e) = \min_s F_{m-1}(s) + c(s, e)`, :math:`F_0(e) = c(0, e)`, with
    :math:`c` the mean-shift cost of :class:`~phasekit.changepoints.costs.CostMeanShift`
    summed over channels and every segment at least ``min_size`` long. Each row
    :math:`F_m` costs O(n^2) (columns in blocks of about 4e6 entries); :meth:`best`
    extends the table as far as needed.
    """

    def __init__(self, z: np.ndarray, min_size: int):
        self.n, self.min_size = z.shape[0], int(min_size)
        zero = np.zeros((1, z.shape[1]))
        self.s1 = np.concatenate([zero, np.cumsum(z, axis=0)])
        self.s2 = np.concatenate([[0.0], np.cumsum((z**2).sum(axis=1))])
        self.f = [self._costs_from(np.where(np.arange(self.n + 1) == 0, 0.0, np.inf))[0]]
        self.arg: list[np.ndarray] = [np.zeros(self.n + 1, dtype=int)]

    def _costs_from(self, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\min_s` prev(s) + c(s, e) and its argmin, for every end e."""
        n, ms = self.n, self.min_size
        best, arg = np.full(n + 1, np.inf), np.zeros(n + 1, dtype=int)
        starts = np.flatnonzero(np.isfinite(prev))
        if not starts.size:
            return best, arg
        block = max(1, int(4e6 // (starts.size * self.s1.shape[1])))
        for lo in range(0, n + 1, block):
            ends = np.arange(lo, min(n + 1, lo + block))
            length = ends[None, :] - starts[:, None]
            d1 = self.s1[ends][None] - self.s1[starts][:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                cost = self.s2[ends][None] - self.s2[starts][:, None] - (d1**2).sum(-1) / length
            tot = np.where(length >= ms, prev[starts][:, None] + cost, np.inf)
            j = np.argmin(tot, axis=0)
            best[ends], arg[ends] = tot[j, np.arange(ends.size)], starts[j]
        return best, arg

    def best(self, m: int) -> list[int] | None:
        """The boundaries of the best segmentation with ``m`` of them (None if none fits)."""
        while len(self.f) <= m:
            row, arg = self._costs_from(self.f[-1])
            self.f.append(row)
            self.arg.append(arg)
        if not np.isfinite(self.f[m][self.n]):
            return None
        cps, end = [], self.n
        for k in range(m, 0, -1):
            end = int(self.arg[k][end])
            cps.append(end)
        return sorted(cps)


def sequential_selection(test: SeriesTest, segmentation: Callable[[int], list[int] | None],
                         alpha: float, max_m: int) -> tuple[list[int], dict[int, float], float, int]:
    r"""The number of boundaries chosen by the no-change test, sequentially, up to ``max_m``.

    For :math:`m = 1, 2, \ldots, \max(1, \mathtt{max\_m})` the best segmentation with
    ``m`` boundaries (``segmentation(m)``) is taken while every one of its boundaries
    passes its test between its neighbours at ``alpha`` (:meth:`SeriesTest.round_pvals`);
    the last segmentation that passed is returned. ``max_m`` is the number of boundaries
    of the penalised search, so both criteria hold: no more boundaries than the penalty
    allows, each one significant against the noise model, and the boundaries tested are
    the search's optimum for their number (not a subset of another number's optimum).
    ``m = 1`` is the test of no change against the best single split -- the global
    test, so a boundary is returned exactly when it rejects. (Testing every ``m`` and
    keeping the largest that passes instead lets chance pass a fine segmentation of
    persistent noise: F1 0.51 against 0.74 on persistent AR(1) noise of the synthetic
    family of ``benchmarks/bench_changepoint_constants.py``.) Returns the boundaries,
    their p-values, the global p-value and the number of segmentations tested.
    """
    accepted: list[int] = []
    pvals: dict[int, float] = {}
    p_global, m = 1.0, 1
    while m <= max(1, max_m) and (cand := segmentation(m)) is not None:
        round_p = test.round_pvals(cand)
        if m == 1:
            p_global = round_p[cand[0]]
        if max(round_p.values()) > alpha:
            return accepted, pvals, p_global, m
        accepted, pvals, m = cand, round_p, m + 1
    return accepted, pvals, p_global, m - 1


def segmentations_of(method: str, z: np.ndarray, min_size: int) -> Callable[[int], list[int] | None]:
    """``m -> boundaries`` of the best segmentation with ``m`` boundaries found by ``method``.

    ``pelt`` and ``dynp``: the exact optimum (:class:`BestSegmentations`); ``binseg``,
    ``bottomup``, ``kernelcpd``: ruptures' search for ``n_bkps = m`` (linear kernel for
    ``kernelcpd``), refined by the exact local step of
    :func:`~phasekit.changepoints.search.refine`. None when ``m`` boundaries do not fit.
    """
    if method in ("pelt", "dynp"):
        return BestSegmentations(z, min_size).best
    import ruptures as rpt

    from .costs import CostMeanShift
    from .search import refine

    n = z.shape[0]
    cost = CostMeanShift().fit(z)
    if method == "kernelcpd":
        algo = rpt.KernelCPD(kernel="linear", min_size=min_size, jump=1).fit(z)
    else:
        cls = rpt.Binseg if method == "binseg" else rpt.BottomUp
        algo = cls(custom_cost=CostMeanShift(), min_size=min_size, jump=1).fit(z)

    def best(m: int) -> list[int] | None:
        if (m + 1) * min_size > n:
            return None
        try:
            bk = algo.predict(n_bkps=m)
        except Exception:  # noqa: BLE001 - ruptures raises BadSegmentationParameters
            return None
        cps = [int(b) for b in bk if 0 < b < n]
        return refine(cost, cps, n, min_size) if len(cps) == m else None

    return best
