"""Rebuild the shipped lookup of computed PBE gaps (``bdl/data/prior/dft_gap_lookup.npz``), deterministically.

For every composition of Matbench's ``matbench_mp_gap`` (106 113 Materials Project structures,
shipped in ``bdl/data/files``) it stores the key of its 132 Magpie descriptors
(:func:`bdl.prior.descriptor_keys`) and the lowest and highest PBE gap, and the number, of its
structures. :class:`bdl.prior.DFTGapPrior` reads it (its ``dft_known`` / ``dft_gap_known_*``
columns). Licence: as the prior (CC-BY-4.0, derived from Materials Project data;
``bdl/data/prior/LICENSE.md``).

Run from the repository root::

    python scripts/build_dft_lookup.py            # writes bdl/data/prior/dft_gap_lookup.npz
    python scripts/build_dft_lookup.py --check    # rebuilds in memory, compares with the shipped file
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shipped_arrays import rebuild_main  # noqa: E402  (the scripts folder is not a package)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bdl" / "data" / "prior" / "dft_gap_lookup.npz"


def build() -> dict[str, np.ndarray]:
    import pandas as pd

    from bdl.data import load_matbench_mp_gap
    from bdl.data.polymorphs import composition_keys
    from bdl.features import featurize
    from bdl.prior import descriptor_keys

    df = load_matbench_mp_gap(check_formulas=False)
    keys = descriptor_keys(featurize(df["composition"]).to_numpy(np.float64))
    frame = pd.DataFrame({"key": keys, "gap": df["gap_pbe_eV"].to_numpy(np.float64),
                          "composition": composition_keys(df["composition"]).to_numpy()})
    # two different compositions with one key would merge their gaps: say so (none in this data)
    clashes = int((frame.groupby("key")["composition"].nunique() > 1).sum())
    if clashes:
        raise SystemExit(f"{clashes} descriptor keys are shared by different compositions; raise _KEY_BITS")
    grouped = frame.groupby("key", sort=True)["gap"]
    table = pd.DataFrame({"gap_min": grouped.min(), "gap_max": grouped.max(), "count": grouped.size()})
    meta = {
        "name": "dft_gap_lookup",
        "version": 1,
        "source": "matbench_mp_gap (Materials Project PBE band gaps, 106113 structures)",
        "licence": "CC-BY-4.0 (derived from Materials Project data); see bdl/data/prior/LICENSE.md",
        "keys": "bdl.prior.descriptor_keys of the 132 Magpie descriptors (bdl.features.featurize)",
        "compositions": int(len(table)),
        "structures": int(len(frame)),
    }
    print(f"{len(table)} compositions from {len(frame)} structures; {int((table['count'] > 1).sum())} with several")
    return {"keys": table.index.to_numpy(np.uint64), "gap_min": table["gap_min"].to_numpy(np.float32),
            "gap_max": table["gap_max"].to_numpy(np.float32), "count": table["count"].to_numpy(np.uint16),
            "meta": np.array(json.dumps(meta, sort_keys=True))}


def main() -> int:
    return rebuild_main(__doc__.split("\n")[0], build, OUT, "lookup")


if __name__ == "__main__":
    raise SystemExit(main())
