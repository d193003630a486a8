"""Local training of one Keras model: a train step compiled once and reused every round."""

from __future__ import annotations

import numpy as np

from medfed_ray.model import FlatWeights, build_model
from medfed_ray.scenario.schema import LocalTrainingConfig, ModelConfig


def make_optimizer(config: LocalTrainingConfig):
    """Build the Keras optimizer the scenario asks for."""
    import keras

    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=config.learning_rate)
    return keras.optimizers.SGD(
        learning_rate=config.learning_rate, momentum=config.momentum
    )


class LocalTrainer:
    """A model, its optimizer and a compiled train step, built once per process.

    Several hospitals packed into one actor share a trainer: each round a
    hospital loads its starting weights, resets the optimizer, trains and
    reads its weights back, so nothing of one hospital leaks into another.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        training_config: LocalTrainingConfig,
        input_shape: tuple[int, ...],
        num_classes: int,
    ):
        import keras
        import tensorflow as tf

        self.config = training_config
        self.model = build_model(model_config, input_shape, num_classes)
        self.optimizer = make_optimizer(training_config)
        self.optimizer.build(self.model.trainable_variables)
        self.weights = FlatWeights(self.model)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        trainable = model.trainable_variables
        spec_x = tf.TensorSpec([None, *input_shape], tf.float32)
        spec_y = tf.TensorSpec([None], tf.int64)

        @tf.function(input_signature=[spec_x, spec_y])
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            gradients = tape.gradient(loss, trainable)
            optimizer.apply_gradients(zip(gradients, trainable, strict=True))
            return loss

        @tf.function(input_signature=[spec_x])
        def predict(x):
            return model(x, training=False)

        self._train_step = train_step
        self._predict = predict
        self.input_shape = tuple(input_shape)
        self._dp_sgd_steps: dict[float, tuple] = {}
        # The optimizer's variables hold its learning rate and step count as
        # well as its slots; restoring their values as built resets it fully.
        self._optimizer_variables = [
            variable.value for variable in self.optimizer.variables
        ]
        self._optimizer_initial = [
            variable.numpy() for variable in self._optimizer_variables
        ]

    def dp_sgd_step(self, l2_norm_clip: float) -> tuple:
        """The compiled DP-SGD step for ``l2_norm_clip`` and its noise length, built once.

        See :func:`medfed_ray.privacy.dp_sgd.build_dp_sgd_step`.
        """
        if l2_norm_clip not in self._dp_sgd_steps:
            from medfed_ray.privacy.dp_sgd import build_dp_sgd_step

            self._dp_sgd_steps[l2_norm_clip] = build_dp_sgd_step(
                self.model, self.optimizer, self.loss_fn, self.input_shape, l2_norm_clip
            )
        return self._dp_sgd_steps[l2_norm_clip]

    def reset_optimizer(self) -> None:
        """Restore the optimizer to its state as built: each round starts fresh."""
        for variable, initial in zip(
            self._optimizer_variables, self._optimizer_initial, strict=True
        ):
            variable.assign(initial)

    def train(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        """Run the configured epochs over ``(x, y)`` shuffled by ``rng``; return mean loss.

        Batches are cut with numpy so the order depends only on ``rng``. Images
        stored as uint8 become float32 in ``[0, 1]`` one batch at a time.
        """
        batch_size = self.config.batch_size
        losses = []
        for _ in range(self.config.epochs):
            order = rng.permutation(len(y))
            for start in range(0, len(y), batch_size):
                index = order[start : start + batch_size]
                loss = self._train_step(as_float(x[index]), y[index])
                losses.append(float(loss))
        return float(np.mean(losses)) if losses else float("nan")

    def predict(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities for ``x``, float64 of shape ``(len(x), num_classes)``.

        By default a batch holds ``PREDICT_BATCH_VALUES`` input values: a
        whole tabular test set in one call, a few thousand images at a time.
        """
        if batch_size is None:
            row_values = int(np.prod(x.shape[1:], dtype=np.int64))
            batch_size = max(1, PREDICT_BATCH_VALUES // max(1, row_values))
        pieces = [
            self._predict(as_float(x[start : start + batch_size])).numpy()
            for start in range(0, len(x), batch_size)
        ]
        return np.concatenate(pieces).astype(np.float64)


PREDICT_BATCH_VALUES = 2**22
"""Input values scored per model call (16 MiB of float32).

Local-only training scores thousands of models on one test set, so calls
per model matter: for a 16-feature MLP on 25,000 rows, batches of 4,096 rows
took 4.7 ms a model and one batch 2.6 ms. At 28x28 images this is about
5,300 images a call, which keeps a small CNN's activations near 150 MB.
"""


def as_float(x: np.ndarray) -> np.ndarray:
    """float32 model input; uint8 images are scaled to ``[0, 1]``."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32, copy=False)
