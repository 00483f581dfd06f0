"""Acquisition functions: one score per candidate from a predictive distribution.

Every function here is a pure function of a :class:`bdl.predictive.Predictive` of any kind
(Gaussian, Gaussian mixture, samples, bounded, recalibrated, conformal) and of the best value
measured so far. An MC-dropout or ensemble predictive is scored as the mixture of its per-pass
Gaussians, not as a moment-matched Gaussian. They share one call
signature, so a campaign runner can treat them alike::

    f(pred, *, best=None, maximize=True, seed=None, **params) -> ndarray of shape (n,)

and **higher is always better**: minimisation is handled inside (``maximize=False`` scores the
improvement *below* ``best``). Choosing a batch from the scores is a separate step
(:mod:`discovery_loop.batch`).

======================  ==============================================  ====  =====  ====
name                    score                                           best  seed   log
======================  ==============================================  ====  =====  ====
``"greedy"``            predictive mean (pure exploitation)
``"ucb"``               ``mean + sqrt(beta) * stddev`` [2]_
``"ei"``                expected improvement, exact for mixtures [1]_   yes
``"log_ei"``            ``log`` of EI, stable far below ``best`` [3]_   yes          yes
``"pi"``                probability of improvement [5]_                 yes
``"log_pi"``            ``log`` of PI                                   yes          yes
``"thompson"``          one draw per candidate from the predictive [4]_       yes
``"max_variance"``      total predictive variance
``"max_epistemic"``     epistemic variance (needs the split)
``"window"``            ``P(low <= Y <= high)``
``"log_window"``        ``log P(low <= Y <= high)``                                  yes
``"random"``            uniform random numbers (a baseline)                   yes
======================  ==============================================  ====  =====  ====

Nothing here dispatches on the kind: the functions call the predictive's hooks
(``_expected_improvement``, ``_log_expected_improvement``, ``_window_probability``,
``_log_window_probability``, ``sf`` / ``_cdf_left``, ``sample``, ``_function_draw``), and each
kind answers with its own maths. Gaussian mixtures (and so the Gaussian and samples kinds) use
the closed forms below; a :class:`~bdl.predictive.BoundedPredictive` (truncated components plus
point masses at the bounds, e.g. a band gap that is exactly 0 for a metal) its closed form for
truncated normals plus the atoms; a conformal predictive distribution (discrete) its exact
sums; an isotonic-recalibrated predictive, whose cdf ``R(F(y))`` has no closed-form EI, exact
one-dimensional quadrature of ``int_t^inf P(Y > y) dy`` in log space
(:meth:`~bdl.predictive.Predictive._generic_log_expected_improvement`) and a
cancellation-free difference of its cdfs for the window.

``ACQUISITIONS`` maps these names to the functions; :func:`get_acquisition` binds parameters
(checked at once) and returns a :class:`BoundAcquisition`, a callable
``score(pred, best=None, maximize=True, seed=None)``.

Expected improvement of a mixture is exact: the improvement ``max(Y - best, 0)`` is linear in
the density, so for ``Y ~ sum_k w_k N(m_k, s_k^2)`` it is ``sum_k w_k s_k h(z_k)`` with
``z_k = (m_k - best) / s_k`` and ``h(z) = phi(z) + z Phi(z)`` [1]_. Its logarithm is
``logsumexp_k(log w_k + log s_k + log h(z_k))`` where ``log h`` follows Ament et al. [3]_:
direct for ``z > -1``, ``log phi(z) + log1mexp(log(|z| Phi(z) / phi(z)))`` through the scaled
complementary error function ``erfcx`` (:func:`log_h`), and the asymptote ``log phi(z) - 2 log|z|`` for
``z < -1/sqrt(eps)``. So ``log_ei`` stays finite and monotone where EI itself underflows to 0
(``z`` of about -38 and below), which keeps a ranking among candidates that all look hopeless.

References
----------
.. [1] D. R. Jones, M. Schonlau and W. J. Welch, "Efficient global optimization of expensive
   black-box functions", J. Global Optim. 13, 455-492 (1998).
.. [2] N. Srinivas, A. Krause, S. M. Kakade and M. Seeger, "Gaussian process optimization in
   the bandit setting: no regret and experimental design", ICML 2010.
.. [3] S. Ament, S. Daulton, D. Eriksson, M. Balandat and E. Bakshy, "Unexpected improvements
   to expected improvement for Bayesian optimization", NeurIPS 2023 (LogEI).
.. [4] W. R. Thompson, "On the likelihood that one unknown probability exceeds another in view
   of the evidence of two samples", Biometrika 25, 285-294 (1933).
.. [5] H. J. Kushner, "A new method of locating the maximum point of an arbitrary multipeak
   curve in the presence of noise", J. Basic Eng. 86, 97-106 (1964).
.. [6] X. Lu and B. Van Roy, "Ensemble sampling", NeurIPS 2017 (one ensemble member as one
   posterior function draw: ``thompson(..., shared_draw=True)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from bdl._random import Seed, make_rng
from bdl._validation import check_bool, check_predictive, check_real
from bdl.errors import InputError, UnsupportedOperationError
from bdl.predictive import Predictive
from bdl.registry import get, register, view
from bdl.predictive._improvement import (  # noqa: F401  (log_h is public here; the rest re-exported)
    _h,
    _log_ndtr_diff,
    _log_partial_h,
    _ndtr_diff,
    log_h,
)

__all__ = [
    "ACQUISITIONS",
    "AcquisitionFunction",
    "BoundAcquisition",
    "expected_improvement",
    "get_acquisition",
    "greedy_mean",
    "log_expected_improvement",
    "log_h",
    "log_probability_of_improvement",
    "log_window_probability",
    "max_epistemic_variance",
    "max_variance",
    "probability_of_improvement",
    "random_scores",
    "thompson_sampling",
    "upper_confidence_bound",
    "window_probability",
]

FloatArray = NDArray[np.float64]



class AcquisitionFunction(Protocol):
    """The call signature every acquisition function in this module has."""

    def __call__(
        self,
        pred: Predictive,
        *,
        best: float | None = None,
        maximize: bool = True,
        seed: Seed = None,
        **params: Any,
    ) -> FloatArray: ...


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def _check_pred(pred: Any, name: str) -> Predictive:
    hint = f" Acquisition {name!r} scores a predictive: call the model's predict_dist(X) first."
    return check_predictive(pred, "pred", hint)


def _check_best(best: Any, name: str, maximize: bool) -> float:
    which = "largest" if maximize else "smallest"
    if best is None:
        raise InputError(
            f"acquisition {name!r} needs best=..., the {which} value measured so far; before "
            "the first measurement use 'ucb', 'greedy', 'thompson' or a variance acquisition."
        )
    try:
        value = float(best)
    except (TypeError, ValueError):
        raise InputError(f"best must be a number, got {best!r} ({type(best).__name__}).") from None
    if not math.isfinite(value):
        raise InputError(
            f"best must be finite, got {value!r}; pass the {which} value measured so far."
        )
    return value


def _improvement_args(
    name: str, pred: Any, best: Any, xi: Any, maximize: Any
) -> tuple[Predictive, float, float, bool]:
    """The checked arguments of the improvement acquisitions (``ei``, ``log_ei``, ``pi``, ``log_pi``)."""
    pred = _check_pred(pred, name)
    maximize = check_bool("maximize", maximize)
    return pred, _check_best(best, name, maximize), check_real("xi", xi, minimum=0.0), maximize


def _check_window(low: Any, high: Any) -> tuple[float, float]:
    if low is None or high is None:
        raise InputError(
            "the window acquisition needs low=... and high=..., the target interval of the "
            "property (e.g. low=1.1, high=1.7 for a photovoltaic band gap in eV); use "
            "-inf or inf for a one-sided window."
        )
    lo = check_real("low", low, allow_inf=True)
    hi = check_real("high", high, allow_inf=True)
    if not lo < hi:
        raise InputError(f"the window needs low < high, got low={lo!r}, high={hi!r}; swap them.")
    if math.isinf(lo) and math.isinf(hi):
        raise InputError(
            "the window (-inf, inf) holds every value, so every candidate scores 1; give at "
            "least one finite bound."
        )
    return lo, hi


# --------------------------------------------------------------------------------------------
# the acquisition functions
# --------------------------------------------------------------------------------------------


def greedy_mean(
    pred: Predictive, *, best: float | None = None, maximize: bool = True, seed: Seed = None
) -> FloatArray:
    """Pure exploitation: the predictive mean (its negative when minimising).

    Parameters
    ----------
    pred : Predictive
        ``n`` candidates.
    best, seed
        Ignored (uniform signature).
    maximize : bool, default True

    Returns
    -------
    ndarray of shape (n,)
    """
    pred = _check_pred(pred, "greedy")
    mean = np.array(pred.mean, dtype=np.float64)
    return mean if check_bool("maximize", maximize) else -mean


def upper_confidence_bound(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    beta: float = 4.0,
) -> FloatArray:
    """Upper confidence bound ``mean + sqrt(beta) * stddev`` (GP-UCB, Srinivas et al. 2010).

    When minimising the score is ``-(mean - sqrt(beta) * stddev)``, the negated lower bound.
    ``stddev`` is the *total* predictive standard deviation (for a mixture, of the whole
    mixture), as in BoTorch's ``UpperConfidenceBound``.

    Parameters
    ----------
    pred : Predictive
    best, seed
        Ignored.
    maximize : bool, default True
    beta : float, default 4.0
        Non-negative trade-off; ``sqrt(beta)`` standard deviations are added (4.0 -> 2 sd).

    Returns
    -------
    ndarray of shape (n,)

    References
    ----------
    .. [1] N. Srinivas et al., "Gaussian process optimization in the bandit setting: no
       regret and experimental design", ICML 2010.
    """
    pred = _check_pred(pred, "ucb")
    beta = check_real("beta", beta, minimum=0.0)
    sign = 1.0 if check_bool("maximize", maximize) else -1.0
    return sign * np.asarray(pred.mean, dtype=np.float64) + math.sqrt(beta) * np.asarray(pred.stddev)


def expected_improvement(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    xi: float = 0.0,
) -> FloatArray:
    """Expected improvement ``E[max(Y - best - xi, 0)]``, exact for Gaussian mixtures.

    For ``Y ~ sum_k w_k N(m_k, s_k^2)`` it is ``sum_k w_k s_k h((m_k - best - xi) / s_k)``
    with ``h(z) = phi(z) + z Phi(z)`` (Jones et al. 1998). When minimising it is
    ``E[max(best - xi - Y, 0)]``. Far below ``best`` the value underflows to 0; rank such
    candidates with :func:`log_expected_improvement`.

    Parameters
    ----------
    pred : Predictive
    best : float
        Best value measured so far (the largest when maximising, the smallest when minimising).
    maximize : bool, default True
    seed
        Ignored.
    xi : float, default 0.0
        Non-negative margin an improvement must exceed.

    Returns
    -------
    ndarray of shape (n,), non-negative

    Raises
    ------
    InputError
        If ``best`` is missing or not finite, or ``xi`` is negative.

    References
    ----------
    .. [1] D. R. Jones, M. Schonlau and W. J. Welch, J. Global Optim. 13, 455-492 (1998).
    """
    pred, best, xi, maximize = _improvement_args("ei", pred, best, xi, maximize)
    return np.asarray(pred._expected_improvement(best, xi, maximize), dtype=np.float64)


def log_expected_improvement(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    xi: float = 0.0,
) -> FloatArray:
    """``log`` of :func:`expected_improvement`, computed in log space (LogEI, Ament et al. 2023).

    ``logsumexp_k(log w_k + log s_k + log h(z_k))`` with the stable ``log h`` of
    :func:`log_h`; finite and increasing in the mean even where EI underflows to 0. Zero-weight
    components contribute nothing.

    Parameters
    ----------
    pred, best, maximize, seed, xi
        As in :func:`expected_improvement`.

    Returns
    -------
    ndarray of shape (n,)

    References
    ----------
    .. [1] S. Ament, S. Daulton, D. Eriksson, M. Balandat and E. Bakshy, "Unexpected
       improvements to expected improvement for Bayesian optimization", NeurIPS 2023.
    """
    pred, best, xi, maximize = _improvement_args("log_ei", pred, best, xi, maximize)
    return np.asarray(pred._log_expected_improvement(best, xi, maximize), dtype=np.float64)


def probability_of_improvement(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    xi: float = 0.0,
) -> FloatArray:
    """Probability of improvement ``P(Y > best + xi)`` (``P(Y < best - xi)`` when minimising).

    Both inequalities are strict: with a point mass at ``best - xi`` (a bounded predictive
    whose atom is the best value so far) the atom is not an improvement.

    Parameters
    ----------
    pred, best, maximize, seed, xi
        As in :func:`expected_improvement`.

    Returns
    -------
    ndarray of shape (n,), in [0, 1]

    References
    ----------
    .. [1] H. J. Kushner, J. Basic Eng. 86, 97-106 (1964).
    """
    pred, best, xi, maximize = _improvement_args("pi", pred, best, xi, maximize)
    out = pred.sf(best + xi) if maximize else pred._cdf_left(best - xi)
    return np.array(out, dtype=np.float64)


def log_probability_of_improvement(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    xi: float = 0.0,
) -> FloatArray:
    """``log`` of :func:`probability_of_improvement`, finite far into the tail.

    Uses the predictive's ``log_sf`` / ``log_cdf`` (log-sum-exp over mixture components).

    Returns
    -------
    ndarray of shape (n,), <= 0
    """
    pred, best, xi, maximize = _improvement_args("log_pi", pred, best, xi, maximize)
    out = pred.log_sf(best + xi) if maximize else pred._log_cdf_left(best - xi)
    return np.array(out, dtype=np.float64)


def thompson_sampling(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    shared_draw: bool = False,
) -> FloatArray:
    """Thompson sampling: one draw per candidate from its predictive (Thompson 1933).

    Each candidate's draw is independent of the others (the predictive holds marginals only),
    so this is Thompson sampling on the marginals. With ``shared_draw=True`` and a samples
    predictive from an ensemble or MC dropout, one member / pass ``s`` is picked for *all*
    candidates and each draws from its ``N(locs[:, s], scales[:, s]**2)``: a coherent draw
    of the whole function, as in ensemble sampling (Lu and Van Roy 2017). Either way every
    candidate's draw has exactly its predictive distribution.

    Parameters
    ----------
    pred : Predictive
    best
        Ignored.
    maximize : bool, default True
        When minimising the negated draw is returned.
    seed : int, numpy.random.Generator or None
        The same int gives the same draws; ``None`` draws fresh entropy (not reproducible).
    shared_draw : bool, default False
        Only for ``kind == "samples"``.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    UnsupportedOperationError
        For ``shared_draw=True`` with a Gaussian or mixture predictive (their components are
        not consistent across candidates).

    References
    ----------
    .. [1] W. R. Thompson, Biometrika 25, 285-294 (1933).
    .. [2] X. Lu and B. Van Roy, "Ensemble sampling", NeurIPS 2017.
    """
    pred = _check_pred(pred, "thompson")
    maximize = check_bool("maximize", maximize)
    shared_draw = check_bool("shared_draw", shared_draw)
    rng = make_rng(seed)
    if shared_draw:
        draw = pred._function_draw(rng)
        if draw is None:
            raise UnsupportedOperationError(
                f"thompson with shared_draw=True needs a samples predictive (ensemble or MC "
                f"dropout passes), but got a {pred.kind} predictive, whose components are not "
                "the same function across candidates; use shared_draw=False."
            )
    else:
        draw = pred.sample(1, seed=rng)[0]
    draw = np.array(draw, dtype=np.float64)
    return draw if maximize else -draw


def max_variance(
    pred: Predictive, *, best: float | None = None, maximize: bool = True, seed: Seed = None
) -> FloatArray:
    """Pure exploration: the total predictive variance (uncertainty sampling).

    Beware: a large total variance may be noise (aleatoric) or two modes rather than
    ignorance; :func:`max_epistemic_variance` targets what a measurement can teach the model.

    Returns
    -------
    ndarray of shape (n,), non-negative
    """
    pred = _check_pred(pred, "max_variance")
    check_bool("maximize", maximize)
    return np.array(pred.variance, dtype=np.float64)


def max_epistemic_variance(
    pred: Predictive, *, best: float | None = None, maximize: bool = True, seed: Seed = None
) -> FloatArray:
    """Pure exploration on the epistemic (model) part of the variance only.

    Returns
    -------
    ndarray of shape (n,), non-negative

    Raises
    ------
    UnsupportedOperationError
        If the predictive carries no epistemic / aleatoric split; the message names its kind.

    References
    ----------
    .. [1] A. Kendall and Y. Gal, "What uncertainties do we need in Bayesian deep learning
       for computer vision?", NeurIPS 2017.
    """
    pred = _check_pred(pred, "max_epistemic")
    check_bool("maximize", maximize)
    try:
        epistemic = pred.epistemic_variance
    except UnsupportedOperationError as exc:
        raise UnsupportedOperationError(
            f"acquisition 'max_epistemic' needs the epistemic part of the variance, but this "
            f"{pred.kind} predictive has no epistemic/aleatoric split ({exc}) Use a model that "
            "provides it (ensemble, MC dropout with a noise head, variational net) or the "
            "'max_variance' acquisition."
        ) from None
    return np.array(epistemic, dtype=np.float64)


def window_probability(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    low: float | None = None,
    high: float | None = None,
) -> FloatArray:
    """Probability of landing in a target window, ``P(low <= Y <= high)``.

    For targets such as a photovoltaic band gap of 1.1-1.7 eV. Computed per mixture component
    without cancellation (windows are mirrored into the lower tail or split at the mean), so
    narrow and far-out windows keep their relative accuracy until they underflow; rank those
    with :func:`log_window_probability`.

    Parameters
    ----------
    pred : Predictive
    best, maximize, seed
        Ignored (the goal is the window).
    low, high : float
        Window bounds, ``low < high``; one of them may be infinite.

    Returns
    -------
    ndarray of shape (n,), in [0, 1]
    """
    pred = _check_pred(pred, "window")
    low, high = _check_window(low, high)
    return np.asarray(pred._window_probability(low, high), dtype=np.float64)


def log_window_probability(
    pred: Predictive,
    *,
    best: float | None = None,
    maximize: bool = True,
    seed: Seed = None,
    low: float | None = None,
    high: float | None = None,
) -> FloatArray:
    """``log P(low <= Y <= high)``, finite far outside the window.

    Per component ``log(Phi(b) - Phi(a)) = log Phi(b) + log1mexp(log Phi(a) - log Phi(b))``
    in the deep tail, then log-sum-exp over components.

    Returns
    -------
    ndarray of shape (n,), <= 0
    """
    pred = _check_pred(pred, "log_window")
    low, high = _check_window(low, high)
    return np.asarray(pred._log_window_probability(low, high), dtype=np.float64)


def random_scores(
    pred: Predictive, *, best: float | None = None, maximize: bool = True, seed: Seed = None
) -> FloatArray:
    """Uniform random scores in [0, 1): random search, the baseline every campaign needs.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        The same int gives the same scores.

    Returns
    -------
    ndarray of shape (n,)
    """
    pred = _check_pred(pred, "random")
    return make_rng(seed).random(pred.n_points)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


def _check_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the tunable parameters of acquisition ``name``."""
    out = dict(params)
    if "beta" in out:
        out["beta"] = check_real("beta", out["beta"], minimum=0.0)
    if "xi" in out:
        out["xi"] = check_real("xi", out["xi"], minimum=0.0)
    if "shared_draw" in out:
        out["shared_draw"] = check_bool("shared_draw", out["shared_draw"])
    if name in ("window", "log_window"):
        out["low"], out["high"] = _check_window(out.get("low"), out.get("high"))
    return out


