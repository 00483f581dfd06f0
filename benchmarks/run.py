"""Run the benchmarks: ``python -m benchmarks.run [featurize] [expt_gap] [--quick]``.

Results go to ``benchmarks/results/*.md`` and ``*.json`` with the date and machine.
"""

from __future__ import annotations

import argparse

from benchmarks import expt_gap_cv, featurize_speed

SUITES = {"featurize": featurize_speed.run, "expt_gap": expt_gap_cv.run}


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
