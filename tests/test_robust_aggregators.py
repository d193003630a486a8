"""Robust rules against slow, obviously correct references in float64 loops."""

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
    centered_clipping,
    geometric_median,
    get_param_checker,
    krum,
    multi_krum,
    trimmed_mean,
)
from medfed_ray.aggregators.distances import squared_distances
from medfed_ray.aggregators.norm_bounding import (
    aggregate_bounded,
    bound_norms,
)
from medfed_ray.aggregators.norm_bounding import (
    check_params as check_norm_bounding,
)
from tests.test_aggregators import read_only, reference_trimmed

PARAMS = {
    "trimmed_mean": {"trim_fraction": 0.2},
    "krum": {"num_malicious": 1},
    "multi_krum": {"num_malicious": 1, "num_selected": 3},
    "centered_clipping": {"clip_radius": 2.0, "iterations": 3},
}


def exact_distance(a: list[float], b: list[float]) -> float:
    """Squared distance summed term by term from exact float64 differences."""
    return math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def reference_krum_scores(updates: np.ndarray, f: int) -> list[float]:
    """Each row's sum of squared distances to its n - f - 2 nearest other rows."""
    rows = updates.tolist()
    scores = []
    for i, row in enumerate(rows):
        others = sorted(
            exact_distance(row, other) for j, other in enumerate(rows) if j != i
        )
        scores.append(math.fsum(others[: len(rows) - f - 2]))
    return scores


def column_mean(rows: list[list[float]]) -> list[float]:
    return [math.fsum(column) / len(rows) for column in zip(*rows, strict=True)]


spread_matrices = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 9), st.integers(1, 5)),
    elements=st.floats(-1e3, 1e3, width=32),
)
tied_matrices = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 9), st.integers(1, 5)),
    elements=st.sampled_from([-1.0, 0.0, 2.0]),
)


# Trimmed mean


# No deadline: the first example of each k compiles the selection kernel.
@settings(max_examples=200, deadline=None)
@given(st.one_of(spread_matrices, tied_matrices), st.floats(0, 0.49))
def test_trimmed_mean_matches_sorted_lists(updates, trim_fraction):
    """Each coordinate drops floor(trim_fraction * n) values per end; ties share credit."""
    n, d = updates.shape
    k = math.floor(trim_fraction * n)

    result = trimmed_mean.aggregate(read_only(updates), trim_fraction=trim_fraction)

    means, credit = reference_trimmed(updates, k)
    np.testing.assert_allclose(result.update, np.float32(means), rtol=2e-7, atol=1e-30)
    np.testing.assert_allclose(
        result.contribution, np.array(credit) / (d * (n - 2 * k))
    )
    for kept, decision in zip(credit, result.decisions, strict=True):
        expected = (
            Decision.SELECTED
            if kept == d
            else Decision.REJECTED
            if kept == 0
            else Decision.TRIMMED
        )
        assert decision == expected


def test_trimmed_mean_without_trimming_sums_before_dividing():
    """trim_fraction 0: -1 four times and 2 twice average to exactly 0, not -2.8e-17."""
    updates = read_only([[-1.0], [-1.0], [-1.0], [2.0], [2.0], [-1.0]])

    result = trimmed_mean.aggregate(updates, trim_fraction=0.0)

    assert result.update.tolist() == [0.0]
    assert result.decisions == (Decision.SELECTED,) * 6


def test_trimmed_mean_drops_the_extremes_of_each_coordinate():
    """With n = 5 and trim 0.2 the largest and smallest value of each column go."""
    updates = read_only([[1, 50], [2, 2], [3, 3], [4, 4], [-90, 5]])

    result = trimmed_mean.aggregate(updates, trim_fraction=0.2)

    np.testing.assert_array_equal(result.update, [2.0, 4.0])
    assert result.decisions[4] == Decision.TRIMMED
    assert result.decisions[2] == Decision.SELECTED


