"""Nothing outlives a killed cycle: a re-deploying cycle is SIGKILLed at 18 points, from
ingestion to the API's answers (called in the cycle's process when no server of its deployment
runs) and to the stage scripts that diagnostics times; and a process serving the API on
loopback for a while (cycle.local_server: tools, benchmarks, tests) at 6 points, from starting
the server to stopping it. After each kill no process the killed one started is left.

A process "the killed one started" is found through /proc: its command line names the
project's folder (a gunicorn carries the config on its command line) or its environment holds
a token given to that run alone (every child inherits it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cycle.local_server import free_port
from cycle.run import run_cycle
from pipeline.core.config import load_settings
from pipeline.core.processes import dies_with_this_process
from tests.helpers import CONFIG, PRACTICE, PROJECT, QUIET, write_config

pytestmark = pytest.mark.skipif(dies_with_this_process() is None,
                                reason="no parent-death signal on this platform (Linux only)")

# Entering the Kth call of each (bench/killpoint.py --at-call): every phase of the cycle, then
# its calls of the API.
POINTS = (
    "ingestion.run_ingestion",
    "training.run_training",
    "scoring.run_scoring",
    "pipeline.core.publish.switch_to",
    "diagnostics.run_diagnostics",
    "reporting.build_report",
    "cycle.steps.call_api_endpoints",
    "cycle.in_process.call_in_process",  # no server answered /health: the app in the cycle
    "pipeline.api.client.call_endpoints",
    "requests.Session.request#2",  # 1 is the look for a server at api_url: none; 2 is /prediction
    "requests.Session.request#4",  # the 3rd endpoint
    "requests.Session.request#7",  # the 6th and last
    "pipeline.api.client.write_returns",
    "cycle.changes.save_state",
)
# A process serving the API for a while, killed on entering the Kth call of each: the server
# about to start, loading, booting, serving, about to be stopped, stopping.
SERVER_POINTS = (
    "cycle.local_server.free_port",
    "cycle.local_server.answers#1",  # just started: gunicorn is loading
    "cycle.local_server.answers#2",  # booting, its worker being forked
    "__main__.fetch#2",  # serving: it answered the first request
    "os.killpg",  # about to stop it
    "subprocess.Popen.wait",  # stopping: SIGTERM sent, its worker finishing
)
# What such a process runs (killpoint.kill_at_call arms the point first): a server on the
# config for a few requests, as tools/screenshots.py and bench/load_test.py use one.
SERVING = """\
import sys, urllib.request
from pathlib import Path
sys.path[:0] = [{project!r}, {bench!r}]
def fetch(url):
    return urllib.request.urlopen(url + "/health", timeout=10).read()
from killpoint import kill_at_call
kill_at_call({point!r})
from cycle.local_server import running_server
with running_server(Path({config!r}), workers=2) as url:
    for _ in range(3):
        fetch(url)
"""
# Killed while diagnostics runs this stage script on a scratch copy (measure_execution_time).
TIMED = ("ingestion.py", "training.py", "scoring.py", "scoring.py")


@pytest.fixture(scope="module")
def template(tmp_path_factory, datasets) -> Path:
    """A project where practice deployed version 1; production's cycle will re-deploy."""
    from pipeline.data.datagen import to_csv_bytes

    root = tmp_path_factory.mktemp("kill") / "template"
    for relative, frame in datasets.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(to_csv_bytes(frame))
    # Nothing serves api_url: the cycle calls the app in its own process.
    url = f"http://127.0.0.1:{free_port()}"
    write_config(root, "config.json", **CONFIG, **QUIET, api_url=url)
    write_config(root, "config.practice.json", **PRACTICE, **QUIET, api_url=url)
    run_cycle(load_settings(root / "config.practice.json"), call_api=False)
    return root


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # gone, or not ours to read
        return b""


def started_by(folder: Path, token: str) -> list[str]:
    """Live processes whose command line names folder or whose environment holds token."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        stat = _read(f"/proc/{pid}/stat")
        if not stat or stat.rsplit(b")", 1)[-1].split()[0] == b"Z":
            continue  # gone, or dead and waiting to be reaped
        command = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ")
        if str(folder).encode() in command or token.encode() in _read(f"/proc/{pid}/environ"):
            found.append(f"{pid}: {command.decode(errors='replace')[:200]}")
    return found


def none_left(folder: Path, token: str, wait: float = 10.0) -> list[str]:
    """What is still alive after up to ``wait`` seconds (the kernel's signals are immediate, but
    a process takes a moment to go)."""
    deadline = time.monotonic() + wait
    while (left := started_by(folder, token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _environment(folder: Path, token: str) -> dict:
    (folder / "tmp").mkdir()
    return dict(os.environ, RISK_LOG_LEVEL="WARNING", KILL_TEST_TOKEN=token,
                TMPDIR=str(folder / "tmp"))  # a killed cycle's scratch copies stay in folder


def kill_at_call(template: Path, workdir: Path, point: str) -> dict:
    """A copy of the template, its production cycle killed on entering ``point``."""
    folder = workdir / point.replace("#", "-")
    shutil.copytree(template, folder, symlinks=True)
    token = uuid.uuid4().hex
    proc = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "killpoint.py"), "--at-call", point, "--",
         "--config", str(folder / "config.json")], cwd="/", capture_output=True, text=True,
        timeout=300, env=_environment(folder, token))
    return {"point": point, "exit": proc.returncode, "left": none_left(folder, token),
            "output": (proc.stdout + proc.stderr)[-500:]}


def kill_serving(template: Path, workdir: Path, point: str) -> dict:
    """A process serving the template's API on loopback, killed on entering ``point``."""
    folder = workdir / ("serving-" + point.replace("#", "-"))
    shutil.copytree(template, folder, symlinks=True)
    token = uuid.uuid4().hex
    script = SERVING.format(project=str(PROJECT), bench=str(PROJECT / "bench"), point=point,
                            config=str(folder / "config.json"))
    proc = subprocess.run([sys.executable, "-c", script], cwd="/", capture_output=True,
                          text=True, timeout=300, env=_environment(folder, token))
    return {"point": f"serving: {point}", "exit": proc.returncode,
            "left": none_left(folder, token), "output": (proc.stdout + proc.stderr)[-500:]}


