"""Unexpected errors and headers, as the app is served: under a real gunicorn on loopback
(gunicorn.conf.py, as ``make serve`` and ``python app.py`` run it) and in process.

A 500 answer carries a request id, in its body and its X-Request-Id header, and the log holds the
error's traceback under that id: gunicorn's error log file (``make serve``: logs/api.log), or its
console (``python app.py``). No answer of any route sends a header twice.
"""

from __future__ import annotations

import csv
import http.client
import itertools
import logging
import re
from urllib.parse import quote, urlsplit

import pytest
from werkzeug.exceptions import InternalServerError
from werkzeug.test import EnvironBuilder

from app import create_app
from cycle.local_server import running_server
from pipeline.api.failures import record_failure
from tests.helpers import copy_project

FORCED = "forced failure for the log test"
FAIL = "X-Test-Failure"  # a request with this header makes the failing app fail
# The app of $RISK_CONFIG with a dependency of /risk (the API) and of / (a page) made to fail
# when a request asks, as a bug would; served by gunicorn as wsgi.py is.
FAILING_APP = f'''\
"""The app of $RISK_CONFIG; /risk and / fail for a request with the {FAIL} header."""
from flask import request

import pipeline.api.routes as routes
import pipeline.web.system as system
from app import create_app


def failing(function):
    def call(*args, **kwargs):
        if "{FAIL}" in request.headers:
            raise RuntimeError("{FORCED}")
        return function(*args, **kwargs)
    return call


routes.cached_risk_list = failing(routes.cached_risk_list)
system.history_facts = failing(system.history_facts)
app = create_app()
'''
REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")
LOG_ENTRY = re.compile(r"^\[\d{4}-\d\d-\d\d ", re.MULTILINE)  # gunicorn's error log lines


@pytest.fixture(scope="module")
def project(tmp_path_factory, redeployed_template):
    """Version 2 with a risk list and the files the pages link to."""
    from reporting import build_risk_list

    settings = copy_project(redeployed_template, tmp_path_factory.mktemp("served"))
    build_risk_list(settings)
    (settings.model_folder / "apireturns.txt").write_text('{"answers": []}\n', encoding="utf-8")
    (settings.model_folder / "report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (settings.model_folder / "confusionmatrix.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return settings


@pytest.fixture(scope="module", params=["error log file", "console"])
def served(request, project, tmp_path_factory):
    """(URL, the file the server's errors go to) of gunicorn serving FAILING_APP: with
    ``--error-logfile`` as ``make serve`` runs it, or writing to its console as ``python
    app.py`` does (gunicorn.conf.py: errorlog "-")."""
    folder = tmp_path_factory.mktemp("failing-app")
    (folder / "failing_app.py").write_text(FAILING_APP, encoding="utf-8")
    log = folder / "server.log"
    options = ["--pythonpath", str(folder)]
    if request.param == "error log file":
        options += ["--error-logfile", str(log)]
    with running_server(project.config_path, app="failing_app:app", options=options,
                        log_path=None if request.param == "error log file" else log) as url:
        yield url, log


def _get(url: str, path: str, method: str = "GET", body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, every header line as sent, body) of one request."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def _entry_of(log_text: str, request_id: str) -> str:
    """The log entry (its first line and the traceback below it) that names request_id."""
    starts = [found.start() for found in LOG_ENTRY.finditer(log_text)] + [len(log_text)]
    entries = [log_text[a:b] for a, b in itertools.pairwise(starts)]
    named = [entry for entry in entries if request_id in entry]
    assert len(named) == 1, f"{len(named)} entries name {request_id}:\n{log_text[-3000:]}"
    return named[0]


@pytest.mark.slow
@pytest.mark.parametrize("path, mimetype", [("/risk", "application/json"), ("/", "text/html")])
def test_a_500_under_gunicorn_names_the_request_id_that_finds_its_traceback(served, path,
                                                                            mimetype):
    url, log = served
    status, headers, body = _get(url, path, headers={FAIL: "1"})
    assert status == 500
    sent = dict(headers)
    request_id = sent["X-Request-Id"]
    assert REQUEST_ID.match(request_id)
    assert sent["Content-Type"].startswith(mimetype)
    assert request_id.encode() in body and FORCED.encode() not in body
    entry = _entry_of(log.read_text(encoding="utf-8"), request_id)
    assert f"GET {path}" in entry and "[ERROR]" in entry.splitlines()[0]
    assert "Traceback (most recent call last)" in entry and f"RuntimeError: {FORCED}" in entry


def _every_route(app, project) -> list[tuple[str, str, bytes | None, dict]]:
    """(method, path, body, headers) of a request to each route of the app, and to none."""
    name = project.model_folder / "riskscores.csv"
    with open(name, newline="", encoding="utf-8") as handle:
        client = quote(next(csv.DictReader(handle))["corporation"], safe="")
    values = {"name": "apireturns.txt", "filename": "x.css"}
    requests = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda found: values[found.group(1)], rule.rule)
        for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
            requests.append((method, path, b"" if method == "POST" else None, {}))
    json_body = {"Content-Type": "application/json"}
    return [
        *requests, ("GET", f"/clients/{client}", None, {}), ("GET", "/files/report.pdf", None, {}),
        ("GET", "/files/confusionmatrix.png", None, {}), ("GET", "/scoring", None, {}),
        ("POST", "/prediction", b'{"filepath": "testdata/testdata.csv"}', json_body),
        ("POST", "/prediction", b'{"filepath": "testdata/\\ud800.csv"}', json_body),
        ("GET", "/clients/a%00b", None, {}), ("GET", "/nowhere", None, {}),
        ("DELETE", "/scoring", None, {}), ("OPTIONS", "/prediction", None, {}),
        ("GET", "/charts/scores.svg", None, {"If-None-Match": "*"}),
    ]