@pytest.mark.parametrize("trim_fraction", [-0.1, 0.5, float("nan"), "0.1"])
def test_trimmed_mean_rejects_a_trim_fraction_outside_its_range(trim_fraction):
    """The error names the parameter, the value found and the allowed range."""
    message = f"trimmed_mean needs trim_fraction in [0, 0.5); found trim_fraction={trim_fraction!r}"

    with pytest.raises(ValueError) as error:
        trimmed_mean.aggregate(read_only([[1.0]]), trim_fraction=trim_fraction)

    assert str(error.value) == message
    assert get_param_checker("trimmed_mean")(4, 0, trim_fraction=trim_fraction) == [
        message
    ]


# Krum and Multi-Krum


def test_squared_distances_keep_precision_far_from_the_origin():
    """Close points at 1e4 from the origin: float32 expansion would lose every digit."""
    rng = np.random.default_rng(7)
    base = np.float32(1e4) + rng.standard_normal(64).astype(np.float32)
    updates = read_only(base + 1e-3 * rng.standard_normal((5, 64)).astype(np.float32))

    distances = squared_distances(updates)

    rows = updates.astype(np.float64).tolist()
    expected = [[exact_distance(a, b) for b in rows] for a in rows]
    np.testing.assert_allclose(distances, expected, rtol=1e-6, atol=1e-12)


