"""Ingestion: which files are read, which rows are kept, and what is recorded about the rest."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ingestion import main, run_ingestion
from pipeline.core.config import Settings, load_settings
from pipeline.core.schema import COLUMNS, FEATURES
from pipeline.ingest import append, fastcsv
from tests.helpers import (
    FOREIGN,
    GOOD,
    HEADER,
    Outputs,
    assert_counts_add_up,
    csv_bytes,
    read_outputs,
    record,
    write_ingestion_config,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a small project in tmp_path with an empty input folder (no shipped data)."""
    (tmp_path / "in").mkdir()
    return load_settings(write_ingestion_config(tmp_path))


def ingest(settings: Settings) -> Outputs:
    """Run ingestion and read what it wrote."""
    run_ingestion(settings)
    return read_outputs(settings)


def assert_file_rejected(out: Outputs, name: str, reason: str) -> None:
    """A whole file set aside: one rejected.csv row without a line, and a history row."""
    (row,) = out.rejected_of(name)
    assert row["line"] == ""
    assert row["reason"].startswith("file: ")
    assert re.search(reason, row["reason"]), row["reason"]
    history = out.history_of(name)
    assert history["status"] == "rejected"
    assert re.search(reason, history["reason"] or ""), history["reason"]
    assert name not in [line["name"] for line in out.ingested]


# 1. Row rules ----------------------------------------------------------------------------------

def _feature_row(column: str, value: str) -> str:
    values = {"lastmonth_activity": "7", "lastyear_activity": "70", "number_of_employees": "7"}
    values[column] = value
    return ",".join(["zzbad", *values.values(), "0"])


ROW_RULES = [
    pytest.param(",7,70,7,0", r"corporation is empty", id="corporation-empty"),
    pytest.param("   ,7,70,7,0", r"corporation is empty", id="corporation-whitespace"),
    *(pytest.param(_feature_row(col, "abc"), rf"{col} is not a number", id=f"{col}-text")
      for col in FEATURES),
    *(pytest.param(_feature_row(col, ""), rf"{col} is (missing|empty)", id=f"{col}-empty")
      for col in FEATURES),
    *(pytest.param(_feature_row(col, "NaN"), rf"{col} is not (a number|finite)", id=f"{col}-nan")
      for col in FEATURES),
    *(pytest.param(_feature_row(col, "inf"), rf"{col} is not finite", id=f"{col}-inf")
      for col in FEATURES),
    *(pytest.param(_feature_row(col, "-inf"), rf"{col} is not finite", id=f"{col}-minus-inf")
      for col in FEATURES),
    *(pytest.param(_feature_row(col, "-1"), rf"{col} is negative", id=f"{col}-negative")
      for col in FEATURES),
    pytest.param("zzbad,7,70,7,2", r"exited must be 0 or 1", id="exited-2"),
    pytest.param("zzbad,7,70,7,-1", r"exited must be 0 or 1", id="exited-minus-1"),
    pytest.param("zzbad,7,70,7,0.5", r"exited must be 0 or 1", id="exited-half"),
    pytest.param("zzbad,7,70,7,yes", r"exited (is not a number|must be 0 or 1)", id="exited-yes"),
    pytest.param("zzbad,7,70,7", r"expected 5 fields, found 4", id="too-few-fields"),
    pytest.param("zzbad,7,70,7,0,9", r"expected 5 fields, found 6", id="too-many-fields"),
    pytest.param(b"caf\xe9,7,70,7,0", r"not valid UTF-8", id="latin1-corporation"),
    pytest.param(b"zzb\xff\xfe,7,70,7,0", r"not valid UTF-8", id="invalid-utf8-bytes"),
]


