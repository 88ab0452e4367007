"""What the state page shows, gathered from the deployment, the history, diagnostics.json,
rejected.csv and the watch over the cycle beside the config; each part computed once per
version of the files it comes from."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.api.state import ApiState
from pipeline.api.watching import cycle_record, cycle_verdict
from pipeline.core import recorded, spreadsheet
from pipeline.core.decisions import Decision, FeatureDrift, feature_drift
from pipeline.core.deployed import Deployed, current_deployment
from pipeline.core.history import History
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import (
    CONFUSION_MATRIX,
    DIAGNOSTICS_FILE,
    OUTPUTS_FILE,
    REJECTED,
    REPORT,
    RETURNS_FILE,
)
from pipeline.core.outputs import latest_diagnostics
from pipeline.monitor.drift import KS_ALERT_P, PSI_ALERT
from pipeline.report.pages import reason_kind
from pipeline.watch import alerts, health, ledger
from pipeline.watch.deliver import Destinations

# The model folder's files the pages link to (the only files they serve).
LINKED_FILES = (REPORT, CONFUSION_MATRIX, RETURNS_FILE)
EXAMPLES = 20  # rows set aside shown as they were


@dataclass
class HistoryFacts:
    """What the history database says about deployments, scores and decisions."""

    deployments: list[dict] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    data_drift: list[FeatureDrift] = field(default_factory=list)
    data_drift_time: str | None = None
    ingestion: dict | None = None
    ingestion_summary: dict = field(default_factory=dict)
    ingested_files: list[dict] = field(default_factory=list)


def history_stamp(state: ApiState) -> tuple:
    """The fingerprint of the history database (its write-ahead log included)."""
    db = state.settings.history_db
    return state.cache.stamp(db, db.with_name(db.name + "-wal"))


def read_history(history: History, config_name: str) -> HistoryFacts:
    """Every deployment; this config's drift decisions, latest data drift and ingestion."""
    facts = HistoryFacts()
    if not history.path.exists():
        return facts
    facts.deployments = recorded.deployments(history)
    facts.decisions = recorded.drift_decisions(history, config_name)
    facts.data_drift_time, rows = recorded.latest_data_drift(history, config_name)
    if rows:
        facts.data_drift = feature_drift(rows, PSI_ALERT, KS_ALERT_P)
    ingestion = recorded.latest_ingestion(history, config_name, any_config=True)
    if ingestion is not None:
        facts.ingestion = ingestion.run
        facts.ingestion_summary = ingestion.summary
        facts.ingested_files = ingestion.files
    return facts


def history_facts(state: ApiState) -> HistoryFacts:
    """read_history, once per version of the history database."""
    return state.cache.get("web.history", history_stamp(state), lambda: read_history(
        History(state.settings.history_db), state.settings.name))


@dataclass
class Rejected:
    """What ingestion set aside: counts by file and reason, and the first few rows."""

    exists: bool
    rows: int = 0
    files: int = 0
    by_reason: list[tuple[str, str, int]] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)


def read_rejected(path: Path) -> Rejected:
    """rejected.csv summarised: every reason counted, the first EXAMPLES rows kept whole."""
    if not path.is_file():
        return Rejected(exists=False)
    counts: Counter = Counter()
    out = Rejected(exists=True)
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for row in spreadsheet.read_rows(handle):  # the text as it came, not as protected
            if row.get("line"):
                out.rows += 1
            else:
                out.files += 1
            for part in (row.get("reason") or "").split("; "):
                counts[(row.get("source_file") or "", reason_kind(part))] += 1
            if len(out.examples) < EXAMPLES:
                out.examples.append(row)
    out.by_reason = [(name, reason, n) for (name, reason), n in counts.most_common()]
    return out


def rejected_facts(state: ApiState) -> Rejected:
    """read_rejected, once per version of rejected.csv."""
    path = state.settings.output_folder / REJECTED
    return state.cache.get("web.rejected", state.cache.stamp(path), lambda: read_rejected(path))


@dataclass
class Deployment:
    """The deployed version as the pages show it, with the API's health verdict."""

    deployed: Deployed | None
    healthy: bool
    problem: str | None


def deployment_facts(state: ApiState) -> Deployment:
    """The current version (as /health sees it), or why there is no usable one."""
    try:
        deployed = state.models.get()[1]
        return Deployment(deployed, True, None)
    except ModelIntegrityError as exc:
        problem = str(exc)
    try:
        deployed = current_deployment(state.settings.deployment_folder)
    except ModelIntegrityError:
        deployed = None
    return Deployment(deployed, False, problem)


def model_folder_files(state: ApiState) -> dict[str, bool]:
    """Which of the linked outputs exist in the model folder."""
    folder = state.settings.model_folder
    return {name: (folder / name).is_file() for name in LINKED_FILES}


def diagnostics_facts(state: ApiState) -> dict | None:
    """diagnostics.json, once per version of it."""
    path = state.settings.model_folder / DIAGNOSTICS_FILE
    return state.cache.get("web.diagnostics", state.cache.stamp(path),
                           lambda: latest_diagnostics(state.settings.model_folder))


def outputs_record(state: ApiState) -> dict | None:
    """outputs.json: which model the reports describe."""
    try:
        value = json.loads((state.settings.model_folder / OUTPUTS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def cause_of(version: int | None, facts: HistoryFacts) -> tuple[dict | None, list[Decision]]:
    """The deployment that made ``version`` current, and the drift decisions of its cycle."""
    if version is None:
        return None, []
    rows = [d for d in facts.deployments if d.get("version") == version]
    if not rows:
        return None, []
    row = rows[-1]
    if row.get("run_id") is None:
        return row, []
    return row, [d for d in facts.decisions if d.run_id == row["run_id"]]


@dataclass
class Watch:
    """The cycle as /health judges it, where alerts go (no secrets) and the last ones raised."""

    verdict: health.Verdict
    runs: dict
    destinations: dict
    recent: list[dict]  # newest first
    pending: int
    open: list[str]


def watch_facts(state: ApiState) -> Watch:
    """The cycle record and the alert state beside the config, for the state page."""
    record = cycle_record(state)
    kept = state.cache.get(
        "web.alerts", state.cache.stamp(Path(ledger.paths(state.settings.config_path)[1])),
        lambda: alerts.read_state(state.settings.config_path))
    return Watch(cycle_verdict(state), dict(record.get("runs") or {}),
                 Destinations.of(state.settings).public(),
                 list(reversed(kept.get("recent") or []))[:alerts.RECENT],
                 len(kept.get("pending") or []), sorted(kept.get("open") or {}))
