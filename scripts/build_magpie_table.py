"""Rebuild ``bdl/data/magpie/magpie_elements.csv`` from matminer's Magpie tables.

Run once by a developer (needs matminer, a test-only dependency):
``python scripts/build_magpie_table.py``. The CSV holds the raw values for Z = 1..118 of the
22 properties of ``ElementProperty.from_preset("magpie")``, read exactly the way matminer's
``MagpieData`` reads them (a value that does not parse as a float is missing, NaN).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matminer
import numpy as np
import pandas as pd
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Element

OUT = Path(__file__).resolve().parents[1] / "bdl" / "data" / "magpie"


def main() -> None:
    src = Path(matminer.__file__).parent / "utils" / "data_files" / "magpie_elementdata"
    props = ElementProperty.from_preset("magpie").features
    table: dict[str, list[float]] = {}
    for prop in props:
        lines = (src / f"{prop}.table").read_text().splitlines(keepends=True)
        values = []
        for z in range(1, 119):
            try:
                values.append(float(lines[z - 1]))
            except (ValueError, IndexError):
                values.append(float("nan"))
        table[prop] = values
    frame = pd.DataFrame(table)
    frame.insert(0, "symbol", [Element.from_Z(z).symbol for z in range(1, 119)])
    frame.insert(0, "Z", np.arange(1, 119))
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "magpie_elements.csv", index=False, float_format="%.17g", na_rep="nan")
    lic = Path(matminer.__file__).parent.parent / f"matminer-{matminer.__version__}.dist-info" / "licenses" / "LICENSE"
    if lic.exists():
        shutil.copy(lic, OUT / "matminer_LICENSE.txt")
    print(f"wrote {OUT / 'magpie_elements.csv'} ({frame.shape[0]} elements x {len(props)} properties)")


if __name__ == "__main__":
    main()
