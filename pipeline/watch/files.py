"""Rewriting the watch's small JSON files whole, one writer at a time: the cycle record
(pipeline.watch.ledger) and the alert state (pipeline.watch.alerts).

Written to a temporary file, then ``os.replace``d, so a reader (the API, the quick path) never
sees half of one; an flock on ``.<name>.lock`` beside each keeps two writers from losing each
other's changes. Standard library only.
"""

from __future__ import annotations

import json
import os
import time

from pipeline.core.names import LOCK_SUFFIX

LOCK_WAIT = 5.0  # seconds to wait for a lock held by another process (it holds it briefly)


def write(path: str, value: dict) -> None:
    """Write a JSON object whole: a temporary file beside it, then os.replace."""
    data = json.dumps(value, separators=(",", ":")).encode()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:  # one write(2): json.dump to a text file writes piecemeal, four times slower here
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Locked:
    """An exclusive flock for rewriting a file (on ``.<its name>.lock`` beside it) for a
    with-block; ``held`` is False when it could not be had within ``wait`` seconds (the block
    should then leave the file alone). The record and the alert state have a lock each, so a
    delivery that waits on a receiver never holds up the quick path."""

    def __init__(self, target: str, wait: float = LOCK_WAIT):
        folder, name = os.path.split(target)
        self.path = os.path.join(folder, "." + name + LOCK_SUFFIX)
        self.wait, self.held, self._handle = wait, False, None

    def __enter__(self) -> Locked:
        import fcntl

        self._handle = open(self.path, "a")  # closed in __exit__, which drops the lock
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    return self
                time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        self._handle.close()  # closing drops the lock