@pytest.mark.parametrize("bad, reason", ROW_RULES)
def test_a_bad_row_is_rejected_with_its_line_and_reason(settings, bad, reason):
    rows = [GOOD[0], GOOD[1], bad, GOOD[2]]  # the bad row is on line 4
    (settings.input_folder / "data.csv").write_bytes(csv_bytes(rows))
    out = ingest(settings)

    assert out.final_header == list(COLUMNS)
    assert sorted(out.final) == sorted(record(r) for r in GOOD)
    (rejected,) = out.rejected
    assert (rejected["source_file"], rejected["line"]) == ("data.csv", "4")
    assert re.search(reason, rejected["reason"]), rejected["reason"]
    if isinstance(bad, str):
        assert rejected["raw"] == bad
    else:  # undecodable bytes are shown escaped; the rest of the row as it was
        assert rejected["raw"].startswith(bad[:3].decode())
        assert rejected["raw"].endswith(",7,70,7,0")
    (line,) = out.ingested
    assert (line["rows_read"], line["rows_accepted"], line["rows_rejected"]) == ("4", "3", "1")
    history = out.history_of("data.csv")
    assert (history["status"], history["rows_read"], history["rows_accepted"],
            history["rows_rejected"]) == ("ingested", 4, 3, 1)


def test_a_row_with_several_problems_lists_them_all(settings):
    (settings.input_folder / "data.csv").write_bytes(csv_bytes([GOOD[0], " ,-1,x,7,3"]))
    (rejected,) = ingest(settings).rejected
    for problem in ("corporation is empty", "lastmonth_activity is negative",
                    "lastyear_activity is not a number", "exited must be 0 or 1"):
        assert problem in rejected["reason"]


# 2. File rules ---------------------------------------------------------------------------------

def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("foreign.csv", data)
    return buffer.getvalue()


def _write(data: bytes):
    def make(folder: Path, outside: Path) -> None:
        (folder / "bad.csv").write_bytes(data)
    return make


def _directory(folder: Path, outside: Path) -> None:
    (folder / "bad.csv").mkdir()
    (folder / "bad.csv" / "inner.csv").write_bytes(csv_bytes(FOREIGN))


def _symlink(folder: Path, outside: Path) -> None:
    target = outside / "elsewhere.csv"
    target.write_bytes(csv_bytes(FOREIGN))
    (folder / "bad.csv").symlink_to(target)


FOREIGN_CSV = csv_bytes(FOREIGN)
FILE_RULES = [
    pytest.param(_write(b""), r"empty", id="empty"),
    pytest.param(_write(b"  \n\t\r\n   "), r"empty", id="whitespace-only"),
    pytest.param(_write(csv_bytes([])), r"header only", id="header-only"),
    pytest.param(_write(csv_bytes(["", "   "])), r"header only", id="header-and-blank-lines"),
    pytest.param(_write(b"\x00\x01junk\x00" + bytes(range(256))), r"binary", id="binary-nul"),
    pytest.param(_write(gzip.compress(FOREIGN_CSV, mtime=0)), r"gzip", id="gzip"),
    pytest.param(_write(_zip(FOREIGN_CSV)), r"zip", id="zip"),
    pytest.param(_write(FOREIGN_CSV.replace(b",", b";")), r"delimiter ';'", id="semicolon"),
    pytest.param(_write(FOREIGN_CSV.replace(b",", b"\t")), r"delimiter '\\t'", id="tab"),
    pytest.param(_write(FOREIGN_CSV.replace(b",", b"|")), r"delimiter '\|'", id="pipe"),
    pytest.param(_write(csv_bytes(["outsider,1,2,0"], header=HEADER.replace(
        ",number_of_employees", ""))), r"missing column.*number_of_employees", id="missing-column"),
    pytest.param(_write(csv_bytes(["outsider,1,2,3,0,0"], header=HEADER + ",exited")),
                 r"repeated column.*exited", id="repeated-column"),
    pytest.param(_directory, r"not a regular file", id="directory-named-csv"),
    pytest.param(_symlink, r"link", id="symlink-named-csv"),
]


