"""The watch over the cycle as pure functions and small files: the cycle record
(pipeline.watch.ledger), /health's rule (health), what a cycle's records mean (events) and the
alert state (alerts), on tables of cases. The real receivers are in test_alert_delivery.py, the
faults of whole cycles in test_watch_faults.py."""

from __future__ import annotations

import json

import pytest

from pipeline.core.decisions import Decision
from pipeline.core.recorded import CycleFacts
from pipeline.watch import alerts, events, files, health, ledger
from pipeline.watch.deliver import DeliveryError, Destinations

T0 = 1_800_000_000.0
LIMITS = {"max_age_seconds": 1800, "failed_runs": 3}


def _report(outcome=ledger.NOTHING_NEW, summary="nothing new in in", **kw):
    return events.CycleReport("proj/config.json", outcome, summary, 2, **kw)


def _events(alert_list):
    return [a["event"] for a in alert_list]


# The cycle record ---------------------------------------------------------------------------

def test_a_cycle_that_never_finished_is_counted_failed_by_the_next():
    record, unfinished = ledger.begin({}, T0, 11)
    assert unfinished is None and record["running"] == {"pid": 11, "started": T0}
    record, unfinished = ledger.begin(record, T0 + 600, 12)  # 11 was killed
    assert unfinished == {"pid": 11, "started": T0}
    assert record["runs"] == {"failed": 1} and record["failed_in_a_row"] == 1
    assert "never finished" in record["last_failure"]["error"]
    record = ledger.end(record, T0 + 660, ledger.NO_DRIFT, "no drift")
    assert "running" not in record and record["failed_in_a_row"] == 0
    assert record["last_success"] == {"time": T0 + 660, "outcome": "no_drift",
                                      "summary": "no drift"}
    assert record["last_run"]["started"] == T0 + 600


def test_failures_count_in_a_row_until_a_success():
    record = {}
    for i in range(10):
        record = ledger.end(ledger.begin(record, T0 + i, 1)[0], T0 + i, ledger.FAILED, "boom")
    assert record["failed_in_a_row"] == 10 and record["runs"] == {"failed": 10}
    record = ledger.end(record, T0 + 20, ledger.NOTHING_NEW, "quiet")
    assert record["failed_in_a_row"] == 0 and record["runs"]["nothing_new"] == 1


@pytest.mark.parametrize("record, state, now, reason", [
    ({}, {}, T0, "no cycle recorded"),
    ({"running": {"pid": 1, "started": T0}, "limits": LIMITS}, {}, T0, "never finished"),
    ({"failed_in_a_row": 1, "limits": LIMITS, "last_success": {"time": T0}}, {}, T0,
     "failed"),
    ({"limits": LIMITS, "last_success": {"time": T0}}, {}, T0 + 1801, "older"),
    ({"last_success": {"time": T0}}, {}, T0, "older"),  # no limits: a full cycle writes them
    ({"limits": LIMITS, "last_success": {"time": T0}}, {"settled": False}, T0, "alerts"),
    ({"limits": LIMITS, "last_success": {"time": T0}}, {"settled": True}, T0 + 1799, None),
    ({"limits": LIMITS, "last_success": {"time": T0}}, {}, T0 + 60, None),
])
def test_the_quick_path_hands_over_whenever_there_is_something_to_announce(record, state, now,
                                                                          reason):
    found = ledger.handover_reason(record, state, now)
    assert (found is None) if reason is None else (reason in found)


