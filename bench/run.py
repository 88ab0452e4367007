"""The benchmark suite: every figure next to its target, written to bench/RESULTS.md.

    make bench                 # full sizes (10,000,000 rows at most; data kept in bench/data/)
    BENCH_QUICK=1 make bench   # small sizes, a few minutes: the figures are not the targets'

Each figure is a ratio to a reference measured side by side in the same run (medians of several
runs, interleaved), since this machine is shared and noisy.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
PY = sys.executable
QUICK = os.environ.get("BENCH_QUICK") == "1"
DATA = Path(os.environ.get("BENCH_DATA", BENCH / "data")) / ("quick" if QUICK else "full")
OUT = Path(os.environ.get("BENCH_RESULTS", BENCH / "RESULTS.md"))

if QUICK:
    FILES, HISTORY, BIG_HISTORY, NEW_ROWS = 10, 20_000, 200_000, 1_000
    SCALE = (2_000, 20_000, 200_000)
    RUNS, API_SECONDS = 3, 2
else:
    FILES, HISTORY, BIG_HISTORY, NEW_ROWS = 100, 1_000_000, 10_000_000, 10_000
    SCALE = (100_000, 1_000_000, 10_000_000)
    RUNS, API_SECONDS = 5, 5

CONFIG = {"input_folder_path": "sourcedata", "output_folder_path": "ingesteddata",
          "test_data_path": "testdata", "output_model_path": "models",
          "prod_deployment_path": "production_deployment", "check_outdated_packages": False,
          "api_url": "http://127.0.0.1:9"}
SHIPPED = ("practicedata", "sourcedata", "testdata")
# The code the 10M-row cycle is compared with, side by side: the last commit before issue 12.
REFERENCE = os.environ.get("BENCH_REFERENCE", "683780d")
# The code the shipped re-deploying cycle is compared with: issue 21's "today" (14 s on 2 cores).
SHIPPED_REFERENCE = os.environ.get("BENCH_SHIPPED_REFERENCE", "81bdcf6")
SHIPPED_RUNS = 3 if QUICK else 5
# The other sections of RESULTS.md, run after the performance one (python -m <name> runs one).
SECTIONS: tuple[str, ...] = ("bench.append_process", "bench.quality", "bench.estimate",
                             "bench.pages", "bench.watch")


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median_times(tasks: dict, runs: int, before=None) -> dict[str, float]:
    """Median seconds of each task, run interleaved (a, b, c, a, b, c, ...)."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(runs):
        for name, task in tasks.items():
            if before is not None:
                before(name)
            started = time.perf_counter()
            task()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def machine() -> str:
    """Cores, memory, Python and commit of this run."""
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return (f"{os.cpu_count()} cores, {int(memory) / 2**20:.1f} GiB, Python "
            f"{sys.version.split()[0]}, commit {commit}, "
            f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")


# Data and projects ---------------------------------------------------------------------------

def history_files(rows: int, files: int = FILES) -> list[Path]:
    """rows records in files CSV files from the project's generator (cached in bench/data)."""
    from bench.datasets import ensure_files

    return ensure_files(DATA / f"history-{rows}-{files}", rows, files, seed=rows % 997)


def new_file(rows: int = NEW_ROWS, first: bool = False) -> Path:
    """One new extract, named to sort after every history file (zz-new0000.csv), or before them
    all (new0000.csv, before part0000.csv): the same rows either way."""
    from bench.datasets import ensure_files

    prefix = "new" if first else "zz-new"
    (path,) = ensure_files(DATA / f"new-{rows}-{prefix}", rows, 1, seed=4242, prefix=prefix)
    return path


def link_files(paths: list[Path], folder: Path) -> None:
    """Hard links (regular files to the pipeline, no copy) of paths in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        os.link(path, folder / path.name)


def make_project(name: str, config: dict | None = None) -> Path:
    """An empty project folder with config.json, testdata and the shipped test file."""
    root = DATA / "projects" / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "testdata").mkdir(parents=True)
    shutil.copy(PROJECT / "testdata" / "testdata.csv", root / "testdata")
    (root / "config.json").write_text(json.dumps({**CONFIG, **(config or {})}))
    return root


def run(*args: str, cwd: Path = PROJECT, env: dict | None = None) -> str:
    """Run a command; its stdout, or an error with its stderr."""
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "RISK_LOG_LEVEL": "WARNING", **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def tree_rss_mib(root: int) -> float:
    """The resident memory of a process and all its descendants now (MiB)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(
                int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(status.split("VmRSS:", 1)[1].split()[0])
        except (OSError, IndexError):
            pass
        stack.extend(children.get(pid, []))
    return total / 1024


def cycle_stages(config: Path, code: Path = PROJECT, our_timers: bool = False,
                 api: bool = False) -> dict:
    """One instrumented cycle of the code in ``code`` (timed by its own bench.cycle_stages, or
    with ``our_timers`` by this tree's, so that two codes are timed alike): stage seconds,
    total, peak memory. With ``api`` the cycle makes its API calls too (``--no-api`` else).

    tree_peak_mb is the largest sum of the resident memory of the cycle and its children,
    sampled every 0.2 s.
    """
    timers = ["-c", "import runpy, sys; sys.argv = sys.argv[1:]; "
              "runpy.run_path(sys.argv[0], run_name='__main__')",
              str(BENCH / "cycle_stages.py")] if our_timers else ["-m", "bench.cycle_stages"]
    proc = subprocess.Popen([PY, *timers, "--config", str(config),
                             *([] if api else ["--no-api"])], cwd=code, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RISK_LOG_LEVEL": "WARNING"})
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_mib(proc.pid))
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"cycle on {config} failed:\n{out}\n{err}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["tree_peak_mb"] = round(peak, 1)
    return figures


# Targets -------------------------------------------------------------------------------------

def scale_project(rows: int, code: Path = PROJECT, name: str = "scale") -> Path:
    """A project where ``code`` deployed a first model on 2,000 older rows, with rows records
    in FILES new files waiting."""
    from bench.datasets import ensure_files

    files = history_files(rows)
    root = make_project(f"{name}-{rows}")
    first = ensure_files(DATA / "first-2000", 2_000, 1, seed=7, prefix="a-first", change=0.0)
    link_files(first, root / "sourcedata")
    run(PY, "fullprocess.py", "--config", str(root / "config.json"), "--no-api", cwd=code)
    link_files(files, root / "sourcedata")
    return root


def reference_code(commit: str = REFERENCE) -> Path | None:
    """The code of an older commit of this repository (by default REFERENCE, the code before
    issue 12), exported with git archive under DATA; None where git or the commit is not there
    (or the commit is "none": BENCH_REFERENCE=none)."""
    if commit == "none":
        return None
    folder = DATA / f"reference-{commit}"
    if (folder / ".exported").exists():
        return folder
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=PROJECT,
                           capture_output=True)
    if found.returncode != 0:
        log(f"reference commit {commit} not found: nothing is compared with it")
        return None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit], cwd=PROJECT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / ".exported").touch()
    return folder


