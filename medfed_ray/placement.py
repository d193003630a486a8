"""Where hospitals run: resource checks, packing hospitals into actors, starting them.

A TensorFlow process costs hundreds of MB, so one process per hospital stops
scaling at a few dozen hospitals on a workstation. When a run has more
hospitals than the cluster has room for processes, several hospitals share an
actor (and its compiled model). Packing never changes results: hospitals hold
no state between rounds, and each runs with the thread count its own share
grants, whichever actor hosts it.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter

import numpy as np
import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from medfed_ray.coordinator_state import HospitalSeat
from medfed_ray.data.datasets import Dataset
from medfed_ray.data.packed_shards import PackedShards
from medfed_ray.data.partition import split_validation
from medfed_ray.errors import ResourceError
from medfed_ray.hospital import HospitalSpec
from medfed_ray.hospital_actor import HospitalActor
from medfed_ray.scenario.schema import Scenario
from medfed_ray.update_checks import first_line

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 600.0
"""How long hospital actors may take to start (importing TensorFlow, building models)."""

PROCESS_BYTES = 450 * 2**20
"""Memory one hospital actor process costs: TensorFlow, Keras and a small model
(measured at 385-400 MiB; see docs/datasets.md), rounded up."""

ACTOR_START_TIMEOUT_S = 300.0
"""How long a restarted hospital actor may take to come back before a round."""

MEMORY_SHARE_FOR_ACTORS = 0.6
"""Share of Ray's memory resource that automatic packing lets actor processes fill."""


def check_resources(scenario: Scenario) -> None:
    """Fail before any actor starts if the cluster cannot host every hospital.

    Checks the total over the cluster and that each group's per-hospital
    share fits on at least one node: an actor never spans nodes, so eight
    1-CPU nodes cannot host a hospital that asks for 1.5 CPUs.
    """
    available = ray.cluster_resources()
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    for resource, key in (("CPU", "num_cpus"), ("GPU", "num_gpus")):
        needed = sum(getattr(group, key) * group.count for group in scenario.hospitals)
        have = float(available.get(resource, 0.0))
        if needed > have + 1e-9:
            raise ResourceError(
                f"the hospitals ask for {needed:g} {resource}s in all (count x {key} "
                f"over hospital groups) but the Ray cluster has {have:g}. Lower {key} "
                "per hospital group, or run on a larger cluster with --address."
            )
        largest = max((float(node.get(resource, 0.0)) for node in nodes), default=0.0)
        for index, group in enumerate(scenario.hospitals):
            share = getattr(group, key)
            if share > largest + 1e-9:
                raise ResourceError(
                    f"hospitals[{index}] asks for {key} = {share:g} per hospital but the "
                    f"largest Ray node has {largest:g} {resource}s; an actor cannot span "
                    f"nodes. Lower hospitals[{index}].{key}."
                )


