"""REFERENCES, not the product: the common way, and the limit, for the same inputs.

- baseline_ingest: what the usual implementation does: read each CSV with pandas and
  concatenate in a loop, drop duplicates, write with to_csv (no validation at all).
- limit_read_write: reading and writing the same bytes with pyarrow's CSV reader and writer
  (nothing checked, nothing de-duplicated): no ingestion can be faster.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv


def baseline_ingest(folder: Path, output: Path) -> int:
    """The common way: pandas read_csv + concat in a loop, drop_duplicates, to_csv."""
    data = pd.DataFrame()
    for path in sorted(Path(folder).glob("*.csv")):
        data = pd.concat([data, pd.read_csv(path)], ignore_index=True)
    data = data.drop_duplicates()
    output.mkdir(parents=True, exist_ok=True)
    data.to_csv(output / "finaldata.csv", index=False)
    return len(data)


def limit_read_write(folder: Path, output: Path) -> int:
    """The limit: pyarrow reads every file and writes the same rows back."""
    tables = [pacsv.read_csv(path) for path in sorted(Path(folder).glob("*.csv"))]
    table = pa.concat_tables(tables)
    output.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, output / "finaldata.csv")
    return table.num_rows


if __name__ == "__main__":  # the usual way as a whole process: python -m bench.baseline IN OUT
    import sys

    print(baseline_ingest(Path(sys.argv[1]), Path(sys.argv[2])))
