"""Full ingestion's fast paths give exactly what the general parser gives, file by file.

ingest_folder parses the plain files of one header in one pyarrow call (pipeline.ingest.batchread),
hashes rows with table lookups and writes large frames on two threads. Each of these
is checked here against the plain, slow definition it replaces.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.schema import COLUMNS, FEATURES
from pipeline.ingest import fastcsv, rowhash
from pipeline.ingest.merge import integral_columns
from pipeline.ingest.rebuild import ingest_folder
from pipeline.ingest.records import UnusableFile, parse_csv_text

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

HEADERS = [",".join(COLUMNS), "exited,corporation,number_of_employees,lastyear_activity,"
           "lastmonth_activity", ",".join(COLUMNS) + ",notes"]
plain_numbers = st.integers(0, 40).map(str)
# Whole numbers pyarrow parses as int64 (a file of them is still parsed with the others), then
# values it does not (the files around are then parsed as text).
INTEGERS = ["007", "-1", "2", "+5", "-0", "1234567890123456", "1234567890123456789",
            "0x1F", "0X01", " 0x10"]  # pyarrow reads hex; the rules see no number
odd_integers = st.sampled_from(INTEGERS)
odd_numbers = st.sampled_from([*INTEGERS, "1.0", " 7", "", "abc", "1e3", "99999999999999999999"])
names = st.sampled_from(["acme", "bolt", "corp", "dyne", "e", "longer name co", "été",
                         "\ufeffbom"])
odd_names = st.sampled_from(["", " padded ", "tab\tname"])


@st.composite
def a_row(draw, width: int, kind: str) -> list[str]:
    values = {col: draw(plain_numbers) for col in FEATURES}
    values["exited"] = draw(st.sampled_from(["0", "1"]))
    values["corporation"] = draw(names)
    if kind == "odd integer":
        values[draw(st.sampled_from(COLUMNS[1:]))] = draw(odd_integers)
    elif kind == "odd":
        col = draw(st.sampled_from(COLUMNS))
        values[col] = draw(odd_names if col == "corporation" else odd_numbers)
    return [values[c] for c in COLUMNS] + [draw(st.sampled_from(["", "x"]))] * (width - 5)


@st.composite
def a_file(draw) -> bytes:
    header = draw(st.sampled_from(HEADERS))
    order = header.split(",")
    width = len(order)
    lines = []
    count = draw(st.integers(1, 12))
    # Most files are plain, or plain but for one row: the cases where reading together pays.
    mode = draw(st.sampled_from(["plain", "plain", "one odd integer", "mixed"]))
    odd_row = draw(st.integers(0, count - 1))
    for number in range(count):
        kind = "plain" if mode == "plain" else \
            ("odd integer" if number == odd_row else "plain") if mode == "one odd integer" \
            else draw(st.sampled_from(["plain", "plain", "odd", "ragged"]))
        if kind == "ragged":
            lines.append("a,1,2")
            continue
        cells = dict(zip([*COLUMNS, "notes"], draw(a_row(width, kind)), strict=False))
        lines.append(",".join(cells[c] for c in order))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join([header, *lines]) + (newline if draw(st.booleans()) else "")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode()


def general_reference(folder: Path) -> tuple[pd.DataFrame, dict]:
    """Each file through the general parser alone, merged with pandas' drop_duplicates."""
    frames, per_file = [], {}
    for path in sorted(folder.glob("*.csv")):
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        try:
            frame, rejects, read, note = parse_csv_text(text, path.name)
        except UnusableFile as exc:
            per_file[path.name] = str(exc)
            continue
        frames.append(frame)
        per_file[path.name] = (read, len(frame), [(r["line"], r["reason"]) for r in rejects],
                               note)
    merged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    merged = merged.drop_duplicates(subset=list(COLUMNS), ignore_index=True)
    return merged, per_file


def comparable(frame: pd.DataFrame) -> str:
    """The frame as finaldata.csv holds it (whole-number columns as integers)."""
    out = io.BytesIO()
    fastcsv.write_frame(integral_columns(frame[list(COLUMNS)].copy()), out)
    return out.getvalue().decode()


