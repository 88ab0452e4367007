"""One run of ingestion: an append when the state allows it, else a rebuild.

Light at import (standard library and numpy): the usual run, plain new files appended
(pipeline.ingest.append), imports neither pandas nor pyarrow; the general append
(pipeline.ingest.incremental) and the rebuild (pipeline.ingest.rebuild) are imported only when
they are needed.
"""

from __future__ import annotations

from pipeline.core.config import Settings
from pipeline.ingest import append, state
from pipeline.ingest.outcome import IngestResult


def update_outputs(settings: Settings) -> IngestResult:
    """Bring the outputs up to date with the input folder: append the new files' rows when
    that gives what a rebuild would, else rebuild from every file."""
    recorded = state.load(settings)
    added = state.new_files(settings, recorded) if recorded is not None else None
    if added is not None:
        result = append.append_plain_files(settings, recorded, added)
        if result is None:  # a file the plain reading does not take: pandas reads them all
            from pipeline.ingest import incremental

            result = incremental.append_files(settings, recorded, added)
        if result is not None:
            return result
    from pipeline.ingest import rebuild

    return rebuild.rebuild(settings)
