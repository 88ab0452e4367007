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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import batchread, fastcsv, rowhash
from pipeline.cli import base_parser, setup_logging
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.files import atomic_open
from pipeline.history import History
from pipeline.inputs import printable, scan_input_folder
from pipeline.records import (  # noqa: F401 - the parsing API, re-exported for the stages
    FileResult,
    UnusableFile,
    load_input_file,
    parse_csv_text,
    parse_loaded_file,
    read_input_file,
    refuse_file,
    validate_records,
)
from pipeline.schema import COLUMNS, FEATURES

logger = logging.getLogger(__name__)

FINAL_DATA = "finaldata.csv"
REJECTED = "rejected.csv"
INGESTED_FILES = "ingestedfiles.txt"
REJECT_COLUMNS = ("source_file", "line", "reason", "raw")

@dataclass
class IngestResult:
    """The merged data and what became of each file."""

    data: pd.DataFrame
    files: list[FileResult]
    mode: str = "rebuild"  # or "append": data and files are then only what this run added
    rows_total: int | None = None  # rows of finaldata.csv after an append
    # (h1, h2, picks): the pairs h1[picks], h2[picks] are the row hashes (pipeline.rowhash) of
    # data's rows, in ascending h1: the row index of a rebuild.
    hashes: tuple | None = field(default=None, repr=False)

    @property
    def rows_kept(self) -> int:
        """Rows of finaldata.csv after this run."""
        return len(self.data) if self.rows_total is None else self.rows_total

    @property
    def rejects(self) -> list[dict]:
        """Every rejected row and file, in file order."""
        return [row for result in self.files for row in result.rejects]


def _integral_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Write whole-number features as integers, as the source files have them."""
    for col in FEATURES:
        if frame[col].dtype.kind in "iu":
            continue
        values = frame[col].to_numpy(dtype=float)
        if len(values) and np.all(np.mod(values, 1) == 0) and values.max() < 2**53:
            frame[col] = values.astype("int64")
    return frame


def _accepted_rows(files: list[FileResult]) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The accepted rows of every file in order and each row's file position; or None.

    Files read together (pipeline.batchread) are consecutive slices of one frame: runs of them
    are taken as one slice, not copied file by file.
    """
    used = [(i, r) for i, r in enumerate(files) if r.frame is not None]
    if not used:
        return None
    pieces: list[list] = []  # [frame, begin, end] or [frame, None, None]
    for _, result in used:
        block = result.block
        last = pieces[-1] if pieces else None
        if block is not None and last is not None and last[0] is block[0] and last[2] == block[1]:
            last[2] = block[2]
        else:
            pieces.append(list(block) if block is not None else [result.frame, None, None])
    frames = [frame if begin is None else frame.iloc[begin:end]
              for frame, begin, end in pieces]
    merged = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(frames) == 1:
        merged = merged.reset_index(drop=True)
    owners = np.repeat([i for i, _ in used], [len(r.frame) for _, r in used])
    return merged, owners


def tagged_rows(files: list[FileResult]) -> pd.DataFrame | None:
    """The accepted rows of every file in order, with _file, the file's position; or None."""
    found = _accepted_rows(files)
    if found is None:
        return None
    merged = found[0].copy(deep=False)
    merged["_file"] = found[1]
    return merged


def merge_with_hashes(files: list[FileResult]) -> tuple[pd.DataFrame, tuple | None]:
    """The union of the accepted rows of every file, exact duplicates dropped (first kept),
    and its row hashes as IngestResult.hashes holds them."""
    found = _accepted_rows(files)
    if found is None:
        return pd.DataFrame({col: pd.Series([], dtype=object) for col in COLUMNS}), None
    merged, owners = found
    known = [r.hashes for r in files if r.frame is not None]
    precomputed = None if any(h is None for h in known) else (
        np.concatenate([h[0] for h in known]), np.concatenate([h[1] for h in known]))
    found = rowhash.find_duplicates(merged, hashes=precomputed)
    duplicated = found.duplicated
    if duplicated.any():
        files_of, counts = np.unique(owners[duplicated], return_counts=True)
        for i, count in zip(files_of, counts, strict=True):
            files[int(i)].duplicates_dropped = int(count)
        merged = merged.loc[~duplicated, list(COLUMNS)].reset_index(drop=True)
    else:
        merged = merged[list(COLUMNS)]
    return _integral_columns(merged), (found.h1, found.h2, found.kept_in_order())


def ingest_folder(folder: Path) -> IngestResult:
    """Read, validate and merge every *.csv file of a folder."""
    def parse(item: tuple[FileResult, bytes]) -> FileResult:
        result = parse_loaded_file(*item)
        if result.frame is not None:  # hashed here, in parallel, for the merge
            result.hashes = rowhash.row_hashes(result.frame)
        return result

    def load(entry) -> tuple[FileResult, bytes | None]:
        if entry.refused:
            return refuse_file(entry.path, entry.refused), None
        return load_input_file(entry.path)

    # pyarrow, numpy and hashlib release the GIL: two threads work at once on two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = list(pool.map(load, scan_input_folder(folder)))
        results = [result for result, _ in loaded]
        rest = batchread.read_plain_files(loaded, pool)
        parsed = pool.map(parse, [loaded[position] for position in rest])
        for position, result in zip(rest, parsed, strict=True):
            results[position] = result
    del loaded  # the files' bytes
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
            with ThreadPoolExecutor(max_workers=1) as pool:  # the row index alongside the data
                index = pool.submit(incremental.write_row_index, settings, result)
                write_outputs(result, settings.output_folder)
                segments = index.result()
            incremental.remember(settings, result, segments)
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
