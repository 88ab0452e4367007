"""Turning what a prediction request sent into a validated frame of features, or a clear 4xx
reason.

What ``/prediction`` reads (pipeline.api.request_source decides which one a request sent):
- a CSV file inside the configured data folders, named by a relative or an absolute path;
- ``{"records": [{column: value, ...}, ...]}`` and MLflow's ``{"dataframe_records": [...]}``;
- MLflow's ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``;
- CSV text with a header row: a ``text/csv`` body or an uploaded file.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from pipeline.core.schema import FEATURES
from pipeline.ingest.records import read_input_file, validate_records

MAX_FILEPATH = 4096  # PATH_MAX: no longer path can be opened


class BadRequest(ValueError):
    """The request cannot be served; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def resolve_data_file(value: object, root: Path, folders: Iterable[Path],
                      name: str = "filepath") -> Path:
    """The CSV file a client named (``name`` says under which key), if it lies inside one of the
    data folders.

    A relative path is taken from the project folder (the config's); an absolute one is taken as
    it is, since course clients send ``os.path.abspath(...)``. Refuses, before anything is read:
    non-strings, ``~``, ``..``, other suffixes, and any path (links included) whose real
    location is outside the folders.
    """
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} must be a non-empty string")
    if len(value) > MAX_FILEPATH:
        raise BadRequest(f"{name} is longer than {MAX_FILEPATH} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: no file has that name
        raise BadRequest(f"{name} is not valid Unicode (it holds a lone surrogate)") from None
    if "\x00" in value or "\\" in value:
        raise BadRequest(f"{name} holds characters that are not allowed", 403)
    path = Path(value)
    if value.startswith("~"):
        raise BadRequest(f"{name} must be relative to the project folder or absolute, "
                         "without ~", 403)
    # Refused even where it would resolve inside: a '..' is how escapes are written.
    if ".." in path.parts:
        raise BadRequest(f"{name} must not contain '..'", 403)
    if path.suffix.lower() != ".csv":
        raise BadRequest(f"{name} must name a .csv file", 403)
    real = Path(os.path.realpath(root / path))  # an absolute path replaces root
    allowed = [Path(os.path.realpath(folder)) for folder in folders]
    if not any(real.is_relative_to(folder) and real != folder for folder in allowed):
        raise BadRequest(f"{name} is outside the data folders (the input, test data and output "
                         "folders of the configuration)", 403)
    try:
        found = real.is_file()
    except OSError:  # e.g. a name longer than the file system allows
        found = False
    if not found:
        raise BadRequest(f"no such data file: {value[:200]}", 404)
    return real


def _row_errors(rejects: Sequence[dict]) -> str:
    shown = [f"row {r['line']}: {r['reason']}" for r in rejects[:5]]
    more = f" (and {len(rejects) - 5} more)" if len(rejects) > 5 else ""
    return "; ".join(shown) + more


def _validated(rows: list[list[str]], columns: list[str], where: str) -> pd.DataFrame:
    """Validate rows of strings holding ``columns`` with the ingestion rules, features only."""
    missing = [col for col in FEATURES if col not in columns]
    if missing:
        raise BadRequest(f"{where} lacks {', '.join(missing)}")
    index = [columns.index(col) for col in FEATURES]
    picked = [[row[i] for i in index] for row in rows]
    frame, rejects = validate_records(picked, list(range(len(picked))), "request", FEATURES)
    if rejects:
        raise BadRequest(_row_errors(rejects))
    return frame


def _cell(value: object, row: int, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, dict, list)):
        raise BadRequest(f"row {row}: {column} is not a number: {value!r}"[:200])
    return str(value)


def frame_from_records(records: object) -> pd.DataFrame:
    """Features of a list of {column: value} objects."""
    if not isinstance(records, list) or not records:
        raise BadRequest("records must be a non-empty list of objects")
    rows = []
    for number, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"row {number}: each record must be an object")
        missing = [col for col in FEATURES if col not in record]
        if missing:
            raise BadRequest(f"row {number}: missing {', '.join(missing)}")
        rows.append([_cell(record[col], number, col) for col in FEATURES])
    return _validated(rows, list(FEATURES), "records")


def frame_from_split(split: object) -> pd.DataFrame:
    """Features of MLflow's dataframe_split form: {"columns": [...], "data": [[...], ...]}."""
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list) \
            or not isinstance(split.get("data"), list) or not split["data"]:
        raise BadRequest("dataframe_split must hold a 'columns' list and a non-empty 'data' list")
    columns = [str(c) for c in split["columns"]]
    rows = []
    for number, row in enumerate(split["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadRequest(f"row {number}: expected a list of {len(columns)} values")
        rows.append([_cell(v, number, columns[i]) for i, v in enumerate(row)])
    return _validated(rows, columns, "dataframe_split")


def frame_from_csv_text(text: str, where: str = "the CSV body") -> pd.DataFrame:
    """Features of CSV text with a header row; columns besides the features (the course's
    ``corporation`` and ``exited``) are not read."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise BadRequest(f"unreadable CSV in {where}: {exc}") from None
    if len(rows) < 2:
        raise BadRequest(f"{where} needs a header row and at least one data row")
    columns = [c.strip().lstrip("\ufeff").lower() for c in rows[0]]
    body = rows[1:]
    for number, row in enumerate(body):
        if len(row) != len(columns):
            raise BadRequest(f"row {number}: expected {len(columns)} fields, found {len(row)}")
    return _validated(body, columns, f"the CSV header of {where}")


def frame_from_csv_bytes(data: bytes, where: str = "the CSV body") -> pd.DataFrame:
    """Features of CSV bytes (UTF-8, with or without a byte-order mark)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest(f"{where} is not UTF-8") from None
    return frame_from_csv_text(text, where)


def frame_from_file(path: Path) -> pd.DataFrame:
    """Features of a data file, validated with the ingestion rules."""
    result = read_input_file(path, FEATURES)
    if not result.usable:
        raise BadRequest(f"{path.name}: {result.reason}")
    if result.rejects:
        raise BadRequest(f"{path.name}: " + "; ".join(
            f"line {r['line']}: {r['reason']}" for r in result.rejects[:5]))
    return result.frame


def frame_from_rows(key: str, value: object) -> pd.DataFrame:
    """Features of the rows of a JSON body under key: records, dataframe_records or
    dataframe_split."""
    if key == "dataframe_split":
        return frame_from_split(value)
    return frame_from_records(value)
