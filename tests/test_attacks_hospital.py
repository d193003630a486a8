"""Behaviours inside a hospital's round: each update against the honest one."""

from __future__ import annotations

import numpy as np
import pytest

from medfed_ray.scenario.schema import HospitalGroup, LocalTrainingConfig, ModelConfig


@pytest.fixture(scope="module")
def trainer():
    """One small trainer for this module (TensorFlow is slow to start)."""
    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.runtime import configure_tensorflow

    configure_tensorflow(1.0, seed=3)
    config = LocalTrainingConfig(batch_size=8, learning_rate=0.1)
    return LocalTrainer(ModelConfig(hidden_units=[5]), config, (4,), 3)


def make_hospital(**group_fields):
    from medfed_ray.hospital import Hospital, HospitalSpec

    group = HospitalGroup(**group_fields)
    spec = HospitalSpec(
        hospital_id=0,
        group=0,
        behaviour=group.behaviour,
        scale=group.scale,
        std=group.std,
        seed=np.random.SeedSequence(11),
        settings=group,
    )
    rng = np.random.default_rng(5)
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = (np.arange(24) % 3).astype(np.int64)
    return Hospital(spec, x, y)


@pytest.fixture
def start(trainer):
    weights = trainer.weights.get()
    weights.setflags(write=False)
    return weights


def test_scaling_sends_scale_times_the_honest_update(trainer, start):
    honest, _ = make_hospital().run_round(trainer, 1, start)
    boosted, _ = make_hospital(behaviour="scaling", scale=5.0).run_round(
        trainer, 1, start
    )
    np.testing.assert_array_equal(boosted, honest * np.float32(5.0))


def test_additive_noise_is_the_honest_update_plus_noise(trainer, start):
    honest, _ = make_hospital().run_round(trainer, 1, start)
    noisy, report = make_hospital(
        behaviour="gaussian_noise", std=0.01, mode="add"
    ).run_round(trainer, 1, start)
    difference = (noisy - honest).astype(np.float64)
    assert 0.005 < difference.std() < 0.02
    assert not np.isnan(report.local_loss)


def test_replacing_noise_does_not_train(trainer, start):
    sent, report = make_hospital(behaviour="gaussian_noise", std=2.0).run_round(
        trainer, 1, start
    )
    assert np.isnan(report.local_loss)
    assert 1.0 < sent.std() < 3.0


@pytest.mark.parametrize(("mode", "factor"), [("unchanged", 0.0), ("zeros", -1.0)])
def test_free_rider_sends_without_training(trainer, start, mode, factor):
    sent, report = make_hospital(behaviour="free_rider", mode=mode).run_round(
        trainer, 1, start
    )
    np.testing.assert_array_equal(sent, np.float32(factor) * start)
    assert np.isnan(report.local_loss)


def test_label_flip_trains_on_flipped_labels(trainer, start):
    """The flipping hospital sends what an honest one with labels 2 - y would send."""
    from medfed_ray.hospital import Hospital

    flipping = make_hospital(behaviour="label_flip")
    relabelled = Hospital(make_hospital().spec, flipping.x, 2 - flipping.y)
    sent, _ = flipping.run_round(trainer, 1, start)
    expected, _ = relabelled.run_round(trainer, 1, start)
    honest, _ = make_hospital().run_round(trainer, 1, start)

    np.testing.assert_array_equal(sent, expected)
    assert not np.array_equal(sent, honest)


def test_label_noise_labels_are_fixed_across_rounds(trainer, start):
    hospital = make_hospital(behaviour="label_noise", noise_fraction=0.5)
    first = hospital.training_labels("label_noise", trainer).copy()
    hospital.run_round(trainer, 2, start)
    np.testing.assert_array_equal(
        hospital.training_labels("label_noise", trainer), first
    )
    assert 0 < np.count_nonzero(first != hospital.y) <= 12


def test_dropout_is_decided_by_the_round_generator(trainer, start):
    """The same rounds drop out on every run; p = 0 never drops, p = 1 always does."""
    runs = [
        [
            make_hospital(behaviour="dropout", probability=0.5)
            .run_round(trainer, r, start)[1]
            .dropped
            for r in range(1, 13)
        ]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert 0 < sum(runs[0]) < 12
    never = make_hospital(behaviour="dropout", probability=0.0)
    always = make_hospital(behaviour="dropout", probability=1.0)
    assert not never.run_round(trainer, 1, start)[1].dropped
    update, report = always.run_round(trainer, 1, start)
    assert report.dropped and update.size == 0


def test_colluders_train_honestly_on_the_hospital_side(trainer, start):
    """ALIE and IPM hospitals send their honest update; the coordinator replaces it."""
    honest, _ = make_hospital().run_round(trainer, 1, start)
    for behaviour in ("alie", "ipm"):
        sent, _ = make_hospital(behaviour=behaviour).run_round(trainer, 1, start)
        np.testing.assert_array_equal(sent, honest)
