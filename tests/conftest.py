"""Shared fixtures: a project laid out in a temporary folder, with small generated data.

The deployed states are built once per session and copied into each test's own folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app import create_app
from pipeline.core.config import load_settings
from pipeline.data.datagen import generate
from tests.helpers import build_and_deploy, copy_project, write_config, write_project


@pytest.fixture(scope="session")
def datasets() -> dict[str, pd.DataFrame]:
    """The shipped datasets, generated once per test session."""
    return generate()


@pytest.fixture
def project(tmp_path: Path, datasets) -> Path:
    """A project folder with the shipped data and both configs, in tmp_path."""
    return write_project(tmp_path, datasets)


@pytest.fixture
def inputs(tmp_path: Path):
    """Settings of a project with an empty input folder (in/) and nothing else: for ingestion
    tests that lay out their own files (outputs in out/)."""
    (tmp_path / "in").mkdir()
    write_config(tmp_path, input_folder_path="in", output_folder_path="out",
                 test_data_path="test", output_model_path="models",
                 prod_deployment_path="deploy")
    return load_settings(tmp_path / "config.json")


@pytest.fixture
def settings(project: Path):
    """Settings of the production config of the temporary project."""
    return load_settings(project / "config.json")


@pytest.fixture
def practice_settings(project: Path):
    """Settings of the practice config of the temporary project."""
    return load_settings(project / "config.practice.json")


@pytest.fixture(scope="session")
def deployed_template(tmp_path_factory, datasets) -> Path:
    """A project whose production config is ingested, trained, scored and deployed, built once
    per session; tests get copies (fixture deployed), never this folder."""
    root = write_project(tmp_path_factory.mktemp("deployed-template"), datasets)
    build_and_deploy(load_settings(root / "config.json"))
    return root


@pytest.fixture(scope="session")
def redeployed_template(tmp_path_factory, datasets) -> Path:
    """A project after the practice then the production pipeline (version 2 deployed), built
    once per session; tests get copies (fixture redeployed), never this folder."""
    root = write_project(tmp_path_factory.mktemp("redeployed-template"), datasets)
    build_and_deploy(load_settings(root / "config.practice.json"))
    build_and_deploy(load_settings(root / "config.json"))
    return root


@pytest.fixture
def deployed(project, deployed_template):
    """The production config of the temporary project, ingested, trained, scored and deployed."""
    # Over the laid-out project, so that a test asking for project too gets this same folder.
    return copy_project(deployed_template, project)


@pytest.fixture
def redeployed(project, redeployed_template):
    """The temporary project after practice then production pipelines: version 2 deployed."""
    return copy_project(redeployed_template, project)


@pytest.fixture
def app(redeployed):
    """The application on the temporary project's production config."""
    application = create_app(redeployed.config_path)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app):
    """A test client of the application."""
    return app.test_client()


@pytest.fixture
def no_network(monkeypatch):
    """Any HTTP request made through requests fails the test, but one to a server the test
    started on loopback (127.0.0.1)."""
    from urllib.parse import urlsplit

    import requests

    request = requests.sessions.Session.request

    def refuse(self, method, url, *args, **kwargs):
        if urlsplit(url).hostname != "127.0.0.1":
            raise AssertionError(f"a test tried to reach the network: {url}")
        return request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.sessions.Session, "request", refuse)
