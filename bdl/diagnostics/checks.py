"""Global misspecification checks of a Gaussian BNN on held-out data.

:func:`global_checks` asks, over a whole held-out set, whether the BNN's Gaussian noise model
fits the data at all, one row per check with the number, its threshold, whether it is flagged
and a sentence that says what it means:

``pit_uniformity``      Kolmogorov-Smirnov test of the PIT values against U(0, 1) [1]_
``nll_gap``             NLL of the BNN minus NLL of the MDN (nats per point): how much better a
                        flexible noise model describes the same data
``coverage_error``      observed minus nominal share inside the central 90 % intervals
``heavy_tails``         share of residuals beyond 3 robust SDs (median/MAD of the z-scores, so
                        a wrong width alone does not trigger it) over the Gaussian's 0.27 %
``bound_violation``     mean Gaussian mass below ``lower_bound`` (a band gap is never negative)
``point_mass``          share of targets exactly at the most frequent value (or at
                        ``lower_bound``): zero inflation, which no Gaussian can represent
``heteroscedasticity``  Spearman correlation of the squared z-scores with the MDN's predicted
                        std (or the BNN mean): noise structure the BNN leaves unexplained
``variational_underfitting``  the fit's own diagnosis (``model.underfitting_``), see
                        :func:`bdl.models.svi.diagnose_underfitting`

References
----------
.. [1] T. Gneiting, F. Balabdaoui and A. E. Raftery, "Probabilistic forecasts, calibration
   and sharpness", J. R. Stat. Soc. B 69 (2007) 243-268.
.. [2] L. Wasserman et al., "Universal inference", PNAS 117 (2020) 16880 (likelihood gaps on
   held-out data as model comparison).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtr, ndtri

from bdl._validation import check_y
from bdl.errors import InputError

__all__ = ["global_checks"]

#: Share of a Gaussian beyond 3 SDs (both sides).
_GAUSS_TAIL_3 = 2.0 * float(ndtr(-3.0))


def _row(check: str, value: float, threshold: str, flagged: bool, explanation: str) -> dict[str, Any]:
    return {"check": check, "value": float(value), "threshold": threshold, "flagged": bool(flagged),
            "explanation": explanation}


def global_checks(
    y: Any,
    bnn_pred: Any,
    mdn_pred: Any = None,
    *,
    lower_bound: float | None = None,
    model: Any = None,
    level: float = 0.9,
    alpha: float = 0.01,
) -> pd.DataFrame:
    """Misspecification checks of ``bnn_pred`` against held-out ``y``.

    Parameters
    ----------
    y : array_like of shape (n,)
        Held-out observed values (never the training data).
    bnn_pred : Predictive of length n
        The BNN's predictive; read through its mean and variance as a Gaussian, since that is
        how an acquisition function reading ``mean``/``stddev`` uses it.
    mdn_pred : Predictive of length n, optional
        A mixture density network's predictive on the same rows (enables ``nll_gap`` and the
        heteroscedasticity check against the MDN's std).
    lower_bound : float, optional
        Physical lower bound of the target (0 for band gaps).
    model : fitted model, optional
        The BNN itself; a variational net's ``underfitting_`` diagnosis is reported.
    level : float, default 0.9
        Central interval level of the coverage check.
    alpha : float, default 0.01
        Significance level of the PIT and heteroscedasticity tests.

    Returns
    -------
    DataFrame
        Columns ``check``, ``value``, ``threshold`` (text), ``flagged`` (bool) and
        ``explanation`` (a sentence with the numbers).

    Raises
    ------
    InputError
        For a wrong length of ``y`` or a non-predictive.
    """
    if not hasattr(bnn_pred, "mean") or not hasattr(bnn_pred, "variance"):
        raise InputError(f"bnn_pred must be a bdl predictive (model.predict_dist(X)), got {type(bnn_pred).__name__}.")
    n = len(bnn_pred)
    yv = check_y(y, n, name="y")
    if mdn_pred is not None and len(mdn_pred) != n:
        raise InputError(f"mdn_pred has {len(mdn_pred)} rows but bnn_pred has {n}; predict both on the same rows.")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must lie in (0, 1), got {level!r}.")
    mu = np.asarray(bnn_pred.mean, dtype=float)
    sd = np.sqrt(np.maximum(np.asarray(bnn_pred.variance, dtype=float), 1e-300))
    z = (yv - mu) / sd
    rows = []

    u = ndtr(z)
    ks = stats.kstest(u, "uniform")
    rows.append(_row("pit_uniformity", ks.pvalue, f"p < {alpha:g}", ks.pvalue < alpha,
                     f"KS test of the Gaussian PIT values against uniform: D = {ks.statistic:.3f}, p = {ks.pvalue:.2g}; "
                     + ("the predictive's shape or width is off." if ks.pvalue < alpha else "no evidence against it.")))

    logp_bnn = stats.norm.logpdf(yv, mu, sd)
    if mdn_pred is not None:
        logp_mdn = np.asarray(mdn_pred.log_prob(yv), dtype=float)
        diff = logp_mdn - logp_bnn
        gap = float(np.mean(diff))
        se = float(np.std(diff, ddof=1) / np.sqrt(n)) if n > 1 else np.inf
        flag = gap > 0.1 and gap > 2 * se
        rows.append(_row("nll_gap", gap, "> 0.1 nats and > 2 SE", flag,
                         f"the MDN's held-out NLL is {gap:+.3f} ± {se:.3f} nats/point lower than the Gaussian BNN's; "
                         + ("a flexible noise model fits clearly better: the Gaussian is misspecified."
                            if flag else "the Gaussian describes the data about as well.")))

    half = ndtri(0.5 + level / 2)
    cov = float(np.mean(np.abs(z) <= half))
    err = cov - level
    rows.append(_row("coverage_error", err, "|error| > 0.05", abs(err) > 0.05,
                     f"{cov:.1%} of held-out values fall inside the central {level:.0%} Gaussian intervals "
                     f"(nominal {level:.0%})."))

    med = float(np.median(z))
    mad = 1.4826 * float(np.median(np.abs(z - med)))
    tail = float(np.mean(np.abs(z - med) > 3 * mad)) if mad > 0 else 0.0
    ratio = tail / _GAUSS_TAIL_3
    expected = n * _GAUSS_TAIL_3
    flag_tail = ratio > 3.0 and tail * n >= max(5.0, expected + 3 * np.sqrt(expected))
    rows.append(_row("heavy_tails", ratio, "> 3", flag_tail,
                     f"{tail:.2%} of the residuals lie beyond 3 robust SDs, {ratio:.2g} times a Gaussian's 0.27 %"
                     + ("; rare large misses the Gaussian does not expect." if flag_tail else ".")))

    if lower_bound is not None:
        lb = float(lower_bound)
        below = float(np.mean(ndtr((lb - mu) / sd)))
        rows.append(_row("bound_violation", below, "> 0.05", below > 0.05,
                         f"the BNN's Gaussians put {below:.1%} of their mass below the lower bound {lb:g} on average; "
                         + ("impossible values carry real probability." if below > 0.05 else "negligible.")))
    if lower_bound is not None:
        at = float(np.mean(np.isclose(yv, float(lower_bound), rtol=0.0, atol=1e-9)))
        where = f"at the lower bound {float(lower_bound):g}"
    else:
        values, counts = np.unique(yv, return_counts=True)
        top = int(np.argmax(counts))
        at = float(counts[top] / n)
        where = f"at {values[top]:g}"
    flag_pm = at > 0.05
    rows.append(_row("point_mass", at, "> 0.05", flag_pm,
                     f"{at:.1%} of the targets sit exactly {where}"
                     + ("; a point mass (zero inflation) that a Gaussian or MDN density can only approximate."
                        if flag_pm else ".")))

    ref = np.sqrt(np.asarray(mdn_pred.variance, dtype=float)) if mdn_pred is not None else mu
    ref_name = "the MDN's predicted std" if mdn_pred is not None else "the BNN mean"
    if np.ptp(ref) > 0 and n >= 10:
        rho, p = stats.spearmanr(z**2, ref)
        rho, p = float(rho), float(p)
    else:
        rho, p = 0.0, 1.0
    flag_h = p < alpha and abs(rho) > 0.1
    rows.append(_row("heteroscedasticity", rho, f"|rho| > 0.1 and p < {alpha:g}", flag_h,
                     f"Spearman correlation of the squared z-scores with {ref_name}: {rho:+.3f} (p = {p:.2g}); "
                     + ("the BNN's noise level misses structure." if flag_h else "no unexplained noise structure.")))

    diag = getattr(model, "underfitting_", None) if model is not None else None
    if isinstance(diag, dict):
        under = bool(diag.get("underfitting", False))
        rows.append(_row("variational_underfitting", float(diag.get("mean_spread", np.nan)), "diagnosis", under,
                         f"{'variational underfitting' if under else 'no variational underfitting'}: "
                         f"{diag.get('reason', '')}."))
    return pd.DataFrame(rows, columns=["check", "value", "threshold", "flagged", "explanation"])
