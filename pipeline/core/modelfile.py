"""Model files: pickled with a checksum beside them, loaded only when the checksum matches.

Unpickling runs code, so a model file is loaded only after its SHA-256 has been checked against
the record written by whoever wrote the file (the training provenance or the deployment manifest).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from pipeline.core.files import atomic_write_bytes, atomic_write_text, sha256_bytes
from pipeline.core.names import MODEL_FILE, PROVENANCE_FILE


class ModelIntegrityError(RuntimeError):
    """A model file is missing, or its bytes do not match the checksum recorded for it."""


def save_model(model, folder: str | Path, provenance: dict) -> dict:
    """Pickle a model to folder/trainedmodel.pkl with its provenance and checksum beside it."""
    folder = Path(folder)
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    record = dict(provenance, model_file=MODEL_FILE, model_sha256=sha256_bytes(data),
                  model_bytes=len(data))
    # The provenance goes first: a crash between the two writes leaves a checksum that does not
    # match the old model, so the old model is refused rather than trusted under a new record.
    atomic_write_text(folder / PROVENANCE_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    atomic_write_bytes(folder / MODEL_FILE, data)
    return record


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
