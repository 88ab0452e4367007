"""The working half of a fullprocess.py cycle: ingest, check drift, retrain, deploy, report.

A driver: it runs the stage scripts, gathers the evidence, asks pipeline.monitor.verdict what to
do, and records and logs the answer. Kept apart from the quick path so that a cycle with nothing
new never imports it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pandas as pd
from sklearn.exceptions import ConvergenceWarning

import diagnostics
import reporting
from cycle import estimating
from cycle.changes import Changes
from cycle.errors import CycleError
from deployment import DeploymentError, adopt_existing, deploy
from ingestion import run_ingestion
from pipeline.api.client import call_endpoints, write_returns
from pipeline.core import recorded
from pipeline.core.config import Settings, api_token
from pipeline.core.deployed import Deployed, current_deployment
from pipeline.core.files import atomic_write_text
from pipeline.core.history import History, utc_now
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import FINAL_DATA, OUTPUTS_FILE, REJECTED, RETURNS_FILE, SAMPLE_FILE
from pipeline.core.schema import FEATURES, TARGET
from pipeline.data.final import FinalData
from pipeline.ingest.merge import distinct_rows
from pipeline.ingest.outcome import summarize
from pipeline.ingest.records import read_labelled_data
from pipeline.model.evaluate import evaluate_rows, score_model
from pipeline.model.selection import loss_summary
from pipeline.monitor.drift import LossDrift, data_drift
from pipeline.monitor.verdict import (
    KEEP,
    WAIT,
    Decision,
    Evidence,
    Policy,
    decide,
    deploy_retrained,
    judgeable,
    uses_loss,
)
from scoring import record_score, run_scoring
from training import run_training

logger = logging.getLogger(__name__)

# Whether a refresh calls the API: False, or the factory of the app to call in this process
# when no API of the deployment serves (app.create_app, handed down by fullprocess.py and tools;
# cycle.in_process).
ApiCalls = Literal[False] | Callable[[Path], object]


def _fail(message: str, exc: BaseException):
    detail = " ".join(str(exc).split())  # one line: some library messages span a paragraph
    raise CycleError(f"{message}: {detail[:300]}") from exc


def _ingest(settings: Settings, history: History, run_id: int):
    result = run_ingestion(settings)
    counts = summarize(result)
    logger.info("decision: ingested %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    history.record_metrics(run_id, "fullprocess", {f"ingest_{k}": v for k, v in counts.items()})
    return result


def _redeploy(settings: Settings, history: History, run_id: int, call_api: ApiCalls,
              deployed: Deployed | None = None) -> str:
    """Train, score and deploy a new version, then refresh diagnostics, reports and API answers.

    With a model deployed, the new one must score at least as well on the test data as the
    deployed one does now, or it is not deployed (unless ``deploy_if_worse`` is set).
    """
    policy = Policy.of(settings)
    try:
        run_training(settings)
        scores = run_scoring(settings)
        if deployed is not None and not policy.deploy_if_worse:
            current = score_model(deployed.load_model(), read_labelled_data(settings.test_file))
            history.record_metrics(run_id, "fullprocess", {"retrained_f1": scores["f1"],
                                                           "deployed_f1_now": current["f1"]})
            if not deploy_retrained(scores["f1"], current["f1"], policy):
                history.record_metrics(run_id, "fullprocess", {recorded.REFUSED: 1}, {
                    "retrained_f1": scores["f1"], "deployed_f1": current["f1"],
                    "version": deployed.version})  # for the alerts (pipeline.watch)
                logger.warning("decision: the retrained model scores F1 %.4f on the test data, "
                               "below the deployed version %d (%.4f): not deployed",
                               scores["f1"], deployed.version, current["f1"])
                return (f"retrained model not deployed: F1 {scores['f1']:.4f} on the test data, "
                        f"below {current['f1']:.4f} of version {deployed.version}, which stays")
        new = deploy(settings, run_id)
    except (ValueError, OSError, ModelIntegrityError, DeploymentError, ConvergenceWarning) as exc:
        _fail("re-deployment failed, production unchanged", exc)
    logger.info("decision: deployed version %d (F1 %.4f on the test data)", new.version,
                scores["f1"])
    problems = refresh_outputs(settings, new, call_api)
    summary = f"deployed version {new.version} (F1 {scores['f1']:.4f})" + \
        estimating.brief(settings, new)
    if problems:
        raise CycleError(f"{summary}, but {'; '.join(problems)}", handled=True)
    return summary


def _run_steps(steps: list, deployed: Deployed, problems: list[str]) -> None:
    for name, step in steps:
        try:
            step()
            logger.info("decision: %s refreshed", name)
        except Exception as exc:  # a report that fails must not undo a good deployment
            logger.exception("%s failed after deploying version %d", name, deployed.version)
            problems.append(f"{name} failed: {exc}")


def _refresh_reports(settings: Settings, deployed: Deployed, problems: list[str]) -> None:
    """The estimate, diagnostics, confusion matrix, risk list and report, handed what they
    share: the deployed model loaded and scored on the test data once, and finaldata.csv read
    once with its statistics and ranking (all freed when this returns)."""
    evaluated = reporting.evaluated_or_none(settings, deployed)
    data = FinalData(settings.output_folder / FINAL_DATA)
    _run_steps([
        ("estimate", lambda: estimating.run_estimate(  # for the report
            settings, deployed, evaluated.model if evaluated else None, data)),
        ("diagnostics", lambda: diagnostics.run_diagnostics(
            settings, measure_time=settings.measure_execution_time,
            check_packages=settings.check_outdated_packages, evaluated=evaluated, data=data)),
        ("confusion matrix", lambda: reporting.plot_confusion_matrix(settings, evaluated)),
        ("risk list", lambda: reporting.build_risk_list(settings, evaluated, data)),
        ("report", lambda: reporting.build_report(settings, evaluated, data)),
    ], deployed, problems)


def refresh_outputs(settings: Settings, deployed: Deployed, call_api: ApiCalls) -> list[str]:
    """Diagnostics, confusion matrix, report, risk list and API answers; returns what failed."""
    problems: list[str] = []
    _refresh_reports(settings, deployed, problems)
    if call_api:
        _run_steps([("apicalls", lambda: call_api_endpoints(settings, deployed.version,
                                                            call_api))], deployed, problems)
    if not problems:  # only now do the reports describe this model; see cycle.quick
        atomic_write_text(settings.model_folder / OUTPUTS_FILE, json.dumps(
            {"version": deployed.version, "model_sha256": deployed.manifest["model_sha256"],
             "refreshed_at": utc_now(), "api_called": bool(call_api)}, indent=1) + "\n")
    return problems


def refresh_only(settings: Settings, deployed: Deployed, *, call_api: ApiCalls) -> str:
    """Refresh the reports of the deployed version (after a cycle died before writing them)."""
    problems = refresh_outputs(settings, deployed, call_api)
    summary = f"reports refreshed for deployed version {deployed.version}"
    if problems:
        raise CycleError(f"{summary}, but {'; '.join(problems)}", handled=True)
    return summary


def call_api_endpoints(settings: Settings, version: int,
                       make_app: Callable[[Path], object]) -> None:
    """Run apicalls against the configured API when it serves this version; else against the
    app ``make_app`` makes, called in this process (cycle.in_process): no server is started."""
    import requests

    # A token the server would refuse (too short) fails here in one line, before any call.
    api_token(settings)
    url = settings.api_url
    try:
        health = requests.get(url + "/health", timeout=3).json()
        ours = health.get("model_version") == version
    except (requests.RequestException, ValueError, AttributeError):
        ours = False
    target = settings.model_folder / RETURNS_FILE
    if ours:
        write_returns(target, url, call_endpoints(url, settings))
    else:
        from cycle.in_process import IN_PROCESS_URL, call_in_process

        logger.info("no API of this deployment at %s: calling the app in this process", url)
        write_returns(target, IN_PROCESS_URL, call_in_process(settings, make_app))


def adopt(settings: Settings) -> str:
    """Take over a deployment this system did not make as a version of its own, before the
    cycle writes anything (deployment.adopt_existing); returns what was done."""
    history = History(settings.history_db)
    try:
        with history.run("adoption", settings.name) as run:
            deployed = adopt_existing(settings, run.id)
            run.summary = {"version": deployed.version, "f1": deployed.score,
                           **deployed.adopted} if deployed else "nothing to adopt"
    except (OSError, DeploymentError) as exc:
        _fail("adopting the existing deployment failed, nothing changed", exc)
    if deployed is None:
        return "nothing to adopt"
    logger.info("decision: adopted the existing %s as version %d (F1 %.4f on the test data)",
                deployed.adopted["source"], deployed.version, deployed.score)
    return (f"adopted the existing {deployed.adopted['source']} as version {deployed.version} "
            f"(F1 {deployed.score:.4f} re-measured on the test data)")


def first_deployment(settings: Settings, *, call_api: ApiCalls) -> str:
    """A fresh install: ingest, train, score and deploy the first version."""
    history = History(settings.history_db)
    with history.run("fullprocess", settings.name) as run:
        logger.info("decision: no model deployed: building the first version")
        result = _ingest(settings, history, run.id)
        if not result.rows_kept:
            raise CycleError(f"no usable data in {settings.input_folder}")
        run.summary = "first model: " + _redeploy(settings, history, run.id, call_api)
    return run.summary


def new_rows(result, names: set[str]) -> pd.DataFrame:
    """The accepted rows of the named files, exact duplicates among them dropped: found through
    the row hashes ingestion computed, or taken from an append of exactly these files."""
    files = [r for r in result.files if r.name in names]
    same = result.mode == "append" and len(files) == len(result.files)
    return distinct_rows(files, result.repeated if same else None)


def check_and_redeploy(settings: Settings, changes: Changes, deployed: Deployed, *,
                       call_api: ApiCalls) -> str:
    """New data: ingest it, test for drift, and re-deploy when the model has drifted."""
    history = History(settings.history_db)
    with history.run("fullprocess", settings.name) as run:
        run.summary = _check(settings, changes, deployed, history, run.id, call_api)
        run.summary += _estimate_if_kept(settings, deployed, history, run.id, call_api)
    return run.summary


def _estimate_if_kept(settings: Settings, deployed: Deployed, history: History, run_id: int,
                      call_api: ApiCalls) -> str:
    """New data that left the deployed version in place: estimate it, refresh the risk list
    and the report (new clients, or new labels, change the book), and retrain when an
    estimate wholly below the deployed score asks for it (estimate_retrains)."""
    now = current_deployment(settings.deployment_folder)
    if now.version != deployed.version:
        return ""
    try:
        record = estimating.refresh_book(settings, now)
    except Exception as exc:  # the data and the deployment stay good; say what is missing
        logger.exception("the estimate, risk list or report failed for version %d", now.version)
        raise CycleError(f"version {now.version} stays, but the estimate, risk list or report "
                         f"failed: {exc}", handled=True) from exc
    summary = estimating.brief(settings, now)
    if record["retrain_asked"]:
        logger.info("decision: an estimate is wholly below the deployed score and "
                    "estimate_retrains is set: retraining on the labelled data at hand")
        summary += "; estimate below the deployed score: " + _redeploy(
            settings, history, run_id, call_api, now)
    return summary


def _check(settings: Settings, changes: Changes, deployed: Deployed, history: History,
           run_id: int, call_api: ApiCalls) -> str:
    names = {entry.name for entry in changes.new}
    logger.info("decision: new or changed files: %s%s", ", ".join(sorted(names)) or "none",
                f"; vanished: {', '.join(changes.vanished)}" if changes.vanished else "")
    result = _ingest(settings, history, run_id)
    if not result.rows_kept:
        raise CycleError(f"no usable data left in {settings.input_folder}: every file was set "
                         f"aside (see {settings.output_folder / REJECTED}); version "
                         f"{deployed.version} stays", handled=True)
    rows = new_rows(result, names)  # every file's frame dropped
    labelled = {r.name for r in result.files if r.name in names and r.labelled}
    del result
    if rows.empty:
        logger.info("decision: no usable new rows: nothing to check")
        return "no usable new rows: nothing to check"
    try:
        model = deployed.load_model()
    except ModelIntegrityError as exc:
        logger.error("decision: the deployed model is unusable (%s): re-deploying", exc)
        return "deployed model unusable: " + _redeploy(settings, history, run_id, call_api)
    estimating.self_check(settings, deployed, model, rows, history, run_id, labelled)
    policy = Policy.of(settings)
    evidence = _evidence(settings, deployed, model, rows, history, run_id, names, policy)
    decision = decide(evidence, policy)
    if decision.action == WAIT:
        # F1 on a handful of rows, or on rows where nobody left, says nothing about drift.
        logger.info("decision: too little labelled data to test drift: %d new rows, %d exits "
                    "(the test needs %d rows%s)", evidence.rows, evidence.exits,
                    policy.min_drift_rows, "" if uses_loss(policy, bool(evidence.reference_loss))
                    else " and one exit")
        history.record_metrics(run_id, "drift", {"new_rows": evidence.rows,
                                                 "new_exits": evidence.exits, "tested": 0})
        return (f"too little new data to test drift ({evidence.rows} rows, {evidence.exits} "
                f"exits): version {deployed.version} stays")
    test = decision.test
    if test.note:
        logger.warning("%s", test.note)
    _record_decision(history, run_id, decision, evidence)
    logger.info("decision: %s", test.describe(evidence.rows))
    if decision.action == KEEP:
        return f"no drift ({test.brief(evidence.rows)}): version {deployed.version} stays"
    del rows, model  # at scale, memory the retraining and the reports need
    return f"{decision.reason}: " + _redeploy(settings, history, run_id, call_api, deployed)


def _record_decision(history: History, run_id: int, decision: Decision,
                     evidence: Evidence) -> None:
    """The test's figures as metrics of the run, with every field of it as the detail."""
    test = decision.test
    values = {"new_f1": evidence.new_score, "deployed_f1": evidence.deployed_score,
              "drift": test.drift}
    if isinstance(test, LossDrift):
        values.update(new_loss=test.new_loss, reference_loss=test.reference_loss,
                      loss_rise=test.rise, statistic=test.statistic, p_value=test.p_value)
    else:
        values["threshold"] = test.threshold
    history.record_metrics(run_id, "drift", values,
                           {**test.as_dict(), "action": decision.action,
                            "reason": decision.reason, "rows": evidence.rows})


