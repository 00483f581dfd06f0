"""Is one Gaussian enough? Held-out tests on the training rows with a known false-alarm rate.

A mixture density network fitted to 30-500 rows invents modes and heavy tails on perfectly
Gaussian data, so reading its shape candidate by candidate flags nearly everything (issue 13:
86-91 % of clean candidates at n = 60-150). :func:`heldout_evidence` asks the question one
level up first, with tests whose false-alarm rate is known at every n:

1. Split the training rows into ``n_folds`` folds (seeded). For every fold, fit the mixture
   model and a one-Gaussian reference (by default the same network with one component) on the
   other folds and predict the held-out rows.
2. *Two outcomes* (backs the "bimodal" verdicts): the kurtosis of the reference's held-out
   residuals ``y_i - mean_i``. Any mixture of zero-mean Gaussians (a correct Gaussian model,
   homo- or heteroscedastic, plus the scatter of an imperfect fit) has kurtosis >= 3; two
   separated outcomes in part of the input space pull it below 3. The null distribution is the
   sample kurtosis of n normal draws (Monte Carlo, 20 000 sets, exact at every n), so the test
   is exact for a homoscedastic correct model and conservative otherwise.
3. *Shape* (backs every MDN verdict: modes, heavy tails, a wrong noise level): the share of
   held-out rows the mixture predicts better than one Gaussian (``log p_mix(y_i) -
   log p_gauss(y_i) > 0``), a one-sided sign test against 1/2; robust to the few rows an
   over-confident fit gives almost no density, which decide a mean log-score difference.

Each test runs at ``alpha / 2``. :func:`bdl.diagnostics.triage` uses the result
(``evidence=``): the MDN's bimodal flags count only when either test rejects, its heavy-tail
and noise flags only when the second does; otherwise a candidate the MDN would have flagged is
``ok`` (enough rows) or ``unsure`` (fewer than ``min_n`` rows: "no evidence" is then not
"evidence of none"). ``benchmarks/diagnostics_synthetic.py`` measures the rates on fresh draws;
``tests/test_diagnostics_evidence.py`` tests the false-alarm rate.

References
----------
.. [1] K. V. Mardia, "Measures of multivariate skewness and kurtosis with applications",
   Biometrika 57 (1970) 519-530 (kurtosis tests of normality; b2 < 3 for bimodal mixtures).
.. [2] T. Gneiting and A. E. Raftery, "Strictly proper scoring rules, prediction, and
   estimation", JASA 102 (2007) 359-378 (the logarithmic score).
.. [3] F. X. Diebold and R. S. Mariano, "Comparing predictive accuracy", J. Business & Economic
   Statistics 13 (1995) 253-263 (tests on paired score differences).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from bdl.errors import InputError

__all__ = ["DECISIONS", "MixtureEvidence", "evidence_from_gains", "heldout_evidence"]

FloatArray = NDArray[np.float64]

#: Decisions of :class:`MixtureEvidence`.
DECISIONS = ("supported", "not_supported", "unsure")

#: Held-out log scores are clipped below at this many nats per row, so that one row the
#: reference gives (numerically) zero density cannot decide the test alone.
_LOG_FLOOR = -50.0


@dataclass(frozen=True)
class MixtureEvidence:
    """The outcome of :func:`heldout_evidence`: two one-sided tests on held-out training rows.

    *Two outcomes* (backs "bimodal"): the kurtosis of the one-Gaussian reference's held-out
    standardised residuals. A Gaussian's is 3; two separated outcomes in part of the input space
    pull it below 3, while a reference that over- or under-fits (the usual state with 30-500 rows)
    only raises it, so a low value is evidence of two outcomes that overfitting cannot fake. The
    null distribution is that of n independent normal draws, by Monte Carlo (exact at every n).

    *Shape* (backs every MDN verdict, "misspecified" ones only by it): the share of held-out rows the mixture
    predicts better than one Gaussian (a sign test: one row the reference gives almost zero density
    cannot decide it alone).

    Each test runs at level ``alpha / 2``, so clean data pass both at least ``1 - alpha`` of the time.

    Attributes
    ----------
    n, n_folds : int
    gain : float
        Mean held-out log-score gain of the mixture over one Gaussian, nats per row (reported).
    win_share : float
        Share of held-out rows the mixture predicts better.
    p_value : float
        Sign test p-value of ``win_share`` (one-sided, against 1/2).
    kurtosis : float
        Kurtosis of the reference's held-out standardised residuals (NaN without them).
    kurtosis_p : float
        Chance that n normal draws give a kurtosis this low (1.0 without residuals).
    alpha, min_gain : float
    min_n : int
        Below this many rows a test that does not reject says "unsure", not "not supported".
    row_gain : ndarray of shape (n,)
    """

    n: int
    n_folds: int
    gain: float
    win_share: float
    p_value: float
    kurtosis: float = float("nan")
    kurtosis_p: float = 1.0
    alpha: float = 0.05
    min_gain: float = 0.0
    min_n: int = 100
    row_gain: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def supports_bimodal(self) -> bool:
        """Two outcomes (low residual kurtosis) or the mixture's shape beat a correct Gaussian
        model, each test at level ``alpha / 2``."""
        return bool(self.kurtosis_p < self.alpha / 2) or self.supports_misspecified

    @property
    def supports_misspecified(self) -> bool:
        """The mixture's shape beats one Gaussian at level ``alpha / 2``."""
        return bool(self.p_value < self.alpha / 2 and self.gain >= self.min_gain)

    @property
    def rejects(self) -> bool:
        """Whether either test rejects a correct Gaussian model."""
        return self.supports_bimodal or self.supports_misspecified

    @property
    def decision(self) -> str:
        """``"supported"`` (the data are not one Gaussian), ``"not_supported"`` or ``"unsure"``."""
        if self.rejects:
            return "supported"
        return "unsure" if self.n < self.min_n else "not_supported"

    def text(self) -> str:
        """The evidence in words, with the numbers."""
        parts = []
        if np.isfinite(self.kurtosis):
            parts.append(
                f"one Gaussian's held-out residuals have kurtosis {self.kurtosis:.2f} (3 for a Gaussian; two separated "
                f"outcomes pull it down); under a correct Gaussian model a value this low happens in "
                f"{_pct(self.kurtosis_p)} of fits")
        parts.append(
            f"the mixture model predicts {self.win_share:.0%} of held-out rows better than one Gaussian (mean gain "
            f"{self.gain:+.2f} nats per row); under a correct Gaussian model a share this high happens in "
            f"{_pct(self.p_value)} of fits")
        head = "; ".join(parts) + f" ({self.n_folds}-fold cross-validation over {self.n} rows)"
        low_kurtosis = bool(self.kurtosis_p < self.alpha / 2)
        if low_kurtosis and self.supports_misspecified:
            return head + f": both below the {self.alpha / 2:.1%} level, the data are not one Gaussian"
        if low_kurtosis:
            return head + f": the kurtosis is below the {self.alpha / 2:.1%} level, two outcomes are real"
        if self.supports_misspecified:
            return head + f": the share is below the {self.alpha / 2:.1%} level, the shape is real"
        if self.decision == "unsure":
            return head + (f": no evidence yet, and with fewer than {self.min_n} rows the tests have little power, "
                           "so the MDN's shape is neither confirmed nor ruled out")
        return head + ": no evidence that the predictive is anything but Gaussian"

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for JSON (without the per-row gains)."""
        return {"n": self.n, "n_folds": self.n_folds, "gain": float(self.gain), "win_share": float(self.win_share),
                "p_value": float(self.p_value), "kurtosis": None if not np.isfinite(self.kurtosis) else float(self.kurtosis),
                "kurtosis_p": float(self.kurtosis_p), "alpha": self.alpha, "min_gain": self.min_gain,
                "min_n": self.min_n, "supports_bimodal": self.supports_bimodal,
                "supports_misspecified": self.supports_misspecified, "decision": self.decision, "text": self.text()}


def _pct(p: float) -> str:
    if p < 0.001:
        return "under 0.1 %"
    if p < 0.01:
        return f"{100 * p:.1f} %"
    return f"{100 * p:.0f} %"


def _fresh(est: Any, seed: int) -> Any:
    """An unfitted copy of an estimator with ``random_state=seed`` (scikit-learn's contract)."""
    if callable(est) and not hasattr(est, "fit"):
        return est(seed)
    if not hasattr(est, "get_params"):
        raise InputError(f"expected an estimator with get_params / fit / predict_dist or a factory "
                         f"seed -> estimator, got {type(est).__name__}.")
    params = est.get_params()
    if "random_state" in params:
        params["random_state"] = seed
    if "warm_start" in params:
        params["warm_start"] = False
    return type(est)(**params)


def heldout_evidence(
    X: Any,
    y: Any,
    mixture: Any,
    gaussian: Any = None,
    *,
    n_folds: int = 3,
    alpha: float = 0.05,
    min_gain: float = 0.0,
    min_n: int = 100,
    seed: int = 0,
    transform: Callable[[Any], Any] | None = None,
) -> MixtureEvidence:
    """Test whether a mixture predicts held-out training rows better than one Gaussian.

    Parameters
    ----------
    X : array_like of shape (n, d)
    y : array_like of shape (n,)
    mixture : estimator or callable ``seed -> estimator``
        The mixture model (e.g. the campaign's :class:`bdl.models.MixtureDensityRegressor`);
        an estimator is copied through ``get_params`` for every fold, never refitted in place.
    gaussian : estimator or callable, optional
        The one-Gaussian reference. Default: ``mixture``'s settings with ``n_components=1``
        (the same network, so the test compares shapes only).
    n_folds : int, default 3
    alpha : float, default 0.05
        Level of the one-sided test: the false-alarm rate on data from a correct Gaussian model.
    min_gain : float, default 0.02
        Smallest mean gain in nats per row that counts as evidence.
    min_n : int, default 100
        Below this many rows a test that does not reject reports "unsure".
    seed : int, default 0
        Seeds the folds and the fits.
    transform : callable, optional
        Applied to every held-out predictive before scoring (e.g. truncation to physical
        bounds, ``lambda p: truncate(p, 0.0, None)``), to both models alike.

    Returns
    -------
    MixtureEvidence

    Raises
    ------
    InputError
        For fewer than ``2 * n_folds`` rows, mismatched lengths or bad settings.
    """
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    if Xa.ndim != 2 or Xa.shape[0] != ya.shape[0]:
        raise InputError(f"X must have shape (n, d) with n = len(y) = {ya.shape[0]}, got {Xa.shape}.")
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise InputError(f"n_folds must be an int >= 2, got {n_folds!r}.")
    n = ya.shape[0]
    if n < 2 * n_folds:
        raise InputError(f"heldout_evidence needs at least {2 * n_folds} rows for {n_folds} folds, got {n}.")
    if not 0.0 < float(alpha) < 1.0:
        raise InputError(f"alpha must lie in (0, 1), got {alpha!r}.")
    if gaussian is None:
        if not hasattr(mixture, "get_params"):
            raise InputError("pass gaussian= (the one-Gaussian reference) when mixture is a factory.")
        params = mixture.get_params()
        if "n_components" not in params:
            raise InputError("the default one-Gaussian reference needs a mixture estimator with n_components.")
        gaussian = type(mixture)(**{**params, "n_components": 1})
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(n) % n_folds)
    seeds = np.random.SeedSequence(int(seed)).generate_state(2 * n_folds)
    d = np.empty(n)
    z = np.empty(n)
    for k in range(n_folds):
        test = fold == k
        train = ~test
        scores = []
        for j, est in enumerate((mixture, gaussian)):
            m = _fresh(est, int(seeds[2 * k + j] % 2**31)).fit(Xa[train], ya[train])
            p = m.predict_dist(Xa[test])
            if transform is not None:
                p = transform(p)
            with np.errstate(divide="ignore"):
                lp = np.asarray(p.log_prob(ya[test]), dtype=float)
            scores.append(np.maximum(np.nan_to_num(lp, nan=_LOG_FLOOR, neginf=_LOG_FLOOR), _LOG_FLOOR))
            if j == 1:  # raw residuals: any mixture of zero-mean Gaussians has kurtosis >= 3
                z[test] = ya[test] - np.asarray(p.mean, dtype=float)
        d[test] = scores[0] - scores[1]
    return evidence_from_gains(d, n_folds=n_folds, alpha=alpha, min_gain=min_gain, min_n=min_n, residuals=z)