def test_a_quiet_cycle_is_recorded_beside_its_config_or_handed_over(tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    record_path, state_path = ledger.paths(config)
    assert (record_path, state_path) == (str(tmp_path / "config.cycles.json"),
                                         str(tmp_path / "config.alerts.json"))
    quiet = tmp_path / "config.cycles.quiet"
    assert ledger.quiet_path(record_path) == str(quiet)
    assert ledger.record_quiet(config, T0) == "no cycle recorded yet"
    assert not quiet.exists()
    files.write(record_path, ledger.end({"limits": LIMITS}, T0, ledger.NO_DRIFT, "no drift"))
    for i in (1, 2, 3):
        assert ledger.record_quiet(config, T0 + 600 * i) is None
    assert quiet.stat().st_size == 3 * ledger.QUIET_LINE  # appended: the record is untouched
    record = ledger.load(record_path)
    assert record["runs"] == {"no_drift": 1, "nothing_new": 3}
    assert record["last_success"]["time"] == record["last_run"]["finished"] == T0 + 1800
    assert record["last_success"]["outcome"] == "nothing_new"
    # The quiet cycles count in as the full cycle counts a quiet cycle of its own.
    full = ledger.end({"limits": LIMITS}, T0, ledger.NO_DRIFT, "no drift")
    for i in (1, 2, 3):
        full = ledger.end(full, T0 + 600 * i, ledger.NOTHING_NEW, ledger.QUIET_SUMMARY)
    assert {k: v for k, v in record.items() if k != "quiet_through"} == \
        {k: v for k, v in full.items() if k != "last_run"} | {"last_run": record["last_run"]}
    # Written back (a full cycle starts), nothing is counted twice, emptied or not.
    files.write(record_path, record)
    assert ledger.load(record_path)["runs"]["nothing_new"] == 3
    ledger.forget_counted_quiet(record_path)
    assert ledger.load(record_path)["runs"]["nothing_new"] == 3
    assert ledger.record_quiet(config, T0 + 2400) is None
    assert ledger.load(record_path)["runs"]["nothing_new"] == 4
    files.write(state_path, {"settled": False})
    assert ledger.record_quiet(config, T0 + 3000) == "alerts open or still to deliver"
    assert ledger.load(record_path)["runs"]["nothing_new"] == 4  # nothing written
    assert ledger.read(str(tmp_path / "damaged.json")) == {}


def test_a_quiet_cycle_counts_as_a_success_only_after_the_last_failure(tmp_path):
    record_path = str(tmp_path / "config.cycles.json")
    files.write(record_path, ledger.end({"limits": LIMITS}, T0, ledger.FAILED, "boom"))
    with open(ledger.quiet_path(record_path), "wb") as handle:
        handle.write(b"%017.6f\n" % (T0 - 60))  # before the failure
    assert ledger.load(record_path)["failed_in_a_row"] == 1
    with open(ledger.quiet_path(record_path), "ab") as handle:
        handle.write(b"%017.6f\n" % (T0 + 60) + b"1800000")  # after it, and a torn line
    record = ledger.load(record_path)
    assert record["failed_in_a_row"] == 0 and record["runs"]["nothing_new"] == 2
    with open(ledger.quiet_path(record_path), "wb") as handle:
        handle.write(b"not a time at all\n")  # damaged: read as no quiet cycle
    assert ledger.load(record_path)["failed_in_a_row"] == 1


# /health's rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("record, now, ok, stale, failing", [
    ({}, T0, True, False, False),  # no cycle ever: not judged
    ({"first": T0, "last_success": {"time": T0}}, T0 + 1800, True, False, False),
    ({"first": T0, "last_success": {"time": T0}}, T0 + 1801, False, True, False),
    ({"first": T0, "failed_in_a_row": 2, "last_success": {"time": T0}}, T0 + 60, True, False,
     False),
    ({"first": T0, "failed_in_a_row": 3, "last_success": {"time": T0},
      "last_failure": {"time": T0 + 60, "error": "no usable data"}}, T0 + 60, False, False,
     True),
    ({"first": T0, "failed_in_a_row": 1}, T0 + 1801, False, True, False),  # never succeeded
    ({"running": {"pid": 3, "started": T0}, "first": T0}, T0 + 3600, False, True, False),
])
def test_health_is_unhealthy_when_the_last_success_is_old_or_cycles_keep_failing(
        record, now, ok, stale, failing):
    verdict = health.judge(record, now, 1800, 3)
    assert (verdict.ok, verdict.stale, verdict.failing) == (ok, stale, failing)
    assert bool(verdict.reasons) == (not ok)
    answer = health.as_json(verdict)
    json.dumps(answer)
    if failing:
        assert "no usable data" in verdict.reasons[0] and answer["last_error"] == "no usable data"
        assert answer["last_failure"] == "2027-01-15T08:01:00Z"


