"""Incremental ingestion: when files were only added, read only them and append.

finaldata.csv is in ingestion order: ``finaldata.state.json`` lists the input files in the
order they were first ingested (its ``files``, a JSON object kept in that order). A rebuild
keeps that order for the files it lists and puts any other after them, by name; a folder never
ingested is in name order. So a new file is appended whatever its name, and a row repeated across
files is kept where it came first in that order, by an append and a rebuild alike.

After each rebuild or append, the state records every input file (size, modification time,
SHA-256), the size and row count of finaldata.csv and the segments of its row index
(``finaldata.rowindex``, pipeline.ingest.rowindex: each row's hashes and byte offset). The next
run appends when

- every recorded file is still there, unchanged (same size and time, or the same checksum), and
- finaldata.csv, the index and the feature columns are as recorded (integers throughout), and
  rejected.csv is written as this release writes it;

it then reads the new files, drops the rows seen before and appends the rest. A row is seen
before when it equals, value by value, an earlier row of the new files, or the row of
finaldata.csv at the offset the index gives for its hashes: a hash only proposes, the values
decide, so an append writes exactly what a rebuild writes whatever the input (even rows crafted
to collide). The rows of new unlabelled batches are appended to unlabelleddata.csv the same
way (pipeline.ingest.unlabelled), its size recorded beside finaldata.csv's. Anything else (a
changed or vanished file, a crash that left sizes unrecorded) answers None, and the caller
rebuilds from every file, in the recorded order. The state is written last, so a run killed
midway is rebuilt next time.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from concurrent.futures import Future

import numpy as np
import pandas as pd

from pipeline.core.config import Settings
from pipeline.core.files import atomic_open, atomic_write_text
from pipeline.core.names import FINAL_DATA, INGEST_STATE, INGESTED_FILES, REJECTED, ROW_INDEX
from pipeline.core.schema import COLUMNS, FEATURES, ID
from pipeline.ingest import batchread, fastcsv, rowhash, rowindex, unlabelled
from pipeline.ingest.inputs import compare_folder, scan_input_folder
from pipeline.ingest.merge import (
    REJECTED_FORMAT,
    IngestResult,
    file_hashes,
    ingested_line,
    rejected_csv,
    tagged_rows,
)

logger = logging.getLogger(__name__)


def forget(settings: Settings) -> list[str]:
    """Make the state unusable for appending (a rebuild is about to replace the outputs), keeping
    the order in which this input folder's files were ingested; returns that order (names)."""
    path = settings.output_folder / INGEST_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        orders = _orders(state)
        files = state["files"] if _ours(settings, state) else {}
        order = [str(name) for name in files] or orders.get(settings.input_key, [])
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return []
    _save(settings, {"files": {}}, order)  # no files, no sizes: nothing appends to it
    return order


def _orders(state: dict) -> dict[str, list[str]]:
    """The ingestion order of every input folder that has written to this output folder.

    Two configs may share an output folder (the course's practice and production do): each
    folder's order is kept under its own key, so one config's rebuild never loses the other's.
    """
    orders = state.get("orders") if isinstance(state, dict) else None
    return {str(k): [str(n) for n in v] for k, v in orders.items() if isinstance(v, list)} \
        if isinstance(orders, dict) else {}


def _ours(settings: Settings, state: dict) -> bool:
    """True when a state describes this input folder: by its key (relative to the config), or
    by its absolute path, as older releases recorded it (taken over: saved with the key)."""
    return state.get("input_folder") in (settings.input_key, str(settings.input_folder))


def _file_record(result) -> dict:
    record = {"size": result.size, "mtime_ns": result.mtime_ns, "sha256": result.sha256}
    if not result.sha256:  # set aside before reading: a link, a folder, an unprintable name
        record["refused"] = result.reason or True
    return record


