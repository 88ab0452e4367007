"""Hostile input: a counted table of bad files and rows, each thrown at ingestion beside good data.

For every kind the same four promises are checked (docs/RELIABILITY.md counts the kinds):
1. ingestion does not crash;
2. every good row reaches finaldata.csv (and no row that is not good does);
3. every bad row is in rejected.csv with its file, line and a reason, every unusable file with
   its reason, and accepted + rejected = read for every file;
4. nothing is opened or listed outside the input folder (an audit hook watches every open).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import os
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingestion import run_ingestion
from pipeline.core.config import load_settings
from pipeline.ingest import rebuild
from tests.helpers import (
    FOREIGN,
    GOOD,
    HEADER,
    assert_counts_add_up,
    csv_bytes,
    read_outputs,
    record,
    watch_opens,
    write_ingestion_config,
)


@dataclass
class Expect:
    """What must come of the files a kind wrote (beside the control file good.csv)."""

    good: list[tuple] = field(default_factory=list)          # records that must be kept
    bad_rows: dict[str, list[int]] = field(default_factory=dict)  # file -> rejected lines
    refused: dict[str, str] = field(default_factory=dict)    # file -> reason (regex)
    reasons: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, line) -> regex

    def add(self, other: Expect) -> Expect:
        """Both expectations at once."""
        self.good += other.good
        self.bad_rows.update(other.bad_rows)
        self.refused.update(other.refused)
        self.reasons.update(other.reasons)
        return self


Row = tuple[str | bytes, str | None]  # (text of the line, reason regex if the row is bad)


def rows_file(folder: Path, name: str, rows: list[Row], *, header: str = HEADER,
              newline: bytes = b"\n", bom: bool = False, last_newline: bool = True,
              encode: Callable[[bytes], bytes] | None = None) -> Expect:
    """Write a file of rows (line 1 the header); good rows are expected kept, bad ones rejected."""
    data = csv_bytes([text for text, _ in rows], header=header, newline=newline, bom=bom)
    if not last_newline:
        data = data[: -len(newline)]
    (folder / name).write_bytes(encode(data) if encode else data)
    expect = Expect(bad_rows={name: []})
    for number, (text, reason) in enumerate(rows, start=2):
        if reason is None:
            expect.good.append(_record(text if isinstance(text, str) else text.decode()))
        else:
            expect.bad_rows[name].append(number)
            expect.reasons[(name, number)] = reason
    return expect


def _record(text: str) -> tuple:
    """record() of a row, also for rows longer than the csv module's field limit."""
    if len(text) < 100_000:
        return record(text)
    corporation, *features, exited = text.split(",")
    return (corporation, *(float(v) for v in features), int(exited))


def good_and(bad: list[Row]) -> list[Row]:
    """The three good rows with the bad ones spread between them."""
    rows: list[Row] = [(GOOD[0].replace("acme", "alfa"), None)]
    for text in bad:
        rows += [text, (f"g{len(rows)},1,2,3,{len(rows) % 2}", None)]
    return rows


def _feature(value: str, column: int = 1) -> str:
    cells = ["zzbad", "7", "70", "7", "0"]
    cells[column] = value
    return ",".join(cells)


def _refuse(name: str, reason: str, data: bytes | None = None):
    def make(folder: Path, outside: Path) -> Expect:
        if data is not None:
            (folder / name).write_bytes(data)
        return Expect(refused={name: reason})
    return make


# Kinds -------------------------------------------------------------------------------------------

def utf8_bom_crlf(folder, outside):
    return rows_file(folder, "bom.csv", [("ant,1,2,3,0", None), ("bee,4,5,6,1", None)],
                     newline=b"\r\n", bom=True)


def utf16_with_bom(folder, outside):
    return rows_file(folder, "wide.csv", [("Zürich AG,1,2,3,0", None), ("東京,4,5,6,1", None)],
                     encode=lambda data: data.decode().encode("utf-16"))


def latin1_and_invalid_utf8_rows(folder, outside):
    return rows_file(folder, "latin1.csv", good_and([
        ("Société,1,2,3,0".encode("latin-1"), "not valid UTF-8"),
        (b"bad\xc3\x28,1,2,3,0", "not valid UTF-8"),
        (b"\xed\xa0\x80x,1,2,3,0", "not valid UTF-8"),  # an encoded surrogate
    ]))


