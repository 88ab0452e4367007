"""Faults of whole cycles, alerted to a real webhook and a real SMTP server on loopback.

Each fault (a missing input folder, a config made invalid, an unwritable model folder, a crash
inside training, a killed cycle) gives exactly one cycle_failed however many cycles fail, and
its repair exactly one recovered; a drifting batch gives drift_found and deployed, a worse
retrained model deploy_refused; a receiver that hangs or refuses costs a cycle a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from app import create_app
from pipeline.watch import alerts, files, ledger
from pipeline.watch.deliver import TIMEOUT
from tests.helpers import (
    CONFIG,
    PROJECT,
    QUIET,
    cycle,
    immutable,
    practice_template,
    production_template,
    write_config,
)
from tests.receivers import closed_port, smtp_server, wait_for, webhook

pytestmark = pytest.mark.slow
FAST = {**QUIET, "api_url": "http://127.0.0.1:9", "model": {"family": "logistic"}}


@pytest.fixture(scope="module")
def receivers():
    """One webhook and one SMTP server for the module; each test starts with them empty."""
    with webhook() as hook, smtp_server() as (mailbox, port):
        yield hook, mailbox, port


@pytest.fixture
def hook(receivers):
    hook, mailbox, _ = receivers
    hook.mode = "ok"
    hook.received.clear()
    mailbox.messages.clear()
    return hook


@pytest.fixture(scope="module")
def practice_deployed(tmp_path_factory, datasets):
    """Version 1 deployed by the practice cycle; the production data not yet seen."""
    return practice_template(tmp_path_factory.mktemp("watch") / "template", datasets, **FAST)


@pytest.fixture(scope="module")
def production_deployed(practice_deployed):
    """The same after the production cycle: version 2 deployed, nothing new."""
    return production_template(practice_deployed)


def _project(template, tmp_path, receivers, **extra):
    """A copy of template whose production config alerts the module's receivers."""
    hook, _, port = receivers
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    write_config(root, "config.json", **CONFIG, **FAST, alert_webhook_url=hook.url,
                 alert_email_to="ops@example.org", alert_email_from="risk@example.org",
                 smtp_host="127.0.0.1", smtp_port=port, **extra)
    return root


def _cycle(root, ok=True):
    proc = cycle(root, "config.json", "--no-api", check=False)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


def _received(hook, mailbox=None, count=None) -> list[str]:
    """The events the webhook got (waiting for count of them), the e-mails agreeing."""
    if count is not None:
        wait_for(hook.received, count)
    got = hook.events()
    if mailbox is not None:
        subjects = [m["text"].split("[risk] ", 1)[1].split(":", 1)[0] for m in
                    wait_for(mailbox.messages, len(got))]
        assert subjects == got
    return got


def test_a_config_made_invalid_alerts_once_with_the_destinations_kept(
        production_deployed, tmp_path, receivers, hook):
    root = _project(production_deployed, tmp_path, receivers)
    _cycle(root)  # the first cycle of the copy: recorded, nothing to say
    good = (root / "config.json").read_text()
    (root / "config.json").write_text(good.replace('"model"', '"keep_versions": 0, "model"'))
    for _ in range(10):
        assert "keep_versions" in _cycle(root, ok=False).stderr
    assert _received(hook, receivers[1], 1) == ["cycle_failed"]
    assert "keep_versions" in hook.received[0]["body"]["text"]
    record = ledger.read(ledger.paths(root / "config.json")[0])
    assert record["failed_in_a_row"] == 10 and record["runs"]["failed"] == 10
    (root / "config.json").write_text(good)
    _cycle(root)
    _cycle(root)
    assert _received(hook, receivers[1], 2) == ["cycle_failed", "recovered"]
    assert ledger.read(ledger.paths(root / "config.json")[0])["failed_in_a_row"] == 0


def test_a_missing_input_folder_alerts_once_and_health_says_so(production_deployed, tmp_path,
                                                               receivers, hook):
    root = _project(production_deployed, tmp_path, receivers)
    _cycle(root)
    (root / "sourcedata").rename(root / "sourcedata.away")
    for _ in range(3):
        _cycle(root, ok=False)
    assert _received(hook, receivers[1], 1) == ["cycle_failed"]
    health = create_app(root / "config.json").test_client().get("/health")
    assert health.status_code == 503
    assert "the last 3 cycles failed" in health.get_json()["error"]
    (root / "sourcedata.away").rename(root / "sourcedata")
    assert "nothing new" in _cycle(root).stdout
    _cycle(root)
    assert _received(hook, receivers[1], 2) == ["cycle_failed", "recovered"]
    assert create_app(root / "config.json").test_client().get("/health").status_code == 200


def test_an_unwritable_model_folder_alerts_once_then_the_repair_deploys(
        practice_deployed, tmp_path, receivers, hook):
    root = _project(practice_deployed, tmp_path, receivers)
    with immutable(root / "models"):
        for _ in range(2):
            assert "production unchanged" in _cycle(root, ok=False).stderr
    # Each failing cycle found the drift again before it failed: announced once.
    assert _received(hook, receivers[1], 2) == ["drift_found", "cycle_failed"]
    assert "deployed version 2" in _cycle(root).stdout
    assert _received(hook, receivers[1], 4) == ["drift_found", "cycle_failed", "deployed",
                                                "recovered"]