# What a cycle means -------------------------------------------------------------------------

DRIFT = Decision(run_id=1, time="t", test="loss", drift=True, used="loss", rows=400,
                 relative_rise=0.7, p_value=1e-9, statistic=8.0)


@pytest.mark.parametrize("facts, failed, outcome", [
    (CycleFacts(), False, "nothing_new"),
    (CycleFacts(runs=[{"stage": "adoption"}]), False, "nothing_new"),
    (CycleFacts(runs=[{"stage": "fullprocess"}]), False, "not_judged"),
    (CycleFacts(runs=[{"stage": "fullprocess"}], decision=Decision(run_id=1, time="t",
                                                                   drift=False)), False,
     "no_drift"),
    (CycleFacts(runs=[{"stage": "fullprocess"}], decision=DRIFT, deployed=[{"version": 3}]),
     False, "redeployed"),
    (CycleFacts(runs=[{"stage": "fullprocess"}], decision=DRIFT, refused={"version": 2}),
     False, "refused"),
    (CycleFacts(runs=[{"stage": "fullprocess"}], deployed=[{"version": 3}]), True, "failed"),
])
def test_the_outcome_of_a_cycle_comes_from_its_records(facts, failed, outcome):
    assert events.outcome_of(facts, failed) == outcome


def test_ten_failures_send_one_cycle_failed_and_the_next_success_one_recovered():
    opened, sent = {}, []
    for i in range(10):
        new, opened = events.plan_cycle(opened, _report(ledger.FAILED, f"error {i}"), T0 + i)
        sent += new
    assert _events(sent) == ["cycle_failed"] and "error 0" in sent[0]["text"]
    new, opened = events.plan_cycle(opened, _report(), T0 + 20)
    assert _events(new) == ["recovered"] and opened == {}
    assert _events(events.plan_cycle(opened, _report(), T0 + 30)[0]) == []


def test_a_killed_cycle_found_by_a_successful_one_sends_both_once():
    report = _report(unfinished={"pid": 4, "started": T0})
    new, opened = events.plan_cycle({}, report, T0 + 600)
    assert _events(new) == ["cycle_failed", "recovered"] and opened == {}
    assert "never finished" in new[0]["text"]


def test_drift_deploys_and_refusals_are_events_of_their_cycle():
    report = _report(ledger.REDEPLOYED, "loss drift: deployed version 3", decision=DRIFT,
                     judged_version=2, deployed=[{"version": 3, "f1": 0.66}])
    new, _ = events.plan_cycle({}, report, T0)
    assert _events(new) == ["drift_found", "deployed"]
    assert new[0]["model_version"] == 2 and new[0]["details"]["p_value"] == 1e-9
    assert new[1]["model_version"] == 3 and "0.660" in new[1]["text"]
    refused = _report(ledger.REFUSED, "not deployed", decision=DRIFT, judged_version=2,
                      refused={"retrained_f1": 0.4, "deployed_f1": 0.6, "version": 2})
    assert _events(events.plan_cycle({}, refused, T0)[0]) == ["drift_found", "deploy_refused"]
    for alert in [*new, *events.plan_cycle({}, refused, T0)[0]]:
        assert "\n" not in alert["text"] and alert["text"].endswith(".")
        assert set(alert) == {"event", "text", "model_version", "time", "details"}


def test_drift_found_again_by_the_retries_of_a_failed_cycle_is_announced_once():
    failed = _report(ledger.FAILED, "re-deployment failed", decision=DRIFT, judged_version=2)
    new, opened = events.plan_cycle({}, failed, T0)
    assert _events(new) == ["drift_found", "cycle_failed"]
    new, opened = events.plan_cycle(opened, failed, T0 + 600)
    assert _events(new) == []
    fixed = _report(ledger.REDEPLOYED, "deployed", decision=DRIFT, judged_version=2,
                    deployed=[{"version": 3, "f1": 0.6}])
    new, opened = events.plan_cycle(opened, fixed, T0 + 1200)
    assert _events(new) == ["deployed", "recovered"] and opened == {}
    # The next batch that drifts is news again.
    assert _events(events.plan_cycle(opened, fixed, T0 + 1800)[0]) == ["drift_found",
                                                                       "deployed"]