def utf16_without_bom(folder, outside):
    data = csv_bytes(FOREIGN).decode().encode("utf-16-le")
    return _refuse("nobom16.csv", "binary", data)(folder, outside)


def other_delimiters(folder, outside):
    expect = Expect()
    for name, delim in (("semi.csv", b";"), ("tabs.csv", b"\t"), ("pipes.csv", b"|")):
        (folder / name).write_bytes(csv_bytes(FOREIGN).replace(b",", delim))
        expect.refused[name] = "wrong delimiter"
    return expect


def a_row_with_another_delimiter(folder, outside):
    return rows_file(folder, "mixed.csv", good_and([
        ("zz;1;2;3;0", "expected 5 fields, found 1"),
        ("zz\t1\t2\t3\t0", "expected 5 fields, found 1"),
    ]))


def quoting_that_is_valid(folder, outside):
    return rows_file(folder, "quotes.csv", [
        ('"Smith, ""Jr."" & Co",1,2,3,0', None), ('"a ""quoted"" name","4","5","6","1"', None),
        ('mid"quote,1,2,3,0', None), ('"",1,2,3,0', "corporation is empty"),
    ])


def unterminated_quote(folder, outside):
    return rows_file(folder, "openquote.csv", good_and([
        ('"never closed,1,2,3,0', "quote opened on this line is not closed"),
        ('zz,"1,2,3,0', "quote opened on this line is not closed"),
        ('"cut"x,1,2,3,0', None),  # a quote closed mid-field: read as written, a good row
    ]))


def truncated_last_line(folder, outside):
    expect = rows_file(folder, "cut.csv", [("ant,1,2,3,0", None), ("cut,1,2", "expected 5")],
                       last_newline=False)
    return expect.add(rows_file(folder, "cutquote.csv",
                                [("bee,1,2,3,1", None), ('"cut in a quo', "expected 5|quote")],
                                last_newline=False))


def complete_last_line_without_newline(folder, outside):
    return rows_file(folder, "nonl.csv", [("ant,1,2,3,0", None), ("bee,4,5,6,1", None)],
                     last_newline=False)


def huge_numbers(folder, outside):
    return rows_file(folder, "huge.csv", good_and([
        (_feature("1e308"), None), (_feature("123456789012345678901234567890"), None),
        (_feature("1e309"), "not finite"), (_feature("9" * 400), "not finite"),
        (_feature("1" + "0" * 5000, 3), "not (a number|finite)"),
    ]))


def tiny_numbers(folder, outside):
    return rows_file(folder, "tiny.csv", good_and([
        (_feature("5e-324"), None), (_feature("1e-320"), None), (_feature("0.0000001"), None),
        (_feature("-0"), None), (_feature("-1e-300"), "negative"),
    ]))


def nan_spellings(folder, outside):
    return rows_file(folder, "nan.csv", good_and([
        (_feature(text, column), "not (a number|finite)")
        for column, text in ((1, "NaN"), (2, "nan"), (3, "NAN"), (1, "-nan"), (2, "NA"),
                             (3, "null"), (1, "None"), (2, "#N/A"))
    ]))


def infinity_spellings(folder, outside):
    return rows_file(folder, "inf.csv", good_and([
        (_feature(text, column), "not finite")
        for column, text in ((1, "inf"), (2, "Infinity"), (3, "-inf"), (1, "+inf"),
                             (2, "INF"), (3, "-Infinity"))
    ]))


def wrong_types(folder, outside):
    return rows_file(folder, "types.csv", good_and([
        (_feature("abc"), "not a number"), (_feature("12abc", 2), "not a number"),
        (_feature('"1,000"', 3), "not a number"), (_feature("0x1A"), "not a number"),
        (_feature("true", 2), "not a number"), (_feature("[1]", 3), "not a number"),
        (_feature("１２"), "not a number"), (_feature("yes", 4), "exited"),
        (_feature("0.5", 4), "exited must be 0 or 1"), (_feature("2", 4), "exited must be 0"),
        (_feature("-3", 2), "negative"),
    ]))


def empty_cells(folder, outside):
    return rows_file(folder, "holes.csv", good_and([
        (",1,2,3,0", "corporation is empty"), ("  ,1,2,3,0", "corporation is empty"),
        (_feature(""), "missing"), (_feature("   ", 2), "missing"), (_feature("", 4), "missing"),
    ]))


