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


def test_each_hospital_gets_references_to_its_own_uint8_shard(ray_runtime, monkeypatch):
    """Four references per hospital (train and validation, features and labels);
    images stay uint8; train and validation together are exactly the hospital's shard."""
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
            "hospitals_per_actor": 1,
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

    assert len(recorder.calls) == 3
    for hospital, call in enumerate(recorder.calls):
        (refs,) = call[1]
        assert len(refs) == 4
        assert all(isinstance(ref, ray_runtime.ObjectRef) for ref in refs)
        x, y, x_val, y_val = ray_runtime.get(list(refs))
        assert x.dtype == np.uint8 and x_val.dtype == np.uint8
        assert len(y_val) == int(0.25 * len(shards[hospital]))
        held = np.concatenate([y, y_val])
        assert np.array_equal(np.sort(held), np.sort(dataset.y_train[shards[hospital]]))
