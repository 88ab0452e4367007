"""What every request of the app goes through, API and pages alike, besides its own route.

- The request object (Request): it closes, when the request ends, every file its form parser
  opened. Werkzeug reads a broken form (a multipart body cut short) as an empty one and drops
  the files it had begun unclosed: a temporary file held until the garbage collector runs.
- Before any route: a query string that is not UTF-8 (raw bytes, as a server may hand them over)
  is refused with 400. Werkzeug cannot decode it, and every route that reads its query string,
  or a page that links back to itself, would otherwise fail with a 500.
"""

from __future__ import annotations

import flask
from flask import abort, request


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

