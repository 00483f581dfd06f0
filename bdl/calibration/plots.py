"""Calibration plots of predictive distributions (matplotlib only, no pyplot).

Every plotting function takes the observed values first and the predictive second (as the
metrics do), draws into ``ax`` when one is given, otherwise into a new
:class:`matplotlib.figure.Figure` made without :mod:`matplotlib.pyplot`, and returns the
:class:`~matplotlib.axes.Axes`. Nothing here calls ``plt.show()``, registers a figure with
pyplot or changes global ``rcParams``, so the functions work on a headless machine, inside a
report writer, and in Jupyter, where ``ax.figure`` (or the :class:`~matplotlib.figure.Figure`
that :func:`calibration_figure` returns) displays inline when it is the value of a cell.

The little maths the plots need (PIT values, the reliability curve, binned RMSE / RMV) is
kept here as small private helpers that read the predictive object directly, so this module
does not depend on :mod:`bdl.calibration.metrics`.

Functions
---------
:func:`plot_reliability`        expected vs observed share of points inside central intervals
:func:`plot_pit_histogram`      histogram of PIT values with the band of a uniform sample
:func:`plot_parity`             predicted mean vs observed value with interval bars
:func:`plot_error_vs_std`       binned RMSE vs root mean predicted variance [3]_
:func:`plot_ordered_intervals`  intervals of points sorted by predicted mean
:func:`plot_sharpness`          histogram of predicted standard deviations
:func:`plot_recalibration_map`  a recalibration map ``p -> p'`` against the identity
:func:`plot_two_predictives`    densities of one point under two predictives
:func:`calibration_figure`      the first six in one 2 x 3 figure
:func:`figure_to_png`           PNG bytes of a figure, for embedding in HTML

References
----------
.. [1] T. Gneiting, F. Balabdaoui and A. E. Raftery, "Probabilistic forecasts, calibration
   and sharpness", J. R. Stat. Soc. B 69 (2007) 243-268 (PIT histograms, sharpness).
.. [2] V. Kuleshov, N. Fenner and S. Ermon, "Accurate uncertainties for deep learning using
   calibrated regression", ICML 2018 (reliability diagrams of regression, recalibration).
.. [3] D. Levi, L. Gispan, N. Giladi and E. Fetaya, "Evaluating and calibrating uncertainty
   prediction in regression tasks", Sensors 22 (2022) 5540 (binned RMSE vs RMV, ENCE).
.. [4] K. Tran, W. Neiswanger, J. Yoon, Q. Zhang, E. Xing and Z. W. Ulissi, "Methods for
   comparing uncertainty quantifications for material property predictions", Mach. Learn.:
   Sci. Technol. 1 (2020) 025006 (miscalibration area, sharpness in materials science).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from bdl._validation import check_int, check_predictive, check_row_index, rows_text
from bdl.calibration import metrics as M
from bdl.errors import InputError
from bdl.predictive import Predictive

__all__ = [
    "plot_reliability",
    "plot_pit_histogram",
    "plot_parity",
    "plot_error_vs_std",
    "plot_ordered_intervals",
    "plot_sharpness",
    "plot_recalibration_map",
    "plot_two_predictives",
    "calibration_figure",
    "figure_to_png",
]

FloatArray = NDArray[np.float64]

#: Size (inches) of the figure made for one plot when no ``ax`` is given.
_SINGLE_FIGSIZE = (5.6, 4.6)
#: Colours (matplotlib's default cycle by name, so a user's style still applies).
_C_MODEL = "C0"
_C_OUTSIDE = "C3"
_C_IDEAL = "0.35"
_C_INTERVAL = "0.72"
#: Most row numbers quoted in one error message.
_MAX_ROWS_SHOWN = 10
#: Slack allowed when checking that probabilities lie in [0, 1].
_PROB_ATOL = 1e-9


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _check_open_unit(name: str, value: Any, example: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be a number strictly inside (0, 1), got {value!r}."
        ) from None
    if not 0.0 < out < 1.0:
        raise InputError(
            f"{name} must lie strictly inside (0, 1), got {out!r}; e.g. {name}={example}."
        )
    return out


def _axes_or_new(ax: Axes | None, figsize: tuple[float, float] = _SINGLE_FIGSIZE) -> Axes:
    """Return ``ax``, or the Axes of a new pyplot-free Figure with constrained layout."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig.subplots()
    if not isinstance(ax, Axes):
        raise InputError(
            f"ax must be a matplotlib Axes or None, got {type(ax).__name__}; pass e.g. "
            "fig.subplots() or leave it out to get a new figure."
        )
    return ax


