"""Tests of :mod:`bdl.data.polymorphs`: reduced-formula keys, the polymorph table, the group split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdl.data.polymorphs import composition_keys, composition_split, polymorph_table
from bdl.errors import FormulaError, InputError


@pytest.mark.parametrize(
    ("formula", "key"),
    [
        ("K4Mn4O8", "KMnO2"),
        ("C8", "C"),
        ("NaCl", "NaCl"),
        ("Cl1Na1", "NaCl"),  # electronegativity order, as pymatgen writes it
        ("Se2Cd2", "CdSe"),
        ("N4B4", "BN"),
        ("S3Hg3", "HgS"),
        ("Ca5(PO4)3F", "Ca5P3O12F"),
        ("Fe0.5O0.5", "FeO"),  # fractions become whole numbers where a small total allows
        ("Fe0.33333333O0.66666667", "FeO2"),
        ("Ni0.1Fe0.2Co0.6Mn0.1", "MnFe2Co6Ni"),
        ("Fe0.3O0.7001", "Fe0.29997O0.70003"),  # no small whole-number total: fractions kept
        ("LiNe", "LiNe"),  # no electronegativity for Ne: last
    ],
)
def test_composition_keys_examples(formula: str, key: str) -> None:
    assert composition_keys([formula]).tolist() == [key]


def test_composition_keys_keeps_series_index_and_repeats() -> None:
    s = pd.Series(["C2", "C", "CdSe"], index=[10, 11, 12])
    keys = composition_keys(s)
    assert keys.index.tolist() == [10, 11, 12]
    assert keys.tolist() == ["C", "C", "CdSe"]


def test_composition_keys_bad_formula_names_the_row() -> None:
    with pytest.raises(FormulaError) as info:
        composition_keys(["NaCl", "Xx2O", "C"])
    assert "Xx2O" in str(info.value)


_ELEMENTS = ["H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "S", "Cl", "Fe", "Cd", "Se", "Hg"]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_ELEMENTS), st.integers(1, 9), min_size=1, max_size=4),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
def test_composition_keys_ignore_order_and_multiples(amounts: dict[str, int], factor: int, rnd) -> None:
    items = list(amounts.items())
    rnd.shuffle(items)
    base = "".join(f"{el}{n}" for el, n in amounts.items())
    scaled = "".join(f"{el}{n * factor}" for el, n in items)
    fractional = "".join(f"{el}{n / sum(amounts.values()):.10f}" for el, n in items)
    keys = composition_keys([base, scaled, fractional]).tolist()
    assert keys[0] == keys[1] == keys[2]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "composition": ["C2", "C8", "Si", "CdSe", "Se2Cd2", "Cd3Se3", "C"],
            "gap": [5.0, 0.0, 1.1, 0.0, 1.7, 3.6, 4.0],
        }
    )


def test_polymorph_table_values() -> None:
    table = polymorph_table(_frame(), "gap")
    assert table.index.tolist() == ["C", "CdSe", "Si"]  # sorted by spread, largest first
    assert table.loc["C", "n"] == 3 and table.loc["CdSe", "n"] == 3 and table.loc["Si", "n"] == 1
    assert table.loc["C", "min"] == 0.0 and table.loc["C", "max"] == 5.0
    assert table.loc["C", "spread"] == pytest.approx(5.0)
    assert table.loc["CdSe", "mean"] == pytest.approx((0.0 + 1.7 + 3.6) / 3)
    assert table.loc["Si", "spread"] == 0.0
    assert table.loc["C", "rows"] == [0, 1, 6]
    assert table.loc["CdSe", "rows"] == [3, 4, 5]
    assert list(table.columns) == ["n", "min", "max", "mean", "spread", "rows"]


def test_polymorph_table_min_count_and_non_default_index() -> None:
    df = _frame()
    df.index = np.arange(100, 107)
    table = polymorph_table(df, "gap", min_count=2)
    assert table.index.tolist() == ["C", "CdSe"]
    assert table.loc["C", "rows"] == [0, 1, 6]  # positions, not labels


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target_column": "nope"}, "target_column='nope'"),
        ({"target_column": "gap", "formula_column": "formula"}, "formula_column='formula'"),
        ({"target_column": "gap", "min_count": 0}, "min_count"),
        ({"target_column": "composition"}, "numeric"),
    ],
)
def test_polymorph_table_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        polymorph_table(_frame(), **kwargs)


def test_polymorph_table_on_matbench_mp_gap() -> None:
    from bdl.data import load_matbench_mp_gap

    df = load_matbench_mp_gap(check_formulas=False)
    table = polymorph_table(df, "gap_pbe_eV", min_count=2)
    # the numbers quoted in load_matbench_mp_gap's docstring
    assert len(table) == 11788
    assert int((table["spread"] > 1.5).sum()) == 455
    for name in ("C", "BN", "CdSe", "HgS"):
        assert table.loc[name, "spread"] > 1.5
        rows = table.loc[name, "rows"]
        assert composition_keys(df["composition"].iloc[rows].tolist()).eq(name).all()
    assert int(table["n"].sum()) == len(df) - int((polymorph_table(df, "gap_pbe_eV")["n"] == 1).sum())


def test_composition_split_keeps_compositions_together() -> None:
    formulas = ["C2", "C8", "Si", "CdSe", "Se2Cd2", "NaCl", "Cl2Na2", "GaAs", "BN", "N2B2", "MgO", "ZnO"] * 3
    train, test = composition_split(formulas, test_fraction=0.3, seed=1)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(formulas)))
    keys = composition_keys(formulas).to_numpy()
    assert not set(keys[train]) & set(keys[test])
    assert len(set(keys[test])) == round(0.3 * len(set(keys)))
    again = composition_split(formulas, test_fraction=0.3, seed=1)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)


def test_composition_split_keep_in_train() -> None:
    formulas = ["C2", "C8", "Si", "CdSe", "Se2Cd2", "NaCl", "GaAs", "BN", "MgO", "ZnO"]
    keys = composition_keys(formulas).to_numpy()
    for seed in range(10):
        train, test = composition_split(formulas, test_fraction=0.5, seed=seed, keep_in_train=["C", "Cd2Se2"])
        assert {"C", "CdSe"} <= set(keys[train])
        assert not {"C", "CdSe"} & set(keys[test])


@pytest.mark.parametrize("fraction", [0, 1, -0.1, "a"])
def test_composition_split_bad_fraction(fraction) -> None:
    with pytest.raises(InputError, match="test_fraction"):
        composition_split(["C", "Si"], test_fraction=fraction)


# --- the shipped polymorph prior (bdl/data/prior/polymorph_prior.npz) ----------------------------------------------


def test_polymorph_prior_loads_fast_and_is_deterministic() -> None:
    import time

    from bdl.diagnostics import PolymorphPrior, load_polymorph_prior
    from bdl.diagnostics.polymorph_prior import _FILE
    from importlib import resources

    load_polymorph_prior.cache_clear()
    t0 = time.perf_counter()
    prior = load_polymorph_prior()
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(prior, PolymorphPrior) and load_polymorph_prior() is prior
    assert prior.n_features_in_ == 132 and prior.n_groups_ > 10000
    assert 0.05 < prior.min_replicate_spread < 2.0
    assert prior.meta["licence"].startswith("CC-BY-4.0") and prior.meta["cv_auc"] > 0.8
    assert prior.thresholds().min_replicate_spread == prior.min_replicate_spread
    with resources.as_file(resources.files("bdl.data").joinpath("prior", _FILE)) as p, np.load(p) as data:
        fresh = PolymorphPrior({k: data[k] for k in data.files})
    X = np.random.default_rng(0).normal(size=(50, 132))
    np.testing.assert_array_equal(prior.predict(X), fresh.predict(X))
    assert prior.predict(X).shape == (50,) and (prior.predict(X) >= 0).all()


def test_polymorph_prior_ranks_polymorph_rich_compositions_above_single_phase_ones() -> None:
    from bdl.diagnostics import load_polymorph_prior
    from bdl.features import featurize

    rich = ["C", "CdSe", "HgS", "TiO2"]  # MP structures with gaps from 0 (or near) to several eV
    plain = ["Cu3Au", "NiAl", "Fe3Al", "CuZn"]  # intermetallics: metals in every structure
    X = featurize(rich + plain)
    spread = load_polymorph_prior().predict(X)
    assert spread[:4].min() > spread[4:].max()
    assert np.median(spread[:4]) >= load_polymorph_prior().min_replicate_spread > spread[4:].max()


def test_polymorph_prior_is_a_replicate_model_for_triage() -> None:
    from bdl.diagnostics import load_polymorph_prior, triage
    from bdl.features import featurize
    from bdl.predictive import GaussianPredictive

    prior = load_polymorph_prior()
    X = featurize(["C", "Cu3Au"])
    bnn = GaussianPredictive(np.array([1.0, 0.0]), np.array([1.0, 0.1]))
    tri = triage(bnn, bnn, X_candidates=X, replicates=prior, thresholds=prior.thresholds())
    assert tri["replicate_spread"].to_numpy() == pytest.approx(prior.predict(X))
    assert bool(tri["is_bimodal"].iloc[0]) and not bool(tri["is_bimodal"].iloc[1])
