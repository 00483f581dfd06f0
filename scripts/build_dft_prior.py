"""Rebuild the shipped DFT band-gap prior (``bdl/data/prior/dft_gap_prior.npz``), deterministically.

The prior is a small network pretrained on all 106 113 PBE band gaps of Matbench's
``matbench_mp_gap`` (shipped in ``bdl/data/files``). From a composition's 132 Magpie descriptors
it predicts the DFT gap and the log-odds that the DFT gap is exactly 0 (a metal), through a
shared 32-unit embedding. :mod:`bdl.prior` evaluates it in numpy (no TensorFlow at run time);
the surrogates use its outputs as inputs (Delta-learning / multi-fidelity with a predicted DFT
gap, and a learned composition embedding).

Run from the repository root::

    python scripts/build_dft_prior.py            # writes bdl/data/prior/dft_gap_prior.npz
    python scripts/build_dft_prior.py --check    # rebuilds in memory, compares with the shipped file

Determinism: weights are initialised and minibatches shuffled by numpy ``Generator`` s with a
fixed seed, TensorFlow's op determinism is switched on and it runs on the CPU, so the same
TensorFlow version and machine architecture give the same bytes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shipped_arrays import rebuild_main  # noqa: E402  (the scripts folder is not a package)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bdl" / "data" / "prior" / "dft_gap_prior.npz"
SEED = 20261130
HIDDEN = (256, 128)
EMBED = 32
EPOCHS = 40
BATCH = 512
LR = 2e-3
VALID_FRACTION = 0.05


def _init(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    arrays = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        arrays.append((rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32))
        arrays.append(np.zeros(b, dtype=np.float32))
    return arrays


def build(progress: bool = True) -> dict[str, np.ndarray]:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from bdl.data import load_matbench_mp_gap
    from bdl.features import featurize
    from bdl.models._tf import keras, tf

    tf.config.experimental.enable_op_determinism()
    frame = load_matbench_mp_gap(check_formulas=False)
    X = featurize(frame["composition"]).to_numpy(np.float64)
    gap = frame["gap_pbe_eV"].to_numpy(np.float64)
    metal = (gap <= 0.0).astype(np.float32)

    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(X))
    n_valid = int(round(VALID_FRACTION * len(X)))
    valid, train = order[:n_valid], order[n_valid:]
    x_mean = X[train].mean(axis=0)
    x_std = X[train].std(axis=0)
    x_std[x_std < 1e-12] = 1.0
    g_mean, g_std = float(gap[train].mean()), float(gap[train].std())

    def standardise(rows: np.ndarray) -> np.ndarray:
        return np.clip((X[rows] - x_mean) / x_std, -10, 10).astype(np.float32)

    xt, xv = standardise(train), standardise(valid)
    yt = ((gap[train] - g_mean) / g_std).astype(np.float32)
    mt, mv = metal[train], metal[valid]

    sizes = [X.shape[1], *HIDDEN, EMBED]
    trunk = [tf.Variable(a) for a in _init(rng, sizes)]
    heads = [tf.Variable(a) for a in _init(rng, [EMBED, 2])]
    variables = trunk + heads
    steps = EPOCHS * int(np.ceil(len(xt) / BATCH))
    schedule = keras.optimizers.schedules.CosineDecay(LR, decay_steps=steps)
    opt = keras.optimizers.Adam(learning_rate=schedule)

    def forward(x):  # noqa: ANN001, ANN202
        h = x
        for i in range(0, len(trunk), 2):
            h = tf.nn.relu(h @ trunk[i] + trunk[i + 1])
        out = h @ heads[0] + heads[1]
        return out[:, 0], out[:, 1]

    @tf.function(jit_compile=False)
    def step(x, y, m):  # noqa: ANN001, ANN202
        with tf.GradientTape() as tape:
            g, logit = forward(x)
            loss = tf.reduce_mean(tf.keras.losses.huber(y[:, None], g[:, None], delta=1.0)) + tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=m, logits=logit))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        perm = rng.permutation(len(xt))
        losses = []
        for start in range(0, len(perm), BATCH):
            b = perm[start:start + BATCH]
            losses.append(float(step(xt[b], yt[b], mt[b])))
        if progress and (epoch % 5 == 4 or epoch == EPOCHS - 1):
            g, logit = forward(xv)
            mae = float(np.mean(np.abs(np.maximum(g.numpy() * g_std + g_mean, 0) - gap[valid])))
            acc = float(np.mean((logit.numpy() > 0) == (mv > 0.5)))
            print(f"epoch {epoch + 1}/{EPOCHS}: train loss {np.mean(losses):.4f}, valid MAE {mae:.3f} eV, "
                  f"metal accuracy {acc:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    g, logit = forward(xv)
    valid_mae = float(np.mean(np.abs(np.maximum(g.numpy() * g_std + g_mean, 0) - gap[valid])))
    valid_acc = float(np.mean((logit.numpy() > 0) == (mv > 0.5)))
    arrays = {f"trunk_{i}": v.numpy() for i, v in enumerate(trunk)}
    arrays.update({f"head_{i}": v.numpy() for i, v in enumerate(heads)})
    meta = {
        "name": "dft_gap_prior",
        "version": 1,
        "trained_on": "matbench_mp_gap (Materials Project PBE band gaps, 106113 structures), all but a 5 % validation split",
        "licence": "CC-BY-4.0 (derived from Materials Project data); see bdl/data/prior/LICENSE.md",
        "inputs": "132 Magpie descriptors (bdl.features.featurize)",
        "hidden": list(HIDDEN),
        "embedding": EMBED,
        "epochs": EPOCHS,
        "seed": SEED,
        "valid_mae_eV": round(valid_mae, 4),
        "valid_metal_accuracy": round(valid_acc, 4),
        "n_train": int(len(train)),
        "n_valid": int(len(valid)),
        "tensorflow": tf.__version__,
    }
    arrays.update(x_mean=x_mean, x_std=x_std, gap_mean=np.array(g_mean), gap_std=np.array(g_std),
                  meta=np.array(json.dumps(meta, sort_keys=True)))
    return arrays


def main() -> int:
    return rebuild_main(__doc__.split("\n")[0], build, OUT, "weights", ignore=("meta",))


if __name__ == "__main__":
    raise SystemExit(main())
