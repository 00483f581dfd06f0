"""Tests of :mod:`bdl.calibration.plots` on the Agg backend.

Smoke tests over every predictive kind, plus checks that each plot draws the right numbers:
the reliability curve of calibrated data is the diagonal, PIT bars are densities, one
interval bar per point, binned RMSE / RMV recomputed by hand, densities that integrate to
one; and that nothing touches pyplot's figure registry or the global rcParams.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from scipy import stats  # noqa: E402

from bdl.calibration.plots import (  # noqa: E402
    calibration_figure,
    figure_to_png,
    plot_error_vs_std,
    plot_ordered_intervals,
    plot_parity,
    plot_pit_histogram,
    plot_recalibration_map,
    plot_reliability,
    plot_sharpness,
    plot_two_predictives,
)
from bdl.errors import InputError  # noqa: E402
from bdl.predictive import (  # noqa: E402
    GaussianPredictive,
    MixturePredictive,
    Predictive,
    SamplePredictive,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------
# data: y drawn from the predictive itself, so every kind is calibrated by construction
# ------------------------------------------------------------------------------------------


def _gaussian(n: int, seed: int = 0) -> tuple[np.ndarray, GaussianPredictive]:
    rng = np.random.default_rng(seed)
    mean = rng.uniform(-2.0, 3.0, n)
    std = rng.uniform(0.2, 1.0, n)
    return mean + std * rng.standard_normal(n), GaussianPredictive(mean, std)


def _mixture(n: int, seed: int = 1) -> tuple[np.ndarray, MixturePredictive]:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(3), size=n)
    locs = rng.normal(0.0, 2.0, (n, 3))
    scales = rng.uniform(0.2, 0.8, (n, 3))
    p = MixturePredictive(weights, locs, scales)
    return p.sample(1, seed=seed)[0], p


def _samples(n: int, seed: int = 2) -> tuple[np.ndarray, SamplePredictive]:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.0, 4.0, (n, 1))
    locs = centre + 0.4 * rng.standard_normal((n, 10))
    p = SamplePredictive(locs, rng.uniform(0.2, 0.5, (n, 10)))
    return p.sample(1, seed=seed)[0], p


def _plain_samples(n: int, seed: int = 3) -> tuple[np.ndarray, SamplePredictive]:
    rng = np.random.default_rng(seed)
    p = SamplePredictive(rng.normal(1.0, 0.5, (n, 1)) + rng.standard_normal((n, 30)))
    return p.sample(1, seed=seed)[0], p


KINDS: dict[str, Callable[[int], tuple[np.ndarray, Predictive]]] = {
    "gaussian": _gaussian,
    "mixture": _mixture,
    "samples": _samples,
    "plain_samples": _plain_samples,
}


@pytest.fixture(params=list(KINDS))
def data(request: pytest.FixtureRequest) -> tuple[np.ndarray, Predictive]:
    return KINDS[request.param](120)


def _snapshot() -> dict[str, object]:
    return {k: matplotlib.rcParams[k] for k in matplotlib.rcParams}


@pytest.fixture(autouse=True)
def no_global_state() -> Iterator[None]:
    """Every test: no figure registered with pyplot, and rcParams unchanged."""
    import matplotlib.pyplot as plt

    figs = plt.get_fignums()
    before = _snapshot()
    yield
    assert plt.get_fignums() == figs
    assert _snapshot() == before


def _line(ax: Axes, label_start: str, exact: bool = False) -> Line2D:
    """The one line whose label starts with (or, with ``exact``, equals) ``label_start``."""
    labels = [str(ln.get_label()) for ln in ax.get_lines()]
    hits = [lab == label_start if exact else lab.startswith(label_start) for lab in labels]
    lines = [ln for ln, hit in zip(ax.get_lines(), hits, strict=True) if hit]
    assert len(lines) == 1, [ln.get_label() for ln in ax.get_lines()]
    return lines[0]


def _intervals(ax: Axes) -> LineCollection:
    found = [c for c in ax.collections if c.get_gid() == "intervals"]
    assert len(found) == 1
    assert isinstance(found[0], LineCollection)
    return found[0]


def _legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


# ------------------------------------------------------------------------------------------
# smoke tests over every kind: an Axes back, drawn into the given ax, labelled
# ------------------------------------------------------------------------------------------

PLOTS_WITH_Y: dict[str, Callable[..., Axes]] = {
    "reliability": plot_reliability,
    "pit": plot_pit_histogram,
    "parity": plot_parity,
    "error_vs_std": plot_error_vs_std,
    "ordered": plot_ordered_intervals,
}


@pytest.mark.parametrize("name", list(PLOTS_WITH_Y))
def test_every_plot_returns_a_labelled_axes_on_a_new_figure(
    name: str, data: tuple[np.ndarray, Predictive]
) -> None:
    y, p = data
    ax = PLOTS_WITH_Y[name](y, p)
    assert isinstance(ax, Axes)
    assert isinstance(ax.figure, Figure)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None


@pytest.mark.parametrize("name", list(PLOTS_WITH_Y))
def test_every_plot_draws_into_the_given_axes(name: str) -> None:
    y, p = _gaussian(60)
    fig = Figure()
    ax0, ax1 = fig.subplots(1, 2)
    out = PLOTS_WITH_Y[name](y, p, ax=ax1)
    assert out is ax1
    assert len(fig.axes) == 2
    assert not ax0.has_data()
    assert ax1.has_data()


def test_sharpness_runs_for_every_kind_and_uses_the_given_axes(
    data: tuple[np.ndarray, Predictive],
) -> None:
    _, p = data
    fig = Figure()
    ax = fig.subplots()
    assert plot_sharpness(p, ax=ax) is ax
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == pytest.approx(len(p))  # a count histogram of all points
    xs = {round(float(ln.get_xdata()[0]), 12) for ln in ax.get_lines()}
    std = np.asarray(p.stddev)
    assert round(float(std.mean()), 12) in xs
    assert round(float(np.sqrt(np.mean(p.variance))), 12) in xs
    assert any(t.startswith("sharpness (RMS std)") for t in _legend_texts(ax))


def test_calibration_figure_for_every_kind(data: tuple[np.ndarray, Predictive]) -> None:
    y, p = data
    fig = calibration_figure(y, p)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6
    assert all(ax.get_title() for ax in fig.axes)
    assert fig.get_suptitle()


# ------------------------------------------------------------------------------------------
# the numbers each plot draws
# ------------------------------------------------------------------------------------------


def test_reliability_of_calibrated_data_is_the_diagonal() -> None:
    y, p = _gaussian(3000)
    ax = plot_reliability(y, p, n_levels=50)
    curve = _line(ax, "model")
    x, obs = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    assert len(x) == 50
    np.testing.assert_allclose(x, np.linspace(0.0, 1.0, 50))
    np.testing.assert_allclose(obs, x, atol=0.05)
    area = float(re.search(r"area = ([0-9.]+)", " ".join(_legend_texts(ax))).group(1))
    assert area < 0.03


def test_reliability_of_over_confident_model_lies_below_the_diagonal() -> None:
    y, p = _gaussian(2000)
    narrow = GaussianPredictive(p.mean, 0.5 * np.asarray(p.stddev))
    ax = plot_reliability(y, narrow)
    curve = _line(ax, "model")
    x, obs = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    mid = (x > 0.2) & (x < 0.95)
    assert np.all(obs[mid] < x[mid] - 0.05)
    # the observed share inside a central p-interval of N(0, (s/2)^2) for y ~ N(0, s^2)
    expected = 2.0 * stats.norm.cdf(0.5 * stats.norm.ppf(0.5 + x[mid] / 2.0)) - 1.0
    np.testing.assert_allclose(obs[mid], expected, atol=0.05)
    area = float(re.search(r"area = ([0-9.]+)", " ".join(_legend_texts(ax))).group(1))
    assert area > 0.1


def test_pit_histogram_is_a_density_with_a_binomial_band() -> None:
    y, p = _gaussian(400)
    ax = plot_pit_histogram(y, p, n_bins=16, confidence=0.9)
    bars = [c for c in ax.containers]
    assert len(bars) == 1 and len(bars[0].patches) == 16
    heights = np.array([b.get_height() for b in bars[0].patches])
    widths = np.array([b.get_width() for b in bars[0].patches])
    assert np.sum(heights * widths) == pytest.approx(1.0)
    # the bars are the PIT counts / (n * width)
    counts, _ = np.histogram(p.cdf(y), bins=np.linspace(0, 1, 17))
    np.testing.assert_allclose(heights, counts * 16 / 400)
    # the band: 5 % and 95 % binomial quantiles of one bin's count, as densities
    band = [q for q in ax.patches if str(q.get_label()).startswith("90 % range")]
    assert len(band) == 1
    lo, hi = stats.binom.ppf([0.05, 0.95], 400, 1 / 16) * 16 / 400
    band_y = ax.transData.inverted().transform(band[0].get_verts())[:, 1]  # data coordinates
    assert min(band_y) == pytest.approx(lo) and max(band_y) == pytest.approx(hi)
    # the KS p-value, as stats.kstest computes it
    title = ax.get_legend().get_title().get_text()
    pvalue = stats.kstest(p.cdf(y), "uniform").pvalue
    assert f"p = {pvalue:.2g}" in title


def test_parity_has_one_bar_per_point_and_the_coverage_in_the_title() -> None:
    y, p = _gaussian(150)
    ax = plot_parity(y, p, level=0.8)
    assert len(_intervals(ax).get_segments()) == 150
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in points) == 150
    lower, upper = p.interval(0.8)
    inside = (y >= lower) & (y <= upper)
    assert f"{inside.mean():.1%} inside 80 % intervals" in ax.get_title()
    # the red (outside) points are exactly the points outside their interval
    outside = [c for c in points if str(c.get_label()).startswith("outside")][0]
    np.testing.assert_allclose(np.asarray(outside.get_offsets())[:, 0], y[~inside])


def test_parity_copes_with_a_mixture_whose_mean_is_outside_its_interval() -> None:
    # 96 % of the mass near 0, 4 % at 100: the mean (4.0) is above the 90 % interval
    p = MixturePredictive([[0.96, 0.04]] * 3, [[0.0, 100.0]] * 3, [[1.0, 1.0]] * 3)
    lower, upper = p.interval(0.9)
    assert np.all(p.mean > upper)
    ax = plot_parity([0.0, 1.0, 2.0], p)
    assert len(_intervals(ax).get_segments()) == 3


def test_error_vs_std_draws_binned_rmse_against_rmv() -> None:
    y, p = _gaussian(3000)
    ax = plot_error_vs_std(y, p, n_bins=10)
    curve = _line(ax, "binned")
    rmv, rmse = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    order = np.argsort(p.variance)
    groups = np.array_split(order, 10)
    np.testing.assert_allclose(rmv, [np.sqrt(np.mean(p.variance[g])) for g in groups])
    np.testing.assert_allclose(rmse, [np.sqrt(np.mean((y[g] - p.mean[g]) ** 2)) for g in groups])
    assert np.all(np.diff(rmv) > 0)
    np.testing.assert_allclose(rmse, rmv, rtol=0.15)  # calibrated: on the diagonal
    ence = np.mean(np.abs(rmv - rmse) / rmv)
    assert f"ENCE = {ence:.3f}" in _legend_texts(ax)


def test_error_vs_std_uses_at_most_n_bins() -> None:
    y, p = _gaussian(4)
    ax = plot_error_vs_std(y, p, n_bins=10)
    assert len(_line(ax, "binned").get_xdata()) == 4


def test_ordered_intervals_subsample_evenly_and_sort_by_mean() -> None:
    y, p = _gaussian(500)
    ax = plot_ordered_intervals(y, p, max_points=200)
    assert len(_intervals(ax).get_segments()) == 200
    mean_line = np.asarray(_line(ax, "predicted mean").get_ydata())
    assert np.all(np.diff(mean_line) >= 0)
    assert mean_line[0] == pytest.approx(p.mean.min())  # both ends of the range are kept
    assert mean_line[-1] == pytest.approx(p.mean.max())
    assert "200 of 500 shown" in ax.get_xlabel()
    small = plot_ordered_intervals(y[:50], p[:50], max_points=200)
    assert len(_intervals(small).get_segments()) == 50
    assert "shown" not in small.get_xlabel()


def test_recalibration_map_draws_the_map_and_the_identity() -> None:
    y, p = _gaussian(300)
    pit = p.cdf(y)
    ax = plot_recalibration_map(lambda q: q**2, pit_values=pit)
    line = _line(ax, "recalibration map")
    np.testing.assert_allclose(line.get_ydata(), np.asarray(line.get_xdata()) ** 2)
    _line(ax, "identity")
    ecdf = _line(ax, "empirical CDF")
    assert ecdf.get_ydata()[-1] == pytest.approx(1.0)
    assert len(ax.patches) == 20  # the PIT histogram in the background


def test_recalibration_map_accepts_scalar_functions_and_predict_objects() -> None:
    ax = plot_recalibration_map(lambda q: math.sqrt(q))  # math.sqrt fails on arrays
    drawn = _line(ax, "recalibration map").get_ydata()
    np.testing.assert_allclose(drawn, np.sqrt(np.linspace(0, 1, 201)))

    class Isotonic:
        def predict(self, q: np.ndarray) -> np.ndarray:
            return np.clip(1.2 * q - 0.1, 0.0, 1.0)

    ax = plot_recalibration_map(Isotonic())
    assert _line(ax, "recalibration map").get_ydata()[0] == 0.0


def test_two_predictives_draw_densities_that_integrate_to_one() -> None:
    mix = MixturePredictive(
        [[0.5, 0.5], [0.3, 0.7]], [[-2.0, 2.0], [0.0, 1.0]], [[0.5, 0.5], [1.0, 1.0]]
    )
    gauss = GaussianPredictive(mix.mean, mix.stddev)
    grid = np.linspace(-15.0, 15.0, 3001)
    ax = plot_two_predictives(grid, gauss, mix, 0, y_true=[1.7, 0.0])
    first, second = _line(ax, "Gaussian BNN", exact=True), _line(ax, "MDN", exact=True)
    for line in (first, second):
        assert np.trapezoid(line.get_ydata(), line.get_xdata()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(second.get_ydata(), np.exp(mix[0].log_prob(grid[:, None])[:, 0]))
    # bimodal: the MDN density is near zero at the Gaussian's mean (0), the Gaussian's is not
    assert np.interp(0.0, grid, second.get_ydata()) < 0.01 < np.interp(0.0, grid, first.get_ydata())
    assert _line(ax, "Gaussian BNN mean").get_xdata()[0] == pytest.approx(0.0)
    assert _line(ax, "observed").get_xdata()[0] == pytest.approx(1.7)


def test_two_predictives_pick_a_grid_and_accept_custom_labels() -> None:
    y, p = _samples(10)
    _, q = _gaussian(10)
    fig = Figure()
    ax = fig.subplots()
    out = plot_two_predictives(None, p, q, -1, ax=ax, labels=("ensemble", "BNN"), y_true=2.5)
    assert out is ax
    assert "point 9" in ax.get_title()
    _line(ax, "ensemble", exact=True)
    _line(ax, "BNN", exact=True)
    _line(ax, "ensemble mean")


# ------------------------------------------------------------------------------------------
# figures and PNG bytes
# ------------------------------------------------------------------------------------------


def test_figure_to_png_returns_png_bytes() -> None:
    y, p = _gaussian(30)
    png = figure_to_png(plot_parity(y, p).figure, dpi=50)
    assert isinstance(png, bytes)
    assert png.startswith(PNG_SIGNATURE)


def test_calibration_figure_saves_a_readable_png(tmp_path: pytest.TempPathFactory) -> None:
    y, p = _gaussian(400)
    fig = calibration_figure(y, GaussianPredictive(p.mean, 0.5 * np.asarray(p.stddev)))
    path = tmp_path / "calibration.png"  # type: ignore[operator]
    fig.savefig(path, dpi=80)
    assert path.stat().st_size > 10_000
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_importing_the_module_does_not_import_pyplot() -> None:
    code = "import sys, bdl.calibration.plots; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PLOTS_WITH_Y))
def test_length_mismatch_names_the_argument(name: str) -> None:
    y, p = _gaussian(20)
    with pytest.raises(InputError, match=r"y_true has 19 values but the gaussian predictive has 20 points"):
        PLOTS_WITH_Y[name](y[:19], p)


@pytest.mark.parametrize("name", list(PLOTS_WITH_Y))
def test_nan_in_y_true_names_the_rows(name: str) -> None:
    y, p = _gaussian(20)
    y[[3, 11]] = np.nan
    with pytest.raises(InputError, match=r"y_true has NaN or infinite values at row\(s\) 3, 11"):
        PLOTS_WITH_Y[name](y, p)


def test_calibration_figure_validates_y_true() -> None:
    y, p = _gaussian(20)
    with pytest.raises(InputError, match="y_true"):
        calibration_figure(y[:5], p)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda y, p: plot_reliability(y, p.mean), "predictive must be a bdl.predictive"),
        (lambda y, p: plot_reliability(y, p, n_levels=1), "n_levels"),
        (lambda y, p: plot_pit_histogram(y, p, n_bins=0), "n_bins"),
        (lambda y, p: plot_pit_histogram(y, p, confidence=1.0), "confidence"),
        (lambda y, p: plot_parity(y, p, level=90), "level"),
        (lambda y, p: plot_parity(y, p, ax="left"), "ax must be a matplotlib Axes"),
        (lambda y, p: plot_ordered_intervals(y, p, max_points=1), "max_points"),
        (lambda y, p: plot_sharpness(p, n_bins=2.5), "n_bins"),
        (lambda y, p: plot_recalibration_map(lambda q: 2.0 * q), "mapping must return probab"),
        (lambda y, p: plot_recalibration_map("isotonic"), "mapping must be a callable"),
        (
            lambda y, p: plot_recalibration_map(lambda q: q, pit_values=[0.2, 1.5]),
            r"pit_values .* rows \[1\]",
        ),
        (lambda y, p: plot_two_predictives(None, p, p[:5], 0), "first has 20 rows but second"),
        (lambda y, p: plot_two_predictives(None, p, p, 20), "index 20 is out of range"),
        (lambda y, p: plot_two_predictives([1.0], p, p, 0), "y_grid"),
        (lambda y, p: figure_to_png(plot_sharpness(p)), "fig must be a matplotlib Figure"),
    ],
)
def test_bad_arguments_raise_input_error(call: Callable[..., object], match: str) -> None:
    y, p = _gaussian(20)
    with pytest.raises(InputError, match=match):
        call(y, p)
