"""Each attack's update in its defined relation to the honest update (pure numpy)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from medfed_ray.attacks import apply_colluding_attacks
from medfed_ray.attacks.alie import alie_update, default_z
from medfed_ray.attacks.ipm import ipm_update
from medfed_ray.attacks.labels import flip_labels, noisy_labels
from medfed_ray.attacks.update import free_rider, gaussian_noise, scaling, sign_flip


@pytest.fixture
def honest() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(6, 50)).astype(np.float32)


def test_sign_flip_is_minus_scale_times_the_update(honest):
    """sign_flip sends exactly -s * u, in float32."""
    sent = sign_flip(honest[0], 2.5)
    assert sent.dtype == np.float32
    np.testing.assert_array_equal(sent, honest[0] * np.float32(-2.5))
    assert np.dot(sent.astype(np.float64), honest[0]) < 0


def test_scaling_is_scale_times_the_update(honest):
    """scaling sends exactly s * u."""
    np.testing.assert_array_equal(scaling(honest[0], 4.0), honest[0] * np.float32(4.0))


def test_gaussian_noise_replace_ignores_the_update_and_add_keeps_it(honest):
    """replace sends N(0, std^2); add sends u plus the same draw."""
    replaced = gaussian_noise(honest[0], 0.5, "replace", np.random.default_rng(3))
    added = gaussian_noise(honest[0], 0.5, "add", np.random.default_rng(3))
    draw = np.random.default_rng(3).normal(0.0, 0.5, honest[0].shape)

    np.testing.assert_array_equal(replaced, draw.astype(np.float32))
    np.testing.assert_allclose(added - honest[0], draw, atol=1e-6)


def test_gaussian_noise_has_the_requested_spread():
    """Over many coordinates the sample standard deviation is close to std."""
    sent = gaussian_noise(
        np.zeros(200_000, np.float32), 3.0, "replace", np.random.default_rng(1)
    )
    assert sent.std() == pytest.approx(3.0, rel=0.01)


def test_free_rider_sends_no_change_or_a_zero_model():
    """unchanged: update 0; zeros: the update that takes the model to all zeros."""
    start = np.array([1.5, -2.0, 0.25], dtype=np.float32)
    np.testing.assert_array_equal(free_rider(start, "unchanged"), np.zeros(3))
    np.testing.assert_array_equal(start + free_rider(start, "zeros"), np.zeros(3))


def test_label_flip_is_the_fixed_involution_c_to_last_minus_c():
    """c -> C - 1 - c, applied twice gives the labels back."""
    y = np.array([0, 1, 2, 9, 5], dtype=np.int64)
    flipped = flip_labels(y, 10)
    np.testing.assert_array_equal(flipped, [9, 8, 7, 0, 4])
    np.testing.assert_array_equal(flip_labels(flipped, 10), y)
    assert flipped.dtype == y.dtype


def test_label_noise_redraws_the_given_fraction_only():
    """Exactly round(fraction * n) positions are redrawn; the rest keep their label."""
    y = np.zeros(1000, dtype=np.int64)
    noisy = noisy_labels(y, 10, 0.3, np.random.default_rng(4))
    changed = np.count_nonzero(noisy != y)
    # 300 redrawn, of which about 1 in 10 land on the old class by chance.
    assert 240 <= changed <= 300
    assert noisy.min() >= 0 and noisy.max() <= 9
    np.testing.assert_array_equal(y, 0)


def slow_mean_std(rows: np.ndarray) -> tuple[list[float], list[float]]:
    """Coordinate by coordinate, in plain Python: mean and sample std."""
    means, stds = [], []
    for column in rows.T.tolist():
        mean = sum(column) / len(column)
        means.append(mean)
        var = sum((v - mean) ** 2 for v in column) / (len(column) - 1)
        stds.append(var**0.5)
    return means, stds


def test_alie_is_mean_minus_z_std_of_the_honest_rows(honest):
    """ALIE sends mu - z * sigma, checked coordinate by coordinate."""
    sent = alie_update(honest, 1.2)
    means, stds = slow_mean_std(honest.astype(np.float64))
    expected = [m - 1.2 * s for m, s in zip(means, stds, strict=True)]
    np.testing.assert_allclose(sent, expected, rtol=1e-5, atol=1e-6)


def test_alie_default_z_follows_the_paper():
    """n = 50, m = 24 (the paper's setting): s = 2, z = Phi^-1(48 / 50) ~ 1.75."""
    assert default_z(50, 24) == pytest.approx(NormalDist().inv_cdf(48 / 50))
    assert default_z(50, 24) == pytest.approx(1.7507, abs=1e-3)
    assert default_z(20, 5) == pytest.approx(NormalDist().inv_cdf(14 / 20))


def test_ipm_is_minus_epsilon_times_the_honest_mean(honest):
    """IPM sends -epsilon * mean(honest): its inner product with the mean is negative."""
    sent = ipm_update(honest, 0.5)
    mean = honest.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(sent, -0.5 * mean, rtol=1e-6)
    assert np.dot(sent, mean) < 0


def test_colluding_rows_are_replaced_from_the_non_colluding_rows(honest):
    """Only colluders change; statistics come from the other rows; input is untouched."""
    kept = honest.copy()
    behaviours = ["honest", "alie", "honest", "ipm", "honest", "sign_flip"]
    parameters = [None, 1.0, None, 2.0, None, None]

    out = apply_colluding_attacks(honest, behaviours, parameters)

    others = honest[[0, 2, 4, 5]]
    np.testing.assert_array_equal(honest, kept)
    np.testing.assert_array_equal(out[[0, 2, 4, 5]], others)
    np.testing.assert_array_equal(out[1], alie_update(others, 1.0))
    np.testing.assert_array_equal(out[3], ipm_update(others, 2.0))


def test_alie_without_z_uses_the_default_for_this_round(honest):
    """z left out: the paper's z for n rows with the ALIE rows as colluders."""
    behaviours = ["alie", "alie", "honest", "honest", "honest", "honest"]
    out = apply_colluding_attacks(honest, behaviours, [None] * 6)
    np.testing.assert_array_equal(out[0], alie_update(honest[2:], default_z(6, 2)))
    np.testing.assert_array_equal(out[0], out[1])


def test_no_colluders_returns_the_matrix_itself(honest):
    """Without colluders nothing is copied."""
    assert apply_colluding_attacks(honest, ["honest"] * 6, [None] * 6) is honest
