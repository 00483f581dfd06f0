"""The ``discovery-loop`` command line.

``discovery-loop pools``  list the shipped data sets that can serve as simulated-campaign pools
"""

from __future__ import annotations

import argparse
import sys

from bdl.errors import BDLError

__all__ = ["main"]


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
    p = sub.add_parser("pools", help="list the shipped data sets usable as simulated-campaign pools")
    p.set_defaults(func=_cmd_pools)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``discovery-loop`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BDLError as exc:
        print(f"discovery-loop {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
