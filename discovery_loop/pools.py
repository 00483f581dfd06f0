"""The shipped data sets described as candidate pools for simulated campaigns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["POOLS", "PoolSpec"]


@dataclass(frozen=True)
class PoolSpec:
    """How a shipped data set serves as a pool: which column is measured and which way is better."""

    dataset: str
    target: str
    goal: str
    inputs: str
    note: str


POOLS: dict[str, PoolSpec] = {
    "matbench_expt_gap": PoolSpec("matbench_expt_gap", "gap_expt_eV", "window 1.1-1.7 eV (photovoltaics)",
                                  "composition", "experimental band gaps; 53 % metals at 0 eV"),
    "matbench_mp_gap": PoolSpec("matbench_mp_gap", "gap_pbe_eV", "maximize or window", "composition",
                                "DFT band gaps with polymorphs: bimodal by composition"),
    "rohr2020": PoolSpec("rohr2020", "overpotential_V", "minimize", "11 element fractions",
                         "four OER catalyst plates, about 2120 candidates each"),
    "liang2021": PoolSpec("liang2021", "instability_index", "minimize", "CsPbI, FAPbI, MAPbI fractions",
                          "139 perovskite compositions"),
}
