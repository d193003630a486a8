"""What may change in a run's ``scenario.toml`` before the run is resumed.

A resumed run continues from a checkpoint with the run directory's own
``scenario.toml``, which the user may edit first: a quorum failure or a
timeout is often fixed by a setting. Settings that decide what the rounds
compute (the data, its split, the model, local training, the rule, the
hospitals and their behaviours, privacy noise, the seed) must stay as they
were when the checkpoint was written, or the resumed rounds would continue
another experiment from this one's weights. Each checkpoint records the
scenario it was taken under, and resuming compares the two.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medfed_ray.checkpoint import (
    CheckpointError,
    latest_checkpoint_path,
    read_checkpoint,
    read_record,
)
from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.data.datasets import Dataset
from medfed_ray.scenario.schema import Scenario

RESUMABLE_FIELDS = (
    "name",
    "rounds",
    "round_timeout_s",
    "min_hospitals",
    "on_quorum_failure",
    "max_round_retries",
    "checkpoint_every",
    "hospitals_per_actor",
    "evaluation",
    "privacy.max_epsilon",
)
"""Fields (and the fields below them) that may differ on resume.

They change when rounds stop, how failures are handled, how often scores
and checkpoints are taken, or how hospitals are packed into actors, which
gives identical numbers (tested); none changes what a round computes.
"""


def scenario_record(scenario: Scenario) -> dict[str, Any]:
    """The scenario as JSON-ready data, as a checkpoint records it."""
    return scenario.model_dump(mode="json")


@dataclass(frozen=True)
class Resumption:
    """A checked checkpoint to resume from, and what it recorded of its run."""

    state: CoordinatorState
    scenario: dict[str, Any] | None
    """The scenario it was written under (None before checkpoints recorded one)."""
    data_sha256: str | None
    """:func:`data_digest` of the run's data (None before checkpoints recorded it)."""


def open_resumption(run_dir: Path, scenario: Scenario) -> Resumption:
    """The newest checkpoint of ``run_dir``, refused if ``scenario`` may not resume it."""
    path = latest_checkpoint_path(run_dir)
    record = read_record(path)
    check_resumable(record.get("scenario"), scenario, record["completed_round"])
    state = read_checkpoint(path)
    check_momentum_kept(state, scenario)
    return Resumption(state, record.get("scenario"), record.get("data_sha256"))


def check_resumable(
    recorded: dict[str, Any] | None, scenario: Scenario, completed_round: int
) -> None:
    """Refuse to resume under a scenario that changes what the rounds compute.

    ``recorded`` is the scenario the checkpoint was written under, or None for
    a checkpoint that did not record one (then only the shapes are checked,
    by :func:`check_state_fits`). A run whose ``rounds`` are all done has
    nothing left to resume.
    """
    if scenario.rounds <= completed_round:
        raise CheckpointError(
            f"the checkpoint is after round {completed_round} and scenario.toml says "
            f"rounds = {scenario.rounds}: nothing is left to run. To train further, "
            f"raise rounds above {completed_round}"
        )
    if recorded is None:
        return
    changed = changed_fields(as_current(recorded), scenario_record(scenario))
    if changed:
        raise CheckpointError(
            "scenario.toml changed since the checkpoint in fields that decide what "
            f"the rounds compute: {', '.join(changed)}. A resumed run may change "
            f"only {', '.join(RESUMABLE_FIELDS)}; put the other fields back, or "
            "start a new run"
        )


def as_current(recorded: dict[str, Any]) -> dict[str, Any]:
    """``recorded`` as this version would write it, with defaults of newer fields.

    A checkpoint written before a field existed lacks it; read through the
    current schema it gets the field's default, which is what the run used.
    A record the schema no longer accepts is compared as it is.
    """
    from medfed_ray.errors import ScenarioError
    from medfed_ray.scenario.loading import validate_scenario

    try:
        scenario = validate_scenario(without_nones(recorded), source="checkpoint")
    except (ScenarioError, ValueError, TypeError):
        return recorded
    return scenario_record(scenario)


def without_nones(value: Any) -> Any:
    """``value`` without the unset (None) fields, as ``scenario.toml`` is written."""
    if isinstance(value, dict):
        return {
            key: without_nones(item) for key, item in value.items() if item is not None
        }
    if isinstance(value, list):
        return [without_nones(item) for item in value]
    return value


