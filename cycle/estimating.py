"""The estimate in the cycle: the deployed model's F1 on unlabelled batches and on the current
book before their labels come, and the check of that estimate when labels do.

A driver, as cycle.steps is: it reads the book and the batches, calibrates the deployed model's
probabilities as its manifest records (pipeline.model.calibration), asks
pipeline.monitor.estimate for the figures and pipeline.monitor.verdict for what they mean, and
records (the history, ``<model folder>/estimate.json``) and logs the answers.

Which period a check answers: every batch of new labelled rows a cycle ingests checks the
estimates the deployed version made before it (one of its estimates is in the history), on the
labelled rows themselves: the same model, calibration and method give the distribution of their
F1, and their realised F1 is set against it. So the check tests the estimate's one assumption,
that the probabilities still hold, on the rows whose outcomes are now known; matching them
client by client would test the same thing on fewer rows.

``raise_finding`` is the one place a finding (an estimate wholly below the deployed score, an
estimate that no longer holds) is logged and recorded: alerts hook there.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

import reporting
from pipeline.core import recorded
from pipeline.core.config import Settings
from pipeline.core.deployed import Deployed
from pipeline.core.files import atomic_write_text
from pipeline.core.history import History, utc_now
from pipeline.core.names import ESTIMATE_FILE, FINAL_DATA
from pipeline.core.schema import BATCH, FEATURES, TARGET
from pipeline.data.book import batches_of, book_of
from pipeline.data.final import FinalData
from pipeline.model.calibration import Calibration
from pipeline.model.evaluate import predict_with_probability
from pipeline.model.uncertainty import probability_draws
from pipeline.monitor.estimate import (
    Estimate,
    SelfCheck,
    check_estimate,
    estimate_scores,
    expected_f1_spread,
)
from pipeline.monitor.verdict import Policy, estimate_finding, retrain_on_estimate

logger = logging.getLogger(__name__)

BOOK = "current book"
SPREAD_ROWS = 20_000  # rows the model's own uncertainty is measured on (a seeded sample)
SPREAD_DRAWS = 100
BLIND = ("the estimate reads the model's own probabilities, so it cannot see a change of who "
         "leaves for the same features (concept drift): the self-check on labelled batches can")


def _selection(deployed: Deployed) -> dict:
    """The selection record of a deployed version's training (empty for an adopted one)."""
    return (deployed.manifest.get("training") or {}).get("selection") or {}


