"""The pandas-free scorer agrees with the Pipeline it was read from, for every model shape it
serves, and is switched off when it does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.api.fastpredict import FAST_ROWS, LinearScorer, fast_scorer, plain_rows
from pipeline.core.config import DEFAULT_MODEL
from pipeline.core.schema import FEATURES, TARGET
from pipeline.data.datagen import bulk_records
from pipeline.model.candidates import build_candidate, decision_threshold
from training import train_model

DATA = bulk_records(3000, seed=7)


@pytest.fixture(scope="module")
def model():
    return train_model(DATA)


def _plain(name):
    """A candidate fitted without a tuned threshold (LogisticRegression.predict's own rule)."""
    return build_candidate(name, DEFAULT_MODEL).fit(DATA[list(FEATURES)], DATA[TARGET])


@pytest.fixture(scope="module", params=["chosen", "logistic", "log_logistic", "plain logistic",
                                        "plain log_logistic"])
def linear(request, model):
    """Every model shape the scorer serves."""
    if request.param == "chosen":
        return model
    if request.param.startswith("plain "):
        return _plain(request.param.split()[1])
    return train_model(DATA, {**DEFAULT_MODEL, "family": request.param})


@pytest.mark.parametrize("count", [3, FAST_ROWS + 1, 5000])
def test_scorer_agrees_with_predict_proba_and_predict(linear, count):
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.integers(0, 3000, count), rng.integers(0, 40000, count),
                            rng.integers(1, 5000, count)]).astype(float)
    rows = np.vstack([rows, [[0, 0, 0], [1e9, 0, 0], [0, 1e9, 1e9]]])
    frame = pd.DataFrame(rows, columns=list(FEATURES))
    scorer = fast_scorer(linear)
    assert scorer is not None
    predictions, probabilities, unsure = scorer.score(rows.tolist())
    assert probabilities == pytest.approx(linear.predict_proba(frame)[:, 1], rel=1e-9,
                                          abs=1e-12)
    assert predictions == linear.predict(frame).tolist()
    assert unsure == []


def test_the_tuned_threshold_decides_the_fast_predictions(model):
    scorer = fast_scorer(model)
    threshold = decision_threshold(model)
    assert scorer.threshold == threshold and threshold != 0.5
    # A row whose probability lies between 0.5 and the threshold: exited only by the threshold.
    rows = [[float(a), float(b), float(c)] for a in range(0, 200, 7) for b in (300, 3000)
            for c in (5, 50, 500)]
    predictions, probabilities, _ = scorer.score(rows)
    between = [i for i, p in enumerate(probabilities) if min(threshold, 0.5) <= p <
               max(threshold, 0.5)]
    assert between, "no sample row falls between 0.5 and the threshold"
    assert all(predictions[i] == int(probabilities[i] >= threshold) for i in between)


def test_a_row_on_the_threshold_is_left_to_the_model(model):
    scorer = fast_scorer(model)
    scorer.threshold = scorer.score([[3.0, 400.0, 20.0]])[1][0]  # exactly this row's probability
    _, _, unsure = scorer.score([[3.0, 400.0, 20.0], [0.0, 5000.0, 9.0]])
    assert unsure == [0]


def test_the_fast_path_is_switched_off_for_a_model_it_does_not_match(model, monkeypatch):
    assert fast_scorer(model) is not None
    # The scorer reads parameters it believes are the model's; here they are another model's.
    other = train_model(bulk_records(3000, seed=8), {**DEFAULT_MODEL, "family": "logistic"})
    real = LinearScorer.from_pipeline
    monkeypatch.setattr(LinearScorer, "from_pipeline", staticmethod(lambda m: real(other)))
    assert fast_scorer(model) is None
    monkeypatch.undo()
    # The model answers differently from its own parameters (a library that changed its rule).
    shifted = model.predict_proba
    monkeypatch.setattr(model, "predict_proba", lambda x: shifted(x) * 0.999 + 0.0005)
    assert fast_scorer(model) is None


def test_other_model_shapes_are_not_scored_by_it(model):
    data = bulk_records(500, seed=1)
    forest = Pipeline([("scale", StandardScaler()),
                       ("classify", RandomForestClassifier(n_estimators=3, random_state=0))])
    forest.fit(data[list(FEATURES)], data[TARGET])
    assert LinearScorer.from_pipeline(forest) is None
    assert LinearScorer.from_pipeline(object()) is None
    assert fast_scorer(train_model(DATA, {**DEFAULT_MODEL, "family": "boosting"})) is None
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
