"""Unlabelled batches: files whose outcomes are not known yet are ingested apart, never trained
or loss-tested on, and appended exactly as a rebuild writes them."""

from __future__ import annotations

import pandas as pd
import pytest

from cycle.steps import new_rows
from ingestion import run_ingestion
from pipeline.core.history import History
from pipeline.core.names import INGESTED_FILES, UNLABELLED_DATA
from pipeline.data.final import read_final_data
from tests.helpers import OLD, csv_bytes, outputs, rebuilt


def read_unlabelled(path) -> pd.DataFrame:
    """unlabelleddata.csv as it is written: names and batches as text."""
    return pd.read_csv(path, dtype={"corporation": str, "batch": str}, keep_default_na=False)


FEATURE_HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees"
FRESH = ["newa,5,60,10", "newb,0,300,40", "acme,1,120,50"]


@pytest.mark.parametrize("header, rows, why", [
    pytest.param(FEATURE_HEADER, FRESH, "no exited column", id="no-exited-column"),
    pytest.param(FEATURE_HEADER + ",exited", [r + "," for r in FRESH],
                 "exited is empty on every row", id="exited-empty-throughout"),
    pytest.param("exited," + FEATURE_HEADER + ",note", [" ," + r + ",x" for r in FRESH],
                 "exited is empty on every row; extra columns dropped: note",
                 id="empty-exited-first-and-an-extra-column"),
])
def test_a_file_without_labels_is_an_unlabelled_batch(inputs, header, rows, why):
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(rows, header=header))
    result = run_ingestion(inputs)
    batch = result.files[1]
    assert (batch.usable, batch.labelled, batch.note) == (True, False, f"unlabelled: {why}")
    # Not in finaldata.csv; in unlabelleddata.csv, with its batch and the labelled rows before.
    final = read_final_data(inputs.output_folder / "finaldata.csv")
    assert len(final) == len(set(OLD)) and "newa" not in set(final["corporation"])
    kept = read_unlabelled(inputs.output_folder / UNLABELLED_DATA)
    assert kept["corporation"].tolist() == ["newa", "newb", "acme"]
    assert kept["lastyear_activity"].tolist() == [60, 300, 120]
    assert set(kept["batch"]) == {"b.csv"} and set(kept["finaldata_rows"]) == {len(final)}
    lines = (inputs.output_folder / INGESTED_FILES).read_text().splitlines()
    assert lines[1].endswith("\tlabels=none") and "labels" not in lines[0]
    statuses = History(inputs.history_db).query(
        "SELECT name, status FROM ingested_files ORDER BY name")
    assert [(r["name"], r["status"]) for r in statuses] == [("a.csv", "ingested"),
                                                            ("b.csv", "unlabelled")]


def test_a_file_with_some_labels_keeps_the_row_rules(inputs):
    rows = ["acme,10,120,50,0", "bolt,3,40,12,", "core,0,0,1,1"]
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(rows))
    result = run_ingestion(inputs)
    assert result.files[0].labelled and result.rows_kept == 2
    assert [r["reason"] for r in result.rejects] == ["exited is missing"]
    assert not (inputs.output_folder / UNLABELLED_DATA).exists()


def test_an_unlabelled_row_is_validated_like_any_other(inputs):
    rows = ["newa,5,60,10", "newb,-1,300,40", ",1,2,3", "newc,1,x,3"]
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(rows, header=FEATURE_HEADER))
    result = run_ingestion(inputs)
    assert [(r["line"], r["reason"]) for r in result.files[1].rejects] == [
        (3, "lastmonth_activity is negative"), (4, "corporation is empty"),
        (5, "lastyear_activity is not a number: 'x'")]
    assert read_unlabelled(inputs.output_folder / UNLABELLED_DATA)["corporation"].tolist() == \
        ["newa"]


def test_unlabelled_batches_are_appended_as_a_rebuild_writes_them(inputs, tmp_path):
    folder = inputs.input_folder
    (folder / "2024-01.csv").write_bytes(csv_bytes(OLD))
    assert run_ingestion(inputs).mode == "rebuild"
    # A batch, then a labelled file and a batch whose names need quotes, then floats.
    (folder / "2024-02.csv").write_bytes(csv_bytes(FRESH, header=FEATURE_HEADER))
    assert run_ingestion(inputs).mode == "append"
    assert outputs(inputs.output_folder) == rebuilt(inputs, _folder(tmp_path / "one"))
    (folder / "2024-03.csv").write_bytes(csv_bytes(["gale,1,1,1,1"]))
    (folder / "2024-04.csv").write_bytes(csv_bytes(['"a, b",1,2,3', "newb,1.5,2,3"],
                                                   header=FEATURE_HEADER))
    result = run_ingestion(inputs)
    assert result.mode == "append" and [r.labelled for r in result.files] == [True, False]
    assert outputs(inputs.output_folder) == rebuilt(inputs, _folder(tmp_path / "two"))
    kept = read_unlabelled(inputs.output_folder / UNLABELLED_DATA)
    assert kept.loc[kept["batch"] == "2024-04.csv", "finaldata_rows"].tolist() == \
        [len(set(OLD)) + 1] * 2
    # A killed append (the file longer than recorded) rebuilds.
    with open(inputs.output_folder / UNLABELLED_DATA, "ab") as handle:
        handle.write(b"half,1,")
    (folder / "2024-05.csv").write_bytes(csv_bytes(["newd,1,2,3"], header=FEATURE_HEADER))
    assert run_ingestion(inputs).mode == "rebuild"
    assert outputs(inputs.output_folder) == rebuilt(inputs, _folder(tmp_path / "three"))


def test_unlabelled_rows_never_reach_training_or_the_loss_test(inputs):
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    run_ingestion(inputs)
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(FRESH, header=FEATURE_HEADER))
    result = run_ingestion(inputs)
    # The cycle's new rows for the drift test: none, though a file with rows came.
    assert new_rows(result, {"b.csv"}).empty
    assert result.rows_kept == len(read_final_data(inputs.output_folder / "finaldata.csv"))
    assert pd.read_csv(inputs.output_folder / "finaldata.csv").shape[1] == 5


def test_a_rebuild_without_batches_removes_their_rows(inputs):
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(FRESH, header=FEATURE_HEADER))
    run_ingestion(inputs)
    assert (inputs.output_folder / UNLABELLED_DATA).exists()
    (inputs.input_folder / "b.csv").unlink()
    assert run_ingestion(inputs).mode == "rebuild"
    assert not (inputs.output_folder / UNLABELLED_DATA).exists()


def _folder(path):
    path.mkdir()
    return path
