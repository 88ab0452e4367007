"""The record of every cycle, beside its config: how each one ended, the last success and the
last failure, failures in a row, and a cycle that started and never finished.

Every cycle records itself: the full cycle when it starts and when it ends, a cycle that cannot
even read its config, and the cron quick path when nothing is new, which appends one line to a
quiet file beside the record (the one trace a quiet cycle leaves: opening the history database
would double the cost of that path). Readers (/health, /metrics, the pages, the alerts) read
both through ``load``; the next full cycle counts the quiet lines into the record and empties
the file. A killed cycle is noticed by the next one: its ``running`` mark is still there when the
next cycle, holding the same lock, starts.

The record is one small JSON object, rewritten whole under an flock of its own
(pipeline.watch.files), so that a cycle that could not read its config (and so holds no
deployment lock) and a working one never lose each other's counts. Nothing is fsynced: a record
lost to a power cut only makes the last success look older, and the next cycle writes it again.
Standard library only and cheap to import (the quick path imports it; rewriting is in
pipeline.watch.files, which it does not need). Times are seconds since
the epoch.
"""

from __future__ import annotations

import json
import os
import time

from pipeline.core.names import ALERTS_SUFFIX, CYCLES_SUFFIX, QUIET_SUFFIX

NOTHING_NEW, NO_DRIFT, NOT_JUDGED = "nothing_new", "no_drift", "not_judged"
REDEPLOYED, REFUSED, FAILED = "redeployed", "refused", "failed"
OUTCOMES = (NOTHING_NEW, NO_DRIFT, NOT_JUDGED, REDEPLOYED, REFUSED, FAILED)
QUIET_LINE = 18  # b"%017.6f\n": a quiet cycle's time in the quiet file
QUIET_SUMMARY = "nothing new (the cron quick path)"


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


def quiet_path(record_path: str) -> str:
    """The quiet cycles' file of a cycle record (config.cycles.json -> config.cycles.quiet)."""
    return record_path[:-5] + QUIET_SUFFIX if record_path.endswith(".json") \
        else record_path + QUIET_SUFFIX


def read_quiet(path: str, through: float | None) -> tuple[int, float | None]:
    """(quiet cycles recorded after ``through``, the time of the last one) in a quiet file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0, None
    try:
        lines = os.fstat(fd).st_size // QUIET_LINE  # a torn last line is not counted
        if not lines:
            return 0, None
        last = float(os.pread(fd, QUIET_LINE, (lines - 1) * QUIET_LINE))
        if through is None or float(os.pread(fd, QUIET_LINE, 0)) > through:
            return lines, last  # the usual case: the file holds only cycles not yet counted
        times = os.pread(fd, lines * QUIET_LINE, 0).split()
        return sum(float(t) > through for t in times), last
    except ValueError:  # not written by record_quiet: ignored, and emptied by the next cycle
        return 0, None
    finally:
        os.close(fd)


def load(record_path: str) -> dict:
    """The cycle record with the quiet cycles appended since it was written counted in: what
    every reader reads. ``quiet_through`` says which were, so that writing it back counts none
    twice."""
    record = read(record_path)
    count, last = read_quiet(quiet_path(record_path), record.get("quiet_through"))
    if not count:
        return record
    out = dict(record, quiet_through=last)
    runs = dict(out.get("runs") or {})
    runs[NOTHING_NEW] = runs.get(NOTHING_NEW, 0) + count
    out["runs"] = runs
    if last > (out.get("last_success") or {}).get("time", 0):
        out["last_success"] = {"time": last, "outcome": NOTHING_NEW, "summary": QUIET_SUMMARY}
    if last > (out.get("last_run") or {}).get("finished", 0):
        out["last_run"] = {"started": last, "finished": last, "outcome": NOTHING_NEW,
                           "summary": QUIET_SUMMARY}
    if last > (out.get("last_failure") or {}).get("time", 0):
        out["failed_in_a_row"] = 0
    return out


def forget_counted_quiet(record_path: str) -> None:
    """Empty the quiet file once a written record counts its lines (a full cycle holding the
    deployment's lock, so that no quick path appends meanwhile); a crash before this only
    leaves lines that ``quiet_through`` already excludes."""
    path = quiet_path(record_path)
    if os.path.exists(path):
        os.truncate(path, 0)


def record_quiet(config_path: str, now: float | None = None) -> str | None:
    """The quick path's record of a cycle with nothing new: one line appended to the quiet
    file; returns None when recorded, or why the full cycle must run instead (handover_reason),
    recording nothing.

    An append, not a rewrite of the record: rewriting a file over another through os.replace
    costs 5 to 13 ms here (ext4 writes the new file out at the rename), a third of the quick
    path; appending 18 bytes costs microseconds and needs no lock (the quick path holds its
    deployment's, and appends this short are whole).
    """
    now = time.time() if now is None else now
    ledger, alerts = paths(config_path)
    reason = handover_reason(load(ledger), read(alerts), now)
    if reason is None:
        fd = os.open(quiet_path(ledger), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"%017.6f\n" % now)
        finally:
            os.close(fd)
    return reason
