"""Scoring: the F1 score (and more) of the trained model on the test data."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pandas as pd

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, Settings, load_settings
from pipeline.core.files import atomic_write_text
from pipeline.core.history import History, record_score, utc_now
from pipeline.core.modelfile import ModelIntegrityError, load_trained_model
from pipeline.core.names import SCORE_FILE, SCORE_RECORD
from pipeline.ingest.records import read_labelled_data
from pipeline.model.evaluate import score_model as evaluate_model

__all__ = ["read_labelled_data", "read_score", "record_score", "run_scoring", "score_model"]

logger = logging.getLogger(__name__)


def run_scoring(settings: Settings) -> dict:
    """Score the trained model on the test data and write latestscore.txt."""
    history = History(settings.history_db)
    with history.run("scoring", settings.name) as run:
        model, record = load_trained_model(settings.model_folder)
        scores = evaluate_model(model, read_labelled_data(settings.test_file))
        # The record ties the bare score to the model it measured, so deployment can refuse a
        # stale latestscore.txt left by an earlier model.
        atomic_write_text(settings.model_folder / SCORE_RECORD, json.dumps(
            {**scores, "model_sha256": record["model_sha256"], "data": str(settings.test_file),
             "scored_at": utc_now()}, indent=2, sort_keys=True) + "\n")
        atomic_write_text(settings.model_folder / SCORE_FILE, f"{scores['f1']!r}\n")
        record_score(history, run.id, "test", scores, model_sha256=record["model_sha256"],
                     data=str(settings.test_file))
        run.summary = scores
    logger.info("F1 %.4f precision %.4f recall %.4f on %d rows of %s", scores["f1"],
                scores["precision"], scores["recall"], scores["rows"], settings.test_file)
    return scores


def score_model(model=None, frame: pd.DataFrame | None = None, **options) -> dict | float:
    """The course's name, both ways it is called.

    ``score_model()``, as the course calls it: score the trained model on the test data named
    by config.json beside the scripts, write latestscore.txt (run_scoring), and return the F1.
    ``score_model(model, frame)``: F1, precision, recall, ROC AUC, log-loss, Brier score and
    confusion counts of a model on a labelled frame (pipeline.model.evaluate.score_model).
    """
    if model is None and frame is None:
        return run_scoring(load_settings())["f1"]
    if model is None or frame is None:
        raise TypeError("score_model takes a model and a labelled frame, or nothing at all")
    return evaluate_model(model, frame, **options)


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
