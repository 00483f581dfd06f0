"""A population of Gal's one-hidden-layer MC-dropout nets trained together in one graph.

Gal & Ghahramani, "Dropout as a Bayesian approximation: representing model uncertainty in deep
learning", ICML 2016 (code: yaringal/DropoutUncertaintyExps, ``net/net.py``). Their UCI model
is a ReLU net with one hidden layer, dropout on the inputs and on the hidden units (in training
and in the T prediction passes), squared error on the standardised target plus an L2 penalty

    reg * (||W_0||^2 + ||W_1||^2),   reg = l^2 (1 - p) / (2 N tau),   l = 1e-2,

on the weights (not the biases), minibatches of 128, Adam; the predictive is the equal-weight
mixture of N(f_t(x), 1/tau) over T stochastic passes, with tau (the noise precision, in target
units) a hyper-parameter chosen with the dropout rate p by grid search.

A hyper-parameter grid for a few hundred to a few thousand rows is thousands of tiny
networks' worth of work; trained one by one with Python-level minibatch loops it costs minutes
per setting. Here P members (settings x data splits) are stacked: weights of shape (P, ...),
each member with its own training rows, dropout rate, weight decay and Adam learning rate, its
own shuffles and dropout masks, and all epochs run inside one compiled ``tf.function`` (a
``tf.range`` loop over epochs around a loop over minibatches). Members share nothing but the
graph: the summed loss has a block-diagonal gradient, so each member follows exactly the
updates it would follow alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bdl.errors import InputError
from bdl.models.base import _MAX_ACTIVATIONS_POPULATION

__all__ = [
    "PopulationWeights",
    "gal_weight_decay",
    "train_population",
    "population_passes",
    "population_scores",
]


@dataclass(frozen=True)
class PopulationWeights:
    """Trained weights of P one-hidden-layer nets (standardised inputs and target).

    Attributes
    ----------
    W0 : ndarray of shape (P, n_features, n_hidden)
    b0 : ndarray of shape (P, n_hidden)
    W1 : ndarray of shape (P, n_hidden)
    b1 : ndarray of shape (P,)
    dropout_rate : ndarray of shape (P,)
    final_loss : ndarray of shape (P,)
        Mean training objective (squared error + penalty) of each member over its last epoch.
    """

    W0: np.ndarray
    b0: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    dropout_rate: np.ndarray
    final_loss: np.ndarray

    @property
    def n_members(self) -> int:
        return int(self.W0.shape[0])


def _mix(h: Any) -> Any:
    """32-bit integer finaliser ("lowbias32", C. Wellons' hash-prospector): a bijection whose
    output bits each depend on every input bit."""
    from bdl.models._tf import tf

    u = tf.uint32
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, u)))
    h = h * tf.constant(0x7FEB352D, u)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(15, u)))
    h = h * tf.constant(0x846CA68B, u)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, u)))


def _uniform(shape: list[int], seed: Any, counter: Any) -> Any:
    """Counter-based uniform [0, 1) numbers: ``hash(hash(index) ^ hash(hash(counter) ^ seed))``.

    Used inside XLA-compiled code instead of ``tf.random.stateless_uniform``, whose Philox
    costs about 10 ns a number on CPU (20x this hash, which XLA fuses with the dropout mask
    it feeds). 24 random bits per number: dropout rates are exact to 6e-8.
    """
    from bdl.models._tf import tf

    n = 1
    for s in shape:
        n *= int(s)
    i = tf.cast(tf.reshape(tf.range(n, dtype=tf.int32), shape), tf.uint32)
    key = _mix(tf.bitwise.bitwise_xor(_mix(tf.cast(counter, tf.uint32)), tf.cast(seed, tf.uint32)))
    h = _mix(tf.bitwise.bitwise_xor(_mix(i), key))
    return tf.cast(tf.bitwise.right_shift(h, tf.constant(8, tf.uint32)), tf.float32) * (2.0**-24)


def gal_weight_decay(dropout_rate: float, tau: float, n_train: int, lengthscale: float = 1e-2) -> float:
    """Gal's L2 coefficient ``l^2 (1 - p) / (2 N tau)`` for squared error on the standardised target."""
    if not 0.0 <= dropout_rate < 1.0:
        raise InputError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}.")
    if not tau > 0 or n_train < 1:
        raise InputError(f"tau must be positive and n_train at least 1, got tau={tau!r}, n_train={n_train!r}.")
    return lengthscale**2 * (1.0 - dropout_rate) / (2.0 * n_train * tau)


