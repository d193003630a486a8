"""The contract every aggregation rule follows: an ``(n, d)`` matrix in, one update out."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import numpy as np

T = TypeVar("T")

MAX_WORKERS = 8
"""Most threads a rule uses for its column blocks; more rarely helps a memory-bound pass."""

MIN_BLOCKS_PER_WORKER = 4
"""Below this many blocks per thread, starting threads costs more than it saves."""


class Decision(StrEnum):
    """What a rule did with one hospital's update, recorded per round and hospital."""

    SELECTED = "selected"
    """The update entered the aggregate with its full weight."""
    DOWN_WEIGHTED = "down_weighted"
    """The update entered the aggregate with a reduced weight."""
    TRIMMED = "trimmed"
    """Some of the update's coordinates were left out of the aggregate."""
    REJECTED = "rejected"
    """The update was left out of the aggregate entirely."""


@dataclass(frozen=True)
class Aggregate:
    """The result of one aggregation.

    Parameters
    ----------
    update : numpy.ndarray
        The aggregated update, float32 of shape ``(d,)``.
    decisions : tuple of Decision
        One entry per row of the input matrix, in row order.
    contribution : numpy.ndarray
        float64 of shape ``(n,)``: the share of the aggregate each row made up,
        averaged over coordinates (for a weighted mean, the row's weight; for a
        coordinate-wise median, how often the row supplied the median).
    """

    update: np.ndarray
    decisions: tuple[Decision, ...]
    contribution: np.ndarray = field(repr=False)


def check_updates(updates: np.ndarray, num_examples: np.ndarray | None = None) -> None:
    """Raise ``ValueError`` unless ``updates`` is a non-empty float32 ``(n, d)`` matrix.

    ``num_examples``, when given, must hold ``n`` non-negative integers with a
    positive sum. Aggregators assume finite input: the coordinator removes
    non-finite updates before it calls them.
    """
    if not isinstance(updates, np.ndarray) or updates.ndim != 2:
        raise ValueError(
            "updates must be a 2-D numpy array of shape (n, d); "
            f"found {type(updates).__name__} with shape {np.shape(updates)}"
        )
    if updates.dtype != np.float32:
        raise ValueError(f"updates must be float32; found {updates.dtype}")
    if updates.shape[0] == 0:
        raise ValueError("updates must hold at least one row; found none")
    if updates.shape[1] == 0:
        raise ValueError(
            f"updates must hold at least one column; found shape {updates.shape}"
        )
    if num_examples is None:
        return

    num_examples = np.asarray(num_examples)
    if num_examples.shape != (updates.shape[0],):
        raise ValueError(
            f"num_examples must have shape ({updates.shape[0]},) to match the updates; "
            f"found {num_examples.shape}"
        )
    if not np.issubdtype(num_examples.dtype, np.integer):
        raise ValueError(f"num_examples must be integers; found {num_examples.dtype}")
    if (num_examples < 0).any() or int(num_examples.sum(dtype=object)) <= 0:
        raise ValueError(
            "num_examples must be non-negative with a positive sum; "
            f"found {num_examples.tolist()}"
        )


def block_width(n: int, budget_bytes: int = 8 << 20) -> int:
    """Columns per block so that an ``(n, block)`` float64 scratch copy fits the budget.

    Rules that work column by column process the matrix in such blocks, so their
    scratch memory stays bounded and cache-resident however large ``d`` is.
    """
    return max(1, budget_bytes // (8 * max(n, 1)))


def worker_count() -> int:
    """Return how many threads column-block work may use: the CPUs this process may run on."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has CPU affinity
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_WORKERS))


_executor: ThreadPoolExecutor | None = None


def _shared_executor() -> ThreadPoolExecutor:
    """Return one process-wide pool, so that a round does not pay for new threads."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(worker_count(), thread_name_prefix="aggregate")
    return _executor


def map_blocks(fn: Callable[[int, int], T], d: int, width: int) -> list[T]:
    """Call ``fn(start, stop)`` on every block of ``width`` columns; return results in column order.

    The blocks are split into one contiguous run per thread. NumPy releases the
    GIL in the copies, sorts and BLAS calls the rules make per block, so the
    threads overlap. ``fn`` must only write to its own columns. The results
    come back in column order whatever the number of threads, so a caller that
    sums them gets the same float64 total on every machine.
    """
    starts = list(range(0, d, width))
    blocks = [(start, min(start + width, d)) for start in starts]
    workers = min(worker_count(), len(blocks) // MIN_BLOCKS_PER_WORKER)
    if workers <= 1:
        return [fn(start, stop) for start, stop in blocks]

    def run(chunk: list[tuple[int, int]]) -> list[T]:
        return [fn(start, stop) for start, stop in chunk]

    size = -(-len(blocks) // workers)
    chunks = [blocks[i : i + size] for i in range(0, len(blocks), size)]
    results: list[T] = []
    for chunk_results in _shared_executor().map(run, chunks):
        results.extend(chunk_results)
    return results
