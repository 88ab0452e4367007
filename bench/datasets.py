"""Benchmark data from the project's generator (pipeline.data.datagen.bulk_records), on disk.

Nothing here is committed: the files go under bench/data/ (git-ignored) or a temporary folder.
Each file repeats a few rows of the one before (exact duplicates across files, as real extracts
overlap), so de-duplication has work to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipeline.data.datagen import bulk_records, to_csv_bytes

OVERLAP = 0.01  # share of each file's rows copied from the previous file


def csv_bytes(frame) -> bytes:
    """The same bytes as pipeline.data.datagen.to_csv_bytes, written by pyarrow (much faster)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), sink,
                    pacsv.WriteOptions(quoting_style="none", quoting_header="none"))
    return sink.getvalue().to_pybytes()


def write_files(folder: Path, rows: int, files: int, seed: int = 0, prefix: str = "part",
                change: float = 1.0) -> list[Path]:
    """Write ``rows`` records split evenly over ``files`` CSV files; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = bulk_records(rows, seed=seed, change=change)
    bounds = np.linspace(0, rows, files + 1).astype(int)
    rng = np.random.default_rng(seed)
    paths = []
    previous = None
    for i in range(files):
        part = frame.iloc[bounds[i]:bounds[i + 1]]
        if previous is not None and len(previous) and len(part):
            count = max(1, int(len(part) * OVERLAP))
            picks = rng.choice(len(previous), size=min(count, len(previous)), replace=False)
            part = part.copy()
            part.iloc[:len(picks)] = previous.iloc[picks].to_numpy()
        path = folder / f"{prefix}{i:04d}.csv"
        path.write_bytes(csv_bytes(part))
        paths.append(path)
        previous = part
    return paths


def ensure_files(folder: Path, rows: int, files: int, seed: int = 0, prefix: str = "part",
                 change: float = 1.0) -> list[Path]:
    """write_files, unless the folder already holds exactly that data (bench/data is reused)."""
    stamp = folder / f".{prefix}-{rows}-{files}-{seed}-{change}.done"
    if stamp.exists():
        return sorted(folder.glob(f"{prefix}*.csv"))
    for old in folder.glob("*"):
        if old.is_file() or old.is_symlink():
            old.unlink()
    paths = write_files(folder, rows, files, seed, prefix, change)
    stamp.touch()
    return paths


def check_same_bytes(rows: int = 1000) -> bool:
    """True when csv_bytes writes what the project's own to_csv_bytes writes."""
    frame = bulk_records(rows, seed=1)
    return csv_bytes(frame) == to_csv_bytes(frame)


if __name__ == "__main__":
    print(check_same_bytes(), os.getcwd())
