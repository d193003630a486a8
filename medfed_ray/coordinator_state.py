"""What the coordinator keeps between rounds, and where each hospital lives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ray

from medfed_ray.hospital import HospitalSpec


@dataclass(frozen=True)
class HospitalSeat:
    """Where a hospital lives: its spec, the actor that hosts it, and its shard refs.

    Holding the shard references here keeps the shard objects alive for as
    long as the actor may be restarted with them.
    """

    spec: HospitalSpec
    actor: ray.actor.ActorHandle
    shard_refs: tuple[ray.ObjectRef, ...] = ()


@dataclass
class CoordinatorState:
    """Everything a round changes, as arrays and numbers: what a checkpoint holds.

    Hospital generators are derived from (seed, round), so no generator
    state is needed here.
    """

    completed_round: int
    weights: np.ndarray
    local_weights: np.ndarray | None = None
    """Local-only training: each hospital's own weights, row per hospital id."""
    momentum: np.ndarray | None = None
    """The server's momentum buffer when ``aggregator.server_momentum > 0``."""
