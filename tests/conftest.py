"""Shared fixtures: a project laid out in a temporary folder, with small generated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.config import load_settings
from pipeline.data.datagen import generate, to_csv_bytes

PROJECT = Path(__file__).resolve().parent.parent
SHARED_COURSE_DATA = PROJECT.parent / "shared" / "course-data"
needs_course_data = pytest.mark.skipif(
    not SHARED_COURSE_DATA.is_dir(),
    reason="../shared/course-data (the original course datasets) is not beside the repository "
           "on this machine")

CONFIG = {
    "input_folder_path": "sourcedata",
    "output_folder_path": "ingesteddata",
    "test_data_path": "testdata",
    "output_model_path": "models",
    "prod_deployment_path": "production_deployment",
}
PRACTICE = dict(CONFIG, input_folder_path="practicedata", output_model_path="practicemodels")


def write_config(folder: Path, name: str = "config.json", **values) -> Path:
    """Write a config file into folder; returns its path."""
    path = folder / name
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def datasets() -> dict[str, pd.DataFrame]:
    """The shipped datasets, generated once per test session."""
    return generate()


@pytest.fixture
def project(tmp_path: Path, datasets) -> Path:
    """A project folder with the shipped data and both configs, in tmp_path."""
    for relative, frame in datasets.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_csv_bytes(frame))
    write_config(tmp_path, "config.json", **CONFIG)
    write_config(tmp_path, "config.practice.json", **PRACTICE)
    return tmp_path


@pytest.fixture
def settings(project: Path):
    """Settings of the production config of the temporary project."""
    return load_settings(project / "config.json")


@pytest.fixture
def practice_settings(project: Path):
    """Settings of the practice config of the temporary project."""
    return load_settings(project / "config.practice.json")


def run_script(script: str, *args: str, cwd: Path, check: bool = True,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one of the project's scripts with this interpreter from cwd."""
    env = dict(os.environ, PYTHONPATH="", RISK_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, str(PROJECT / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def build_and_deploy(settings) -> None:
    """Ingest, train, score and deploy with one configuration."""
    from deployment import deploy
    from ingestion import run_ingestion
    from scoring import run_scoring
    from training import run_training

    run_ingestion(settings)
    run_training(settings)
    run_scoring(settings)
    deploy(settings)


@pytest.fixture
def deployed(settings):
    """The production config of the temporary project, ingested, trained, scored and deployed."""
    build_and_deploy(settings)
    return settings


@pytest.fixture
def redeployed(project, practice_settings, settings):
    """The temporary project after practice then production pipelines: version 2 deployed."""
    build_and_deploy(practice_settings)
    build_and_deploy(settings)
    return settings


@pytest.fixture
def no_network(monkeypatch):
    """Any HTTP request made through requests fails the test."""
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(requests.sessions.Session, "request", refuse)