def wrong_field_counts(folder, outside):
    return rows_file(folder, "counts.csv", good_and([
        ("zz,1,2,3", "expected 5 fields, found 4"), ("zz,1,2,3,0,9", "found 6"),
        ("zz", "found 1"), ("zz,1,2,3,0,,,,,,,,,,,,,,,,", "found 21"),
    ]))


def a_repeated_header_in_the_middle(folder, outside):
    return rows_file(folder, "concat.csv", good_and([(HEADER, "not a number")]))


def cr_only_line_endings(folder, outside):
    return rows_file(folder, "oldmac.csv", [("ant,1,2,3,0", None), ("bee,4,5,6,1", None)],
                     newline=b"\r")


def reordered_uppercase_and_extra_columns(folder, outside):
    header = "Note,EXITED,Corporation,Number_Of_Employees,LastYear_Activity,LastMonth_Activity"
    (folder / "order.csv").write_bytes(csv_bytes(["x,1,ivy,3,2,1", "y,0,jet,6,5,4"],
                                                 header=header))
    return Expect(good=[record("ivy,1,2,3,1"), record("jet,4,5,6,0")])


def empty_and_header_only_files(folder, outside):
    expect = Expect()
    for name, data, reason in (("zero.csv", b"", "empty"), ("spaces.csv", b" \n\t\r\n ", "empty"),
                               ("header.csv", csv_bytes([]), "header only"),
                               ("headerblank.csv", csv_bytes(["", " ", ""]), "header only")):
        (folder / name).write_bytes(data)
        expect.refused[name] = reason
    return expect


def missing_or_repeated_columns(folder, outside):
    expect = Expect()
    (folder / "nocol.csv").write_bytes(
        csv_bytes(["a,1,2,0"], header="corporation,lastmonth_activity,lastyear_activity,exited"))
    (folder / "twice.csv").write_bytes(csv_bytes(["a,1,2,3,0,1"], header=HEADER + ",exited"))
    (folder / "noheader.csv").write_bytes(csv_bytes(FOREIGN, header=None))
    expect.refused.update({"nocol.csv": "missing columns.*number_of_employees",
                           "twice.csv": "repeated columns", "noheader.csv": "missing columns"})
    return expect


def binary_junk(folder, outside):
    rng = random.Random(6)
    (folder / "junk.csv").write_bytes(bytes(rng.randrange(256) for _ in range(50_000)) + b"\0")
    high = bytes(rng.randrange(0x80, 0x100) for _ in range(20_000)).replace(b"\xff", b"\x80")
    (folder / "highbytes.csv").write_bytes(b"\x80" + high)
    return Expect(refused={"junk.csv": "binary", "highbytes.csv": "missing columns"})


def compressed_files(folder, outside):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.csv", csv_bytes(FOREIGN))
    data = csv_bytes(FOREIGN)
    files = {"g.csv": (gzip.compress(data), "gzip"), "z.csv": (buffer.getvalue(), "zip"),
             "b.csv": (bz2.compress(data), "bzip2"), "x.csv": (lzma.compress(data), "xz")}
    for name, (payload, _) in files.items():
        (folder / name).write_bytes(payload)
    return Expect(refused={name: kind for name, (_, kind) in files.items()})


def directory_named_csv(folder, outside):
    (folder / "dir.csv").mkdir()
    (folder / "dir.csv" / "inner.csv").write_bytes(csv_bytes(FOREIGN))
    return Expect(refused={"dir.csv": "not a regular file"})


def links_named_csv(folder, outside):
    (folder / "tofile.csv").symlink_to(outside / "secret.csv")
    (folder / "todir.csv").symlink_to(outside)
    (folder / "dangling.csv").symlink_to(outside / "nothing.csv")
    (folder / "relative.csv").symlink_to(Path("..") / "outside" / "secret.csv")
    return Expect(refused={name: "link" for name in
                           ("tofile.csv", "todir.csv", "dangling.csv", "relative.csv")})


def fifo_named_csv(folder, outside):
    os.mkfifo(folder / "pipe.csv")  # opening it would block forever: it must never be opened
    return Expect(refused={"pipe.csv": "not a regular file"})


