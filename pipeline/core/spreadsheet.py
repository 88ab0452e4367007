"""Text cells a spreadsheet will not run: the one rule for every CSV written for people
(riskscores.csv, rejected.csv, the pages' /clients.csv), and its exact inverse for reading them.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
(OWASP, "CSV injection"). Quoting every text field keeps a reader that splits on ``,`` in step
with the writer, but one that splits on ``;`` (a common European setting) or on tabs takes a quote
as one only where a cell of its own begins: past the first field of a line it is out of step, cuts
a name at each ``;``, tab or line break inside it whatever the quotes say, and the next cell
begins right after. So a ``'`` is written

- before a ``=``, ``+``, ``-``, ``@``, tab, carriage return or ``'``, or a ``"`` followed by one
  of the first six, that begins the text or follows a ``;``;
- after every tab, carriage return and line feed in the text.

``'=1+1`` is then text to any spreadsheet, and the rule can be undone exactly (``unprotect_text``):
a ``'`` that the rule would have put is taken away, and a text that itself held one there had a
second one put before it. Numbers are never touched: negative ones stay numbers.

Standard library only, like the rest of ``core``, except that the column functions import pyarrow
when they run (the writers and readers of large files call them, never the cron quick path).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from typing import IO

_RISKY = r"=+\-@\t\r"
# What must not begin a cell: a formula character, a ' (so that a ' put by the rule can be told
# from one in the text), or a quote before a formula character (a reader that starts a cell at
# that quote takes it as an opening quote, and the cell then begins with what follows).
_OPENS = rf"""['{_RISKY}]|"[{_RISKY}]"""
_CELL_START = rf"(^|;)({_OPENS})"  # where a cell may begin inside a text: its start, after a ;
_LINE_BREAK = r"([\t\r\n])"  # after a tab or line break: a ' always (so no chain of them)
_MARKED_START = rf"(^|;)'({_OPENS})"
_MARKED_BREAK = r"([\t\r\n])'"
# pyarrow's compute speaks RE2, Python's re its own: both read these patterns and \1 alike.
_NEEDS = f"{_CELL_START}|{_LINE_BREAK}"
_MARKED = f"{_MARKED_START}|{_MARKED_BREAK}"

_CELL_START_RE, _LINE_BREAK_RE = re.compile(_CELL_START), re.compile(_LINE_BREAK)
_MARKED_START_RE, _MARKED_BREAK_RE = re.compile(_MARKED_START), re.compile(_MARKED_BREAK)
_MUST_QUOTE = re.compile(r'[,"\r\n]')


def protect_text(text: str) -> str:
    """A text as written for people: no cell a spreadsheet cuts from it begins a formula."""
    return _CELL_START_RE.sub(r"\1'\2", _LINE_BREAK_RE.sub(r"\1'", text))


def unprotect_text(text: str) -> str:
    """The text protect_text was given (the inverse, exactly)."""
    if "'" not in text:  # nothing was put: the common case, without a regular expression
        return text
    return _MARKED_BREAK_RE.sub(r"\1", _MARKED_START_RE.sub(r"\1\2", text))


def protect_column(values):
    """protect_text on every value of a pyarrow string array or chunked array, vectorised:
    one pass finds the values to change (usually none) and only those are rewritten."""
    return _rewrite(values, _NEEDS, ((_LINE_BREAK, r"\1'"), (_CELL_START, r"\1'\2")))


def unprotect_column(values):
    """unprotect_text on every value of a pyarrow string array or chunked array, vectorised;
    the very same object when nothing was protected."""
    return _rewrite(values, _MARKED, ((_MARKED_START, r"\1\2"), (_MARKED_BREAK, r"\1")),
                    holds="'")


def _rewrite(values, find: str, steps: tuple[tuple[str, str], ...], holds: str | None = None):
    """values with the replacements ``steps`` made in those that match ``find`` (and contain
    ``holds``, a plain search twice as fast as the pattern, when given); else values itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        chunks = [_rewrite(chunk, find, steps, holds) for chunk in values.chunks]
        if all(new is old for new, old in zip(chunks, values.chunks, strict=True)):
            return values
        return pa.chunked_array(chunks, type=values.type)
    if holds is not None and not pc.any(pc.match_substring(values, holds)).as_py():
        return values
    hits = pc.match_substring_regex(values, find)
    if not pc.any(hits).as_py():
        return values
    changed = values.filter(hits)
    for pattern, replacement in steps:
        changed = pc.replace_substring_regex(changed, pattern, replacement)
    return pc.replace_with_mask(values, pc.fill_null(hits, False), changed)


def write_table(table, handle: IO[bytes], header: bool = True) -> None:
    """Write a pyarrow table as CSV for people: every string column protected and every text
    quoted (pyarrow quotes strings whatever they hold), numbers and the header as they are."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(i, field, protect_column(table.column(i)))
    pacsv.write_csv(table, handle, pacsv.WriteOptions(
        include_header=header, quoting_style="needed", quoting_header="none"))


def format_row(cells: Sequence[str], text: Sequence[bool]) -> str:
    """One CSV record, without its line end, of cells shown as text: those marked ``text``
    protected and quoted; the others (numbers as shown) quoted only when they must be."""
    return ",".join(_quote(protect_text(cell)) if is_text else
                    _quote(cell) if _MUST_QUOTE.search(cell) else cell
                    for cell, is_text in zip(cells, text, strict=True))


def _quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def read_rows(handle: IO[str]) -> Iterator[dict[str, str]]:
    """The records of a CSV file written by these rules, as csv.DictReader gives them, every
    text as it was before protect_text (numbers hold no ', so they are left as they are)."""
    for row in csv.DictReader(handle):
        yield {key: unprotect_text(value) if isinstance(value, str) else value
               for key, value in row.items()}
