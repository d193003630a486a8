"""A hospital: its shard, its random generator, its behaviour, and one round of its work."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from medfed_ray.local_training import LocalTrainer


@dataclass
class HospitalSpec:
    """What the driver tells an actor about one hospital it will host."""

    hospital_id: int
    group: int
    behaviour: str
    scale: float
    std: float
    seed: np.random.SeedSequence


@dataclass(frozen=True)
class HospitalReport:
    """What a hospital says about its round, beside its update vector."""

    hospital_id: int
    round_number: int
    examples: int
    local_loss: float
    update_norm: float
    train_seconds: float


class Hospital:
    """One participant of the federation.

    Holds its own data shard and generator, and its latest local weights (so
    that local-only training continues from them and packing several hospitals
    into one process changes nothing). The Keras model is the actor's shared
    trainer; the hospital borrows it for the length of a round.
    """

    def __init__(self, spec: HospitalSpec, x: np.ndarray, y: np.ndarray):
        self.spec = spec
        self.x = x
        self.y = y
        self.rng = np.random.default_rng(spec.seed)
        self.weights: np.ndarray | None = None

    def run_round(
        self, trainer: LocalTrainer, round_number: int, start_weights: np.ndarray | None
    ) -> tuple[np.ndarray, HospitalReport]:
        """Train from ``start_weights`` (or this hospital's own) and return its update.

        The update is new weights minus starting weights, altered by the
        hospital's behaviour. ``start_weights`` may be a read-only array from
        the object store; it is never written.
        """
        started = time.perf_counter()
        if start_weights is None:
            start_weights = (
                self.weights if self.weights is not None else trainer.weights.get()
            )

        if self.spec.behaviour == "gaussian_noise":
            # Sends noise instead of training (Blanchard et al., 2017, Sec. 5).
            update = self.rng.normal(0.0, self.spec.std, start_weights.shape).astype(
                np.float32
            )
            loss = float("nan")
        else:
            trainer.weights.set(start_weights)
            trainer.reset_optimizer()
            loss = trainer.train(self.x, self.y, self.rng)
            new_weights = trainer.weights.get()
            self.weights = new_weights
            update = new_weights - start_weights
            if self.spec.behaviour == "sign_flip":
                update *= -self.spec.scale

        report = HospitalReport(
            hospital_id=self.spec.hospital_id,
            round_number=round_number,
            examples=len(self.y),
            local_loss=loss,
            update_norm=float(np.linalg.norm(update.astype(np.float64))),
            train_seconds=time.perf_counter() - started,
        )
        return update, report
