r"""The no-change test of the samples path: a scan of likelihood-ratio statistics.

Between the pooled counts of the ``window`` checkpoints before and after each position
``t``: :math:`D_t = \sum_p G_p(t)` (prompts changing each their own way) and
:math:`G^{pool}_t` (counts pooled over prompts: a change all prompts share), each
standardised by its own multinomial null draws, over-dispersion (drift) measured away
from the significant peaks (:func:`over_dispersion`); boundaries are tested with
windows clipped at their neighbours (:class:`LocalTest`), removed weakest first
(:func:`eliminate`) and grown inside segments (:func:`grow`); a transition cut twice is
merged (:func:`merge_ramps`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .costs import deviance
from .phases import level_arrays
from .search import segments

__all__ = ["LocalTest", "ScanNull", "eliminate", "g_stat", "grow", "merge_ramps", "ramp_partners", "settle",
           "flip_mean", "null_draws", "observed_and_null", "observed_stats", "over_dispersion", "pooled_deflation",
           "scan_stats", "significant_peaks", "window_sums"]


def window_sums(cum: np.ndarray, t: int, lo: int, hi: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    a = max(lo, t - w)
    b = min(hi, t + w)
    return cum[t] - cum[a], cum[b] - cum[t]


def g_stat(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Likelihood-ratio statistic per channel between two count arrays (..., P, K)."""
    return deviance(left + right) - deviance(left) - deviance(right)


