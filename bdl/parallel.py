"""Scale-out on Dask: pool scoring and independent campaign replicates over a cluster.

Two kinds of work in a screening campaign split into independent pieces: scoring a pool of
hundreds of thousands to millions of candidates (rows are independent given the model) and
running a benchmark's campaign replicates (seeds are independent). Both fan out here on
`Dask's distributed scheduler <https://distributed.dask.org>`_; nothing in this module is a
scheduler of its own.

Why Dask rather than Ray: ``distributed`` is pure Python (a few MB, wheels for every Python the
project supports, no compiled core or object store to start), speaks numpy natively, and one
code path runs on a laptop (:func:`local_cluster`: processes on this machine), on an HPC
batch system (``dask-jobqueue``: SLURM, PBS, LSF, SGE; ``dask-mpi``) and on Kubernetes or cloud
(``dask-kubernetes``, ``dask-cloudprovider``, Coiled) by passing a ``Client`` or just the
scheduler's address. Ray would bring a ~60 MB compiled runtime per platform for the same two
map-style operations.

Everything is optional: with ``client=None`` (the default) every function runs in this process,
and the ``distributed`` extra (``pip install '.[distributed]'``) is needed only when a client or a
scheduler address is given. Importing this module imports neither TensorFlow nor Dask.

Seeds and equality: a model's predictive passes are drawn once per call from its seed and shared
by every row (see :meth:`bdl.models.MCDropoutRegressor._pass_layers`), so scoring a pool in
chunks on several workers gives the same numbers as one call in this process.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bdl.errors import InputError

__all__ = ["score_pool", "map_replicates", "local_cluster", "model_to_blob", "model_from_blob"]

_INSTALL_HINT = (
    "install the optional extra with `pip install 'bdl-discovery[distributed]'` "
    "(from a checkout: `pip install '.[distributed]'`), or pass client=None to run in this process"
)
#: Models loaded on a worker, by content hash: a pool's chunks reuse one load per worker.
_LOADED: OrderedDict[str, Any] = OrderedDict()
_MAX_LOADED = 2


# ---------------------------------------------------------------------- clients
def _require_distributed(what: str) -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise InputError(f"{what} was given a Dask client, but dask.distributed is not installed; {_INSTALL_HINT}.") from exc
    return distributed


@contextlib.contextmanager
def _client_for(client: Any, what: str) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``client`` (a Client, or a scheduler address string).

    An address opens a client for the call and closes it afterwards.
    """
    distributed = _require_distributed(what)
    if isinstance(client, str):
        with distributed.Client(client) as c:
            yield c
    elif isinstance(client, distributed.Client):
        yield client
    else:
        raise InputError(
            f"{what}: client must be None (run here), a dask.distributed.Client or a scheduler address "
            f"such as 'tcp://10.0.0.5:8786', got {type(client).__name__}."
        )


