"""The fast predictive passes: equal to a slow per-pass reference of the same masks / weight
samples, traced once, independent of chunking, device-agnostic; training under a strategy."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bdl.models import MCDropoutRegressor, VariationalBNN
from bdl.models import mc_dropout as mc_module
from bdl.models import variational as vi_module


def _data(n, seed, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X[:, 0] + np.sin(X[:, 1]) + 0.1 * rng.normal(size=n)


def _relu(a):
    return np.maximum(a, 0.0)


def _softplus(a):
    return np.logaddexp(0.0, a)


@pytest.fixture(scope="module")
def mc_models():
    X, y = _data(300, 0)
    kw = dict(hidden_units=(24, 16, 8), dropout_rate=0.3, epochs=2, n_passes=12, random_state=0, progress=False)
    return MCDropoutRegressor(**kw).fit(X, y), MCDropoutRegressor(input_dropout=True, **kw).fit(X, y)


@pytest.fixture(scope="module")
def vi_model():
    X, y = _data(300, 0)
    return VariationalBNN(hidden_units=(16, 8), epochs=2, n_passes=9, posterior_init_std=0.1, random_state=0,
                          progress=False).fit(X, y)


def _mc_reference(model, X, T, seed):
    """T passes one at a time in numpy; pass t's masks drawn exactly as documented: one
    Bernoulli(1 - p) keep-mask per pass and layer input, shared by all rows."""
    from bdl.models._tf import tf

    p = model.dropout_rate
    ws = [v.numpy().astype(np.float64) for v in model._vars]
    n_layers = len(ws) // 2
    masks = {}
    for layer in range(n_layers):
        if layer > 0 or model.input_dropout:
            u = tf.random.stateless_uniform([T, ws[2 * layer].shape[0]], seed=tf.constant([seed, 0], tf.int64) + [0, 1 + layer])
            masks[layer] = (u.numpy() >= p) / (1 - p)
    Xs = model._scale_X(X).astype(np.float64)
    mus, scales = [], []
    for t in range(T):
        h = Xs
        for layer in range(n_layers):
            if layer in masks:
                h = h * masks[layer][t]
            h = h @ ws[2 * layer] + ws[2 * layer + 1]
            if layer < n_layers - 1:
                h = _relu(h)
        mus.append(h[:, 0])
        scales.append(_softplus(h[:, 1]) + model.min_scale)
    mu, sc = np.array(mus).T, np.array(scales).T
    return mu * model.y_scale_ + model.y_mean_, sc * model.y_scale_


@pytest.mark.parametrize("which", [0, 1], ids=["first_layer_shared", "input_dropout"])
def test_mc_dropout_fast_passes_equal_the_slow_per_pass_loop(mc_models, which):
    model = mc_models[which]
    X, _ = _data(57, 1)
    pred = model.predict_dist(X, n_passes=12, seed=11)
    mu, sc = _mc_reference(model, X, 12, 11)
    np.testing.assert_allclose(pred.locs, mu, rtol=1e-4, atol=1e-4 * model.y_scale_)
    np.testing.assert_allclose(pred.scales, sc, rtol=1e-4, atol=1e-5)


def test_variational_fast_passes_equal_the_slow_per_sample_loop(vi_model):
    from bdl.models._tf import tf

    model = vi_model
    X, _ = _data(41, 2)
    S, seed = 9, 5
    pred = model.predict_dist(X, n_passes=S, seed=seed)
    post = model.posterior()
    Xs = model._scale_X(X).astype(np.float64)
    layers = []
    for layer in range(model._n_layers):
        pair = []
        for j, part in enumerate(("w", "b")):
            loc, std = post[f"l{layer}_{part}"]
            eps = tf.random.stateless_normal([S, *loc.shape], seed=tf.constant([seed, 0], tf.int64) + [0, 2 * layer + 1 + j])
            pair.append(loc[None] + std[None] * eps.numpy())
        layers.append(pair)
    mus, scales = [], []
    for s in range(S):
        h = Xs
        for layer, (w, b) in enumerate(layers):
            h = h @ w[s] + b[s]
            if layer < len(layers) - 1:
                h = _relu(h)
        mus.append(h[:, 0])
        scales.append(_softplus(h[:, 1]) + model.min_scale)
    np.testing.assert_allclose(pred.locs, np.array(mus).T * model.y_scale_ + model.y_mean_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pred.scales, np.array(scales).T * model.y_scale_, rtol=1e-4, atol=1e-5)


def test_a_pass_is_one_network_shared_by_every_candidate(mc_models):
    """Identical candidates get identical numbers in each pass (joint function samples), while
    the passes differ from each other."""
    model = mc_models[0]
    X, _ = _data(1, 3)
    pred = model.predict_dist(np.repeat(X, 5, axis=0), n_passes=30)
    # equal up to float32 rounding (on some CPUs the matrix kernels treat the last row of a batch
    # differently, 3e-7 apart), while the passes differ by far more than that
    np.testing.assert_allclose(pred.locs, np.repeat(pred.locs[:1], 5, axis=0), rtol=1e-6, atol=1e-6)
    assert np.ptp(pred.locs[0]) > 1e-2


@pytest.mark.parametrize("module_name", ["mc", "vi"])
def test_rows_do_not_depend_on_the_chunking(mc_models, vi_model, monkeypatch, module_name):
    model, module = (mc_models[0], mc_module) if module_name == "mc" else (vi_model, vi_module)
    X, _ = _data(300, 4)
    whole = model.predict_dist(X)
    budget = "_MAX_ACTIVATIONS_MC_DROPOUT" if module_name == "mc" else "_MAX_ACTIVATIONS_VARIATIONAL"
    monkeypatch.setattr(module, budget, 4000)  # chunks of a few dozen rows
    chunked = model.predict_dist(X)
    np.testing.assert_allclose(chunked.locs, whole.locs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.predict_dist(X[123:124]).locs, whole.locs[123:124], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("module_name", ["mc", "vi"])
def test_repeated_predictions_do_not_retrace(mc_models, vi_model, module_name):
    model = mc_models[0] if module_name == "mc" else vi_model
    key = "n_passes"
    model._predict_fn = None  # start from fresh compiled functions
    for n, T in [(10, 5), (10, 5), (37, 5), (200, 12), (3, 7)]:
        model.predict_dist(_data(n, n)[0], **{key: T})
    weights_fn, chunk_fn = model._compiled()
    assert weights_fn.experimental_get_tracing_count() == 1
    assert chunk_fn.experimental_get_tracing_count() == 1


def test_no_model_code_pins_a_device():
    root = Path(__file__).resolve().parents[1] / "bdl"
    pinned = [
        f"{path.name}:{i}"
        for path in root.rglob("*.py")
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"""['"]/?(device:)?(cpu|gpu):\d['"]|tf\.device\(""", line, re.IGNORECASE)
    ]
    assert not pinned, f"hard-coded device placement in {pinned}"


