"""The alerts' state beside the config, and delivering what it holds.

The state (``<config>.alerts.json``) holds the conditions open (pipeline.watch.events), the
alerts not yet delivered on every configured channel, the last ones raised with what became of
each, counts by event, and the destinations of the last config that could be read, so that a
cycle whose config has become unreadable still alerts. It survives between cron runs. Every
change, delivery included, is made under its lock (pipeline.watch.files.Locked): two cycles, or
a cycle and the API's workers, never raise or send the same alert twice.

An alert that cannot be delivered stays pending, logged, and is tried again by the next cycle
(the API, which only notices staleness, tries again at most every API_RETRY seconds). A channel
that fails is not tried again in the same round, so a receiver that hangs or refuses costs a
cycle one timeout (pipeline.watch.deliver.TIMEOUT) a channel at most.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pipeline.watch import files, ledger
from pipeline.watch.deliver import DeliveryError, Destinations, send
from pipeline.watch.events import QUIET_CLOSES

logger = logging.getLogger(__name__)

RECENT = 20  # alerts kept with their outcome, for the pages
MAX_PENDING = 100  # undelivered alerts kept; the oldest beyond are dropped, with a warning
API_RETRY = 300.0  # seconds between the API's tries of an undelivered alert
CYCLE_WAIT = 10.0  # seconds a cycle waits for the state's lock (a delivery may hold it)
SENT, NO_DESTINATION = "sent", "no destination configured"

Plan = Callable[[dict], tuple[list[dict], dict]]


def read_state(config_path) -> dict:
    """The alert state of a config ({} before the first alert)."""
    return ledger.read(ledger.paths(config_path)[1])


def _deliver(state: dict, dest: Destinations | None, now: float, patient: bool) -> None:
    """One round: every pending alert on every configured channel it has not reached."""
    channels = dest.channels() if dest is not None else ()
    broken: dict[str, str] = {}
    pending, recent = [], list(state.get("recent") or [])
    for alert in state.get("pending") or []:
        if not patient and alert.get("next_try", 0) > now:
            pending.append(alert)
            continue
        status = alert.setdefault("delivery", {})
        for channel in channels:
            if status.get(channel) == SENT:
                continue
            if channel in broken:
                status[channel] = broken[channel]
                continue
            try:
                send(channel, dest, alert)
                status[channel] = SENT
            except DeliveryError as exc:
                status[channel] = broken[channel] = f"failed: {exc}"
                logger.warning("alert %s (%s) not delivered by %s: %s; tried again at the "
                               "next cycle", alert.get("id"), alert["event"], channel, exc)
        alert["tries"] = alert.get("tries", 0) + 1
        if all(status.get(channel) == SENT for channel in channels):
            alert["delivered"] = ledger_time(now) if channels else NO_DESTINATION
            alert.pop("next_try", None)
            recent.append(alert)
        else:
            alert["next_try"] = now + API_RETRY
            pending.append(alert)
    if len(pending) > MAX_PENDING:
        logger.warning("dropping %d undelivered alerts beyond the %d kept",
                       len(pending) - MAX_PENDING, MAX_PENDING)
        pending = pending[-MAX_PENDING:]
    state["pending"], state["recent"] = pending, recent[-RECENT:]


def ledger_time(seconds: float) -> str:
    """Seconds since the epoch as the ISO-8601 UTC time alerts carry."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def raise_alerts(config_path, dest: Destinations | None, plan: Plan, now: float | None = None,
                 *, wait: float = CYCLE_WAIT, patient: bool = True) -> list[dict] | None:
    """Under the state's lock: ``plan(open conditions) -> (new alerts, conditions open)``, the
    new alerts queued after those still pending, one delivery round, the state written.

    ``dest`` None: the destinations last kept (the config could not be read). ``patient``
    False (the API) leaves an alert alone until API_RETRY after its last try. Returns the new
    alerts, or None when the lock could not be had within ``wait`` seconds.
    """
    now = time.time() if now is None else now
    path = ledger.paths(config_path)[1]
    with files.Locked(path, wait) as lock:
        if not lock.held:
            logger.warning("alert state %s is locked: alerts left for the next cycle", path)
            return None
        state = ledger.read(path)
        if dest is None:
            dest = Destinations.from_record(state.get("destinations"))
        else:
            state["destinations"] = dest.as_record()
        new, state["open"] = plan(state.get("open") or {})
        raised = dict(state.get("raised") or {})
        for alert in new:
            state["next_id"] = alert["id"] = state.get("next_id", 0) + 1
            raised[alert["event"]] = raised.get(alert["event"], 0) + 1
            logger.info("alert %s: %s", alert["event"], alert["text"])
        state["raised"] = raised
        state["pending"] = [*(state.get("pending") or []), *new]
        _deliver(state, dest, now, patient)
        # Settled: nothing a quiet cycle would announce (see events.QUIET_CLOSES).
        state["settled"] = not state["open"].keys() & QUIET_CLOSES and not state["pending"]
        files.write(path, state)
        return new
