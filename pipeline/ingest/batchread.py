"""Many plain files read as one: a single multithreaded pyarrow parse per header.

Parsing file by file costs a fixed set-up per file and leaves pyarrow one thread; an input folder
of many extracts with one header is mostly that set-up. Here the data rows of every plain file
(pipeline.ingest.fastcsv) sharing a header are joined and parsed in one call, the numbers to
int64, then split back per file by their line counts. A file keeps this result only when every
one of its rows has the plainest form, which the general rules accept with the very same
values; any other file (a bad value, a ragged row, an unusual header) is read on its own by
pipeline.ingest.records, so its verdicts, messages and line numbers are exactly the general ones.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.schema import COLUMNS, ID
from pipeline.ingest import fastcsv, rowhash
from pipeline.ingest.inputs import InputFile
from pipeline.ingest.labels import parse_batch
from pipeline.ingest.records import (
    FileResult,
    UnusableFile,
    binary_reason,
    load_input_file,
    parse_loaded_file,
    read_header,
    refuse_file,
)


def read_entries(entries: list[InputFile]) -> list[FileResult]:
    """Read, validate and hash the files of ``entries``, in their order: the plain ones in bulk
    (read_plain_files), every other file on its own (an unlabelled batch among them:
    pipeline.ingest.labels). Each usable labelled result has its row hashes.

    pyarrow, numpy and hashlib release the GIL: two threads work at once on two cores.
    """
    def parse(item: tuple[FileResult, bytes]) -> FileResult:
        result = parse_loaded_file(*item, parse=parse_batch)  # unlabelled batches welcome
        if result.frame is not None and result.labelled:  # hashed here, in parallel, for the merge
            result.hashes = rowhash.row_hashes(result.frame)
        return result

    def load(entry: InputFile) -> tuple[FileResult, bytes | None]:
        if entry.refused:
            return refuse_file(entry.path, entry.refused), None
        return load_input_file(entry.path)

    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = list(pool.map(load, entries))
        results = [result for result, _ in loaded]
        rest = read_plain_files(loaded, pool)
        parsed = pool.map(parse, [loaded[position] for position in rest])
        for position, result in zip(rest, parsed, strict=True):
            results[position] = result
    del loaded  # the files' bytes
    pa.default_memory_pool().release_unused()  # and pyarrow's parse: back to the system now
    return results


@dataclass
class _Member:
    position: int  # in the caller's list
    rows: memoryview  # the data rows, header cut off
    count: int  # data rows
    note: str | None


def _member(position: int, data: bytes, columns: tuple[str, ...]
            ) -> tuple[tuple[int, tuple[int, ...]], _Member] | None:
    """(header key, member) of a plain file with data rows; None for any other file."""
    body = None if binary_reason(data) else fastcsv.plain_body(data)
    if body is None:
        return None
    try:
        index, width, note = read_header(fastcsv.header_fields(body), columns)
    except UnusableFile:
        return None  # the general path says why
    start = body.find(b"\n") + 1
    if start == 0 or start == len(body):
        return None  # header only: the general path says so
    # numpy counts bytes about ten times faster than bytes.count
    count = int(np.count_nonzero(np.frombuffer(body, dtype=np.uint8, offset=start) == 10)) \
        + (not body.endswith(b"\n"))
    return (width, tuple(index)), _Member(position, memoryview(body)[start:], count, note)


def read_plain_files(loaded: list[tuple[FileResult, bytes | None]], pool: Executor | None = None,
                     columns: tuple[str, ...] = COLUMNS) -> list[int]:
    """Fill the results of the plain files of ``loaded`` (frame, rows, hashes) in bulk.

    ``loaded`` holds each file's result and bytes (None when it was set aside). Returns the
    positions of the files with bytes that still need the per-file path.
    """
    groups: dict[tuple[int, tuple[int, ...]], list[_Member]] = {}
    rest = []
    for position, (_, data) in enumerate(loaded):
        if data is None:
            continue
        found = _member(position, data, columns)
        if found is None:
            rest.append(position)
        else:
            groups.setdefault(found[0], []).append(found[1])
    for (width, index), members in groups.items():
        done = _read_group(loaded, members, width, index, columns, pool)
        rest.extend(m.position for m in members if m.position not in done)
    return sorted(rest)


def _parse(members: list[_Member], width: int, index: tuple[int, ...],
           columns: tuple[str, ...]) -> pa.Table | None:
    # A first, skipped, empty line: pyarrow drops a byte-order mark at the start of what it
    # reads, and here that would be the first character of a data row.
    parts: list = [b"\n"]
    for member in members:
        parts.append(member.rows)
        if member.rows[-1:] != b"\n":
            parts.append(b"\n")
    joined = b"".join(parts)
    types = [pa.large_string() if col == ID else pa.int64() for col in columns]
    # pyarrow reads "0x1F" as the integer 31, where the rules see no number: any "0x" sends the
    # numbers to text, and each value is then checked for plain digits.
    if not _has_hex_prefix(joined):
        try:
            return fastcsv.read_columns(joined, width, index, first_row=1, types=types,
                                        threads=True)
        except pa.ArrowInvalid:  # a value that is no integer: text, as below
            pass
    return fastcsv.read_columns(joined, width, index, first_row=1, threads=True)


def _has_hex_prefix(data: bytes) -> bool:
    """True when "0x" or "0X" occurs anywhere in data (a name may hold it too: then text)."""
    found = pc.find_substring(pa.array([data], pa.large_binary()), "0x", ignore_case=True)
    return found[0].as_py() >= 0


def _read_group(loaded, members: list[_Member], width: int, index: tuple[int, ...],
                columns: tuple[str, ...], pool: Executor | None) -> set[int]:
    """Parse one header's files together; the positions of the files whose results are filled."""
    started = time.perf_counter()
    counts = np.array([m.count for m in members], dtype=np.int64)
    table = _parse(members, width, index, columns)
    if table is None or table.num_rows != counts.sum():
        return set()  # a ragged row somewhere: every file on its own finds which
    bounds = np.concatenate(([0], np.cumsum(counts)))
    plain = fastcsv.plain_rows(table, columns)
    whole = np.add.reduceat(~plain, bounds[:-1]) == 0  # files whose every row is plain
    if not whole.any():
        return set()
    if not whole.all():
        table = table.filter(pa.array(np.repeat(whole, counts)))
    frame = fastcsv.plain_frame(table, columns)
    h1, h2 = rowhash.row_hashes(frame, columns, pool=pool)
    seconds = (time.perf_counter() - started) / max(1, int(counts[whole].sum()))
    done, begin = set(), 0
    for member, keep in zip(members, whole, strict=True):
        if not keep:
            continue
        end = begin + member.count
        result = loaded[member.position][0]
        result.frame = _rows(frame, begin, end)
        result.block = (frame, begin, end)
        result.hashes = (h1[begin:end], h2[begin:end])
        result.rows_read, result.note = member.count, member.note
        result.seconds += seconds * member.count  # its share of the joint parse
        done.add(member.position)
        begin = end
    return done


def _rows(frame: pd.DataFrame, begin: int, end: int) -> pd.DataFrame:
    """Rows begin:end of a frame, numbered from 0 (no copy)."""
    part = frame.iloc[begin:end]
    part.index = pd.RangeIndex(end - begin)
    return part
