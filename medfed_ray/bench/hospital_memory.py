"""Measure what one hospital costs: its shard, its model, and its actor process (PSS).

Run ``python -m medfed_ray.bench.hospital_memory SCENARIO [--set KEY=VALUE ...]``.
It starts the scenario's hospital actors on a local Ray runtime, has each
train one round, and prints per hospital the bytes of the shard it received
through the object store, the size of its model's weights, and the
proportional set size of its process (Linux only, see
:mod:`medfed_ray.bench.memory`). For comparison it also prints the PSS of an
actor that only imports TensorFlow and Keras.
"""

from __future__ import annotations

import argparse
import os

import ray


@ray.remote(num_cpus=0)
class BareTensorFlowActor:
    """An actor that imports TensorFlow and Keras and nothing else."""

    def __init__(self):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

    def pid(self) -> int:
        """The actor's process id."""
        return os.getpid()


def main() -> None:
    """Start the hospitals, train one round, and print what each costs."""
    from medfed_ray.bench.memory import pss_bytes
    from medfed_ray.placement import start_hospitals
    from medfed_ray.scenario.loading import load_scenario
    from medfed_ray.simulation import Seeds, connect, prepare_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    arguments = parser.parse_args()

    # One hospital per process, so each process's PSS is one hospital's cost.
    scenario, _ = load_scenario(
        arguments.scenario, [*arguments.overrides, "hospitals_per_actor=1"]
    )
    seeds = Seeds.from_scenario(scenario)
    dataset, shards = prepare_data(scenario, seeds)
    connect()
    seats = start_hospitals(scenario, dataset, shards, seeds)

    def pid_of(actor) -> int:
        return ray.get(actor.__ray_call__.remote(lambda host: os.getpid()))

    weights = ray.get(
        seats[0].actor.__ray_call__.remote(lambda host: host.trainer.weights.get())
    )
    weights_ref = ray.put(weights)
    before = {seat.spec.hospital_id: pss_bytes(pid_of(seat.actor)) for seat in seats}
    ray.get(
        [
            seat.actor.train.options(num_returns=2).remote(
                seat.spec.hospital_id, 1, weights_ref
            )[1]
            for seat in seats
        ]
    )
    bare = BareTensorFlowActor.remote()
    bare_pss = pss_bytes(ray.get(bare.pid.remote()))

    mib = 1 << 20
    print(
        f"scenario {scenario.name}: model {weights.size} parameters, "
        f"{weights.nbytes / mib:.2f} MiB as float32"
    )
    print(f"bare TensorFlow + Keras actor: PSS {bare_pss / mib:.0f} MiB")
    print("hospital  shard_samples  shard_MiB  PSS_before_MiB  PSS_after_round_MiB")
    for seat in seats:
        hospital = seat.spec.hospital_id
        arrays = ray.get(
            seat.actor.__ray_call__.remote(
                lambda host, hospital=hospital: [
                    getattr(host.hospitals[hospital], name).nbytes
                    for name in ("x", "y", "x_val", "y_val")
                ]
            )
        )
        after = pss_bytes(pid_of(seat.actor))
        print(
            f"{hospital:8d}  {len(shards[hospital]):13d}  {sum(arrays) / mib:9.2f}"
            f"  {before[hospital] / mib:14.0f}  {after / mib:19.0f}"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
