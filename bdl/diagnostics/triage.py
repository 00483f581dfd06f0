"""Per-candidate triage: is a BNN's predictive variance what it seems?

:func:`triage` compares, for every candidate, the predictive of a Bayesian net (any kind:
MC dropout, variational, ensemble; read as a Gaussian through its mean and variance) with the
Gaussian mixture of a mixture density network fitted to the same data, and returns one row per
candidate with a status, the reasons in words and the numbers behind them:

``out_of_distribution``
    The candidate is far from the training data in descriptor space (k-NN distance score above
    ``max_ood_score``; :class:`bdl.diagnostics.ood.KNNDistance`). Both nets extrapolate; a large
    epistemic variance is honest here, but the MDN's shape is not to be trusted, so this
    status comes first (the gate leaves such candidates to exploration by default).
``bimodal``
    The MDN density has two (or more) modes that each hold at least ``min_mass`` of the
    probability, are separated (Ashman's D >= ``min_ashman_d``) and have a valley between them
    (depth >= ``min_valley_depth``). The BNN's variance then mostly measures the distance
    between two outcomes (e.g. two polymorphs, or a metal and an insulator), not ignorance;
    its mean may be a value that does not occur at all (``in_valley``).
    When a fitted :class:`bdl.diagnostics.replicates.ReplicateSpread` is passed
    (``replicates=``, for training data with repeated inputs such as compositions with several
    polymorphs), it decides instead: bimodal when the predicted spread of replicate outcomes
    reaches ``min_replicate_spread``. The MDN cannot tell "this input has two outcomes" from
    "neighbouring inputs differ"; replicates can, and on ``matbench_mp_gap`` their flag is far
    more accurate (``benchmarks/results/diagnostics_polymorphs.md``). The MDN's verdict stays in
    the column ``mdn_bimodal``.
``misspecified``
    The Gaussian is the wrong shape: heavy tails (MDN tail probability above
    ``max_tail_ratio`` times a Gaussian's), a Gaussian putting ``max_mass_below_bound`` or more of its mass
    below a physical lower bound (band gaps below 0), or a noise level the BNN gets wrong by a
    factor (``max_noise_ratio``, BNN aleatoric variance vs MDN variance). With ``evidence=``
    whose shape test rejects one Gaussian while its two-outcomes test does not, the MDN's modes
    count here too (column ``unconfirmed_modes``): the data are shown not to be one Gaussian,
    two outcomes are not shown yet. Before, such candidates were ``ok``, and in the simulated
    gate campaigns (``benchmarks/gate_campaigns.py``) expected improvement sent whole rounds
    to them: their Gaussian spread, the distance between two outcomes, looked like ignorance.
``unsure``
    With ``evidence=`` (:func:`bdl.diagnostics.heldout_evidence`) only: the MDN's shape would
    flag the candidate, but the held-out tests could not tell the data from one Gaussian and
    there are fewer rows than the test needs for power (``evidence.min_n``). Honest with
    little data; the gate does not act on it by default. The MDN's modes need the
    two-outcomes test (``evidence.supports_bimodal``: flat residuals where one Gaussian
    predicts the widest spread), its heavy tails and noise ratio the shape test
    (``evidence.supports_misspecified``: a held-out log-score gain beyond ``min_gain``).
``ok``
    None of the above. With ``evidence=`` that does not reject one Gaussian, candidates the MDN
    alone would flag are ``ok`` too (column ``held_by_evidence``): the MDN's shape on them is
    what a fit to Gaussian data of this size shows anyway.

A candidate gets the first status that applies in the order above; the boolean columns
``is_bimodal``, ``is_ood`` and ``is_misspecified`` keep every flag.

The thresholds and how they were chosen are in :class:`TriageThresholds`; the benchmark
``benchmarks/diagnostics_synthetic.py`` measures their detection and false-alarm rates.

References
----------
.. [1] K. M. Ashman, C. M. Bird and S. E. Zepf, "Detecting bimodality in astronomical
   datasets", Astronomical Journal 108 (1994) 2348-2361.
.. [2] A. Kendall and Y. Gal, "What uncertainties do we need in Bayesian deep learning for
   computer vision?", NeurIPS 2017 (epistemic / aleatoric split).
.. [3] C. M. Bishop, "Mixture density networks", NCRG/94/004, 1994.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtr

from bdl.diagnostics.modes import Modes, find_modes, mixture_or_none
from bdl.errors import InputError

__all__ = ["STATUSES", "TriageThresholds", "bimodal_flag", "mixture_excess_kurtosis", "triage"]

FloatArray = NDArray[np.float64]

_GAUSS_TAIL_3 = 2.0 * float(ndtr(-3.0))

#: The statuses :func:`triage` assigns, in order of precedence.
STATUSES: tuple[str, ...] = ("out_of_distribution", "bimodal", "misspecified", "unsure", "ok")


@dataclass(frozen=True)
class TriageThresholds:
    """Thresholds of :func:`triage`; defaults chosen on ``benchmarks/diagnostics_synthetic.py``.

    The defaults were picked on the synthetic benchmark only (never on the polymorph test
    split): the smallest settings that keep false alarms on clean unimodal data at or below
    5 % while flagging at least 90 % of two-regime candidates separated by 3 noise widths
    (see ``benchmarks/results/diagnostics_synthetic.md`` for the measured rates).

    Parameters
    ----------
    min_mass : float, default 0.1
        A mode counts when its basin holds at least this probability. 0.1 keeps a 90/10 phase
        split visible and ignores the small ripples an MDN makes on unimodal data.
    min_ashman_d : float, default 3.0
        Ashman's D of the two heaviest modes (computed from the moments of their basins of
        attraction) needed for "bimodal". D > 2 is the usual "clean separation" (Ashman et al.
        1994), but basin moments are truncated and so run higher than component moments; at 2
        an MDN's spurious shallow splits on clean data gave 10 % false bimodal calls in the
        synthetic benchmark, at 3 about 1-2 %, with 91 % detection at 3 noise widths.
    min_valley_depth : float, default 0.0
        How far the density between the two modes must dip below the lower peak (0: any
        valley, which two modes always have). Raising it trades detection for false alarms:
        0.1 cut detection at 3 noise widths from 91 % to 70 % in the synthetic benchmark
        (an MDN fitted to finite data rounds the valley off) for one point less of false alarms.
    max_ood_score : float, default 1.5
        k-NN distance score above which a candidate is out of distribution: 1.5 times the
        99th percentile of the training points' own k-NN distances.
    max_tail_ratio : float, default 8.0
        Heavy tails: the MDN's probability of falling more than 3 robust standard deviations
        (IQR / 1.349) from its median, over a Gaussian's 0.27 %. Exact Student-t noise gives
        about 16 (3 degrees of freedom); in the synthetic benchmark MDNs fitted to t_3 noise gave
        a median of 14, MDNs fitted to Gaussian noise a median of 1.3 and a 99th percentile of
        8.4 (at 4, 6 % of clean candidates were flagged). A robust measure: the excess kurtosis,
        also reported, explodes for a 1 % stray wide component.
    max_mass_below_bound : float, default 0.1
        Share of the BNN's Gaussian mass below ``lower_bound`` that marks it misspecified for
        a bounded target while the MDN keeps (much) less there.
    max_noise_ratio : float, default 4.0
        BNN aleatoric variance over MDN variance (or the inverse) above which the BNN's noise
        model is wrong for this candidate.
    valley_density_ratio : float, default 0.5
        The BNN mean lies "in a valley" when the MDN density there is below this fraction of
        the lower of the two dominant peaks, and it lies between them.
    min_replicate_spread : float, default 0.4
        In target units; used only with a replicate model. A candidate is bimodal when the
        predicted spread (max - min) of its replicate outcomes reaches this. 0.4 eV was chosen
        for band gaps on the validation compositions of ``matbench_mp_gap`` (never its test
        split): balanced accuracy 0.79 there against polymorph spreads above 1.5 vs below 0.3 eV
        (0.3 eV: 0.79, 0.6 eV: 0.69). For another target, set it to the spread between
        replicates that would mean two different outcomes (a few noise widths).
    """

    min_mass: float = 0.1
    min_ashman_d: float = 3.0
    min_valley_depth: float = 0.0
    max_ood_score: float = 1.5
    max_tail_ratio: float = 8.0
    max_mass_below_bound: float = 0.1
    max_noise_ratio: float = 4.0
    valley_density_ratio: float = 0.5
    min_replicate_spread: float = 0.4

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not np.isfinite(v):
                raise InputError(f"TriageThresholds.{f.name} must be a finite number, got {v!r}.")
        if not 0.0 <= self.min_mass < 0.5:
            raise InputError(f"TriageThresholds.min_mass must lie in [0, 0.5), got {self.min_mass!r}.")
        if not 0.0 <= self.min_valley_depth < 1.0:
            raise InputError(f"TriageThresholds.min_valley_depth must lie in [0, 1), got {self.min_valley_depth!r}.")
        if not 0.0 < self.max_mass_below_bound < 1.0:
            raise InputError(
                f"TriageThresholds.max_mass_below_bound must lie in (0, 1), got {self.max_mass_below_bound!r}.")
        if self.max_noise_ratio <= 1.0:
            raise InputError(f"TriageThresholds.max_noise_ratio must exceed 1, got {self.max_noise_ratio!r}.")
        if self.max_ood_score <= 0 or self.min_ashman_d < 0:
            raise InputError("TriageThresholds.max_ood_score must be positive and min_ashman_d >= 0.")
        if self.min_replicate_spread <= 0:
            raise InputError(
                f"TriageThresholds.min_replicate_spread must be positive (target units), got {self.min_replicate_spread!r}.")

    def to_dict(self) -> dict[str, float]:
        """The thresholds as a plain dict (for reports and JSON)."""
        return {k: float(v) for k, v in asdict(self).items()}


def mixture_excess_kurtosis(w: FloatArray, loc: FloatArray, scale: FloatArray) -> FloatArray:
    """Excess kurtosis of n Gaussian mixtures, closed form from the component moments.

    Parameters
    ----------
    w, loc, scale : ndarray of shape (n, K)

    Returns
    -------
    ndarray of shape (n,)
        0 for a single Gaussian, 3 for a Laplace-like 50/50 scale mixture with a 1:sqrt(7)
        scale ratio, negative for separated modes.
    """
    mean = np.sum(w * loc, axis=1, keepdims=True)
    d = loc - mean
    s2 = scale**2
    m2 = np.sum(w * (s2 + d**2), axis=1)
    m4 = np.sum(w * (d**4 + 6 * d**2 * s2 + 3 * s2**2), axis=1)
    return m4 / np.maximum(m2, 1e-300) ** 2 - 3.0


def bimodal_flag(triage_df: pd.DataFrame, thresholds: TriageThresholds | None = None) -> NDArray[np.bool_]:
    """The ``is_bimodal`` flag of a triage table recomputed under other thresholds, without refitting.

    Equal to ``triage(..., thresholds=thresholds)["is_bimodal"]`` (the second-heaviest mode
    counts exactly when its mass reaches ``min_mass``), so threshold sweeps on a validation set
    cost nothing. Rows with a ``replicate_spread`` (triage with a replicate model) are judged
    by it against ``min_replicate_spread``; the others by the MDN's modes.

    Parameters
    ----------
    triage_df : DataFrame from :func:`triage`
    thresholds : TriageThresholds, optional

    Returns
    -------
    ndarray of bool of shape (n,)
    """
    th = thresholds if thresholds is not None else TriageThresholds()
    need = {"second_mass", "ashman_d", "valley_depth"}
    if not isinstance(triage_df, pd.DataFrame) or not need <= set(triage_df.columns):
        raise InputError(f"triage_df must be the DataFrame returned by triage (with columns {sorted(need)}).")
    mdn = _mdn_bimodal(triage_df["second_mass"].to_numpy(), triage_df["ashman_d"].to_numpy(),
                       triage_df["valley_depth"].to_numpy(), th)
    if "replicate_spread" not in triage_df.columns:
        return mdn
    return _combine(mdn, triage_df["replicate_spread"].to_numpy(dtype=float), th)[0]


def _mdn_bimodal(second_mass: FloatArray, ashman_d: FloatArray, valley_depth: FloatArray,
                 th: TriageThresholds) -> NDArray[np.bool_]:
    return (second_mass >= th.min_mass) & (ashman_d >= th.min_ashman_d) & (valley_depth >= th.min_valley_depth)


def _combine(mdn: NDArray[np.bool_], replicate_spread: FloatArray,
             th: TriageThresholds) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(is_bimodal, replicate_bimodal): the replicate verdict where there is one, else the MDN's."""
    has = np.isfinite(replicate_spread)
    rep = has & (np.nan_to_num(replicate_spread, nan=0.0) >= th.min_replicate_spread)
    return np.where(has, rep, mdn), rep


