"""Reading the production deployment: its versions, its manifest, its verified model.

Layout of the deployment folder (written only by deployment.py)::

    versions/v0001/         one folder per deployed version, never changed once written:
        trainedmodel.pkl    latestscore.txt    ingestedfiles.txt    manifest.json
    current -> versions/v0003           a symbolic link, swapped atomically to deploy or roll back
    trainedmodel.pkl -> current/trainedmodel.pkl   (and the same for the other three files)

A reader resolves ``current`` once and reads every file from that one version folder, so it can
never pair a model with another version's score or record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.modelfile import ModelIntegrityError, adapt_foreign, load_verified
from pipeline.core.names import (
    CURRENT,
    INGESTED_FILES,
    MANIFEST,
    MODEL_FILE,
    PROVENANCE_FILE,
    SCORE_FILE,
    VERSIONS,
)

# Published at the top of the deployment folder too (links through current/), as the course has
# them; a version folder also holds trainingsample.csv, the reference for data drift checks.
DEPLOYED_FILES = (MODEL_FILE, SCORE_FILE, INGESTED_FILES)
_VERSION_DIR = re.compile(r"^v(\d+)$")


class NoDeployment(ModelIntegrityError):
    """No valid model is deployed."""


@dataclass(frozen=True)
class Deployed:
    """One deployed version: its folder and manifest."""

    folder: Path
    manifest: dict

    @property
    def version(self) -> int:
        """The version number."""
        return int(self.manifest["version"])

    @property
    def model_path(self) -> Path:
        """The pickled model of this version."""
        return self.folder / MODEL_FILE

    @property
    def score(self) -> float:
        """The F1 score recorded with this version (latestscore.txt); for an adopted
        deployment, whose latestscore.txt is kept as it came, the F1 re-measured when it was
        adopted."""
        if self.adopted is not None:
            return float(self.manifest["f1"])
        return float((self.folder / SCORE_FILE).read_text(encoding="utf-8").strip())

    @property
    def adopted(self) -> dict | None:
        """What adoption recorded when this version is an existing deployment taken over as it
        was (deployment.adopt_existing), else None."""
        return self.manifest.get("adopted")

    def load_model(self):
        """The model of this version, after checking its bytes against the manifest; an
        adopted model is wrapped to be called as ours are (modelfile.adapt_foreign)."""
        if self.adopted is not None and self.adopted.get("problem"):
            raise ModelIntegrityError(f"the model adopted as version {self.version} cannot "
                                      f"be used: {self.adopted['problem']}")
        model = load_verified(self.model_path, self.manifest.get("model_sha256", ""))
        return model if self.adopted is None else adapt_foreign(model)


def version_dirs(deployment_folder: Path) -> dict[int, Path]:
    """The complete version folders, by version number."""
    root = Path(deployment_folder) / VERSIONS
    if not root.is_dir():
        return {}
    found = {}
    for child in root.iterdir():
        match = _VERSION_DIR.match(child.name)
        if match and child.is_dir() and not child.is_symlink():
            found[int(match.group(1))] = child
    return dict(sorted(found.items()))


def read_version(folder: Path) -> Deployed:
    """A version folder with its manifest read."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoDeployment(f"deployed version {folder.name} has no manifest") from None
    except (OSError, ValueError) as exc:
        raise NoDeployment(f"unreadable manifest in {folder}: {exc}") from None
    return Deployed(folder=folder, manifest=manifest)


def current_deployment(deployment_folder: Path) -> Deployed:
    """The version that ``current`` points at; NoDeployment when there is none."""
    link = Path(deployment_folder) / CURRENT
    if not link.is_symlink():
        raise NoDeployment(f"no model deployed in {deployment_folder}")
    folder = link.resolve()
    if not folder.is_dir():
        raise NoDeployment(f"deployed version {folder.name} is missing from {deployment_folder}")
    return read_version(folder)


def load_deployed_model(deployment_folder: Path):
    """(model, Deployed) of the current version, with the model verified against its manifest."""
    deployed = current_deployment(deployment_folder)
    return deployed.load_model(), deployed


def existing_model(deployment_folder: Path, model_folder: Path) -> tuple[str, Path] | None:
    """A model this system did not deploy, where a user left it, when nothing is deployed:
    ("deployment", folder) for the course's plain files in the deployment folder (a regular
    trainedmodel.pkl and no ``current``), else ("model folder", folder) for a trainedmodel.pkl
    that training.py did not write (no trainedmodel.json beside it); None when there is none.
    """
    link = Path(deployment_folder) / CURRENT
    if link.is_symlink() or link.exists():
        return None
    for kind, place, record in (("deployment", Path(deployment_folder), None),
                                ("model folder", Path(model_folder), PROVENANCE_FILE)):
        model = place / MODEL_FILE
        if model.is_file() and not model.is_symlink() \
                and (record is None or not (place / record).exists()):
            return kind, place
    return None
