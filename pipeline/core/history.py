"""The history database: one SQLite file that keeps what every run of every stage did.

Tables (all times are UTC ISO-8601 strings):

- ``runs``: one row per run of a stage: ``id, stage, config, started, finished, status, summary,
  seconds`` (its duration).
- ``ingested_files``: one row per input file seen by an ingestion run: ``run_id, name, path, size,
  mtime, sha256, rows_read, rows_accepted, rows_rejected, duplicates_dropped, seconds, status,
  reason``; ``status`` is ``ingested`` or ``rejected``.
- ``scores``: one row per scoring of a model: ``run_id, time, purpose, model_sha256, model_version,
  data, rows, f1, precision, recall, roc_auc, tn, fp, fn, tp``.
- ``deployments``: one row per deployment or rollback: ``run_id, time, action, version,
  model_sha256, f1, data_files``.
- ``metrics``: any other named figure of a run: ``run_id, time, stage, name, value, detail``
  (diagnostics timings, missing-data fractions, drift statistics, ...).

The schema has versions (``PRAGMA user_version``): opening a database applies the migrations
it lacks, in order, each in its own transaction (``migrate``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# The schema as it stood before it had versions (version 1), and each change since, in order.
# Version n of a database is MIGRATIONS[:n] applied; PRAGMA user_version records n. A migration
# only adds (tables, columns, indexes), so older code still reads a newer database.
SCHEMA_V1 = (
    """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stage TEXT NOT NULL,
    config TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    summary TEXT
)""",
    """CREATE TABLE IF NOT EXISTS ingested_files (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    path TEXT,
    size INTEGER,
    mtime REAL,
    sha256 TEXT,
    rows_read INTEGER,
    rows_accepted INTEGER,
    rows_rejected INTEGER,
    duplicates_dropped INTEGER,
    seconds REAL,
    status TEXT NOT NULL,
    reason TEXT
)""",
    """CREATE TABLE IF NOT EXISTS scores (
    run_id INTEGER REFERENCES runs(id),
    time TEXT NOT NULL,
    purpose TEXT NOT NULL,
    model_sha256 TEXT,
    model_version INTEGER,
    data TEXT,
    rows INTEGER,
    f1 REAL,
    precision REAL,
    recall REAL,
    roc_auc REAL,
    tn INTEGER, fp INTEGER, fn INTEGER, tp INTEGER
)""",
    """CREATE TABLE IF NOT EXISTS deployments (
    run_id INTEGER REFERENCES runs(id),
    time TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    model_sha256 TEXT,
    f1 REAL,
    data_files TEXT
)""",
    """CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER REFERENCES runs(id),
    time TEXT NOT NULL,
    stage TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    detail TEXT
)""",
    "CREATE INDEX IF NOT EXISTS metrics_name ON metrics(stage, name)",
    "CREATE INDEX IF NOT EXISTS scores_model ON scores(model_sha256)",
)
# Version 2: each run's duration (measured with a monotonic clock; older runs get the
# difference of their recorded times), and the index diagnostics' timings query walks: the
# latest runs of a stage for a config.
RUN_SECONDS = (
    "ALTER TABLE runs ADD COLUMN seconds REAL",
    "UPDATE runs SET seconds = ROUND((julianday(finished) - julianday(started)) * 86400.0, 3) "
    "WHERE finished IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS runs_stage ON runs(stage, config)",
)
# Version 3: the metrics of one run found without reading them all (a cycle's own decision for
# its alerts, the latest drift test for /metrics: at a thousand cycles, tens of thousands of
# rows).
METRICS_BY_RUN = ("CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id)",)
MIGRATIONS: tuple[tuple[str, ...], ...] = (SCHEMA_V1, RUN_SECONDS, METRICS_BY_RUN)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(sqlite3.DatabaseError):
    """A migration of the history database failed (the database is left at its last version)."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The version a database records (0: none, as before versions were recorded)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring a database to SCHEMA_VERSION, one migration per transaction; the version reached.

    Each migration and its new user_version commit together, so a crash leaves the database at
    one version or the next, never between. Two processes migrating at once: the second waits
    for the first's write lock, then finds the version already reached and does nothing.
    """
    level = conn.isolation_level
    conn.isolation_level = None  # transactions by hand: BEGIN IMMEDIATE ... COMMIT
    try:
        while (version := schema_version(conn)) < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = schema_version(conn)  # another process may have migrated meanwhile
                if version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise SchemaError(f"cannot migrate the history database from version "
                                      f"{version} to {version + 1}: {exc}") from exc
                raise
    finally:
        conn.isolation_level = level
    return version


def utc_now() -> str:
    """The current UTC time as an ISO-8601 string with seconds precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Run:
    """A stage run being recorded: its id, and the status and summary it will end with."""

    id: int
    status: str = "ok"
    summary: Mapping | str | None = None
    started: float = field(default_factory=time.perf_counter, repr=False)


