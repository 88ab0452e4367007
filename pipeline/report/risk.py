"""The risk list: current clients ranked by the deployed model's probability of attrition.

riskscores.csv is for people to open in a spreadsheet: its text is written by the rule of
pipeline.core.spreadsheet (no cell a spreadsheet would run) and read back through its inverse,
so /risk and the pages give the exact names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core import spreadsheet
from pipeline.core.files import atomic_open
from pipeline.core.names import RISK_SCORES
from pipeline.core.schema import FEATURES, ID, TARGET


def rank_latest(model, latest: pd.DataFrame) -> pd.DataFrame:
    """The clients still with the company, riskiest first, from the latest record of each
    (pipeline.data.book.current_book, or pipeline.data.final.latest_records): those whose
    latest record has not exited (an unlabelled one has not), each with ``probability`` and
    ``rank`` (1 = highest risk)."""
    # A client whose latest record says it has left is no one to call: it is not ranked.
    latest = latest.loc[latest[TARGET] != 1].reset_index(drop=True)
    latest["probability"] = model.predict_proba(latest[list(FEATURES)])[:, 1]
    ranked = latest.sort_values(["probability", ID], ascending=[False, True], kind="mergesort")
    ranked = ranked.reset_index(drop=True)
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked


def read_risk_list(model_folder: Path, top: int | None = None) -> pd.DataFrame:
    """The written risk list, highest risk first (the first ``top`` clients when given), its
    names and other text exactly as they were before write_risk_list protected them."""
    import pyarrow as pa

    frame = pd.read_csv(Path(model_folder) / RISK_SCORES, dtype={ID: str},
                        keep_default_na=False, na_values={"probability": [""]})
    for col in frame.columns:
        if pd.api.types.is_string_dtype(frame[col]):
            written = pa.array(frame[col], type=pa.large_string())
            text = spreadsheet.unprotect_column(written)
            if text is not written:  # a protected text: the column is rebuilt, else left alone
                frame[col] = text.to_pandas()
    frame = frame.sort_values("rank", kind="mergesort").reset_index(drop=True)
    return frame if top is None else frame.head(top)


def cached_risk_list(cache, model_folder: Path) -> pd.DataFrame:
    """The whole written risk list, read once per version of riskscores.csv: the reading that
    /risk (pipeline.api.routes) and the pages (pipeline.web.tables) share. cache is the worker's
    FileCache (pipeline.api.state: ``stamp(*paths)``, ``get(name, stamp, compute)``).

    Raises FileNotFoundError when there is none (and keeps nothing: the next call looks again).
    """
    stamp = cache.stamp(Path(model_folder) / RISK_SCORES)
    return cache.get("risk", stamp, lambda: read_risk_list(model_folder))


def write_risk_list(frame: pd.DataFrame, path: Path) -> None:
    """Write a risk list as CSV, atomically, with pyarrow's writer: ten times pandas' speed on a
    million clients (its floats read back the same; text is quoted, and protected from being
    run by a spreadsheet)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_open(path, "wb") as handle:
        spreadsheet.write_table(table, handle)
