"""The state of ingestion's outputs (``finaldata.state.json``): what the next run needs to
append, and the order in which the input files came.

finaldata.csv is in ingestion order: the state lists the input files in the order they were
first ingested (its ``files``, a JSON object kept in that order). A rebuild keeps that order for
the files it lists and puts any other after them, by name; a folder never ingested is in name
order. So a new file is appended whatever its name, and a row repeated across files is kept
where it came first in that order, by an append and a rebuild alike.

After each rebuild or append, the state records every input file (size, modification time,
SHA-256), the size and row count of finaldata.csv, the size of unlabelleddata.csv and the
segments of the row index (``finaldata.rowindex``, pipeline.ingest.rowindex). The next run
appends (pipeline.ingest.append) when

- every recorded file is still there, unchanged (same size and time, or the same checksum), and
- finaldata.csv, the index and the feature columns are as recorded (integers throughout), and
  rejected.csv is written as this release writes it;

anything else (a changed or vanished file, a crash that left sizes unrecorded) rebuilds from
every file, in the recorded order (pipeline.ingest.rebuild). The state is written last, so a
run killed midway is rebuilt next time. Standard library and numpy only.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from pipeline.core.config import Settings
from pipeline.core.files import atomic_write_text
from pipeline.core.names import (
    FINAL_DATA,
    INGEST_STATE,
    INGESTED_FILES,
    REJECTED,
    ROW_INDEX,
    UNLABELLED_DATA,
)
from pipeline.core.schema import FEATURES
from pipeline.ingest import rowindex
from pipeline.ingest.inputs import compare_folder, scan_input_folder
from pipeline.ingest.outcome import REJECTED_FORMAT


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
    save(settings, {"files": {}}, order)  # no files, no sizes: nothing appends to it
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


def file_record(result) -> dict:
    """What the state records of an input file (a FileResult): size, time, checksum."""
    record = {"size": result.size, "mtime_ns": result.mtime_ns, "sha256": result.sha256}
    if not result.sha256:  # set aside before reading: a link, a folder, an unprintable name
        record["refused"] = result.reason or True
    return record


def remember(settings: Settings, result, segments: list[int] | None) -> None:
    """Record the state of a rebuild's outputs and index (nothing when there is no data)."""
    out = settings.output_folder
    if segments is None:
        return
    save(settings, {
        "files": {r.path.name: file_record(r) for r in result.files},  # in ingestion order
        "finaldata_size": os.stat(out / FINAL_DATA).st_size,
        "rows": len(result.data),
        "integral": all(result.data[col].dtype.kind in "iu" for col in FEATURES),
        "index_version": rowindex.VERSION,
        "rejected_format": REJECTED_FORMAT,
        "segments": segments,
        "unlabelled_size": unlabelled_size(out),
    })


def save(settings: Settings, state: dict, order: list[str] | None = None) -> None:
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


def load(settings: Settings) -> dict | None:
    """The state of this input folder's outputs when an append may add to them, else None."""
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
        if unlabelled_size(out) != state.get("unlabelled_size", 0):
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


def unlabelled_size(output_folder: Path) -> int:
    """The size of unlabelleddata.csv now (0 when there is none)."""
    try:
        return os.stat(Path(output_folder) / UNLABELLED_DATA).st_size
    except FileNotFoundError:
        return 0
