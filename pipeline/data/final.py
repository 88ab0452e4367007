"""The ingested table (finaldata.csv): reading it, and describing it column by column.

``FinalData`` reads the file once and computes what is derived from it once; the cycle makes one
per refresh and hands it to every stage that describes the data (the estimate, diagnostics, the
risk list and the report), as an argument.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.schema import COLUMNS, ID

STATS = ("mean", "median", "std", "min", "max", "q1", "q3", "mode")


def read_final_data(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """finaldata.csv (only ``columns`` when given); only an empty field is missing (a client
    may be called 'null'). ValueError when a column asked for is not there.

    pyarrow's parser reads it on every core, several times faster than pandas' on millions of
    rows; a file pyarrow does not read as pandas would (a ragged row) goes to pandas.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def with_pandas() -> pd.DataFrame:
        return pd.read_csv(path, dtype={ID: str}, keep_default_na=False, na_values=[""],
                           usecols=columns)

    try:  # blocks of 16 MiB: a few per core, each column in few chunks to convert
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                               convert_options=pacsv.ConvertOptions(
                                   column_types={ID: pa.large_string()}, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=True,
                                   include_columns=columns))
    except (pa.ArrowInvalid, KeyError):  # pandas says what is wrong, or reads it as it reads
        return with_pandas()
    if table.num_rows == 0:  # the column types of pandas' empty frame
        return with_pandas()
    return table.to_pandas(self_destruct=True)


def _number(value) -> float | None:
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _describe(values: np.ndarray) -> dict[str, float]:
    """The statistics of non-missing numbers, as pandas computes them (quantiles interpolated
    linearly, std with one degree of freedom, the smallest of the most frequent values)."""
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])  # one partial sort for the three
    if values.dtype.kind in "iu" and values.min() >= 0 \
            and values.max() < min(1 << 24, 4 * len(values) + 1024):
        mode = int(np.argmax(np.bincount(values)))  # counting: no hashing
    else:
        found, counts = np.unique(values, return_counts=True)
        mode = found[np.argmax(counts)]
    return {"mean": values.mean(dtype=np.float64),
            "median": median, "std": values.std(ddof=1, dtype=np.float64) if len(values) > 1
            else np.nan, "min": values.min(), "max": values.max(), "q1": q1, "q3": q3,
            "mode": mode}


def summarize_columns(frame: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Count, mean, median, std, min, max, quartiles and mode of each numeric column."""
    summary = {}
    for col in frame.select_dtypes("number").columns:
        values = frame[col].dropna().to_numpy()
        stats = {"count": float(len(values))}
        if len(values):
            stats.update(_describe(values))
        else:
            stats.update(dict.fromkeys(STATS))
        summary[col] = {k: None if v is None else _number(v) for k, v in stats.items()}
    return summary


def missing_fractions(frame: pd.DataFrame) -> dict[str, float]:
    """The fraction of missing values in each column (the five of the schema always listed)."""
    columns = list(dict.fromkeys([*COLUMNS, *frame.columns]))
    if frame.empty:
        return dict.fromkeys(columns, 0.0)
    return {col: float(frame[col].isna().mean()) if col in frame else 1.0 for col in columns}


def latest_records(frame: pd.DataFrame) -> pd.DataFrame:
    """The last record of each client (the latest: finaldata.csv is in ingestion order)."""
    return frame.drop_duplicates(subset=ID, keep="last")


class FinalData:
    """finaldata.csv read once, and what is derived from it computed once (on first use).

    ``scored`` keeps results that depend on a model as well, by the model's checksum (the risk
    list's ranking); ``derived``, what other modules derive from it (pipeline.data.book).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.scored: dict[str, pd.DataFrame] = {}
        self.derived: dict[str, pd.DataFrame] = {}

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The rows of finaldata.csv."""
        return read_final_data(self.path)

    @functools.cached_property
    def summary(self) -> dict[str, dict[str, float | None]]:
        """summarize_columns of the frame."""
        return summarize_columns(self.frame)

    @functools.cached_property
    def missing(self) -> dict[str, float]:
        """missing_fractions of the frame."""
        return missing_fractions(self.frame)

    @functools.cached_property
    def latest(self) -> pd.DataFrame:
        """latest_records of the frame: one row per client."""
        return latest_records(self.frame)
