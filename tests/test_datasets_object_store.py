"""Shards reach hospitals as object-store references, never as paths, and stay compact."""

from __future__ import annotations

import numpy as np

from medfed_ray import placement, simulation
from medfed_ray.data.datasets import Dataset
from medfed_ray.scenario.schema import Scenario


class RecordingActorClass:
    """Stands in for ``HospitalActor``: records constructor arguments, starts nothing."""

    def __init__(self, ray):
        self.ray = ray
        self.calls: list[tuple] = []

    def options(self, **_resources):
        return self

    def remote(self, *arguments):
        self.calls.append(arguments)
        ray = self.ray

        class Ready:
            @staticmethod
            def remote():
                return ray.put([0])

        class Actor:
            ready = Ready

        return Actor()


def test_each_actor_gets_one_reference_to_its_hospitals_uint8_shards(
    ray_runtime, monkeypatch
):
    """One object per actor holds its hospitals' train and validation rows; images
    stay uint8; each hospital's rows are exactly its shard."""
    recorder = RecordingActorClass(ray_runtime)
    monkeypatch.setattr(placement, "HospitalActor", recorder)
    scenario = Scenario.model_validate(
        {
            "name": "store",
            "dataset": {
                "name": "synthetic",
                "synthetic_samples": 300,
                "synthetic_classes": 3,
                "synthetic_shape": [4, 4, 1],
                "validation_fraction": 0.25,
            },
            "hospitals_per_actor": 2,
            "hospitals": [{"count": 3, "num_cpus": 0.1}],
        }
    )
    seeds = simulation.Seeds.from_scenario(scenario)
    dataset, shards = simulation.prepare_data(scenario, seeds)
    # Make the features uint8 images, as MedMNIST's are, to see they are not widened.
    images = (np.arange(dataset.x_train.size) % 256).astype(np.uint8)
    dataset = Dataset(
        name=dataset.name,
        x_train=images.reshape(dataset.x_train.shape),
        y_train=dataset.y_train,
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        num_classes=dataset.num_classes,
    )

    placement.start_hospitals(scenario, dataset, shards, seeds)

    assert len(recorder.calls) == 2
    hospital = 0
    for specs, ref, *_ in recorder.calls:
        assert isinstance(ref, ray_runtime.ObjectRef)
        packed = ray_runtime.get(ref)
        assert len(packed) == len(specs)
        for index, spec in enumerate(specs):
            assert spec.hospital_id == hospital
            x, y, x_val, y_val = packed.hospital(index)
            assert x.dtype == np.uint8 and x_val.dtype == np.uint8
            assert len(y_val) == int(0.25 * len(shards[hospital]))
            held = np.concatenate([y, y_val])
            expected = dataset.y_train[shards[hospital]]
            assert np.array_equal(np.sort(held), np.sort(expected))
            assert spec.examples == len(y)
            hospital += 1
    assert hospital == 3