def _tail_ratio(pred: Any) -> FloatArray:
    """P(|Y - median| > 3 IQR / 1.349) over the Gaussian value 0.0027, for any predictive kind."""
    q = np.asarray(pred.quantile(np.array([0.25, 0.5, 0.75])), dtype=float)
    robust = (q[2] - q[0]) / 1.3489795003921634
    lo, hi = q[1] - 3 * robust, q[1] + 3 * robust
    tail = np.asarray(pred.cdf(np.nextafter(lo, -np.inf)), dtype=float) + np.asarray(pred.sf(hi), dtype=float)
    return tail / _GAUSS_TAIL_3


def _excess_kurtosis(pred: Any) -> FloatArray:
    """Excess kurtosis: closed form for mixture kinds; for the others the continuous part's
    density on a grid (``log_prob``, trapezoid rule) plus the point masses, exactly placed."""
    mixture = mixture_or_none(pred)
    if mixture is not None:
        return mixture_excess_kurtosis(*mixture)
    from bdl.diagnostics.modes import _continuous_grid

    n = len(pred)
    grid, logf = _continuous_grid(pred, n, 512)
    f = np.exp(logf)
    xs: list[FloatArray] = [grid]
    ws: list[FloatArray] = []
    dx = np.diff(grid, axis=1)
    trap = np.zeros_like(grid)  # trapezoid weights per grid point
    trap[:, :-1] += dx / 2
    trap[:, 1:] += dx / 2
    ws.append(f * trap)
    for pos, mass in (("lower", "p_lower"), ("upper", "p_upper")):
        if hasattr(pred, mass):
            m = np.asarray(getattr(pred, mass), dtype=float).reshape(-1, 1)
            x = np.asarray(getattr(pred, pos), dtype=float).reshape(-1, 1)
            xs.append(np.where(np.isfinite(x), x, 0.0))
            ws.append(np.where(np.isfinite(x), m, 0.0))
    x = np.concatenate(xs, axis=1)
    w = np.concatenate(ws, axis=1)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    mu = np.sum(w * x, axis=1, keepdims=True)
    d = x - mu
    m2 = np.sum(w * d**2, axis=1)
    return np.sum(w * d**4, axis=1) / np.maximum(m2, 1e-300) ** 2 - 3.0


