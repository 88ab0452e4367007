"""Faults: SIGKILL at chosen points, a full or unwritable disk, a damaged deployed model, and
eight cycles started at once. Production must stay consistent and the next cycle must complete.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from app import create_app
from bench import kill_test
from pipeline.core.config import load_settings
from tests.helpers import (
    PROJECT,
    QUIET,
    assert_consistent,
    cycle,
    deployed_f1_on_test,
    immutable,
    practice_template,
    production_template,
)

ONE = {"lastmonth_activity": 10, "lastyear_activity": 500, "number_of_employees": 20}


@pytest.fixture(scope="module")
def practice_deployed(tmp_path_factory, datasets):
    """A project where the practice cycle has deployed version 1 (production not yet run)."""
    return practice_template(tmp_path_factory.mktemp("faults") / "template", datasets, **QUIET,
                             api_url="http://127.0.0.1:9")


@pytest.fixture(scope="module")
def production_deployed(practice_deployed):
    """The same project after the production cycle: version 2 deployed, reports written."""
    return production_template(practice_deployed)


def _failure_lines(stderr: str) -> list[str]:
    """The lines of stderr but the finding the cycle logs before failing here: the practice
    version's estimates do not hold on the source data (a warning, cycle.estimating)."""
    return [line for line in stderr.strip().splitlines()
            if not re.match(r"\S+ WARNING cycle\.estimating: finding: ", line)]


