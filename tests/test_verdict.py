"""The cycle's decisions as pure functions: a table of cases, no files, no model."""

from __future__ import annotations

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


@pytest.mark.parametrize("evidence, policy, action, reason, used", [
    # too little to judge: few rows, or nobody left
    (Evidence(rows=19, exits=5), Policy(), WAIT, "too little data", None),
    (Evidence(rows=500, exits=0), Policy(), WAIT, "too little data", None),
    (Evidence(rows=5, exits=1, new_score=0.1, deployed_score=0.9), Policy(min_drift_rows=5),
     RETRAIN, "score drift", "raw"),
    # raw: any drop below the deployed score
    (Evidence(rows=20, exits=3, new_score=0.59, deployed_score=0.60), Policy(), RETRAIN,
     "score drift", "raw"),
    (Evidence(rows=20, exits=3, new_score=0.60, deployed_score=0.60), Policy(), KEEP,
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
    # data drift decides only when the config says so, and score drift comes first
    (Evidence(rows=99, exits=9, new_score=0.70, deployed_score=0.60, data_alert=True),
     Policy(), KEEP, "no drift", "raw"),
    (Evidence(rows=99, exits=9, new_score=0.70, deployed_score=0.60, data_alert=True),
     Policy(data_drift_decides=True), RETRAIN, "data drift", "raw"),
    (Evidence(rows=99, exits=9, new_score=0.50, deployed_score=0.60, data_alert=True),
     Policy(data_drift_decides=True), RETRAIN, "score drift", "raw"),
])
def test_decide(evidence, policy, action, reason, used):
    decision = decide(evidence, policy)
    assert (decision.action, decision.reason) == (action, reason)
    assert (decision.score.used if decision.score else None) == used


def test_a_judgeable_batch_without_scores_is_a_programming_error():
    assert judgeable(20, 1, Policy())
    with pytest.raises(ValueError, match="needs the new and the deployed score"):
        decide(Evidence(rows=20, exits=1), Policy())


@pytest.mark.parametrize("new, now, if_worse, deploy", [
    (0.50, 0.55, False, False), (0.55, 0.55, False, True), (0.60, 0.55, False, True),
    (0.50, 0.55, True, True), (0.10, None, False, True),
])
def test_deploy_retrained(new, now, if_worse, deploy):
    assert deploy_retrained(new, now, Policy(deploy_if_worse=if_worse)) is deploy


def test_the_policy_is_the_configs(settings):
    from dataclasses import replace

    changed = replace(settings, drift_test="nonparametric", min_history=9, min_drift_rows=3,
                      data_drift_decides=True, deploy_if_worse=True)
    assert Policy.of(changed) == Policy("nonparametric", 9, 3, True, True)
    assert Policy.of(settings) == Policy()  # the defaults agree with the config's
