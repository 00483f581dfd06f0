"""Run the benchmarks: ``python -m benchmarks.run [featurize] [expt_gap] [uci] [speed] [round_latency] [--quick]``.

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
    "speed": _speed,
    "round_latency": _round_latency,
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
