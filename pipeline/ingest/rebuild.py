"""The rebuild: every file of the input folder read, validated and merged into new outputs.

The files are merged in ingestion order (pipeline.ingest.state keeps it), exact duplicates
dropped, and finaldata.csv, rejected.csv, ingestedfiles.txt, the row index and
unlabelleddata.csv written whole (pipeline.ingest.merge, pipeline.ingest.unlabelled); the state
is written last, so that the next run can append (pipeline.ingest.append). pandas and pyarrow
are imported here; pipeline.ingest.update imports this module only when a rebuild is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from pipeline.core.config import Settings
from pipeline.core.files import atomic_open
from pipeline.core.names import ROW_INDEX
from pipeline.ingest import batchread, rowindex, state
from pipeline.ingest.inputs import in_ingestion_order, scan_input_folder
from pipeline.ingest.merge import merge_with_hashes, write_outputs
from pipeline.ingest.outcome import IngestResult
from pipeline.ingest.unlabelled import batch_frames, write_batches


def ingest_folder(folder: Path, order: Sequence[str] = ()) -> IngestResult:
    """Read, validate and merge every *.csv file of a folder.

    The files are merged in ingestion order: the names of ``order`` first, in that order, then
    the others by name (pipeline.ingest.inputs.in_ingestion_order).
    """
    results = batchread.read_entries(in_ingestion_order(scan_input_folder(folder), order))
    data, hashes, rows = merge_with_hashes(results)
    return IngestResult(data=data, files=results, hashes=hashes, hash_rows=rows)


def rebuild(settings: Settings) -> IngestResult:
    """Ingest every file of the input folder, in the order the files came, into new outputs."""
    order = state.forget(settings)  # the files in the order they came
    result = ingest_folder(settings.input_folder, order)
    offsets: Future = Future()  # where finaldata.csv's rows begin, once written
    with ThreadPoolExecutor(max_workers=1) as pool:  # the row index alongside the data
        index = pool.submit(write_row_index, settings, result, offsets)
        try:
            write_outputs(result, settings.output_folder, on_offsets=offsets.set_result)
        finally:
            if not offsets.done():
                offsets.set_result(None)  # no data written: no index
        segments = index.result()
    write_batches(settings.output_folder, batch_frames(result.files))
    state.remember(settings, result, segments)
    return result


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


