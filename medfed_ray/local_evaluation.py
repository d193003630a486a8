"""Local-only training's scores: every hospital's own model on the global test set."""

from __future__ import annotations

import logging

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from medfed_ray.round_result import RoundResult
from medfed_ray.update_checks import first_line

logger = logging.getLogger(__name__)

SCORES = ("accuracy", "balanced_accuracy", "auroc", "loss")


def score_own_models(
    seats: list,
    local_weights: np.ndarray,
    test_set: list[ray.ObjectRef],
    timeout_s: float,
) -> dict[int, dict[str, float]]:
    """Scores of each hospital's own weights, computed in its own actor in parallel.

    ``test_set`` holds the object-store references of the test inputs and
    labels. A hospital whose actor cannot answer within ``timeout_s`` is left
    out and logged; it has no scores this round.
    """
    calls = {
        seat.spec.hospital_id: seat.actor.evaluate.remote(
            ray.put(local_weights[seat.spec.hospital_id]), *test_set
        )
        for seat in seats
    }
    scores = {}
    for hospital_id, call in calls.items():
        try:
            scores[hospital_id] = ray.get(call, timeout=timeout_s)
        except (RayActorError, RayTaskError, GetTimeoutError) as error:
            logger.info("hospital %d not evaluated: %s", hospital_id, first_line(error))
    return scores


def fill_local_scores(result: RoundResult, scores: dict[int, dict[str, float]]) -> None:
    """Put each hospital's scores on its row and their mean and spread on the round."""
    by_hospital = {row.hospital: row for row in result.hospitals}
    for hospital_id, hospital_scores in scores.items():
        row = by_hospital.get(hospital_id)
        if row is not None:
            for key, value in hospital_scores.items():
                setattr(row, f"test_{key}", value)

    if scores:
        values = list(scores.values())
        for key in SCORES:
            setattr(result, key, float(np.nanmean([item[key] for item in values])))
        result.accuracy_std = float(np.std([item["accuracy"] for item in values]))
