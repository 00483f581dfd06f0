"""The campaign runner: pool + model + acquisition + selector + oracle + ledger.

A campaign is a sequence of rounds. Round 0 is the initial design (random or space-filling, no
model). Every part of a round (model, MDN, acquisition function, batch selector, gate,
recalibrator) is resolved once from :mod:`bdl.registry` by :meth:`CampaignConfig.parts`;
:class:`Campaign` only orchestrates them and writes a :class:`ProposalRecord`. Every later round

1. trains the model on everything measured so far (``fit`` from scratch, seeded: a round is a
   pure function of the campaign seed, the round number and the measurements, which is what
   makes a resumed campaign identical to an uninterrupted one; with ``warm_start`` it continues
   the previous model round's networks, loaded from the ledger, so that stays true);
2. predicts every unmeasured candidate (one :mod:`bdl.predictive` object); with
   ``recalibrate``, a recalibrator fitted on the measured points' cross-fitted predictions
   (each point predicted by a model trained without it) recalibrates that predictive;
3. optionally fits a mixture density network and triages the candidates with
   :func:`bdl.diagnostics.triage`; the diagnostics gate (:class:`bdl.diagnostics.GatePolicy`)
   then skips, down-weights or re-scores flagged candidates under the mixture;
4. scores the candidates with an acquisition function and selects a batch;
5. writes the round, the model and the proposals to the ledger in one transaction;
6. asks the oracle to measure the batch, validates the answer, and writes the measurements in a
   second transaction.

:meth:`Campaign.rounds` is a generator that runs one round per step (the shape of emcee's
``sample()``); :meth:`Campaign.run` drives it to the end. A campaign killed between steps 5 and 6
resumes by measuring the recorded proposals; killed anywhere else, it redoes the unfinished round,
which gives the same proposals again because the round's seeds derive from
``SeedSequence([seed, round])``.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bdl import registry
from bdl._progress import progress_bar
from bdl._io import read_csv
from bdl._validation import format_rows
from bdl.data import load_dataset
from bdl.diagnostics import (
    GatePolicy,
    MixtureEvidence,
    gate_mask,
    gated_scores,
    heldout_evidence,
    load_polymorph_prior,
    round_summary,
    triage,
)
from bdl.errors import InputError, LedgerError, OracleError
from bdl.features import feature_names, featurize
from bdl.models import BayesianRegressor
from bdl.predictive import GaussianPredictive, Predictive, concat, truncate
from discovery_loop.acquisition import BoundAcquisition, get_acquisition
from discovery_loop.batch import select_batch
from discovery_loop.ledger import Ledger
from discovery_loop.report import CampaignReportView, CampaignView
from discovery_loop.oracles import (
    FileOracle,
    LookupOracle,
    MeasurementPending,
    _id_key,
    _value_problem,
    check_value_range,
    validate_measurements,
)

__all__ = [
    "Campaign",
    "CampaignConfig",
    "Goal",
    "Pool",
    "ProposalRecord",
    "RoundParts",
    "RoundRecord",
    "initial_design",
    "open_campaign",
    "pool_from_source",
]

#: Distinct measured candidates needed before the triage scores out-of-distribution candidates.
MIN_TRAIN_FOR_OOD = 20

#: Folds of the held-out test of the diagnostics MDN against one Gaussian
#: (:func:`bdl.diagnostics.heldout_evidence`), run each round on the training rows; 5 folds
#: detect a hidden second phase at n = 150 that 3 miss (``benchmarks/results/diagnostics_synthetic.md``).
EVIDENCE_FOLDS = 5

#: Folds of the cross-fitting behind ``recalibrate``: each measured point's held-out predictive
#: comes from a model trained without its fold, so no point calibrates its own prediction.
RECALIBRATION_FOLDS = 5

#: Fewest measurements a round recalibrates with; below it the model's own predictive is used
#: (and the ledger says so).
MIN_RECALIBRATION = 10

#: A warm-started campaign trains from scratch again once the training set is more than this
#: many times the size of the last cold fit's: a network keeps the input and target scaling of
#: its cold fit, and scaling from a few early measurements should not rule a much larger set.
WARM_START_REFIT_GROWTH = 2.0


# ---------------------------------------------------------------------------------------- goal
@dataclass(frozen=True)
class Goal:
    """What the campaign looks for: the largest value, the smallest, or a value in a window.

    Parameters
    ----------
    kind : {"maximize", "minimize", "window"}
    low, high : float, optional
        The window's bounds (``kind="window"`` only), e.g. 1.1 and 1.7 eV for a photovoltaic
        absorber's band gap.
    """

    kind: str
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("maximize", "minimize", "window"):
            raise InputError(f"goal must be 'maximize', 'minimize' or 'window', got {self.kind!r}.")
        if self.kind == "window":
            if self.low is None or self.high is None or not float(self.low) < float(self.high):
                raise InputError(
                    f"a window goal needs low < high, got low={self.low!r}, high={self.high!r}; "
                    "give e.g. --window 1.1 1.7."
                )
        elif self.low is not None or self.high is not None:
            raise InputError(f"only a window goal takes low/high; goal {self.kind!r} got low={self.low}, high={self.high}.")

    @property
    def maximize(self) -> bool:
        """True when larger values are better (a window goal counts as maximising closeness)."""
        return self.kind != "minimize"

    def utility(self, y: np.ndarray) -> np.ndarray:
        """Higher is better: y, -y, or minus the distance to the window (0 inside it)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "maximize":
            return y
        if self.kind == "minimize":
            return -y
        return -np.maximum(np.maximum(float(self.low) - y, y - float(self.high)), 0.0)  # type: ignore[arg-type]

    def best(self, y: np.ndarray) -> float | None:
        """The best measured value in the target's units (None before any measurement)."""
        y = np.asarray(y, dtype=np.float64)
        if y.size == 0:
            return None
        return float(y[int(np.argmax(self.utility(y)))])

    def target_set(self, y: np.ndarray, top_fraction: float = 0.01) -> np.ndarray:
        """Positions that count as "found": the top fraction of the pool, or the window's members."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "window":
            return np.flatnonzero((y >= float(self.low)) & (y <= float(self.high)))  # type: ignore[arg-type]
        u = self.utility(y)
        n_top = max(1, int(math.ceil(top_fraction * y.size)))
        threshold = np.sort(u)[::-1][n_top - 1]
        return np.flatnonzero(u >= threshold)

    def describe(self) -> str:
        """Words for reports."""
        if self.kind == "window":
            return f"a value in [{self.low:g}, {self.high:g}]"
        return "the largest value" if self.kind == "maximize" else "the smallest value"


# ---------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class CampaignConfig:
    """Everything that defines a campaign; stored in the ledger so ``resume`` needs nothing else.

    Parameters
    ----------
    target : str
        Name of the measured property (the pool's column for a simulated campaign).
    goal : Goal
    budget : int
        Total number of measurements, initial design included.
    batch_size : int
        Measurements per round.
    seed : int
        The campaign's seed; every random choice of every round derives from it.
    strategy : str, optional
        Acquisition function name (see :data:`discovery_loop.acquisition.ACQUISITIONS`);
        default ``"window"`` for a window goal, else the model's default strategy (its registry
        entry's ``default_strategy``): ``"greedy"`` (the posterior mean) for ``prior_gp``,
        ``"ei"`` for the networks. On the Rohr plates and the perovskite set the GP's mean
        found the top 1 % sooner than EI (``benchmarks/results/campaigns_vs_peers.md``), while
        a network's noisy mean made greedy picking fail (issue 12).
    strategy_params : dict
        Extra parameters of the acquisition function (e.g. ``{"beta": 2.0}`` for UCB).
    selector : str, default "topk"
        Batch selection method (see :func:`discovery_loop.batch.select_batch`).
    selector_params : dict
    initial_design : {"random", "space_filling"}
    n_initial : int, optional
        Size of the initial design (default: ``batch_size``).
    model : str, default "prior_gp"
        A model in :mod:`bdl.registry` (``prior_gp``, ``mc_dropout``, ``ensemble``,
        ``variational``, or one a plugin registers); its entry's ``defaults`` are the settings
        a campaign trains it with. The default is :func:`bdl.models.recommended`, the strongest
        surrogate for a campaign's tens to hundreds of measurements
        (``benchmarks/results/small_data.md``).
    model_params : dict
        Overrides of the model's campaign defaults.
    diagnose : bool, default True
        Fit a mixture density network each round and record the triage of every candidate.
    gate : {None, "skip", "downweight", "mixture"}
        What to do with candidates the triage flags (needs ``diagnose``).
    gate_params : dict
        Extra :class:`bdl.diagnostics.GatePolicy` fields (e.g. ``{"weight": 0.1}``).
    mdn_params : dict
        Overrides of the diagnostics MDN's settings (the registry entry ``mdn``'s defaults).
    stop_at : float, optional
        Stop once a measured value reaches it (>= for maximise, <= for minimise, number of
        hits in the window for a window goal).
    patience : int, optional
        Stop after this many model rounds without improving the best value.
    warm_start : bool, default False
        Continue the previous model round's networks (the model, and the MDN with diagnostics
        on), loaded from the ledger, instead of training new ones from scratch each round
        (``mc_dropout`` and ``variational`` only). A warm-started network keeps the input and
        target scaling of its last cold fit, so a round trains from scratch again whenever the
        training set has grown more than :data:`WARM_START_REFIT_GROWTH` times since then.
    warm_start_epochs : int, optional
        Epoch limit of the warm-started fits (default: the model's own ``epochs``; early
        stopping still applies).
    value_range : (float, float), optional
        The plausible range of a measured value (``--value-range LO HI``): a lab file or a
        correction with a value outside it is rejected before anything is recorded.
    lower_bound, upper_bound : float, optional
        Physical bounds of the target (``--lower-bound 0`` for a band gap). The model's
        predictive respects them: ``prior_gp`` models them (with a point mass at the lower
        bound when many measurements sit on it), the networks' predictives are truncated to
        them (:func:`bdl.predictive.truncate`), so no interval crosses a bound.
    recalibrate : {None, "isotonic", "conformal", "std_scaling"}
        Refit this recalibrator (:mod:`bdl.calibration`) each round on the measured points'
        cross-fitted predictives (:data:`RECALIBRATION_FOLDS` folds: no point calibrates its
        own prediction) and let the recalibrated predictive drive the acquisition and the gate.
        ``conformal`` is a conformal predictive system (a full predictive, so EI works on it);
        it is not cut to declared bounds, so it is refused with them.
    polymorph_prior : bool, default False
        Give the triage the polymorph prior shipped with the package
        (:func:`bdl.diagnostics.load_polymorph_prior`: how far the DFT gaps of a composition's
        polymorphs spread, learnt from the 11 788 ``matbench_mp_gap`` compositions with several
        structures), so a candidate whose chemistry has polymorphs of very different gap is
        called ``bimodal`` without repeated measurements. Needs ``diagnose`` and a pool of
        compositions (a formula column). Off by default: its verdict has a balanced accuracy of
        0.76-0.82 on held-out compositions (``benchmarks/results/diagnostics_polymorphs_seed1*.md``)
        and it flags 19 % of the ``matbench_expt_gap`` pool.
    plugins : tuple of str
        Modules that register parts from outside the package (:func:`bdl.registry.load_plugins`),
        imported before any name is looked up; kept in the ledger so ``resume`` loads them.

    Every part is resolved from :mod:`bdl.registry` when the configuration is built
    (:meth:`parts`), and :meth:`validate` builds the model and the MDN with their settings, so
    a bad name or parameter fails before a ledger exists.
    """

    target: str
    goal: Goal
    budget: int
    batch_size: int
    seed: int
    strategy: str | None = None
    strategy_params: dict[str, Any] = field(default_factory=dict)
    selector: str = "topk"
    selector_params: dict[str, Any] = field(default_factory=dict)
    initial_design: str = "random"
    n_initial: int | None = None
    model: str = "prior_gp"
    model_params: dict[str, Any] = field(default_factory=dict)
    diagnose: bool = True
    gate: str | None = None
    gate_params: dict[str, Any] = field(default_factory=dict)
    mdn_params: dict[str, Any] = field(default_factory=dict)
    stop_at: float | None = None
    patience: int | None = None
    warm_start: bool = False
    warm_start_epochs: int | None = None
    value_range: tuple[float, float] | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    recalibrate: str | None = None
    polymorph_prior: bool = False
    plugins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.goal, Goal):
            raise InputError(f"goal must be a Goal, e.g. Goal('maximize'), got {self.goal!r}.")
        if isinstance(self.plugins, str) or not all(isinstance(m, str) for m in self.plugins):
            raise InputError(f"plugins must be a list of module names, got {self.plugins!r}.")
        object.__setattr__(self, "plugins", tuple(self.plugins))
        registry.load_plugins(self.plugins)  # before any name is looked up
        if isinstance(self.recalibrate, str) and self.recalibrate.strip().lower() in ("", "none"):
            object.__setattr__(self, "recalibrate", None)
        if self.strategy is None:  # a window goal looks for the window; else the model's default strategy
            default = registry.get("model", self.model).meta.get("default_strategy", "ei")
            object.__setattr__(self, "strategy", "window" if self.goal.kind == "window" else default)
        for name in ("strategy_params", "selector_params", "model_params", "gate_params", "mdn_params"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise InputError(f"{name} must be a dict (a JSON object on the command line), got {value!r}.")
        object.__setattr__(self, "value_range", check_value_range(self.value_range))
        self._check_numbers()
        if self.initial_design not in ("random", "space_filling"):
            raise InputError(f"initial_design must be 'random' or 'space_filling', got {self.initial_design!r}.")
        if self.gate is not None and not self.diagnose:
            raise InputError("the diagnostics gate needs diagnose=True (the triage is what it acts on).")
        if self.polymorph_prior and not self.diagnose:
            raise InputError("the polymorph prior is read by the diagnostics; it needs diagnose=True (drop --no-diagnostics).")
        if self.gate is None and self.gate_params:
            raise InputError(f"--gate-params {self.gate_params!r} were given without a gate; add --gate skip|downweight|mixture.")
        if self.recalibrate is not None and self.recalibrate == "conformal" and self.bounds != (None, None):
            raise InputError(
                "--recalibrate conformal gives a conformal predictive whose atoms are not cut to --lower-bound/"
                "--upper-bound; with a bounded target use --recalibrate isotonic (it keeps the bounds)."
            )
        # every name and parameter resolved now, once: a bad one fails before a ledger exists
        object.__setattr__(self, "_parts", self._resolve_parts())
        self._check_selector()

    def _check_numbers(self) -> None:
        for name in ("lower_bound", "upper_bound"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
                                      or not math.isfinite(value)):
                raise InputError(f"{name} (--{name.replace('_', '-')}) must be a finite number, got {value!r}.")
        if self.lower_bound is not None and self.upper_bound is not None and not self.lower_bound < self.upper_bound:
            raise InputError(f"--lower-bound {self.lower_bound} must be below --upper-bound {self.upper_bound}.")
        for name in ("budget", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}.")
        if self.n_initial is not None and (int(self.n_initial) < 1 or int(self.n_initial) > self.budget):
            raise InputError(f"n_initial must be between 1 and the budget ({self.budget}), got {self.n_initial!r}.")
        if self.patience is not None and int(self.patience) < 1:
            raise InputError(f"patience must be a positive number of rounds, got {self.patience!r}.")
        if self.warm_start_epochs is not None and (
            isinstance(self.warm_start_epochs, bool) or int(self.warm_start_epochs) != self.warm_start_epochs
            or self.warm_start_epochs < 1
        ):
            raise InputError(f"warm_start_epochs must be None or a positive integer, got {self.warm_start_epochs!r}.")

    def parts(self) -> RoundParts:
        """The round's parts, resolved from :mod:`bdl.registry` when the configuration was built."""
        return self._parts  # type: ignore[attr-defined,no-any-return]

    def _resolve_parts(self) -> RoundParts:
        """Look every part up in :mod:`bdl.registry` (an InputError names a bad one)."""
        model = registry.get("model", self.model)
        if not (isinstance(model.obj, type) and issubclass(model.obj, BayesianRegressor)):
            raise InputError(f"the model {self.model!r} is not a bdl.models.BayesianRegressor; a campaign saves and "
                             "reloads its model each round, which that base class provides.")
        if self.warm_start and not model.warm_start:
            raise InputError(
                f"warm_start continues a single network and works with models that take a warm_start setting "
                f"(mc_dropout, variational); the {self.model!r} model trains from scratch every round, so drop "
                "warm_start (--warm-start)."
            )
        acquisition = registry.get("acquisition", self.strategy)
        if self.goal.kind == "window" and not acquisition.meta.get("window", False):
            window = [n for n in registry.names("acquisition") if registry.get("acquisition", n).meta.get("window")]
            raise InputError(
                f"strategy {self.strategy!r} looks for an extreme value; with a window goal use one of "
                f"{', '.join(window)} (or --maximize / --minimize)."
            )
        gate = None
        if self.gate is not None:
            try:
                gate = registry.get("gate", self.gate).obj(**self.gate_params)
            except TypeError as exc:
                raise InputError(f"--gate-params {self.gate_params!r} do not fit the diagnostics gate: {exc}.") from None
        mdn = registry.get("model", "mdn") if self.diagnose else None
        return RoundParts(
            model=model,
            model_settings={**model.defaults, **self.model_params},
            mdn=mdn,
            mdn_settings={} if mdn is None else {**mdn.defaults, **self.mdn_params},
            acquisition=get_acquisition(self.strategy, **self.acquisition_params()),
            selector=registry.get("selector", self.selector),
            gate=gate,
            recalibrator=None if self.recalibrate is None else registry.get("recalibrator", self.recalibrate),
        )

    def _check_selector(self) -> None:
        """Run the batch selector once on a toy problem, so a bad parameter fails now."""
        extra: dict[str, Any] = {}
        if self.parts().selector.meta.get("needs_predictive"):
            extra = {"pred": GaussianPredictive(np.zeros(4), np.ones(4)), "maximize": self.goal.maximize, "best": 0.0,
                     "log_scores": False}
        X = np.arange(8, dtype=np.float64).reshape(4, 2) ** 1.5
        try:
            select_batch(np.array([0.1, 0.4, 0.3, 0.2]), 2, method=self.selector, X=X, seed=0, **extra,
                         **self.selector_params)
        except InputError as exc:
            raise InputError(f"--selector {self.selector!r} with --selector-params {self.selector_params!r}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"--selector {self.selector!r} does not take --selector-params {self.selector_params!r} ({exc}).") from None

    def validate(self) -> None:
        """The checks that build the model and the MDN with their settings.

        Raises
        ------
        InputError
            Naming the setting (``model_params``, ``mdn_params``) and what is wrong.
        """
        parts = self.parts()
        builds = [("model_params (--model-params)", lambda: parts.build_model(0, self.bounds))]
        if parts.mdn is not None:
            builds.append(("mdn_params (--mdn-params)", lambda: parts.build_mdn(0)))
        for what, build in builds:
            try:
                model = build()
                check = getattr(model, "_check_params", None)
                if check is not None:
                    check()
            except InputError as exc:
                raise InputError(f"{what}: {exc}") from None
            except (TypeError, ValueError) as exc:
                raise InputError(f"{what} do not fit the model: {exc}.") from None

    def acquisition_params(self) -> dict[str, Any]:
        """The strategy's parameters; a window strategy gets the goal's window unless given one."""
        params = dict(self.strategy_params)
        if self.goal.kind == "window" and {"low", "high"} <= set(registry.get("acquisition", self.strategy).defaults):
            params.setdefault("low", self.goal.low)
            params.setdefault("high", self.goal.high)
        return params

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The target's declared (lower, upper) bounds; None where there is none."""
        return self.lower_bound, self.upper_bound

    @property
    def initial_size(self) -> int:
        """Number of measurements of the initial design."""
        return int(self.n_initial) if self.n_initial is not None else min(self.batch_size, self.budget)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the ledger's ``config``)."""
        d = asdict(self)
        d["goal"] = asdict(self.goal)
        d["value_range"] = None if self.value_range is None else list(self.value_range)
        d["plugins"] = list(self.plugins)
        # settings at their defaults that older versions did not have are left out, so a ledger
        # without them keeps the configuration it always had
        for key, default in (("value_range", None), ("recalibrate", None), ("polymorph_prior", False), ("plugins", [])):
            if d[key] == default:
                del d[key]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CampaignConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a ledger of another version)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names - {"pool"}
        if unknown:
            raise LedgerError(f"the ledger's configuration has keys this version does not know: {sorted(unknown)}.")
        kwargs = {k: v for k, v in d.items() if k in names}
        kwargs["goal"] = Goal(**kwargs["goal"])
        kwargs["plugins"] = tuple(kwargs.get("plugins", ()))
        return cls(**kwargs)


