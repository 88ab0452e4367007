"""finaldata.csv in ingestion order: a new file appends whatever its name, and a rebuild keeps the
order in which the files came, so the two write the same bytes."""

from __future__ import annotations

import json
import os

import pytest

from ingestion import run_ingestion
from pipeline.ingest import state
from tests.helpers import NEW, OLD, csv_bytes, outputs, rebuilt


def rebuilt_in_place(settings) -> dict[str, bytes]:
    """The outputs of a rebuild in the same output folder (its recorded order kept)."""
    os.unlink(settings.output_folder / "finaldata.rowindex")  # the state no longer matches
    assert run_ingestion(settings).mode == "rebuild"
    return outputs(settings.output_folder)


def _names(settings) -> list[str]:
    listing = (settings.output_folder / "ingestedfiles.txt").read_text(encoding="utf-8")
    return [line.split("\t")[0] for line in listing.splitlines()]


def _rows(settings) -> list[str]:
    return (settings.output_folder / "finaldata.csv").read_text().splitlines()[1:]


@pytest.mark.parametrize("old, new", [
    (["dataset3.csv", "dataset4.csv"], "2026-11.csv"),  # an ISO date after named extracts
    ([f"part{i:04d}.csv" for i in range(12)], "new.csv"),
])
def test_a_new_file_that_sorts_first_is_appended(inputs, old, new):
    folder = inputs.input_folder
    for i, name in enumerate(old):
        (folder / name).write_bytes(csv_bytes([f"c{i},{i},{i * 12},1,0", *OLD]))
    assert run_ingestion(inputs).mode == "rebuild"
    # The new file repeats a row of the first file (kept there) and brings new rows.
    (folder / new).write_bytes(csv_bytes(["zeta,1,1,1,1", "c0,0,0,1,0", *NEW]))
    result = run_ingestion(inputs)
    assert result.mode == "append"
    assert [r.name for r in result.files] == [new]
    appended = outputs(inputs.output_folder)
    assert _names(inputs) == [*old, new]  # ingestion order: the new file last
    # Its new rows come last; its repeats of earlier rows stay where they came first.
    assert _rows(inputs)[-3:] == ["zeta,1,1,1,1", "dune,4,48,9,1", "echo,7,80,20,0"]
    assert _rows(inputs).count("c0,0,0,1,0") == 1 and _rows(inputs)[0] == "c0,0,0,1,0"
    assert rebuilt_in_place(inputs) == appended  # byte for byte
    assert _names(inputs) == [*old, new]


def test_the_appended_rows_come_last_and_a_repeated_row_stays_where_it_came_first(inputs):
    folder = inputs.input_folder
    (folder / "b.csv").write_bytes(csv_bytes(["acme,10,120,50,0", "bolt,3,40,12,1"]))
    run_ingestion(inputs)
    (folder / "a.csv").write_bytes(csv_bytes(["bolt,3,40,12,1", "core,0,0,1,0"]))
    result = run_ingestion(inputs)
    assert result.mode == "append" and result.files[0].duplicates_dropped == 1
    assert _rows(inputs) == ["acme,10,120,50,0", "bolt,3,40,12,1", "core,0,0,1,0"]
    appended = outputs(inputs.output_folder)
    assert rebuilt_in_place(inputs) == appended
    assert _rows(inputs) == ["acme,10,120,50,0", "bolt,3,40,12,1", "core,0,0,1,0"]


