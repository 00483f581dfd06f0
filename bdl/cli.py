"""The ``bdl`` command line.

``bdl featurize``  add the 132 Magpie descriptors to a CSV of formulas
``bdl bandgap``    fit the MC-dropout model on the shipped experimental band gaps, score it on
                   held-out compositions and write a report
``bdl datasets``   list the shipped data sets
``bdl diagnose``   fit a BNN and a mixture density network, triage candidates (ok / bimodal /
                   misspecified / out_of_distribution) and write the table
``bdl fit``        fit a surrogate (default: the recommended one) on a CSV and save it
``bdl predict``    predict with a saved surrogate: mean, median, std, 90 % interval and the
                   predictive's own columns (the layout ``bdl report`` reads)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bdl.errors import BDLError, FormulaError, cli_text, csv_record_lines

__all__ = ["main"]


def _cmd_featurize(args: argparse.Namespace) -> int:
    from bdl.features import featurize_dataframe

    from bdl._io import atomic_write_text, read_csv

    df = read_csv(args.input)
    t0 = time.perf_counter()
    try:
        out = featurize_dataframe(df, args.formula_column, errors=args.errors, impute_nan=not args.no_impute)
    except FormulaError as exc:  # in this command's words: file lines and its --errors flag
        raise exc.for_command_line(
            f"Fix or remove these lines of {args.input}, or add --errors coerce to write NaN features for them "
            "(the column featurized_ok marks them).", csv_record_lines(args.input)) from None
    dt = time.perf_counter() - t0
    atomic_write_text(args.output, out.to_csv(index=False))
    msg = f"featurised {len(df)} rows in {dt:.2f} s -> {args.output}"
    if args.errors == "coerce":
        n_bad = int((~out["featurized_ok"]).sum())
        msg += f" ({n_bad} bad row(s) left as NaN, see column featurized_ok)"
    print(msg)
    return 0


def _cmd_bandgap(args: argparse.Namespace) -> int:
    import numpy as np

    from bdl.calibration.metrics import interval_coverage, mae, nll, rmse
    from bdl.calibration.report import calibration_report, prediction_frame
    from bdl.data import load_matbench_expt_gap
    from bdl.features import featurize
    from bdl.models import MCDropoutRegressor

    df = load_matbench_expt_gap()
    X = featurize(df["composition"])
    y = df["gap_expt_eV"].to_numpy()
    rng = np.random.default_rng(args.seed)
    test = np.zeros(len(df), dtype=bool)
    test[rng.permutation(len(df))[: int(round(args.test_fraction * len(df)))]] = True
    print(f"matbench_expt_gap: {len(df)} compositions, {X.shape[1]} Magpie features; "
          f"training on {(~test).sum()}, holding out {test.sum()} (seed {args.seed})")
    model = MCDropoutRegressor(epochs=args.epochs, random_state=args.seed, progress=args.progress)
    t0 = time.perf_counter()
    model.fit(X[~test], y[~test])
    fit_s = time.perf_counter() - t0
    pred = model.predict_dist(X[test])
    out = Path(args.output)
    model_dir = model.save(out / "model")
    y_test = y[test]
    report = calibration_report(
        y_test,
        pred,
        title="MC-dropout band-gap model on held-out matbench_expt_gap compositions",
        info={
            "data": "matbench_expt_gap (Zhuo et al. 2018, via Matbench v0.1)",
            "model": repr(model),
            "best_epoch": model.best_epoch_,
            "fit_seconds": round(fit_s, 2),
            "saved_model": str(model_dir),
        },
    )
    report.save(out)
    frame = prediction_frame(y_test, pred)
    frame.insert(0, "composition", df["composition"].to_numpy()[test])
    frame.to_csv(out / "predictions.csv", index=False)
    print(f"held-out MAE  {mae(y_test, pred):.3f} eV (median as point prediction: {mae(y_test, pred, 'median'):.3f} eV)")
    print(f"held-out RMSE {rmse(y_test, pred):.3f} eV")
    print(f"held-out NLL  {nll(y_test, pred):.3f} nats")
    print(f"90 % interval coverage {interval_coverage(y_test, pred, 0.9):.3f} (nominal 0.90)")
    print(f"verdict: {report.verdict[0]}")
    print(f"fit {fit_s:.1f} s (best epoch {model.best_epoch_}), report: {out / 'report.html'}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bdl.calibration.report import calibration_report, read_predictions

    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):  # huge values are reported just below
        y, pred = read_predictions(args.predictions)
    _check_plottable(y, pred, args.predictions)
    report = calibration_report(y, pred, title=args.title or f"Calibration report: {Path(args.predictions).name}",
                                info={"predictions": str(args.predictions), "kind": pred.kind, "n": len(pred)})
    out = report.save(args.output)
    for sentence in report.verdict:
        print(sentence)
    print(f"wrote {out / 'metrics.json'} and {out / 'report.html'}")
    return 0


#: Magnitudes beyond this square to infinity in float64 (variances, squared errors, axis limits).
_MAX_PLOTTABLE = 1e150


def _check_plottable(y: Any, pred: Any, path: str) -> None:
    """Refuse predictions whose numbers overflow the metrics and plots, naming the file lines."""
    import numpy as np

    from bdl.errors import InputError

    with np.errstate(all="ignore"):
        cols = {"y_true": np.asarray(y, dtype=np.float64), "mean": np.asarray(pred.mean, dtype=np.float64),
                "std": np.asarray(pred.stddev, dtype=np.float64), "variance": np.asarray(pred.variance, dtype=np.float64)}
        for name, v in cols.items():
            bad = ~np.isfinite(v) | (np.abs(v) > _MAX_PLOTTABLE)
            if bad.any():
                rows = np.flatnonzero(bad)
                lines = ", ".join(str(int(r) + 2) for r in rows[:10]) + (" ..." if rows.size > 10 else "")
                raise InputError(
                    f"{path}: the predictive {name} is infinite or beyond {_MAX_PLOTTABLE:g} on line(s) {lines} "
                    f"(e.g. {v[rows[0]]:g}); its square overflows, so no metric or plot can use it. Fix those rows "
                    "or drop them."
                )


def _cmd_bench_uci(args: argparse.Namespace) -> int:
    from bdl.bench import run_uci, write_json

    result = run_uci(args.data, args.method, splits=args.splits, quick=args.quick, seed=args.seed, progress=args.progress,
                     epochs=args.epochs, n_passes=args.passes, learning_rates=args.learning_rates)
    print(f"{'method':12s} {'test RMSE':>18s} {'test log-lik':>18s} {'wall (s)':>9s}")
    for method, r in result["methods"].items():
        print(
            f"{method:12s} {r['rmse_mean']:9.3f} ± {r['rmse_se']:<6.3f} {r['ll_mean']:9.3f} ± {r['ll_se']:<6.3f} "
            f"{r['wall_seconds']:9.1f}"
        )
    if args.json:
        print(f"wrote {write_json(result, args.json)}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from bdl.data import DATASETS, list_uci

    print("materials data sets (bdl.data.load_dataset(name)):")
    for name, loader in DATASETS.items():
        doc = (loader.__doc__ or "").strip().splitlines()[0]
        print(f"  {name:28s} {doc}")
    print("UCI regression sets (bdl.data.load_uci(name)): " + ", ".join(list_uci()))
    return 0


def _diagnose_features(df: Any, args: argparse.Namespace, what: str) -> Any:
    """Descriptor matrix of one CSV for ``bdl diagnose`` (formula column or feature columns)."""
    import pandas as pd

    from bdl.errors import InputError

    if args.formula_column is not None:
        if args.formula_column not in df.columns:
            raise InputError(f"{what} has no column {args.formula_column!r} (--formula-column); its columns are "
                             f"{list(df.columns)[:12]}.")
        from bdl.features import featurize

        return featurize(df[args.formula_column].astype(str).reset_index(drop=True))
    cols = [c.strip() for c in args.feature_columns.split(",") if c.strip()]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks feature column(s) {missing} (--feature-columns); its columns are "
                         f"{list(df.columns)[:12]}.")
    block = df[cols].apply(pd.to_numeric, errors="coerce")
    bad = block.isna().to_numpy()
    if bad.any():
        row, col = (int(v[0]) for v in bad.nonzero())
        raise InputError(f"{what} has a missing or non-numeric value in feature column {cols[col]!r} at row {row} "
                         f"({df[cols[col]].iloc[row]!r}); fix or drop that row.")
    return block.reset_index(drop=True)


def _cmd_diagnose(args: argparse.Namespace) -> int:
    import numpy as np

    from bdl._io import atomic_write_text, read_csv
    from bdl.diagnostics import ReplicateSpread, TriageThresholds, replicate_groups, triage
    from bdl.errors import InputError

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if (args.formula_column is None) == (args.feature_columns is None):
        raise InputError("pass exactly one of --formula-column (formulas, featurised with Magpie) or "
                         "--feature-columns A,B,... (numeric descriptors already in the files).")
    train = read_csv(args.train, what="training file")
    cand = read_csv(args.candidates, what="candidates file")
    if args.target not in train.columns:
        raise InputError(f"training file {args.train} has no target column {args.target!r}; its columns are "
                         f"{list(train.columns)[:12]}.")
    y = train[args.target].to_numpy()
    try:
        y = y.astype(float)
    except (TypeError, ValueError):
        raise InputError(f"target column {args.target!r} of {args.train} is not numeric.") from None
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise InputError(f"target column {args.target!r} of {args.train} is missing or not finite at row(s) "
                         f"{bad[:10].tolist()}; drop those rows.")
    if len(train) < 10 or len(cand) < 1:
        raise InputError(f"need at least 10 training rows and 1 candidate, got {len(train)} and {len(cand)}.")
    X_train = _diagnose_features(train, args, f"training file {args.train}")
    X_cand = _diagnose_features(cand, args, f"candidates file {args.candidates}")
    say(f"bdl diagnose: {len(train)} training rows, {len(cand)} candidates, {X_train.shape[1]} descriptors")
    n_groups = len(replicate_groups(X_train, y))
    minimum = ReplicateSpread().min_groups
    if args.replicates and n_groups < minimum:
        raise InputError(f"--replicates needs at least {minimum} inputs that occur more than once in the training "
                         f"file; {args.train} has {n_groups}. Drop --replicates to triage with the MDN's modes.")
    use_replicates = args.replicates is not False and n_groups >= minimum

    from bdl.models import make_model

    common = dict(epochs=args.epochs, random_state=args.seed, progress=args.progress)
    bnn = make_model(args.bnn, **common)  # the one registry of model names
    t0 = time.perf_counter()
    say(f"fitting the BNN ({args.bnn}) ...")
    bnn.fit(X_train, y)
    say(f"  done in {time.perf_counter() - t0:.1f} s; fitting the mixture density network ({args.n_components} "
        "components) ...")
    t0 = time.perf_counter()
    mdn = make_model("mdn", n_components=args.n_components, **common).fit(X_train, y)
    say(f"  done in {time.perf_counter() - t0:.1f} s")
    replicates = None
    if use_replicates:
        t0 = time.perf_counter()
        replicates = ReplicateSpread(random_state=args.seed).fit(X_train, y)
        say(f"replicate model: {n_groups} inputs occur more than once in the training file; their spread decides "
            f"'bimodal' (fitted in {time.perf_counter() - t0:.1f} s)")
    elif args.replicates is None:
        say(f"no replicate model: {n_groups} repeated input(s) in the training file (needs {minimum}); the MDN's "
            "modes decide 'bimodal'")
    say("triaging ...")
    overrides = {k: v for k, v in (("min_mass", args.min_mass), ("min_replicate_spread", args.min_replicate_spread))
                 if v is not None}
    thresholds = TriageThresholds(**overrides)
    tri = triage(bnn.predict_dist(X_cand), mdn.predict_dist(X_cand), X_train=X_train, X_candidates=X_cand,
                 thresholds=thresholds, lower_bound=args.lower_bound, replicates=replicates)
    feature_cols = set() if args.feature_columns is None else {c.strip() for c in args.feature_columns.split(",")}
    keep = [c for c in cand.columns if c not in feature_cols and c not in tri.columns]
    out = cand[keep].reset_index(drop=True).join(tri.reset_index(drop=True))
    out["status"] = out["status"].astype(str)
    atomic_write_text(args.output, out.to_csv(index=False))
    counts = out["status"].value_counts()
    say("statuses: " + ", ".join(f"{k} {int(counts.get(k, 0))}" for k in ("ok", "bimodal", "misspecified",
                                                                          "out_of_distribution")))
    print(f"wrote {args.output}")
    return 0


_FIT_INFO = "bdl_fit.json"


def _table_features(df: Any, formula_column: str | None, feature_columns: list[str] | None, path: str) -> Any:
    """Descriptors of a CSV's rows: Magpie statistics of a formula column, or numeric feature columns."""
    from bdl.errors import InputError

    if formula_column is not None:
        if formula_column not in df.columns:
            raise InputError(f"{path} has no column {formula_column!r} (--formula-column); its columns are "
                             f"{list(df.columns)[:12]}.")
        from bdl.features import featurize

        try:
            return featurize(df[formula_column].astype(str).reset_index(drop=True))
        except FormulaError as exc:
            raise exc.for_command_line(f"Fix or remove these lines of {path}.", csv_record_lines(path)) from None
    cols = list(feature_columns or [])
    args = argparse.Namespace(formula_column=None, feature_columns=",".join(cols))
    return _diagnose_features(df, args, path)


