"""What the API's workers share about who may call: open sessions, recent wrong tokens, and the
secret that signs session cookies.

gunicorn runs several worker processes, so none of this can live in one process's memory: a
sign-out must end a session for every worker, and ten wrong tokens must count as ten whichever
worker answered them. It lives in one small SQLite file (``auth_db_path``, by default
``auth.sqlite`` beside the config and the history database: the service's own state, which the
cycle never copies, versions or rolls back, unlike the deployment and model folders), kept apart
from the history so that a burst of wrong tokens never waits on a cycle's transaction, and a copy
of the history taken for analysis carries no sessions. WAL mode lets readers go on while one
process writes. Only sign-ins, sign-outs and failures write; a request with the right token
writes nothing.

The secret is a separate file beside it (``session.key``), created once with ``secrets`` and
readable by its owner only. Standard library only.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.config import ConfigError
from pipeline.core.files import create_once

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,      -- SHA-256 of the cookie's random part, never the part itself
    token TEXT NOT NULL,      -- keyed fingerprint of the token the session was opened with
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS failures (address TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_by_address ON failures (address, at);
CREATE INDEX IF NOT EXISTS failures_by_time ON failures (at);
"""
SECRET_BYTES = 32


def load_secret(path: Path) -> bytes:
    """The session secret in path, made with ``secrets`` on first use (mode 0600).

    Workers starting at once all read the one file that was created first (files.create_once).
    Raises ConfigError when the file is readable by others, or not a secret this module wrote.
    """
    text = create_once(path, (secrets.token_hex(SECRET_BYTES) + "\n").encode())
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise ConfigError(f"the session secret {path} is readable by others (mode {mode:o}); "
                          f"chmod 600 it, or delete it to make a new one (every session ends)")
    try:
        secret = bytes.fromhex(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise ConfigError(f"the session secret {path} is not {SECRET_BYTES} random bytes in "
                          f"hex; delete it to make a new one (every session ends)")
    return secret


class AuthStore:
    """The SQLite file of sessions and failures; one connection per thread of a worker."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        # Every connection opened, closed with the store (or at exit) by whichever thread
        # collects it: Python 3.13 warns of a connection left to the garbage collector.
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        weakref.finalize(self, _close, self._opened)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Made 0600 before SQLite opens it; its -wal and -shm files take the same mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db().executescript(SCHEMA)  # IF NOT EXISTS: workers starting at once agree

    def _db(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a connection never crosses a fork
            # One thread uses it; check_same_thread is off only so that _close may run anywhere.
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None,
                                 check_same_thread=False)
            # WAL: readers never wait for the writer. NORMAL: a commit is not flushed to disk
            # one by one; power loss may forget the last failures or sign-out, never corrupt.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            local.db, local.pid = db, os.getpid()
            self._opened.append((os.getpid(), db))
        return local.db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (BEGIN IMMEDIATE): what it reads, no other process
        changes before it commits."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # Sessions ----------------------------------------------------------------------------------

    def add_session(self, session_id: str, token: str, expires: float, now: float) -> None:
        """Record an open session; sessions past their expiry are dropped on the way."""
        with self._transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                       (session_id, token, expires))

    def session_open(self, session_id: str, token: str, now: float) -> bool:
        """Whether that session is open, was opened with that token, and has not expired."""
        row = self._db().execute("SELECT 1 FROM sessions WHERE id = ? AND token = ? AND "
                                 "expires > ?", (session_id, token, now)).fetchone()
        return row is not None

    def end_session(self, session_id: str) -> None:
        """Forget a session: from now on no worker accepts its cookie."""
        self._db().execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # Failures ----------------------------------------------------------------------------------

    def add_failure(self, address: str, now: float, since: float,
                    limit: int) -> tuple[list[float], bool]:
        """(times of address's failures after since, latest first and at most limit; whether
        this one was recorded). It is not when limit of them were already there, so that an
        address's wait does not grow while it waits. Older failures are dropped."""
        with self._transaction() as db:
            times = [at for (at,) in db.execute(
                "SELECT at FROM failures WHERE address = ? AND at > ? ORDER BY at DESC LIMIT ?",
                (address, since, limit))]
            if len(times) >= limit:
                return times, False
            db.execute("DELETE FROM failures WHERE at <= ?", (since,))
            db.execute("INSERT INTO failures VALUES (?, ?)", (address, now))
        return [now, *times], True

    def frequent_failures(self, since: float, limit: int) -> dict[str, list[float]]:
        """{address: failure times after since} of the addresses with at least limit of them."""
        found: dict[str, list[float]] = defaultdict(list)
        for address, at in self._db().execute(
                "SELECT address, at FROM failures WHERE at > ? AND address IN (SELECT address "
                "FROM failures WHERE at > ? GROUP BY address HAVING COUNT(*) >= ?)",
                (since, since, limit)):
            found[address].append(at)
        return dict(found)


def _close(opened: list[tuple[int, sqlite3.Connection]]) -> None:
    """Close the connections this process opened (one inherited through a fork is the
    parent's to close)."""
    for pid, db in opened:
        if pid == os.getpid():
            db.close()
