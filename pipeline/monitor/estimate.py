"""The deployed model's scores estimated without labels, with the distribution of the realised
F1, and the check that says when such an estimate no longer holds.

Confidence-based performance estimation (NannyML's CBPE): a calibrated probability p is the
expected count of an exit on its row. At the model's decision threshold the rows it flags
(predicted to leave) are fixed, so once the outcomes come the true positives TP are a sum of
independent Bernoulli(p) over the flagged rows and the missed exits FN the same over the
others: two independent Poisson-binomial counts, with FP = flagged - TP. Every score that
follows from TP and FN has a distribution given the probabilities, computed here exactly (or,
past a million cells, by 20,000 seeded draws):

- ``f1``, ``precision``, ``recall``: the expected value of each (CBPE's ratio of expected
  counts differs from it by O(1/rows));
- ``f1_low``, ``f1_high``: the central ``level`` (90%) interval of the realised F1. When the
  probabilities are calibrated it covers the realised F1 at least that often, whatever the
  batch size; it holds label noise only, so its width is what a batch of this size allows;
- ``roc_auc``: the expected ROC AUC with the probabilities as fractional labels (CBPE's).

What it cannot see: the probabilities are the model's, so a change of P(exited | features)
(concept drift) leaves the estimate unmoved while the realised scores fall. Only labels show
it: ``check_estimate`` sets a labelled batch's realised F1 against the distribution the estimate
gives for the same rows, a two-sided test at ``alpha`` (2%): a batch on which the estimate holds
is flagged at most that often, as far as the band holds the model's error. It does not hold its
misspecification (a systematic error of the model where its form differs from the truth),
which adds false alarms: at 5% a quiet batch of 500 rows was flagged 5.5% of the time on the
generator (bench/RESULTS.md), hence the stricter level.

Pure functions of arrays: the cycle (cycle/estimating.py) reads, calibrates, records and logs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

LEVEL = 0.9  # the band's coverage
ALPHA = 0.02  # the self-check's level (its false alarms when the model's error is all in the band)
EXACT_ROWS = 4_000  # Poisson-binomial exactly (dynamic programming) up to this many rows
MAX_CELLS = 1_000_000  # the (TP, FN) grid computed whole up to this size, else sampled
DRAWS = 20_000
SORT_ROWS = 200_000  # expected ROC AUC: sorted up to this many rows, binned beyond
BINS = 1 << 20
TAIL = 1e-12  # probability mass left out at each end of a count's distribution


@dataclass(frozen=True)
class Estimate:
    """The estimated scores of a model on rows whose outcomes are not known yet."""

    rows: int
    flagged: int  # rows predicted to leave, at the model's threshold
    expected_exits: float  # the sum of the calibrated probabilities
    f1: float
    f1_low: float
    f1_high: float
    precision: float
    recall: float
    roc_auc: float | None
    level: float = LEVEL
    spread: float = 0.0  # the model's own error in expected F1 (sd), within the band

    def as_dict(self) -> dict:
        """A plain dict for estimate.json, the history and the API."""
        return asdict(self)


@dataclass(frozen=True)
class SelfCheck:
    """A labelled batch's realised F1 against the estimate's distribution for the same rows."""

    rows: int
    realised_f1: float
    expected_f1: float
    low: float  # the central 1 - alpha interval of the F1 the estimate allows
    high: float
    p_value: float  # two-sided
    alpha: float
    holds: bool

    def as_dict(self) -> dict:
        """A plain dict for estimate.json, the history and the API."""
        return asdict(self)

    @property
    def p_text(self) -> str:
        """The p-value as the log says it (0: beyond the tails the distribution keeps)."""
        return f"p {self.p_value:.2g}" if self.p_value > 0 else f"p below {TAIL:g}"

    def describe(self) -> str:
        """One line for the log."""
        verdict = "the estimate holds" if self.holds else "the estimate no longer holds " \
                                                          "(concept drift)"
        return (f"self-check on {self.rows} labelled rows: realised F1 {self.realised_f1:.4f} "
                f"against {self.expected_f1:.4f} expected ({1 - self.alpha:.0%} of batches "
                f"within {self.low:.4f}-{self.high:.4f}; {self.p_text}): {verdict}")


def poisson_binomial(p: np.ndarray) -> tuple[int, np.ndarray]:
    """(first count, probabilities of first, first + 1, ...) of a sum of Bernoulli(p).

    Exact up to EXACT_ROWS rows; beyond, the refined normal approximation (with the skewness
    term; Volkova 1996), which is exact to a few parts in a thousand there, on the counts within
    ten standard deviations of the mean. Tails below TAIL are cut.
    """
    p = np.asarray(p, dtype=float)
    if len(p) <= EXACT_ROWS:
        pmf = np.zeros(len(p) + 1)
        pmf[0] = 1.0
        for i, q in enumerate(p):
            tail = pmf[1:i + 2] * (1 - q) + pmf[:i + 1] * q
            pmf[0] *= 1 - q
            pmf[1:i + 2] = tail
        first = 0
    else:
        from scipy.stats import norm

        mean, var = float(p.sum()), float(np.dot(p, 1 - p))
        sd = math.sqrt(max(var, 1e-12))
        skew = float(np.dot(p * (1 - p), 1 - 2 * p)) / sd ** 3
        first = max(0, math.floor(mean - 10 * sd))
        last = min(len(p), math.ceil(mean + 10 * sd))
        x = (np.arange(first - 1, last + 1) + 0.5 - mean) / sd
        cdf = np.clip(norm.cdf(x) + skew * (1 - x * x) * norm.pdf(x) / 6, 0, 1)
        pmf = np.clip(np.diff(cdf), 0, None)
    keep = np.flatnonzero(pmf > TAIL)
    if not len(keep):
        return first, np.ones(1)
    pmf = pmf[keep[0]:keep[-1] + 1]
    return first + int(keep[0]), pmf / pmf.sum()


class _F1Law:
    """The distribution of the realised F1 (and precision, recall) given the probabilities;
    ``spread``: the standard deviation of the model's own error in expected F1, added as an
    independent normal term (pipeline.model.uncertainty)."""

    def __init__(self, flagged_p: np.ndarray, other_p: np.ndarray, spread: float = 0.0,
                 seed: int = 0):
        self.flagged = len(flagged_p)
        tp0, tp_pmf = poisson_binomial(flagged_p)
        fn0, fn_pmf = poisson_binomial(other_p)
        tp = np.arange(tp0, tp0 + len(tp_pmf), dtype=float)
        fn = np.arange(fn0, fn0 + len(fn_pmf), dtype=float)
        rng = np.random.default_rng(seed)
        if len(tp) * len(fn) <= MAX_CELLS:
            tp_grid, fn_grid = (a.ravel() for a in np.meshgrid(tp, fn, indexing="ij"))
            weights = np.outer(tp_pmf, fn_pmf).ravel()
        else:
            tp_grid = tp[_draw(rng, tp_pmf)]
            fn_grid = fn[_draw(rng, fn_pmf)]
            weights = np.full(DRAWS, 1.0 / DRAWS)
        self.mean_tp = float(np.dot(weights, tp_grid))
        self.recall = float(np.dot(weights, _share(tp_grid, tp_grid + fn_grid)))
        values = f1_of(tp_grid, self.flagged, fn_grid)
        self.mean = float(np.dot(weights, values))
        order = np.argsort(values, kind="stable")
        self.values, self.cumulative = values[order], np.cumsum(weights[order])
        if spread > 0:  # the model's error on top of the outcomes' noise: by seeded draws
            noisy = self.values[_draw(rng, weights[order])] + spread * rng.standard_normal(DRAWS)
            self.values = np.sort(noisy)
            self.cumulative = np.arange(1, DRAWS + 1) / DRAWS

    def quantile(self, q: float) -> float:
        """The smallest F1 whose cumulative probability reaches q."""
        i = np.searchsorted(self.cumulative, q - 1e-12, side="left")
        return float(self.values[min(i, len(self.values) - 1)])

    def at_most(self, value: float) -> float:
        """P(F1 <= value)."""
        i = np.searchsorted(self.values, value + 1e-12, side="right")
        return float(self.cumulative[i - 1]) if i else 0.0

    def at_least(self, value: float) -> float:
        """P(F1 >= value)."""
        i = np.searchsorted(self.values, value - 1e-12, side="left")
        return float(1.0 - self.cumulative[i - 1]) if i else 1.0


def _draw(rng: np.random.Generator, pmf: np.ndarray) -> np.ndarray:
    """DRAWS seeded positions drawn from a probability mass function."""
    return np.minimum(np.searchsorted(np.cumsum(pmf), rng.random(DRAWS)), len(pmf) - 1)


def expected_f1_spread(flagged, probability_draws) -> float:
    """The standard deviation of the expected F1 (CBPE's ratio of expected counts) over rows
    of probabilities, each drawn from the model's own uncertainty; 0 with fewer than two."""
    if probability_draws is None or len(probability_draws) < 2:
        return 0.0
    flagged = np.asarray(flagged, dtype=bool)
    draws = np.asarray(probability_draws, dtype=float)
    tp = draws[:, flagged].sum(axis=1)
    fn = draws[:, ~flagged].sum(axis=1)
    return float(np.std(f1_of(tp, int(flagged.sum()), fn), ddof=1))


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part, whole, out=np.zeros_like(part, dtype=float), where=whole > 0)


