"""Load on loopback: 16 connections on POST /prediction while a new model version is deployed.

A temporary project (the shipped data) has version 1 deployed by the practice cycle and a
different model trained and scored on the production data, not yet deployed. gunicorn (2
workers) serves it on a free 127.0.0.1 port; 16 client threads post /prediction for the given
time (one-record and five-record bodies, alternately), and half-way through deployment.py
deploys the new model as version 2. Every answer must be a 200 whose probabilities are exactly
those of the model of the version its model_version names: no failed request, and no answer
mixing one version's number with another's model.

    python bench/load_test.py                 # 30 s, 16 connections (the figure in RELIABILITY.md)
    python bench/load_test.py --seconds 5     # the short version the test suite runs
Prints one JSON object with the figures; exits 1 on any failed or inconsistent answer. Traffic
goes to 127.0.0.1 only, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import requests

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from kill_test import make_project  # noqa: E402

from cycle.local_server import running_server  # noqa: E402
from pipeline.core.config import load_settings  # noqa: E402
from pipeline.core.deployed import read_version, version_dirs  # noqa: E402
from pipeline.core.schema import FEATURES  # noqa: E402

BODIES = [
    {"records": [{"lastmonth_activity": 10, "lastyear_activity": 500, "number_of_employees": 20}]},
    {"records": [{"lastmonth_activity": m, "lastyear_activity": y, "number_of_employees": e}
                 for m, y, e in ((0, 900, 250), (3, 40, 12), (120, 1200, 5), (7, 7, 7),
                                 (55, 300, 1000))]},
]


def prepare(folder: Path) -> Path:
    """Version 1 deployed (practice); a different model trained and scored, not deployed."""
    from ingestion import run_ingestion
    from scoring import run_scoring
    from training import run_training

    make_project(folder)
    settings = load_settings(folder / "config.json")
    run_ingestion(settings)
    run_training(settings)
    run_scoring(settings)
    return settings.config_path


def expected_probabilities(deployment: Path) -> dict[int, list[list[float]]]:
    """For every deployed version, its model's probabilities for each request body."""
    expected = {}
    for number, folder in version_dirs(deployment).items():
        model = read_version(folder).load_model()
        expected[number] = [
            list(model.predict_proba(pd.DataFrame(body["records"])[list(FEATURES)])[:, 1])
            for body in BODIES]
    return expected


def _client(url: str, deadline: float, worker: int, answers: list, lock: threading.Lock) -> None:
    session = requests.Session()
    mine = []
    i = worker
    while time.monotonic() < deadline:
        which = i % len(BODIES)
        started = time.perf_counter()
        try:
            response = session.post(url + "/prediction", json=BODIES[which], timeout=30)
            body = response.json() if response.headers.get("content-type", "").startswith(
                "application/json") else None
            mine.append((which, response.status_code, body, time.perf_counter() - started, None))
        except (requests.RequestException, ValueError) as exc:
            mine.append((which, None, None, time.perf_counter() - started, repr(exc)))
        i += 1
    with lock:
        answers.extend(mine)


def run(seconds: float, connections: int, workdir: Path) -> dict:
    """Serve, load, deploy half-way; the figures."""
    config = prepare(workdir / "project")
    deployment = load_settings(config).deployment_folder
    answers: list = []
    lock = threading.Lock()
    with running_server(config, workers=2) as url:
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=_client, args=(url, deadline, n, answers, lock))
                   for n in range(connections)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(seconds / 2)
        deployed_at = time.monotonic() - started
        deploy = subprocess.run([sys.executable, str(PROJECT / "deployment.py"), "--config",
                                 str(config)], capture_output=True, text=True, timeout=120)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    expected = expected_probabilities(deployment)
    failed = [a for a in answers if a[1] != 200 or a[2] is None]
    mixed = []
    versions: dict[int, int] = {}
    for which, status, body, _, _ in answers:
        if status != 200 or body is None:
            continue
        version = body.get("model_version")
        versions[version] = versions.get(version, 0) + 1
        want = expected.get(version, [None] * len(BODIES))[which]
        if want is None or len(body["probabilities"]) != len(want) or any(
                abs(a - b) > 1e-9 for a, b in zip(body["probabilities"], want, strict=True)):
            mixed.append((version, body))
    latencies = sorted(a[3] for a in answers)
    return {
        "seconds": round(elapsed, 1), "connections": connections, "server_workers": 2,
        "requests": len(answers), "requests_per_second": round(len(answers) / elapsed, 1),
        "failed_requests": len(failed), "inconsistent_answers": len(mixed),
        "answers_by_version": {str(k): v for k, v in sorted(versions.items())},
        "deployed_version_2_at_second": round(deployed_at, 1),
        "deployment_exit": deploy.returncode, "deployment_output": deploy.stdout.strip(),
        "versions_differ": expected.get(1) != expected.get(2),
        "latency_ms_p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
        if latencies else None,
        "first_failures": [a[1:3] + a[4:] for a in failed[:3]],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600 or not 0 < args.connections <= 64:
        parser.error("keep the load bounded: at most 600 s and 64 connections")
    workdir = Path(tempfile.mkdtemp(prefix="load_test-"))
    try:
        figures = run(args.seconds, args.connections, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    ok = (figures["failed_requests"] == 0 and figures["inconsistent_answers"] == 0
          and figures["deployment_exit"] == 0 and set(figures["answers_by_version"]) == {"1", "2"}
          and figures["versions_differ"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