def test_a_finding_of_the_estimate_is_sent_once_while_it_holds():
    below = {"kind": "estimate_below", "message": "the estimated F1 is wholly below", "f1": 0.4,
             "f1_low": 0.35, "f1_high": 0.45, "name": "current book"}
    finding = _report(estimated=True, findings=[below])
    new, opened = events.plan_cycle({}, finding, T0)
    assert _events(new) == ["estimate_finding"]
    assert new[0]["text"] == "In proj/config.json, the estimated F1 is wholly below."
    assert new[0]["details"] == {"kind": "estimate_below", "f1": 0.4, "f1_low": 0.35,
                                 "f1_high": 0.45, "name": "current book"}
    new, opened = events.plan_cycle(opened, finding, T0 + 600)  # raised again: still open
    assert _events(new) == []
    new, opened = events.plan_cycle(opened, _report(), T0 + 1200)  # nothing estimated
    assert _events(new) == [] and "estimate:estimate_below" in opened
    new, opened = events.plan_cycle(opened, _report(estimated=True), T0 + 1800)  # it holds
    assert _events(new) == [] and "estimate:estimate_below" not in opened
    assert _events(events.plan_cycle(opened, finding, T0 + 2400)[0]) == ["estimate_finding"]
    # Found with drift by the same cycle: the drift alert says it.
    drift = Decision(run_id=1, time="t", test="loss", used="loss", drift=True, outcome="drift")
    with_drift = _report(estimated=True, findings=[below], decision=drift, judged_version=2)
    new, opened = events.plan_cycle({}, with_drift, T0)
    assert _events(new) == ["drift_found"] and "estimate:estimate_below" in opened


def test_a_finding_about_a_replaced_version_opens_nothing_and_closes_with_it():
    """The cycle that re-deploys after drift first checks the version it replaces: its
    findings are about that version, not the one deployed when the cycle ends."""
    def ending_with(version, outcome=ledger.NOTHING_NEW, summary="nothing new in in", **kw):
        return events.CycleReport("proj/config.json", outcome, summary, version, **kw)

    broken = {"kind": "estimate_broken", "message": "the estimates of version 2 no longer hold",
              "model_version": 2}
    drift = Decision(run_id=1, time="t", test="loss", used="loss", drift=True, outcome="drift")
    redeployed = ending_with(3, ledger.REDEPLOYED, "loss drift: deployed version 3",
                             decision=drift, judged_version=2, estimated=True, findings=[broken],
                             deployed=[{"version": 3, "f1": 0.66}])
    new, opened = events.plan_cycle({}, redeployed, T0)
    assert _events(new) == ["drift_found", "deployed"] and opened == {}
    # Open from a cycle that kept version 2, it stays while version 2 does, and closes when
    # version 3 is deployed, even by a cycle that estimated nothing.
    new, opened = events.plan_cycle({}, ending_with(2, estimated=True, findings=[broken]), T0)
    assert _events(new) == ["estimate_finding"] and "estimate:estimate_broken" in opened
    new, opened = events.plan_cycle(opened, ending_with(2), T0 + 600)
    assert _events(new) == [] and "estimate:estimate_broken" in opened
    new, opened = events.plan_cycle(opened, ending_with(
        3, ledger.REDEPLOYED, "deployed version 3", deployed=[{"version": 3, "f1": 0.66}]),
        T0 + 1200)
    assert _events(new) == ["deployed"] and opened == {}


