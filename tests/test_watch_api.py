"""/health notices a dead cron or failing cycles (and raises the stale alert once, across
workers); /metrics serves the Prometheus text format behind the API's token rule."""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from cycle.local_server import running_server
from pipeline.watch import alerts, files, ledger
from tests.helpers import write_config
from tests.receivers import wait_for, webhook


def _record(config, **values) -> None:
    """A cycle record beside a config, as its cycles would have left it."""
    path = ledger.paths(config)[0]
    files.write(path, {"first": time.time() - 7 * 86400, "runs": {"nothing_new": 40, "failed": 2},
                        "failed_in_a_row": 0, "limits": {"max_age_seconds": 1800,
                                                         "failed_runs": 3}, **values})


def _watched(settings, **keys):
    """A second config of the same project with the given keys (webhook, limits)."""
    raw = json.loads(settings.config_path.read_text())
    return write_config(settings.config_path.parent, "config.watch.json", **{**raw, **keys})


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(families: dict, name: str, **labels) -> float:
    family = families[name]
    (sample,) = [s for s in family.samples if s.name == name or s.name == name + "_total"
                 if all(s.labels.get(k) == v for k, v in labels.items())]
    return sample.value


def test_health_before_any_cycle_judges_only_the_model(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.get_json()["cycle"] == {
        "ok": True, "recorded": False, "reasons": [], "last_success": None,
        "last_success_outcome": None, "last_failure": None, "last_error": None,
        "failed_in_a_row": 0}


def test_health_is_503_when_the_last_success_is_older_than_allowed(redeployed):
    record = {"last_success": {"time": time.time() - 31 * 60, "outcome": "nothing_new"},
              "last_failure": {"time": time.time() - 86400, "error": "no usable data"}}
    _record(redeployed.config_path, **record)
    answer = create_app(redeployed.config_path).test_client().get("/health")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "unavailable" and body["model_version"] == 2  # the model is fine
    assert "cycle: the last successful cycle was at" in body["error"]
    assert "31 minutes ago (more than the 30 minutes allowed)" in body["error"]
    assert body["cycle"]["last_success"] and body["cycle"]["last_error"] == "no usable data"
    # An hour allowed: healthy again.
    relaxed = _watched(redeployed, health_max_age_minutes=60)
    _record(relaxed, **record)
    assert create_app(relaxed).test_client().get("/health").status_code == 200


def test_health_is_503_after_three_failures_in_a_row_naming_the_last(redeployed):
    _record(redeployed.config_path, last_success={"time": time.time() - 1500}, failed_in_a_row=3,
            last_failure={"time": time.time() - 60, "error": "config file not found: /x.json"})
    answer = create_app(redeployed.config_path).test_client().get("/health")
    assert answer.status_code == 503
    assert "the last 3 cycles failed; the last with: config file not found" in \
        answer.get_json()["error"]
    _record(redeployed.config_path, last_success={"time": time.time() - 1500}, failed_in_a_row=2,
            last_failure={"time": time.time() - 60, "error": "boom"})
    assert create_app(redeployed.config_path).test_client().get("/health").status_code == 200


def test_a_dead_cron_is_alerted_once_by_the_first_worker_that_notices(redeployed):
    with webhook() as receiver:
        config = _watched(redeployed, alert_webhook_url=receiver.url)
        _record(config, last_success={"time": time.time() - 3 * 3600}, model_version=2)
        workers = [create_app(config).test_client() for _ in range(2)]
        for _ in range(3):
            for worker in workers:
                assert worker.get("/health").status_code == 503
        assert wait_for(receiver.received, 1)[0]["body"]["event"] == "stale"
        time.sleep(0.5)  # anything more would have come by now
        for worker in workers:
            assert worker.get("/health").status_code == 503
        time.sleep(0.5)
    (alert,) = receiver.received
    assert "since" in alert["body"]["text"] and "is cron still running?" in alert["body"]["text"]
    assert alert["body"]["model_version"] == 2
    state = alerts.read_state(config)
    assert "stale" in state["open"] and state["raised"] == {"stale": 1}


def test_metrics_need_the_token_as_the_api_does(redeployed, monkeypatch):
    monkeypatch.setenv("RISK_API_TOKEN", "s3cret-token-for-metrics")
    client = create_app(redeployed.config_path).test_client()
    assert client.get("/metrics").status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-metrics"})
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    assert "risk_model_deployed_version 2.0" in answer.get_data(as_text=True)


def test_metrics_report_the_model_the_cycle_and_every_request_by_route(redeployed):
    _record(redeployed.config_path, last_success={"time": time.time() - 60},
            last_run={"finished": time.time() - 60},
            last_failure={"time": time.time() - 3600, "error": "boom"})
    app = create_app(redeployed.config_path)
    client = app.test_client()
    for path in ("/scoring", "/scoring", "/scoring", "/clients/acme", "/clients/bolt",
                 "/nowhere"):
        client.get(path)
    found = _families(client.get("/metrics").get_data(as_text=True))
    manifest = json.loads((redeployed.deployment_folder / "current" / "manifest.json")
                          .read_text())
    assert _value(found, "risk_model_deployed_version") == 2
    assert _value(found, "risk_model_test_f1") == pytest.approx(manifest["scores"]["f1"])
    assert _value(found, "risk_model_test_roc_auc") == pytest.approx(
        manifest["scores"]["roc_auc"])
    assert _value(found, "risk_cycle_runs", outcome="nothing_new") == 40
    assert _value(found, "risk_cycle_runs", outcome="failed") == 2
    assert _value(found, "risk_cycle_runs", outcome="redeployed") == 0
    assert _value(found, "risk_cycle_last_success_timestamp_seconds") == pytest.approx(
        time.time() - 60)
    assert _value(found, "risk_cycle_last_failure_timestamp_seconds") == pytest.approx(
        time.time() - 3600)
    assert _value(found, "risk_health_ok") == 1
    # The two labelled files and the unlabelled extract of the current book.
    assert _value(found, "risk_ingest_last_rows_read") == 10_500 + 5_619
    assert _value(found, "risk_ingest_last_rows_rejected") == 0
    # Every request counted by the route it matched, those answered in front of Flask too
    # (the second and third /scoring), and never by a client's name.
    assert _value(found, "risk_http_requests", route="/scoring", code="200") == 3
    assert _value(found, "risk_http_requests", route="/clients/<path:name>", code="404") == 2
    assert _value(found, "risk_http_requests", route="(unmatched)", code="404") == 1
    durations = [s for s in found["risk_http_request_duration_seconds"].samples
                 if s.name.endswith("_count") and s.labels["route"] == "/scoring"]
    assert [s.value for s in durations] == [3]
    assert not any("acme" in str(s.labels) for f in found.values() for s in f.samples)


def test_metrics_follow_the_history_as_cycles_record_it(story_settings):
    client = create_app(story_settings.config_path).test_client()
    found = _families(client.get("/metrics").get_data(as_text=True))
    # The production cycle of the story found drift with the loss test and deployed version 2.
    assert _value(found, "risk_drift_last_detected", test="loss") == 1
    assert _value(found, "risk_drift_last_p_value", test="loss") < 1e-10
    assert _value(found, "risk_drift_last_effect", test="loss") > 0.5
    assert _value(found, "risk_drift_last_rows", test="loss") == 10_000
    assert "risk_drift_last_statistic" in found


@pytest.fixture
def story_settings(tmp_path, datasets):
    from tests.helpers import build_story

    return build_story(tmp_path / "story", datasets)


@pytest.mark.slow
def test_two_gunicorn_workers_add_up_their_counts(redeployed):
    import urllib.request

    with running_server(redeployed.config_path, workers=2) as url:
        for _ in range(30):
            urllib.request.urlopen(url + "/summarystats", timeout=30).read()
        texts = [urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
                 for _ in range(6)]
    counts = {_value(_families(t), "risk_http_requests", route="/summarystats", code="200")
              for t in texts}
    assert counts == {30}  # whichever worker answers the scrape, the sum of both


def test_the_state_page_shows_where_alerts_go_without_secrets_and_the_last_ones(
        redeployed, monkeypatch):
    monkeypatch.setenv("RISK_TEST_SMTP_PASSWORD", "hunter2-secret")
    config = _watched(redeployed, alert_webhook_url="https://hooks.example.org/T0/B0/s3cretpath",
                      alert_email_to=["ops@example.org"], alert_email_from="risk@example.org",
                      smtp_host="mail.example.org", smtp_port=587, smtp_starttls=True,
                      smtp_user="risk", smtp_password_env="RISK_TEST_SMTP_PASSWORD")
    _record(config, last_success={"time": time.time() - 60}, runs={"nothing_new": 7, "failed": 1})
    hostile = "A cycle failed: <script>alert(1)</script>."
    files.write(ledger.paths(config)[1], {"recent": [
        {"event": "cycle_failed", "text": hostile, "time": "2027-01-15T08:00:00Z",
         "delivery": {"webhook": "sent", "email": "failed: SMTP: 535 bad login"}},
        {"event": "recovered", "text": "Cycles succeed again.", "time": "2027-01-15T09:00:00Z",
         "delivery": {"webhook": "sent", "email": "sent"}}], "pending": [{"event": "x"}]})
    html = create_app(config).test_client().get("/").get_data(as_text=True)
    section = html[html.index('id="watching"'):html.index('id="history"')]
    assert "The cycle is healthy" in section and "7 nothing new, 1 failed" in section
    assert "https://hooks.example.org/…" in section and "ops@example.org" in section
    assert "mail.example.org:587 (STARTTLS)" in section
    assert "$RISK_TEST_SMTP_PASSWORD (set)" in section
    assert "s3cretpath" not in html and "hunter2" not in html
    assert "&lt;script&gt;" in section and "<script>alert" not in html
    assert section.index("recovered") < section.index("cycle failed")  # newest first
    assert "email: failed: SMTP: 535 bad login" in section
    assert "1 not yet delivered" in section


def test_the_cycles_own_calls_of_a_stale_api_leave_the_stale_alert_to_the_cycle(redeployed):
    from cycle.in_process import call_in_process
    from pipeline.core.config import load_settings
    from reporting import build_risk_list

    build_risk_list(redeployed)
    with webhook() as receiver:
        config = _watched(redeployed, alert_webhook_url=receiver.url)
        _record(config, last_success={"time": time.time() - 3 * 3600}, model_version=2)
        answers = call_in_process(load_settings(config), create_app)
        assert "cycle: the last successful cycle was at" in answers["/health"]["error"]
        time.sleep(1.0)  # an alert raised would have come by now (the test above: at once)
        assert receiver.received == []
        assert "stale" not in (alerts.read_state(config).get("open") or {})
        # A served API's worker raises it, on the same record.
        assert create_app(config).test_client().get("/health").status_code == 503
        assert wait_for(receiver.received, 1)[0]["body"]["event"] == "stale"