def target_scale() -> tuple[list[dict], Path, dict | None]:
    """5. A full cycle on SCALE rows in FILES files after a first small deployment; on the
    largest, the same cycle of the reference code (before issue 12) right after ours."""
    results, last = [], None
    for rows in SCALE:
        root = scale_project(rows)
        log(f"scale: cycle on {rows:,} rows")
        figures = cycle_stages(root / "config.json")
        figures["rows"] = rows
        results.append(figures)
        last = root
    reference = None
    code = reference_code()
    if code is not None:
        log(f"scale: the reference code's cycle on {SCALE[-1]:,} rows ({REFERENCE})")
        root = scale_project(SCALE[-1], code=code, name="scale-reference")
        reference = cycle_stages(root / "config.json", code=code)
        reference.update(rows=SCALE[-1], commit=REFERENCE)
        shutil.rmtree(root, ignore_errors=True)
    return results, last, reference


def _one_cycle(code: Path, prepared: Path, api: bool = False) -> tuple[dict, Path]:
    """The production cycle of ``code`` on a fresh copy of a prepared project (the copy of the
    run before is removed), with its API calls or without: its figures and the copy."""
    copy = prepared.with_name(prepared.name + "-run")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(prepared, copy, symlinks=True)
    figures = cycle_stages(copy / "config.json", code=code, our_timers=True, api=api)
    if figures.get("exit") != 0:
        raise RuntimeError(f"the shipped cycle of {code} exited {figures.get('exit')}")
    return figures, copy


