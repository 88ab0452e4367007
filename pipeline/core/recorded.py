"""What the history recorded, read for whoever shows it or acts on it.

The pages, the PDF report, /metrics, /health and the alerts all read runs, deployments, drift
decisions and the latest ingestion here: one home for the queries, so that each question is
asked one way (which ingestion is "the latest", which rows make a decision) and none of them
writes SQL of its own. Decisions are parsed by pipeline.core.decisions. Every function takes a
History and returns plain values; a database that does not exist yet reads as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pipeline.core.decisions import Decision, decision_from_rows, group_decisions, parse_detail
from pipeline.core.history import History

CYCLE_STAGE = "fullprocess"  # the stage of a cycle's work in the runs table (cycle.steps)
REFUSED = "deploy_refused"  # the metric a cycle records when it keeps the deployed model


def deployments(history: History) -> list[dict]:
    """Every deployment, rollback and adoption in time order, with its run's summary and
    config (deployments are the deployment folder's, which configs share)."""
    return history.query(
        "SELECT d.*, r.summary, r.config FROM deployments d LEFT JOIN runs r ON r.id = d.run_id "
        "ORDER BY d.time, d.rowid")


def scorings(history: History) -> list[dict]:
    """Every recorded scoring (``test``: a new model on the test data; ``drift``: the deployed
    model on new data), in time order."""
    return history.query("SELECT time, purpose, f1, roc_auc FROM scores ORDER BY time, rowid")


def past_scores(history: History, model_sha256: str) -> list[float]:
    """The F1 scores a model has had on the test data and on new data, oldest first."""
    return [r["f1"] for r in history.query(
        "SELECT f1 FROM scores WHERE model_sha256 = ? AND purpose IN ('test', 'drift') "
        "AND f1 IS NOT NULL ORDER BY time", (model_sha256,))]


def drift_decisions(history: History, config: str) -> list[Decision]:
    """This config's drift decisions, oldest first (tests that judged, and batches too small to
    judge). Another config (the practice one) may share the history file; its data is not
    this config's."""
    return group_decisions(history.query(
        "SELECT m.run_id, m.time, m.name, m.value, m.detail, r.config, r.summary "
        "FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.stage = 'drift' "
        "AND r.config = ? ORDER BY m.time, m.rowid", (config,)))


def last_drift_test(history: History, config: str) -> Decision | None:
    """This config's latest drift test that judged (its figures are in the row named
    ``drift``): found through the index without reading the others."""
    rows = history.query(
        "SELECT m.run_id, m.time, m.name, m.value, m.detail, r.config, r.summary "
        "FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.stage = 'drift' "
        "AND m.name = 'drift' AND r.config = ? ORDER BY m.rowid DESC LIMIT 1", (config,))
    return decision_from_rows(rows) if rows else None


def latest_data_drift(history: History, config: str) -> tuple[str | None, list[dict]]:
    """(time, metric rows) of this config's latest per-feature data drift measure."""
    latest = history.query("SELECT m.run_id, m.time FROM metrics m JOIN runs r ON "
                           "r.id = m.run_id WHERE m.stage = 'data_drift' AND r.config = ? "
                           "ORDER BY m.time DESC, m.rowid DESC LIMIT 1", (config,))
    if not latest:
        return None, []
    return latest[0]["time"], history.query(
        "SELECT name, value, detail FROM metrics WHERE stage = 'data_drift' AND run_id IS ? "
        "ORDER BY rowid", (latest[0]["run_id"],))


@dataclass
class Ingestion:
    """One ingestion run: its runs row, its summary (counts) and its files' rows."""

    run: dict
    summary: dict = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)


def latest_ingestion(history: History, config: str, *, any_config: bool = False,
                     with_files: bool = True) -> Ingestion | None:
    """This config's latest ingestion run (with ``any_config``, another config's when this one
    has none: configs may share the output folder); None when there is none."""
    runs = history.query("SELECT * FROM runs WHERE stage = 'ingestion' AND config = ? "
                         "ORDER BY id DESC LIMIT 1", (config,))
    if not runs and any_config:
        runs = history.query("SELECT * FROM runs WHERE stage = 'ingestion' "
                             "ORDER BY id DESC LIMIT 1")
    if not runs:
        return None
    run = runs[0]
    try:
        summary = json.loads(run["summary"] or "{}")
    except ValueError:
        summary = {}
    files = history.query("SELECT * FROM ingested_files WHERE run_id = ? ORDER BY name",
                          (run["id"],)) if with_files else []
    return Ingestion(run, summary if isinstance(summary, dict) else {}, files)


