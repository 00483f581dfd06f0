"""Shared estimator machinery: parameters, input standardisation, save/load without pickle.

Estimators follow scikit-learn's contract: ``__init__`` stores settings only, ``fit(X, y)``
returns ``self``, learned state ends in ``_``, ``random_state`` is threaded, never global.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from bdl._io import atomic_write_text
from bdl._validation import check_X, check_y
from bdl.errors import DataFileError, InputError, NotFittedError

__all__ = ["BayesianRegressor", "load_model", "register"]

_REGISTRY: dict[str, type[BayesianRegressor]] = {}
_FORMAT_VERSION = 1

#: Standardised inputs are clipped to this many training standard deviations.
INPUT_CLIP = 10.0

# Prediction budgets: the largest number of float32 values one activation array of one chunk of
# stochastic passes may hold (the engines split the rows, or the passes, to stay below it). One
# home, one name per engine; the values differ on purpose, because the engines' activations and
# their cost per value differ.
#: MC dropout, a (T, rows, width) activation: 64 M floats = 256 MiB, so a chunk's peak stays
#: well under 1 GiB; a dropout layer is one dense product per pass, which large chunks serve best.
_MAX_ACTIVATIONS_MC_DROPOUT = 64 * 2**20
#: Variational net, a (S, rows, width) activation: 8 M floats = 32 MiB. Smaller than MC
#: dropout's because every layer here is per-sample with few multiply-adds per activation, so
#: keeping activations near the caches pays more than larger products (measured with
#: benchmarks/speed.py on a busy 2-core machine).
_MAX_ACTIVATIONS_VARIATIONAL = 8 * 2**20
#: The population trainer of ``bench`` (P nets at once), a (P, t, rows, width) activation split
#: into blocks of t passes: 32 M floats, about 128 MB, since P members share every block.
_MAX_ACTIVATIONS_POPULATION = 32_000_000


def register(cls: type[BayesianRegressor]) -> type[BayesianRegressor]:
    """Class decorator: make a model class loadable by :func:`load_model`."""
    _REGISTRY[cls.__name__] = cls
    return cls


class BayesianRegressor:
    """Base class of every regressor: standardisation of X and y, validation, persistence.

    Subclasses implement the public ``fit(X, y)`` (usually :meth:`_start_fit` for the
    standardised data and the seeded generator, then :meth:`_fit_engine` for networks) and
    ``predict_dist(X)`` (:meth:`_prepare_predict` standardises ``X``), ``_check_params`` for
    their settings, and -- when their state is not the list of variables ``self._vars`` made by
    ``_build`` -- the persistence hooks ``_get_arrays`` / ``_set_arrays`` (plus
    ``_get_extra`` / ``_set_extra`` for JSON state and ``_save_parts`` / ``_load_parts`` for
    sub-models). Networks trained by :func:`bdl.models.svi.fit_svi` also provide the engine
    hooks ``trainable_variables``, ``elbo_terms(x, y, seed)`` and ``mc_predict(x, n, seed)``.
    """

    #: Name of the predictive kind ``predict_dist`` returns ("gaussian", "mixture", "samples").
    predictive_kind: ClassVar[str] = ""
    #: Float type of the standardised arrays handed to the subclass (networks: float32).
    _input_dtype: ClassVar[type] = np.float32

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Return the constructor settings as a dict (scikit-learn style)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BayesianRegressor:
        """Change constructor settings; unknown names raise InputError."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise InputError(f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ shared checks
    def _check_network_params(self, allow_linear: bool = False) -> None:
        """Check ``hidden_units``, ``validation_fraction`` and ``min_scale`` (when present)."""
        units = tuple(self.hidden_units)
        if (not units and not allow_linear) or any(int(u) != u or u < 1 for u in units):
            what = "a tuple of positive integers (empty: a linear model)" if allow_linear else (
                "a non-empty tuple of positive integers")
            raise InputError(f"hidden_units must be {what}, got {self.hidden_units!r}.")
        if not 0.0 <= self.validation_fraction < 0.5:
            raise InputError(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction!r}.")
        if getattr(self, "min_scale", 1.0) <= 0:
            raise InputError(f"min_scale must be positive, got {self.min_scale!r}.")

    # ------------------------------------------------------------------ warm start
    def _is_fitted(self) -> bool:
        return hasattr(self, "y_scale_")

    def _warm_start_from_fit(self, X: Any) -> bool:
        """Whether this ``fit`` continues from the current weights (``warm_start``).

        True when ``warm_start`` is set and the model is fitted; then ``X`` must have the
        feature count (and, for a DataFrame on both fits, the columns) of the earlier fit.

        Raises
        ------
        InputError
            If the feature count or the feature names differ from the earlier fit.
        """
        if not getattr(self, "warm_start", False) or not self._is_fitted():
            return False
        n_features = np.shape(X)[1] if np.ndim(X) == 2 else None
        if n_features is not None and n_features != self.n_features_in_:
            raise InputError(
                f"warm_start: X has {n_features} features but the model was fitted on {self.n_features_in_}; "
                "a warm start continues from the fitted weights and needs the same feature columns. Pass the "
                "same columns, or set warm_start=False to train a new network from scratch."
            )
        names = [str(c) for c in X.columns] if hasattr(X, "columns") else None
        if names is not None and self.feature_names_in_ is not None and sorted(names) != sorted(self.feature_names_in_):
            raise InputError(
                "warm_start: X's feature columns differ from the ones the model was fitted on; pass the same "
                "columns, or set warm_start=False to train a new network from scratch."
            )
        return True

    def _warm_build(self, fresh: Any) -> Any:
        """The ``build`` callable of a warm-started fit: re-create the variables from the current
        weights (inside a strategy's scope when there is one), after checking that a new
        network with the present settings would have the same parameter shapes.

        Parameters
        ----------
        fresh : list or dict of ndarray
            What a cold fit would initialise with the present settings (only the shapes are used).

        Raises
        ------
        InputError
            If the architecture changed since the earlier fit (hidden units, number of
            components, noise model).
        """
        current = self._get_arrays()
        if isinstance(fresh, dict):
            same = {k: np.shape(a) for k, a in fresh.items()} == {k: np.shape(a) for k, a in current.items()}
        else:
            same = [np.shape(a) for a in fresh] == [np.shape(current[k]) for k in sorted(current)]
        if not same:
            raise InputError(
                f"warm_start: the {type(self).__name__}'s architecture changed since it was fitted (hidden_units, "
                "n_components or noise), so its weights cannot be continued; restore the settings of the earlier "
                "fit, or set warm_start=False to train a new network from scratch."
            )

        def build(rng: np.random.Generator) -> None:
            self._set_arrays(current)

        return build

    def _start_fit(
        self, X: Any, y: Any, init: Callable[[int, np.random.Generator], Any]
    ) -> tuple[np.ndarray, np.ndarray, np.random.Generator, Callable[[np.random.Generator], None]]:
        """Common start of a network's ``fit``: standardised data, the seeded generator and the
        ``build`` callable for :meth:`_fit_engine` (a cold start initialises with
        ``init(n_features, rng)``; a warm start continues from the current weights, keeping
        the earlier scaling, see :meth:`_warm_start_from_fit`).
        """
        warm = self._warm_start_from_fit(X)
        Xs, ys = self._prepare_fit(X, y, keep_scaling=warm)
        rng = np.random.default_rng(self.random_state)
        if warm:
            return Xs, ys, rng, self._warm_build(init(Xs.shape[1], np.random.default_rng(0)))

        def build(r: np.random.Generator) -> None:
            self._build(init(Xs.shape[1], r))  # type: ignore[attr-defined]

        return Xs, ys, rng, build

    # ------------------------------------------------------------------ data handling
    def _prepare_fit(self, X: Any, y: Any, keep_scaling: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Validate, remember feature names and scaling, and return standardised data.

        With ``keep_scaling`` (a warm-started fit) the input and target scaling of the earlier
        fit is kept: the network's weights are only meaningful in the standardised units they
        were trained in.
        """
        if keep_scaling:
            X, _ = check_X(X, feature_names=self.feature_names_in_)
            y = check_y(y, X.shape[0])
            if X.shape[0] < 2:
                raise InputError(f"need at least 2 training rows to fit, got {X.shape[0]}.")
            return self._scale_X(X), ((y - self.y_mean_) / self.y_scale_).astype(self._input_dtype)
        X, names = check_X(X)
        y = check_y(y, X.shape[0])
        if X.shape[0] < 2:
            raise InputError(f"need at least 2 training rows to fit, got {X.shape[0]}.")
        self.feature_names_in_ = names
        self.n_features_in_ = X.shape[1]
        self.x_mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.x_scale_ = np.where(std > 1e-12, std, 1.0)
        self.y_mean_ = float(y.mean())
        y_std = float(y.std())
        self.y_scale_ = y_std if y_std > 1e-12 else 1.0
        return self._scale_X(X), ((y - self.y_mean_) / self.y_scale_).astype(self._input_dtype)

    def _scale_X(self, X: np.ndarray) -> np.ndarray:
        """Standardise with the training mean and std, then clip to +-``INPUT_CLIP``.

        The clip keeps a feature that is (nearly) constant in training, such as Magpie's
        ``minimum GSmagmom`` on a non-magnetic training set, from turning into a z-score of
        millions on a new composition and blowing up a ReLU network's prediction.
        """
        z = (X - self.x_mean_) / self.x_scale_
        return np.clip(z, -INPUT_CLIP, INPUT_CLIP).astype(self._input_dtype)

    def _prepare_predict(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X, _ = check_X(X, feature_names=self.feature_names_in_)
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features but the model was fitted on {self.n_features_in_}; "
                "pass the same feature columns as in fit."
            )
        return self._scale_X(X)

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first.")

    def predict(self, X: Any) -> np.ndarray:
        """Predictive mean, ndarray of shape (n_samples,)."""
        return self.predict_dist(X).mean

    def predict_dist(self, X: Any) -> Any:  # pragma: no cover - every model overrides it
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    def _fit_engine(
        self,
        Xs: np.ndarray,
        ys: np.ndarray,
        rng: np.random.Generator,
        build: Any,
        strategy: Any = None,
        **config: Any,
    ) -> np.ndarray:
        """Hold out ``validation_fraction`` of the rows, build the network, train it with
        :func:`bdl.models.svi.fit_svi`, and set ``trace_`` and ``best_epoch_``.

        Parameters
        ----------
        Xs, ys : standardised training data
        rng : the fit's random generator (split first, then ``build(rng)``, then training)
        build : callable taking the generator; creates the network's variables
        strategy : tf.distribute.Strategy or None
            Data-parallel training (e.g. ``tf.distribute.MirroredStrategy()`` over the local
            GPUs): the variables are created in its scope and :func:`bdl.models.svi.fit_svi`
            splits each batch across its replicas. None: TensorFlow's default placement.
        **config : settings of :class:`bdl.models.svi.SVIConfig`

        Returns
        -------
        ndarray of int
            The rows used for training (the others were the validation split).
        """
        from bdl.models.svi import SVIConfig, fit_svi

        n = Xs.shape[0]
        fraction = float(getattr(self, "validation_fraction", 0.0))
        n_val = int(round(fraction * n)) if fraction > 0 else 0
        if n - n_val < 2:
            n_val = 0
        order = rng.permutation(n)
        val_idx, tr_idx = order[:n_val], order[n_val:]
        if strategy is not None and not hasattr(strategy, "scope"):
            raise InputError(
                f"strategy must be a tf.distribute.Strategy (e.g. tf.distribute.MirroredStrategy()) or None, "
                f"got {type(strategy).__name__}."
            )
        if strategy is None:
            build(rng)
        else:
            with strategy.scope():
                build(rng)
        self._n_train = float(len(tr_idx))
        self.trace_, self.best_epoch_ = fit_svi(
            self,
            Xs[tr_idx],
            ys[tr_idx],
            Xs[val_idx] if n_val else None,
            ys[val_idx] if n_val else None,
            SVIConfig(**config),
            rng,
            y_scale=self.y_scale_,
            name=type(self).__name__,
            strategy=strategy,
        )
        return tr_idx

    # ------------------------------------------------------------------ persistence
    def _get_arrays(self) -> dict[str, np.ndarray]:
        """Default state: the list of variables ``self._vars`` (networks built by ``_build``)."""
        return {f"var_{i:02d}": v.numpy() for i, v in enumerate(self._vars)}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._build([arrays[k] for k in sorted(arrays)])

    def _get_extra(self) -> dict[str, Any]:
        return {}

    def _set_extra(self, extra: dict[str, Any]) -> None:
        return None

    def _save_parts(self, path: Path) -> None:
        """Hook: write sub-models (e.g. ensemble members) into folders below ``path``."""
        return None

    def _load_parts(self, path: Path) -> None:
        """Hook: read what :meth:`_save_parts` wrote."""
        return None

    def save(self, path: str | Path) -> Path:
        """Save the fitted model to a directory (``config.json`` + ``arrays.npz``; no pickle).

        Parameters
        ----------
        path : str or Path
            Directory to create (or overwrite the two files in).

        Returns
        -------
        Path
            The directory written.
        """
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {f"model/{k}": np.asarray(v) for k, v in self._get_arrays().items()}
        arrays["scaling/x_mean"] = self.x_mean_
        arrays["scaling/x_scale"] = self.x_scale_
        config = {
            "format_version": _FORMAT_VERSION,
            "class": type(self).__name__,
            "params": self.get_params(),
            "feature_names_in": self.feature_names_in_,
            "n_features_in": self.n_features_in_,
            "y_mean": self.y_mean_,
            "y_scale": self.y_scale_,
            "extra": self._get_extra(),
        }
        tmp = path / "arrays.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        tmp.replace(path / "arrays.npz")
        atomic_write_text(path / "config.json", json.dumps(config, indent=2, default=_json_default))
        self._save_parts(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> BayesianRegressor:
        """Load a model saved with :meth:`save` (any registered class when called on the base)."""
        path = Path(path)
        cfg_file, arr_file = path / "config.json", path / "arrays.npz"
        if not cfg_file.exists() or not arr_file.exists():
            raise DataFileError(
                f"{path} is not a saved model: it needs config.json and arrays.npz (written by model.save)."
            )
        config = json.loads(cfg_file.read_text())
        name = config.get("class")
        target = _REGISTRY.get(name)
        if target is None:
            raise DataFileError(f"{cfg_file} names an unknown model class {name!r}; known: {sorted(_REGISTRY)}.")
        if cls is not BayesianRegressor and not issubclass(target, cls):
            raise DataFileError(f"{path} holds a {name}, not a {cls.__name__}; load it with bdl.models.load_model.")
        params = config["params"]
        for key, value in list(params.items()):
            if isinstance(value, list):
                params[key] = tuple(value)
        model = target(**params)
        with np.load(arr_file, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        model.feature_names_in_ = config["feature_names_in"]
        model.n_features_in_ = int(config["n_features_in"])
        model.y_mean_ = float(config["y_mean"])
        model.y_scale_ = float(config["y_scale"])
        model.x_mean_ = arrays["scaling/x_mean"]
        model.x_scale_ = arrays["scaling/x_scale"]
        model._set_extra(config.get("extra", {}))
        model._set_arrays({k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")})
        model._load_parts(path)
        return model


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a model config")


def load_model(path: str | Path) -> BayesianRegressor:
    """Load any model saved with ``model.save(path)``."""
    return BayesianRegressor.load(path)
