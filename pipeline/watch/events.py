"""What a cycle means for the people watching it: its outcome, and the alerts it raises.

Pure functions of what the cycle recorded (pipeline.core.recorded.CycleFacts, its error) and of
the conditions already open, tested on a table of cases. Three conditions can be open:
``failing`` (opened by ``cycle_failed``) and ``stale`` (no successful cycle for longer than
/health allows, opened by ``stale``), which the next successful cycle closes with one
``recovered``; and ``drift`` (opened by ``drift_found``), closed by ``deployed`` or
``deploy_refused``. Each alerts once when it starts and once when it clears, however many
cycles see it meanwhile. A finding of the estimate before the labels come (``estimate_below``,
``estimate_broken``: cycle.estimating) sends one ``estimate_finding`` when it is first raised
(none in a cycle whose drift test found drift: that alert says it); it stays open,
unannounced, while cycles that estimate raise it again, and closes quietly at the first
estimate that does not, or when another version is deployed. Every alert's ``text`` is one
plain sentence, as chat webhooks show it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from pipeline.core.decisions import Decision
from pipeline.core.recorded import CycleFacts
from pipeline.watch import ledger

CYCLE_FAILED, RECOVERED, STALE = "cycle_failed", "recovered", "stale"
DRIFT_FOUND, DEPLOYED, DEPLOY_REFUSED = "drift_found", "deployed", "deploy_refused"
ESTIMATE_FINDING = "estimate_finding"
EVENTS = (CYCLE_FAILED, RECOVERED, DRIFT_FOUND, DEPLOYED, DEPLOY_REFUSED, STALE,
          ESTIMATE_FINDING)
FAILING = "failing"  # the condition cycle_failed opens; STALE names its own
DRIFT = "drift"  # open from drift_found until deployed or deploy_refused
# The conditions a successful cycle closes even when it finds nothing new (with "recovered"):
# while one is open, a quiet cycle runs whole. The others (drift, the estimate's findings) only
# a cycle with new data can close, so they leave cron's quiet cycles on the quick path.
QUIET_CLOSES = frozenset({FAILING, STALE})
MAX_ERROR = 300  # characters of an error in an alert's sentence


@dataclass
class CycleReport:
    """One cycle as the alerts see it."""

    where: str  # the config, as people know it: "<folder>/<config file>"
    outcome: str  # one of ledger.OUTCOMES
    summary: str  # the cycle's one-line summary, or its error when it failed
    model_version: int | None = None  # deployed when it ended
    decision: Decision | None = None  # its drift test, if it judged one
    judged_version: int | None = None  # the version its drift test judged (deployed at start)
    deployed: list[dict] = field(default_factory=list)  # deployments rows it made
    refused: dict | None = None  # the retrained model it did not deploy
    unfinished: dict | None = None  # an earlier cycle that never finished, found at its start
    estimated: bool = False  # it estimated the deployed model before the labels come
    findings: list[dict] = field(default_factory=list)  # that estimate's findings


def where_of(config_path) -> str:
    """A config as people know its deployment in an alert: ``<folder>/<config file>``."""
    folder, name = os.path.split(os.path.realpath(os.path.expanduser(str(config_path))))
    return f"{os.path.basename(folder)}/{name}"


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    """Text on one line, cut to limit characters (errors can span paragraphs)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def outcome_of(facts: CycleFacts, failed: bool) -> str:
    """The outcome of a cycle from its records: failed, redeployed, refused, no_drift,
    not_judged (new rows too few, or none usable), or nothing_new (no work recorded)."""
    if failed:
        return ledger.FAILED
    if facts.deployed:
        return ledger.REDEPLOYED
    if facts.refused is not None:
        return ledger.REFUSED
    if facts.decision is not None and facts.decision.drift is False:
        return ledger.NO_DRIFT
    if any(run.get("stage") == "fullprocess" for run in facts.runs):
        return ledger.NOT_JUDGED
    return ledger.NOTHING_NEW


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def _alert(event: str, text: str, report_or_version, now: float, details: dict) -> dict:
    version = report_or_version.model_version if isinstance(report_or_version, CycleReport) \
        else report_or_version
    return {"event": event, "text": text, "model_version": version,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "details": details}


def _drift_text(report: CycleReport, d: Decision) -> str:
    if d.used == "loss" and d.relative_rise is not None and d.p_value is not None:
        figures = f"its mean log-loss is {d.relative_rise:+.1%} on the reference, p {d.p_value:.2g}"
    elif d.new_score is not None and d.threshold is not None:
        figures = f"F1 {d.new_score:.3f} against a threshold of {d.threshold:.3f}"
    else:
        figures = d.outcome
    return (f"Drift found in {report.where}: on {d.rows or 'the'} new rows the {d.test} test "
            f"says version {report.judged_version} has drifted ({figures}).")


