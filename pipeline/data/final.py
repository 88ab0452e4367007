"""The ingested table (finaldata.csv): reading it, and describing it column by column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.core.schema import COLUMNS, ID

STATS = ("mean", "median", "std", "min", "max", "q1", "q3", "mode")


def read_final_data(path: Path) -> pd.DataFrame:
    """finaldata.csv; only an empty field is missing (a client may be called 'null')."""
    return pd.read_csv(path, dtype={ID: str}, keep_default_na=False, na_values=[""])


def _number(value) -> float | None:
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def summarize_columns(frame: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Count, mean, median, std, min, max, quartiles and mode of each numeric column."""
    summary = {}
    for col in frame.select_dtypes("number").columns:
        values = frame[col].dropna()
        modes = values.mode()
        stats = {"count": float(len(values))}
        if len(values):
            stats.update(mean=values.mean(), median=values.median(), std=values.std(),
                         min=values.min(), max=values.max(), q1=values.quantile(0.25),
                         q3=values.quantile(0.75), mode=modes.iloc[0] if len(modes) else None)
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
