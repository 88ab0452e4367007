"""The fast path of ingestion: plain CSV files parsed by pyarrow, the usual rows checked in bulk.

Most input files are plain: UTF-8, one record per line, no quotes, no blank lines, every row as
wide as the header. For those, pyarrow reads the columns as text in C++, and a row is accepted
here only when every value has the plainest form (a name with no surrounding whitespace,
features written as at most 15 ASCII digits, exited "0" or "1"), which the general rules accept
with the very same values. Every other row goes, with its line number, through the general
validation (``pipeline.ingest.records.validate_records``), so its verdict and messages are
exactly those of the general parser. A file that is not plain returns None and is read by the
general parser whole.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.core.schema import ID, TARGET

UTF8_BOM = b"\xef\xbb\xbf"
_MAX_DIGITS = 15  # every integer of up to 15 digits is exact as a float

Validate = Callable[[list[list[str]], list[int], str, tuple[str, ...]],
                    tuple[pd.DataFrame, list[dict]]]


class NotPlain(ValueError):
    """The file needs the general parser after all."""


def plain_body(data: bytes) -> bytes | None:
    """The bytes after a UTF-8 byte-order mark when the file is plain, else None.

    Blank lines and lines of only commas or spaces are not looked for here: pyarrow finds the
    first ragged, and validate_table sends a row with no value in any column back (NotPlain).
    """
    body = data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data
    if not body or body[:1] in (b"\n", b"\r") or b'"' in body or b"\x00" in body:
        return None
    if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
        return None  # lone carriage returns: line numbers need the general parser
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None  # only the rows holding the bad bytes are rejected: the general parser
    if not any(cell.strip() for cell in header_fields(body)):
        return None  # a blank first line: the general parser looks further for the header
    return body


def header_fields(body: bytes) -> list[str]:
    """The cells of the first line of a plain file."""
    end = body.find(b"\n")
    return body[:end if end >= 0 else len(body)].rstrip(b"\r").decode("utf-8").split(",")


def read_columns(body: bytes, width: int, index: Sequence[int], first_row: int = 1,
                 types: Sequence[pa.DataType] | None = None, threads: bool = False
                 ) -> pa.Table | None:
    """The columns at ``index`` of a plain file's data rows; None on a ragged row.

    Columns are text unless ``types`` says otherwise; a value of another type raises ArrowInvalid.
    ``first_row`` rows are skipped (the header); ``threads`` lets pyarrow parse blocks in parallel.
    """
    ragged = []

    def on_invalid(row) -> str:
        ragged.append(row)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    picked = [names[i] for i in index]
    types = types or [pa.large_string()] * len(picked)
    try:
        table = pacsv.read_csv(
            io.BytesIO(body) if isinstance(body, bytes) else pa.BufferReader(body),
            read_options=pacsv.ReadOptions(skip_rows=first_row, column_names=names,
                                           use_threads=threads),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=picked, column_types=dict(zip(picked, types, strict=True)),
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        if any(t != pa.large_string() for t in types):
            raise
        return None
    if ragged:
        return None
    # One chunk per column: numpy and pandas then view the values without copying them.
    return pa.Table.from_arrays([column.combine_chunks() for column in table.columns],
                                names=[str(i) for i in range(len(picked))])


def _plain_names(values: pa.ChunkedArray) -> np.ndarray:
    """True where a name is not empty and begins and ends with an ASCII graphic character.

    Such a name is what str.strip() leaves it: the general rules accept it unchanged.
    """
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    text = text.cast(pa.large_string())  # a no-op on what read_columns reads
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[
        text.offset:text.offset + len(text) + 1]
    if offsets[-1] == 0:
        return np.zeros(len(text), dtype=bool)
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    nonempty = offsets[1:] > offsets[:-1]
    first = data[np.minimum(offsets[:-1], offsets[-1] - 1)]
    last = data[np.maximum(offsets[1:] - 1, 0)]
    return nonempty & (first >= 0x21) & (first <= 0x7E) & (last >= 0x21) & (last <= 0x7E)


def _plain(values: pa.ChunkedArray, col: str) -> np.ndarray:
    """True where a value has the plainest form of its column (text, or int64 parsed by pyarrow)."""
    if col == ID:
        return _plain_names(values)
    if pa.types.is_integer(values.type):
        numbers = values.to_numpy(zero_copy_only=False)
        ok = (numbers >= 0) & (numbers <= 1) if col == TARGET else \
            (numbers >= 0) & (numbers < 10 ** _MAX_DIGITS)
        if values.null_count:
            ok &= ~values.is_null().to_numpy(zero_copy_only=False)
        return ok
    if col == TARGET:
        return pc.or_(pc.equal(values, "0"), pc.equal(values, "1")).to_numpy(
            zero_copy_only=False)
    return pc.and_(pc.ascii_is_decimal(values),
                   pc.less_equal(pc.binary_length(values), _MAX_DIGITS)).to_numpy(
        zero_copy_only=False)


def plain_rows(table: pa.Table, columns: tuple[str, ...]) -> np.ndarray:
    """True for each row whose every value has the plainest form of its column."""
    plain = np.ones(table.num_rows, dtype=bool)
    for i, col in enumerate(columns):
        plain &= _plain(table.column(i), col)
    return plain


def plain_frame(table: pa.Table, columns: tuple[str, ...], feature_dtype: str = "int64"
                ) -> pd.DataFrame:
    """The rows of a table of plain values as records: names as text, numbers as numbers."""
    def convert(i: int, col: str):
        values = table.column(i)
        if col == ID:
            return values.to_pandas()
        if not pa.types.is_integer(values.type):
            values = pc.cast(values, pa.int64())
        # A copy: pyarrow's buffers are read-only, and callers may change their frames.
        return values.to_numpy().astype("int64" if col == TARGET else feature_dtype)

    # copy=False: one block per column, not a second copy of every number into one 2-D block.
    return pd.DataFrame({col: convert(i, col) for i, col in enumerate(columns)}, copy=False)


def validate_table(table: pa.Table, columns: tuple[str, ...], name: str, validate: Validate,
                   first_line: int = 2) -> tuple[pd.DataFrame, list[dict]]:
    """Accepted rows (in file order) and rejected rows of a table of text columns.

    Plain rows are converted in bulk; the others go through ``validate`` with their line numbers.
    """
    plain_np = plain_rows(table, columns)
    frame = plain_frame(table.filter(plain_np), columns, feature_dtype="float64")
    if plain_np.all():
        return frame, []
    other = np.flatnonzero(~plain_np)
    lines = (other + first_line).tolist()
    texts = [table.column(i).take(other).to_pylist() for i in range(len(columns))]
    rows_other = [list(r) for r in zip(*texts, strict=True)]
    if any(not any(cell.strip() for cell in row) for row in rows_other):
        # Perhaps a blank line to the general parser (its other columns unseen here): let it say.
        raise NotPlain("a row with no value in any column")
    accepted, rejects = validate(rows_other, lines, name,
                                 columns)
    rejected_lines = {r["line"] for r in rejects}
    kept_lines = np.array([line for line in lines if line not in rejected_lines], dtype=np.int64)
    if len(kept_lines):
        order = np.concatenate([np.flatnonzero(plain_np) + first_line, kept_lines])
        both = pd.concat([frame, accepted], ignore_index=True)
        frame = both.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    return frame, rejects


_PARALLEL_ROWS = 200_000  # from this size two threads each write half


def _csv_bytes(table: pa.Table, header: bool) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(
        include_header=header, quoting_style="none", quoting_header="none", batch_size=65536))
    return sink.getvalue()


def line_starts(parts: Sequence, skip: int = 0, lines: int | None = None,
                chunk: int = 1 << 25) -> np.ndarray:
    """Where each line of parts (buffers written one after the other) begins, the first ``skip``
    lines left out: positions from the start of the first part (int64).

    Every line must end with a newline (as the CSV writers write them); a record of
    finaldata.csv is one line, a quoted name holding no line break. Scanned in chunks into one
    array (of ``lines`` entries, when the count is known), so little memory is needed beyond it.
    """
    found: list[np.ndarray] = []
    starts = np.empty(lines + 1, dtype=np.int64) if lines is not None else None
    filled, base = 1, 0
    for part in parts:
        data = np.frombuffer(part, dtype=np.uint8)
        for begin in range(0, len(data), chunk):
            ends = np.flatnonzero(data[begin:begin + chunk] == 10)
            ends += base + begin + 1  # where the next line begins
            if starts is not None and filled + len(ends) <= len(starts):
                starts[filled:filled + len(ends)] = ends
            else:
                if starts is not None:  # more lines than said: collect them instead
                    found.append(starts[1:filled].copy())
                    starts = None
                found.append(ends)
            filled += len(ends)
        base += len(data)
    starts = starts[:filled] if starts is not None \
        else np.concatenate([np.zeros(1, np.int64), *found])
    starts[0] = 0
    return starts[skip:-1] if len(starts) > skip else starts[:0]


def write_frame(frame: pd.DataFrame, handle, header: bool = True) -> np.ndarray:
    """Write a frame as pandas' ``to_csv(index=False, lineterminator="\\n")`` writes it; returns
    where each of its rows begins, counted from the handle's position before the call.

    pyarrow writes integer and text columns the same bytes many times faster (two halves at once
    on large frames: its writer runs on one thread); a float column (pandas writes 3.0 where
    pyarrow writes 3) or a value that needs quotes goes to pandas. The row offsets are found in
    the bytes written (while they are being written, on large frames).
    """
    parts = _csv_parts(frame, header)
    skip = 1 if header else 0
    lines = len(frame) + skip
    if sum(len(part) for part in parts) < (1 << 22):
        for part in parts:
            handle.write(part)
        return line_starts(parts, skip, lines)
    with ThreadPoolExecutor(max_workers=1) as pool:  # scanning and writing release the GIL
        starts = pool.submit(line_starts, parts, skip, lines)
        for part in parts:
            handle.write(part)
        found = starts.result()
    del parts
    pa.default_memory_pool().release_unused()  # the bytes written: back to the system now
    return found


def _csv_parts(frame: pd.DataFrame, header: bool) -> list:
    """The CSV bytes of a frame, as one or more buffers to write in order."""
    if all(frame[col].dtype.kind in "iu" or frame[col].dtype.kind == "O"
           or pd.api.types.is_string_dtype(frame[col]) for col in frame.columns):
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if table.num_rows < _PARALLEL_ROWS:
                return [_csv_bytes(table, header)]
            half = table.num_rows // 2
            with ThreadPoolExecutor(max_workers=2) as pool:
                return list(pool.map(_csv_bytes, [table.slice(0, half), table.slice(half)],
                                     [header, False]))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    text = io.BytesIO()
    frame.to_csv(text, index=False, header=header, lineterminator="\n")
    return [text.getbuffer()]