def scan_stats(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    r"""The two scan statistics between windows (..., P, K) -> (..., 2).

    ``[..., 0]``: :math:`\sum_p G_p`, prompts changing each their own way;
    ``[..., 1]``: :math:`G` of the counts pooled over prompts, a change that all
    prompts share (e.g. settling inside one seed distribution) -- with
    :math:`k-1` instead of :math:`\sum_p (k_p-1)` degrees of freedom.
    """
    per_prompt = g_stat(left, right).sum(axis=-1)
    pooled = g_stat(left.sum(axis=-2), right.sum(axis=-2))
    return np.stack([per_prompt, pooled], axis=-1)


#: Divide the pooled statistic by the part independent prompt changes explain
#: (:func:`pooled_deflation`); False only for the comparison of
#: benchmarks/bench_changepoint_nulls.py.
DEFLATE_POOLED = True
#: Random window swaps per position for :func:`flip_mean`.
N_FLIPS = 64


def flip_mean(left: np.ndarray, right: np.ndarray, rng: np.random.Generator, n_flips: int = N_FLIPS) -> np.ndarray:
    """Mean pooled G (n_pos,) over random swaps of each prompt's two windows (left/right (n_pos, P, K))."""
    acc = np.zeros(left.shape[0])
    for _ in range(n_flips):
        swap = rng.random(left.shape[:-1])[..., None] < 0.5
        acc += g_stat(np.where(swap, right, left).sum(axis=-2), np.where(swap, left, right).sum(axis=-2))
    return acc / n_flips


def pooled_deflation(left: np.ndarray, right: np.ndarray, pooled_obs: np.ndarray,
                     pooled_mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""Factor :math:`f_t \ge 1` of the pooled statistic that independent prompt changes explain.

    Independent random walks of P prompts add up to a pooled walk that the multinomial
    null of :math:`G^{pool}` does not know (the false alarms of docs/changepoints.md).
    Swapping each prompt's two windows at random keeps every prompt's own change but
    gives it a random sign, so (to second order, :math:`G \approx` a quadratic form of
    the window difference :math:`\sum_p w_p d_p`) the flip mean is
    :math:`\bar G^{flip}_t \approx \sum_p w_p^2 \lVert d_p \rVert^2`: all of the
    independent changes and :math:`1/P_{eff}` of a shared one, while :math:`G^{pool}_t`
    holds all of the shared one. The independent part is then

    .. math:: I_t = (\bar G^{flip}_t - G^{pool}_t / P_{eff})\, P_{eff} / (P_{eff} - 1),

    with :math:`E[I_t] \approx \mu_t` (the multinomial null mean) for pure noise and
    for a shared change alone, and :math:`f_t = \max(1, I_t / \mu_t)`;
    :math:`P_{eff} = (\sum_p n_p)^2 / \sum_p n_p^2`. With fewer than 4 prompts
    :math:`f_t = 1`. The randomisation is the sign-flip test of Fisher (1935); the
    deflation is that of a variance-inflation factor estimated from the data.
    """
    f = np.ones(left.shape[0])
    if left.shape[-2] < 4:
        return f
    n_p = left.sum(axis=-1) + right.sum(axis=-1)
    p_eff = n_p.sum(axis=-1) ** 2 / np.maximum((n_p ** 2).sum(axis=-1), 1e-12)
    indep = (flip_mean(left, right, rng) - pooled_obs / p_eff) * p_eff / np.maximum(p_eff - 1, 1e-12)
    ok = pooled_mu > 0
    f[ok] = np.maximum(1.0, indep[ok] / pooled_mu[ok])
    return f


def observed_stats(left: np.ndarray, right: np.ndarray, mu: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """:func:`scan_stats` with the pooled channel divided by :func:`pooled_deflation`."""
    d = scan_stats(left, right)
    if DEFLATE_POOLED and d.shape[0]:
        d[:, 1] = d[:, 1] / pooled_deflation(left, right, d[:, 1], mu[:, 1], rng)
    return d


def observed_and_null(left: np.ndarray, right: np.ndarray, n_boot: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The observed scan statistics (:func:`observed_stats`) and their null draws
    (:func:`null_draws`), drawn in that order from ``rng``."""
    d_null = null_draws(left, right, n_boot, rng)
    return observed_stats(left, right, d_null.mean(axis=0), rng), d_null


def null_draws(left: np.ndarray, right: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial draws of both scan statistics under 'same distribution in both windows'.

    left/right: (n_pos, P, K) -> (n_boot, n_pos, 2): every prompt keeps its own pooled
    distribution in both windows, with the observed numbers of samples.
    """
    pooled = left + right
    tot = pooled.sum(axis=-1, keepdims=True)
    k = pooled.shape[-1]
    p = np.where(tot > 0, pooled / np.where(tot > 0, tot, 1), 1.0 / k)
    nl = left.sum(axis=-1).astype(np.int64)
    nr = right.sum(axis=-1).astype(np.int64)
    out = np.empty((n_boot, left.shape[0], 2))
    chunk = max(1, 2_000_000 // max(1, left.size))
    for s in range(0, n_boot, chunk):
        m = min(chunk, n_boot - s)
        lb = rng.multinomial(nl[None], p[None], size=(m, *nl.shape))
        rb = rng.multinomial(nr[None], p[None], size=(m, *nr.shape))
        out[s:s + m] = scan_stats(lb.astype(float), rb.astype(float))
    return out


@dataclass
class ScanNull:
    r"""Standardisation and null of the scan: :math:`Z = \max_j (D_j/\phi_j - \mu_j)/\sigma_j`.

    ``mu``/``sd`` (n_pos, 2): null mean and sd of each statistic per position; ``phi``
    (2,): over-dispersion of each; ``m_null`` (B,): the null of :math:`\max_t Z_t`.
    """

    mu: np.ndarray
    sd: np.ndarray
    phi: np.ndarray
    psi: np.ndarray
    m_null: np.ndarray
    note: str = "measured away from the significant scan peaks"

    def z(self, d: np.ndarray, mu: np.ndarray | None = None, sd: np.ndarray | None = None) -> np.ndarray:
        mu = self.mu if mu is None else mu
        sd = self.sd if sd is None else sd
        return np.max((d / self.phi - mu) / (sd * self.psi), axis=-1)

    def p(self, z: float) -> float:
        return float((1 + np.sum(self.m_null >= z)) / (self.m_null.size + 1))


def scan_null(d_obs: np.ndarray, d_null: np.ndarray, clean: np.ndarray) -> ScanNull:
    r"""Over-dispersion from the positions without a candidate, and the max-Z null.

    Gradual drift (real change that is not a transition) inflates the statistics
    between windows inside a segment. Two robust factors are measured there, per
    statistic: the level :math:`\phi = \operatorname{median}_t D_t / E[D^*_t]` (>= 1) and
    the spread :math:`\psi` (>= 1) of the standardised :math:`(D_t/\phi - \mu_t)/\sigma_t`
    (1.4826 MAD; 1 for pure multinomial noise): drift varies from window to window, so
    it widens the distribution as well as shifting it.
    """
    mu = d_null.mean(axis=0)
    sd = np.maximum(d_null.std(axis=0, ddof=1), 1e-9 * np.maximum(mu, 1.0))
    ratio = np.where(mu > 0, d_obs / np.where(mu > 0, mu, 1), np.nan)
    use = clean if clean.sum() >= max(5, clean.size // 3) else np.ones_like(clean)
    phi, psi = np.ones(2), np.ones(2)
    for j in range(2):
        r = ratio[use, j]
        if np.isfinite(r).any():
            phi[j] = max(1.0, float(np.median(r[np.isfinite(r)])))
        zc = (d_obs[use, j] / phi[j] - mu[use, j]) / sd[use, j]
        zc = zc[np.isfinite(zc)]
        if zc.size >= 5:
            psi[j] = max(1.0, float(1.4826 * np.median(np.abs(zc - np.median(zc)))))
    m_null = np.max((d_null - mu) / sd, axis=(1, 2))  # the draws are the no-change model
    return ScanNull(mu, sd, phi, psi, m_null)


def over_dispersion(d_obs: np.ndarray, d_null: np.ndarray, positions: np.ndarray, window: int,
                    alpha: float, rounds: int = 3) -> ScanNull:
    """:func:`scan_null` with the clean positions found iteratively.

    A change inflates the scan over the ``2 window - 1`` positions whose windows straddle
    it, so measured over every position the drift (and its spread) is partly the change
    itself: with two changes in 40 checkpoints half the positions are touched, and the
    changes masked themselves (recall 0.77 on moderate jumps). So the windows around the
    strongest multinomial peak are left out first; then, until stable, the windows
    around the significant scan maxima under the null measured without them (a peak
    that is not significant once its window is left out goes back in). Positions are
    not left out around mere search candidates: drift makes candidates, and leaving
    their windows out would measure the drift where it is weakest. Where fewer than 5
    positions remain (short runs), a multinomial null without drift is assumed and
    recorded in ``note``.
    """
    null = scan_null(d_obs, d_null, np.ones(len(positions), dtype=bool))
    raw = ScanNull(null.mu, null.sd, np.ones(2), np.ones(2), null.m_null)
    top = positions[int(np.argmax(raw.z(d_obs)))]
    clean = np.array([not (top - window < t < top + window) for t in positions])
    if clean.sum() < 5:
        return ScanNull(null.mu, null.sd, np.ones(2), np.ones(2), null.m_null,
                        note=f"not measurable from {len(positions) + 1} checkpoints: a multinomial "
                        "null without drift is assumed (drift between checkpoints would "
                        "then read as change)")
    null = scan_null(d_obs, d_null, clean)
    for _ in range(rounds):
        peaks = significant_peaks(null.z(d_obs), positions, window, null, alpha, [])
        new = np.array([all(not (t - window < c < t + window) for c in peaks) for t in positions])
        if np.array_equal(new, clean):
            break
        clean = new
        null = scan_null(d_obs, d_null, clean)
    return null


#: Measure the drift again given the boundaries found before growing (LocalTest.condition_on).
CONDITION_DRIFT = True


class LocalTest:
    """No-change test of a boundary between its neighbours (windows clipped there).

    The statistic is the scan's Z for the clipped windows, standardised by its own
    null draws (cached per window), and compared with the max-Z null of the whole scan.
    """

    def __init__(self, cum: np.ndarray, t_len: int, window: int, null: ScanNull, n_boot: int,
                 rng: np.random.Generator, scan: tuple[np.ndarray, np.ndarray] | None = None,
                 min_size: int = 1):
        self.cum, self.t_len, self.window, self.null = cum, t_len, window, null
        self.first = null  # the drift measured before any boundary was accepted
        self.min_size = min_size
        self._stretch: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
        self.n_boot, self.rng = n_boot, rng
        self.scan = scan  # (d_obs, d_null) of the drift scan at positions self.scan_pos
        self.scan_pos = np.arange(1, t_len)

    def condition_on(self, cps: Sequence[int]) -> None:
        r"""Measure the drift again with the scan's windows clipped at the boundaries ``cps``.

        A change inflates the unclipped scan over ``2 window`` positions around it, so
        drift measured with it there (and the spread :math:`\psi`) is the change itself,
        which hides the next change. Given the boundaries already accepted, the scan at
        every other position with windows clipped at them measures the drift inside the
        segments only; :math:`\phi, \psi` of the null become those (>= 1). The level
        :math:`\phi` is floored at the one measured before the boundaries were known (a
        median over the run: segments without drift, a collapsed phase, must not lower
        the drift of one that has it); the spread :math:`\psi` is not (the windows of the
        changes not yet found widen it: floored, it masked a second moderate jump, recall
        0.88 against 0.90 over 30 runs). A phase's own
        drift (the liquid drifts, a collapsed phase does not) enters stretch by stretch
        (:meth:`null_in`). The max-Z null of the global test is unchanged.
        """
        srt = sorted(int(c) for c in cps)
        if not srt:
            return
        pos = np.array([t for t in range(1, self.t_len) if t not in srt])
        edges = np.array([0, *srt, self.t_len])
        k = np.searchsorted(edges, pos, side="right")
        a = np.maximum(edges[k - 1], pos - self.window)
        b = np.minimum(edges[k], pos + self.window)
        left, right = self.cum[pos] - self.cum[a], self.cum[b] - self.cum[pos]
        d_obs, d_null = observed_and_null(left, right, self.n_boot, self.rng)
        measured = scan_null(d_obs, d_null, np.ones(pos.size, dtype=bool))
        self.scan, self.scan_pos = (d_obs, d_null), pos
        # the level phi never below the one measured before (a median: a collapsed phase
        # must not lower the drift of a liquid one); the spread psi not floored (the one
        # measured before is widened by the changes not yet found, which masked them)
        self.null = ScanNull(self.null.mu, self.null.sd, np.maximum(self.first.phi, measured.phi),
                             measured.psi, self.null.m_null,
                             note=f"measured with windows clipped at the {len(srt)} boundaries found")

    def null_in(self, lo: int, hi: int, skip: Sequence[int] = (), short: str = "global") -> ScanNull:
        """The null with the over-dispersion of the stretch ``[lo, hi)`` if larger.

        Drift differs between phases (the liquid drifts, a collapsed phase does not):
        a boundary is tested against the drift measured around it (positions of the
        stretch whose windows do not reach ``skip``, at least 5 of them), or the global
        one if larger. Where fewer are left, ``short`` says what is used: ``"global"``
        the run's drift; ``"stretch"`` the drift over every position of the stretch
        (at least 3), the candidate's window included -- conservative, for a maximum
        chosen inside a short stretch (:meth:`best_in`): a run whose collapsed phase
        fills most of it has a global drift of about 1, so a random-walk step in a
        short drifting liquid stretch read as a phase (seed 3 of the 24-checkpoint
        layout: a cut at checkpoint 2 of a 6-checkpoint liquid, pooled drift 2.0 there
        against 1.0 over the run).
        """
        if self.scan is None:
            return self.null
        d_obs, d_null = self.scan
        pos = self.scan_pos
        inside = (pos > lo) & (pos < hi)
        use = inside.copy()
        for c in skip:
            use &= ~((pos > c - self.window) & (pos < c + self.window))
        if use.sum() < 5:
            if short != "stretch" or inside.sum() < 3:
                return self.null
            use = inside
        loc = scan_null(d_obs[use], d_null[:, use], np.ones(int(use.sum()), dtype=bool))
        return ScanNull(self.null.mu, self.null.sd, np.maximum(self.null.phi, loc.phi),
                         np.maximum(self.null.psi, loc.psi), self.null.m_null)

    def neighbours(self, c: int, cps: Sequence[int]) -> tuple[int, int]:
        srt = sorted(cps)
        i = srt.index(c)
        return (srt[i - 1] if i > 0 else 0), (srt[i + 1] if i + 1 < len(srt) else self.t_len)

    def stretch(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r"""The scan inside ``[lo, hi)`` with windows clipped there, and its own null.

        Returns the split positions ``ts`` (``min_size`` from either end), the observed
        statistics (n, 2), their null mean and sd (n, 2) from multinomial draws, and the
        null of the stretch's maximum, :math:`M^*_{[lo,hi)} = \max_{t,j} (D^*_{tj} -
        \mu_{tj}) / \sigma_{tj}` (B,): a boundary between its neighbours is tested by
        the scan of that stretch, as binary segmentation tests each segment (Vostrikova
        1981), not against the maximum over the whole run.
        """
        key = (lo, hi)
        if key not in self._stretch:
            out: tuple[np.ndarray, ...]
            ts = np.arange(lo + self.min_size, hi - self.min_size + 1)
            if ts.size == 0:
                empty = np.zeros((0, 2))
                out = (ts, empty, empty, empty, np.full(max(self.n_boot, 1), np.inf))
            else:
                a, b = np.maximum(lo, ts - self.window), np.minimum(hi, ts + self.window)
                left, right = self.cum[ts] - self.cum[a], self.cum[b] - self.cum[ts]
                d_obs, draws = observed_and_null(left, right, self.n_boot, self.rng)
                mu = draws.mean(axis=0)
                sd = np.maximum(draws.std(axis=0, ddof=1), 1e-9 * np.maximum(mu, 1.0))
                m_null = np.max((draws - mu) / sd, axis=(1, 2))
                out = (ts, d_obs, mu, sd, m_null)
            self._stretch[key] = out
        ts, d, mu, sd, m_null = self._stretch[key]
        return ts, d, mu, sd, m_null

    def z(self, c: int, cps: Sequence[int]) -> float:
        """Standardised scan statistic of ``c`` between its neighbours (drift measured
        around it, away from its own window)."""
        lo, hi = self.neighbours(c, cps)
        ts, d, mu, sd, _ = self.stretch(lo, hi)
        j = np.flatnonzero(ts == c)
        if not j.size:
            return -np.inf
        return float(self.null_in(lo, hi, [c]).z(d[j[0]], mu[j[0]], sd[j[0]]))

    def p(self, c: int, cps: Sequence[int]) -> float:
        """p-value of ``c`` against the null of the maximum of its stretch's scan."""
        lo, hi = self.neighbours(c, cps)
        m_null = self.stretch(lo, hi)[4]
        return float((1 + np.sum(m_null >= self.z(c, cps))) / (m_null.size + 1))

    def best_in(self, lo: int, hi: int, min_size: int | None = None) -> tuple[int, float, float]:
        """Strongest position of the scan inside ``[lo, hi)``, windows clipped there.

        Returns the position, its Z (-inf when the stretch is too short) and its p-value
        against the stretch's maximum null; its drift is that of :meth:`null_in` with
        ``short="stretch"``.
        """
        ts, d, mu, sd, m_null = self.stretch(lo, hi)
        if ts.size == 0:
            return lo, -np.inf, 1.0
        j = int(np.argmax(self.null_in(lo, hi).z(d, mu, sd)))
        # drift measured away from its window, or over the whole stretch where that
        # leaves too few positions (a maximum picked inside a short stretch)
        zj = float(self.null_in(lo, hi, [int(ts[j])], short="stretch").z(d[j], mu[j], sd[j]))
        p = float((1 + np.sum(m_null >= zj)) / (m_null.size + 1))
        return int(ts[j]), zj, p


def grow(cps: list[int], local: LocalTest, alpha: float, min_size: int, max_rounds: int = 50) -> list[int]:
    """Add the significant scan maxima inside the segments, then re-test (until stable).

    A strong change dominates the unclipped scan over its whole window, hiding a weaker
    change a few checkpoints away (e.g. settling after nucleation); inside the segments
    cut by the boundaries found so far, with windows clipped at them, it shows. Each
    round adds the strongest significant maximum of every segment (same max-Z null as
    every other test) and runs the backward elimination again -- binary segmentation
    with the scan test (Vostrikova 1981) on top of the exact search. The set returned
    passes under the drift measured given exactly that set (:func:`settle`).
    """
    current = sorted(cps)
    for _ in range(max_rounds):
        if CONDITION_DRIFT:
            local.condition_on(current)
        added = []
        for a, b in segments(current, local.t_len):
            t, zt, pt = local.best_in(a, b)
            if np.isfinite(zt) and pt <= alpha:
                added.append(t)
        if not added:
            break
        new = eliminate(sorted({*current, *added}), local, alpha)
        if new == current:
            break
        current = new
    return settle(current, local, alpha)


def settle(cps: list[int], local: LocalTest, alpha: float, max_rounds: int = 50) -> list[int]:
    """Backward elimination under the drift measured given the cuts it keeps.

    :func:`grow` tests each round's set under the drift measured given the round before
    (:meth:`LocalTest.condition_on`), so without this last step a cut could fail its own test under
    the null measured given the final set, the one its p-value is reported with (an
    audit on new layouts: 8 of 695 boundaries with p between 0.055 and 0.25). Here the
    drift is measured again given the current cuts and the weakest failing cut dropped,
    until every cut passes under the null measured given exactly those cuts. Only removes.
    """
    current = sorted(cps)
    for _ in range(max_rounds):
        if not current:
            break
        if CONDITION_DRIFT:
            local.condition_on(current)
        new = eliminate(current, local, alpha)
        if new == current:
            break
        current = new
    return current


def eliminate(cands: list[int], local: LocalTest, alpha: float) -> list[int]:
    """Backward elimination: drop the weakest boundary until every one has p <= alpha."""
    current = sorted(cands)
    while current:
        pvals = {c: local.p(c, current) for c in current}
        worst = max(current, key=lambda c: (pvals[c], -c))
        if pvals[worst] <= alpha:
            break
        current.remove(worst)
    return current


def significant_peaks(z: np.ndarray, positions: np.ndarray, window: int, null: ScanNull, alpha: float,
                near: Sequence[int], gap: int = 3) -> list[int]:
    """Significant local maxima of the scan (within +-window) away from the candidates."""
    out: list[int] = []
    for i, t in enumerate(positions):
        lo, hi = max(0, i - window), min(len(z), i + window + 1)
        if z[i] < z[lo:hi].max() or null.p(float(z[i])) > alpha:
            continue
        if all(abs(int(t) - c) >= gap for c in [*near, *out]):
            out.append(int(t))
    return out


def mixture_fits_better(counts: np.ndarray, a: int, b1: int, b2: int, b: int) -> bool:
    r"""Is ``[b1, b2)`` a transit between ``[a, b1)`` and ``[b2, b)`` rather than a phase?

    A ramp moves every prompt from its left to its right distribution: each middle
    checkpoint ``i`` is a mixture :math:`w_i \hat p^L_p + (1-w_i)\hat p^R_p` (one weight
    for all prompts). A phase of its own holds one distribution per prompt over the
    stretch. The stretch is a transit when the mixture has the better BIC (Schwarz
    1978: one weight per checkpoint against :math:`\sum_p (k_p - 1)` probabilities;
    ``w_i`` on a grid of 51 values; left/right proportions with a 1/2 pseudo-count).
    """
    mid = counts[b1:b2]
    pl = counts[a:b1].sum(axis=0) + 0.5
    pr = counts[b2:b].sum(axis=0) + 0.5
    pl /= pl.sum(axis=-1, keepdims=True)
    pr /= pr.sum(axis=-1, keepdims=True)
    w = np.linspace(0.0, 1.0, 51)[:, None, None]
    logmix = np.log(w * pl[None] + (1 - w) * pr[None])  # (51, P, K)
    ll_mix = sum(float(np.max((mid[i][None] * logmix).sum(axis=(1, 2)))) for i in range(mid.shape[0]))
    plateau = mid.sum(axis=0)
    tot = plateau.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(plateau > 0, np.log(plateau / np.where(tot > 0, tot, 1)), 0.0)
    ll_plateau = float((mid * logp[None]).sum())
    log_n = math.log(max(float(mid.sum()), 2.0))
    df_plateau = float(np.maximum((plateau > 0).sum(axis=-1) - 1, 0).sum())
    return ll_mix - 0.5 * log_n * mid.shape[0] >= ll_plateau - 0.5 * log_n * df_plateau


def merge_ramps(cps: list[int], counts: np.ndarray, window: int, merge_within: int) -> list[int]:
    """Merge two cuts closer than ``merge_within`` whose middle segment is a transit.

    A transition spread over a few checkpoints (a ramp) can be cut twice; the short
    segment between is a transit when its disorder (normalised entropy + between-prompt
    JS) lies between its neighbours' and :func:`mixture_fits_better`. The first cut
    (where the change begins) is kept. The closest pair is tried first, and a kept cut
    is not merged again (a ramp is one transition, cut at most twice): merged left to
    right, a drift cut 5 checkpoints before a ramp swallowed the ramp's first cut
    (cuts 7, 12, 14 with truth 12 gave 7, 14).
    """
    if not merge_within or len(cps) < 2:
        return list(cps)
    t_len = counts.shape[0]
    lv = level_arrays(counts)
    disorder = np.nan_to_num(lv["entropy"]) + np.nan_to_num(lv["js"])
    merged, kept = list(cps), set()
    changed = True
    while changed and len(merged) > 1:
        changed = False
        for i in sorted(range(len(merged) - 1), key=lambda i: (merged[i + 1] - merged[i], i)):
            b1, b2 = merged[i], merged[i + 1]
            if b2 - b1 >= merge_within or b1 in kept or b2 in kept:
                continue
            lo = merged[i - 1] if i > 0 else 0
            hi = merged[i + 2] if i + 2 < len(merged) else t_len
            d_l = disorder[max(lo, b1 - window):b1].mean()
            d_m = disorder[b1:b2].mean()
            d_r = disorder[b2:min(hi, b2 + window)].mean()
            if min(d_l, d_r) <= d_m <= max(d_l, d_r) and mixture_fits_better(
                    counts, max(lo, b1 - window), b1, b2, min(hi, b2 + window)):
                del merged[i + 1]
                kept.add(b1)
                changed = True
                break
    return merged


def ramp_partners(cps: Sequence[int], merged: Sequence[int]) -> dict[int, int]:
    """``{kept cut: merged-away cut}`` of :func:`merge_ramps`: a cut merged away is the
    second cut of its ramp and its partner the cut just before it (a kept cut is not
    merged again, so the two were neighbours)."""
    srt = sorted(cps)
    return {srt[i - 1]: c for i, c in enumerate(srt) if c not in merged and i > 0}
