"""The stochastic variational inference engine.

:func:`fit_svi` maximises the evidence lower bound on minibatches,

    ELBO / N = (1/B) sum_{i in batch} E_q[log p(y_i | x_i, w)]  -  KL(q || p) / N,

i.e. the expected log-likelihood per point minus the KL divided by the number of training
points N (Blundell et al., "Weight uncertainty in neural networks", ICML 2015; Graves 2011).
Dividing the full KL by N (not by the batch size, and not leaving it whole against a
minibatch likelihood) is what keeps the net from collapsing to its prior.

Features: Adam or SGD with momentum; optional KL warm-up; optional adaptive batch size that
doubles when the gradient's signal-to-noise ratio drops below a threshold (Balles, Romero &
Hennig, "Coupling adaptive batch sizes with learning rates", UAI 2017; Smith et al., "Don't
decay the learning rate, increase the batch size", ICLR 2018); a per-epoch trace (ELBO,
expected log-likelihood, KL, gradient SNR, validation NLL and RMSE); early stopping on
validation NLL; a progress bar; and the :class:`VariationalUnderfittingWarning` detector.

The engine works on any model object that provides:

``trainable_variables``  list of ``tf.Variable``
``elbo_terms(x, y, seed, training_kl_only=False)``  -> (mean log-likelihood of the batch, KL)
``mc_predict(x, n_samples, seed)``  -> (mu, scale) arrays of shape (n, S), standardised units
    (or ``validation_scores(x, y, seed)`` -> (NLL, RMSE) when the model scores exactly)
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bdl.errors import InputError

__all__ = [
    "SVIConfig",
    "VariationalUnderfittingWarning",
    "diagnose_underfitting",
    "fit_svi",
    "mixture_nll",
]


class VariationalUnderfittingWarning(UserWarning):
    """The ELBO rose mainly because the KL fell while the fit to the data stalled, and the
    predictions collapsed toward the prior predictive (a constant mean with a wide spread).

    Usual causes: the KL is not divided by the number of training points, the prior is far too
    narrow, or a KL weight / warm-up that never lets the likelihood win.
    """


class SVIModel(Protocol):  # pragma: no cover - typing only
    trainable_variables: list[Any]

    def elbo_terms(self, x: Any, y: Any, seed: Any) -> tuple[Any, Any]: ...

    def mc_predict(self, x: np.ndarray, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class SVIConfig:
    """Settings of :func:`fit_svi` (see the module docstring)."""

    epochs: int = 300
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    clipnorm: float | None = None
    kl_scale: float | None = None
    kl_warmup_epochs: int = 0
    adaptive_batch_size: bool = False
    snr_threshold: float = 0.05
    max_batch_size: int = 1024
    patience: int = 30
    val_samples: int = 20
    progress: bool | None = None

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch_size must be positive integers.")
        if self.optimizer not in ("adam", "sgd"):
            raise InputError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}.")
        if self.learning_rate <= 0:
            raise InputError(f"learning_rate must be positive, got {self.learning_rate!r}.")
        if self.kl_scale is not None and self.kl_scale < 0:
            raise InputError(f"kl_scale must be None (1/N, correct) or a non-negative number, got {self.kl_scale!r}.")
        if self.kl_warmup_epochs < 0:
            raise InputError("kl_warmup_epochs must be >= 0.")
        if self.adaptive_batch_size and self.max_batch_size < self.batch_size:
            raise InputError("max_batch_size must be at least batch_size when adaptive_batch_size is on.")


def mixture_nll(y: np.ndarray, mu: np.ndarray, scale: np.ndarray) -> float:
    """Mean NLL of y (n,) under equal-weight Gaussian mixtures with components (n, S)."""
    from scipy.special import logsumexp

    z = (y[:, None] - mu) / scale
    logp = -0.5 * z**2 - np.log(scale) - 0.5 * math.log(2 * math.pi)
    return float(-np.mean(logsumexp(logp, axis=1) - math.log(mu.shape[1])))


def validation_scores(model: Any, x: np.ndarray, y: np.ndarray, n_samples: int, seed: int) -> tuple[float, float]:
    """NLL and RMSE on standardised validation data: the model's own ``validation_scores`` if
    it has one (e.g. an exact mixture), else from ``n_samples`` stochastic passes."""
    if hasattr(model, "validation_scores"):
        return model.validation_scores(x, y, seed)
    mu, sc = model.mc_predict(x, n_samples, seed=seed)
    return mixture_nll(y, mu, sc), float(np.sqrt(np.mean((mu.mean(axis=1) - y) ** 2)))


def fit_svi(
    model: SVIModel,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    config: SVIConfig,
    rng: np.random.Generator,
    y_scale: float = 1.0,
    name: str = "SVI",
    strategy: Any = None,
) -> tuple[pd.DataFrame, int]:
    """Train ``model`` by stochastic variational inference on standardised data.

    Parameters
    ----------
    model : object with ``trainable_variables``, ``elbo_terms`` and ``mc_predict``
    X, y : ndarray of shape (n, d) and (n,), float32, standardised
    X_val, y_val : validation data (standardised) or None (no early stopping)
    config : SVIConfig
    rng : numpy Generator (shuffling and seeds)
    y_scale : float
        Target std, to report validation NLL and RMSE in target units.
    name : str
        Shown in the progress bar and in error messages.
    strategy : tf.distribute.Strategy or None
        Train data-parallel: the optimiser and its state are created in ``strategy.scope()``
        (the model's variables must have been created there too, as
        :meth:`bdl.models.base.BayesianRegressor._fit_engine` does), each batch is split across
        the replicas and the gradients are summed across them. None: the default device
        placement (a GPU when TensorFlow sees one).

    Returns
    -------
    trace : DataFrame
        One row per epoch: ``epoch, batch_size, kl_weight, elbo, expected_loglik, kl,
        grad_snr, val_nll, val_rmse`` (ELBO and expected log-likelihood per training point,
        standardised units; KL in nats for the whole net).
    best_epoch : int
        Epoch whose weights the model keeps (best validation NLL, or the last epoch).
    """
    from bdl._progress import progress_bar
    from bdl.models._tf import make_optimizer, tf

    config.check()
    n = X.shape[0]
    variables = model.trainable_variables
    replicas = 1 if strategy is None else int(strategy.num_replicas_in_sync)
    if replicas > 1 and config.batch_size < replicas:
        raise InputError(
            f"batch_size {config.batch_size} is smaller than the strategy's {replicas} replicas; "
            "use a batch_size of at least the number of replicas (each replica takes a share of every batch)."
        )
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        opt = make_optimizer(config.optimizer, config.learning_rate, config.momentum, config.clipnorm)
        opt.build(variables)
        # summed gradients of the epoch (for the gradient SNR); under a strategy every replica
        # holds the same all-reduced values, so the first replica's update is the right one
        agg = tf.VariableAggregation.ONLY_FIRST_REPLICA
        grad_sum = [tf.Variable(tf.zeros_like(v), trainable=False, aggregation=agg) for v in variables]
        grad_sq = [tf.Variable(tf.zeros_like(v), trainable=False, aggregation=agg) for v in variables]
    X_t, y_t = tf.constant(X, tf.float32), tf.constant(y, tf.float32)
    kl_factor = (1.0 / n) if config.kl_scale is None else float(config.kl_scale)

    def batch_step(xb: Any, yb: Any, seed: Any, kl_w: Any) -> tuple[Any, Any]:
        """One optimiser step; under a strategy, one replica's share of the batch.

        Replica r of R takes rows r, r + R, ... of the batch, weights its mean log-likelihood by
        its share of the rows and the KL by 1/R, so the replicas' gradients, which the optimiser
        sums across replicas, are exactly the gradient of the whole batch's loss. One replica
        (R = 1) gives the same numbers as no strategy.
        """
        share, kl_part = tf.constant(1.0), tf.constant(1.0)
        ctx = None
        if strategy is not None:
            ctx = tf.distribute.get_replica_context()
            r = ctx.replica_id_in_sync_group
            r = tf.cast(r, tf.int32) if isinstance(r, tf.Tensor) else tf.constant(r, tf.int32)
            full = tf.cast(tf.shape(xb)[0], tf.float32)
            xb, yb = xb[r::replicas], yb[r::replicas]
            share = tf.cast(tf.shape(xb)[0], tf.float32) / full
            kl_part = tf.constant(1.0 / replicas)
            seed = tf.stack([seed[0], seed[1] + tf.cast(r, tf.int64)])
        with tf.GradientTape() as tape:
            ll, kl = model.elbo_terms(xb, yb, seed)
            loss = -ll * share + kl_w * kl_factor * kl * kl_part
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        opt.apply_gradients(zip(grads, variables))
        if ctx is not None:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        for acc_s, acc_q, g in zip(grad_sum, grad_sq, grads):
            acc_s.assign_add(g)
            acc_q.assign_add(tf.square(g))
        return ll * share, kl * kl_part

    @tf.function(reduce_retracing=True)
    def train_epoch(perm: Any, seed: Any, bs: Any, kl_w: Any) -> tuple[Any, Any, Any]:
        for acc in grad_sum + grad_sq:
            acc.assign(tf.zeros_like(acc))
        n_batches = (tf.shape(perm)[0] + bs - 1) // bs
        ll_total = tf.constant(0.0)
        kl_last = tf.constant(0.0)
        for i in tf.range(n_batches):
            idx = perm[i * bs : (i + 1) * bs]
            xb, yb = tf.gather(X_t, idx), tf.gather(y_t, idx)
            batch_seed = tf.stack([seed, tf.cast(i, tf.int64) * 64])
            if strategy is None:
                ll, kl = batch_step(xb, yb, batch_seed, kl_w)
            else:
                ll, kl = strategy.run(batch_step, args=(xb, yb, batch_seed, kl_w))
                ll = strategy.reduce(tf.distribute.ReduceOp.SUM, ll, axis=None)
                kl = strategy.reduce(tf.distribute.ReduceOp.SUM, kl, axis=None)
            ll_total += ll * tf.cast(tf.shape(idx)[0], tf.float32)
            kl_last = kl
        return ll_total / tf.cast(tf.shape(perm)[0], tf.float32), kl_last, tf.cast(n_batches, tf.float32)

    def grad_snr(n_batches: float) -> float:
        """||mean g||^2 / sum_j Var(g_j) over the epoch's minibatch gradients."""
        if n_batches < 2:
            return float("nan")
        mean_sq = sum(float(tf.reduce_sum(tf.square(s / n_batches))) for s in grad_sum)
        var = sum(
            float(tf.reduce_sum(q / n_batches - tf.square(s / n_batches))) for s, q in zip(grad_sum, grad_sq)
        ) * n_batches / (n_batches - 1)
        return mean_sq / max(var, 1e-30)

    bs = int(min(config.batch_size, n))
    base_seed = int(rng.integers(2**31))
    has_val = X_val is not None and y_val is not None and len(X_val) > 0
    best = (np.inf, -1, None)
    rows = []
    bar = progress_bar(range(int(config.epochs)), desc=f"{name} fit", unit="epoch", enable=config.progress)
    for epoch in bar:
        kl_w = min(1.0, (epoch + 1) / config.kl_warmup_epochs) if config.kl_warmup_epochs > 0 else 1.0
        order = rng.permutation(n).astype(np.int32)
        if 0 < n % bs < replicas:
            # a last batch with fewer rows than replicas would leave a replica empty: those few
            # (random) rows sit this epoch out
            order = order[: n - n % bs]
        perm = tf.constant(order)
        ll, kl, nb = train_epoch(perm, tf.constant(base_seed + epoch, tf.int64), tf.constant(bs), tf.constant(kl_w))
        ll, kl = float(ll), float(kl)
        snr = grad_snr(float(nb))
        row = {
            "epoch": epoch,
            "batch_size": bs,
            "kl_weight": kl_w,
            "elbo": ll - kl / n,
            "expected_loglik": ll,
            "kl": kl,
            "grad_snr": snr,
            "val_nll": float("nan"),
            "val_rmse": float("nan"),
        }
        if not (np.isfinite(ll) and np.isfinite(kl)):
            raise InputError(
                f"{name}: training diverged at epoch {epoch} (non-finite ELBO); lower learning_rate, "
                "set clipnorm, or check the targets for extreme values."
            )
        if has_val:
            v_nll, v_rmse = validation_scores(model, X_val, y_val.astype(np.float64), config.val_samples, base_seed - 1 - epoch)
            row["val_nll"] = v_nll + math.log(y_scale)
            row["val_rmse"] = v_rmse * y_scale
            # compare only once the KL weight is complete, so warm-up epochs cannot win
            if kl_w >= 1.0 and row["val_nll"] < best[0]:
                best = (row["val_nll"], epoch, [v.numpy() for v in variables])
        rows.append(row)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(elbo=f"{row['elbo']:.3f}", val_nll=f"{row['val_nll']:.3f}", bs=bs)
        if config.adaptive_batch_size and np.isfinite(snr) and snr < config.snr_threshold:
            bs = int(min(2 * bs, config.max_batch_size, n))
        if has_val and best[1] >= 0 and epoch - best[1] >= config.patience:
            break
    if hasattr(bar, "close"):
        bar.close()
    if has_val and best[2] is not None:
        for v, a in zip(variables, best[2]):
            v.assign(a)
        best_epoch = best[1]
    else:
        best_epoch = len(rows) - 1
    return pd.DataFrame(rows), int(best_epoch)


