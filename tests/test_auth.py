"""Guessing the token is slow, and a session cookie tells nothing about it (issue 18, points 4
and 5): wrong tokens limited per address across workers, cookies signed with a server secret
and recorded in the shared store, so that signing out or changing the token ends them at once.
In-process here, on a project with no data (the routes used need none); tests/test_auth_server.py
does the same across two real gunicorn workers.
Short tokens: tests/test_app.py and tests/test_apicalls.py.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import sqlite3
import stat
import subprocess
import sys

import pytest

from app import create_app
from pipeline.api.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    Credentials,
    api_call_allowed,
    client_address,
)
from pipeline.api.authstore import AuthStore, load_secret
from pipeline.api.limiter import REFRESH_SECONDS, wait_seconds
from pipeline.api.state import api_state
from pipeline.core.config import ConfigError, load_settings
from tests.helpers import CONFIG, PROJECT, write_config

TOKEN = "the-right-token-of-the-api"
RIGHT = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer a-wrong-guess-at-the-token"}
GUESSER, OTHER = "192.0.2.1", "192.0.2.2"  # documentation addresses: never on a network


class Clock:
    """A clock the test moves by hand; the store's times and the limit's window follow it."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A project with a token in a file (none from the environment) and nothing else."""
    monkeypatch.delenv("RISK_API_TOKEN", raising=False)
    (tmp_path / "token.txt").write_text(TOKEN + "\n")
    return write_config(tmp_path, **CONFIG, api_token_file="token.txt")


@pytest.fixture
def clock():
    return Clock()


def app_with_clock(config, clock, **overrides):
    """An application of config whose credentials read the clock given."""
    app = create_app(config, **overrides)
    state = api_state(app)
    state.auth = Credentials.of(load_settings(config, **overrides), TOKEN, clock=clock)
    return app


def call(client, address: str, headers: dict | None = None, path: str = "/openapi.json"):
    return client.get(path, headers=headers or {}, environ_base={"REMOTE_ADDR": address})


def sign_in(client, address: str, token: str):
    return client.post("/signin", data={"token": token, "next": "/"},
                       environ_base={"REMOTE_ADDR": address})


# The rule, as a table -------------------------------------------------------------------------

@pytest.mark.parametrize("times, now, wait", [
    ([], 1000, 0),
    ([999] * 9, 1000, 0),  # 9 of 10 allowed
    ([999] * 10, 1000, 599),  # the 10th failure: wait until it is 600 s old
    ([500, *[999] * 9], 1000, 100),  # until the oldest of the 10 is 600 s old
    ([400, 500, *[999] * 9], 1000, 100),  # the 10th latest decides, not the oldest
    ([300, *[999] * 9], 1000, 0),  # 300 is older than the window: 9 count
    ([999] * 10, 1599, 0),  # the window has passed
    ([999] * 25, 1000, 599),
])
def test_wait_seconds_on_a_table_of_cases(times, now, wait):
    assert wait_seconds(times, now, limit=10, window=600) == pytest.approx(wait)


@pytest.mark.parametrize("remote, forwarded, trust, address", [
    ("127.0.0.1", None, False, "127.0.0.1"),
    ("127.0.0.1", "192.0.2.9", False, "127.0.0.1"),  # not trusted: the proxy's address
    ("127.0.0.1", "192.0.2.9", True, "192.0.2.9"),
    ("127.0.0.1", "10.9.9.9, 192.0.2.9", True, "192.0.2.9"),  # the first one is the client's
    ("127.0.0.1", " , ", True, "127.0.0.1"),
    (None, None, False, "unknown"),
])
def test_the_address_counted_is_the_peer_or_the_proxys_last_entry(remote, forwarded, trust,
                                                                   address):
    assert client_address(remote, forwarded, trust) == address


# The limit ------------------------------------------------------------------------------------