# ---------------------------------------------------------------------------------------- pool
@dataclass
class Pool:
    """The candidates: IDs, a descriptor matrix and the rows they came from.

    Build it with :meth:`from_frame`. ``X`` has shape (n_candidates, n_features), float32.
    """

    ids: np.ndarray
    X: np.ndarray
    feature_names: list[str]
    frame: pd.DataFrame

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def is_magpie(self) -> bool:
        """Whether the descriptors are the Magpie statistics of compositions (a formula column)."""
        return list(self.feature_names) == list(feature_names())

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        id_column: str | None = None,
        formula_column: str | None = None,
        feature_columns: Sequence[str] | None = None,
    ) -> Pool:
        """Descriptors from a formula column (Magpie statistics) or from numeric feature columns.

        Parameters
        ----------
        df : DataFrame
            One row per candidate.
        id_column : str, optional
            Unique candidate IDs; default: the formula column if its values are unique, else
            ``row0``, ``row1``, ... by position.
        formula_column, feature_columns
            Exactly one of them.

        Raises
        ------
        InputError
            On a missing column, duplicate IDs, non-numeric or missing feature values.
        FormulaError
            On formulas that cannot be parsed (every bad row listed).
        """
        if (formula_column is None) == (feature_columns is None):
            raise InputError("give exactly one of formula_column (compositions) or feature_columns (numeric descriptors).")
        wanted = [c for c in ([id_column] if id_column else []) + ([formula_column] if formula_column else []) + list(feature_columns or [])]
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise InputError(f"the pool has no column(s) {missing}; its columns are {list(df.columns)}.")
        if len(df) == 0:
            raise InputError("the pool is empty; it needs at least one candidate row.")
        X, names = _descriptors(df, formula_column, feature_columns)
        ids = _candidate_ids(df, id_column, formula_column)
        with np.errstate(over="ignore"):  # values beyond float32 become inf and are reported just below
            X32 = np.ascontiguousarray(X, dtype=np.float32)
        bad = np.flatnonzero(~np.isfinite(X32).all(axis=1))
        if bad.size:
            raise InputError(
                f"descriptors are not finite in float32 (missing, infinite, or beyond 3.4e38) in rows "
                f"{format_rows(bad)}; fix or remove those rows."
            )
        return cls(ids=ids, X=X32, feature_names=names, frame=df.reset_index(drop=True))

    def fingerprint(self) -> str:
        """SHA-256 of the IDs and descriptors: resume refuses a pool that changed."""
        h = hashlib.sha256()
        h.update("\n".join(map(str, self.ids)).encode())
        h.update(np.ascontiguousarray(self.X).tobytes())
        return h.hexdigest()


