"""Prior knowledge of polymorphs: where do a composition's structures disagree on the band gap?

A discovery campaign measures each candidate once, so it has no replicate groups to learn from;
the 106 113 DFT band gaps shipped with the package (``matbench_mp_gap``, Materials Project) do:
7 900-odd compositions there have two or more structures, and how far their PBE gaps spread is
exactly the "two outcomes at one input" the diagnostics look for.

:func:`polymorph_spread_model` is the recipe: a :class:`~bdl.diagnostics.ReplicateSpread` on the
132 Magpie descriptors regressing log(1 + spread), five boosted ensembles with half the
descriptors per split, averaged. It was chosen on validation compositions only (composition
splits 0, 1, 2 of ``benchmarks/diagnostics_polymorphs.py``; mean ROC AUC of positives, spread
> 1.5 eV, against negatives, < 0.3 eV): spread target 0.864, log1p 0.868, log1p x 5 bagged
0.872; extra inputs from the DFT gap prior (:mod:`bdl.prior`) retrained on each split's
training rows gave 0.858 (no gain; with the shipped prior, trained on every composition, they
seemed to add 0.01, which is the validation compositions' own gaps leaking in), and local
gap statistics of the nearest training rows 0.859.

:func:`load_polymorph_prior` loads that recipe fitted on *every* shipped composition with two or
more structures (``bdl/data/prior/polymorph_prior.npz``, trees stored as arrays, no pickle,
CC-BY-4.0 like its data; rebuilt by ``scripts/build_polymorph_prior.py``). Pass it to triage::

    prior = load_polymorph_prior()
    triage(bnn_pred, mdn_pred, X_candidates=X_magpie, replicates=prior,
           thresholds=prior.thresholds())

Because it has seen every Materials Project composition, it must never be scored on them: the
benchmark fits its own copy on each split's training rows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bdl._validation import check_X
from bdl.diagnostics.replicates import ReplicateSpread, TreeArrays
from bdl.errors import InputError

__all__ = ["POLYMORPH_RECIPE", "PolymorphPrior", "choose_spread_threshold", "load_polymorph_prior",
           "polymorph_spread_model"]

FloatArray = NDArray[np.float64]

#: Settings of :func:`polymorph_spread_model` (ReplicateSpread keyword arguments).
POLYMORPH_RECIPE: dict[str, Any] = {"target": "log1p", "n_models": 5, "max_features": 0.5, "max_iter": 300,
                                     "learning_rate": 0.05}
#: Truth used to choose thresholds: positives spread more than POS, negatives less than NEG (eV).
POS, NEG = 1.5, 0.3
_FILE = "polymorph_prior.npz"


def polymorph_spread_model(random_state: int | None = 0, **overrides: Any) -> ReplicateSpread:
    """The replicate-spread recipe of the shipped polymorph prior (unfitted)."""
    return ReplicateSpread(random_state=random_state, **{**POLYMORPH_RECIPE, **overrides})


def choose_spread_threshold(score: Any, spread: Any, *, pos: float = POS, neg: float = NEG) -> tuple[float, float]:
    """Threshold on a predicted spread that maximises balanced accuracy (true spread > pos vs < neg).

    Parameters
    ----------
    score : array_like of shape (n,)
        Predicted spreads.
    spread : array_like of shape (n,)
        True spreads; rows with ``neg <= spread <= pos`` are ignored.

    Returns
    -------
    (threshold, balanced_accuracy)
        Flag ``score >= threshold``; the threshold is the midpoint between neighbouring scores
        (ties broken towards the smaller threshold).
    """
    s = np.asarray(score, dtype=float).ravel()
    t = np.asarray(spread, dtype=float).ravel()
    if s.shape != t.shape:
        raise InputError(f"score has {s.size} values but spread has {t.size}; pass one per row.")
    keep = (t > pos) | (t < neg)
    s, lab = s[keep], t[keep] > pos
    if lab.all() or not lab.any():
        raise InputError(f"need both positives (spread > {pos}) and negatives (< {neg}) to choose a threshold.")
    cand = np.unique(s)
    cuts = np.concatenate([[cand[0]], (cand[1:] + cand[:-1]) / 2])
    order = np.sort(s[lab]), np.sort(s[~lab])
    tpr = 1.0 - np.searchsorted(order[0], cuts, side="left") / lab.sum()
    tnr = np.searchsorted(order[1], cuts, side="left") / (~lab).sum()
    ba = 0.5 * (tpr + tnr)
    i = int(np.argmax(ba))
    return float(cuts[i]), float(ba[i])


class PolymorphPrior:
    """The shipped polymorph-spread model: ``predict(X_magpie)`` -> expected gap spread (eV).

    Duck-types a fitted :class:`~bdl.diagnostics.ReplicateSpread` for
    :func:`bdl.diagnostics.triage` (``predict`` and ``n_groups_``). Use
    :func:`load_polymorph_prior` rather than the constructor.

    Attributes
    ----------
    n_groups_ : int
        Compositions with two or more structures it was fitted on.
    min_replicate_spread : float
        The flag threshold on :meth:`predict` (eV), chosen by composition-grouped cross-validation
        on the same data (maximal balanced accuracy, spread > 1.5 vs < 0.3 eV).
    meta : dict
        Provenance, recipe, cross-validated AUC and balanced accuracy.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self._trees = TreeArrays(arrays)
        self.meta: dict[str, Any] = json.loads(str(arrays["meta"]))
        self.n_groups_ = int(self.meta["n_groups"])
        self.n_features_in_ = self._trees.n_features
        self.feature_names_in_: list[str] | None = self.meta.get("feature_names")
        self.min_replicate_spread = float(self.meta["min_replicate_spread"])

    def predict(self, X: Any) -> FloatArray:
        """Expected spread (max - min, eV) of the PBE gaps of a composition's structures.

        Parameters
        ----------
        X : array_like or DataFrame of shape (n, 132)
            Magpie descriptors (:func:`bdl.features.featurize`).

        Returns
        -------
        ndarray of shape (n,), non-negative
        """
        Xa, _ = check_X(X, name="X_candidates", feature_names=self.feature_names_in_)
        if Xa.shape[1] != self.n_features_in_:
            raise InputError(
                f"X_candidates has {Xa.shape[1]} features but the polymorph prior reads the {self.n_features_in_} "
                "Magpie descriptors of bdl.features.featurize; featurize the compositions first."
            )
        return self._trees.predict(Xa)

    def thresholds(self, base: Any = None) -> Any:
        """``TriageThresholds`` (``base`` or the defaults) with this prior's ``min_replicate_spread``."""
        from bdl.diagnostics.triage import TriageThresholds

        return replace(base if base is not None else TriageThresholds(), min_replicate_spread=self.min_replicate_spread)


@lru_cache(maxsize=1)
def load_polymorph_prior() -> PolymorphPrior:
    """Load the shipped polymorph prior (cached; well under a second, no scikit-learn)."""
    path = resources.files("bdl.data").joinpath("prior").joinpath(_FILE)
    with resources.as_file(path) as p, np.load(p, allow_pickle=False) as data:
        return PolymorphPrior({k: data[k] for k in data.files})
