"""Run the benchmarks: ``python -m benchmarks.run [featurize] [expt_gap] [uci] [--quick]``.

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


SUITES = {"featurize": featurize_speed.run, "expt_gap": _expt_gap, "uci": _uci}


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
