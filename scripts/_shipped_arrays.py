"""The command line shared by the scripts that rebuild a shipped ``.npz`` (``--check`` compares)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np


def rebuild_main(description: str, build: Callable[[], dict[str, np.ndarray]], shipped: Path, what: str,
                 ignore: Collection[str] = ()) -> int:
    """Build the arrays; with ``--check`` compare them with ``shipped`` (keys in ``ignore`` aside,
    e.g. a build time), else write them to ``-o`` (default: ``shipped``). Returns the exit status."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"rebuild and compare with the shipped {what}")
    parser.add_argument("-o", "--output", default=str(shipped))
    args = parser.parse_args()
    arrays = build()
    if args.check:
        with np.load(shipped, allow_pickle=False) as old:
            keys = set(arrays) - set(ignore)
            same = keys == set(old.files) - set(ignore) and all(np.array_equal(old[k], arrays[k]) for k in keys)
        print(f"identical to the shipped {what}" if same else f"DIFFERS from the shipped {what}")
        return 0 if same else 1
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0
