"""Appending new input files, with numpy and the standard library only when the files are plain.

An append adds an extract of thousands of rows to a history of millions in milliseconds; pandas
and pyarrow would take ten times that to import. So the usual new file is read, hashed,
de-duplicated and appended here without them: a plain file (UTF-8, one record per line, no
quotes, every row as wide as the header, labelled) whose every value has the plainest form
(pipeline.ingest.fastcsv: a name that begins and ends with an ASCII graphic character, features
of at most 15 ASCII digits, exited 0 or 1). The general rules accept such rows with the very
same values, and the rebuild writes them as they are written here (the name as it is, the
numbers in decimal). When any new file is another kind (a bad row, quotes, an unlabelled batch,
a file set aside), the general append (pipeline.ingest.incremental, with pandas) does the run.

A row is dropped as seen before when it equals, value by value, an earlier row of the new files,
or the row of finaldata.csv at the offset the row index gives for its hashes: a hash only
proposes, the values decide, so an append writes exactly what a rebuild writes. Which run it
is, append or rebuild, pipeline.ingest.update decides; the helpers here that write an append's
outputs serve the general append too.
"""

from __future__ import annotations

import contextlib
import csv
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from pipeline.core.config import Settings
from pipeline.core.files import atomic_open
from pipeline.core.names import FINAL_DATA, INGESTED_FILES, ROW_INDEX
from pipeline.core.schema import COLUMNS
from pipeline.ingest import rowhash, rowindex, state
from pipeline.ingest.inputs import InputFile
from pipeline.ingest.loading import (
    FileResult,
    PlainRows,
    UnusableFile,
    binary_reason,
    load_input_file,
    read_header,
)
from pipeline.ingest.outcome import IngestResult, ingested_line

_UTF8_BOM = b"\xef\xbb\xbf"
_MAX_DIGITS = 15  # as fastcsv's plainest form: every such integer is exact as a float
_GRAPHIC = frozenset(map(chr, range(0x21, 0x7F)))  # what a plain name begins and ends with


def parse_plain(data: bytes) -> tuple[PlainRows, str | None] | None:
    """(rows, note) of a plain, labelled file whose every value has the plainest form; None for
    any other file (the general parser reads it)."""
    if binary_reason(data):
        return None
    body = data[len(_UTF8_BOM):] if data.startswith(_UTF8_BOM) else data
    if not body or body[:1] in (b"\n", b"\r") or b'"' in body or b"\x00" in body:
        return None
    if b"\r" in body:
        if body.count(b"\r") != body.count(b"\r\n"):
            return None
        body = body.replace(b"\r\n", b"\n")
    try:
        text = body.decode("utf-8")
        header, _, rest = text.partition("\n")
        index, width, note = read_header(header.split(","))
    except (UnicodeDecodeError, UnusableFile):  # an unlabelled batch among them
        return None
    rest = rest.removesuffix("\n")
    if not rest:
        return None  # header only: the general parser says so
    if any(line.count(",") != width - 1 for line in rest.split("\n")):
        return None  # ragged, or a blank line
    cells = rest.replace("\n", ",").split(",")  # row after row: one column every width cells
    names = cells[index[0]::width]
    if not all(name and name[0] in _GRAPHIC and name[-1] in _GRAPHIC for name in names):
        return None
    numbers = np.empty((len(names), len(index) - 1), dtype=np.int64)
    for place, at in enumerate(index[1:]):
        column = cells[at::width]
        joined = "".join(column)
        if not (joined.isascii() and joined.isdigit()) \
                or not 0 < min(map(len, column)) <= max(map(len, column)) <= _MAX_DIGITS:
            return None
        numbers[:, place] = list(map(int, column))
    if numbers[:, -1].max() > 1:  # exited 0 or 1
        return None
    return PlainRows(names, numbers), note


def read_plain_file(entry: InputFile) -> FileResult | None:
    """A new file read by parse_plain; None when it is not plain (or is set aside)."""
    if entry.refused:
        return None
    result, data = load_input_file(entry.path)
    if data is None:
        return None
    started = time.perf_counter()
    parsed = parse_plain(data)
    if parsed is None:
        return None
    result.plain, result.note = parsed
    result.rows_read = len(result.plain.names)
    result.seconds += time.perf_counter() - started
    return result