def very_wide_file(folder, outside):
    extra = [f"x{i}" for i in range(5_000)]
    header = ",".join([*extra[:2500], *HEADER.split(","), *extra[2500:]])
    pad = ",".join(["0"] * 2500)
    (folder / "wide.csv").write_bytes(csv_bytes([f"{pad},wid,1,2,3,0,{pad}",
                                                 f"{pad},wad,4,5,6,1,{pad}",
                                                 f"{pad},bad,4,5,6,1"], header=header))
    return Expect(good=[record("wid,1,2,3,0"), record("wad,4,5,6,1")],
                  bad_rows={"wide.csv": [4]}, reasons={("wide.csv", 4): "expected 5005"})


def very_long_file(folder, outside):
    rows: list[Row] = []
    for i in range(100_000):
        rows.append((f"c{i},{i % 97},{i % 1013},{i % 50},{i % 2}", None) if i % 997
                    else (f"c{i},-1,{i},{i},0", "negative"))
    return rows_file(folder, "long.csv", rows)


def a_very_long_field(folder, outside):
    rows = good_and([("z" * 300_000 + ",1,2,3,0", None),
                     ("zz,1,2," + "9" * 200_000 + ",0", "not (a number|finite)"),
                     ("zz,1,2,3," + "x" * 200_000, "exited")])
    expect = rows_file(folder, "field.csv", rows)
    quoted = [('"quoted",1,2,3,0', None), *rows[1:]]  # a quote: read by the general csv parser
    return expect.add(rows_file(folder, "fieldq.csv", quoted))


def names_with_spaces_and_unicode(folder, outside):
    expect = rows_file(folder, "données clients — été 2024.csv", [("ant,1,2,3,0", None)])
    expect.add(rows_file(folder, "客户 数据.csv", [("bee,4,5,6,1", None)]))
    return expect.add(rows_file(folder, " lead and trail .CSV", [("cat,7,8,9,0", None)]))


def names_that_cannot_be_recorded(folder, outside):
    raw = os.fsencode(folder)
    for name in (b"caf\xe9.csv", b"new\nline.csv", b"tab\there.csv"):
        with open(os.path.join(raw, name), "wb") as handle:
            handle.write(csv_bytes(FOREIGN))
    return Expect(refused={r"caf\xe9.csv": "name", r"new\nline.csv": "name",
                           r"tab\there.csv": "name"})


def duplicate_rows(folder, outside):
    rows: list[Row] = [("dup,1,2,3,0", None)] * 3 + [(GOOD[0], None)]
    expect = rows_file(folder, "dups.csv", rows)
    return expect.add(rows_file(folder, "dups2.csv", [("dup,1,2,3,0", None)]))


def file_still_being_written(folder, outside, monkeypatch):
    path = folder / "growing.csv"
    path.write_bytes(csv_bytes(["ant,1,2,3,0", "bee,4,5"])[:-1])  # no line break yet
    real = Path.read_bytes

    def read_then_write_more(self):
        data = real(self)
        if self == path:  # the writer appends the rest of the file while ingestion reads
            with open(path, "ab") as handle:
                handle.write(b",6,1\ncat,7,8,9,0\n")
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_write_more)
    return Expect(refused={"growing.csv": "changed while .*read"})


def file_vanishing_before_it_is_read(folder, outside, monkeypatch):
    (folder / "gone.csv").write_bytes(csv_bytes(FOREIGN))
    real = rebuild.scan_input_folder

    def scan_then_delete(where):
        found = real(where)
        (folder / "gone.csv").unlink()
        return found

    monkeypatch.setattr(rebuild, "scan_input_folder", scan_then_delete)
    return Expect(refused={"gone.csv": "cannot read"})


KINDS = [
    # encodings
    utf8_bom_crlf, utf16_with_bom, latin1_and_invalid_utf8_rows, utf16_without_bom,
    # delimiters and quoting
    other_delimiters, a_row_with_another_delimiter, quoting_that_is_valid, unterminated_quote,
    # truncation
    truncated_last_line, complete_last_line_without_newline,
    # numbers and types
    huge_numbers, tiny_numbers, nan_spellings, infinity_spellings, wrong_types, empty_cells,
    wrong_field_counts, a_repeated_header_in_the_middle,
    # layout
    cr_only_line_endings, reordered_uppercase_and_extra_columns,
    # whole files
    empty_and_header_only_files, missing_or_repeated_columns, binary_junk, compressed_files,
    directory_named_csv, links_named_csv, fifo_named_csv,
    # size
    very_wide_file, very_long_file, a_very_long_field,
    # names
    names_with_spaces_and_unicode, names_that_cannot_be_recorded,
    # several files
    duplicate_rows,
    # races with writers
    file_still_being_written, file_vanishing_before_it_is_read,
]