def test_a_crash_inside_training_is_recorded_and_alerted_once(practice_deployed, tmp_path,
                                                              receivers, hook, monkeypatch):
    import cycle.steps
    from cycle.run import main

    root = _project(practice_deployed, tmp_path, receivers)
    argv = ["--config", str(root / "config.json"), "--no-api"]

    def crash(settings):
        raise RuntimeError("the training crashed")

    monkeypatch.setattr(cycle.steps, "run_training", crash)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="the training crashed"):
            main(argv, "a cycle")
    assert _received(hook, receivers[1], 2) == ["drift_found", "cycle_failed"]
    assert "RuntimeError: the training crashed" in hook.received[1]["body"]["text"]
    monkeypatch.undo()
    assert main(argv, "a cycle") == 0
    assert _received(hook, receivers[1], 4) == ["drift_found", "cycle_failed", "deployed",
                                                "recovered"]
    deployed = hook.received[2]["body"]
    assert deployed["model_version"] == 2 and deployed["details"]["version"] == 2


def test_a_killed_cycle_is_found_by_the_next_which_alerts_once_each(practice_deployed, tmp_path,
                                                                    receivers, hook):
    root = _project(practice_deployed, tmp_path, receivers)
    record_path = ledger.paths(root / "config.json")[0]
    proc = subprocess.Popen([sys.executable, str(PROJECT / "fullprocess.py"), "--config",
                             str(root / "config.json"), "--no-api"], cwd="/",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while (ledger.read(record_path).get("running") or {}).get("pid") != proc.pid:
            assert proc.poll() is None and time.monotonic() < deadline, "never started work"
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert hook.received == []  # a killed cycle says nothing itself
    assert "deployed version 2" in _cycle(root).stdout
    assert _received(hook, receivers[1], 4) == ["cycle_failed", "drift_found", "deployed",
                                                "recovered"]
    assert "never finished" in hook.received[0]["body"]["text"]
    record = ledger.read(record_path)
    assert record["runs"] == {"failed": 1, "redeployed": 1} and "running" not in record


def test_a_worse_retrained_model_is_refused_and_said_so(production_deployed, tmp_path,
                                                       receivers, hook, datasets):
    root = _project(production_deployed, tmp_path, receivers)
    flipped = datasets["sourcedata/dataset3.csv"].copy()
    flipped["corporation"] = "x" + flipped["corporation"].str[1:]
    flipped["exited"] = 1 - flipped["exited"]
    pd.concat([flipped] * 3).to_csv(root / "sourcedata" / "flipped.csv", index=False)
    assert "retrained model not deployed" in _cycle(root).stdout
    assert _received(hook, receivers[1], 2) == ["drift_found", "deploy_refused"]
    refused = hook.received[1]["body"]
    assert refused["details"]["version"] == 2 and "which stays" in refused["text"]
    assert ledger.read(ledger.paths(root / "config.json")[0])["runs"] == {"refused": 1}


def test_a_stopped_cron_is_noticed_by_the_next_cycle(production_deployed, tmp_path, receivers,
                                                     hook):
    root = _project(production_deployed, tmp_path, receivers)
    _cycle(root)
    path = ledger.paths(root / "config.json")[0]
    record = ledger.read(path)
    record["last_success"]["time"] -= 3 * 3600  # cron stopped three hours ago
    files.write(path, record)
    assert "nothing new" in _cycle(root).stdout
    assert _received(hook, receivers[1], 2) == ["stale", "recovered"]


def test_a_receiver_that_hangs_or_refuses_costs_the_cycle_a_few_seconds(
        production_deployed, tmp_path, receivers, hook):
    root = _project(production_deployed, tmp_path, receivers)
    _cycle(root)
    (root / "sourcedata").rename(root / "sourcedata.away")  # every cycle fails
    failing = json.loads((root / "config.json").read_text())

    def timed() -> float:
        started = time.monotonic()
        _cycle(root, ok=False)  # failing for its own reason, never for an alert
        return time.monotonic() - started

    hook.mode = "hang"
    hung = timed()  # cycle_failed raised: the webhook hangs, the e-mail goes
    write_config(root, "config.json",
                 **dict(failing, alert_webhook_url=f"http://127.0.0.1:{closed_port()}/"))
    refused = timed()  # the pending alert tried again: refused
    assert len(alerts.read_state(root / "config.json")["pending"]) == 1
    hook.mode = "ok"
    write_config(root, "config.json", **failing)
    usual = timed()  # delivered at last
    assert alerts.read_state(root / "config.json")["pending"] == []
    print(f"failing cycle: {usual:.2f} s; the webhook hanging {hung:.2f} s, refusing "
          f"{refused:.2f} s")
    assert hung < usual + TIMEOUT + 2 and refused < usual + 2, (usual, hung, refused)
    assert _received(hook, receivers[1], 1) == ["cycle_failed"]  # once, however many tries