def _descriptors(df: pd.DataFrame, formula_column: str | None,
                 feature_columns: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """The pool's descriptor matrix and column names: Magpie statistics of a formula column, or numeric columns."""
    if formula_column is not None:
        X = featurize(df[formula_column].tolist(), errors="raise")
        names = list(feature_names())
    else:
        block = df[list(feature_columns or [])]
        non_numeric = [c for c in block.columns if not pd.api.types.is_numeric_dtype(block[c])]
        if non_numeric:
            raise InputError(f"feature column(s) {non_numeric} are not numeric; give numeric descriptor columns.")
        X = block.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        if bad.size:
            raise InputError(f"feature values are missing or infinite in rows {format_rows(bad)}; fill or remove those rows.")
        names = list(block.columns)
    return X, names


def _candidate_ids(df: pd.DataFrame, id_column: str | None, formula_column: str | None) -> np.ndarray:
    """Unique candidate IDs: the id column, else unique formulas, else row0, row1, ...

    IDs are normalised once, the way an oracle reads them back from a lab file (surrounding
    spaces stripped, 17.0 -> "17"), so two pool rows can never meet as one ID later.
    """
    if id_column is not None:
        keys = [_id_key(v) for v in df[id_column]]
        empty = [i for i, k in enumerate(keys) if k is None]
        if empty:
            raise InputError(
                f"the id column {id_column!r} is empty in rows {format_rows(np.array(empty))}; every "
                "candidate needs an ID (fill them in, or drop --id-column to number the rows)."
            )
        ids = np.array(keys, dtype=object)
    else:
        fkeys = [_id_key(v) for v in df[formula_column]] if formula_column is not None else []
        if formula_column is not None and None not in fkeys and len(set(fkeys)) == len(fkeys):
            ids = np.array(fkeys, dtype=object)
        else:
            ids = np.array([f"row{i}" for i in range(len(df))], dtype=object)
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        raw = df[id_column].astype(str).to_numpy()[dup] if id_column is not None else ids[dup]
        raise InputError(
            f"candidate IDs must be unique once surrounding spaces are stripped; rows "
            f"{format_rows(np.flatnonzero(dup))} repeat an ID (e.g. {ids[dup][0]!r}, written "
            f"{', '.join(repr(v) for v in dict.fromkeys(raw.tolist()))[:120]}). Choose a unique --id-column."
        )
    return ids


def initial_design(X: np.ndarray, n: int, method: str, seed: int) -> np.ndarray:
    """The first batch: ``n`` distinct pool positions.

    ``random`` draws uniformly without replacement. ``space_filling`` is greedy maximin
    (farthest-point) selection in standardised descriptor space from a random start, which
    spreads the first experiments over the pool (Gonzalez 1985, the 2-approximation to the
    k-centre problem).
    """
    n_pool = X.shape[0]
    if n > n_pool:
        raise InputError(f"the initial design asks for {n} candidates but the pool has {n_pool}.")
    rng = np.random.default_rng(seed)
    if method == "random":
        return np.sort(rng.choice(n_pool, size=n, replace=False)).astype(np.int64)
    Z = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    Z = Z.astype(np.float32)
    chosen = [int(rng.integers(n_pool))]
    dist = np.sum((Z - Z[chosen[0]]) ** 2, axis=1)
    for _ in range(n - 1):
        dist[chosen] = -1.0
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.sum((Z - Z[nxt]) ** 2, axis=1))
    return np.array(chosen, dtype=np.int64)


