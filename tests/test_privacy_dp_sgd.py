"""DP-SGD clips every example's gradient to a global norm and adds the noise it is given."""

from __future__ import annotations

import numpy as np
import pytest

from medfed_ray.privacy.dp_sgd import DpSgdSchedule
from medfed_ray.scenario.schema import LocalTrainingConfig, ModelConfig


@pytest.fixture(scope="module")
def trainer():
    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.runtime import configure_tensorflow

    configure_tensorflow(1.0, seed=0)
    return LocalTrainer(
        ModelConfig(hidden_units=[4]),
        LocalTrainingConfig(optimizer="sgd", learning_rate=1.0, batch_size=4),
        (3,),
        2,
    )


def reference_clipped_sum(trainer, x, y, clip):
    """Per-example gradients one by one, each clipped to ``clip`` over all variables."""
    import tensorflow as tf

    total = None
    for i in range(len(y)):
        with tf.GradientTape() as tape:
            loss = trainer.loss_fn(
                y[i : i + 1], trainer.model(x[i : i + 1], training=False)
            )
        grads = tape.gradient(loss, trainer.model.trainable_variables)
        flat = np.concatenate([g.numpy().ravel() for g in grads]).astype(np.float64)
        flat *= min(1.0, clip / np.linalg.norm(flat))
        total = flat if total is None else total + flat
    return total


def test_the_step_applies_the_sum_of_per_example_clipped_gradients(trainer):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (6, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1, 0], dtype=np.int64)
    clip = 0.05
    step, size = trainer.dp_sgd_step(clip)
    trainer.reset_optimizer()
    before = np.concatenate(
        [v.numpy().ravel() for v in trainer.model.trainable_variables]
    )
    expected = reference_clipped_sum(trainer, x, y, clip)

    step(x, y, np.zeros(size, np.float32), np.float32(1.0))

    after = np.concatenate(
        [v.numpy().ravel() for v in trainer.model.trainable_variables]
    )
    # SGD with learning rate 1 and denominator 1: the step is minus the clipped sum.
    np.testing.assert_allclose(before - after, expected, rtol=1e-4, atol=1e-6)
    # Every example's gradient was clipped: the sum is at most 6 x clip long.
    assert np.linalg.norm(expected) <= 6 * clip + 1e-6


def test_the_step_adds_the_noise_over_the_denominator(trainer):
    step, size = trainer.dp_sgd_step(1.0)
    trainer.reset_optimizer()
    before = np.concatenate(
        [v.numpy().ravel() for v in trainer.model.trainable_variables]
    )
    noise = np.linspace(-1, 1, size).astype(np.float32)

    # An empty Poisson sample: only the noise moves the model.
    step(np.zeros((0, 3), np.float32), np.zeros(0, np.int64), noise, np.float32(4.0))

    after = np.concatenate(
        [v.numpy().ravel() for v in trainer.model.trainable_variables]
    )
    np.testing.assert_allclose(before - after, noise / 4.0, rtol=1e-6, atol=1e-7)


def test_schedule_uses_the_hospitals_own_rate_and_steps():
    schedule = DpSgdSchedule.for_hospital(114, 16, 2)

    assert schedule.sampling_rate == pytest.approx(16 / 114)
    assert schedule.steps == 16
    assert schedule.expected_batch_size == pytest.approx(16.0)
    assert DpSgdSchedule.for_hospital(10, 16, 1).sampling_rate == 1.0