def test_the_eleventh_wrong_token_is_429_until_the_window_passes(config, clock):
    client = app_with_clock(config, clock).test_client()
    for _ in range(10):
        assert call(client, GUESSER, WRONG).status_code == 401
    refused = call(client, GUESSER, WRONG)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "600"
    assert refused.is_json and "too many wrong tokens" in refused.get_json()["error"]
    # From that address even the right token is refused: the answer tells no guess apart.
    assert call(client, GUESSER, RIGHT).status_code == 429
    assert sign_in(client, GUESSER, TOKEN).status_code == 429
    # Another address is not affected, with the right token or a wrong one.
    assert call(client, OTHER, RIGHT).status_code == 200
    assert call(client, OTHER, WRONG).status_code == 401
    assert call(client, GUESSER, path="/health").status_code != 429  # health stays open
    clock.now += 599
    late = call(client, GUESSER, RIGHT)
    assert late.status_code == 429 and late.headers["Retry-After"] == "1"
    clock.now += 1
    assert call(client, GUESSER, RIGHT).status_code == 200
    assert call(client, GUESSER, WRONG).status_code == 401  # counting again, from zero


def test_wrong_tokens_typed_into_the_form_count_with_wrong_bearer_tokens(config, clock):
    client = app_with_clock(config, clock).test_client()
    for _ in range(5):
        assert call(client, GUESSER, WRONG).status_code == 401
        wrong = sign_in(client, GUESSER, "a-wrong-guess")
        assert wrong.status_code == 401 and b"That is not the token." in wrong.data
    refused = sign_in(client, GUESSER, "another-guess")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "600"
    assert b"Too many wrong tokens from this address: try again in 10 min." in refused.data
    assert "Set-Cookie" not in refused.headers
    assert sign_in(client, OTHER, TOKEN).status_code == 303


def test_a_request_without_any_token_is_not_a_guess(config, clock):
    client = app_with_clock(config, clock).test_client()
    for _ in range(30):
        assert call(client, GUESSER).status_code == 401
        assert sign_in(client, GUESSER, "").status_code == 401  # "Type the token."
    assert call(client, GUESSER, RIGHT).status_code == 200


def test_a_wrong_bearer_token_on_the_sign_in_form_is_counted_too(config, clock):
    client = app_with_clock(config, clock).test_client()
    for _ in range(10):
        response = client.post("/signin", data={"token": ""}, headers=WRONG,
                               environ_base={"REMOTE_ADDR": GUESSER})
        assert response.status_code == 401
    assert sign_in(client, GUESSER, TOKEN).status_code == 429


def test_a_session_opened_before_keeps_working_from_a_waiting_address(config, clock):
    """A session is not a guess: a signed-in browser behind the same proxy as a guesser keeps
    reading, while the guesser's tokens, right or wrong, get 429."""
    client = app_with_clock(config, clock).test_client()
    assert sign_in(client, GUESSER, TOKEN).status_code == 303
    session = client.get_cookie(SESSION_COOKIE).value
    client.delete_cookie(SESSION_COOKIE)
    for _ in range(11):
        call(client, GUESSER, WRONG)
    client.set_cookie(SESSION_COOKIE, session)
    assert call(client, GUESSER).status_code == 200  # the session
    client.delete_cookie(SESSION_COOKIE)
    assert call(client, GUESSER).status_code == 429
    assert call(client, GUESSER, RIGHT).status_code == 429


def test_two_apps_on_one_store_share_the_count(config, clock):
    """Two workers: each counts what the other recorded, the guess that passes the limit is
    refused by whichever answers it, and the other learns of a wait within REFRESH_SECONDS."""
    first = app_with_clock(config, clock).test_client()
    second = app_with_clock(config, clock).test_client()
    for index in range(10):
        assert call((first, second)[index % 2], GUESSER, WRONG).status_code == 401
    assert call(second, GUESSER, WRONG).status_code == 429
    clock.now += REFRESH_SECONDS
    assert call(first, GUESSER, RIGHT).status_code == 429  # first never saw the 429
    assert call(first, OTHER, RIGHT).status_code == 200