def _cmd_fit(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from bdl._io import atomic_write_text, read_csv
    from bdl.errors import InputError
    from bdl.models import make_model, recommended

    if (args.formula_column is None) == (args.feature_columns is None):
        raise InputError("give exactly one of --formula-column (compositions) or --feature-columns a,b,... (descriptors).")
    df = read_csv(args.data, what="training data")
    if args.target not in df.columns:
        raise InputError(f"{args.data} has no target column {args.target!r} (--target); its columns are {list(df.columns)[:12]}.")
    y = np.asarray(df[args.target], dtype=np.float64) if df[args.target].dtype.kind in "fiu" else None
    if y is None or not np.isfinite(y).all():
        import pandas as pd

        y_num = pd.to_numeric(df[args.target], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(y_num))
        if bad.size:
            lines = csv_record_lines(args.data)
            where = ", ".join(str(lines[i] if lines else i + 2) for i in bad[:10])
            raise InputError(f"{args.data}: the target column {args.target!r} is missing or not a finite number on "
                             f"line(s) {where}; fix or drop those lines.")
        y = y_num
    feature_columns = None if args.feature_columns is None else [c.strip() for c in args.feature_columns.split(",") if c.strip()]
    X = _table_features(df, args.formula_column, feature_columns, args.data)
    params = json.loads(args.model_params) if args.model_params else {}
    if not isinstance(params, dict):
        raise InputError(f"--model-params must be a JSON object, got {args.model_params!r}.")
    if args.model == "recommended":
        if params:
            raise InputError("--model-params is for a named model (--model prior_gp, mc_dropout, ...), not 'recommended'.")
        model = recommended(lower_bound=args.lower_bound, upper_bound=args.upper_bound, random_state=args.seed)
    else:
        if args.model == "prior_gp":
            params.setdefault("lower_bound", args.lower_bound)
            params.setdefault("upper_bound", args.upper_bound)
        params.setdefault("random_state", args.seed)
        model = make_model(args.model, **params)
    t0 = time.perf_counter()
    model.fit(X, y)
    out = model.save(args.output)
    info = {"model": args.model, "class": type(model).__name__, "target": args.target,
            "formula_column": args.formula_column, "feature_columns": feature_columns,
            "lower_bound": args.lower_bound, "upper_bound": args.upper_bound, "n_train": int(len(y)),
            "data": Path(args.data).name}
    atomic_write_text(Path(out) / _FIT_INFO, json.dumps(info, indent=2))
    print(f"fitted {type(model).__name__} on {len(y)} rows of {args.data} in {time.perf_counter() - t0:.1f} s -> {out}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    import numpy as np
    import pandas as pd

    from bdl._io import atomic_write_text, read_csv
    from bdl.errors import InputError
    from bdl.calibration.report import prediction_frame
    from bdl.models import load_model
    from bdl.predictive import BoundedPredictive, truncate

    info_path = Path(args.model_dir) / _FIT_INFO
    if not info_path.exists():
        raise InputError(f"{args.model_dir} is not a folder written by 'bdl fit' (it has no {_FIT_INFO}); fit one with "
                         "bdl fit --data CSV --target COL --formula-column F -o MODEL_DIR.")
    info = json.loads(info_path.read_text())
    model = load_model(args.model_dir)
    df = read_csv(args.data, what="data to predict")
    formula_column = args.formula_column or info.get("formula_column")
    X = _table_features(df, formula_column if info.get("formula_column") else None, info.get("feature_columns"),
                        args.data)
    pred = model.predict_dist(X)
    if not isinstance(pred, BoundedPredictive):
        pred = truncate(pred, info.get("lower_bound"), info.get("upper_bound"))
    lo, hi = pred.interval(0.9)
    out = df.reset_index(drop=True).copy()
    summary = pd.DataFrame({"mean": pred.mean, "median": pred.quantile(0.5), "std": pred.stddev,
                            "lower_90": lo, "upper_90": hi})
    target = info.get("target")
    own = prediction_frame(np.full(len(pred), np.nan), pred).drop(columns="y_true")
    clash = [c for c in [*summary.columns, *own.columns, "y_true"] if c in out.columns]
    if clash:
        raise InputError(f"{args.data} already has column(s) {clash} that the predictions would overwrite; rename them.")
    if target in out.columns:  # measured values too: the file is ready for 'bdl report'
        out["y_true"] = pd.to_numeric(out[target], errors="coerce")
    out = pd.concat([out, summary, own], axis=1)
    atomic_write_text(args.output, out.to_csv(index=False))
    bound = info.get("lower_bound")
    note = "" if bound is None else f" ({np.mean(lo <= bound):.0%} of the 90 % intervals reach the lower bound {bound:g})"
    print(f"predicted {len(out)} rows with {info['class']} -> {args.output}{note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bdl", description="Bayesian deep learning for materials property prediction.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("featurize", help="add the 132 Magpie composition descriptors to a CSV")
    p.add_argument("input", help="input CSV with a column of chemical formulas")
    p.add_argument("--formula-column", required=True, help="name of the formula column")
    p.add_argument("-o", "--output", required=True, help="output CSV (input columns + 132 features)")
    p.add_argument("--errors", choices=["raise", "coerce"], default="raise",
                   help="raise: stop and list every bad formula; coerce: NaN features and a featurized_ok column")
    p.add_argument("--no-impute", action="store_true", help="leave element properties Magpie lacks as NaN")
    p.set_defaults(func=_cmd_featurize)

    p = sub.add_parser("bandgap", help="fit MC dropout on the shipped experimental band gaps and report held-out scores")
    p.add_argument("-o", "--output", default="runs/bandgap", help="report directory (default runs/bandgap)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=300, help="maximum epochs (early stopping on validation NLL)")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar")
    p.set_defaults(func=_cmd_bandgap)

    p = sub.add_parser("report", help="calibration report from a CSV of predictions")
    p.add_argument("--predictions", required=True,
                   help="CSV with y_true and either mean,std or w_k,mu_k,sigma_k or s_0..s_(n-1)")
    p.add_argument("-o", "--output", required=True, help="folder for metrics.json and report.html")
    p.add_argument("--title", default=None)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("bench", help="benchmarks")
    bench = p.add_subparsers(dest="suite", required=True)
    q = bench.add_parser("uci", help="UCI regression protocol of Hernandez-Lobato & Adams / Gal & Ghahramani")
    q.add_argument("--data", required=True, help="a shipped UCI name (bdl datasets) or a folder in the UCI split layout")
    q.add_argument("--method", nargs="+", required=True, choices=["mc_dropout", "variational", "ensemble", "mdn"])
    q.add_argument("--splits", default=None, help="e.g. 0-19 or 0,3,7 (default: all)")
    q.add_argument("--json", default=None, help="write the results here")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--quick", action="store_true", help="tiny grids and epochs: checks the pipeline only")
    q.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: MC dropout 100 x n_epochs.txt = 4000 as Gal; others 10 x, early stopping)")
    q.add_argument("--passes", type=int, default=None, help="MC dropout test passes T (default 10000; grid uses min(T, 1000))")
    q.add_argument("--learning-rates", type=float, nargs="+", default=[1e-3],
                   help="Adam step sizes in MC dropout's grid, chosen on the validation rows (default 1e-3, Gal's)")
    q.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    q.set_defaults(func=_cmd_bench_uci)

    p = sub.add_parser("diagnose", help="triage candidates: is the BNN's uncertainty bimodal, misspecified or OOD?")
    p.add_argument("--train", required=True, help="training CSV with descriptors (or formulas) and the target")
    p.add_argument("--candidates", required=True, help="CSV of candidates to triage")
    p.add_argument("--target", required=True, help="target column of the training CSV")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--formula-column", default=None, help="formula column (featurised with the 132 Magpie statistics)")
    src.add_argument("--feature-columns", default=None, help="comma-separated numeric descriptor columns")
    p.add_argument("-o", "--output", required=True, help="triage CSV: candidate columns + status, reasons, numbers")
    p.add_argument("--bnn", choices=["mc_dropout", "variational", "ensemble"], default="mc_dropout")
    p.add_argument("--n-components", type=int, default=5, help="MDN components (default 5)")
    p.add_argument("--lower-bound", type=float, default=None, help="physical lower bound of the target (0 for band gaps)")
    p.add_argument("--min-mass", type=float, default=None, help="smallest mass of a mode that counts (default 0.1)")
    p.add_argument("--replicates", action=argparse.BooleanOptionalAction, default=None,
                   help="model the spread between repeated inputs of the training file (e.g. polymorphs of one "
                        "composition) and let it decide 'bimodal'; default: when at least 30 inputs repeat")
    p.add_argument("--min-replicate-spread", type=float, default=None,
                   help="replicate spread (target units) from which a candidate is bimodal (default 0.4, for eV)")
    p.add_argument("--epochs", type=int, default=300, help="maximum epochs of both nets (early stopping)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="progress bars on stderr")
    p.set_defaults(func=_cmd_diagnose)

    p = sub.add_parser("fit", help="fit a surrogate on a CSV (default: the recommended one) and save it")
    p.add_argument("--data", required=True, help="CSV with the descriptors (or formulas) and the target")
    p.add_argument("--target", required=True, help="name of the target column")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--formula-column", help="column of chemical formulas (Magpie descriptors + the DFT prior)")
    g.add_argument("--feature-columns", help="comma-separated numeric descriptor columns")
    p.add_argument("--model", default="recommended",
                   help="recommended (default: bdl.models.recommended), prior_gp, mc_dropout, ensemble, variational, mdn")
    p.add_argument("--model-params", help="JSON object of the named model's settings")
    p.add_argument("--lower-bound", type=float, metavar="X", help="physical lower bound of the target (0 for a band gap)")
    p.add_argument("--upper-bound", type=float, metavar="X", help="physical upper bound of the target")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="model folder to write")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("predict", help="predict with a model folder written by 'bdl fit'")
    p.add_argument("model_dir", help="folder written by bdl fit")
    p.add_argument("--data", required=True, help="CSV of candidates (same descriptor or formula column as in fit)")
    p.add_argument("--formula-column", help="formula column, if named differently than in the training data")
    p.add_argument("-o", "--output", required=True,
                   help="CSV: input columns + mean, median, std, lower_90, upper_90 and the predictive's own columns")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("datasets", help="list the shipped data sets")
    p.set_defaults(func=_cmd_datasets)
    _add_debug(parser)
    return parser


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` (show the traceback of an error) on every sub-command, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    if "--debug" not in sub._option_string_actions:
                        sub.add_argument("--debug", action="store_true", help="show the traceback of an error")
                _add_debug(sub)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bdl`` console script."""
    from bdl._io import error_sentence

    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.func(args))
    except BDLError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"bdl {args.command}: error: {cli_text(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        # operating-system, SQLite and plotting errors: one sentence naming the path and the fix
        sentence = error_sentence(exc, hint_path=getattr(args, "output", None))
        if sentence is None:
            raise
        if debug:
            import traceback

            traceback.print_exc()
        print(f"bdl {args.command}: error: {sentence}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
