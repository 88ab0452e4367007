"""The limit on wrong tokens and the end of a session hold across gunicorn's workers: one real
server of two workers on loopback, one kept-alive connection to each (the access log names the
worker that answered every request), addresses told apart by a trusted X-Forwarded-For.

tests/test_auth.py checks the same rules in-process, with a clock it moves.
"""

from __future__ import annotations

import http.client
import itertools
import re
import time
from urllib.parse import urlsplit

import pytest

from cycle.local_server import running_server
from pipeline.api.auth import SESSION_COOKIE
from tests.helpers import CONFIG, write_config

pytestmark = pytest.mark.slow

TOKEN = "the-right-token-of-the-api"
GUESSER, READER, OTHER = "192.0.2.1", "192.0.2.3", "192.0.2.2"
_PROBES = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with 2 workers whose access log gives each request's worker and probe number."""
    root = tmp_path_factory.mktemp("auth-server")
    (root / "token.txt").write_text(TOKEN + "\n")
    config = write_config(root, **CONFIG, api_token_file="token.txt",
                          trust_x_forwarded_for=True)
    log = root / "gunicorn.log"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("RISK_API_TOKEN", raising=False)
        # gunicorn reads extra settings from this variable: the worker's pid and the query in
        # the access log, and connections kept open long enough for the test to use them.
        patch.setenv("GUNICORN_CMD_ARGS", "--access-logformat 'pid=%(p)s %(q)s' --keep-alive 60")
        with running_server(config, workers=2, log_path=log) as url:
            yield url, log


class Worker:
    """A kept-alive connection, and the pid of the worker that holds it."""

    def __init__(self, url: str, log):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.log = log
        self.pid = None

    def ask(self, method: str, path: str, headers: dict, body: str | None = None):
        """The response to one request on this connection; checks who answered it."""
        probe = next(_PROBES)
        self.connection.request(method, f"{path}?probe={probe}", body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        pid = self._pid_of(probe)
        assert self.pid in (None, pid), "the connection moved to another worker"
        self.pid = pid
        return response

    def _pid_of(self, probe: int) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # gunicorn logs just after it answers
            found = re.search(rf"pid=<(\d+)> probe={probe}\b", self.log.read_text())
            if found:
                return found.group(1)
            time.sleep(0.02)
        raise AssertionError(f"probe {probe} is not in the access log")


@pytest.fixture(scope="module")
def workers(server):
    """One connection to each of the two workers (the second may still be starting when the
    first answers, so connections are opened until both have taken one)."""
    url, log = server
    opened: list[Worker] = []
    found: dict[str, Worker] = {}
    deadline = time.monotonic() + 60
    try:
        while len(found) < 2 and time.monotonic() < deadline:
            worker = Worker(url, log)
            opened.append(worker)  # kept open: the worker that holds it stays busy with it
            worker.ask("GET", "/health", {})
            found.setdefault(worker.pid, worker)
            time.sleep(0.05)
        if len(found) < 2:
            pytest.fail(f"{len(opened)} connections in 60 s were all taken by one worker")
        yield list(found.values())
    finally:
        for worker in opened:
            worker.connection.close()


def _headers(address: str, token: str | None = None, cookie: str | None = None) -> dict:
    headers = {"X-Forwarded-For": address}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return headers


def test_the_eleventh_wrong_token_is_429_whichever_worker_answers(workers):
    first, second = workers
    for index in range(10):
        worker = (first, second)[index % 2]
        answer = worker.ask("GET", "/openapi.json", _headers(GUESSER, "wrong-guess"))
        assert answer.status == 401, index
    for worker in (first, second):  # each counted the other's failures
        answer = worker.ask("GET", "/openapi.json", _headers(GUESSER, "wrong-guess"))
        assert answer.status == 429 and 595 <= int(answer.getheader("Retry-After")) <= 600
        assert worker.ask("GET", "/openapi.json", _headers(GUESSER, TOKEN)).status == 429
        assert worker.ask("GET", "/openapi.json", _headers(OTHER, TOKEN)).status == 200
        assert worker.ask("GET", "/openapi.json", {"Authorization": f"Bearer {TOKEN}"}
                          ).status == 200  # loopback itself (cron's calls) is another address
    assert first.pid != second.pid


def test_signing_out_on_one_worker_ends_the_session_on_the_other(workers):
    first, second = workers
    signed_in = first.ask("POST", "/signin", {
        **_headers(READER), "Content-Type": "application/x-www-form-urlencoded"},
        body=f"token={TOKEN}&next=/")
    assert signed_in.status == 303
    cookie = re.match(rf"{SESSION_COOKIE}=([^;]+)", signed_in.getheader("Set-Cookie")).group(1)
    assert second.ask("GET", "/openapi.json", _headers(READER, cookie=cookie)).status == 200
    assert first.ask("POST", "/signout", _headers(READER, cookie=cookie)).status == 303
    assert second.ask("GET", "/openapi.json", _headers(READER, cookie=cookie)).status == 401
    assert first.pid != second.pid
