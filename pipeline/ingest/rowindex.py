"""The row index of finaldata.csv: a 128-bit hash of every row, for appending without re-reading.

One file of sorted runs ("segments"): a segment of n rows is n first hashes in ascending order,
then the n second hashes in the same order. A lookup binary-searches each segment through a
memory map, so it touches a few pages per query whatever the history's size. Appending adds a
segment; small trailing segments are merged as they pile up (each row is merged a logarithmic
number of times), so the count of segments stays logarithmic in the rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.core.files import atomic_open

ITEM = 8  # bytes of one hash


def segment_bytes(segments: list[int]) -> int:
    """The size of an index file holding segments of these row counts."""
    return sum(segments) * 2 * ITEM


def _write_sorted(handle, h1: np.ndarray, h2: np.ndarray,
                  order: np.ndarray | None = None) -> None:
    """Write h1 in ascending order, then h2 in the same order.

    ``order``, when given, lists the positions of the pairs to write, in ascending h1.
    """
    if order is None:
        order = np.argsort(h1)  # ties (h1 collisions) in any order: lookups scan each tie
    handle.write(memoryview(h1[order].astype("<u8", copy=False)))
    handle.write(memoryview(h2[order].astype("<u8", copy=False)))


def write_index(path: Path, h1: np.ndarray, h2: np.ndarray,
                order: np.ndarray | None = None) -> list[int]:
    """Write a fresh index of one segment (atomically); returns the segment list.

    ``order``, when given, lists the positions of the pairs to write, in ascending h1 (an
    argsort of h1, or a part of one).
    """
    with atomic_open(path, "wb") as handle:
        _write_sorted(handle, h1, h2, order)
    rows = len(h1) if order is None else len(order)
    return [rows] if rows else []


def contains(path: Path, segments: list[int], h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """True for each (h1, h2) pair already in the index."""
    found = np.zeros(len(h1), dtype=bool)
    if not len(h1) or not segments:
        return found
    # Queries in ascending order walk each segment from front to back: neighbouring lookups
    # share the pages they read, so a lookup faults in few pages of the mapping.
    order = np.argsort(h1)
    queries = h1[order]
    mapped = np.memmap(path, dtype="<u8", mode="r")
    start = 0
    for count in segments:
        first, second = mapped[start:start + count], mapped[start + count:start + 2 * count]
        start += 2 * count
        lo = np.searchsorted(first, queries, side="left")
        hits = np.flatnonzero(first[np.minimum(lo, count - 1)] == queries)  # rows seen before
        same = second[lo[hits]] == h2[order[hits]]
        found[order[hits[same]]] = True
        for i in hits[~same]:  # a collision of first hashes: look at the others equal to it
            j = int(lo[i]) + 1
            while j < count and first[j] == queries[i]:
                if second[j] == h2[order[i]]:
                    found[order[i]] = True
                    break
                j += 1
    del mapped
    return found


def append_segment(path: Path, segments: list[int], h1: np.ndarray, h2: np.ndarray
                   ) -> list[int]:
    """Add the pairs as a new segment, merging trailing segments of similar size.

    Writes in place (the caller records the new segment list only once this returns, and a
    size that does not match the recorded list sends the next run to a rebuild).
    """
    if not len(h1):
        return list(segments)
    segments = list(segments)
    merge_from = len(segments)
    size = len(h1)
    while merge_from > 0 and 2 * size >= segments[merge_from - 1]:
        merge_from -= 1
        size += segments[merge_from]
    offset = segment_bytes(segments[:merge_from])
    if merge_from < len(segments):
        mapped = np.memmap(path, dtype="<u8", mode="r")
        start = offset // ITEM
        parts1, parts2 = [h1], [h2]
        for count in segments[merge_from:]:
            parts1.append(np.array(mapped[start:start + count]))
            parts2.append(np.array(mapped[start + count:start + 2 * count]))
            start += 2 * count
        del mapped
        h1, h2 = np.concatenate(parts1), np.concatenate(parts2)
    with open(path, "r+b") as handle:
        handle.truncate(offset)
        handle.seek(offset)
        _write_sorted(handle, h1, h2)
        handle.flush()
        os.fsync(handle.fileno())
    return [*segments[:merge_from], len(h1)]
