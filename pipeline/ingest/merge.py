"""Merging the files of one ingestion into the outputs: finaldata.csv, rejected.csv and
ingestedfiles.txt, exact duplicates dropped by row hash (first kept).

Shared by the rebuild (pipeline.ingest.rebuild) and the general append
(pipeline.ingest.incremental), so that both write the same outputs from the same rules.
rejected.csv is for people (its text is protected from being run by a spreadsheet:
pipeline.core.spreadsheet); finaldata.csv is the data, written exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.core import spreadsheet
from pipeline.core.files import atomic_open
from pipeline.core.names import FINAL_DATA, INGESTED_FILES, REJECTED
from pipeline.core.schema import COLUMNS, FEATURES
from pipeline.ingest import fastcsv, rowhash
from pipeline.ingest.loading import FileResult, PlainRows
from pipeline.ingest.outcome import REJECT_COLUMNS, IngestResult, ingested_line


def integral_columns(frame: pd.DataFrame) -> pd.DataFrame:
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

    Files read together (pipeline.ingest.batchread) are consecutive slices of one frame: runs of
    them are taken as one slice, not copied file by file.
    """
    used = [(i, r) for i, r in enumerate(files) if r.frame is not None and r.labelled]
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


def plain_frame(rows: PlainRows) -> pd.DataFrame:
    """The records of rows read without pandas (loading.PlainRows), as the readers' frames."""
    frame = pd.DataFrame({col: rows.numbers[:, i] for i, col in enumerate(COLUMNS[1:])})
    frame.insert(0, COLUMNS[0], pd.Series(rows.names, dtype=object))
    return frame


def file_hashes(files: list[FileResult]) -> tuple[np.ndarray, np.ndarray] | None:
    """The row hashes of the files' accepted rows in order (as _accepted_rows joins them), or
    None when a file was read without them."""
    known = [r.hashes for r in files if r.frame is not None and r.labelled]
    if any(h is None for h in known):
        return None
    return np.concatenate([h[0] for h in known]), np.concatenate([h[1] for h in known])


def distinct_rows(files: list[FileResult], repeated: np.ndarray | None = None) -> pd.DataFrame:
    """The accepted rows of the files, exact duplicates among them dropped (first kept), as
    ``pd.concat(frames).drop_duplicates()`` gives them, found through the files' row hashes
    (``repeated``: the duplicates, when an append of these very files found them already)."""
    for result in files:  # rows the append of plain files read without pandas
        if result.frame is None and result.plain is not None:
            result.frame = plain_frame(result.plain)
    found = _accepted_rows(files)
    if found is None:
        return pd.DataFrame()
    merged = found[0]
    if repeated is None or len(repeated) != len(merged):
        repeated = rowhash.find_duplicates(merged, tuple(merged.columns),
                                           file_hashes(files)).duplicated
    return merged.loc[~repeated].reset_index(drop=True)


def tagged_rows(files: list[FileResult]) -> pd.DataFrame | None:
    """The accepted rows of every file in order, with _file, the file's position; or None."""
    found = _accepted_rows(files)
    if found is None:
        return None
    merged = found[0].copy(deep=False)
    merged["_file"] = found[1]
    return merged


def merge_with_hashes(files: list[FileResult]
                      ) -> tuple[pd.DataFrame, tuple | None, np.ndarray | None]:
    """The union of the accepted rows of every file, exact duplicates dropped (first kept),
    and its row hashes as IngestResult.hashes and hash_rows hold them."""
    found = _accepted_rows(files)
    if found is None:
        return pd.DataFrame({col: pd.Series([], dtype=object) for col in COLUMNS}), None, None
    merged, owners = found
    found = rowhash.find_duplicates(merged, hashes=file_hashes(files))
    duplicated = found.duplicated
    picks = found.kept_in_order()
    if duplicated.any():
        files_of, counts = np.unique(owners[duplicated], return_counts=True)
        for i, count in zip(files_of, counts, strict=True):
            files[int(i)].duplicates_dropped = int(count)
        merged = merged.loc[~duplicated, list(COLUMNS)].reset_index(drop=True)
        rows = (np.cumsum(~duplicated) - 1)[picks]  # a kept row's place among the kept
    else:
        merged = merged[list(COLUMNS)]
        rows = picks
    return integral_columns(merged), (found.h1, found.h2, picks), rows


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


def rejected_csv(rows: list[dict], header: bool = True) -> bytes:
    """The lines of rejected.csv for rows (after its header when ``header``): line a bare number
    (empty for a whole file), the text quoted and protected. A rebuild writes them whole and an
    append adds them, so both give the same bytes."""
    columns = {name: [row[name] for row in rows] for name in REJECT_COLUMNS}
    columns["line"] = [None if isinstance(n, str) else int(n) for n in columns["line"]]
    table = pa.table({name: pa.array(values, type=pa.int64() if name == "line" else pa.string())
                      for name, values in columns.items()})
    sink = io.BytesIO()
    spreadsheet.write_table(table, sink, header=header)
    return sink.getvalue()


def write_outputs(result: IngestResult, output_folder: Path,
                  on_offsets: Callable[[np.ndarray], None] | None = None) -> None:
    """Write finaldata.csv, rejected.csv and ingestedfiles.txt, each atomically.

    ``on_offsets``, when given, receives where each row of finaldata.csv begins (bytes), as soon
    as the rows are written (before they are synced to disk).
    """
    with atomic_open(output_folder / REJECTED, "wb") as handle:
        handle.write(rejected_csv(result.rejects))
    # With no usable data the outputs say so (a header and no rows) rather than keep describing
    # files that are no longer there or no longer usable.
    with atomic_open(output_folder / FINAL_DATA, "wb") as handle:
        if result.data.empty:
            handle.write((",".join(COLUMNS) + "\n").encode("utf-8"))
        else:
            offsets = fastcsv.write_frame(result.data, handle)
            if on_offsets is not None:
                on_offsets(offsets)
    lines = [ingested_line(r) for r in result.files if r.usable]
    with atomic_open(output_folder / INGESTED_FILES, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