@pytest.fixture
def hostile(tmp_path: Path):
    """(settings, outside folder) of a project whose input folder holds the control good.csv."""
    (tmp_path / "in").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_bytes(csv_bytes(FOREIGN))
    settings = load_settings(write_ingestion_config(tmp_path))
    (settings.input_folder / "good.csv").write_bytes(csv_bytes(GOOD))
    return settings, outside


def _make(kind, folder: Path, outside: Path, monkeypatch) -> Expect:
    if "monkeypatch" in kind.__code__.co_varnames[: kind.__code__.co_argcount]:
        return kind(folder, outside, monkeypatch)
    return kind(folder, outside)


def assert_only_allowed_paths_opened(opened: list[str], settings) -> None:
    """Within the project folder only the input and output folders and the history were read."""
    root = os.path.realpath(settings.root)
    allowed = [os.path.realpath(settings.input_folder), os.path.realpath(settings.output_folder)]
    for path in opened:
        if path == root or not path.startswith(root + os.sep):
            continue  # the interpreter's own files (lazy imports)
        inside = any(path == a or path.startswith(a + os.sep) for a in allowed)
        history = path.startswith(os.path.realpath(settings.history_db))
        assert inside or history, f"read outside the input folder: {path}"
        assert path in allowed or os.path.dirname(path) in allowed or history, \
            f"read below a sub-folder: {path}"


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_hostile_input_keeps_every_good_row_and_explains_every_bad_one(hostile, kind,
                                                                      monkeypatch):
    settings, outside = hostile
    expect = _make(kind, settings.input_folder, outside, monkeypatch)
    with watch_opens() as opened:
        run_ingestion(settings)  # 1. no crash
    monkeypatch.undo()
    # The outputs may hold a field longer than the csv module's default limit (a 300,000-character
    # name); ingestion itself runs with the default.
    limit = csv.field_size_limit(1 << 24)
    try:
        out = read_outputs(settings)
    finally:
        csv.field_size_limit(limit)

    # 2. every good row kept, nothing else
    wanted = {record(r) for r in GOOD} | set(expect.good)
    assert len(out.final) == len(set(out.final)) == len(wanted)
    assert set(out.final) == wanted

    # 3. every bad row and unusable file in rejected.csv with a reason
    rows = {(r["source_file"], int(r["line"])): r["reason"] for r in out.rejected if r["line"]}
    expected_rows = {(name, line) for name, lines in expect.bad_rows.items() for line in lines}
    assert set(rows) == expected_rows
    for key, reason in rows.items():
        assert reason, key
        assert re.search(expect.reasons.get(key, "."), reason), (key, reason)
    files = {r["source_file"]: r["reason"] for r in out.rejected if not r["line"]}
    assert set(files) == set(expect.refused)
    for name, reason in files.items():
        assert re.search(expect.refused[name], reason), (name, reason)
    assert all(r["raw"] for r in out.rejected if r["line"])
    assert_counts_add_up(out)
    ingested = {line["name"] for line in out.ingested}
    assert "good.csv" in ingested and not ingested & set(expect.refused)

    # 4. nothing read outside the input folder
    assert_only_allowed_paths_opened(opened, settings)
    assert not [p for p in opened if p.startswith(os.path.realpath(outside))]


def test_there_are_at_least_25_kinds():
    assert len(KINDS) >= 25


def test_a_file_still_being_written_is_picked_up_once_finished(hostile, monkeypatch):
    settings, outside = hostile
    file_still_being_written(settings.input_folder, outside, monkeypatch)
    run_ingestion(settings)
    monkeypatch.undo()
    assert "growing.csv" not in {line["name"] for line in read_outputs(settings).ingested}
    run_ingestion(settings)  # the next cycle: the writer has finished
    out = read_outputs(settings)
    assert {record("bee,4,5,6,1"), record("cat,7,8,9,0"), record("ant,1,2,3,0")} <= set(out.final)
    assert out.rejected == []
