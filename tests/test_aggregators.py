"""FedAvg, mean and coordinate-wise median against slow, obviously correct references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from medfed_ray.aggregators import (
    AGGREGATORS,
    Decision,
    fedavg,
    get_aggregator,
    get_param_checker,
    mean,
    median,
    order_statistics,
)
from medfed_ray.aggregators.base import block_width, map_blocks

FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_only(matrix: np.ndarray) -> np.ndarray:
    """Return a float32 copy that numpy refuses to write into."""
    frozen = np.array(matrix, dtype=np.float32)
    frozen.setflags(write=False)
    return frozen


def reference_weighted_mean(updates: np.ndarray, counts: list[int]) -> list[float]:
    """Weighted column means with exact fractions of the counts and exact sums."""
    total = sum(counts)
    columns = zip(*updates.tolist(), strict=True)
    return [
        math.fsum(count * value for count, value in zip(counts, column, strict=True))
        / total
        for column in columns
    ]


def reference_trimmed(updates: np.ndarray, k: int) -> tuple[list[float], list[float]]:
    """Mean of each column's middle values after dropping k at each end, and credits.

    A row's credit in a column is the number of kept positions holding its
    value divided by the number of rows holding that value.
    """
    n, d = updates.shape
    means, credit = [], [0.0] * n
    for column in updates.T.tolist():
        ordered = sorted(column)
        kept = ordered[k : n - k]
        means.append(math.fsum(kept) / len(kept))
        for row, value in enumerate(column):
            credit[row] += kept.count(value) / column.count(value)
    return means, credit


matrices = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 9), st.integers(1, 6)),
    elements=st.floats(-1e6, 1e6, width=32),
)
tied_matrices = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 9), st.integers(1, 6)),
    elements=st.sampled_from([-2.0, 0.0, 0.5, 3.0]),
)


# FedAvg


@given(matrices, st.data())
def test_fedavg_matches_exact_weighted_mean(updates, data):
    """Every coordinate is the example-weighted mean, rounded once to float32."""
    counts = data.draw(
        st.lists(st.integers(0, 10**6), min_size=len(updates), max_size=len(updates))
    )
    if sum(counts) == 0:
        counts[0] = 1

    result = fedavg.aggregate(read_only(updates), np.array(counts, dtype=np.int64))

    expected = np.array(reference_weighted_mean(updates, counts), dtype=np.float32)
    np.testing.assert_allclose(result.update, expected, rtol=2e-7, atol=1e-30)
    assert result.update.dtype == np.float32
    np.testing.assert_allclose(result.contribution, np.array(counts) / sum(counts))


def test_fedavg_weights_counts_that_overflow_32_bits_exactly():
    """Counts of three billion give the exact shares, not wrapped-around ones."""
    updates = read_only([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    counts = np.array([3_000_000_000, 1_000_000_000, 4_000_000_000], dtype=np.int64)

    result = fedavg.aggregate(updates, counts)

    np.testing.assert_array_equal(result.contribution, [0.375, 0.125, 0.5])
    np.testing.assert_array_equal(result.update, np.float32([0.375, 0.125]))


def test_fedavg_rejects_a_hospital_without_examples():
    """A zero count gives zero weight and the decision rejected."""
    result = fedavg.aggregate(read_only([[1.0], [5.0]]), np.array([0, 2]))

    assert result.decisions == (Decision.REJECTED, Decision.SELECTED)
    np.testing.assert_array_equal(result.update, [5.0])


def test_fedavg_rejects_counts_that_do_not_match_the_rows():
    """The count vector must have one entry per row."""
    with pytest.raises(ValueError) as error:
        fedavg.aggregate(read_only([[1.0], [2.0]]), np.array([1, 2, 3]))

    assert str(error.value) == (
        "num_examples must have shape (2,) to match the updates; found (3,)"
    )


# Mean


@given(matrices)
def test_mean_matches_exact_unweighted_mean(updates):
    """Every coordinate is the plain mean, whatever the counts say."""
    counts = np.arange(1, len(updates) + 1)

    result = mean.aggregate(read_only(updates), counts)

    expected = reference_weighted_mean(updates, [1] * len(updates))
    np.testing.assert_allclose(
        result.update, np.float32(expected), rtol=2e-7, atol=1e-30
    )
    assert result.decisions == (Decision.SELECTED,) * len(updates)


def test_mean_of_values_near_float32_max_does_not_overflow():
    """Two values near 3.4e38 sum past float32 range; the float64 sum does not."""
    updates = read_only([[3.0e38, -3.0e38], [3.2e38, -3.2e38]])

    result = mean.aggregate(updates)

    np.testing.assert_allclose(result.update, [3.1e38, -3.1e38], rtol=1e-7)


def test_mean_of_one_hospital_is_its_update():
    """With n = 1 the aggregate is the single row."""
    updates = read_only([[1.5, -2.0, 7.0]])

    result = mean.aggregate(updates)

    np.testing.assert_array_equal(result.update, updates[0])
    np.testing.assert_array_equal(result.contribution, [1.0])


def test_mean_across_many_threaded_blocks_matches_reference():
    """A matrix wide enough to be split over threads gives the same mean."""
    rng = np.random.default_rng(3)
    updates = read_only(rng.standard_normal((3, 300_000)))

    result = mean.aggregate(updates)

    expected = updates.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(result.update, expected, rtol=2e-7)


# Median


# No deadline: the first example of each k compiles the selection kernel.
@settings(max_examples=200, deadline=None)
@given(st.one_of(matrices, tied_matrices))
def test_median_matches_sorted_lists(updates):
    """Odd n takes the middle value, even n the midpoint; ties share the credit."""
    n, d = updates.shape

    result = median.aggregate(read_only(updates))

    means, credit = reference_trimmed(updates, (n - 1) // 2)
    np.testing.assert_allclose(result.update, np.float32(means), rtol=1e-7, atol=1e-30)
    middle = 2 - n % 2
    np.testing.assert_allclose(result.contribution, np.array(credit) / (d * middle))
    assert result.contribution.sum() == pytest.approx(1.0)


def test_median_of_large_even_pair_does_not_overflow():
    """The midpoint of 3.3e38 and 3.4e38 is taken in float64."""
    updates = read_only([[3.3e38], [3.4e38]])

    result = median.aggregate(updates)

    np.testing.assert_allclose(result.update, [3.35e38], rtol=1e-7)
    assert np.isfinite(result.update).all()


def test_median_rejects_an_outlier_that_never_supplies_the_median():
    """An outlying row is rejected; the rows that supply the median are trimmed."""
    updates = read_only(
        [[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [100.0, 100.0], [-1.0, 5.0]]
    )

    result = median.aggregate(updates)

    np.testing.assert_array_equal(result.update, [1.0, 2.0])
    assert result.decisions[3] == Decision.REJECTED
    assert result.contribution[3] == 0.0
    assert result.decisions[1] == Decision.TRIMMED


def test_median_of_two_hospitals_selects_both():
    """With n = 2 the median is the mean and both rows are selected."""
    result = median.aggregate(read_only([[1.0], [3.0]]))

    assert result.decisions == (Decision.SELECTED, Decision.SELECTED)
    np.testing.assert_array_equal(result.update, [2.0])


def test_median_across_many_sorted_blocks_matches_numpy():
    """A wide matrix split into many blocks gives numpy's median."""
    rng = np.random.default_rng(5)
    updates = read_only(rng.standard_normal((6, 50_000)))

    result = median.aggregate(updates)

    expected = np.median(updates.astype(np.float64), axis=0).astype(np.float32)
    np.testing.assert_array_equal(result.update, expected)


