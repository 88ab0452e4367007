"""Scoring: the F1 score (and more) of the trained model on the test data."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from pipeline.cli import base_parser, setup_logging
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.files import atomic_write_text
from pipeline.history import History, utc_now
from pipeline.modelfile import ModelIntegrityError, load_trained_model
from pipeline.records import read_input_file
from pipeline.schema import FEATURES, TARGET

logger = logging.getLogger(__name__)

SCORE_FILE = "latestscore.txt"
SCORE_RECORD = "latestscore.json"


def read_labelled_data(path: Path) -> pd.DataFrame:
    """A labelled CSV file, validated with the ingestion rules; bad rows are logged and left out."""
    result = read_input_file(Path(path))
    if not result.usable:
        raise ValueError(f"cannot score on {path}: {result.reason}")
    for reject in result.rejects:
        logger.warning("%s line %s left out: %s", result.name, reject["line"], reject["reason"])
    if result.frame is None or result.frame.empty:
        raise ValueError(f"cannot score on {path}: no valid rows")
    return result.frame


def score_model(model, frame: pd.DataFrame) -> dict:
    """F1, precision, recall, ROC AUC and confusion counts of a model on a labelled frame."""
    if frame.empty:
        raise ValueError("no rows to score on")
    truth = frame[TARGET].to_numpy()
    features = frame[list(FEATURES)]
    predicted = model.predict(features)
    probability = model.predict_proba(features)[:, 1]
    tn, fp, fn, tp = confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    both_classes = len(np.unique(truth)) == 2
    return {
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "precision": float(precision_score(truth, predicted, zero_division=0)),
        "recall": float(recall_score(truth, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, probability)) if both_classes else None,
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
        "rows": len(frame),
    }


def record_score(history: History, run_id: int | None, purpose: str, scores: dict, *,
                 model_sha256: str, data: str, model_version: int | None = None) -> None:
    """Store a scoring result in the history database."""
    history.insert("scores", {
        "run_id": run_id, "time": utc_now(), "purpose": purpose, "model_sha256": model_sha256,
        "model_version": model_version, "data": data, "rows": scores["rows"],
        **{key: scores[key] for key in ("f1", "precision", "recall", "roc_auc",
                                        "tn", "fp", "fn", "tp")},
    })


def run_scoring(settings: Settings) -> dict:
    """Score the trained model on the test data and write latestscore.txt."""
    history = History(settings.history_db)
    run_id = history.start_run("scoring", settings.name)
    try:
        model, record = load_trained_model(settings.model_folder)
        scores = score_model(model, read_labelled_data(settings.test_file))
        # The record ties the bare score to the model it measured, so deployment can refuse a
        # stale latestscore.txt left by an earlier model.
        atomic_write_text(settings.model_folder / SCORE_RECORD, json.dumps(
            {**scores, "model_sha256": record["model_sha256"], "data": str(settings.test_file),
             "scored_at": utc_now()}, indent=2, sort_keys=True) + "\n")
        atomic_write_text(settings.model_folder / SCORE_FILE, f"{scores['f1']!r}\n")
        record_score(history, run_id, "test", scores, model_sha256=record["model_sha256"],
                     data=str(settings.test_file))
    except BaseException as exc:
        history.finish_run(run_id, "failed", str(exc))
        raise
    history.finish_run(run_id, "ok", scores)
    logger.info("F1 %.4f precision %.4f recall %.4f on %d rows of %s", scores["f1"],
                scores["precision"], scores["recall"], scores["rows"], settings.test_file)
    return scores


def read_score(path: Path) -> float:
    """The bare number of a latestscore.txt file."""
    return float(Path(path).read_text(encoding="utf-8").strip())


def main(argv: list[str] | None = None) -> int:
    """Score the trained model named by the configuration."""
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        scores = run_scoring(settings)
    except (ConfigError, FileNotFoundError, ValueError, OSError, ModelIntegrityError) as exc:
        print(f"scoring failed: {exc}", file=sys.stderr)
        return 1
    auc = "n/a" if scores["roc_auc"] is None else f"{scores['roc_auc']:.4f}"
    print(f"F1 {scores['f1']:.4f} (precision {scores['precision']:.4f}, recall "
          f"{scores['recall']:.4f}, ROC AUC {auc}) on {scores['rows']} test rows -> "
          f"{settings.model_folder / SCORE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