def _evidence(settings: Settings, deployed: Deployed, model, rows: pd.DataFrame,
              history: History, run_id: int, names: set[str], policy: Policy) -> Evidence:
    """Score the deployed model on the new rows (F1 and per-row log-loss) and measure data
    drift, recording both; with too little data, only the counts."""
    exits = int(rows[TARGET].sum())
    reference = deployed.manifest.get("training", {}).get("selection", {}).get("reference")
    if not judgeable(len(rows), exits, policy, bool(reference)):
        return Evidence(rows=len(rows), exits=exits, reference_loss=reference)
    scores, losses = evaluate_rows(model, rows)
    sha = deployed.manifest["model_sha256"]
    past = recorded.past_scores(history, sha)
    if exits:  # F1 says nothing of rows where nobody left: no score for the F1 tests' history
        record_score(history, run_id, "drift", scores, model_sha256=sha,
                     model_version=deployed.version, data=",".join(sorted(names)))
    data_alert = _record_data_drift(deployed, rows, history, run_id)
    return Evidence(rows=len(rows), exits=exits, new_score=scores["f1"],
                    deployed_score=deployed.score, past_scores=tuple(past),
                    data_alert=data_alert, new_loss=loss_summary(losses),
                    reference_loss=reference)


def _record_data_drift(deployed: Deployed, rows: pd.DataFrame, history: History,
                       run_id: int) -> bool:
    """Per-feature KS and PSI against the deployed training sample; True on any alert."""
    sample_path = deployed.folder / SAMPLE_FILE
    if not sample_path.is_file():
        logger.info("decision: no training sample deployed: data drift not measured")
        return False
    drift = data_drift(pd.read_csv(sample_path), rows, FEATURES)
    for feature, figures in drift.items():
        history.record_metrics(run_id, "data_drift", {
            f"{feature}_psi": figures["psi"], f"{feature}_ks": figures["ks_statistic"],
            f"{feature}_ks_pvalue": figures["ks_pvalue"]})
        logger.info("data drift %s: PSI %.3f, KS %.3f (p %.2g)%s", feature, figures["psi"],
                    figures["ks_statistic"], figures["ks_pvalue"],
                    " ALERT" if figures["alert"] else "")
    return any(figures["alert"] for figures in drift.values())
