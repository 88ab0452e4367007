"""How fast one address may guess the token: at most ``limit`` wrong tokens (bearer or sign-in
form) within ``window`` seconds; then every request of that address that needs the token is
answered 429 with Retry-After until the oldest of those failures is ``window`` seconds old.

The count lives in the shared store (pipeline.api.authstore), so it holds across gunicorn's
workers. A request with the right token writes nothing and reads nothing per request: each worker
re-reads the list of waiting addresses at most once every ``REFRESH_SECONDS``. A wrong token is
counted exactly, in one transaction that reads and writes the store, so the 11th guess is refused
whichever worker gets it, and its answer says nothing of whether it was right.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pipeline.api.authstore import AuthStore

# How stale a worker's list of waiting addresses may be. It only decides whether a request that
# carries the right token is refused; a wrong one always asks the store.
REFRESH_SECONDS = 1.0


def wait_seconds(times: list[float], now: float, limit: int, window: float) -> float:
    """Seconds before an address with failures at ``times`` may try again: 0 while fewer than
    ``limit`` of them are younger than ``window``, else until the limit-th latest ages out."""
    recent = sorted((t for t in times if t > now - window), reverse=True)
    if len(recent) < limit:
        return 0.0
    return max(0.0, recent[limit - 1] + window - now)


def retry_after(wait: float) -> str:
    """A wait as the whole seconds of a Retry-After header (at least 1: 0 would invite a retry
    that is still refused)."""
    return str(max(1, math.ceil(wait)))


class FailureLimit:
    """The limit of one application: the shared counts, and this worker's list of waiting
    addresses. The clock is injectable for tests (it must be the one the store's times use)."""

    def __init__(self, store: AuthStore, limit: int, window: float,
                 clock: Callable[[], float] = time.time):
        self.store, self.limit, self.window, self.clock = store, limit, window, clock
        # (read at, {address: time its wait ends}), replaced whole: threads read it unlocked.
        self._waiting: tuple[float, dict[str, float]] = (-math.inf, {})

    def waiting(self, address: str, fresh: bool = False) -> float:
        """Seconds address must still wait (0: none), from a list at most REFRESH_SECONDS old,
        or read from the store now when fresh."""
        now = self.clock()
        read_at, ends = self._waiting
        if fresh or not read_at <= now < read_at + REFRESH_SECONDS:
            ends = self._read(now)
        end = ends.get(address)
        return end - now if end is not None and end > now else 0.0

    def fail(self, address: str) -> float:
        """Count a wrong token from address. Returns 0 when it was counted (answer 401), or the
        seconds it must wait when it had already reached the limit (answer 429)."""
        now = self.clock()
        times, counted = self.store.add_failure(address, now, now - self.window, self.limit)
        wait = wait_seconds(times, now, self.limit, self.window)
        if wait:  # this worker knows at once; the others within REFRESH_SECONDS
            read_at, ends = self._waiting
            self._waiting = (read_at, {**ends, address: now + wait})
        # The failure that reaches the limit is counted and answered 401; the next is refused.
        return 0.0 if counted else wait

    def _read(self, now: float) -> dict[str, float]:
        found = self.store.frequent_failures(now - self.window, self.limit)
        ends = {address: now + wait for address, times in found.items()
                if (wait := wait_seconds(times, now, self.limit, self.window))}
        self._waiting = (now, ends)
        return ends