class History:
    """A thin handle on the history database; every write is its own transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with the schema migrated to its current version; commits on success, rolls
        back on error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn)
            with conn:
                yield conn

    def start_run(self, stage: str, config: str | None = None) -> int:
        """Record the start of a stage run and return its id."""
        with self.connect() as conn:
            cur = conn.execute(
                "INSERT INTO runs (stage, config, started) VALUES (?, ?, ?)",
                (stage, config, utc_now()),
            )
            return int(cur.lastrowid)

    @contextmanager
    def run(self, stage: str, config: str | None = None) -> Iterator[Run]:
        """Record a stage run around a block: ``failed`` with the error when it raises (even on
        KeyboardInterrupt), else the ``status`` and ``summary`` the block set on the Run."""
        run = Run(self.start_run(stage, config))
        try:
            yield run
        except BaseException as exc:
            self.finish_run(run.id, "failed", str(exc), time.perf_counter() - run.started)
            raise
        self.finish_run(run.id, run.status, run.summary, time.perf_counter() - run.started)

    def finish_run(self, run_id: int, status: str, summary: Mapping | str | None,
                   seconds: float) -> None:
        """Record how a stage run ended, and how long it took."""
        if summary is not None and not isinstance(summary, str):
            summary = json.dumps(summary, default=str, sort_keys=True)
        with self.connect() as conn:
            conn.execute(
                "UPDATE runs SET finished = ?, status = ?, summary = ?, seconds = ? WHERE id = ?",
                (utc_now(), status, summary, round(seconds, 6), run_id),
            )

    def last_run_seconds(self, stage: str, config: str | None,
                         statuses: tuple[str, ...] = ("ok",)) -> float | None:
        """How long the latest finished run of a stage with a config took; None if none did."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.query(
            f"SELECT seconds FROM runs WHERE stage = ? AND config IS ? AND status IN ({marks}) "
            "AND seconds IS NOT NULL ORDER BY id DESC LIMIT 1", (stage, config, *statuses))
        return rows[0]["seconds"] if rows else None

    def insert(self, table: str, row: Mapping) -> None:
        """Insert one row (a mapping of column to value) into a table of the schema."""
        self.insert_many(table, [row])

    def insert_many(self, table: str, rows: list[Mapping]) -> None:
        """Insert rows that share the same columns into a table of the schema."""
        if table not in {"ingested_files", "scores", "deployments", "metrics"}:
            raise ValueError(f"unknown history table {table!r}")
        if not rows:
            return
        columns = list(rows[0])
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        with self.connect() as conn:
            conn.executemany(sql, [tuple(row[c] for c in columns) for row in rows])

    def record_metrics(self, run_id: int | None, stage: str, values: Mapping[str, float],
                       detail: Mapping | None = None) -> None:
        """Record named figures of a run."""
        now = utc_now()
        text = json.dumps(detail, default=str, sort_keys=True) if detail else None
        self.insert_many("metrics", [
            {"run_id": run_id, "time": now, "stage": stage, "name": name,
             "value": None if value is None else float(value), "detail": text}
            for name, value in values.items()
        ])

    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        """Rows of a read-only query, as dicts."""
        if not self.path.exists():
            return []
        with self.connect() as conn:
            return [dict(row) for row in conn.execute(sql, params)]


def record_score(history: History, run_id: int | None, purpose: str, scores: Mapping, *,
                 model_sha256: str, data: str, model_version: int | None = None) -> None:
    """Store a scoring result (pipeline.model.evaluate.score_model's) in the history."""
    history.insert("scores", {
        "run_id": run_id, "time": utc_now(), "purpose": purpose, "model_sha256": model_sha256,
        "model_version": model_version, "data": data, "rows": scores["rows"],
        **{key: scores[key] for key in ("f1", "precision", "recall", "roc_auc",
                                        "tn", "fp", "fn", "tp")},
    })
