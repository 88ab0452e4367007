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
