"""A hospital: its shard, its random generator, its behaviour, and one round of its work."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from medfed_ray.local_training import LocalTrainer
from medfed_ray.privacy.hospital_side import privatize, train_privately
from medfed_ray.scenario.schema import PrivacyConfig

logger = logging.getLogger(__name__)


@dataclass
class HospitalSpec:
    """What the driver tells an actor about one hospital it will host."""

    hospital_id: int
    group: int
    behaviour: str
    scale: float
    std: float
    seed: np.random.SeedSequence
    active_rounds: tuple[int, int] | None = None
    privacy: PrivacyConfig | None = None
    """The scenario's ``[privacy]`` table; clipping, local noise and DP-SGD follow it."""
    examples: int = 0
    """Training examples in the hospital's shard (the privacy accountant needs it)."""

    def behaviour_in(self, round_number: int) -> str:
        """The behaviour in force in ``round_number``: honest outside ``active_rounds``."""
        if self.active_rounds is None:
            return self.behaviour
        first, last = self.active_rounds
        return self.behaviour if first <= round_number <= last else "honest"


@dataclass(frozen=True)
class HospitalReport:
    """What a hospital says about its round, beside its update vector."""

    hospital_id: int
    round_number: int
    examples: int
    local_loss: float
    update_norm: float
    train_seconds: float
    validation_accuracy: float = float("nan")
    """Accuracy of the hospital's trained weights on its local validation split
    (NaN when it has none, or sent no trained weights)."""


class Hospital:
    """One participant of the federation.

    Holds its own data shard and nothing else that outlives a round: its
    generator is derived afresh each round from its seed and the round number
    (:func:`round_generator`), and the weights it starts from are sent by the
    coordinator. So a restarted actor, a resumed run, or hospitals packed
    differently into processes all draw exactly the same numbers. The Keras
    model is the actor's shared trainer; the hospital borrows it for a round.
    """

    def __init__(
        self,
        spec: HospitalSpec,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ):
        self.spec = spec
        self.x = x
        self.y = y
        # The local validation split never trains; it scores this hospital's model.
        self.x_val = x_val
        self.y_val = y_val
        self.rng = round_generator(spec.seed, 0)

    def run_round(
        self, trainer: LocalTrainer, round_number: int, start_weights: np.ndarray
    ) -> tuple[np.ndarray, HospitalReport]:
        """Train from ``start_weights`` and return the update with a report.

        The update is new weights minus starting weights, altered by the
        hospital's behaviour. ``start_weights`` may be a read-only array from
        the object store; it is never written.
        """
        started = time.perf_counter()
        self.rng = round_generator(self.spec.seed, round_number)
        behaviour = self.spec.behaviour_in(round_number)
        if behaviour == "crash":
            logger.warning("hospital %d crashes its process", self.spec.hospital_id)
            os._exit(1)
        if behaviour == "hang":
            # Never answers; the coordinator cuts it off at the round deadline
            # and restarts its actor.
            threading.Event().wait()

        if behaviour == "nan_update":
            # A site whose software sends garbage: the coordinator must reject it.
            update = np.full(start_weights.shape, np.nan, dtype=np.float32)
            loss = validation_accuracy = float("nan")
        elif behaviour == "gaussian_noise":
            # Sends noise instead of training (Blanchard et al., 2017, Sec. 5).
            update = self.rng.normal(0.0, self.spec.std, start_weights.shape).astype(
                np.float32
            )
            loss = validation_accuracy = float("nan")
        else:
            trainer.weights.set(start_weights)
            trainer.reset_optimizer()
            if self.spec.privacy is not None and self.spec.privacy.dp_sgd.enabled:
                loss = train_privately(
                    trainer, self.x, self.y, self.rng, self.spec, round_number
                )
            else:
                loss = trainer.train(self.x, self.y, self.rng)
            validation_accuracy = self.validation_accuracy(trainer)
            update = trainer.weights.get() - start_weights
            if behaviour == "sign_flip":
                update *= -self.spec.scale

        if self.spec.privacy is not None and self.spec.privacy.mode != "off":
            update = privatize(update, self.spec, round_number)

        report = HospitalReport(
            hospital_id=self.spec.hospital_id,
            round_number=round_number,
            examples=len(self.y),
            local_loss=loss,
            update_norm=float(np.linalg.norm(update.astype(np.float64))),
            train_seconds=time.perf_counter() - started,
            validation_accuracy=validation_accuracy,
        )
        return update, report

    def validation_accuracy(self, trainer: LocalTrainer) -> float:
        """Accuracy of the trainer's current weights on the local validation split."""
        if self.y_val is None or len(self.y_val) == 0:
            return float("nan")
        predictions = trainer.predict(self.x_val).argmax(axis=1)
        return float(np.mean(predictions == self.y_val))


ROUND_STREAM = 0x524F554E
"""Spawn-key tag of the per-round streams, so they never equal ``seed.spawn()`` children."""


def round_generator(
    seed: np.random.SeedSequence, round_number: int
) -> np.random.Generator:
    """The generator a hospital uses in ``round_number``: a child of its seed.

    Deriving it from (hospital seed, round) instead of carrying one generator
    across rounds means there is no generator state to checkpoint or restore.
    """
    child = np.random.SeedSequence(
        entropy=seed.entropy, spawn_key=(*seed.spawn_key, ROUND_STREAM, round_number)
    )
    return np.random.default_rng(child)
