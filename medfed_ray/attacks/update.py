"""Model poisoning on the hospital side: what a hospital sends instead of its update.

Each function takes the honest update ``u`` (new weights minus the weights
the hospital started from) and returns the vector it sends. The relation of
each to ``u`` is the one ``docs/attacks.md`` states and the tests check.
"""

from __future__ import annotations

import numpy as np


def sign_flip(update: np.ndarray, scale: float) -> np.ndarray:
    """Send ``-scale * u``: the reversed-gradient attack.

    Damaskinos et al., "Asynchronous Byzantine Machine Learning (the case of
    SGD)", ICML 2018; used with ``scale`` 1 to 4 by Li et al., "RSA:
    Byzantine-Robust Stochastic Aggregation Methods", AAAI 2019.
    """
    return (update * np.float32(-scale)).astype(np.float32)


def scaling(update: np.ndarray, scale: float) -> np.ndarray:
    """Send ``scale * u``: an honest direction boosted to dominate the mean.

    Bagdasaryan et al., "How To Backdoor Federated Learning", AISTATS 2020,
    Sec. 4.2 (model replacement scales by about ``n / server_learning_rate``).
    """
    return (update * np.float32(scale)).astype(np.float32)


def gaussian_noise(
    update: np.ndarray, std: float, mode: str, rng: np.random.Generator
) -> np.ndarray:
    """Send ``N(0, std^2 I)`` (``mode = "replace"``) or ``u + N(0, std^2 I)`` ("add").

    Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant
    Gradient Descent", NeurIPS 2017, Sec. 5 (Gaussian Byzantine workers).
    """
    noise = rng.normal(0.0, std, update.shape)
    if mode == "replace":
        return noise.astype(np.float32)
    return (update.astype(np.float64) + noise).astype(np.float32)


def free_rider(start_weights: np.ndarray, mode: str) -> np.ndarray:
    """Send an update that costs no training.

    ``"unchanged"`` returns the received model as it is, so the update is 0;
    ``"zeros"`` returns a model of all zeros, so the update is
    ``-start_weights``. Lin, Du and Liu, "Free-riders in Federated Learning:
    Attacks and Defenses", 2019 (https://arxiv.org/abs/1911.12560), Sec. 3.
    """
    if mode == "unchanged":
        return np.zeros(start_weights.shape, dtype=np.float32)
    return (-np.asarray(start_weights, dtype=np.float32)).astype(np.float32)
