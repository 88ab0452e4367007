"""Incremental ingestion: when files were only added, read only them and append.

After each rebuild or append, ``finaldata.state.json`` records every input file (size,
modification time, SHA-256), the size and row count of finaldata.csv and the segments of its
row index (``finaldata.rowindex``, pipeline.ingest.rowindex). The next run appends when

- every recorded file is still there, unchanged (same size and time, or the same checksum),
- the new files sort after every recorded one (as dated extracts do), so the rows they add come
  last in a rebuild too, and
- finaldata.csv, the index and the feature columns are as recorded (integers throughout);

it then reads the new files, drops rows seen before (in the new files, or in the index), appends
the rest, and writes exactly what a rebuild would write. Anything else (a changed or vanished
file, a new file sorting earlier, a crash that left sizes unrecorded) answers None, and the caller
rebuilds from every file. The state is written last, so a run killed midway is rebuilt next time.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os

import numpy as np
import pandas as pd

from pipeline.core.config import Settings
from pipeline.core.files import atomic_open, atomic_write_text
from pipeline.core.names import FINAL_DATA, INGEST_STATE, INGESTED_FILES, REJECTED, ROW_INDEX
from pipeline.core.schema import COLUMNS, FEATURES
from pipeline.ingest import fastcsv, rowhash, rowindex
from pipeline.ingest.inputs import compare_folder, scan_input_folder
from pipeline.ingest.merge import REJECT_COLUMNS, IngestResult, ingested_line, tagged_rows
from pipeline.ingest.records import read_input_file, refuse_file

logger = logging.getLogger("ingestion")


def forget(output_folder) -> None:
    """Remove the state, so that nothing appends to outputs a rebuild is about to replace."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(output_folder / INGEST_STATE)


def _file_record(result) -> dict:
    record = {"size": result.size, "mtime_ns": result.mtime_ns, "sha256": result.sha256}
    if not result.sha256:  # set aside before reading: a link, a folder, an unprintable name
        record["refused"] = result.reason or True
    return record


def write_row_index(settings: Settings, result) -> list[int] | None:
    """Write the row index of a rebuild's finaldata.csv; its segments (None: no data, no index)."""
    if result.data.empty or result.hashes is None:
        return None
    return rowindex.write_index(settings.output_folder / ROW_INDEX, *result.hashes)


def remember(settings: Settings, result, segments: list[int] | None) -> None:
    """Record the state of a rebuild's outputs and index (nothing when there is no data)."""
    out = settings.output_folder
    if segments is None:
        return
    _save(settings, {
        "files": {r.path.name: _file_record(r) for r in result.files},
        "finaldata_size": os.stat(out / FINAL_DATA).st_size,
        "rows": len(result.data),
        "integral": all(result.data[col].dtype.kind in "iu" for col in FEATURES),
        "segments": segments,
    })


def _save(settings: Settings, state: dict) -> None:
    state["input_folder"] = settings.input_key
    atomic_write_text(settings.output_folder / INGEST_STATE, json.dumps(state, indent=1) + "\n")


def _load(settings: Settings) -> dict | None:
    out = settings.output_folder
    try:
        state = json.loads((out / INGEST_STATE).read_text(encoding="utf-8"))
        # The folder's key (relative to the config), or its absolute path as older releases
        # recorded it: taken over, since the state is saved with the key after this run.
        if state["input_folder"] not in (settings.input_key, str(settings.input_folder)) \
                or not state["integral"]:
            return None
        if os.stat(out / FINAL_DATA).st_size != state["finaldata_size"]:
            return None
        if os.stat(out / ROW_INDEX).st_size != rowindex.segment_bytes(state["segments"]):
            return None
        for name in (REJECTED, INGESTED_FILES):
            os.stat(out / name)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


def new_files(settings: Settings, state: dict) -> list | None:
    """The input entries to append, or None when only a rebuild gives the right result."""
    known = state["files"]
    found = compare_folder(scan_input_folder(settings.input_folder), known, hash_added=False)
    if found.changed or found.vanished or not found.added:
        return None
    if known and found.added[0].name <= max(known):
        return None
    known.update(found.records)  # touched files: their new times, saved with the state
    return found.added


def _integral(frame: pd.DataFrame) -> pd.DataFrame | None:
    """frame (changed in place) with the features as int64, or None when one is not whole."""
    for col in FEATURES:
        values = frame[col].to_numpy(dtype=float)
        if len(values) and not (np.all(np.mod(values, 1) == 0) and values.max() < 2**53):
            return None
        frame[col] = values.astype("int64")
    return frame


def _rejected_rows(rows: list[dict]) -> bytes:
    text = io.StringIO(newline="")
    csv.DictWriter(text, fieldnames=REJECT_COLUMNS).writerows(rows)
    return text.getvalue().encode("utf-8")


def _append_rows(path, size: int, rows: pd.DataFrame) -> int:
    """Append rows to a CSV file of ``size`` bytes; on any failure cut it back to that size."""
    with open(path, "r+b") as handle:
        try:
            handle.truncate(size)
            handle.seek(size)
            if len(rows):
                fastcsv.write_frame(rows, handle, header=False)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.truncate(size)
            raise
        return handle.tell()


def ingest_new_files(settings: Settings):
    """Append the new files' rows when that gives what a rebuild would; else None."""
    state = _load(settings)
    added = new_files(settings, state) if state is not None else None
    if added is None:
        return None
    out = settings.output_folder
    results = [refuse_file(e.path, e.refused) if e.refused
               else read_input_file(e.path) for e in added]
    batch = tagged_rows(results)
    if batch is None or batch.empty:
        keep, h1, h2 = pd.DataFrame(columns=list(COLUMNS)), np.zeros(0, "u8"), np.zeros(0, "u8")
    else:
        found = rowhash.find_duplicates(batch)
        repeated, h1, h2 = found.duplicated, found.h1, found.h2
        drop = repeated | rowindex.contains(out / ROW_INDEX, state["segments"], h1, h2)
        for i, count in batch.loc[drop, "_file"].value_counts().items():
            results[int(i)].duplicates_dropped = int(count)
        keep = _integral(batch.loc[~drop, list(COLUMNS)].reset_index(drop=True))
        if keep is None:
            return None  # the rebuild writes such a column as floats, every row of it
        h1, h2 = h1[~drop], h2[~drop]

    size = _append_rows(out / FINAL_DATA, state["finaldata_size"], keep)
    segments = rowindex.append_segment(out / ROW_INDEX, state["segments"], h1, h2)
    new_rejects = [row for r in results for row in r.rejects]
    with atomic_open(out / REJECTED, "wb") as handle:
        handle.write((out / REJECTED).read_bytes() + _rejected_rows(new_rejects))
    lines = "".join(ingested_line(r) + "\n" for r in results if r.usable)
    with atomic_open(out / INGESTED_FILES, "wb") as handle:
        handle.write((out / INGESTED_FILES).read_bytes() + lines.encode("utf-8"))
    state["files"].update({r.path.name: _file_record(r) for r in results})
    state.update(finaldata_size=size, rows=state["rows"] + len(keep), segments=segments)
    _save(settings, state)
    for r in results:
        logger.info("file %s appended: %d rows read, %d accepted, %d rejected, %d duplicates%s",
                    r.name, r.rows_read, r.rows_accepted, len(r.rejects), r.duplicates_dropped,
                    f" ({r.reason or r.note})" if r.reason or r.note else "")
    return IngestResult(data=keep, files=results, mode="append",
                                  rows_total=state["rows"])
