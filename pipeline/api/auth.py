"""Who may call: the bearer token of the API, and the signed session cookie of the pages.

One home for both checks, used by the API's guard (pipeline.api.routes, and the kept answers
served in front of Flask: pipeline.api.answers) and the pages' guard (pipeline.web). The cookie
never holds the token: it holds an expiry time and an HMAC-SHA256 of it keyed by the token, so
any worker can check it without shared state, it stops working when it expires or when the
token changes, and reading it does not reveal the token.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SESSION_COOKIE = "risk_session"
SESSION_SECONDS = 12 * 3600
_PURPOSE = b"risk-dashboard-session-v1"


def bearer_ok(header: str | None, token: str) -> bool:
    """True when an Authorization header carries exactly ``Bearer <token>``."""
    sent = header or ""
    return sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode())


# Routes whose answer is computed from the caller's own input, by whichever method: the session
# cookie never opens them (a page could be made to send one), and the layer in front of Flask
# never keeps their answers (pipeline.api.answers).
INPUT_PATHS = frozenset({"/prediction"})


def api_call_allowed(token: str | None, method: str, path: str, authorization: str | None,
                     session: str | None) -> bool:
    """Whether a call to the API may be answered: always when no token is configured and for
    /health; otherwise with ``Authorization: Bearer <token>``, or for reading (GET, HEAD) with
    a signed-in browser's session cookie. /prediction (INPUT_PATHS) always needs the bearer
    token, by GET as by POST."""
    if token is None or path == "/health" or bearer_ok(authorization, token):
        return True
    return method in ("GET", "HEAD") and path not in INPUT_PATHS and session_ok(session, token)


def token_ok(sent: str | None, token: str) -> bool:
    """True when a token typed into the sign-in form is the token (compared in constant time)."""
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


def _signature(token: str, expires: int) -> str:
    return hmac.new(token.encode(), _PURPOSE + b"|" + str(expires).encode(),
                    hashlib.sha256).hexdigest()


def new_session(token: str, now: float | None = None) -> str:
    """A session cookie value valid for SESSION_SECONDS: ``<expiry>.<signature>``."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_signature(token, expires)}"


def session_ok(value: str | None, token: str, now: float | None = None) -> bool:
    """True when a cookie value was made by new_session with this token and has not expired."""
    if not value or value.count(".") != 1:
        return False
    expires, signature = value.split(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return False
    if int(expires) <= (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, int(expires)).encode())