# Both methods behind the median and the trimmed mean


@pytest.mark.parametrize("method", ["_select_columns", "_sort_columns"])
@pytest.mark.parametrize(
    ("n", "k", "values"),
    [
        (5, 1, "normal"),
        (12, 3, "ties"),
        (31, 15, "normal"),
        (40, 4, "ties"),
        (50, 24, "normal"),
        (7, 2, "constant"),
    ],
)
def test_selection_and_sorting_match_the_sorted_lists(method, n, k, values):
    """Both methods give the reference means and credits, with ties across the cut.

    300 columns cross the selection kernel's 128-column sub-blocks.
    """
    rng = np.random.default_rng(n * 100 + k)
    if values == "normal":
        updates = rng.standard_normal((n, 300))
    elif values == "ties":
        updates = rng.integers(-2, 3, size=(n, 300)).astype(np.float64)
    else:
        updates = np.full((n, 300), 0.25)
    updates = read_only(updates)

    result, credit = getattr(order_statistics, method)(updates, k)

    means, expected_credit = reference_trimmed(updates, k)
    np.testing.assert_allclose(result, np.float32(means), rtol=1e-7, atol=1e-30)
    np.testing.assert_allclose(credit, expected_credit, rtol=1e-12)


def test_selection_keeps_small_honest_values_exact_beside_huge_outliers():
    """Kept values are summed alone, so dropped 3e38 outliers cost no precision."""
    rng = np.random.default_rng(2)
    honest = rng.uniform(-1e-3, 1e-3, size=(8, 200))
    updates = read_only(np.vstack([honest, np.full((2, 200), 3e38)]))

    result, _ = order_statistics._select_columns(updates, 2)

    means, _ = reference_trimmed(updates, 2)
    np.testing.assert_allclose(result, np.float32(means), rtol=1e-6)