def data_digest(dataset: Dataset) -> str:
    """SHA-256 of the dataset's arrays (training and test, with dtypes and shapes).

    Recorded with each checkpoint: a data file replaced at the same path
    between a run and its resume would otherwise go unnoticed.
    """
    digest = hashlib.sha256()
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    return digest.hexdigest()


def check_same_data(recorded: str | None, current: str) -> None:
    """Refuse to resume on data other than the run's (when the checkpoint recorded it)."""
    if recorded is not None and recorded != current:
        raise CheckpointError(
            "the dataset differs from the one the run was checkpointed with (its "
            "SHA-256 changed): a data file at the scenario's path was replaced or "
            "edited, or the dataset's settings differ from those of the run. Put "
            "the original data back, or start a new run"
        )


def resumable_changes(
    recorded: dict[str, Any] | None, scenario: Scenario
) -> dict[str, dict[str, Any]]:
    """The resumable fields that differ from the checkpoint's scenario, before and after.

    Recorded in ``resumes.json`` and ``summary.json``, so a run whose
    ``scenario.toml`` was edited before a resume says what its earlier rounds
    ran with.
    """
    if recorded is None:
        return {}
    before, after = flatten(as_current(recorded)), flatten(scenario_record(scenario))
    return {
        path: {"before": before.get(path), "after": after.get(path)}
        for path in sorted(before.keys() | after.keys())
        if before.get(path, MISSING) != after.get(path, MISSING) and is_resumable(path)
    }


def check_state_fits(
    state: CoordinatorState, model_size: int, num_hospitals: int, training: str
) -> None:
    """Refuse a checkpoint whose arrays do not fit the scenario's model and hospitals."""
    if state.weights.size != model_size:
        raise CheckpointError(
            f"the checkpoint holds {state.weights.size} weights but the scenario's "
            f"model has {model_size}; resume with the model and dataset the run "
            "started with"
        )
    if training == "local":
        rows = None if state.local_weights is None else state.local_weights.shape
        if rows != (num_hospitals, model_size):
            raise CheckpointError(
                f"local-only training needs each of the {num_hospitals} hospitals' "
                f"weights in the checkpoint; it holds local weights of shape {rows}"
            )


def check_momentum_kept(state: CoordinatorState, scenario: Scenario) -> None:
    """Refuse a checkpoint without the server buffer its rule must have kept.

    Server momentum and centered clipping keep a buffer from the first
    aggregated round on. Every completed round aggregates unless Poisson
    sampling chose nobody, so outside Poisson sampling a checkpoint without
    it lost it, and resuming from zero would silently change the rounds.
    """
    keeps_buffer = (
        scenario.aggregator.server_momentum > 0
        or scenario.aggregator.name == "centered_clipping"
    )
    if (
        keeps_buffer
        and scenario.training == "federated"
        and scenario.sampling.mode != "poisson"
        and state.momentum is None
    ):
        raise CheckpointError(
            f"the checkpoint after round {state.completed_round} has no momentum.npy, "
            "but the scenario's rule keeps a server buffer (server_momentum > 0 or "
            "centered_clipping) from round 1 on; the checkpoint is damaged"
        )


def changed_fields(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted paths whose values differ, outside ``RESUMABLE_FIELDS``."""
    before, after = flatten(recorded), flatten(current)
    return [
        path
        for path in sorted(before.keys() | after.keys())
        if before.get(path, MISSING) != after.get(path, MISSING)
        and not is_resumable(path)
    ]


def is_resumable(path: str) -> bool:
    """Whether ``path`` is one of ``RESUMABLE_FIELDS`` or lies below one."""
    return any(
        path == field or path.startswith((f"{field}.", f"{field}["))
        for field in RESUMABLE_FIELDS
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model.hidden_units": [32, 16], "hospitals[0].count": 6, ...}``.

    Every leaf under its dotted path. A list of tables (the hospital groups)
    is entered item by item; a list of values (``hidden_units``,
    ``active_rounds``) is one leaf, so a change to it is named once.
    """
    if isinstance(value, dict):
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(flatten(item, f"{prefix}[{index}]"))
        return leaves
    return {prefix: value}


MISSING = object()
"""Stands for a field one of the two scenarios lacks."""
