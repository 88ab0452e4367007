"""The general append: new files of any kind read, validated and appended with pandas and
pyarrow, as a rebuild reads them (pipeline.ingest.batchread).

pipeline.ingest.append appends plain files without them; for any other (a bad row, quotes, an
unlabelled batch, a file set aside) pipeline.ingest.update calls this instead; the rules of an
append are its own (pipeline.ingest.append, pipeline.ingest.state). The rows of new unlabelled
batches are appended to unlabelleddata.csv the same way (pipeline.ingest.unlabelled), its size
recorded beside finaldata.csv's; a column of features that is not whole answers None, and the
caller rebuilds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.config import Settings
from pipeline.core.files import atomic_open
from pipeline.core.names import FINAL_DATA, REJECTED, ROW_INDEX
from pipeline.core.schema import COLUMNS, FEATURES, ID
from pipeline.ingest import batchread, fastcsv, rowhash, rowindex, unlabelled
from pipeline.ingest.append import append_at, finish_append, same_as_written
from pipeline.ingest.merge import file_hashes, rejected_csv, tagged_rows
from pipeline.ingest.outcome import IngestResult


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
    """Append rows to a CSV file of ``size`` bytes (append.append_at); the new size and where
    each appended row begins."""
    size_after, starts = append_at(path, size, lambda handle: fastcsv.write_frame(
        rows, handle, header=False) if len(rows) else np.zeros(0, np.int64))
    return size_after, starts + size  # from the start of the file


def append_files(settings: Settings, recorded: dict, added: list) -> IngestResult | None:
    """Append the rows of the new files ``added`` to the outputs ``recorded`` describes (the
    state); None when only a rebuild gives what a rebuild would."""
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
        rows, offsets = rowindex.candidates(out / ROW_INDEX, recorded["segments"], found.h1,
                                            found.h2, order=found.kept_in_order())
        if len(rows):
            drop[rows[same_as_written(
                out / FINAL_DATA, offsets, batch[ID].to_numpy(dtype=object)[rows],
                batch[list(COLUMNS[1:])].to_numpy(dtype=np.float64)[rows])]] = True
        for i, count in batch.loc[drop, "_file"].value_counts().items():
            results[int(i)].duplicates_dropped = int(count)
        keep = _integral(batch.loc[~drop, list(COLUMNS)].reset_index(drop=True))
        if keep is None:
            return None  # the rebuild writes such a column as floats, every row of it
        h1, h2 = found.h1[~drop], found.h2[~drop]
        # The kept rows in ascending h1, numbered as in keep: the index's order, sorted once.
        order = (np.cumsum(~drop) - 1)[found.order[~drop[found.order]]]
        del found

    size, starts = _append_rows(out / FINAL_DATA, recorded["finaldata_size"], keep)
    batches_size = unlabelled.append_batches(out, recorded.get("unlabelled_size", 0),
                                             unlabelled.batch_frames(results, recorded["rows"]))
    segments = rowindex.append_segment(out / ROW_INDEX, recorded["segments"], h1, h2, starts,
                                       order=order)
    new_rejects = [row for r in results for row in r.rejects]
    with atomic_open(out / REJECTED, "wb") as handle:
        handle.write((out / REJECTED).read_bytes() + rejected_csv(new_rejects, header=False))
    finish_append(settings, recorded, results, size=size, added=len(keep), segments=segments,
                  unlabelled_size=batches_size)
    return IngestResult(data=keep, files=results, mode="append", rows_total=recorded["rows"],
                        repeated=repeated)
