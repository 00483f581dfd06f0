"""Fitted tree ensembles as plain numpy arrays: saved without pickle, evaluated without scikit-learn.

Two exporters write one layout (:func:`export_trees` for ``HistGradientBoostingRegressor`` s,
:func:`export_forest` for a random forest) and :class:`TreeArrays` evaluates it, all trees at
once, in chunks of rows. The shipped polymorph prior (:mod:`bdl.diagnostics.polymorph_prior`)
and the tree features of :class:`bdl.models.PriorGPRegressor` are stored this way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bdl.errors import InputError

__all__ = ["TreeArrays", "export_forest", "export_trees"]

FloatArray = NDArray[np.float64]


def _to_spread(raw: FloatArray, target: str) -> FloatArray:
    """A replicate-spread model's output in target units: ``expm1`` for the ``log1p`` target, at least 0."""
    out = np.expm1(raw) if target == "log1p" else raw
    return np.maximum(np.asarray(out, dtype=float), 0.0)


def export_trees(models: list[Any], *, target: str, n_features: int) -> dict[str, np.ndarray]:
    """Flatten fitted ``HistGradientBoostingRegressor`` s (numerical splits only) into arrays.

    Returns
    -------
    dict of ndarray
        ``feature`` (int32), ``threshold`` (float64; go left when ``x <= threshold``), ``left``,
        ``right`` (int32, global node indices; a leaf points to itself), ``value`` (float64, 0
        except at leaves), ``roots`` (int32, first node of every tree), ``baseline`` (float64,
        one per model), ``tree_model`` (int32, the model each tree belongs to), ``target`` and
        ``n_features``.
    """
    trees, owner, base = [], [], []
    for k, m in enumerate(models):
        if getattr(m, "is_categorical_", None) is not None and np.any(m.is_categorical_):
            raise InputError("categorical splits cannot be exported; use numerical descriptors.")
        base.append(float(np.ravel(m._baseline_prediction)[0]))
        for it in m._predictors:
            nodes = it[0].nodes
            trees.append((nodes["is_leaf"].astype(bool), nodes["feature_idx"], nodes["num_threshold"], nodes["left"],
                          nodes["right"], nodes["value"]))
            owner.append(k)
    return _pack(trees, owner, base, target, n_features)


def _pack(trees: list[tuple[np.ndarray, ...]], owner: list[int], baseline: list[float], target: str,
          n_features: int) -> dict[str, np.ndarray]:
    """The exporters' common layout from per-tree (leaf, feature, threshold, left, right, value) node arrays.

    Node indices become global (a leaf points to itself), internal nodes get value 0 and leaves
    threshold inf.
    """
    feat, thr, left, right, val, roots = [], [], [], [], [], []
    offset = 0
    for leaf, feature, threshold, lo, hi, value in trees:
        n = len(leaf)
        own = np.arange(n, dtype=np.int64) + offset
        feat.append(np.where(leaf, 0, feature).astype(np.int32))
        thr.append(np.where(leaf, np.inf, threshold).astype(np.float64))
        left.append(np.where(leaf, own, np.asarray(lo, dtype=np.int64) + offset).astype(np.int32))
        right.append(np.where(leaf, own, np.asarray(hi, dtype=np.int64) + offset).astype(np.int32))
        val.append(np.where(leaf, value, 0.0).astype(np.float64))
        roots.append(offset)
        offset += n
    return {
        "feature": np.concatenate(feat), "threshold": np.concatenate(thr), "left": np.concatenate(left),
        "right": np.concatenate(right), "value": np.concatenate(val), "roots": np.asarray(roots, dtype=np.int32),
        "tree_model": np.asarray(owner, dtype=np.int32), "baseline": np.asarray(baseline, dtype=np.float64),
        "target": np.array(target), "n_features": np.array(int(n_features)),
    }


