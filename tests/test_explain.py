"""The explanation of each client's risk (pipeline.report.explain), on models whose answer is
known, and as reporting.py writes it into riskscores.csv and /risk returns it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from pipeline.core.deployed import load_deployed_model
from pipeline.core.schema import FEATURES
from pipeline.report.explain import (
    EXPLANATION_COLUMNS,
    contributions,
    explain_clients,
    read_reference,
    reference_values,
)

REFERENCE = {"lastmonth_activity": 13.0, "lastyear_activity": 169.0, "number_of_employees": 35.0}


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FEATURES))


class KnownLogit:
    """A model that is not linear, with a logit written down: a step in last month's activity,
    the log of the size, and nothing from last year's activity."""

    @staticmethod
    def logit(frame: pd.DataFrame) -> np.ndarray:
        return (3.0 * (frame["lastmonth_activity"].to_numpy() < 5)
                + 0.5 * np.log(frame["number_of_employees"].to_numpy() / 35.0) - 1.0)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.logit(frame)))
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def training(datasets):
    return datasets["sourcedata/dataset3.csv"]


def test_a_linear_model_gets_its_weights_times_the_distance_from_the_reference(training):
    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression())])
    model.fit(training[list(FEATURES)], training["exited"])
    clients = training[list(FEATURES)].head(300)
    weights = model[-1].coef_[0] / model[0].scale_
    expected = (clients.to_numpy(float) - np.array([REFERENCE[f] for f in FEATURES])) * weights
    np.testing.assert_allclose(contributions(model, clients, REFERENCE), expected, atol=1e-8)
    explained = explain_clients(model, clients, REFERENCE)
    best = expected.argmax(axis=1)
    raises = expected.max(axis=1) > 0
    assert (explained["top_factor"].to_numpy()[raises] ==
            np.asarray(FEATURES)[best][raises]).all()
    np.testing.assert_allclose(explained["top_contribution"], np.maximum(expected.max(axis=1), 0))
    assert list(explained.columns) == list(EXPLANATION_COLUMNS)


def test_a_model_on_log_counts_gets_the_distance_in_logs(training):
    model = Pipeline([("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                      ("classify", LogisticRegression())])
    model.fit(training[list(FEATURES)], training["exited"])
    clients = training[list(FEATURES)].sample(200, random_state=1)
    logs = np.log1p(clients.to_numpy(float)) - np.log1p([REFERENCE[f] for f in FEATURES])
    np.testing.assert_allclose(contributions(model, clients, REFERENCE),
                               logs * model[-1].coef_[0], atol=1e-8)


@pytest.mark.parametrize("row, factor, contribution", [
    ((2, 900, 350), "lastmonth_activity", 3.0),           # the step outweighs the size
    ((20, 900, 350), "number_of_employees", 0.5 * math.log(10)),  # no step: the size
    ((20, 5, 10), "", 0.0),                                # nothing above the reference
    ((13, 169, 35), "", 0.0),                              # the reference itself
])
def test_a_model_known_only_through_predict_proba(row, factor, contribution):
    clients = _frame([row])
    explained = explain_clients(KnownLogit(), clients, REFERENCE).iloc[0]
    assert explained["top_factor"] == factor
    assert explained["top_contribution"] == pytest.approx(contribution)
    assert explained["contribution_lastyear_activity"] == 0.0  # the model ignores it


def test_a_tree_ensemble_names_the_one_feature_that_matters():
    rng = np.random.default_rng(3)
    frame = _frame(np.column_stack([rng.integers(0, 40, 4000), rng.integers(10, 500, 4000),
                                    rng.integers(1, 300, 4000)]))
    exited = (frame["lastmonth_activity"] < 8).astype(int)  # only last month decides
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(frame, exited)
    risky = frame[frame["lastmonth_activity"] < 6].head(200)
    explained = explain_clients(model, risky, REFERENCE)
    assert (explained["top_factor"] == "lastmonth_activity").all()
    assert (explained["contribution_lastmonth_activity"] > 2).all()
    others = explained[["contribution_lastyear_activity", "contribution_number_of_employees"]]
    assert (others.abs() < 0.5).to_numpy().mean() > 0.95


def test_certain_predictions_give_finite_contributions():
    class Certain:
        def predict_proba(self, frame):
            p = (frame["lastmonth_activity"].to_numpy() < 5).astype(float)  # exactly 0 or 1
            return np.column_stack([1 - p, p])

    values = contributions(Certain(), _frame([(1, 1, 1), (30, 1, 1)]), REFERENCE)
    assert np.isfinite(values).all()
    assert values[0, 0] > 50 and values[1, 0] == 0.0


def test_many_clients_are_explained_in_chunks_the_same(monkeypatch, training):
    import pipeline.report.explain as explain

    model = KnownLogit()
    clients = training[list(FEATURES)].head(1000)
    whole = contributions(model, clients, REFERENCE)
    monkeypatch.setattr(explain, "CHUNK", 64)
    np.testing.assert_array_equal(contributions(model, clients, REFERENCE), whole)


def test_the_reference_is_the_median_of_the_training_sample():
    sample = _frame([(1, 10, 3), (5, 30, 7), (9, 20, 5)])
    assert reference_values(sample) == {"lastmonth_activity": 5.0, "lastyear_activity": 20.0,
                                        "number_of_employees": 5.0}
    with pytest.raises(ValueError, match="lacks number_of_employees"):
        reference_values(sample.drop(columns="number_of_employees"))


def test_riskscores_holds_each_clients_explanation_and_risk_returns_it(redeployed):
    from app import create_app
    from reporting import build_risk_list

    written = build_risk_list(redeployed)
    model, deployed = load_deployed_model(redeployed.deployment_folder)
    reference = read_reference(deployed.folder)
    sample = pd.read_csv(deployed.folder / "trainingsample.csv")
    assert reference == {f: float(sample[f].median()) for f in FEATURES}
    expected = explain_clients(model, written[list(FEATURES)], reference)
    pd.testing.assert_frame_equal(written[list(EXPLANATION_COLUMNS)], expected)
    assert set(written["top_factor"]) <= {"", *FEATURES}
    assert (written["top_factor"] != "").mean() > 0.5
    body = create_app(redeployed.config_path).test_client().get("/risk?top=3").get_json()
    top = written.head(3)
    assert [c["top_factor"] for c in body["clients"]] == top["top_factor"].tolist()
    assert [c["top_contribution"] for c in body["clients"]] == \
        pytest.approx(top["top_contribution"].tolist())
    assert [c["number_of_employees"] for c in body["clients"]] == \
        top["number_of_employees"].tolist()


def test_a_version_without_a_training_sample_is_explained_against_the_clients(redeployed,
                                                                                caplog):
    from reporting import build_risk_list

    _, deployed = load_deployed_model(redeployed.deployment_folder)
    (deployed.folder / "trainingsample.csv").unlink()
    written = build_risk_list(redeployed)
    assert "no usable training sample" in caplog.text
    assert written["top_factor"].isin(["", *FEATURES]).all()
    assert np.isfinite(written["top_contribution"]).all()
