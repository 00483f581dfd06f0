"""Campaign plots. Each takes ``ax=None``, returns the Axes, and never calls ``plt.show()``.

Curves over several campaigns (seeds) are drawn as a median line and a band between the 10th
and 90th percentiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["escape_mathtext", "plot_best_so_far", "plot_found_fraction", "plot_round_calibration", "plot_triage_counts"]


def escape_mathtext(text: str) -> str:
    """A user's string as literal matplotlib text: ``$`` escaped so no mathtext is parsed
    (a target named ``$\\foo{x}$`` would otherwise fail to draw)."""
    return str(text).replace("$", r"\$")

TRIAGE_COLOURS = {"ok": "#4c9a2a", "bimodal": "#c0392b", "misspecified": "#e67e22", "out_of_distribution": "#7f8c8d"}


def _axes(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def _band(ax: Any, curves: Sequence[np.ndarray], label: str, colour: str | None) -> None:
    length = max(len(c) for c in curves)
    stack = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        stack[i, : len(c)] = c
        stack[i, len(c):] = c[-1] if len(c) else np.nan
    x = np.arange(1, length + 1)
    med = np.nanmedian(stack, axis=0)
    label = escape_mathtext(label)
    (line,) = ax.plot(x, med, label=label if len(curves) == 1 else f"{label} (median of {len(curves)})", color=colour)
    if len(curves) > 1:
        lo, hi = np.nanpercentile(stack, [10, 90], axis=0)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)


def plot_best_so_far(
    curves: Mapping[str, Sequence[np.ndarray]],
    ax: Any = None,
    target_label: str = "value",
    reference: float | None = None,
) -> Any:
    """Best measured value against experiments, one line (or band over seeds) per strategy.

    Parameters
    ----------
    curves : mapping of str to list of ndarray of shape (n_experiments,)
        Strategy name -> best-so-far curves, one per seed.
    reference : float, optional
        The pool's true best value, drawn as a dashed line.
    """
    ax = _axes(ax)
    for name, cs in curves.items():
        _band(ax, list(cs), name, None)
    if reference is not None:
        ax.axhline(reference, color="k", linestyle="--", linewidth=1, label="best in pool")
    ax.set_xlabel("experiments")
    ax.set_ylabel(f"best {escape_mathtext(target_label)} so far")
    ax.legend(fontsize=8)
    return ax


def plot_found_fraction(
    curves: Mapping[str, Sequence[np.ndarray]],
    n_pool: int,
    n_targets: int,
    ax: Any = None,
    what: str = "top 1 %",
) -> Any:
    """Fraction of the targets found against experiments, with random picking's 90 % band."""
    from discovery_loop.metrics import random_found_band

    ax = _axes(ax)
    length = max(len(c) for cs in curves.values() for c in cs)
    mean, lo, hi = random_found_band(n_pool, n_targets, length)
    x = np.arange(1, length + 1)
    ax.plot(x, mean, color="grey", linestyle="--", label="random (expected)")
    ax.fill_between(x, lo, hi, color="grey", alpha=0.15, linewidth=0, label="random (90 % band)")
    for name, cs in curves.items():
        _band(ax, list(cs), name, None)
    ax.set_xlabel("experiments")
    ax.set_ylabel(f"fraction of the {what} found ({n_targets} candidates)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_round_calibration(table: pd.DataFrame, ax: Any = None) -> Any:
    """Per-round 90 % interval coverage and mean |z| of each round's model on its own proposals.

    ``table`` has columns ``round``, ``coverage_90`` and ``mean_abs_z`` (see
    :func:`discovery_loop.report.round_calibration`).
    """
    ax = _axes(ax)
    ax.plot(table["round"], table["coverage_90"], "o-", label="90 % interval coverage")
    ax.axhline(0.9, color="C0", linestyle=":", linewidth=1)
    ax.set_xlabel("round")
    ax.set_ylabel("coverage of the measured proposals")
    ax.set_ylim(-0.02, 1.02)
    ax2 = ax.twinx()
    ax2.plot(table["round"], table["mean_abs_z"], "s--", color="C1", label="mean |z|")
    ax2.axhline(np.sqrt(2 / np.pi), color="C1", linestyle=":", linewidth=1)
    ax2.set_ylabel("mean |z| (calibrated Gaussian: 0.80)")
    lines = ax.get_lines()[:1] + ax2.get_lines()[:1]
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="lower left")
    return ax


def plot_triage_counts(counts: pd.DataFrame, ax: Any = None) -> Any:
    """Stacked bars: the triage status of the scored candidates, per round.

    ``counts`` has one row per round (index) and one column per status.
    """
    ax = _axes(ax)
    bottom = np.zeros(len(counts))
    for status in counts.columns:
        vals = counts[status].to_numpy(dtype=float)
        ax.bar(counts.index.astype(str), vals, bottom=bottom, label=status, color=TRIAGE_COLOURS.get(status))
        bottom += vals
    ax.set_xlabel("round")
    ax.set_ylabel("candidates scored")
    ax.legend(fontsize=8)
    return ax
