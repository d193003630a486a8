"""The ``dp-accounting`` events each private mechanism of a run amounts to.

This module decides what the accountant is told; the accountant
(:mod:`medfed_ray.privacy.accountant`) only composes. Every event's noise
multiplier is the ratio of the noise's standard deviation to the L2
sensitivity of what is released, under the neighbouring relation of
:func:`neighboring_relation`:

* **central, sum rules** (``fedavg``, ``mean``; DP-FedAvg, McMahan et al.,
  ICLR 2018, Algorithm 1 and Theorem 1): the coordinator releases
  ``sum(clip(update)) + N(0, (z C)^2)``. Adding or removing one hospital moves
  the sum by at most ``C``: multiplier ``z``. Poisson sampling with rate ``q``
  gives the sampled Gaussian mechanism (Mironov, Talwar and Zhang, 2019).
* **central, rules whose output stays in the convex hull of their inputs**
  (``krum``, ``multi_krum``, ``geometric_median``): the output of the rule on
  clipped updates always lies in the ball of radius ``C``, so any change of
  one hospital moves it by at most ``2 C``; noise ``N(0, (z C)^2)`` is added
  to the rule's output: multiplier ``z / 2``.
* **central, fixed-size sampling**: sampling without replacement is analysed
  for the replace-one relation (Wang, Balle and Kasiviswanathan, AISTATS 2019),
  under which one hospital's change moves the clipped sum by up to ``2 C``:
  multiplier ``z / 2``.
* **local**: each participating hospital releases ``clip(update) + N(0, (z C)^2)``
  to the coordinator. Any two inputs of that hospital give clipped updates at
  most ``2 C`` apart, so each release is a Gaussian mechanism with multiplier
  ``z / 2``; the coordinator knows who took part, so sampling does not amplify.
* **DP-SGD** (Abadi et al., CCS 2016, Algorithm 1): per step, a Poisson sample
  with rate ``q_k = B / n_k`` of hospital ``k``'s examples and noise
  ``sigma`` times the per-example clip: the sampled Gaussian, composed over
  the round's steps.
"""

from __future__ import annotations

import dp_accounting

from medfed_ray.privacy.dp_sgd import DpSgdSchedule
from medfed_ray.sampling import HospitalSampling

SUM_RULES = ("fedavg", "mean")
"""Rules that central mode replaces by DP-FedAvg's noisy sum over a fixed denominator."""

HULL_RULES = ("krum", "multi_krum", "geometric_median")
"""Robust rules whose output lies in the convex hull of their input rows."""


def neighboring_relation(mode: str, sampling: str) -> dp_accounting.NeighboringRelation:
    """Replace-one for fixed-size central sampling, add-or-remove-one otherwise."""
    if mode == "central" and sampling == "fixed":
        return dp_accounting.NeighboringRelation.REPLACE_ONE
    return dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE


def effective_noise_multiplier(
    mode: str, sampling: str, aggregator: str, z: float
) -> float:
    """The noise-to-sensitivity ratio of one client-level release (see module docstring)."""
    if mode == "local" or sampling == "fixed" or aggregator in HULL_RULES:
        return z / 2.0
    return z


def client_round_event(
    mode: str,
    sampling: HospitalSampling,
    noise_multiplier: float,
    aggregator: str = "fedavg",
) -> dp_accounting.DpEvent:
    """One round of client-level DP: for ``central`` the whole round, for ``local``
    one participation of one hospital.

    ``sampling`` is the run's own per-round sampling, so the amplification the
    accountant counts is that of the hospitals the coordinator really asks.
    """
    gaussian = dp_accounting.GaussianDpEvent(
        effective_noise_multiplier(mode, sampling.mode, aggregator, noise_multiplier)
    )
    if mode == "local" or sampling.mode == "all":
        return gaussian
    if sampling.mode == "poisson":
        return dp_accounting.PoissonSampledDpEvent(sampling.fraction, gaussian)
    return dp_accounting.SampledWithoutReplacementDpEvent(
        sampling.num_hospitals, sampling.size, gaussian
    )


def dp_sgd_round_event(
    examples: int, batch_size: int, epochs: int, noise_multiplier: float
) -> dp_accounting.DpEvent:
    """One round of DP-SGD at a hospital with ``examples`` examples."""
    schedule = DpSgdSchedule.for_hospital(examples, batch_size, epochs)
    step = dp_accounting.PoissonSampledDpEvent(
        schedule.sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)
    )
    return dp_accounting.SelfComposedDpEvent(step, schedule.steps)