def _copy(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(template, target, symlinks=True)
    return target


# SIGKILL at chosen points ----------------------------------------------------------------------

SIGKILL_POINTS = 4  # the long run (bench/kill_test.py) tries 24


@pytest.fixture(scope="module")
def kill_plan(tmp_path_factory):
    """bench/kill_test.py's starting state and traced cycle, and the points it would try."""
    workdir = tmp_path_factory.mktemp("kill_test")
    template, names, _ = kill_test.prepare(workdir)
    return template, names, kill_test.choose_points(names, SIGKILL_POINTS), workdir


@pytest.mark.slow
def test_the_kill_points_spread_over_the_cycle_and_its_publishing_steps(kill_plan):
    _, names, points, _ = kill_plan
    assert len(points) == SIGKILL_POINTS == len(set(points))
    assert len({names[at - 1].split(".")[0] for at in points}) >= 2
    assert any(names[at - 1].startswith(kill_test.CRITICAL) for at in points)
    assert points[-1] - points[0] > len(names) // 2  # not bunched at one end


@pytest.mark.slow
@pytest.mark.parametrize("k", range(SIGKILL_POINTS))
def test_sigkill_at_a_checkpoint_leaves_production_consistent_and_the_next_cycle_deploys(
        kill_plan, k):
    """One point of the short run of bench/kill_test.py: killed there by SIGKILL, production
    is consistent, and the next cycle deploys version 2 with its reports."""
    template, names, points, workdir = kill_plan
    result = kill_test.try_point(template, names, points[k], workdir)
    assert result["killed"], json.dumps(result, indent=1)
    assert "error" not in result, json.dumps(result, indent=1)
    assert result["ok"], json.dumps(result, indent=1)


# A full disk, an unwritable folder --------------------------------------------------------------

@contextmanager
def full_tmpfs(folder: Path):
    """Mount a small tmpfs over folder, holding what it held and then full; skips where mounting
    is not allowed (it needs root, in a sandbox that permits it)."""
    held = folder.parent / f".{folder.name}.held"
    shutil.move(folder, held)
    folder.mkdir()
    size = sum(p.stat().st_size for p in held.rglob("*") if p.is_file()) + (1 << 20)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        folder.rmdir()
        shutil.move(held, folder)
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        shutil.copytree(held, folder, symlinks=True, dirs_exist_ok=True)
        # Fill it up but for a few hundred bytes: the cycle's next write there fails.
        with open(folder / "filler", "wb", buffering=0) as handle:
            try:
                while handle.write(b"\0" * 4096):
                    pass
            except OSError:
                pass
        os.truncate(folder / "filler", max(0, (folder / "filler").stat().st_size - 512))
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("full", ["ingesteddata", "models", "production_deployment"])
def test_a_full_disk_mid_cycle_fails_clearly_and_leaves_production_untouched(
        practice_deployed, tmp_path, full):
    project = _copy(practice_deployed, tmp_path)
    (project / "models").mkdir(exist_ok=True)
    deployment = project / "production_deployment"
    before = {p.name: p.read_bytes() for p in (deployment / "current").iterdir()}
    with full_tmpfs(project / full):
        proc = cycle(project, "config.json", "--no-api", check=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert len(_failure_lines(proc.stderr)) == 1, proc.stderr
        assert "No space left on device" in proc.stderr
        assert assert_consistent(deployment).version == 1
        assert {p.name: p.read_bytes() for p in (deployment / "current").iterdir()} == before
        assert not list((deployment / "versions").glob(".staging-*"))
        (project / full / "filler").unlink()  # space again: the next cycle does the work
        assert "deployed version 2" in cycle(project, "config.json", "--no-api").stdout
        assert_consistent(deployment)


@pytest.mark.slow
def test_an_unwritable_model_folder_fails_clearly_and_leaves_production_untouched(
        practice_deployed, tmp_path):
    project = _copy(practice_deployed, tmp_path)
    with immutable(project / "models"):
        proc = cycle(project, "config.json", "--no-api", check=False)
        assert proc.returncode == 1
        assert len(_failure_lines(proc.stderr)) == 1, proc.stderr
        assert "production unchanged" in proc.stderr and "Operation not permitted" in proc.stderr
        assert assert_consistent(project / "production_deployment").version == 1
    assert "deployed version 2" in cycle(project, "config.json", "--no-api").stdout


# A damaged deployed model ---------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: same size, same pickle structure
    path.write_bytes(bytes(data))


DAMAGES = {"missing": Path.unlink, "truncated": _truncate, "tampered": _tamper}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_deployed_model_is_refused_reported_and_rolled_back(
        production_deployed, tmp_path, damage, monkeypatch):
    project = _copy(production_deployed, tmp_path)
    settings = load_settings(project / "config.json")
    cycle(project, "config.json", "--no-api")  # the copy's folders are new to the record
    assert "nothing new" in cycle(project, "config.json", "--no-api").stdout
    DAMAGES[damage]((project / "production_deployment" / "current" / "trainedmodel.pkl").resolve()
                    if damage != "missing" else
                    project / "production_deployment" / "versions" / "v0002" / "trainedmodel.pkl")

    # The API answers 503 with the reason, and never unpickles the file.
    def refuse(*args, **kwargs):
        raise AssertionError("the damaged model was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    client = create_app(settings.config_path).test_client()
    health = client.get("/health")
    assert health.status_code == 503
    assert re.search("missing|does not match", health.get_json()["error"])
    assert client.post("/prediction", json={"records": [ONE]}).status_code == 503
    monkeypatch.undo()

    # fullprocess.py says so in one line and exits 1, even when there is nothing new.
    proc = cycle(project, "config.json", "--no-api", check=False)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "version 2" in proc.stderr and "deployment.py --rollback" in proc.stderr

    # deployment.py --rollback recovers version 1; the API serves it; the cycle is quiet again.
    rolled = subprocess.run([sys.executable, str(PROJECT / "deployment.py"), "--config",
                             str(settings.config_path), "--rollback"], capture_output=True,
                            text=True, timeout=120)
    assert rolled.returncode == 0, rolled.stderr
    assert "rolled back to version 1" in rolled.stdout
    assert assert_consistent(settings.deployment_folder).version == 1
    answer = client.post("/prediction", json={"records": [ONE]})
    assert answer.status_code == 200 and answer.get_json()["model_version"] == 1
    # The next cycle brings the reports to version 1, and the one after is quiet again.
    assert "reports refreshed for deployed version 1" in cycle(project, "config.json",
                                                               "--no-api").stdout
    assert "nothing new" in cycle(project, "config.json", "--no-api").stdout


# Eight cycles at once -------------------------------------------------------------------------

@pytest.mark.slow
def test_eight_cycles_started_at_once_one_works_the_others_exit_0(practice_deployed, tmp_path):
    project = _copy(practice_deployed, tmp_path)
    command = [sys.executable, str(PROJECT / "fullprocess.py"), "--config",
               str(project / "config.json"), "--no-api"]
    procs = [subprocess.Popen(command, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(8)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outs
    texts = [out for out, _ in outs]
    assert sum("deployed version 2" in t for t in texts) == 1, texts
    assert all("deployed version 2" in t or "another cycle is running" in t or "nothing new" in t
               for t in texts), texts
    versions = sorted(p.name for p in (project / "production_deployment/versions").iterdir()
                      if not p.name.startswith("."))
    assert versions == ["v0001", "v0002"]
    deployed = assert_consistent(project / "production_deployment")
    assert deployed.score == pytest.approx(deployed_f1_on_test(project))
    assert "nothing new" in cycle(project, "config.json", "--no-api").stdout
