"""The four pipeline scripts, run as a user runs them: from another working directory."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pipeline.core.schema import COLUMNS
from tests.helpers import (
    CONFIG,
    PRACTICE,
    SHARED_COURSE_DATA,
    needs_course_data,
    run_script,
    write_config,
)

STAGES = ("ingestion.py", "training.py", "scoring.py", "deployment.py")


def run_pipeline(config, cwd):
    """Run the four scripts in order with one config."""
    return [run_script(script, "--config", str(config), cwd=cwd) for script in STAGES]


@pytest.mark.slow
def test_scripts_produce_every_file_from_another_directory(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run_pipeline(project / "config.practice.json", elsewhere)
    outputs = run_pipeline(project / "config.json", elsewhere)
    assert "deployed version 2" in outputs[-1].stdout
    for relative in ("ingesteddata/finaldata.csv", "ingesteddata/ingestedfiles.txt",
                     "ingesteddata/rejected.csv", "models/trainedmodel.pkl",
                     "models/trainedmodel.json", "models/latestscore.txt",
                     "practicemodels/trainedmodel.pkl", "practicemodels/latestscore.txt",
                     "production_deployment/trainedmodel.pkl",
                     "production_deployment/latestscore.txt",
                     "production_deployment/ingestedfiles.txt",
                     "production_deployment/manifest.json", "history.sqlite"):
        assert (project / relative).is_file(), relative
    assert list(elsewhere.iterdir()) == []
    final = pd.read_csv(project / "ingesteddata/finaldata.csv")
    assert list(final.columns) == list(COLUMNS)
    assert len(final) == 10_000
    manifest = json.loads((project / "production_deployment/manifest.json").read_text())
    deployed_score = float((project / "production_deployment/latestscore.txt").read_text())
    assert manifest["f1"] == deployed_score
    assert deployed_score == float((project / "models/latestscore.txt").read_text())


@pytest.mark.slow
def test_rollback_script_restores_the_previous_version(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run_pipeline(project / "config.practice.json", elsewhere)
    run_pipeline(project / "config.json", elsewhere)
    practice_score = (project / "practicemodels/latestscore.txt").read_text()
    proc = run_script("deployment.py", "--rollback", "--config", str(project / "config.json"),
                      cwd=elsewhere)
    assert "rolled back to version 1" in proc.stdout
    assert (project / "production_deployment/latestscore.txt").read_text() == practice_score


@pytest.mark.slow
def test_a_failing_stage_exits_nonzero_with_a_one_line_reason(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = run_script("training.py", "--config", str(project / "config.json"), cwd=elsewhere,
                      check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("training failed: no ingested data")


@pytest.mark.slow
@needs_course_data
def test_course_data_runs_through_all_four_stages(tmp_path):
    shutil.copytree(SHARED_COURSE_DATA, tmp_path, dirs_exist_ok=True)
    write_config(tmp_path, "config.json", **CONFIG)
    write_config(tmp_path, "config.practice.json", **PRACTICE)
    run_pipeline(tmp_path / "config.practice.json", tmp_path)
    practice = pd.read_csv(tmp_path / "ingesteddata/finaldata.csv")
    assert len(practice) == 26
    assert practice.duplicated().sum() == 0
    practice_f1 = float((tmp_path / "practicemodels/latestscore.txt").read_text())
    assert 0.0 <= practice_f1 <= 1.0
    run_pipeline(tmp_path / "config.json", tmp_path)
    manifest = json.loads((tmp_path / "production_deployment/manifest.json").read_text())
    assert manifest["version"] == 2
    assert {f["name"] for f in manifest["training"]["training_files"]} == \
        {"dataset3.csv", "dataset4.csv"}