# --------------------------------------------------------------------------------------------
# the little maths the plots draw
# --------------------------------------------------------------------------------------------


def _uniform_bin_band(n: int, n_bins: int, confidence: float) -> tuple[float, float]:
    """Central ``confidence`` range of one bin's density for ``n`` uniform PIT values.

    A bin of width ``1 / n_bins`` holds ``Binomial(n, 1 / n_bins)`` points; its density is
    ``count * n_bins / n``. The band is pointwise (per bin), not simultaneous over bins.
    """
    alpha = 1.0 - confidence
    lo, hi = stats.binom.ppf([alpha / 2.0, 1.0 - alpha / 2.0], n, 1.0 / n_bins)
    return float(lo) * n_bins / n, float(hi) * n_bins / n


def _mapping_values(mapping: Any, grid: FloatArray) -> FloatArray:
    """Evaluate a recalibration map on ``grid``, vectorised if it can be, else point by point."""
    func: Callable[[Any], Any]
    if callable(mapping):
        func = mapping
    elif callable(getattr(mapping, "predict", None)):  # e.g. a fitted IsotonicRegression
        func = mapping.predict
    else:
        raise InputError(
            f"mapping must be a callable p -> p' (or have a .predict method), got "
            f"{type(mapping).__name__}."
        )
    values: FloatArray | None = None
    try:
        out = np.asarray(func(grid), dtype=np.float64)
        if out.shape == grid.shape:
            values = out
        elif out.size == grid.size:
            values = out.reshape(grid.shape)
    except Exception:  # a scalar-only function: fall back to one call per point below
        values = None
    if values is None:
        try:
            values = np.array([float(func(float(p))) for p in grid])
        except Exception as exc:
            raise InputError(
                f"mapping could not be evaluated on probabilities in [0, 1] ({exc}); pass a "
                "callable that takes an array (or a float) of probabilities."
            ) from exc
    bad = ~np.isfinite(values) | (values < -_PROB_ATOL) | (values > 1.0 + _PROB_ATOL)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"mapping must return probabilities in [0, 1], but mapping({grid[i]:.3g}) = "
            f"{values[i]!r}; pass the recalibration map, not a quantile function."
        )
    return np.clip(values, 0.0, 1.0)


def _diagonal_frame(
    ax: Axes, top: float, above: str, below: str, xlabel: str, ylabel: str, title: str, legend_loc: str
) -> Axes:
    """Finish a square ``[0, top]`` plot read against its diagonal (reliability, RMSE vs RMV).

    ``above`` / ``below`` name the regions above and below the diagonal, written across them.
    """
    text_kw: dict[str, Any] = dict(
        transform=ax.transAxes, color="0.45", fontsize="small", style="italic",
        ha="center", va="center", rotation=45, zorder=0,
    )
    ax.text(0.30, 0.70, above, **text_kw)
    ax.text(0.70, 0.30, below, **text_kw)
    ax.set_xlim(0.0, top)
    ax.set_ylim(0.0, top)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc=legend_loc, fontsize="small")
    return ax


def _density_row(predictive: Predictive, index: int, grid: FloatArray) -> FloatArray:
    """Predictive density of row ``index`` over ``grid``, ndarray of shape (m,)."""
    row = predictive[[index]]  # a one-point predictive of the same kind
    return np.exp(row.log_prob(grid[:, None])[:, 0])  # y of shape (m, 1): m values, one point


def _pct(level: float) -> str:
    return f"{level * 100:.3g} %"


# --------------------------------------------------------------------------------------------
# the plots
# --------------------------------------------------------------------------------------------


