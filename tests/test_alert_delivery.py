"""Alerts delivered to real receivers on loopback: a webhook (http.server) and an SMTP server
(aiosmtpd, with STARTTLS and login); a receiver that hangs or refuses costs a few seconds."""

from __future__ import annotations

import ssl
import subprocess
import time
from email import message_from_string
from email.policy import default

import pytest

from pipeline.watch import alerts, events, ledger
from pipeline.watch.deliver import TIMEOUT, DeliveryError, Destinations, post_webhook, send_email
from tests.receivers import closed_port, smtp_server, wait_for, webhook

ALERT = {"event": "cycle_failed", "text": "A cycle of proj/config.json failed: no usable data.",
         "model_version": 2, "time": "2027-01-15T08:00:00Z", "details": {"error": "no data"}}


def test_a_webhook_gets_the_alert_as_json_with_its_one_sentence():
    with webhook() as receiver:
        post_webhook(receiver.url, ALERT)
        (got,) = wait_for(receiver.received, 1)
    assert got["type"] == "application/json"
    assert got["body"] == ALERT
    assert set(got["body"]) == {"event", "text", "model_version", "time", "details"}


@pytest.mark.parametrize("mode", ["fail", "hang", "refuse"])
def test_a_receiver_that_fails_hangs_or_refuses_is_an_error_within_the_timeout(mode):
    with webhook() as receiver:
        receiver.mode = mode
        url = receiver.url if mode != "refuse" else f"http://127.0.0.1:{closed_port()}/hook"
        started = time.monotonic()
        with pytest.raises(DeliveryError, match={"fail": "500", "hang": "timed out|no answer",
                                                 "refuse": "refused"}[mode]):
            post_webhook(url, ALERT)
        assert time.monotonic() - started < TIMEOUT + 1


def test_an_email_goes_through_smtp_with_the_sentence_as_its_subject():
    with smtp_server() as (mailbox, port):
        dest = Destinations(email_to=("ops@example.org", "oncall@example.org"),
                            email_from="risk@example.org", smtp_host="127.0.0.1",
                            smtp_port=port)
        send_email(dest, ALERT)
        (got,) = wait_for(mailbox.messages, 1)
    assert got["from"] == "risk@example.org"
    assert got["to"] == ["ops@example.org", "oncall@example.org"]
    message = message_from_string(got["text"], policy=default)
    assert message["Subject"].strip() == f"[risk] cycle_failed: {ALERT['text']}"
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith(ALERT["text"] + "\n")
    assert "model version: 2" in body and "error: no data" in body


@pytest.fixture
def tls_context(tmp_path, monkeypatch):
    """A server TLS context with a self-signed certificate for 127.0.0.1, trusted by this
    process's default context (SSL_CERT_FILE), as a real server's would be."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                           "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           "-keyout", str(key), "-out", str(cert)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate here: {made.stderr[-200:]!r}")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_starttls_and_login_with_the_password_from_the_environment(tls_context, monkeypatch):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins = []

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == \
            (b"risk", b"hunter2")
        logins.append(ok)
        return AuthResult(success=ok)

    dest = Destinations(email_to=("ops@example.org",), email_from="risk@example.org",
                        smtp_host="127.0.0.1", smtp_starttls=True, smtp_user="risk",
                        smtp_password_env="RISK_TEST_SMTP_PASSWORD")
    with smtp_server(tls_context=tls_context, require_starttls=True, auth_require_tls=True,
                     authenticator=authenticator) as (mailbox, port):
        dest = Destinations(**{**dest.as_record(), "email_to": dest.email_to,
                               "smtp_port": port})
        with pytest.raises(DeliveryError, match="RISK_TEST_SMTP_PASSWORD is not set"):
            send_email(dest, ALERT)  # no password: nothing is sent, no login tried
        monkeypatch.setenv("RISK_TEST_SMTP_PASSWORD", "wrong")
        with pytest.raises(DeliveryError, match="SMTP"):
            send_email(dest, ALERT)
        monkeypatch.setenv("RISK_TEST_SMTP_PASSWORD", "hunter2")
        send_email(dest, ALERT)
        wait_for(mailbox.messages, 1)
        plain = Destinations(**{**dest.as_record(), "email_to": dest.email_to,
                                "smtp_starttls": False})
        with pytest.raises(DeliveryError, match="SMTP"):
            send_email(plain, ALERT)  # the server refuses to log in without TLS
    assert logins == [False, True]
    assert len(mailbox.messages) == 1 and "hunter2" not in mailbox.messages[0]["text"]


def test_a_hanging_webhook_costs_one_timeout_a_round_and_the_email_still_goes(tmp_path):
    config = tmp_path / "config.json"
    failing = events.CycleReport("proj/config.json", ledger.FAILED, "boom", 2)
    with webhook() as receiver, smtp_server() as (mailbox, port):
        receiver.mode = "hang"
        dest = Destinations(webhook_url=receiver.url, email_to=("ops@example.org",),
                            email_from="risk@example.org", smtp_host="127.0.0.1",
                            smtp_port=port)
        refusing = Destinations(webhook_url=f"http://127.0.0.1:{closed_port()}/hook")
        for i in range(3):  # three alerts left pending by a receiver that refused them
            alerts.raise_alerts(config, refusing, lambda o, i=i: (
                [events._alert("deployed", f"Version {i} is deployed.", i, 0.0, {})], o))
        assert len(alerts.read_state(config)["pending"]) == 3
        started = time.monotonic()
        new = alerts.raise_alerts(config, dest, lambda o: events.plan_cycle(o, failing, 1.0))
        took = time.monotonic() - started
        assert [a["event"] for a in new] == ["cycle_failed"]
        assert took < TIMEOUT + 2, took  # one timeout for the webhook, not four
        assert len(wait_for(mailbox.messages, 4)) == 4  # the four by e-mail meanwhile
    pending = alerts.read_state(config)["pending"]
    assert [a["event"] for a in pending] == ["deployed"] * 3 + ["cycle_failed"]
    assert all(a["delivery"]["email"] == "sent" for a in pending)  # e-mail went on working
    assert all("timed out" in a["delivery"]["webhook"] for a in pending)
