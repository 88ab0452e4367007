"""How good a model is on labelled rows: the one evaluation that scoring, the cycle, the report
and the API all use.

The scores are computed from the confusion counts and two sorts with numpy, not by
scikit-learn's metric functions: the same numbers (a test compares them), a quarter of the time
on the ten million new rows a drift check may judge, where each sklearn call re-validates its
input and ROC AUC builds the whole curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.schema import FEATURES, TARGET
from pipeline.model.candidates import decision_threshold
from pipeline.model.selection import row_losses


def predict_with_probability(model, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, probability of exiting) of each row, the model run once.

    A pipeline ending in a FixedThresholdClassifier predicts 1 exactly when the probability is
    at least its threshold (scikit-learn's rule), so the classes follow from the probabilities;
    any other model is asked for both.
    """
    probability = model.predict_proba(features)[:, 1]
    classifier = model.steps[-1][1] if hasattr(model, "steps") else model
    if type(classifier).__name__ == "FixedThresholdClassifier" and \
            classifier.response_method == "predict_proba" and \
            list(classifier.classes_) == [0, 1]:
        return (probability >= decision_threshold(model)).astype(np.int64), probability
    return np.asarray(model.predict(features)), probability


def evaluate_rows(model, frame: pd.DataFrame, *, curve: bool = False
                  ) -> tuple[dict, np.ndarray]:
    """(score_model's scores, each row's log-loss) of a model on a labelled frame."""
    if frame.empty:
        raise ValueError("no rows to score on")
    truth = frame[TARGET].to_numpy()
    predicted, probability = predict_with_probability(model, frame[list(FEATURES)])
    losses = row_losses(probability, truth)
    exited, flagged = truth == 1, np.asarray(predicted) == 1
    tp = int(np.count_nonzero(exited & flagged))
    fp = int(np.count_nonzero(flagged)) - tp
    fn = int(np.count_nonzero(exited)) - tp
    tn = len(truth) - tp - fp - fn
    scores = {
        "f1": _share(2 * tp, 2 * tp + fp + fn),  # zero_division=0, as scikit-learn's
        "precision": _share(tp, tp + fp),
        "recall": _share(tp, tp + fn),
        "roc_auc": roc_auc(exited, probability),
        "log_loss": float(losses.mean()),
        "brier": float(np.mean((probability - exited) ** 2)),
        "threshold": decision_threshold(model),
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "rows": len(frame),
    }
    if curve:
        from sklearn.metrics import roc_curve

        both = scores["roc_auc"] is not None
        fpr, tpr, _ = roc_curve(truth, probability) if both else ([], [], None)
        scores.update(fpr=[float(x) for x in fpr], tpr=[float(x) for x in tpr],
                      reliability=reliability(truth, probability))
    return scores, losses


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def roc_auc(exited: np.ndarray, probability: np.ndarray) -> float | None:
    """The area under the ROC curve: the chance that a leaver is scored above a stayer (ties
    count half); None with one class only. Two sorts and two sorted searches."""
    exited = np.asarray(exited, dtype=bool)
    probability = np.asarray(probability, dtype=float)
    positive, negative = np.sort(probability[exited]), np.sort(probability[~exited])
    if not len(positive) or not len(negative):
        return None
    below = np.searchsorted(negative, positive, side="left")
    tied = np.searchsorted(negative, positive, side="right") - below
    return float((below.sum(dtype=np.float64) + 0.5 * tied.sum(dtype=np.float64))
                 / (len(positive) * len(negative)))


def score_model(model, frame: pd.DataFrame, *, curve: bool = False) -> dict:
    """F1, precision, recall, ROC AUC, log-loss, Brier score and confusion counts of a model on
    a labelled frame (F1 and the counts at the model's decision threshold).

    With ``curve``, also the ROC curve's points (``fpr``, ``tpr``; empty with one class only)
    and the reliability diagram's bins (``reliability``).
    """
    return evaluate_rows(model, frame, curve=curve)[0]


def reliability(truth: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """The reliability diagram: per bin of predicted probability (deciles of the predictions,
    so every bin has rows), the mean prediction, the share that exited, and the row count."""
    truth = np.asarray(truth, dtype=float)
    probability = np.asarray(probability, dtype=float)
    edges = np.unique(np.quantile(probability, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, probability, side="right") - 1, 0,
                    max(len(edges) - 2, 0))
    out = []
    for b in np.unique(which):
        mask = which == b
        out.append({"predicted": float(probability[mask].mean()),
                    "observed": float(truth[mask].mean()), "rows": int(mask.sum())})
    return out


def confusion_counts(scores: dict) -> list[list[int]]:
    """The 2x2 confusion matrix of a score_model result: rows actual, columns predicted."""
    return [[scores["tn"], scores["fp"]], [scores["fn"], scores["tp"]]]
