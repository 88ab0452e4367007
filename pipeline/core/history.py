"""The history database: one SQLite file that keeps what every run of every stage did.

Tables (all times are UTC ISO-8601 strings):

- ``runs``: one row per run of a stage: ``id, stage, config, started, finished, status, summary``.
- ``ingested_files``: one row per input file seen by an ingestion run: ``run_id, name, path, size,
  mtime, sha256, rows_read, rows_accepted, rows_rejected, duplicates_dropped, seconds, status,
  reason``; ``status`` is ``ingested`` or ``rejected``.
- ``scores``: one row per scoring of a model: ``run_id, time, purpose, model_sha256, model_version,
  data, rows, f1, precision, recall, roc_auc, tn, fp, fn, tp``.
- ``deployments``: one row per deployment or rollback: ``run_id, time, action, version,
  model_sha256, f1, data_files``.
- ``metrics``: any other named figure of a run: ``run_id, time, stage, name, value, detail``
  (diagnostics timings, missing-data fractions, drift statistics, ...).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stage TEXT NOT NULL,
    config TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    summary TEXT
);
CREATE TABLE IF NOT EXISTS ingested_files (
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
);
CREATE TABLE IF NOT EXISTS scores (
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
);
CREATE TABLE IF NOT EXISTS deployments (
    run_id INTEGER REFERENCES runs(id),
    time TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    model_sha256 TEXT,
    f1 REAL,
    data_files TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER REFERENCES runs(id),
    time TEXT NOT NULL,
    stage TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS metrics_name ON metrics(stage, name);
CREATE INDEX IF NOT EXISTS scores_model ON scores(model_sha256);
"""


def utc_now() -> str:
    """The current UTC time as an ISO-8601 string with seconds precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Run:
    """A stage run being recorded: its id, and the status and summary it will end with."""

    id: int
    status: str = "ok"
    summary: Mapping | str | None = None


class History:
    """A thin handle on the history database; every write is its own transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with the schema in place; commits on success, rolls back on error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
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
            self.finish_run(run.id, "failed", str(exc))
            raise
        self.finish_run(run.id, run.status, run.summary)

    def finish_run(self, run_id: int, status: str, summary: Mapping | str | None = None) -> None:
        """Record how a stage run ended."""
        if summary is not None and not isinstance(summary, str):
            summary = json.dumps(summary, default=str, sort_keys=True)
        with self.connect() as conn:
            conn.execute(
                "UPDATE runs SET finished = ?, status = ?, summary = ? WHERE id = ?",
                (utc_now(), status, summary, run_id),
            )

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
