"""Kept answers served in front of Flask: a GET answer a route computed, returned again without
Flask while what it was computed from is unchanged.

Once a route's answer is cached, finding it costs a few microseconds, and Flask's own work for the
request (its contexts, routing, the request and response objects: about 35 µs on this machine)
becomes most of the cost. Routes that cache a whole answer (``_cached_json`` in
pipeline.api.routes) also leave it here, with a function that recomputes its key; this WSGI layer
returns the answer directly when the key is the same and the caller may read the API, and hands
every other request to Flask untouched. It never refuses or fails a request itself: a caller
without credentials, a changed or failing key, any other method or path, a query string, and
anything unexpected in the request all go to Flask, which answers as it always does.
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.sansio.http import parse_cookie

from pipeline.api.auth import INPUT_PATHS, SESSION_COOKIE, Credentials, api_call_allowed
from pipeline.api.hooks import COMMON_HEADERS


class KeptAnswers:
    """path -> (current key function, key, WSGI headers, body) of answers that may be served
    again while ``current key function()`` equals ``key``."""

    def __init__(self):
        self._answers: dict[str, tuple[Callable[[], tuple], tuple, list, bytes]] = {}

    def keep(self, path: str, current_key: Callable[[], tuple], key: tuple, body: bytes,
             mimetype: str) -> None:
        """Keep body as the answer to GET path while current_key() returns key; never for a
        path whose answer depends on the caller's input (INPUT_PATHS)."""
        if path in INPUT_PATHS:
            return
        # The headers Flask's answer has, in its order: Flask's after_request does not run here.
        headers = [("Content-Type", mimetype), ("Content-Length", str(len(body))),
                   *COMMON_HEADERS]
        # One tuple replaced whole (one dict store): the worker's threads read it without a
        # lock and never see one answer's key with another's body.
        self._answers[path] = (current_key, key, headers, body)

    def find(self, environ: dict, auth: Credentials | None) -> tuple[list, bytes] | None:
        """(headers, body) of the kept answer to this request, or None: Flask answers it."""
        entry = self._answers.get(environ.get("PATH_INFO", ""))
        if entry is None or environ.get("REQUEST_METHOD") != "GET" or \
                environ.get("QUERY_STRING"):
            return None
        current_key, key, headers, body = entry
        try:
            if not environ_allowed(environ, auth) or current_key() != key:
                return None
        except Exception:  # a missing model, an odd header...: Flask says what, and logs it
            return None
        return headers, body


def environ_allowed(environ: dict, auth: Credentials | None) -> bool:
    """Flask's guard (pipeline.api.routes.authenticate) on the same request: the same header,
    the cookie parsed by the same function as Flask's ``request.cookies``, the same address.
    The bearer token costs a constant-time compare and a look in the worker's list of waiting
    addresses; a session cookie one HMAC and one read of the shared store."""
    if auth is None:
        return True
    cookie = environ.get("HTTP_COOKIE")
    return api_call_allowed(auth, "GET", environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION"),
                            parse_cookie(cookie).get(SESSION_COOKIE) if cookie else None,
                            auth.address(environ))


def serving_kept_answers(wsgi_app, state):
    """A WSGI application that returns the kept answers of state (an ApiState) and hands every
    other request to wsgi_app."""

    def application(environ, start_response):
        found = state.answers.find(environ, state.auth)
        if found is None:
            return wsgi_app(environ, start_response)
        headers, body = found
        start_response("200 OK", list(headers))
        return [body]

    return application