def _medians(runs: list[dict]) -> dict:
    stages = list(dict.fromkeys(stage for r in runs for stage in r["seconds"]))
    return {"seconds": {stage: statistics.median(r["seconds"].get(stage, 0.0) for r in runs)
                        for stage in stages},
            "cpu": {stage: statistics.median(r["cpu"].get(stage, 0.0) for r in runs)
                    for stage in stages},
            "total": statistics.median(r["total"] for r in runs),
            "cpu_total": statistics.median(r["cpu_total"] for r in runs),
            "totals": [round(r["total"], 2) for r in runs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "tree_peak_mb": max(r["tree_peak_mb"] for r in runs)}


def target_shipped(runs: int = SHIPPED_RUNS) -> tuple[dict, Path]:
    """6. The shipped re-deploying cycle: ours and the reference commit's, interleaved; the
    medians of each, and ours / reference for the whole cycle and each stage; then the same with
    the cycle's API calls, no server running at api_url (as in ``make run``: "with_api"); and
    the project our last run without them left (both cycles run: what the targets after this
    one measure). No reference (the commit not in this clone, or
    BENCH_SHIPPED_REFERENCE=none): ours alone."""
    codes = {"ours": PROJECT}
    reference = reference_code(SHIPPED_REFERENCE)
    if reference is not None:
        codes = {"reference": reference, **codes}
    prepared = {label: shipped_project(code, f"shipped-{label}")
                for label, code in codes.items()}
    measured = {}
    for api in (True, False):  # without last: the copy its last run leaves is returned
        figures: dict[str, list[dict]] = {label: [] for label in codes}
        for turn in range(runs):
            for label, code in codes.items():
                log(f"shipped: the re-deploying cycle of {label}"
                    f"{' with its API calls' if api else ''}, run {turn + 1} of {runs}")
                found, copy = _one_cycle(code, prepared[label], api=api)
                figures[label].append(found)
                if label == "ours" and not api:
                    last = copy
        measured[api] = out = {label: _medians(found) for label, found in figures.items()}
        out["runs"] = runs
        if reference is not None:
            out["reference"]["commit"] = SHIPPED_REFERENCE
            out["ratio"] = out["ours"]["total"] / out["reference"]["total"]
            out["cpu_ratio"] = out["ours"]["cpu_total"] / out["reference"]["cpu_total"]
    return {**measured[False], "with_api": measured[True]}, last


def target_quick_path(projects: dict[str, Path]) -> dict[str, dict]:
    """1. A cycle with nothing new against a bare python -c pass."""
    out = {}
    for label, root in projects.items():
        config = str(root / "config.json")
        said = run(PY, "fullprocess.py", "--config", config)
        assert "nothing new" in said, said
        times = median_times({
            "pass": lambda: subprocess.run([PY, "-c", "pass"], check=True),
            "cycle": lambda c=config: subprocess.run([PY, str(PROJECT / "fullprocess.py"),
                                                      "--config", c], check=True,
                                                     stdout=subprocess.DEVNULL),
        }, runs=15)
        out[label] = {**times, "ratio": times["cycle"] / times["pass"]}
    return out


def _ingest_settings(root: Path):
    from pipeline.core.config import load_settings

    return load_settings(root / "config.json")


def target_full_ingestion() -> dict:
    """3. Full ingestion of HISTORY rows in FILES files: ours, the baseline, the limit."""
    from bench.baseline import baseline_ingest, limit_read_write
    from ingestion import run_ingestion

    files = history_files(HISTORY)
    root = make_project("ingest-full")
    link_files(files, root / "sourcedata")
    settings = _ingest_settings(root)

    def fresh(name):
        shutil.rmtree(root / "ingesteddata", ignore_errors=True)
        shutil.rmtree(root / "reference", ignore_errors=True)
        os.sync()  # no task's fsync pays for writing back what an earlier one left dirty

    runs = 2 * RUNS - 1  # about 2 s a round: more rounds, a median less at the mercy of noise
    times = median_times({
        "ours": lambda: run_ingestion(settings),
        "baseline": lambda: baseline_ingest(root / "sourcedata", root / "reference"),
        "limit": lambda: limit_read_write(root / "sourcedata", root / "reference"),
    }, runs, before=fresh)
    return {**times, "runs": runs, "speedup": times["baseline"] / times["ours"],
            "of_limit": times["ours"] / times["limit"]}


def _incremental(history: int, with_baseline: bool) -> dict:
    """One new file appended to a history: named to sort last ("ours") and first
    ("ours_first"), each from the same snapshot; the baseline re-reads every file."""
    from bench.baseline import baseline_ingest
    from ingestion import run_ingestion

    files = history_files(history)
    root = make_project(f"ingest-append-{history}")
    link_files(files, root / "sourcedata")
    settings = _ingest_settings(root)
    run_ingestion(settings)
    snapshot = root / "snapshot"
    shutil.copytree(root / "ingesteddata", snapshot)
    news = {"ours": new_file(), "ours_first": new_file(first=True), "baseline": new_file()}
    modes = []

    def restore(name):
        for path in set(news.values()):
            (root / "sourcedata" / path.name).unlink(missing_ok=True)
        link_files([news[name]], root / "sourcedata")
        if name != "baseline":
            shutil.rmtree(root / "ingesteddata")
            shutil.copytree(snapshot, root / "ingesteddata")
            os.sync()  # as after any earlier cycle: the history is on disk, not dirty in memory

    tasks = {"ours": lambda: modes.append(run_ingestion(settings).mode),
             "ours_first": lambda: modes.append(run_ingestion(settings).mode)}
    if with_baseline:
        tasks["baseline"] = lambda: baseline_ingest(root / "sourcedata", root / "reference")
    times = median_times(tasks, RUNS, before=restore)
    assert set(modes) == {"append"}, modes
    return times


def target_incremental() -> dict:
    """2. One new file on HISTORY rows (against the baseline) and on BIG_HISTORY rows, named to
    sort after the history's files and before them."""
    small = _incremental(HISTORY, with_baseline=True)
    log("incremental: the larger history")
    big = _incremental(BIG_HISTORY, with_baseline=False)
    return {"ours": small["ours"], "baseline": small["baseline"], "ours_big": big["ours"],
            "speedup": small["baseline"] / small["ours"], "growth": big["ours"] / small["ours"],
            "ours_first": small["ours_first"], "ours_big_first": big["ours_first"],
            "speedup_first": small["baseline"] / small["ours_first"],
            "growth_first": big["ours_first"] / small["ours_first"]}


def shipped_project(code: Path = PROJECT, name: str = "shipped") -> Path:
    """The shipped files (the working tree's) after ``code``'s practice cycle: version 1
    deployed, the production config's source files waiting; returns the root."""
    root = make_project(name)
    for folder in SHIPPED:
        shutil.copytree(PROJECT / folder, root / folder, dirs_exist_ok=True)
    (root / "config.practice.json").write_text(json.dumps(
        {**CONFIG, "input_folder_path": "practicedata", "output_model_path": "practicemodels"}))
    run(PY, "fullprocess.py", "--config", str(root / "config.practice.json"), "--no-api",
        cwd=code)
    return root


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app: str, config: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn with 2 workers serving app on a free loopback port; waits until it answers."""
    from bench.load import get_once

    port = free_port()
    proc = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", app], cwd=PROJECT,
        env={**os.environ, "RISK_CONFIG": str(config), "RISK_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            get_once(port, "/health")
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"{app} did not start")


def target_api(root: Path) -> dict:
    """4. The API under gunicorn (2 workers): one record, 10,000 records, cached answers."""
    import pandas as pd

    from bench.load import client_name, load, post_once
    from pipeline.core.deployed import load_deployed_model
    from scoring import read_labelled_data

    config = root / "config.json"
    settings = _ingest_settings(root)
    test = read_labelled_data(settings.test_file)
    one = json.dumps({"records": [{"lastmonth_activity": 3, "lastyear_activity": 900,
                                   "number_of_employees": 250}]}).encode()
    rows = pd.concat([test] * 5, ignore_index=True).head(10_000)
    features = ["lastmonth_activity", "lastyear_activity", "number_of_employees"]
    many = json.dumps({"records": rows[features].to_dict(orient="records")}).encode()
    servers = {"ours": serve("wsgi:app", config), "baseline": serve("bench.baseline_app:app",
                                                                      config)}
    out: dict = {"client": client_name()}
    try:
        for _, port in servers.values():
            load(port, "/prediction", one, 8, 1)  # warm-up: every worker loaded
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(3):
            for name, (_, port) in servers.items():
                runs[name].append(load(port, "/prediction", one, 8, API_SECONDS))
        for name, figures in runs.items():
            out[name] = {key: statistics.median(f[key] for f in figures)
                         for key in ("rps", "p50", "p99", "errors")}
        out["speedup"] = out["ours"]["rps"] / out["baseline"]["rps"]
        model, _ = load_deployed_model(settings.deployment_folder)
        frame = rows[features]
        batch = median_times({
            "ours": lambda: post_once(servers["ours"][1], "/prediction", many),
            "baseline": lambda: post_once(servers["baseline"][1], "/prediction", many),
            "limit": lambda: model.predict_proba(frame),
        }, RUNS)
        out["batch"] = batch
        out["cache"] = target_cache(root, servers["ours"][1])
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    return out


def _wsgi_get(app, path: str):
    """A function answering GET path with the WSGI app in this process (no HTTP)."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path).get_environ()

    def call() -> bytes:
        body = app.wsgi_app(dict(environ), lambda status, headers, exc_info=None: None)
        try:
            return b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()

    return call


def _baseline_app(config: Path):
    """The reference app (bench/baseline_app.py) for config, imported in this process."""
    import importlib

    os.environ["RISK_CONFIG"] = str(config)
    sys.modules.pop("bench.baseline_app", None)  # it reads RISK_CONFIG when imported
    return importlib.import_module("bench.baseline_app").app


def target_cache(root: Path, port: int) -> dict:
    """4. /scoring and /diagnostics from cache against computing them.

    Both sides are timed the same way, inside the app (a WSGI call, no HTTP). Computing is what
    the usual endpoint does on every request: for /scoring the course's score_model() (the
    reference app's /scoring: unpickle the model, read the test data, F1, write it), for
    /diagnostics run_diagnostics with its stage timings. Reported beside them: our own /scoring
    cache miss (the test file touched before each call: the model stays loaded), the HTTP round
    trips, and /health's, which computes nothing.
    """
    import diagnostics
    from app import create_app
    from bench.load import get_once

    settings = _ingest_settings(root)
    app = create_app(root / "config.json")
    calls = {path: _wsgi_get(app, f"/{path}") for path in ("scoring", "diagnostics", "health")}
    usual_scoring = _wsgi_get(_baseline_app(root / "config.json"), "/scoring")
    for call in [*calls.values(), usual_scoring]:
        call()  # fills the caches, and checks that each answers

    def touch(name):  # a new modification time: the cached score no longer matches the file
        os.utime(settings.test_file)

    # Not interleaved call by call: right after a computation the cached answer runs with cold
    # CPU caches and takes four times as long. Three rounds of each side instead, medians.
    rounds = [(median_times(calls, 201), median_times({"scoring": usual_scoring}, 21))
              for _ in range(3)]
    cached = {name: statistics.median(r[0][name] for r in rounds) for name in calls}
    computed = {
        "scoring": statistics.median(r[1]["scoring"] for r in rounds),
        **median_times({"diagnostics": lambda: diagnostics.run_diagnostics(
            settings, measure_time=True, check_packages=False)}, 3)}
    miss = median_times({"scoring": calls["scoring"]}, 21, before=touch)["scoring"]
    for path in ("/scoring", "/diagnostics"):
        get_once(port, path), get_once(port, path)  # each worker fills its cache
    http = median_times({name: lambda n=name: get_once(port, f"/{n}")
                         for name in ("scoring", "health")}, 51)
    http["scoring_miss"] = median_times({"miss": lambda: get_once(port, "/scoring")}, 11,
                                        before=touch)["miss"]
    return {"in_app": {name: {"cached": cached[name], "computed": computed[name],
                              "speedup": computed[name] / cached[name]} for name in computed},
            "scoring_miss_in_app": miss, "health_in_app": cached["health"], "http": http}


def main() -> int:
    """Run every target and write RESULTS.md."""
    from bench.report import write_results

    started = time.perf_counter()
    results: dict = {"machine": machine(), "quick": QUICK}
    log("target 6: the shipped re-deploying cycle, ours and the reference's side by side")
    results["shipped"], shipped = target_shipped()
    log("target 3: full ingestion")
    results["full"] = target_full_ingestion()
    log("target 2: incremental ingestion")
    results["incremental"] = target_incremental()
    log("target 5: full cycles at scale")
    results["scale"], biggest, results["scale_reference"] = target_scale()
    log("target 1: nothing new")
    results["quick_path"] = target_quick_path({"shipped data": shipped,
                                               f"{SCALE[-1]:,} rows in {FILES} files": biggest})
    log("target 4: the API")
    results["api"] = target_api(shipped)
    results["seconds"] = time.perf_counter() - started
    (BENCH / "data").mkdir(exist_ok=True)
    (BENCH / "data" / "results.json").write_text(json.dumps(results, indent=1))
    write_results(results, OUT)
    log(f"wrote the performance section of {OUT} in {results['seconds']:.0f} s")
    for name in SECTIONS:  # each writes its own section of RESULTS.md, and can run alone
        log(f"section {name}")
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
