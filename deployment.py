"""Deployment: publish the trained model, its score and its ingestion record as one new version.

``python deployment.py`` deploys; ``python deployment.py --rollback`` makes the previous version
current again. Both switch versions with one atomic rename of the ``current`` link.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, Settings, load_settings
from pipeline.core.deployed import (
    Deployed,
    current_deployment,
    existing_model,
    read_version,
    version_dirs,
)
from pipeline.core.files import sha256_bytes, sha256_file
from pipeline.core.history import History, record_score, utc_now
from pipeline.core.modelfile import ModelIntegrityError, adapt_foreign, read_provenance
from pipeline.core.names import (
    INGESTED_FILES,
    MODEL_FILE,
    SAMPLE_FILE,
    SCORE_FILE,
    SCORE_RECORD,
)
from pipeline.core.publish import DeploymentError, prune_versions, publish_version, switch_to

__all__ = ["DeploymentError", "adopt_existing", "check_candidate", "deploy", "rollback",
           "store_model_into_pickle"]

logger = logging.getLogger(__name__)

# The scores a manifest keeps of its model on the test data.
SCORE_KEYS = ("f1", "precision", "recall", "roc_auc", "log_loss", "brier", "threshold",
              "tn", "fp", "fn", "tp", "rows")


def check_candidate(model_folder: Path, ingested_files: Path) -> dict:
    """Check that the trained model, its score and the ingestion record belong together.

    Returns the training provenance plus the score record.
    """
    provenance = read_provenance(model_folder)
    model_sha = sha256_file(model_folder / MODEL_FILE) if (model_folder / MODEL_FILE).exists() \
        else None
    if model_sha != provenance.get("model_sha256"):
        raise DeploymentError(f"{model_folder / MODEL_FILE} does not match its training record")
    try:
        score_record = json.loads((model_folder / SCORE_RECORD).read_text(encoding="utf-8"))
        score = float((model_folder / SCORE_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        raise DeploymentError(f"no score for the model in {model_folder}: run scoring.py") from None
    if score_record.get("model_sha256") != model_sha or score_record.get("f1") != score:
        raise DeploymentError(f"{model_folder / SCORE_FILE} is not the score of the trained model: "
                              "run scoring.py")
    if not ingested_files.is_file():
        raise DeploymentError(f"no ingestion record at {ingested_files}: run ingestion.py")
    return {"provenance": provenance, "score": score_record}


def adopt_existing(settings: Settings, run_id: int | None = None) -> Deployed | None:
    """Take over a deployment this system did not make (pipeline.core.deployed.existing_model:
    the course's plain files, or a model training.py did not write) as a new version,
    byte for byte, before anything else is written; None when there is none.

    Its model's F1 is re-measured on the current test data, and that figure is the version's
    score: the rule that a worse model is not deployed then applies against it. A model that
    cannot be loaded or cannot score the test data is kept all the same (with F1 0 and the
    reason), so that its bytes can be rolled back to.
    """
    found = existing_model(settings.deployment_folder, settings.model_folder)
    if found is None:
        return None
    kind, place = found
    data = (place / MODEL_FILE).read_bytes()  # the bytes checked, measured and published
    recorded = _read_small(place / SCORE_FILE)
    measured = _measure_foreign(data, settings)
    recorded_f1 = _number(recorded)
    f1 = measured["scores"]["f1"] if measured["scores"] else (
        recorded_f1 if recorded_f1 is not None and not measured["problem"] else 0.0)
    ingested = place / INGESTED_FILES if kind == "deployment" \
        else settings.output_folder / INGESTED_FILES
    sources = {MODEL_FILE: data,
               SCORE_FILE: place / SCORE_FILE if recorded is not None else f"{f1!r}\n".encode(),
               INGESTED_FILES: ingested if ingested.is_file() else b""}
    now = utc_now()
    manifest = {
        "deployed_at": now, "config": str(settings.config_path),
        "model_sha256": sha256_bytes(data), "f1": f1,
        "scores": {k: measured["scores"].get(k) for k in SCORE_KEYS} if measured["scores"]
        else {}, "test_data": str(settings.test_file), "training": {},
        "adopted": {"from": str(place), "source": kind, "adopted_at": now,
                    "model_type": measured["model_type"], "recorded_score": recorded,
                    "recorded_f1": recorded_f1, "problem": measured["problem"],
                    "note": measured["note"]},
    }
    final = publish_version(settings.deployment_folder, sources, manifest)
    deployed = read_version(final)
    _record_deployment(settings, run_id, "adopt", deployed)
    if measured["scores"]:
        record_score(History(settings.history_db), run_id, "test", measured["scores"],
                     model_sha256=manifest["model_sha256"], model_version=deployed.version,
                     data=str(settings.test_file))
    logger.warning("adopted the %s in %s as version %d, byte for byte: F1 %.4f re-measured on "
                   "%s (it recorded %s)%s", kind, place, deployed.version, f1,
                   settings.test_file.name, recorded if recorded is not None else "no score",
                   f"; {measured['problem'] or measured['note']}"
                   if measured["problem"] or measured["note"] else "")
    return deployed


def _read_small(path: Path, limit: int = 200) -> str | None:
    """The first characters of a small text file (a course's latestscore.txt), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit).strip()
    except OSError:
        return None


def _number(text: str | None) -> float | None:
    """The first number in a text ("0.571", "f1 score: 0.571"), or None."""
    match = re.search(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", text or "")
    return float(match.group()) if match else None


def _measure_foreign(data: bytes, settings: Settings) -> dict:
    """{"scores", "problem", "note", "model_type"} of a pickled model on the test data.

    The user's own model, in their own folder, is unpickled as their course code did; any
    failure of it (an old library, a model of other columns) is its problem, not a crash.
    """
    import pickle

    from pipeline.ingest.records import read_labelled_data
    from pipeline.model.evaluate import score_model

    found = {"scores": None, "problem": None, "note": None, "model_type": None}
    try:
        model = pickle.loads(data)  # the user's own model, as their course code loads it
        found["model_type"] = type(model).__name__
    except Exception as exc:  # any failure of a foreign pickle: kept, marked unusable
        found["problem"] = f"it cannot be unpickled here: {type(exc).__name__}: {exc}"[:300]
        return found
    try:
        frame = read_labelled_data(settings.test_file)
    except (OSError, ValueError) as exc:
        found["note"] = f"not re-measured: {exc}"[:300]
        return found
    try:
        found["scores"] = score_model(adapt_foreign(model), frame)
    except Exception as exc:  # a model of other columns, or without predict_proba
        found["problem"] = f"it cannot score the test data: {type(exc).__name__}: {exc}"[:300]
    return found


def deploy(settings: Settings, run_id: int | None = None) -> Deployed:
    """Publish the trained model, its score and the ingestion record as a new current version.

    A deployment this system did not make (the course's plain files) is first adopted as a
    version of its own (adopt_existing), so that nothing of it is overwritten.
    """
    adopt_existing(settings, run_id)
    model_folder = settings.model_folder
    ingested = settings.output_folder / INGESTED_FILES
    candidate = check_candidate(model_folder, ingested)
    sources = {MODEL_FILE: model_folder / MODEL_FILE, SCORE_FILE: model_folder / SCORE_FILE,
               INGESTED_FILES: ingested}
    if (model_folder / SAMPLE_FILE).is_file():
        sources[SAMPLE_FILE] = model_folder / SAMPLE_FILE

    def unchanged(files: dict) -> None:
        if files[MODEL_FILE] != candidate["provenance"]["model_sha256"]:
            raise DeploymentError("the trained model changed while it was being deployed")

    manifest = {
        "deployed_at": utc_now(),
        "config": str(settings.config_path),
        "model_sha256": candidate["provenance"]["model_sha256"],
        "f1": candidate["score"]["f1"],
        "scores": {k: candidate["score"].get(k) for k in SCORE_KEYS},
        "test_data": candidate["score"].get("data"),
        "training": candidate["provenance"],
    }
    final = publish_version(settings.deployment_folder, sources, manifest, verify=unchanged)
    deployed = read_version(final)
    _record_deployment(settings, run_id, "deploy", deployed,
                       json.dumps(manifest["training"].get("training_files")))
    prune_versions(settings.deployment_folder, settings.keep_versions)
    return deployed


def _record_deployment(settings: Settings, run_id: int | None, action: str, deployed: Deployed,
                       data_files: str | None = None) -> None:
    """A row of the history's deployments table: a deployment, an adoption or a rollback."""
    when = utc_now() if action == "rollback" else deployed.manifest.get("deployed_at")
    History(settings.history_db).insert("deployments", {
        "run_id": run_id, "time": when, "action": action, "version": deployed.version,
        "model_sha256": deployed.manifest["model_sha256"], "f1": deployed.manifest.get("f1"),
        "data_files": data_files,
    })


def store_model_into_pickle(settings: Settings | None = None) -> Deployed:
    """The course's call: deploy the trained model as ``python deployment.py`` does, reading
    config.json beside the scripts when no settings are given."""
    settings = settings or load_settings()
    with History(settings.history_db).run("deployment", settings.name) as run:
        deployed = deploy(settings, run.id)
        run.summary = {"version": deployed.version}
    return deployed


def rollback(settings: Settings, run_id: int | None = None) -> Deployed:
    """Make the newest version older than the current one current again."""
    current = current_deployment(settings.deployment_folder)
    older = [folder for number, folder in version_dirs(settings.deployment_folder).items()
             if number < current.version]
    for folder in reversed(older):
        try:
            candidate = read_version(folder)
            if sha256_file(candidate.model_path) != candidate.manifest.get("model_sha256"):
                raise ModelIntegrityError(f"{candidate.model_path} does not match its manifest")
        except (ModelIntegrityError, OSError) as exc:
            logger.warning("skipping version %s: %s", folder.name, exc)
            continue
        switch_to(settings.deployment_folder, folder)
        _record_deployment(settings, run_id, "rollback", candidate)
        return candidate
    raise DeploymentError(f"no valid version older than {current.version} to roll back to")


def main(argv: list[str] | None = None) -> int:
    """Deploy the trained model, or roll back to the previous version."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rollback", action="store_true",
                        help="make the previous deployed version current again")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        if args.rollback:
            with History(settings.history_db).run("rollback", settings.name) as run:
                deployed = rollback(settings, run.id)
                run.summary = {"version": deployed.version}
        else:
            deployed = store_model_into_pickle(settings)
    except (ConfigError, DeploymentError, ModelIntegrityError, OSError) as exc:
        print(f"{'rollback' if args.rollback else 'deployment'} failed: {exc}", file=sys.stderr)
        return 1
    verb = "rolled back to" if args.rollback else "deployed"
    print(f"{verb} version {deployed.version} (F1 {deployed.score:.4f}) in "
          f"{settings.deployment_folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
