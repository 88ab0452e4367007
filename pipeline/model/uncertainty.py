"""How uncertain the deployed model's own probabilities are: the sampling covariance of a
logistic regression's coefficients, recorded at training, and probabilities drawn from it.

The performance estimate's band (pipeline.monitor.estimate) holds the noise of the outcomes
given the probabilities. On a large batch that noise is small, and what is left is the model's
own error: fitted on ten thousand rows, its coefficients are off by their standard errors, and
its expected F1 with them. For the logistic candidates that error has a textbook estimate: the
coefficients are asymptotically normal around the fit, with the inverse of the Fisher
information (plus the L2 penalty's curvature) as covariance. It is computed on at most
``ROWS`` training rows and scaled to all of them (the information grows with the rows), and
recorded in the training provenance (``selection.uncertainty``). Gradient boosting has no such
estimate: its band holds the outcomes' noise only, and says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit  # a logistic that never overflows
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from pipeline.core.schema import FEATURES
from pipeline.model.candidates import final_classifier

ROWS = 20_000


def _logistic(model) -> LogisticRegression | None:
    classifier = final_classifier(model) if hasattr(model, "steps") else None
    return classifier if isinstance(classifier, LogisticRegression) else None


def _design(model, features: pd.DataFrame) -> np.ndarray:
    """The rows as the logistic regression sees them, with a leading column of ones."""
    transformed = Pipeline(model.steps[:-1]).transform(features[list(FEATURES)]) \
        if len(model.steps) > 1 else features[list(FEATURES)]
    values = np.asarray(transformed, dtype=float)
    return np.column_stack([np.ones(len(values)), values])


def parameter_uncertainty(model, frame: pd.DataFrame, seed: int = 0) -> dict:
    """{"covariance": intercept and coefficients' covariance} of a fitted logistic pipeline
    on its training rows; {"note": why not} for any other model."""
    logistic = _logistic(model)
    if logistic is None or logistic.coef_.shape[0] != 1:
        return {"note": "not a logistic regression: the band holds the outcomes' noise only"}
    rows = frame if len(frame) <= ROWS else frame.sample(n=ROWS, random_state=seed)
    x = _design(model, rows)
    beta = np.r_[logistic.intercept_, logistic.coef_.ravel()]
    p = expit(x @ beta)
    information = (x * (p * (1 - p))[:, None]).T @ x * (len(frame) / len(rows))
    penalty = np.eye(len(beta)) / float(logistic.C)
    penalty[0, 0] = 0.0  # the intercept is not penalised
    try:
        covariance = np.linalg.inv(information + penalty)
    except np.linalg.LinAlgError:
        return {"note": "the Fisher information is singular: the band holds the outcomes' "
                        "noise only"}
    return {"covariance": covariance.tolist(), "rows": len(frame)}


def probability_draws(model, uncertainty: dict | None, features: pd.DataFrame, draws: int = 100,
                      seed: int = 0) -> np.ndarray | None:
    """(draws x rows) probabilities of exiting, each row of it from coefficients drawn from
    their recorded covariance; None when none is recorded or it does not fit the model."""
    logistic = _logistic(model)
    covariance = (uncertainty or {}).get("covariance")
    if logistic is None or covariance is None:
        return None
    covariance = np.asarray(covariance, dtype=float)
    beta = np.r_[logistic.intercept_, logistic.coef_.ravel()]
    if covariance.shape != (len(beta), len(beta)):
        return None
    rng = np.random.default_rng(seed)
    betas = rng.multivariate_normal(beta, covariance, size=draws, method="cholesky")
    return expit(betas @ _design(model, features).T)