def stage_timings(history: History, config: str) -> list[dict]:
    """Every stage timing diagnostics recorded for this config (``seconds_<stage>``)."""
    return history.query(
        "SELECT m.time, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
        "WHERE m.stage = 'diagnostics' AND m.name LIKE 'seconds_%' AND r.config = ? "
        "ORDER BY m.time, m.rowid", (config,))


def _details(rows: list[dict]) -> list[dict]:
    """Each row's JSON detail (an object), with the row's time."""
    out = []
    for row in rows:
        try:
            detail = json.loads(row["detail"] or "{}")
        except ValueError:
            continue
        if isinstance(detail, dict):
            out.append({**detail, "time": row["time"]})
    return out


def estimate_history(history: History, config: str, name: str) -> list[dict]:
    """Every estimate of one entry (the current book, or a batch by its file) this config's
    cycles recorded, oldest first: the entry's fields and the time."""
    return _details(history.query(
        "SELECT m.time, m.detail FROM metrics m JOIN runs r ON r.id = m.run_id "
        "WHERE m.stage = 'estimate' AND m.name = ? AND r.config = ? ORDER BY m.time, m.rowid",
        (name, config)))


def self_checks(history: History, limit: int = 20) -> list[dict]:
    """The latest self-checks of the estimate, newest first: what each checked and found."""
    return _details(history.query(
        "SELECT time, detail FROM metrics WHERE stage = 'estimate_check' AND name = 'p_value' "
        "ORDER BY time DESC, rowid DESC LIMIT ?", (limit,)))


def estimated_with(history: History, model_sha256: str | None) -> bool:
    """True when a model (by its checksum) has made an estimate."""
    return bool(history.query(
        "SELECT 1 FROM metrics WHERE stage = 'estimate' AND "
        "json_extract(detail, '$.model_sha256') = ? LIMIT 1", (model_sha256,)))


def last_run_id(history: History) -> int:
    """The id of the newest run of any stage (0 when none): what a cycle records comes after."""
    rows = history.query("SELECT MAX(id) AS id FROM runs")
    return int(rows[0]["id"] or 0) if rows else 0


@dataclass
class CycleFacts:
    """What one cycle recorded: its runs (adoption, the cycle's work), what they deployed,
    their drift test and a retrained model they refused."""

    runs: list[dict] = field(default_factory=list)
    deployed: list[dict] = field(default_factory=list)
    decision: Decision | None = None
    refused: dict | None = None
    estimated: bool = False  # it estimated the deployed model without labels
    findings: list[dict] = field(default_factory=list)  # the estimate's findings: kind, message


def cycle_facts(history: History, config: str, after_run_id: int) -> CycleFacts:
    """The records of this config's cycle whose runs came after ``after_run_id`` (the cycle
    holds its deployment's lock, so they are its own)."""
    facts = CycleFacts(runs=history.query(
        "SELECT * FROM runs WHERE id > ? AND config = ? ORDER BY id", (after_run_id, config)))
    ids = [run["id"] for run in facts.runs]
    if not ids:
        return facts
    marks = ", ".join("?" for _ in ids)
    facts.deployed = history.query(
        f"SELECT * FROM deployments WHERE run_id IN ({marks}) AND action = 'deploy' "
        "ORDER BY rowid", tuple(ids))
    rows = history.query(
        f"SELECT m.run_id, m.time, m.stage, m.name, m.value, m.detail, r.config, r.summary "
        f"FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.run_id IN ({marks}) "
        f"AND (m.stage IN ('drift', 'finding') OR m.name = ?) ORDER BY m.rowid",
        (*ids, REFUSED))
    drift = [row for row in rows if row["stage"] == "drift"]
    if drift:
        facts.decision = decision_from_rows(drift)
    refused = [row for row in rows if row["name"] == REFUSED]
    if refused:
        facts.refused = parse_detail(refused[-1]["detail"])
    facts.estimated = any(run["stage"] == "estimate" for run in facts.runs)
    facts.findings = [{**parse_detail(row["detail"]), "kind": row["name"]} for row in rows
                      if row["stage"] == "finding"]
    return facts
