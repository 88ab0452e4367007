"""The API's answers for the cycle when no server of its deployment is running: the app called in
this process, through the same client (pipeline.api.client) and the same WSGI entry as gunicorn's.

The cycle used to start a temporary gunicorn on loopback for these calls: a second Python that
imported the app's libraries again, loaded the model again and was killed a second later (about
1.7 s of a re-deploying cycle on the shipped data, of which 0.1 s were the calls). The cycle has
those libraries loaded already; what the answers are made of is the app's own code either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

from pipeline.api.client import call_endpoints
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
        """The application's answer to ``request``, as a requests Response."""
        url = urlsplit(request.url)
        headers = {key: value for key, value in request.headers.items()
                   if key.lower() not in ("content-type", "content-length")}
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
        builder = EnvironBuilder(path=url.path, query_string=url.query, method=request.method,
                                 base_url=f"{url.scheme}://{url.netloc}", headers=headers,
                                 data=body or b"",
                                 content_type=request.headers.get("Content-Type"),
                                 environ_overrides={"REMOTE_ADDR": "127.0.0.1"})
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        chunks, status, answer_headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        response = requests.Response()
        code, _, reason = status.partition(" ")
        response.status_code, response.reason = int(code), reason
        response.headers = CaseInsensitiveDict(answer_headers.items())
        response._content = content
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        """Nothing to release: no connection was opened."""


def call_in_process(settings: Settings, make_app: Callable[[Path], object]) -> dict:
    """Every endpoint's answer from the app ``make_app`` makes for settings' config (app.py's
    create_app, handed down by the entry point: the cycle imports none), called in this
    process; raises pipeline.api.client.ApiCallError as a call over HTTP would."""
    session = requests.Session()
    session.mount(IN_PROCESS_URL + "/", WsgiAdapter(make_app(settings.config_path)))
    with session:
        return call_endpoints(IN_PROCESS_URL, settings, session)