def _mass_below(pred: Any, bound: float) -> FloatArray:
    """P(Y < bound) for any kind (an atom at the bound itself is not below it)."""
    return np.clip(np.asarray(pred.cdf(np.nextafter(bound, -np.inf)), dtype=float), 0.0, 1.0)


def _check_pair(bnn_pred: Any, mdn_pred: Any) -> int:
    for name, p in (("bnn_pred", bnn_pred), ("mdn_pred", mdn_pred)):
        if not all(hasattr(p, a) for a in ("log_prob", "cdf", "quantile", "variance")):
            raise InputError(
                f"{name} must be a bdl predictive (the output of model.predict_dist(X)), got {type(p).__name__}."
            )
    if len(bnn_pred) != len(mdn_pred):
        raise InputError(
            f"bnn_pred has {len(bnn_pred)} candidates but mdn_pred has {len(mdn_pred)}; predict both on the same "
            "candidate rows."
        )
    return len(bnn_pred)


def _reasons(df: pd.DataFrame, th: TriageThresholds, lower_bound: float | None) -> list[str]:
    """Plain-words reasons, one string per row ('' for ok rows)."""
    out: list[str] = []
    cols = {c: df[c].to_numpy() for c in df.columns}
    for i in range(len(df)):
        parts: list[str] = []
        modes = ""
        if cols["unconfirmed_modes"][i] or (cols["is_bimodal"][i] and cols["mdn_bimodal"][i]):  # quoted below
            modes = (f"the MDN has {int(cols['n_modes'][i])} modes ({cols['mode_1'][i]:.3g} with "
                     f"{cols['mass_1'][i]:.0%} and {cols['mode_2'][i]:.3g} with {cols['mass_2'][i]:.0%}; "
                     f"Ashman's D {cols['ashman_d'][i]:.2f})")
        if cols["replicate_bimodal"][i]:
            parts.append(
                f"replicates of inputs like this one are predicted to spread over {cols['replicate_spread'][i]:.3g} "
                f"(max - min; bimodal from {th.min_replicate_spread:g}): it likely has more than one outcome, "
                "e.g. two polymorphs"
            )
        if cols["unconfirmed_modes"][i]:
            parts.append(f"{modes}: the held-out test backs a shape one Gaussian misses, not yet two outcomes, so "
                         "this counts as a wrong shape rather than bimodal")
        if cols["is_bimodal"][i] and cols["mdn_bimodal"][i]:
            parts.append(f"{modes}; the spread between them explains {cols['between_mode_share'][i]:.0%} of the "
                         "BNN's variance")
            if cols["in_valley"][i]:
                parts.append(
                    f"the BNN mean {cols['bnn_mean'][i]:.3g} falls in the valley between the modes (MDN density there "
                    f"{cols['bnn_mean_density_ratio'][i]:.0%} of the lower peak): a value that is unlikely to occur"
                )
        if cols["is_ood"][i]:
            parts.append(
                f"far from the training data (k-NN distance {cols['ood_score'][i]:.2f} times the training set's own "
                "99th percentile): both nets extrapolate"
            )
        if cols["heavy_tails"][i]:
            parts.append(
                f"heavy tails (the MDN puts {cols['tail_ratio'][i]:.2g} times a Gaussian's probability beyond 3 "
                "robust standard deviations)"
            )
        if cols["bound_violation"][i]:
            parts.append(
                f"the BNN Gaussian puts {cols['bnn_mass_below_bound'][i]:.0%} of its mass below the lower bound "
                f"{lower_bound:g}, the MDN {cols['mdn_mass_below_bound'][i]:.0%}"
            )
        if cols["noise_mismatch"][i]:
            r = cols["noise_ratio"][i]
            parts.append(
                f"the BNN's noise variance is {r:.2g} times the MDN's" if r > 1 else
                f"the BNN's noise variance is 1/{1 / r:.2g} of the MDN's"
            )
        out.append("; ".join(parts))
    return out


