"""bdl.parallel: pool scoring and replicates on a local Dask cluster equal the in-process path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bdl.errors import InputError
from bdl.models import MCDropoutRegressor
from bdl.parallel import local_cluster, map_replicates, model_from_blob, model_to_blob, score_pool


def _data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    return X, X[:, 0] - np.sin(X[:, 1]) + 0.1 * rng.normal(size=n)


def _replicate(seed, scale=1.0):
    """A stand-in campaign replicate: all randomness from ``seed``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 4))
    w = np.linalg.lstsq(X, X @ np.arange(4.0) + rng.normal(size=200), rcond=None)[0]
    return float(scale * w.sum())


@pytest.fixture(scope="module")
def model():
    X, y = _data(300, 0)
    return MCDropoutRegressor(hidden_units=(16, 16), epochs=3, n_passes=20, random_state=0, progress=False).fit(X, y)


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed", reason="Dask's distributed scheduler (pip install '.[distributed]') is not installed")
    with local_cluster(2, threads_per_worker=1) as c:
        yield c


def test_local_cluster_scores_a_pool_exactly_as_in_process(model, client, tmp_path):
    X, _ = _data(2500, 1)
    here = model.predict_dist(X)
    there = score_pool(model, X, chunk_size=600, client=client)
    assert type(there) is type(here) and there.locs.shape == (2500, 20)
    np.testing.assert_allclose(there.locs, here.locs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(there.scales, here.scales, rtol=1e-6, atol=1e-7)
    # a saved folder works as the model too, and a transform runs on the workers
    model.save(tmp_path / "m")
    means = score_pool(tmp_path / "m", X, chunk_size=1000, client=client, transform=lambda p: p.mean, n_passes=20)
    np.testing.assert_allclose(means, here.mean, rtol=1e-6, atol=1e-7)


def test_replicates_on_a_cluster_equal_a_loop(client):
    seeds = [3, 1, 4, 1, 5]
    expected = [_replicate(s, scale=2.0) for s in seeds]
    assert map_replicates(_replicate, seeds, client=client, scale=2.0) == expected
    assert map_replicates(_replicate, seeds, scale=2.0) == expected


def test_in_process_path_needs_no_dask(model, monkeypatch):
    X, _ = _data(100, 2)
    pred = score_pool(model, X, chunk_size=30)
    # equal up to float32 rounding: the matrix kernels may block a 30-row chunk differently from
    # 100 rows on some CPUs (CI failed on exact equality by 2e-7)
    np.testing.assert_allclose(pred.locs, model.predict_dist(X).locs, rtol=1e-6, atol=1e-6)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    assert map_replicates(_replicate, [0, 1]) == [_replicate(0), _replicate(1)]
    with pytest.raises(InputError, match=r"pip install '\.\[distributed\]'"):
        score_pool(model, X, client="tcp://127.0.0.1:8786")


def test_bad_arguments_are_reported(model, client):
    X, _ = _data(10, 3)
    with pytest.raises(InputError, match="chunk_size"):
        score_pool(model, X, chunk_size=0)
    with pytest.raises(InputError, match="client must be"):
        score_pool(model, X, client=42)
    with pytest.raises(InputError, match="callable"):
        map_replicates(3, [1])
    with pytest.raises(InputError, match="saved model"):
        model_to_blob("no/such/folder")


def test_model_blob_round_trip(model):
    X, _ = _data(20, 4)
    again = model_from_blob(model_to_blob(model))
    np.testing.assert_array_equal(again.predict_dist(X).locs, model.predict_dist(X).locs)


def test_importing_bdl_parallel_imports_neither_tensorflow_nor_dask():
    code = (
        "import sys, bdl.parallel; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'dask', 'distributed')]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
