"""The API against hostile requests: path traversal in every form, bodies over the limit (with
and without Content-Length, under gunicorn), wrong content types, deeply nested or huge JSON,
and the optional bearer token on every route.
"""

from __future__ import annotations

import io
import json
import os
import select
import socket
import time
import tracemalloc
from urllib.parse import urlsplit

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import create_app
from cycle.local_server import running_server
from tests.helpers import CONFIG, watch_opens, write_config

ONE = {"lastmonth_activity": 10, "lastyear_activity": 500, "number_of_employees": 20}


@pytest.fixture
def hostile_project(redeployed):
    """The deployed project with links and files that a request must never reach."""
    root = redeployed.root
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.csv").write_text(redeployed.test_file.read_text())
    (redeployed.test_data / "link.csv").symlink_to(outside / "secret.csv")
    (redeployed.test_data / "dirlink").symlink_to(outside)
    (redeployed.test_data / "relative.csv").symlink_to(os.path.join("..", "..", "outside",
                                                                    "secret.csv"))
    (redeployed.test_data / "otherdata.csv").symlink_to(root / "practicedata" / "dataset1.csv")
    return redeployed, outside


TRAVERSALS = [
    # absolute
    "/etc/passwd", "//etc/passwd", "/etc/../etc/passwd.csv", "~/x.csv", "~root/x.csv",
    # dot-dot
    "../config.json", "../outside/secret.csv", "testdata/../../outside/secret.csv",
    "testdata/./../config.csv", "testdata/../practicedata/dataset1.csv", "./../x.csv",
    "testdata/" + "../" * 40 + "etc/passwd.csv",
    # encoded (a JSON string is not URL-decoded: these are literal names, never found)
    "%2e%2e/config.csv", "testdata/%2e%2e%2f%2e%2e%2foutside%2fsecret.csv",
    "%252e%252e%252fconfig.csv", "..%2fconfig.csv", "testdata/..%c0%afconfig.csv",
    "\u2025/config.csv", "\uff0e\uff0e/config.csv", "testdata/\u2024\u2024/x.csv",
    # separators and terminators
    "..\\config.json", "testdata\\..\\..\\outside\\secret.csv", "testdata/testdata.csv\x00.txt",
    "testdata/testdata.csv\n", "testdata/%00.csv",
    # links inside a data folder
    "testdata/link.csv", "testdata/dirlink/secret.csv", "testdata/relative.csv",
    "testdata/otherdata.csv",
    # other folders' files
    "config.json", "config.csv", "history.sqlite", "models/trainedmodel.json",
    "models/trainingsample.csv", "production_deployment/trainingsample.csv",
    "production_deployment/versions/v0001/trainingsample.csv", "practicedata/dataset1.csv",
    "sourcedata", "testdata", "testdata/", ".", "",
    # sizes
    "testdata/" + "a/" * 3000 + "x.csv", "x" * 100_000 + ".csv",
]


def test_path_traversal_in_every_form_is_refused_and_nothing_is_read(hostile_project):
    settings, outside = hostile_project
    client = create_app(settings.config_path).test_client()
    root = os.path.realpath(settings.root.parent)
    for filepath in TRAVERSALS:
        with watch_opens() as opened:
            response = client.post("/prediction", json={"filepath": filepath})
        shown = filepath[:80]
        assert response.status_code in (400, 403, 404), (shown, response.status_code)
        assert response.is_json and response.get_json()["error"], shown
        assert len(response.get_data()) < 1000, shown  # the path is not echoed whole
        read = [p for p in opened if p.startswith(root + os.sep)]
        assert read == [], (shown, read)  # no file of the project (or beside it) was opened
        assert not [p for p in opened if p.startswith(("/etc", os.path.realpath(outside)))]
    assert len(TRAVERSALS) >= 40


@pytest.mark.parametrize("url", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                 "/prediction/../../config.json", "/static/../config.json",
                                 "/..%2f..%2fconfig.json", "//etc/passwd"])
def test_traversal_in_the_url_reaches_no_file(hostile_project, url):
    settings, _ = hostile_project
    client = create_app(settings.config_path).test_client()
    with watch_opens() as opened:
        response = client.get(url)
    assert response.status_code in (404, 405)
    assert response.is_json
    assert not [p for p in opened if p.startswith(os.path.realpath(settings.root.parent))]


def test_the_allowed_files_are_read_the_control(hostile_project):
    settings, _ = hostile_project
    client = create_app(settings.config_path).test_client()
    for filepath in ("testdata/testdata.csv", "./testdata/testdata.csv", "sourcedata/dataset3.csv",
                     "ingesteddata/finaldata.csv"):
        with watch_opens() as opened:
            response = client.post("/prediction", json={"filepath": filepath})
        assert response.status_code == 200, (filepath, response.get_json())
        assert os.path.realpath(settings.root / filepath) in opened


# Bodies over the limit -----------------------------------------------------------------------

class CountingStream(io.RawIOBase):
    """An endless body that counts what the server reads of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b" " * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def test_a_declared_length_over_the_limit_is_413_before_reading_anything(redeployed):
    app = create_app(redeployed.config_path)
    environ = EnvironBuilder(path="/prediction", method="POST",
                             content_type="application/json").get_environ()
    stream = CountingStream()
    environ.update({"wsgi.input": stream, "CONTENT_LENGTH": str(64 << 20)})
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413") and b"error" in b"".join(body)
    assert stream.read_bytes == 0


def _raw_request(url: str, head: bytes, chunks, timeout: float = 20.0) -> tuple[int, int, float]:
    """Send a request head then body chunks until the server answers; (status, sent, seconds)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    started = time.monotonic()
    sent = 0
    try:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(chunk)
            except OSError:
                break  # it closed the connection after answering
            sent += len(chunk)
        sock.settimeout(timeout)
        answer = sock.recv(65536)
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent, time.monotonic() - started


