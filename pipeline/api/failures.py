"""What an unexpected error leaves behind: one log entry with its traceback, and a request id.

The 500 answer (JSON from the API, a page from pipeline.web) says nothing of the error itself,
only its request id, in its body and in the ``X-Request-Id`` header; the same id is in the log
entry, so whoever reads the answer can find the traceback. The id is made only when an error
happens: the answers that succeed pay nothing for it.

Where the entry goes is the entry point's choice (gunicorn.conf.py sends the app's logging to
gunicorn's error log); nothing here configures logging.
"""

from __future__ import annotations

import logging
import secrets

from flask import request

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
# What a 500 answer says: it never names the error, whose text may hold paths or data.
FAILED = "internal error; the server log has its traceback under request id {}"


def _shown(text: str, limit: int = 200) -> str:
    """Text of the request as the log shows it: one line, escaped, cut, so that a path cannot
    write lines of its own into the log."""
    return ascii(text[:limit])[1:-1] + ("..." if len(text) > limit else "")


def record_failure(exc: BaseException) -> str:
    """Log an unexpected error of the current request, traceback included; its request id.

    exc is the error, or the InternalServerError Flask hands a 500 handler for an error raised
    outside a route (an ``after_request``, an error handler), which holds it.
    """
    cause = getattr(exc, "original_exception", None) or exc
    request_id = secrets.token_hex(8)
    logger.error("unexpected error, request id %s: %s %s", request_id, _shown(request.method),
                 _shown(request.path), exc_info=cause)
    return request_id
