"""Loading one input file and reading its header: what every reader of input files shares.

The file's bytes with their size, time and checksum (``load_input_file``), why bytes are not CSV
text (``binary_reason``), a file set aside with its reason (``refuse_file``), and the positions
of the columns in a header row (``read_header``). Standard library and numpy only: the append
of plain files (pipeline.ingest.append) reads through here without pandas or pyarrow, and the
general parser (pipeline.ingest.records) starts here too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.files import sha256_bytes
from pipeline.core.history import utc_now
from pipeline.core.schema import COLUMNS, TARGET
from pipeline.ingest.inputs import printable, safe_name

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_MAGIC = {
    b"\x1f\x8b": "gzip-compressed",
    b"PK\x03\x04": "a zip archive",
    b"BZh": "bzip2-compressed",
    b"\xfd7zXZ": "xz-compressed",
    b"%PDF": "a PDF document",
}
_OTHER_DELIMITERS = (";", "\t", "|")


@dataclass
class PlainRows:
    """Accepted rows held without pandas: the names, and the other columns as int64 (a row
    per record, in the order of schema.COLUMNS after the name)."""

    names: list[str]
    numbers: np.ndarray


@dataclass
class FileResult:
    """What ingestion made of one input file."""

    name: str
    path: Path
    size: int = 0
    mtime: float = 0.0
    mtime_ns: int = 0
    sha256: str = ""
    rows_read: int = 0
    frame: pd.DataFrame | None = None
    rejects: list[dict] = field(default_factory=list)
    reason: str | None = None
    note: str | None = None
    duplicates_dropped: int = 0
    hashes: tuple | None = field(default=None, repr=False)  # row hashes of frame (rowhash)
    block: tuple | None = field(default=None, repr=False)  # (frame, begin, end) it slices
    seconds: float = 0.0
    ingested_at: str = ""
    # False for an unlabelled batch (no exited column, or exited empty on every row): its rows
    # hold schema.UNLABELLED and never reach finaldata.csv (pipeline.ingest.unlabelled).
    labelled: bool = True
    # The accepted rows when the append of plain files read them without pandas
    # (pipeline.ingest.append): frame is then None until a caller asks for it.
    plain: PlainRows | None = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        """True when the file could be read as a table of client records."""
        return self.reason is None

    @property
    def rows_accepted(self) -> int:
        """Rows that passed validation (before duplicates are dropped)."""
        if self.frame is not None:
            return len(self.frame)
        return 0 if self.plain is None else len(self.plain.names)


def refuse_file(path: Path, reason: str, result: FileResult | None = None) -> FileResult:
    result = result or FileResult(name=safe_name(path.name), path=path)
    result.reason = reason
    result.rejects = [{"source_file": result.name, "line": "", "reason": f"file: {reason}",
                       "raw": ""}]
    return result


def binary_reason(data: bytes) -> str | None:
    """Why a file's bytes are not CSV text (an archive, a document, NUL bytes); else None."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return f"{kind} file, not CSV text"
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "binary content (NUL bytes), not CSV text"
    return None


class UnusableFile(ValueError):
    """A file that cannot be read as a table of client records at all."""


class MissingTarget(UnusableFile):
    """A header with every column but exited: an unlabelled batch, where one is welcome."""


def read_header(header: list[str], columns: tuple[str, ...] = COLUMNS
                ) -> tuple[list[int], int, str | None]:
    """(position of each of ``columns``, row width, note) of a header row; or UnusableFile."""
    names = [cell.strip().lstrip("\ufeff").strip('"').lower() for cell in header]
    if len(names) == 1:
        for delim in _OTHER_DELIMITERS:
            if delim in names[0]:
                raise UnusableFile(f"wrong delimiter {delim!r}: fields must be separated "
                                   "by commas")
    missing = [col for col in columns if col not in names]
    if missing:
        found = ", ".join(printable(n) for n in names[:10])
        kind = MissingTarget if missing == [TARGET] else UnusableFile
        raise kind(f"missing columns {', '.join(missing)} (found: {found})")
    doubled = [col for col in columns if names.count(col) > 1]
    if doubled:
        raise UnusableFile(f"repeated columns {', '.join(doubled)}")
    extra = [printable(n) for n in names if n not in columns]
    note = f"extra columns dropped: {', '.join(extra)}" if extra else None
    return [names.index(col) for col in columns], len(names), note


def load_input_file(path: Path) -> tuple[FileResult, bytes | None]:
    """A file's bytes with its size, time and checksum; None (and the reason) when set aside."""
    started = time.perf_counter()
    result = FileResult(name=path.name, path=path, ingested_at=utc_now())
    try:
        stat = path.stat()
        result.size, result.mtime, result.mtime_ns = stat.st_size, stat.st_mtime, stat.st_mtime_ns
        data = path.read_bytes()
        after = path.stat()
    except OSError as exc:
        return refuse_file(path, f"cannot read: {exc.strerror or exc}", result), None
    if len(data) != stat.st_size or (after.st_size, after.st_mtime_ns) != (stat.st_size,
                                                                            stat.st_mtime_ns):
        # Still being written: its rows are read whole by the next run (cycle), not half now.
        return refuse_file(path, "file changed while it was being read (still being "
                                  "written?): skipped this run, read again by the next",
                           result), None
    result.sha256 = sha256_bytes(data)
    if not data.strip():
        return refuse_file(path, "empty file", result), None
    result.seconds = time.perf_counter() - started
    return result, data


