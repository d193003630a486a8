"""The Ray actor that hosts one hospital, or several packed into one process."""

from __future__ import annotations

import logging

import numpy as np
import ray

from medfed_ray.hospital import Hospital, HospitalReport, HospitalSpec
from medfed_ray.runtime import configure_tensorflow
from medfed_ray.scenario.schema import LocalTrainingConfig, ModelConfig

logger = logging.getLogger(__name__)


class HospitalHost:
    """Hospitals that share one process and one compiled Keras trainer.

    The shards arrive as object-store arrays (read-only, zero-copy); nothing
    here reads a file, so actors can run on nodes that cannot see the
    driver's disk.
    """

    def __init__(
        self,
        specs: list[HospitalSpec],
        shards: list[tuple[ray.ObjectRef, ray.ObjectRef]],
        model_config: ModelConfig,
        training_config: LocalTrainingConfig,
        input_shape: tuple[int, ...],
        num_classes: int,
        num_cpus: float,
    ):
        configure_tensorflow(num_cpus, seed=int(specs[0].seed.generate_state(1)[0]))
        from medfed_ray.local_training import LocalTrainer

        self.trainer = LocalTrainer(
            model_config, training_config, input_shape, num_classes
        )
        # Shards are object-store references nested in a list, which Ray does
        # not resolve by itself; ray.get maps them read-only without a copy.
        self.hospitals = {
            spec.hospital_id: Hospital(spec, *ray.get(list(refs)))
            for spec, refs in zip(specs, shards, strict=True)
        }

    def train(
        self, hospital_id: int, round_number: int, start_weights: np.ndarray
    ) -> tuple[np.ndarray, HospitalReport]:
        """Run one round for ``hospital_id``; see :meth:`Hospital.run_round`."""
        hospital = self.hospitals[hospital_id]
        return hospital.run_round(self.trainer, round_number, start_weights)

    def evaluate(
        self, weights: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> dict[str, float]:
        """Score ``weights`` on ``(x, y)`` (a hospital's own model, in local-only training)."""
        from medfed_ray.metrics import score

        self.trainer.weights.set(weights)
        return score(self.trainer.predict(x), y)

    def ready(self) -> list[int]:
        """Return the hosted hospital ids once the constructor has finished."""
        return sorted(self.hospitals)

    def node_id(self) -> str:
        """The Ray node this actor runs on (hospitals spread over a cluster's nodes)."""
        return ray.get_runtime_context().get_node_id()


HospitalActor = ray.remote(HospitalHost)
"""``HospitalHost`` as a Ray actor class; resources are set with ``.options``."""