def f1_of(tp, flagged, fn) -> np.ndarray:
    """F1 from the true positives, the rows flagged and the missed exits (0 when nothing was
    flagged and nobody left, as scikit-learn's zero_division=0)."""
    tp = np.asarray(tp, dtype=float)
    return _share(2 * tp, tp + flagged + np.asarray(fn, dtype=float))


def _split(flagged, probability) -> tuple[np.ndarray, np.ndarray]:
    flagged = np.asarray(flagged, dtype=bool)
    probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    if flagged.shape != probability.shape:
        raise ValueError("one flag and one probability per row")
    return probability[flagged], probability[~flagged]


def expected_roc_auc(score, probability) -> float | None:
    """ROC AUC with each row a leaver of weight p and a stayer of weight 1 - p, ranked by the
    model's score (ties count half; a row is never compared with itself). None without rows or
    when every p is 0 or 1 alike.

    Up to SORT_ROWS rows the scores are sorted; beyond, they are counted into 2**20 equal bins
    of their range (linear time: a sort of ten million scores costs seconds), scores sharing a
    bin counting as tied, which moves the figure by about the share of pairs within one bin
    (a few in a million).
    """
    score = np.asarray(score, dtype=float)
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    if not len(p):
        return None
    pairs = p.sum() * (len(p) - p.sum()) - float(np.dot(p, 1 - p))
    if pairs <= 0:
        return None
    if len(p) <= SORT_ROWS:
        order = np.argsort(score, kind="stable")
        s = score[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
        group_pos = np.add.reduceat(p[order], starts)
        group_neg = (np.diff(np.r_[starts, len(s)]) - group_pos)
    else:
        low, high = float(score.min()), float(score.max())
        scale = (BINS - 1) / (high - low) if high > low else 0.0
        bins = ((score - low) * scale).astype(np.int64)
        group_pos = np.bincount(bins, weights=p, minlength=BINS)
        group_neg = np.bincount(bins, minlength=BINS) - group_pos
    below = np.cumsum(group_neg) - group_neg  # stayer weight scored strictly lower
    tied = float(np.dot(group_pos, group_neg)) - float(np.dot(p, 1 - p))
    return float((np.dot(group_pos, below) + 0.5 * tied) / pairs)


def estimate_scores(flagged, probability, score=None, level: float = LEVEL,
                    spread: float = 0.0) -> Estimate:
    """The expected scores and the band of F1, given each row's flag (the model's prediction),
    calibrated probability, and the model's own score (for ROC AUC; the probability when
    None); ``spread``: the model's own error in expected F1 (expected_f1_spread), widening
    the band."""
    flagged_p, other_p = _split(flagged, probability)
    law = _F1Law(flagged_p, other_p, spread)
    tail = (1 - level) / 2
    rows = len(flagged_p) + len(other_p)
    return Estimate(rows=rows, flagged=len(flagged_p),
                    expected_exits=float(flagged_p.sum() + other_p.sum()), f1=law.mean,
                    f1_low=law.quantile(tail), f1_high=law.quantile(1 - tail),
                    precision=law.mean_tp / len(flagged_p) if len(flagged_p) else 0.0,
                    recall=law.recall,
                    roc_auc=expected_roc_auc(probability if score is None else score,
                                             probability) if rows else None,
                    level=level, spread=spread)


def check_estimate(flagged, probability, exited, alpha: float = ALPHA,
                   spread: float = 0.0) -> SelfCheck:
    """Set the realised F1 of labelled rows against the distribution the estimate gives them
    (``spread`` as for estimate_scores): two-sided p-value, and whether the estimate holds
    (p >= alpha)."""
    flagged = np.asarray(flagged, dtype=bool)
    exited = np.asarray(exited, dtype=bool)
    flagged_p, other_p = _split(flagged, probability)
    law = _F1Law(flagged_p, other_p, spread)
    tp = int(np.count_nonzero(flagged & exited))
    realised = float(f1_of(tp, len(flagged_p), int(np.count_nonzero(~flagged & exited))))
    p_value = min(1.0, 2 * min(law.at_most(realised), law.at_least(realised)))
    return SelfCheck(rows=len(flagged), realised_f1=realised, expected_f1=law.mean,
                     low=law.quantile(alpha / 2), high=law.quantile(1 - alpha / 2),
                     p_value=p_value, alpha=alpha, holds=bool(p_value >= alpha))
