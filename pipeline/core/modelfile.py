"""Model files: pickled with a checksum beside them, loaded only when the checksum matches.

Unpickling runs code, so a model file is loaded only after its SHA-256 has been checked against
the record written by whoever wrote the file (the training provenance or the deployment manifest).
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

from pipeline.core.files import atomic_write_bytes, atomic_write_text, sha256_bytes
from pipeline.core.names import MODEL_FILE, PROVENANCE_FILE
from pipeline.core.schema import FEATURES

logger = logging.getLogger(__name__)


class ModelIntegrityError(RuntimeError):
    """A model file is missing, or its bytes do not match the checksum recorded for it."""


def save_model(model, folder: str | Path, provenance: dict) -> dict:
    """Pickle a model to folder/trainedmodel.pkl with its provenance and checksum beside it.

    A trainedmodel.pkl found there that this system did not write (no trainedmodel.json beside
    it: a course user's own model) is first kept under a name of its own, never overwritten.
    """
    folder = Path(folder)
    _keep_foreign_model(folder)
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    record = dict(provenance, model_file=MODEL_FILE, model_sha256=sha256_bytes(data),
                  model_bytes=len(data))
    # The provenance goes first: a crash between the two writes leaves a checksum that does not
    # match the old model, so the old model is refused rather than trusted under a new record.
    atomic_write_text(folder / PROVENANCE_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    atomic_write_bytes(folder / MODEL_FILE, data)
    return record


def _keep_foreign_model(folder: Path) -> None:
    path = folder / MODEL_FILE
    if not path.is_file() or path.is_symlink() or (folder / PROVENANCE_FILE).exists():
        return
    data = path.read_bytes()
    kept = folder / f"trainedmodel.kept-{sha256_bytes(data)[:12]}.pkl"
    if not kept.exists():
        atomic_write_bytes(kept, data)
    logger.warning("%s was not written by training.py: kept as %s before training replaces it",
                   path, kept.name)


def read_provenance(folder: str | Path) -> dict:
    """The provenance record written beside a trained model."""
    path = Path(folder) / PROVENANCE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelIntegrityError(f"no model record at {path}: run training.py first") from None
    except (ValueError, OSError) as exc:
        raise ModelIntegrityError(f"unreadable model record {path}: {exc}") from None


def load_verified(path: str | Path, expected_sha256: str):
    """Unpickle a model file only if its bytes have the expected SHA-256."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelIntegrityError(f"model file missing: {path}") from None
    except OSError as exc:
        raise ModelIntegrityError(f"cannot read model file {path}: {exc}") from None
    actual = sha256_bytes(data)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"model file {path} does not match its recorded checksum "
            f"(expected {expected_sha256[:12]}, found {actual[:12]}); refusing to load it"
        )
    return pickle.loads(data)


def load_trained_model(folder: str | Path):
    """The model training.py wrote in folder, verified against its provenance; (model, record)."""
    record = read_provenance(folder)
    model = load_verified(Path(folder) / record.get("model_file", MODEL_FILE),
                          record.get("model_sha256", ""))
    return model, record


class ForeignModel:
    """A model this system did not train (a course deployment it adopted), fed the columns it
    was fitted on: by name when it knows them, else the three features as plain numbers, in
    the course's order. It answers ``predict`` and ``predict_proba`` as any model here does."""

    def __init__(self, model):
        self.model = model
        names = getattr(model, "feature_names_in_", None)
        self.columns = [str(name) for name in names] if names is not None else list(FEATURES)
        self.by_name = names is not None

    def _input(self, features):
        if not hasattr(features, "columns"):
            return features
        chosen = features[self.columns]
        return chosen if self.by_name else chosen.to_numpy()

    def predict(self, features):
        """The model's classes for a frame of the features."""
        return self.model.predict(self._input(features))

    def predict_proba(self, features):
        """The model's class probabilities for a frame of the features."""
        return self.model.predict_proba(self._input(features))

    def __repr__(self) -> str:
        return f"ForeignModel({self.model!r})"


def adapt_foreign(model):
    """A foreign model as the system calls models: unchanged when it already takes a frame of
    exactly the features (one of our pipelines restored by hand), else wrapped."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None and [str(n) for n in names] == list(FEATURES):
        return model
    return ForeignModel(model)