def test_training_under_a_one_replica_strategy_gives_the_same_model():
    from bdl.models._tf import tf

    X, y = _data(200, 5)
    strategy = tf.distribute.MirroredStrategy(devices=[tf.config.list_logical_devices()[0].name])
    for cls in (MCDropoutRegressor, VariationalBNN):
        kw = dict(hidden_units=(8,), epochs=3, random_state=0, progress=False)
        plain = cls(**kw).fit(X, y)
        distributed = cls(**kw).fit(X, y, strategy=strategy)
        np.testing.assert_allclose(distributed.trace_["elbo"], plain.trace_["elbo"], rtol=1e-5)
        np.testing.assert_allclose(distributed.predict(X[:20]), plain.predict(X[:20]), rtol=1e-5, atol=1e-6)


def test_a_fitted_network_leaves_no_traced_graph_behind():
    """Keras' single-replica gradient sum registered a custom gradient per trace, which kept
    every training graph (and about 4 MB) alive for the life of the process."""
    import gc

    from bdl.models import MixtureDensityRegressor

    def graphs() -> int:
        gc.collect()
        return sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())

    X, y = _data(60, 7)

    def fits() -> None:
        for seed in range(3):
            for cls in (MCDropoutRegressor, MixtureDensityRegressor):
                cls(hidden_units=(4,), epochs=2, random_state=seed, progress=False).fit(X, y).predict(X[:5])

    fits()  # warm-up: anything cached once per process
    before = graphs()
    fits()
    assert graphs() <= before, "training graphs outlive their models"


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_the_optimiser_is_keras_maths_without_the_one_replica_sum(monkeypatch, optimizer):
    """Skipping the single-replica gradient sum changes no number: same fit as Keras' own optimiser."""
    import bdl.models._tf as tf_module
    from bdl.models import MixtureDensityRegressor

    X, y = _data(80, 8)
    kw = dict(hidden_units=(8,), epochs=4, random_state=0, progress=False)

    def fits():  # the MDN trains with Adam
        return [MCDropoutRegressor(optimizer=optimizer, **kw).fit(X, y).predict(X[:10]),
                MixtureDensityRegressor(n_components=2, **kw).fit(X, y).predict(X[:10])]

    ours = fits()

    def plain_keras(name, learning_rate, momentum=0.9, clipnorm=None):
        opts, extra = tf_module.keras.optimizers, {} if clipnorm is None else {"clipnorm": clipnorm}
        if name == "adam":
            return opts.Adam(learning_rate=learning_rate, **extra)
        return opts.SGD(learning_rate=learning_rate, momentum=momentum, **extra)

    monkeypatch.setattr(tf_module, "make_optimizer", plain_keras)
    for a, b in zip(ours, fits()):
        np.testing.assert_array_equal(a, b)


def test_a_strategy_must_be_a_strategy():
    from bdl.errors import InputError

    X, y = _data(50, 6)
    with pytest.raises(InputError, match="tf.distribute.Strategy"):
        MCDropoutRegressor(hidden_units=(4,), epochs=1, progress=False).fit(X, y, strategy="mirrored")
