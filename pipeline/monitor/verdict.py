"""The cycle's decisions as pure functions of figures: drift or not, deploy or not.

No file, database or model is touched here: cycle.steps gathers the evidence, calls these, and
records and logs what they decided, so that every rule can be tested on a table of cases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.core.config import Settings
from pipeline.monitor.drift import LossDrift, ScoreDrift, loss_drift, score_drift

RETRAIN, KEEP, WAIT = "retrain", "keep", "wait"


@dataclass(frozen=True)
class Policy:
    """The config keys that decide."""

    drift_test: str = "loss"
    min_history: int = 5
    min_drift_rows: int = 20
    data_drift_decides: bool = False
    deploy_if_worse: bool = False
    drift_alpha: float = 0.01
    drift_tolerance: float = 0.02
    estimate_retrains: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """The policy of a configuration."""
        return cls(settings.drift_test, settings.min_history, settings.min_drift_rows,
                   settings.data_drift_decides, settings.deploy_if_worse, settings.drift_alpha,
                   settings.drift_tolerance, settings.estimate_retrains)


@dataclass(frozen=True)
class Evidence:
    """What a batch of new labelled rows says about the deployed model."""

    rows: int
    exits: int
    new_score: float | None = None  # the deployed model's F1 on the new rows
    deployed_score: float | None = None  # its F1 recorded at deployment
    past_scores: tuple[float, ...] = ()  # its earlier scores, oldest first
    data_alert: bool = False  # a KS or PSI alert on some feature
    new_loss: dict | None = None  # its per-row log-loss on the new rows: mean, sd, rows
    reference_loss: dict | None = None  # the same, out of fold on its training data


@dataclass(frozen=True)
class Decision:
    """What to do with the deployed model, and why."""

    action: str  # RETRAIN, KEEP or WAIT (too little data to judge)
    reason: str  # "loss drift", "score drift", "data drift", "no drift" or "too little data"
    test: ScoreDrift | LossDrift | None = None


def uses_loss(policy: Policy, has_reference: bool) -> bool:
    """True when the loss test decides (it is asked for, and the deployment has a reference)."""
    return policy.drift_test == "loss" and has_reference


def judgeable(rows: int, exits: int, policy: Policy, has_reference: bool = True) -> bool:
    """True when a batch can be judged: enough rows, and for an F1 test an exit among them (F1
    says nothing of rows where nobody left; log-loss does)."""
    return rows >= policy.min_drift_rows and (exits > 0 or uses_loss(policy, has_reference))


def decide(evidence: Evidence, policy: Policy) -> Decision:
    """Retrain on model drift (or data drift when it decides), keep otherwise, wait on too
    little data."""
    has_reference = bool(evidence.reference_loss)
    if not judgeable(evidence.rows, evidence.exits, policy, has_reference):
        return Decision(WAIT, "too little data")
    if uses_loss(policy, has_reference):
        if evidence.new_loss is None:
            raise ValueError("the loss test needs the new rows' log-loss")
        test = loss_drift(evidence.new_loss, evidence.reference_loss, policy.drift_alpha,
                          policy.drift_tolerance)
    else:
        if evidence.new_score is None or evidence.deployed_score is None:
            raise ValueError("a judgeable batch needs the new and the deployed score")
        asked = policy.drift_test if policy.drift_test != "loss" else "raw"
        test = score_drift(evidence.new_score, evidence.deployed_score,
                           list(evidence.past_scores), asked, policy.min_history)
        if policy.drift_test == "loss":
            test = replace(test, test="loss", note="the deployed version has no reference "
                                                   "log-loss (adopted, or trained by an earlier "
                                                   "release): fell back to raw")
    if test.drift:
        return Decision(RETRAIN, f"{'loss' if isinstance(test, LossDrift) else 'score'} drift",
                        test)
    if evidence.data_alert and policy.data_drift_decides:
        return Decision(RETRAIN, "data drift", test)
    return Decision(KEEP, "no drift", test)


def deploy_retrained(new_score: float, deployed_score_now: float | None, policy: Policy) -> bool:
    """Deploy a retrained model unless it scores below the deployed one on the same test data
    (``deploy_if_worse`` overrides; with nothing deployed, always)."""
    return deployed_score_now is None or policy.deploy_if_worse or new_score >= deployed_score_now


def estimate_finding(f1: float, f1_high: float, deployed_score: float | None,
                     tolerance: float) -> bool:
    """An estimated F1 that says the deployed model has got worse: below its score at
    deployment by more than ``drift_tolerance`` (a share of that score, as the loss test's
    tolerance is of its reference), with the whole band below that score too. Never a
    retrain by itself: there is nothing new to train on until labels come (estimate_retrains)."""
    if deployed_score is None:
        return False
    return f1 < deployed_score * (1 - tolerance) and f1_high < deployed_score


def retrain_on_estimate(finding: bool, policy: Policy) -> bool:
    """Retrain on the labelled data at hand because of an estimate only when the config asks."""
    return finding and policy.estimate_retrains
