"""Campaign plots. Each takes ``ax=None``, returns the Axes, and never calls ``plt.show()``.

Curves over several campaigns (seeds) are drawn as a median line and a band between the 10th
and 90th percentiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "escape_mathtext", "plot_best_so_far", "plot_found_fraction", "plot_measured_values", "plot_pit_values",
    "plot_round_calibration", "plot_triage_counts",
]


def escape_mathtext(text: str) -> str:
    """A user's string as literal matplotlib text: ``$`` escaped so no mathtext is parsed
    (a target named ``$\\foo{x}$`` would otherwise fail to draw)."""
    return str(text).replace("$", r"\$")

TRIAGE_COLOURS = {"ok": "#4c9a2a", "bimodal": "#c0392b", "misspecified": "#e67e22", "out_of_distribution": "#7f8c8d",
                  "unsure": "#5dade2"}


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
    _legend_outside(ax)
    return ax


def plot_found_fraction(
    curves: Mapping[str, Sequence[np.ndarray]],
    n_pool: int,
    n_targets: int,
    ax: Any = None,
    what: str = "top 1 %",
) -> Any:
    """Fraction of the targets found against experiments, with random picking's 90 % band.

    The y range fits the curves and the band (not 0-1: a campaign that finds 13 % of the
    targets would otherwise be a flat line at the bottom); the legend sits outside the data.
    """
    from discovery_loop.metrics import random_found_band

    ax = _axes(ax)
    length = max(len(c) for cs in curves.values() for c in cs)
    mean, lo, hi = random_found_band(n_pool, n_targets, length)
    x = np.arange(1, length + 1)
    ax.plot(x, mean, color="grey", linestyle="--", label="random picking (expected)")
    ax.fill_between(x, lo, hi, color="grey", alpha=0.2, linewidth=0, label="random picking (90 % band)")
    for name, cs in curves.items():
        _band(ax, list(cs), name, None)
    top = max(float(np.nanmax(hi)), max(float(np.nanmax(c)) for cs in curves.values() for c in cs if len(c)))
    ax.set_ylim(0.0, min(1.0, top * 1.08) if top > 0 else 1.0)
    ax.set_xlim(0, length + 1)
    ax.set_xlabel("experiments")
    ax.set_ylabel(f"fraction of the {what} found\n({n_targets} candidates)")
    _legend_outside(ax)
    return ax


def _legend_outside(ax: Any, **kwargs: Any) -> None:
    """A legend below the axes, so it never covers data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ncol = min(2 if max(len(t) for t in labels) > 26 else 3, len(handles))
        ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol,
                  frameon=False, **kwargs)


def plot_round_calibration(table: pd.DataFrame, ax: Any = None) -> Any:
    """Per-round coverage of the 50 % and 90 % predictive intervals on each round's own proposals.

    One axis, one unit (a fraction): the dotted lines are the nominal levels. ``table`` has
    columns ``round``, ``coverage_90`` and optionally ``coverage_50`` (see
    :func:`discovery_loop.report.round_calibration`).
    """
    ax = _axes(ax)
    for col, level, colour in (("coverage_50", 0.5, "C1"), ("coverage_90", 0.9, "C0")):
        if col not in table.columns:
            continue
        ax.plot(table["round"], table[col], "o-", color=colour, label=f"{level:.0%} intervals (dotted: nominal)")
        ax.axhline(level, color=colour, linestyle=":", linewidth=1.2)
    ax.set_xlabel("round")
    ax.set_ylabel("share of measured proposals\ninside the interval")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(list(table["round"]))
    _legend_outside(ax)
    return ax


def plot_pit_values(pit: np.ndarray, ax: Any = None, n_bins: int = 10, confidence: float = 0.95) -> Any:
    """Histogram of PIT values with the per-bin range expected of a uniform sample (binomial).

    A U shape means observations fell in the tails (over-confidence), a hump in the middle
    under-confidence, a slope a biased mean.
    """
    from scipy import stats

    ax = _axes(ax)
    pit = np.asarray(pit, dtype=np.float64)
    n = pit.size
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts, _ = np.histogram(pit, bins=edges)
    lo, hi = stats.binom(n, 1.0 / n_bins).ppf([(1 - confidence) / 2, (1 + confidence) / 2]) if n else (0, 0)
    ax.axhspan(lo, hi, color="grey", alpha=0.2, linewidth=0, label=f"{confidence:.0%} range of a uniform sample")
    ax.bar(edges[:-1], counts, width=1.0 / n_bins, align="edge", color="C0", edgecolor="white", label="measured proposals")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(float(counts.max()) if n else 1.0, float(hi)) * 1.1 + 0.5)
    ax.set_xlabel("PIT: predictive CDF at the measured value")
    ax.set_ylabel("proposals")
    _legend_outside(ax)
    return ax


def plot_triage_counts(counts: pd.DataFrame, ax: Any = None) -> Any:
    """Stacked bars: the triage status of the scored candidates, per round.

    ``counts`` has one row per round (index) and one column per status; the legend is outside.
    """
    ax = _axes(ax)
    bottom = np.zeros(len(counts))
    for status in counts.columns:
        vals = counts[status].to_numpy(dtype=float)
        ax.bar(counts.index.astype(str), vals, bottom=bottom, label=status.replace("_", " "), color=TRIAGE_COLOURS.get(status))
        bottom += vals
    ax.set_ylim(0, max(1.0, float(bottom.max()) * 1.06) if bottom.size else 1.0)
    ax.set_xlabel("round")
    ax.set_ylabel("candidates scored")
    _legend_outside(ax)
    return ax


def plot_measured_values(
    values: np.ndarray, window: tuple[float, float] | None = None, ax: Any = None, target_label: str = "value",
    initial_size: int | None = None,
) -> Any:
    """Every measured value in the order measured; with a window, hits coloured and the window shaded.

    The y range fits the measurements (and the window), so the window is never a thin line.
    """
    ax = _axes(ax)
    v = np.asarray(values, dtype=np.float64)
    x = np.arange(1, v.size + 1)
    if window is not None:
        lo_w, hi_w = window
        inside = (v >= lo_w) & (v <= hi_w)
        ax.axhspan(lo_w, hi_w, color="C2", alpha=0.15, linewidth=0, label="target window")
        ax.scatter(x[~inside], v[~inside], s=10, color="grey", label="measured, outside")
        ax.scatter(x[inside], v[inside], s=14, color="C2", label="measured, in the window")
        span = np.concatenate([v[np.isfinite(v)], [lo_w, hi_w]])
    else:
        ax.scatter(x, v, s=10, color="grey", label="measured")
        span = v[np.isfinite(v)]
    if initial_size:
        ax.axvline(initial_size + 0.5, color="grey", linewidth=0.8, linestyle=":", label="end of the initial design")
    if span.size:
        pad = 0.05 * (float(span.max() - span.min()) or 1.0)
        ax.set_ylim(float(span.min()) - pad, float(span.max()) + pad)
    ax.set_xlabel("experiment")
    ax.set_ylabel(escape_mathtext(target_label))
    _legend_outside(ax)
    return ax
