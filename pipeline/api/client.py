"""Calling every endpoint of a running API and saving the answers (apicalls.py, the cycle)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.config import Settings, api_token
from pipeline.core.files import atomic_write_text
from pipeline.core.history import utc_now

TIMEOUT = 30


class ApiCallError(RuntimeError):
    """The server could not be reached, or an endpoint did not answer as it should."""


def prediction_request(settings: Settings) -> dict:
    """Keyword arguments of the prediction call, on the test file.

    The course's form, ``{"filepath": ...}`` relative to the project, when the test data lies
    inside it; otherwise the file's text as a ``text/csv`` body (the API would read an absolute
    path inside its data folders too, but the text needs no shared file system).
    """
    try:
        relative = settings.test_file.relative_to(settings.root)
    except ValueError:
        return {"data": settings.test_file.read_bytes(), "headers": {"Content-Type": "text/csv"}}
    return {"json": {"filepath": relative.as_posix()}}


def call_endpoints(base_url: str, settings: Settings, session=None) -> dict:
    """Call every endpoint; returns {endpoint: answer}. Raises ApiCallError on any failure."""
    import requests

    session = session or requests.Session()
    token = api_token(settings)
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    calls = [
        ("POST", "/prediction", prediction_request(settings)),
        ("GET", "/scoring", {}),
        ("GET", "/summarystats", {}),
        ("GET", "/diagnostics", {}),
        ("GET", "/risk", {"params": {"top": 20}}),
        ("GET", "/health", {}),
    ]
    answers = {}
    for method, path, kwargs in calls:
        url = base_url.rstrip("/") + path
        try:
            response = session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise ApiCallError(f"cannot reach {url}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            raise ApiCallError(f"{method} {path} answered {response.status_code} without "
                               "JSON") from None
        # /health's 503 is an answer to keep: the cycle that calls this may be the one that
        # ends a run of failures, and until it ends /health says they happened.
        if response.status_code != 200 and not (path == "/health" and
                                                response.status_code == 503):
            reason = body.get("error") if isinstance(body, dict) else body
            raise ApiCallError(f"{method} {path} answered {response.status_code}: {reason}")
        answers[path] = body
    return answers


def write_returns(path: Path, base_url: str, answers: dict) -> None:
    """Write the combined answers as JSON, atomically."""
    document = {"called_at": utc_now(), "url": base_url, "answers": answers}
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")