def hospitals_per_actor(scenario: Scenario) -> int:
    """Hospitals per actor forced by memory: the scenario's choice, else automatic.

    Automatic packing keeps the actor processes within
    ``MEMORY_SHARE_FOR_ACTORS`` of the cluster's memory, packing just enough
    hospitals per actor to fit. :func:`pack` may pack more, up to a whole core.
    """
    if scenario.hospitals_per_actor > 0:
        return scenario.hospitals_per_actor
    memory = float(ray.cluster_resources().get("memory", 0.0))
    room = max(1, int(MEMORY_SHARE_FOR_ACTORS * memory // PROCESS_BYTES))
    return max(1, math.ceil(scenario.num_hospitals / room))


def pack(scenario: Scenario, per_actor: int) -> list[list[int]]:
    """Hospital ids grouped into actors: consecutive ids of the same group.

    Keeping an actor's hospitals within one group gives the actor a uniform
    share per hospital (count x num_cpus, count x num_gpus). With automatic
    packing (``hospitals_per_actor = 0``), hospitals with a fraction of a core
    also share a process until their shares add up to one core: four
    hospitals at ``num_cpus = 0.25`` compute no faster in four processes
    than in one, but cost four TensorFlow start-ups and four times the memory.
    """
    actors: list[list[int]] = []
    first = 0
    for group in scenario.hospitals:
        size = per_actor
        if scenario.hospitals_per_actor == 0 and group.num_gpus == 0:
            size = max(per_actor, math.floor(1.0 / group.num_cpus + 1e-9))
        ids = list(range(first, first + group.count))
        actors += [ids[start : start + size] for start in range(0, len(ids), size)]
        first += group.count
    return actors


def start_hospitals(
    scenario: Scenario, dataset: Dataset, shards: list[np.ndarray], seeds
) -> list[HospitalSeat]:
    """Start the hospital actors; each actor's shards reach it as one object-store object."""
    group_of = scenario.hospital_groups()
    local_splits = split_validation(
        shards, scenario.dataset.validation_fraction, seeds.partition
    )
    specs = [
        hospital_spec(scenario, hospital_id, group_of[hospital_id], train, seeds)
        for hospital_id, (train, _) in enumerate(local_splits)
    ]

    per_actor = hospitals_per_actor(scenario)
    packing = pack(scenario, per_actor)
    if len(packing) < scenario.num_hospitals:
        logger.info(
            "%d hospitals packed into %d actors (up to %d each)",
            scenario.num_hospitals,
            len(packing),
            max(len(hospital_ids) for hospital_ids in packing),
        )
    seats = []
    for hospital_ids in packing:
        group = scenario.hospitals[group_of[hospital_ids[0]]]
        shards_ref = ray.put(
            PackedShards.pack(
                dataset.x_train,
                dataset.y_train,
                [local_splits[index] for index in hospital_ids],
            )
        )
        # A crashed or cut-off actor is restarted by Ray with the same
        # constructor arguments (its shards' reference); the round it was in
        # is not retried, since the coordinator has closed it without it.
        actor = HospitalActor.options(
            num_cpus=group.num_cpus * len(hospital_ids),
            num_gpus=group.num_gpus * len(hospital_ids),
            max_restarts=-1,
            max_task_retries=0,
        ).remote(
            [specs[index] for index in hospital_ids],
            shards_ref,
            scenario.model,
            scenario.local,
            dataset.input_shape,
            dataset.num_classes,
            # Threads follow one hospital's share: hospitals in an actor run
            # one after another, and the same thread count keeps packed and
            # unpacked runs numerically identical.
            group.num_cpus,
            seeds.model,
        )
        seats += [
            HospitalSeat(specs[index], actor, (shards_ref,)) for index in hospital_ids
        ]

    try:
        ray.get(
            [actor.ready.remote() for actor in unique_actors(seats)],
            timeout=STARTUP_TIMEOUT_S,
        )
    except GetTimeoutError:
        raise ResourceError(
            f"hospital actors did not start within {STARTUP_TIMEOUT_S:.0f} s; the cluster "
            "may lack the CPUs/GPUs or memory they ask for"
        ) from None
    return seats


def hospital_spec(
    scenario: Scenario, hospital_id: int, group_index: int, train: np.ndarray, seeds
) -> HospitalSpec:
    """What the actor hosting ``hospital_id`` is told about it."""
    group = scenario.hospitals[group_index]
    return HospitalSpec(
        hospital_id=hospital_id,
        group=group_index,
        behaviour=group.behaviour,
        scale=group.scale,
        std=group.std,
        seed=seeds.hospitals[hospital_id],
        active_rounds=None
        if group.active_rounds is None
        else tuple(group.active_rounds),
        privacy=scenario.privacy if scenario.privacy.enabled else None,
        examples=len(train),
        settings=group,
    )


def unique_actors(seats: list[HospitalSeat]) -> list[ray.actor.ActorHandle]:
    """The distinct actors hosting ``seats``, in seat order (packed seats share one).

    Actor handles compare and hash by actor id.
    """
    return list(dict.fromkeys(seat.actor for seat in seats))


def await_actors(seats: list[HospitalSeat], timeout_s: float) -> set[int]:
    """Wait until the seats' (restarted) actors answer; return the hospital ids that did.

    Each actor is asked once for all the seats it hosts. Calls made while
    Ray is still restarting an actor fail at once with
    ``ActorUnavailableError``, so each is asked again until it answers or the
    time is up. A hospital whose actor is still down will miss its round.
    """
    deadline = time.monotonic() + timeout_s
    back = set()
    for actor in unique_actors(seats):
        hosted = [seat.spec.hospital_id for seat in seats if seat.actor == actor]
        while time.monotonic() < deadline:
            try:
                ray.get(actor.ready.remote(), timeout=deadline - time.monotonic())
            except ActorUnavailableError:
                time.sleep(0.5)
                continue
            except (RayActorError, GetTimeoutError) as error:
                logger.warning(
                    "hospitals %s did not come back: %s",
                    format_ids(hosted),
                    first_line(error),
                )
                break
            back.update(hosted)
            break
    return back


def format_ids(ids: list[int], shown: int = 5) -> str:
    """``3, 4, 5`` or, for many ids, ``3, 4, 5, 6, 7 and 95 more``."""
    text = ", ".join(map(str, ids[:shown]))
    return text if len(ids) <= shown else f"{text} and {len(ids) - shown} more"


def hospitals_per_node(seats: list[HospitalSeat]) -> dict[str, int]:
    """How many hospitals each Ray node hosts (shows how a cluster spread them).

    Asks each actor once, not each hospital: packed hospitals share an actor.
    """
    actors = unique_actors(seats)
    nodes = dict(
        zip(actors, ray.get([actor.node_id.remote() for actor in actors]), strict=True)
    )
    counts = Counter(nodes[seat.actor] for seat in seats)
    return dict(sorted(counts.items()))


def stop_actors(actors: list[ray.actor.ActorHandle]) -> None:
    """Kill the run's actors; a runtime already gone (Ctrl-C reached it) is fine."""
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except Exception as error:  # noqa: BLE001 - shutting down; nothing to save
            logger.debug("could not kill actor: %s", error)