def plot_reliability(
    y_true: ArrayLike,
    predictive: Predictive,
    ax: Axes | None = None,
    n_levels: int = 50,
) -> Axes:
    """Reliability diagram: expected vs observed share of points inside central intervals.

    For nominal levels ``p`` in ``[0, 1]`` the observed share is the fraction of ``y_true``
    inside the central ``p`` predictive interval (from the PIT, so no quantiles are solved).
    A calibrated predictive follows the diagonal. Below it the intervals hold fewer points
    than they promise (over-confident), above it more (under-confident). The shaded area
    between curve and diagonal is the miscalibration area of Tran et al. (2020): 0 is
    perfect, 0.5 the worst. See also Kuleshov et al. (2018).

    Parameters
    ----------
    y_true : array_like of shape (n,)
        Observed values.
    predictive : Predictive of length n
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when None.
    n_levels : int, default 50
        Number of nominal levels, evenly spaced on ``[0, 1]`` (ends included).

    Returns
    -------
    matplotlib.axes.Axes
        The model's curve is the line labelled ``"model"``.

    Raises
    ------
    InputError
        For a length mismatch, non-finite ``y_true``, or ``n_levels < 2``.
    """
    y = M._check_inputs(y_true, predictive)
    n_levels = check_int("n_levels", n_levels, 2)
    ax = _axes_or_new(ax)

    levels, observed = M.calibration_curve(y, predictive, n_levels=n_levels)
    area = M.miscalibration_area(y, predictive, n_levels=n_levels)

    ax.plot([0.0, 1.0], [0.0, 1.0], ls="--", color=_C_IDEAL, lw=1.0, label="ideal")
    ax.fill_between(
        levels, levels, observed, color=_C_MODEL, alpha=0.22, lw=0,
        label=f"miscalibration area = {area:.3f}",
    )
    ax.plot(levels, observed, color=_C_MODEL, lw=2.0, marker="o", ms=2.5, label="model")
    return _diagonal_frame(
        ax, 1.0, "under-confident\n(intervals too wide)", "over-confident\n(intervals too narrow)",
        "Nominal level of central interval", "Observed share inside interval",
        f"Reliability of central intervals (n = {len(y)})", "upper left",
    )


def plot_pit_histogram(
    y_true: ArrayLike,
    predictive: Predictive,
    ax: Axes | None = None,
    n_bins: int = 20,
    confidence: float = 0.95,
) -> Axes:
    """Histogram of PIT values ``F_i(y_i)`` with the range expected of a uniform sample.

    For a calibrated predictive the PIT values are uniform on ``[0, 1]`` (Gneiting et al.
    2007). A U shape means over-confidence (observations in the tails), a hump in the middle
    under-confidence, a slope a biased mean. The grey band is the central ``confidence``
    range of one bin's density for ``n`` uniform values (binomial quantiles; a per-bin band,
    so about ``(1 - confidence) * n_bins`` bins may leave it by chance). The text gives the
    Kolmogorov-Smirnov test of uniformity.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive of length n
    ax : matplotlib.axes.Axes, optional
    n_bins : int, default 20
    confidence : float in (0, 1), default 0.95

    Returns
    -------
    matplotlib.axes.Axes
        The bars are densities: their areas sum to one.

    Raises
    ------
    InputError
        For a length mismatch, non-finite ``y_true``, ``n_bins < 1`` or ``confidence``
        outside (0, 1).
    """
    y = M._check_inputs(y_true, predictive)
    n_bins = check_int("n_bins", n_bins, 1)
    confidence = _check_open_unit("confidence", confidence, "0.95")
    ax = _axes_or_new(ax)

    pit = M.pit(y, predictive)
    n = len(pit)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts, _ = np.histogram(pit, bins=edges)
    width = 1.0 / n_bins
    density = counts / (n * width)
    band_lo, band_hi = _uniform_bin_band(n, n_bins, confidence)
    ks = stats.kstest(pit, "uniform")

    ax.axhspan(
        band_lo, band_hi, color="0.6", alpha=0.3, lw=0, zorder=0,
        label=f"{_pct(confidence)} range if uniform",
    )
    ax.bar(
        edges[:-1], density, width=width, align="edge", color=_C_MODEL, alpha=0.75,
        edgecolor="white", lw=0.6, label="PIT of observed values", zorder=1,
    )
    ax.axhline(1.0, color=_C_IDEAL, ls="--", lw=1.0, label="uniform (calibrated)", zorder=2)
    top = max(float(density.max()), band_hi, 1.0)
    ax.set_ylim(0.0, top * 1.7)  # headroom for the legend box at the top
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("PIT = predictive CDF at observed value")
    ax.set_ylabel("Density")
    ax.legend(
        loc="upper center", fontsize="small", ncols=2, framealpha=0.9,
        title=f"KS test vs uniform: D = {ks.statistic:.3f}, p = {ks.pvalue:.2g}\n"
        "U shape: over-confident; hump: under-confident",
        title_fontsize="small",
    )
    ax.set_title(f"PIT histogram (n = {n})")
    return ax