@pytest.fixture
def small_limit_server(redeployed):
    """gunicorn (1 worker) on a free loopback port, with a 1 MiB body limit."""
    config = write_config(redeployed.root, "config.small.json", **CONFIG,
                          max_body_bytes=1 << 20)
    with running_server(config, workers=1) as url:
        yield url


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_413_without_being_read_whole(small_limit_server):
    head = (b"POST /prediction HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    block = b" " * 65536
    chunks = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(1024))  # up to 64 MiB
    status, sent, seconds = _raw_request(small_limit_server, head, chunks)
    assert status == 413  # not a 400 or 200 on the part read up to the limit
    assert sent < 16 << 20, f"sent {sent} bytes before the answer"  # limit 1 MiB + buffers
    assert seconds < 15


@pytest.mark.slow
def test_a_chunked_body_under_the_limit_is_served_the_control(small_limit_server):
    body = json.dumps({"records": [ONE] * 5000}).encode()  # about 0.4 MiB
    assert len(body) < 1 << 20
    head = (b"POST /prediction HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    status, sent, _ = _raw_request(small_limit_server, head, chunks)
    assert status == 200 and sent > len(body)


@pytest.mark.slow
def test_a_declared_length_over_the_limit_is_413_at_once_under_gunicorn(small_limit_server):
    head = (b"POST /prediction HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (64 << 20))
    status, sent, seconds = _raw_request(small_limit_server, head, iter(()))
    assert status == 413 and sent == 0 and seconds < 5


# Content types and JSON shapes ---------------------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "application/xml", "text/plain", "application/octet-stream", "image/png",
    "application/jsonx", "text/csv2"])
def test_a_wrong_content_type_is_415(redeployed, content_type):
    client = create_app(redeployed.config_path).test_client()
    response = client.post("/prediction", data=json.dumps({"records": [ONE]}),
                           content_type=content_type)
    assert response.status_code == 415 and response.is_json


@pytest.mark.parametrize("content_type, reason", [
    ("application/x-www-form-urlencoded", "needs exactly one of"),
    ("multipart/form-data; boundary=x", "the form body cannot be read")])
def test_json_sent_as_a_form_is_read_as_a_form_and_refused_with_why(redeployed, content_type,
                                                                     reason):
    client = create_app(redeployed.config_path).test_client()
    response = client.post("/prediction", data=json.dumps({"records": [ONE]}),
                           content_type=content_type)
    assert response.status_code == 400 and reason in response.get_json()["error"]


NESTED = {
    "arrays": "[" * 200_000 + "]" * 200_000,
    "objects": '{"a":' * 200_000 + "1" + "}" * 200_000,
    "records-nested": '{"records": [' + "[" * 100_000 + "]" * 100_000 + "]}",
    "value-nested": '{"records": [{"lastmonth_activity": ' + "[" * 100_000 + "]" * 100_000
                    + ', "lastyear_activity": 1, "number_of_employees": 1}]}',
    "huge-list": '{"records": [' + "1," * 2_000_000 + "1]}",
    "huge-string": '{"records": "' + "x" * 20_000_000 + '"}',
    "many-keys": "{" + ",".join(f'"k{i}": {i}' for i in range(200_000)) + "}",
}


@pytest.mark.parametrize("name", list(NESTED))
def test_deeply_nested_or_huge_json_is_4xx_with_bounded_memory(redeployed, name):
    client = create_app(redeployed.config_path).test_client()
    body = NESTED[name].encode()
    tracemalloc.start()
    try:
        response = client.post("/prediction", data=body, content_type="application/json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 400 <= response.status_code < 500, response.status_code
    assert response.is_json
    # Parsing holds the body and its objects; nothing grows without bound.
    assert peak < 24 * len(body) + (64 << 20), f"peak {peak >> 20} MiB for {len(body) >> 20} MiB"


# Bearer token ---------------------------------------------------------------------------------

def test_with_a_token_every_route_but_health_is_401_without_it(redeployed, monkeypatch):
    token = "s3cret-token-of-the-api"
    monkeypatch.setenv("RISK_API_TOKEN", token)
    # Hundreds of wrong tokens from one address: the limit (tests/test_auth.py) is
    # raised so that each one is answered as it would be alone.
    app = create_app(redeployed.config_path, auth_failure_limit=100_000)
    client = app.test_client()
    routes = [(rule.rule, method) for rule in app.url_map.iter_rules()
              for method in sorted(rule.methods - {"OPTIONS"})]
    routes += [("/nowhere", "GET"), ("/prediction", "GET"), ("/health/../scoring", "GET")]
    wrong = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer "},
             {"Authorization": f"bearer {token}"}, {"Authorization": f"Basic {token}"},
             {"Authorization": f"Bearer {token} "}, {"Authorization": f"Bearer {token[:-1]}"},
             {"X-Api-Key": token}]
    checked = 0
    for path, method in routes:
        for headers in wrong:
            response = client.open(path, method=method, headers=headers)
            if path == "/health":
                assert response.status_code in (200, 405)
            else:
                assert response.status_code == 401, (path, method, headers)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                checked += 1
        right = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
        assert right.status_code != 401
    assert client.get(f"/scoring?token={token}").status_code == 401
    assert checked >= 50
