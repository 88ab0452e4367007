"""Incremental ingestion: an append writes exactly what a rebuild from every file writes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ingestion import run_ingestion
from pipeline.ingest import state
from tests.helpers import NEW, OLD, csv_bytes, outputs, rebuilt


def test_added_files_are_appended_as_a_rebuild_writes_them(inputs, tmp_path):
    (inputs.input_folder / "2024-01.csv").write_bytes(csv_bytes(OLD))
    assert run_ingestion(inputs).mode == "rebuild"
    (inputs.input_folder / "2024-02.csv").write_bytes(csv_bytes(NEW))
    (inputs.input_folder / "2024-03.csv").write_bytes(csv_bytes(["gale,1,1,1,1", OLD[0]]))
    result = run_ingestion(inputs)
    assert result.mode == "append"
    assert [r.name for r in result.files] == ["2024-02.csv", "2024-03.csv"]
    assert [r.duplicates_dropped for r in result.files] == [3, 1]
    assert result.rows_kept == 3 + 2 + 1
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)


# A new file that sorts first appends too: tests/test_ingestion_order.py.
@pytest.mark.parametrize("change", ["changed", "vanished", "floats", "cut-short"])
def test_anything_but_later_additions_rebuilds(inputs, tmp_path, change):
    folder = inputs.input_folder
    (folder / "b.csv").write_bytes(csv_bytes(OLD))
    (folder / "c.csv").write_bytes(csv_bytes(["x,1,2,3,0"]))
    run_ingestion(inputs)
    if change == "changed":
        (folder / "b.csv").write_bytes(csv_bytes(OLD[:2]))
    elif change == "vanished":
        (folder / "c.csv").unlink()
    elif change == "floats":
        (folder / "d.csv").write_bytes(csv_bytes(["half,1.5,2,3,0"]))
    else:  # a run killed while appending left finaldata.csv longer than recorded
        (folder / "d.csv").write_bytes(csv_bytes(NEW))
        with open(inputs.output_folder / "finaldata.csv", "ab") as handle:
            handle.write(b"dune,4,")
    assert run_ingestion(inputs).mode == "rebuild"
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)


def test_a_touched_file_is_not_a_change(inputs, tmp_path):
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(OLD))
    run_ingestion(inputs)
    os.utime(inputs.input_folder / "a.csv", (1, 1))
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(NEW))
    assert run_ingestion(inputs).mode == "append"
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)
    (inputs.input_folder / "c.csv").write_bytes(csv_bytes(["gale,1,1,1,1"]))
    assert run_ingestion(inputs).mode == "append"  # the new time was recorded


def test_a_rejected_csv_of_an_older_release_is_rebuilt_not_appended_to(inputs, tmp_path):
    # Older releases wrote rejected.csv otherwise (CRLF, text as it came): an append would mix
    # the two ways, so the first run of this release rebuilds it whole.
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes([*OLD, "=1+1,-1,2,3,0"]))
    run_ingestion(inputs)
    path = inputs.output_folder / "finaldata.state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    del state["rejected_format"]
    path.write_text(json.dumps(state), encoding="utf-8")
    (inputs.input_folder / "b.csv").write_bytes(csv_bytes(["@x,1,-2,3,0", *NEW]))
    assert run_ingestion(inputs).mode == "rebuild"
    (inputs.input_folder / "c.csv").write_bytes(csv_bytes(["-1+1,1,2,-3,0", "gale,1,1,1,1"]))
    assert run_ingestion(inputs).mode == "append"
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)


def test_many_appends_keep_the_index_small_and_exact(inputs, tmp_path):
    (inputs.input_folder / "f000.csv").write_bytes(
        csv_bytes([f"c{i},{i},{i},1,0" for i in range(200)]))
    run_ingestion(inputs)
    for n in range(1, 25):
        rows = [f"c{i},{i},{i},1,0" for i in range(n * 10, n * 10 + 30)]  # overlapping
        (inputs.input_folder / f"f{n:03d}.csv").write_bytes(csv_bytes(rows))
        assert run_ingestion(inputs).mode == "append"
    recorded = state.load(inputs)
    assert len(recorded["segments"]) <= 6
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)


def test_a_line_of_blank_cells_is_blank_in_a_plain_file_too(inputs):
    # Vertical tabs are whitespace to str.strip: the general parser sees a blank line.
    rows = ["acme,10,120,50,0", "\x0b,\x0b,\x0b,\x0b,\x0b", "bolt,3,40,12,1"]
    (inputs.input_folder / "a.csv").write_bytes(csv_bytes(rows))
    result = run_ingestion(inputs)
    assert (result.rows_kept, result.rejects) == (2, [])
    assert result.files[0].rows_read == 2


def test_the_row_index_finds_pairs_whose_first_hashes_collide(tmp_path):
    from pipeline.ingest import rowindex

    # Three pairs share a first hash; lookups must scan them all, in every segment.
    h1 = np.array([5, 9, 5, 1, 5, 7], dtype=np.uint64)
    h2 = np.array([50, 90, 51, 10, 52, 70], dtype=np.uint64)
    offsets = np.arange(100, 700, 100)  # where each row would be in finaldata.csv
    path = tmp_path / "index"
    segments = rowindex.write_index(path, h1[:4], h2[:4], offsets[:4])
    segments = rowindex.append_segment(path, segments, h1[4:], h2[4:], offsets[4:])
    queries = np.array([5, 5, 5, 5, 9, 9, 0, 10, 7], dtype=np.uint64)
    seconds = np.array([52, 50, 51, 53, 90, 91, 0, 0, 70], dtype=np.uint64)
    found = rowindex.contains(path, segments, queries, seconds)
    assert found.tolist() == [True, True, True, False, True, False, False, False, True]
    asked, where = rowindex.candidates(path, segments, queries, seconds)
    assert sorted(zip(asked.tolist(), where.tolist(), strict=True)) == [
        (0, 500), (1, 100), (2, 300), (4, 200), (8, 600)]