# ---------------------------------------------------------------------------------------- rounds
@dataclass
class RoundRecord:
    """What one round did (also in the ledger)."""

    round: int
    kind: str
    proposals: pd.DataFrame
    measured: pd.DataFrame | None
    n_measured: int
    best: float | None
    triage_counts: dict[str, int]
    seconds: float
    n_hits: int | None = None


@dataclass(frozen=True)
class ProposalRecord:
    """A round's proposals in the order they were chosen; :meth:`to_frame` is the one layout of
    the ledger's ``proposals`` table for every kind of round.

    Parameters
    ----------
    idx, ids : ndarray of shape (k,)
        Pool positions and candidate IDs.
    score : ndarray of shape (k,), optional
        Acquisition scores (none for the initial design).
    pred : Predictive, optional
        The round's predictive of the candidates; ``rows`` are the proposals' rows in it.
    status, reasons : ndarray of shape (k,), optional
        The triage of each proposal (rounds with diagnostics).
    """

    idx: np.ndarray
    ids: np.ndarray
    score: np.ndarray | None = None
    pred: Predictive | None = None
    rows: np.ndarray | None = None
    status: np.ndarray | None = None
    reasons: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """Columns rank, idx, id, score, mean, std, epistemic_std, status, reasons, predictive."""
        k = int(self.idx.size)
        nan = np.full(k, np.nan)
        pred, rows = self.pred, self.rows
        has_pred = pred is not None and rows is not None
        return pd.DataFrame({
            "rank": np.arange(k),
            "idx": self.idx,
            "id": self.ids,
            "score": nan if self.score is None else np.asarray(self.score, dtype=np.float64),
            "mean": pred.mean[rows] if has_pred else nan,  # type: ignore[union-attr,index]
            "std": pred.stddev[rows] if has_pred else nan,  # type: ignore[union-attr,index]
            "epistemic_std": np.sqrt(pred.epistemic_variance[rows]) if has_pred and pred.has_split else nan,  # type: ignore[union-attr,index]
            "status": self.status,
            "reasons": self.reasons,
            "predictive": pred.to_records(rows) if has_pred else None,  # type: ignore[union-attr]
        })


@dataclass
class _RoundData:
    """What a round starts from (a pure function of the ledger): its seeds, the unmeasured
    candidates, the batch size and the training set."""

    r: int
    seeds: dict[str, int]
    candidates: np.ndarray
    k: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_cand: np.ndarray
    info: dict[str, Any]


@dataclass(frozen=True)
class _Diagnosis:
    triage: pd.DataFrame
    evidence: Any
    counts: dict[str, int]


@dataclass(frozen=True)
class _Scoring:
    scores: np.ndarray
    gated: np.ndarray | None = None
    fallback: bool = False


