"""One run of ingestion: an append when the state allows it, else a rebuild.

Light at import (standard library and numpy): the usual run, plain new files appended
(pipeline.ingest.append, up to PLAIN_LIMIT bytes of them), imports neither pandas nor pyarrow;
the general append (pipeline.ingest.incremental) and the rebuild (pipeline.ingest.rebuild) are
imported only when they are needed.
"""

from __future__ import annotations

from pipeline.core.config import Settings
from pipeline.ingest import append, state
from pipeline.ingest.outcome import IngestResult

# The plain append parses in Python, about 3 µs a row; pandas and pyarrow take a fraction of
# that once imported (about 0.5 s). Beyond this many bytes of new files (about 120,000 rows),
# the general append is the faster: a usual extract of 10,000 rows is 160 KB.
PLAIN_LIMIT = 2_000_000


def update_outputs(settings: Settings) -> IngestResult:
    """Bring the outputs up to date with the input folder: append the new files' rows when
    that gives what a rebuild would, else rebuild from every file."""
    recorded = state.load(settings)
    added = state.new_files(settings, recorded) if recorded is not None else None
    if added is not None:
        result = None
        if sum(entry.size for entry in added) <= PLAIN_LIMIT:
            result = append.append_plain_files(settings, recorded, added)
        if result is None:  # a file the plain reading does not take (or much to read): pandas
            from pipeline.ingest import incremental

            result = incremental.append_files(settings, recorded, added)
        if result is not None:
            return result
    from pipeline.ingest import rebuild

    return rebuild.rebuild(settings)
