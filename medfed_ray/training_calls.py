"""One round's actor calls: which hospitals each call trains, and its result references."""

from __future__ import annotations

from dataclasses import dataclass

import ray

from medfed_ray.coordinator_state import HospitalSeat

HOSPITALS_PER_CALL = 50
"""Most hospitals one actor call trains in a round.

Hospitals packed into one actor train one after another anyway; a call per
hospital only adds overhead. At 10,000 small MLP hospitals, sending one call
per hospital took the coordinator 6.6 s of a 20 s round (0.6 ms a call),
while a hospital trained in 1 to 2 ms. Calls of 50 send fifty times fewer
calls and results while answers still stream in during the round; the price
is that a hang or crash costs the round the other hospitals of the same
call, which share its process in any case.
"""


@dataclass(frozen=True)
class TrainingCall:
    """One actor call of a round: the seats it trains and its two result references."""

    seats: list[HospitalSeat]
    updates: ray.ObjectRef
    reports: ray.ObjectRef

    @property
    def actor(self) -> ray.actor.ActorHandle:
        """The actor hosting every seat of the call."""
        return self.seats[0].actor


def chunk_by_actor(seats: list[HospitalSeat], size: int) -> list[list[HospitalSeat]]:
    """Seats grouped by the actor hosting them, in order, cut into chunks of ``size``.

    Packing gives each actor consecutive hospital ids, so chunks of seats
    sorted by id keep that order, and rows built chunk by chunk are
    aggregated in hospital-id order.
    """
    by_actor: dict[ray.actor.ActorHandle, list[HospitalSeat]] = {}
    for seat in seats:
        by_actor.setdefault(seat.actor, []).append(seat)
    return [
        hosted[start : start + size]
        for hosted in by_actor.values()
        for start in range(0, len(hosted), size)
    ]


def hospital_ids(seats: list[HospitalSeat]) -> list[int]:
    """The hospital ids of ``seats``, in order."""
    return [seat.spec.hospital_id for seat in seats]
