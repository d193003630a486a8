"""Clipping, noise, sampling and central aggregation do exactly what docs/privacy.md says."""

from __future__ import annotations

import numpy as np
import pytest

from medfed_ray.aggregators import AGGREGATORS
from medfed_ray.privacy.central import central_aggregate
from medfed_ray.privacy.clipping import clip_by_global_norm, clip_rows, global_norm
from medfed_ray.privacy.events import HULL_RULES
from medfed_ray.privacy.noise import (
    LOCAL_NOISE,
    SecureNoise,
    SeededNoise,
    noise_source,
)
from medfed_ray.privacy.update import privatize_update

# The sample standard deviation of d normal draws has relative standard error
# about 1 / sqrt(2 d): 0.16 % for d = 200,000. A 2 % tolerance is over 12
# standard errors, so these tests fail only when the promised std is wrong.
D = 200_000
STD_TOLERANCE = 0.02


def zero_noise() -> SeededNoise:
    return SeededNoise(np.random.default_rng(0))


# -- clipping ----------------------------------------------------------------------


def test_clipping_uses_the_global_norm_over_all_variables_not_per_layer():
    # Two "layers" [3, 4] (norm 5) and [0, 12] (norm 12): global norm 13.
    update = np.array([3.0, 4.0, 0.0, 12.0], dtype=np.float32)

    clipped = clip_by_global_norm(update, 6.5)

    # One scale factor 6.5 / 13 = 0.5 for every coordinate; per-layer clipping
    # to 6.5 would have left the first layer unchanged.
    np.testing.assert_array_equal(clipped, [1.5, 2.0, 0.0, 6.0])
    assert global_norm(clipped) == pytest.approx(6.5, rel=1e-7)


def test_updates_inside_the_ball_and_zero_updates_pass_unchanged():
    inside = np.array([0.3, -0.4], dtype=np.float32)
    zero = np.zeros(5, dtype=np.float32)

    np.testing.assert_array_equal(clip_by_global_norm(inside, 0.5), inside)
    np.testing.assert_array_equal(clip_by_global_norm(zero, 1.0), zero)
    assert np.isfinite(clip_by_global_norm(zero, 1.0)).all()


def test_clipping_does_not_write_into_its_input():
    update = np.full(10, 3.0, dtype=np.float32)
    update.setflags(write=False)

    clipped = clip_by_global_norm(update, 1.0)

    assert clipped.dtype == np.float32
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-6)
    assert (update == 3.0).all()


def test_clip_rows_clips_each_row_to_the_norm():
    rng = np.random.default_rng(1)
    rows = rng.normal(0, 3, (6, 50)).astype(np.float32)

    clipped = clip_rows(rows, 2.0)

    np.testing.assert_allclose(np.linalg.norm(clipped, axis=1), 2.0, rtol=1e-6)


def test_a_non_positive_clip_norm_is_refused():
    with pytest.raises(ValueError, match=r"^clip_norm must be > 0; found 0.0$"):
        clip_by_global_norm(np.ones(3, dtype=np.float32), 0.0)


# -- noise -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", [zero_noise(), SecureNoise()], ids=["seeded", "secure"]
)
def test_noise_sources_draw_the_standard_deviation_asked_for(source):
    draws = source.normal(0.7, D)

    assert draws.dtype == np.float32 and draws.shape == (D,)
    assert np.std(draws) == pytest.approx(0.7, rel=STD_TOLERANCE)
    # Mean of D draws has standard error 0.7 / sqrt(D) = 0.0016.
    assert abs(float(np.mean(draws))) < 0.01


def test_local_mode_noise_on_one_update_has_std_z_times_c():
    update = np.zeros(D, dtype=np.float32)

    noisy = privatize_update(update, "local", 0.5, 1.3, zero_noise())

    assert np.std(noisy) == pytest.approx(1.3 * 0.5, rel=STD_TOLERANCE)


def test_local_mode_noise_on_the_plain_mean_of_n_updates_is_z_c_over_sqrt_n():
    n, clip, z = 4, 0.5, 1.3
    seed = np.random.SeedSequence(11)
    hospitals = seed.spawn(n)
    noisy = np.stack(
        [
            privatize_update(
                np.zeros(D, dtype=np.float32),
                "local",
                clip,
                z,
                noise_source(h, LOCAL_NOISE, 1, secure=False),
            )
            for h in hospitals
        ]
    )

    mean = AGGREGATORS["mean"](noisy).update

    assert np.std(mean) == pytest.approx(z * clip / np.sqrt(n), rel=STD_TOLERANCE)


