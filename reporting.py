"""Reporting: the confusion matrix, the ranked list of clients at risk and a PDF report.

Writes, in the model folder: confusionmatrix.png, riskscores.csv and report.pdf. Only the
deployed model (verified against its manifest) is used.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from diagnostics import (
    dataframe_summary,
    latest_diagnostics,
    missing_data,
    read_final_data,
)
from pipeline.cli import base_parser, setup_logging
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.deployed import Deployed, current_deployment, load_deployed_model
from pipeline.files import atomic_open
from pipeline.history import History, utc_now
from pipeline.modelfile import ModelIntegrityError
from pipeline.pdfpage import new_figure
from pipeline.report_pages import (
    PAGE_TITLES,
    RISK_SCORES,
    ReportFacts,
    draw_confusion,
    render_pages,
)
from pipeline.schema import FEATURES, ID, TARGET

logger = logging.getLogger(__name__)

CONFUSION_MATRIX = "confusionmatrix.png"
REPORT = "report.pdf"


def evaluate_deployed(settings: Settings) -> dict:
    """The deployed model on the test data: confusion counts, F1, ROC curve and AUC."""
    return _evaluate(*load_deployed_model(settings.deployment_folder), settings)


def _evaluate(model, deployed: Deployed, settings: Settings) -> dict:
    from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score, roc_curve

    from scoring import read_labelled_data

    frame = read_labelled_data(settings.test_file)
    truth = frame[TARGET].to_numpy()
    predicted = model.predict(frame[list(FEATURES)])
    probability = model.predict_proba(frame[list(FEATURES)])[:, 1]
    both = len(np.unique(truth)) == 2
    fpr, tpr, _ = roc_curve(truth, probability) if both else ([], [], None)
    return {
        "version": deployed.version, "data": settings.test_file.name, "rows": len(frame),
        "counts": confusion_matrix(truth, predicted, labels=[0, 1]).tolist(),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, probability)) if both else None,
        "fpr": list(fpr), "tpr": list(tpr),
    }


def plot_confusion_matrix(settings: Settings) -> Path:
    """Write confusionmatrix.png: the deployed model's confusion matrix on the test data."""
    evaluation = evaluate_deployed(settings)
    fig = new_figure((6.4, 5.2))
    draw_confusion(fig.add_subplot(), evaluation)
    fig.tight_layout()
    path = settings.model_folder / CONFUSION_MATRIX
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    logger.info("confusion matrix of version %d -> %s", evaluation["version"], path)
    return path


def score_clients(settings: Settings) -> tuple[pd.DataFrame, int]:
    """Every client of finaldata.csv (its last record) with the deployed model's probability.

    Returns the frame, ranked (rank 1 = highest risk), and the model version.
    """
    model, deployed = load_deployed_model(settings.deployment_folder)
    return _rank(model, read_final_data(settings)), deployed.version


def _rank(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The clients still with the company (latest record not exited), riskiest first."""
    latest = frame.drop_duplicates(subset=ID, keep="last")
    # A client whose latest record says it has left is no one to call: it is not ranked.
    latest = latest.loc[latest[TARGET] == 0].reset_index(drop=True)
    latest["probability"] = model.predict_proba(latest[list(FEATURES)])[:, 1]
    ranked = latest.sort_values(["probability", ID], ascending=[False, True], kind="mergesort")
    ranked = ranked.reset_index(drop=True)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked


def build_risk_list(settings: Settings) -> pd.DataFrame:
    """Write riskscores.csv: corporation, probability, rank of every current client, riskiest first.

    A current client is one whose latest record in finaldata.csv has not exited.
    """
    ranked, version = score_clients(settings)
    frame = ranked[[ID, "probability", "rank"]]
    path = settings.model_folder / RISK_SCORES
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    logger.info("%d clients ranked by model version %d -> %s", len(frame), version, path)
    return frame


def read_risk_list(settings: Settings, top: int | None = None) -> pd.DataFrame:
    """The written risk list, highest risk first (the first ``top`` clients when given)."""
    frame = pd.read_csv(settings.model_folder / RISK_SCORES, dtype={ID: str},
                        keep_default_na=False, na_values={"probability": [""]})
    frame = frame.sort_values("rank", kind="mergesort").reset_index(drop=True)
    return frame if top is None else frame.head(top)


def gather_facts(settings: Settings) -> ReportFacts:
    """Read the deployment, data, history and diagnostics the report is made of."""
    facts = ReportFacts(settings, History(settings.history_db), utc_now())
    model = None
    try:
        facts.deployed = current_deployment(settings.deployment_folder)
        model = facts.deployed.load_model()  # loaded once: every page shows the same version
        facts.evaluation = _evaluate(model, facts.deployed, settings)
    except (ModelIntegrityError, OSError, ValueError) as exc:
        facts.model_error = str(exc)
    try:
        frame = read_final_data(settings)
        facts.records, facts.distinct = len(frame), frame[ID].nunique()
        facts.summary, facts.missing = dataframe_summary(settings), missing_data(settings)
        if model is not None:
            facts.clients = _rank(model, frame)
    except (OSError, ValueError) as exc:
        facts.data_error = str(exc)
    facts.diagnostics = latest_diagnostics(settings)
    return facts


@dataclass
class Report:
    """A written report: its path and the text of each page, by page title."""

    path: Path
    pages: dict[str, list[str]]


def build_report(settings: Settings) -> Report:
    """Write report.pdf: model, scores, history, data, operations, ingestion and top clients."""
    from matplotlib.backends.backend_pdf import PdfPages

    facts = gather_facts(settings)
    pages = render_pages(facts)
    path = settings.model_folder / REPORT
    version = facts.deployed.version if facts.deployed else "none"
    metadata = {"Title": "Client attrition risk report", "Subject": f"model version {version}",
                "Keywords": ", ".join(PAGE_TITLES), "Creator": "reporting.py"}
    with atomic_open(path, "wb") as handle, PdfPages(handle, metadata=metadata) as pdf:
        for page in pages:
            pdf.savefig(page.fig)
    logger.info("report of %d pages -> %s", len(pages), path)
    return Report(path=path, pages={page.title: page.lines for page in pages})


def main(argv: list[str] | None = None) -> int:
    """Write the confusion matrix, the risk list and the PDF report of the configuration."""
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"reporting failed: {exc}", file=sys.stderr)
        return 1
    status = 0
    for label, write, name in (("confusion matrix", plot_confusion_matrix, CONFUSION_MATRIX),
                               ("risk list", build_risk_list, RISK_SCORES),
                               ("report", build_report, REPORT)):
        try:
            write(settings)
        except (ModelIntegrityError, OSError, ValueError) as exc:
            # The report says what is missing; the two model outputs cannot be made without it.
            print(f"{label} not written: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"{label} -> {settings.model_folder / name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