@pytest.mark.slow
def test_no_answer_of_any_route_sends_a_header_twice(served, project):
    url, _ = served
    app = create_app(project.config_path)
    seen = set()
    for method, path, body, headers in _every_route(app, project):
        status, sent, _ = _get(url, path, method, body, headers)
        seen.add((path, status))
        names = [name.lower() for name, _ in sent]
        assert len(names) == len(set(names)), (method, path, status, sent)
        for name, value in sent:
            parameters = [part.split("=")[0].strip().lower() for part in value.split(";")[1:]]
            assert len(parameters) == len(set(parameters)), (method, path, name, value)
        lowered = {name.lower(): value for name, value in sent}
        assert lowered["x-content-type-options"] == "nosniff", (method, path)
        assert "cache-control" in lowered, (method, path)
        if lowered.get("content-type", "").startswith("application/json"):
            assert lowered["cache-control"] == "no-store", (method, path)
    assert ("/files/apireturns.txt", 200) in seen and ("/clients.csv", 200) in seen
    assert ("/charts/scores.svg", 200) in seen and ("/scoring", 200) in seen and ("/", 200) in seen
    assert ("/charts/scores.svg", 304) in seen and ("/scoring", 405) in seen
    assert any(path.startswith("/clients/") and status == 200 for path, status in seen)


# In process ------------------------------------------------------------------------------------

@pytest.fixture
def failing(project, monkeypatch):
    """The app of project, answering as it does when served (errors not raised to the test),
    with /risk and / made to fail."""
    import pipeline.api.routes as routes
    import pipeline.web.system as system

    def fail(*args, **kwargs):
        raise RuntimeError(FORCED)

    monkeypatch.setattr(routes, "cached_risk_list", fail)
    monkeypatch.setattr(system, "history_facts", fail)
    app = create_app(project.config_path)
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    return app


def _logged_failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("path, mimetype", [("/risk", "application/json"), ("/", "text/html")])
def test_a_500_in_process_is_logged_once_under_the_id_it_answers(failing, caplog, path,
                                                                  mimetype):
    with caplog.at_level(logging.ERROR):
        response = failing.test_client().get(path)
    assert response.status_code == 500 and response.mimetype == mimetype
    request_id = response.headers["X-Request-Id"]
    assert REQUEST_ID.match(request_id) and request_id in response.get_data(as_text=True)
    if response.is_json:
        assert response.get_json()["request_id"] == request_id
    assert FORCED not in response.get_data(as_text=True)
    [record] = _logged_failures(caplog)
    assert request_id in record.getMessage() and f"GET {path}" in record.getMessage()
    assert record.exc_info and str(record.exc_info[1]) == FORCED


@pytest.mark.parametrize("path", ["/health", "/clients"])
def test_an_error_outside_a_route_is_logged_once_with_its_request_id(project, caplog, path):
    """Raised by an after_request: Flask hands the 500 handler an InternalServerError holding
    it, after logging it itself (without an id) unless told not to."""
    app = create_app(project.config_path)
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    failed = []

    @app.after_request
    def fail_once(response):  # once: the 500 answer goes through it too
        if not failed:
            failed.append(response)
            raise RuntimeError(FORCED)
        return response

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get(path)
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    [record] = _logged_failures(caplog)
    assert request_id in record.getMessage()
    assert str(record.exc_info[1]) == FORCED
    assert not isinstance(record.exc_info[1], InternalServerError)


def test_a_path_is_logged_on_one_line_whatever_it_holds(project, caplog):
    app = create_app(project.config_path)
    forged = "/files/a\n[2025-01-01 00:00:00 +0000] [1] [ERROR] forged"
    environ = EnvironBuilder().get_environ()
    environ["PATH_INFO"] = forged  # as a server hands over a path holding %0A
    with app.request_context(environ), caplog.at_level(logging.ERROR):
        record_failure(RuntimeError(FORCED))
    [record] = _logged_failures(caplog)
    assert "\n" not in record.getMessage() and "/files/a\\n[2025" in record.getMessage()


def test_create_app_leaves_logging_as_it_found_it(project):
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    create_app(project.config_path).test_client().get("/health")
    assert (list(root.handlers), root.level) == before
