"""Choosing the model: each candidate wins on data built for it, the threshold earns its keep,
the probabilities stay calibrated, and what training records."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import DEFAULT_MODEL, MODELS
from pipeline.core.schema import COLUMNS, FEATURES, TARGET
from pipeline.model.candidates import CANDIDATES, candidate_name, decision_threshold
from pipeline.model.evaluate import reliability, score_model
from pipeline.model.selection import select_model
from training import fit_model


def _frame(x: np.ndarray, logit: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    exited = (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame.insert(0, "corporation", [f"c{i}" for i in range(len(frame))])
    frame[TARGET] = exited
    return frame[list(COLUMNS)]


def linear_in_counts(rows: int, seed: int) -> pd.DataFrame:
    """Attrition linear in the raw counts: the course's model is the true one."""
    x = np.random.default_rng(seed).integers(0, 100, size=(rows, 3)).astype(float)
    return _frame(x, -1.0 + 0.05 * x[:, 0] - 0.04 * x[:, 1] + 0.01 * x[:, 2], seed + 1)


def linear_in_logs(rows: int, seed: int) -> pd.DataFrame:
    """Heavy-tailed counts, attrition linear in their logarithms."""
    x = np.round(np.random.default_rng(seed).lognormal(3, 1.5, size=(rows, 3)))
    lx = np.log1p(x)
    return _frame(x, 0.5 - 0.9 * lx[:, 0] + 0.8 * lx[:, 1] - 0.3 * lx[:, 2], seed + 1)


def interacting(rows: int, seed: int) -> pd.DataFrame:
    """Attrition from an interaction no additive model can draw: high when exactly one of the
    first two counts is high."""
    x = np.random.default_rng(seed).integers(0, 100, size=(rows, 3)).astype(float)
    return _frame(x, np.where((x[:, 0] > 50) ^ (x[:, 1] > 50), 2.5, -2.5), seed + 1)


@pytest.mark.parametrize("make, family", [
    (linear_in_counts, "logistic"), (linear_in_logs, "log_logistic"), (interacting, "boosting"),
])
def test_selection_picks_the_family_the_data_was_built_for(make, family):
    selection = select_model(make(6_000, seed=3), DEFAULT_MODEL)
    assert selection.chosen == family
    assert selection.table[0]["model"] == family
    assert {row["model"] for row in selection.table} == set(CANDIDATES)
    losses = [row["log_loss"] for row in selection.table]
    assert losses == sorted(losses)  # best first
    assert all(row["folds"] == 5 and row["log_loss_sd"] > 0 for row in selection.table)


def test_the_fitted_pipeline_is_the_chosen_one_with_its_threshold():
    model, selection = fit_model(linear_in_logs(4_000, seed=5), DEFAULT_MODEL)
    assert candidate_name(model) == selection.chosen == "log_logistic"
    assert decision_threshold(model) == selection.threshold
    assert selection.reference["rows"] == 4_000 and selection.reference["mean"] > 0


def test_the_config_can_pin_a_model():
    data = linear_in_logs(3_000, seed=6)
    model, selection = fit_model(data, {**DEFAULT_MODEL, "family": "logistic"})
    assert candidate_name(model) == "logistic"
    assert [row["model"] for row in selection.table] == ["logistic"]


def test_the_candidates_are_the_configs():
    assert tuple(CANDIDATES) == MODELS


def test_large_data_is_selected_on_a_capped_stratified_subsample():
    data = linear_in_logs(30_000, seed=7)
    selection = select_model(data, DEFAULT_MODEL, cap=5_000)
    assert selection.rows == 5_000 == selection.reference["rows"]


def test_the_tuned_threshold_beats_half_on_f1_where_exits_are_rare():
    """With 10% exits a calibrated model rarely reaches 0.5: predicting at 0.5 gives F1 away."""
    train, fresh = (linear_in_logs(8_000, seed=s) for s in (9, 10))
    for frame in (train, fresh):  # shift the intercept: about one client in ten leaves
        rng = np.random.default_rng(len(frame))
        lx = np.log1p(frame[list(FEATURES)].to_numpy())
        logit = -2.6 - 0.9 * lx[:, 0] + 0.8 * lx[:, 1] - 0.3 * lx[:, 2]
        frame[TARGET] = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    assert 0.05 < train[TARGET].mean() < 0.2
    model, _ = fit_model(train, DEFAULT_MODEL)
    threshold = decision_threshold(model)
    p = model.predict_proba(fresh[list(FEATURES)])[:, 1]
    truth = fresh[TARGET].to_numpy()

    def f1(predicted):
        tp = np.sum(predicted & (truth == 1))
        return 2 * tp / (predicted.sum() + truth.sum())

    assert threshold < 0.5
    assert score_model(model, fresh)["f1"] == pytest.approx(f1(p >= threshold))
    assert f1(p >= threshold) > f1(p >= 0.5) + 0.05


def test_the_probabilities_stay_calibrated():
    """The threshold moves predictions, not probabilities: on fresh data, each decile's
    predicted probability is close to the share that left."""
    model, _ = fit_model(linear_in_logs(10_000, seed=11), DEFAULT_MODEL)
    fresh = linear_in_logs(50_000, seed=12)
    p = model.predict_proba(fresh[list(FEATURES)])[:, 1]
    bins = reliability(fresh[TARGET].to_numpy(), p)
    assert len(bins) == 10 and sum(b["rows"] for b in bins) == 50_000
    assert max(abs(b["predicted"] - b["observed"]) for b in bins) < 0.03


