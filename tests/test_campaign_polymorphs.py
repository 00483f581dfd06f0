"""The shipped polymorph prior in a campaign (issue 13): opt-in, read by the triage of a pool of compositions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bdl.errors import InputError
from discovery_loop.campaign import CampaignConfig, Goal, open_campaign
from discovery_loop.ledger import Ledger
from tests.campaign_helpers import TINY_MDN, pool_csv, source

#: compositions the prior ranks as polymorph-rich (carbon, II-VI, TiO2) and as single-phase alloys
POLYMORPHIC = ["C", "CdSe", "HgS", "TiO2"]
FORMULAS = POLYMORPHIC + ["Cu3Au", "NiAl", "Fe3Al", "CuZn", "NaCl", "KCl", "MgO", "CaO", "LiF", "NaF", "KBr", "CsCl",
                          "AlN", "GaN", "ZnO", "SiO2", "Al2O3", "MgAl2O4", "BaTiO3", "SrTiO3"]


def _formula_pool(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "compositions.csv"
    pd.DataFrame({"formula": FORMULAS, "gap": rng.uniform(0.0, 5.0, len(FORMULAS))}).to_csv(path, index=False)
    return path


def test_the_polymorph_prior_flags_polymorph_rich_candidates(tmp_path: Path) -> None:
    cfg = CampaignConfig(target="gap", goal=Goal("maximize"), budget=10, batch_size=4, n_initial=6, seed=0,
                         mdn_params=TINY_MDN, polymorph_prior=True, lower_bound=0.0)
    src = {"data": str(_formula_pool(tmp_path)), "dataset": None, "id_column": None, "formula_column": "formula",
           "feature_columns": None, "oracle": "lookup", "lab_dir": None, "noise_std": 0.0, "wait": False}
    campaign = open_campaign(tmp_path / "l.sqlite", config=cfg, source=src, progress=False)
    campaign.run()
    campaign.ledger.close()
    with Ledger(tmp_path / "l.sqlite", lock=False) as ledger:
        assert ledger.config["polymorph_prior"] is True
        rounds = ledger.table("rounds")
    counts = json.loads(rounds[rounds["kind"] == "model"]["triage_counts"].iloc[0])
    assert counts.get("bimodal", 0) >= 1 and counts.get("misspecified", 0) == 0  # 6 rows: the MDN alone is unsure
    summary = json.loads(rounds[rounds["kind"] == "model"]["triage_summary"].iloc[0])
    assert "likely polymorphs" in json.dumps(summary)


def test_the_polymorph_prior_needs_compositions_and_diagnostics(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs diagnose=True"):
        CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0, diagnose=False,
                       polymorph_prior=True)
    cfg = CampaignConfig(target="y", goal=Goal("maximize"), budget=10, batch_size=2, seed=0, polymorph_prior=True)
    with pytest.raises(InputError, match="formula column"):
        open_campaign(tmp_path / "l.sqlite", config=cfg, source=source(pool_csv(tmp_path, n=20)), progress=False)
    assert not (tmp_path / "l.sqlite").exists()