def register_acquisition(
    name: str,
    func: Callable[..., FloatArray],
    *,
    defaults: Mapping[str, Any] | None = None,
    needs_best: bool = False,
    uses_seed: bool = False,
    is_log: bool = False,
    window: bool = False,
    replace: bool = False,
) -> Callable[..., FloatArray]:
    """Add an acquisition function to the registry (:mod:`bdl.registry`) under ``name``.

    Parameters
    ----------
    func : callable
        ``func(pred, *, best, maximize, seed, **params) -> ndarray of shape (n,)``, higher is better.
    defaults : mapping
        Its tunable parameters and their defaults (the parameters it accepts).
    needs_best, uses_seed, is_log
        See :class:`BoundAcquisition`.
    window : bool
        Whether it serves a window goal (a campaign refuses it for one otherwise).
    """
    return register("acquisition", name, func, defaults=defaults, replace=replace, needs_best=needs_best,
                    uses_seed=uses_seed, is_log=is_log, window=window)


for _name, _func, _defaults, _flags in (
    ("greedy", greedy_mean, {}, {}),
    ("ucb", upper_confidence_bound, {"beta": 4.0}, {}),
    ("ei", expected_improvement, {"xi": 0.0}, {"needs_best": True}),
    ("log_ei", log_expected_improvement, {"xi": 0.0}, {"needs_best": True, "is_log": True}),
    ("pi", probability_of_improvement, {"xi": 0.0}, {"needs_best": True}),
    ("log_pi", log_probability_of_improvement, {"xi": 0.0}, {"needs_best": True, "is_log": True}),
    ("thompson", thompson_sampling, {"shared_draw": False}, {"uses_seed": True}),
    ("max_variance", max_variance, {}, {"window": True}),
    ("max_epistemic", max_epistemic_variance, {}, {"window": True}),
    ("window", window_probability, {"low": None, "high": None}, {"window": True}),
    ("log_window", log_window_probability, {"low": None, "high": None}, {"is_log": True, "window": True}),
    ("random", random_scores, {}, {"uses_seed": True, "window": True}),
):
    register_acquisition(_name, _func, defaults=_defaults, **_flags)

