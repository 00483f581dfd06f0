from __future__ import annotations

import numpy as np
import pytest

from bdl.errors import InputError
from bdl.splits import kfold_indices


def test_kfold_equals_scikit_learn_matbench_folds():
    sk = pytest.importorskip("sklearn.model_selection")
    ref = sk.KFold(5, shuffle=True, random_state=18012019).split(np.arange(4604))
    for (a, b), (c, d) in zip(ref, kfold_indices(4604)):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_kfold_partitions_rows_and_rejects_bad_k():
    folds = kfold_indices(23, 4, seed=1)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests) == list(range(23))
    for train, test in folds:
        assert not set(train) & set(test)
    with pytest.raises(InputError):
        kfold_indices(3, 5)
