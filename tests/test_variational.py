"""Mean-field variational BNN and the SVI engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bdl.models import VariationalBNN, VariationalUnderfittingWarning
from bdl.models.svi import diagnose_underfitting


def _data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    y = 2 * np.sin(X[:, 0]) + 0.5 * X[:, 1] + rng.normal(size=n) * 0.3
    return X, y


KW = dict(hidden_units=(32, 32), epochs=80, n_passes=30, random_state=0, progress=False)


def _fit_recording(**kw):
    X, y = _data(1000, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = VariationalBNN(**{**KW, **kw}).fit(X, y)
    fired = [w for w in caught if issubclass(w.category, VariationalUnderfittingWarning)]
    return model, fired


def test_underfitting_warning_fires_when_kl_is_not_scaled():
    model, fired = _fit_recording(kl_scale=1.0)
    assert fired, "unscaled KL should collapse the net to its prior and warn"
    assert "KL" in str(fired[0].message)
    assert model.underfitting_["underfitting"] and model.underfitting_["mean_spread"] < 0.3


def test_underfitting_warning_stays_quiet_when_kl_is_scaled_by_n():
    model, fired = _fit_recording()
    assert not fired
    assert model.underfitting_["mean_spread"] > 0.8  # predictions follow the data
    X, y = _data(500, 1)
    assert np.sqrt(np.mean((model.predict(X) - y) ** 2)) < 0.6


def test_diagnosis_needs_both_a_kl_driven_rise_and_a_collapse():
    import pandas as pd

    epochs = np.arange(20)
    kl_falls = pd.DataFrame({"elbo": -1 + 0.01 * epochs, "expected_loglik": np.full(20, -1.0)})
    fit_rises = pd.DataFrame({"elbo": -1 + 0.01 * epochs, "expected_loglik": -1 + 0.01 * epochs})
    assert diagnose_underfitting(kl_falls, mean_spread=0.05)["underfitting"]
    assert not diagnose_underfitting(kl_falls, mean_spread=0.9)["underfitting"]
    assert not diagnose_underfitting(fit_rises, mean_spread=0.05)["underfitting"]


def test_trace_records_both_halves_of_the_elbo_and_warmup():
    model, _ = _fit_recording(kl_warmup_epochs=10, epochs=30)
    tr = model.trace_
    for col in ["epoch", "batch_size", "kl_weight", "elbo", "expected_loglik", "kl", "grad_snr", "val_nll", "val_rmse"]:
        assert col in tr.columns
    np.testing.assert_allclose(tr["kl_weight"].iloc[:10], np.arange(1, 11) / 10)
    assert (tr["kl_weight"].iloc[10:] == 1).all()
    n_train = 900
    np.testing.assert_allclose(tr["elbo"], tr["expected_loglik"] - tr["kl"] / n_train, rtol=1e-5)
    assert tr["expected_loglik"].iloc[-1] > tr["expected_loglik"].iloc[0]
    assert np.isfinite(tr["val_nll"]).all()


def test_adaptive_batch_size_grows_when_gradient_snr_drops():
    model, _ = _fit_recording(adaptive_batch_size=True, snr_threshold=0.5, max_batch_size=512, epochs=25)
    bs = model.trace_["batch_size"].to_numpy()
    assert bs[0] == 64 and bs[-1] > 64 and bs.max() <= 512
    assert np.all(np.diff(bs) >= 0)
    # it grows only after epochs whose SNR was under the threshold
    grew = np.flatnonzero(np.diff(bs) > 0)
    assert (model.trace_["grad_snr"].to_numpy()[grew] < 0.5).all()


def test_sgd_with_momentum_trains():
    model, _ = _fit_recording(optimizer="sgd", learning_rate=0.01, epochs=40)
    assert model.trace_["expected_loglik"].iloc[-1] > model.trace_["expected_loglik"].iloc[0] + 0.3


def test_flipout_has_lower_gradient_variance_than_reparameterization():
    """Wen et al. 2018: per-example perturbations decorrelate the minibatch gradient."""
    from bdl.models._tf import tf

    X, y = _data(256, 2)
    variances = {}
    for est in ("flipout", "reparameterization"):
        m = VariationalBNN(hidden_units=(32,), estimator=est, noise="homoscedastic", posterior_init_std=0.1, epochs=1, random_state=0,
                           progress=False, validation_fraction=0).fit(X, y)
        xb = tf.constant(m._scale_X(X[:128]))
        yb = tf.constant(((y[:128] - m.y_mean_) / m.y_scale_).astype(np.float32))
        grads = []
        for s in range(40):
            with tf.GradientTape() as tape:
                ll, _ = m.elbo_terms(xb, yb, tf.constant([s, 0], tf.int64))
                loss = -ll
            g = tape.gradient(loss, m.trainable_variables)
            grads.append(np.concatenate([gi.numpy().ravel() for gi in g if gi is not None]))
        variances[est] = np.var(np.array(grads), axis=0).sum()
    assert variances["flipout"] < 0.5 * variances["reparameterization"], variances


@pytest.mark.parametrize("prior", ["normal", "scale_mixture"])
def test_kl_is_positive_and_analytic_matches_monte_carlo(prior):
    from bdl.models._tf import tf

    X, y = _data(200, 3)
    m = VariationalBNN(hidden_units=(8,), prior=prior, estimator="reparameterization", epochs=3, random_state=0,
                       progress=False, validation_fraction=0).fit(X, y)
    if prior == "normal":
        exact = float(m._kl_closed_form())
        mc = np.mean([float(m._kl_sampled(m._sample_params(tf.constant([s, 7], tf.int64)))) for s in range(400)])
        assert exact > 0
        assert mc == pytest.approx(exact, rel=0.05)
    else:
        kls = [float(m._kl_sampled(m._sample_params(tf.constant([s, 7], tf.int64)))) for s in range(200)]
        assert np.mean(kls) > 0


def test_n_samples_is_a_deprecated_alias_of_n_passes():
    """One name for the number of weight samples / passes: n_passes (as MCDropoutRegressor);
    n_samples still works and warns."""
    m = VariationalBNN(n_passes=7)
    assert m.get_params()["n_passes"] == 7 and m.get_params()["n_samples"] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m._passes == 7
    old = VariationalBNN(n_samples=30)
    with pytest.warns(FutureWarning, match="n_passes"):
        assert old._passes == 30
    with pytest.warns(FutureWarning, match="n_passes"):
        old._check_params()
