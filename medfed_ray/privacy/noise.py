"""Sources of Gaussian noise: seeded per hospital and round, or cryptographically secure.

The seeded source is what makes a private run reproducible: every hospital
(and the coordinator) derives its noise generator from the scenario's seed,
its own spawn key and the round number, so no two hospitals ever share a
stream and a retried or resumed round draws the same numbers.

The secure source reads the operating system's CSPRNG (``os.urandom``) and
turns it into normal variates with the Box-Muller transform. Its output
cannot be predicted from earlier outputs, which a PCG64 stream can be, but
runs are no longer reproducible, and it still samples floating-point normals:
the floating-point attacks on textbook samplers (Mironov, CCS 2012, Sec. 3)
are not ruled out; a discrete Gaussian (Canonne, Kamath and Steinke, NeurIPS
2020) would be needed for that.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

PRIVACY_STREAM = 0x50524956
"""Spawn-key tag of privacy streams, apart from every other stream of a run."""

LOCAL_NOISE = 1
"""Stream of the noise a hospital adds to its update (local mode)."""
CENTRAL_NOISE = 2
"""Stream of the noise the coordinator adds to the aggregate (central mode)."""
DP_SGD_NOISE = 3
"""Stream of a hospital's DP-SGD gradient noise."""
SAMPLING = 4
"""Stream of the coordinator's choice of participants."""


class NoiseSource(Protocol):
    """Draws float32 Gaussian noise."""

    def normal(self, std: float, size: int) -> np.ndarray:
        """``size`` independent ``N(0, std^2)`` values, float32."""
        ...


class SeededNoise:
    """Gaussian noise from a numpy generator (reproducible)."""

    def __init__(self, generator: np.random.Generator):
        self.generator = generator

    def normal(self, std: float, size: int) -> np.ndarray:
        """``size`` draws of ``N(0, std^2)`` computed in float64, returned as float32."""
        return (std * self.generator.standard_normal(size)).astype(np.float32)


class SecureNoise:
    """Gaussian noise from the operating system's CSPRNG (not reproducible)."""

    def normal(self, std: float, size: int) -> np.ndarray:
        """``size`` draws of ``N(0, std^2)`` by Box-Muller on 53-bit uniforms."""
        pairs = (size + 1) // 2
        bits = np.frombuffer(os.urandom(16 * pairs), dtype=np.uint64) >> np.uint64(11)
        uniform = bits.astype(np.float64) * 2.0**-53
        # 1 - u lies in (0, 1], so the logarithm is finite.
        radius = np.sqrt(-2.0 * np.log1p(-uniform[:pairs]))
        angle = 2.0 * np.pi * uniform[pairs:]
        normals = np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])
        return (std * normals[:size]).astype(np.float32)


def stream_seed(
    seed: np.random.SeedSequence, stream: int, round_number: int
) -> np.random.SeedSequence:
    """The seed of ``stream`` in ``round_number``, a child of ``seed`` by spawn key."""
    return np.random.SeedSequence(
        entropy=seed.entropy,
        spawn_key=(*seed.spawn_key, PRIVACY_STREAM, stream, round_number),
    )


def noise_source(
    seed: np.random.SeedSequence, stream: int, round_number: int, secure: bool
) -> NoiseSource:
    """The noise source of ``stream`` in ``round_number`` (secure if asked)."""
    if secure:
        return SecureNoise()
    return SeededNoise(np.random.default_rng(stream_seed(seed, stream, round_number)))
