"""The history database's schema versions: an old database migrates in place, losing nothing."""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.core import history as history_module
from pipeline.core.history import SCHEMA_VERSION, History, SchemaError

# The schema exactly as the release before schema versions created it (user_version 0).
OLD_SCHEMA = """
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

OLD_ROWS = {
    "runs": [
        (1, "ingestion", "config.json", "2026-11-01T10:00:00.000+00:00",
         "2026-11-01T10:00:02.500+00:00", "ok", '{"rows_kept": 3}'),
        (2, "training", "config.json", "2026-11-01T10:00:03.000+00:00",
         "2026-11-01T10:00:04.250+00:00", "ok", None),
        (3, "scoring", "config.json", "2026-11-01T10:00:05.000+00:00", None, "running", None),
    ],
    "ingested_files": [(1, "a.csv", "/old/place/a.csv", 10, 1.5, "ab" * 32, 3, 3, 0, 0, 0.01,
                        "ingested", None)],
    "scores": [(3, "2026-11-01T10:00:05", "test", "cd" * 32, 1, "testdata.csv", 3, 0.5, 0.5,
                0.5, 0.7, 1, 1, 0, 1)],
    "deployments": [(3, "2026-11-01T10:00:06", "deploy", 1, "cd" * 32, 0.5, "[]")],
    "metrics": [(1, "2026-11-01T10:00:02", "ingestion", "rows", 3.0, None),
                (None, "2026-11-01T10:00:07", "diagnostics", "seconds_training", 1.25, "{}")],
}


def old_database(path) -> None:
    """A history database as the previous release wrote it, with a few rows in every table."""
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        for table, rows in OLD_ROWS.items():
            marks = ", ".join("?" for _ in rows[0])
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0


def _rows(path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
        old_columns = columns[:len(OLD_ROWS[table][0])]
        return conn.execute(f"SELECT {', '.join(old_columns)} FROM {table} ORDER BY rowid"
                            ).fetchall()


def test_an_old_database_is_migrated_with_every_row_kept(tmp_path):
    path = tmp_path / "history.sqlite"
    old_database(path)
    history = History(path)
    assert history.query("SELECT COUNT(*) AS n FROM runs") == [{"n": 3}]  # opening migrates
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        indexes = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    for table, rows in OLD_ROWS.items():  # every table, every row, every value
        assert _rows(path, table) == rows, table
    assert {"metrics_name", "scores_model", "runs_stage", "metrics_run"} <= indexes
    # Version 2 added the durations: back-filled from the recorded times, none for a run that
    # never finished.
    seconds = {r["id"]: r["seconds"] for r in history.query("SELECT id, seconds FROM runs")}
    assert seconds == {1: 2.5, 2: 1.25, 3: None}
    assert history.last_run_seconds("ingestion", "config.json") == 2.5
    # The migrated database is used as a new one: a run records its own duration.
    with history.run("training", "config.json") as run:
        run.summary = {"rows": 4}
    newest = history.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert newest["id"] == 4 and newest["status"] == "ok" and 0 <= newest["seconds"] < 5
    assert history.last_run_seconds("training", "config.json") == newest["seconds"]
    assert history.last_run_seconds("training", "other.json") is None


def test_a_new_database_is_created_at_the_current_version(tmp_path):
    history = History(tmp_path / "history.sqlite")
    with history.run("scoring", "config.json"):
        pass
    with sqlite3.connect(tmp_path / "history.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [c[1] for c in conn.execute("PRAGMA table_info(runs)")]
    assert columns[-1] == "seconds"
    assert len(History(tmp_path / "history.sqlite").query("SELECT * FROM runs")) == 1


def test_a_failing_migration_leaves_the_database_at_its_last_version(tmp_path, monkeypatch):
    path = tmp_path / "history.sqlite"
    old_database(path)
    broken = (*history_module.MIGRATIONS[1][:2], "CREATE INDEX runs_stage ON nowhere(x)")
    monkeypatch.setattr(history_module, "MIGRATIONS", (history_module.MIGRATIONS[0], broken))
    with pytest.raises(SchemaError, match="from version 1 to 2"):
        History(path).query("SELECT 1")
    with sqlite3.connect(path) as conn:  # migration 1 committed; 2 rolled back whole
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "seconds" not in [c[1] for c in conn.execute("PRAGMA table_info(runs)")]
    for table, rows in OLD_ROWS.items():
        assert _rows(path, table) == rows
    monkeypatch.undo()
    assert History(path).last_run_seconds("ingestion", "config.json") == 2.5


def test_a_newer_database_is_opened_as_it_is(tmp_path):
    path = tmp_path / "history.sqlite"
    History(path).start_run("training", "config.json")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.execute("ALTER TABLE runs ADD COLUMN host TEXT")
    with History(path).run("ingestion", "config.json"):
        pass
    assert History(path).last_run_seconds("ingestion", "config.json") is not None
