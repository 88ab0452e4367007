"""Training, scoring and deployment on a temporary project."""

from __future__ import annotations

import json
import os
import pickle

import pandas as pd
import pytest

from deployment import DeploymentError, deploy, rollback
from ingestion import run_ingestion
from pipeline.core import publish
from pipeline.core.deployed import (
    NoDeployment,
    current_deployment,
    load_deployed_model,
    version_dirs,
)
from pipeline.core.files import sha256_file
from pipeline.core.history import History
from pipeline.core.modelfile import ModelIntegrityError, load_trained_model
from pipeline.core.schema import FEATURES
from pipeline.model.candidates import candidate_name
from scoring import read_score, run_scoring, score_model
from training import run_training, train_model


def build(settings) -> None:
    """Ingest, train and score with one configuration."""
    run_ingestion(settings)
    run_training(settings)
    run_scoring(settings)


def test_trained_model_is_one_pipeline_taking_a_frame_of_features(settings):
    run_ingestion(settings)
    record = run_training(settings)
    model, loaded_record = load_trained_model(settings.model_folder)
    assert loaded_record == record
    # One Pipeline from the raw columns to the classifier: on the shipped data, the logistic
    # regression on log(1 + count) wins the cross-validation, behind its F1 threshold.
    assert [name for name, _ in model.steps] == ["log", "scale", "classify"]
    assert record["model"] == "log_logistic" == candidate_name(model)
    assert type(model.steps[-1][1]).__name__ == "FixedThresholdClassifier"
    rows = pd.DataFrame({"lastmonth_activity": [0, 500], "lastyear_activity": [2000, 600],
                         "number_of_employees": [50, 50]})
    probabilities = model.predict_proba(rows)[:, 1]
    assert probabilities[0] > probabilities[1]  # falling activity means higher risk
    assert list(model.predict(rows)) in ([0, 0], [0, 1], [1, 0], [1, 1])
    assert record["rows"] == 10_000
    assert {f["name"] for f in record["training_files"]} == {"dataset3.csv", "dataset4.csv"}
    assert record["libraries"]["scikit-learn"]


def test_training_is_deterministic(settings, tmp_path):
    run_ingestion(settings)
    frame = pd.read_csv(settings.output_folder / "finaldata.csv")
    first, second = train_model(frame), train_model(frame)
    assert pickle.dumps(first) == pickle.dumps(second)


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({**{f: [] for f in FEATURES}, "exited": []}), "no rows"),
    (pd.DataFrame({**{f: [1, 2] for f in FEATURES}, "exited": [1, 1]}), "both classes"),
])
def test_training_refuses_unusable_data(frame, message):
    with pytest.raises(ValueError, match=message):
        train_model(frame)


def test_training_without_ingested_data_says_what_to_run(settings):
    with pytest.raises(FileNotFoundError, match=r"run ingestion\.py"):
        run_training(settings)


def test_scoring_writes_the_bare_f1_and_records_the_rest(settings):
    build(settings)
    score = read_score(settings.model_folder / "latestscore.txt")
    text = (settings.model_folder / "latestscore.txt").read_text()
    assert text.strip() == repr(score)
    model, record = load_trained_model(settings.model_folder)
    test = pd.read_csv(settings.test_file)
    assert score == pytest.approx(score_model(model, test)["f1"])
    rows = History(settings.history_db).query("SELECT * FROM scores")
    assert len(rows) == 1
    assert rows[0]["f1"] == pytest.approx(score)
    assert rows[0]["model_sha256"] == record["model_sha256"]
    assert rows[0]["tp"] + rows[0]["fp"] + rows[0]["tn"] + rows[0]["fn"] == len(test)


def test_score_model_counts_match_a_hand_checked_case():
    class Fixed:
        def predict(self, frame):
            return [1, 1, 0, 0]

        def predict_proba(self, frame):
            import numpy as np
            return np.array([[0.1, 0.9], [0.4, 0.6], [0.7, 0.3], [0.8, 0.2]])

    frame = pd.DataFrame({**{f: [1, 2, 3, 4] for f in FEATURES}, "exited": [1, 0, 1, 0]})
    scores = score_model(Fixed(), frame)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["tn"]) == (1, 1, 1, 1)
    assert scores["f1"] == pytest.approx(0.5)
    assert scores["roc_auc"] == pytest.approx(0.75)


def test_scoring_refuses_a_tampered_model(settings):
    build(settings)
    path = settings.model_folder / "trainedmodel.pkl"
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ModelIntegrityError, match="checksum"):
        run_scoring(settings)