def diagnose_underfitting(
    trace: pd.DataFrame,
    mean_spread: float,
    window: float = 0.3,
    kl_share: float = 0.5,
    collapse_ratio: float = 0.3,
) -> dict[str, Any]:
    """Decide whether a variational fit shows variational underfitting.

    Over the last ``window`` share of the epochs: the ELBO rose, at least ``kl_share`` of the
    rise came from the falling KL term (KL/N), and the expected log-likelihood stalled (rose by
    less than the KL term's contribution); and the predictions collapsed toward the prior
    predictive: the spread of the predictive means over the training inputs is below
    ``collapse_ratio`` times the target's spread (``mean_spread`` is that ratio; 1 means the
    means vary as much as the targets, 0 means one constant prediction).

    Returns
    -------
    dict
        ``underfitting`` (bool), the numbers behind it and a sentence ``reason``.
    """
    t = trace.dropna(subset=["elbo"])
    k = max(2, int(round(window * len(t))))
    if len(t) < 4:
        return {"underfitting": False, "reason": "too few epochs to judge", "mean_spread": mean_spread}
    last = t.iloc[-k:]
    d_elbo = float(last["elbo"].iloc[-1] - last["elbo"].iloc[0])
    d_ll = float(last["expected_loglik"].iloc[-1] - last["expected_loglik"].iloc[0])
    d_kl_term = d_elbo - d_ll  # the rise contributed by the falling KL/N term
    kl_driven = d_elbo > 0 and d_kl_term >= kl_share * d_elbo and d_ll <= d_kl_term
    collapsed = mean_spread < collapse_ratio
    under = bool(kl_driven and collapsed)
    reason = (
        f"over the last {k} epochs the ELBO changed by {d_elbo:+.4f} per point, of which {d_kl_term:+.4f} came from "
        f"the KL term and {d_ll:+.4f} from the data fit; the predictive means vary {mean_spread:.2f} times as much as "
        "the targets"
    )
    return {
        "underfitting": under,
        "kl_driven": bool(kl_driven),
        "collapsed": bool(collapsed),
        "elbo_change": d_elbo,
        "loglik_change": d_ll,
        "kl_term_change": d_kl_term,
        "mean_spread": float(mean_spread),
        "reason": reason,
    }


def warn_if_underfitting(diag: dict[str, Any], name: str) -> None:
    """Emit :class:`VariationalUnderfittingWarning` when ``diag['underfitting']``."""
    if diag.get("underfitting"):
        warnings.warn(
            f"{name}: variational underfitting: {diag['reason']}. The net is collapsing toward its prior "
            "predictive. Check that the KL is divided by the number of training points (kl_scale=None), "
            "widen the prior, or train longer with KL warm-up.",
            VariationalUnderfittingWarning,
            stacklevel=3,
        )
