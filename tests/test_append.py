"""The append of plain files (pipeline.ingest.append): no pandas, no pyarrow, and the very bytes a
rebuild writes."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

import pytest

from ingestion import run_ingestion
from pipeline.core.config import PROJECT_ROOT as PROJECT
from tests.helpers import HEADER, OLD, csv_bytes, outputs

HEAVY = {"pandas", "pyarrow", "sklearn", "scipy", "matplotlib"}


def _imported(config) -> set[str]:
    """The top-level packages `python ingestion.py --config config` imports (-X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", str(PROJECT / "ingestion.py"),
                           "--config", str(config)], capture_output=True, text=True,
                          cwd=PROJECT, env={**os.environ, "RISK_LOG_LEVEL": "WARNING"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {m.group(1).strip().split(".")[0]
            for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", proc.stderr, flags=re.M)}


def rebuilt_in_place(settings) -> dict[str, bytes]:
    """The outputs of a rebuild in the same output folder (its recorded order kept)."""
    os.unlink(settings.output_folder / "finaldata.rowindex")  # the state no longer matches
    assert run_ingestion(settings).mode == "rebuild"
    return outputs(settings.output_folder)


def _files_of_last_run(settings) -> list[str]:
    with sqlite3.connect(settings.history_db) as conn:
        return [name for (name,) in conn.execute(
            "SELECT name FROM ingested_files WHERE run_id = (SELECT MAX(id) FROM runs "
            "WHERE stage = 'ingestion') ORDER BY rowid")]


def test_an_append_of_a_plain_file_imports_neither_pandas_nor_pyarrow(inputs):
    (inputs.input_folder / "part0000.csv").write_bytes(
        csv_bytes([f"c{i},{i},{i * 12},5,{i % 2}" for i in range(300)]))
    rebuilding = _imported(inputs.config_path)
    assert {"pandas", "pyarrow"} <= rebuilding  # the rebuild does: what is looked for is seen
    assert "numpy" in rebuilding
    # A new extract, named to sort before the history's file, some of its rows seen before.
    (inputs.input_folder / "new0000.csv").write_bytes(
        csv_bytes([f"c{i},{i},{i * 12},5,{i % 2}" for i in range(250, 400)]))
    appending = _imported(inputs.config_path)
    assert appending & HEAVY == set()
    assert _files_of_last_run(inputs) == ["new0000.csv"]  # an append: only the new file read
    state = (inputs.output_folder / "finaldata.state.json").read_text(encoding="utf-8")
    assert list(re.findall(r'"(\w+\.csv)": \{', state)) == ["part0000.csv", "new0000.csv"]
    assert outputs(inputs.output_folder) == rebuilt_in_place(inputs)


PLAIN = {
    "crlf and a byte-order mark": csv_bytes(["dune,4,48,9,1", "acme,10,120,50,0"],
                                            newline=b"\r\n", bom=True),
    "columns in another order, an extra one": csv_bytes(
        ["1,9,4,dune,48,x", "0,50,10,acme,120,y", "0,7,7,gale,7,z"],
        header="exited,number_of_employees,lastmonth_activity,corporation,"
               "lastyear_activity,region"),
    "leading zeros, 15 digits": csv_bytes(["dune,004,048,9,01", "wide,999999999999999,0,0,0"]),
    "names not ASCII inside, a tab inside": csv_bytes(["Zoë SA,1,2,3,0", "a\tb,1,2,3,0",
                                                      "core,0,0,1,0"]),
    "no newline at the end": csv_bytes(["dune,4,48,9,1", "gale,1,1,1,1"])[:-1],
}


@pytest.mark.parametrize("content", PLAIN.values(), ids=PLAIN.keys())
def test_plain_files_are_appended_without_pandas_as_a_rebuild_writes_them(inputs, content):
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(OLD))
    run_ingestion(inputs)
    (inputs.input_folder / "a.csv").write_bytes(content)
    (inputs.input_folder / "c.csv").write_bytes(csv_bytes(["acme,10,120,50,0", "dune,4,48,9,1",
                                                           "acme,10,120,50,0"]))
    result = run_ingestion(inputs)
    assert result.mode == "append"
    assert all(r.plain is not None and r.frame is None for r in result.files)  # the plain path
    assert outputs(inputs.output_folder) == rebuilt_in_place(inputs)


@pytest.mark.parametrize("row", ["fizz,-1,2,3,0", " core ,0,0,1,0", "half,1.5,2,3,0",
                                 '"Smith, Jr.",1,1,1,0', "dune,4,48,9,2", "dune,4,,9,1",
                                 "dune,4,48,9", "", "dune,0x1F,48,9,1", "dune,٣,48,9,1"])
def test_a_file_that_is_not_plain_is_appended_by_the_general_path(inputs, row):
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    run_ingestion(inputs)
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(["gale,1,1,1,1", row]))
    result = run_ingestion(inputs)
    assert result.files[0].plain is None
    assert outputs(inputs.output_folder) == rebuilt_in_place(inputs)


def test_plain_files_too_large_for_the_plain_path_go_the_general_way(inputs, monkeypatch):
    """The plain path parses in Python: beyond PLAIN_LIMIT bytes of new files (about 120,000
    rows) pandas and pyarrow are the faster (make bench's 1,000,000-row scale cycle: its
    ingestion 3.2 s the plain way, 0.9 s the general one). The outputs are the same."""
    from pipeline.ingest import update

    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    run_ingestion(inputs)
    new = csv_bytes(["gale,1,1,1,1", "acme,10,120,50,0", "zed,3,3,3,0"])
    (inputs.input_folder / "b.csv").write_bytes(new)
    monkeypatch.setattr(update, "PLAIN_LIMIT", len(new) - 1)
    result = run_ingestion(inputs)
    assert result.mode == "append" and result.files[0].plain is None  # the general path
    assert outputs(inputs.output_folder) == rebuilt_in_place(inputs)


def test_the_cycle_gets_the_new_rows_of_a_plain_append(inputs):
    from cycle.steps import new_rows

    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    run_ingestion(inputs)
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(["gale,1,1,1,1", "acme,10,120,50,0",
                                                           "gale,1,1,1,1"]))
    result = run_ingestion(inputs)
    assert result.mode == "append" and result.rows_kept == 4
    rows = new_rows(result, {"b.csv"})  # the new file's rows, its own repeat dropped
    assert rows.to_dict("records") == [
        {"corporation": "gale", "lastmonth_activity": 1, "lastyear_activity": 1,
         "number_of_employees": 1, "exited": 1},
        {"corporation": "acme", "lastmonth_activity": 10, "lastyear_activity": 120,
         "number_of_employees": 50, "exited": 0}]
    assert list(rows.columns) == HEADER.split(",")
