"""The rows of unlabelled batches (pipeline.ingest.labels): unlabelleddata.csv, beside
finaldata.csv and never part of it.

Each row keeps the file it came from (``batch``: the estimate is made per batch) and the number
of finaldata.csv rows that came before that file in ingestion order (``finaldata_rows``), so
that a client's latest record can be found across the two files (pipeline.data.book). Rows are
validated like any others; they are not de-duplicated (a batch is estimated as it came).

A rebuild writes the file whole (or removes it when no batch has rows); an append writes only
the new batches' rows after the recorded size, as pipeline.ingest.incremental appends to
finaldata.csv. Both write each batch with the same writer, the same way, so the two give the
same bytes; tests compare them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pandas as pd

from pipeline.core.files import atomic_open
from pipeline.core.names import UNLABELLED_DATA
from pipeline.core.schema import AFTER_ROWS, BATCH, UNLABELLED, UNLABELLED_OUTPUT
from pipeline.ingest import fastcsv
from pipeline.ingest.merge import integral_columns
from pipeline.ingest.records import FileResult


def batch_frames(files: list[FileResult], rows_before: int = 0) -> list[pd.DataFrame]:
    """The accepted rows of each unlabelled file of ``files`` (in their order), with its name
    and the finaldata.csv rows before it: ``rows_before``, and what the labelled files before
    it in ``files`` kept (their accepted rows less their duplicates)."""
    frames, kept = [], rows_before
    for result in files:
        if result.frame is None:
            continue
        if result.labelled:
            kept += result.rows_accepted - result.duplicates_dropped
            continue
        if result.frame.empty:
            continue
        frame = integral_columns(result.frame[list(UNLABELLED)].copy())
        frame[BATCH] = result.name
        frame[AFTER_ROWS] = kept
        frames.append(frame)
    return frames


def unlabelled_rows(files: list[FileResult]) -> int:
    """Rows accepted from the unlabelled files."""
    return sum(r.rows_accepted for r in files if r.frame is not None and not r.labelled)


def _write(handle, frames: list[pd.DataFrame], header: bool) -> None:
    for frame in frames:
        fastcsv.write_frame(frame[list(UNLABELLED_OUTPUT)], handle, header=header)
        header = False


def write_batches(output_folder: Path, frames: list[pd.DataFrame]) -> int:
    """A rebuild: unlabelleddata.csv whole, or no such file when there are no rows; its size."""
    path = Path(output_folder) / UNLABELLED_DATA
    if not frames:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return 0
    with atomic_open(path, "wb") as handle:
        _write(handle, frames, header=True)
    return os.stat(path).st_size


def append_batches(output_folder: Path, size: int, frames: list[pd.DataFrame]) -> int:
    """An append: the new batches' rows after the first ``size`` bytes of unlabelleddata.csv
    (the header first when there were none); cut back to ``size`` on any failure. Its size."""
    path = Path(output_folder) / UNLABELLED_DATA
    if not frames:
        return size
    with open(path, "r+b" if size else "wb") as handle:
        try:
            handle.truncate(size)
            handle.seek(size)
            _write(handle, frames, header=size == 0)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.truncate(size)
            raise
        return handle.tell()