def _per_member(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{name} must be a number or have one value per member (shape ({n},)), got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got {arr.tolist()}.")
    return arr


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if X.ndim != 3 or y.ndim != 2 or X.shape[:2] != y.shape:
        raise InputError(
            "X must have shape (n_members, n_rows, n_features) and y shape (n_members, n_rows), "
            f"got {X.shape} and {y.shape}; stack one standardised training set per member."
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise InputError(f"need at least one member and one row, got X of shape {X.shape}.")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise InputError("training X and y must be finite; drop or impute the missing values first.")
    return X, y


def train_population(
    X: Any,
    y: Any,
    dropout_rate: Any,
    weight_decay: Any,
    learning_rate: Any = 1e-3,
    *,
    epochs: int = 4000,
    n_hidden: int = 50,
    batch_size: int = 128,
    seed: int = 0,
    epochs_per_call: int = 500,
    jit_compile: bool = True,
) -> PopulationWeights:
    """Train P MC-dropout nets at once, each on its own standardised training set.

    Parameters
    ----------
    X : array-like of shape (P, n_rows, n_features)
        Standardised inputs of each member (members may share or not share rows).
    y : array-like of shape (P, n_rows)
        Standardised targets.
    dropout_rate, weight_decay, learning_rate : float or array-like of shape (P,)
        Per-member dropout probability (inputs and hidden units), L2 coefficient on the
        weights (see :func:`gal_weight_decay`) and Adam step size.
    epochs : int, default 4000
        Passes over each member's rows (Gal's published UCI runs: 40 x 100).
    n_hidden : int, default 50
    batch_size : int, default 128
        The last minibatch of an epoch holds the remaining rows, as in Keras.
    seed : int, default 0
        Seeds the Glorot-uniform initialisation, the shuffles and the dropout masks; the same
        seed gives the same weights.
    epochs_per_call : int, default 500
        Epochs run by one call of the compiled loop (a bound on one call's time only).
    jit_compile : bool, default True
        Compile the loop with XLA (several times faster on CPU for these small nets).

    Returns
    -------
    PopulationWeights
    """
    from bdl.models._tf import tf

    X, y = _check_xy(X, y)
    P, N, d = X.shape
    p = _per_member("dropout_rate", dropout_rate, P)
    if np.any((p < 0) | (p >= 1)):
        raise InputError(f"dropout_rate must be in [0, 1) for every member, got {p.tolist()}.")
    wd = _per_member("weight_decay", weight_decay, P)
    lr = _per_member("learning_rate", learning_rate, P)
    if np.any(wd < 0) or np.any(lr <= 0):
        raise InputError("weight_decay must be >= 0 and learning_rate > 0 for every member.")
    ints = {"epochs": epochs, "n_hidden": n_hidden, "batch_size": batch_size, "epochs_per_call": epochs_per_call}
    for name, v in ints.items():
        if int(v) != v or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}.")
    H, B = int(n_hidden), int(min(batch_size, N))
    n_batches = -(-N // B)

    rng = np.random.default_rng(seed)
    lim0, lim1 = math.sqrt(6.0 / (d + H)), math.sqrt(6.0 / (H + 1))
    W0 = tf.Variable(rng.uniform(-lim0, lim0, (P, d, H)).astype(np.float32))
    b0 = tf.Variable(np.zeros((P, 1, H), np.float32))
    W1 = tf.Variable(rng.uniform(-lim1, lim1, (P, H, 1)).astype(np.float32))
    b1 = tf.Variable(np.zeros((P, 1, 1), np.float32))
    params = [W0, b0, W1, b1]
    m_state = [tf.Variable(tf.zeros_like(v)) for v in params]
    v_state = [tf.Variable(tf.zeros_like(v)) for v in params]
    step = tf.Variable(0, dtype=tf.int64)
    last_loss = tf.Variable(tf.zeros([P], tf.float32))
    seed_hi = tf.constant(int(rng.integers(2**31)), tf.int64)  # stored as int64, hashed as uint32

    Xt, yt = tf.constant(X), tf.constant(y)
    p_t = tf.constant(p.astype(np.float32))[:, None, None]
    keep_scale = 1.0 / (1.0 - p_t)
    wd_t = tf.constant(wd.astype(np.float32))
    lr_t = tf.constant(lr.astype(np.float32))[:, None, None]
    beta1, beta2, eps = 0.9, 0.999, 1e-7  # Keras' Adam
    pad = n_batches * B - N
    row_ok = tf.constant((np.arange(n_batches * B) < N).reshape(n_batches, B), tf.float32)

    def one_step(idx: Any, ok: Any) -> Any:
        t = step + 1
        xb = tf.gather(Xt, idx, batch_dims=1)  # (P, B, d)
        yb = tf.gather(yt, idx, batch_dims=1)  # (P, B)
        keep_in = _uniform([P, B, d], seed_hi, 3 * t) >= p_t
        xb = tf.where(keep_in, xb * keep_scale, 0.0)
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(xb, W0) + b0)
            keep_h = _uniform([P, B, H], seed_hi, 3 * t + 1) >= p_t
            h = tf.where(keep_h, h * keep_scale, 0.0)
            out = (tf.matmul(h, W1) + b1)[..., 0]
            sq = tf.reduce_sum(tf.square(out - yb) * ok, axis=1) / tf.reduce_sum(ok)
            pen = wd_t * (tf.reduce_sum(tf.square(W0), axis=[1, 2]) + tf.reduce_sum(tf.square(W1), axis=[1, 2]))
            per_member = sq + pen
            total = tf.reduce_sum(per_member)
        grads = tape.gradient(total, params)
        tf_ = tf.cast(t, tf.float32)
        alpha = lr_t * tf.sqrt(1.0 - tf.pow(beta2, tf_)) / (1.0 - tf.pow(beta1, tf_))
        for var, g, m, v in zip(params, grads, m_state, v_state):
            m.assign(beta1 * m + (1.0 - beta1) * g)
            v.assign(beta2 * v + (1.0 - beta2) * tf.square(g))
            var.assign_sub(alpha * m / (tf.sqrt(v) + eps))
        step.assign(t)
        return per_member

    def run(n_epochs: Any) -> Any:
        for _ in tf.range(n_epochs):
            perm = tf.argsort(_uniform([P, N], seed_hi, 3 * step + 2), axis=1)
            perm = tf.reshape(tf.pad(perm, [[0, 0], [0, pad]]), [P, n_batches, B])
            acc = tf.zeros([P], tf.float32)
            for i in tf.range(n_batches):
                idx = tf.gather(perm, i, axis=1)  # (P, B): static shape, as XLA needs
                ok = tf.gather(row_ok, i)[None, :]
                acc += one_step(idx, ok) * tf.reduce_sum(ok)
            last_loss.assign(acc / N)
        return last_loss

    fn = tf.function(run, jit_compile=jit_compile, reduce_retracing=True)
    done = 0
    while done < epochs:
        k = min(int(epochs_per_call), int(epochs) - done)
        fn(tf.constant(k, tf.int32))
        done += k
    return PopulationWeights(
        W0=W0.numpy(),
        b0=b0.numpy()[:, 0, :],
        W1=W1.numpy()[:, :, 0],
        b1=b1.numpy()[:, 0, 0],
        dropout_rate=p.copy(),
        final_loss=last_loss.numpy().astype(np.float64),
    )


def population_passes(weights: PopulationWeights, X: Any, n_passes: int, seed: int = 0, chunk: int | None = None):
    """Stochastic forward passes of every member, in standardised target units.

    Parameters
    ----------
    weights : PopulationWeights
    X : array-like of shape (P, m, n_features)
        Standardised inputs, one set per member (standardised with that member's statistics).
    n_passes : int
        Number of passes T (fresh dropout masks per member, pass, point and unit, as Keras'
        ``Dropout(training=True)`` in ``model.predict``).
    seed : int, default 0
    chunk : int, optional
        Passes per compiled call (default: as many as fit in about 128 MB of activations).

    Yields
    ------
    ndarray of shape (P, t, m)
        Successive blocks of passes, t <= chunk, n_passes in all.
    """
    from bdl.models._tf import tf

    X = np.asarray(X, dtype=np.float32)
    P = weights.n_members
    if X.ndim != 3 or X.shape[0] != P or X.shape[2] != weights.W0.shape[1]:
        raise InputError(
            f"X must have shape ({P}, n_points, {weights.W0.shape[1]}) (one standardised set per member), "
            f"got {X.shape}."
        )
    if int(n_passes) != n_passes or n_passes < 1:
        raise InputError(f"n_passes must be a positive integer, got {n_passes!r}.")
    m, d = X.shape[1], X.shape[2]
    H = weights.W0.shape[2]
    if chunk is None:
        chunk = max(1, _MAX_ACTIVATIONS_POPULATION // max(1, P * m * max(d, H)))
    W0, b0 = tf.constant(weights.W0), tf.constant(weights.b0[:, None, None, :])
    W1, b1 = tf.constant(weights.W1[:, :, None]), tf.constant(weights.b1[:, None, None])
    p_t = tf.constant(weights.dropout_rate.astype(np.float32))[:, None, None, None]
    Xt = tf.constant(X)

    seed_t = tf.constant(int(np.random.default_rng(seed).integers(2**31)), tf.int64)
    fns: dict[int, Any] = {}

    def make(t: int) -> Any:
        @tf.function(jit_compile=True, autograph=False)  # straight-line code; no conversion needed
        def passes(call: Any) -> Any:
            x = tf.tile(Xt[:, None], [1, t, 1, 1])  # (P, t, m, d)
            x = tf.where(_uniform([P, t, m, d], seed_t, 2 * call) >= p_t, x / (1.0 - p_t), 0.0)
            h = tf.nn.relu(tf.einsum("ptmd,pdh->ptmh", x, W0) + b0)
            h = tf.where(_uniform([P, t, m, H], seed_t, 2 * call + 1) >= p_t, h / (1.0 - p_t), 0.0)
            return tf.einsum("ptmh,pho->ptm", h, W1) + b1

        return passes

    done, call = 0, 0
    while done < n_passes:
        t = min(int(chunk), int(n_passes) - done)
        if t not in fns:
            fns[t] = make(t)
        yield fns[t](tf.constant(call, tf.int64)).numpy().astype(np.float64)
        done += t
        call += 1


def population_scores(
    weights: PopulationWeights,
    X: Any,
    y: Any,
    tau: Any,
    y_mean: Any,
    y_std: Any,
    n_passes: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """RMSE of the MC mean and mean log predictive density of every member, in target units.

    The log-likelihood is Gal's: per point, ``logsumexp_t(-tau/2 (y - f_t)^2) - log T
    - log(2 pi)/2 + log(tau)/2`` with f_t the T passes in target units, averaged over points;
    it is accumulated over blocks of passes, so T = 10000 needs no (T, m) array per member.

    Parameters
    ----------
    weights : PopulationWeights
    X : array-like of shape (P, m, n_features)
        Standardised inputs.
    y : array-like of shape (P, m)
        Targets in their own units.
    tau : float or array-like of shape (P,) or (P, K)
        Noise precision(s) of each member, target units; K values per member score K
        predictives from the same passes.
    y_mean, y_std : float or array-like of shape (P,)
        The statistics each member's target was standardised with.
    n_passes : int
    seed : int, default 0

    Returns
    -------
    rmse : ndarray of shape (P,)
    ll : ndarray of shape (P,) or (P, K), as ``tau``
    """
    from scipy.special import logsumexp

    P = weights.n_members
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != P or y.shape[1] != np.shape(X)[1]:
        raise InputError(f"y must have shape ({P}, {np.shape(X)[1]}) (one target vector per member), got {y.shape}.")
    tau_in = np.asarray(tau, dtype=np.float64)
    tau2 = tau_in.reshape(P, -1) if tau_in.ndim == 2 else _per_member("tau", tau_in, P)[:, None]
    if tau2.shape[0] != P or not np.all(np.isfinite(tau2)) or np.any(tau2 <= 0):
        raise InputError(f"tau must be positive, one value or one row per member ({P}), got {tau_in.tolist()}.")
    tk = tau2[:, :, None, None]  # (P, K, 1, 1)
    mu_y = _per_member("y_mean", y_mean, P)[:, None, None]
    sd_y = _per_member("y_std", y_std, P)[:, None, None]
    total = np.zeros(y.shape)
    lse = np.full((P, tau2.shape[1], y.shape[1]), -np.inf)
    for block in population_passes(weights, X, n_passes, seed):
        f = block * sd_y + mu_y  # (P, t, m)
        total += f.sum(axis=1)
        sq = (y[:, None, :] - f)[:, None] ** 2  # (P, 1, t, m)
        lse = np.logaddexp(lse, logsumexp(-0.5 * tk * sq, axis=2))
    mean = total / n_passes
    rmse = np.sqrt(np.mean((mean - y) ** 2, axis=1))
    ll_point = lse - math.log(n_passes) - 0.5 * math.log(2 * math.pi) + 0.5 * np.log(tau2)[:, :, None]
    ll = ll_point.mean(axis=2)
    return rmse, (ll if tau_in.ndim == 2 else ll[:, 0])
