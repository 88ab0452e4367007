"""Exact duplicates found through row hashes: fast on millions of rows, exact by verification.

A row's hash covers its five parsed values (the name as text, the numbers as float64), so two
rows that ingestion parses to the same record hash alike however their files wrote them
("3" and "3.0"). Two independent 64-bit hashes make a 128-bit fingerprint.

numpy only at import: the append of plain files (pipeline.ingest.append) hashes its rows with
``plain_row_hashes``, the same function over a list of names and an array of numbers; pyarrow
is imported only to read a frame's text buffers.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pipeline.core.schema import COLUMNS, ID

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import pandas as pd

_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SALTS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0x3C6EF372FE94F82A))  # golden ratio x 1, x 2


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MUL1
    values = values ^ (values >> np.uint64(27))
    values = values * _MUL2
    return values ^ (values >> np.uint64(31))


_TABLE_PLACES = 64  # places in a string whose mixed bytes are looked up, not computed


@functools.cache
def _byte_table(salt: int) -> np.ndarray:
    """_mix(byte + 256 * place + salt) for every byte at each of the first _TABLE_PLACES places."""
    keys = np.arange(256 * _TABLE_PLACES, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(keys + np.uint64(salt))


def _text_hashes(values) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit hashes of each string, computed over pyarrow's buffers with numpy."""
    import pyarrow as pa  # a frame's names: their buffers without a copy

    text = pa.chunked_array([pa.array(values, type=pa.large_string(), from_pandas=True)]) \
        if not isinstance(values, pa.ChunkedArray) else values.cast(pa.large_string())
    text = text.combine_chunks()
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[
        text.offset:text.offset + len(text) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[start:end] if end > start \
        else np.zeros(0, dtype=np.uint8)
    return _buffer_hashes(offsets - start, data)


def text_hashes(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """_text_hashes of a list of strings, without pyarrow: their UTF-8 bytes joined."""
    encoded = [name.encode("utf-8") for name in names]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _buffer_hashes(offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8))


def _buffer_hashes(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit hashes of each string of a buffer (string i: data[offsets[i]:offsets[i + 1]],
    offsets from 0).

    A string's hash under a salt is _mix(sum ^ _mix(length + salt)), where sum is the wrapping
    sum of _mix(byte + 256 * place + salt) over its bytes (distinct pairs, distinct keys).
    """
    end = int(offsets[-1])
    lengths = np.diff(offsets)
    begins = offsets[:-1]
    width = int(lengths.max()) if len(lengths) else 0
    same_width = len(lengths) > 0 and width == int(lengths.min())
    if same_width and width <= _TABLE_PLACES:  # names of one length (codes)
        places = data.reshape(len(lengths), width).T  # row j: the bytes at place j
    else:
        position = np.arange(end, dtype=np.int64) - np.repeat(begins, lengths)
        keys = data.astype(np.int64) + (position << 8)
    out = []
    for salt in _SALTS:
        if same_width and width <= _TABLE_PLACES:
            table = _byte_table(int(salt))
            sums = np.zeros(len(lengths), dtype=np.uint64)
            for place, values in enumerate(places):
                sums += table[256 * place:256 * (place + 1)][values]
        else:
            mixed = _byte_table(int(salt))[keys] if width <= _TABLE_PLACES else \
                _mix(keys.astype(np.uint64) + salt)
            # The sums of each string: differences of one wrapping cumulative sum.
            total = np.zeros(len(mixed) + 1, dtype=np.uint64)
            np.cumsum(mixed, out=total[1:])
            sums = total[offsets[1:]] - total[begins]
        out.append(_mix(sums ^ _mix(lengths.astype(np.uint64) + salt)))
    return out[0], out[1]


def _mix_in_place(values: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """_mix, computed in place in ``values`` (``scratch``: an array of the same shape)."""
    for shift, multiplier in ((30, _MUL1), (27, _MUL2), (31, None)):
        np.right_shift(values, np.uint64(shift), out=scratch)
        np.bitwise_xor(values, scratch, out=values)
        if multiplier is not None:
            np.multiply(values, multiplier, out=values)
    return values


def _chunk_hashes(part: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    def column(col: str):
        if col == ID:
            values = part[col].array
            arrow = getattr(values, "_pa_array", None)
            return _text_hashes(arrow if arrow is not None else values.to_numpy(dtype=object))
        return part[col].to_numpy(dtype=np.float64)

    return _combine([column(col) for col in columns], len(part))


def _combine(values: list, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The row hashes of ``rows`` rows from their columns' values, in column order: a pair of
    text hashes (_text_hashes) for a text column, float64 numbers for any other."""
    scratch = np.empty(rows, dtype=np.uint64)
    mixed = []  # per column, its mixed value under each of the two salts
    for position, value in enumerate(values):
        offset = np.uint64(position + 1) * _GOLDEN
        if isinstance(value, tuple):
            first, second = value
            mixed.append((_mix_in_place(first + offset, scratch),
                          _mix_in_place(second + offset, scratch)))
        else:
            # + 0.0 turns -0.0 into 0.0: equal values, equal hashes. A number is the same
            # under both salts, so it is mixed once.
            number = (value + 0.0).view(np.uint64)
            value = _mix_in_place(number + offset, scratch)
            mixed.append((value, value))
    out = []
    for seed in range(2):
        hashes = np.full(rows, _SALTS[seed], dtype=np.uint64)
        for pair in mixed:
            np.bitwise_xor(hashes, pair[seed], out=hashes)
            _mix_in_place(hashes, scratch)
        out.append(hashes)
    return out[0], out[1]


def plain_row_hashes(names: list[str], numbers: np.ndarray, chunk: int = 65_536
                     ) -> tuple[np.ndarray, np.ndarray]:
    """row_hashes of the rows (names[i], *numbers[i]) of schema.COLUMNS, without pandas."""
    out = (np.empty(len(names), dtype=np.uint64), np.empty(len(names), dtype=np.uint64))
    with np.errstate(over="ignore"):
        for begin in range(0, len(names), chunk):
            part = numbers[begin:begin + chunk].astype(np.float64)
            first, second = _combine([text_hashes(names[begin:begin + chunk]),
                                      *part.T.copy()], len(part))
            out[0][begin:begin + len(first)], out[1][begin:begin + len(first)] = first, second
    return out


def row_hashes(frame: pd.DataFrame, columns: tuple[str, ...] = COLUMNS, chunk: int = 65_536,
               pool: Executor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each row of ``columns`` (uint64 arrays).

    The rows are hashed in chunks that stay in the processor's cache; with ``pool`` the chunks
    are hashed by its threads (numpy releases the GIL).
    """
    out = (np.empty(len(frame), dtype=np.uint64), np.empty(len(frame), dtype=np.uint64))

    def fill(begin: int) -> None:
        with np.errstate(over="ignore"):
            first, second = _chunk_hashes(frame.iloc[begin:begin + chunk], columns)
        out[0][begin:begin + len(first)], out[1][begin:begin + len(first)] = first, second

    starts = range(0, len(frame), chunk)
    if pool is None or len(starts) < 2:
        for begin in starts:
            fill(begin)
    else:
        for done in [pool.submit(fill, begin) for begin in starts]:
            done.result()
    return out


def first_occurrences(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(for each position, the position of the first element equal to it; an order sorting keys).

    Both come from one sort, which the row index reuses; only runs of equal keys cost more.
    """
    order = np.argsort(keys)
    first = np.arange(len(keys), dtype=np.int64)
    if len(keys) < 2:
        return first, order
    ranked = keys[order]
    pairs = np.flatnonzero(ranked[1:] == ranked[:-1])  # ranked[i] == ranked[i + 1]
    if not len(pairs):
        return first, order
    opens = np.ones(len(pairs), dtype=bool)
    opens[1:] = pairs[1:] != pairs[:-1] + 1
    begins = pairs[opens]  # where each run of equal keys begins, in sorted order
    lengths = pairs[np.append(opens[1:], True)] + 2 - begins
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    members = order[np.arange(lengths.sum()) + np.repeat(begins - offsets, lengths)]
    first[members] = np.repeat(np.minimum.reduceat(members, offsets), lengths)
    return first, order


class Duplicates(NamedTuple):
    """What find_duplicates found: the mask, the row hashes, and an order sorting h1."""

    duplicated: np.ndarray
    h1: np.ndarray
    h2: np.ndarray
    order: np.ndarray

    def kept_in_order(self) -> np.ndarray:
        """The positions of the rows kept, in ascending h1 (the row index's order)."""
        return self.order[~self.duplicated[self.order]]


def find_duplicates(frame: pd.DataFrame, columns: tuple[str, ...] = COLUMNS,
                    hashes: tuple[np.ndarray, np.ndarray] | None = None) -> Duplicates:
    """The duplicated rows of a frame (all but the first of each), with the hashes that found them.

    ``hashes`` are the frame's row_hashes when the caller has them already.

    Candidates come from the hash; each is then compared value by value with the row it
    repeats, and on any mismatch (a hash collision) pandas decides for the whole frame.
    """
    h1, h2 = row_hashes(frame, columns) if hashes is None else hashes
    first, order = first_occurrences(h1)
    dup = np.flatnonzero(first != np.arange(len(frame)))
    if len(dup):
        later = frame.iloc[dup][list(columns)].reset_index(drop=True)
        earlier = frame.iloc[first[dup]][list(columns)].reset_index(drop=True)
        if not later.equals(earlier):
            mask = frame.duplicated(subset=list(columns), keep="first").to_numpy()
            return Duplicates(mask, h1, h2, order)
    mask = np.zeros(len(frame), dtype=bool)
    mask[dup] = True
    return Duplicates(mask, h1, h2, order)
