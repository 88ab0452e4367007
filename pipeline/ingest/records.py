"""Reading one CSV file of client records: decoding, parsing and the validation rules.

Loading the file and reading its header are pipeline.ingest.loading's (no pandas there).

A file that cannot be used at all is set aside with its reason; a bad row is rejected with its
line number, every problem it has and its raw values; the good rows go on. The rebuild merges
the results of every file (pipeline.ingest.rebuild); scoring.py and the API read single files
with the same rules.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.schema import COLUMNS, ID, TARGET
from pipeline.ingest import fastcsv
from pipeline.ingest.csvlines import LineRecords
from pipeline.ingest.inputs import printable
from pipeline.ingest.loading import (
    FileResult,
    UnusableFile,
    binary_reason,
    load_input_file,
    read_header,
    refuse_file,
)

logger = logging.getLogger(__name__)

RAW_LIMIT = 10_000  # characters of a rejected row kept in rejected.csv


def _decode(data: bytes) -> tuple[str | None, str | None]:
    """Text of a file's bytes, or a reason why it is not a UTF-8 text file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            return None, "UTF-16 byte-order mark but undecodable content"
    reason = binary_reason(data)
    if reason:
        return None, reason
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # Invalid UTF-8 bytes become lone surrogates, so only the rows that hold them are rejected.
    return data.decode("utf-8", errors="surrogateescape"), None


def _raw(fields: list[str]) -> str:
    text = printable(",".join(fields))  # capped: rejected.csv must stay readable by csv readers
    return text if len(text) <= RAW_LIMIT else f"{text[:RAW_LIMIT]}... ({len(text)} characters)"


def parse_plain_bytes(data: bytes, name: str, columns: tuple[str, ...] = COLUMNS
                      ) -> tuple[pd.DataFrame, list[dict], int, str | None] | None:
    """parse_csv_text's answer for a plain file (pipeline.ingest.fastcsv), else None."""
    body = fastcsv.plain_body(data)
    if body is None:
        return None
    index, width, note = read_header(fastcsv.header_fields(body), columns)
    table = fastcsv.read_columns(body, width, index)
    if table is None or table.num_rows == 0:
        return None
    try:
        frame, rejects = fastcsv.validate_table(table, columns, name, validate_records)
    except fastcsv.NotPlain:
        return None
    return frame, rejects, table.num_rows, note


def parse_csv_text(text: str, name: str, columns: tuple[str, ...] = COLUMNS
                   ) -> tuple[pd.DataFrame, list[dict], int, str | None]:
    """Parse CSV text into validated records: (accepted, rejected rows, rows read, note).

    Raises UnusableFile when the file as a whole cannot be used.
    """
    records = LineRecords(text)  # one bad line (an open quote, a huge field) costs that line only
    header = next((row for _, row, _ in records if row and any(cell.strip() for cell in row)),
                  None)
    if header is None:
        raise UnusableFile("no header row (empty file)")
    index, width, note = read_header(header, columns)
    lines, rows, rejects = [], [], []
    for number, row, problem in records:
        if row is not None and records.spans_lines > 1:  # a record is one line: a quote left open
            problem = "a quote opened on this line is not closed on it (the next lines are read on)"
            row = None
            records.read_again_after_first()
        if row is not None and not any(cell.strip() for cell in row):
            continue  # a blank line is not a record
        if row is None or len(row) != width:
            rejects.append({"source_file": name, "line": number,
                            "reason": problem or f"expected {width} fields, found {len(row)}",
                            "raw": _raw(row if row is not None else [records.first_line])})
            continue
        lines.append(number)
        rows.append([row[i] for i in index])
    read = len(rows) + len(rejects)
    if read == 0:
        raise UnusableFile("no data rows (header only)")
    frame, bad = validate_records(rows, lines, name, columns)
    rejects.extend(bad)
    rejects.sort(key=lambda r: r["line"])
    return frame, rejects, read, note


