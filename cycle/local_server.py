"""Starting and stopping an API server on loopback for a while: for tools, benchmarks and tests
that need one (the cycle calls the app in its own process: cycle.in_process).

It starts an entry point (``gunicorn wsgi:app``) as a process, which is why it lives in the
cycle, above the library: pipeline/ starts no entry point.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.config import PROJECT_ROOT
from pipeline.core.processes import dies_with_this_process


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on host that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when an API at url answers /health (with any status: the server is up)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


@contextmanager
def running_server(config_path: Path, workers: int = 1, wait: float = 60.0,
                   log_path: Path | None = None, app: str = "wsgi:app",
                   options: Sequence[str] = ()) -> Iterator[str]:
    """Run gunicorn on a free loopback port for the duration of the block; yields its URL.

    log_path receives what the server writes on its console; options are more gunicorn
    options (``--error-logfile``, ``--pythonpath`` for an app of the caller's own).

    The server dies with this process, even when it is killed with SIGKILL: its master gets a
    parent-death signal (pipeline.core.processes), and each worker one for its master
    (gunicorn.conf.py). Start it from a thread that outlives the block (the main thread).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, RISK_CONFIG=str(config_path))
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    # The config on the command line too: ps shows which project a server answers for.
    command = [sys.executable, "-m", "gunicorn", "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--env", f"RISK_CONFIG={config_path}", *options, app]
    proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=dies_with_this_process())
    try:
        deadline = time.monotonic() + wait
        while not answers(url, timeout=1.0):
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited with {proc.returncode} at start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not answer within {wait:.0f} s")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()
