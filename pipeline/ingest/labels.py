"""What makes an input file an unlabelled batch: outcomes not known yet.

Labels come months after the activity they follow, and the clients a manager must call are
those whose outcome is not known. A file with the four other columns and no ``exited`` column,
or with ``exited`` empty on every row, is such a batch: its rows are validated on
``UNLABELLED`` by the same rules as any other (pipeline.ingest.records), go to their own
output (pipeline.ingest.unlabelled), and never to finaldata.csv, training or the loss test. A
file with ``exited`` filled on some rows is labelled, and a row of it with ``exited`` empty is
set aside like any bad row, as before.
"""

from __future__ import annotations

import pandas as pd

from pipeline.core.schema import COLUMNS, TARGET, UNLABELLED
from pipeline.ingest.loading import FileResult, MissingTarget
from pipeline.ingest.records import parse_bytes


def all_target_empty(frame: pd.DataFrame, rejects: list[dict]) -> bool:
    """True when a labelled reading of a file accepted no row and set every row aside for,
    among others, an empty exited: its exited column is empty throughout."""
    return frame.empty and bool(rejects) and all(
        f"{TARGET} is missing" in str(r["reason"]).split("; ") for r in rejects)


def unlabelled_note(why: str, note: str | None) -> str:
    """The note of an unlabelled file: why it is one, and the extra columns dropped but an
    empty exited."""
    extra = [name for name in (note or "").removeprefix("extra columns dropped: ").split(", ")
             if name and name != TARGET]
    return f"unlabelled: {why}" + (f"; extra columns dropped: {', '.join(extra)}" if extra
                                   else "")


def parse_batch(result: FileResult, data: bytes, columns: tuple[str, ...] = COLUMNS
                ) -> tuple[pd.DataFrame, list[dict], int, str | None] | None:
    """records.parse_bytes, reading an unlabelled batch as one (``result.labelled`` False,
    its rows on UNLABELLED, its note saying why)."""
    try:
        parsed = parse_bytes(result, data, columns)
    except MissingTarget:
        if columns != COLUMNS:
            raise
        why = f"no {TARGET} column"
    else:
        if parsed is None or columns != COLUMNS or not all_target_empty(parsed[0], parsed[1]):
            return parsed
        why = f"{TARGET} is empty on every row"
    parsed = parse_bytes(result, data, UNLABELLED)
    if parsed is not None:
        result.labelled = False
        parsed = (*parsed[:3], unlabelled_note(why, parsed[3]))
    return parsed
