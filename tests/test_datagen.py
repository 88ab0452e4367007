"""The shipped data: reproducible from the seeded generator, and telling the story it claims."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.core.config import PROJECT_ROOT
from pipeline.core.schema import COLUMNS, FEATURES, ID, TARGET
from pipeline.data.datagen import CLIENTS, bulk_records, to_csv_bytes
from scoring import score_model
from training import train_model


@pytest.mark.parametrize("relative", [
    "practicedata/dataset1.csv", "practicedata/dataset2.csv",
    "sourcedata/dataset3.csv", "sourcedata/dataset4.csv", "testdata/testdata.csv",
    "sourcedata/extract.csv",
])
def test_regenerating_gives_the_committed_bytes(datasets, relative):
    assert to_csv_bytes(datasets[relative]) == (PROJECT_ROOT / relative).read_bytes()


def _union(datasets, *names):
    return pd.concat([datasets[n] for n in names]).drop_duplicates(ignore_index=True)


def test_sourcedata_holds_every_client_once_with_repeats_across_files(datasets):
    d3, d4 = datasets["sourcedata/dataset3.csv"], datasets["sourcedata/dataset4.csv"]
    union = _union(datasets, "sourcedata/dataset3.csv", "sourcedata/dataset4.csv")
    assert union[ID].nunique() == CLIENTS == len(union)
    assert union[ID].str.fullmatch("[a-z]{4}").all()
    repeated = d3.merge(d4, on=list(COLUMNS))
    assert 0 < len(repeated) < len(d4)
    assert list(d3.columns) == list(COLUMNS)


def test_the_extract_is_every_current_client_without_labels(datasets):
    extract = datasets["sourcedata/extract.csv"]
    source = _union(datasets, "sourcedata/dataset3.csv", "sourcedata/dataset4.csv")
    assert list(extract.columns) == [ID, *FEATURES]  # no exited column: an unlabelled batch
    current = source.loc[source[TARGET] == 0, ID]
    assert sorted(extract[ID]) == sorted(current)
    # A new month: the same clients (their size), newly drawn activity.
    both = extract.merge(source, on=ID, suffixes=("", "_before"))
    assert (both["number_of_employees"] == both["number_of_employees_before"]).all()
    assert (both["lastmonth_activity"] != both["lastmonth_activity_before"]).mean() > 0.5


def test_new_data_drifts_away_from_the_practice_model(datasets):
    practice = _union(datasets, "practicedata/dataset1.csv", "practicedata/dataset2.csv")
    source = _union(datasets, "sourcedata/dataset3.csv", "sourcedata/dataset4.csv")
    test = datasets["testdata/testdata.csv"]
    old = train_model(practice)
    new = train_model(source)
    old_on_test = score_model(old, test)["f1"]
    # Drift: the practice model does worse on the new data than its recorded test score ...
    assert score_model(old, source)["f1"] < old_on_test - 0.02
    # ... and a model retrained on the new data does better on the test data.
    assert score_model(new, test)["f1"] > old_on_test + 0.03
    # A useful model, not a perfect one.
    assert 0.6 < score_model(new, test)["roc_auc"] < 0.95


def test_attrition_rises_as_activity_falls_in_the_new_period(datasets):
    source = _union(datasets, "sourcedata/dataset3.csv", "sourcedata/dataset4.csv")
    ratio = (source["lastmonth_activity"] + 1) / (source["lastyear_activity"] / 12 + 1)
    falling = source.loc[ratio < 0.5, TARGET].mean()
    rising = source.loc[ratio > 1.5, TARGET].mean()
    assert falling > rising + 0.2


def test_bulk_records_have_the_schema_and_size():
    frame = bulk_records(5000, seed=3)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 5000
    assert (frame[list(FEATURES)] >= 0).all().all()
    assert set(frame[TARGET]) == {0, 1}


def test_covariate_shift_moves_the_features_and_not_the_mechanism():
    from pipeline.data.datagen import true_probability

    calm, moved = (bulk_records(20_000, seed=8, change=0.0, shift=s) for s in (0.0, 1.0))
    ratio = moved["number_of_employees"].median() / calm["number_of_employees"].median()
    assert 1.7 < ratio < 2.3  # twice as large
    # The outcomes still follow the true probabilities (no concept change).
    p = true_probability(moved, 0.0)
    assert abs(moved[TARGET].mean() - p.mean()) < 0.01
    assert abs(p.mean() - true_probability(calm, 0.0).mean()) > 0.02  # the book has moved
