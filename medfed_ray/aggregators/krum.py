"""Krum: select the one update closest to its nearest neighbours.

Blanchard, El Mhamdi, Guerraoui and Stainer, "Machine Learning with
Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.
https://arxiv.org/abs/1703.02757

Each update is scored by the sum of squared distances to its ``n - f - 2``
nearest other updates, where ``f`` is the number of malicious hospitals the
rule must tolerate; the update with the lowest score becomes the aggregate.
The paper's guarantee needs ``n >= 2f + 3``.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import Aggregate, Decision, check_updates
from medfed_ray.aggregators.distances import squared_distances
from medfed_ray.aggregators.params import is_int, raise_problems, unknown_params

PARAMS = ("num_malicious",)


def aggregate(
    updates: np.ndarray,
    num_examples: np.ndarray | None = None,
    *,
    num_malicious: int,
) -> Aggregate:
    """Return the row of the ``(n, d)`` float32 updates with the lowest Krum score.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``, one row per hospital; only read.
    num_examples : numpy.ndarray, optional
        Ignored: Krum treats every hospital alike.
    num_malicious : int
        ``f``, how many malicious hospitals the rule must tolerate; ``n`` must
        be at least ``2f + 3``.

    Returns
    -------
    Aggregate
        A copy of the selected row. The selected row has decision selected
        and contribution 1; every other row is rejected with contribution 0.
        Among rows with equal scores the first is selected.

    Raises
    ------
    ValueError
        If ``num_malicious`` is not an integer ``>= 0`` or ``n < 2f + 3``.
    """
    check_updates(updates)
    n = updates.shape[0]
    raise_problems(precondition_problems("krum", n, num_malicious))

    scores = krum_scores(squared_distances(updates), num_malicious)
    chosen = int(np.argmin(scores))

    contribution = np.zeros(n, dtype=np.float64)
    contribution[chosen] = 1.0
    decisions = tuple(
        Decision.SELECTED if row == chosen else Decision.REJECTED for row in range(n)
    )
    return Aggregate(updates[chosen].copy(), decisions, contribution)


def krum_scores(distances: np.ndarray, num_malicious: int) -> np.ndarray:
    """Return each row's sum of squared distances to its ``n - f - 2`` nearest others."""
    n = distances.shape[0]
    others = distances.copy()
    np.fill_diagonal(others, np.inf)
    nearest = np.sort(others, axis=1)[:, : n - num_malicious - 2]
    return nearest.sum(axis=1)


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params`` for ``num_hospitals`` hospitals.

    ``num_malicious`` is how many hospitals the scenario makes malicious; it is
    only quoted when the rule's own ``num_malicious`` parameter is missing, as
    a rule may deliberately be run assuming fewer attackers than there are.
    """
    problems = unknown_params("krum", params, PARAMS)
    if "num_malicious" not in params:
        return problems + [missing_num_malicious("krum", num_malicious)]
    return problems + precondition_problems(
        "krum", num_hospitals, params["num_malicious"]
    )


def missing_num_malicious(rule: str, scenario_malicious: int) -> str:
    """Return the message for a Krum-type rule configured without ``f``."""
    return (
        f"{rule} needs num_malicious, the number of malicious hospitals it must "
        f"tolerate; none given (the scenario has {scenario_malicious})"
    )


def precondition_problems(rule: str, n: int, num_malicious: object) -> list[str]:
    """Return the problems with ``f`` for a Krum-type ``rule`` on ``n`` hospitals."""
    if not is_int(num_malicious) or num_malicious < 0:
        return [
            f"{rule} needs num_malicious to be an integer >= 0; "
            f"found num_malicious={num_malicious!r}"
        ]
    if n < 2 * num_malicious + 3:
        return [
            f"{rule} needs n >= 2 * num_malicious + 3 hospitals; "
            f"found n={n}, num_malicious={num_malicious}"
        ]
    return []
