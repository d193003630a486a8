"""The hospital's side of privacy: DP-SGD training and clipping/noising the update."""

from __future__ import annotations

import numpy as np

from medfed_ray.privacy.dp_sgd import train_dp_sgd
from medfed_ray.privacy.noise import DP_SGD_NOISE, LOCAL_NOISE, noise_source
from medfed_ray.privacy.update import privatize_update


def train_privately(
    trainer, x, y, rng: np.random.Generator, spec, round_number: int
) -> float:
    """One round of DP-SGD with the hospital's own noise stream for ``round_number``."""
    config = spec.privacy
    noise = noise_source(spec.seed, DP_SGD_NOISE, round_number, config.secure_noise)
    return train_dp_sgd(
        trainer,
        x,
        y,
        rng,
        noise,
        config.dp_sgd.l2_norm_clip,
        config.dp_sgd.noise_multiplier,
    )


def privatize(update: np.ndarray, spec, round_number: int) -> np.ndarray:
    """Clip the update and, in local mode, add the hospital's own noise for the round."""
    config = spec.privacy
    noise = noise_source(spec.seed, LOCAL_NOISE, round_number, config.secure_noise)
    return privatize_update(
        update, config.mode, config.clip_norm, config.noise_multiplier, noise
    )
