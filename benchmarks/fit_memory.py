"""Memory a network fit leaves behind: does a long campaign in one process grow?

``python -m benchmarks.fit_memory``. Each arm runs in its own fresh process: 120 small fits
(200 rows, 5 descriptors; networks with one hidden layer of 32 and 10 epochs; each fit followed
by a prediction of 50 rows), resident memory read after fit 20 (warm-up: what is cached once
per process) and after fit 120. Arms:

* ``mc_dropout + mdn, make_optimizer`` (today): MC dropout and MDN in turn, with the package's
  optimiser, Keras' Adam without the single-replica gradient sum
  (:func:`bdl.models._tf.make_optimizer`);
* ``mc_dropout + mdn, plain Keras Adam``: the same fits with the optimiser as it was before that
  change, swapped in for this arm only; its all-reduce over one replica registers a
  ``tf.custom_gradient`` per trace in TensorFlow's process-wide gradient registry
  (tensorflow/tensorflow#80895);
* ``mc_dropout``, ``mdn``, ``prior_gp`` alone, today: which model keeps what (``prior_gp`` is the
  campaign's default surrogate, the MDN the diagnostics' second model);
* ``mc_dropout, kernel cache cleared after each fit``: where the rest goes (TensorFlow's private
  ``context().clear_kernel_cache()``, called here only to measure; the package does not call it,
  because it is not safe while another thread runs TensorFlow).

Also counted: TensorFlow graphs (``FuncGraph`` objects) alive after the last fit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks._common import write_result

FITS, WARM = 120, 20
#: arm -> (models fitted in turn, optimiser: "new" today's, "old" the plain Keras Adam)
ARMS = {"mc_dropout + mdn, make_optimizer": ("mc,mdn", "new"), "mc_dropout + mdn, plain Keras Adam": ("mc,mdn", "old"),
        "mc_dropout": ("mc", "new"), "mdn": ("mdn", "new"), "prior_gp": ("gp", "new"),
        "mc_dropout, kernel cache cleared after each fit": ("mc", "clear")}

_CHILD = r"""
import gc, json, os, sys
import numpy as np
import bdl.models._tf as T
if sys.argv[1] == "old":
    T.make_optimizer = lambda name, lr, momentum=0.9, clipnorm=None: T.keras.optimizers.Adam(learning_rate=lr)
from bdl.models import MCDropoutRegressor, MixtureDensityRegressor, PriorGPRegressor

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5))
y = X[:, 0] + 0.1 * rng.normal(size=200)
models, fits, warm = sys.argv[4].split(","), int(sys.argv[2]), int(sys.argv[3])
marks = {}
for i in range(1, fits + 1):
    kind = models[i % len(models)]
    if kind == "gp":
        model = PriorGPRegressor(random_state=i)
    else:
        cls = MCDropoutRegressor if kind == "mc" else MixtureDensityRegressor
        model = cls(hidden_units=(32,), epochs=10, random_state=i, progress=False)
    model.fit(X, y).predict_dist(X[:50])
    del model
    if sys.argv[1] == "clear":
        from tensorflow.python.eager import context
        context.context().clear_kernel_cache()
    if i in (warm, fits):
        marks[i] = rss()
gc.collect()
graphs = sum(type(o).__name__ == "FuncGraph" for o in gc.get_objects())
print(json.dumps({"rss_warm_mb": marks[warm], "rss_end_mb": marks[fits], "graphs_alive": graphs}))
"""


def run_arm(models: str, mode: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(FITS), str(WARM), models], capture_output=True,
                         text=True, check=True)
    cell = json.loads(out.stdout.strip().splitlines()[-1])
    cell["mb_per_fit"] = (cell["rss_end_mb"] - cell["rss_warm_mb"]) / (FITS - WARM)
    return cell


def main() -> dict[str, Any]:
    cells = {}
    for name, (models, mode) in ARMS.items():
        cells[name] = run_arm(models, mode)
        print(f"{name}: {cells[name]['mb_per_fit']:.2f} MB per fit, {cells[name]['graphs_alive']} graphs alive",
              flush=True)
    lines = [
        "# Memory a network fit leaves behind", "", "{{STAMP}}",
        f"`python -m benchmarks.fit_memory` — {FITS} small fits in one fresh process per arm, resident memory "
        f"after fit {WARM} and after fit {FITS}; see the module docstring.", "",
        "| arm | RSS after warm-up (MB) | RSS at the end (MB) | kept per fit (MB) | TensorFlow graphs alive |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, c in cells.items():
        lines.append(f"| {name} | {c['rss_warm_mb']:.0f} | {c['rss_end_mb']:.0f} | {c['mb_per_fit']:.2f} | "
                     f"{c['graphs_alive']} |")
    lines += ["", "A campaign fits two models per round (the surrogate and the MDN of the diagnostics), more with "
              "ensembles; what is kept per fit adds up over an unattended campaign in one process. What MC dropout "
              "still keeps is not Python objects (no graph stays alive); more than half of it is TensorFlow's kernel cache for "
              "the compiled functions of each model (training, and the prediction used for validation): the last "
              "arm, which empties that cache after each fit, keeps less."]
    payload = {"fits": FITS, "warm_up_fits": WARM, "arms": cells}
    path = write_result("fit_memory", payload, "\n".join(lines) + "\n")
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
