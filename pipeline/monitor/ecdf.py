"""The data-drift figures of pipeline.monitor.drift, computed from value counts on large samples.

The features are whole numbers in a range much narrower than millions of rows are long. Then a
sample is its counts per value (one bincount: no sort of millions of values), and the two-sample
Kolmogorov-Smirnov test and the population stability index follow from the counts: the same
numbers as ``scipy.stats.ks_2samp`` and ``drift.population_stability_index``, since both only
compare empirical distributions. Any other sample (fractions, a wide range, a small sample that
scipy tests exactly) goes to the general computation.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_SCIPY_EXACT_N = 10_000  # scipy's ks_2samp computes exact p-values up to this size


class Counts(NamedTuple):
    """A sample of whole numbers as counts: counts[i] values equal to low + i."""

    low: int
    counts: np.ndarray  # int64, one per value from low to the sample's maximum
    n: int


def value_counts(values: np.ndarray, other: np.ndarray | None = None) -> Counts | None:
    """The counts of a sample of whole numbers over its range (that of ``other`` too, when
    given); None when a value is not whole, or the range is wider than the samples are long
    (or than a few million values: the counts stay small)."""
    values = np.asarray(values)
    if not len(values) or values.dtype.kind not in "iuf":
        return None
    low, high = values.min(), values.max()
    longest = len(values)
    if other is not None and len(other):
        low, high = min(low, np.min(other)), max(high, np.max(other))
        longest = max(longest, len(other))
    if not (np.isfinite(low) and np.isfinite(high)) or max(abs(low), abs(high)) >= 2**53 \
            or high - low > min(2 * longest, 1 << 22) + (1 << 16):
        return None
    if values.dtype.kind == "f":
        whole = values.astype(np.int64)
        if not np.array_equal(whole, values):
            return None
        values = whole
    low = int(low)
    return Counts(low, np.bincount(values - low, minlength=int(high) - low + 1), len(values))


def _align(a: Counts, b: Counts) -> tuple[np.ndarray, np.ndarray, int]:
    """Both samples' counts over one range of values; and its lowest value."""
    low = min(a.low, b.low)
    high = max(a.low + len(a.counts), b.low + len(b.counts))
    out = []
    for c in (a, b):
        full = np.zeros(high - low, dtype=np.int64)
        full[c.low - low:c.low - low + len(c.counts)] = c.counts
        out.append(full)
    return out[0], out[1], low


def ks_2samp(data1: np.ndarray, data2: np.ndarray):
    """``scipy.stats.ks_2samp(data1, data2)`` (two-sided, method 'auto'): the same statistic,
    p-value, location and sign; from value counts when both samples are whole numbers in a
    narrow range and scipy would use its asymptotic p-value (a sample over 10,000 values)."""
    from scipy.stats import ks_2samp as scipy_ks_2samp

    if max(len(data1), len(data2)) <= _SCIPY_EXACT_N or not min(len(data1), len(data2)):
        return scipy_ks_2samp(data1, data2)
    first, second = value_counts(data1, data2), value_counts(data2, data1)
    if first is None or second is None:
        return scipy_ks_2samp(data1, data2)
    counts1, counts2, low = _align(first, second)
    return _ks_from_counts(counts1, counts2, low, first.n, second.n,
                           np.result_type(np.asarray(data1).dtype, np.asarray(data2).dtype))


class KSResult(NamedTuple):
    """The fields of scipy's KstestResult (whose class is private to scipy)."""

    statistic: np.float64
    pvalue: float
    statistic_location: object
    statistic_sign: np.int8


def _ks_from_counts(counts1: np.ndarray, counts2: np.ndarray, low: int, n1: int, n2: int,
                    dtype):
    """scipy's ks_2samp, evaluated where it evaluates the two empirical distribution functions:
    at every value either sample holds (scipy evaluates at each occurrence; a value's
    occurrences all give the same difference)."""
    from scipy.stats import distributions

    cdf1 = np.cumsum(counts1) / n1  # the count of values <= v, over n: scipy's searchsorted
    cdf2 = np.cumsum(counts2) / n2
    diffs = cdf1 - cdf2
    in1, in2 = counts1 > 0, counts2 > 0
    held = in1 | in2
    max_s, min_s = diffs[held].max(), diffs[held].min()

    def location(target: float) -> int:
        # scipy takes the first occurrence in data1 sorted, then data2 sorted: the smallest
        # value of data1 reaching the extreme, else the smallest of data2.
        hits = np.flatnonzero(in1 & (diffs == target))
        if not len(hits):
            hits = np.flatnonzero(in2 & (diffs == target))
        return low + int(hits[0])

    min_s_clipped = np.clip(-min_s, 0, 1)
    if min_s_clipped > max_s:
        d, where, sign = min_s_clipped, location(min_s), -1
    else:
        d, where, sign = max_s, location(max_s), 1
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    prob = np.clip(distributions.kstwo.sf(d, np.round(en)), 0, 1)
    return KSResult(np.float64(d), prob, np.asarray(where, dtype=dtype)[()], np.int8(sign))


def bin_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)``,
    from value counts when the values are whole numbers in a narrow range."""
    found = value_counts(values) if len(values) > _SCIPY_EXACT_N else None
    if found is None:
        return np.bincount(np.searchsorted(edges, values, side="right"),
                           minlength=len(edges) + 1)
    bins = np.searchsorted(edges, np.arange(found.low, found.low + len(found.counts)),
                           side="right")
    return np.bincount(bins, weights=found.counts, minlength=len(edges) + 1).astype(np.int64)
