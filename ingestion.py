"""Ingestion: merge the CSV files of the input folder into one validated, de-duplicated table.

Writes, in the output folder:
- finaldata.csv: the accepted rows of every usable file, exact duplicates dropped;
- rejected.csv: every row or file set aside, with its source, line number, reason and raw values;
- ingestedfiles.txt: one ingested file per line, with its time, row counts and checksum;
and records per-file metrics in the history database.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import fastcsv, rowhash
from pipeline.cli import base_parser, setup_logging
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.csvlines import LineRecords
from pipeline.files import atomic_open, sha256_bytes
from pipeline.history import History, utc_now
from pipeline.inputs import printable, safe_name, scan_input_folder
from pipeline.schema import COLUMNS, FEATURES, ID, TARGET

logger = logging.getLogger(__name__)

FINAL_DATA = "finaldata.csv"
REJECTED = "rejected.csv"
INGESTED_FILES = "ingestedfiles.txt"
REJECT_COLUMNS = ("source_file", "line", "reason", "raw")

_MAGIC = {
    b"\x1f\x8b": "gzip-compressed",
    b"PK\x03\x04": "a zip archive",
    b"BZh": "bzip2-compressed",
    b"\xfd7zXZ": "xz-compressed",
    b"%PDF": "a PDF document",
}
_OTHER_DELIMITERS = (";", "\t", "|")
RAW_LIMIT = 10_000  # characters of a rejected row kept in rejected.csv


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
    seconds: float = 0.0
    ingested_at: str = ""

    @property
    def usable(self) -> bool:
        """True when the file could be read as a table of client records."""
        return self.reason is None

    @property
    def rows_accepted(self) -> int:
        """Rows that passed validation (before duplicates are dropped)."""
        return 0 if self.frame is None else len(self.frame)


@dataclass
class IngestResult:
    """The merged data and what became of each file."""

    data: pd.DataFrame
    files: list[FileResult]
    mode: str = "rebuild"  # or "append": data and files are then only what this run added
    rows_total: int | None = None  # rows of finaldata.csv after an append
    hashes: tuple | None = field(default=None, repr=False)  # row hashes of data (rowhash)

    @property
    def rows_kept(self) -> int:
        """Rows of finaldata.csv after this run."""
        return len(self.data) if self.rows_total is None else self.rows_total

    @property
    def rejects(self) -> list[dict]:
        """Every rejected row and file, in file order."""
        return [row for result in self.files for row in result.rejects]


def _refuse_file(path: Path, reason: str, result: FileResult | None = None) -> FileResult:
    result = result or FileResult(name=safe_name(path.name), path=path)
    result.reason = reason
    result.rejects = [{"source_file": result.name, "line": "", "reason": f"file: {reason}",
                       "raw": ""}]
    return result


def _decode(data: bytes) -> tuple[str | None, str | None]:
    """Text of a file's bytes, or a reason why it is not a UTF-8 text file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            return None, "UTF-16 byte-order mark but undecodable content"
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return None, f"{kind} file, not CSV text"
    if b"\x00" in data:
        return None, "binary content (NUL bytes), not CSV text"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # Invalid UTF-8 bytes become lone surrogates, so only the rows that hold them are rejected.
    return data.decode("utf-8", errors="surrogateescape"), None


def _raw(fields: list[str]) -> str:
    text = printable(",".join(fields))  # capped: rejected.csv must stay readable by csv readers
    return text if len(text) <= RAW_LIMIT else f"{text[:RAW_LIMIT]}... ({len(text)} characters)"


class UnusableFile(ValueError):
    """A file that cannot be read as a table of client records at all."""


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
        raise UnusableFile(f"missing columns {', '.join(missing)} (found: {found})")
    doubled = [col for col in columns if names.count(col) > 1]
    if doubled:
        raise UnusableFile(f"repeated columns {', '.join(doubled)}")
    extra = [printable(n) for n in names if n not in columns]
    note = f"extra columns dropped: {', '.join(extra)}" if extra else None
    return [names.index(col) for col in columns], len(names), note


def parse_plain_bytes(data: bytes, name: str, columns: tuple[str, ...] = COLUMNS
                      ) -> tuple[pd.DataFrame, list[dict], int, str | None] | None:
    """parse_csv_text's answer for a plain file (pipeline.fastcsv), or None for the others."""
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