def test_a_right_token_writes_nothing_and_reads_the_store_at_most_once_a_second(config, clock):
    app = app_with_clock(config, clock)
    client = app.test_client()
    store = api_state(app).auth.store
    statements: list[str] = []
    db = store._db()  # the test client runs in this thread: the connection requests use
    db.set_trace_callback(statements.append)
    for _ in range(100):
        assert call(client, OTHER, RIGHT).status_code == 200
    assert len(statements) <= 1 and all(s.startswith("SELECT") for s in statements)
    assert db.total_changes == 0
    call(client, GUESSER, WRONG)
    assert db.total_changes == 1  # a failure is the one thing recorded
    db.set_trace_callback(None)


def test_the_limit_and_its_window_are_configured(config, clock):
    client = app_with_clock(config, clock, auth_failure_limit=2,
                            auth_failure_window=60).test_client()
    assert [call(client, GUESSER, WRONG).status_code for _ in range(3)] == [401, 401, 429]
    assert call(client, GUESSER, WRONG).headers["Retry-After"] == "60"


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_count(config, clock):
    client = app_with_clock(config, clock, trust_x_forwarded_for=True).test_client()

    def through_proxy(client_address: str, headers: dict):
        return call(client, "127.0.0.1", {**headers, "X-Forwarded-For": client_address})

    for _ in range(10):
        through_proxy(GUESSER, WRONG)
    assert through_proxy(GUESSER, RIGHT).status_code == 429
    assert through_proxy(OTHER, RIGHT).status_code == 200
    assert call(client, "127.0.0.1", RIGHT).status_code == 200  # the proxy itself, or cron
    untrusted = app_with_clock(config, clock).test_client()  # the default: the peer counts
    assert untrusted.get("/openapi.json", headers={**RIGHT, "X-Forwarded-For": GUESSER},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


# Sessions -------------------------------------------------------------------------------------

def _old_signature(token: str, expires: str) -> str:
    """The cookie's signature before issue 18: HMAC-SHA256 keyed by the token itself."""
    return hmac.new(token.encode(), b"risk-dashboard-session-v1|" + expires.encode(),
                    hashlib.sha256).hexdigest()


def test_a_cookie_cannot_be_checked_with_the_token_alone(config, clock, tmp_path):
    client = app_with_clock(config, clock).test_client()
    response = sign_in(client, OTHER, TOKEN)
    value = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert TOKEN not in value
    first, _, signature = value.partition(".")
    assert signature != _old_signature(TOKEN, first)  # the construction of before is gone
    for purpose in (b"", b"risk-dashboard-session-v2|"):  # nor is anything else keyed by it
        assert signature != hmac.new(TOKEN.encode(), purpose + first.encode(),
                                     hashlib.sha256).hexdigest()
    assert call(client, OTHER).status_code == 200  # the control: the cookie works here
    # A server with the same token but another secret cannot tell the cookie from a forgery.
    other_root = tmp_path / "elsewhere"
    other_root.mkdir()
    (other_root / "token.txt").write_text(TOKEN + "\n")
    elsewhere = create_app(write_config(other_root, **CONFIG, api_token_file="token.txt"))
    assert not api_state(elsewhere).auth.session_ok(value)
    assert api_state(client.application).auth.session_ok(value)


def test_signing_out_ends_the_session_at_once_for_another_worker(config, clock):
    first = app_with_clock(config, clock).test_client()
    second = app_with_clock(config, clock).test_client()
    assert sign_in(first, OTHER, TOKEN).status_code == 303
    value = first.get_cookie(SESSION_COOKIE).value
    second.set_cookie(SESSION_COOKIE, value)
    assert call(second, OTHER).status_code == 200
    assert first.post("/signout", environ_base={"REMOTE_ADDR": OTHER}).status_code == 303
    assert call(second, OTHER).status_code == 401  # no cache: the very next request
    first.set_cookie(SESSION_COOKIE, value)  # the browser kept a copy: it opens nothing
    assert call(first, OTHER).status_code == 401


def test_changing_the_token_ends_every_session(config, clock, tmp_path):
    before = app_with_clock(config, clock).test_client()
    assert sign_in(before, OTHER, TOKEN).status_code == 303
    value = before.get_cookie(SESSION_COOKIE).value
    (tmp_path / "token.txt").write_text("a-new-token-after-a-leak\n")
    after = create_app(config).test_client()  # a restart with the new token
    after.set_cookie(SESSION_COOKIE, value)
    assert call(after, OTHER).status_code == 401
    assert after.get("/", environ_base={"REMOTE_ADDR": OTHER}).status_code == 401


def test_a_session_ends_after_twelve_hours(config, clock):
    client = app_with_clock(config, clock).test_client()
    sign_in(client, OTHER, TOKEN)
    clock.now += SESSION_SECONDS - 1
    assert call(client, OTHER).status_code == 200
    clock.now += 1
    assert call(client, OTHER).status_code == 401


def test_the_rule_is_the_same_for_the_kept_answers_and_flask(config, clock):
    auth = api_state(app_with_clock(config, clock)).auth
    cookie = auth.new_session()
    assert api_call_allowed(auth, "GET", "/scoring", None, cookie, GUESSER)
    assert not api_call_allowed(auth, "POST", "/scoring", None, cookie, GUESSER)
    assert api_call_allowed(auth, "POST", "/prediction", RIGHT["Authorization"], None, GUESSER)
    for _ in range(10):
        auth.refused(GUESSER, WRONG["Authorization"])
    assert not api_call_allowed(auth, "POST", "/prediction", RIGHT["Authorization"], None,
                                GUESSER)
    assert api_call_allowed(auth, "GET", "/health", None, None, GUESSER)
    assert api_call_allowed(None, "POST", "/prediction", None, None, GUESSER)  # no token


# The secret -----------------------------------------------------------------------------------

def test_the_secret_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "session.key"
    code = ("import sys; from pathlib import Path; from pipeline.api.authstore import "
            "load_secret; print(load_secret(Path(sys.argv[1])).hex())")
    starts = [subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=PROJECT,
                               stdout=subprocess.PIPE, text=True) for _ in range(6)]
    secrets = {proc.communicate(timeout=60)[0].strip() for proc in starts}
    assert len(secrets) == 1 and len(secrets.pop()) == 64  # six workers, one secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["session.key"]  # no temporary file left
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by others"):
        load_secret(path)
    path.chmod(0o600)
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="not 32 random bytes"):
        load_secret(path)


def test_the_store_and_the_secret_lie_beside_the_config_and_only_with_a_token(config,
                                                                              monkeypatch):
    root = config.parent
    (root / "token.txt").unlink()
    plain = write_config(root, "plain.json", **CONFIG)
    create_app(plain)
    assert not (root / "auth.sqlite").exists() and not (root / "session.key").exists()
    (root / "token.txt").write_text(TOKEN + "\n")
    create_app(config)
    assert stat.S_IMODE((root / "auth.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "session.key").stat().st_mode) == 0o600
    assert len(load_secret(root / "session.key")) == 32


def test_the_cost_of_each_credential_check_is_measured(tmp_path):
    """bench.auth_cost runs (with small batches): the figures the README gives come from it."""
    from bench.auth_cost import measure

    figures = measure(tmp_path, batch=20)
    assert set(figures) == {"no token configured", "bearer token", "session cookie",
                            "forged cookie", "session cookie, 10,000 sessions open"}
    assert all(value > 0 for value in figures.values())


def test_the_store_closes_its_connections_with_it(tmp_path):
    store = AuthStore(tmp_path / "auth.sqlite")
    db = store._db()
    del store
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        db.execute("SELECT 1")
