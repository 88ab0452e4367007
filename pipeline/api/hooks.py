"""What every request of the app goes through, API and pages alike, besides its own route.

- The request object (Request): it closes, when the request ends, every file its form parser
  opened. Werkzeug reads a broken form (a multipart body cut short) as an empty one and drops
  the files it had begun unclosed: a temporary file held until the garbage collector runs.
- Before any route: a query string that is not UTF-8 (raw bytes, as a server may hand them over)
  is refused with 400. Werkzeug cannot decode it, and every route that reads its query string,
  or a page that links back to itself, would otherwise fail with a 500.
- After every route: the headers every answer carries (COMMON_HEADERS), unless the route set
  its own, and none that the server sends itself (Date). The answers kept in front of Flask
  (pipeline.api.answers) carry the same ones.
"""

from __future__ import annotations

import flask
from flask import Response, abort, request

# Answers hold client names and predictions: no cache keeps them, and no browser reads a JSON or
# CSV answer as a page or a script. A route that allows caching sets its own Cache-Control.
COMMON_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
_COMMON = tuple((name.lower(), name, value) for name, value in COMMON_HEADERS)


class Request(flask.Request):
    """Flask's request, closing at its end every file its form parser opened."""

    def make_form_data_parser(self):
        """Werkzeug's parser, with its files remembered for close()."""
        parser = super().make_form_data_parser()
        make_stream, opened = parser.stream_factory, self.__dict__.setdefault("_opened", [])

        def stream_factory(*args, **kwargs):
            stream = make_stream(*args, **kwargs)
            opened.append(stream)
            return stream

        parser.stream_factory = stream_factory
        return parser

    def close(self) -> None:
        """Close what Werkzeug closes, then every file the form parser opened."""
        try:
            super().close()
        finally:
            for stream in self.__dict__.get("_opened", ()):
                stream.close()


def refuse_undecodable_query() -> None:
    """400 for a query string that is not UTF-8 (a ``before_request`` of the app)."""
    query = request.query_string
    if query and not query.isascii():  # percent-escapes are ASCII: the usual case ends here
        try:
            query.decode("utf-8")
        except UnicodeDecodeError:
            abort(400, description="the query string is not UTF-8")


def add_common_headers(response: Response) -> Response:
    """COMMON_HEADERS on an answer, each unless the route set it, and no Date (an
    ``after_request``)."""
    headers = response.headers
    # One pass over the names: Werkzeug's own look-ups, raising KeyError for each missing name,
    # cost about 5 µs a request here, against 1.5 µs.
    present = {name.lower() for name, _ in headers.items()}
    for lowered, name, value in _COMMON:
        if lowered not in present:
            headers.add(name, value)
    # Werkzeug dates a conditional answer (a file, the chart), and gunicorn writes its own Date
    # without looking: the answer would carry two. Every server dates what it sends.
    if "date" in present:
        del headers["Date"]
    return response