def read_input_file(path: Path, columns: tuple[str, ...] = COLUMNS) -> FileResult:
    """Read and validate one input file holding ``columns``; never raises for bad content."""
    started = time.perf_counter()
    result = FileResult(name=path.name, path=path, ingested_at=utc_now())
    try:
        stat = path.stat()
        result.size, result.mtime, result.mtime_ns = stat.st_size, stat.st_mtime, stat.st_mtime_ns
        data = path.read_bytes()
        after = path.stat()
    except OSError as exc:
        return _refuse_file(path, f"cannot read: {exc.strerror or exc}", result)
    if len(data) != stat.st_size or (after.st_size, after.st_mtime_ns) != (stat.st_size,
                                                                            stat.st_mtime_ns):
        # Still being written: its rows are read whole by the next run (cycle), not half now.
        return _refuse_file(path, "file changed while it was being read (still being "
                                  "written?): skipped this run, read again by the next", result)
    result.sha256 = sha256_bytes(data)
    if not data.strip():
        return _refuse_file(path, "empty file", result)
    text, reason = _decode(data)
    if reason:
        return _refuse_file(path, reason, result)
    try:
        parsed = parse_plain_bytes(data, path.name, columns)
        frame, rejects, read, note = parsed or parse_csv_text(text, path.name, columns)
    except UnusableFile as exc:
        return _refuse_file(path, str(exc), result)
    result.frame, result.rejects, result.rows_read, result.note = frame, rejects, read, note
    result.seconds = time.perf_counter() - started
    return result


def _integral_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Write whole-number features as integers, as the source files have them."""
    for col in FEATURES:
        values = frame[col].to_numpy(dtype=float)
        if len(values) and np.all(np.mod(values, 1) == 0) and values.max() < 2**53:
            frame[col] = values.astype("int64")
    return frame


def merge_results(files: list[FileResult]) -> pd.DataFrame:
    """The union of the accepted rows of every file, exact duplicates dropped (first kept)."""
    return merge_with_hashes(files)[0]


def tagged_rows(files: list[FileResult]) -> pd.DataFrame | None:
    """The accepted rows of every file in order, with _file, the file's position; or None."""
    used = [(i, r.frame) for i, r in enumerate(files) if r.frame is not None]
    if not used:
        return None
    merged = pd.concat([frame for _, frame in used], ignore_index=True)
    merged["_file"] = np.repeat([i for i, _ in used], [len(frame) for _, frame in used])
    return merged


def merge_with_hashes(files: list[FileResult]) -> tuple[pd.DataFrame, tuple | None]:
    """merge_results, and the two row hashes (pipeline.rowhash) of each row it keeps."""
    merged = tagged_rows(files)
    if merged is None:
        return pd.DataFrame({col: pd.Series([], dtype=object) for col in COLUMNS}), None
    known = [r.hashes for r in files if r.frame is not None]
    precomputed = None if any(h is None for h in known) else (
        np.concatenate([h[0] for h in known]), np.concatenate([h[1] for h in known]))
    duplicated, h1, h2 = rowhash.find_duplicates(merged, hashes=precomputed)
    dropped = merged.loc[duplicated, "_file"].value_counts()
    for i, count in dropped.items():
        files[int(i)].duplicates_dropped = int(count)
    merged = merged.loc[~duplicated, list(COLUMNS)].reset_index(drop=True)
    return _integral_columns(merged), (h1[~duplicated], h2[~duplicated])


def ingest_folder(folder: Path) -> IngestResult:
    """Read, validate and merge every *.csv file of a folder."""
    def read(entry) -> FileResult:
        if entry.refused:
            return _refuse_file(entry.path, entry.refused)
        result = read_input_file(entry.path)
        if result.frame is not None:  # hashed here, in parallel, for the merge
            result.hashes = rowhash.row_hashes(result.frame)
        return result

    # pyarrow and numpy release the GIL: two threads read two files at once on two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(read, scan_input_folder(folder)))
    data, hashes = merge_with_hashes(results)
    for result in results:
        if result.reason:
            logger.warning("file %s set aside: %s", result.name, result.reason)
        else:
            logger.info("file %s: %d rows read, %d accepted, %d rejected, %d duplicates%s",
                        result.name, result.rows_read, result.rows_accepted,
                        len(result.rejects), result.duplicates_dropped,
                        f" ({result.note})" if result.note else "")
    return IngestResult(data=data, files=results, hashes=hashes)


