"""Data poisoning on the hospital side: labels flipped or randomised before training.

Label flipping is the data-poisoning attack of Biggio, Nelson and Laskov,
"Poisoning Attacks against Support Vector Machines", ICML 2012, in the form
Fang et al. (USENIX Security 2020, Sec. 5) use against federated learning:
class ``c`` becomes ``C - 1 - c``. Label noise models a badly annotated site
rather than an attacker (Frénay and Verleysen, "Classification in the
Presence of Label Noise: a Survey", IEEE TNNLS 2014, the "noisy completely at
random" model).
"""

from __future__ import annotations

import numpy as np


def flip_labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Return the labels under the fixed permutation ``c -> num_classes - 1 - c``.

    The permutation is its own inverse and, for more than one class, moves
    every label of an even number of classes (the middle class of an odd
    number stays put).
    """
    return (num_classes - 1 - np.asarray(y)).astype(np.asarray(y).dtype)


def noisy_labels(
    y: np.ndarray, num_classes: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Return a copy of ``y`` with ``round(fraction * len(y))`` labels redrawn.

    The chosen labels are replaced by classes drawn uniformly from all
    ``num_classes`` (so some keep their label by chance, as a careless
    annotator would). Which labels and their new values come from ``rng``.
    """
    y = np.array(y, copy=True)
    chosen = rng.choice(len(y), size=int(round(fraction * len(y))), replace=False)
    y[chosen] = rng.integers(0, num_classes, size=len(chosen))
    return y
