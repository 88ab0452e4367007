"""The pandas-free scorer agrees with the Pipeline it was read from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.api.fastpredict import FAST_ROWS, LinearScorer, plain_rows
from pipeline.core.schema import FEATURES, TARGET
from pipeline.data.datagen import bulk_records
from training import train_model


@pytest.fixture(scope="module")
def model():
    return train_model(bulk_records(3000, seed=7))


@pytest.mark.parametrize("count", [3, FAST_ROWS + 1, 5000])
def test_scorer_agrees_with_predict_proba_and_predict(model, count):
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.integers(0, 3000, count), rng.integers(0, 40000, count),
                            rng.integers(1, 5000, count)]).astype(float)
    rows = np.vstack([rows, [[0, 0, 0], [1e9, 0, 0], [0, 1e9, 1e9]]])
    frame = pd.DataFrame(rows, columns=list(FEATURES))
    predictions, probabilities = LinearScorer.from_pipeline(model).score(rows.tolist())
    assert probabilities == pytest.approx(model.predict_proba(frame)[:, 1], rel=1e-9, abs=1e-12)
    assert predictions == model.predict(frame).tolist()


def test_other_model_shapes_are_not_scored_by_it(model):
    data = bulk_records(500, seed=1)
    forest = Pipeline([("scale", StandardScaler()),
                       ("classify", RandomForestClassifier(n_estimators=3, random_state=0))])
    forest.fit(data[list(FEATURES)], data[TARGET])
    assert LinearScorer.from_pipeline(forest) is None
    assert LinearScorer.from_pipeline(object()) is None
    assert LinearScorer.from_pipeline(model) is not None


ROW = {"lastmonth_activity": 1, "lastyear_activity": 2.5, "number_of_employees": 3}


@pytest.mark.parametrize("body, rows", [
    ({"records": [ROW]}, [[1.0, 2.5, 3.0]]),
    ({"dataframe_records": [ROW, dict(ROW, corporation="x")]}, [[1.0, 2.5, 3.0]] * 2),
    ({"records": [dict(ROW, lastmonth_activity="1")]}, None),  # strings: the general path
    ({"records": [dict(ROW, lastmonth_activity=True)]}, None),
    ({"records": [dict(ROW, lastmonth_activity=None)]}, None),
    ({"records": [dict(ROW, lastmonth_activity=-1)]}, None),
    ({"records": [dict(ROW, lastmonth_activity=float("nan"))]}, None),
    ({"records": [dict(ROW, lastmonth_activity=float("inf"))]}, None),
    ({"records": [dict(ROW, lastmonth_activity=10**400)]}, None),
    ({"records": [{"lastmonth_activity": 1}]}, None),
    ({"records": []}, None),
    ({"records": [ROW] * (FAST_ROWS + 1)}, [[1.0, 2.5, 3.0]] * (FAST_ROWS + 1)),
    ({"records": [ROW], "filepath": "x.csv"}, None),
    ({"filepath": "testdata/testdata.csv"}, None),
    ([ROW], None),
])
def test_plain_rows_take_only_plain_numbers(body, rows):
    assert plain_rows(body) == rows