def test_deploy_publishes_one_consistent_version(settings):
    build(settings)
    deployed = deploy(settings)
    folder = settings.deployment_folder
    assert deployed.version == 1
    for name in ("trainedmodel.pkl", "latestscore.txt", "ingestedfiles.txt", "manifest.json"):
        assert (folder / name).read_bytes() == (deployed.folder / name).read_bytes()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model_sha256"] == sha256_file(folder / "trainedmodel.pkl")
    assert manifest["f1"] == read_score(folder / "latestscore.txt")
    assert manifest["files"]["ingestedfiles.txt"] == sha256_file(folder / "ingestedfiles.txt")
    assert (folder / "ingestedfiles.txt").read_bytes() == \
        (settings.output_folder / "ingestedfiles.txt").read_bytes()
    model, current = load_deployed_model(folder)
    assert current.version == 1 and hasattr(model, "predict_proba")
    rows = History(settings.history_db).query("SELECT * FROM deployments")
    assert [(r["action"], r["version"]) for r in rows] == [("deploy", 1)]
    assert not [p for p in (folder / "versions").iterdir() if p.name.startswith(".")]


def test_versions_are_kept_and_rollback_restores_the_previous_one(settings, practice_settings):
    build(practice_settings)
    first = deploy(practice_settings)
    build(settings)
    second = deploy(settings)
    assert (first.version, second.version) == (1, 2)
    assert current_deployment(settings.deployment_folder).manifest["model_sha256"] == \
        second.manifest["model_sha256"]
    back = rollback(settings)
    assert back.version == 1
    assert sha256_file(settings.deployment_folder / "trainedmodel.pkl") == \
        first.manifest["model_sha256"]
    assert read_score(settings.deployment_folder / "latestscore.txt") == first.manifest["f1"]
    with pytest.raises(DeploymentError, match="no valid version older"):
        rollback(settings)
    third = deploy(settings)
    assert third.version == 3


def test_rollback_skips_a_tampered_version(settings):
    build(settings)
    deploy(settings)
    deploy(settings)
    deploy(settings)
    v2 = version_dirs(settings.deployment_folder)[2] / "trainedmodel.pkl"
    v2.write_bytes(b"not a model")
    assert rollback(settings).version == 1


def test_deployed_model_is_refused_when_it_does_not_match_its_manifest(settings):
    build(settings)
    deployed = deploy(settings)
    deployed.model_path.write_bytes(deployed.model_path.read_bytes()[:-10])
    with pytest.raises(ModelIntegrityError, match="checksum"):
        load_deployed_model(settings.deployment_folder)


def test_nothing_deployed_is_a_clear_error(settings):
    with pytest.raises(NoDeployment, match="no model deployed"):
        load_deployed_model(settings.deployment_folder)


def test_deploy_refuses_a_stale_score(settings):
    build(settings)
    settings.model_folder.joinpath("latestscore.txt").write_text("0.99\n")
    with pytest.raises(DeploymentError, match="not the score of the trained model"):
        deploy(settings)
    assert not (settings.deployment_folder / "current").exists()


def test_deploy_refuses_a_model_retrained_after_scoring(settings):
    build(settings)
    run_training(settings.__class__(**{**settings.__dict__, "model": {**settings.model,
                                                                        "C": 0.01}}))
    with pytest.raises(DeploymentError, match="not the score"):
        deploy(settings)


def test_a_failed_deploy_leaves_the_current_version_in_place(settings, monkeypatch):
    build(settings)
    first = deploy(settings)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish, "_claim_version", broken)
    with pytest.raises(OSError, match="disk full"):
        deploy(settings)
    assert current_deployment(settings.deployment_folder).version == first.version
    staging = [p for p in (settings.deployment_folder / "versions").iterdir()
               if p.name.startswith(".")]
    assert staging == []


def test_old_versions_are_pruned_but_never_the_current_one(settings):
    build(settings)
    small = settings.__class__(**{**settings.__dict__, "keep_versions": 3})
    for _ in range(5):
        deploy(small)
    assert sorted(version_dirs(settings.deployment_folder)) == [3, 4, 5]
    assert os.readlink(settings.deployment_folder / "current") == "versions/v0005"


def test_keep_versions_one_keeps_only_the_current_version(settings):
    build(settings)
    only = settings.__class__(**{**settings.__dict__, "keep_versions": 1})
    for _ in range(3):
        deploy(only)
    assert sorted(version_dirs(settings.deployment_folder)) == [3]
