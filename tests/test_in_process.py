"""cycle.in_process's transport: a WSGI application called in this process answers requests as
a server would, within the timeout asked, and fails as a connection would when it raises."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from cycle.in_process import IN_PROCESS_URL, WsgiAdapter


def _session(app) -> requests.Session:
    session = requests.Session()
    session.mount(IN_PROCESS_URL + "/", WsgiAdapter(app))
    return session


def test_a_request_reaches_the_app_whole_and_its_answer_comes_back_whole():
    seen = {}

    def app(environ, start_response):
        seen.update(method=environ["REQUEST_METHOD"], path=environ["PATH_INFO"],
                    query=environ["QUERY_STRING"], type=environ.get("CONTENT_TYPE"),
                    auth=environ.get("HTTP_AUTHORIZATION"), address=environ["REMOTE_ADDR"],
                    body=environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("418 I'm a teapot", [("Content-Type", "text/csv; charset=utf-8"),
                                            ("Vary", "Accept"), ("Vary", "Cookie")])
        return [b"a,b\n", "é,1\n".encode()]

    with _session(app) as session:
        answer = session.post(IN_PROCESS_URL + "/prediction?top=2", data=b"x,y\n1,2\n",
                              headers={"Content-Type": "text/csv",
                                       "Authorization": "Bearer t"}, timeout=5)
    assert seen == {"method": "POST", "path": "/prediction", "query": "top=2",
                    "type": "text/csv", "auth": "Bearer t", "address": "127.0.0.1",
                    "body": b"x,y\n1,2\n"}
    assert (answer.status_code, answer.reason) == (418, "I'm a teapot")
    assert answer.text == "a,b\né,1\n"
    assert answer.headers["vary"] == "Accept, Cookie"  # repeated: joined, as urllib3 does
    answer.close()  # a Response whose raw stream is there, as requests' own code expects


def test_an_app_that_does_not_answer_in_time_is_a_timeout():
    release = threading.Event()

    def app(environ, start_response):
        release.wait(10)
        start_response("200 OK", [])
        return [b""]

    started = time.monotonic()
    try:
        with _session(app) as session, pytest.raises(requests.Timeout):
            session.get(IN_PROCESS_URL + "/health", timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 5


def test_an_app_that_raises_ends_the_call_as_a_lost_connection():
    def app(environ, start_response):
        raise OSError("the disk went away")

    with _session(app) as session, pytest.raises(requests.ConnectionError,
                                                 match="OSError: the disk went away"):
        session.get(IN_PROCESS_URL + "/scoring", timeout=5)


@pytest.mark.slow
def test_the_cycles_app_counts_nothing_in_a_served_apis_metrics_folder(redeployed, tmp_path):
    # A cron environment that exports the served API's multiprocess folder: the cycle's own app
    # must not add its requests to the server's /metrics (nor leave its files there).
    import os
    import subprocess
    import sys

    from reporting import build_risk_list
    from tests.helpers import PROJECT

    build_risk_list(redeployed)
    shared = tmp_path / "served-metrics"
    shared.mkdir()
    script = ("import sys\n"
              "from app import create_app\n"
              "from cycle.in_process import call_in_process\n"
              "from pipeline.core.config import load_settings\n"
              "answers = call_in_process(load_settings(sys.argv[1]), create_app)\n"
              "print(sorted(answers))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(redeployed.config_path)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(shared),
                                   RISK_LOG_LEVEL="WARNING"))
    assert proc.returncode == 0, proc.stderr
    assert "/prediction" in proc.stdout
    assert list(shared.iterdir()) == []