def test_trimmed_columns_choose_selection_only_for_few_extremes(monkeypatch):
    """Selection serves small k, sorting large k; both answer the same."""
    calls = []
    for method in ("_select_columns", "_sort_columns"):
        original = getattr(order_statistics, method)
        monkeypatch.setattr(
            order_statistics,
            method,
            lambda updates, k, name=method, fn=original: (
                calls.append(name) or fn(updates, k)
            ),
        )
    updates = read_only(np.random.default_rng(3).standard_normal((80, 50)))
    limit = order_statistics.MAX_SELECTED_EXTREMES

    order_statistics.trimmed_mean_columns(updates, limit - 1)
    order_statistics.trimmed_mean_columns(updates, limit)

    assert calls == ["_select_columns", "_sort_columns"]


# What every rule shares


@pytest.mark.parametrize("name", ["fedavg", "mean", "median"])
def test_parameterless_rules_report_unknown_parameters(name):
    """A misspelt parameter is reported, naming the rule and the parameter."""
    assert get_param_checker(name)(5, 1) == []
    assert get_param_checker(name)(5, 1, trim=0.1) == [
        f"{name} got unknown parameter 'trim'; it accepts no parameters"
    ]


def test_unknown_rule_names_the_choices():
    """Asking for a rule that does not exist lists the registered ones."""
    with pytest.raises(KeyError) as error:
        get_aggregator("average")

    assert "unknown aggregator 'average'; choose one of: centered_clipping" in str(
        error.value
    )
    with pytest.raises(KeyError):
        get_param_checker("average")


def test_every_rule_rejects_float64_updates():
    """Rules take float32 only, so no rule silently doubles its memory."""
    with pytest.raises(ValueError) as error:
        AGGREGATORS["mean"](np.zeros((2, 3)))

    assert str(error.value) == "updates must be float32; found float64"


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
def test_every_rule_rejects_updates_without_columns(name):
    """A (3, 0) matrix is refused with its shape, not answered with a division by zero."""
    updates = np.ones((3, 0), dtype=np.float32)
    required = {
        "krum": {"num_malicious": 0},
        "multi_krum": {"num_malicious": 0},
        "centered_clipping": {"clip_radius": 1.0},
    }.get(name, {})

    with pytest.raises(ValueError) as error:
        AGGREGATORS[name](updates, np.ones(3, dtype=np.int64), **required)

    assert (
        str(error.value) == "updates must hold at least one column; found shape (3, 0)"
    )


def test_map_blocks_returns_results_in_column_order():
    """Threaded blocks come back in column order, covering every column once."""
    spans = map_blocks(lambda start, stop: (start, stop), 10_007, 100)

    assert spans[0] == (0, 100)
    assert spans[-1] == (10_000, 10_007)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert block_width(50, 8 << 20) == 20971