def export_forest(forest: Any) -> dict[str, np.ndarray]:
    """Flatten a fitted scikit-learn random forest (regressor, or binary classifier) into arrays.

    The layout is :func:`export_trees`'s, as one model whose leaf values are divided by the
    number of trees, so :meth:`TreeArrays.raw` is the forest's mean prediction: the regressor's
    ``predict``, or the classifier's ``predict_proba`` of its second class. scikit-learn compares
    features in float32; evaluate ``TreeArrays.raw(X.astype(np.float32).astype(np.float64))`` to
    reproduce its splits exactly.
    """
    classes = getattr(forest, "classes_", None)
    if classes is not None and len(classes) != 2:
        raise InputError(f"only binary classifiers can be exported; this forest has {len(classes)} classes.")
    n_trees = len(forest.estimators_)
    trees = []
    for est in forest.estimators_:
        t = est.tree_
        if classes is None:
            value = t.value[:, 0, 0]
        else:
            counts = t.value[:, 0, :]
            value = counts[:, 1] / np.maximum(counts.sum(axis=1), 1e-300)
        trees.append((t.children_left == -1, t.feature, t.threshold, t.children_left, t.children_right,
                      value / n_trees))
    return _pack(trees, [0] * n_trees, [0.0], "raw", forest.n_features_in_)


class TreeArrays:
    """A forest of regression trees evaluated from plain arrays (:func:`export_trees`, :func:`export_forest`).

    The prediction of model k is its baseline plus the sum of its trees' leaf values, and
    :meth:`raw` averages the models; :meth:`predict` maps that to a replicate spread (``expm1``
    for the ``log1p`` target). Evaluation walks all trees at once, in chunks of rows: no
    scikit-learn, no pickle.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.feature = np.asarray(arrays["feature"], dtype=np.intp)
        self.threshold = np.asarray(arrays["threshold"], dtype=np.float64)
        self.left = np.asarray(arrays["left"], dtype=np.intp)
        self.right = np.asarray(arrays["right"], dtype=np.intp)
        self.value = np.asarray(arrays["value"], dtype=np.float64)
        self.roots = np.asarray(arrays["roots"], dtype=np.intp)
        self.tree_model = np.asarray(arrays["tree_model"], dtype=np.intp)
        self.baseline = np.asarray(arrays["baseline"], dtype=np.float64)
        self.target = str(arrays["target"])
        self.n_features = int(arrays["n_features"])
        self.n_models = len(self.baseline)
        # depth bound: longest root-to-leaf path (a leaf points to itself, so extra steps are harmless)
        depth = np.zeros(len(self.feature), dtype=np.intp)
        internal = self.left != np.arange(len(self.left))
        for i in np.flatnonzero(internal):  # parents precede children in scikit-learn's node order
            depth[self.left[i]] = depth[self.right[i]] = depth[i] + 1
        self.max_depth = int(depth.max()) if len(depth) else 0
        # tree -> model membership, so one product sums every model's leaves
        self._membership = np.zeros((len(self.roots), self.n_models))
        self._membership[np.arange(len(self.roots)), self.tree_model] = 1.0

    def raw(self, X: FloatArray, chunk: int = 2048) -> FloatArray:
        """Per-row mean over models of (baseline + sum of leaf values), before the target map."""
        out = np.empty(X.shape[0])
        for start in range(0, X.shape[0], chunk):
            xb = X[start:start + chunk]
            rows = np.arange(xb.shape[0])[:, None]
            idx = np.broadcast_to(self.roots, (xb.shape[0], len(self.roots))).copy()
            for _ in range(self.max_depth):
                go_left = xb[rows, self.feature[idx]] <= self.threshold[idx]
                idx = np.where(go_left, self.left[idx], self.right[idx])
            per_model = self.value[idx] @ self._membership
            out[start:start + chunk] = (per_model + self.baseline).mean(axis=1)
        return out

    def predict(self, X: FloatArray) -> FloatArray:
        """Spread (target units) predicted at each row of a finite float array of shape (n, n_features)."""
        return _to_spread(self.raw(X), self.target)