@given(spread_matrices.filter(lambda m: len(m) >= 3), st.data())
def test_krum_selects_the_row_with_the_lowest_reference_score(updates, data):
    """Krum returns the row whose nearest-neighbour score is lowest (first on ties)."""
    n = len(updates)
    f = data.draw(st.integers(0, (n - 3) // 2))

    result = krum.aggregate(read_only(updates), num_malicious=f)

    scores = reference_krum_scores(updates, f)
    best = min(scores)
    # Scores within rounding of the best may legitimately be chosen instead.
    assert scores[int(np.argmax(result.contribution))] <= best + 1e-9 * (1 + best)
    chosen = int(np.argmax(result.contribution))
    np.testing.assert_array_equal(result.update, updates[chosen])
    assert result.decisions.count(Decision.SELECTED) == 1
    assert result.decisions.count(Decision.REJECTED) == n - 1


def test_krum_ignores_an_attacker_far_from_the_others():
    """Two colluding outliers cannot be selected among seven hospitals."""
    rng = np.random.default_rng(2)
    updates = rng.standard_normal((7, 20)).astype(np.float32)
    updates[[1, 4]] = 100.0

    result = krum.aggregate(read_only(updates), num_malicious=2)

    assert result.decisions[1] == Decision.REJECTED
    assert result.decisions[4] == Decision.REJECTED


def test_krum_rejects_too_few_hospitals_for_its_malicious_count():
    """Krum needs n >= 2f + 3; the message gives both numbers."""
    message = (
        "krum needs n >= 2 * num_malicious + 3 hospitals; found n=6, num_malicious=2"
    )

    with pytest.raises(ValueError) as error:
        krum.aggregate(read_only(np.zeros((6, 3))), num_malicious=2)

    assert str(error.value) == message
    assert get_param_checker("krum")(6, 2, num_malicious=2) == [message]
    assert get_param_checker("krum")(7, 2, num_malicious=2) == []


def test_krum_check_reports_a_missing_and_a_misspelt_parameter():
    """Every problem is listed, quoting the scenario's malicious count."""
    problems = get_param_checker("krum")(9, 2, num_byzantine=2)

    assert problems == [
        "krum got unknown parameter 'num_byzantine'; it accepts num_malicious",
        "krum needs num_malicious, the number of malicious hospitals it must "
        "tolerate; none given (the scenario has 2)",
    ]


@given(spread_matrices.filter(lambda m: len(m) >= 3), st.data())
def test_multi_krum_averages_the_rows_with_the_lowest_scores(updates, data):
    """The aggregate is the plain mean of the m best-scoring rows."""
    n = len(updates)
    f = data.draw(st.integers(0, (n - 3) // 2))
    m = data.draw(st.integers(1, n))

    result = multi_krum.aggregate(read_only(updates), num_malicious=f, num_selected=m)

    scores = reference_krum_scores(updates, f)
    chosen = np.flatnonzero(result.contribution)
    assert len(chosen) == m
    cutoff = sorted(scores)[m - 1]
    assert all(scores[i] <= cutoff + 1e-9 * (1 + cutoff) for i in chosen)
    expected = column_mean(updates[chosen].astype(np.float64).tolist())
    np.testing.assert_allclose(
        result.update, np.float32(expected), rtol=2e-7, atol=1e-6
    )


def test_multi_krum_selects_n_minus_f_rows_by_default():
    """Without num_selected, Multi-Krum averages n - f rows."""
    updates = read_only(np.arange(14, dtype=np.float32).reshape(7, 2))

    result = multi_krum.aggregate(updates, num_malicious=2)

    assert result.decisions.count(Decision.SELECTED) == 5


def test_multi_krum_rejects_a_selection_outside_one_to_n():
    """num_selected must lie in [1, n]; both preconditions are reported together."""
    problems = get_param_checker("multi_krum")(5, 1, num_malicious=2, num_selected=6)

    assert problems == [
        "multi_krum needs n >= 2 * num_malicious + 3 hospitals; found n=5, num_malicious=2",
        "multi_krum needs num_selected to be an integer in [1, n]; "
        "found num_selected=6, n=5",
    ]
    with pytest.raises(ValueError) as error:
        multi_krum.aggregate(
            read_only(np.zeros((5, 2))), num_malicious=1, num_selected=0
        )
    assert str(error.value) == (
        "multi_krum needs num_selected to be an integer in [1, n]; "
        "found num_selected=0, n=5"
    )


# Geometric median


def reference_weiszfeld(updates, max_iterations, tolerance, eps):
    """Smoothed Weiszfeld in the coordinates themselves, float64, one row at a time."""
    rows = updates.astype(np.float64).tolist()
    estimate = column_mean(rows)

    def smoothed(point):
        return [max(eps, math.sqrt(exact_distance(row, point))) for row in rows]

    distances = smoothed(estimate)
    objective = math.fsum(distances)
    for _ in range(max_iterations):
        inverse = [1.0 / distance for distance in distances]
        weights = [value / math.fsum(inverse) for value in inverse]
        estimate = [
            math.fsum(w * value for w, value in zip(weights, column, strict=True))
            for column in zip(*rows, strict=True)
        ]
        distances = smoothed(estimate)
        previous, objective = objective, math.fsum(distances)
        if abs(previous - objective) <= tolerance * objective:
            break
    return estimate, weights


@given(spread_matrices, st.integers(1, 30))
def test_geometric_median_matches_weiszfeld_in_coordinates(updates, max_iterations):
    """Iterating on distances alone gives the coordinate-space Weiszfeld estimate."""
    result = geometric_median.aggregate(
        read_only(updates), max_iterations=max_iterations, tolerance=1e-9, eps=1e-3
    )

    estimate, weights = reference_weiszfeld(updates, max_iterations, 1e-9, 1e-3)
    scale = 1.0 + float(np.abs(updates).max())
    np.testing.assert_allclose(result.update, estimate, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(result.contribution, weights, rtol=1e-3, atol=1e-6)


def test_geometric_median_down_weights_a_distant_update():
    """A far outlier ends with a small weight and the estimate stays with the rest."""
    rng = np.random.default_rng(4)
    updates = rng.standard_normal((9, 30)).astype(np.float32)
    updates[3] += 1000.0

    result = geometric_median.aggregate(read_only(updates))

    assert result.decisions[3] == Decision.DOWN_WEIGHTED
    assert result.decisions.count(Decision.DOWN_WEIGHTED) == 1
    assert np.abs(result.update).max() < 5.0


def test_geometric_median_of_one_update_is_that_update():
    """With n = 1 the estimate is the single row, with all the weight."""
    updates = read_only([[2.0, -3.0]])

    result = geometric_median.aggregate(updates)

    np.testing.assert_array_equal(result.update, [2.0, -3.0])
    np.testing.assert_array_equal(result.contribution, [1.0])


def test_geometric_median_reports_every_bad_parameter():
    """All three parameters are checked, each message naming its value."""
    problems = get_param_checker("geometric_median")(
        5, 0, max_iterations=0, tolerance=-1.0, eps=0.0
    )

    assert problems == [
        "geometric_median needs max_iterations to be an integer >= 1; found max_iterations=0",
        "geometric_median needs tolerance >= 0; found tolerance=-1.0",
        "geometric_median needs eps > 0; found eps=0.0",
    ]
    with pytest.raises(ValueError) as error:
        geometric_median.aggregate(read_only([[1.0]]), eps=-1.0)
    assert str(error.value) == "geometric_median needs eps > 0; found eps=-1.0"


# Centered clipping


def reference_centered_clipping(updates, center, tau, iterations):
    """v <- v + mean_i (x_i - v) min(1, tau / ||x_i - v||), in float64 coordinates."""
    rows = updates.astype(np.float64).tolist()
    point = list(center)
    for _ in range(iterations):
        steps = []
        for row in rows:
            offset = [x - v for x, v in zip(row, point, strict=True)]
            norm = math.sqrt(math.fsum(o * o for o in offset))
            scale = 1.0 if norm == 0 else min(1.0, tau / norm)
            steps.append([scale * o for o in offset])
        point = [v + s for v, s in zip(point, column_mean(steps), strict=True)]
    return point


@given(spread_matrices, st.floats(0.1, 1e3), st.integers(1, 5), st.booleans())
def test_centered_clipping_matches_coordinate_iteration(
    updates, tau, iterations, moved
):
    """The aggregate equals iterating the clipping step directly on coordinates."""
    d = updates.shape[1]
    center = np.linspace(-5, 5, d) if moved else np.zeros(d)

    result = centered_clipping.aggregate(
        read_only(updates),
        clip_radius=tau,
        iterations=iterations,
        center=center if moved else None,
    )

    expected = reference_centered_clipping(updates, center, tau, iterations)
    scale = 1.0 + float(np.abs(updates).max())
    np.testing.assert_allclose(result.update, expected, rtol=1e-5, atol=1e-5 * scale)


def test_centered_clipping_moves_at_most_tau_over_n_per_attacker():
    """One far update shifts a zero-centred aggregate by at most tau / n."""
    updates = np.zeros((4, 3), dtype=np.float32)
    updates[2] = [1e6, 0.0, 0.0]

    result = centered_clipping.aggregate(read_only(updates), clip_radius=2.0)

    np.testing.assert_allclose(result.update, [0.5, 0.0, 0.0], rtol=1e-6)
    assert result.decisions[2] == Decision.DOWN_WEIGHTED
    assert result.decisions[0] == Decision.SELECTED


def test_centered_clipping_rejects_a_center_of_the_wrong_length():
    """The reference point must have one value per coordinate."""
    with pytest.raises(ValueError) as error:
        centered_clipping.aggregate(
            read_only(np.zeros((3, 4))), clip_radius=1.0, center=np.zeros(3)
        )

    assert str(error.value) == (
        "centered_clipping needs center of shape (4,); found shape (3,)"
    )


def test_centered_clipping_check_lists_a_missing_radius_and_bad_iterations():
    """A missing clip_radius and a zero iteration count are both reported."""
    problems = get_param_checker("centered_clipping")(5, 1, iterations=0)

    assert problems == [
        "centered_clipping needs clip_radius, the clipping radius tau > 0; none given",
        "centered_clipping needs iterations to be an integer >= 1; found iterations=0",
    ]


# Norm bounding


@given(spread_matrices, st.floats(0.01, 1e4))
def test_norm_bounding_scales_only_rows_above_the_bound(updates, max_norm):
    """Long rows end at max_norm (to float32 rounding); short rows are untouched."""
    bounded = bound_norms(read_only(updates), max_norm)

    for row, new, scaled in zip(
        updates, bounded.updates, bounded.down_weighted, strict=True
    ):
        norm = math.sqrt(math.fsum(float(x) ** 2 for x in row))
        assert scaled == (norm > max_norm)
        if scaled:
            expected = [float(x) * max_norm / norm for x in row]
            np.testing.assert_allclose(new, expected, rtol=1e-6, atol=1e-6 * max_norm)
        else:
            np.testing.assert_array_equal(new, row)


def test_norm_bounding_composes_with_a_rule():
    """A selected row that was scaled is recorded as down-weighted."""
    updates = read_only([[3.0, 4.0], [0.3, 0.4], [0.0, 1.0]])

    result = aggregate_bounded(AGGREGATORS["mean"], updates, None, max_norm=1.0)

    assert result.decisions == (
        Decision.DOWN_WEIGHTED,
        Decision.SELECTED,
        Decision.SELECTED,
    )
    np.testing.assert_allclose(result.update, [0.3, 2.2 / 3], rtol=1e-6)


def test_norm_bounding_of_values_near_float32_max_is_finite():
    """Squares of 3e38 overflow float32 but not the float64 norm."""
    bounded = bound_norms(read_only([[3e38, 3e38]]), 1.0)

    np.testing.assert_allclose(bounded.updates, [[math.sqrt(0.5)] * 2], rtol=1e-6)


def test_norm_bounding_rejects_a_non_positive_bound():
    """max_norm must be positive; the check also notices when it is missing."""
    with pytest.raises(ValueError) as error:
        bound_norms(read_only([[1.0]]), 0.0)

    assert str(error.value) == "norm_bounding needs max_norm > 0; found max_norm=0.0"
    assert check_norm_bounding(5, 0) == ["norm_bounding needs max_norm > 0; none given"]


# What every rule shares


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
@pytest.mark.parametrize("shape", [(7, 1), (8, 3000)])
def test_every_rule_leaves_its_input_unchanged(name, shape):
    """A writable input comes back bit for bit, and a read-only one is accepted."""
    rng = np.random.default_rng(11)
    updates = rng.standard_normal(shape).astype(np.float32)
    before = updates.copy()

    AGGREGATORS[name](
        updates, np.ones(shape[0], dtype=np.int64), **PARAMS.get(name, {})
    )
    AGGREGATORS[name](
        read_only(updates),
        None if name != "fedavg" else np.ones(shape[0], dtype=np.int64),
        **PARAMS.get(name, {}),
    )

    np.testing.assert_array_equal(updates, before)


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
def test_every_rule_stays_finite_near_float32_max(name):
    """Values around 1e38, whose float32 sums and squares overflow, give finite output."""
    rng = np.random.default_rng(13)
    updates = read_only(rng.uniform(-3.3e38, 3.3e38, size=(7, 5)))
    counts = np.full(7, 3_000_000_000, dtype=np.int64)

    params = dict(PARAMS.get(name, {}))
    if name == "centered_clipping":
        params["clip_radius"] = 1e38
    result = AGGREGATORS[name](updates, counts, **params)

    assert np.isfinite(result.update).all()
    assert np.isfinite(result.contribution).all()
    assert len(result.decisions) == 7


@pytest.mark.parametrize("name", sorted(AGGREGATORS))
def test_every_rule_accepts_its_documented_parameters(name):
    """The checker passes the parameters the rule runs with."""
    assert get_param_checker(name)(7, 1, **PARAMS.get(name, {})) == []
