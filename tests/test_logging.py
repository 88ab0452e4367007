"""Where log entries go. Every module logs under its own name (tests/test_layers.py holds that
rule) and only the programs' mains configure logging, on the root logger, so that each entry
reaches the place it went when the modules logged as "app", "fullprocess" and "ingestion":

- a script's stderr (pipeline.core.cli.setup_logging): the console, and cron's
  logs/fullprocess.log for the cycle (and ingestion's entries within it);
- under gunicorn, its error log (gunicorn.conf.py's post_fork): logs/api.log under
  ``make serve``, the console under ``python app.py``. tests/test_served.py follows a request
  id there from a real server.

Each check runs in a fresh interpreter, so pytest's own capture of the root logger plays no part.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.helpers import PROJECT

# The modules that log, found by their own line: a new one is checked without being listed here.
LOGGER_LINE = re.compile(r"^logger = logging\.getLogger\(__name__\)$", re.MULTILINE)


def _logging_modules(*packages: str) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((PROJECT / package).rglob("*.py")):
            if LOGGER_LINE.search(path.read_text(encoding="utf-8")):
                parts = path.relative_to(PROJECT).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


CYCLE_AND_LIBRARY = _logging_modules("cycle", "pipeline")
LIBRARY = _logging_modules("pipeline")


def _run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RISK_LOG_LEVEL="INFO", PYTHONPATH=str(PROJECT))
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)


def test_the_modules_that_log_are_found():
    """The control: the cycle's, the API's and ingestion's loggers are all among them."""
    assert {"cycle.run", "cycle.steps", "cycle.estimating", "cycle.watching",
            "pipeline.api.failures", "pipeline.api.state",
            "pipeline.ingest.records"} <= set(CYCLE_AND_LIBRARY)


@pytest.mark.slow
def test_a_scripts_logging_writes_every_modules_entries_on_its_stderr():
    """As fullprocess.py, ingestion.py and every stage set it up: INFO entries, with the
    module's name, on stderr (which cron appends to logs/fullprocess.log)."""
    proc = _run(f"""
import importlib
from pipeline.core.cli import setup_logging
setup_logging()
for name in {CYCLE_AND_LIBRARY!r}:
    importlib.import_module(name).logger.info("an entry of %s", name)
""")
    for name in CYCLE_AND_LIBRARY:
        assert re.search(rf"^\S+ INFO {re.escape(name)}: an entry of {re.escape(name)}$",
                         proc.stderr, re.MULTILINE), (name, proc.stderr[-2000:])


def test_a_gunicorn_workers_logging_writes_the_apps_entries_to_the_error_log():
    """As gunicorn.conf.py's post_fork sets up a worker: the library's entries (the app's: a
    500's traceback under its request id, a model loaded) go through gunicorn's error log
    handlers, and nowhere else."""
    proc = _run(f"""
import importlib, io, logging, runpy, sys
error_log = logging.getLogger("gunicorn.error")  # as gunicorn makes it: its own handlers
error_log.propagate = False
error_log.setLevel(logging.INFO)
written = io.StringIO()
error_log.addHandler(logging.StreamHandler(written))
runpy.run_path("gunicorn.conf.py")["log_where_gunicorn_does"](error_log)
for name in {LIBRARY!r}:
    importlib.import_module(name).logger.info("an entry of %s", name)
sys.stdout.write(written.getvalue())
""")
    for name in LIBRARY:
        assert f"an entry of {name}\n" in proc.stdout, (name, proc.stdout[-2000:])
    assert "an entry of" not in proc.stderr  # no second way out
