"""bdl: Bayesian deep learning with honest uncertainty for materials property prediction.

Submodules load on first use, so ``import bdl`` is cheap and never starts TensorFlow:

- :mod:`bdl.data`        shipped real data sets and their loaders
- :mod:`bdl.features`    vectorised Magpie composition descriptors (no TensorFlow)
- :mod:`bdl.predictive`  predictive distributions (Gaussian, mixture, samples; numpy only)
- :mod:`bdl.models`      Bayesian neural networks (TensorFlow)
- :mod:`bdl.calibration` calibration metrics, recalibration, plots and the calibration report
- :mod:`bdl.bench`       the UCI benchmark protocol
- :mod:`bdl.errors`      the exceptions raised for user mistakes
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {"bench", "calibration", "cli", "data", "errors", "features", "models", "predictive", "splits"}

__all__ = sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"bdl.{name}")
    raise AttributeError(f"module 'bdl' has no attribute {name!r}")
