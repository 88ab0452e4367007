"""Training: choose the attrition model by cross-validation, fit it on the ingested data and
save it with its provenance.

The candidates (pipeline.model.candidates: the course's logistic regression on the raw counts,
logistic regression on log(1 + count), gradient boosting) are compared by stratified k-fold
cross-validation on log-loss, on a capped subsample of large data; the simplest that ranks the
rows and is within one standard error of the best (pipeline.model.choice), with its decision
threshold tuned for F1, is fitted on every row. The config's ``model.family`` can pin one.
"""

from __future__ import annotations

import logging
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import DEFAULT_MODEL, ConfigError, Settings, load_settings
from pipeline.core.files import atomic_open, sha256_file
from pipeline.core.history import History, utc_now
from pipeline.core.modelfile import save_model
from pipeline.core.names import FINAL_DATA, INGESTED_FILES, SAMPLE_FILE
from pipeline.core.schema import FEATURES, TARGET
from pipeline.data.final import read_final_data
from pipeline.ingest.merge import parse_ingested_files
from pipeline.model.selection import Selection, fit_selected, select_model
from pipeline.model.uncertainty import parameter_uncertainty

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 10_000
CV_METRICS = ("log_loss", "roc_auc", "brier", "f1")


def read_training_data(path: Path) -> pd.DataFrame:
    """The ingested data: the feature columns and the target."""
    try:
        frame = read_final_data(path, [*FEATURES, TARGET])
    except FileNotFoundError:
        raise FileNotFoundError(f"no ingested data at {path}: run ingestion.py first") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not ingested data: {exc}") from None
    return frame


def fit_model(frame: pd.DataFrame, params: Mapping = DEFAULT_MODEL
              ) -> tuple[Pipeline, Selection]:
    """Choose the model by cross-validation, tune its threshold, and fit it on every row."""
    if frame.empty:
        raise ValueError("no rows to train on")
    if frame[TARGET].nunique() < 2:
        raise ValueError(f"training needs both classes of {TARGET}; the data has only one")
    seed = params["random_state"] if params["random_state"] is not None else 0
    selection = select_model(frame, params, family=params["family"], folds=params["folds"],
                             cap=params["selection_rows"], seed=seed)
    model = fit_selected(frame, selection, params)
    selection.uncertainty = parameter_uncertainty(model, frame, seed)
    return model, selection


def train_model(frame: pd.DataFrame | None = None, params: Mapping | None = None) -> Pipeline:
    """The fitted model of a frame of features and target (see fit_model; ``params``: the
    config's model settings, by default DEFAULT_MODEL).

    ``train_model()``, as the course calls it: train on the ingested data named by config.json
    beside the scripts and write trainedmodel.pkl with its record (run_training); returns the
    model it wrote.
    """
    if frame is None:
        if params is not None:
            raise TypeError("train_model() reads its model settings from config.json; "
                            "pass a frame to train with other params")
        return _train_and_save(load_settings())[0]
    return fit_model(frame, DEFAULT_MODEL if params is None else params)[0]


def library_versions() -> dict:
    """Versions of the libraries a pickled model depends on."""
    import numpy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "pandas": pd.__version__}


def run_training(settings: Settings) -> dict:
    """Train on the configured ingested data and write the model; returns its provenance."""
    return _train_and_save(settings)[1]


def _train_and_save(settings: Settings) -> tuple[Pipeline, dict]:
    """(the fitted model, its provenance record), the model written to the model folder."""
    history = History(settings.history_db)
    with history.run("training", settings.name) as run:
        data_path = settings.output_folder / FINAL_DATA
        frame = read_training_data(data_path)
        model, selection = fit_model(frame, settings.model)
        files_path = settings.output_folder / INGESTED_FILES
        files = parse_ingested_files(files_path.read_text(encoding="utf-8")) \
            if files_path.exists() else []
        provenance = {
            "trained_at": utc_now(),
            "config": str(settings.config_path),
            "training_data": str(data_path),
            "training_data_sha256": sha256_file(data_path),
            "training_files": [{"name": f["name"], "sha256": f.get("sha256")} for f in files
                               if f.get("labels") != "none"],  # unlabelled: never trained on
            "rows": len(frame),
            "positive_rate": float(frame[TARGET].mean()),
            "params": dict(settings.model),
            "model": selection.chosen,
            "threshold": selection.threshold,
            "selection": selection.as_dict(),
            "libraries": library_versions(),
        }
        # A sample of what the model learned from: the reference for data drift checks.
        sample = frame[list(FEATURES)].sample(n=min(SAMPLE_ROWS, len(frame)), random_state=0)
        with atomic_open(settings.model_folder / SAMPLE_FILE, "w", newline="") as handle:
            sample.to_csv(handle, index=False, lineterminator="\n")
        provenance["training_sample"] = {"file": SAMPLE_FILE, "rows": len(sample),
                                         "sha256": sha256_file(settings.model_folder / SAMPLE_FILE)}
        record = save_model(model, settings.model_folder, provenance)
        record_selection(history, run.id, selection)
        run.summary = {"rows": len(frame), "model": selection.chosen,
                       "threshold": selection.threshold, "model_sha256": record["model_sha256"]}
    logger.info("chose %s (threshold %.3f) by %d-fold cross-validation on %d rows; trained on "
                "%d rows of %s -> %s", selection.chosen, selection.threshold, selection.folds,
                selection.rows, len(frame), data_path, settings.model_folder)
    for row in selection.table:
        logger.info("  %-13s log-loss %.4f±%.4f  ROC AUC %.4f±%.4f  Brier %.4f±%.4f  "
                    "F1 %.4f±%.4f", row["model"], *(row[k] for m in CV_METRICS
                                                    for k in (m, f"{m}_sd")))
    logger.info("  why: %s", selection.rule)
    if selection.note:
        logger.info("  threshold: %s", selection.note)
    return model, record


def record_selection(history: History, run_id: int, selection: Selection) -> None:
    """The cross-validation table as metrics of the training run (the whole table as detail)."""
    values = {f"cv_{row['model']}_{metric}": row[metric]
              for row in selection.table for metric in CV_METRICS}
    values["threshold"] = selection.threshold
    history.record_metrics(run_id, "training", values, detail=selection.as_dict())


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
