"""The record of every cycle, beside its config: how each one ended, the last success and the
last failure, failures in a row, and a cycle that started and never finished.

Every cycle writes it: the cron quick path when nothing is new (the one trace a quiet cycle
leaves, since opening the history database would double the cost of that path), the full cycle
when it starts and when it ends, and a cycle that cannot even read its config. /health,
/metrics, the pages and the alerts read it. A killed cycle is noticed by the next one: its
``running`` mark is still there when the next cycle, holding the same lock, starts.

One small JSON object, rewritten whole (a temporary file, then ``os.replace``) under an flock of
its own, so that a cycle that could not read its config (and so holds no deployment lock) and a
working one never lose each other's counts. It is not fsynced: a record lost to a power cut only
makes the last success look older, and the next cycle writes it again. Standard library only and
cheap to import: the quick path imports it. Times are seconds since the epoch.
"""

from __future__ import annotations

import json
import os
import time

from pipeline.core.names import ALERTS_SUFFIX, CYCLES_SUFFIX, LOCK_SUFFIX

NOTHING_NEW, NO_DRIFT, NOT_JUDGED = "nothing_new", "no_drift", "not_judged"
REDEPLOYED, REFUSED, FAILED = "redeployed", "refused", "failed"
OUTCOMES = (NOTHING_NEW, NO_DRIFT, NOT_JUDGED, REDEPLOYED, REFUSED, FAILED)
LOCK_WAIT = 5.0  # seconds to wait for a lock held by another process (it holds it briefly)


def paths(config_path: str) -> tuple[str, str]:
    """(cycle record, alert state) of a config file, beside it."""
    config = os.path.realpath(os.path.expanduser(str(config_path)))
    folder, name = os.path.split(config)
    stem = name[:-5] if name.endswith(".json") else name
    return os.path.join(folder, stem + CYCLES_SUFFIX), os.path.join(folder, stem + ALERTS_SUFFIX)


def read(path: str) -> dict:
    """A JSON object written by write(); {} when it is missing or damaged."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write(path: str, value: dict) -> None:
    """Write a JSON object whole: a temporary file beside it, then os.replace."""
    data = json.dumps(value, separators=(",", ":")).encode()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:  # one write(2): json.dump to a text file writes piecemeal, four times slower here
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):  # contextlib.suppress would cost the quick path an import
            os.unlink(tmp)
        raise


class Locked:
    """An exclusive flock for rewriting a file (on ``.<its name>.lock`` beside it) for a
    with-block; ``held`` is False when it could not be had within ``wait`` seconds (the block
    should then leave the file alone). The record and the alert state have a lock each, so a
    delivery that waits on a receiver never holds up the quick path."""

    def __init__(self, target: str, wait: float = LOCK_WAIT):
        folder, name = os.path.split(target)
        self.path = os.path.join(folder, "." + name + LOCK_SUFFIX)
        self.wait, self.held, self._handle = wait, False, None

    def __enter__(self) -> Locked:
        import fcntl

        self._handle = open(self.path, "a")  # closed in __exit__, which drops the lock
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    return self
                time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        self._handle.close()  # closing drops the lock


def _ended(record: dict, started: float, now: float, outcome: str, summary: str) -> dict:
    out = dict(record)
    out.pop("running", None)
    out.setdefault("first", started)
    runs = dict(out.get("runs") or {})
    runs[outcome] = runs.get(outcome, 0) + 1
    out["runs"] = runs
    out["last_run"] = {"started": started, "finished": now, "outcome": outcome,
                       "summary": summary}
    if outcome == FAILED:
        out["failed_in_a_row"] = out.get("failed_in_a_row", 0) + 1
        out["last_failure"] = {"time": now, "error": summary}
    else:
        out["failed_in_a_row"] = 0
        out["last_success"] = {"time": now, "outcome": outcome, "summary": summary}
    return out


def begin(record: dict, now: float, pid: int) -> tuple[dict, dict | None]:
    """A full cycle starts: (the record with its ``running`` mark, the mark of an earlier cycle
    that never finished, recorded as a failure, or None)."""
    unfinished = record.get("running")
    if isinstance(unfinished, dict):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC",
                             time.gmtime(unfinished.get("started") or now))
        record = _ended(record, unfinished.get("started") or now, now, FAILED,
                        f"the cycle started at {when} (pid {unfinished.get('pid')}) never "
                        "finished: killed, or its machine stopped")
    else:
        unfinished = None
    record = dict(record, running={"pid": pid, "started": now})
    record.setdefault("first", now)
    return record, unfinished


def end(record: dict, now: float, outcome: str, summary: str) -> dict:
    """A full cycle ends (a failure's summary is its error)."""
    started = (record.get("running") or {}).get("started", now)
    return _ended(record, started, now, outcome, summary)


def handover_reason(record: dict, alerts: dict, now: float) -> str | None:
    """Why a quiet cycle must still go to the full cycle, or None: no record yet, an earlier
    cycle that never finished or failed (its failure or recovery is to be announced), a last
    success older than /health allows (stale), or alerts still to deliver or open."""
    if not record:
        return "no cycle recorded yet"
    if record.get("running"):
        return "an earlier cycle never finished"
    if record.get("failed_in_a_row"):
        return "the last cycle failed"
    max_age = (record.get("limits") or {}).get("max_age_seconds")
    last = (record.get("last_success") or {}).get("time")
    if not max_age or last is None or now - last > max_age:
        return "the last success is older than the health rule allows"
    if alerts and not alerts.get("settled", True):
        return "alerts open or still to deliver"
    return None


def record_quiet(config_path: str, summary: str, now: float | None = None) -> str | None:
    """The quick path's record of a cycle with nothing new; returns None when recorded, or why
    the full cycle must run instead (handover_reason), recording nothing."""
    now = time.time() if now is None else now
    ledger, alerts = paths(config_path)
    with Locked(ledger) as held:
        if not held.held:
            return "the cycle record is locked"
        record = read(ledger)
        reason = handover_reason(record, read(alerts), now)
        if reason is None:
            write(ledger, end(record, now, NOTHING_NEW, summary))
        return reason
