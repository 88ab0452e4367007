"""Diagnostics: predictions, data statistics, timings, dependency status and their record."""

from __future__ import annotations

import json
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import requests

import diagnostics
from diagnostics import (
    missing_by_column,
    model_predictions,
    model_probabilities,
    outdated_packages_list,
    run_diagnostics,
    scratch_config,
    stage_execution_times,
    summary_by_column,
)
from pipeline.core.config import load_settings
from pipeline.core.deployed import NoDeployment, load_deployed_model
from pipeline.core.files import sha256_file
from pipeline.core.history import History
from pipeline.core.outputs import latest_diagnostics
from pipeline.core.packages import PYPI_URL, fetch_json, is_outdated
from pipeline.model.candidates import decision_threshold

FINAL_HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
REQUIREMENTS = """# pinned runtime dependencies
pandas==3.1.1
requests == 2.34.2  # spaces and a comment
scikit-learn[alldeps]==1.9.1 ; python_version >= "3.11"
not-a-real-package-xyz==0.1
-r requirements-dev.txt
flask>=3
"""


pytestmark = pytest.mark.usefixtures("no_network")


def write_final(settings, rows: str) -> Path:
    """Write a hand-made finaldata.csv into the output folder."""
    path = settings.output_folder / "finaldata.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FINAL_HEADER + rows, encoding="utf-8")
    return path


class Index:
    """A stand-in for the package index: answers from a dict, or raises an exception."""

    def __init__(self, latest: dict[str, str] | None = None, error: Exception | None = None):
        self.latest, self.error, self.calls = latest or {}, error, []

    def __call__(self, url: str, timeout: float) -> dict:
        self.calls.append((url, timeout))
        if self.error:
            raise self.error
        name = url.split("/pypi/")[1].split("/")[0]
        if name not in self.latest:
            raise requests.HTTPError(f"404 for {url}")
        return {"info": {"version": self.latest[name]}}


def test_predictions_are_one_zero_or_one_per_row(deployed):
    frame = pd.read_csv(deployed.test_file)
    predictions = model_predictions(frame, deployed)
    probabilities = model_probabilities(frame, deployed)
    assert len(predictions) == len(probabilities) == len(frame)
    assert set(predictions) == {0, 1}
    assert all(type(p) is int for p in predictions)
    model, _ = load_deployed_model(deployed.deployment_folder)
    threshold = decision_threshold(model)  # tuned for F1 at training, not 0.5
    assert 0 < threshold < 1 and threshold != 0.5
    assert predictions == [int(p >= threshold) for p in probabilities]
    assert predictions == model.predict(frame[["lastmonth_activity", "lastyear_activity",
                                               "number_of_employees"]]).tolist()


def test_predictions_need_the_three_features(deployed):
    frame = pd.DataFrame({"lastmonth_activity": [1], "lastyear_activity": [2]})
    with pytest.raises(ValueError, match=r"missing column.*number_of_employees"):
        model_predictions(frame, deployed)


def test_predictions_need_a_deployed_model(settings):
    frame = pd.DataFrame({"lastmonth_activity": [1], "lastyear_activity": [2],
                          "number_of_employees": [3]})
    with pytest.raises(NoDeployment):
        model_predictions(frame, settings)


def test_summary_matches_an_independent_computation(settings):
    write_final(settings, "aaaa,1,10,5,0\nbbbb,2,20,5,1\nnull,3,30,7,0\ndddd,4,40,9,1\n"
                          "eeee,100,50,5,1\n")
    summary = summary_by_column(settings)
    json.dumps(summary)  # serialisable as it is
    frame = pd.read_csv(settings.output_folder / "finaldata.csv")
    described = frame.describe()
    assert set(summary) == {"lastmonth_activity", "lastyear_activity", "number_of_employees",
                            "exited"}
    for col, stats in summary.items():
        values = frame[col].tolist()
        assert all(isinstance(v, float) for v in stats.values())
        assert stats["mean"] == pytest.approx(statistics.mean(values))
        assert stats["median"] == pytest.approx(statistics.median(values))
        assert stats["std"] == pytest.approx(statistics.stdev(values))
        assert stats["min"] == min(values) and stats["max"] == max(values)
        assert stats["q1"] == pytest.approx(described.loc["25%", col])
        assert stats["q3"] == pytest.approx(described.loc["75%", col])
        assert stats["mode"] == min(statistics.multimode(values))
    assert summary["lastmonth_activity"]["mean"] == pytest.approx(22.0)
    assert (summary["lastmonth_activity"]["q1"], summary["lastmonth_activity"]["q3"]) == (2, 4)
    assert summary["number_of_employees"]["mode"] == 5


def test_missing_fractions_count_only_empty_fields(settings):
    # "null" is a client's name, not a missing value.
    write_final(settings, "aaaa,1,,5,0\n,2,20,,1\nnull,,30,,0\ndddd,4,40,9,1\n")
    assert missing_by_column(settings) == {
        "corporation": 0.25, "lastmonth_activity": 0.25, "lastyear_activity": 0.25,
        "number_of_employees": 0.5, "exited": 0.0,
    }
    assert summary_by_column(settings)["number_of_employees"]["count"] == 2


def test_scratch_config_reads_the_real_data_and_writes_elsewhere(settings, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    copy = load_settings(scratch_config(settings, scratch))
    assert copy.input_folder == settings.input_folder.resolve()
    assert copy.test_file == settings.test_file.resolve()
    for path in (copy.output_folder, copy.model_folder, copy.deployment_folder,
                 copy.history_db):
        assert path.is_relative_to(scratch)


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith("history.sqlite")}


@pytest.mark.slow
def test_execution_time_measures_the_scripts_and_leaves_real_outputs_alone(deployed, project):
    before = _snapshot(project)
    runs = len(History(deployed.history_db).query("SELECT id FROM runs"))
    times = stage_execution_times(deployed)
    assert set(times) == {"ingestion", "training", "scoring"}
    assert all(isinstance(s, float) and 0 < s < 120 for s in times.values())
    assert _snapshot(project) == before
    assert "ingesteddata/finaldata.csv" in before and "models/trainedmodel.pkl" in before
    assert len(History(deployed.history_db).query("SELECT id FROM runs")) == runs


@pytest.mark.slow
def test_execution_time_raises_when_a_script_fails(project):
    (project / "nothing").mkdir()
    settings = load_settings(project / "config.json", input_folder_path="nothing")
    with pytest.raises(RuntimeError, match=r"ingestion\.py failed \(exit 1\): .*no usable data"):
        stage_execution_times(settings)


def test_outdated_packages_reads_the_pins_and_asks_the_index(settings):
    (settings.root / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    index = Index({"pandas": "3.1.1", "requests": "9.0.0", "scikit-learn": "1.10.0",
                   "flask": "3.1.3"})
    packages = outdated_packages_list(settings, timeout=2.5, fetch=index)
    installed = {p["name"]: p["installed"] for p in packages}
    assert [(p["name"], p["pinned"], p["latest"]) for p in packages] == [
        ("pandas", "3.1.1", "3.1.1"),
        ("requests", "2.34.2", "9.0.0"),
        ("scikit-learn", "1.9.1", "1.10.0"),
        ("not-a-real-package-xyz", "0.1", None),  # the index answers 404
        ("flask", None, "3.1.3"),
    ]
    assert installed["pandas"] == pd.__version__
    assert installed["not-a-real-package-xyz"] is None
    assert index.calls[0] == (PYPI_URL.format(name="pandas"), 2.5)
    assert len(index.calls) == 5
    assert [p["name"] for p in packages if is_outdated(p)] == ["requests", "scikit-learn"]


@pytest.mark.parametrize("error", [requests.ConnectionError("no route to host"),
                                   requests.Timeout("read timed out")])
def test_unreachable_index_means_unknown_latest_without_waiting_per_package(settings, error):
    (settings.root / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    index = Index(error=error)
    packages = outdated_packages_list(settings, fetch=index)
    assert len(packages) == 5
    assert all(p["latest"] is None for p in packages)
    assert not any(is_outdated(p) for p in packages)
    assert len(index.calls) == 1


def test_the_default_fetcher_passes_a_timeout(monkeypatch):
    seen = {}

    class Response:
        def raise_for_status(self):
            pass

        def json(self):
            return {"info": {"version": "1.2.3"}}

    def fake_get(url, timeout, headers):
        seen.update(url=url, timeout=timeout)
        return Response()

    monkeypatch.setattr(requests, "get", fake_get)
    assert fetch_json("https://example.invalid/pypi/x/json", 3.0)["info"]["version"] == "1.2.3"
    assert seen == {"url": "https://example.invalid/pypi/x/json", "timeout": 3.0}


def test_the_index_is_asked_over_one_connection_for_every_package(settings, monkeypatch):
    """A real simple-API index on loopback (HTTP/1.1, keep-alive): without a fetcher of its own,
    the check asks it for each package over one connection (the certificates loaded and the
    index connected to once, not once a package)."""
    (settings.root / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    latest = {"pandas": "3.1.1", "requests": "9.0.0", "scikit-learn": "1.10.0", "flask": "3.1.3"}
    asked, connections = [], set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # http.server calls it by this name
            connections.add(self.client_address)
            asked.append(self.path)
            name = self.path.strip("/").split("/")[-1]
            body = json.dumps({"meta": {"api-version": "1.0"}, "name": name, "files": [
                {"filename": f"{name.replace('-', '_')}-{latest[name]}.tar.gz", "yanked": False}]}
                if name in latest else {}).encode()
            self.send_response(200 if name in latest else 404)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/simple")
        packages = outdated_packages_list(settings, timeout=5.0)
    finally:
        server.shutdown()
        server.server_close()
    assert [(p["name"], p["latest"]) for p in packages] == [
        ("pandas", "3.1.1"), ("requests", "9.0.0"), ("scikit-learn", "1.10.0"),
        ("not-a-real-package-xyz", None), ("flask", "3.1.3")]
    assert asked == ["/simple/pandas/", "/simple/requests/", "/simple/scikit-learn/",
                     "/simple/not-a-real-package-xyz/", "/simple/flask/"]
    assert len(connections) == 1


@pytest.mark.parametrize("package, outdated", [
    ({"installed": "2.4.6", "pinned": "2.4.6", "latest": "2.5.5"}, True),
    ({"installed": "1.9.1", "pinned": "1.9.1", "latest": "1.10.0"}, True),
    ({"installed": "1.10.0", "pinned": "1.10.0", "latest": "1.10.0"}, False),
    ({"installed": "1.10", "pinned": "1.10", "latest": "1.10.0"}, False),
    ({"installed": "3.0.0rc1", "pinned": None, "latest": "2.9"}, False),
    ({"installed": "2.0", "pinned": "2.0", "latest": None}, False),
    ({"installed": None, "pinned": "1.0", "latest": "1.1"}, True),
])
def test_is_outdated_compares_versions_as_numbers(package, outdated):
    assert is_outdated(package) is outdated


def test_run_diagnostics_records_everything_and_caches_it(deployed, monkeypatch):
    (deployed.root / "requirements.txt").write_text("pandas==3.1.1\nnumpy==2.4.6\n",
                                                    encoding="utf-8")
    monkeypatch.setattr(diagnostics, "stage_execution_times",
                        lambda settings: {"ingestion": 0.5, "training": 1.5, "scoring": 0.25})
    assert latest_diagnostics(deployed.model_folder) is None
    results = run_diagnostics(deployed, measure_time="rerun",
                              fetch=Index({"pandas": "3.1.1", "numpy": "99.0"}))

    assert results["model_version"] == 1
    assert results["predictions"]["rows"] == len(pd.read_csv(deployed.test_file))
    assert results["missing_data"]["corporation"] == 0.0
    history = History(deployed.history_db)
    runs = history.query("SELECT * FROM runs WHERE stage = 'diagnostics'")
    assert [r["status"] for r in runs] == ["ok"]
    rows = {r["name"]: r for r in history.query(
        "SELECT * FROM metrics WHERE stage = 'diagnostics' AND run_id = ?", (runs[0]["id"],))}
    assert {name: rows[name]["value"] for name in rows if name.startswith("seconds_")} == {
        "seconds_ingestion": 0.5, "seconds_training": 1.5, "seconds_scoring": 0.25}
    assert {name for name in rows if name.startswith("missing_")} == {
        "missing_corporation", "missing_lastmonth_activity", "missing_lastyear_activity",
        "missing_number_of_employees", "missing_exited"}
    assert json.loads(rows["summary"]["detail"]) == results["summary"]
    assert rows["outdated_packages"]["value"] == 1
    assert json.loads(rows["outdated_packages"]["detail"])["packages"][1]["latest"] == "99.0"
    assert latest_diagnostics(deployed.model_folder) == results
    assert (deployed.model_folder / "diagnostics.json").is_file()


def test_run_diagnostics_can_skip_timing_and_the_index(deployed, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("not asked for")

    monkeypatch.setattr(diagnostics, "stage_execution_times", must_not_run)
    monkeypatch.setattr(diagnostics, "outdated_packages_list", must_not_run)
    results = run_diagnostics(deployed, measure_time=False, check_packages=False)
    assert results["execution_time"] is None and results["outdated_packages"] is None
    names = {r["name"] for r in History(deployed.history_db).query("SELECT name FROM metrics")}
    assert "outdated_packages" not in names
    assert not any(name.startswith("seconds_") for name in names)


def test_latest_diagnostics_ignores_an_unreadable_file(settings):
    settings.model_folder.mkdir(parents=True)
    (settings.model_folder / "diagnostics.json").write_text("{not json", encoding="utf-8")
    assert latest_diagnostics(settings.model_folder) is None


def test_main_prints_a_short_summary(deployed, capsys):
    assert diagnostics.main(["--config", str(deployed.config_path), "--no-timing",
                             "--offline"]) == 0
    out = capsys.readouterr().out
    assert "diagnostics of model version 1" in out
    assert "missing data: none" in out
    assert "execution time: not measured" in out


def test_main_fails_in_one_line_without_ingested_data(settings, capsys):
    assert diagnostics.main(["--config", str(settings.config_path), "--no-timing",
                             "--offline"]) == 1
    assert "diagnostics failed" in capsys.readouterr().err
