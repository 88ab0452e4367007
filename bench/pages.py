"""The pages' speed (issue 13): each page inside the app at 10,000 and 1,000,000 clients.

    .venv/bin/python -m bench.pages      # this section alone; make bench runs it after the rest
    BENCH_QUICK=1 ...                     # 10,000 and 100,000 clients: the targets do not apply

Each project is built the way the system builds it: a first version on 2,000 older records,
then a cycle on the clients' records (drift, retraining, reports, riskscores.csv with its
explanations). The pages are timed like the API's cached answers (bench.run): a WSGI call in
this process, no HTTP, medians of many calls after one warm-up call that fills the caches. The
first call on a fresh app (the caches empty: reading riskscores.csv or finaldata.csv and
preparing them) is timed apart, since it happens once per worker and version of the files.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from bench.run import DATA, OUT, QUICK, link_files, log, machine, make_project
from bench.sections import update_section

SIZES = (10_000, 100_000) if QUICK else (10_000, 1_000_000)
TARGETS = {10_000: 0.050, 1_000_000: 0.200}
CALLS = 31
FILES = 10


def _clients(rows: int, seed: int):
    """rows records of distinct clients (names extended past the generator's 456,976)."""
    from pipeline.data.datagen import bulk_records

    frame = bulk_records(rows, seed=seed)
    suffix = np.arange(rows) // 26**4
    frame["corporation"] = [name if s == 0 else f"{name}{s}"
                            for name, s in zip(frame["corporation"], suffix, strict=True)]
    return frame


def build(clients: int) -> Path:
    """A project with a first version on older data, then a drift cycle on ``clients``."""
    from bench.datasets import csv_bytes, ensure_files
    from cycle.run import run_cycle
    from pipeline.core.config import load_settings

    root = make_project(f"pages-{clients}", {"measure_execution_time": False})
    first = ensure_files(DATA / "first-2000", 2_000, 1, seed=7, prefix="a-first", change=0.0)
    link_files(first, root / "sourcedata")
    settings = load_settings(root / "config.json")
    run_cycle(settings, call_api=False)
    frame = _clients(clients, seed=clients % 991)
    bounds = np.linspace(0, clients, FILES + 1).astype(int)
    for i in range(FILES):
        path = root / "sourcedata" / f"b-clients{i:03d}.csv"
        path.write_bytes(csv_bytes(frame.iloc[bounds[i]:bounds[i + 1]]))
    started = time.perf_counter()
    summary = run_cycle(settings, call_api=False)
    log(f"pages: {clients:,} clients: {summary} ({time.perf_counter() - started:.0f} s)")
    return root


def page_call(app, path: str):
    """What is timed: a function that calls path on app in this process, without HTTP, and
    returns the status."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path).get_environ()

    def call() -> int:
        status = []
        body = app.wsgi_app(dict(environ), lambda s, h, exc_info=None: status.append(s))
        try:
            b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        return int(status[0].split()[0])

    return call


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(root: Path) -> dict:
    """Cold (first call on a fresh app) and warm (median) seconds of every page."""
    import pandas as pd

    from app import create_app

    risk = pd.read_csv(root / "models" / "riskscores.csv", usecols=["corporation"],
                       keep_default_na=False, dtype=str)
    top, query = risk["corporation"][0], risk["corporation"][len(risk) // 2][:2]
    pages = {
        "/": "/", "/clients": "/clients", "/clients search": f"/clients?q={query}",
        "/clients sorted, last page": "/clients?sort=employees&dir=asc&page=999999",
        "/clients.csv search, sorted": f"/clients.csv?q={query}&sort=change&dir=desc",
        "/clients/<name>": f"/clients/{top}", "/decisions": "/decisions",
        "/charts/scores.svg": "/charts/scores.svg", "/risk?top=20 (API)": "/risk?top=20"}
    gc.collect()
    before = _rss_mib()
    app = create_app(root / "config.json")
    calls = {label: page_call(app, path) for label, path in pages.items()}
    cold = {}
    for label, call in calls.items():
        started = time.perf_counter()
        status = call()
        cold[label] = time.perf_counter() - started
        assert status == 200, (label, status)
    warm: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(CALLS):
        for label, call in calls.items():
            started = time.perf_counter()
            call()
            warm[label].append(time.perf_counter() - started)
    gc.collect()
    with open(root / "ingesteddata" / "finaldata.csv", "rb") as handle:
        records = sum(1 for _ in handle) - 1
    return {"clients_in_finaldata": records, "clients_on_list": len(risk), "query": query,
            "cold": cold, "warm": {k: statistics.median(v) for k, v in warm.items()},
            "warm_max": {k: max(v) for k, v in warm.items()},
            "cache_mib": _rss_mib() - before}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def write(results: dict, seconds: float) -> None:
    """The pages section of RESULTS.md."""
    lines = ["## Pages", "",
             "Written by `.venv/bin/python -m bench.pages` (also run by `make bench`); "
             + ("**quick mode (BENCH_QUICK=1): the targets do not apply.**" if QUICK
                else "full sizes.")
             + f" Machine: {machine()}; shared with other engineers' tests, so single calls "
             f"are noisy. The section took {seconds / 60:.1f} minutes.", "",
             "Each page timed inside the app (a WSGI call in the benchmark's process, no HTTP), "
             f"median of {CALLS} calls after a first call that fills the caches; the first call "
             "on a fresh app (reading and preparing riskscores.csv or finaldata.csv, loading the "
             "kept models, drawing the chart) is shown apart: it happens once per worker and "
             "version of the files.", "",
             "| records in finaldata.csv / clients on the risk list | page | median | "
             "slowest of the calls | first call | target | |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for clients, r in results.items():
        target = TARGETS.get(clients)
        for label, median in r["warm"].items():
            verdict = "" if target is None or QUICK else (
                "met" if median <= target else "**not met**")
            lines.append(f"| {r['clients_in_finaldata']:,} / {r['clients_on_list']:,} | "
                         f"`{label}` | {_ms(median)} | {_ms(r['warm_max'][label])} | "
                         f"{_ms(r['cold'][label])} | "
                         f"{'' if target is None else _ms(target)} | {verdict} |")
    lines += ["", "Memory the caches add to a worker after every page was served once: " +
              ", ".join(f"{r['cache_mib']:,.0f} MiB at {c:,} clients"
                        for c, r in results.items()) + ".", ""]
    update_section(OUT, "pages", lines)


def main() -> int:
    """Build the projects, time the pages, write the section."""
    started = time.perf_counter()
    results = {}
    for clients in SIZES:
        log(f"pages: building a project of {clients:,} clients")
        root = build(clients)
        results[clients] = measure(root)
        log(f"pages: {json.dumps(results[clients]['warm'])}")
    (DATA.parent).mkdir(parents=True, exist_ok=True)
    (DATA.parent / "pages.json").write_text(json.dumps(results, indent=1))
    write(results, time.perf_counter() - started)
    log(f"wrote the pages section of {OUT}")
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ.setdefault("RISK_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
