"""Choosing the model on few rows: a candidate that ranks nobody is never chosen over one that
ranks, the course's model is kept unless another is better beyond the noise of the folds, and
the threshold falls back to something that still tells leavers from stayers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV, cross_val_predict

from pipeline.core.config import DEFAULT_MODEL
from pipeline.core.schema import FEATURES, TARGET
from pipeline.data.datagen import bulk_records
from pipeline.model.candidates import build_candidate, decision_threshold
from pipeline.model.choice import ORDER, Scored, choose_model
from pipeline.model.evaluate import score_model
from pipeline.model.selection import select_model
from pipeline.model.threshold import Threshold, f1_threshold, keep_both_classes
from tests.helpers import SHARED_COURSE_DATA, needs_course_data
from training import fit_model

COURSE_F1 = 0.571  # the course's logistic regression, threshold tuned, on the course test file


def _read(*paths) -> pd.DataFrame:
    return pd.concat([pd.read_csv(SHARED_COURSE_DATA / p) for p in paths], ignore_index=True)


def _predicts_both_classes(model, frame: pd.DataFrame) -> bool:
    predicted = model.predict(frame[list(FEATURES)])
    return 0 < int(np.sum(predicted)) < len(predicted)


@needs_course_data
def test_the_course_data_gets_a_model_that_ranks_and_predicts_leavers():
    """Issue 17: on the 26 rows of the course's sourcedata, boosting predicted the base rate for
    everyone, won on log-loss, and the deployed model said nobody leaves (test F1 0)."""
    train = _read("sourcedata/dataset3.csv", "sourcedata/dataset4.csv")
    test = _read("testdata/testdata.csv")
    model, selection = fit_model(train, DEFAULT_MODEL)
    assert np.ptp(model.predict_proba(test[list(FEATURES)])[:, 1]) > 0
    assert _predicts_both_classes(model, train)
    assert score_model(model, test)["f1"] >= COURSE_F1
    record = json.loads(json.dumps(selection.as_dict()))  # what trainedmodel.json keeps
    assert record["chosen"] == selection.chosen and record["rule"]
    assert "boosting" in record["not_ranking"]
    assert {row["model"]: row["ranks"] for row in record["table"]}["boosting"] is False


def _scored(name, log_loss, losses, roc_auc=0.7, constant=False) -> Scored:
    return Scored(name, log_loss, np.asarray(losses, dtype=float), roc_auc, constant)


_NOISE = np.linspace(-0.05, 0.05, 40)  # per-row differences that average zero


@pytest.mark.parametrize("case, scored, chosen, not_ranking", [
    ("a constant candidate with the lowest loss is passed over",
     [_scored("boosting", 0.69, np.full(40, 0.69), roc_auc=0.5, constant=True),
      _scored("logistic", 0.90, 0.9 + _NOISE), _scored("log_logistic", 0.80, 0.8 + _NOISE)],
     "log_logistic", ["boosting"]),
    ("a candidate no better than chance is passed over",
     [_scored("logistic", 0.60, 0.6 + _NOISE, roc_auc=0.5),
      _scored("log_logistic", 0.65, 0.65 + _NOISE, roc_auc=0.51)],
     "log_logistic", ["logistic"]),
    ("none ranks: the course's model",
     [_scored("logistic", 0.96, 0.96 + _NOISE, roc_auc=0.45),
      _scored("log_logistic", 0.81, 0.81 + _NOISE, roc_auc=0.48),
      _scored("boosting", 0.69, np.full(40, 0.69), roc_auc=0.5, constant=True)],
     "logistic", ["logistic", "log_logistic", "boosting"]),
    ("within one standard error the simplest is kept",
     [_scored("logistic", 0.52, 0.50 + 4 * _NOISE + 0.01),
      _scored("log_logistic", 0.50, np.full(40, 0.50))],
     "logistic", []),
    ("beyond one standard error the better one wins",
     [_scored("logistic", 0.60, 0.50 + _NOISE + 0.10),
      _scored("log_logistic", 0.50, np.full(40, 0.50))],
     "log_logistic", []),
    ("the best is simplest", [_scored("logistic", 0.5, np.full(40, 0.5)),
                              _scored("boosting", 0.6, 0.6 + _NOISE)], "logistic", []),
])
def test_the_rule_on_a_table_of_cases(case, scored, chosen, not_ranking):
    choice = choose_model(scored)
    assert choice.chosen == chosen, case
    assert choice.not_ranking == not_ranking
    assert chosen in choice.rule and all(name in choice.rule for name in not_ranking)


def _samples(rows: int, seeds: range, change: float) -> list[pd.DataFrame]:
    return [bulk_records(rows, seed=seed, change=change) for seed in seeds]


def test_on_small_samples_a_constant_candidate_is_never_chosen_over_one_that_ranks():
    fresh = bulk_records(2_000, seed=99, change=0.0)[list(FEATURES)]
    passed_over = 0
    for frame in _samples(30, range(8), change=0.0):
        model, selection = fit_model(frame, DEFAULT_MODEL)
        assert np.ptp(model.predict_proba(fresh)[:, 1]) > 0
        rows = {row["model"]: row for row in selection.table}
        assert rows[selection.chosen]["ranks"] or not any(r["ranks"] for r in rows.values())
        passed_over += selection.table[0]["model"] != selection.chosen \
            and not selection.table[0]["ranks"]
    assert passed_over  # some samples had a lowest log-loss that ranked nobody


def test_on_small_samples_the_one_standard_error_rule_keeps_the_course_model():
    selections = [select_model(frame, DEFAULT_MODEL) for frame in _samples(40, range(10), 0.0)]
    # The course's model kept where another had a lower, but not clearly lower, log-loss.
    assert any(s.chosen == "logistic" != s.table[0]["model"] for s in selections)
    for selection in selections:
        ranking = [row for row in sorted(selection.table, key=lambda r: ORDER.index(r["model"]))
                   if row["ranks"]]
        assert ranking, "every sample has a candidate that ranks"
        chosen = next(row for row in ranking if row["model"] == selection.chosen)
        assert chosen["excess_log_loss"] <= chosen["excess_log_loss_se"]
        for simpler in ranking[:ranking.index(chosen)]:
            assert simpler["excess_log_loss"] > simpler["excess_log_loss_se"]


def test_a_model_that_predicts_a_constant_gets_the_exit_rate_as_threshold():
    """Boosting pinned on 30 rows predicts the base rate in every fold: nothing to tune."""
    frame = bulk_records(30, seed=4, change=1.0)
    assert frame[TARGET].mean() != 0.5
    model, selection = fit_model(frame, {**DEFAULT_MODEL, "family": "boosting"})
    assert selection.threshold == pytest.approx(frame[TARGET].mean())
    assert decision_threshold(model) == selection.threshold
    assert "exit rate" in selection.note and selection.not_ranking == ["boosting"]


def test_when_tuning_fails_the_threshold_maximises_out_of_fold_f1(monkeypatch):
    def fails(self, x, y, **params):
        raise ValueError("The provided estimator makes constant predictions.")

    monkeypatch.setattr(TunedThresholdClassifierCV, "fit", fails)
    frame = bulk_records(300, seed=2, change=1.0)
    model, selection = fit_model(frame, {**DEFAULT_MODEL, "family": "logistic"})
    x, y = frame[list(FEATURES)], frame[TARGET].to_numpy()
    splitter = StratifiedKFold(selection.folds, shuffle=True, random_state=0)
    oof = cross_val_predict(build_candidate("logistic", DEFAULT_MODEL), x, y, cv=splitter,
                            method="predict_proba")[:, 1]
    f1 = f1_score(y, oof >= selection.threshold)
    # No threshold that leaves somebody predicted to stay does better out of fold.
    assert all(f1 >= f1_score(y, oof >= t) for t in np.unique(oof)[1:])
    assert "out-of-fold" in selection.note and selection.threshold_f1 is None
    assert _predicts_both_classes(model, frame)


@pytest.mark.parametrize("exits", [1, 199])
def test_too_few_rows_of_a_class_to_cross_validate_gives_the_course_model_at_the_exit_rate(
        exits):
    frame = bulk_records(200, seed=8, change=1.0)
    frame[TARGET] = 0
    frame.loc[frame.index[:exits], TARGET] = 1
    model, selection = fit_model(frame, DEFAULT_MODEL)
    assert _predicts_both_classes(model, frame)
    assert selection.chosen == "logistic" and selection.table == [] and selection.folds == 0
    assert decision_threshold(model) == selection.threshold
    assert "cross-validate" in selection.rule and "exit rate" in selection.note
    if "F1-maximising" not in selection.note:  # else the exit rate predicted one class
        assert selection.threshold == pytest.approx(exits / 200)


class _Fixed:
    """A fitted model whose probabilities are given."""

    def __init__(self, probability):
        self.probability = np.asarray(probability, dtype=float)

    def predict_proba(self, x):
        return np.column_stack([1 - self.probability, self.probability])


_P = [0.1, 0.2, 0.3, 0.6, 0.7]
_Y = pd.Series([0, 0, 1, 1, 1])


@pytest.mark.parametrize("probability, threshold, moved", [
    (_P, 0.4, False),  # splits the rows: kept
    (_P, 0.8, True),  # nobody predicted to leave
    (_P, 0.05, True),  # everybody predicted to leave
    ([0.4] * 5, 0.5, False),  # constant: no threshold splits the rows
])
def test_a_threshold_that_predicts_one_class_for_every_row_is_moved(probability, threshold,
                                                                     moved):
    kept = keep_both_classes(Threshold(threshold, note="given", fitted=_Fixed(probability)),
                             pd.DataFrame(index=range(5)), _Y)
    assert (kept.value != threshold) == moved
    if moved:
        predicted = np.asarray(probability) >= kept.value
        assert 0 < predicted.sum() < len(predicted)
        assert kept.note.startswith("given; ") and "F1-maximising" in kept.note
        assert f1_score(_Y, predicted) == max(f1_score(_Y, np.asarray(probability) >= t)
                                              for t in _P[1:])


@pytest.mark.parametrize("probability, truth, expected", [
    ([0.1, 0.2, 0.3, 0.6, 0.7], [0, 0, 1, 1, 1], 0.25),
    ([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0], 0.5),
    ([0.3, 0.3, 0.3], [0, 1, 1], None),
])
def test_the_f1_threshold_lies_between_the_rows_it_separates(probability, truth, expected):
    assert f1_threshold(np.array(probability), np.array(truth)) == (
        None if expected is None else pytest.approx(expected))