def test_training_records_the_table_in_provenance_and_history(deployed):
    from pipeline.core.history import History

    record = json.loads((deployed.model_folder / "trainedmodel.json").read_text())
    selection = record["selection"]
    assert record["model"] == selection["chosen"] and record["threshold"] == selection["threshold"]
    assert {row["model"] for row in selection["table"]} == set(CANDIDATES)
    metrics = History(deployed.history_db).query(
        "SELECT name, value, detail FROM metrics WHERE stage = 'training'")
    names = {m["name"] for m in metrics}
    assert {f"cv_{m}_log_loss" for m in CANDIDATES} <= names and "threshold" in names
    assert json.loads(metrics[0]["detail"])["chosen"] == selection["chosen"]


@pytest.mark.parametrize("rows, ties, one_class", [(7, False, False), (2_000, True, False),
                                                   (50_000, False, False), (300, True, True)])
def test_the_scores_are_scikit_learns(rows, ties, one_class):
    """The evaluation computes its scores with numpy: they must be scikit-learn's numbers."""
    from sklearn.metrics import (
        brier_score_loss,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    from pipeline.model.evaluate import roc_auc

    rng = np.random.default_rng(rows)
    truth = np.zeros(rows, dtype=int) if one_class else rng.integers(0, 2, rows)
    if not one_class:
        truth[:2] = (0, 1)  # both classes, however few the rows
    probability = rng.random(rows)
    if ties:
        probability = np.round(probability, 1)
    frame = pd.DataFrame(rng.integers(0, 50, size=(rows, 3)), columns=list(FEATURES))
    frame[TARGET] = truth

    class Fixed:  # a model whose outputs are the numbers above
        def predict_proba(self, x):
            return np.column_stack([1 - probability, probability])

        def predict(self, x):
            return (probability >= 0.5).astype(int)

    scores = score_model(Fixed(), frame)
    predicted = (probability >= 0.5).astype(int)
    assert scores["f1"] == pytest.approx(f1_score(truth, predicted, zero_division=0))
    assert scores["precision"] == pytest.approx(precision_score(truth, predicted,
                                                                zero_division=0))
    assert scores["recall"] == pytest.approx(recall_score(truth, predicted, zero_division=0))
    assert scores["brier"] == pytest.approx(brier_score_loss(truth, probability, labels=[0, 1]))
    tn, fp, fn, tp = confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    assert (scores["tn"], scores["fp"], scores["fn"], scores["tp"]) == (tn, fp, fn, tp)
    if one_class:
        assert scores["roc_auc"] is None and roc_auc(truth == 1, probability) is None
    else:
        assert scores["roc_auc"] == pytest.approx(roc_auc_score(truth, probability), abs=1e-12)


def test_the_warm_started_fit_ends_where_a_cold_one_does():
    """The final logistic regression starts from its fit on the compared rows; it must reach
    the optimum a fit from scratch reaches, on every row."""
    from pipeline.model.candidates import build_candidate, final_classifier, with_threshold
    from pipeline.model.selection import fit_selected

    data = linear_in_logs(30_000, seed=13)
    selection = select_model(data, DEFAULT_MODEL, cap=3_000)
    assert selection.fitted is not None
    warm = fit_selected(data, selection, DEFAULT_MODEL)
    cold = with_threshold(build_candidate(selection.chosen, DEFAULT_MODEL),
                          selection.threshold).fit(data[list(FEATURES)], data[TARGET])
    assert final_classifier(warm).coef_ == pytest.approx(final_classifier(cold).coef_, abs=1e-3)
    p_warm = warm.predict_proba(data[list(FEATURES)])[:, 1]
    p_cold = cold.predict_proba(data[list(FEATURES)])[:, 1]
    assert np.abs(p_warm - p_cold).max() < 1e-3
    assert decision_threshold(warm) == decision_threshold(cold) == selection.threshold


def test_a_rare_class_keeps_rows_in_the_subsample_and_an_absent_one_is_no_fold():
    from pipeline.model.selection import _folds, _subsample

    data = linear_in_counts(100_000, seed=14)
    data[TARGET] = 0
    data.loc[data.index[:30], TARGET] = 1  # 30 exits in 100,000 rows
    sample = _subsample(data, cap=1_000, seed=0)
    assert 10 <= sample[TARGET].sum() <= 30 and len(sample) <= 1_010
    assert _folds(sample[TARGET], 5) == 5
    assert _folds(pd.Series([0] * 50), 5) == 0  # nobody left: nothing to stratify


def test_the_classes_read_off_the_probabilities_are_the_models_own_predictions():
    """predict_with_probability runs the model once and reads the classes off the threshold:
    they must be the fitted pipeline's own predict, warm-started fit and plain fit alike."""
    from pipeline.model.candidates import build_candidate
    from pipeline.model.evaluate import predict_with_probability

    data = linear_in_logs(20_000, seed=15)
    rows = linear_in_logs(20_000, seed=16)[list(FEATURES)]
    models = [fit_model(data, DEFAULT_MODEL)[0],
              fit_model(data, {**DEFAULT_MODEL, "family": "boosting"})[0],
              build_candidate("logistic", DEFAULT_MODEL).fit(data[list(FEATURES)], data[TARGET])]
    for model in models:
        predicted, probability = predict_with_probability(model, rows)
        assert np.array_equal(predicted, model.predict(rows))
        assert np.array_equal(probability, model.predict_proba(rows)[:, 1])
