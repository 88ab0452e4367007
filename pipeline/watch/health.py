"""/health's rule for the cycle: a pure function of the cycle record (pipeline.watch.ledger).

Unhealthy when the last successful cycle is older than ``health_max_age_minutes`` (cron stopped,
or a cycle hangs holding the lock: three missed runs of the cron line by default), or when the
last ``health_failed_runs`` cycles failed. Until a cycle has left a record (a deployment made by
hand with the stage scripts) the cycle is not judged: nothing says one should be running. A
record without any success is judged from its first cycle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Verdict:
    """What the rule says of the cycle, and the facts it was drawn from."""

    recorded: bool  # any cycle left a record
    stale: bool = False
    failing: bool = False
    reasons: list[str] = field(default_factory=list)
    last_success: dict | None = None  # {"time", "outcome", "summary"}
    last_failure: dict | None = None  # {"time", "error"}
    last_run: dict | None = None
    failed_in_a_row: int = 0

    @property
    def ok(self) -> bool:
        """Healthy: neither stale nor failing."""
        return not (self.stale or self.failing)


def iso(seconds: float | None) -> str | None:
    """Seconds since the epoch as an ISO-8601 UTC time (None stays None)."""
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} minute{'' if round(seconds / 60) == 1 else 's'}"


def judge(record: dict, now: float, max_age_seconds: float, failed_runs: int) -> Verdict:
    """The verdict on a cycle record at time now."""
    if not record:
        return Verdict(recorded=False)
    success = record.get("last_success")
    verdict = Verdict(recorded=True, last_success=success,
                      last_failure=record.get("last_failure"), last_run=record.get("last_run"),
                      failed_in_a_row=int(record.get("failed_in_a_row") or 0))
    since = (success or {}).get("time")
    reference = since if since is not None else record.get("first") or \
        (record.get("running") or {}).get("started")
    if reference is not None and now - reference > max_age_seconds:
        verdict.stale = True
        verdict.reasons.append(
            f"the last successful cycle was at {iso(since)}, {_minutes(now - since)} ago"
            if since is not None else
            f"no cycle has succeeded since the first was recorded at {iso(reference)}")
        verdict.reasons[-1] += f" (more than the {_minutes(max_age_seconds)} allowed)"
    if verdict.failed_in_a_row >= failed_runs:
        verdict.failing = True
        error = (verdict.last_failure or {}).get("error") or "no error recorded"
        verdict.reasons.append(f"the last {verdict.failed_in_a_row} cycles failed; the last "
                               f"with: {error}")
    return verdict


def as_json(verdict: Verdict) -> dict:
    """The verdict's part of /health's answer: reasons, last success and last failure."""
    success, failure = verdict.last_success or {}, verdict.last_failure or {}
    return {"ok": verdict.ok, "recorded": verdict.recorded, "reasons": verdict.reasons,
            "last_success": iso(success.get("time")),
            "last_success_outcome": success.get("outcome"),
            "last_failure": iso(failure.get("time")), "last_error": failure.get("error"),
            "failed_in_a_row": verdict.failed_in_a_row}
