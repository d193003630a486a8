"""Checkpoints of a run, written without pickle: ``.npy`` arrays and a JSON record.

A checkpoint holds what the coordinator's rounds change (global weights, the
server's momentum buffer if it has one, and in local-only training every
hospital's weights) and the round it was taken
after. Hospital generators are derived from (seed, round) and need no state.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.errors import UsageError

logger = logging.getLogger(__name__)

FOLDER = "checkpoints"
FORMAT_VERSION = 1


class CheckpointError(UsageError):
    """A run directory has no usable checkpoint to resume from."""


def checkpoint_path(run_dir: Path, round_number: int) -> Path:
    """``RUN_DIR/checkpoints/round-000012``: sortable by name."""
    return run_dir / FOLDER / f"round-{round_number:06d}"


def write_checkpoint(
    run_dir: Path, state: CoordinatorState, provenance: dict[str, Any] | None = None
) -> Path:
    """Write ``state`` atomically (a temporary folder renamed into place).

    ``provenance`` is what the run was made from: ``scenario`` (the scenario
    as JSON-ready data) and ``data_sha256`` (a digest of its data). It is
    recorded so that resuming can refuse a scenario.toml edited in ways that
    change what the rounds compute, or replaced data.
    """
    final = checkpoint_path(run_dir, state.completed_round)
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    np.save(partial / "weights.npy", state.weights, allow_pickle=False)
    if state.local_weights is not None:
        np.save(partial / "local_weights.npy", state.local_weights, allow_pickle=False)
    if state.momentum is not None:
        np.save(partial / "momentum.npy", state.momentum, allow_pickle=False)
    record = {
        "format_version": FORMAT_VERSION,
        "completed_round": state.completed_round,
        "has_local_weights": state.local_weights is not None,
        "has_momentum": state.momentum is not None,
    }
    record.update(provenance or {})
    (partial / "checkpoint.json").write_text(json.dumps(record, indent=1) + "\n")

    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    logger.info("checkpoint after round %d written to %s", state.completed_round, final)
    return final


def read_latest_checkpoint(run_dir: Path) -> CoordinatorState:
    """The newest complete checkpoint of ``run_dir``; raise ``CheckpointError`` if none."""
    return read_checkpoint(latest_checkpoint_path(run_dir))


def latest_checkpoint_path(run_dir: Path) -> Path:
    """The newest complete checkpoint folder of ``run_dir`` (by round number)."""
    folder = run_dir / FOLDER
    candidates = [
        path
        for path in folder.glob("round-*")
        if path.is_dir() and FOLDER_NAME.fullmatch(path.name)
    ]
    if not candidates:
        raise CheckpointError(
            f"{run_dir} has no checkpoint to resume from (looked in {folder}); "
            "runs write one every checkpoint_every rounds, after their last round, "
            "on Ctrl-C and when they stop below quorum"
        )
    # By number: round-1000000 sorts before round-999999 as text.
    return max(candidates, key=checkpoint_round)


FOLDER_NAME = re.compile(r"round-\d{6,}")
"""A complete checkpoint folder; ``round-000012.partial`` is one being written."""


def checkpoint_round(path: Path) -> int:
    """The round a checkpoint folder was taken after, from its name (``round-000012``)."""
    return int(path.name.rsplit("-", 1)[1])


def read_record(path: Path) -> dict[str, Any]:
    """A checkpoint folder's ``checkpoint.json``, checked field by field."""
    try:
        record = json.loads((path / "checkpoint.json").read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} cannot be read: {error}") from None
    if not isinstance(record, dict):
        raise CheckpointError(
            f"checkpoint {path}: checkpoint.json must hold a JSON object; "
            f"found {type(record).__name__}"
        )
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {record.get('format_version')!r}; "
            f"this medfed-ray reads version {FORMAT_VERSION}"
        )
    completed = record.get("completed_round")
    if isinstance(completed, bool) or not isinstance(completed, int) or completed < 1:
        raise CheckpointError(
            f"checkpoint {path}: completed_round must be a whole number of at least 1; "
            f"found {completed!r}"
        )
    for flag in ("has_local_weights", "has_momentum"):
        if not isinstance(record.get(flag, False), bool):
            raise CheckpointError(
                f"checkpoint {path}: {flag} must be true or false; "
                f"found {record[flag]!r}"
            )
    if "scenario" in record and not isinstance(record["scenario"], dict):
        raise CheckpointError(
            f"checkpoint {path}: the scenario it recorded must be a JSON object; found "
            f"{type(record['scenario']).__name__}, so it cannot be checked against "
            "scenario.toml"
        )
    digest = record.get("data_sha256")
    if digest is not None and not isinstance(digest, str):
        raise CheckpointError(
            f"checkpoint {path}: data_sha256 must be a text digest; found {digest!r}"
        )
    return record


def read_checkpoint(path: Path) -> CoordinatorState:
    """Load one checkpoint folder, checking its record and arrays."""
    record = read_record(path)
    try:
        weights = np.load(path / "weights.npy", allow_pickle=False)
        local = None
        if record.get("has_local_weights"):
            local = np.load(path / "local_weights.npy", allow_pickle=False)
        momentum = None
        if record.get("has_momentum"):
            momentum = np.load(path / "momentum.npy", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} cannot be read: {error}") from None

    if (
        FOLDER_NAME.fullmatch(path.name)
        and checkpoint_round(path) != (record["completed_round"])
    ):
        raise CheckpointError(
            f"checkpoint {path}: its folder names round {checkpoint_round(path)} but "
            f"checkpoint.json says completed_round = {record['completed_round']}; "
            "one of them was edited"
        )
    for name, array in (
        ("weights.npy", weights),
        ("local_weights.npy", local),
        ("momentum.npy", momentum),
    ):
        if (
            array is not None
            and array.dtype.kind == "f"
            and not np.isfinite(array).all()
        ):
            raise CheckpointError(
                f"checkpoint {path}: {name} holds NaN or infinite values; a run's "
                "state is always finite, so the file is damaged"
            )
    if weights.dtype != np.float32 or weights.ndim != 1:
        raise CheckpointError(
            f"checkpoint {path}: weights.npy must be a 1-D float32 array; "
            f"found {weights.dtype} with shape {weights.shape}"
        )
    if local is not None and (local.dtype != np.float32 or local.ndim != 2):
        raise CheckpointError(
            f"checkpoint {path}: local_weights.npy must be a 2-D float32 array; "
            f"found {local.dtype} with shape {local.shape}"
        )
    if momentum is not None and (
        momentum.dtype != np.float32 or momentum.shape != weights.shape
    ):
        raise CheckpointError(
            f"checkpoint {path}: momentum.npy must be float32 of the weights' shape "
            f"{weights.shape}; found {momentum.dtype} with shape {momentum.shape}"
        )
    return CoordinatorState(record["completed_round"], weights, local, momentum)
