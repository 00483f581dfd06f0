"""Prior knowledge from the shipped DFT band gaps: a pretrained composition network, in numpy.

:class:`DFTGapPrior` is a small network pretrained on the 106 113 PBE band gaps of Matbench's
``matbench_mp_gap`` (Materials Project). From a composition's 132 Magpie descriptors
(:func:`bdl.features.featurize`) it gives

``dft_gap``
    the predicted PBE band gap in eV (validation MAE about 0.44 eV on held-out MP structures;
    composition only, so polymorphs are averaged);
``dft_metal_logit``
    the log-odds that the PBE gap is exactly 0 (a metal);
``dft_emb_0`` ... ``dft_emb_31``
    the 32-unit learned composition embedding both are read from.

Surrogates use these as extra inputs (Delta-learning / multi-fidelity with a predicted DFT gap
as an input, and a pretrained embedding): see :class:`bdl.models.PriorFeatures`.

The weights ship in ``bdl/data/prior/`` with their licence (CC-BY-4.0, derived from Materials
Project data) and are rebuilt by ``python scripts/build_dft_prior.py`` (deterministic).
Loading takes milliseconds and needs no TensorFlow.

Overlap with benchmarks: many compositions of ``matbench_expt_gap`` also occur in
``matbench_mp_gap``. That is legitimate: the prior's input is a composition and its output a
*computed* (DFT) quantity that a user could compute for any candidate; it never sees an
experimental label.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from bdl.errors import InputError

__all__ = ["DFTGapPrior", "load_dft_gap_prior", "N_MAGPIE"]

#: Number of Magpie descriptors the prior reads.
N_MAGPIE = 132
_FILE = "dft_gap_prior.npz"


class DFTGapPrior:
    """The pretrained DFT band-gap network (numpy forward pass).

    Use :func:`load_dft_gap_prior` (cached) rather than the constructor.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        The contents of the shipped ``.npz`` file.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        n_trunk = sum(1 for k in arrays if k.startswith("trunk_"))
        self._trunk = [np.asarray(arrays[f"trunk_{i}"], dtype=np.float64) for i in range(n_trunk)]
        self._heads = [np.asarray(arrays[f"head_{i}"], dtype=np.float64) for i in range(2)]
        self._x_mean = np.asarray(arrays["x_mean"], dtype=np.float64)
        self._x_std = np.asarray(arrays["x_std"], dtype=np.float64)
        self._gap_mean = float(arrays["gap_mean"])
        self._gap_std = float(arrays["gap_std"])
        self.meta: dict[str, Any] = json.loads(str(arrays["meta"]))
        self.n_embedding = int(self._trunk[-1].shape[0])

    @property
    def feature_names(self) -> list[str]:
        """Names of the columns :meth:`transform` returns."""
        return ["dft_gap", "dft_metal_logit", *(f"dft_emb_{i}" for i in range(self.n_embedding))]

    def transform(self, X: Any) -> pd.DataFrame:
        """Prior features for Magpie descriptors.

        Parameters
        ----------
        X : array_like or DataFrame of shape (n, 132)
            Magpie descriptors in :func:`bdl.features.feature_names` order.

        Returns
        -------
        DataFrame of shape (n, 34)
            ``dft_gap`` (eV, clipped at 0), ``dft_metal_logit`` and the 32 embedding units.

        Raises
        ------
        InputError
            If X does not have 132 columns or holds non-finite values.
        """
        index = X.index if isinstance(X, pd.DataFrame) else None
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != N_MAGPIE:
            raise InputError(
                f"the DFT gap prior reads the {N_MAGPIE} Magpie descriptors of bdl.features.featurize, but X has "
                f"shape {x.shape}; featurize the compositions first, or use prior=None for other descriptors."
            )
        if not np.isfinite(x).all():
            rows = np.flatnonzero(~np.isfinite(x).all(axis=1))[:10]
            raise InputError(f"X has non-finite descriptors in rows {rows.tolist()}; the DFT gap prior needs finite inputs.")
        h = np.clip((x - self._x_mean) / self._x_std, -10.0, 10.0)
        for i in range(0, len(self._trunk), 2):
            h = np.maximum(h @ self._trunk[i] + self._trunk[i + 1], 0.0)
        out = h @ self._heads[0] + self._heads[1]
        gap = np.maximum(out[:, 0] * self._gap_std + self._gap_mean, 0.0)
        data = np.column_stack([gap, out[:, 1], h])
        return pd.DataFrame(data, columns=self.feature_names, index=index)


@lru_cache(maxsize=1)
def load_dft_gap_prior() -> DFTGapPrior:
    """Load the shipped prior (cached; a few milliseconds, no TensorFlow)."""
    path = resources.files("bdl.data").joinpath("prior").joinpath(_FILE)
    with resources.as_file(path) as p, np.load(p) as data:
        return DFTGapPrior({k: data[k] for k in data.files})
