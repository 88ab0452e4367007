"""Load on loopback with a deployment in the middle: the short run of bench/load_test.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import PROJECT


@pytest.mark.slow
def test_16_connections_for_5_seconds_with_a_deployment_in_the_middle():
    proc = subprocess.run([sys.executable, str(PROJECT / "bench" / "load_test.py"),
                           "--seconds", "5", "--connections", "16"],
                          capture_output=True, text=True, timeout=300)
    figures = json.loads(proc.stdout)
    assert proc.returncode == 0, figures
    assert figures["failed_requests"] == 0 and figures["inconsistent_answers"] == 0
    assert figures["versions_differ"]  # the two versions' models answer differently
    by_version = figures["answers_by_version"]
    assert set(by_version) == {"1", "2"} and min(by_version.values()) >= 50, by_version
    assert figures["requests"] >= 500


@pytest.mark.slow
def test_idle_connections_do_not_hold_up_the_next_request(deployed):
    """Browsers open connections ahead of use and leave them idle; a sync worker would block on
    one until its 60 s timeout. Two idle sockets (one silent, one with half a request line) on a
    server of one worker, then a request: it is answered at once."""
    import socket
    import urllib.request

    from cycle.local_server import running_server

    with running_server(deployed.config_path, workers=1) as url:
        port = int(url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        try:
            idle[1].sendall(b"GET /health HT")
            with urllib.request.urlopen(url + "/health", timeout=10) as answer:
                assert json.loads(answer.read())["status"] == "ok"
        finally:
            for sock in idle:
                sock.close()