def repeated_rows(names: list[str], numbers: np.ndarray, h1: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(True where a row equals an earlier one, value by value; an order sorting h1)."""
    first, order = rowhash.first_occurrences(h1)
    later = np.flatnonzero(first != np.arange(len(names)))
    earlier = first[later]
    same = (numbers[later] == numbers[earlier]).all(axis=1)
    same &= np.array([names[i] == names[j] for i, j in zip(later, earlier, strict=True)],
                     dtype=bool)
    repeated = np.zeros(len(names), dtype=bool)
    if same.all():
        repeated[later] = True
        return repeated, order
    seen: set = set()  # a hash collision: every row by its values
    for i, key in enumerate(zip(names, map(tuple, numbers.tolist()), strict=True)):
        repeated[i] = key in seen
        seen.add(key)
    return repeated, order


def same_as_written(path, offsets: np.ndarray, names: Sequence[str], numbers: np.ndarray
                    ) -> np.ndarray:
    """For each k: True when the record of finaldata.csv at byte offset offsets[k] has the name
    names[k] (the same text) and the numbers numbers[k] (the same values, as the row hashes see
    them)."""
    equal = np.zeros(len(offsets), dtype=bool)
    with open(path, "rb") as handle:
        for k in np.argsort(offsets, kind="stable"):  # one pass through the file
            handle.seek(int(offsets[k]))
            line = handle.readline().decode("utf-8", "surrogateescape")
            fields = next(csv.reader([line]), [])  # a record is one line (no line break in it)
            if len(fields) != len(COLUMNS) or fields[0] != names[k]:
                continue
            with contextlib.suppress(ValueError):  # not a number: not the same row
                equal[k] = all(float(text) == value
                               for text, value in zip(fields[1:], numbers[k], strict=True))
    return equal


def append_at(path, size: int, write: Callable) -> tuple[int, object]:
    """Call write(handle) on a file cut to ``size`` bytes and positioned there, then sync it;
    on any failure cut it back to that size. Returns its new size and what write returned."""
    with open(path, "r+b") as handle:
        try:
            handle.truncate(size)
            handle.seek(size)
            written = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.truncate(size)
            raise
        return handle.tell(), written


def write_lines(lines: list[bytes], handle) -> None:
    """Write an append's rows of finaldata.csv (each line whole, as encoded) at the handle."""
    handle.write(b"".join(lines))


def finish_append(settings: Settings, recorded: dict, results: list[FileResult], *,
                  size: int, added: int, segments: list[int], unlabelled_size: int) -> None:
    """After the rows: the files' lines of ingestedfiles.txt, then the state (written last)."""
    out = settings.output_folder
    lines = "".join(ingested_line(r) + "\n" for r in results if r.usable)
    with atomic_open(out / INGESTED_FILES, "wb") as handle:
        handle.write((out / INGESTED_FILES).read_bytes() + lines.encode("utf-8"))
    recorded["files"].update({r.path.name: state.file_record(r) for r in results})  # last
    recorded.update(finaldata_size=size, rows=recorded["rows"] + added, segments=segments,
                    unlabelled_size=unlabelled_size)
    state.save(settings, recorded)


def append_plain_files(settings: Settings, recorded: dict, added: list[InputFile]
                       ) -> IngestResult | None:
    """Append the rows of new plain files (parse_plain); None, having written nothing, when a
    file is not one."""
    results = []
    for entry in added:
        result = read_plain_file(entry)
        if result is None:
            return None
        results.append(result)
    out = settings.output_folder
    names = [name for r in results for name in r.plain.names]
    numbers = np.concatenate([r.plain.numbers for r in results])
    counts = [len(r.plain.names) for r in results]
    h1, h2 = rowhash.plain_row_hashes(names, numbers)
    bounds = np.cumsum([0, *counts])
    for r, begin, end in zip(results, bounds[:-1], bounds[1:], strict=True):
        r.hashes = (h1[begin:end], h2[begin:end])
    repeated, order = repeated_rows(names, numbers, h1)
    drop = repeated.copy()
    # Rows whose hashes the index holds (looked up in ascending h1), each compared with the
    # row at the recorded offset.
    rows, offsets = rowindex.candidates(out / ROW_INDEX, recorded["segments"], h1, h2,
                                        order=order[~repeated[order]])
    if len(rows):
        drop[rows[same_as_written(out / FINAL_DATA, offsets, [names[i] for i in rows],
                                  numbers[rows].astype(np.float64))]] = True
    dropped = np.add.reduceat(drop.astype(np.int64), bounds[:-1])
    for r, count in zip(results, dropped, strict=True):
        r.duplicates_dropped = int(count)
    keep = np.flatnonzero(~drop)
    text = [f"{names[i]},{a},{b},{c},{d}\n"
            for i, (a, b, c, d) in zip(keep, numbers[keep].tolist(), strict=True)]
    lines = [line.encode("utf-8") for line in text]
    starts = np.cumsum([recorded["finaldata_size"], *map(len, lines)])[:-1]
    size, _ = append_at(out / FINAL_DATA, recorded["finaldata_size"],
                        lambda handle: write_lines(lines, handle))
    segments = rowindex.append_segment(out / ROW_INDEX, recorded["segments"], h1[keep],
                                       h2[keep], starts)
    finish_append(settings, recorded, results, size=size, added=len(keep), segments=segments,
                  unlabelled_size=recorded.get("unlabelled_size", 0))
    return IngestResult(data=PlainRows([names[i] for i in keep], numbers[keep]), files=results,
                        mode="append", rows_total=recorded["rows"], repeated=repeated)
