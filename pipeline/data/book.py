"""The current book: every client still with the company, from its latest record, labelled or not.

finaldata.csv holds the labelled records in ingestion order; unlabelleddata.csv the rows of the
unlabelled batches (pipeline.ingest.unlabelled), each with its batch and the number of
finaldata.csv rows that came before that batch. A client's latest record is the one of the
latest file that holds it, in ingestion order: its last row of an unlabelled batch when that
batch came after its last labelled row, else its last labelled row. A client is current when
its latest record has not exited: an unlabelled record never has, so every client of a batch
that came after its last labelled record is current, and one whose exit a later labelled file
records is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.names import UNLABELLED_DATA
from pipeline.core.schema import AFTER_ROWS, BATCH, FEATURES, ID, TARGET, UNLABELLED_OUTPUT
from pipeline.data.final import FinalData

SOURCE = "source"  # in the book: the batch of an unlabelled record, "" for a labelled one


def read_unlabelled(path: Path) -> pd.DataFrame:
    """unlabelleddata.csv (no file: no rows), names and batches as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not Path(path).is_file():
        return pd.DataFrame({col: pd.Series([], dtype=object if col in (ID, BATCH) else "int64")
                             for col in UNLABELLED_OUTPUT})
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={ID: pa.large_string(), BATCH: pa.large_string()}, null_values=[""],
        strings_can_be_null=True, quoted_strings_can_be_null=True))
    return table.to_pandas()


def current_book(final: pd.DataFrame, batches: pd.DataFrame) -> pd.DataFrame:
    """One row per current client, from its latest record (the module's rule): the name, the
    features, exited (0, or missing for an unlabelled record) and ``source`` (the batch of an
    unlabelled record, "" for a labelled one); labelled clients first, in finaldata.csv order,
    then the unlabelled ones by batch."""
    labelled = final[[ID, *FEATURES, TARGET]].copy()
    labelled[SOURCE] = ""
    labelled["_position"] = np.arange(len(labelled))
    labelled = labelled.drop_duplicates(subset=ID, keep="last")
    if batches.empty:
        return labelled.loc[labelled[TARGET] == 0].drop(columns="_position").reset_index(drop=True)
    fresh = batches.drop_duplicates(subset=ID, keep="last")
    # A labelled row at position i came before a batch when i < the batch's finaldata_rows.
    last_labelled = pd.Series(labelled["_position"].to_numpy(), index=labelled[ID].to_numpy())
    before = last_labelled.reindex(fresh[ID].to_numpy()).to_numpy()
    newer = np.isnan(before) | (before < fresh[AFTER_ROWS].to_numpy())
    fresh = fresh.loc[newer]
    unlabelled = pd.DataFrame({ID: fresh[ID].to_numpy(),
                               **{f: fresh[f].to_numpy() for f in FEATURES},
                               TARGET: np.full(len(fresh), np.nan),
                               SOURCE: fresh[BATCH].to_numpy()})
    labelled = labelled.loc[~labelled[ID].isin(unlabelled[ID]) & (labelled[TARGET] == 0)]
    return pd.concat([labelled.drop(columns="_position"), unlabelled], ignore_index=True)


def book_of(data: FinalData) -> pd.DataFrame:
    """The current book of a FinalData and the unlabelled batches beside it, computed once per
    FinalData (shared by the stages of one refresh)."""
    if "book" not in data.derived:
        data.derived["book"] = current_book(data.frame, batches_of(data))
    return data.derived["book"]


def batches_of(data: FinalData) -> pd.DataFrame:
    """The rows of the unlabelled batches beside a FinalData's file, read once per FinalData."""
    if "batches" not in data.derived:
        data.derived["batches"] = read_unlabelled(data.path.with_name(UNLABELLED_DATA))
    return data.derived["batches"]