def write_row_index(settings: Settings, result, offsets: Future) -> list[int] | None:
    """Write the row index of a rebuild's finaldata.csv; its segments (None: no data, or the
    data was not written).

    The hashes are written at once; ``offsets`` (where each row of finaldata.csv begins) is
    waited for only then, so the index is written while finaldata.csv is.
    """
    if result.data.empty or result.hashes is None:
        return None
    h1, h2, picks = result.hashes  # picks: the kept rows' positions in ascending h1
    with contextlib.suppress(_NotWritten), \
            atomic_open(settings.output_folder / ROW_INDEX, "wb") as handle:
        rowindex.write_fields(handle, picks, h1, h2)
        starts = offsets.result()
        if starts is None:
            raise _NotWritten  # the index file is not published
        rowindex.write_fields(handle, None, starts[result.hash_rows])
        return [len(picks)]
    return None


class _NotWritten(Exception):
    """finaldata.csv was not written: no index for it."""


def remember(settings: Settings, result, segments: list[int] | None) -> None:
    """Record the state of a rebuild's outputs and index (nothing when there is no data)."""
    out = settings.output_folder
    if segments is None:
        return
    _save(settings, {
        "files": {r.path.name: _file_record(r) for r in result.files},  # in ingestion order
        "finaldata_size": os.stat(out / FINAL_DATA).st_size,
        "rows": len(result.data),
        "integral": all(result.data[col].dtype.kind in "iu" for col in FEATURES),
        "index_version": rowindex.VERSION,
        "rejected_format": REJECTED_FORMAT,
        "segments": segments,
        "unlabelled_size": unlabelled.recorded_size(out),
    })


