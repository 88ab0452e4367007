"""The cycle's decisions as pure functions of figures: drift or not, deploy or not.

No file, database or model is touched here: cycle.steps gathers the evidence, calls these, and
records and logs what they decided, so that every rule can be tested on a table of cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.config import Settings
from pipeline.monitor.drift import ScoreDrift, score_drift

RETRAIN, KEEP, WAIT = "retrain", "keep", "wait"


@dataclass(frozen=True)
class Policy:
    """The config keys that decide."""

    drift_test: str = "raw"
    min_history: int = 5
    min_drift_rows: int = 20
    data_drift_decides: bool = False
    deploy_if_worse: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """The policy of a configuration."""
        return cls(settings.drift_test, settings.min_history, settings.min_drift_rows,
                   settings.data_drift_decides, settings.deploy_if_worse)


@dataclass(frozen=True)
class Evidence:
    """What a batch of new labelled rows says about the deployed model."""

    rows: int
    exits: int
    new_score: float | None = None  # the deployed model's F1 on the new rows
    deployed_score: float | None = None  # its F1 recorded at deployment
    past_scores: tuple[float, ...] = ()  # its earlier scores, oldest first
    data_alert: bool = False  # a KS or PSI alert on some feature


@dataclass(frozen=True)
class Decision:
    """What to do with the deployed model, and why."""

    action: str  # RETRAIN, KEEP or WAIT (too little data to judge)
    reason: str  # "score drift", "data drift", "no drift" or "too little data"
    score: ScoreDrift | None = None


def judgeable(rows: int, exits: int, policy: Policy) -> bool:
    """True when a batch is large enough, and holds an exit, for F1 to say anything."""
    return rows >= policy.min_drift_rows and exits > 0


def decide(evidence: Evidence, policy: Policy) -> Decision:
    """Retrain on score drift (or data drift when it decides), keep otherwise, wait on too
    little data."""
    if not judgeable(evidence.rows, evidence.exits, policy):
        return Decision(WAIT, "too little data")
    if evidence.new_score is None or evidence.deployed_score is None:
        raise ValueError("a judgeable batch needs the new and the deployed score")
    score = score_drift(evidence.new_score, evidence.deployed_score, list(evidence.past_scores),
                        policy.drift_test, policy.min_history)
    if score.drift:
        return Decision(RETRAIN, "score drift", score)
    if evidence.data_alert and policy.data_drift_decides:
        return Decision(RETRAIN, "data drift", score)
    return Decision(KEEP, "no drift", score)


def deploy_retrained(new_score: float, deployed_score_now: float | None, policy: Policy) -> bool:
    """Deploy a retrained model unless it scores below the deployed one on the same test data
    (``deploy_if_worse`` overrides; with nothing deployed, always)."""
    return deployed_score_now is None or policy.deploy_if_worse or new_score >= deployed_score_now