def plot_parity(
    y_true: ArrayLike,
    predictive: Predictive,
    ax: Axes | None = None,
    level: float = 0.9,
) -> Axes:
    """Parity plot: predicted mean against observed value, with central intervals.

    Each point has a vertical bar from the lower to the upper end of its central ``level``
    interval (bars, not symmetric error bars: a mixture's interval need not be centred on
    its mean, nor even contain it). Points whose observed value falls outside their
    interval are drawn in red; the title gives the share inside (the coverage).

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive of length n
    ax : matplotlib.axes.Axes, optional
    level : float in (0, 1), default 0.9

    Returns
    -------
    matplotlib.axes.Axes
        The interval bars are one :class:`~matplotlib.collections.LineCollection` with one
        segment per point (``gid="intervals"``).

    Raises
    ------
    InputError
        For a length mismatch, non-finite ``y_true`` or ``level`` outside (0, 1).
    """
    y = M._check_inputs(y_true, predictive)
    level = _check_open_unit("level", level, "0.9")
    ax = _axes_or_new(ax)

    mean = np.asarray(predictive.mean, dtype=np.float64)
    lower, upper = predictive.interval(level)
    inside = (y >= lower) & (y <= upper)
    coverage = float(np.mean(inside))

    bars = ax.vlines(
        y, lower, upper, colors=np.where(inside, _C_INTERVAL, "#f2a9a3").tolist(), lw=0.8,
        alpha=0.8, zorder=1, label=f"{_pct(level)} interval",
    )
    bars.set_gid("intervals")
    ax.scatter(y[inside], mean[inside], s=10, color=_C_MODEL, zorder=2, label="inside interval")
    ax.scatter(
        y[~inside], mean[~inside], s=14, color=_C_OUTSIDE, zorder=3,
        label=f"outside interval ({int((~inside).sum())})",
    )
    lo = float(min(y.min(), lower.min()))
    hi = float(max(y.max(), upper.max()))
    pad = 0.03 * (hi - lo) if hi > lo else 1.0
    lims = (lo - pad, hi + pad)
    ax.plot(lims, lims, ls="--", color=_C_IDEAL, lw=1.0, zorder=0, label="y = x")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_xlabel("Observed value")
    ax.set_ylabel(f"Predicted mean (bars: {_pct(level)} interval)")
    ax.set_title(f"Parity: {coverage:.1%} inside {_pct(level)} intervals")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_error_vs_std(
    y_true: ArrayLike,
    predictive: Predictive,
    ax: Axes | None = None,
    n_bins: int = 10,
) -> Axes:
    """Binned RMSE against RMV, the root mean predicted variance (Levi et al. 2022).

    Points are sorted by predicted variance and split into ``n_bins`` bins of (nearly) equal
    count. Per bin, ``RMV = sqrt(mean(variance))`` and ``RMSE = sqrt(mean((y - mean)**2))``.
    A calibrated predictive lies on ``y = x``; points above it are over-confident (errors
    larger than predicted), below it under-confident. The legend gives the expected
    normalised calibration error ``ENCE = mean(|RMV - RMSE| / RMV)``.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive of length n
    ax : matplotlib.axes.Axes, optional
    n_bins : int, default 10
        Number of equal-count bins (at most ``n`` are used).

    Returns
    -------
    matplotlib.axes.Axes
        The binned curve is the line labelled starting with ``"binned"``.

    Raises
    ------
    InputError
        For a length mismatch, non-finite ``y_true`` or ``n_bins < 1``.
    """
    y = M._check_inputs(y_true, predictive)
    n_bins = check_int("n_bins", n_bins, 1)
    ax = _axes_or_new(ax)

    n_bins = min(n_bins, len(y))
    curve = M.rmv_rmse_curve(y, predictive, n_bins=n_bins)
    rmv, rmse, counts = (curve[c].to_numpy() for c in ("rmv", "rmse", "n"))
    ence = M.ence(y, predictive, n_bins=n_bins)

    top = float(max(rmv.max(), rmse.max())) * 1.08
    ax.plot([0.0, top], [0.0, top], ls="--", color=_C_IDEAL, lw=1.0, label="ideal (RMSE = RMV)")
    ax.plot(
        rmv, rmse, marker="o", color=_C_MODEL, lw=1.5,
        label=f"binned, {len(counts)} bins of ~{int(np.median(counts))} points",
    )
    ax.plot([], [], ls="none", label=f"ENCE = {ence:.3f}")
    return _diagonal_frame(
        ax, top, "over-confident\n(errors > predicted)", "under-confident\n(errors < predicted)",
        "RMV: root mean predicted variance in bin", "RMSE of predicted mean in bin",
        "Error vs. predicted uncertainty", "best",
    )