#: Every acquisition function by name (a live view of the registry: parts registered from
#: outside the package show up); all share the signature of :class:`AcquisitionFunction`.
ACQUISITIONS: Mapping[str, Callable[..., FloatArray]] = view("acquisition")


@dataclass(frozen=True)
class BoundAcquisition:
    """An acquisition function with its parameters fixed; build it with :func:`get_acquisition`.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"log_ei"``.
    params : Mapping[str, Any]
        The full parameter set (defaults filled in), ready to store in a ledger.
    needs_best : bool
        Whether ``best`` must be passed (EI, PI and their logs).
    uses_seed : bool
        Whether the scores are random (Thompson, random); pass a ``seed`` for reproducibility.
    is_log : bool
        Whether the scores are logarithms of a positive acquisition (useful to
        :func:`discovery_loop.batch.select_batch` with ``log_scores``).
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    needs_best: bool = False
    uses_seed: bool = False
    is_log: bool = False

    def __call__(
        self,
        pred: Predictive,
        best: float | None = None,
        maximize: bool = True,
        seed: Seed = None,
    ) -> FloatArray:
        """Score every candidate of ``pred``; returns an ndarray of shape (n,), higher is better."""
        func = get("acquisition", self.name).obj
        return func(pred, best=best, maximize=maximize, seed=seed, **dict(self.params))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"get_acquisition({self.name!r}{', ' if args else ''}{args})"


def get_acquisition(name: str, **params: Any) -> BoundAcquisition:
    """Look up an acquisition function by name and bind its parameters.

    Parameters
    ----------
    name : str
        One of ``ACQUISITIONS`` (case and ``-`` / ``_`` insensitive: ``"log-EI"`` works).
    **params
        Tunables of that function: ``beta`` (ucb), ``xi`` (ei, log_ei, pi, log_pi),
        ``shared_draw`` (thompson), ``low`` and ``high`` (window, log_window; required).

    Returns
    -------
    BoundAcquisition
        ``score(pred, best=None, maximize=True, seed=None) -> ndarray of shape (n,)``.

    Raises
    ------
    InputError
        For an unknown name (the message lists the valid ones), a parameter the function does
        not take, or a bad parameter value.

    Examples
    --------
    >>> score = get_acquisition("window", low=1.1, high=1.7)
    >>> score.name, dict(score.params)
    ('window', {'low': 1.1, 'high': 1.7})
    """
    if not isinstance(name, str):
        raise InputError(f"the acquisition name must be a string, got {type(name).__name__}.")
    spec = get("acquisition", name)
    key = spec.name
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        accepted = ", ".join(sorted(spec.defaults)) or "none"
        raise InputError(
            f"acquisition {key!r} takes no parameter(s) {', '.join(unknown)}; it accepts: "
            f"{accepted}."
        )
    full = _check_params(key, {**spec.defaults, **params})
    return BoundAcquisition(
        name=key,
        params=MappingProxyType(full),
        needs_best=bool(spec.meta.get("needs_best", False)),
        uses_seed=bool(spec.meta.get("uses_seed", False)),
        is_log=bool(spec.meta.get("is_log", False)),
    )
