"""Shared fixtures: a project laid out in a temporary folder, with small generated data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.config import load_settings
from pipeline.data.datagen import generate
from tests.helpers import build_and_deploy, write_project


@pytest.fixture(scope="session")
def datasets() -> dict[str, pd.DataFrame]:
    """The shipped datasets, generated once per test session."""
    return generate()


@pytest.fixture
def project(tmp_path: Path, datasets) -> Path:
    """A project folder with the shipped data and both configs, in tmp_path."""
    return write_project(tmp_path, datasets)


@pytest.fixture
def settings(project: Path):
    """Settings of the production config of the temporary project."""
    return load_settings(project / "config.json")


@pytest.fixture
def practice_settings(project: Path):
    """Settings of the practice config of the temporary project."""
    return load_settings(project / "config.practice.json")


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
