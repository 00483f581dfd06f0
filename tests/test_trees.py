"""Tree ensembles as arrays: the exported forest predicts what scikit-learn's does."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from bdl.errors import InputError
from bdl.trees import TreeArrays, export_forest


def test_exported_forests_equal_scikit_learn_after_a_save(tmp_path) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = X[:, 0] + np.sin(3 * X[:, 1]) + 0.1 * rng.normal(size=400)
    reg = RandomForestRegressor(30, min_samples_leaf=5, max_features=0.33, random_state=0).fit(X, y)
    cls = RandomForestClassifier(30, min_samples_leaf=3, random_state=0).fit(X, y > 0.3)
    Z = rng.normal(size=(2000, 6)) * 1.5
    Z32 = Z.astype(np.float32).astype(np.float64)
    for forest, expected in ((reg, reg.predict(Z)), (cls, cls.predict_proba(Z)[:, 1])):
        path = tmp_path / "forest.npz"
        np.savez_compressed(path, **export_forest(forest))
        with np.load(path, allow_pickle=False) as data:
            trees = TreeArrays({k: data[k] for k in data.files})
        np.testing.assert_allclose(trees.raw(Z32), expected, rtol=0, atol=1e-12)


def test_export_forest_refuses_more_than_two_classes() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    forest = RandomForestClassifier(5, random_state=0).fit(X, np.arange(60) % 3)
    with pytest.raises(InputError, match="binary"):
        export_forest(forest)
