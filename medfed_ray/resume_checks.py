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

from typing import Any

from medfed_ray.checkpoint import CheckpointError
from medfed_ray.coordinator_state import CoordinatorState
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


def check_resumable(recorded: dict[str, Any] | None, scenario: Scenario) -> None:
    """Refuse to resume under a scenario that changes what the rounds compute.

    ``recorded`` is the scenario the checkpoint was written under, or None for
    a checkpoint that did not record one (then only the shapes are checked,
    by :func:`check_state_fits`).
    """
    if recorded is None:
        return
    changed = changed_fields(recorded, scenario_record(scenario))
    if changed:
        raise CheckpointError(
            "scenario.toml changed since the checkpoint in fields that decide what "
            f"the rounds compute: {', '.join(changed)}. A resumed run may change "
            f"only {', '.join(RESUMABLE_FIELDS)}; put the other fields back, or "
            "start a new run"
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
    before, after = flatten(recorded), flatten(scenario_record(scenario))
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
    """``{"model.hidden_units[0]": 32, ...}``: every leaf under its dotted path."""
    if isinstance(value, dict):
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    if isinstance(value, list):
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(flatten(item, f"{prefix}[{index}]"))
        return leaves or {prefix: []}
    return {prefix: value}


MISSING = object()
"""Stands for a field one of the two scenarios lacks."""
