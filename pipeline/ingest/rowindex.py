"""The row index of finaldata.csv: a 128-bit hash of every row and where the row is, for appending
without re-reading.

One file of sorted runs ("segments"): a segment of n rows is n first hashes in ascending order,
then the n second hashes in the same order, then the n byte offsets of those rows in
finaldata.csv. A lookup binary-searches each segment through a memory map, so it touches a few
pages per query whatever the history's size; the offsets let the caller compare a row that hashes
alike with the row it may repeat, value by value (a hash never decides alone). Appending adds a
segment; small trailing segments are merged as they pile up (each row is merged a logarithmic
number of times), so the count of segments stays logarithmic in the rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.core.files import atomic_open

ITEM = 8  # bytes of one hash or offset
FIELDS = 3  # h1, h2, offset
VERSION = 2  # 1: hashes only (no offsets); such an index is rebuilt


def segment_bytes(segments: list[int]) -> int:
    """The size of an index file holding segments of these row counts."""
    return sum(segments) * FIELDS * ITEM


def write_fields(handle, order: np.ndarray | None, *fields: np.ndarray) -> None:
    """Write each field's values in ``order`` (the positions of the rows, in ascending h1; None:
    as they are), one field after the other: h1, then h2, then the offsets make a segment."""
    for values in fields:
        values = values if order is None else values[order]
        handle.write(memoryview(values.astype("<u8", copy=False)))


def write_index(path: Path, h1: np.ndarray, h2: np.ndarray, offsets: np.ndarray,
                order: np.ndarray | None = None) -> list[int]:
    """Write a fresh index of one segment (atomically); returns the segment list.

    ``order``, when given, lists the positions of the rows to write, in ascending h1 (an
    argsort of h1, or a part of one); by default h1 is sorted here (ties, h1 collisions, in any
    order: lookups scan each tie).
    """
    order = np.argsort(h1) if order is None else order
    with atomic_open(path, "wb") as handle:
        write_fields(handle, order, h1, h2, offsets)
    return [len(order)] if len(order) else []


def candidates(path: Path, segments: list[int], h1: np.ndarray, h2: np.ndarray,
               order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every index entry whose two hashes equal a query's: (query positions, row offsets).

    A query may have several entries (a row repeated before the index knew it, or a collision);
    each is a candidate to compare value by value. ``order``: the positions of the queries to
    look up, in ascending h1 (an argsort of h1, or a part of one); by default all, sorted here.
    """
    queries_hit, offsets_hit = [], []
    if not len(h1) or not segments:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Queries in ascending order walk each segment from front to back: neighbouring lookups
    # share the pages they read, so a lookup faults in few pages of the mapping.
    order = np.argsort(h1) if order is None else order
    if not len(order):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    queries = h1[order]
    mapped = np.memmap(path, dtype="<u8", mode="r")
    start = 0
    for count in segments:
        first = mapped[start:start + count]
        second = mapped[start + count:start + 2 * count]
        where = mapped[start + 2 * count:start + 3 * count]
        start += 3 * count
        lo = np.searchsorted(first, queries, side="left")
        hits = np.flatnonzero(first[np.minimum(lo, count - 1)] == queries)  # first hash seen
        if not len(hits):
            continue
        hi = np.searchsorted(first, queries[hits], side="right")
        single = hi - lo[hits] == 1
        one = hits[single]
        same = second[lo[one]] == h2[order[one]]
        queries_hit.append(order[one[same]])
        offsets_hit.append(np.asarray(where[lo[one[same]]], dtype=np.int64))
        for i, end in zip(hits[~single], hi[~single], strict=True):  # a run of equal h1
            for j in range(int(lo[i]), int(end)):
                if second[j] == h2[order[i]]:
                    queries_hit.append(np.array([order[i]]))
                    offsets_hit.append(np.array([where[j]], dtype=np.int64))
    del mapped
    if not queries_hit:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return (np.concatenate(queries_hit).astype(np.int64, copy=False),
            np.concatenate(offsets_hit))


def contains(path: Path, segments: list[int], h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """True for each (h1, h2) pair the index holds (a candidate, not yet a duplicate)."""
    found = np.zeros(len(h1), dtype=bool)
    found[candidates(path, segments, h1, h2)[0]] = True
    return found


def append_segment(path: Path, segments: list[int], h1: np.ndarray, h2: np.ndarray,
                   offsets: np.ndarray, order: np.ndarray | None = None) -> list[int]:
    """Add the rows as a new segment, merging trailing segments of similar size.

    Writes in place (the caller records the new segment list only once this returns, and a
    size that does not match the recorded list sends the next run to a rebuild). ``order``: an
    argsort of h1, when the caller has one. The fields are gathered and written one at a time,
    so a large append needs little memory beyond its own arrays.
    """
    if not len(h1):
        return list(segments)
    order = np.argsort(h1) if order is None else order
    fields = (h1, h2, np.asarray(offsets, dtype=np.uint64))
    segments = list(segments)
    merge_from = len(segments)
    size = len(h1)
    while merge_from > 0 and 2 * size >= segments[merge_from - 1]:
        merge_from -= 1
        size += segments[merge_from]
    offset = segment_bytes(segments[:merge_from])
    old: list[np.ndarray] = []  # per field, the values of the segments merged in
    source = order  # for each place of the written segment, its row in (new rows, old rows)
    if merge_from < len(segments):
        mapped = np.memmap(path, dtype="<u8", mode="r")
        runs, start = [], offset // ITEM
        for count in segments[merge_from:]:
            runs.append((start, count))
            start += FIELDS * count
        old = [np.concatenate([np.array(mapped[begin + field * count:begin + (field + 1) * count])
                               for begin, count in runs]) for field in range(FIELDS)]
        del mapped
        # Sorted runs one after the other: a stable sort (timsort) merges them in linear time.
        merged = np.argsort(np.concatenate((h1[order], old[0])), kind="stable")
        source = np.concatenate((order, np.arange(len(h1), size, dtype=order.dtype)))[merged]
        del merged
    with open(path, "r+b") as handle:
        handle.truncate(offset)
        handle.seek(offset)
        for field, values in enumerate(fields):
            if old:
                values = np.concatenate((values, old[field]))
            handle.write(memoryview(values[source].astype("<u8", copy=False)))
            del values
        handle.flush()
        os.fsync(handle.fileno())
    return [*segments[:merge_from], size]
