"""Watching a full cycle for cycle.run: its record beside the config (pipeline.watch.ledger)
and the alerts its outcome raises (pipeline.watch.events and .alerts).

A driver: it reads what the cycle recorded (pipeline.core.recorded), asks pipeline.watch.events
what that means, and records and sends the answer. Nothing here may fail the cycle or hold it up
for long: an error is logged and the cycle's own result stands, and deliveries have short
timeouts. Standard library only, like cycle.run: a cycle with nothing new runs it too.
"""

from __future__ import annotations

import logging
import os
import time

from cycle.errors import CycleError
from pipeline.core import recorded
from pipeline.core.config import ConfigError, Settings
from pipeline.core.deployed import current_deployment
from pipeline.core.history import History
from pipeline.watch import alerts, events, files, health, ledger
from pipeline.watch.deliver import Destinations

logger = logging.getLogger(__name__)


def error_text(error: BaseException) -> str:
    """An error as one line: our own errors say it all, anything else names its type."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (ConfigError, CycleError, OSError)):
        return text
    return f"{type(error).__name__}: {text}"


class CycleWatch:
    """The record and the alerts of one cycle of a config: ``begin`` when it holds its lock,
    ``end`` when it is over; ``failed_early`` when it could not even start."""

    def __init__(self, config_path: str):
        self.config = os.path.realpath(os.path.expanduser(str(config_path)))
        self.where = events.where_of(self.config)
        self.settings: Settings | None = None
        self.before_run: int | None = None  # the history's newest run before this cycle
        self.unfinished: dict | None = None  # an earlier cycle that never finished
        self.stale: dict | None = None  # the stale alert, when the last success is too old
        self.version_before: int | None = None  # deployed when the cycle began

    def _start(self, now: float, limits: dict | None, locked: bool = False) -> dict:
        """Mark the cycle as running in the record; note a killed predecessor and staleness."""
        path = ledger.paths(self.config)[0]
        with files.Locked(path) as lock:
            if not lock.held:
                logger.warning("the cycle record %s is locked: this cycle is not recorded", path)
                return {}
            previous = ledger.load(path)  # the quiet cycles since counted in
            limits = limits or previous.get("limits") or {}
            if limits:
                verdict = health.judge(previous, now, limits["max_age_seconds"],
                                       limits["failed_runs"])
                if verdict.stale:
                    self.stale = events.stale_alert(
                        self.where, previous.get("model_version"),
                        (verdict.last_success or {}).get("time"), now, limits["max_age_seconds"])
            record, self.unfinished = ledger.begin(previous, now, os.getpid())
            if limits:
                record["limits"] = limits
            files.write(path, record)
            if locked:  # holding the deployment's lock: no quick path appends meanwhile
                ledger.forget_counted_quiet(path)
            return record

    def begin(self, settings: Settings) -> None:
        """The cycle starts its work (holding its deployment's lock)."""
        self.settings = settings
        self.version_before = self._version()
        try:
            self.before_run = recorded.last_run_id(History(settings.history_db))
            self._start(time.time(), {"max_age_seconds": settings.health_max_age_minutes * 60,
                                      "failed_runs": settings.health_failed_runs}, locked=True)
        except Exception:
            logger.exception("the cycle record of %s could not be written", self.config)

    def _version(self) -> int | None:
        if self.settings is None:
            return ledger.read(ledger.paths(self.config)[0]).get("model_version")
        try:
            return current_deployment(self.settings.deployment_folder).version
        except Exception:  # no deployment, a broken one: the alert says so without a version
            return None

    def end(self, summary: str | None = None, error: BaseException | None = None) -> None:
        """The cycle is over: record its outcome and raise and deliver its alerts."""
        try:
            self._end(summary, error)
        except Exception:
            logger.exception("the cycle's record or alerts failed; the cycle's result stands")

    def _end(self, summary: str | None, error: BaseException | None) -> None:
        now = time.time()
        facts = recorded.CycleFacts()
        if self.settings is not None and self.before_run is not None:
            facts = recorded.cycle_facts(History(self.settings.history_db), self.settings.name,
                                         self.before_run)
        report = events.CycleReport(
            self.where, events.outcome_of(facts, failed=error is not None),
            error_text(error) if error is not None else summary or "", self._version(),
            facts.decision, self.version_before, facts.deployed, facts.refused, self.unfinished,
            facts.estimated, facts.findings)
        path = ledger.paths(self.config)[0]
        with files.Locked(path) as lock:
            if lock.held:
                record = ledger.end(ledger.load(path), now, report.outcome,
                                    events.one_line(report.summary))
                files.write(path, dict(record, model_version=report.model_version))
        dest = Destinations.of(self.settings) if self.settings is not None else None
        alerts.raise_alerts(self.config, dest,
                            lambda opened: events.plan_cycle(opened, report, now, self.stale))

    def failed_early(self, error: BaseException, settings: Settings | None = None) -> None:
        """A cycle that failed before its work began (an unreadable config, a deployment folder
        it cannot lock): recorded and alerted like any failure, with the destinations last kept
        when the config cannot be read."""
        self.settings = settings
        try:
            self._start(time.time(), None)
            self._end(None, error)
        except Exception:
            logger.exception("the cycle's record or alerts failed; the cycle's result stands")
