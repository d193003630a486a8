"""Local-only training's scores: every hospital's own model on the global test set."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from medfed_ray.round_result import RoundResult
from medfed_ray.training_calls import HOSPITALS_PER_CALL, chunk_by_actor, hospital_ids
from medfed_ray.update_checks import first_line

logger = logging.getLogger(__name__)

SCORES = ("accuracy", "balanced_accuracy", "auroc", "loss")


@dataclass
class LocalScores:
    """Each scored hospital's scores, and the actors that missed the deadline."""

    by_hospital: dict[int, dict[str, float]] = field(default_factory=dict)
    late_actors: list[ray.actor.ActorHandle] = field(default_factory=list)
    """Still scoring at the deadline: their queue stays blocked until restarted."""


def score_own_models(
    seats: list,
    local_weights: np.ndarray,
    test_set: list[ray.ObjectRef],
    timeout_s: float,
) -> LocalScores:
    """Scores of each hospital's own weights, computed in its own actor in parallel.

    ``test_set`` holds the object-store references of the test inputs and
    labels. Each actor scores its hospitals in calls of up to
    ``HOSPITALS_PER_CALL``, as in training. A hospital whose call cannot
    answer within ``timeout_s`` of the start, or whose scoring fails, is left
    out and logged; it has no scores this round.
    """
    chunks = chunk_by_actor(seats, HOSPITALS_PER_CALL)
    calls = [
        (
            chunk[0].actor,
            hospital_ids(chunk),
            chunk[0].actor.evaluate_each.remote(
                ray.put(local_weights[hospital_ids(chunk)]), *test_set
            ),
        )
        for chunk in chunks
    ]
    scores = LocalScores()
    deadline = time.monotonic() + timeout_s
    for actor, ids, call in calls:
        try:
            answers = ray.get(call, timeout=max(0.0, deadline - time.monotonic()))
        except GetTimeoutError:
            logger.warning(
                "hospitals %s not scored within round_timeout_s = %g",
                describe(ids),
                timeout_s,
            )
            if actor not in scores.late_actors:
                scores.late_actors.append(actor)
            continue
        except (RayActorError, RayTaskError) as error:
            logger.warning(
                "hospitals %s not scored: %s", describe(ids), first_line(error)
            )
            continue
        for hospital_id, answer in zip(ids, answers, strict=True):
            if answer is None:
                logger.warning("hospital %d not scored: scoring failed", hospital_id)
            else:
                scores.by_hospital[hospital_id] = answer
    if not scores.by_hospital:
        logger.warning("no hospital's own model could be scored this round")
    return scores


def describe(ids: list[int]) -> str:
    """``3``, ``3-52`` or ``3, 7, 9``: the hospitals of one call, for the log."""
    if len(ids) > 1 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}-{ids[-1]}"
    return ", ".join(str(hospital_id) for hospital_id in ids)


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
