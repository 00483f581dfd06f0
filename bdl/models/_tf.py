"""The one place that imports TensorFlow, TensorFlow Probability and Keras.

Models are written in plain TensorFlow (``tf.Variable``, ``tf.function``) with
``tfp.distributions`` for the probability maths and Keras 3 (bundled with TensorFlow >= 2.16)
only for its optimisers; ``tfp.layers`` (which would need Keras 2) is not used. See the
README's design section for why.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

#: TensorFlow's C++ start-up lines that say nothing to a user: they are printed by the runtime
#: before Python logging exists (absl's "before InitializeLog" notice, oneDNN and CPU-feature
#: notes, the CUDA stub's "no driver" notes and, on a machine without a GPU, the ``cuInit``
#: error), so ``TF_CPP_MIN_LOG_LEVEL`` alone does not silence them.
_STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|^[IW]\d{4} |cuInit|CUDA error|cuda_platform\.cc|cudart_stub\.cc|cuda_(dnn|fft|blas)\.cc"
    r"|Unable to register cu|computation placer|cpu_feature_guard|^To enable the following instructions"
    r"|rebuild TensorFlow with the appropriate compiler flags"
)


@contextlib.contextmanager
def _quiet_cpp_startup(enabled: bool) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file while TensorFlow starts, then pass on every
    line that is not start-up noise (a real error still reaches the terminal, only later)."""
    if not enabled:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [ln for ln in sink.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if ln.strip() and not _STARTUP_NOISE.search(ln)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


# The user's TF_CPP_MIN_LOG_LEVEL wins, and then TensorFlow's start-up output is left as it is.
_USER_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

with _quiet_cpp_startup(not _USER_LOG_LEVEL):
    import keras  # noqa: E402
    import tensorflow as tf  # noqa: E402
    import tensorflow_probability as tfp  # noqa: E402

    # the devices are found here, inside the filter (the cuInit error of a machine without a
    # GPU is printed now, not at the first operation)
    _GPUS = tf.config.list_physical_devices("GPU")

tfd = tfp.distributions


def _device_line() -> str | None:
    """One line naming the GPU TensorFlow uses, or None on a CPU-only machine."""
    if not _GPUS:
        return None
    try:
        name = tf.config.experimental.get_device_details(_GPUS[0]).get("device_name", "")
    except Exception:  # pragma: no cover - details are optional
        name = ""
    more = f" (of {len(_GPUS)} GPUs)" if len(_GPUS) > 1 else ""
    return f"bdl: TensorFlow uses {_GPUS[0].name.replace('/physical_device:', '')}{more}" + (f", {name}" if name else "")


_LINE = _device_line()
if _LINE is not None:
    print(_LINE, file=sys.stderr)


class _DropRetracingNotes:
    """Each fitted model owns its compiled functions, so several models in one process make
    TensorFlow print "triggered tf.function retracing" notes that are not a problem here."""

    def filter(self, record: object) -> bool:
        return "triggered tf.function retracing" not in str(getattr(record, "msg", ""))


tf.get_logger().addFilter(_DropRetracingNotes())

__all__ = [
    "keras",
    "tf",
    "tfp",
    "tfd",
    "make_optimizer",
    "stacked_forward",
    "layer_specs",
    "run_passes_in_chunks",
    "chunk_rows",
]


class _NoSingleReplicaReduce:
    """Keras optimiser mixin: no all-reduce of the gradients when no distribution strategy runs.

    Keras' TensorFlow backend sums the gradients over the replicas at every step, also over the
    one replica of the default strategy, and that sum is a ``tf.custom_gradient``: each trace of a
    training step registers a new gradient function in TensorFlow's process-wide gradient
    registry, whose closure keeps the whole traced graph alive (tensorflow/tensorflow#80895).
    Every fitted network kept about 4 MB for the life of the process that way, so a long
    unattended campaign grew by gigabytes. Summing over one replica changes nothing, so it is
    skipped; under a real strategy (several GPUs) Keras' own reduction runs as before.
    """

    def _all_reduce_sum_gradients(self, grads_and_vars: Any) -> Any:
        if not tf.distribute.has_strategy():
            return list(grads_and_vars)
        return super()._all_reduce_sum_gradients(grads_and_vars)  # type: ignore[misc]


class _Adam(_NoSingleReplicaReduce, keras.optimizers.Adam):
    pass


class _SGD(_NoSingleReplicaReduce, keras.optimizers.SGD):
    pass


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9, clipnorm: float | None = None):
    """Build a Keras optimiser by name ("adam" or "sgd" with momentum).

    The optimiser's maths is Keras'; only its single-replica gradient sum is skipped (see
    :class:`_NoSingleReplicaReduce`), so training keeps no memory after a fit.
    """
    kwargs = {} if clipnorm is None else {"clipnorm": clipnorm}
    if name == "adam":
        return _Adam(learning_rate=learning_rate, **kwargs)
    if name == "sgd":
        return _SGD(learning_rate=learning_rate, momentum=momentum, **kwargs)
    from bdl.errors import InputError

    raise InputError(f"optimizer must be 'adam' or 'sgd', got {name!r}.")