def test_a_rebuild_keeps_the_recorded_order_and_puts_unknown_files_after_it(inputs, tmp_path):
    folder = inputs.input_folder
    (folder / "m.csv").write_bytes(csv_bytes(["mid,1,1,1,0"]))
    run_ingestion(inputs)
    (folder / "a.csv").write_bytes(csv_bytes(["early,2,2,2,0"]))
    assert run_ingestion(inputs).mode == "append"  # order: m.csv, a.csv
    # A change forces a rebuild; two new files arrive at the same time.
    (folder / "m.csv").write_bytes(csv_bytes(["mid,1,1,1,0", "mid2,3,3,3,1"]))
    (folder / "z.csv").write_bytes(csv_bytes(["last,4,4,4,0"]))
    (folder / "0.csv").write_bytes(csv_bytes(["zero,5,5,5,1"]))
    assert run_ingestion(inputs).mode == "rebuild"
    assert _names(inputs) == ["m.csv", "a.csv", "0.csv", "z.csv"]
    assert _rows(inputs) == ["mid,1,1,1,0", "mid2,3,3,3,1", "early,2,2,2,0", "zero,5,5,5,1",
                              "last,4,4,4,0"]
    state = json.loads((inputs.output_folder / "finaldata.state.json").read_text())
    assert list(state["files"]) == ["m.csv", "a.csv", "0.csv", "z.csv"]
    # Without any state (a new output folder), the order is by name.
    fresh = rebuilt(inputs, tmp_path)
    assert fresh["finaldata.csv"].decode().splitlines()[1:] == [
        "zero,5,5,5,1", "early,2,2,2,0", "mid,1,1,1,0", "mid2,3,3,3,1", "last,4,4,4,0"]


def test_the_order_survives_a_rebuild_that_dies_before_it_records_its_state(inputs):
    folder = inputs.input_folder
    (folder / "b.csv").write_bytes(csv_bytes(["bee,1,1,1,0"]))
    run_ingestion(inputs)
    (folder / "a.csv").write_bytes(csv_bytes(["ant,2,2,2,1"]))
    run_ingestion(inputs)
    appended = outputs(inputs.output_folder)
    assert state.forget(inputs) == ["b.csv", "a.csv"]  # as a rebuild begins
    # ... and is killed there: the state keeps the order, but nothing appends to it.
    assert state.load(inputs) is None
    (folder / "c.csv").write_bytes(csv_bytes(["cat,3,3,3,0"]))
    assert run_ingestion(inputs).mode == "rebuild"
    assert _names(inputs) == ["b.csv", "a.csv", "c.csv"]
    os.unlink(folder / "c.csv")
    assert run_ingestion(inputs).mode == "rebuild"
    assert outputs(inputs.output_folder) == appended


def test_many_appends_of_files_named_in_any_order_equal_one_rebuild(inputs):
    folder = inputs.input_folder
    names = ["m.csv", "c.csv", "x.csv", "a.csv", "k.csv", "0.csv", "zz.csv", "b.csv"]
    for n, name in enumerate(names):
        rows = [f"c{i},{i},{i},1,{i % 2}" for i in range(n * 3, n * 3 + 6)]  # overlapping
        (folder / name).write_bytes(csv_bytes(rows))
        assert run_ingestion(inputs).mode == ("rebuild" if n == 0 else "append")
    assert _names(inputs) == names
    appended = outputs(inputs.output_folder)
    assert rebuilt_in_place(inputs) == appended


def test_another_folder_ingesting_into_the_same_output_folder_keeps_this_folders_order(inputs):
    """The course's practice and production configs share ingesteddata/: the practice
    ingestion in between must not turn production's latest record back into an older one."""
    from pipeline.core.config import load_settings
    from pipeline.data.final import latest_records, read_final_data
    from tests.helpers import write_config

    (inputs.input_folder / "dataset4.csv").write_bytes(csv_bytes(["acme,10,120,50,0"]))
    assert run_ingestion(inputs).mode == "rebuild"
    (inputs.input_folder / "2026-11.csv").write_bytes(csv_bytes(["acme,2,120,50,1"]))
    assert run_ingestion(inputs).mode == "append"
    appended = outputs(inputs.output_folder)
    practice_folder = inputs.root / "practice"
    practice_folder.mkdir()
    (practice_folder / "dataset1.csv").write_bytes(csv_bytes(OLD))
    practice = load_settings(write_config(
        inputs.root, "config.practice.json", input_folder_path="practice",
        output_folder_path="out", test_data_path="test", output_model_path="models",
        prod_deployment_path="deploy"))
    assert run_ingestion(practice).mode == "rebuild"  # its outputs replace production's
    assert run_ingestion(inputs).mode == "rebuild"  # and production rebuilds, in its order
    assert outputs(inputs.output_folder) == appended
    latest = latest_records(read_final_data(inputs.output_folder / "finaldata.csv"))
    assert latest.set_index("corporation").loc["acme", "exited"] == 1  # the newest record