def _save(settings: Settings, state: dict, order: list[str] | None = None) -> None:
    """Write the state of this input folder, keeping the other folders' ingestion orders; this
    folder's order is ``order`` when given, else the state's files in theirs."""
    path = settings.output_folder / INGEST_STATE
    try:
        orders = _orders(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        orders = {}
    orders[settings.input_key] = list(order) if order is not None else list(state["files"])
    state.update(input_folder=settings.input_key, orders=orders)
    atomic_write_text(path, json.dumps(state, indent=1) + "\n")


def _load(settings: Settings) -> dict | None:
    out = settings.output_folder
    try:
        state = json.loads((out / INGEST_STATE).read_text(encoding="utf-8"))
        if not _ours(settings, state) or not state["integral"] \
                or state.get("index_version") != rowindex.VERSION \
                or state.get("rejected_format") != REJECTED_FORMAT:
            return None
        if os.stat(out / FINAL_DATA).st_size != state["finaldata_size"]:
            return None
        if os.stat(out / ROW_INDEX).st_size != rowindex.segment_bytes(state["segments"]):
            return None
        if unlabelled.recorded_size(out) != state.get("unlabelled_size", 0):
            return None
        for name in (REJECTED, INGESTED_FILES):
            os.stat(out / name)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


def new_files(settings: Settings, state: dict) -> list | None:
    """The input entries to append (by name: after the recorded ones, as a rebuild puts them),
    or None when only a rebuild gives the right result."""
    known = state["files"]
    found = compare_folder(scan_input_folder(settings.input_folder), known, hash_added=False)
    if found.changed or found.vanished or not found.added:
        return None
    known.update(found.records)  # touched files: their new times (their places unchanged)
    return found.added


def _integral(frame: pd.DataFrame) -> pd.DataFrame | None:
    """frame (changed in place) with the features as int64, or None when one is not whole."""
    for col in FEATURES:
        if frame[col].dtype == np.int64:
            continue
        values = frame[col].to_numpy(dtype=float)
        if len(values) and not (np.all(np.mod(values, 1) == 0) and values.max() < 2**53):
            return None
        frame[col] = values.astype("int64")
    return frame


def _append_rows(path, size: int, rows: pd.DataFrame) -> tuple[int, np.ndarray]:
    """Append rows to a CSV file of ``size`` bytes; on any failure cut it back to that size.

    Returns the new size and where each appended row begins."""
    with open(path, "r+b") as handle:
        try:
            handle.truncate(size)
            handle.seek(size)
            starts = fastcsv.write_frame(rows, handle, header=False) if len(rows) \
                else np.zeros(0, np.int64)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.truncate(size)
            raise
        starts += size  # from the start of the file
        return handle.tell(), starts


def same_as_written(path, offsets: np.ndarray, frame: pd.DataFrame, rows: np.ndarray
                    ) -> np.ndarray:
    """For each pair (offsets[k], rows[k]): True when the record of finaldata.csv at that byte
    offset has the values of row rows[k] of frame (its name the same text, its numbers the same
    values, as the row hashes see them)."""
    names = frame[ID].to_numpy(dtype=object)[rows]
    numbers = frame[list(COLUMNS[1:])].to_numpy(dtype=np.float64)[rows]
    equal = np.zeros(len(rows), dtype=bool)
    with open(path, "rb") as handle:
        for k in np.argsort(offsets, kind="stable"):  # one pass through the file
            handle.seek(int(offsets[k]))
            line = handle.readline().decode("utf-8", "surrogateescape")
            fields = next(csv.reader([line]), [])  # a record is one line (no line break in it)
            if len(fields) != len(COLUMNS) or fields[0] != names[k]:
                continue
            with contextlib.suppress(ValueError):  # not a number: not the same row
                equal[k] = all(float(text) == value
                               for text, value in zip(fields[1:], numbers[k], strict=True))
    return equal


def ingest_new_files(settings: Settings):
    """Append the new files' rows when that gives what a rebuild would; else None."""
    state = _load(settings)
    added = new_files(settings, state) if state is not None else None
    if added is None:
        return None
    out = settings.output_folder
    results = batchread.read_entries(added)  # the plain files in bulk, as a rebuild reads them
    batch = tagged_rows(results)
    order = repeated = None
    if batch is None or batch.empty:
        keep, h1, h2 = pd.DataFrame(columns=list(COLUMNS)), np.zeros(0, "u8"), np.zeros(0, "u8")
    else:
        # Within the new files, value by value.
        found = rowhash.find_duplicates(batch, hashes=file_hashes(results))
        repeated = found.duplicated
        drop = repeated.copy()
        # Rows whose hashes the index holds (the others looked up in ascending h1: one sort for
        # all): each compared with the row at the recorded offset.
        rows, offsets = rowindex.candidates(out / ROW_INDEX, state["segments"], found.h1,
                                            found.h2, order=found.kept_in_order())
        if len(rows):
            drop[rows[same_as_written(out / FINAL_DATA, offsets, batch, rows)]] = True
        for i, count in batch.loc[drop, "_file"].value_counts().items():
            results[int(i)].duplicates_dropped = int(count)
        keep = _integral(batch.loc[~drop, list(COLUMNS)].reset_index(drop=True))
        if keep is None:
            return None  # the rebuild writes such a column as floats, every row of it
        h1, h2 = found.h1[~drop], found.h2[~drop]
        # The kept rows in ascending h1, numbered as in keep: the index's order, sorted once.
        order = (np.cumsum(~drop) - 1)[found.order[~drop[found.order]]]
        del found

    size, starts = _append_rows(out / FINAL_DATA, state["finaldata_size"], keep)
    batches_size = unlabelled.append_batches(out, state.get("unlabelled_size", 0),
                                             unlabelled.batch_frames(results, state["rows"]))
    segments = rowindex.append_segment(out / ROW_INDEX, state["segments"], h1, h2, starts,
                                       order=order)
    new_rejects = [row for r in results for row in r.rejects]
    with atomic_open(out / REJECTED, "wb") as handle:
        handle.write((out / REJECTED).read_bytes() + rejected_csv(new_rejects, header=False))
    lines = "".join(ingested_line(r) + "\n" for r in results if r.usable)
    with atomic_open(out / INGESTED_FILES, "wb") as handle:
        handle.write((out / INGESTED_FILES).read_bytes() + lines.encode("utf-8"))
    state["files"].update({r.path.name: _file_record(r) for r in results})  # after the others
    state.update(finaldata_size=size, rows=state["rows"] + len(keep), segments=segments,
                 unlabelled_size=batches_size)
    _save(settings, state)
    for r in results:
        logger.info("file %s appended: %d rows read, %d accepted, %d rejected, %d duplicates%s",
                    r.name, r.rows_read, r.rows_accepted, len(r.rejects), r.duplicates_dropped,
                    f" ({r.reason or r.note})" if r.reason or r.note else "")
    return IngestResult(data=keep, files=results, mode="append", rows_total=state["rows"],
                        repeated=repeated)
