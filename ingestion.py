"""Ingestion: merge the CSV files of the input folder into one validated, de-duplicated table.

Writes, in the output folder:
- finaldata.csv: the accepted rows of every usable file, exact duplicates dropped;
- rejected.csv: every row or file set aside, with its source, line number, reason and raw values;
- ingestedfiles.txt: one ingested file per line, with its time, row counts and checksum;
and records per-file metrics in the history database.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import ConfigError, Settings, load_settings
from pipeline.core.history import History
from pipeline.core.names import FINAL_DATA, REJECTED
from pipeline.ingest.inputs import InputFile, printable, skipped_entries
from pipeline.ingest.outcome import IngestResult, summarize
from pipeline.ingest.update import update_outputs

logger = logging.getLogger(__name__)


def log_files(result: IngestResult) -> None:
    """The log line of each file of a run, appended or rebuilt."""
    verb = " appended" if result.mode == "append" else ""
    for r in result.files:
        if r.reason:
            logger.warning("file %s set aside: %s", r.name, r.reason)
        else:
            logger.info("file %s%s: %d rows read, %d accepted, %d rejected, %d duplicates%s",
                        r.name, verb, r.rows_read, r.rows_accepted, len(r.rejects),
                        r.duplicates_dropped, f" ({r.note})" if r.note else "")


def record_history(history: History, run_id: int, result: IngestResult,
                   skipped: Sequence[InputFile] = ()) -> None:
    """Record per-file ingestion metrics of a run, and the entries it did not read."""
    history.insert_many("ingested_files", [
        {"run_id": run_id, "name": r.name, "path": printable(str(r.path)), "size": r.size,
         "mtime": r.mtime, "sha256": r.sha256, "rows_read": r.rows_read,
         "rows_accepted": r.rows_accepted, "rows_rejected": len(r.rejects),
         "duplicates_dropped": r.duplicates_dropped, "seconds": round(r.seconds, 6),
         "status": ("ingested" if r.labelled else "unlabelled") if r.usable else "rejected",
         "reason": r.reason or r.note}
        for r in result.files
    ] + [
        {"run_id": run_id, "name": e.name, "path": printable(str(e.path)), "size": e.size,
         "mtime": e.mtime_ns / 1e9, "sha256": None, "rows_read": 0, "rows_accepted": 0,
         "rows_rejected": 0, "duplicates_dropped": 0, "seconds": 0.0, "status": "skipped",
         "reason": e.refused}
        for e in skipped
    ])


def run_ingestion(settings: Settings) -> IngestResult:
    """Ingest the configured input folder, write the outputs (pipeline.ingest.update: an
    append when it can, else a rebuild), log and record the run."""
    if not settings.input_folder.is_dir():
        raise FileNotFoundError(f"input folder not found: {settings.input_folder}")
    history = History(settings.history_db)
    with history.run("ingestion", settings.name) as run:
        result = update_outputs(settings)  # an append, or a rebuild from every file
        log_files(result)
        skipped = skipped_entries(settings.input_folder)
        for entry in skipped:
            logger.warning("%s in %s skipped: %s", entry.name, settings.input_folder,
                           entry.refused)
        record_history(history, run.id, result, skipped)
        run.status, run.summary = "ok" if result.rows_kept else "no-data", summarize(result)
        if skipped:
            run.summary["entries_skipped"] = len(skipped)
    logger.info("%s: %d rows in %s", "appended new files" if result.mode == "append"
                else "rebuilt from every file", result.rows_kept, settings.output_folder)
    return result


def merge_multiple_dataframe(settings: Settings | None = None):
    """The course's call: ingest the input folder named by config.json beside the scripts (or
    by ``settings``), writing finaldata.csv, rejected.csv and ingestedfiles.txt as
    ``python ingestion.py`` does; returns the merged data (finaldata.csv) as a DataFrame."""
    from pipeline.data.final import read_final_data  # pandas: only for this call's answer

    settings = settings or load_settings()
    run_ingestion(settings)
    return read_final_data(settings.output_folder / FINAL_DATA)


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