def test_central_mode_only_clips_at_the_hospital():
    update = np.full(4, 2.0, dtype=np.float32)

    sent = privatize_update(update, "central", 1.0, 5.0, zero_noise())

    np.testing.assert_allclose(sent, [0.5, 0.5, 0.5, 0.5])


def test_central_mode_adds_z_c_over_the_expected_participants_to_the_mean():
    # Poisson sampling, q = 0.5 of N = 20: the denominator is q N = 10 whatever
    # the number of hospitals that answered (here 3).
    clip, z, denominator = 0.5, 2.0, 10.0
    rng = np.random.default_rng(3)
    updates = rng.normal(0, 1, (3, D)).astype(np.float32)

    outcome = central_aggregate(
        updates,
        np.array([10, 20, 30]),
        "fedavg",
        AGGREGATORS["fedavg"],
        {},
        clip_norm=clip,
        noise_multiplier=z,
        denominator=denominator,
        noise=zero_noise(),
        size=D,
    )

    signal = clip_rows(updates, clip).sum(axis=0, dtype=np.float64) / denominator
    noise = outcome.update - signal
    assert np.std(noise) == pytest.approx(z * clip / denominator, rel=STD_TOLERANCE)
    # Every hospital weighs 1 / D, whatever its number of examples.
    np.testing.assert_allclose(outcome.contribution, [0.1, 0.1, 0.1])


def test_central_mode_with_nobody_sampled_releases_noise_only():
    outcome = central_aggregate(
        np.zeros((0, D), dtype=np.float32),
        np.zeros(0, dtype=np.int64),
        "mean",
        AGGREGATORS["mean"],
        {},
        clip_norm=1.0,
        noise_multiplier=1.0,
        denominator=4.0,
        noise=zero_noise(),
        size=D,
    )

    assert outcome.decisions == ()
    assert np.std(outcome.update) == pytest.approx(0.25, rel=STD_TOLERANCE)


@pytest.mark.parametrize(
    ("rule", "params"),
    [
        ("krum", {"num_malicious": 1}),
        ("multi_krum", {"num_malicious": 1}),
        ("geometric_median", {}),
    ],
)
def test_hull_rules_keep_clipped_updates_inside_the_clip_ball(rule, params):
    # The central guarantee for these rules rests on this: their output lies in
    # the ball of radius C, so one hospital moves it by at most 2 C.
    assert rule in HULL_RULES
    rng = np.random.default_rng(5)
    for _ in range(20):
        updates = clip_rows(rng.normal(0, 4, (7, 30)).astype(np.float32), 1.0)
        output = AGGREGATORS[rule](updates, np.ones(7, dtype=np.int64), **params).update
        assert np.linalg.norm(output) <= 1.0 + 1e-5


def test_central_noise_after_a_hull_rule_has_std_z_c():
    rng = np.random.default_rng(2)
    updates = rng.normal(0, 1, (5, D)).astype(np.float32)
    outcome = central_aggregate(
        updates,
        np.ones(5, dtype=np.int64),
        "geometric_median",
        AGGREGATORS["geometric_median"],
        {},
        clip_norm=0.5,
        noise_multiplier=2.0,
        denominator=5.0,
        noise=zero_noise(),
        size=D,
    )
    rule_output = AGGREGATORS["geometric_median"](
        clip_rows(updates, 0.5), np.ones(5, dtype=np.int64)
    ).update

    assert np.std(outcome.update - rule_output) == pytest.approx(1.0, rel=STD_TOLERANCE)


def test_central_noise_after_median_is_refused():
    with pytest.raises(ValueError, match="cannot add noise after aggregator 'median'"):
        central_aggregate(
            np.zeros((2, 3), dtype=np.float32),
            np.ones(2, dtype=np.int64),
            "median",
            AGGREGATORS["median"],
            {},
            clip_norm=1.0,
            noise_multiplier=1.0,
            denominator=2.0,
            noise=zero_noise(),
            size=3,
        )


def test_noise_streams_are_reproducible_and_differ_between_hospitals_and_rounds():
    first, second = np.random.SeedSequence(0).spawn(2)

    again = noise_source(first, LOCAL_NOISE, 3, False).normal(1.0, 8)
    same = noise_source(first, LOCAL_NOISE, 3, False).normal(1.0, 8)
    other_hospital = noise_source(second, LOCAL_NOISE, 3, False).normal(1.0, 8)
    other_round = noise_source(first, LOCAL_NOISE, 4, False).normal(1.0, 8)

    np.testing.assert_array_equal(again, same)
    assert not np.array_equal(again, other_hospital)
    assert not np.array_equal(again, other_round)


def test_the_secure_source_is_not_reproducible():
    assert not np.array_equal(
        SecureNoise().normal(1.0, 8), SecureNoise().normal(1.0, 8)
    )
