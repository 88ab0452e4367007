"""The API's answers for the cycle when no server of its deployment is running: the app called in
this process, through the same client (pipeline.api.client) and the same WSGI entry as gunicorn's.

The cycle used to start a temporary gunicorn on loopback for these calls: a second Python that
imported the app's libraries again, loaded the model again and was killed a second later (about
1.7 s of a re-deploying cycle on the shipped data, of which 0.1 s were the calls). The cycle has
those libraries loaded already; what the answers are made of is the app's own code either way.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

from pipeline.api.client import call_endpoints
from pipeline.api.metrics import MULTIPROC_ENV
from pipeline.api.watching import silence_stale_alert
from pipeline.core.config import Settings

# The base URL the client is given: nothing listens there, requests to it never leave the process.
IN_PROCESS_URL = "http://in-process"


class WsgiAdapter(BaseAdapter):
    """A requests transport that hands each request to a WSGI application in this process."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout=None,
             verify=True, cert=None, proxies=None) -> requests.Response:
        """The application's answer to ``request``, as a requests Response; requests.Timeout
        when it takes longer than ``timeout`` (connect and read seconds together)."""
        url = urlsplit(request.url)
        headers = {key: value for key, value in request.headers.items()
                   if key.lower() not in ("content-type", "content-length")}
        # http.client sends a str body as Latin-1; requests' json= and data= give bytes.
        body = request.body.encode("iso-8859-1") if isinstance(request.body, str) \
            else request.body
        builder = EnvironBuilder(path=url.path, query_string=url.query, method=request.method,
                                 base_url=f"{url.scheme}://{url.netloc}", headers=headers,
                                 data=body or b"",
                                 content_type=request.headers.get("Content-Type"),
                                 environ_overrides={"REMOTE_ADDR": "127.0.0.1"})
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        status, answer_headers, content = self._answer(environ, _seconds(timeout), request)
        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code, response.reason = int(code), reason
        joined: dict[str, str] = {}
        for key, value in answer_headers.items():  # repeated: joined, as urllib3 does
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        response.headers = CaseInsensitiveDict(joined)
        response.raw = io.BytesIO(content)
        response._content, response._content_consumed = content, True
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url, response.request = request.url, request
        return response

    def _answer(self, environ: dict, timeout: float | None,
                request: requests.PreparedRequest) -> tuple[str, object, bytes]:
        """Run the application on environ in a thread of its own, as long as timeout allows
        (gunicorn would stop a worker that hangs; a thread cannot be stopped, so one that
        overruns is left to end with the process, a daemon)."""
        outcome: dict = {}

        def run() -> None:
            try:
                chunks, status, headers = run_wsgi_app(self.app, environ, buffered=True)
                try:
                    outcome["answer"] = status, headers, b"".join(chunks)
                finally:
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()
            except BaseException as exc:  # raised in the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="in-process-request", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise requests.Timeout(f"no answer in {timeout:g} s", request=request)
        if "error" in outcome:
            # As a server that failed outside the app would answer: the connection ends.
            raise requests.ConnectionError(
                f"the app raised {type(outcome['error']).__name__}: {outcome['error']}",
                request=request) from outcome["error"]
        return outcome["answer"]

    def close(self) -> None:
        """Nothing to release: no connection was opened."""


def _seconds(timeout) -> float | None:
    """requests' timeout (seconds, or a (connect, read) pair) as one number of seconds."""
    if isinstance(timeout, tuple):
        return None if None in timeout else float(sum(timeout))
    return None if timeout is None else float(timeout)


def call_in_process(settings: Settings, make_app: Callable[[Path], object]) -> dict:
    """Every endpoint's answer from the app ``make_app`` makes for settings' config (app.py's
    create_app, handed down by the entry point: the cycle imports none), called in this
    process; raises pipeline.api.client.ApiCallError as a call over HTTP would.

    The app is not a server's: it counts its requests in this process alone, never in the
    folder a served API shares between its workers ($PROMETHEUS_MULTIPROC_DIR, taken out of
    this process's environment before the metrics library reads it), and leaves the stale
    alert to the cycle (cycle.watching), which raises it itself.
    """
    os.environ.pop(MULTIPROC_ENV, None)
    app = make_app(settings.config_path)
    silence_stale_alert(app)
    session = requests.Session()
    session.mount(IN_PROCESS_URL + "/", WsgiAdapter(app))
    with session:
        return call_endpoints(IN_PROCESS_URL, settings, session)