@PROPERTY
@given(st.lists(a_file(), min_size=1, max_size=6))
def test_many_files_read_together_give_what_the_general_parser_gives(contents):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, data in enumerate(contents):
            (folder / f"part{i:02d}.csv").write_bytes(data)
        result = ingest_folder(folder)
        expected, per_file = general_reference(folder)
    assert comparable(result.data) == comparable(expected)
    for file in result.files:
        if file.reason:
            assert per_file[file.name] == file.reason
            continue
        rejects = [(r["line"], r["reason"]) for r in file.rejects]
        assert (file.rows_read, file.rows_accepted, rejects, file.note) == per_file[file.name]
    h1, h2, picks = result.hashes
    assert sorted(zip(h1[picks], h2[picks], strict=True)) == sorted(
        zip(*rowhash.row_hashes(result.data), strict=True))


@pytest.mark.parametrize("column", COLUMNS[1:])
@pytest.mark.parametrize("value", INTEGERS)
def test_a_whole_number_in_an_unusual_form_gets_the_general_verdict(tmp_path, column, value):
    header = ",".join(COLUMNS)
    (tmp_path / "a.csv").write_text(f"{header}\nacme,1,2,3,0\n")
    row = {"corporation": "bolt", "lastmonth_activity": "4", "lastyear_activity": "5",
           "number_of_employees": "6", "exited": "1", column: value}
    (tmp_path / "b.csv").write_text(f"{header}\ncorp,7,8,9,0\n{','.join(row.values())}\n")
    result = ingest_folder(tmp_path)
    expected, per_file = general_reference(tmp_path)
    assert comparable(result.data) == comparable(expected)
    b = result.files[1]
    assert [(r["line"], r["reason"]) for r in b.rejects] == per_file["b.csv"][2]


H = (",".join(COLUMNS) + "\n").encode()


@pytest.mark.parametrize("data", [
    H + b"\xef\xbb\xbfacme,1,2,3,0\nbolt,1,2,3,0\n",  # a name that begins with U+FEFF
    b"lastmonth_activity,corporation,lastyear_activity,number_of_employees,exited\n"
    b"\xef\xbb\xbf1,acme,2,3,0\n",  # a number that does
    b"\xc2\xa0\n" + H + b"acme,1,2,3,0\n\n",  # a first line of Unicode space: blank
    b"\xe3\x80\x80,\x0b\n" + H + b"acme,1,2,3,0\n",
    H + b"acme,0x1F,2,3,0\nbolt,1,2,3,0x1\n",  # hex: no number to the rules
], ids=["bom-name", "bom-number", "nbsp-line", "ideographic-space-line", "hex"])
def test_odd_bytes_get_the_general_verdict(tmp_path, data):
    (tmp_path / "a.csv").write_bytes(data)
    (tmp_path / "b.csv").write_bytes(H + b"corp,7,8,9,0\n")
    result = ingest_folder(tmp_path)
    expected, per_file = general_reference(tmp_path)
    assert comparable(result.data) == comparable(expected)
    a = result.files[0]
    assert a.reason == per_file["a.csv"] if a.reason else \
        [(r["line"], r["reason"]) for r in a.rejects] == per_file["a.csv"][2]


def test_plain_files_of_one_header_are_parsed_together_and_others_alone(tmp_path):
    header = ",".join(COLUMNS)
    (tmp_path / "a.csv").write_text(f"{header}\nacme,1,2,3,0\nbolt,4,5,6,1\n")
    (tmp_path / "b.csv").write_text(f"{header}\ncorp,7,8,9,0")  # no final newline
    (tmp_path / "c.csv").write_text(f"{header}\ndyne,1,-2,3,0\nacme,1,2,3,0\n")  # a bad value
    (tmp_path / "d.csv").write_text(f"{header}\r\neddy,1,2,3,1\r\n")
    result = ingest_folder(tmp_path)
    together = {f.name for f in result.files if f.block is not None}
    assert together == {"a.csv", "b.csv", "d.csv"}
    blocks = {id(f.block[0]) for f in result.files if f.block is not None}
    assert len(blocks) == 1  # one parse for the three
    bad = next(f for f in result.files if f.name == "c.csv")
    assert [r["line"] for r in bad.rejects] == [2] and bad.duplicates_dropped == 1
    assert list(result.data["corporation"]) == ["acme", "bolt", "corp", "eddy"]
    for frame in (result.data, result.files[0].frame, bad.frame):  # callers may change them
        frame.loc[0, "exited"] = 1
        frame.loc[0, "corporation"] = "renamed"
        assert frame.loc[0, "exited"] == 1 and frame.loc[0, "corporation"] == "renamed"


