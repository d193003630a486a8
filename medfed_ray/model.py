"""The Keras models hospitals train, and their weights as one flat float32 vector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medfed_ray.scenario.schema import ModelConfig


@dataclass(frozen=True)
class WeightLayout:
    """Names and shapes of every model variable, trainable or not, in one fixed order.

    Every participant flattens its variables in this order, so a flat float32
    vector means the same thing everywhere.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of scalars in each variable."""
        return tuple(int(np.prod(shape, dtype=np.int64)) for shape in self.shapes)

    @property
    def size(self) -> int:
        """Length of the flat vector."""
        return sum(self.sizes)

    def to_dict(self) -> dict[str, list]:
        """Plain data for JSON files."""
        return {
            "names": list(self.names),
            "shapes": [list(shape) for shape in self.shapes],
        }


def build_model(config: ModelConfig, input_shape: tuple[int, ...], num_classes: int):
    """Build the scenario's Keras model; the output is a softmax over ``num_classes``.

    ``cnn`` needs images ``(height, width, channels)``; it raises ``ValueError``
    for other input (:func:`check_model_input` says so before any actor starts).
    """
    import keras

    check_model_input(config, input_shape)
    inputs = keras.Input(shape=input_shape, name="features")
    hidden = inputs
    if config.name == "cnn":
        hidden = convolution_blocks(hidden, config)
    if len(hidden.shape) > 2:
        hidden = keras.layers.Flatten()(hidden)
    for index, units in enumerate(config.hidden_units):
        hidden = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(
            hidden
        )
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(
        hidden
    )
    return keras.Model(inputs, outputs, name=config.name)


def convolution_blocks(hidden, config: ModelConfig):
    """A small LeNet-style stack: per entry of ``conv_filters``, a same-padded
    convolution with ReLU, then 2x2 max pooling while the image is at least 2
    pixels wide (LeCun et al., Proc. IEEE 86(11), 1998)."""
    import keras

    for index, filters in enumerate(config.conv_filters):
        hidden = keras.layers.Conv2D(
            filters,
            config.kernel_size,
            padding="same",
            activation="relu",
            name=f"conv_{index}",
        )(hidden)
        if min(hidden.shape[1], hidden.shape[2]) >= 2:
            hidden = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(hidden)
    return hidden


def check_model_input(config: ModelConfig, input_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` when the model cannot take examples of ``input_shape``."""
    if config.name == "cnn" and len(input_shape) != 3:
        raise ValueError(
            f"model.name = 'cnn' needs image examples of shape (height, width, "
            f"channels); this dataset's examples have shape {tuple(input_shape)}. "
            "Use model.name = 'mlp' or an image dataset"
        )


def layout_of(model) -> WeightLayout:
    """The :class:`WeightLayout` of a built Keras model."""
    return WeightLayout(
        names=tuple(variable.path for variable in model.variables),
        shapes=tuple(
            tuple(int(dim) for dim in variable.shape) for variable in model.variables
        ),
    )


class FlatWeights:
    """Moves a flat float32 vector into and out of a model's variables directly.

    Going through the variables in one compiled function avoids Keras's
    ``get_weights``/``set_weights`` lists, which cost more than a local epoch
    on small shards.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.variables = [variable.value for variable in model.variables]
        self.layout = layout_of(model)
        sizes = list(self.layout.sizes)
        shapes = list(self.layout.shapes)

        @tf.function(input_signature=[tf.TensorSpec([self.layout.size], tf.float32)])
        def assign(flat):
            for variable, piece, shape in zip(
                self.variables, tf.split(flat, sizes), shapes, strict=True
            ):
                variable.assign(tf.reshape(piece, shape))
            return tf.constant(0)

        @tf.function(input_signature=[])
        def read():
            return tf.concat(
                [tf.reshape(variable, [-1]) for variable in self.variables], 0
            )

        self._assign = assign
        self._read = read

    def set(self, flat: np.ndarray) -> None:
        """Copy ``flat`` into the model's variables (``flat`` is only read)."""
        self._assign(flat)

    def get(self) -> np.ndarray:
        """Return a new float32 vector holding the model's variables."""
        return self._read().numpy()
