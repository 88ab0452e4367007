"""Choosing the model: candidates compared by stratified k-fold cross-validation on log-loss
(the rule that picks one from the figures is pipeline.model.choice's), the decision threshold
(pipeline.model.threshold), and the deployed model's reference loss for the drift test.

Everything is seeded. On large data the comparison runs on a capped, stratified subsample, so
that selecting costs about the same at ten thousand rows and at ten million; the chosen pipeline
is then fitted once on all the data (pipeline.model.candidates.with_threshold).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from pipeline.core.schema import FEATURES, TARGET
from pipeline.model.calibration import Calibration, fit_calibration
from pipeline.model.candidates import CANDIDATES, build_candidate, with_threshold
from pipeline.model.choice import CONSTANT, FALLBACK, Choice, Scored, choose_model
from pipeline.model.threshold import tune_threshold, untuned_threshold

SCORING = {"log_loss": "neg_log_loss", "roc_auc": "roc_auc", "brier": "neg_brier_score",
           "f1": "f1"}
NEGATED = ("log_loss", "brier")  # scikit-learn scores them negated, so that higher is better
EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS] in a per-row log-loss


@dataclass
class Selection:
    """What the cross-validation found: the table, the choice, its threshold and reference."""

    chosen: str
    table: list[dict] = field(default_factory=list)  # one row per candidate, best first
    threshold: float = 0.5
    threshold_f1: float | None = None  # cross-validated F1 at the tuned threshold
    rows: int = 0  # rows the comparison ran on (a subsample of large data)
    folds: int = 0
    # The chosen candidate's out-of-fold per-row log-loss: the reference of the drift test.
    reference: dict = field(default_factory=dict)
    note: str = ""  # which fallback gave the threshold, when it could not be tuned
    rule: str = ""  # why the chosen candidate was chosen (pipeline.model.choice)
    not_ranking: list[str] = field(default_factory=list)  # constant, or no better than chance
    # The map from the chosen candidate's probability to a calibrated one, judged on its
    # out-of-fold probabilities (pipeline.model.calibration): what the estimate reads.
    calibration: dict = field(default_factory=dict)
    # The final fit's coefficient covariance, for the estimate's band (set by training.fit_model
    # after the fit: pipeline.model.uncertainty).
    uncertainty: dict = field(default_factory=dict)
    # The chosen candidate fitted on the compared rows: where the final fit starts from.
    fitted: object = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        """A plain dict for the provenance, the history and the manifest."""
        return {k: v for k, v in asdict(self).items() if k != "fitted"}


def row_losses(probability: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each row's log-loss (natural log) of a predicted probability of exiting."""
    p = np.clip(np.asarray(probability, dtype=float), EPS, 1 - EPS)
    y = np.asarray(truth)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def loss_summary(losses: np.ndarray) -> dict:
    """Mean, standard deviation and count of per-row losses (what a Welch test needs)."""
    losses = np.asarray(losses, dtype=float)
    return {"mean": float(losses.mean()), "sd": float(losses.std(ddof=1)) if len(losses) > 1
            else 0.0, "rows": len(losses)}


