"""Plots of the diagnostics (matplotlib only, no pyplot; the maths lives in the other modules).

Every function takes ``ax=None``, draws into a new pyplot-free Figure when none is given, and
returns the :class:`~matplotlib.axes.Axes`; nothing calls ``plt.show()`` or changes
``rcParams``.

:func:`plot_candidate`       the BNN's Gaussian and the MDN's mixture over one candidate, with
                             the modes and the BNN mean marked
:func:`plot_triage_counts`   bar chart of candidates per triage status
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bdl._validation import check_row_index
from bdl.diagnostics.modes import mixture_log_density, mixture_or_none
from bdl.diagnostics.triage import STATUSES
from bdl.errors import InputError

__all__ = ["plot_candidate", "plot_triage_counts"]

_COLORS = {"ok": "#4a7", "bimodal": "#c33", "out_of_distribution": "#68c", "misspecified": "#d90", "unsure": "#999"}


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is None:
        return Figure(figsize=figsize, layout="constrained").subplots()
    if not isinstance(ax, Axes):
        raise InputError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}.")
    return ax


def plot_candidate(
    bnn_pred: Any,
    mdn_pred: Any,
    index: int,
    ax: Axes | None = None,
    triage_df: pd.DataFrame | None = None,
    y_true: float | None = None,
    labels: tuple[str, str] = ("BNN (Gaussian)", "MDN (mixture)"),
) -> Axes:
    """Densities of one candidate under the BNN (as a Gaussian) and the MDN.

    Narrow MDN components (e.g. the point mass of metals at 0 eV) are drawn as vertical bars
    labelled with their mass, so they neither vanish between grid points nor flatten the rest.

    Parameters
    ----------
    bnn_pred, mdn_pred : Predictive of length n
    index : int
        Row to draw (negative counts from the end).
    ax : Axes, optional
    triage_df : DataFrame, optional
        The triage; its status and reasons for this row go in the title.
    y_true : float, optional
        Observed value, drawn as a black line.
    labels : pair of str

    Returns
    -------
    matplotlib.axes.Axes
    """
    n = len(bnn_pred)
    if len(mdn_pred) != n:
        raise InputError(f"bnn_pred has {n} rows but mdn_pred has {len(mdn_pred)}; pass the same candidates.")
    i = check_row_index(index, n, f"{n} candidates")
    mixture = mixture_or_none(mdn_pred, "mdn_pred")
    if mixture is None:
        return _plot_candidate_generic(bnn_pred, mdn_pred, i, ax, triage_df, y_true, labels)
    w, loc, scale = (a[i] for a in mixture)
    mu, sd = float(bnn_pred.mean[i]), float(bnn_pred.stddev[i])
    keep = w >= 1e-3
    lo = min(mu - 4 * sd, float(np.min((loc - 4 * scale)[keep])))
    hi = max(mu + 4 * sd, float(np.max((loc + 4 * scale)[keep])))
    if y_true is not None:
        lo, hi = min(lo, float(y_true)), max(hi, float(y_true))
    grid = np.linspace(lo, hi, 600)
    step = grid[1] - grid[0]
    spike = keep & (scale < 2 * step)
    smooth = ~spike
    ax = _axes(ax)
    bnn_d = np.exp(-0.5 * ((grid - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
    if smooth.any():
        ws = w[smooth]
        mdn_d = np.exp(mixture_log_density(ws[None, :], loc[None, smooth], scale[None, smooth], grid[None, :])[0])
    else:
        mdn_d = np.zeros_like(grid)
    ax.plot(grid, bnn_d, color="C0", lw=2, label=labels[0])
    ax.fill_between(grid, 0, bnn_d, color="C0", alpha=0.12, lw=0)
    ax.plot(grid, mdn_d, color="C1", lw=2, ls="--", label=labels[1])
    ax.fill_between(grid, 0, mdn_d, color="C1", alpha=0.12, lw=0)
    top = max(float(bnn_d.max()), float(mdn_d.max()), 1e-12)
    for k in np.flatnonzero(spike):
        ax.vlines(loc[k], 0, top * 0.9, color="C1", lw=3)
        ax.annotate(f"{w[k]:.0%} point mass", (loc[k], top * 0.9), fontsize="small", ha="center", va="bottom",
                    color="C1")
    ax.axvline(mu, color="C0", ls=":", lw=1.5, label=f"BNN mean {mu:.3g}")
    if y_true is not None:
        ax.axvline(float(y_true), color="k", lw=1.5, label=f"observed {float(y_true):.3g}")
    title = f"Candidate {i}"
    if triage_df is not None:
        row = triage_df.iloc[i]
        title = f"Candidate {triage_df.index[i]}: {row['status']}"
        if "n_modes" in row:
            title += f" ({int(row['n_modes'])} mode{'s' if int(row['n_modes']) != 1 else ''}, D = {row['ashman_d']:.2f})"
    ax.set_title(title, fontsize="medium")
    ax.set_ylim(0, top * 1.35)
    ax.set_xlabel("Target value")
    ax.set_ylabel("Predictive density")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_triage_counts(triage_df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bar chart of the number of candidates per status (every status of STATUSES shown).

    Parameters
    ----------
    triage_df : DataFrame from :func:`bdl.diagnostics.triage`
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(triage_df, pd.DataFrame) or "status" not in triage_df.columns:
        raise InputError("triage_df must be the DataFrame returned by bdl.diagnostics.triage.")
    counts = triage_df["status"].astype(str).value_counts().reindex(list(STATUSES), fill_value=0)
    ax = _axes(ax, (5.5, 3.2))
    bars = ax.bar(range(len(counts)), counts.to_numpy(), color=[_COLORS[s] for s in counts.index])
    ax.set_xticks(range(len(counts)), [s.replace("_", " ") for s in counts.index])
    total = max(int(counts.sum()), 1)
    for b, c in zip(bars, counts.to_numpy()):
        ax.annotate(f"{int(c)} ({c / total:.0%})", (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", fontsize="small")
    ax.set_ylabel("Candidates")
    ax.set_ylim(0, max(1, int(counts.max())) * 1.2)
    ax.set_title("Triage of the candidates", fontsize="medium")
    return ax


def _plot_candidate_generic(bnn_pred: Any, mdn_pred: Any, i: int, ax: Any, triage_df: Any, y_true: Any,
                            labels: Any) -> Any:
    """:func:`plot_candidate` for a second predictive with no mixture form (e.g. "bounded"):
    its density through ``log_prob``, its point masses (``p_lower`` / ``p_upper``) as bars."""
    row = mdn_pred[[i]]
    mu, sd = float(bnn_pred.mean[i]), float(bnn_pred.stddev[i])
    q = np.asarray(row.quantile(np.array([1e-3, 1 - 1e-3])), dtype=float)[:, 0]
    lo, hi = min(mu - 4 * sd, float(q[0])), max(mu + 4 * sd, float(q[1]))
    if y_true is not None:
        lo, hi = min(lo, float(y_true)), max(hi, float(y_true))
    grid = np.linspace(lo, hi, 600)
    atoms = []
    for pos, mass in (("lower", "p_lower"), ("upper", "p_upper")):
        if hasattr(row, mass) and float(np.asarray(getattr(row, mass))[0]) > 0:
            atoms.append((float(np.asarray(getattr(row, pos))[0]), float(np.asarray(getattr(row, mass))[0])))
    for x, _ in atoms:  # the density next to an atom, not the atom's probability
        grid = np.where(grid == x, np.nextafter(x, mu), grid)
    ax = _axes(ax)
    bnn_d = np.exp(-0.5 * ((grid - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
    with np.errstate(divide="ignore"):
        mdn_d = np.exp(np.asarray(row.log_prob(grid[:, None]), dtype=float)[:, 0])
    ax.plot(grid, bnn_d, color="C0", lw=2, label=labels[0])
    ax.fill_between(grid, 0, bnn_d, color="C0", alpha=0.12, lw=0)
    ax.plot(grid, mdn_d, color="C1", lw=2, ls="--", label=labels[1])
    ax.fill_between(grid, 0, mdn_d, color="C1", alpha=0.12, lw=0)
    top = max(float(bnn_d.max()), float(np.nanmax(mdn_d)), 1e-12)
    for x, m in atoms:
        ax.vlines(x, 0, top * 0.9, color="C1", lw=3)
        ax.annotate(f"{m:.0%} point mass", (x, top * 0.9), fontsize="small", ha="center", va="bottom", color="C1")
    ax.axvline(mu, color="C0", ls=":", lw=1.5, label=f"BNN mean {mu:.3g}")
    if y_true is not None:
        ax.axvline(float(y_true), color="k", lw=1.5, label=f"observed {float(y_true):.3g}")
    if triage_df is not None:
        ax.set_title(f"candidate {i}: {triage_df['status'].iloc[i]}", fontsize="medium")
    ax.set_xlabel("target")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax
