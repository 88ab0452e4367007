"""Coming from the course: a user's own folder, deployment, calls and configs work.

The user of these tests already did the course: they bring the course's five small CSV files
(from ../shared/course-data, skipped with the reason where it is absent), their own config.json,
a production_deployment/ of plain files written by their own course code, and the habit of
calling the course's functions with no arguments. (Their API clients: tests/test_course_clients.)
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from cycle.local_server import free_port
from cycle.run import run_cycle
from deployment import deploy, rollback
from pipeline.core.config import load_settings
from pipeline.core.deployed import current_deployment, load_deployed_model, version_dirs
from pipeline.core.files import sha256_file
from pipeline.core.history import History
from pipeline.core.processes import dies_with_this_process
from pipeline.core.schema import FEATURES, TARGET
from tests.helpers import (
    CONFIG,
    PROJECT,
    QUIET,
    SHARED_COURSE_DATA,
    needs_course_data,
    write_config,
    write_project,
)

COURSE_FILES = ("trainedmodel.pkl", "latestscore.txt", "ingestedfiles.txt")


def course_model(frame: pd.DataFrame) -> LogisticRegression:
    """A model as the course's training.py makes it: logistic regression on the raw counts,
    fitted on plain numbers (no column names)."""
    x = frame[list(FEATURES)].to_numpy().reshape(-1, len(FEATURES))
    return LogisticRegression(solver="liblinear", random_state=0).fit(x, frame[TARGET])


def course_f1(model, test: pd.DataFrame) -> float:
    """The course's scoring: F1 of the model's predictions on the test rows."""
    return f1_score(test[TARGET], model.predict(test[list(FEATURES)].to_numpy()))


def write_course_deployment(folder: Path, model, score: float) -> dict[str, bytes]:
    """production_deployment/ as the course's deployment.py leaves it: three plain files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"trainedmodel.pkl": pickle.dumps(model), "latestscore.txt": str(score).encode(),
             "ingestedfiles.txt": b"['dataset1.csv', 'dataset2.csv']"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def course_folder(root: Path, **extra) -> Path:
    """The course's data and a course config.json (production: sourcedata -> models)."""
    shutil.copytree(SHARED_COURSE_DATA, root, dirs_exist_ok=True)
    for child in root.rglob("*"):  # the shared copy may be read-only
        child.chmod(0o755 if child.is_dir() else 0o644)
    write_config(root, "config.json", **CONFIG, **extra)
    return root


def course_test(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "testdata/testdata.csv")


def practice_rows(root: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(root / "practicedata" / f"dataset{i}.csv") for i in (1, 2)])


# Judgement on the course's 26 rows ---------------------------------------------------------------

@pytest.mark.slow
@needs_course_data
def test_a_first_cycle_on_the_course_data_deploys_a_model_that_ranks(tmp_path):
    settings = load_settings(course_folder(tmp_path, **QUIET) / "config.json")
    run_cycle(settings, call_api=False)
    model, deployed = load_deployed_model(settings.deployment_folder)
    test = course_test(tmp_path)
    probabilities = model.predict_proba(test[list(FEATURES)])[:, 1]
    assert probabilities.max() - probabilities.min() > 0.01  # not one probability for all
    # The course's logistic regression (on scaled counts, threshold tuned) scores 0.571 here.
    assert deployed.score >= 0.571
    assert deployed.score == pytest.approx(
        f1_score(test[TARGET], model.predict(test[list(FEATURES)])))


# An existing deployment is adopted, never lost ---------------------------------------------------

@pytest.mark.slow
@needs_course_data
def test_a_course_deployment_becomes_version_1_byte_for_byte(tmp_path):
    root = course_folder(tmp_path, **QUIET)
    model = course_model(practice_rows(root))
    recorded = 0.25  # what their latestscore.txt says; the figure used is re-measured
    files = write_course_deployment(root / "production_deployment", model, recorded)
    settings = load_settings(root / "config.json")
    summary = run_cycle(settings, call_api=False)

    assert summary.startswith("adopted the existing deployment as version 1")
    first = version_dirs(settings.deployment_folder)[1]
    for name, data in files.items():
        assert (first / name).read_bytes() == data
        assert (settings.deployment_folder / name).read_bytes() == data  # still at its path
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["model_sha256"] == sha256_file(first / "trainedmodel.pkl")
    measured = course_f1(model, course_test(root))
    assert measured != recorded
    assert manifest["f1"] == pytest.approx(measured)
    assert manifest["adopted"]["recorded_score"] == str(recorded)
    actions = History(settings.history_db).query("SELECT action, version FROM deployments")
    assert actions[0] == {"action": "adopt", "version": 1}
    # The deployed model is the one the drift test judged: its F1 on the 26 new rows.
    drift = History(settings.history_db).query(
        "SELECT model_version, rows FROM scores WHERE purpose = 'drift'")
    assert drift == [{"model_version": 1, "rows": 26}]


def _drifting_course_user(root: Path, datasets, **extra):
    """A course user whose model learned the newer period (the test data's) well, and whose
    new data come from the older period: the drift test finds its F1 there has fallen, and a
    model retrained on the old period scores worse on the test data."""
    write_project(root, datasets)
    # The labelled source files (extract.csv has no labels).
    newer = pd.concat([pd.read_csv(p) for p in sorted((root / "sourcedata").glob("dataset*.csv"))])
    shutil.rmtree(root / "sourcedata")
    (root / "practicedata").rename(root / "sourcedata")
    write_config(root, "config.json", **CONFIG, **QUIET, drift_test="raw", **extra)
    model = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(),
                          LogisticRegression(class_weight="balanced"))
    model.fit(newer[list(FEATURES)].to_numpy(), newer[TARGET])  # plain numbers, as the course
    files = write_course_deployment(root / "production_deployment", model,
                                    course_f1(model, course_test(root)))
    return load_settings(root / "config.json"), files


@pytest.mark.slow
def test_an_adopted_deployment_survives_a_worse_retrained_model(tmp_path, datasets):
    settings, files = _drifting_course_user(tmp_path, datasets)
    summary = run_cycle(settings, call_api=False)
    assert "score drift" in summary and "retrained model not deployed" in summary, summary
    assert current_deployment(settings.deployment_folder).version == 1
    for name, data in files.items():
        assert (settings.deployment_folder / name).read_bytes() == data


@pytest.mark.slow
def test_an_adopted_deployment_can_be_rolled_back_to(tmp_path, datasets):
    settings, files = _drifting_course_user(tmp_path, datasets, deploy_if_worse=True)
    assert "deployed version 2" in run_cycle(settings, call_api=False)
    assert (settings.deployment_folder / "trainedmodel.pkl").read_bytes() != \
        files["trainedmodel.pkl"]
    assert rollback(settings).version == 1
    for name, data in files.items():
        assert (settings.deployment_folder / name).read_bytes() == data
    model, _ = load_deployed_model(settings.deployment_folder)  # loads, checked, and predicts
    assert len(model.predict(pd.read_csv(settings.test_file)[list(FEATURES)])) == \
        len(pd.read_csv(settings.test_file))


def test_a_model_left_in_the_model_folder_is_adopted(settings, datasets):
    model = course_model(datasets["testdata/testdata.csv"])
    settings.model_folder.mkdir(parents=True)
    data = pickle.dumps(model)
    (settings.model_folder / "trainedmodel.pkl").write_bytes(data)
    summary = run_cycle(settings, call_api=False)
    assert summary.startswith("adopted the existing model folder as version 1")
    first = version_dirs(settings.deployment_folder)[1]
    assert (first / "trainedmodel.pkl").read_bytes() == data
    assert json.loads((first / "manifest.json").read_text())["adopted"]["source"] == \
        "model folder"


def test_deployment_py_adopts_the_course_files_before_it_deploys(settings, datasets):
    build_and_deploy_without_deploying(settings)
    course = course_model(datasets["testdata/testdata.csv"])
    files = write_course_deployment(settings.deployment_folder, course, 0.5)
    ours = deploy(settings)
    assert ours.version == 2
    first = version_dirs(settings.deployment_folder)[1]
    for name, data in files.items():
        assert (first / name).read_bytes() == data
    assert rollback(settings).version == 1
    assert (settings.deployment_folder / "trainedmodel.pkl").read_bytes() == \
        files["trainedmodel.pkl"]


def build_and_deploy_without_deploying(settings) -> None:
    """Ingest, train and score (the model folder ready to deploy), deploying nothing."""
    from ingestion import run_ingestion
    from scoring import run_scoring
    from training import run_training

    run_ingestion(settings)
    run_training(settings)
    run_scoring(settings)


def test_an_unusable_course_model_is_kept_and_replaced(settings):
    settings.deployment_folder.mkdir(parents=True)
    junk = b"not a pickle, or one of a library not installed here"
    (settings.deployment_folder / "trainedmodel.pkl").write_bytes(junk)
    summary = run_cycle(settings, call_api=False)
    assert "deployed model unusable" in summary and "deployed version 2" in summary, summary
    first = version_dirs(settings.deployment_folder)[1]
    assert (first / "trainedmodel.pkl").read_bytes() == junk
    adopted = json.loads((first / "manifest.json").read_text())["adopted"]
    assert adopted["problem"].startswith("it cannot be unpickled here")


def test_training_keeps_a_model_it_did_not_write(deployed):
    from training import run_training

    foreign = b"a course model trained by the user's own code"
    path = deployed.model_folder / "trainedmodel.pkl"
    (deployed.model_folder / "trainedmodel.json").unlink()
    path.write_bytes(foreign)
    run_training(deployed)
    kept = list(deployed.model_folder.glob("trainedmodel.kept-*.pkl"))
    assert [k.read_bytes() for k in kept] == [foreign]
    assert path.read_bytes() != foreign


# The course's calls ------------------------------------------------------------------------------

COURSE_SCRIPT = """
import json
import diagnostics, deployment, ingestion, reporting, scoring, training

out = {}
out["merged"] = len(ingestion.merge_multiple_dataframe())
out["model"] = type(training.train_model()).__name__
out["f1"] = scoring.score_model()
deployment.store_model_into_pickle()
out["predictions"] = diagnostics.model_predictions()
out["summary"] = diagnostics.dataframe_summary()
out["missing"] = diagnostics.missing_data()
out["timing"] = diagnostics.execution_time()
out["packages"] = diagnostics.outdated_packages_list()
out["confusion"] = str(reporting.score_model())
from app import app
out["scoring"] = app.test_client().get("/scoring").status_code
print(json.dumps(out))
"""


def copy_code(root: Path) -> Path:
    """The project's code (scripts, packages, requirements), without data or outputs."""
    for name in [p.name for p in PROJECT.glob("*.py")] + ["requirements.txt", "gunicorn.conf.py"]:
        shutil.copy2(PROJECT / name, root / name)
    for package in ("pipeline", "cycle"):
        shutil.copytree(PROJECT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.slow
@needs_course_data
def test_the_courses_functions_work_with_no_arguments(tmp_path):
    root = copy_code(course_folder(tmp_path))  # the course's five keys, nothing else
    # The package index is asked: here one on loopback that refuses (nothing leaves the machine).
    env = dict(os.environ, PIP_INDEX_URL=f"http://127.0.0.1:{free_port()}/simple",
               RISK_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-c", COURSE_SCRIPT], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])

    final = pd.read_csv(root / "ingesteddata/finaldata.csv")
    assert out["merged"] == len(final) == 26
    assert (root / "models/trainedmodel.pkl").is_file() and out["model"] == "Pipeline"
    assert out["f1"] == float((root / "models/latestscore.txt").read_text())
    assert (root / "production_deployment/current").is_symlink()
    test = course_test(root)
    model, _ = load_deployed_model(root / "production_deployment")
    assert out["predictions"] == model.predict(test[list(FEATURES)]).tolist()
    numeric = final.select_dtypes("number")
    assert out["summary"] == pytest.approx(
        [v for col in numeric for v in (numeric[col].mean(), numeric[col].median(),
                                        numeric[col].std())])
    assert out["missing"] == [0.0] * len(final.columns)
    assert len(out["timing"]) == 2 and all(0 < s < 120 for s in out["timing"])
    names = [line.split("==")[0] for line in (root / "requirements.txt").read_text().splitlines()
             if "==" in line and not line.startswith("#")]
    assert [p["name"] for p in out["packages"]] == names
    assert all(set(p) == {"name", "pinned", "installed", "latest"} for p in out["packages"])
    assert Path(out["confusion"]).read_bytes().startswith(b"\x89PNG")
    assert out["scoring"] == 200


def test_importing_app_does_no_work_until_app_is_asked_for(monkeypatch):
    import app as module

    made = []
    monkeypatch.setattr(module, "create_app", lambda *a, **k: made.append(a) or "the app")
    monkeypatch.delitem(vars(module), "app", raising=False)
    assert made == []
    assert module.app == "the app" and module.app == "the app"
    assert made == [()]  # made once, on first access


@pytest.mark.slow
def test_python_app_py_serves_on_the_port_asked(redeployed):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(PROJECT / "app.py"), "--config",
                             str(redeployed.config_path), "--port", str(port)],
                            cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=dies_with_this_process())
    try:
        for _ in range(300):  # gunicorn starts, its worker imports the libraries and the app
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except requests.RequestException:
                assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
                time.sleep(0.1)
        assert answer.json()["model_version"] == 2
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert f"127.0.0.1:{port}" in output and "gunicorn" in output


# Configs and folders ----------------------------------------------------------------------------

def test_a_course_config_with_a_key_of_its_own_runs_its_cycle(project, caplog):
    write_config(project, "config.json", **CONFIG, **QUIET, cleaned_data="cleaneddata")
    settings = load_settings(project / "config.json")
    assert "first model: deployed version 1" in run_cycle(settings, call_api=False)
    assert any("unknown key 'cleaned_data'" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_subfolders_and_other_files_are_warned_of_and_listed(settings, caplog):
    folder = settings.input_folder
    (folder / "2026").mkdir()
    pd.read_csv(folder / "dataset3.csv").head(50).to_csv(folder / "2026" / "extra.csv",
                                                         index=False)
    (folder / "notes.txt").write_text("where the files came from")
    (folder / ".gitkeep").write_text("")
    summary = run_cycle(replace(settings), call_api=False)
    assert "first model" in summary
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("2026 in ") and "subfolders are not read" in m for m in warned)
    assert any(m.startswith("notes.txt in ") and "not a .csv file" in m for m in warned)
    assert not any(".gitkeep" in m for m in warned)
    listed = History(settings.history_db).query(
        "SELECT name, status, reason FROM ingested_files ORDER BY name")
    assert [(r["name"], r["status"]) for r in listed] == [
        ("2026", "skipped"), ("dataset3.csv", "ingested"), ("dataset4.csv", "ingested"),
        ("extract.csv", "unlabelled"), ("notes.txt", "skipped")]
    final = pd.read_csv(settings.output_folder / "finaldata.csv")
    sources = pd.concat([pd.read_csv(folder / f"dataset{i}.csv") for i in (3, 4)])
    assert len(final) == len(sources.drop_duplicates())  # the subfolder's file was not read


def test_course_names_keep_their_typed_forms(deployed):
    """The typed, settings-based functions stay beside the course's calls."""
    import diagnostics
    import scoring
    import training

    frame = pd.read_csv(deployed.output_folder / "finaldata.csv")
    model = training.train_model(frame.head(400))
    scores = scoring.score_model(model, pd.read_csv(deployed.test_file))
    assert set(scores) >= {"f1", "precision", "recall", "roc_auc"}
    assert diagnostics.model_predictions(pd.read_csv(deployed.test_file), deployed) == \
        diagnostics.model_predictions(deployed.test_file, deployed)
    assert diagnostics.summary_by_column(deployed)["exited"]["count"] == len(frame)
    with pytest.raises(TypeError, match="a model and a labelled frame"):
        scoring.score_model(model)
