"""Diagnostics: is a Bayesian net's predictive uncertainty what it seems?

A Gaussian BNN trained where one recipe can crystallise into two phases with very different
band gaps predicts their average, a material that does not exist, with a large variance; read
as epistemic uncertainty it sends an automated lab to explore a phantom. This package compares
the BNN's predictive with a mixture density network's, per candidate and overall:

:func:`find_modes`        modes of any predictive's density, their masses, Ashman's D, valley depth
:func:`heldout_evidence`  is a mixture needed at all? the MDN against one Gaussian on held-out
                          training rows: a test with a known false-alarm rate at every n
:func:`triage`            one row per candidate: ok / unsure / bimodal / misspecified / out_of_distribution,
                          the reasons in words and the numbers behind them
:class:`TriageThresholds` the documented thresholds of :func:`triage`
:func:`global_checks`     held-out misspecification checks (PIT, NLL gap, coverage, tails,
                          bounds, point mass, heteroscedasticity, variational underfitting)
:class:`GatePolicy`, :func:`gated_scores`   the acquisition gate for a discovery loop
:func:`diagnostics_section`  a section for :class:`bdl.calibration.report.CalibrationReport`
:class:`KNNDistance`      the descriptor-space out-of-distribution score
:class:`ReplicateSpread`  how far apart replicate outcomes of one input fall, learned from
                          repeated inputs (compositions with several polymorphs)
:func:`load_polymorph_prior`  that model fitted on the shipped DFT data, for campaigns without
                          replicates (``triage(..., replicates=prior, thresholds=prior.thresholds())``)

numpy / scipy / pandas only; TensorFlow is never imported here, matplotlib only by the plots,
scikit-learn only when a replicate model is fitted.
"""

from __future__ import annotations

from typing import Any

from bdl.diagnostics.checks import global_checks
from bdl.diagnostics.evidence import MixtureEvidence, evidence_from_gains, heldout_evidence
from bdl.diagnostics.gate import GatePolicy, flagged_mask, gate_mask, gated_scores, round_summary
from bdl.diagnostics.modes import Modes, find_modes
from bdl.diagnostics.ood import KNNDistance
from bdl.diagnostics.polymorph_prior import (
    PolymorphPrior,
    choose_spread_threshold,
    load_polymorph_prior,
    polymorph_spread_model,
)
from bdl.diagnostics.replicates import ReplicateSpread, replicate_groups
from bdl.diagnostics.triage import STATUSES, TriageThresholds, bimodal_flag, mixture_excess_kurtosis, triage

__all__ = [
    "STATUSES",
    "GatePolicy",
    "KNNDistance",
    "MixtureEvidence",
    "Modes",
    "PolymorphPrior",
    "ReplicateSpread",
    "TriageThresholds",
    "bimodal_flag",
    "choose_spread_threshold",
    "diagnostics_section",
    "evidence_from_gains",
    "find_modes",
    "flagged_mask",
    "gate_mask",
    "gated_scores",
    "global_checks",
    "heldout_evidence",
    "load_polymorph_prior",
    "mixture_excess_kurtosis",
    "plot_candidate",
    "plot_triage_counts",
    "polymorph_spread_model",
    "replicate_groups",
    "round_summary",
    "triage",
]


def __getattr__(name: str) -> Any:
    """Import the matplotlib parts (plots, report section) only when asked for."""
    if name == "diagnostics_section":
        from bdl.diagnostics.report import diagnostics_section

        return diagnostics_section
    if name in ("plot_candidate", "plot_triage_counts"):
        from bdl.diagnostics import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'bdl.diagnostics' has no attribute {name!r}")