def scored_rows(model, selection: dict, frame: pd.DataFrame
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(flags, raw probabilities, calibrated probabilities, the model's own spread of expected
    F1) of a model on rows, with the calibration and uncertainty its training recorded
    (``selection``: Selection.as_dict(), as the manifest holds it)."""
    calibration = Calibration.from_dict(selection.get("calibration"))
    uncertainty = selection.get("uncertainty")
    if frame.empty:  # a book with no client left: nothing to ask the model (it refuses 0 rows)
        return np.zeros(0, bool), np.zeros(0), np.zeros(0), 0.0
    predicted, raw = predict_with_probability(model, frame[list(FEATURES)])
    flagged = np.asarray(predicted) == 1
    picks = np.arange(len(frame))
    if len(picks) > SPREAD_ROWS:
        picks = np.sort(np.random.default_rng(0).choice(len(frame), SPREAD_ROWS, replace=False))
    draws = probability_draws(model, uncertainty, frame.iloc[picks], SPREAD_DRAWS)
    spread = 0.0 if draws is None else expected_f1_spread(flagged[picks],
                                                          calibration.apply(draws))
    return flagged, raw, calibration.apply(raw), spread


def _based_on(deployed: Deployed, rows: int, source: str, spread: float) -> str:
    calibration = Calibration.from_dict(_selection(deployed).get("calibration"))
    kind = (deployed.manifest.get("training") or {}).get("model") or "the model"
    calibrated = f"calibrated by {calibration.method}" if calibration.method != "none" \
        else "as they are (no calibration lowered the out-of-fold log-loss)" \
        if calibration.figures else "as they are (no calibration recorded)"
    band = "the outcomes' noise and the model's parameter uncertainty" if spread \
        else "the outcomes' noise only"
    return (f"{rows:,} rows of {source}; the probabilities of version {deployed.version} "
            f"({kind}), {calibrated}; the band holds {band}")


def estimate_rows(model, deployed: Deployed, frame: pd.DataFrame, name: str,
                  tolerance: float = 0.02) -> dict:
    """One entry of estimate.json: the estimate of the deployed model on rows, named, and
    whether it is a finding (pipeline.monitor.verdict.estimate_finding)."""
    flagged, raw, probability, spread = scored_rows(model, _selection(deployed), frame)
    estimate: Estimate = estimate_scores(flagged, probability, raw, spread=spread)
    finding = bool(len(frame)) and estimate_finding(estimate.f1, estimate.f1_high,
                                                    deployed.score, tolerance)
    return {"name": name, "model_version": deployed.version,
            "model_sha256": deployed.manifest.get("model_sha256"), **estimate.as_dict(),
            "deployed_f1": deployed.score, "finding": finding,
            "based_on": _based_on(deployed, len(frame), name, spread)}


def raise_finding(history: History, run_id: int | None, kind: str, message: str,
                  detail: dict, version: int) -> None:
    """A finding of the estimate about a deployed version: logged as a warning and recorded
    (stage ``finding``, with the version: the alerts let it go once another is deployed)."""
    logger.warning("finding: %s", message)
    history.record_metrics(run_id, "finding", {kind: 1.0},
                           {**detail, "model_version": version, "message": message})


def run_estimate(settings: Settings, deployed: Deployed, model=None,
                 data: FinalData | None = None) -> dict:
    """Estimate the deployed model on the current book and every unlabelled batch; write
    estimate.json, record each entry and raise the findings. Returns what was written.
    ``model`` and ``data``: the deployed model already loaded and finaldata.csv as the refresh
    has them (else loaded and read here)."""
    history = History(settings.history_db)
    policy = Policy.of(settings)
    with history.run("estimate", settings.name) as run:
        model = model if model is not None else deployed.load_model()
        data = data if data is not None else FinalData(settings.output_folder / FINAL_DATA)
        book, batches = book_of(data), batches_of(data)
        tolerance = policy.drift_tolerance
        entries = [estimate_rows(model, deployed, book, BOOK, tolerance)]
        for name, rows in batches.groupby(BATCH, sort=False):
            entries.append(estimate_rows(model, deployed, rows, str(name), tolerance))
        for entry in entries:
            history.record_metrics(run.id, "estimate", {entry["name"]: entry["f1"]}, entry)
            logger.info("estimate of version %d on %s: F1 %.4f (%.0f%% band %.4f-%.4f), "
                        "precision %.4f, recall %.4f, ROC AUC %s", deployed.version,
                        entry["name"], entry["f1"], 100 * entry["level"], entry["f1_low"],
                        entry["f1_high"], entry["precision"], entry["recall"],
                        "n/a" if entry["roc_auc"] is None else f"{entry['roc_auc']:.4f}")
            if entry["finding"]:
                raise_finding(history, run.id, "estimate_below", (
                    f"the estimated F1 of version {deployed.version} on {entry['name']} "
                    f"({entry['f1']:.4f}, band {entry['f1_low']:.4f}-{entry['f1_high']:.4f}) is "
                    f"wholly below its F1 at deployment ({deployed.score:.4f}) by more than "
                    f"the {policy.drift_tolerance:.0%} tolerance"), entry, deployed.version)
        record = {"model_version": deployed.version, "estimated_at": utc_now(),
                  "deployed_f1": deployed.score, "current_book": entries[0],
                  "batches": entries[1:], "self_check": latest_check(history),
                  "cannot_see": BLIND,
                  "retrain_asked": retrain_on_estimate(any(e["finding"] for e in entries),
                                                       policy)}
        _flag_stale(record)
        atomic_write_text(settings.model_folder / ESTIMATE_FILE,
                          json.dumps(record, indent=1, default=float) + "\n")
        run.summary = {"version": deployed.version, "book_rows": entries[0]["rows"],
                       "batches": len(entries) - 1, "findings": sum(e["finding"]
                                                                    for e in entries)}
    return record


def _flag_stale(record: dict) -> None:
    """Mark the entries of a version whose estimate the latest self-check found not to hold."""
    check = record["self_check"]
    stale = check is not None and not check["holds"]
    for entry in [record["current_book"], *record["batches"]]:
        entry["holds"] = not (stale and entry["model_version"] == check["model_version"])


def latest_check(history: History) -> dict | None:
    """The latest self-check recorded, with what it checked."""
    checks = recorded.self_checks(history, 1)
    if not checks:
        return None
    checks[0].pop("time")
    return checks[0]


def self_check(settings: Settings, deployed: Deployed, model, rows: pd.DataFrame,
               history: History, run_id: int, names: set[str]) -> SelfCheck | None:
    """Check the deployed version's estimates on new labelled rows (the module's rule);
    recorded as stage ``estimate_check``; a check that fails raises a finding."""
    if len(rows) < settings.min_drift_rows or not recorded.estimated_with(
            history, deployed.manifest.get("model_sha256")):
        logger.info("decision: self-check skipped: %s", f"{len(rows)} new labelled rows (it "
                    f"needs {settings.min_drift_rows})" if len(rows) < settings.min_drift_rows
                    else f"version {deployed.version} has made no estimate to check")
        return None
    flagged, _, probability, spread = scored_rows(model, _selection(deployed), rows)
    check = check_estimate(flagged, probability, rows[TARGET].to_numpy(), spread=spread)
    detail = {**check.as_dict(), "model_version": deployed.version,
              "model_sha256": deployed.manifest.get("model_sha256"),
              "files": sorted(names), "checked_at": utc_now()}
    history.record_metrics(run_id, "estimate_check", {"p_value": check.p_value,
                                                      "holds": float(check.holds)}, detail)
    logger.info("decision: %s", check.describe())
    if not check.holds:
        raise_finding(history, run_id, "estimate_broken", (
            f"the estimates of version {deployed.version} no longer hold: on "
            f"{check.rows:,} new labelled rows its realised F1 is {check.realised_f1:.4f}, "
            f"outside the {1 - check.alpha:.0%} range {check.low:.4f}-{check.high:.4f} the "
            f"estimate allows ({check.p_text}): who leaves has changed"), detail,
            deployed.version)
    return check


def refresh_book(settings: Settings, deployed: Deployed) -> dict:
    """After new data that left the deployed version in place: the estimate, then the risk list
    and the report, which read the same book (the data read once, the model loaded and scored
    on the test data once). Returns the estimate."""
    evaluated = reporting.evaluated_or_none(settings, deployed)
    data = FinalData(settings.output_folder / FINAL_DATA)
    record = run_estimate(settings, deployed, evaluated.model if evaluated else None, data)
    reporting.build_risk_list(settings, evaluated, data)
    reporting.build_report(settings, evaluated, data)
    return record


def brief(settings: Settings, deployed: Deployed) -> str:
    """The current book's estimate for the cycle's one-line summary ("" when estimate.json is
    missing or of another version)."""
    try:
        record = json.loads((settings.model_folder / ESTIMATE_FILE).read_text("utf-8"))
        book = record["current_book"]
        if record["model_version"] != deployed.version:
            return ""
        return (f"; estimated F1 {book['f1']:.4f} ({book['f1_low']:.4f}-{book['f1_high']:.4f}) "
                f"on the current book of {book['rows']:,} clients")
    except (OSError, ValueError, KeyError, TypeError):
        return ""