def validate_records(rows: list[list[str]], lines: list[int], name: str,
                     columns: tuple[str, ...] = COLUMNS) -> tuple[pd.DataFrame, list[dict]]:
    """Apply the record rules to string rows holding ``columns``; (accepted, rejected rows).

    Every rule is applied to whole columns at once; a rejected row lists all its problems.
    """
    raw = pd.DataFrame(rows, columns=list(columns), dtype=object) if rows else \
        pd.DataFrame({col: pd.Series([], dtype=object) for col in columns})
    # object, not pandas' default string dtype: with pyarrow installed that one cannot hold the
    # lone surrogates that mark undecodable bytes.
    raw = raw.astype(object)
    reasons = pd.Series("", index=raw.index, dtype=object)

    def add(mask, message: str, detail: pd.Series | None = None) -> None:
        nonlocal reasons
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            text = message if detail is None else message + detail[mask]
            reasons[mask] = reasons[mask].where(reasons[mask] == "", reasons[mask] + "; ") + text

    has_surrogate = np.zeros(len(raw), dtype=bool)
    for col in columns:
        has_surrogate |= raw[col].str.contains("[\udc80-\udcff]", regex=True).to_numpy()
    add(has_surrogate, "not valid UTF-8")

    clean = pd.DataFrame(index=raw.index)
    for col in columns:
        text = raw[col].str.strip()
        if col == ID:
            add(text == "", f"{ID} is empty")
            clean[col] = text
            continue
        value = pd.to_numeric(text, errors="coerce")
        empty = (text == "").to_numpy()
        add(empty, f"{col} is missing")
        not_number = value.isna().to_numpy() & ~empty
        add(not_number, f"{col} is not a number: ",
            text.map(lambda s: repr(printable(s)[:40])) if not_number.any() else None)
        numbers = value.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        add(~finite & ~np.isnan(numbers), f"{col} is not finite")
        if col == TARGET:
            add(finite & ~np.isin(numbers, (0.0, 1.0)), f"{TARGET} must be 0 or 1")
        else:
            add(finite & (numbers < 0), f"{col} is negative")
        clean[col] = numbers

    bad = (reasons != "").to_numpy()
    rejects = [
        {"source_file": name, "line": lines[i], "reason": reasons.iat[i], "raw": _raw(rows[i])}
        for i in np.flatnonzero(bad)
    ]
    accepted = clean.loc[~bad].reset_index(drop=True)
    if TARGET in columns:
        accepted[TARGET] = accepted[TARGET].astype("int64")
    if ID in columns:
        accepted[ID] = accepted[ID].astype(object)
    return accepted, rejects


def parse_bytes(result: FileResult, data: bytes, columns: tuple[str, ...] = COLUMNS
                ) -> tuple[pd.DataFrame, list[dict], int, str | None] | None:
    """parse_csv_text's answer for a file's bytes (the fast path first); None when they are
    not text, the reason then set in ``result``. Raises UnusableFile."""
    parsed = parse_plain_bytes(data, result.name, columns)
    if parsed is None:
        text, reason = _decode(data)
        if reason:
            refuse_file(result.path, reason, result)
            return None
        parsed = parse_csv_text(text, result.name, columns)
    return parsed


def parse_loaded_file(result: FileResult, data: bytes, columns: tuple[str, ...] = COLUMNS,
                      parse=parse_bytes) -> FileResult:
    """Parse and validate the bytes of a loaded file into ``result``; never raises for content.

    ``parse`` is parse_bytes, or one that calls it (ingestion's reads unlabelled batches too:
    pipeline.ingest.labels.parse_batch).
    """
    started = time.perf_counter()
    reason = binary_reason(data)
    if reason:
        return refuse_file(result.path, reason, result)
    try:
        parsed = parse(result, data, columns)
    except UnusableFile as exc:
        return refuse_file(result.path, str(exc), result)
    if parsed is None:
        return result
    result.frame, result.rejects, result.rows_read, result.note = parsed
    result.seconds += time.perf_counter() - started
    return result


def read_input_file(path: Path, columns: tuple[str, ...] = COLUMNS) -> FileResult:
    """Read and validate one input file holding ``columns``; never raises for bad content."""
    result, data = load_input_file(path)
    return result if data is None else parse_loaded_file(result, data, columns)


def read_labelled_data(path: Path) -> pd.DataFrame:
    """A labelled CSV file (the test data), validated with the ingestion rules; bad rows are
    logged and left out. ValueError when no valid row is left."""
    result = read_input_file(Path(path))
    if not result.usable:
        raise ValueError(f"cannot score on {path}: {result.reason}")
    for reject in result.rejects:
        logger.warning("%s line %s left out: %s", result.name, reject["line"], reject["reason"])
    if result.frame is None or result.frame.empty:
        raise ValueError(f"cannot score on {path}: no valid rows")
    return result.frame
