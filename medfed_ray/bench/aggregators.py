"""Throughput of every aggregation rule beside a streaming floor and a numpy reference.

For each rule, three timings on the same ``(n, d)`` matrix in one process: the
rule itself, the floor (one pass reading every value once), and the
straightforward numpy version of the rule. The ratios say how close a rule
comes to reading speed and how much faster it is than the obvious code.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from medfed_ray.aggregators import AGGREGATORS
from medfed_ray.bench.references import REFERENCES

logger = logging.getLogger(__name__)

SEED = 20240611


def bench_params(rule: str, n: int) -> dict:
    """Return the parameters each rule is benchmarked with for ``n`` hospitals.

    Krum-type rules assume the largest ``f`` their precondition allows, up to a
    fifth of the hospitals, so the nearest-neighbour sums are not trivial.
    """
    num_malicious = max(0, min(n // 5, (n - 3) // 2))
    return {
        "trimmed_mean": {"trim_fraction": 0.1},
        "krum": {"num_malicious": num_malicious},
        "multi_krum": {"num_malicious": num_malicious},
        "geometric_median": {"max_iterations": 100, "tolerance": 1e-6, "eps": 1e-6},
        "centered_clipping": {"clip_radius": 100.0, "iterations": 3},
    }.get(rule, {})


@dataclass(frozen=True)
class RuleTiming:
    """One rule's measurements; seconds are the best of the repeats."""

    rule: str
    params: dict
    n: int
    d: int
    seconds: float
    values_per_second: float
    floor_seconds: float
    vs_floor: float
    """Rule throughput divided by floor throughput (1.0 = as fast as one pass)."""
    reference: str
    reference_seconds: float
    speedup: float
    """Reference seconds divided by rule seconds."""
    max_abs_difference: float
    """Largest coordinate difference between the rule's and the reference's result."""

    def to_dict(self) -> dict:
        """Return the record as plain JSON-ready values."""
        return asdict(self)


def make_updates(n: int, d: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Return a read-only standard-normal ``(n, d)`` float32 matrix and example counts."""
    rng = np.random.default_rng(seed)
    updates = rng.standard_normal((n, d), dtype=np.float32)
    updates.setflags(write=False)
    num_examples = rng.integers(100, 10_000, size=n, dtype=np.int64)
    return updates, num_examples


def floor_pass(updates: np.ndarray) -> np.ndarray:
    """Read every value once and add it into one ``d``-vector.

    Every rule must read each of the ``n * d`` values at least once, and this
    is numpy's fastest way to do so: ``np.add.reduce`` over axis 0 walks the
    C-ordered rows front to back, adding each row into the output with SIMD.
    It is memory-bound, so its time is what reading the matrix costs.
    """
    return np.add.reduce(updates, axis=0)


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Return the fastest of ``repeats`` timed calls of ``fn``."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_rule(
    rule: str, updates: np.ndarray, num_examples: np.ndarray, repeats: int
) -> RuleTiming:
    """Time ``rule``, the floor and the rule's reference on ``updates``."""
    n, d = updates.shape
    params = bench_params(rule, n)
    aggregate = AGGREGATORS[rule]
    description, reference = REFERENCES[rule]

    # One untimed call on a small copy of the same type first, so that a
    # kernel compiled on first use (the median's, the trimmed mean's) is not
    # timed in the first repeat.
    warm_up = np.array(updates[:, : min(d, 1024)], order="C")
    warm_up.setflags(write=False)
    aggregate(warm_up, num_examples, **params)

    # Interleave floor and rule so both see the same state of a shared machine.
    seconds = floor_seconds = math.inf
    for _ in range(repeats):
        floor_seconds = min(floor_seconds, best_seconds(lambda: floor_pass(updates), 1))
        start = time.perf_counter()
        result = aggregate(updates, num_examples, **params)
        seconds = min(seconds, time.perf_counter() - start)

    expected = reference(updates, num_examples, params)
    reference_seconds = best_seconds(
        lambda: reference(updates, num_examples, params), repeats
    )
    difference = np.abs(result.update.astype(np.float64) - expected).max()
    logger.info("%s: %.4f s, reference %.4f s", rule, seconds, reference_seconds)
    return RuleTiming(
        rule=rule,
        params=params,
        n=n,
        d=d,
        seconds=seconds,
        values_per_second=n * d / seconds,
        floor_seconds=floor_seconds,
        vs_floor=floor_seconds / seconds,
        reference=description,
        reference_seconds=reference_seconds,
        speedup=reference_seconds / seconds,
        max_abs_difference=float(difference),
    )


def bench_aggregators(
    n: int, d: int, rules: Sequence[str], repeats: int, seed: int = SEED
) -> list[RuleTiming]:
    """Return one :class:`RuleTiming` per rule on a random ``(n, d)`` matrix."""
    updates, num_examples = make_updates(n, d, seed)
    return [bench_rule(rule, updates, num_examples, repeats) for rule in rules]


def machine_description() -> dict:
    """Return what the numbers depend on: CPUs, memory, numpy and its BLAS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has CPU affinity
        cpus = os.cpu_count()
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {
        "cpus": cpus,
        "memory_gb": None if memory_gb is None else round(memory_gb, 1),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
