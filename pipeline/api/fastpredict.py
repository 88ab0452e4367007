"""Predictions for a handful of rows without pandas: the same fitted Pipeline, its own numbers.

A one-record request through scikit-learn costs about a millisecond of input validation and
DataFrame handling; the arithmetic of standard scaling plus logistic regression is a few
multiplications. ``LinearScorer`` reads the fitted parameters out of the one Pipeline that was
trained, pickled and deployed, so there is still a single source of truth; it serves only
pipelines of exactly that shape (anything else goes through ``predict_proba``), and a test
checks that it agrees with ``predict_proba`` and ``predict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from pipeline.core.schema import FEATURES

FAST_ROWS = 64  # past this many rows, the arithmetic is done with numpy arrays


class LinearScorer:
    """The arithmetic of a fitted StandardScaler + binary LogisticRegression pipeline."""

    def __init__(self, mean: Sequence[float], scale: Sequence[float], coef: Sequence[float],
                 intercept: float):
        self.weights = [c / s for c, s in zip(coef, scale, strict=True)]
        self.offset = intercept - sum(w * m for w, m in zip(self.weights, mean, strict=True))

    @classmethod
    def from_pipeline(cls, model) -> LinearScorer | None:
        """The scorer of a model, or None when the model is not of the supported shape."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        steps = getattr(model, "steps", None)
        if not steps or len(steps) != 2:
            return None
        scaler, classifier = steps[0][1], steps[1][1]
        if type(scaler) is not StandardScaler or type(classifier) is not LogisticRegression:
            return None
        if list(getattr(scaler, "feature_names_in_", [])) != list(FEATURES):
            return None
        if list(classifier.classes_) != [0, 1] or classifier.coef_.shape != (1, len(FEATURES)):
            return None
        mean = scaler.mean_ if scaler.with_mean else [0.0] * len(FEATURES)
        scale = scaler.scale_ if scaler.with_std else [1.0] * len(FEATURES)
        return cls([float(m) for m in mean], [float(s) for s in scale],
                   [float(c) for c in classifier.coef_[0]], float(classifier.intercept_[0]))

    def score(self, rows: Sequence[Sequence[float]]) -> tuple[list[int], list[float]]:
        """(predictions, probabilities of exiting) for rows of the three features."""
        if len(rows) > FAST_ROWS:
            return self._score_many(rows)
        predictions, probabilities = [], []
        for row in rows:
            z = self.offset + sum(w * x for w, x in zip(self.weights, row, strict=True))
            predictions.append(1 if z > 0 else 0)
            probabilities.append(1.0 / (1.0 + math.exp(-z)) if z >= 0
                                 else math.exp(z) / (1.0 + math.exp(z)))
        return predictions, probabilities

    def _score_many(self, rows: Sequence[Sequence[float]]) -> tuple[list[int], list[float]]:
        z = np.asarray(rows, dtype=float) @ np.asarray(self.weights) + self.offset
        return (z > 0).astype(int).tolist(), expit(z).tolist()


def plain_rows(body: object) -> list[list[float]] | None:
    """Rows of a JSON body holding only finite, non-negative JSON numbers, else None.

    None sends the request down the general path, which applies the ingestion rules with pandas
    and names the row and problem of anything invalid.
    """
    if not isinstance(body, dict) or len(body) != 1:
        return None
    records = body.get("records", body.get("dataframe_records"))
    if not isinstance(records, list) or not records:
        return None
    rows = []
    for record in records:
        if not isinstance(record, dict):
            return None
        row = []
        for name in FEATURES:
            value = record.get(name)
            if type(value) not in (int, float) or not 0 <= value < math.inf:
                return None
            try:
                row.append(float(value))
            except OverflowError:  # an integer beyond the float range
                return None
        rows.append(row)
    return rows