def plot_ordered_intervals(
    y_true: ArrayLike,
    predictive: Predictive,
    ax: Axes | None = None,
    level: float = 0.9,
    max_points: int = 200,
) -> Axes:
    """Central intervals of points sorted by predicted mean, with the observed values.

    When there are more than ``max_points`` points, an evenly spaced subset of the sorted
    points is shown (ranks ``linspace(0, n - 1, max_points)``), so the whole range of
    predictions stays visible; intervals are computed for the shown points only.

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive of length n
    ax : matplotlib.axes.Axes, optional
    level : float in (0, 1), default 0.9
    max_points : int, default 200
        At least 2.

    Returns
    -------
    matplotlib.axes.Axes
        The bars are one LineCollection with one segment per shown point
        (``gid="intervals"``).

    Raises
    ------
    InputError
        For a length mismatch, non-finite ``y_true``, ``level`` outside (0, 1) or
        ``max_points < 2``.
    """
    y = M._check_inputs(y_true, predictive)
    level = _check_open_unit("level", level, "0.9")
    max_points = check_int("max_points", max_points, 2)
    ax = _axes_or_new(ax)

    n = len(y)
    order = np.argsort(np.asarray(predictive.mean), kind="stable")
    if n > max_points:
        order = order[np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(np.intp))]
    shown = predictive[order]
    lower, upper = shown.interval(level)
    mean = np.asarray(shown.mean, dtype=np.float64)
    obs = y[order]
    inside = (obs >= lower) & (obs <= upper)
    x = np.arange(len(order))

    bars = ax.vlines(
        x, lower, upper, colors=_C_INTERVAL, lw=2.0 if len(x) <= 80 else 1.2, zorder=1,
        label=f"{_pct(level)} interval",
    )
    bars.set_gid("intervals")
    ax.plot(x, mean, color=_C_MODEL, lw=1.2, zorder=2, label="predicted mean")
    ax.scatter(x[inside], obs[inside], s=9, color="k", zorder=3, label="observed, inside")
    ax.scatter(
        x[~inside], obs[~inside], s=14, color=_C_OUTSIDE, zorder=4,
        label=f"observed, outside ({int((~inside).sum())})",
    )
    subset = f", {len(x)} of {n} shown" if len(x) < n else ""
    ax.set_xlim(-1, len(x))
    ax.set_xlabel(f"Points ordered by predicted mean{subset}")
    ax.set_ylabel("Value")
    ax.set_title(f"{_pct(level)} intervals, sorted by predicted mean")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_sharpness(
    predictive: Predictive,
    ax: Axes | None = None,
    n_bins: int = 30,
) -> Axes:
    """Histogram of predicted standard deviations, with their mean and RMS marked.

    Sharpness (Gneiting et al. 2007) is a property of the predictive alone: the smaller the
    predicted spread, the sharper (more useful) the predictions, provided they are
    calibrated. The RMS std ``sqrt(mean(variance))`` is the sharpness number of
    uncertainty-toolbox (Tran et al. 2020).

    Parameters
    ----------
    predictive : Predictive
    ax : matplotlib.axes.Axes, optional
    n_bins : int, default 30

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InputError
        For a non-predictive or ``n_bins < 1``.
    """
    predictive = check_predictive(predictive)
    n_bins = check_int("n_bins", n_bins, 1)
    ax = _axes_or_new(ax)

    std = np.asarray(predictive.stddev, dtype=np.float64)
    mean_std = float(np.mean(std))
    rms_std = float(np.sqrt(np.mean(np.asarray(predictive.variance, dtype=np.float64))))

    lo, hi = float(std.min()), float(std.max())
    if hi - lo <= 1e-9 * max(abs(hi), 1e-300):  # every std equal (e.g. a homoscedastic model)
        half = 0.05 * max(abs(hi), 1e-12)
        lo, hi = lo - half, hi + half
    ax.hist(std, bins=n_bins, range=(lo, hi), color=_C_MODEL, alpha=0.75, edgecolor="white", lw=0.6,
            label="predicted std")
    ax.axvline(mean_std, color="C1", ls="--", lw=1.5, label=f"mean std = {mean_std:.3g}")
    ax.axvline(rms_std, color=_C_OUTSIDE, ls=":", lw=2.0,
               label=f"sharpness (RMS std) = {rms_std:.3g}")
    ax.set_ylim(0.0, ax.get_ylim()[1] * 1.35)  # headroom for the legend
    ax.set_xlabel("Predicted standard deviation")
    ax.set_ylabel("Number of points")
    ax.set_title(f"Sharpness (n = {len(std)})")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_recalibration_map(
    mapping: Callable[[FloatArray], ArrayLike] | Any,
    ax: Axes | None = None,
    pit_values: ArrayLike | None = None,
) -> Axes:
    """Draw a recalibration map ``p -> p'`` on ``[0, 1]`` against the identity.

    A recalibration map (e.g. isotonic regression of the empirical CDF of PIT values on the
    PIT values, Kuleshov et al. 2018) sends the predicted cumulative probability of a
    value to a calibrated one. Where the map is flatter than the identity in the middle and
    steeper in the tails, the predictive was over-confident. With ``pit_values`` the
    empirical CDF of the PIT values (what the map should approximate on its training data)
    and their histogram (height scaled, in the background) are drawn too.

    Parameters
    ----------
    mapping : callable
        ``mapping(p)`` with ``p`` an ndarray of probabilities returns recalibrated
        probabilities of the same shape; a scalar-only callable is evaluated point by point,
        and an object with a ``.predict`` method (a fitted scikit-learn
        ``IsotonicRegression``) is accepted too.
    ax : matplotlib.axes.Axes, optional
    pit_values : array_like of shape (n,), optional
        PIT values in ``[0, 1]`` of the data the map was fitted on (or of new data).

    Returns
    -------
    matplotlib.axes.Axes
        The map is the line labelled ``"recalibration map"``.

    Raises
    ------
    InputError
        If ``mapping`` cannot be evaluated or returns values outside ``[0, 1]``, or if
        ``pit_values`` holds values outside ``[0, 1]`` or non-finite ones.
    """
    grid = np.linspace(0.0, 1.0, 201)
    values = _mapping_values(mapping, grid)
    ax = _axes_or_new(ax)

    if pit_values is not None:
        try:
            pit = np.asarray(pit_values, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise InputError(f"pit_values must be numeric probabilities ({exc}).") from None
        if pit.size == 0:
            raise InputError("pit_values is empty; pass the PIT values or leave it out.")
        bad = ~np.isfinite(pit) | (pit < -_PROB_ATOL) | (pit > 1.0 + _PROB_ATOL)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InputError(
                f"pit_values must lie in [0, 1], but not in rows {rows_text(rows, None, _MAX_ROWS_SHOWN)} (row "
                f"{int(rows[0])} is {float(pit[rows[0]])!r}); pass predictive.cdf(y_true)."
            )
        pit = np.clip(pit, 0.0, 1.0)
        counts, edges = np.histogram(pit, bins=20, range=(0.0, 1.0))
        heights = 0.25 * counts / max(int(counts.max()), 1)
        ax.bar(edges[:-1], heights, width=np.diff(edges), align="edge", color="0.8",
               edgecolor="white", lw=0.5, zorder=0, label="PIT histogram (not to scale)")
        xs = np.sort(pit)
        ecdf = np.arange(1, len(xs) + 1) / len(xs)
        ax.step(np.r_[0.0, xs, 1.0], np.r_[0.0, ecdf, 1.0], where="post", color="C1", lw=1.0,
                alpha=0.9, zorder=1, label="empirical CDF of PIT")

    ax.plot([0.0, 1.0], [0.0, 1.0], ls="--", color=_C_IDEAL, lw=1.0, zorder=2,
            label="identity (no change)")
    ax.plot(grid, values, color=_C_MODEL, lw=2.0, zorder=3, label="recalibration map")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("Predicted cumulative probability p")
    ax.set_ylabel("Recalibrated probability p'")
    ax.set_title("Recalibration map")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_two_predictives(
    y_grid: ArrayLike | None,
    first: Predictive,
    second: Predictive,
    index: int,
    ax: Axes | None = None,
    labels: Sequence[str] = ("Gaussian BNN", "MDN"),
    y_true: float | ArrayLike | None = None,
) -> Axes:
    """Densities of one point under two predictives, e.g. a Gaussian BNN and an MDN.

    Shows, for one candidate, whether a large predictive variance is one broad mode or two
    separate ones (the mistake of reading the second as "worth an experiment"). The first
    predictive's mean is marked, and the observed value when given.

    Parameters
    ----------
    y_grid : array_like of shape (m,) or None
        Values at which to evaluate both densities (sorted here; at least 2). None picks 400
        points spanning the 0.1 %..99.9 % quantiles of both (and ``y_true``), plus a margin.
    first, second : Predictive
        Two predictives over the same points (same length).
    index : int
        Row to show; negative values count from the end.
    ax : matplotlib.axes.Axes, optional
    labels : pair of str, default ("Gaussian BNN", "MDN")
    y_true : float or array_like of shape (n,), optional
        The observed value of this row, or all observed values (row ``index`` is used).

    Returns
    -------
    matplotlib.axes.Axes
        Two density lines, labelled with ``labels``.

    Raises
    ------
    InputError
        For predictives of different lengths, an index out of range, a bad grid, a
        non-finite ``y_true`` or ``labels`` that are not two strings.
    """
    first = check_predictive(first, "first")
    second = check_predictive(second, "second")
    n = len(first)
    if len(second) != n:
        raise InputError(
            f"first has {n} rows but second has {len(second)}; pass predictives of the same "
            "points (same rows, same order)."
        )
    idx = check_row_index(index, n, f"predictives with {n} rows")
    if isinstance(labels, str) or len(labels) != 2:
        raise InputError(f"labels must be a pair of strings, got {labels!r}.")

    truth: float | None = None
    if y_true is not None:
        arr = np.asarray(y_true, dtype=np.float64)
        if arr.ndim == 0:
            truth = float(arr)
        else:
            y_all = None if arr.size == 1 else M._check_inputs(arr, first)
            truth = float(arr.ravel()[0]) if y_all is None else float(y_all[idx])
        if not np.isfinite(truth):
            raise InputError(f"y_true for row {idx} is {truth!r}; pass a finite observed value.")

    if y_grid is None:
        p1, p2 = first[[idx]], second[[idx]]
        qs = np.array([0.001, 0.999])
        ends = np.concatenate([p1.quantile(qs)[:, 0], p2.quantile(qs)[:, 0]])
        if truth is not None:
            ends = np.append(ends, truth)
        lo, hi = float(ends.min()), float(ends.max())
        pad = 0.08 * (hi - lo)
        grid = np.linspace(lo - pad, hi + pad, 400)
    else:
        try:
            grid = np.sort(np.asarray(y_grid, dtype=np.float64).ravel())
        except (TypeError, ValueError) as exc:
            raise InputError(f"y_grid must be a numeric 1-D array ({exc}).") from None
        if grid.size < 2 or not np.all(np.isfinite(grid)):
            raise InputError(
                f"y_grid must hold at least 2 finite values, got {grid.size} value(s)"
                f"{' with NaN/inf' if grid.size and not np.all(np.isfinite(grid)) else ''}; "
                "pass e.g. np.linspace(lo, hi, 400)."
            )
    ax = _axes_or_new(ax)

    for pred, label, color, ls in ((first, labels[0], "C0", "-"), (second, labels[1], "C1", "--")):
        dens = _density_row(pred, idx, grid)
        ax.plot(grid, dens, color=color, ls=ls, lw=2.0, label=str(label))
        ax.fill_between(grid, 0.0, dens, color=color, alpha=0.12, lw=0)
    mean1 = float(first.mean[idx])
    ax.axvline(mean1, color="C0", ls=":", lw=1.5, label=f"{labels[0]} mean = {mean1:.3g}")
    if truth is not None:
        ax.axvline(truth, color="k", lw=1.5, label=f"observed = {truth:.3g}")
    ax.set_xlim(float(grid[0]), float(grid[-1]))
    ax.set_ylim(0.0, ax.get_ylim()[1] * 1.3)  # headroom for the legend
    ax.set_xlabel("Target value")
    ax.set_ylabel("Predictive density")
    ax.set_title(f"Predictive densities of point {idx}")
    ax.legend(loc="upper center", fontsize="small", ncols=2)
    return ax


def calibration_figure(
    y_true: ArrayLike,
    predictive: Predictive,
    *,
    level: float = 0.9,
    title: str | None = None,
) -> Figure:
    """Six calibration views in one 2 x 3 figure, ready for a report.

    Top row: :func:`plot_reliability`, :func:`plot_pit_histogram`, :func:`plot_parity`;
    bottom row: :func:`plot_error_vs_std`, :func:`plot_ordered_intervals`,
    :func:`plot_sharpness`. The figure is made without pyplot (constrained layout).

    Parameters
    ----------
    y_true : array_like of shape (n,)
    predictive : Predictive of length n
    level : float in (0, 1), default 0.9
        Interval level of the parity and ordered-interval panels.
    title : str, optional
        Figure title; by default it names the predictive kind and ``n``.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig`` or :func:`figure_to_png`; in Jupyter it displays
        inline as the value of a cell.

    Raises
    ------
    InputError
        As the panel functions.
    """
    y = M._check_inputs(y_true, predictive)
    level = _check_open_unit("level", level, "0.9")
    fig = Figure(figsize=(16.5, 10.0), layout="constrained")
    axes = fig.subplots(2, 3)
    plot_reliability(y, predictive, ax=axes[0, 0])
    plot_pit_histogram(y, predictive, ax=axes[0, 1])
    plot_parity(y, predictive, ax=axes[0, 2], level=level)
    plot_error_vs_std(y, predictive, ax=axes[1, 0])
    plot_ordered_intervals(y, predictive, ax=axes[1, 1], level=level)
    plot_sharpness(predictive, ax=axes[1, 2])
    fig.suptitle(
        title if title is not None
        else f"Calibration of a {predictive.kind} predictive (n = {len(y)})",
        fontsize="x-large",
    )
    return fig


def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes (for embedding in HTML as a base64 data URI).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        E.g. from :func:`calibration_figure` or ``ax.figure``.
    dpi : int, default 110

    Returns
    -------
    bytes
        Starting with the PNG signature ``b"\\x89PNG\\r\\n\\x1a\\n"``.

    Raises
    ------
    InputError
        If ``fig`` is not a Figure or ``dpi < 1``.
    """
    if not isinstance(fig, Figure):
        raise InputError(
            f"fig must be a matplotlib Figure, got {type(fig).__name__}; for an Axes pass "
            "ax.figure."
        )
    dpi = check_int("dpi", dpi, 1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
