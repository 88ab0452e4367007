"""The cycle's decisions as pure functions: a table of cases, no files, no model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.monitor.verdict import (
    KEEP,
    RETRAIN,
    WAIT,
    Evidence,
    Policy,
    decide,
    deploy_retrained,
    judgeable,
)

STEADY = (0.60, 0.61, 0.59, 0.60, 0.62, 0.58)  # mean 0.60, stdev about 0.014
RAW = Policy(drift_test="raw")
REFERENCE = {"mean": 0.50, "sd": 0.50, "rows": 20_000}


def loss(mean: float, rows: int) -> dict:
    return {"mean": mean, "sd": 0.50, "rows": rows}


@pytest.mark.parametrize("evidence, policy, action, reason, used", [
    # too little to judge: few rows, or (for an F1 test) nobody left
    (Evidence(rows=19, exits=5), RAW, WAIT, "too little data", None),
    (Evidence(rows=500, exits=0), RAW, WAIT, "too little data", None),
    (Evidence(rows=19, exits=5, reference_loss=REFERENCE), Policy(), WAIT, "too little data",
     None),
    (Evidence(rows=5, exits=1, new_score=0.1, deployed_score=0.9), replace(RAW, min_drift_rows=5),
     RETRAIN, "score drift", "raw"),
    # the loss test judges rows where nobody left too: log-loss is defined there
    (Evidence(rows=500, exits=0, new_loss=loss(0.70, 500), reference_loss=REFERENCE), Policy(),
     RETRAIN, "loss drift", "loss"),
    # loss test: a rise within the 2% tolerance is no drift, however many rows say so ...
    (Evidence(rows=10**6, exits=9, new_loss=loss(0.509, 10**6), reference_loss=REFERENCE),
     Policy(), KEEP, "no drift", "loss"),
    # ... a clear rise is, and a small batch needs a bigger one to be sure
    (Evidence(rows=1000, exits=9, new_loss=loss(0.58, 1000), reference_loss=REFERENCE),
     Policy(), RETRAIN, "loss drift", "loss"),
    (Evidence(rows=50, exits=9, new_loss=loss(0.58, 50), reference_loss=REFERENCE),
     Policy(), KEEP, "no drift", "loss"),
    (Evidence(rows=1000, exits=9, new_loss=loss(0.58, 1000), reference_loss=REFERENCE),
     replace(Policy(), drift_tolerance=0.2), KEEP, "no drift", "loss"),
    # a deployment from before the loss test has no reference: raw decides, and says so
    (Evidence(rows=99, exits=9, new_score=0.59, deployed_score=0.60), Policy(), RETRAIN,
     "score drift", "raw"),
    # raw: any drop below the deployed score
    (Evidence(rows=20, exits=3, new_score=0.59, deployed_score=0.60), RAW, RETRAIN,
     "score drift", "raw"),
    (Evidence(rows=20, exits=3, new_score=0.60, deployed_score=0.60), RAW, KEEP,
     "no drift", "raw"),
    # parametric: below mean - 2 sd of the history; with too short a history, raw
    (Evidence(rows=99, exits=9, new_score=0.59, deployed_score=0.60, past_scores=STEADY),
     Policy(drift_test="parametric"), KEEP, "no drift", "parametric"),
    (Evidence(rows=99, exits=9, new_score=0.55, deployed_score=0.60, past_scores=STEADY),
     Policy(drift_test="parametric"), RETRAIN, "score drift", "parametric"),
    (Evidence(rows=99, exits=9, new_score=0.59, deployed_score=0.60, past_scores=STEADY[:3]),
     Policy(drift_test="parametric"), RETRAIN, "score drift", "raw"),
    (Evidence(rows=99, exits=9, new_score=0.59, deployed_score=0.60, past_scores=STEADY[:3]),
     Policy(drift_test="nonparametric", min_history=3), KEEP, "no drift", "nonparametric"),
    # data drift decides only when the config says so, and model drift comes first
    (Evidence(rows=99, exits=9, new_score=0.70, deployed_score=0.60, data_alert=True),
     RAW, KEEP, "no drift", "raw"),
    (Evidence(rows=99, exits=9, new_score=0.70, deployed_score=0.60, data_alert=True),
     replace(RAW, data_drift_decides=True), RETRAIN, "data drift", "raw"),
    (Evidence(rows=99, exits=9, new_score=0.50, deployed_score=0.60, data_alert=True),
     replace(RAW, data_drift_decides=True), RETRAIN, "score drift", "raw"),
])
def test_decide(evidence, policy, action, reason, used):
    decision = decide(evidence, policy)
    assert (decision.action, decision.reason) == (action, reason)
    assert (decision.test.used if decision.test else None) == used
    if decision.test and policy.drift_test == "loss" and used == "raw":
        assert "fell back to raw" in decision.test.note and decision.test.test == "loss"


def test_a_judgeable_batch_without_scores_is_a_programming_error():
    assert judgeable(20, 1, RAW)
    with pytest.raises(ValueError, match="needs the new and the deployed score"):
        decide(Evidence(rows=20, exits=1), RAW)
    with pytest.raises(ValueError, match="needs the new rows' log-loss"):
        decide(Evidence(rows=20, exits=1, reference_loss=REFERENCE), Policy())


@pytest.mark.parametrize("new, now, if_worse, deploy", [
    (0.50, 0.55, False, False), (0.55, 0.55, False, True), (0.60, 0.55, False, True),
    (0.50, 0.55, True, True), (0.10, None, False, True),
])
def test_deploy_retrained(new, now, if_worse, deploy):
    assert deploy_retrained(new, now, Policy(deploy_if_worse=if_worse)) is deploy


def test_the_policy_is_the_configs(settings):
    changed = replace(settings, drift_test="nonparametric", min_history=9, min_drift_rows=3,
                      data_drift_decides=True, deploy_if_worse=True, drift_alpha=0.05,
                      drift_tolerance=0.1)
    assert Policy.of(changed) == Policy("nonparametric", 9, 3, True, True, 0.05, 0.1)
    assert Policy.of(settings) == Policy()  # the defaults agree with the config's
