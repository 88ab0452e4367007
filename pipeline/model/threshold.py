"""The decision threshold: tuned for F1 by cross-validation, and what stands in when it cannot be.

1. scikit-learn's TunedThresholdClassifierCV, on the selection's folds;
2. when it fails (the model's probabilities do not vary within a fold), the threshold that
   maximises F1 over the chosen candidate's pooled out-of-fold probabilities, if they vary;
3. when nothing could be cross-validated, or they do not vary, the training data's exit rate:
   for calibrated probabilities the F1-optimal threshold is half the best F1 attainable, which
   is near the base rate for a rare outcome, and it is the threshold of a model that knows nothing.

Whatever the source, a threshold at which the fitted model predicts the same class for every
training row (every compared row, when large data was subsampled) is moved, when another would
not, to the F1-maximising threshold on those rows: a model that predicts nobody leaves has F1 0
however well it ranks, and on a few dozen rows the tuned threshold can fall below every
probability (F1 of predicting that everybody leaves is high when many do).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.metrics import make_scorer
from sklearn.model_selection import TunedThresholdClassifierCV


@dataclass(frozen=True)
class Threshold:
    """A decision threshold, where it came from, and the candidate fitted on the rows given."""

    value: float
    f1: float | None = None  # cross-validated F1 at it, when it was tuned
    note: str = ""  # which fallback gave it, when one did
    fitted: object = None  # the candidate fitted on every row the threshold was chosen on


def _f1(truth, predicted) -> float:
    """F1 of the positive class, as sklearn.metrics.f1_score with zero_division=0, without its
    input checks: the threshold search calls it a hundred times per fold."""
    truth, predicted = np.asarray(truth) == 1, np.asarray(predicted) == 1
    tp = np.count_nonzero(truth & predicted)
    total = np.count_nonzero(truth) + np.count_nonzero(predicted)
    return 2.0 * tp / total if total else 0.0


def f1_threshold(probability: np.ndarray, truth: np.ndarray) -> float | None:
    """The threshold, among those that split the rows into both classes, at which predicting
    an exit for ``probability >= threshold`` has the highest F1; None when nothing varies.

    Thresholds are midway between neighbouring distinct probabilities, so that a new row a
    hair from a training row's probability is not decided by rounding.
    """
    p = np.asarray(probability, dtype=float)
    order = np.argsort(-p, kind="stable")
    p, exited = p[order], np.asarray(truth)[order] == 1
    cuts = np.flatnonzero(p[:-1] > p[1:])  # predict an exit for rows 0..cut: both classes
    if not len(cuts):
        return None
    true_positives = np.cumsum(exited)[cuts]
    f1 = 2.0 * true_positives / (exited.sum() + cuts + 1)
    best = cuts[int(np.argmax(f1))]  # the first maximum: the highest such threshold
    return float((p[best] + p[best + 1]) / 2)


def exit_rate(y: pd.Series) -> float:
    """The training data's exit rate as a threshold (0.5 when one class is missing)."""
    rate = float(np.mean(y))
    return rate if 0.0 < rate < 1.0 else 0.5


def tune_threshold(candidate, x: pd.DataFrame, y: pd.Series, splitter, seed: int,
                   out_of_fold: np.ndarray | None) -> Threshold:
    """The F1-tuned threshold of ``candidate`` (unfitted) on the selection's folds, or the first
    fallback that applies; ``out_of_fold`` is None when its probabilities do not vary in a fold.
    """
    try:
        tuned = TunedThresholdClassifierCV(candidate, scoring=make_scorer(_f1), cv=splitter,
                                           random_state=seed).fit(x, y)
    except ValueError as exc:  # "The provided estimator makes constant predictions"
        reason = str(exc).splitlines()[0]
        best = f1_threshold(out_of_fold, y) if out_of_fold is not None else None
        if best is None:
            found = Threshold(exit_rate(y), note=f"threshold not tuned ({reason}), and the "
                              "out-of-fold probabilities do not vary: the training data's exit "
                              "rate")
        else:
            found = Threshold(best, note=f"threshold not tuned ({reason}): the F1-maximising "
                              "threshold over the pooled out-of-fold probabilities")
        return keep_both_classes(replace(found, fitted=candidate.fit(x, y)), x, y)
    return keep_both_classes(Threshold(float(tuned.best_threshold_), float(tuned.best_score_),
                                       fitted=tuned.estimator_), x, y)


def untuned_threshold(candidate, x: pd.DataFrame, y: pd.Series) -> Threshold:
    """The threshold when too few rows of a class leave no folds: the training data's exit
    rate; ``candidate`` (unfitted) is fitted when both classes are there."""
    found = Threshold(exit_rate(y), note="too few rows of a class to cross-validate: threshold "
                      "at the training data's exit rate")
    if y.nunique() < 2:
        return found
    return keep_both_classes(replace(found, fitted=candidate.fit(x, y)), x, y)


def keep_both_classes(threshold: Threshold, x: pd.DataFrame, y: pd.Series) -> Threshold:
    """The threshold, or, where the fitted model predicts one class for every row of ``x`` at
    it and another threshold would split them, the F1-maximising threshold on those rows."""
    p = threshold.fitted.predict_proba(x)[:, 1]
    exits = np.count_nonzero(p >= threshold.value)
    if 0 < exits < len(p):
        return threshold
    better = f1_threshold(p, y.to_numpy())
    if better is None:  # the model's probabilities do not vary: no threshold splits the rows
        return threshold
    moved = (f"{threshold.value:.3f} predicted {'an exit' if exits else 'a stay'} for every "
             f"training row: moved to the F1-maximising threshold on them")
    return replace(threshold, value=better, f1=None,
                   note=f"{threshold.note}; {moved}" if threshold.note else moved)
