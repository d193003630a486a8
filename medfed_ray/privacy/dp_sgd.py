"""Sample-level DP-SGD inside a hospital: per-example clipping and Gaussian noise.

Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar and Zhang, "Deep Learning
with Differential Privacy", CCS 2016, Algorithm 1.
https://arxiv.org/abs/1607.00133

Each step takes a Poisson sample of the hospital's examples (each one with
probability ``q = batch_size / n``), clips every example's gradient to L2
norm ``l2_norm_clip`` over all trainable variables together, sums them, adds
``N(0, (noise_multiplier * l2_norm_clip)^2)`` per coordinate and divides by the
expected batch size ``q * n`` (a fixed denominator, so the realised batch size
is never revealed). Poisson sampling is what the accountant assumes
(:func:`medfed_ray.privacy.events.dp_sgd_round_event`); shuffled fixed-size
batches would not match it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medfed_ray.privacy.noise import NoiseSource


@dataclass(frozen=True)
class DpSgdSchedule:
    """How one round of DP-SGD samples a hospital's ``examples``."""

    sampling_rate: float
    steps: int
    expected_batch_size: float

    @classmethod
    def for_hospital(cls, examples: int, batch_size: int, epochs: int) -> DpSgdSchedule:
        """Rate ``min(1, B / n)`` and ``epochs * ceil(n / B)`` steps for ``n`` examples."""
        rate = min(1.0, batch_size / max(examples, 1))
        steps = epochs * math.ceil(examples / batch_size)
        return cls(rate, steps, rate * examples)


def build_dp_sgd_step(
    model, optimizer, loss_fn, input_shape: tuple[int, ...], l2_norm_clip: float
):
    """Compile one DP-SGD step: ``step(x, y, noise, denominator) -> mean loss``.

    ``noise`` is a flat float32 vector with one entry per trainable scalar,
    drawn by the caller from the hospital's own noise source, so the same
    seed gives the same step and a secure source can be swapped in.
    Per-example gradients come from ``tf.vectorized_map``.
    """
    import tensorflow as tf

    trainable = model.trainable_variables
    shapes = [variable.shape for variable in trainable]
    sizes = [int(np.prod(shape)) for shape in shapes]
    clip = tf.constant(l2_norm_clip, tf.float32)

    def example_gradient(example):
        x, y = example
        with tf.GradientTape() as tape:
            loss = loss_fn(y[None], model(x[None], training=True))
        gradients = tape.gradient(loss, trainable)
        return tf.concat([tf.reshape(g, [-1]) for g in gradients], 0), loss

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *input_shape], tf.float32),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([sum(sizes)], tf.float32),
            tf.TensorSpec([], tf.float32),
        ]
    )
    def step(x, y, noise, denominator):
        per_example, losses = tf.vectorized_map(example_gradient, (x, y))
        # Global norm over all variables of one example, not per layer.
        norms = tf.norm(per_example, axis=1)
        scale = tf.minimum(1.0, clip / tf.maximum(norms, 1e-12))
        summed = tf.reduce_sum(per_example * scale[:, None], axis=0)
        flat = (summed + noise) / denominator
        pieces = tf.split(flat, sizes)
        gradients = [tf.reshape(p, s) for p, s in zip(pieces, shapes, strict=True)]
        optimizer.apply_gradients(zip(gradients, trainable, strict=True))
        return tf.reduce_mean(losses)

    return step, sum(sizes)


def train_dp_sgd(
    trainer,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    noise: NoiseSource,
    l2_norm_clip: float,
    noise_multiplier: float,
) -> float:
    """Run one round of DP-SGD on the trainer's model; return the mean loss.

    ``rng`` draws the Poisson samples; ``noise`` the Gaussian noise. A step
    whose sample is empty still applies the noise, as the mechanism requires.
    """
    from medfed_ray.local_training import as_float

    step, size = trainer.dp_sgd_step(l2_norm_clip)
    schedule = DpSgdSchedule.for_hospital(
        len(y), trainer.config.batch_size, trainer.config.epochs
    )
    denominator = np.float32(schedule.expected_batch_size)
    losses = []
    for _ in range(schedule.steps):
        index = np.flatnonzero(rng.random(len(y)) < schedule.sampling_rate)
        step_noise = noise.normal(noise_multiplier * l2_norm_clip, size)
        loss = step(
            as_float(x[index]), y[index].astype(np.int64), step_noise, denominator
        )
        if index.size:
            losses.append(float(loss))
    return float(np.mean(losses)) if losses else float("nan")