class _StageTimer:
    """Wall-clock seconds per stage of a round (``with timer("predict"): ...``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - t0, 4)


def _round_seeds(seed: int, round_: int) -> dict[str, int]:
    state = np.random.SeedSequence([int(seed), int(round_)]).generate_state(4)
    return {"model": int(state[0] % 2**31), "mdn": int(state[1] % 2**31), "acquisition": int(state[2]), "selection": int(state[3])}


@dataclass(frozen=True)
class RoundParts:
    """The parts a model round is built from, resolved once from :mod:`bdl.registry` by
    :meth:`CampaignConfig.parts`: fit -> predict -> (recalibrate) -> diagnose -> score -> select."""

    model: registry.Entry
    model_settings: dict[str, Any]
    mdn: registry.Entry | None
    mdn_settings: dict[str, Any]
    acquisition: BoundAcquisition
    selector: registry.Entry
    gate: GatePolicy | None
    recalibrator: registry.Entry | None

    @property
    def model_knows_bounds(self) -> bool:
        """Whether the model takes the target's bounds itself (else its predictive is truncated)."""
        return "lower_bound" in self.model.obj._param_names()

    @staticmethod
    def _build(entry: registry.Entry, settings: dict[str, Any], seed: int) -> Any:
        names = entry.obj._param_names()
        settings = {k: tuple(v) if k == "hidden_units" else v for k, v in settings.items()}
        settings.update({k: v for k, v in (("random_state", seed), ("progress", False)) if k in names})
        try:
            return entry.obj(**settings)
        except TypeError as exc:
            raise InputError(f"model {entry.name!r} does not take these settings: {exc}.") from exc

    def build_model(self, seed: int, bounds: tuple[float | None, float | None] = (None, None), magpie: bool = False) -> Any:
        """The round's model; one that knows bounds gets them, and one registered with
        ``dft_prior`` (``prior_gp``) gets the DFT prior on a pool of compositions."""
        settings = dict(self.model_settings)
        if self.model_knows_bounds:
            settings.setdefault("lower_bound", bounds[0])
            settings.setdefault("upper_bound", bounds[1])
        if self.model.meta.get("dft_prior"):
            settings.setdefault("prior", "dft_gap" if magpie else None)
        return self._build(self.model, settings, seed)

    def build_mdn(self, seed: int) -> Any:
        """The diagnostics' mixture density network (needs ``diagnose``)."""
        if self.mdn is None:
            raise InputError("this campaign runs without diagnostics, so it has no MDN.")
        return self._build(self.mdn, self.mdn_settings, seed)

    def predictive(self, model: Any, X: np.ndarray, bounds: tuple[float | None, float | None]) -> Predictive:
        """The model's predictive of ``X``, cut to the bounds when the model does not know them."""
        pred = model.predict_dist(X)
        return pred if self.model_knows_bounds else truncate(pred, *bounds)


def _fingerprint_model(model: Any) -> str:
    h = hashlib.sha256()
    for key, arr in sorted(model._get_arrays().items()):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


