"""The Ray actor that hosts one hospital, or several packed into one process."""

from __future__ import annotations

import logging

import numpy as np
import ray

from medfed_ray.data.packed_shards import PackedShards
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
        shards: PackedShards,
        model_config: ModelConfig,
        training_config: LocalTrainingConfig,
        input_shape: tuple[int, ...],
        num_classes: int,
        num_cpus: float,
        model_seed: int,
    ):
        # Every actor seeds Keras with the model seed, so each builds exactly
        # the initial global model; training draws only from the hospitals'
        # own generators, so the seed changes nothing else.
        configure_tensorflow(num_cpus, seed=model_seed)
        from medfed_ray.local_training import LocalTrainer

        self.trainer = LocalTrainer(
            model_config, training_config, input_shape, num_classes
        )
        self.initial_weights = self.trainer.weights.get()
        # Ray resolved the shards' reference to arrays mapped read-only from
        # the object store; each hospital keeps views of its own rows.
        self.hospitals = {
            spec.hospital_id: Hospital(spec, *shards.hospital(index))
            for index, spec in enumerate(specs)
        }

    def train(
        self, hospital_ids: list[int], round_number: int, start_weights: np.ndarray
    ) -> tuple[list[np.ndarray], list[HospitalReport]]:
        """Run one round for each of ``hospital_ids``, one after another.

        ``start_weights`` is the global model's vector, which every hospital
        starts from, or in local-only training a matrix with each hospital's
        own weights, one row per id in the order given. One call for several
        hospitals spares the coordinator an actor call per hospital. Returns
        the updates and the reports in the order asked; a hospital whose
        training raises gets an empty update and a report saying why, and the
        others go on.
        """
        starts = rows_per_hospital(start_weights, len(hospital_ids))
        updates, reports = [], []
        for hospital_id, start in zip(hospital_ids, starts, strict=True):
            try:
                update, report = self.hospitals[hospital_id].run_round(
                    self.trainer, round_number, start
                )
            except Exception as error:  # noqa: BLE001 - recorded, the others go on
                logger.debug("hospital %d failed", hospital_id, exc_info=True)
                update, report = failed_round(hospital_id, round_number, error)
            updates.append(update)
            reports.append(report)
        return updates, reports

    def evaluate(
        self, weights: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> dict[str, float]:
        """Score ``weights`` on ``(x, y)``: the global model, or a hospital's own model."""
        from medfed_ray.metrics import score

        self.trainer.weights.set(weights)
        return score(self.trainer.predict(x), y)

    def evaluate_each(
        self, weights: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> list[dict[str, float] | None]:
        """Score each row of ``weights`` on ``(x, y)``: local-only models, one call.

        A row whose scoring raises gets None, logged, and the others go on.
        """
        from medfed_ray.local_training import as_float
        from medfed_ray.metrics import score

        # Converted once for all rows, not once per model.
        x = as_float(x)
        scores: list[dict[str, float] | None] = []
        for row in weights:
            try:
                self.trainer.weights.set(row)
                scores.append(score(self.trainer.predict(x), y))
            except Exception:  # noqa: BLE001 - logged, the other rows go on
                logger.warning("a local model could not be scored", exc_info=True)
                scores.append(None)
        return scores

    def initial_model(self) -> tuple[np.ndarray, dict[str, list]]:
        """The initial global weights and their layout (variable names and shapes).

        The coordinator holds no TensorFlow; it starts from these.
        """
        return self.initial_weights, self.trainer.weights.layout.to_dict()

    def model_file_bytes(self, weights: np.ndarray) -> bytes:
        """``weights`` in this actor's model, saved as a ``.keras`` file's bytes."""
        import tempfile
        from pathlib import Path

        self.trainer.weights.set(weights)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            self.trainer.model.save(path)
            return path.read_bytes()

    def ready(self) -> list[int]:
        """Return the hosted hospital ids once the constructor has finished."""
        return sorted(self.hospitals)

    def node_id(self) -> str:
        """The Ray node this actor runs on (hospitals spread over a cluster's nodes)."""
        return ray.get_runtime_context().get_node_id()


def rows_per_hospital(start_weights: np.ndarray, count: int):
    """One start vector per hospital: the shared vector, or the matrix's rows."""
    if start_weights.ndim == 1:
        return [start_weights] * count
    if start_weights.ndim != 2 or start_weights.shape[0] != count:
        raise ValueError(
            f"start weights must be one vector or one row per hospital ({count}); "
            f"found shape {start_weights.shape}"
        )
    return list(start_weights)


def failed_round(
    hospital_id: int, round_number: int, error: Exception
) -> tuple[np.ndarray, HospitalReport]:
    """An empty update and a report naming the exception's type and first line."""
    text = str(error).strip()
    message = f"{type(error).__name__}: {text.splitlines()[0]}" if text else ""
    return np.zeros(0, dtype=np.float32), HospitalReport(
        hospital_id=hospital_id,
        round_number=round_number,
        examples=0,
        local_loss=float("nan"),
        update_norm=float("nan"),
        train_seconds=float("nan"),
        error=message or type(error).__name__,
    )


HospitalActor = ray.remote(HospitalHost)
"""``HospitalHost`` as a Ray actor class; resources are set with ``.options``."""