def _cycle_alerts(report: CycleReport, now: float, opened: dict) -> list[dict]:
    """drift_found, deployed and deploy_refused: what this cycle saw. Drift is a condition too,
    open until a model is deployed or refused for it (or a test finds none): a cycle that
    fails after finding drift, and its retries, which find it again, announce it once."""
    out = []
    d = report.decision
    if d is not None and d.drift is False:
        opened.pop(DRIFT, None)
    if d is not None and d.drift and DRIFT not in opened:
        opened[DRIFT] = {"since": now}
        out.append(_alert(DRIFT_FOUND, _drift_text(report, d), report.judged_version, now, {
            "test": d.used, "rows": d.rows, "statistic": d.statistic, "p_value": d.p_value,
            "effect": d.relative_rise, "new_f1": d.new_score, "threshold": d.threshold}))
    for row in report.deployed:
        out.append(_alert(DEPLOYED, f"Version {row['version']} of the model is deployed in "
                          f"{report.where} (F1 {row['f1']:.3f} on the test data).",
                          row["version"], now, {"version": row["version"], "f1": row["f1"]}))
    r = report.refused
    if r is not None:
        out.append(_alert(DEPLOY_REFUSED, (
            f"The model retrained in {report.where} was not deployed: F1 "
            f"{r.get('retrained_f1', float('nan')):.3f} on the test data, below "
            f"{r.get('deployed_f1', float('nan')):.3f} of version {r.get('version')}, which "
            "stays."), report, now, dict(r)))
    if report.deployed or r is not None:
        opened.pop(DRIFT, None)
    return out + _finding_alerts(report, now, opened)


def _finding_alerts(report: CycleReport, now: float, opened: dict) -> list[dict]:
    """One estimate_finding per kind of finding when it opens; a cycle that estimated without
    raising a kind closes it. A finding about a version no longer deployed when the cycle ends
    (the one its drift test judged, before it re-deployed) says nothing of the deployed one: it
    opens nothing, and a condition about such a version closes, quietly."""
    def replaced(version) -> bool:
        return None not in (version, report.model_version) and version != report.model_version

    raised = {f["kind"]: f for f in report.findings if not replaced(f.get("model_version"))}
    for name in [n for n in opened if n.startswith("estimate:")]:
        if replaced(opened[name].get("version")) or \
                ((report.estimated or raised) and name.split(":", 1)[1] not in raised):
            opened.pop(name)
    out = []
    # A cycle whose drift test found drift has said it: "the estimates no longer hold" is the
    # same news (who leaves has changed), so its findings open without an alert of their own.
    drifted = report.decision is not None and bool(report.decision.drift)
    for kind, finding in raised.items():
        if f"estimate:{kind}" in opened:
            continue
        opened[f"estimate:{kind}"] = {"since": now, "version": finding.get("model_version")}
        if drifted:
            continue
        out.append(_alert(ESTIMATE_FINDING, _sentence(
            f"In {report.where}, {one_line(finding.get('message', kind))}"), report, now,
            {"kind": kind, **{k: finding[k] for k in ("f1", "f1_low", "f1_high", "name",
                                                     "realised_f1", "rows") if k in finding}}))
    return out


def stale_alert(where: str, version: int | None, last_success: float | None, now: float,
                max_age: float) -> dict:
    """The alert of a cycle that has not succeeded for longer than max_age seconds."""
    return _alert(STALE, f"No cycle of {where} has succeeded since {_when(last_success)}, "
                  f"more than {max_age / 60:.0f} minutes ago: is cron still running?", version,
                  now, {"last_success": _when(last_success), "max_age_minutes": max_age / 60})


def plan_cycle(open_conditions: dict, report: CycleReport, now: float,
               stale: dict | None = None) -> tuple[list[dict], dict]:
    """(alerts, conditions open after it) for a cycle that ended; ``stale`` is the stale
    alert when the cycle found the last success older than allowed as it started."""
    opened = dict(open_conditions)
    alerts = []
    if stale is not None and STALE not in opened and FAILING not in opened:
        alerts.append(stale)
        opened[STALE] = {"since": now}
    failures = []
    if report.unfinished:  # before what this cycle saw: it happened before
        failures.append(f"A cycle of {report.where} started at "
                        f"{_when(report.unfinished.get('started'))} and never finished "
                        "(killed, or its machine stopped).")
    if failures and FAILING not in opened:
        alerts.append(_alert(CYCLE_FAILED, failures[0], report, now, {"error": failures[0]}))
        opened[FAILING] = {"since": now}
    alerts += _cycle_alerts(report, now, opened)
    if report.outcome == ledger.FAILED and FAILING not in opened:
        text = _sentence(f"A cycle of {report.where} failed: {one_line(report.summary)}")
        alerts.append(_alert(CYCLE_FAILED, text, report, now, {"error": text}))
        opened[FAILING] = {"since": now}
    if report.outcome != ledger.FAILED and opened.keys() & {FAILING, STALE}:
        closed = {name: opened.pop(name) for name in (FAILING, STALE) if name in opened}
        alerts.append(_alert(RECOVERED, _sentence(f"Cycles of {report.where} succeed again: "
                                                  f"{one_line(report.summary)}"), report, now,
                             {f"{name}_since": _when(c["since"]) for name, c in closed.items()}))
    return alerts, opened


def plan_stale(open_conditions: dict, stale: dict, now: float) -> tuple[list[dict], dict]:
    """(alerts, conditions open) when /health finds the last success too old: one stale alert,
    unless it or a failure was already announced."""
    if open_conditions.keys() & {STALE, FAILING}:
        return [], dict(open_conditions)
    return [stale], dict(open_conditions, **{STALE: {"since": now}})
