"""How good a model is on labelled rows: the one evaluation that scoring, the cycle, the report
and the API all use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from pipeline.core.schema import FEATURES, TARGET


def score_model(model, frame: pd.DataFrame, *, curve: bool = False) -> dict:
    """F1, precision, recall, ROC AUC and confusion counts of a model on a labelled frame.

    With ``curve``, also the ROC curve's points (``fpr``, ``tpr``; empty with one class only).
    """
    if frame.empty:
        raise ValueError("no rows to score on")
    truth = frame[TARGET].to_numpy()
    features = frame[list(FEATURES)]
    predicted = model.predict(features)
    probability = model.predict_proba(features)[:, 1]
    tn, fp, fn, tp = confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    both_classes = len(np.unique(truth)) == 2
    scores = {
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, probability)) if both_classes else None,
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
        "rows": len(frame),
    }
    if curve:
        from sklearn.metrics import roc_curve

        fpr, tpr, _ = roc_curve(truth, probability) if both_classes else ([], [], None)
        scores.update(fpr=[float(x) for x in fpr], tpr=[float(x) for x in tpr])
    return scores


def confusion_counts(scores: dict) -> list[list[int]]:
    """The 2x2 confusion matrix of a score_model result: rows actual, columns predicted."""
    return [[scores["tn"], scores["fp"]], [scores["fn"], scores["tp"]]]