# ---------------------------------------------------------------------- batched stochastic passes
def stacked_forward(x: Any, layers: list[tuple[Any, Any]]) -> Any:
    """Run T stochastic passes of a ReLU network over one chunk of inputs.

    Each layer's weight is either shared by all passes, shape (a, b), or one per pass, shape
    (T, a, b); each bias is (b,) or (T, b). Shared layers at the front run once for the whole
    chunk (for MC dropout without input dropout that is the first layer: X @ W1 is computed once,
    not T times); from the first per-pass layer on, activations have shape (T, m, width) and each
    layer is one batched matrix product over the passes (the shared left operand of the first
    per-pass layer is broadcast, not copied).

    Parameters
    ----------
    x : Tensor of shape (m, d), float32
    layers : list of (W, b)
        Per layer, as above. ReLU between layers, none after the last.

    Returns
    -------
    Tensor of shape (T, m, n_out), or (m, n_out) when every layer is shared.
    """
    h = x
    last = len(layers) - 1
    for i, (w, b) in enumerate(layers):
        if w.shape.rank == 3:
            h = tf.matmul(h[None] if h.shape.rank == 2 else h, w)
        elif h.shape.rank == 3:
            h = tf.matmul(h, w[None])
        else:
            h = tf.matmul(h, w)
        if b.shape.rank == 2:
            if h.shape.rank == 2:
                h = h[None]
            h = h + b[:, None, :]
        else:
            h = h + b
        if i < last:
            h = tf.nn.relu(h)
    return h


def layer_specs(layers: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """``tf.TensorSpec``s for :func:`stacked_forward`'s layers with the pass axis left open, so a
    compiled chunk function is traced once per model, whatever T and the chunk length."""

    def spec(t: Any, per_pass_rank: int) -> Any:
        shape = list(t.shape)
        if len(shape) == per_pass_rank:
            shape[0] = None
        return tf.TensorSpec(shape, tf.float32)

    return [(spec(w, 3), spec(b, 2)) for w, b in layers]


def run_passes_in_chunks(
    chunk_fn: Any, Xs: Any, layers: list[tuple[Any, Any]], n_passes: int, chunk: int
) -> tuple[Any, Any]:
    """Call ``chunk_fn(x, layers) -> (mu, scale)`` of shape (m, T) on row chunks of ``Xs``.

    Parameters
    ----------
    chunk_fn : compiled function
    Xs : ndarray of shape (n, d), float32
    layers : the pass weights, computed once per call (the same for every chunk, so a row's
        numbers do not depend on which chunk it falls in)
    n_passes : int
    chunk : int
        Rows per call.

    Returns
    -------
    mu, scale : ndarray of shape (n, T), float64
    """
    import numpy as np

    n = Xs.shape[0]
    mu = np.empty((n, n_passes), dtype=np.float64)
    scale = np.empty((n, n_passes), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        m, s = chunk_fn(tf.convert_to_tensor(Xs[start:stop], tf.float32), layers)
        mu[start:stop] = m.numpy()
        scale[start:stop] = s.numpy()
    return mu, scale


def chunk_rows(n_passes: int, widths: list[int], budget: int) -> int:
    """Rows per chunk so that one (T, rows, width) activation holds at most ``budget`` floats."""
    return max(8, budget // (max(1, n_passes) * max(widths)) // 8 * 8)