@contextlib.contextmanager
def local_cluster(n_workers: int = 2, threads_per_worker: int | None = None, **kwargs: Any) -> Iterator[Any]:
    """A cluster of worker processes on this machine, as a context manager yielding its client.

    Parameters
    ----------
    n_workers : int, default 2
        Worker processes.
    threads_per_worker : int, optional
        Threads per worker, also handed to TensorFlow (``TF_NUM_INTRAOP_THREADS``) and the BLAS
        libraries in each worker so the processes do not oversubscribe the cores. Default: the
        machine's cores divided by ``n_workers`` (at least 1).
    **kwargs
        Passed on to ``distributed.LocalCluster`` (e.g. ``memory_limit``).

    Yields
    ------
    distributed.Client
        Pass it as ``client=`` to :func:`score_pool` and :func:`map_replicates`.

    Examples
    --------
    >>> with local_cluster(4) as client:                       # doctest: +SKIP
    ...     pred = score_pool(model, X_pool, client=client)
    """
    distributed = _require_distributed("local_cluster")
    if int(n_workers) != n_workers or n_workers < 1:
        raise InputError(f"n_workers must be a positive integer, got {n_workers!r}.")
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // int(n_workers))
    if int(threads) != threads or threads < 1:
        raise InputError(f"threads_per_worker must be a positive integer, got {threads_per_worker!r}.")
    env = {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.update(kwargs.pop("env", {}))
    options: dict[str, Any] = {"dashboard_address": None, "silence_logs": 40, **kwargs}
    with distributed.LocalCluster(
        n_workers=int(n_workers), threads_per_worker=int(threads), processes=True, env=env, **options
    ) as cluster, distributed.Client(cluster) as client:
        yield client


# ---------------------------------------------------------------------- shipping a model
def model_to_blob(model: Any) -> dict[str, bytes]:
    """A fitted model (or the folder of a saved one) as ``{relative path: file bytes}``.

    The model's own save format (``config.json`` + ``arrays.npz``, no pickle, sub-folders for
    ensembles), held in memory so it can be sent once to every worker.
    """
    if isinstance(model, (str, Path)):
        root = Path(model)
        if not (root / "config.json").exists():
            raise InputError(f"{root} is not a saved model folder (no config.json); pass a fitted model or model.save's folder.")
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    if not hasattr(model, "save"):
        raise InputError(f"model must be a fitted bdl model or the folder of a saved one, got {type(model).__name__}.")
    with tempfile.TemporaryDirectory(prefix="bdl-model-") as tmp:
        model.save(tmp)
        return model_to_blob(tmp)


def model_from_blob(blob: dict[str, bytes]) -> Any:
    """Load a model from :func:`model_to_blob`'s dict."""
    from bdl.models import load_model

    with tempfile.TemporaryDirectory(prefix="bdl-model-") as tmp:
        root = Path(tmp)
        for rel, data in blob.items():
            target = (root / rel).resolve()
            if root.resolve() not in target.parents:
                raise InputError(f"model blob entry {rel!r} points outside the model folder.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return load_model(root)


def _blob_key(blob: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel in sorted(blob):
        h.update(rel.encode())
        h.update(blob[rel])
    return h.hexdigest()


def _cached_model(key: str, blob: dict[str, bytes]) -> Any:
    """The model for ``key`` in this (worker) process, loaded from ``blob`` on first use."""
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    model = model_from_blob(blob)
    _LOADED[key] = model
    while len(_LOADED) > _MAX_LOADED:
        _LOADED.popitem(last=False)
    return model


def _score_chunk(
    X: Any,
    model_key: str,
    blob: dict[str, bytes],
    transform: Callable[[Any], Any] | None,
    predict_kwargs: dict[str, Any],
) -> Any:
    """Worker task: the predictive (or ``transform`` of it) of one chunk of the pool."""
    pred = _cached_model(model_key, blob).predict_dist(X, **predict_kwargs)
    return pred if transform is None else transform(pred)


# ---------------------------------------------------------------------- public functions
def _chunks(X: Any, chunk_size: int) -> list[Any]:
    n = len(X)
    if hasattr(X, "iloc"):
        return [X.iloc[i : i + chunk_size] for i in range(0, n, chunk_size)]
    arr = np.asarray(X)
    return [arr[i : i + chunk_size] for i in range(0, n, chunk_size)]


def _join(parts: list[Any]) -> Any:
    from bdl.predictive import Predictive, concat

    if all(isinstance(p, Predictive) for p in parts):
        return concat(parts)
    return np.concatenate([np.asarray(p) for p in parts], axis=0)


def score_pool(
    model: Any,
    X: Any,
    *,
    chunk_size: int = 20_000,
    client: Any = None,
    transform: Callable[[Any], Any] | None = None,
    **predict_kwargs: Any,
) -> Any:
    """Score a candidate pool: ``model.predict_dist`` over row chunks, here or on a cluster.

    Parameters
    ----------
    model : fitted bdl model, or str / Path of a folder written by ``model.save``
        On a cluster the model is sent once, in its save format (no pickle of TensorFlow
        objects), and each worker loads it once for all its chunks.
    X : array-like or DataFrame of shape (n_candidates, n_features)
    chunk_size : int, default 20 000
        Rows per task. Each model also chunks internally to bound memory, so this only sets
        the granularity of the fan-out (a few chunks per worker balance the load).
    client : None, dask.distributed.Client or str
        None: run in this process (no Dask needed). A client, e.g. from :func:`local_cluster`,
        or a scheduler address (``"tcp://host:8786"``) of a running cluster.
    transform : callable, optional
        Applied on the worker to each chunk's predictive, e.g. an acquisition function
        ``lambda p: expected_improvement(p, best)``; it must return an array whose first axis is
        the chunk's rows. Then only those arrays travel back, and the result is their
        concatenation instead of a predictive.
    **predict_kwargs
        Passed to ``predict_dist`` (e.g. ``n_passes=100``, ``seed=3``).

    Returns
    -------
    Predictive or ndarray
        The pool's predictive (the same kind as ``model.predict_dist`` returns; for sample
        predictives ``locs`` / ``scales`` of shape (n_candidates, T)), or the concatenated
        ``transform`` outputs.
    """
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if len(X) == 0:
        raise InputError("X has no rows; score_pool needs at least one candidate.")
    chunks = _chunks(X, int(chunk_size))
    if client is None:
        if isinstance(model, (str, Path)):
            from bdl.models import load_model

            model = load_model(model)
        parts = []
        for chunk in chunks:
            pred = model.predict_dist(chunk, **predict_kwargs)
            parts.append(pred if transform is None else transform(pred))
        return _join(parts)
    blob = model_to_blob(model)
    key = _blob_key(blob)
    with _client_for(client, "score_pool") as c:
        # a list, not the dict itself: scatter would take a dict's keys as task names
        (blob_future,) = c.scatter([blob], broadcast=True)
        chunk_futures = c.scatter(chunks)
        task = functools.partial(_score_chunk, model_key=key, transform=transform, predict_kwargs=predict_kwargs)
        futures = c.map(task, chunk_futures, blob=blob_future, pure=False)
        parts = c.gather(futures)
    return _join(parts)


def map_replicates(
    fn: Callable[..., Any], seeds: Sequence[int], *, client: Any = None, **kwargs: Any
) -> list[Any]:
    """Run independent replicates ``fn(seed, **kwargs)``, here or on a cluster.

    Parameters
    ----------
    fn : callable
        One replicate, e.g. a whole campaign for one seed. It must do all its own seeding from
        ``seed`` (no global random state), so a replicate gives the same result wherever it
        runs. On a cluster it is shipped with cloudpickle: a module-level function is best.
    seeds : sequence of int
    client : None, dask.distributed.Client or str
        None: a plain loop in this process. A client or a scheduler address: one task per seed.
    **kwargs
        Passed to every call.

    Returns
    -------
    list
        ``[fn(seed, **kwargs) for seed in seeds]``, in the order of ``seeds``.
    """
    if not callable(fn):
        raise InputError(f"fn must be callable (one replicate, fn(seed, **kwargs)), got {type(fn).__name__}.")
    seeds = list(seeds)
    if client is None:
        return [fn(seed, **kwargs) for seed in seeds]
    with _client_for(client, "map_replicates") as c:
        # kwargs bound first, so a replicate's own keywords cannot clash with Client.map's
        futures = c.map(functools.partial(fn, **kwargs) if kwargs else fn, seeds, pure=False)
        return list(c.gather(futures))
