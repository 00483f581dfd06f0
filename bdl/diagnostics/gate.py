"""The acquisition gate: what an active-learning loop does with a flagged candidate.

A large BNN variance on a candidate that :func:`bdl.diagnostics.triage` calls ``bimodal`` is
the distance between two outcomes, not ignorance, and an acquisition function that rewards
variance would send the lab to a phantom. :func:`gated_scores` wraps any acquisition score
(``score_fn(pred) -> ndarray (n,)``, already bound to its other arguments, such as the best
value so far) with one of three policies for the flagged candidates:

``"skip"``
    Flagged candidates score ``-inf`` and are never chosen.
``"downweight"``
    Flagged candidates are pushed down the ranking by a rank-safe penalty (below).
``"mixture"``
    Flagged candidates are scored under the MDN's mixture instead of the BNN's predictive
    (e.g. expected improvement of the mixture, which knows that the value is one of two).

Down-weighting, for scores of any sign or in log space. ``weight`` w in [0, 1] is the share
of the ranking a flagged candidate keeps. Three modes (``GatePolicy.downweight_mode``):

``"shift"`` (default)
    ``s' = s - (1 - w) * (max(s) - min(s))`` over the finite scores of the pool. Invariant to
    adding a constant to or rescaling the scores, so it behaves the same for EI, log-EI, UCB
    with negative means or any other score; w = 1 changes nothing, w = 0 puts every flagged
    candidate at or below the worst unflagged one, and the order among flagged candidates
    is kept.
``"multiply"``
    ``s' = w * s``; only for scores that are >= 0 (EI, variance), raises otherwise.
``"log"``
    ``s' = s + log(w)``: multiplying the underlying utility by w for scores that are already
    logarithms (log-EI, as BoTorch's LogEI); w = 0 gives -inf.

References
----------
.. [1] S. Ament, S. Daulton, D. Eriksson, M. Balandat and E. Bakshy, "Unexpected improvements to
   expected improvement for Bayesian optimization", NeurIPS 2023 (LogEI).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bdl.diagnostics.triage import STATUSES
from bdl.errors import InputError

__all__ = ["GatePolicy", "flagged_mask", "gate_mask", "gated_scores", "round_summary"]

FloatArray = NDArray[np.float64]
_ACTIONS = ("skip", "downweight", "mixture")
_MODES = ("shift", "multiply", "log")


@dataclass(frozen=True)
class GatePolicy:
    """What the acquisition step does with candidates whose triage status is in ``statuses``.

    Parameters
    ----------
    action : {"skip", "downweight", "mixture"}, default "skip"
    statuses : tuple of str, default ("bimodal", "misspecified")
        Statuses that are gated. ``"out_of_distribution"`` is left out by default: a large
        epistemic variance far from the data is exactly what exploration is for.
    weight : float, default 0.5
        For ``"downweight"``: the share of the score range a flagged candidate keeps (see the
        module docstring).
    downweight_mode : {"shift", "multiply", "log"}, default "shift"
    min_std_quantile : float in [0, 1) or None, default 0.5
        Gate only the flagged candidates whose BNN predictive std is at or above this quantile
        of the pool's (default: the median). The phantom that the gate exists for is a *large*
        variance that is really two modes; a flagged candidate with a small BNN variance does
        not lure an acquisition function, and with the few training points of a campaign an
        MDN invents modes often enough that gating those costs more than it saves: in
        ``benchmarks/results/gate_campaigns.md`` skipping every flagged candidate cut the
        phantom experiments by 41 % on the tuning seeds and found less of the top 1 %; skipping
        those at or above the median std cut them by 58 % there and found the most of it. With
        the current triage it cut them by 57 % on 20 held-out seeds on fresh pools, finding the
        top 1 % about as fast as no gate (mean found fraction -0.015, s.e. 0.019). None gates
        every flagged candidate.
    """

    action: str = "skip"
    statuses: tuple[str, ...] = ("bimodal", "misspecified")
    weight: float = 0.5
    downweight_mode: str = "shift"
    min_std_quantile: float | None = 0.5

    def __post_init__(self) -> None:
        if self.min_std_quantile is not None and not 0.0 <= float(self.min_std_quantile) < 1.0:
            raise InputError(f"GatePolicy.min_std_quantile must be None or in [0, 1), got {self.min_std_quantile!r}.")
        if self.action not in _ACTIONS:
            raise InputError(f"GatePolicy.action must be one of {_ACTIONS}, got {self.action!r}.")
        if isinstance(self.statuses, str):
            object.__setattr__(self, "statuses", (self.statuses,))
        object.__setattr__(self, "statuses", tuple(self.statuses))
        unknown = [s for s in self.statuses if s not in STATUSES]
        if unknown:
            raise InputError(f"GatePolicy.statuses has unknown status(es) {unknown}; valid: {list(STATUSES)}.")
        try:
            w = float(self.weight)
        except (TypeError, ValueError):
            raise InputError(f"GatePolicy.weight must be a number in [0, 1], got {self.weight!r}.") from None
        if not 0.0 <= w <= 1.0:
            raise InputError(f"GatePolicy.weight must lie in [0, 1], got {self.weight!r}.")
        if self.downweight_mode not in _MODES:
            raise InputError(f"GatePolicy.downweight_mode must be one of {_MODES}, got {self.downweight_mode!r}.")


def flagged_mask(triage_df: pd.DataFrame, statuses: Sequence[str]) -> NDArray[np.bool_]:
    """Boolean mask, shape (n,), of the rows whose ``status`` is in ``statuses``."""
    if not isinstance(triage_df, pd.DataFrame) or "status" not in triage_df.columns:
        raise InputError("triage_df must be the DataFrame returned by bdl.diagnostics.triage (it has a 'status' column).")
    return np.isin(triage_df["status"].astype(str).to_numpy(), list(statuses))


def gate_mask(bnn_pred: Any, triage_df: pd.DataFrame, policy: GatePolicy | None = None) -> NDArray[np.bool_]:
    """The rows ``policy`` acts on, shape (n,): flagged, and with a BNN std at or above the
    policy's ``min_std_quantile`` of the pool's (when set)."""
    policy = policy if policy is not None else GatePolicy()
    flag = flagged_mask(triage_df, policy.statuses)
    if policy.min_std_quantile is not None and flag.any():
        std = np.asarray(bnn_pred.stddev, dtype=float)
        flag &= std >= np.quantile(std, float(policy.min_std_quantile))
    return flag


#: Flag columns of a triage table and the words :func:`round_summary` counts them under.
_REASON_WORDS: tuple[tuple[str, str], ...] = (
    ("mdn_bimodal", "two separated modes in the MDN's predictive"),
    ("replicate_bimodal", "replicates of similar inputs spread apart (likely polymorphs)"),
    ("in_valley", "the BNN mean falls in the valley between two modes"),
    ("heavy_tails", "heavy tails in the MDN's predictive"),
    ("noise_mismatch", "the BNN's noise level disagrees with the MDN's"),
    ("bound_violation", "the BNN puts much mass below the physical lower bound"),
    ("is_ood", "far from the training data"),
    ("held_by_evidence", "the MDN's shape alone would flag it, not confirmed by the held-out test"),
)


def round_summary(
    triage_df: pd.DataFrame,
    *,
    chosen: Any = None,
    gated: Any = None,
    policy: GatePolicy | None = None,
    fallback: bool = False,
    evidence: Any = None,
    top: int = 3,
) -> dict[str, Any]:
    """What the diagnostics and the gate did in one round, as plain JSON-ready data.

    Parameters
    ----------
    triage_df : DataFrame from :func:`bdl.diagnostics.triage`
    chosen : array_like of int, optional
        Row positions (into ``triage_df``) of the candidates the round proposed.
    gated : ndarray of bool of shape (n,), optional
        The rows the gate acted on (:func:`gate_mask`); None when no gate ran.
    policy : GatePolicy, optional
        The gate's policy; None when no gate ran.
    fallback : bool, default False
        A skip gate left too few candidates and the flagged ones were ranked after the others.
    evidence : MixtureEvidence, optional
        The held-out test behind the MDN-based verdicts.
    top : int, default 3
        How many reasons to list.

    Returns
    -------
    dict
        ``{"n_candidates", "counts" {status: n}, "n_flagged" (bimodal + misspecified),
        "top_reasons" [{"reason", "count"}], "evidence" (dict or None), "gate" {"action",
        "statuses", "n_gated", "n_flagged_not_gated", "fallback", "n_proposed",
        "n_proposed_flagged", "why_flagged_proposed"}}``. ``why_flagged_proposed`` says in
        words why a flagged candidate was proposed, or is "" when none was.
    """
    if not isinstance(triage_df, pd.DataFrame) or "status" not in triage_df.columns:
        raise InputError("triage_df must be the DataFrame returned by bdl.diagnostics.triage.")
    n = len(triage_df)
    status = triage_df["status"].astype(str).to_numpy()
    counts = {s: int(np.sum(status == s)) for s in STATUSES}
    flagged = flagged_mask(triage_df, GatePolicy.statuses)  # the default gated statuses
    reasons = []
    for col, words in _REASON_WORDS:
        if col in triage_df.columns:
            c = int(np.sum(triage_df[col].to_numpy(dtype=bool) & (status != "ok")))
            if c:
                reasons.append({"reason": words, "count": c})
    reasons.sort(key=lambda r: -r["count"])
    gate: dict[str, Any] = {"action": None if policy is None else policy.action,
                            "statuses": [] if policy is None else list(policy.statuses)}
    chosen_idx = np.asarray([] if chosen is None else chosen, dtype=np.int64)
    in_policy = flagged_mask(triage_df, tuple(gate["statuses"]) or GatePolicy.statuses)
    g = np.zeros(n, dtype=bool) if gated is None else np.asarray(gated, dtype=bool)
    prop_flagged = chosen_idx[in_policy[chosen_idx]] if chosen_idx.size else chosen_idx
    why: list[str] = []
    if prop_flagged.size:
        not_gated = int(np.sum(~g[prop_flagged]))
        gated_prop = int(np.sum(g[prop_flagged]))
        if policy is None:
            why.append(f"{prop_flagged.size} flagged candidate(s) proposed: no gate was set")
        else:
            if not_gated:
                q = policy.min_std_quantile
                why.append(
                    f"{not_gated} flagged candidate(s) proposed because the gate acts only on flagged candidates "
                    f"whose BNN std is at or above the {q:.0%} quantile of the pool (min_std_quantile={q}); "
                    "a small variance does not lure the acquisition" if q is not None else
                    f"{not_gated} flagged candidate(s) proposed but not gated"
                )
            if gated_prop:
                why.append(
                    f"{gated_prop} gated candidate(s) proposed because "
                    + ("too few unflagged candidates were left to fill the batch (flagged ones ranked after them)"
                       if fallback else f"the '{policy.action}' gate lowers their score without excluding them")
                )
    gate.update(
        n_gated=int(g.sum()),
        n_flagged_not_gated=int(np.sum(in_policy & ~g)) if policy is not None else int(np.sum(flagged)),
        fallback=bool(fallback),
        n_proposed=int(chosen_idx.size),
        n_proposed_flagged=int(prop_flagged.size),
        why_flagged_proposed="; ".join(why),
    )
    return {
        "n_candidates": n,
        "counts": counts,
        "n_flagged": int(flagged.sum()),
        "top_reasons": reasons[: int(top)],
        "evidence": None if evidence is None else evidence.to_dict(),
        "gate": gate,
    }


def _scores(score_fn: Callable[[Any], Any], pred: Any, n: int, what: str) -> FloatArray:
    s = np.asarray(score_fn(pred), dtype=float)
    if s.shape != (n,):
        raise InputError(f"score_fn returned shape {s.shape} for {what}; it must return one score per candidate, ({n},).")
    if np.isnan(s).any():
        raise InputError(f"score_fn returned NaN for {what} at row(s) {np.flatnonzero(np.isnan(s))[:10].tolist()}.")
    return s


def gated_scores(
    score_fn: Callable[[Any], Any],
    bnn_pred: Any,
    mdn_pred: Any,
    triage_df: pd.DataFrame,
    policy: GatePolicy | None = None,
) -> FloatArray:
    """Acquisition scores with the triage gate applied.

    Parameters
    ----------
    score_fn : callable ``(Predictive) -> ndarray of shape (m,)``
        The acquisition function bound to its other arguments, e.g.
        ``lambda p: expected_improvement(p, best=y_best)``. It is called once on the BNN
        predictive and, for ``"mixture"``, once on the flagged rows of the MDN predictive.
    bnn_pred, mdn_pred : Predictive of length n
    triage_df : DataFrame with n rows
        From :func:`bdl.diagnostics.triage` on the same candidates, in the same order.
    policy : GatePolicy, optional
        Default ``GatePolicy()`` (skip bimodal and misspecified candidates whose BNN std is at least the median).

    Returns
    -------
    ndarray of shape (n,)
        Unflagged rows keep ``score_fn(bnn_pred)`` exactly.

    Raises
    ------
    InputError
        For lengths that do not match, a score of the wrong shape or with NaN, or negative
        scores under ``downweight_mode="multiply"``.
    """
    policy = policy if policy is not None else GatePolicy()
    if not isinstance(policy, GatePolicy):
        raise InputError(f"policy must be a GatePolicy, got {type(policy).__name__}.")
    n = len(bnn_pred)
    if len(triage_df) != n:
        raise InputError(f"triage_df has {len(triage_df)} rows but bnn_pred has {n}; triage the same candidates.")
    if mdn_pred is not None and len(mdn_pred) != n:
        raise InputError(f"mdn_pred has {len(mdn_pred)} rows but bnn_pred has {n}.")
    flag = gate_mask(bnn_pred, triage_df, policy)
    scores = _scores(score_fn, bnn_pred, n, "bnn_pred").copy()
    if not flag.any():
        return scores
    if policy.action == "skip":
        scores[flag] = -np.inf
    elif policy.action == "mixture":
        if mdn_pred is None:
            raise InputError("GatePolicy(action='mixture') needs mdn_pred (the MDN's predictive).")
        idx = np.flatnonzero(flag)
        scores[idx] = _scores(score_fn, mdn_pred[idx], len(idx), "the flagged rows of mdn_pred")
    else:
        w = float(policy.weight)
        if policy.downweight_mode == "shift":
            finite = scores[np.isfinite(scores)]
            span = float(finite.max() - finite.min()) if finite.size else 0.0
            scores[flag] = scores[flag] - (1.0 - w) * span
        elif policy.downweight_mode == "multiply":
            if (scores < 0).any():
                raise InputError(
                    "downweight_mode='multiply' needs scores >= 0, but score_fn returned negative scores; use "
                    "downweight_mode='shift' (any sign) or 'log' (log-space scores)."
                )
            scores[flag] = w * scores[flag]
        else:
            with np.errstate(divide="ignore"):
                scores[flag] = scores[flag] + np.log(w)
    return scores


def _register_gates() -> None:
    """The gate actions in :mod:`bdl.registry`: each builds its :class:`GatePolicy` from the gate parameters."""
    from functools import partial

    from bdl.registry import register

    for action in _ACTIONS:
        register("gate", action, partial(GatePolicy, action))


_register_gates()
