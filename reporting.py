"""Reporting: the confusion matrix, the ranked list of clients at risk and a PDF report.

Writes, in the model folder: confusionmatrix.png, riskscores.csv and report.pdf. Only the
deployed model (verified against its manifest) is used.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, Settings, load_settings
from pipeline.core.deployed import Deployed, current_deployment, load_deployed_model
from pipeline.core.files import atomic_open
from pipeline.core.history import History, utc_now
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import CONFUSION_MATRIX, FINAL_DATA, REPORT, RISK_SCORES
from pipeline.core.outputs import latest_diagnostics
from pipeline.core.schema import FEATURES, ID
from pipeline.data.book import book_of
from pipeline.data.final import FinalData
from pipeline.ingest.records import read_labelled_data
from pipeline.model.evaluate import score_model as evaluate_model
from pipeline.report.explain import EXPLANATION_COLUMNS, explain_clients, read_reference
from pipeline.report.facts import Evaluated, ReportFacts
from pipeline.report.figures import new_figure, save_pdf_page
from pipeline.report.pages import PAGE_TITLES, draw_confusion, render_pages
from pipeline.report.risk import rank_latest, read_risk_list, write_risk_list

__all__ = ["build_report", "build_risk_list", "evaluate_deployed", "load_evaluated",
           "plot_confusion_matrix", "read_risk_list", "score_clients", "score_model"]

logger = logging.getLogger(__name__)


def load_evaluated(settings: Settings, deployed: Deployed | None = None) -> Evaluated:
    """The deployed version (``deployed``, else the current one): its model loaded and checked
    once, and scored on the test data once. Every output below takes it as ``evaluated``; given
    none, each loads and scores for itself."""
    deployed = deployed or current_deployment(settings.deployment_folder)
    model = deployed.load_model()
    return Evaluated(deployed, model, _evaluate(model, deployed, settings))


def _evaluate(model, deployed: Deployed, settings: Settings) -> dict:
    scores = evaluate_model(model, read_labelled_data(settings.test_file), curve=True)
    return {**scores, "version": deployed.version, "data": settings.test_file.name}


def evaluated_or_none(settings: Settings, deployed: Deployed | None = None) -> Evaluated | None:
    """load_evaluated for a refresh; None when the model or the test data cannot be used (each
    output then tries alone, and fails or says why as it would by itself)."""
    try:
        return load_evaluated(settings, deployed)
    except Exception as exc:  # whatever it is, each output meets it again and says so
        logger.error("the deployed model or the test data cannot be used (%s): each output "
                     "tries alone", exc)
        return None


def evaluate_deployed(settings: Settings, evaluated: Evaluated | None = None) -> dict:
    """The deployed model on the test data: its scores, ROC curve, version and data."""
    return (evaluated or load_evaluated(settings)).evaluation


def plot_confusion_matrix(settings: Settings, evaluated: Evaluated | None = None) -> Path:
    """Write confusionmatrix.png: the deployed model's confusion matrix on the test data."""
    evaluation = evaluate_deployed(settings, evaluated)
    fig = new_figure((6.4, 5.2))
    draw_confusion(fig.add_subplot(), evaluation)
    fig.tight_layout()
    path = settings.model_folder / CONFUSION_MATRIX
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    logger.info("confusion matrix of version %d -> %s", evaluation["version"], path)
    return path


def score_model(settings: Settings | None = None, evaluated: Evaluated | None = None) -> Path:
    """The course's call: write confusionmatrix.png of the deployed model on the test data
    (plot_confusion_matrix), reading config.json beside the scripts when no settings are
    given; returns the picture's path."""
    return plot_confusion_matrix(settings or load_settings(), evaluated)


def _final_data(settings: Settings, data: FinalData | None) -> FinalData:
    """finaldata.csv: the one given (read once for a whole refresh), else read here."""
    return data if data is not None else FinalData(settings.output_folder / FINAL_DATA)


def _ranked(data: FinalData, model, deployed: Deployed) -> pd.DataFrame:
    """The current clients ranked by the deployed model: once per model and data."""
    sha = deployed.manifest.get("model_sha256") or str(id(model))
    if sha not in data.scored:
        data.scored[sha] = rank_latest(model, book_of(data))
    return data.scored[sha]


def _model(settings: Settings, evaluated: Evaluated | None) -> tuple[object, Deployed]:
    """(model, Deployed): the one given, else loaded and checked here."""
    if evaluated is not None:
        return evaluated.model, evaluated.deployed
    return load_deployed_model(settings.deployment_folder)


