"""A hospital: its shard, its random generator, its behaviour, and one round of its work."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from medfed_ray.attacks import labels
from medfed_ray.attacks import update as poison
from medfed_ray.local_training import LocalTrainer
from medfed_ray.privacy.hospital_side import privatize, train_privately
from medfed_ray.scenario.schema import HospitalGroup, PrivacyConfig

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
    settings: HospitalGroup | None = None
    """The hospital's group, for the behaviour parameters beyond ``scale`` and ``std``
    (``mode``, ``noise_fraction``, ``probability``, ``z``, ``epsilon``)."""

    @property
    def group_settings(self) -> HospitalGroup:
        """``settings``, or a group with this spec's behaviour, scale and std."""
        if self.settings is not None:
            return self.settings
        return HospitalGroup(behaviour=self.behaviour, scale=self.scale, std=self.std)

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
    dropped: bool = False
    """The hospital chose not to answer this round (behaviour ``dropout``); its
    update is empty and must not be aggregated."""
    error: str | None = None
    """Why local training raised, when it did (the update is then empty)."""


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
        self._noisy_y: np.ndarray | None = None

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

        settings = self.spec.group_settings
        if behaviour == "dropout" and self.rng.random() < settings.probability:
            # Decided by the round's generator, so a rerun drops the same rounds.
            return np.zeros(0, dtype=np.float32), HospitalReport(
                hospital_id=self.spec.hospital_id,
                round_number=round_number,
                examples=len(self.y),
                local_loss=float("nan"),
                update_norm=float("nan"),
                train_seconds=time.perf_counter() - started,
                dropped=True,
            )

        loss = validation_accuracy = float("nan")
        if behaviour == "nan_update":
            # A site whose software sends garbage: the coordinator must reject it.
            update = np.full(start_weights.shape, np.nan, dtype=np.float32)
        elif behaviour == "gaussian_noise" and settings.behaviour_mode == "replace":
            # Sends noise instead of training (Blanchard et al., 2017, Sec. 5).
            update = poison.gaussian_noise(
                start_weights, self.spec.std, "replace", self.rng
            )
        elif behaviour == "free_rider":
            update = poison.free_rider(start_weights, settings.behaviour_mode)
        else:
            y = self.training_labels(behaviour, trainer)
            trainer.weights.set(start_weights)
            trainer.reset_optimizer()
            if self.spec.privacy is not None and self.spec.privacy.dp_sgd.enabled:
                loss = train_privately(
                    trainer, self.x, y, self.rng, self.spec, round_number
                )
            else:
                loss = trainer.train(self.x, y, self.rng)
            validation_accuracy = self.validation_accuracy(trainer)
            update = trainer.weights.get() - start_weights
            if behaviour == "sign_flip":
                update = poison.sign_flip(update, self.spec.scale)
            elif behaviour == "scaling":
                update = poison.scaling(update, self.spec.scale)
            elif behaviour == "gaussian_noise":
                update = poison.gaussian_noise(update, self.spec.std, "add", self.rng)

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

    def training_labels(self, behaviour: str, trainer: LocalTrainer) -> np.ndarray:
        """The labels the hospital trains on this round: its own, flipped or noisy.

        Label noise is drawn once from a stream of the hospital's seed that no
        round uses, so the site's "annotations" are the same every round.
        """
        if behaviour not in ("label_flip", "label_noise"):
            return self.y
        num_classes = int(trainer.model.output_shape[-1])
        if behaviour == "label_flip":
            return labels.flip_labels(self.y, num_classes)
        if self._noisy_y is None:
            seed = self.spec.seed
            stream = np.random.SeedSequence(
                entropy=seed.entropy, spawn_key=(*seed.spawn_key, LABEL_NOISE_STREAM)
            )
            self._noisy_y = labels.noisy_labels(
                self.y,
                num_classes,
                self.spec.group_settings.noise_fraction,
                np.random.default_rng(stream),
            )
        return self._noisy_y

    def validation_accuracy(self, trainer: LocalTrainer) -> float:
        """Accuracy of the trainer's current weights on the local validation split."""
        if self.y_val is None or len(self.y_val) == 0:
            return float("nan")
        predictions = trainer.predict(self.x_val).argmax(axis=1)
        return float(np.mean(predictions == self.y_val))


LABEL_NOISE_STREAM = 0x4C4E4F53
"""Spawn-key tag of the stream that picks a ``label_noise`` hospital's noisy labels."""

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
