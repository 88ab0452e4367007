"""Predictions for a handful of rows without pandas: the same fitted Pipeline, its own numbers.

A one-record request through scikit-learn costs about a millisecond of input validation and
DataFrame handling; the arithmetic of a logistic regression is a few multiplications.
``LinearScorer`` reads the fitted parameters out of the one Pipeline that was trained, pickled and
deployed, so there is still a single source of truth. It serves only pipelines of a shape it
knows exactly: optional log(1 + x), standard scaling, and a binary logistic regression, plain or
behind a FixedThresholdClassifier (the decision threshold tuned at training). Any other model
goes through ``predict_proba``.

When a model is loaded, ``fast_scorer`` checks the arithmetic against the model's own
``predict_proba`` and ``predict`` on a grid of sample rows and gives no scorer when they
disagree; and a row whose probability lies within a hair of the threshold is left to the model
itself, so the fast path never answers differently from the model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from itertools import product

import numpy as np
from scipy.special import expit

from pipeline.core.schema import FEATURES

logger = logging.getLogger(__name__)

FAST_ROWS = 64  # past this many rows, the arithmetic is done with numpy arrays
UNSURE = 1e-9  # probabilities this close to the threshold are left to the model itself
TOLERANCE = 1e-9  # the largest difference in probability the check at load accepts
# Sample rows for the check at load: every combination of these values for the three features.
_SAMPLE_VALUES = (0, 1, 2, 5, 12, 40, 150, 600, 3_000, 20_000, 250_000)


class LinearScorer:
    """The arithmetic of a fitted [log1p] + StandardScaler + binary logistic regression."""

    def __init__(self, mean: Sequence[float], scale: Sequence[float], coef: Sequence[float],
                 intercept: float, *, log: bool = False, threshold: float | None = None):
        self.weights = [c / s for c, s in zip(coef, scale, strict=True)]
        self.offset = intercept - sum(w * m for w, m in zip(self.weights, mean, strict=True))
        self.log = log
        self.threshold = threshold  # None: LogisticRegression.predict, the sign of the logit

    @classmethod
    def from_pipeline(cls, model) -> LinearScorer | None:
        """The scorer of a model, or None when the model is not of a shape it knows."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        steps = [step for _, step in getattr(model, "steps", None) or []]
        log = bool(steps) and type(steps[0]) is FunctionTransformer
        if log:
            transformer = steps.pop(0)
            if transformer.func is not np.log1p or transformer.kw_args:
                return None
        if len(steps) != 2 or type(steps[0]) is not StandardScaler:
            return None
        scaler, classifier = steps
        threshold = None
        if type(classifier).__name__ == "FixedThresholdClassifier":
            if classifier.response_method != "predict_proba" or \
                    not isinstance(classifier.threshold, (int, float)):
                return None
            threshold = float(classifier.threshold)
            classifier = getattr(classifier, "estimator_", None)
            if type(classifier).__name__ == "FrozenEstimator":  # fitted before it was wrapped
                classifier = classifier.estimator
        if type(classifier) is not LogisticRegression:
            return None
        if list(getattr(scaler, "feature_names_in_", [])) != list(FEATURES):
            return None
        if list(classifier.classes_) != [0, 1] or classifier.coef_.shape != (1, len(FEATURES)):
            return None
        mean = scaler.mean_ if scaler.with_mean else [0.0] * len(FEATURES)
        scale = scaler.scale_ if scaler.with_std else [1.0] * len(FEATURES)
        return cls([float(m) for m in mean], [float(s) for s in scale],
                   [float(c) for c in classifier.coef_[0]], float(classifier.intercept_[0]),
                   log=log, threshold=threshold)

    def _logit(self, row: Sequence[float]) -> float:
        if self.log:
            row = [math.log1p(x) for x in row]
        return self.offset + sum(w * x for w, x in zip(self.weights, row, strict=True))

    def score(self, rows: Sequence[Sequence[float]]
              ) -> tuple[list[int], list[float], list[int]]:
        """(predictions, probabilities of exiting, positions of rows too close to call) for
        rows of the three features; the caller asks the model for the rows too close to call."""
        if len(rows) > FAST_ROWS:
            return self._score_many(rows)
        predictions, probabilities, unsure = [], [], []
        for i, row in enumerate(rows):
            z = self._logit(row)
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
            if self.threshold is None:
                predictions.append(1 if z > 0 else 0)
                near = abs(z) < UNSURE
            else:
                predictions.append(1 if p >= self.threshold else 0)
                near = abs(p - self.threshold) < UNSURE
            probabilities.append(p)
            if near:
                unsure.append(i)
        return predictions, probabilities, unsure

    def _score_many(self, rows: Sequence[Sequence[float]]
                    ) -> tuple[list[int], list[float], list[int]]:
        x = np.asarray(rows, dtype=float)
        z = (np.log1p(x) if self.log else x) @ np.asarray(self.weights) + self.offset
        p = expit(z)
        if self.threshold is None:
            predicted, near = z > 0, np.abs(z) < UNSURE
        else:
            predicted, near = p >= self.threshold, np.abs(p - self.threshold) < UNSURE
        return predicted.astype(int).tolist(), p.tolist(), np.flatnonzero(near).tolist()


def sample_rows() -> list[list[float]]:
    """The rows the check at load compares on: a grid from zero to far beyond the data."""
    return [list(map(float, row)) for row in product(_SAMPLE_VALUES, repeat=len(FEATURES))]


def agrees(scorer: LinearScorer, model, rows: Sequence[Sequence[float]]) -> bool:
    """True when the scorer gives the model's own probabilities and predictions on rows."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(FEATURES))
    expected_p = model.predict_proba(frame)[:, 1]
    expected = model.predict(frame)
    predictions, probabilities, unsure = scorer.score(rows)
    sure = np.ones(len(rows), dtype=bool)
    sure[unsure] = False
    return bool(np.all(np.abs(np.asarray(probabilities) - expected_p) <= TOLERANCE)
                and np.array_equal(np.asarray(predictions)[sure], np.asarray(expected)[sure]))


def fast_scorer(model) -> LinearScorer | None:
    """A checked scorer for a model: None when the model is not of a known shape, or when the
    scorer's answers differ from the model's on the sample rows (then logged)."""
    scorer = LinearScorer.from_pipeline(model)
    if scorer is None:
        return None
    rows = sample_rows()
    # Both the loop (a few rows) and the numpy path (many rows) are checked.
    if agrees(scorer, model, rows[:FAST_ROWS]) and agrees(scorer, model, rows):
        return scorer
    logger.warning("the fast prediction path disagrees with the model on sample rows: "
                   "switched off, every prediction goes through predict_proba")
    return None


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