# Row hashes: the index on disk depends on them, so they must not change --------------------

def reference_text_hashes(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The definition: per salt, mix(sum of mix(byte + 256 * place + salt) ^ mix(len + salt))."""
    out = []
    for salt in rowhash._SALTS:
        hashes = []
        for text in values:
            raw = text.encode("utf-8", "surrogateescape")
            keys = np.array([b + 256 * i for i, b in enumerate(raw)], dtype=np.uint64)
            total = np.uint64(rowhash._mix(keys + salt).sum(dtype=np.uint64)) if len(raw) \
                else np.uint64(0)
            hashes.append(rowhash._mix(np.array([total ^ rowhash._mix(
                np.array([len(raw)], dtype=np.uint64) + salt)[0]], dtype=np.uint64))[0])
        out.append(np.array(hashes, dtype=np.uint64))
    return out[0], out[1]


def reference_row_hashes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    text = reference_text_hashes(list(frame["corporation"]))
    out = []
    for seed in range(2):
        hashes = np.full(len(frame), rowhash._SALTS[seed], dtype=np.uint64)
        for position, col in enumerate(COLUMNS):
            bits = text[seed] if col == "corporation" else \
                (frame[col].to_numpy(dtype=np.float64) + 0.0).view(np.uint64)
            value = bits + np.uint64(position + 1) * rowhash._GOLDEN
            hashes = rowhash._mix(hashes ^ rowhash._mix(value))
        out.append(hashes)
    return out[0], out[1]


@pytest.mark.parametrize("names", [
    ["abcd", "efgh", "abcd"],                    # one width: looked up place by place
    ["a", "", "bb", "été", "x" * 64, "y" * 65],  # widths differ, some past the table
    ["z" * 90, "w" * 90],                        # one width past the table
    [],
])
@pytest.mark.parametrize("storage", ["object", "arrow"])
def test_row_hashes_are_the_documented_function(names, storage):
    rng = np.random.default_rng(len(names))
    frame = pd.DataFrame({"corporation": pd.Series(names, dtype=object)})
    for col in FEATURES:
        frame[col] = rng.integers(0, 10, len(names)).astype(float)
    frame.loc[frame.index[:1], "lastmonth_activity"] = -0.0
    frame["exited"] = rng.integers(0, 2, len(names))
    if storage == "arrow":
        frame["corporation"] = pa.array(names, pa.large_string()).to_pandas()
    with np.errstate(over="ignore"):
        expected = reference_row_hashes(frame)
    for chunk in (2, 65_536):
        got = rowhash.row_hashes(frame, chunk=chunk)
        assert (got[0] == expected[0]).all() and (got[1] == expected[1]).all()


def test_duplicates_found_by_sorting_match_pandas():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"corporation": rng.choice(["a", "b", "c"], 3000),
                          **{col: rng.integers(0, 3, 3000) for col in FEATURES},
                          "exited": rng.integers(0, 2, 3000)})
    found = rowhash.find_duplicates(frame)
    assert (found.duplicated == frame.duplicated().to_numpy()).all()
    kept = found.kept_in_order()
    assert sorted(kept) == list(np.flatnonzero(~found.duplicated))
    assert (np.diff(found.h1[kept].astype(np.float64)) >= 0).all()


def test_large_frames_are_written_in_two_halves_with_the_same_bytes(monkeypatch):
    frame = pd.DataFrame({"corporation": [f"c{i}" for i in range(101)],
                          "n": range(101), "m": range(101, 202)})
    monkeypatch.setattr(fastcsv, "_PARALLEL_ROWS", 10)
    for header in (True, False):
        out = io.BytesIO()
        fastcsv.write_frame(frame, out, header=header)
        assert out.getvalue().decode() == frame.to_csv(index=False, header=header,
                                                       lineterminator="\n")
