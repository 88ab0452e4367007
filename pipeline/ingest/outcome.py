"""What an ingestion run did, rebuild or append: its result, the line of ingestedfiles.txt
for each file, the counts of the run. Standard library only (numpy and pandas objects are only
held), so the append of plain files (pipeline.ingest.append) reports as a rebuild does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.ingest.loading import FileResult

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

REJECT_COLUMNS = ("source_file", "line", "reason", "raw")
# How rejected.csv is written (rejected_csv); an append only adds to a file written the same way.
# 1: the csv module's, text as it came; 2: text protected for spreadsheets, quoted, LF.
REJECTED_FORMAT = 2


@dataclass
class IngestResult:
    """The merged data and what became of each file."""

    data: pd.DataFrame
    files: list[FileResult]
    mode: str = "rebuild"  # or "append": data and files are then only what this run added
    rows_total: int | None = None  # rows of finaldata.csv after an append
    # (h1, h2, picks): the pairs h1[picks], h2[picks] are the row hashes (pipeline.ingest.rowhash)
    # of data's rows, in ascending h1: the row index of a rebuild; hash_rows[k] is the row of
    # data whose hashes are h1[picks[k]], h2[picks[k]].
    hashes: tuple | None = field(default=None, repr=False)
    hash_rows: np.ndarray | None = field(default=None, repr=False)
    # append: for the accepted rows of the files (in order), True where a row repeats an earlier
    # one of them; what distinct_rows would find again.
    repeated: np.ndarray | None = field(default=None, repr=False)

    @property
    def rows_kept(self) -> int:
        """Rows of finaldata.csv after this run."""
        return len(self.data) if self.rows_total is None else self.rows_total

    @property
    def rejects(self) -> list[dict]:
        """Every rejected row and file, in file order."""
        return [row for result in self.files for row in result.rejects]


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
    if not result.labelled:  # a batch whose outcomes are not known yet: never trained on
        fields.append("labels=none")
    return "\t".join(fields)


def summarize(result: IngestResult) -> dict:
    """Counts of a run, for the log and the history (the unlabelled batches' only when there
    are some: rows_kept counts finaldata.csv's rows, theirs are apart)."""
    counts = {
        "files": sum(r.usable for r in result.files),
        "files_rejected": sum(not r.usable for r in result.files),
        "rows_read": sum(r.rows_read for r in result.files),
        "rows_rejected": sum(len(r.rejects) for r in result.files if r.usable),
        "duplicates_dropped": sum(r.duplicates_dropped for r in result.files),
        "rows_kept": result.rows_kept,
    }
    unlabelled = [r for r in result.files if r.usable and not r.labelled]
    if unlabelled:
        counts.update(unlabelled_files=len(unlabelled),
                      unlabelled_rows=sum(r.rows_accepted for r in unlabelled))
    return counts
