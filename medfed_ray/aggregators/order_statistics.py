"""Column-wise trimmed means: the shared kernel of the median and the trimmed mean.

Both rules drop every coordinate's ``k`` smallest and ``k`` largest values and
average the rest; the median is the case ``k = (n - 1) // 2``. Two methods
compute the same thing: selecting each column's ``k + 1`` extremes
(:mod:`medfed_ray.aggregators.selection`), fast when ``k`` is small, and
sorting transposed column blocks, fast when ``k`` is large.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import map_blocks
from medfed_ray.aggregators.selection import select_trimmed_columns

MAX_SELECTED_EXTREMES = 26
"""Largest ``k + 1`` for which selection is used instead of sorting.

Selection costs ``2 (k + 1)`` compare-exchanges per value, so its time grows
with ``k`` while a sort's does not. Measured on the benchmark machine (AMD
EPYC, AVX-512), selection beat the block sort up to ``k + 1 = 32`` (at
``n = 50`` the median, ``k + 1 = 25``, took 0.07 s against 0.10 s for
``d = 10**6``); from ``k + 1 = 35`` on, the compiler stops vectorising the
insertion loop and selection became ten times slower than sorting.
"""

SELECTION_BLOCK_COLUMNS = 1 << 14
"""Columns handed to the compiled selection kernel per call: enough to hide the
call's overhead, few enough to split the matrix over the threads."""

SORT_BLOCK_BYTES = 256 << 10
"""Bytes of one transposed float32 block: small enough to stay in a core's L2 cache.

Measured at n=50: 128 KiB to 2 MiB blocks run within a few percent of each
other, 8 MiB ones are slower as the transposed copy leaves the cache.
"""


def trimmed_mean_columns(updates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-column mean of the middle ``n - 2k`` values and each row's credit.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``; only read.
    k : int
        Values dropped at each end of every column, ``0 <= 2k < n``.

    Returns
    -------
    result : numpy.ndarray
        float32 of shape ``(d,)``, the middle values' mean taken in float64.
    credit : numpy.ndarray
        float64 of shape ``(n,)``: for every row, the number of columns in which
        its value was kept. When tied values straddle the cut, the kept copies
        are shared equally among the rows holding that value, so the credit of
        each column sums to ``n - 2k`` whatever order the sort left ties in.
    """
    # k = 0 goes through selection too: it sums every column in float64 and
    # divides once, where weighting rows by 1/n would round 1/n first and
    # leave e.g. -2.8e-17 for the mean of -1, -1, -1, -1, 2, 2.
    if k + 1 <= MAX_SELECTED_EXTREMES:
        return _select_columns(updates, k)
    return _sort_columns(updates, k)


def _select_columns(updates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The trimmed means and credits by selecting each column's extremes."""
    d = updates.shape[1]
    result = np.empty(d, dtype=np.float32)
    credits = map_blocks(
        lambda start, stop: select_trimmed_columns(updates, k, start, stop, result),
        d,
        SELECTION_BLOCK_COLUMNS,
    )
    return result, np.sum(credits, axis=0, dtype=np.float64)


def _sort_columns(updates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The trimmed means and credits by sorting transposed column blocks."""
    n, d = updates.shape
    result = np.empty(d, dtype=np.float32)
    keep = n - 2 * k
    width = max(1, SORT_BLOCK_BYTES // (4 * n))
    ones = np.ones(keep, dtype=np.float64)

    def trim_block(start: int, stop: int) -> np.ndarray:
        block = updates[:, start:stop]

        # Sort along contiguous memory: numpy's SIMD sort of many short rows
        # beats np.partition along a strided axis by about six times. Always
        # copy: for one column the transpose is already contiguous, and
        # ascontiguousarray would return a view and sort the input itself.
        ordered = np.array(block.T, order="C")
        ordered.sort(axis=1)
        kept = ordered[:, k : n - k]
        # A float64 matrix-vector product sums the short strided rows about
        # twice as fast as sum(axis=1, dtype=float64).
        result[start:stop] = (kept.astype(np.float64) @ ones) / keep

        # Without ties at the cut, exactly the rows between the lowest and the
        # highest kept value are kept: two comparisons per value, against
        # contiguous copies (strided boundaries made them five times slower).
        low, high = kept[:, 0].copy(), kept[:, -1].copy()
        inside = (block >= low) & (block <= high)
        credit = np.count_nonzero(inside, axis=1).astype(np.float64)
        # A tie straddles the cut where a dropped neighbour equals a boundary.
        tied = np.flatnonzero(
            (ordered[:, k - 1] == ordered[:, k])
            | (ordered[:, n - k - 1] == ordered[:, n - k])
        )
        if tied.size:
            credit += _tie_correction(block[:, tied], kept[tied], inside[:, tied])
        return credit

    credit = np.zeros(n, dtype=np.float64)
    for block_credit in map_blocks(trim_block, d, width):
        credit += block_credit
    return result, credit


def _tie_correction(
    block: np.ndarray, kept: np.ndarray, inside: np.ndarray
) -> np.ndarray:
    """Return how much to add to each row's credit in columns where ties straddle the cut.

    ``inside`` counted every row holding a boundary value as kept; here the
    copies of each boundary value that the sort kept are shared equally among
    the rows holding it instead.
    """
    low, high = kept[:, 0], kept[:, -1]
    strictly_inside = (block > low) & (block < high)
    low_copies = (kept == low[:, None]).sum(axis=1)
    # When both boundaries are one value, its copies are counted once.
    high_copies = np.where(low == high, 0, (kept == high[:, None]).sum(axis=1))

    credit = strictly_inside.sum(axis=1, dtype=np.float64)
    for value, copies in ((low, low_copies), (high, high_copies)):
        holders = block == value
        credit += holders @ (copies / holders.sum(axis=0))
    return credit - inside.sum(axis=1, dtype=np.float64)
