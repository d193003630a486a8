"""Multi-Krum: average the ``m`` updates with the best Krum scores.

Blanchard, El Mhamdi, Guerraoui and Stainer, "Machine Learning with
Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.
https://arxiv.org/abs/1703.02757

The scores are Krum's, computed once; the ``m`` lowest-scoring updates are
averaged with equal weights. ``m = 1`` is Krum and ``m = n`` the plain mean.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import Aggregate, Decision, check_updates
from medfed_ray.aggregators.distances import squared_distances
from medfed_ray.aggregators.fedavg import weighted_mean
from medfed_ray.aggregators.krum import (
    krum_scores,
    missing_num_malicious,
    precondition_problems,
)
from medfed_ray.aggregators.params import is_int, raise_problems, unknown_params

PARAMS = ("num_malicious", "num_selected")


def aggregate(
    updates: np.ndarray,
    num_examples: np.ndarray | None = None,
    *,
    num_malicious: int,
    num_selected: int | None = None,
) -> Aggregate:
    """Return the mean of the ``num_selected`` rows with the lowest Krum scores.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``, one row per hospital; only read.
    num_examples : numpy.ndarray, optional
        Ignored: the selected rows are averaged with equal weights.
    num_malicious : int
        ``f``, how many malicious hospitals the rule must tolerate; ``n`` must
        be at least ``2f + 3``.
    num_selected : int, optional
        ``m``, how many rows to average, in ``[1, n]``; by default ``n - f``.

    Returns
    -------
    Aggregate
        Selected rows have contribution ``1 / m``; the others are rejected with
        contribution 0. Ties in score are broken in favour of the earlier row.

    Raises
    ------
    ValueError
        If ``n < 2f + 3`` or ``num_selected`` is outside ``[1, n]``.
    """
    check_updates(updates)
    n = updates.shape[0]
    raise_problems(_problems(n, num_malicious, num_selected))
    if num_selected is None:
        num_selected = n - num_malicious

    scores = krum_scores(squared_distances(updates), num_malicious)
    chosen = np.argsort(scores, kind="stable")[:num_selected]

    contribution = np.zeros(n, dtype=np.float64)
    contribution[chosen] = 1.0 / num_selected
    decisions = tuple(
        Decision.SELECTED if share > 0 else Decision.REJECTED for share in contribution
    )
    return Aggregate(weighted_mean(updates, contribution), decisions, contribution)


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params`` for ``num_hospitals`` hospitals.

    As for Krum, the scenario's ``num_malicious`` is only quoted when the
    rule's own ``num_malicious`` parameter is missing.
    """
    problems = unknown_params("multi_krum", params, PARAMS)
    if "num_malicious" not in params:
        problems.append(missing_num_malicious("multi_krum", num_malicious))
        return problems + _selected_problems(num_hospitals, params.get("num_selected"))
    return problems + _problems(
        num_hospitals, params["num_malicious"], params.get("num_selected")
    )


def _problems(n: int, num_malicious: object, num_selected: object) -> list[str]:
    return precondition_problems("multi_krum", n, num_malicious) + _selected_problems(
        n, num_selected
    )


def _selected_problems(n: int, num_selected: object) -> list[str]:
    if num_selected is None or (is_int(num_selected) and 1 <= num_selected <= n):
        return []
    return [
        f"multi_krum needs num_selected to be an integer in [1, n]; "
        f"found num_selected={num_selected!r}, n={n}"
    ]
