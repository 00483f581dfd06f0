"""Prior knowledge from the shipped DFT band gaps: a pretrained composition network, in numpy.

:class:`DFTGapPrior` is a small network pretrained on the 106 113 PBE band gaps of Matbench's
``matbench_mp_gap`` (Materials Project). From a composition's 132 Magpie descriptors
(:func:`bdl.features.featurize`) it gives

``dft_gap``
    the predicted PBE band gap in eV (validation MAE about 0.44 eV on held-out MP structures;
    composition only, so polymorphs are averaged);
``dft_metal_logit``
    the log-odds that the PBE gap is exactly 0 (a metal);
``dft_known``, ``dft_gap_known_min``, ``dft_gap_known_max`` (with ``lookup=True``, the default)
    whether the composition is one of the 78 164 computed in ``matbench_mp_gap`` (1 or 0), and the
    lowest and highest PBE gap computed for its structures there (the predicted gap where it is
    not): the DFT calculation itself where one exists, the network's estimate where none does;
``dft_emb_0`` ... ``dft_emb_31``
    the 32-unit learned composition embedding the network's outputs are read from.

Surrogates use these as extra inputs (Delta-learning / multi-fidelity with a predicted DFT gap
as an input, and a pretrained embedding): see :class:`bdl.models.PriorFeatures`.

The weights ship in ``bdl/data/prior/`` with their licence (CC-BY-4.0, derived from Materials
Project data) and are rebuilt by ``python scripts/build_dft_prior.py`` (deterministic).
Loading takes milliseconds and needs no TensorFlow. The lookup table
(``dft_gap_lookup.npz``, rebuilt by ``python scripts/build_dft_lookup.py``) is keyed by the
composition's Magpie descriptors (:func:`descriptor_keys`), so it needs no formula: the same
composition always gives the same descriptors.

Overlap with benchmarks: many compositions of ``matbench_expt_gap`` also occur in
``matbench_mp_gap``. That is legitimate: the prior's input is a composition and its output a
*computed* (DFT) quantity that a user could compute for any candidate; it never sees an
experimental label. The lookup makes that explicit: for 73 % of ``matbench_expt_gap``'s
compositions the Materials Project has computed the PBE gap, and a user would read it there
before measuring. Where the target *is* a PBE gap of ``matbench_mp_gap`` (a benchmark of the
loop on DFT data), the lookup is the answer: pass ``lookup=False`` (surrogates:
``PriorGPRegressor(prior_lookup=False)``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from bdl.errors import InputError

__all__ = ["DFTGapPrior", "DFTGapLookup", "load_dft_gap_prior", "load_dft_gap_lookup", "N_MAGPIE", "descriptor_keys",
           "LOOKUP_NAMES"]

#: Number of Magpie descriptors the prior reads.
N_MAGPIE = 132
_FILE = "dft_gap_prior.npz"
_LOOKUP_FILE = "dft_gap_lookup.npz"
#: The lookup's output columns (see the module docstring).
LOOKUP_NAMES = ("dft_known", "dft_gap_known_min", "dft_gap_known_max")
#: Mantissa bits kept per descriptor in :func:`descriptor_keys`: about 5 significant digits, so
#: last-bit differences of the descriptors (another BLAS, a standardise-and-back round trip)
#: change a key with a probability of about 1e-11 per value, while two different compositions
#: in the data still differ in some descriptor by far more. Values closer to 0 than ``_KEY_ZERO``
#: count as 0 (a round trip turns an exact 0 into 1e-17).
_KEY_BITS = 16
_KEY_ZERO = 1e-6


def descriptor_keys(X: Any) -> np.ndarray:
    """A 64-bit key per row of Magpie descriptors: equal compositions give equal keys.

    Each descriptor is rounded to ``_KEY_BITS`` mantissa bits (its binary exponent kept; values
    within ``_KEY_ZERO`` of 0 become 0) and the row's rounded values are hashed (each folded in
    with SplitMix64's mixing function, vectorised over rows), so the key does not depend on the
    last bits of the descriptors.

    Parameters
    ----------
    X : array_like of shape (n, d)

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    x = np.array(np.asarray(X, dtype=np.float64).T, order="C", copy=True)  # (d, n): one row per descriptor
    x[np.abs(x) < _KEY_ZERO] = 0.0  # also -0.0 -> 0.0
    mantissa, exponent = np.frexp(x)
    q = np.rint(mantissa * 2.0**_KEY_BITS).astype(np.int64)
    # just below a power of 2 (0.49999... for 0.5) the mantissa rounds up to 1: renormalise
    carry = np.abs(q) == 2**_KEY_BITS
    q[carry] //= 2
    exponent[carry] += 1
    exponent[q == 0] = 0
    # mantissa and exponent in one 64-bit word (two's complement for negatives), folded in row by row
    words = (q.astype(np.uint64) << np.uint64(16)) ^ (exponent.astype(np.int64).astype(np.uint64) & np.uint64(0xFFFF))
    h = np.full(x.shape[1], 0x9E3779B97F4A7C15, dtype=np.uint64)
    for column in words:
        h = _mix64(h ^ column)
    return h


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014), on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


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

    def output_names(self, lookup: bool = True) -> list[str]:
        """Names of the columns before the embedding in :meth:`transform`'s output."""
        return ["dft_gap", "dft_metal_logit", *(LOOKUP_NAMES if lookup else ())]

    def names(self, lookup: bool = True) -> list[str]:
        """Names of the columns :meth:`transform` returns."""
        return [*self.output_names(lookup), *(f"dft_emb_{i}" for i in range(self.n_embedding))]

    @property
    def feature_names(self) -> list[str]:
        """Names of the columns :meth:`transform` returns by default (with the lookup)."""
        return self.names(True)

    def transform(self, X: Any, lookup: bool = True) -> pd.DataFrame:
        """Prior features for Magpie descriptors.

        Parameters
        ----------
        X : array_like or DataFrame of shape (n, 132)
            Magpie descriptors in :func:`bdl.features.feature_names` order.
        lookup : bool, default True
            Add the three lookup columns (:data:`LOOKUP_NAMES`): whether the composition's PBE
            gap was computed in ``matbench_mp_gap``, and its lowest and highest value there (the
            predicted ``dft_gap`` where it was not computed).

        Returns
        -------
        DataFrame of shape (n, 37), (n, 34) without the lookup
            ``dft_gap`` (eV, clipped at 0), ``dft_metal_logit``, the lookup columns and the 32
            embedding units.

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
        known = load_dft_gap_lookup().find(x) if lookup else None
        extra = []
        if known is not None:
            hit, low, high = known
            extra = [hit.astype(np.float64), np.where(hit, low, gap), np.where(hit, high, gap)]
        data = np.column_stack([gap, out[:, 1], *extra, h])
        return pd.DataFrame(data, columns=self.names(lookup), index=index)


class DFTGapLookup:
    """PBE band gaps computed in ``matbench_mp_gap``, by composition (:func:`descriptor_keys`).

    Use :func:`load_dft_gap_lookup` (cached) rather than the constructor.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.keys = np.asarray(arrays["keys"], dtype=np.uint64)
        self.gap_min = np.asarray(arrays["gap_min"], dtype=np.float64)
        self.gap_max = np.asarray(arrays["gap_max"], dtype=np.float64)
        self.count = np.asarray(arrays["count"], dtype=np.int64)
        self.meta: dict[str, Any] = json.loads(str(arrays["meta"]))

    def find(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(computed?, lowest gap, highest gap) of every row of Magpie descriptors X; NaN where not computed."""
        keys = descriptor_keys(X)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = self.keys[at] == keys
        return hit, np.where(hit, self.gap_min[at], np.nan), np.where(hit, self.gap_max[at], np.nan)


@lru_cache(maxsize=1)
def load_dft_gap_prior() -> DFTGapPrior:
    """Load the shipped prior (cached; a few milliseconds, no TensorFlow)."""
    path = resources.files("bdl.data").joinpath("prior").joinpath(_FILE)
    with resources.as_file(path) as p, np.load(p) as data:
        return DFTGapPrior({k: data[k] for k in data.files})


@lru_cache(maxsize=1)
def load_dft_gap_lookup() -> DFTGapLookup:
    """Load the shipped lookup of computed PBE gaps (cached; milliseconds)."""
    path = resources.files("bdl.data").joinpath("prior").joinpath(_LOOKUP_FILE)
    with resources.as_file(path) as p, np.load(p) as data:
        return DFTGapLookup({k: data[k] for k in data.files})
