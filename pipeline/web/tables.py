"""The risk list and finaldata.csv, prepared once per version of each file for fast pages.

``RiskView`` holds what /clients needs at any size: every sort order (computed on first use),
the names in lower case for search, and formatting of one page of rows. ``FinalIndex`` finds a
client's records in finaldata.csv. Both are kept in the API's FileCache (pipeline.api.state),
beside the risk list that /risk serves.

Names stay in pyarrow arrays and are searched there: one pass of pyarrow's compute over a
million names takes a few milliseconds, where a Python hash index of them would cost seconds to
build and hundreds of MiB per worker (measured with bench/pages.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.api.state import ApiState
from pipeline.core.deployed import read_version, version_dirs
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import FINAL_DATA, RISK_SCORES, SAMPLE_FILE, UNLABELLED_DATA, VERSIONS
from pipeline.core.schema import AFTER_ROWS, BATCH, ID, TARGET
from pipeline.data.book import read_unlabelled
from pipeline.data.final import read_final_data
from pipeline.report.explain import TOP_CONTRIBUTION, TOP_FACTOR, read_reference
from pipeline.report.risk import cached_risk_list
from pipeline.web.format import feature_label, odds

PAGE_SIZE = 50
MAX_QUERY = 200


@dataclass(frozen=True)
class Column:
    """A column of the clients table: its key in URLs, heading, and first sort direction."""

    key: str
    heading: str
    descending_first: bool
    numeric: bool = True


COLUMNS = (
    Column("rank", "Rank", False),
    Column("corporation", "Corporation", False, numeric=False),
    Column("probability", "Probability", True),
    Column("lastmonth", "Last month's activity", True),
    Column("monthly", "Monthly average last year", True),
    Column("change", "Change", False),
    Column("employees", "Employees", True),
    Column("factor", "Raises risk most", False, numeric=False),
    Column("odds", "Odds ×", True),
)
BY_KEY = {c.key: c for c in COLUMNS}


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _change(last: float, monthly: float) -> str:
    if math.isnan(last) or math.isnan(monthly):
        return "–"
    if monthly == 0:
        return "new" if last > 0 else "none"
    return f"{last / monthly - 1:+.0%}"


class RiskView:
    """The written risk list, ready to be searched, sorted and cut into pages."""

    def __init__(self, frame: pd.DataFrame):
        self.size = len(frame)
        self.names = _names(frame[ID])
        self.lower = pc.utf8_lower(self.names)
        self.rank = _numbers(frame, "rank")
        if np.isnan(self.rank).any():
            self.rank = np.arange(1, self.size + 1, dtype=float)
        self.probability = _numbers(frame, "probability")
        self.lastmonth = _numbers(frame, "lastmonth_activity")
        self.monthly = _numbers(frame, "lastyear_activity") / 12.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.change = np.where(self.monthly > 0, self.lastmonth / self.monthly - 1.0,
                                   np.where(self.lastmonth > 0, np.inf, np.nan))
        self.employees = _numbers(frame, "number_of_employees")
        factors = frame[TOP_FACTOR].astype(str).to_numpy(dtype=object) \
            if TOP_FACTOR in frame.columns else np.full(self.size, "", dtype=object)
        self.factor = factors
        with np.errstate(over="ignore"):
            self.odds = np.where(factors != "", np.exp(_numbers(frame, TOP_CONTRIBUTION)),
                                 np.nan)
        self.explained = TOP_FACTOR in frame.columns
        self._orders: dict[tuple[str, bool], np.ndarray] = {}
        self.histogram = np.histogram(self.probability[~np.isnan(self.probability)], bins=20,
                                      range=(0.0, 1.0))[0]

    def _key(self, key: str) -> np.ndarray:
        if key == "factor":
            return pd.factorize(self.factor, sort=True)[0].astype(float)
        return {"rank": self.rank, "probability": self.probability, "lastmonth": self.lastmonth,
                "monthly": self.monthly, "change": self.change, "employees": self.employees,
                "odds": self.odds}[key]

    def order(self, key: str, descending: bool) -> np.ndarray:
        """Row positions sorted by a column (ties by rank; missing values last)."""
        cached = self._orders.get((key, descending))
        if cached is not None:
            return cached
        if key == "rank":
            order = np.argsort(self.rank, kind="stable")
            order = order[::-1] if descending else order
        elif key == "corporation":  # case-insensitive; names are unique, so no ties
            order = pc.array_sort_indices(self.lower).to_numpy().astype(np.int64)
            order = order[::-1] if descending else order
        else:
            values = self._key(key)
            values = np.where(np.isnan(values), np.inf if not descending else -np.inf, values)
            primary = -values if descending else values
            order = np.lexsort((self.rank, primary))
        order = np.ascontiguousarray(order)
        self._orders[(key, descending)] = order
        return order

    def select(self, query: str, key: str, descending: bool) -> np.ndarray:
        """Row positions of the clients whose name contains query (any case), in sort order."""
        order = self.order(key, descending)
        query = query.strip()
        if not query:
            return order
        lower = pc.utf8_lower(pa.scalar(query, pa.large_string())).as_py()
        mask = pc.match_substring(self.lower, lower).to_numpy(zero_copy_only=False)
        return order[mask[order]]

    def row_of(self, name: str) -> int | None:
        """The position of a client in the list, or None."""
        found = _positions(self.names, name)
        return int(found[0]) if len(found) else None

    def cells(self, rows: np.ndarray) -> list[dict]:
        """The shown text of each column for rows (the table and its CSV download)."""
        out = []
        rows = np.asarray(rows, dtype=np.int64)
        names = self.names.take(pa.array(rows)).to_pylist()
        for i, name in zip(rows, names, strict=True):
            factor = self.factor[i]
            out.append({
                "rank": f"{self.rank[i]:.0f}",
                "corporation": name,
                "probability": "–" if math.isnan(self.probability[i])
                else f"{self.probability[i]:.3f}",
                "lastmonth": _plain(self.lastmonth[i], 0),
                "monthly": _plain(self.monthly[i], 1),
                "change": _change(self.lastmonth[i], self.monthly[i]),
                "employees": _plain(self.employees[i], 0),
                "factor": feature_label(factor) if factor else
                ("none" if self.explained else "–"),
                "odds": odds(self.odds[i]),
            })
        return out


def _plain(value: float, digits: int) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def risk_view(state: ApiState) -> RiskView:
    """The RiskView of the written risk list (FileNotFoundError when there is none)."""
    stamp = state.cache.stamp(state.settings.model_folder / RISK_SCORES)
    # Stamped before reading: a file replaced meanwhile is read again on the next request.
    return state.cache.get("web.risk", stamp, lambda: RiskView(
        cached_risk_list(state.cache, state.settings.model_folder)))


def _names(column: pd.Series) -> pa.Array:
    """The names as a pyarrow array (no copy for pandas' pyarrow-backed strings)."""
    try:
        return pa.array(column, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(column.astype(str).to_numpy(dtype=object), type=pa.large_string())


def _positions(names: pa.Array, name: str) -> np.ndarray:
    """The positions of name in an array of names (one pass in pyarrow's compute)."""
    mask = pc.equal(names, pa.scalar(name, pa.large_string()))
    return np.flatnonzero(mask.to_numpy(zero_copy_only=False))


class FinalIndex:
    """finaldata.csv with its names ready to be looked up."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.names = _names(frame[ID])

    def records(self, name: str) -> pd.DataFrame | None:
        """A client's records in file order, or None when it has none."""
        found = _positions(self.names, name)
        return self.frame.iloc[found] if len(found) else None


def final_index(state: ApiState) -> FinalIndex:
    """The FinalIndex of finaldata.csv (FileNotFoundError when there is none)."""
    path = state.settings.output_folder / FINAL_DATA
    stamp = state.cache.stamp(path)
    if stamp[0][1] is None:
        raise FileNotFoundError(f"no ingested data at {path}")
    return state.cache.get("web.final", stamp, lambda: FinalIndex(read_final_data(path)))


def client_records(state: ApiState, name: str) -> pd.DataFrame | None:
    """A client's records in ingestion order (the last is its latest, pipeline.data.book's
    rule): those of finaldata.csv, and those of unlabelled batches with ``exited`` "not known
    yet" and the ``batch`` they came in; None when it has none. FileNotFoundError without
    finaldata.csv."""
    index = final_index(state)
    labelled = _positions(index.names, name)
    path = state.settings.output_folder / UNLABELLED_DATA
    batches = state.cache.get("web.unlabelled", state.cache.stamp(path),
                              lambda: FinalIndex(read_unlabelled(path)))
    unlabelled = _positions(batches.names, name) if len(batches.frame) else labelled[:0]
    if not len(labelled) and not len(unlabelled):
        return None
    if not len(unlabelled):
        return index.frame.iloc[labelled]
    # A batch came after the labelled rows before its finaldata_rows: it sorts just before
    # the labelled row at that position.
    found = batches.frame.iloc[unlabelled]
    keys = np.r_[labelled.astype(float), found[AFTER_ROWS].to_numpy(dtype=float) - 0.5]
    rows = pd.concat([index.frame.iloc[labelled].assign(**{BATCH: ""}).astype({TARGET: object}),
                      found.drop(columns=AFTER_ROWS).assign(**{TARGET: "not known yet"})],
                     ignore_index=True)
    return rows.iloc[np.argsort(keys, kind="stable")].reset_index(drop=True)


@dataclass
class KeptVersion:
    """A deployed version still kept: its number, its model (None when unusable), why not."""

    version: int
    model: object | None
    problem: str | None
    deployed_at: str | None


def kept_versions(state: ApiState) -> list[KeptVersion]:
    """Every version in the deployment folder with its verified model, loaded once."""
    folder = state.settings.deployment_folder

    def load() -> list[KeptVersion]:
        out = []
        for number, path in version_dirs(folder).items():
            try:
                deployed = read_version(path)
                out.append(KeptVersion(number, deployed.load_model(), None,
                                       deployed.manifest.get("deployed_at")))
            except (ModelIntegrityError, OSError, ValueError) as exc:
                out.append(KeptVersion(number, None, str(exc), None))
        return out

    return state.cache.get("web.versions", state.cache.stamp(folder / VERSIONS), load)


def reference_of(state: ApiState, version_folder) -> dict[str, float] | None:
    """The training medians of a deployed version (None without a usable sample)."""
    def load():
        try:
            return read_reference(version_folder)
        except (OSError, ValueError):
            return None

    return state.cache.get("web.reference", state.cache.stamp(version_folder / SAMPLE_FILE),
                           load)


__all__ = ["COLUMNS", "PAGE_SIZE", "FinalIndex", "RiskView"]