class Campaign:
    """An active-learning campaign recorded in a ledger.

    Parameters
    ----------
    pool : Pool
    oracle : Oracle
        Measures proposals (:mod:`discovery_loop.oracles`).
    ledger : Ledger
        Open, locked ledger; new (it is initialised with ``config``) or of this campaign.
    config : CampaignConfig, optional
        Required for a new ledger; for an existing one it must be None or equal to the stored
        configuration.
    targets : array of int, optional
        Simulated campaigns: pool positions that count as found (the report's metrics).
    source : dict, optional
        How to rebuild the pool and oracle on resume (data path or shipped data set, columns).
    progress : bool or None
        Progress bar over measurements (None: only on a terminal).

    Examples
    --------
    >>> campaign = Campaign(pool, LookupOracle(df, "id", "gap"), ledger, config)  # doctest: +SKIP
    >>> for record in campaign.rounds():                                        # doctest: +SKIP
    ...     print(record.round, record.best)
    """

    def __init__(
        self,
        pool: Pool,
        oracle: Any,
        ledger: Ledger,
        config: CampaignConfig | None = None,
        *,
        targets: np.ndarray | None = None,
        source: dict[str, Any] | None = None,
        progress: bool | None = None,
    ) -> None:
        self.pool = pool
        self.oracle = oracle
        self.ledger = ledger
        self.progress = progress
        self._id_to_idx = {str(v): i for i, v in enumerate(pool.ids)}
        if (config is not None and config.polymorph_prior) and not pool.is_magpie:
            raise InputError("the polymorph prior reads compositions; give the pool as a formula column "
                             "(--formula-column), or drop --polymorph-prior.")
        meta = ledger.meta()
        if "config" not in meta:
            if config is None:
                raise LedgerError("a new ledger needs a campaign configuration.")
            config.validate()
            stored = config.to_dict()
            if source is not None:
                stored["pool"] = source
            ledger.initialise(stored, list(map(str, pool.ids)), pool.fingerprint(), targets=targets)
            self.config = config
        else:
            self.config = CampaignConfig.from_dict(ledger.config)
            if config is not None and config.to_dict() != self.config.to_dict():
                raise LedgerError(
                    f"{ledger.path} holds a campaign with another configuration; resume it with "
                    "'discovery-loop resume', or choose a new ledger path for the new campaign."
                )
            if meta.get("pool_fingerprint") != pool.fingerprint():
                raise LedgerError(
                    f"the pool differs from the one {ledger.path} was started with (IDs or descriptors "
                    "changed); resume with the original data file."
                )

    # ------------------------------------------------------------------ state
    def measured(self) -> pd.DataFrame:
        """Measurements so far (idx, id, value, round), in proposal order."""
        return self.ledger.measured()

    def best(self) -> float | None:
        """Best measured value in the target's units."""
        return self.config.goal.best(self.measured()["value"].to_numpy())

    def amend(self, id_: Any, value: float, reason: str) -> dict[str, Any]:
        """Correct a recorded measurement (see :meth:`discovery_loop.ledger.Ledger.amend`); the
        campaign's ``value_range`` applies. Later rounds train on the corrected value; the
        rounds already recorded stay as they were proposed."""
        return self.ledger.amend(id_, value, reason, value_range=self.config.value_range)

    def retract(self, id_: Any, reason: str) -> dict[str, Any]:
        """Withdraw a recorded measurement (see :meth:`discovery_loop.ledger.Ledger.retract`)."""
        return self.ledger.retract(id_, reason)

    def finished_reason(self) -> str | None:
        """Why the campaign is over, or None if it can go on."""
        cfg = self.config
        m = self.measured()
        if not self.ledger.pending().empty:
            return None
        n_done = self.ledger.n_measurements()  # experiments done, retracted ones included
        if n_done >= cfg.budget:
            return f"budget of {cfg.budget} measurements spent"
        if n_done >= len(self.pool):
            return "every candidate in the pool has been measured"
        y = m["value"].to_numpy()
        if cfg.stop_at is not None and y.size:
            if cfg.goal.kind == "window":
                hits = int(np.sum(cfg.goal.utility(y) == 0.0))
                if hits >= cfg.stop_at:
                    return f"{hits} measured values in the window (stop_at={cfg.stop_at:g})"
            elif (cfg.goal.kind == "maximize" and y.max() >= cfg.stop_at) or (cfg.goal.kind == "minimize" and y.min() <= cfg.stop_at):
                return f"a measured value reached stop_at={cfg.stop_at:g}"
        if cfg.patience is not None:
            rounds = self.ledger.table("rounds")
            model_rounds = rounds[rounds["kind"] != "initial"]
            if len(model_rounds) >= cfg.patience:
                u_best_now = np.max(cfg.goal.utility(y))
                before = model_rounds["best_before"].to_numpy()[-int(cfg.patience)]
                if u_best_now <= float(cfg.goal.utility(np.array([before]))[0]):
                    return f"no improvement in {cfg.patience} rounds"
        return None

    # ------------------------------------------------------------------ the loop
    def rounds(self) -> Iterator[RoundRecord]:
        """Run the campaign one round per step until a stopping rule fires."""
        pending = self.ledger.pending()
        if not pending.empty:
            r = int(pending["round"].iloc[0])
            measured = self._measure(r, pending)  # validated before anything is written
            self.ledger.log("resume", f"measured the {len(pending)} proposals of round {r} recorded before a stop", r)
            yield self._record_from_ledger(r, measured, 0.0)
        while self.finished_reason() is None:
            t0 = time.perf_counter()
            r = self.ledger.n_rounds()
            proposals = self._propose(r)
            measured = self._measure(r, proposals)
            yield self._record_from_ledger(r, measured, time.perf_counter() - t0)

    def run(self, on_round: Any = None) -> str:
        """Run to the end with a progress bar over measurements; returns why it stopped.

        ``on_round(record, write)`` is called after every round (``write`` prints a line without
        breaking the bar). Raises :class:`discovery_loop.oracles.MeasurementPending` when a lab file is not there yet.
        """
        n0 = len(self.measured())
        bar = progress_bar(iter(()), desc="campaign", unit="exp", enable=self.progress, total=self.config.budget, initial=n0)
        try:
            for record in self.rounds():
                bar.update(record.n_measured - bar.n)
                if record.best is not None:
                    bar.set_postfix(round=record.round, best=f"{record.best:.4g}")
                if on_round is not None:
                    on_round(record, bar.write)
        finally:
            bar.close()
        reason = self.finished_reason() or "stopped"
        self.ledger.log("finished", reason)
        return reason

    # ------------------------------------------------------------------ steps
    def _record_from_ledger(self, r: int, measured: pd.DataFrame, seconds: float) -> RoundRecord:
        rounds = self.ledger.table("rounds")
        row = rounds[rounds["round"] == r].iloc[0]
        props = self.ledger.table("proposals")
        counts = json.loads(row["triage_counts"]) if isinstance(row["triage_counts"], str) else {}
        return RoundRecord(
            round=r,
            kind=str(row["kind"]),
            proposals=props[props["round"] == r].reset_index(drop=True),
            measured=measured,
            n_measured=self.ledger.n_measurements(),
            best=self.best(),
            triage_counts=counts,
            seconds=seconds,
            n_hits=self.n_hits(),
        )

    def n_hits(self) -> int | None:
        """Window goals: measured values inside the window (None for other goals)."""
        if self.config.goal.kind != "window":
            return None
        return int(np.sum(self.config.goal.utility(self.measured()["value"].to_numpy()) == 0.0))

    def _measure(self, r: int, proposals: pd.DataFrame) -> pd.DataFrame:
        request = self.pool.frame.iloc[proposals["idx"].to_numpy()].copy()
        request = request.rename(columns={c: f"pool_{c}" for c in ("id", "round") if c in request.columns})
        request.insert(0, "id", proposals["id"].to_numpy())
        request.insert(1, "round", r)
        request = request.reset_index(drop=True)
        try:  # a bad lab file raises OracleError before anything is written
            measured = self.oracle.measure(request, round_index=r)
            measured = validate_measurements(request, measured, value_range=self.config.value_range)
        except MeasurementPending as exc:
            self.ledger.log("waiting", str(exc), r)
            raise
        except OracleError as exc:
            self.ledger.log("rejected", str(exc), r)  # the only row a rejected file writes
            raise
        self.ledger.record_measurements(r, measured, self._id_to_idx)
        return measured

    def _propose(self, r: int) -> pd.DataFrame:
        """Round ``r``'s proposals, recorded in the ledger: the initial design, random picks, or
        a model round (fit -> predict -> recalibrate -> diagnose -> score -> select -> record)."""
        cfg = self.config
        data = self._round_data(r)
        if r == 0:
            chosen = initial_design(self.pool.X, data.k, cfg.initial_design, data.seeds["selection"])
            return self._record(data, ProposalRecord(chosen, self.pool.ids[chosen]),
                                {"kind": "initial", "strategy": cfg.initial_design})
        if data.y_train.size < 2:
            raise LedgerError(f"round {r} needs at least 2 measurements to train a model; the ledger has {data.y_train.size}.")
        if cfg.strategy == "random" and not cfg.diagnose:
            # random picking needs no model: score a placeholder predictive of the right length
            n = data.candidates.size
            scores = self.parts.acquisition(GaussianPredictive(np.zeros(n), np.ones(n)), best=None,
                                            maximize=cfg.goal.maximize, seed=data.seeds["acquisition"])
            local = np.asarray(select_batch(scores, data.k, seed=data.seeds["selection"]), dtype=np.int64)
            chosen = data.candidates[local]
            return self._record(data, ProposalRecord(chosen, self.pool.ids[chosen], score=np.asarray(scores)[local]),
                                {"kind": "random", "strategy": "random"})
        return self._model_round(data)

    def _round_data(self, r: int) -> _RoundData:
        """What round ``r`` starts from, a pure function of the ledger."""
        cfg = self.config
        measured = self.measured()  # current values: corrections applied, retractions left out
        done = measured["idx"].to_numpy(dtype=np.int64)
        candidates = np.setdiff1d(np.arange(len(self.pool)), self.ledger.measured_positions())
        remaining_budget = cfg.budget - self.ledger.n_measurements()
        k = min(cfg.initial_size if r == 0 else cfg.batch_size, remaining_budget, candidates.size)
        info: dict[str, Any] = {"round": r, "n_train": len(measured), "n_candidates": int(candidates.size)}
        info["started_at"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
        info["best_before"] = cfg.goal.best(measured["value"].to_numpy())
        return _RoundData(r=r, seeds=_round_seeds(cfg.seed, r), candidates=candidates, k=k, X_train=self.pool.X[done],
                          y_train=measured["value"].to_numpy(dtype=np.float64), X_cand=self.pool.X[candidates], info=info)

    @property
    def parts(self) -> RoundParts:
        """The round's parts (:meth:`CampaignConfig.parts`), resolved once with the configuration."""
        return self.config.parts()

    def _model_round(self, data: _RoundData) -> pd.DataFrame:
        cfg, parts, timer = self.config, self.parts, _StageTimer()
        warm_from = self._warm_start_round(data.y_train.size)
        model, mdn = self._fit(data, warm_from, timer)
        with timer("predict"):
            pred = parts.predictive(model, data.X_cand, cfg.bounds)
            mdn_pred = None if mdn is None else mdn.predict_dist(data.X_cand)
        if parts.recalibrator is not None:
            with timer("recalibrate"):
                pred = self._recalibrate(data, pred)
        diagnosis = None if mdn is None else self._diagnose(data, pred, mdn, mdn_pred, timer)
        best = cfg.goal.best(data.y_train)  # in the target's units, as the acquisition functions take it
        with timer("acquire"):
            scoring = self._score(data, pred, mdn_pred, diagnosis, best)
        with timer("select"):
            extra: dict[str, Any] = {}
            if parts.selector.meta.get("needs_predictive"):  # local penalisation works on the predictive
                extra = {"pred": pred, "maximize": cfg.goal.maximize, "best": best, "log_scores": parts.acquisition.is_log}
            local = np.asarray(select_batch(scoring.scores, data.k, method=cfg.selector, X=data.X_cand,
                                            seed=data.seeds["selection"], **extra, **cfg.selector_params), dtype=np.int64)
        chosen = data.candidates[local]
        triage_df = None if diagnosis is None else diagnosis.triage
        record = ProposalRecord(
            chosen, self.pool.ids[chosen], score=scoring.scores[local], pred=pred, rows=local,
            status=None if triage_df is None else triage_df["status"].to_numpy()[local],
            reasons=None if triage_df is None else triage_df["reasons"].to_numpy()[local],
        )
        params = dict(parts.model_settings)
        if cfg.warm_start:
            params["warm_start_from"] = warm_from  # the model round continued, None: from scratch
        info = {"kind": "model", "strategy": cfg.strategy if cfg.gate is None else f"{cfg.strategy}+gate:{cfg.gate}",
                "model": cfg.model, "model_params": json.dumps(params, sort_keys=True),
                "model_fingerprint": _fingerprint_model(model),
                "triage_counts": json.dumps({} if diagnosis is None else diagnosis.counts, sort_keys=True),
                "timings": json.dumps(timer.seconds)}
        if diagnosis is not None:
            info["triage_summary"] = json.dumps(round_summary(
                triage_df, chosen=local, gated=scoring.gated, policy=parts.gate if scoring.gated is not None else None,
                fallback=scoring.fallback, evidence=diagnosis.evidence), sort_keys=True)
        return self._record(data, record, info, model=model, mdn=mdn)

    def _record(self, data: _RoundData, record: ProposalRecord, info: dict[str, Any], model: Any = None,
                mdn: Any = None) -> pd.DataFrame:
        """Write the round, its models and its proposals to the ledger in one transaction."""
        proposals = record.to_frame()
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = None
            aux = {}
            if model is not None:
                model_dir = Path(tmp) / "model"
                model.save(model_dir)
            if mdn is not None:
                aux["mdn"] = mdn.save(Path(tmp) / "mdn")
            self.ledger.record_round({**data.info, **info}, proposals, model_dir=model_dir, aux_model_dirs=aux)
        return proposals

    def _fit(self, data: _RoundData, warm_from: int | None, timer: _StageTimer) -> tuple[Any, Any]:
        """Fit the round's model (and the diagnostics MDN), continuing round ``warm_from``'s networks if given."""
        parts = self.parts
        model = parts.build_model(data.seeds["model"], self.config.bounds, self.pool.is_magpie)
        if warm_from is not None:
            with timer("load_previous"):
                model = self._continue_model(warm_from, "model", model)
        with timer("fit_model"):
            model.fit(data.X_train, data.y_train)
        if parts.mdn is None:
            return model, None
        mdn = parts.build_mdn(data.seeds["mdn"])
        if warm_from is not None:
            with timer("load_previous"):
                mdn = self._continue_model(warm_from, "mdn", mdn)
        with timer("fit_mdn"):
            mdn.fit(data.X_train, data.y_train)
        return model, mdn

    def _recalibrate(self, data: _RoundData, pred: Predictive) -> Predictive:
        """``pred`` recalibrated on the measured points' cross-fitted predictives (no point
        calibrates its own prediction); the ledger's log says what was done."""
        cfg, parts = self.config, self.parts
        n = data.y_train.size
        name = parts.recalibrator.name  # type: ignore[union-attr]
        if n < MIN_RECALIBRATION:
            self.ledger.log("recalibrate", f"{n} measurements are too few to recalibrate (fewer than "
                            f"{MIN_RECALIBRATION}); the model's own predictive was used", data.r)
            return pred
        n_folds = min(RECALIBRATION_FOLDS, n // 2)
        seed = int(np.random.SeedSequence([cfg.seed, data.r, 1]).generate_state(1)[0] % 2**31)
        fold = np.random.default_rng(seed).permutation(n) % n_folds
        held_out, order = [], []
        for f in range(n_folds):
            test = np.flatnonzero(fold == f)
            model = parts.build_model(seed + f, cfg.bounds, self.pool.is_magpie)
            model.fit(data.X_train[fold != f], data.y_train[fold != f])
            held_out.append(parts.predictive(model, data.X_train[test], cfg.bounds))
            order.append(test)
        rows = np.concatenate(order)
        cross_fitted = concat(held_out)
        recalibrator = parts.recalibrator.obj().fit(data.y_train[rows], cross_fitted)  # type: ignore[union-attr]
        lo, hi = cross_fitted.interval(0.9)
        covered = float(np.mean((data.y_train[rows] >= lo) & (data.y_train[rows] <= hi)))
        self.ledger.log("recalibrate", f"{name} recalibration fitted on {n} cross-fitted predictions ({n_folds} folds); "
                        f"before it their 90 % intervals covered {covered:.0%}", data.r)
        return recalibrator.transform(pred)

    def _diagnose(self, data: _RoundData, pred: Predictive, mdn: Any, mdn_pred: Predictive,
                  timer: _StageTimer) -> _Diagnosis:
        """Triage every candidate (BNN predictive against the MDN), with the held-out evidence
        that the MDN's shape is real at this amount of data (issue 13)."""
        cfg = self.config
        with timer("diagnose"):
            # the descriptor-space OOD score needs a reference set; with a handful of measurements
            # every candidate would be "far", so it waits for MIN_TRAIN_FOR_OOD
            enough = np.unique(data.X_train, axis=0).shape[0] >= MIN_TRAIN_FOR_OOD
            # too few rows for the held-out test: the MDN's shape is unsupported, its verdicts unsure
            evidence = MixtureEvidence.untested(data.y_train.size, EVIDENCE_FOLDS)
            if data.y_train.size >= 2 * EVIDENCE_FOLDS:
                bounded = cfg.bounds != (None, None)
                evidence = heldout_evidence(
                    data.X_train, data.y_train, mdn, n_folds=EVIDENCE_FOLDS, seed=data.seeds["mdn"],
                    transform=(lambda p_: truncate(p_, *cfg.bounds)) if bounded else None)
            polymorphs = load_polymorph_prior() if cfg.polymorph_prior else None
            triage_df = triage(pred, mdn_pred, X_train=data.X_train if enough else None,
                               X_candidates=data.X_cand if enough or polymorphs is not None else None,
                               lower_bound=cfg.lower_bound, evidence=evidence, replicates=polymorphs,
                               thresholds=None if polymorphs is None else polymorphs.thresholds())
        counts = {str(k_): int(v) for k_, v in triage_df["status"].value_counts().sort_index().items()}
        return _Diagnosis(triage_df, evidence, counts)

    def _score(self, data: _RoundData, pred: Predictive, mdn_pred: Predictive | None, diagnosis: _Diagnosis | None,
               best: float | None) -> _Scoring:
        """Acquisition scores of every candidate, through the diagnostics gate when there is one."""
        cfg, parts = self.config, self.parts
        acq, seed = parts.acquisition, data.seeds["acquisition"]

        def score(p: Predictive) -> np.ndarray:
            return np.asarray(acq(p, best=best, maximize=cfg.goal.maximize, seed=seed), dtype=np.float64)

        policy = parts.gate
        if diagnosis is None or policy is None:
            return _Scoring(score(pred))
        gated = gate_mask(pred, diagnosis.triage, policy)
        scores = gated_scores(score, pred, mdn_pred, diagnosis.triage, policy)
        n_open = int(np.isfinite(scores).sum())
        if policy.action == "skip" and n_open < data.k:
            # too few unflagged candidates for a batch: rank the flagged ones after them
            fallback = GatePolicy(action="downweight", statuses=policy.statuses, weight=0.0,
                                  min_std_quantile=policy.min_std_quantile)
            scores = gated_scores(score, pred, mdn_pred, diagnosis.triage, fallback)
            self.ledger.log("gate", f"only {n_open} unflagged candidates; "
                            "flagged ones ranked after them to fill the batch", data.r)
            return _Scoring(np.asarray(scores, dtype=np.float64), gated, fallback=True)
        return _Scoring(np.asarray(scores, dtype=np.float64), gated)

    def _warm_start_round(self, n_train: int) -> int | None:
        """The model round whose networks this round continues, or None to train from scratch.

        A pure function of the ledger's ``rounds`` table (the training-set sizes of the model
        rounds so far), so a resumed campaign makes the same choice as an uninterrupted one:
        the first model round is cold, and so is every round whose training set is more than
        :data:`WARM_START_REFIT_GROWTH` times the last cold round's.
        """
        if not self.config.warm_start:
            return None
        rounds = self.ledger.table("rounds")
        model_rounds = rounds[rounds["kind"] == "model"]
        anchor: float | None = None  # training-set size of the last cold fit
        for n in model_rounds["n_train"].to_numpy():
            if anchor is None or n > WARM_START_REFIT_GROWTH * anchor:
                anchor = float(n)
        if anchor is None or n_train > WARM_START_REFIT_GROWTH * anchor:
            return None
        return int(model_rounds["round"].iloc[-1])

    def _continue_model(self, round_: int, kind: str, fresh: Any) -> Any:
        """Round ``round_``'s saved network of ``kind``, set to this round's settings (those of
        ``fresh``: seed, epochs) with ``warm_start`` on, ready to ``fit``."""
        previous = self.ledger.load_model(round_, kind)
        if type(previous) is not type(fresh):
            raise LedgerError(
                f"round {round_}'s {kind} is a {type(previous).__name__}, not the {type(fresh).__name__} this "
                "campaign trains; the ledger does not match its configuration."
            )
        params = fresh.get_params()
        params["warm_start"] = True
        if self.config.warm_start_epochs is not None:
            params["epochs"] = int(self.config.warm_start_epochs)
        return previous.set_params(**params)

    # ------------------------------------------------------------------ Jupyter
    def _repr_html_(self) -> str:
        """Jupyter shows a campaign inline: status, the found-fraction plot, last round's triage."""
        return CampaignView(self.ledger)._repr_html_()

    def report(self, title: str | None = None) -> Any:
        """The campaign report, rendered inline in Jupyter; ``.save(dir)`` writes the report folder.

        Returns
        -------
        discovery_loop.report.CampaignReportView
        """
        return CampaignReportView(self.ledger, title)


# ---------------------------------------------------------------------------------------- opening
def pool_from_source(source: dict[str, Any]) -> tuple[Pool, pd.DataFrame]:
    """Read the pool described by a campaign's ``source`` (a CSV path or a shipped data set)."""
    if source.get("dataset"):
        df = load_dataset(str(source["dataset"]), **dict(source.get("dataset_kwargs") or {}))  # e.g. {"plate": 3496}
    else:
        df = read_csv(str(source["data"]), what="pool file")
    pool = Pool.from_frame(
        df,
        id_column=source.get("id_column"),
        formula_column=source.get("formula_column"),
        feature_columns=source.get("feature_columns"),
    )
    return pool, df


def _oracle_from_source(
    source: dict[str, Any], pool: Pool, target: str, seed: int, value_range: tuple[float, float] | None = None
) -> Any:
    if source.get("oracle", "lookup") == "file":
        if not source.get("lab_dir"):
            raise InputError("a file oracle needs a lab folder (--lab-dir DIR).")
        lab = Path(source["lab_dir"])
        if lab.exists() and not lab.is_dir():
            raise InputError(f"--lab-dir {lab} is a file, not a folder; give the folder where proposals and measured files go.")
        # exits and resumes by default
        return FileOracle(lab, wait=bool(source.get("wait", False)), value_range=value_range)
    table = pd.DataFrame({"id": pool.ids.astype(str), target: pool.frame[target].to_numpy()})
    return LookupOracle(table, "id", target, noise_std=float(source.get("noise_std") or 0.0), seed=seed)


def open_campaign(
    ledger_path: str | Path,
    *,
    config: CampaignConfig | None = None,
    source: dict[str, Any] | None = None,
    progress: bool | None = None,
) -> Campaign:
    """Start a campaign on a new ledger (``config`` and ``source`` given) or reopen one.

    ``source`` says where the pool comes from and how it is measured::

        {"data": "pool.csv" | None, "dataset": "matbench_expt_gap" | None,
         "dataset_kwargs": {"plate": 3496} | None, "id_column": ...,
         "formula_column": ... | None, "feature_columns": [...] | None,
         "oracle": "lookup" | "file", "lab_dir": ... | None, "noise_std": 0.0}

    A lookup (simulated) campaign also records its targets (top 1 % of the pool, or the
    window's members) for the report.

    Raises
    ------
    LedgerError, LedgerLockedError, InputError
    """
    new = config is not None
    if new and source is None:
        raise InputError("a new campaign needs a source (where the pool comes from and how it is measured).")
    if new:
        # everything is resolved and checked before the ledger file exists: a bad setting, pool or
        # oracle leaves no file behind
        if not isinstance(config, CampaignConfig):
            raise InputError(f"config must be a CampaignConfig, got {type(config).__name__}.")
        config.validate()
        src = dict(source or {})
        pool, df, targets, oracle = _resolve_source(src, config)
        ledger = Ledger(ledger_path, create=True)
        try:
            return Campaign(pool, oracle, ledger, config, targets=targets, source=src, progress=progress)
        except BaseException:
            ledger.close()  # never initialised: removes what it made
            raise
    ledger = Ledger(ledger_path)
    try:
        source = ledger.config.get("pool")
        if source is None:
            raise LedgerError(f"{ledger_path} does not record where its pool came from; reopen it with Campaign(...) in Python.")
        src = dict(source)
        cfg = CampaignConfig.from_dict(ledger.config)
        pool, df, targets, oracle = _resolve_source(src, cfg)
        return Campaign(pool, oracle, ledger, None, targets=targets, source=src, progress=progress)
    except BaseException:
        ledger.close()
        raise


def _resolve_source(src: dict[str, Any], cfg: CampaignConfig) -> tuple[Pool, pd.DataFrame, np.ndarray | None, Any]:
    """Pool, its table, the simulated campaign's targets and the oracle of a campaign's source."""
    pool, df = pool_from_source(src)
    targets = None
    if src.get("oracle", "lookup") == "lookup":
        if cfg.target not in df.columns:
            raise InputError(f"the pool has no target column {cfg.target!r}; its columns are {list(df.columns)}.")
        y = pd.to_numeric(df[cfg.target], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise InputError(
                f"a simulated campaign needs a value of {cfg.target!r} for every candidate; rows "
                f"{format_rows(bad)} have none. Remove them, or use --oracle file for a real lab."
            )
        unusable = [(i, why) for i, v in enumerate(y) if (why := _value_problem(float(v), cfg.value_range)) is not None]
        if unusable:
            raise InputError(
                f"the simulated campaign's {cfg.target!r} values cannot all be measured: rows "
                f"{format_rows(np.array([i for i, _ in unusable]))} (e.g. {y[unusable[0][0]]:g}, which "
                f"{unusable[0][1]}). Remove those rows, or widen --value-range."
            )
        targets = cfg.goal.target_set(y)
    elif src.get("oracle") != "file":
        raise InputError(f"oracle must be 'lookup' or 'file', got {src.get('oracle')!r}.")
    oracle = _oracle_from_source(src, pool, cfg.target, cfg.seed, cfg.value_range)
    return pool, df, targets, oracle
