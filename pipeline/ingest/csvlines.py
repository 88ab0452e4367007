"""CSV records read so that one bad line costs only that line (ingestion's general parser).

``csv.reader`` lets a quoted field run over several lines, and fails on a field larger than its
limit (raised here to the text's length, so that validation judges such a field). A client
record is one line (a quoted field may hold commas and quotes, never a line break), so a record
that spans lines is a quote left open (a stray ``"`` in a name, a cut export): read naively it
would swallow every line after it into one field. ``LineRecords`` keeps the physical lines of the
last record, so the caller can reject the line where such a quote opens and have the lines after
it read again; a line the csv module cannot read at all is reported alone, and reading goes on.
"""

from __future__ import annotations

import csv
import io


class LineRecords:
    """(first line number, fields or None, problem) for each record of a CSV text."""

    def __init__(self, text: str):
        # No field can be longer than the text; the verdict on a huge field is validation's, as
        # in the fast parser (the limit is process-wide, and only ever raised here).
        if len(text) >= csv.field_size_limit():
            csv.field_size_limit(len(text) + 1)
        self._source = iter(io.StringIO(text, newline=""))  # splits at \n, \r\n and \r
        self._again: list[tuple[int, str]] = []
        self._count = 0
        self.taken: list[tuple[int, str]] = []  # (number, text) of the last record's lines
        self._reader = csv.reader(_Feed(self), strict=False)

    def _next_line(self) -> str:
        if self._again:
            item = self._again.pop()
        else:
            line = next(self._source, None)
            if line is None:
                raise StopIteration
            self._count += 1
            item = (self._count, line)
        self.taken.append(item)
        return item[1]

    def __iter__(self) -> LineRecords:
        return self

    def __next__(self) -> tuple[int, list[str] | None, str]:
        self.taken = []
        try:
            row = next(self._reader)
        except csv.Error as exc:
            if not self.taken:
                raise StopIteration from None
            self.read_again_after_first()
            return self.taken[0][0], None, f"unreadable CSV: {exc}"
        return self.taken[0][0], row, ""

    @property
    def spans_lines(self) -> int:
        """How many physical lines the last record took."""
        return len(self.taken)

    @property
    def first_line(self) -> str:
        """The text of the last record's first line, without its line break."""
        return self.taken[0][1].rstrip("\r\n") if self.taken else ""

    def read_again_after_first(self) -> None:
        """Have the lines of the last record after its first one read again."""
        self._again.extend(reversed(self.taken[1:]))


class _Feed:
    """The lines csv.reader reads; unlike a generator it can go on after reaching the end."""

    def __init__(self, records: LineRecords):
        self._records = records

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        return self._records._next_line()
