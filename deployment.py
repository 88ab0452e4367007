"""Deployment: publish the trained model, its score and its ingestion record as one new version.

``python deployment.py`` deploys; ``python deployment.py --rollback`` makes the previous version
current again. Both switch versions with one atomic rename of the ``current`` link.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, Settings, load_settings
from pipeline.core.deployed import (
    DEPLOYED_FILES,
    Deployed,
    NoDeployment,
    current_deployment,
    read_version,
    version_dirs,
)
from pipeline.core.files import atomic_write_text, fsync_dir, sha256_file
from pipeline.core.history import History, utc_now
from pipeline.core.modelfile import ModelIntegrityError, read_provenance
from pipeline.core.names import (
    CURRENT,
    INGESTED_FILES,
    MANIFEST,
    MODEL_FILE,
    SAMPLE_FILE,
    SCORE_FILE,
    SCORE_RECORD,
    VERSIONS,
)

logger = logging.getLogger(__name__)


class DeploymentError(RuntimeError):
    """The files to deploy are missing or do not belong together."""


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


def _copy_synced(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.flush()
        os.fsync(dst.fileno())


def _point_link(folder: Path, name: str, target: str) -> None:
    """Make folder/name a symbolic link to target, replacing what was there in one rename."""
    link = folder / name
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_dir() and not link.is_symlink():
        raise DeploymentError(f"{link} is a folder; move it away to deploy here")
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def switch_to(deployment_folder: Path, version_folder: Path) -> None:
    """Make a version current: one atomic swap of the ``current`` link."""
    _point_link(deployment_folder, CURRENT, f"{VERSIONS}/{version_folder.name}")
    # Course-compatible paths at the top of the folder; they always go through ``current``.
    for name in (*DEPLOYED_FILES, MANIFEST):
        _point_link(deployment_folder, name, f"{CURRENT}/{name}")
    fsync_dir(deployment_folder)


def _claim_version(versions: Path, staged: Path, manifest: dict) -> Path:
    """Rename a staged folder to the next free version number; returns its new path.

    The manifest is written into the staged folder with the number it is about to get, so a
    version folder is complete, manifest included, from the instant it has its name.
    """
    number = max(version_dirs(versions.parent), default=0) + 1
    while True:
        manifest["version"] = number
        atomic_write_text(staged / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        target = versions / f"v{number:04d}"
        try:
            os.rename(staged, target)  # fails if a complete version already has that name
        except OSError:
            if not target.exists():
                raise
            number += 1
            continue
        fsync_dir(versions)
        return target


def deploy(settings: Settings, run_id: int | None = None) -> Deployed:
    """Publish the trained model, its score and the ingestion record as a new current version."""
    model_folder = settings.model_folder
    ingested = settings.output_folder / INGESTED_FILES
    candidate = check_candidate(model_folder, ingested)
    versions = settings.deployment_folder / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    _clean_staging(versions)
    staged = Path(tempfile.mkdtemp(prefix=".staging-", dir=versions))
    staged.chmod(0o755)
    try:
        sources = {MODEL_FILE: model_folder / MODEL_FILE, SCORE_FILE: model_folder / SCORE_FILE,
                   INGESTED_FILES: ingested}
        if (model_folder / SAMPLE_FILE).is_file():
            sources[SAMPLE_FILE] = model_folder / SAMPLE_FILE
        for name, source in sources.items():
            _copy_synced(source, staged / name)
        files = {name: sha256_file(staged / name) for name in sources}
        if files[MODEL_FILE] != candidate["provenance"]["model_sha256"]:
            raise DeploymentError("the trained model changed while it was being deployed")
        manifest = {
            "deployed_at": utc_now(),
            "config": str(settings.config_path),
            "model_sha256": files[MODEL_FILE],
            "f1": candidate["score"]["f1"],
            "scores": {k: candidate["score"].get(k) for k in
                       ("f1", "precision", "recall", "roc_auc", "log_loss", "brier",
                        "threshold", "tn", "fp", "fn", "tp", "rows")},
            "test_data": candidate["score"].get("data"),
            "files": files,
            "training": candidate["provenance"],
        }
        final = _claim_version(versions, staged, manifest)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    switch_to(settings.deployment_folder, final)
    deployed = read_version(final)
    History(settings.history_db).insert("deployments", {
        "run_id": run_id, "time": manifest["deployed_at"], "action": "deploy",
        "version": deployed.version, "model_sha256": manifest["model_sha256"],
        "f1": manifest["f1"], "data_files": json.dumps(manifest["training"].get("training_files")),
    })
    prune_versions(settings.deployment_folder, settings.keep_versions)
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
        History(settings.history_db).insert("deployments", {
            "run_id": run_id, "time": utc_now(), "action": "rollback",
            "version": candidate.version, "model_sha256": candidate.manifest["model_sha256"],
            "f1": candidate.manifest.get("f1"), "data_files": None,
        })
        return candidate
    raise DeploymentError(f"no valid version older than {current.version} to roll back to")


def prune_versions(deployment_folder: Path, keep: int) -> list[int]:
    """Delete the oldest versions beyond ``keep``, never the current one; returns those deleted."""
    try:
        current = current_deployment(deployment_folder).version
    except NoDeployment:
        return []
    numbers = [n for n in version_dirs(deployment_folder) if n != current]
    doomed = numbers[: max(0, len(numbers) - (keep - 1))]  # the current one counts in keep
    for number in doomed:
        shutil.rmtree(version_dirs(deployment_folder)[number], ignore_errors=True)
    return doomed


def _clean_staging(versions: Path) -> None:
    """Remove staging folders left by an interrupted deployment."""
    for child in versions.glob(".staging-*"):
        shutil.rmtree(child, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Deploy the trained model, or roll back to the previous version."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rollback", action="store_true",
                        help="make the previous deployed version current again")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        stage = "rollback" if args.rollback else "deployment"
        with History(settings.history_db).run(stage, settings.name) as run:
            deployed = rollback(settings, run.id) if args.rollback else deploy(settings, run.id)
            run.summary = {"version": deployed.version}
    except (ConfigError, DeploymentError, ModelIntegrityError, OSError) as exc:
        print(f"{'rollback' if args.rollback else 'deployment'} failed: {exc}", file=sys.stderr)
        return 1
    verb = "rolled back to" if args.rollback else "deployed"
    print(f"{verb} version {deployed.version} (F1 {deployed.score:.4f}) in "
          f"{settings.deployment_folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
