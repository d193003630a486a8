"""What a hospital does to its update before sending it: clip, and in local mode add noise."""

from __future__ import annotations

import numpy as np

from medfed_ray.privacy.clipping import clip_by_global_norm
from medfed_ray.privacy.noise import NoiseSource


def privatize_update(
    update: np.ndarray,
    mode: str,
    clip_norm: float,
    noise_multiplier: float,
    noise: NoiseSource,
) -> np.ndarray:
    """Clip ``update`` to ``clip_norm``; in ``local`` mode add ``N(0, (z C)^2)`` per coordinate.

    In ``central`` mode the hospital only clips: the coordinator adds the
    noise once to the sum (DP-FedAvg, McMahan et al., ICLR 2018, Algorithm 1).
    """
    clipped = clip_by_global_norm(update, clip_norm)
    if mode == "local":
        clipped += noise.normal(noise_multiplier * clip_norm, clipped.size)
    return clipped
