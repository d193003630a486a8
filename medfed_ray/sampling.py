"""Which hospitals take part in a round: all, a Poisson sample, or a fixed-size sample.

Sampling a share of the clients in every round is how cross-device federated
learning scales to many participants: FedAvg trains a random fraction ``C`` of
the clients per round (McMahan et al., "Communication-Efficient Learning of
Deep Networks from Decentralized Data", AISTATS 2017, Algorithm 1). The same
choice drives privacy amplification by sampling: Poisson sampling (each
hospital independently with probability ``q``) is the sampling of DP-FedAvg
(McMahan et al., ICLR 2018, Algorithm 1) and of the sampled Gaussian
mechanism the accountant analyses (Mironov, Talwar and Zhang, "Renyi
Differential Privacy of the Sampled Gaussian Mechanism", 2019); a fixed-size
sample of ``m`` hospitals without replacement is analysed as sampling without
replacement (Wang, Balle and Kasiviswanathan, "Subsampled Renyi Differential
Privacy and Analytical Moments Accountant", AISTATS 2019).

The scenario's ``[sampling]`` table is the one source of this choice: the
coordinator asks :class:`HospitalSampling` whom to train, and the privacy
ledger builds its events from the same object. The choice in round ``r``
depends only on the scenario's seed and ``r``, never on how hospitals are
packed into actors, so a retried or resumed round picks the same hospitals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medfed_ray.privacy.noise import SAMPLING, stream_seed

SAMPLING_MODES = ("all", "poisson", "fixed")


def fixed_sample_size(num_hospitals: int, fraction: float) -> int:
    """``m = fraction * num_hospitals`` rounded half up, at least 1.

    Half up, as hospital groups sized by ``fraction`` are: Python's ``round``
    would send 2.5 to 2 and 3.5 to 4.
    """
    return max(1, math.floor(fraction * num_hospitals + 0.5))


@dataclass(frozen=True)
class HospitalSampling:
    """The per-round choice of participants, resolved against the number of hospitals.

    ``fraction`` is the Poisson rate ``q`` (1 for ``all``); ``size`` is the
    fixed sample's ``m`` (``N`` for ``all``, and for ``poisson`` unused).
    """

    mode: str
    num_hospitals: int
    fraction: float = 1.0
    size: int = 0

    @classmethod
    def resolve(
        cls,
        mode: str,
        num_hospitals: int,
        fraction: float | None = None,
        clients_per_round: int | None = None,
    ) -> HospitalSampling:
        """Build the sampling of ``mode`` for ``num_hospitals`` hospitals.

        ``fixed`` takes ``clients_per_round`` as ``m`` when given, else
        ``m = round(fraction * N)``.
        """
        if mode not in SAMPLING_MODES:
            raise ValueError(
                f"sampling mode must be 'all', 'poisson' or 'fixed'; found {mode!r}"
            )
        if mode == "all":
            return cls("all", num_hospitals, 1.0, num_hospitals)
        if mode == "poisson":
            return cls("poisson", num_hospitals, float(fraction), 0)
        size = (
            clients_per_round
            if clients_per_round is not None
            else fixed_sample_size(num_hospitals, float(fraction))
        )
        return cls("fixed", num_hospitals, size / num_hospitals, size)

    @classmethod
    def from_scenario(cls, scenario) -> HospitalSampling:
        """The sampling a scenario's ``[sampling]`` table asks for."""
        config = scenario.sampling
        return cls.resolve(
            config.mode,
            scenario.num_hospitals,
            config.fraction,
            config.clients_per_round,
        )

    @property
    def rate(self) -> float:
        """Each hospital's chance of taking part in a round: ``1``, ``q`` or ``m / N``."""
        return self.fraction

    def expected_participants(self) -> float:
        """The expected number of participants: ``N``, ``q * N`` or ``m``."""
        if self.mode == "poisson":
            return self.fraction * self.num_hospitals
        return float(self.size)

    def participants(self, seed: int, round_number: int) -> np.ndarray:
        """The ids (sorted, int64) of the hospitals that take part in ``round_number``."""
        if self.mode == "all":
            return np.arange(self.num_hospitals, dtype=np.int64)
        rng = np.random.default_rng(
            stream_seed(np.random.SeedSequence(seed), SAMPLING, round_number)
        )
        if self.mode == "poisson":
            draws = rng.random(self.num_hospitals)
            return np.flatnonzero(draws < self.fraction).astype(np.int64)
        chosen = rng.choice(self.num_hospitals, size=self.size, replace=False)
        return np.sort(chosen).astype(np.int64)
