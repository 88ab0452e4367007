"""One new file appended, as whole processes: ``python ingestion.py`` against the usual way.

    .venv/bin/python -m bench.append_process     # this section alone; make bench runs it too
    BENCH_QUICK=1 .venv/bin/python -m bench.append_process   # small sizes: the targets do not apply

Issue 21: what cron pays for an append is the whole process (start, imports, work), not the
call alone that section 2 of the performance times. On a history of HISTORY rows in FILES files
(and of BIG_HISTORY rows), already ingested, one new file of NEW_ROWS rows named to sort before
every file of the history (``new0000.csv``) is ingested by ``python ingestion.py --config ...``,
interleaved with the usual way as a process (``python -m bench.baseline``: pandas reads every
file, concatenates, drops duplicates, writes), the output folder restored and the disk synced
before each run, medians (after one run of each to warm up). Each append is checked to be one
(``ingested 1 files``). Beside them, ``python -c "import numpy"``: the floor of a process that
imports numpy, as the append does.

The processes cache their bytecode (in DATA/pycache), as an installed project does: this machine
sets PYTHONDONTWRITEBYTECODE, which makes every run compile the project's modules again while
pandas, installed with its bytecode, pays nothing. The append is also timed as this machine
runs it, compiling (``append_compiling``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from bench.run import (
    BIG_HISTORY,
    DATA,
    FILES,
    HISTORY,
    NEW_ROWS,
    OUT,
    PROJECT,
    PY,
    QUICK,
    RUNS,
    history_files,
    link_files,
    log,
    machine,
    make_project,
    median_times,
    new_file,
    run,
)
from bench.sections import update_section

SPEEDUP = 10.0  # the usual way / the append, on HISTORY rows
GROWTH = 1.5  # the append on BIG_HISTORY rows / on HISTORY rows


def _process(*args: str, cached: bool = True) -> str:
    """Run a Python process from the project folder, logging at warnings only, its bytecode
    cached or (``cached`` False) compiled as this machine's environment says; its stdout."""
    env = {**os.environ, "RISK_LOG_LEVEL": "WARNING"}
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(DATA / "pycache")
    return subprocess.run([PY, *args], cwd=PROJECT, check=True, capture_output=True, text=True,
                          env=env).stdout


def append_processes(history: int) -> dict:
    """Median seconds of the append process, the usual rebuild process and the numpy floor, on
    a history of ``history`` rows; interleaved, the outputs restored before each."""
    root = make_project(f"append-process-{history}")
    link_files(history_files(history), root / "sourcedata")
    config = str(root / "config.json")
    run(PY, "ingestion.py", "--config", config)  # the history, ingested once
    snapshot = root / "snapshot"
    shutil.copytree(root / "ingesteddata", snapshot)
    new = new_file(first=True)
    link_files([new], root / "sourcedata")
    said: list[str] = []

    def restore(name: str) -> None:
        if name.startswith("append"):
            shutil.rmtree(root / "ingesteddata")
            shutil.copytree(snapshot, root / "ingesteddata")
        shutil.rmtree(root / "usual", ignore_errors=True)
        os.sync()  # no run's fsync pays for writing back what an earlier one left dirty

    tasks = {
        "append": lambda: said.append(_process("ingestion.py", "--config", config)),
        "append_compiling": lambda: said.append(_process("ingestion.py", "--config", config,
                                                         cached=False)),
        "usual": lambda: _process("-m", "bench.baseline", str(root / "sourcedata"),
                                  str(root / "usual")),
        "numpy": lambda: _process("-c", "import numpy"),
    }
    median_times(tasks, 1, before=restore)  # warm-up: the bytecode cached, the files read once
    said.clear()
    times = median_times(tasks, RUNS, before=restore)
    assert all(line.startswith("ingested 1 files") for line in said), said
    shutil.rmtree(root, ignore_errors=True)
    return {**times, "rows": history, "speedup": times["usual"] / times["append"]}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def write(small: dict, big: dict, seconds: float) -> None:
    """The append section of RESULTS.md."""
    growth = big["append"] / small["append"]
    lines = ["## Appending as a whole process", "",
             "Written by `.venv/bin/python -m bench.append_process` (also run by `make bench`)"
             + (", **quick mode (BENCH_QUICK=1): small sizes, the targets do not apply**"
                if QUICK else "")
             + f". Machine: {machine()}; the section took {seconds / 60:.1f} minutes.", "",
             "| figure | measured | target | |", "| --- | --- | --- | --- |",
             f"| one new file ({NEW_ROWS:,} rows, named to sort first) on {small['rows']:,} "
             f"rows in {FILES} files: the usual pandas rebuild process / `python ingestion.py` "
             f"| {small['speedup']:.1f}x ({_ms(small['usual'])} / {_ms(small['append'])}) | "
             f">= {SPEEDUP:.0f}x | {_met(small['speedup'] >= SPEEDUP)} |",
             f"| the same append on {big['rows']:,} rows / on {small['rows']:,} rows | "
             f"{growth:.2f}x ({_ms(big['append'])} / {_ms(small['append'])}) | "
             f"<= {GROWTH}x | {_met(growth <= GROWTH)} |",
             f"| on {big['rows']:,} rows: the usual pandas rebuild process / `python "
             f"ingestion.py` | {big['speedup']:.1f}x ({_ms(big['usual'])} / "
             f"{_ms(big['append'])}) | — | |",
             f"| on {small['rows']:,} rows, compiling the project's modules on every run (this "
             f"machine's PYTHONDONTWRITEBYTECODE): the usual process / `python ingestion.py` | "
             f"{small['usual'] / small['append_compiling']:.1f}x ({_ms(small['usual'])} / "
             f"{_ms(small['append_compiling'])}) | — | |", "",
             f"Whole processes from the project folder, {RUNS} interleaved runs of each after one "
             "to warm up, medians; the output folder restored and the disk synced before each "
             "run; bytecode cached (in the bench's data folder), as an installed project runs, "
             "but for the row that compiles. The append "
             "imports numpy but neither pandas nor pyarrow (tests/test_append.py pins it): "
             f"`python -c \"import numpy\"` took {_ms(small['numpy'])} beside the "
             f"{_ms(small['append'])} of the append on {small['rows']:,} rows and "
             f"{_ms(big['numpy'])} beside the {big['rows']:,}-row one. The usual way is "
             "`bench/baseline.py` as a process (`python -m bench.baseline`: pandas "
             "`read_csv` and `concat` per file, `drop_duplicates`, `to_csv`).", ""]
    update_section(OUT, "append", lines)


def main() -> int:
    """Measure both histories and write the section."""
    started = time.perf_counter()
    log(f"append as a process: {HISTORY:,} rows")
    small = append_processes(HISTORY)
    log(f"append as a process: {BIG_HISTORY:,} rows")
    big = append_processes(BIG_HISTORY)
    log(f"append: {small['speedup']:.1f}x the usual way, {big['append'] / small['append']:.2f}x "
        "on the larger history")
    write(small, big, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
