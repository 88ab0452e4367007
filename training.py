"""Training: fit the attrition model on the ingested data and save it with its provenance."""

from __future__ import annotations

import logging
import platform
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import DEFAULT_MODEL, ConfigError, Settings, load_settings
from pipeline.core.files import atomic_open, sha256_file
from pipeline.core.history import History, utc_now
from pipeline.core.modelfile import save_model
from pipeline.core.names import FINAL_DATA, INGESTED_FILES, SAMPLE_FILE
from pipeline.core.schema import FEATURES, TARGET
from pipeline.ingest.merge import parse_ingested_files

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 10_000


def build_model(params: Mapping = DEFAULT_MODEL) -> Pipeline:
    """The model: standard scaling, then logistic regression, as one Pipeline.

    ``params`` are complete settings, as pipeline.core.config checks and completes them.
    """
    return Pipeline([
        ("scale", StandardScaler()),
        ("classify", LogisticRegression(
            C=float(params["C"]),
            max_iter=int(params["max_iter"]),
            class_weight=params["class_weight"],
            random_state=params["random_state"],
        )),
    ])


def read_training_data(path: Path) -> pd.DataFrame:
    """The ingested data: the feature columns and the target."""
    try:
        frame = pd.read_csv(path, usecols=[*FEATURES, TARGET])
    except FileNotFoundError:
        raise FileNotFoundError(f"no ingested data at {path}: run ingestion.py first") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not ingested data: {exc}") from None
    return frame


def train_model(frame: pd.DataFrame, params: Mapping = DEFAULT_MODEL) -> Pipeline:
    """Fit the model on a frame of features and target."""
    if frame.empty:
        raise ValueError("no rows to train on")
    if frame[TARGET].nunique() < 2:
        raise ValueError(f"training needs both classes of {TARGET}; the data has only one")
    model = build_model(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(frame[list(FEATURES)], frame[TARGET])
    return model


def library_versions() -> dict:
    """Versions of the libraries a pickled model depends on."""
    import numpy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "pandas": pd.__version__}


def run_training(settings: Settings) -> dict:
    """Train on the configured ingested data and write the model; returns its provenance."""
    with History(settings.history_db).run("training", settings.name) as run:
        data_path = settings.output_folder / FINAL_DATA
        frame = read_training_data(data_path)
        model = train_model(frame, settings.model)
        files_path = settings.output_folder / INGESTED_FILES
        files = parse_ingested_files(files_path.read_text(encoding="utf-8")) \
            if files_path.exists() else []
        provenance = {
            "trained_at": utc_now(),
            "config": str(settings.config_path),
            "training_data": str(data_path),
            "training_data_sha256": sha256_file(data_path),
            "training_files": [{"name": f["name"], "sha256": f.get("sha256")} for f in files],
            "rows": len(frame),
            "positive_rate": float(frame[TARGET].mean()),
            "params": dict(settings.model),
            "libraries": library_versions(),
        }
        # A sample of what the model learned from: the reference for data drift checks.
        sample = frame[list(FEATURES)].sample(n=min(SAMPLE_ROWS, len(frame)), random_state=0)
        with atomic_open(settings.model_folder / SAMPLE_FILE, "w", newline="") as handle:
            sample.to_csv(handle, index=False, lineterminator="\n")
        provenance["training_sample"] = {"file": SAMPLE_FILE, "rows": len(sample),
                                         "sha256": sha256_file(settings.model_folder / SAMPLE_FILE)}
        record = save_model(model, settings.model_folder, provenance)
        run.summary = {"rows": len(frame), "model_sha256": record["model_sha256"]}
    logger.info("trained on %d rows of %s -> %s", len(frame), data_path, settings.model_folder)
    return record


def main(argv: list[str] | None = None) -> int:
    """Train the model named by the configuration."""
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        record = run_training(settings)
    except (ConfigError, FileNotFoundError, ValueError, OSError, ConvergenceWarning) as exc:
        print(f"training failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"trained on {record['rows']} rows -> {settings.model_folder / record['model_file']} "
          f"(sha256 {record['model_sha256'][:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