def ingested_line(result: FileResult) -> str:
    """One line of ingestedfiles.txt: the file name, then tab-separated key=value fields."""
    fields = [
        result.name,
        f"ingested_at={result.ingested_at}",
        f"rows_read={result.rows_read}",
        f"rows_accepted={result.rows_accepted}",
        f"rows_rejected={len(result.rejects)}",
        f"duplicates_dropped={result.duplicates_dropped}",
        f"size={result.size}",
        f"sha256={result.sha256}",
    ]
    return "\t".join(fields)


def parse_ingested_files(text: str) -> list[dict]:
    """Read ingestedfiles.txt back: a dict per line with at least 'name'."""
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, *pairs = line.split("\t")
        record = {"name": name}
        record.update(pair.split("=", 1) for pair in pairs if "=" in pair)
        records.append(record)
    return records


def write_outputs(result: IngestResult, output_folder: Path) -> None:
    """Write finaldata.csv, rejected.csv and ingestedfiles.txt, each atomically."""
    with atomic_open(output_folder / REJECTED, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=REJECT_COLUMNS)
        writer.writeheader()
        writer.writerows(result.rejects)
    # With no usable data the outputs say so (a header and no rows) rather than keep describing
    # files that are no longer there or no longer usable.
    with atomic_open(output_folder / FINAL_DATA, "wb") as handle:
        if result.data.empty:
            handle.write((",".join(COLUMNS) + "\n").encode("utf-8"))
        else:
            fastcsv.write_frame(result.data, handle)
    lines = [ingested_line(r) for r in result.files if r.usable]
    with atomic_open(output_folder / INGESTED_FILES, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))


def record_history(history: History, run_id: int, result: IngestResult) -> None:
    """Record per-file ingestion metrics of a run."""
    history.insert_many("ingested_files", [
        {"run_id": run_id, "name": r.name, "path": printable(str(r.path)), "size": r.size,
         "mtime": r.mtime, "sha256": r.sha256, "rows_read": r.rows_read,
         "rows_accepted": r.rows_accepted, "rows_rejected": len(r.rejects),
         "duplicates_dropped": r.duplicates_dropped, "seconds": round(r.seconds, 6),
         "status": "ingested" if r.usable else "rejected", "reason": r.reason or r.note}
        for r in result.files
    ])


def run_ingestion(settings: Settings) -> IngestResult:
    """Ingest the configured input folder, write the outputs and record the run."""
    if not settings.input_folder.is_dir():
        raise FileNotFoundError(f"input folder not found: {settings.input_folder}")
    history = History(settings.history_db)
    run_id = history.start_run("ingestion", settings.name)
    from pipeline import incremental  # it builds on this module

    try:
        result = incremental.ingest_new_files(settings)  # None: a rebuild is needed
        if result is None:
            incremental.forget(settings.output_folder)
            result = ingest_folder(settings.input_folder)
            write_outputs(result, settings.output_folder)
            incremental.remember(settings, result)
        record_history(history, run_id, result)
    except BaseException as exc:
        history.finish_run(run_id, "failed", str(exc))
        raise
    summary = summarize(result)
    logger.info("%s: %d rows in %s", "appended new files" if result.mode == "append"
                else "rebuilt from every file", result.rows_kept, settings.output_folder)
    history.finish_run(run_id, "ok" if result.rows_kept else "no-data", summary)
    return result


def summarize(result: IngestResult) -> dict:
    """Counts of a run, for the log and the history."""
    return {
        "files": sum(r.usable for r in result.files),
        "files_rejected": sum(not r.usable for r in result.files),
        "rows_read": sum(r.rows_read for r in result.files),
        "rows_rejected": sum(len(r.rejects) for r in result.files if r.usable),
        "duplicates_dropped": sum(r.duplicates_dropped for r in result.files),
        "rows_kept": result.rows_kept,
    }


def main(argv: list[str] | None = None) -> int:
    """Ingest the input folder named by the configuration."""
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        result = run_ingestion(settings)
    except (ConfigError, FileNotFoundError, OSError) as exc:
        print(f"ingestion failed: {exc}", file=sys.stderr)
        return 1
    s = summarize(result)
    if not s["rows_kept"]:
        print(f"ingestion failed: no usable data in {settings.input_folder} "
              f"({s['files_rejected']} files set aside, {s['rows_rejected']} rows rejected; "
              f"see {settings.output_folder / REJECTED})", file=sys.stderr)
        return 1
    print(f"ingested {s['files']} files: {s['rows_read']} rows read, {s['rows_kept']} kept, "
          f"{s['rows_rejected']} rejected, {s['duplicates_dropped']} duplicates dropped, "
          f"{s['files_rejected']} files set aside -> {settings.output_folder / FINAL_DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