def test_stale_is_sent_once_and_never_on_top_of_a_failure():
    stale = events.stale_alert("proj/config.json", 2, T0, T0 + 7200, 1800)
    assert "is cron still running" in stale["text"]
    new, opened = events.plan_stale({}, stale, T0 + 7200)
    assert _events(new) == ["stale"]
    assert events.plan_stale(opened, stale, T0 + 7300)[0] == []  # another worker, later
    assert events.plan_stale({events.FAILING: {"since": T0}}, stale, T0)[0] == []
    # The cycle that notices it after a pause sends it, then its own success clears it.
    new, opened = events.plan_cycle({}, _report(), T0 + 7200, stale)
    assert _events(new) == ["stale", "recovered"] and opened == {}


# The alert state ----------------------------------------------------------------------------

def test_an_open_finding_leaves_quiet_cycles_on_the_quick_path_and_a_failure_does_not(
        tmp_path):
    """A quiet cycle can close a failure (with recovered) but not a finding of the estimate,
    which only a cycle with new data can raise again or close: while one is open, cron's quiet
    cycles still settle on the quick path (make bench found them going the full way)."""
    config = tmp_path / "config.json"
    below = {"kind": "estimate_below", "message": "the estimated F1 is wholly below",
             "model_version": 2}
    dest = Destinations()
    found = _report(estimated=True, findings=[below])
    assert _events(alerts.raise_alerts(config, dest, lambda o: events.plan_cycle(o, found, T0),
                                       T0)) == ["estimate_finding"]
    state = alerts.read_state(config)
    assert "estimate:estimate_below" in state["open"] and state["settled"] is True
    failing = _report(ledger.FAILED, "boom")
    alerts.raise_alerts(config, dest, lambda o: events.plan_cycle(o, failing, T0 + 1), T0 + 1)
    assert alerts.read_state(config)["settled"] is False


def test_an_undelivered_alert_stays_pending_and_is_sent_once_delivered(tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    sent, broken = [], {"on": True}

    def fake_send(channel, dest, alert, timeout=None):
        if broken["on"]:
            raise DeliveryError("connection refused")
        sent.append((channel, alert["event"]))

    monkeypatch.setattr(alerts, "send", fake_send)
    dest = Destinations(webhook_url="http://127.0.0.1:9/hook")
    failing = _report(ledger.FAILED, "boom")
    new = alerts.raise_alerts(config, dest, lambda o: events.plan_cycle(o, failing, T0), T0)
    assert _events(new) == ["cycle_failed"]
    state = alerts.read_state(config)
    assert len(state["pending"]) == 1 and state["settled"] is False
    assert state["pending"][0]["delivery"] == {"webhook": "failed: connection refused"}
    # The next failing cycle raises nothing new and retries the pending one (still down).
    assert alerts.raise_alerts(config, dest, lambda o: events.plan_cycle(o, failing, T0 + 1),
                               T0 + 1) == []
    broken["on"] = False
    new = alerts.raise_alerts(config, None, lambda o: events.plan_cycle(o, _report(), T0 + 2),
                              T0 + 2)  # config unreadable: the destinations kept are used
    assert _events(new) == ["recovered"]
    assert sent == [("webhook", "cycle_failed"), ("webhook", "recovered")]
    state = alerts.read_state(config)
    assert state["pending"] == [] and state["settled"] is True
    assert [a["tries"] for a in state["recent"]] == [3, 1]
    assert state["raised"] == {"cycle_failed": 1, "recovered": 1}


def test_the_pages_see_destinations_without_their_secrets(monkeypatch):
    dest = Destinations(webhook_url="https://hooks.example.org/services/T0/B0/s3cretpath",
                        email_to=("ops@example.org",), email_from="risk@example.org",
                        smtp_host="mail.example.org", smtp_port=587, smtp_user="risk",
                        smtp_password_env="RISK_SMTP_PASSWORD")
    monkeypatch.setenv("RISK_SMTP_PASSWORD", "hunter2")
    shown = json.dumps(dest.public())
    assert "s3cretpath" not in shown and "hunter2" not in shown
    assert dest.public()["webhook"] == "https://hooks.example.org/…"
    assert dest.public()["password_set"] is True
    assert "hunter2" not in json.dumps(dest.as_record())
    assert dest.channels() == ("webhook", "email")
    assert Destinations.from_record(dest.as_record()) == dest
