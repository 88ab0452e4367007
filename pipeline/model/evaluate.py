"""How good a model is on labelled rows: the one evaluation that scoring, the cycle, the report
and the API all use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

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
    tn, fp, fn, tp = confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    both_classes = len(np.unique(truth)) == 2
    scores = {
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, probability)) if both_classes else None,
        "log_loss": float(losses.mean()),
        "brier": float(brier_score_loss(truth, probability, labels=[0, 1])),
        "threshold": decision_threshold(model),
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
        "rows": len(frame),
    }
    if curve:
        from sklearn.metrics import roc_curve

        fpr, tpr, _ = roc_curve(truth, probability) if both_classes else ([], [], None)
        scores.update(fpr=[float(x) for x in fpr], tpr=[float(x) for x in tpr],
                      reliability=reliability(truth, probability))
    return scores, losses


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