#: Monte Carlo draws of the null distribution of the residual kurtosis.
_KURT_DRAWS = 20_000
_KURT_NULL: dict[int, FloatArray] = {}


def _kurtosis(z: FloatArray) -> FloatArray:
    """Sample kurtosis ``m4 / m2^2`` along the last axis."""
    c = z - z.mean(axis=-1, keepdims=True)
    m2 = np.mean(c * c, axis=-1)
    return np.mean(c**4, axis=-1) / np.maximum(m2, 1e-300) ** 2


def kurtosis_null(n: int) -> FloatArray:
    """Sorted sample kurtoses of ``_KURT_DRAWS`` sets of n standard normal draws (seeded, cached)."""
    if n not in _KURT_NULL:
        rng = np.random.default_rng([20260, n])
        out = np.empty(_KURT_DRAWS)
        step = max(1, 2_000_000 // n)
        for i in range(0, _KURT_DRAWS, step):
            m = min(step, _KURT_DRAWS - i)
            out[i : i + m] = _kurtosis(rng.normal(size=(m, n)))
        _KURT_NULL[n] = np.sort(out)
    return _KURT_NULL[n]


def evidence_from_gains(row_gain: Any, *, n_folds: int, alpha: float = 0.05, min_gain: float = 0.0,
                        min_n: int = 100, residuals: Any = None) -> MixtureEvidence:
    """:class:`MixtureEvidence` from per-row held-out gains (nats) and, optionally, the reference's
    held-out standardised residuals, shape (n,)."""
    from scipy.stats import binomtest

    d = np.asarray(row_gain, dtype=np.float64).reshape(-1)
    if d.size < 2 or not np.isfinite(d).all():
        raise InputError(f"row_gain must hold at least 2 finite numbers, got {d.size} (finite: {np.isfinite(d).sum()}).")
    n = d.size
    wins = int(np.sum(d > 0))
    ties = int(np.sum(d == 0))
    p = float(binomtest(wins, n - ties, 0.5, alternative="greater").pvalue) if n - ties > 0 else 1.0
    kurt, kp = float("nan"), 1.0
    if residuals is not None:
        z = np.asarray(residuals, dtype=np.float64).reshape(-1)
        if z.shape != (n,):
            raise InputError(f"residuals must have shape ({n},) like row_gain, got {z.shape}.")
        z = z[np.isfinite(z)]
        if z.size >= 4:
            kurt = float(_kurtosis(z))
            null = kurtosis_null(int(z.size))
            kp = float((np.searchsorted(null, kurt, side="right") + 1) / (null.size + 1))
    return MixtureEvidence(n=n, n_folds=int(n_folds), gain=float(d.mean()), win_share=wins / n, p_value=p,
                           kurtosis=kurt, kurtosis_p=kp, alpha=float(alpha), min_gain=float(min_gain),
                           min_n=int(min_n), row_gain=d)
