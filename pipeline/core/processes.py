"""Child processes that die with their parent, even when the parent is killed with SIGKILL.

A process killed with SIGKILL (by hand, by the OOM killer) runs no cleanup, so a server or a
script it started would live on, orphaned. On Linux the kernel can send a signal to a process
when its parent dies (``prctl(PR_SET_PDEATHSIG)``); the setting survives ``exec``. Elsewhere
these functions do nothing and the parent's own cleanup is all there is.

The "parent" is the thread that started the child: start children from a thread that outlives
them (the cycle starts them from its main thread).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _prctl() -> Callable | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with(parent: int, prctl: Callable | None = None, sig: int = signal.SIGKILL) -> bool:
    """Have this process receive ``sig`` when its parent dies; if the parent ``parent`` (a pid)
    is already gone, receive it now. False where the platform cannot."""
    prctl = prctl or _prctl()
    if prctl is None or prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)
    return True


def dies_with_this_process() -> Callable[[], None] | None:
    """A ``preexec_fn`` for subprocess: the child is killed (SIGKILL) when this process dies.

    libc's prctl is looked up here, in the parent, so that the child between fork and exec only
    calls it. None where the platform has no parent-death signal.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        die_with(parent, prctl)

    return preexec
