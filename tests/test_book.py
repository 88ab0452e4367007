"""The current book: every client still with the company from its latest record, labelled or
not (pipeline.data.book), and the risk list ranks it."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.data.book import SOURCE, current_book

FINAL = pd.DataFrame({
    "corporation": ["gone", "stay", "back", "late", "gone"],
    "lastmonth_activity": [1, 2, 3, 4, 5], "lastyear_activity": [10, 20, 30, 40, 50],
    "number_of_employees": [1, 1, 1, 1, 1], "exited": [0, 0, 1, 0, 1]})


def _batch(name: str, after: int, *clients: str) -> pd.DataFrame:
    return pd.DataFrame({"corporation": list(clients), "lastmonth_activity": 9,
                         "lastyear_activity": 90, "number_of_employees": 9, "batch": name,
                         "finaldata_rows": after})


@pytest.mark.parametrize("batches, current", [
    # No batch: the latest labelled record of each client; those that exited are gone.
    ([], {"stay": "", "late": ""}),
    # A batch after everything: its clients are current from it, new ones included.
    ([_batch("b.csv", 5, "gone", "back", "newc")],
     {"stay": "", "late": "", "gone": "b.csv", "back": "b.csv", "newc": "b.csv"}),
    # A batch that came after the first four labelled rows: the fifth (gone exited) is later.
    ([_batch("b.csv", 4, "gone", "stay")], {"stay": "b.csv", "late": ""}),
    # Two batches: the later one wins for a client in both.
    ([_batch("a.csv", 2, "newc", "late"), _batch("b.csv", 5, "newc")],
     {"stay": "", "late": "", "newc": "b.csv"}),
])
def test_a_clients_latest_record_decides_whether_it_is_current(batches, current):
    frame = pd.concat(batches, ignore_index=True) if batches else _batch("x", 0).iloc[:0]
    book = current_book(FINAL, frame)
    assert dict(zip(book["corporation"], book[SOURCE], strict=True)) == current
    assert book["corporation"].is_unique
    unlabelled = book[book[SOURCE] != ""]
    assert unlabelled["exited"].isna().all() and (unlabelled["lastmonth_activity"] == 9).all()
