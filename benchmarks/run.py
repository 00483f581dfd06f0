"""Run the benchmarks: ``python -m benchmarks.run [SUITE ...] [--quick]`` (default: all).

Suites: featurize, expt_gap, uci, calibration, diagnostics_synthetic, diagnostics_polymorphs,
rohr, gate, speed, round_latency, small_data, campaigns_vs_peers, recalibration_campaigns, prior_transfer.

Results go to ``benchmarks/results/*.md`` and ``*.json`` with the date and machine.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import featurize_speed


def _expt_gap(quick: bool) -> None:
    from benchmarks import expt_gap_models

    sys.argv = ["expt_gap_models"] + (["--quick"] if quick else [])
    expt_gap_models.main()


def _uci(quick: bool) -> None:
    from benchmarks import uci

    sys.argv = ["uci"] + (["--quick", "--splits", "0-1"] if quick else [])
    uci.main()


def _argv_main(module: str, quick: bool) -> None:
    """Run a benchmark module whose ``main()`` reads ``sys.argv``."""
    import importlib

    mod = importlib.import_module(f"benchmarks.{module}")
    sys.argv = [module] + (["--quick"] if quick else [])
    mod.main()


def _diagnostics_synthetic(quick: bool) -> None:
    from benchmarks import diagnostics_synthetic

    diagnostics_synthetic.main(["--quick"] if quick else [])


def _diagnostics_polymorphs(quick: bool) -> None:
    from benchmarks import diagnostics_polymorphs

    diagnostics_polymorphs.main(["--quick"] if quick else [])


def _calibration(quick: bool) -> None:
    from benchmarks import calibration_example

    calibration_example.main(quick=quick)


def _speed(quick: bool) -> None:
    from benchmarks import speed

    speed.run(quick=quick)


def _round_latency(quick: bool) -> None:
    from benchmarks import round_latency

    round_latency.run(quick=quick)


SUITES = {
    "featurize": featurize_speed.run,
    "expt_gap": _expt_gap,
    "uci": _uci,
    "calibration": _calibration,
    "diagnostics_synthetic": _diagnostics_synthetic,
    "diagnostics_polymorphs": _diagnostics_polymorphs,
    "rohr": lambda quick: _argv_main("rohr_campaigns", quick),
    "gate": lambda quick: _argv_main("gate_campaigns", quick),
    "speed": _speed,
    "round_latency": _round_latency,
    "small_data": lambda quick: __import__("benchmarks.small_data", fromlist=["main"]).main(["--quick"] if quick else []),
    "campaigns_vs_peers": lambda quick: __import__("benchmarks.campaigns_vs_peers", fromlist=["main"]).main(
        ["--seeds", "1", "--sets", "perovskite"] if quick else []),
    "recalibration_campaigns": lambda quick: __import__("benchmarks.recalibration_campaigns", fromlist=["main"]).main(
        ["--seeds", "1", "--sets", "perovskite"] if quick else []),
    "prior_transfer": lambda quick: __import__("benchmarks.prior_transfer", fromlist=["main"]).main(
        ["--subsets", "1", "--sets", "perovskite", "--n", "20"] if quick else []),
    "fit_memory": lambda quick: __import__("benchmarks.fit_memory", fromlist=["main"]).main(),  # a few minutes either way
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", choices=[*SUITES, []], help="which to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the scripts run")
    args = parser.parse_args()
    for name in args.suites or list(SUITES):
        print(f"== {name}")
        SUITES[name](quick=args.quick)


if __name__ == "__main__":
    main()