def _subsample(frame: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most ``cap`` rows, in the same proportion of exits (all of them when fewer).

    Each class's share of the cap is drawn without replacement in time proportional to the
    cap, not to the data (train_test_split shuffles every row: 3 s at ten million).
    """
    if len(frame) <= cap:
        return frame
    rng = np.random.default_rng(seed)
    exited = frame[TARGET].to_numpy() == 1
    picks = []
    for members in (np.flatnonzero(exited), np.flatnonzero(~exited)):
        # Every class keeps a few rows however rare it is, so the folds can still be stratified.
        share = min(len(members), max(round(cap * len(members) / len(frame)), 10))
        picks.append(members[rng.choice(len(members), size=share, replace=False)])
    return frame.iloc[np.sort(np.concatenate(picks))]


def _folds(y: pd.Series, wanted: int) -> int:
    """As many folds as asked, but never more than the rarer class has rows."""
    counts = y.value_counts().reindex([0, 1], fill_value=0)  # a class absent counts 0
    return max(0, min(wanted, int(counts.min())))


def _summary(scores: dict, name: str, folds: int) -> dict:
    row = {"model": name, "description": CANDIDATES[name], "folds": folds}
    for metric in SCORING:
        values = np.asarray(scores[f"test_{metric}"], dtype=float)
        values = -values if metric in NEGATED else values
        row[metric] = float(values.mean())
        row[f"{metric}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return row


def select_model(frame: pd.DataFrame, params: Mapping, *, family: str = "auto",
                 folds: int = 5, cap: int = 20_000, seed: int = 0) -> Selection:
    """Compare the candidates (or only the pinned ``family``) by cross-validation, choose one by
    pipeline.model.choice's rule and set its threshold (pipeline.model.threshold); both on at
    most ``cap`` rows.

    With too few exits or stays for two folds nothing can be cross-validated: the pinned (or
    the course's) model is taken at the training data's exit rate, without a table or a
    reference.
    """
    sample = _subsample(frame, cap, seed)
    x, y = sample[list(FEATURES)], sample[TARGET]
    names = list(CANDIDATES) if family == "auto" else [family]
    k = _folds(y, folds)
    if k < 2:
        chosen = family if family != "auto" else FALLBACK
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            threshold = untuned_threshold(build_candidate(chosen, params), x, y)
        return Selection(chosen=chosen, rows=len(sample), threshold=threshold.value,
                         note=threshold.note, fitted=threshold.fitted,
                         rule=f"too few rows of a class to cross-validate: {_taken(family)}")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    table, scored, probabilities = [], {}, {}
    # One OpenMP thread: gradient boosting's threads spin and crawl on a busy machine (15x
    # slower measured with two other processes at work); the subsample keeps it cheap.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("error", ConvergenceWarning)
        for name in names:
            scores = cross_validate(build_candidate(name, params), x, y, cv=splitter,
                                    scoring=SCORING, return_estimator=True,
                                    return_indices=True, error_score="raise")
            row = _summary(scores, name, k)
            scored[name], probabilities[name] = _scored(row, scores, x, y)
            table.append(row)
        choice = choose_model(list(scored.values())) if family == "auto" else Choice(
            family, _taken(family), [s.name for s in scored.values() if not s.ranks])
        chosen = scored[choice.chosen]
        threshold = tune_threshold(build_candidate(choice.chosen, params), x, y, splitter, seed,
                                   None if chosen.constant else probabilities[choice.chosen])
    for row in table:
        row.update(_ranking(scored[row["model"]], choice))
    table.sort(key=lambda row: (row["log_loss"], row["model"]))
    calibration = Calibration(note="the chosen model's probabilities do not vary out of fold: "
                                   "its own probabilities") if chosen.constant else \
        fit_calibration(probabilities[choice.chosen], y.to_numpy(), seed=seed)
    return Selection(chosen=choice.chosen, table=table, threshold=threshold.value,
                     threshold_f1=threshold.f1, rows=len(sample), folds=k,
                     reference=loss_summary(chosen.losses), note=threshold.note,
                     rule=choice.rule, not_ranking=choice.not_ranking,
                     calibration=calibration.as_dict(), fitted=threshold.fitted)


def _taken(family: str) -> str:
    return (f"{family}, pinned by model.family" if family != "auto"
            else f"the course's {FALLBACK}")


def _scored(row: dict, scores: dict, x: pd.DataFrame, y: pd.Series
            ) -> tuple[Scored, np.ndarray]:
    """A candidate's figures for the rule, and its pooled out-of-fold probabilities: each row's
    from the fold model that did not see it."""
    probability = np.empty(len(y))
    constant = True
    for estimator, test in zip(scores["estimator"], scores["indices"]["test"], strict=True):
        probability[test] = estimator.predict_proba(x.iloc[test])[:, 1]
        constant &= bool(np.ptp(probability[test]) <= CONSTANT)
    truth = y.to_numpy()
    return Scored(row["model"], row["log_loss"], row_losses(probability, truth),
                  float(roc_auc_score(truth, probability)), constant), probability


def _ranking(scored: Scored, choice: Choice) -> dict:
    """The table's columns of the rule: pooled out-of-fold ROC AUC, whether the candidate
    ranks, and its paired excess log-loss over the best ranking candidate with its error."""
    gain, se = choice.excess.get(scored.name, (None, None))
    return {"oof_roc_auc": scored.roc_auc, "ranks": scored.ranks, "excess_log_loss": gain,
            "excess_log_loss_se": se}


def fit_selected(frame: pd.DataFrame, selection: Selection, params: Mapping):
    """The chosen pipeline, with its tuned threshold, fitted on every row of ``frame``.

    A logistic regression starts from its fit on the compared rows (warm start): Newton's
    method then needs one or two passes over ten million rows instead of four or five, and
    ends at the same optimum (to its tolerance).
    """
    x, y = frame[list(FEATURES)], frame[TARGET]
    pipeline = build_candidate(selection.chosen, params)
    start = _logistic_of(selection.fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        if start is None or not isinstance(pipeline.steps[-1][1], LogisticRegression):
            return with_threshold(pipeline, selection.threshold).fit(x, y)
        *steps, (name, logistic) = pipeline.steps
        transformed = _fit_transform(steps, x)
        logistic.set_params(warm_start=True)
        logistic.coef_, logistic.intercept_ = start.coef_.copy(), start.intercept_.copy()
        logistic.fit(transformed, y)
        logistic.set_params(warm_start=False)
    return Pipeline([*steps, (name, FixedThresholdClassifier(
        FrozenEstimator(logistic), threshold=selection.threshold,
        response_method="predict_proba").fit(transformed[:2], y.iloc[:2]))])


def _fit_transform(steps: list, x: pd.DataFrame):
    """Fit the pipeline's transforms on x and give the transformed rows, scaling in place: at
    ten million rows a second copy of the features is 240 MB (the same numbers as
    StandardScaler.transform, which subtracts the mean and divides by the scale)."""
    data = x
    for _, step in steps:
        if isinstance(step, StandardScaler) and step.with_mean and step.with_std:
            step.fit(data)
            values = np.asarray(data, dtype=np.float64)
            if not values.flags.writeable or values is x or np.shares_memory(values, x):
                values = values.copy()
            values -= step.mean_
            values /= step.scale_
            data = values
        else:
            data = step.fit_transform(data)
    return data


def _logistic_of(fitted) -> LogisticRegression | None:
    """The fitted logistic regression at the end of a pipeline, if that is what it is."""
    last = fitted.steps[-1][1] if hasattr(fitted, "steps") else None
    return last if isinstance(last, LogisticRegression) else None
