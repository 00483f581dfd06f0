"""Seeds: the one way every random entry point turns ``seed`` / ``random_state`` into a Generator
(numpy only; no TensorFlow, no pandas)."""

from __future__ import annotations

import numpy as np

from bdl.errors import InputError

__all__ = ["Seed", "make_rng"]

Seed = int | np.integer | np.random.Generator | None


def make_rng(seed: Seed) -> np.random.Generator:
    """A numpy Generator: a Generator is returned as is, an int (not a bool) or None seeds a new one.

    Raises
    ------
    InputError
        For anything else (a float, a bool, a string).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise InputError(f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}.")
