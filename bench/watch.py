"""The cost of watching the cycle: a /metrics scrape at 1,000 recorded cycles, and the cron
quick path now that a quiet cycle leaves a record.

    .venv/bin/python -m bench.watch      # this section alone; make bench runs it after the rest

The project is the shipped story (practice then production cycle), whose production cycle's
records (its runs, metrics, scores, deployment, ingested files) are then recorded again, as
new runs, until the history holds CYCLES cycles, and its cycle record counts them. /metrics is
timed like the pages (bench.pages): a WSGI call in this process, no HTTP; "warm" when nothing
changed since the last scrape (the records are read once per version of their files), "cold"
when the history and the cycle record were touched before each scrape, so that every scrape
reads them again, as the first scrape after a cycle does. The quick path is timed as make
bench's performance section times it (bench.run.target_quick_path): a whole
``fullprocess.py`` with nothing new against ``python -c pass``.
"""

from __future__ import annotations

import os
import time

from bench.pages import page_call
from bench.run import (
    OUT,
    PY,
    QUICK,
    log,
    machine,
    median_times,
    run,
    shipped_project,
    target_quick_path,
)
from bench.sections import update_section

CYCLES = 1_000
TARGET = 0.010  # seconds a scrape may take
CALLS = 101
RATIO = 3.0  # the quick path's target against python -c pass (section 1 of the performance)
_TABLES = ("metrics", "scores", "deployments", "ingested_files")


def record_cycles(root, cycles: int = CYCLES) -> int:
    """Record the production cycle's runs again until the history holds ``cycles`` cycles;
    the runs in the history afterwards. A benchmark's own bulk copy: it writes SQL here, as
    the stages do through pipeline.core.history."""
    from pipeline.core.history import History
    from pipeline.watch import files, ledger

    history = History(root / "history.sqlite")
    runs = history.query("SELECT * FROM runs WHERE config = 'config.json' ORDER BY id")
    rows = {table: history.query(f"SELECT * FROM {table} WHERE run_id IN "
                                 "(SELECT id FROM runs WHERE config = 'config.json')")
            for table in _TABLES}
    with history.connect() as conn:
        for _ in range(cycles - 1):
            for run in runs:
                new = conn.execute(
                    "INSERT INTO runs (stage, config, started, finished, status, summary, "
                    "seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run["stage"], run["config"], run["started"], run["finished"],
                     run["status"], run["summary"], run["seconds"])).lastrowid
                for table, found in rows.items():
                    mine = [dict(r, run_id=new) for r in found if r["run_id"] == run["id"]]
                    if mine:
                        columns = list(mine[0])
                        conn.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                            f"({', '.join('?' for _ in columns)})",
                            [tuple(r[c] for c in columns) for r in mine])
    path = ledger.paths(root / "config.json")[0]
    now = time.time()
    files.write(path, {"first": now - 86400 * 7, "runs": {"redeployed": cycles},
                        "last_run": {"started": now, "finished": now, "outcome": "redeployed",
                                     "summary": "loss drift: deployed version 2"},
                        "last_success": {"time": now, "outcome": "redeployed",
                                         "summary": "loss drift"}, "failed_in_a_row": 0,
                        "limits": {"max_age_seconds": 1800, "failed_runs": 3}})
    return history.query("SELECT COUNT(*) AS n FROM runs")[0]["n"]


def time_scrapes(root) -> dict:
    """Median seconds of a warm and of a cold /metrics scrape, and the answer's size."""
    from app import create_app
    from pipeline.watch import ledger

    app = create_app(root / "config.json")
    scrape = page_call(app, "/metrics")
    assert scrape() == 200
    touched = (root / "history.sqlite", ledger.paths(root / "config.json")[0])

    def touch(name):
        for path in touched:
            os.utime(path)

    warm = median_times({"scrape": scrape}, CALLS)["scrape"]
    cold = median_times({"scrape": scrape}, CALLS // 2, before=touch)["scrape"]
    return {"warm": warm, "cold": cold}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms"


def write(figures: dict, seconds: float) -> None:
    """The watch section of RESULTS.md."""
    q = figures["quick"]
    met = "met" if figures["cold"] <= TARGET else "**not met**"
    lines = ["## Watching the cycle", "",
             "Written by `.venv/bin/python -m bench.watch` (also run by `make bench`)"
             + (", quick mode (BENCH_QUICK=1)" if QUICK else "")
             + f". Machine: {machine()}; the section took {seconds:.0f} s.", "",
             "| figure | measured | target | |", "| --- | --- | --- | --- |",
             f"| `/metrics` at {CYCLES:,} recorded cycles ({figures['runs']:,} runs), in the "
             f"app, every scrape reading the records again (median of {CALLS // 2}) | "
             f"{_ms(figures['cold'])} | < {_ms(TARGET)} | {met} |",
             f"| the same, records unchanged since the last scrape (median of {CALLS}) | "
             f"{_ms(figures['warm'])} | < {_ms(TARGET)} | "
             f"{'met' if figures['warm'] <= TARGET else '**not met**'} |",
             f"| nothing new, shipped data, a quiet cycle recorded: cycle / `python -c pass` | "
             f"{q['ratio']:.2f}x ({_ms(q['cycle'])} / {_ms(q['pass'])}) | < {RATIO:.0f}x | "
             f"{'met' if q['ratio'] < RATIO else '**not met**'} |", "",
             "Scrapes are WSGI calls in the benchmark's process, as the pages are timed; the "
             "history is the shipped production cycle's records copied as new runs. The quick "
             "path is timed as in the performance section (15 interleaved runs, medians); a "
             "quiet cycle's record is part of it (`<config>.cycles.json` and "
             "`<config>.alerts.json` read, one line appended to `<config>.cycles.quiet`)"
             + ("; this machine sets PYTHONDONTWRITEBYTECODE, so every run compiles the "
                "modules it imports." if os.environ.get("PYTHONDONTWRITEBYTECODE") else "."),
             ""]
    update_section(OUT, "watch", lines)


def main() -> int:
    """Build the project, record the cycles, time the scrapes and the quick path."""
    started = time.perf_counter()
    log("watch: the shipped story")
    root = shipped_project()
    run(PY, "fullprocess.py", "--config", str(root / "config.json"), "--no-api")
    log(f"watch: recording {CYCLES:,} cycles")
    runs = record_cycles(root)
    figures = {"runs": runs, **time_scrapes(root)}
    log(f"watch: /metrics warm {_ms(figures['warm'])}, cold {_ms(figures['cold'])}")
    figures["quick"] = target_quick_path({"shipped": root})["shipped"]
    log(f"watch: quick path {figures['quick']['ratio']:.2f}x python -c pass")
    write(figures, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RISK_LOG_LEVEL", "WARNING")
    raise SystemExit(main())

