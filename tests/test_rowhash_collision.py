"""A hash never decides that a row is a duplicate: rows crafted to hash alike are told apart value
by value, on append as on a rebuild, so an append writes what a rebuild writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingestion import run_ingestion
from pipeline.core.schema import COLUMNS
from pipeline.ingest import rowhash
from tests.helpers import csv_bytes, outputs, rebuilt

A = "acme,3,40,12,1"
B = "acme,40,3,12,1"  # A with two features swapped




@pytest.fixture
def weak_constants(monkeypatch):
    """The row hash with its constants set to known, weak values: no mixing, no column offsets.
    Every step is then an exclusive or, so swapping two features' values keeps the hash."""
    monkeypatch.setattr(rowhash, "_mix", lambda values: values)
    monkeypatch.setattr(rowhash, "_mix_in_place", lambda values, scratch: values)
    monkeypatch.setattr(rowhash, "_GOLDEN", np.uint64(0))
    rowhash._byte_table.cache_clear()
    yield
    rowhash._byte_table.cache_clear()


def _frame(*rows: str) -> pd.DataFrame:
    records = [row.split(",") for row in rows]
    frame = pd.DataFrame(records, columns=list(COLUMNS))
    return frame.astype({col: "int64" for col in COLUMNS[1:]})


def test_the_crafted_pair_collides_under_the_weak_constants_only(weak_constants, monkeypatch):
    h1, h2 = rowhash.row_hashes(_frame(A, B))
    assert (h1[0], h2[0]) == (h1[1], h2[1])  # 128 bits alike: the index cannot tell them apart
    monkeypatch.undo()
    rowhash._byte_table.cache_clear()
    h1, h2 = rowhash.row_hashes(_frame(A, B))
    assert (h1[0], h2[0]) != (h1[1], h2[1])


def test_a_row_crafted_to_collide_is_appended_as_a_rebuild_keeps_it(inputs, tmp_path,
                                                                   weak_constants):
    folder = inputs.input_folder
    (folder / "a.csv").write_bytes(csv_bytes([A, "bolt,1,2,3,0"]))
    assert run_ingestion(inputs).mode == "rebuild"
    # B hashes as A does; the exact repeat of A below is the one real duplicate.
    (folder / "b.csv").write_bytes(csv_bytes([B, A, "core,5,6,7,0"]))
    result = run_ingestion(inputs)
    assert result.mode == "append"
    assert result.files[0].duplicates_dropped == 1
    rows = (inputs.output_folder / "finaldata.csv").read_text().splitlines()[1:]
    assert rows == [A, "bolt,1,2,3,0", B, "core,5,6,7,0"]
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)


def test_when_every_row_hashes_alike_appends_still_write_what_a_rebuild_writes(
        inputs, tmp_path, monkeypatch):
    def one_hash(frame, columns=COLUMNS, chunk=65_536, pool=None):
        return np.zeros(len(frame), np.uint64), np.zeros(len(frame), np.uint64)

    monkeypatch.setattr(rowhash, "row_hashes", one_hash)  # every row collides with every row
    folder = inputs.input_folder
    (folder / "f0.csv").write_bytes(csv_bytes([f"c{i},{i},{i},1,0" for i in range(20)]))
    run_ingestion(inputs)
    for n in range(1, 6):
        rows = [f"c{i},{i},{i},1,0" for i in range(n * 7, n * 7 + 15)]  # overlapping
        rows += [f"c{n},{n},{n},2,0", f" c{n} ,{n}.0,{n},1,0"]  # a near miss, an exact repeat
        # Names written with quotes, or not ASCII: the offsets and the comparison must hold.
        rows += ['"Smith, Jr.",1,1,1,0', '"Smith, Jr.",1,1,1,1', f"Zoë{n % 2},2,2,2,0"]
        (folder / f"f{n}.csv").write_bytes(csv_bytes(rows))
        assert run_ingestion(inputs).mode == "append"
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)
    data = pd.read_csv(inputs.output_folder / "finaldata.csv")
    assert not data.duplicated().any()
    assert len(data) == 50 + 5 + 2 + 2  # c0..c49, the near misses, Smith twice, Zoë0 and Zoë1