def score_clients(settings: Settings, evaluated: Evaluated | None = None,
                  data: FinalData | None = None) -> tuple[pd.DataFrame, int]:
    """Every current client (pipeline.data.book: its latest record, of finaldata.csv or of an
    unlabelled batch) with the deployed model's probability, ranked (rank 1 = highest risk);
    and the model version."""
    model, deployed = _model(settings, evaluated)
    return _ranked(_final_data(settings, data), model, deployed), deployed.version


def build_risk_list(settings: Settings, evaluated: Evaluated | None = None,
                    data: FinalData | None = None) -> pd.DataFrame:
    """Write riskscores.csv: every current client, riskiest first, with its explanation.

    Columns: corporation, probability, rank, the three features of the client's latest record,
    then top_factor, top_contribution and contribution_<feature> (pipeline.report.explain). A
    current client is one whose latest record has not exited: of finaldata.csv, or of an
    unlabelled batch that came after it (pipeline.data.book).
    """
    model, deployed = _model(settings, evaluated)
    ranked = _ranked(_final_data(settings, data), model, deployed)
    version = deployed.version
    try:
        reference = read_reference(deployed.folder)
    except (OSError, ValueError) as exc:
        # Versions deployed before training samples existed: the current clients' medians.
        logger.warning("no usable training sample in version %d (%s): explaining against the "
                       "medians of the current clients", version, exc)
        reference = {f: float(ranked[f].median()) if len(ranked) else 0.0 for f in FEATURES}
    explained = explain_clients(model, ranked[list(FEATURES)], reference)
    frame = pd.concat([ranked[[ID, "probability", "rank", *FEATURES]],
                       explained[list(EXPLANATION_COLUMNS)]], axis=1)
    path = settings.model_folder / RISK_SCORES
    write_risk_list(frame, path)
    logger.info("%d clients ranked by model version %d -> %s", len(frame), version, path)
    return frame


def gather_facts(settings: Settings, evaluated: Evaluated | None = None,
                 data: FinalData | None = None) -> ReportFacts:
    """Read the deployment, data, history and diagnostics the report is made of."""
    facts = ReportFacts(settings, History(settings.history_db), utc_now())
    model = None
    try:
        # loaded once (here, or for the whole refresh): every page shows the same version
        if evaluated is not None:
            facts.deployed, model = evaluated.deployed, evaluated.model
            facts.evaluation = evaluated.evaluation
        else:
            facts.deployed = current_deployment(settings.deployment_folder)
            model = facts.deployed.load_model()
            facts.evaluation = _evaluate(model, facts.deployed, settings)
    except (ModelIntegrityError, OSError, ValueError) as exc:
        facts.model_error = str(exc)
    data = _final_data(settings, data)
    try:
        facts.records, facts.distinct = len(data.frame), int(data.latest[ID].count())
        facts.summary, facts.missing = data.summary, data.missing
        if model is not None:
            facts.clients = _ranked(data, model, facts.deployed)
    except (OSError, ValueError) as exc:
        facts.data_error = str(exc)
    facts.diagnostics = latest_diagnostics(settings.model_folder)
    return facts


@dataclass
class Report:
    """A written report: its path and the text of each page, by page title."""

    path: Path
    pages: dict[str, list[str]]


def build_report(settings: Settings, evaluated: Evaluated | None = None,
                 data: FinalData | None = None) -> Report:
    """Write report.pdf: model, scores, history, data, operations, ingestion and top clients."""
    from matplotlib.backends.backend_pdf import PdfPages

    facts = gather_facts(settings, evaluated, data)
    pages = render_pages(facts)
    path = settings.model_folder / REPORT
    version = facts.deployed.version if facts.deployed else "none"
    metadata = {"Title": "Client attrition risk report", "Subject": f"model version {version}",
                "Keywords": ", ".join(PAGE_TITLES), "Creator": "reporting.py"}
    with atomic_open(path, "wb") as handle, PdfPages(handle, metadata=metadata) as pdf:
        standard = sum(save_pdf_page(pdf, page.fig) for page in pages)
    logger.info("report of %d pages (%d in the PDF's standard fonts) -> %s", len(pages),
                standard, path)
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
    # The model loaded and scored once, the data read once, for the three outputs.
    evaluated, data = evaluated_or_none(settings), FinalData(settings.output_folder / FINAL_DATA)
    for label, write, name in (
            ("confusion matrix", lambda: plot_confusion_matrix(settings, evaluated),
             CONFUSION_MATRIX),
            ("risk list", lambda: build_risk_list(settings, evaluated, data), RISK_SCORES),
            ("report", lambda: build_report(settings, evaluated, data), REPORT)):
        try:
            write()
        except (ModelIntegrityError, OSError, ValueError) as exc:
            # The report says what is missing; the two model outputs cannot be made without it.
            print(f"{label} not written: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"{label} -> {settings.model_folder / name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
