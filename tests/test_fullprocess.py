"""fullprocess.py: the monitoring cycle end to end, on temporary copies of the project."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pandas as pd
import pytest

from cycle import quick
from cycle.local_server import free_port
from cycle.run import run_cycle
from pipeline.core.config import load_settings
from pipeline.core.deployed import current_deployment
from pipeline.core.history import History
from pipeline.core.schema import FEATURES
from tests.helpers import (
    CONFIG,
    PRACTICE,
    PROJECT,
    QUIET,
    SHARED_COURSE_DATA,
    assert_consistent,
    copy_project,
    cycle,
    deployed_f1_on_test,
    needs_course_data,
    write_config,
    write_project,
)


def write_cycle_configs(root):
    """Both configs of root, set never to reach the network or port 8000; returns root."""
    url = f"http://127.0.0.1:{free_port()}"
    write_config(root, "config.json", **CONFIG, **QUIET, api_url=url)
    write_config(root, "config.practice.json", **PRACTICE, **QUIET, api_url=url)
    return root


@pytest.fixture
def cycle_project(project):
    """The temporary project, with configs that never reach the network or port 8000."""
    return write_cycle_configs(project)


def runs(project, stage="fullprocess"):
    return History(project / "history.sqlite").query(
        "SELECT * FROM runs WHERE stage = ? ORDER BY id", (stage,))


@pytest.mark.slow
def test_fresh_install_deploys_a_first_version(cycle_project):
    out = cycle(cycle_project, "config.json", "--no-api").stdout
    assert "first model: deployed version 1" in out
    deployed = assert_consistent(cycle_project / "production_deployment")
    assert deployed.score == pytest.approx(deployed_f1_on_test(cycle_project))


@pytest.mark.slow
def test_practice_then_production_detects_drift_redeploys_and_reports(cycle_project):
    assert "deployed version 1" in cycle(cycle_project, "config.practice.json", "--no-api").stdout
    out = cycle(cycle_project, "config.json").stdout
    assert "loss drift: deployed version 2" in out
    deployed = assert_consistent(cycle_project / "production_deployment")
    assert deployed.version == 2
    assert deployed.score == pytest.approx(deployed_f1_on_test(cycle_project))
    for name in ("confusionmatrix.png", "report.pdf", "riskscores.csv", "apireturns.txt",
                 "diagnostics.json"):
        assert (cycle_project / "models" / name).stat().st_size > 0, name
    returns = json.loads((cycle_project / "models/apireturns.txt").read_text())
    assert returns["url"] == "http://in-process"  # nothing serves api_url: no server started
    answers = returns["answers"]
    assert answers["/health"]["model_version"] == 2
    assert answers["/scoring"]["f1"] == pytest.approx(deployed.score)
    drift = History(cycle_project / "history.sqlite").query(
        "SELECT name, value FROM metrics WHERE stage = 'drift'")
    values = {row["name"]: row["value"] for row in drift}
    assert values["drift"] == 1.0 and values["new_f1"] < values["deployed_f1"]
    # The loss test's figures: the practice model's log-loss rose far past its reference.
    assert values["new_loss"] > values["reference_loss"] * 1.02 and values["p_value"] < 0.01
    assert values["statistic"] > 0 and values["loss_rise"] > 0
    data = History(cycle_project / "history.sqlite").query(
        "SELECT name FROM metrics WHERE stage = 'data_drift'")
    assert {row["name"] for row in data} >= {f"{f}_psi" for f in FEATURES}


@pytest.mark.slow
def test_a_repeated_cycle_does_nothing_and_takes_the_quick_path(cycle_project):
    cycle(cycle_project, "config.json", "--no-api")
    before = runs(cycle_project)
    out = cycle(cycle_project, "config.json", "--no-api").stdout
    assert "nothing new" in out
    assert runs(cycle_project) == before
    assert current_deployment(cycle_project / "production_deployment").version == 1


def test_a_config_edited_into_a_wrong_one_fails_at_the_next_cycle(cycle_project):
    """The quick path never loads the config: it must not say "nothing new" for one that no
    full cycle has checked, or cron would hide the error until new data came."""
    cycle(cycle_project, "config.json", "--no-api")
    assert "nothing new" in cycle(cycle_project, "config.json", "--no-api").stdout
    config = cycle_project / "config.json"
    raw = json.loads(config.read_text())
    config.write_text(json.dumps({**raw, "data_drift_decides": "false"}))
    failed = cycle(cycle_project, "config.json", "--no-api", check=False)
    assert failed.returncode == 1 and "data_drift_decides" in failed.stderr
    config.write_text(json.dumps({**raw, "data_drift_decides": False}))  # fixed: valid again
    assert not _quick(_settings(cycle_project))  # not checked yet: the full cycle answers
    assert "nothing new" in cycle(cycle_project, "config.json", "--no-api").stdout
    assert _quick(_settings(cycle_project))  # checked: the quick path answers again


def _settings(project):
    return load_settings(project / "config.json")


@pytest.mark.parametrize("through_link", [False, True])
def test_quick_paths_resolve_as_the_config_module_does(cycle_project, monkeypatch, tmp_path_factory,
                                                      through_link):
    monkeypatch.chdir("/")
    config = cycle_project / "config.json"
    if through_link:  # e.g. /srv/app -> releases/x
        link = tmp_path_factory.mktemp("srv") / "app"
        link.symlink_to(cycle_project)
        config = link / "config.json"
    paths = quick.quick_paths(str(config))
    settings = load_settings(config)
    assert os.path.abspath(paths["input_folder_path"]) == str(settings.input_folder)
    assert os.path.abspath(paths["output_folder_path"]) == str(settings.output_folder)
    assert os.path.abspath(paths["prod_deployment_path"]) == str(settings.deployment_folder)


@pytest.fixture(scope="module")
def production_template(tmp_path_factory, datasets):
    """A project after a first in-process cycle with the production config, made once per
    module; tests get copies (fixture production), never this folder."""
    root = write_cycle_configs(write_project(tmp_path_factory.mktemp("production"), datasets))
    run_cycle(_settings(root), call_api=False)
    return root


@pytest.fixture
def production(cycle_project, production_template):
    """The production config after a first in-process cycle."""
    return copy_project(production_template, cycle_project)


def _quick(settings):
    return quick.nothing_new(quick.quick_paths(str(settings.config_path)))


def test_a_new_file_is_picked_up(production, datasets):
    assert _quick(production)
    extra = datasets["testdata/testdata.csv"].head(300)
    extra.to_csv(production.input_folder / "dataset5.csv", index=False)
    assert not _quick(production)
    assert "nothing new" not in run_cycle(production, call_api=False)
    checked = History(production.history_db).query(
        "SELECT data, rows FROM scores WHERE purpose = 'drift'")
    assert checked == [{"data": "dataset5.csv", "rows": 300}]
    assert _quick(production)


def test_a_file_changed_in_place_is_picked_up(production):
    path = production.input_folder / "dataset4.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + "zzzz,1,2,3,1\n")
    summary = run_cycle(production, call_api=False)
    assert "nothing new" not in summary
    checked = History(production.history_db).query("SELECT data FROM scores "
                                                   "WHERE purpose = 'drift'")
    assert checked == [{"data": "dataset4.csv"}]


def test_a_touched_but_unchanged_file_is_not_new(production):
    path = production.input_folder / "dataset3.csv"
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    assert not _quick(production)  # the quick check cannot know: the checksum decides
    assert "nothing new" in run_cycle(production, call_api=False)
    assert _quick(production)  # and the new time is remembered


def test_a_vanished_file_rebuilds_the_data_without_a_drift_check(production):
    (production.input_folder / "dataset4.csv").unlink()
    assert not _quick(production)
    summary = run_cycle(production, call_api=False)
    assert "no usable new rows" in summary
    final = pd.read_csv(production.output_folder / "finaldata.csv")
    assert len(final) == len(pd.read_csv(production.input_folder / "dataset3.csv"))
    assert _quick(production)


def test_no_drift_data_is_checked_once_not_twice(production, datasets):
    # New rows of the period the deployed model was trained on: no drift.
    from pipeline.data.datagen import bulk_records

    bulk_records(2_000, seed=5, change=1.0).to_csv(production.input_folder / "holdout.csv",
                                                   index=False)
    summary = run_cycle(production, call_api=False)
    assert summary.startswith("no drift")
    assert "version 1 stays" in summary
    assert "nothing new" in run_cycle(production, call_api=False)
    drift_checks = History(production.history_db).query(
        "SELECT * FROM scores WHERE purpose = 'drift'")
    assert len(drift_checks) == 1
    assert current_deployment(production.deployment_folder).version == 1
    deployed_record = (production.deployment_folder / "ingestedfiles.txt").read_text()
    assert "holdout.csv" not in deployed_record


def test_the_loss_test_judges_rows_where_nobody_left(production, datasets):
    """F1 says nothing of rows without an exit; log-loss does, so 30 such rows are judged."""
    batch = datasets["testdata/testdata.csv"].head(30).copy()
    batch["exited"] = 0
    batch.to_csv(production.input_folder / "stayers.csv", index=False)
    summary = run_cycle(production, call_api=False)
    assert summary.startswith(("no drift (log-loss ", "loss drift: "))
    history = History(production.history_db)
    tested = history.query("SELECT value FROM metrics WHERE stage = 'drift' AND name = 'p_value'")
    assert len(tested) == 1 and 0 <= tested[0]["value"] <= 1
    # ... and no F1 of 0 joins the score history the F1 tests judge by.
    assert history.query("SELECT * FROM scores WHERE purpose = 'drift'") == []


def test_refused_entries_do_not_make_every_cycle_work(production):
    (production.input_folder / "folder.csv").mkdir()
    (production.input_folder / "link.csv").symlink_to(production.test_file)
    run_cycle(production, call_api=False)
    assert _quick(production)


@pytest.mark.slow
def test_two_cycles_started_together_one_works_one_exits_0(cycle_project):
    command = [sys.executable, str(PROJECT / "fullprocess.py"), "--config",
               str(cycle_project / "config.json"), "--no-api"]
    procs = [subprocess.Popen(command, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    texts = [out for out, _ in outs]
    assert sum("another cycle is running" in t for t in texts) == 1, texts
    assert sum("deployed version 1" in t for t in texts) == 1, texts
    assert sorted(p.name for p in (cycle_project / "production_deployment/versions").iterdir()
                  if not p.name.startswith(".")) == ["v0001"]


@pytest.mark.slow
def test_a_cycle_killed_at_any_point_leaves_production_consistent(cycle_project):
    cycle(cycle_project, "config.practice.json", "--no-api")
    command = [sys.executable, str(PROJECT / "fullprocess.py"), "--config",
               str(cycle_project / "config.json"), "--no-api"]
    folder = cycle_project / "production_deployment"
    for delay in (0.05, 0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0):
        proc = subprocess.Popen(command, cwd="/", stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert_consistent(folder)
    cycle(cycle_project, "config.json", "--no-api")
    deployed = assert_consistent(folder)
    assert deployed.version >= 2
    assert deployed.score == pytest.approx(deployed_f1_on_test(cycle_project))
    assert "nothing new" in cycle(cycle_project, "config.json", "--no-api").stdout


@pytest.mark.slow
@needs_course_data
def test_course_data_practice_then_production(tmp_path):
    shutil.copytree(SHARED_COURSE_DATA, tmp_path, dirs_exist_ok=True)
    write_config(tmp_path, "config.json", **CONFIG, **QUIET)
    write_config(tmp_path, "config.practice.json", **PRACTICE, **QUIET)
    cycle(tmp_path, "config.practice.json", "--no-api")
    out = cycle(tmp_path, "config.json", "--no-api").stdout
    # The practice model was trained on 36 rows; on the 26 new source rows its log-loss is
    # higher than its reference, but 26 rows against 36 cannot tell that from noise: no drift,
    # version 1 stays. (The course's raw test agrees, for another reason: the recorded F1 is
    # 1/3 on 5 test rows, and it scores higher on the new rows.)
    assert out.startswith("no drift (log-loss ") and "on 26 new rows" in out
    assert assert_consistent(tmp_path / "production_deployment").version == 1


def test_reports_left_behind_by_a_dead_cycle_are_refreshed(cycle_project, monkeypatch):
    import reporting
    from cycle.errors import CycleError
    from deployment import rollback

    practice, production = (load_settings(cycle_project / name)
                            for name in ("config.practice.json", "config.json"))
    run_cycle(practice, call_api=False)
    assert run_cycle(production, call_api=False).startswith("loss drift")
    assert _quick(production)
    # As if a cycle had deployed version 1 again and died before reporting: the reports
    # describe version 2 while version 1 serves.
    rollback(production)
    assert not _quick(production)

    def broken(settings, *shared):
        raise OSError("disk full")

    monkeypatch.setattr(reporting, "build_report", broken)
    with pytest.raises(CycleError, match="report failed: disk full"):
        run_cycle(production, call_api=False)
    assert not _quick(production)  # still behind: the next cycle tries again
    monkeypatch.undo()
    assert run_cycle(production, call_api=False).startswith(
        "reports refreshed for deployed version 1")
    assert b"/Subject (model version 1)" in (production.model_folder / "report.pdf").read_bytes()
    marker = json.loads((production.model_folder / "outputs.json").read_text())
    assert marker["version"] == 1
    assert _quick(production)


@pytest.mark.parametrize("drift_test, rows, exits", [("loss", 10, 5), ("raw", 10, 5),
                                                      ("raw", 30, 0)])
def test_too_little_labelled_data_is_not_judged(production, datasets, drift_test, rows, exits):
    batch = datasets["testdata/testdata.csv"].head(rows).copy()
    batch["exited"] = [1] * exits + [0] * (rows - exits)
    batch.to_csv(production.input_folder / "small.csv", index=False)
    summary = run_cycle(replace(production, drift_test=drift_test), call_api=False)
    assert summary.startswith(f"too little new data to test drift ({rows} rows, {exits} exits)")
    assert current_deployment(production.deployment_folder).version == 1
    assert _quick(production)


@pytest.mark.parametrize("deploy_if_worse, version", [(False, 1), (True, 2)])
def test_a_retrained_model_worse_on_the_test_data_is_not_deployed(cycle_project, datasets,
                                                                   deploy_if_worse, version):
    write_config(cycle_project, "config.json", **CONFIG, **QUIET,
                 deploy_if_worse=deploy_if_worse)
    settings = _settings(cycle_project)
    run_cycle(settings, call_api=False)
    # A large batch whose labels contradict the test data: the deployed model scores badly
    # on it (drift), and a model retrained with it scores worse on the test data.
    flipped = datasets["sourcedata/dataset3.csv"].copy()
    flipped["corporation"] = "x" + flipped["corporation"].str[1:]
    flipped["exited"] = 1 - flipped["exited"]
    pd.concat([flipped] * 3).to_csv(settings.input_folder / "flipped.csv", index=False)
    summary = run_cycle(settings, call_api=False)
    assert summary.startswith("loss drift: ")
    assert current_deployment(settings.deployment_folder).version == version
    if not deploy_if_worse:
        assert "retrained model not deployed" in summary
        assert deployed_f1_on_test(cycle_project) == pytest.approx(
            float((cycle_project / "production_deployment/latestscore.txt").read_text()))


@pytest.mark.slow
def test_a_model_that_does_not_converge_fails_the_cycle_in_one_line(cycle_project):
    write_config(cycle_project, "config.json", **CONFIG, **QUIET, model={"max_iter": 1})
    proc = cycle(cycle_project, "config.json", "--no-api", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "re-deployment failed, production unchanged" in proc.stderr
    assert not (cycle_project / "production_deployment/current").exists()


def test_a_file_unreadable_once_is_ingested_once_readable(production, datasets, monkeypatch):
    import pipeline.ingest.inputs as inputs

    path = production.input_folder / "late.csv"
    datasets["testdata/testdata.csv"].head(100).to_csv(path, index=False)
    real = inputs.sha256_file

    def denied(target, *args, **kwargs):
        if str(target) == str(path):
            raise PermissionError(13, "Permission denied")
        return real(target, *args, **kwargs)

    real_read = type(path).read_bytes

    def denied_read(target):
        if str(target) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_read(target)

    monkeypatch.setattr(inputs, "sha256_file", denied)
    monkeypatch.setattr(type(path), "read_bytes", denied_read)
    run_cycle(production, call_api=False)
    assert "late.csv" not in (production.output_folder / "ingestedfiles.txt").read_text()
    assert not _quick(production)  # the quick check leaves it to the full cycle to retry
    monkeypatch.undo()  # permissions fixed; size and time unchanged
    assert "nothing new" not in run_cycle(production, call_api=False)
    checked = History(production.history_db).query(
        "SELECT data FROM scores WHERE purpose = 'drift'")
    assert {"data": "late.csv"} in checked
    assert "late.csv" in (production.output_folder / "ingestedfiles.txt").read_text()
    assert _quick(production)


def test_when_every_file_becomes_unusable_the_cycle_fails_and_says_so(production):
    from cycle.errors import CycleError

    for path in production.input_folder.glob("*.csv"):
        path.write_text(path.read_text().replace(",", ";"))
    with pytest.raises(CycleError, match="no usable data left"):
        run_cycle(production, call_api=False)
    final = (production.output_folder / "finaldata.csv").read_text()
    assert final == "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
    assert (production.output_folder / "ingestedfiles.txt").read_text() == ""
    assert current_deployment(production.deployment_folder).version == 1
