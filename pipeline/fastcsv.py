"""The fast path of ingestion: plain CSV files parsed by pyarrow, the usual rows checked in bulk.

Most input files are plain: UTF-8, one record per line, no quotes, no blank lines, every row as
wide as the header. For those, pyarrow reads the columns as text in C++, and a row is accepted
here only when every value has the plainest form (a name with no surrounding whitespace,
features written as at most 15 ASCII digits, exited "0" or "1"), which the general rules accept
with the very same values. Every other row goes, with its line number, through the general
validation (``ingestion.validate_records``), so its verdict and messages are exactly those of the
general parser. A file that is not plain returns None and is read by the general parser whole.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipeline.schema import ID, TARGET

UTF8_BOM = b"\xef\xbb\xbf"
_PLAIN_NAME = r"^[!-~](?:.*[!-~])?$"  # ASCII graphic at both ends: str.strip() changes nothing
_MAX_DIGITS = 15  # every integer of up to 15 digits is exact as a float

Validate = Callable[[list[list[str]], list[int], str, tuple[str, ...]],
                    tuple[pd.DataFrame, list[dict]]]


class NotPlain(ValueError):
    """The file needs the general parser after all."""


def plain_body(data: bytes) -> bytes | None:
    """The bytes after a UTF-8 byte-order mark when the file is plain, else None."""
    body = data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data
    if not body or body[:1] in (b"\n", b"\r") or b'"' in body or b"\x00" in body:
        return None
    if b"\n\n" in body or b"\n\r\n" in body or body.count(b"\r") != body.count(b"\r\n"):
        return None  # blank lines or lone carriage returns: line numbers need the general parser
    if body.startswith((b",", b" ", b"\t")) or b"\n," in body or b"\n " in body \
            or b"\n\t" in body:
        return None  # a line of only commas or spaces is blank to the general parser, no record
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None  # only the rows holding the bad bytes are rejected: the general parser
    return body


def header_fields(body: bytes) -> list[str]:
    """The cells of the first line of a plain file."""
    return body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8").split(",")


def read_columns(body: bytes, width: int, index: Sequence[int]) -> pa.Table | None:
    """The columns at ``index`` of a plain file's data rows, as text; None on a ragged row."""
    ragged = []

    def on_invalid(row) -> str:
        ragged.append(row)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    picked = [names[i] for i in index]
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=picked, column_types=dict.fromkeys(picked, pa.string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    if ragged:
        return None
    return table.rename_columns([str(i) for i in range(len(picked))])


def _plain(values: pa.ChunkedArray, col: str) -> pa.ChunkedArray:
    """True where a value has the plainest form of its column."""
    if col == ID:
        return pc.match_substring_regex(values, _PLAIN_NAME)
    if col == TARGET:
        return pc.or_(pc.equal(values, "0"), pc.equal(values, "1"))
    return pc.and_(pc.ascii_is_decimal(values),
                   pc.less_equal(pc.binary_length(values), _MAX_DIGITS))


def validate_table(table: pa.Table, columns: tuple[str, ...], name: str, validate: Validate,
                   first_line: int = 2) -> tuple[pd.DataFrame, list[dict]]:
    """Accepted rows (in file order) and rejected rows of a table of text columns.

    Plain rows are converted in bulk; the others go through ``validate`` with their line numbers.
    """
    rows = table.num_rows
    plain = pa.chunked_array([pa.array(np.ones(rows, dtype=bool))])
    for i, col in enumerate(columns):
        plain = pc.and_(plain, _plain(table.column(i), col))
    plain_np = plain.to_numpy()
    fast = table.filter(plain)
    frame = pd.DataFrame({
        col: (fast.column(i).to_pandas() if col == ID else
              pc.cast(fast.column(i), pa.int64()).to_numpy().astype(
                  "int64" if col == TARGET else "float64"))
        for i, col in enumerate(columns)})
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


def write_frame(frame: pd.DataFrame, handle, header: bool = True) -> None:
    """Write a frame as pandas' ``to_csv(index=False, lineterminator="\\n")`` writes it.

    pyarrow writes integer and text columns the same bytes many times faster; a float column
    (pandas writes 3.0 where pyarrow writes 3) or a value that needs quotes goes to pandas.
    """
    if all(frame[col].dtype.kind in "iu" or frame[col].dtype.kind == "O"
           or pd.api.types.is_string_dtype(frame[col]) for col in frame.columns):
        start = handle.tell()
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pacsv.write_csv(table, handle, pacsv.WriteOptions(
                include_header=header, quoting_style="none", quoting_header="none",
                batch_size=65536))
            return
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            handle.seek(start)
            handle.truncate()
    frame.to_csv(handle, index=False, header=header, lineterminator="\n")
