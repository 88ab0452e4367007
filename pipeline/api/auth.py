"""Who may call: the bearer token of the API, and the session cookie of the pages.

One home for both checks, used by the API's guard (pipeline.api.routes, and the kept answers
served in front of Flask: pipeline.api.answers) and the pages' guard and sign-in form
(pipeline.web).

A session cookie is ``<random id>.<HMAC-SHA256 of it>``, keyed by a random secret of the server
(pipeline.api.authstore), never by the token: it holds nothing derived from the token, so a
stolen cookie gives no way to test guesses at it. Each session is also recorded in the shared
store with a keyed fingerprint of the token it was opened with, so signing out ends it for every
worker at once, and changing the token ends every session. Wrong tokens are limited per address
(pipeline.api.limiter).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable

from pipeline.api.authstore import AuthStore, load_secret
from pipeline.api.limiter import FailureLimit
from pipeline.core.config import Settings
from pipeline.core.names import SESSION_KEY

SESSION_COOKIE = "risk_session"
SESSION_SECONDS = 12 * 3600
_SESSION_PURPOSE = b"risk-dashboard-session-v2|"
_TOKEN_PURPOSE = b"risk-dashboard-token-v2|"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_MAX_ADDRESS = 100  # a forwarded address is the client's text: bound what the store keeps

# Routes whose answer is computed from the caller's own input, by whichever method: the session
# cookie never opens them (a page could be made to send one), and the layer in front of Flask
# never keeps their answers (pipeline.api.answers).
INPUT_PATHS = frozenset({"/prediction"})


def bearer_ok(header: str | None, token: str) -> bool:
    """True when an Authorization header carries exactly ``Bearer <token>``."""
    sent = header or ""
    return sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode())


def token_ok(sent: str | None, token: str) -> bool:
    """True when a token typed into the sign-in form is the token (compared in constant time)."""
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


def client_address(remote: str | None, forwarded_for: str | None, trust_forwarded: bool) -> str:
    """The address wrong tokens are counted against: the connection's peer (behind a reverse
    proxy, the proxy's), or with trust_forwarded the last X-Forwarded-For entry, the one the
    proxy added (the entries before it are whatever the client sent)."""
    if trust_forwarded and forwarded_for:
        last = forwarded_for.rpartition(",")[2].strip()
        if last:
            return last[:_MAX_ADDRESS]
    return remote or "unknown"


class Credentials:
    """The token, session secret and shared store of one application (None of it when no token
    is configured: then there is no Credentials and everyone may call)."""

    def __init__(self, token: str, secret: bytes, store: AuthStore, limit: FailureLimit,
                 trust_forwarded: bool = False, clock: Callable[[], float] = time.time):
        self.token, self.store, self.limit = token, store, limit
        self.trust_forwarded, self.clock = trust_forwarded, clock
        self._secret = secret
        # What a session records of the token: changing the token changes it, and without the
        # secret it cannot be tested against guesses either.
        self._fingerprint = hmac.new(secret, _TOKEN_PURPOSE + token.encode(),
                                     hashlib.sha256).hexdigest()

    @classmethod
    def of(cls, settings: Settings, token: str,
           clock: Callable[[], float] = time.time) -> Credentials:
        """The credentials of settings' auth store and secret (created on first use)."""
        store = AuthStore(settings.auth_db)
        secret = load_secret(settings.auth_db.with_name(SESSION_KEY))
        limit = FailureLimit(store, settings.auth_failure_limit, settings.auth_failure_window,
                             clock)
        return cls(token, secret, store, limit, settings.trust_x_forwarded_for, clock)

    def address(self, environ: dict) -> str:
        """The caller's address of a WSGI request (client_address)."""
        return client_address(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"),
                              self.trust_forwarded)

    # The one rule ------------------------------------------------------------------------------

    def allows(self, authorization: str | None, session: str | None, address: str,
               session_opens: bool = True) -> bool:
        """Whether a request may be answered: with the bearer token, unless its address is
        waiting after too many wrong tokens; or, where session_opens, with an open session
        (even from a waiting address: a session is not a guess, and a signed-in browser behind
        the same proxy as a guesser keeps working)."""
        if authorization is not None and bearer_ok(authorization, self.token) and \
                not self.limit.waiting(address):
            return True
        return session_opens and self.session_ok(session)

    def refused(self, address: str, authorization: str | None) -> float:
        """For a request ``allows`` refused: the seconds its address must wait (answer 429), or
        0 (answer 401). A wrong bearer token is counted; no token at all is not a guess."""
        if authorization is None or bearer_ok(authorization, self.token):
            return self.limit.waiting(address)
        return self.limit.waiting(address) or self.limit.fail(address)

    def waiting(self, address: str) -> float:
        """Seconds address must wait before a token it sends is looked at (0: none), read from
        the store now (the sign-in form is rare; a bearer request uses the worker's list)."""
        return self.limit.waiting(address, fresh=True)

    def fail(self, address: str) -> float:
        """Count a wrong token typed into the sign-in form (limiter.FailureLimit.fail)."""
        return self.limit.fail(address)

    # Sessions ----------------------------------------------------------------------------------

    def new_session(self) -> str:
        """Open a session for SESSION_SECONDS; returns the cookie value ``<id>.<signature>``."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add_session(_stored_id(session_id), self._fingerprint, now + SESSION_SECONDS,
                               now)
        return f"{session_id}.{self._sign(session_id)}"

    def session_ok(self, value: str | None) -> bool:
        """True when the cookie value names a session this server opened with this token,
        still open and not expired. A forged value costs one HMAC and never reaches the store."""
        session_id = self._session_id(value)
        return session_id is not None and self.store.session_open(
            _stored_id(session_id), self._fingerprint, self.clock())

    def end_session(self, value: str | None) -> None:
        """Sign out: the session of this cookie value is closed for every worker."""
        session_id = self._session_id(value)
        if session_id is not None:
            self.store.end_session(_stored_id(session_id))

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._secret, _SESSION_PURPOSE + session_id.encode(),
                        hashlib.sha256).hexdigest()

    def _session_id(self, value: str | None) -> str | None:
        """The session id of a well-formed cookie value signed with this server's secret."""
        if not value or len(value) != 108 or value[43] != ".":
            return None
        session_id, signature = value[:43], value[44:]
        if not _SESSION_ID.fullmatch(session_id) or not hmac.compare_digest(
                signature.encode(), self._sign(session_id).encode()):
            return None
        return session_id


def _stored_id(session_id: str) -> str:
    # The store keeps a hash: reading auth.sqlite does not give a cookie that works.
    return hashlib.sha256(session_id.encode()).hexdigest()


def api_call_allowed(auth: Credentials | None, method: str, path: str,
                     authorization: str | None, session: str | None, address: str) -> bool:
    """Whether a call to the API may be answered: always when no token is configured and for
    /health; otherwise with ``Authorization: Bearer <token>`` (not from an address waiting after
    too many wrong tokens), or for reading (GET, HEAD) with a signed-in browser's session
    cookie. /prediction (INPUT_PATHS) always needs the bearer token, by GET as by POST."""
    if auth is None or path == "/health":
        return True
    return auth.allows(authorization, session, address,
                       session_opens=method in ("GET", "HEAD") and path not in INPUT_PATHS)
