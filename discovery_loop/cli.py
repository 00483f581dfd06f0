"""The ``discovery-loop`` command line.

``discovery-loop run``     start a campaign (simulated on a table, or with a lab via files)
``discovery-loop resume``  continue a campaign from its ledger (after a crash, or once the lab
                           file is there)
``discovery-loop status``  where a campaign stands
``discovery-loop report``  the campaign report (HTML and CSV) from a ledger
``discovery-loop pools``   list the shipped data sets that can serve as simulated-campaign pools
``discovery-loop amend``   correct a recorded measurement (append-only, with a reason)
``discovery-loop retract`` withdraw a recorded measurement (append-only, with a reason)

Every error a user can cause or meet (a bad option, a bad lab file, a missing or unwritable
path, a full disk, a plot that cannot be drawn) is one sentence on stderr and exit status 2;
``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bdl.errors import BDLError, FormulaError, InputError, cli_text, csv_record_lines

__all__ = ["main"]

EXIT_WAITING = 3


def _parse_params(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} must be a JSON object such as '{{\"beta\": 2.0}}', got {text!r} ({exc.msg}).") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object such as '{{\"beta\": 2.0}}', got {text!r}.")
    return value


def _source_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if (args.data is None) == (args.dataset is None):
        raise InputError("give the pool as --data POOL.csv or --dataset NAME (a shipped data set, see 'discovery-loop pools').")
    if (args.formula_column is None) == (args.feature_columns is None):
        raise InputError("give exactly one of --formula-column COL or --feature-columns A,B,...")
    if args.oracle == "file" and args.lab_dir is None:
        raise InputError("--oracle file needs --lab-dir DIR, the folder where proposals and measured files are exchanged.")
    return {
        "data": None if args.data is None else str(Path(args.data).resolve()),
        "dataset": args.dataset,
        "id_column": args.id_column,
        "formula_column": args.formula_column,
        "feature_columns": None if args.feature_columns is None else [c.strip() for c in args.feature_columns.split(",") if c.strip()],
        "oracle": args.oracle,
        "lab_dir": None if args.lab_dir is None else str(Path(args.lab_dir).resolve()),
        "noise_std": args.noise_std,
        "wait": bool(args.wait),
    }


def _print_round(record: Any, budget: int, quiet: bool, write: Any = print) -> None:
    if quiet:
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(record.triage_counts.items()))
    best = "best —" if record.best is None else f"best {record.best:.4g}"
    if record.n_hits is not None:
        best = f"{record.n_hits} in the window"
    write(
        f"round {record.round:3d} ({record.kind:7s}) measured {len(record.proposals):3d}, total {record.n_measured}/{budget}, "
        f"{best}" + (f"; triage: {counts}" if counts else "") + f" [{record.seconds:.1f} s]"
    )


def _drive(campaign: Any, quiet: bool) -> int:
    from discovery_loop.oracles import MeasurementPending

    budget = campaign.config.budget
    try:
        reason = campaign.run(on_round=lambda record, write: _print_round(record, budget, quiet, write))
    except MeasurementPending as exc:
        print(f"{exc}\nThat is: run 'discovery-loop resume --ledger {campaign.ledger.path}' once the file is there.")
        return EXIT_WAITING
    hits = campaign.n_hits()
    best = campaign.best()
    found = (f"{hits} measured values in the window" if hits is not None else
             f"best {campaign.config.target} = {best:.4g}" if best is not None else "no current measurement")
    print(f"campaign finished: {reason}; {found}; ledger {campaign.ledger.path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from discovery_loop.campaign import CampaignConfig, Goal, open_campaign

    if args.window is not None:
        goal = Goal("window", *args.window)
    elif args.maximize or args.minimize:
        goal = Goal("maximize" if args.maximize else "minimize")
    else:
        raise InputError("say what the campaign looks for: --maximize, --minimize or --window LOW HIGH.")
    config = CampaignConfig(
        target=args.target,
        goal=goal,
        budget=args.budget,
        batch_size=args.batch_size,
        seed=args.seed,
        strategy=args.strategy,  # None: window for a window goal, else ei
        strategy_params=_parse_params(args.strategy_params, "--strategy-params"),
        selector=args.selector,
        selector_params=_parse_params(args.selector_params, "--selector-params"),
        gate_params=_parse_params(args.gate_params, "--gate-params"),
        value_range=None if args.value_range is None else tuple(args.value_range),
        initial_design=args.initial_design,
        n_initial=args.n_initial,
        model=args.model,
        lower_bound=args.lower_bound,
        upper_bound=args.upper_bound,
        model_params=_parse_params(args.model_params, "--model-params"),
        mdn_params=_parse_params(args.mdn_params, "--mdn-params"),
        diagnose=not args.no_diagnostics,
        gate=None if args.gate == "none" else args.gate,
        stop_at=args.stop_at,
        patience=args.patience,
        warm_start=args.warm_start,
        warm_start_epochs=args.warm_start_epochs,
        recalibrate=args.recalibrate,
        polymorph_prior=args.polymorph_prior,
        plugins=tuple(args.plugin or ()),
    )
    try:
        campaign = open_campaign(args.ledger, config=config, source=_source_from_args(args), progress=args.progress)
    except FormulaError as exc:  # in this command's words: file lines, and no --errors option here
        where = args.data or f"the data set {args.dataset}"
        raise exc.for_command_line(
            f"Fix or remove these lines of {where} and run again: a campaign needs descriptors for every candidate, "
            "so 'discovery-loop run' has no option to skip bad formulas ('bdl featurize POOL.csv --formula-column "
            f"{args.formula_column} --errors coerce -o OUT.csv' lists and marks them all).",
            csv_record_lines(args.data) if args.data else None) from None
    return _run_campaign(
        campaign, args, f"campaign on {len(campaign.pool)} candidates, looking for {goal.describe()} of {args.target} "
        f"(strategy {config.strategy}); ledger {args.ledger}"
    )


def _run_campaign(campaign: Any, args: argparse.Namespace, opening: str) -> int:
    """Drive an open campaign to its end (or to a pending lab file), then write the report if asked."""
    try:
        print(opening)
        code = _drive(campaign, args.quiet)
    finally:
        campaign.ledger.close()
    if code == 0 and args.report is not None:
        return _report(args.ledger, args.report)
    return code


def _cmd_resume(args: argparse.Namespace) -> int:
    from discovery_loop.campaign import open_campaign

    campaign = open_campaign(args.ledger, progress=args.progress)
    try:
        opening = (f"resuming the campaign in {args.ledger}: {len(campaign.measured())} measurements, "
                   f"{campaign.ledger.n_rounds()} rounds recorded")
    except BaseException:
        campaign.ledger.close()
        raise
    return _run_campaign(campaign, args, opening)


def _triage_lines(rounds: Any) -> list[str]:
    """``status`` lines for the diagnostics of the last model round (counts, reasons, the gate)."""
    model = rounds[rounds["kind"] == "model"] if "kind" in rounds.columns else rounds.iloc[:0]
    if model.empty or "triage_counts" not in model.columns:
        return []
    row = model.iloc[-1]
    raw = row.get("triage_summary") if "triage_summary" in model.columns else None
    if isinstance(raw, str):
        s = json.loads(raw)
        c = s["counts"]
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items() if v)
        out = [f"triage      round {int(row['round'])}: {s['n_flagged']} of {s['n_candidates']} candidates flagged "
               f"bimodal or misspecified ({counts})"]
        for r in s["top_reasons"]:
            out.append(f"            {r['count']}: {r['reason']}")
        if s.get("evidence"):
            out.append(f"evidence    {s['evidence']['text']}")
        g = s["gate"]
        if g["action"]:
            out.append(f"gate        {g['action']}: acted on {g['n_gated']} candidates, left {g['n_flagged_not_gated']} "
                       f"flagged ones alone; proposed {g['n_proposed_flagged']} flagged of {g['n_proposed']}"
                       + (f" ({g['why_flagged_proposed']})" if g["why_flagged_proposed"] else ""))
        elif g["n_proposed_flagged"]:
            out.append(f"gate        none: {g['why_flagged_proposed']}")
        return out
    raw_counts = row.get("triage_counts")
    if isinstance(raw_counts, str) and raw_counts not in ("", "{}"):
        c = json.loads(raw_counts)
        return [f"triage      round {int(row['round'])}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(c.items()))]
    return []


def _cmd_status(args: argparse.Namespace) -> int:
    from discovery_loop.ledger import Ledger, lock_holder
    from discovery_loop.report import campaign_summary

    with Ledger(args.ledger, lock=False) as ledger:
        s = campaign_summary(ledger)
        pending = ledger.pending()
        events = ledger.events()
        history = ledger.measurement_history()
        rounds = ledger.table("rounds")
    running = lock_holder(args.ledger)
    print(f"ledger      {args.ledger}")
    print(f"campaign    {s['target']}: {s['goal']}; strategy {s['strategy']}; model {s['model']}; seed {s['seed']}")
    print(f"progress    {s['n_measured']}/{s['budget']} measurements in {s['n_rounds']} rounds (batch {s['batch_size']}, pool {s['n_pool']})")
    if s["goal_kind"] == "window":
        print(f"hits        {s['n_hits']} measured values in [{s['window_low']:g}, {s['window_high']:g}]")
    elif s["best"] is not None:
        print(f"best        {s['best']:.4g} ({s['best_id']})")
    if "n_targets" in s:
        print(f"found       {s['n_found']} of {s['n_targets']} targets ({s['found_fraction']:.0%}); random picking would find "
              f"{s['random_expected_found']:.1f} ({s['random_found_low']}-{s['random_found_high']} in 90 % of tries)")
    if len(pending):
        print(f"pending     {len(pending)} proposals of round {int(pending['round'].iloc[0])} await measurement")
    for line in _triage_lines(rounds):
        print(line)
    corrected = history[history["status"] != "measured"]
    if len(corrected):
        print(f"corrections {len(corrected)} measurement(s) corrected (current value; history):")
        for r in corrected.itertuples():
            now = "retracted" if r.status == "retracted" else f"{r.value:.6g}"
            print(f"            {r.id}: {now}; {r.corrections}")
    runs = events[~events["kind"].isin(["amend", "retract"])]
    last = runs.iloc[-1] if len(runs) else None
    state = "running (" + running + ")" if running else ("finished: " + str(last["message"]) if last is not None and last["kind"] == "finished" else "stopped; 'discovery-loop resume' continues it")
    print(f"state       {state}")
    return 0


def _report(ledger_path: str, out: str) -> int:
    from discovery_loop.ledger import Ledger
    from discovery_loop.report import campaign_report

    with Ledger(ledger_path, lock=False) as ledger:
        path = campaign_report(ledger, out)
    print(f"campaign report -> {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    if len(args.ledger) == 1:
        return _report(args.ledger[0], args.output)
    from discovery_loop.ledger import Ledger
    from discovery_loop.report import comparison_report

    ledgers = [Ledger(p, lock=False) for p in args.ledger]
    try:
        path = comparison_report(ledgers, args.output)
    finally:
        for lg in ledgers:
            lg.close()
    print(f"comparison of {len(ledgers)} campaigns -> {path}")
    return 0


def _cmd_amend(args: argparse.Namespace) -> int:
    from discovery_loop.ledger import Ledger

    with Ledger(args.ledger) as ledger:
        value_range = ledger.config.get("value_range")
        done = ledger.amend(args.id, args.value, args.reason, value_range=None if value_range is None else tuple(value_range))
    previous = "retracted" if done["previous_value"] is None else f"{done['previous_value']:.6g}"
    print(f"amended {done['id']!r}: {previous} -> {done['value']:.6g} ({done['reason']}); later rounds train on the new value")
    return 0


def _cmd_retract(args: argparse.Namespace) -> int:
    from discovery_loop.ledger import Ledger

    with Ledger(args.ledger) as ledger:
        done = ledger.retract(args.id, args.reason)
    print(f"retracted {done['id']!r} (was {done['previous_value']:.6g}; {done['reason']}); later rounds leave it out")
    return 0


def _cmd_pools(args: argparse.Namespace) -> int:
    from bdl.data import load_dataset
    from discovery_loop.pools import POOLS

    print(f"{'pool':20s} {'rows':>7s}  {'target':18s} {'goal':34s} inputs")
    for name, spec in POOLS.items():
        n = len(load_dataset(spec.dataset, check_formulas=False))
        print(f"{name:20s} {n:7d}  {spec.target:18s} {spec.goal:34s} {spec.inputs}  ({spec.note})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="discovery-loop", description="Active-learning campaigns for materials discovery.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start a campaign and run it to the end")
    src = p.add_argument_group("pool")
    src.add_argument("--data", help="CSV with one row per candidate (with the target column for a simulated campaign)")
    src.add_argument("--dataset", help="a shipped data set instead of --data (see 'discovery-loop pools')")
    src.add_argument("--target", required=True, help="the property to measure (column of the pool)")
    src.add_argument("--formula-column", help="composition column: Magpie descriptors are computed from it")
    src.add_argument("--feature-columns", help="comma-separated numeric descriptor columns")
    src.add_argument("--id-column", help="unique candidate IDs (default: the formula if unique, else the row number)")
    goal = p.add_argument_group("goal").add_mutually_exclusive_group()
    goal.add_argument("--maximize", action="store_true", help="look for the largest value")
    goal.add_argument("--minimize", action="store_true", help="look for the smallest value")
    goal.add_argument("--window", nargs=2, type=float, metavar=("LOW", "HIGH"), help="look for values in [LOW, HIGH]")
    loop = p.add_argument_group("loop")
    loop.add_argument("--budget", type=int, required=True, help="total measurements, initial design included")
    loop.add_argument("--batch-size", type=int, required=True, help="measurements per round")
    loop.add_argument("--seed", type=int, required=True, help="campaign seed (same seed, same campaign)")
    loop.add_argument("--ledger", required=True, help="SQLite ledger to create")
    loop.add_argument("--strategy", default=None,
                      help="acquisition function (default: window for a window goal, else greedy with prior_gp and ei "
                           "with the networks), or one a --plugin registers")
    loop.add_argument("--strategy-params", help="JSON object of acquisition parameters, e.g. '{\"beta\": 2}'")
    loop.add_argument("--selector", default="topk", help="batch selection: topk or a diversity method (default topk)")
    loop.add_argument("--selector-params", help="JSON object of batch-selection parameters, e.g. '{\"min_distance\": 0.5}'")
    loop.add_argument("--gate-params", help="JSON object of diagnostics-gate settings, e.g. '{\"weight\": 0.1}'")
    loop.add_argument("--value-range", nargs=2, type=float, metavar=("LO", "HI"),
                      help="plausible range of a measured value: lab files and corrections outside it are rejected")
    loop.add_argument("--initial-design", default="random", choices=["random", "space_filling"])
    loop.add_argument("--n-initial", type=int, help="size of the initial design (default: the batch size)")
    loop.add_argument("--model", default="prior_gp",
                      help="prior_gp (default: exact GP on the DFT prior's features, bdl.models.recommended), "
                           "mc_dropout, ensemble, variational, or a model a --plugin registers")
    loop.add_argument("--lower-bound", type=float, metavar="X",
                      help="physical lower bound of the target (0 for a band gap): no interval crosses it")
    loop.add_argument("--upper-bound", type=float, metavar="X", help="physical upper bound of the target")
    loop.add_argument("--model-params", help="JSON object overriding the model's settings")
    loop.add_argument("--mdn-params", help="JSON object overriding the diagnostics MDN's settings")
    loop.add_argument("--gate", default="none",
                      help="what the diagnostics gate does with flagged candidates: none (default: record only), "
                           "skip, downweight or mixture")
    loop.add_argument("--recalibrate", default="none", metavar="NAME",
                      help="refit a recalibrator each round on cross-fitted predictions of the measured points and "
                           "let the recalibrated predictive drive the acquisition: none (default), isotonic, conformal "
                           "or std_scaling")
    loop.add_argument("--plugin", action="append", metavar="MODULE",
                      help="import a Python module that registers models, acquisition functions, selectors, gates or "
                           "recalibrators (bdl.registry) before the names are resolved; repeatable; kept in the ledger")
    loop.add_argument("--no-diagnostics", action="store_true", help="skip the mixture-density diagnostics (faster)")
    loop.add_argument("--polymorph-prior", action="store_true",
                      help="compositions: the diagnostics also read the shipped polymorph prior (learnt from the DFT "
                           "structures), calling a candidate bimodal when its chemistry has polymorphs of very different gap")
    loop.add_argument("--stop-at", type=float, help="stop once a measured value reaches this (window: number of hits)")
    loop.add_argument("--patience", type=int, help="stop after this many rounds without improvement")
    loop.add_argument("--warm-start", action="store_true",
                      help="continue the previous round's networks instead of training from scratch (faster rounds)")
    loop.add_argument("--warm-start-epochs", type=int, help="epoch limit of the warm-started fits (default: the model's)")
    orc = p.add_argument_group("oracle")
    orc.add_argument("--oracle", default="lookup", choices=["lookup", "file"],
                     help="lookup: the pool's own target column (simulation); file: hand proposals to a lab via --lab-dir")
    orc.add_argument("--lab-dir", help="folder for proposals_round_N.csv / measured_round_N.csv (file oracle)")
    orc.add_argument("--wait", action="store_true",
                     help="file oracle: keep polling for the lab's file (default: record the proposals and exit; resume later)")
    orc.add_argument("--noise-std", type=float, default=0.0, help="simulated measurement noise (lookup oracle)")
    p.add_argument("--report", metavar="DIR", help="write the campaign report to DIR at the end")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("resume", help="continue a campaign from its ledger")
    p.add_argument("--ledger", required=True)
    p.add_argument("--report", metavar="DIR", help="write the campaign report to DIR at the end")
    p.set_defaults(func=_cmd_resume)

    for p in (sub.choices["run"], sub.choices["resume"]):
        p.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show the progress bar")
        p.add_argument("--no-progress", dest="progress", action="store_false", help="never show the progress bar")
        p.add_argument("--quiet", action="store_true", help="no line per round")

    p = sub.add_parser("status", help="where a campaign stands")
    p.add_argument("--ledger", required=True)
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("report", help="write the campaign report (HTML + CSV) from a ledger, or compare several")
    p.add_argument("--ledger", required=True, nargs="+",
                   help="one ledger (its full report) or several campaigns on the same pool (bands over seeds per strategy)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("pools", help="list the shipped data sets usable as simulated-campaign pools")
    p.set_defaults(func=_cmd_pools)

    p = sub.add_parser("amend", help="correct a recorded measurement (append-only; the history is kept)")
    p.add_argument("--ledger", required=True)
    p.add_argument("--id", required=True, help="the candidate's ID")
    p.add_argument("--value", required=True, help="the corrected value")
    p.add_argument("--reason", required=True, help="why, in words (kept in the ledger)")
    p.set_defaults(func=_cmd_amend)

    p = sub.add_parser("retract", help="withdraw a recorded measurement (later rounds leave it out; history kept)")
    p.add_argument("--ledger", required=True)
    p.add_argument("--id", required=True, help="the candidate's ID")
    p.add_argument("--reason", required=True, help="why, in words (kept in the ledger)")
    p.set_defaults(func=_cmd_retract)

    for p in sub.choices.values():
        p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``discovery-loop`` console script."""
    from bdl._io import error_sentence

    args = build_parser().parse_args(argv)
    ledger = getattr(args, "ledger", None)
    ledger = ledger[0] if isinstance(ledger, list) and len(ledger) == 1 else ledger
    resume = f"discovery-loop resume --ledger {ledger}" if args.command in ("run", "resume") and ledger else None
    try:
        return int(args.func(args))
    except BDLError as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"discovery-loop {args.command}: error: {cli_text(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        sentence = error_sentence(exc, hint_path=None if isinstance(ledger, list) else ledger, resume=resume)
        if sentence is None:
            raise
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"discovery-loop {args.command}: error: {sentence}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
