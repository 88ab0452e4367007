"""What the API tells of the cycle: /health's verdict on it, and the stale alert.

The verdict is pipeline.watch.health's rule over the cycle record beside the config (read once
per version of the file). When the last success is too old and no cycle has said so, the first
worker that notices on a /health request raises the ``stale`` alert, in a thread of its own so
that the answer is not held up by a receiver. Across workers it is sent once: the alert state's
lock and its open conditions decide (pipeline.watch.alerts); each worker tries at most once a
minute.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from flask import Flask, jsonify

from pipeline.api.state import ApiState
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.watch import alerts, events, health, ledger
from pipeline.watch.deliver import Destinations

logger = logging.getLogger(__name__)

EXTENSION = "risk.watch"
TRY_EVERY = 60.0  # seconds between one worker's attempts to raise the stale alert


class StaleNotice:
    """One worker's side of the stale alert: when it last tried, and the try under way."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last = -TRY_EVERY
        self.thread: threading.Thread | None = None

    def due(self, now: float) -> bool:
        """Whether this worker may try now (and note that it does)."""
        with self._lock:
            if now - self._last < TRY_EVERY or (self.thread and self.thread.is_alive()):
                return False
            self._last = now
            return True


class SilentNotice(StaleNotice):
    """The side of an application that never raises the stale alert: the cycle's own app
    (cycle.in_process), whose cycle raises it itself (cycle.watching)."""

    def due(self, now: float) -> bool:
        """Never."""
        return False


def init_watching(app: Flask) -> None:
    """Give an application its side of the stale alert."""
    app.extensions[EXTENSION] = StaleNotice()


def silence_stale_alert(app: Flask) -> None:
    """Take the stale alert from an application's side: /health still says stale."""
    app.extensions[EXTENSION] = SilentNotice()


def cycle_record(state: ApiState) -> dict:
    """The cycle record of the app's config (its quiet cycles counted in), read once per version
    of its files."""
    path = ledger.paths(state.settings.config_path)[0]
    stamp = state.cache.stamp(Path(path), Path(ledger.quiet_path(path)))
    return state.cache.get("watch.cycles", stamp, lambda: ledger.load(path))


def cycle_verdict(state: ApiState, now: float | None = None) -> health.Verdict:
    """/health's rule on the cycle, now."""
    settings = state.settings
    return health.judge(cycle_record(state), time.time() if now is None else now,
                        settings.health_max_age_minutes * 60, settings.health_failed_runs)


def _raise_stale(state: ApiState, verdict: health.Verdict, now: float) -> None:
    settings = state.settings
    stale = events.stale_alert(events.where_of(settings.config_path),
                               cycle_record(state).get("model_version"),
                               (verdict.last_success or {}).get("time"), now,
                               settings.health_max_age_minutes * 60)
    try:
        alerts.raise_alerts(settings.config_path, Destinations.of(settings),
                            lambda opened: events.plan_stale(opened, stale, now), now, wait=0,
                            patient=False)
    except Exception:  # the answer went out already; the log says what failed
        logger.exception("the stale alert could not be raised")


def notice_stale(app: Flask, state: ApiState, verdict: health.Verdict) -> None:
    """Raise the stale alert in the background when the verdict is stale and nothing has said
    so yet (a failing cycle has: its cycle_failed alert stands until it recovers)."""
    if not verdict.stale or verdict.failing:
        return
    opened = state.cache.get(
        "watch.alerts", state.cache.stamp(Path(ledger.paths(state.settings.config_path)[1])),
        lambda: alerts.read_state(state.settings.config_path)).get("open") or {}
    if opened.keys() & {events.STALE, events.FAILING}:
        return
    notice: StaleNotice = app.extensions[EXTENSION]
    now = time.time()
    if notice.due(now):
        notice.thread = threading.Thread(target=_raise_stale, args=(state, verdict, now),
                                         name="stale-alert", daemon=True)
        notice.thread.start()


def health_answer(app: Flask, state: ApiState):
    """/health's answer: 200 when a valid model is deployed and the cycle is healthy, else 503
    naming why; either way the deployed version (when valid) and the cycle's verdict, with
    its last success and last failure."""
    problems, deployed = [], None
    try:
        deployed = state.models.get()[1]
    except ModelIntegrityError as exc:
        problems.append(str(exc))
    verdict = cycle_verdict(state)
    notice_stale(app, state, verdict)
    problems += [f"cycle: {reason}" for reason in verdict.reasons]
    body = {"status": "unavailable" if problems else "ok",
            "model_version": deployed.version if deployed else None,
            "deployed_at": deployed.manifest.get("deployed_at") if deployed else None,
            "cycle": health.as_json(verdict)}
    if problems:
        body["error"] = "; ".join(problems)
    return jsonify(body), 503 if problems else 200
