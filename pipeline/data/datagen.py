"""The seeded generator of the data the system ships with (and of benchmark data at any size).

The story: the company has 10,000 corporate clients. Each client has a size (employees), an
engagement level that sets its yearly activity, and a recent trend: last month's activity relative
to a twelfth of last year's. Attrition depends on these through a logistic mechanism with noise.

- The older period (practicedata) was a calm market: small clients left most, falling activity
  mattered a little.
- In the newer period (sourcedata, testdata) a cheaper competitor arrived and courts large
  accounts: clients whose activity falls leave far more often, and size no longer protects, it
  exposes. The change spread through the period: sourcedata is the latest extract of every client
  (change complete), testdata a labelled hold-out collected across the period (mostly changed).
- The unlabelled extract (sourcedata/extract.csv) is the latest month of every client still
  with the company after the newer period, outcomes not known yet: the book the system ranks
  and whose performance it estimates before the labels come.

So a model trained on the practice data does worse on the new data than its recorded test score
(drift), and a model retrained on the new data does better on the test data.

Run ``python -m pipeline.data.datagen`` (``make data``) to rewrite the shipped files, byte for
byte.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.config import PROJECT_ROOT
from pipeline.core.files import atomic_write_bytes
from pipeline.core.schema import COLUMNS

UNLABELLED_EXTRACT = "sourcedata/extract.csv"  # named to come after dataset3 and dataset4
SEED = 20261122
CLIENTS = 10_000
SIZE_SHIFT = np.log(2)  # covariate shift 1: twice the employees (log of the median)
TREND_SHIFT = 0.3  # and last month's activity a further 26% below a twelfth of last year's


def corporation_names(rng: np.random.Generator, count: int) -> np.ndarray:
    """Distinct four-lowercase-letter names, as in the course data."""
    codes = rng.choice(26**4, size=count, replace=False)
    letters = np.array(list(string.ascii_lowercase))
    digits = np.stack([(codes // 26**k) % 26 for k in (3, 2, 1, 0)], axis=1)
    return np.array(["".join(row) for row in letters[digits]])


def client_profiles(rng: np.random.Generator, names: np.ndarray, shift: float = 0.0
                    ) -> pd.DataFrame:
    """The lasting traits of each client: size and engagement (``shift``: see observe)."""
    count = len(names)
    employees = np.maximum(1, np.round(rng.lognormal(np.log(35) + SIZE_SHIFT * shift, 1.1,
                                                     count))).astype(int)
    engagement = rng.lognormal(np.log(20), 0.7, count)
    return pd.DataFrame({"corporation": names, "employees": employees, "engagement": engagement})


def true_logit(lastmonth, lastyear, employees, change) -> np.ndarray:
    """The log-odds of attrition the generator draws from: what a perfect model would know.

    ``change`` is how far the market change has gone for each record: 0 (old) to 1 (new).
    """
    lastmonth, lastyear, employees = (np.asarray(a, dtype=float)
                                      for a in (lastmonth, lastyear, employees))
    decline = -np.log((lastmonth + 1) / (lastyear / 12.0 + 1))  # > 0 when activity falls
    size = np.log(employees / 35.0)
    old = -0.3 - 1.1 * size + 0.6 * decline
    new = -0.6 + 0.9 * size + 2.2 * decline
    change = np.broadcast_to(np.asarray(change, dtype=float), decline.shape)
    return (1 - change) * old + change * new


def true_probability(frame: pd.DataFrame, change: np.ndarray | float) -> np.ndarray:
    """The probability of attrition of each record of a generated frame, as drawn."""
    logit = true_logit(frame["lastmonth_activity"], frame["lastyear_activity"],
                       frame["number_of_employees"], change)
    return 1.0 / (1.0 + np.exp(-logit))


def observe(rng: np.random.Generator, profiles: pd.DataFrame, change: np.ndarray | float,
            shift: float = 0.0) -> pd.DataFrame:
    """One record per client: activity drawn for this period, attrition drawn from the mechanism.

    ``change`` is how far the market change has gone for each record: 0 (old) to 1 (new).
    ``shift`` moves the features and not the mechanism (covariate shift, for benchmarks): at 1
    the clients are twice as large (the median) and their activity falls a quarter further.
    At 0 the draws are those of the shipped data.
    """
    count = len(profiles)
    employees = profiles["employees"].to_numpy()
    lastyear = rng.poisson(profiles["engagement"].to_numpy() * employees**0.6)
    trend = rng.lognormal(-0.1 - TREND_SHIFT * shift, 0.55, count)
    lastmonth = rng.poisson(lastyear / 12.0 * trend)
    logit = true_logit(lastmonth, lastyear, employees, change)
    exited = (rng.random(count) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "corporation": profiles["corporation"].to_numpy(),
        "lastmonth_activity": lastmonth,
        "lastyear_activity": lastyear,
        "number_of_employees": employees,
        "exited": exited,
    }, columns=list(COLUMNS))


def generate(seed: int = SEED, clients: int = CLIENTS) -> dict[str, pd.DataFrame]:
    """The shipped datasets, keyed by their path relative to the project: the five labelled
    files and the unlabelled extract of the current book."""
    rng = np.random.default_rng(seed)
    profiles = client_profiles(rng, corporation_names(rng, clients))

    # Older period: fewer clients, in two extracts that overlap a little.
    old_clients = profiles.sample(n=clients // 4, random_state=rng.integers(2**31))
    practice = observe(rng, old_clients, 0.0)
    half = len(practice) // 2
    overlap = len(practice) // 20
    dataset1 = practice.iloc[: half + overlap]
    dataset2 = practice.iloc[half:]

    # Newer period: every client once, in two extracts; some rows appear in both.
    source = observe(rng, profiles, 1.0)
    cut = int(len(source) * 0.55)
    repeated = source.iloc[cut - clients // 20: cut]
    dataset3 = source.iloc[:cut]
    dataset4 = pd.concat([repeated, source.iloc[cut:]]).sample(
        frac=1.0, random_state=rng.integers(2**31))

    # Labelled hold-out from across the new period.
    test_clients = profiles.sample(n=clients // 5, random_state=rng.integers(2**31))
    testdata = observe(rng, test_clients, rng.uniform(0.5, 1.0, len(test_clients)))

    # The latest month of every client still with the company, before anyone knows who will
    # leave: an unlabelled extract (drawn last, so the five files above keep their bytes). Its
    # outcomes are drawn and dropped: the generator knows them (bench), the system does not.
    current = profiles.loc[source.set_index("corporation").loc[profiles["corporation"],
                                                               "exited"].to_numpy() == 0]
    extract = observe(rng, current, 1.0).drop(columns=["exited"])

    return {
        "practicedata/dataset1.csv": dataset1,
        "practicedata/dataset2.csv": dataset2,
        "sourcedata/dataset3.csv": dataset3,
        "sourcedata/dataset4.csv": dataset4,
        "testdata/testdata.csv": testdata,
        UNLABELLED_EXTRACT: extract,
    }


def bulk_records(rows: int, seed: int = 0, change: float = 1.0, shift: float = 0.0
                 ) -> pd.DataFrame:
    """Any number of records of the new period (or of ``change``), for benchmarks (names repeat
    past 456,976); ``shift`` moves the features, not the mechanism (observe)."""
    rng = np.random.default_rng(seed)
    names = corporation_names(rng, min(rows, 26**4))
    profiles = client_profiles(rng, np.resize(names, rows), shift)
    return observe(rng, profiles, change, shift)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV bytes of a dataset: header, LF line ends, no index."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_datasets(root: Path = PROJECT_ROOT, seed: int = SEED) -> list[Path]:
    """Write the shipped datasets under root; returns the paths written."""
    written = []
    for relative, frame in generate(seed).items():
        path = root / relative
        atomic_write_bytes(path, to_csv_bytes(frame))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Regenerate the shipped datasets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="project folder")
    args = parser.parse_args(argv)
    for path in write_datasets(args.root):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
