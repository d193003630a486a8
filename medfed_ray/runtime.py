"""Process-wide TensorFlow settings for an actor, applied before TensorFlow starts.

TensorFlow fixes its thread pools the first time it runs an op, so every actor
calls :func:`configure_tensorflow` first thing in its constructor.
"""

from __future__ import annotations

import logging
import math
import os

logger = logging.getLogger(__name__)

QUIET_ENV = {
    # TensorFlow's C++ start-up chatter would otherwise reach the driver's
    # terminal from every actor.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
}
"""Environment every actor gets through Ray's runtime environment."""


def configure_tensorflow(num_cpus: float, seed: int) -> None:
    """Size TensorFlow's thread pools to ``num_cpus``, enable determinism, seed Keras.

    An actor that holds a quarter of a core and ran TensorFlow's default pools
    (one thread per machine core) would fight its neighbours for every core;
    one intra-op thread per whole core granted, at least one, avoids that.
    """
    os.environ.update(QUIET_ENV)
    import keras
    import tensorflow as tf

    threads = max(1, math.floor(num_cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        # Already initialised in this process (e.g. a second hospital packed
        # into the same actor); the first call's sizing stands.
        logger.debug("TensorFlow thread pools already fixed in this process")

    tf.config.experimental.enable_op_determinism()
    for gpu in tf.config.list_physical_devices("GPU"):
        # Several hospitals may share one GPU (fractional num_gpus): grow
        # memory on demand instead of each claiming the whole device.
        tf.config.experimental.set_memory_growth(gpu, True)
    keras.utils.set_random_seed(seed % 2**32)
