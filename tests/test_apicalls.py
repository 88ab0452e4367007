"""apicalls.py against a real gunicorn on a free loopback port, and against no server at all;
the cycle's calls without a server, answered by the app in the cycle's own process."""

from __future__ import annotations

import json
import subprocess

import pytest

from app import create_app
from cycle.in_process import IN_PROCESS_URL, call_in_process
from cycle.local_server import free_port, running_server
from pipeline.api.client import ApiCallError, call_endpoints, prediction_request
from pipeline.core.config import ConfigError, load_settings
from reporting import build_risk_list
from tests.helpers import run_script


@pytest.mark.slow
def test_apicalls_against_real_gunicorn_writes_every_answer(redeployed, tmp_path):
    build_risk_list(redeployed)
    with running_server(redeployed.config_path, workers=2) as url:
        assert url.startswith("http://127.0.0.1:")
        proc = run_script("apicalls.py", "--config", str(redeployed.config_path), "--url", url,
                          cwd=tmp_path)
    assert "called 6 endpoints" in proc.stdout
    document = json.loads((redeployed.model_folder / "apireturns.txt").read_text())
    answers = document["answers"]
    assert set(answers) == {"/prediction", "/scoring", "/summarystats", "/diagnostics",
                            "/risk", "/health"}
    assert answers["/health"]["model_version"] == 2
    assert len(answers["/prediction"]["predictions"]) == 2000
    assert answers["/scoring"]["f1"] == pytest.approx(
        float((redeployed.deployment_folder / "latestscore.txt").read_text()))
    assert document["url"] == url


def test_apicalls_without_a_server_fails_with_one_line(redeployed, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_script("apicalls.py", "--config", str(redeployed.config_path), "--url", url,
                      cwd=tmp_path, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"apicalls failed: cannot reach {url}")
    assert not (redeployed.model_folder / "apireturns.txt").exists()


def test_a_short_token_stops_apicalls_and_the_cycle_before_anything_is_sent(
        redeployed, tmp_path, monkeypatch):
    monkeypatch.setenv("RISK_API_TOKEN", "short-token")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: a call would say so instead
    proc = run_script("apicalls.py", "--config", str(redeployed.config_path), "--url", url,
                      cwd=tmp_path, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "apicalls failed: the API token of $RISK_API_TOKEN has 11 characters, fewer than 16")
    import cycle.steps

    def no_call(*args, **kwargs):
        raise AssertionError("the app was called with a token it would refuse")

    monkeypatch.setattr("cycle.in_process.call_in_process", no_call)
    with pytest.raises(ConfigError, match="fewer than 16"):
        cycle.steps.call_api_endpoints(redeployed, 2, create_app)


@pytest.mark.slow
def test_apicalls_fails_when_an_endpoint_fails(redeployed, tmp_path):
    # No risk list has been written yet, so /risk answers 503.
    with running_server(redeployed.config_path) as url:
        proc = run_script("apicalls.py", "--config", str(redeployed.config_path), "--url", url,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == \
        "apicalls failed: GET /risk answered 503: no risk list yet: run reporting.py"


def test_test_data_outside_the_project_is_sent_as_csv(redeployed, tmp_path_factory):
    from pipeline.api.client import prediction_request
    from pipeline.core.config import load_settings

    outside = tmp_path_factory.mktemp("elsewhere")
    (outside / "testdata.csv").write_bytes(redeployed.test_file.read_bytes())
    settings = load_settings(redeployed.config_path, test_data_path=str(outside))
    request = prediction_request(settings)
    assert request["headers"] == {"Content-Type": "text/csv"}
    assert request["data"] == redeployed.test_file.read_bytes()
    assert prediction_request(redeployed) == {"json": {"filepath": "testdata/testdata.csv"}}


@pytest.mark.slow
def test_a_token_file_is_shared_by_the_server_and_its_clients(redeployed, tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_API_TOKEN", raising=False)
    (redeployed.root / "api.token").write_text("f00d-f00d-f00d-f00d\n")
    config = json.loads(redeployed.config_path.read_text())
    redeployed.config_path.write_text(json.dumps({**config, "api_token_file": "api.token"}))
    build_risk_list(redeployed)
    import requests

    with running_server(redeployed.config_path) as url:
        assert requests.get(url + "/scoring", timeout=10).status_code == 401
        ok = requests.get(url + "/scoring", headers={"Authorization": "Bearer f00d-f00d-f00d-f00d"},
                          timeout=10)
        assert ok.status_code == 200
        proc = run_script("apicalls.py", "--config", str(redeployed.config_path), "--url", url,
                          cwd=tmp_path)
    assert "called 6 endpoints" in proc.stdout


def _steady(answers: dict) -> dict:
    """The answers without what differs from one call to the next: the request's own id."""
    return {path: {k: v for k, v in body.items() if k != "request_id"}
            if isinstance(body, dict) else body for path, body in answers.items()}


@pytest.mark.slow
@pytest.mark.parametrize("sent", ["the course's form", "the file's text, with a token"])
def test_without_a_server_the_cycle_gets_a_real_servers_answers_in_its_own_process(
        redeployed, tmp_path_factory, monkeypatch, sent):
    import cycle.steps

    build_risk_list(redeployed)
    overrides = {"api_url": f"http://127.0.0.1:{free_port()}"}  # nothing listens
    if sent != "the course's form":  # a text/csv body and the Authorization header
        monkeypatch.setenv("RISK_API_TOKEN", "f00d-f00d-f00d-f00d")
        outside = tmp_path_factory.mktemp("elsewhere")  # not the project's: sent as text
        (outside / "testdata.csv").write_bytes(redeployed.test_file.read_bytes())
        overrides["test_data_path"] = str(outside)
    settings = load_settings(redeployed.config_path, **overrides)
    assert ("json" in prediction_request(settings)) == (sent == "the course's form")

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started for the API calls: {args}")

    with monkeypatch.context() as patched:
        patched.setattr(subprocess, "Popen", no_process)
        cycle.steps.call_api_endpoints(settings, 2, create_app)
    document = json.loads((redeployed.model_folder / "apireturns.txt").read_text())
    assert document["url"] == IN_PROCESS_URL
    assert set(document["answers"]) == {"/prediction", "/scoring", "/summarystats",
                                        "/diagnostics", "/risk", "/health"}
    with running_server(redeployed.config_path) as url:
        served = call_endpoints(url, settings)
    assert _steady(document["answers"]) == _steady(served)
    assert len(served["/prediction"]["predictions"]) == 2000
    if sent != "the course's form":  # the token is checked in the process too
        monkeypatch.setenv("RISK_API_TOKEN", "beef-beef-beef-beef")
        with pytest.raises(ApiCallError, match="401"):
            call_in_process(load_settings(redeployed.config_path, **overrides),
                            lambda path: _app_with_token(path, "f00d-f00d-f00d-f00d"))


def _app_with_token(config_path, token):
    """The app of config_path, serving with token whatever the environment says."""
    import os

    own = os.environ["RISK_API_TOKEN"]
    os.environ["RISK_API_TOKEN"] = token
    try:
        return create_app(config_path)
    finally:
        os.environ["RISK_API_TOKEN"] = own