def triage(
    bnn_pred: Any,
    mdn_pred: Any,
    *,
    X_train: Any = None,
    X_candidates: Any = None,
    thresholds: TriageThresholds | None = None,
    index: Any = None,
    lower_bound: float | None = None,
    ood: Any = None,
    replicates: Any = None,
    grid_size: int = 256,
    evidence: Any = None,
) -> pd.DataFrame:
    """Triage every candidate: ok, bimodal, misspecified or out of distribution.

    Parameters
    ----------
    bnn_pred : Predictive of length n
        The Bayesian net's predictive (MC dropout, variational, ensemble, or a Gaussian).
    mdn_pred : Predictive of length n
        A mixture density network's predictive on the same candidates.
    X_train : array_like or DataFrame of shape (n_train, d), optional
        Training descriptors; with ``X_candidates`` gives the OOD score
        (:class:`bdl.diagnostics.ood.KNNDistance`, fitted here).
    X_candidates : array_like or DataFrame of shape (n, d), optional
    thresholds : TriageThresholds, optional
        Defaults documented on :class:`TriageThresholds`.
    index : array_like of length n, optional
        Row labels of the result (e.g. candidate IDs).
    lower_bound : float, optional
        Physical lower bound of the target (0 for band gaps): enables the bound check.
    ood : fitted KNNDistance, optional
        Reuse a fitted OOD scorer instead of ``X_train`` (saves its fit on repeated calls).
    replicates : fitted ReplicateSpread, optional
        A model of replicate spread (:class:`bdl.diagnostics.replicates.ReplicateSpread`,
        fitted on training data with repeated inputs); needs ``X_candidates``. When given it
        decides the bimodal status (see the module docstring).
    grid_size : int, default 256
        Grid of :func:`bdl.diagnostics.find_modes`.
    evidence : MixtureEvidence, optional
        The held-out test of :func:`bdl.diagnostics.heldout_evidence` on the training rows.
        When given, the MDN's "bimodal" flags count only when its two-outcomes test rejects one
        Gaussian (``supports_bimodal``), its heavy-tail and noise-ratio flags only when its shape
        test does (``supports_misspecified``), and its modes count as a wrong shape
        (``misspecified``) when only the shape test rejects; clean data are then flagged only in
        the fits where a test rejects (nominal 0.5 % + 2.5 % at ``alpha = 0.05``; the measured
        rates on fresh synthetic draws are in ``benchmarks/results/diagnostics_synthetic.md``).
        Once a test rejects, every candidate the MDN flags for what it backs counts, also where
        the inputs are clean.
        Its words go into the reasons and ``df.attrs["evidence"]``.

    Returns
    -------
    DataFrame with n rows
        ``status`` (one of :data:`STATUSES`), ``reasons`` (words; empty when ok), the flags
        ``is_bimodal``, ``mdn_bimodal`` (the MDN modes' verdict), ``replicate_bimodal``,
        ``is_ood``, ``is_misspecified``, ``in_valley``, ``heavy_tails``,
        ``bound_violation``, ``noise_mismatch``, ``unconfirmed_modes`` (MDN modes counted as a
        wrong shape, see ``evidence``), ``held_by_evidence``, and the numbers: ``replicate_spread`` (NaN
        without a replicate model), ``bnn_mean``, ``bnn_std``,
        ``epistemic_share`` (NaN when the BNN has no split), ``mdn_mean``, ``mdn_std``,
        ``n_modes``, ``mode_1``, ``mode_2``, ``mass_1``, ``mass_2``, ``second_mass``,
        ``ashman_d``, ``valley_depth``, ``between_mode_std`` (MDN, target units),
        ``between_mode_share`` (MDN between-mode variance / BNN variance),
        ``bimodality_score`` (= ``between_mode_std`` where the modes are separated, else 0),
        ``bnn_mean_density_ratio``, ``mdn_excess_kurtosis``, ``tail_ratio``, ``noise_ratio``,
        ``bnn_mass_below_bound``, ``mdn_mass_below_bound``, ``ood_score`` (NaN without data).

    Raises
    ------
    InputError
        For predictives of different lengths, a wrong ``index`` length, or only one of
        ``X_train`` / ``X_candidates``.
    """
    n = _check_pair(bnn_pred, mdn_pred)
    th = thresholds if thresholds is not None else TriageThresholds()
    if not isinstance(th, TriageThresholds):
        raise InputError(f"thresholds must be a TriageThresholds, got {type(th).__name__}.")
    if index is not None and len(index) != n:
        raise InputError(f"index has {len(index)} labels but there are {n} candidates; pass one label per candidate.")
    if X_train is not None and X_candidates is None:
        raise InputError("X_train needs X_candidates (the candidates' descriptors) for the out-of-distribution score.")
    if X_candidates is not None and X_train is None and ood is None and replicates is None:
        raise InputError("X_candidates is used only with X_train or a fitted ood scorer (out-of-distribution score) "
                         "or a replicate model; pass one of them, or leave X_candidates out.")

    modes: Modes = find_modes(mdn_pred, min_mass=th.min_mass, grid_size=grid_size)
    bnn_mean = np.asarray(bnn_pred.mean, dtype=float)
    bnn_var = np.asarray(bnn_pred.variance, dtype=float)
    if getattr(bnn_pred, "has_split", False):
        epi = np.asarray(bnn_pred.epistemic_variance, dtype=float)
        alea = np.asarray(bnn_pred.aleatoric_variance, dtype=float)
        epi_share = np.divide(epi, bnn_var, out=np.zeros(n), where=bnn_var > 0)
    else:
        alea = bnn_var
        epi_share = np.full(n, np.nan)
    mdn_mean = np.asarray(mdn_pred.mean, dtype=float)
    mdn_var = modes.variance

    between_share = np.divide(modes.between_variance, bnn_var, out=np.zeros(n), where=bnn_var > 0)
    # MDN density at the BNN mean relative to the lower of the two dominant peaks
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f_mean = np.asarray(mdn_pred.log_prob(bnn_mean), dtype=float)
    two = modes.n_modes >= 2
    lower_peak = np.where(two, np.nanmin(modes.peak_log_density, axis=1), modes.peak_log_density[:, 0])
    density_ratio = np.exp(np.minimum(log_f_mean - lower_peak, 0.0))
    lo_mode = np.fmin(modes.locations[:, 0], modes.locations[:, 1])
    hi_mode = np.fmax(modes.locations[:, 0], modes.locations[:, 1])
    between_modes = two & (bnn_mean > lo_mode) & (bnn_mean < hi_mode)
    in_valley = between_modes & (density_ratio < th.valley_density_ratio)

    mdn_bimodal = two & _mdn_bimodal(modes.second_mass, modes.ashman_d, modes.valley_depth, th)
    if replicates is not None:
        if X_candidates is None:
            raise InputError("a replicate model needs X_candidates (the candidates' descriptors).")
        if not hasattr(replicates, "predict") or not hasattr(replicates, "n_groups_"):
            raise InputError(
                f"replicates must be a fitted bdl.diagnostics.ReplicateSpread, got {type(replicates).__name__}.")
        replicate_spread = np.asarray(replicates.predict(X_candidates), dtype=float)
        if len(replicate_spread) != n:
            raise InputError(
                f"X_candidates has {len(replicate_spread)} rows but there are {n} candidates; they must match.")
    else:
        replicate_spread = np.full(n, np.nan)
    is_bimodal, replicate_bimodal = _combine(mdn_bimodal, replicate_spread, th)
    kurt = _excess_kurtosis(mdn_pred)
    tail_ratio = _tail_ratio(mdn_pred)
    heavy = tail_ratio > th.max_tail_ratio
    noise_ratio = np.divide(alea, mdn_var, out=np.ones(n), where=mdn_var > 0)
    noise_mismatch = (noise_ratio > th.max_noise_ratio) | (noise_ratio < 1.0 / th.max_noise_ratio)
    if lower_bound is not None:
        lb = float(lower_bound)
        bnn_below = _mass_below(bnn_pred, lb)
        mdn_below = _mass_below(mdn_pred, lb)
        bound_violation = (bnn_below >= th.max_mass_below_bound) & (mdn_below < 0.5 * bnn_below)
    else:
        bnn_below = mdn_below = np.full(n, np.nan)
        bound_violation = np.zeros(n, dtype=bool)
    held = np.zeros(n, dtype=bool)
    unconfirmed_modes = np.zeros(n, dtype=bool)
    if evidence is not None:
        if not all(hasattr(evidence, a) for a in ("supports_bimodal", "supports_misspecified", "decision")):
            raise InputError(f"evidence must be a bdl.diagnostics.MixtureEvidence, got {type(evidence).__name__}.")
        if not evidence.supports_bimodal:
            mdn_only = is_bimodal & ~replicate_bimodal
            is_bimodal = is_bimodal & replicate_bimodal
            if evidence.supports_misspecified:
                # the shape test backs the MDN's shape, modes included; two outcomes are not shown yet
                unconfirmed_modes = mdn_only
            else:
                held |= mdn_only
        if not evidence.supports_misspecified:
            held |= heavy | noise_mismatch
            heavy = np.zeros(n, dtype=bool)
            noise_mismatch = np.zeros(n, dtype=bool)
        held &= ~(is_bimodal | heavy | noise_mismatch | bound_violation)
    is_mis = heavy | noise_mismatch | bound_violation | unconfirmed_modes
    is_unsure = held & (evidence is not None and evidence.decision == "unsure")

    if ood is None and X_train is not None:
        from bdl.diagnostics.ood import KNNDistance

        ood = KNNDistance().fit(X_train)
    if ood is not None:
        if X_candidates is None:
            raise InputError("a fitted ood scorer needs X_candidates (the candidates' descriptors).")
        ood_score = ood.score(X_candidates)
        if len(ood_score) != n:
            raise InputError(f"X_candidates has {len(ood_score)} rows but there are {n} candidates; they must match.")
    else:
        ood_score = np.full(n, np.nan)
    is_ood = np.nan_to_num(ood_score, nan=0.0) > th.max_ood_score

    status = np.where(is_ood, "out_of_distribution", np.where(is_bimodal, "bimodal", np.where(
        is_mis, "misspecified", np.where(is_unsure, "unsure", "ok"))))
    mf = modes.to_frame()
    between_std = np.sqrt(modes.between_variance)
    df = pd.DataFrame(
        {
            "status": pd.Categorical(status, categories=list(STATUSES)),
            "reasons": "",
            "is_bimodal": is_bimodal,
            "mdn_bimodal": mdn_bimodal,
            "replicate_bimodal": replicate_bimodal,
            "is_ood": is_ood,
            "is_misspecified": is_mis,
            "in_valley": in_valley,
            "heavy_tails": heavy,
            "bound_violation": bound_violation,
            "noise_mismatch": noise_mismatch,
            "unconfirmed_modes": unconfirmed_modes,
            "held_by_evidence": held,
            "bnn_mean": bnn_mean,
            "bnn_std": np.sqrt(bnn_var),
            "epistemic_share": epi_share,
            "mdn_mean": mdn_mean,
            "mdn_std": np.sqrt(mdn_var),
            "n_modes": modes.n_modes,
            "mode_1": mf["mode_1"].to_numpy(),
            "mode_2": mf["mode_2"].to_numpy(),
            "mass_1": mf["mass_1"].to_numpy(),
            "mass_2": mf["mass_2"].to_numpy(),
            "second_mass": modes.second_mass,
            "ashman_d": modes.ashman_d,
            "valley_depth": modes.valley_depth,
            "between_mode_std": between_std,
            "between_mode_share": between_share,
            "bimodality_score": np.where(modes.ashman_d >= th.min_ashman_d, between_std, 0.0),
            "bnn_mean_density_ratio": density_ratio,
            "mdn_excess_kurtosis": kurt,
            "tail_ratio": tail_ratio,
            "noise_ratio": noise_ratio,
            "bnn_mass_below_bound": bnn_below,
            "mdn_mass_below_bound": mdn_below,
            "ood_score": ood_score,
            "replicate_spread": replicate_spread,
        },
        index=pd.Index(index) if index is not None else None,
    )
    flagged = np.flatnonzero(status != "ok")
    if len(flagged):
        texts = _reasons(df.iloc[flagged], th, lower_bound)
        if evidence is not None:
            ev_text = evidence.text()
            unsure_rows = is_unsure[flagged]
            mdn_rows = (df["mdn_bimodal"].to_numpy() | df["heavy_tails"].to_numpy()
                        | df["noise_mismatch"].to_numpy())[flagged]
            texts = [
                (f"the MDN's shape would flag it, but {ev_text}" if u else
                 (f"{t}; {ev_text}" if m and t else t))
                for t, u, m in zip(texts, unsure_rows, mdn_rows)
            ]
        df.iloc[flagged, df.columns.get_loc("reasons")] = texts
    df.attrs["thresholds"] = th.to_dict()
    if evidence is not None:
        df.attrs["evidence"] = evidence.to_dict()
    return df
