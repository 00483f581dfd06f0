"""The one place that imports TensorFlow, TensorFlow Probability and Keras.

Models are written in plain TensorFlow (``tf.Variable``, ``tf.function``) with
``tfp.distributions`` for the probability maths and Keras 3 (bundled with TensorFlow >= 2.16)
only for its optimisers; ``tfp.layers`` (which would need Keras 2) is not used. See the
README's design section for why.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions


class _DropRetracingNotes:
    """Each fitted model owns its compiled functions, so several models in one process make
    TensorFlow print "triggered tf.function retracing" notes that are not a problem here."""

    def filter(self, record: object) -> bool:
        return "triggered tf.function retracing" not in str(getattr(record, "msg", ""))


tf.get_logger().addFilter(_DropRetracingNotes())

__all__ = ["keras", "tf", "tfp", "tfd", "make_optimizer"]


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9, clipnorm: float | None = None):
    """Build a Keras optimiser by name ("adam" or "sgd" with momentum)."""
    kwargs = {} if clipnorm is None else {"clipnorm": clipnorm}
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, **kwargs)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum, **kwargs)
    from bdl.errors import InputError

    raise InputError(f"optimizer must be 'adam' or 'sgd', got {name!r}.")