def _children(pid: int) -> list[str]:
    found = []
    for child in filter(str.isdigit, os.listdir("/proc")):
        stat = _read(f"/proc/{child}/stat")
        if stat and int(stat.rsplit(b")", 1)[-1].split()[1]) == pid:
            found.append(_read(f"/proc/{child}/cmdline").replace(b"\0", b" ").decode())
    return found


def kill_while_timed(template: Path, workdir: Path, script: str, nth: int) -> dict:
    """A copy whose cycle re-runs the stage scripts to time them, killed while ``script`` runs
    (``nth`` tenths of a second after it started)."""
    folder = workdir / f"timed-{script}-{nth}"
    shutil.copytree(template, folder, symlinks=True)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    write_config(folder, "config.json", **dict(config, measure_execution_time="rerun"))
    token = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, str(PROJECT / "fullprocess.py"), "--config",
                             str(folder / "config.json")], cwd="/", stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_environment(folder, token))
    seen = False
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            # The script's own path: the scratch copy's paths hold every script's name.
            if any(f"{PROJECT / script} " in command for command in _children(proc.pid)):
                seen = True
                time.sleep(nth / 10)
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return {"point": f"while diagnostics times {script}", "exit": proc.returncode if seen
            else f"{script} never ran", "left": none_left(folder, token), "output": ""}


def test_a_child_started_with_the_signal_dies_with_its_killed_parent(tmp_path):
    # The parent starts two sleepers, one with the signal and one without, then kills itself.
    script = (
        "import os, subprocess, sys\n"
        "from pipeline.core.processes import dies_with_this_process\n"
        "a = subprocess.Popen(['sleep', '60'], preexec_fn=dies_with_this_process())\n"
        "b = subprocess.Popen(['sleep', '61'], start_new_session=True)\n"
        "print(a.pid, b.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n")
    out = tmp_path / "pids"
    with open(out, "w") as handle:  # not a pipe: the orphan would hold it open
        proc = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, stdout=handle,
                              timeout=60)
    assert proc.returncode == -signal.SIGKILL
    protected, unprotected = map(int, out.read_text().split())
    try:
        deadline = time.monotonic() + 10
        while _alive(protected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(protected)
        assert _alive(unprotected)  # as the cycle's server used to: orphaned, still running
    finally:
        os.kill(unprotected, signal.SIGKILL)


def _alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(b")", 1)[-1].split()[0] != b"Z"


JOBS = [(kill_at_call, point) for point in POINTS]
JOBS += [(kill_while_timed, script, nth) for nth, script in enumerate(TIMED)]
JOBS += [(kill_serving, point) for point in SERVER_POINTS]
GROUP = 6  # points per test: each test kills its points three at a time


@pytest.mark.slow
@pytest.mark.parametrize("first", range(0, len(JOBS), GROUP),
                         ids=lambda first: f"points{first + 1}-{min(first + GROUP, len(JOBS))}")
def test_no_process_outlives_a_cycle_or_a_server_killed_at_24_points(template, tmp_path, first):
    jobs = JOBS[first:first + GROUP]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda job: job[0](template, tmp_path, *job[1:]), jobs))
    problems = [r for r in results if r["exit"] != -signal.SIGKILL or r["left"]]
    assert problems == [], json.dumps(problems, indent=1)


@pytest.mark.slow
def test_the_check_finds_a_server_left_behind(template, tmp_path):
    """The search above can fail: a server started without the parent-death signal survives
    its killed parent, and is found."""
    folder = tmp_path / "orphan"
    shutil.copytree(template, folder, symlinks=True)
    token = uuid.uuid4().hex
    # A parent that starts a gunicorn as the cycle used to (own session, nothing else), then dies.
    script = (
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-m', 'gunicorn', '--bind', "
        f"'127.0.0.1:{free_port()}', '--env', 'RISK_CONFIG={folder / 'config.json'}', "
        "'wsgi:app'], start_new_session=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL)\n"
        "time.sleep(1.5)\nos.kill(os.getpid(), 9)\n")
    parent = subprocess.run([sys.executable, "-c", script], cwd=PROJECT,
                            env=_environment(folder, token))
    assert parent.returncode == -signal.SIGKILL
    left = none_left(folder, token, wait=1.0)
    try:
        assert left, "an orphaned server was not found"
    finally:
        for line in started_by(folder, token):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