@pytest.mark.parametrize("make_bad, reason", FILE_RULES)
def test_an_unusable_file_is_set_aside_and_the_others_ingested(settings, tmp_path, make_bad,
                                                               reason):
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    outside = tmp_path / "outside"
    outside.mkdir()
    make_bad(settings.input_folder, outside)
    out = ingest(settings)

    assert sorted(out.final) == sorted(record(r) for r in GOOD)  # and no foreign row
    assert [line["name"] for line in out.ingested] == ["good.csv"]
    assert out.history_of("good.csv")["rows_accepted"] == len(GOOD)
    assert_file_rejected(out, "bad.csv", reason)
    assert len(out.rejected) == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded_and_kept(settings, encoding):
    bom = {"utf-16": "", "utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}[encoding]
    text = bom + "\n".join([HEADER, *FOREIGN]) + "\n"
    (settings.input_folder / "wide.csv").write_bytes(text.encode(encoding))
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    out = ingest(settings)
    assert sorted(out.final) == sorted(record(r) for r in GOOD + FOREIGN)
    assert out.rejected == []
    assert out.history_of("wide.csv")["status"] == "ingested"


@pytest.mark.parametrize("name", [b"caf\xe9.csv", b"two\nlines.csv", b"tab\there.csv"],
                         ids=["latin1-name", "newline-in-name", "tab-in-name"])
def test_a_file_name_that_cannot_be_recorded_does_not_break_the_run(settings, name):
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    with open(os.path.join(os.fsencode(settings.input_folder), name), "wb") as handle:
        handle.write(csv_bytes(FOREIGN))
    out = ingest(settings)
    assert sorted(out.final) == sorted(record(r) for r in GOOD)
    assert [line["name"] for line in out.ingested] == ["good.csv"]
    (rejected,) = out.rejected
    assert re.search(r"^file: .*name", rejected["reason"])
    assert rejected["source_file"].isprintable()
    assert sorted(r["status"] for r in out.history) == ["ingested", "rejected"]


# 3. Accepted variants --------------------------------------------------------------------------

REORDERED = "exited,number_of_employees,corporation,lastyear_activity,lastmonth_activity"
VARIANTS = [
    pytest.param(csv_bytes(GOOD, bom=True), id="utf8-bom"),
    pytest.param(csv_bytes(GOOD, newline=b"\r\n"), id="crlf"),
    pytest.param(csv_bytes(GOOD, newline=b"\r\n", bom=True), id="bom-and-crlf"),
    pytest.param(csv_bytes(["0,50,acme,120,10", "1,12,bolt,40,3", "0,1,core,0,0"],
                           header=REORDERED), id="columns-reordered"),
    pytest.param(csv_bytes([" acme , 10,120 ,  50,0 ", "\tbolt,3 ,40,12, 1", "core,0,0,1,0"],
                           header=" corporation , lastmonth_activity,lastyear_activity,"
                                  "number_of_employees , exited"), id="surrounding-whitespace"),
    pytest.param(csv_bytes(["", GOOD[0], "   ", "", GOOD[1], GOOD[2], ""]), id="blank-lines"),
    pytest.param(csv_bytes(['"acme","10",120,"50",0', 'bolt,"3","40",12,"1"', GOOD[2]],
                           header='"corporation",lastmonth_activity,"lastyear_activity",'
                                  'number_of_employees,"exited"'), id="quoted-fields"),
    pytest.param(csv_bytes(["acme,10.0,120,5e1,0", "bolt,3,40.00,12,1.0", GOOD[2]]),
                 id="integers-written-as-floats"),
]


@pytest.mark.parametrize("data", VARIANTS)
def test_accepted_variants_give_the_same_records(settings, data):
    (settings.input_folder / "data.csv").write_bytes(data)
    out = ingest(settings)
    assert out.final_header == list(COLUMNS)
    assert out.final == [record(r) for r in GOOD]
    assert out.rejected == []
    (line,) = out.ingested
    assert (line["rows_read"], line["rows_accepted"], line["rows_rejected"]) == ("3", "3", "0")


def test_quoted_field_may_hold_the_delimiter_and_a_quote(settings):
    rows = ['"acme, inc.",10,120,50,0', '"the ""best"" co",1,2,3,1']
    (settings.input_folder / "data.csv").write_bytes(csv_bytes(rows))
    out = ingest(settings)
    assert [r[0] for r in out.final] == ["acme, inc.", 'the "best" co']


def test_extra_columns_are_dropped_and_noted(settings):
    header = "region,corporation,lastmonth_activity,lastyear_activity,number_of_employees," \
             "exited,comment"
    rows = ["north,acme,10,120,50,0,fine", "south,bolt,3,40,12,1,", "east,core,0,0,1,0,x"]
    (settings.input_folder / "data.csv").write_bytes(csv_bytes(rows, header=header))
    out = ingest(settings)
    assert out.final_header == list(COLUMNS)
    assert out.final == [record(r) for r in GOOD]
    assert not any("north" in cell or "fine" in cell for row in out.final_text for cell in row)
    history = out.history_of("data.csv")
    assert history["status"] == "ingested"
    assert re.search(r"extra column.*region", history["reason"])
    assert "comment" in history["reason"]


def test_floats_are_kept_as_floats_and_whole_numbers_written_as_integers(settings):
    rows = ["acme,10.5,120.0,50,0", "bolt,3,40,12.0,1", "core,0.25,0,1,0"]
    (settings.input_folder / "data.csv").write_bytes(csv_bytes(rows))
    text = {r[0]: r for r in ingest(settings).final_text}
    assert float(text["acme"][1]) == 10.5
    assert float(text["core"][1]) == 0.25
    # Whole-valued columns come out as integers, however the source wrote them.
    assert [text[c][2] for c in ("acme", "bolt", "core")] == ["120", "40", "0"]
    assert [text[c][3] for c in ("acme", "bolt", "core")] == ["50", "12", "1"]
    assert [text[c][4] for c in ("acme", "bolt", "core")] == ["0", "1", "0"]
    frame = pd.read_csv(settings.output_folder / "finaldata.csv")
    assert frame["lastyear_activity"].dtype.kind == "i"
    assert frame["lastmonth_activity"].dtype.kind == "f"


# 4. De-duplication -----------------------------------------------------------------------------

def test_exact_duplicates_are_dropped_once_and_counted_per_file(settings):
    (settings.input_folder / "a.csv").write_bytes(csv_bytes([GOOD[0], GOOD[1], GOOD[0]]))
    (settings.input_folder / "b.csv").write_bytes(
        csv_bytes([GOOD[1], GOOD[2], " bolt , 3.0,40,12,1", GOOD[0]]))
    out = ingest(settings)
    assert out.final == [record(r) for r in GOOD]  # first occurrences, in file order
    dropped = {line["name"]: line["duplicates_dropped"] for line in out.ingested}
    assert dropped == {"a.csv": "1", "b.csv": "3"}
    assert [(r["name"], r["duplicates_dropped"]) for r in out.history] == \
        [("a.csv", 1), ("b.csv", 3)]
    assert {line["name"]: line["rows_accepted"] for line in out.ingested} == \
        {"a.csv": "3", "b.csv": "4"}  # accepted counts rows before duplicates are dropped
    assert_counts_add_up(out)


@pytest.mark.parametrize("other", [
    "Acme,10,120,50,0", "acme,11,120,50,0", "acme,10,120.5,50,0", "acme,10,120,49,0",
    "acme,10,120,50,1",
], ids=list(COLUMNS))
def test_rows_that_differ_in_any_column_are_all_kept(settings, other):
    assert GOOD[0] == "acme,10,120,50,0"
    (settings.input_folder / "a.csv").write_bytes(csv_bytes([GOOD[0]]))
    (settings.input_folder / "b.csv").write_bytes(csv_bytes([other]))
    out = ingest(settings)
    assert out.final == [record(GOOD[0]), record(other)]
    assert all(line["duplicates_dropped"] == "0" for line in out.ingested)


# 5. Which files, in which order ----------------------------------------------------------------

def test_only_csv_files_are_read_in_sorted_order(settings):
    folder = settings.input_folder
    for name, rows in [("c.csv", [GOOD[2], GOOD[0]]), ("a.csv", [GOOD[0]]),
                       ("b.csv", [GOOD[1], GOOD[0]])]:  # created out of order
        (folder / name).write_bytes(csv_bytes(rows))
    os.utime(folder / "a.csv", (1, 1))  # and the oldest mtime on the first name
    for name in ("Icon\r", "notes.txt", "data.CSV.bak", "data.csv~", "README"):
        (folder / name).write_bytes(csv_bytes(FOREIGN))
    out = ingest(settings)

    assert [line["name"] for line in out.ingested] == ["a.csv", "b.csv", "c.csv"]
    # The others are not read, but listed with the files read, each with why (and warned of).
    read = [r["name"] for r in out.history if r["status"] != "skipped"]
    assert read == ["a.csv", "b.csv", "c.csv"]
    skipped = {r["name"]: r["reason"] for r in out.history if r["status"] == "skipped"}
    assert skipped == dict.fromkeys(("Icon\\r", "notes.txt", "data.CSV.bak", "data.csv~",
                                     "README"), "not a .csv file: not read")
    assert out.final == [record(r) for r in (GOOD[0], GOOD[1], GOOD[2])]
    dropped = {line["name"]: line["duplicates_dropped"] for line in out.ingested}
    assert dropped == {"a.csv": "0", "b.csv": "1", "c.csv": "1"}
    assert out.rejected == []


def test_ingestedfiles_records_time_counts_and_checksum(settings):
    data = csv_bytes([GOOD[0], "x,-1,1,1,0", GOOD[1]])
    (settings.input_folder / "data.csv").write_bytes(data)
    (line,) = ingest(settings).ingested
    assert line["name"] == "data.csv"
    assert line["sha256"] == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", line["ingested_at"])
    assert (line["rows_read"], line["rows_accepted"], line["rows_rejected"],
            line["duplicates_dropped"]) == ("3", "2", "1", "0")


# 6. A hostile folder ---------------------------------------------------------------------------

def test_hostile_folder_keeps_every_good_row_and_explains_every_rejection(settings):
    folder = settings.input_folder
    # (file, rows, expected good records); a row is bad when its expected record is None.
    files = {
        "01_mixed.csv": ([
            (GOOD[0], record(GOOD[0])), (b"caf\xe9,1,2,3,0", None), ("zz1,-4,2,3,0", None),
            ("dora,1,2,3,1", record("dora,1,2,3,1")), ("zz2,1,nan,3,0", None),
            ("zz3,1,2,3", None), ("", None), ('"elm, ltd",5,6,7,0', record('"elm, ltd",5,6,7,0')),
        ], {}),
        "02_bom_crlf.csv": ([
            ("fig,1,2,3,0", record("fig,1,2,3,0")), (b"zz4,1\xb2,2,3,0", None),
            ("zz5,1,2,3,yes", None), ("gum,2,3,4,1", record("gum,2,3,4,1")),
        ], {"newline": b"\r\n", "bom": True}),
        "03_latin1.csv": ([
            ("hat,1,1,1,0".encode("latin-1"), record("hat,1,1,1,0")),
            ("Société Générale,1,1,1,0".encode("latin-1"), None),
            ("Müller AG,2,2,2,1".encode("latin-1"), None),
            ("Müller AG,2,2,2,1".encode(), record("Müller AG,2,2,2,1")),
        ], {}),
        "04_reordered_extra.csv": ([
            ("x1,1,ivy,2,3,0", record("ivy,0,3,2,1")), ("x2,1,,2,3,0", None),
            ("x3,1,jade,2,3,0,extra", None), ("x4,inf,kiwi,2,3,1", None),
        ], {"header": "note,exited,corporation,number_of_employees,lastyear_activity,"
                      "lastmonth_activity"}),
    }
    expected, bad_rows = [], {}
    for name, (rows, options) in files.items():
        (folder / name).write_bytes(csv_bytes([text for text, _ in rows], **options))
        expected += [rec for _, rec in rows if rec]
        # A blank line is not a record; every other bad row is rejected on its own line.
        bad_rows[name] = sorted(i + 2 for i, (text, rec) in enumerate(rows) if not rec and text)
    (folder / "05_semicolon.csv").write_bytes(csv_bytes(FOREIGN).replace(b",", b";"))
    (folder / "06_gzip.csv").write_bytes(gzip.compress(csv_bytes(FOREIGN), mtime=0))
    (folder / "07_empty.csv").write_bytes(b"")
    (folder / "Icon\r").write_bytes(b"")
    (folder / "notes.txt").write_bytes(csv_bytes(FOREIGN))
    out = ingest(settings)

    assert sorted(out.final) == sorted(expected)
    for name, lines in bad_rows.items():
        rejected = out.rejected_of(name)
        assert sorted(int(r["line"]) for r in rejected) == lines, name
        assert all(r["reason"] and r["raw"] for r in rejected), rejected
        history = out.history_of(name)
        assert history["rows_rejected"] == len(lines)
        assert history["rows_accepted"] == sum(1 for _, rec in files[name][0] if rec)
    for name, reason in [("05_semicolon.csv", "delimiter"), ("06_gzip.csv", "gzip"),
                         ("07_empty.csv", "empty")]:
        assert_file_rejected(out, name, reason)
    assert {r["source_file"] for r in out.rejected} == set(bad_rows) | {
        "05_semicolon.csv", "06_gzip.csv", "07_empty.csv"}
    assert [line["name"] for line in out.ingested] == list(files)
    assert_counts_add_up(out)
    assert "extra" not in json.dumps(out.final_text)


# 7. The entry point ----------------------------------------------------------------------------

def _only_bad_files(folder: Path) -> None:
    (folder / "bad.csv").write_bytes(csv_bytes(["x,-1,2,3,0", ",1,2,3,0"]))
    (folder / "empty.csv").write_bytes(b"")


def _nothing(folder: Path) -> None:
    pass


def _no_folder(folder: Path) -> None:
    folder.rmdir()


@pytest.mark.parametrize("prepare, message", [
    pytest.param(_only_bad_files, r"no usable data", id="only-bad-data"),
    pytest.param(_nothing, r"no usable data", id="empty-folder"),
    pytest.param(_no_folder, r"input folder.*not found", id="missing-folder"),
])
def test_main_fails_with_one_line_when_no_usable_data(settings, capsys, prepare, message):
    prepare(settings.input_folder)
    assert main(["--config", str(settings.config_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert re.search(message, err), err


def test_main_fails_with_one_line_on_a_missing_config(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.json")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "nope.json" in err


def test_main_succeeds_when_some_data_is_usable(settings, capsys):
    _only_bad_files(settings.input_folder)
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    assert main(["--config", str(settings.config_path)]) == 0
    assert capsys.readouterr().out.strip()
    out = read_outputs(settings)
    assert sorted(out.final) == sorted(record(r) for r in GOOD)
    assert out.run["status"] == "ok"


# 8. Whole-or-nothing outputs -------------------------------------------------------------------

def test_outputs_leave_no_temporary_files(settings):
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    (settings.input_folder / "bad.csv").write_bytes(csv_bytes(["x,-1,2,3,0"]))
    for _ in range(2):  # the second run replaces existing outputs
        run_ingestion(settings)
    names = sorted(os.listdir(settings.output_folder))
    assert names == ["finaldata.csv", "finaldata.rowindex", "finaldata.state.json",
                     "ingestedfiles.txt", "rejected.csv"]


@pytest.mark.parametrize("more, writer", [
    (FOREIGN, (append, "write_lines")),  # plain rows: appended without pandas
    ([*FOREIGN, "x,-1,2,3,0"], (fastcsv, "write_frame")),  # a bad row: the general append
])
def test_a_failed_write_keeps_the_previous_outputs(settings, monkeypatch, more, writer):
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    run_ingestion(settings)
    before = {p.name: p.read_bytes() for p in settings.output_folder.iterdir()}
    (settings.input_folder / "more.csv").write_bytes(csv_bytes(more))

    def fail_halfway(frame, handle, **kwargs):
        handle.write(b"corporation,lastmonth")
        raise OSError("disk full")

    monkeypatch.setattr(*writer, fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        run_ingestion(settings)
    after = {p.name: p.read_bytes() for p in settings.output_folder.iterdir()}
    assert after["finaldata.csv"] == before["finaldata.csv"]
    assert after["ingestedfiles.txt"] == before["ingestedfiles.txt"]
    assert not [name for name in after if name.startswith(".")]
    assert read_outputs(settings).run["status"] == "failed"


@pytest.mark.parametrize("blank", [",,,,", " , , , , ", "   ", "\t"])
def test_a_line_of_only_commas_or_spaces_is_blank_not_a_bad_record(tmp_path, blank):
    folder = tmp_path / "in"
    folder.mkdir()
    body = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
    body += "abcd,1,2,3,0\n" + blank + "\nefgh,4,5,6,1\n" + blank + "\n"
    (folder / "excel.csv").write_text(body)
    from pipeline.ingest.rebuild import ingest_folder

    result = ingest_folder(folder)
    assert result.rejects == []
    assert list(result.data["corporation"]) == ["abcd", "efgh"]
    assert result.files[0].rows_read == 2
