"""One registry of the named parts a campaign round, ``bench`` and the command lines are built from.

A round is fit -> predict -> (recalibrate) -> diagnose -> score -> select -> record, and every
part of it is looked up here by name, once, when a configuration is built (so a bad name fails
before anything is written):

========================  =================================================================
kind                      what an entry is
========================  =================================================================
``model``                 a :class:`bdl.models.BayesianRegressor` subclass, with the settings
                          a campaign uses by default (``defaults``) and, in ``meta``, its
                          campaign strategy (``default_strategy``); ``mdn`` is the
                          diagnostics' mixture density network
``acquisition``           ``f(pred, *, best, maximize, seed, **params) -> scores``
                          (:mod:`discovery_loop.acquisition`)
``selector``              ``f(scores, valid, k, X, rng, **params) -> indices``
                          (:mod:`discovery_loop.batch`)
``gate``                  a :class:`bdl.diagnostics.GatePolicy` factory
``recalibrator``          a class with ``fit(y, pred)`` and ``transform(pred)``
                          (:mod:`bdl.calibration`)
========================  =================================================================

The package registers its own parts when the module that defines them is imported; the kinds
``acquisition`` and ``selector`` belong to :mod:`discovery_loop`, which declares them with
:func:`add_kind` when it is imported (``bdl`` never imports ``discovery_loop``). Code
outside the package adds parts with :func:`register` and is loaded by name with
:func:`load_plugins` (``discovery-loop run --plugin mymodule``; a campaign stores its plugin
modules in the ledger, so ``resume`` loads them again)::

    # mymodule.py
    from bdl.registry import register
    register("model", "knn", MyKNNRegressor)   # register_acquisition / register_selector for the others

Names are matched without regard to case, and ``-`` equals ``_`` (``"log-EI"`` is ``log_ei``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bdl.errors import InputError

__all__ = ["KINDS", "Entry", "add_kind", "get", "load_plugins", "names", "register", "view"]

#: The kinds of part, and the module that registers the built-in ones of each (imported on the
#: first lookup, so ``get("model", ...)`` works without importing the models first).
_KINDS: dict[str, str] = {
    "model": "bdl.models",
    "gate": "bdl.diagnostics.gate",
    "recalibrator": "bdl.calibration",
}
KINDS: Mapping[str, str] = MappingProxyType(_KINDS)


@dataclass(frozen=True)
class Entry:
    """One registered part.

    Attributes
    ----------
    kind, name : str
    obj : object
        The class or function.
    defaults : Mapping
        Default parameters (a model: the settings a campaign uses; an acquisition function:
        its tunables and their defaults, which are also the parameters it accepts).
    meta : Mapping
        What the users of the part need to know about it (e.g. an acquisition's ``needs_best``,
        ``is_log``, ``uses_seed``, ``window``; a selector's ``params``).
    """

    kind: str
    name: str
    obj: Any
    defaults: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def warm_start(self) -> bool:
        """A model that can continue its previous fit (it takes a ``warm_start`` setting)."""
        names_ = getattr(self.obj, "_param_names", None)
        return self.kind == "model" and names_ is not None and "warm_start" in names_()


_ENTRIES: dict[str, dict[str, Entry]] = {kind: {} for kind in _KINDS}
_NOUNS = {"selector": "batch method", "recalibrator": "recalibration"}


def add_kind(kind: str, builtin_module: str) -> None:
    """Declare a kind of part whose built-in entries ``builtin_module`` registers (idempotent)."""
    _KINDS.setdefault(kind, builtin_module)
    _ENTRIES.setdefault(kind, {})


def _key(name: Any, kind: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"a {kind} name must be a non-empty string, got {name!r}.")
    return name.strip().lower().replace("-", "_")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"unknown kind of part {kind!r}; the registry holds {', '.join(KINDS)}.")
    return kind


def register(kind: str, name: str, obj: Any, *, defaults: Mapping[str, Any] | None = None,
             replace: bool = False, **meta: Any) -> Any:
    """Register ``obj`` as the ``kind`` part called ``name``; returns ``obj`` (usable as a decorator's body).

    Raises
    ------
    InputError
        For an unknown kind, or a name already taken (pass ``replace=True`` to override it on purpose).
    """
    _check_kind(kind)
    key = _key(name, kind)
    if not callable(obj):
        raise InputError(f"the {kind} {name!r} must be a class or a function, got {type(obj).__name__}.")
    if key in _ENTRIES[kind] and not replace and _ENTRIES[kind][key].obj is not obj:
        raise InputError(f"a {kind} called {key!r} is already registered; choose another name, or pass replace=True.")
    _ENTRIES[kind][key] = Entry(kind, key, obj, MappingProxyType(dict(defaults or {})), MappingProxyType(dict(meta)))
    return obj


def _builtins(kind: str) -> None:
    importlib.import_module(KINDS[kind])


def get(kind: str, name: str) -> Entry:
    """The entry ``name`` of ``kind``; an unknown name is an InputError that lists the known ones."""
    _check_kind(kind)
    _builtins(kind)
    key = _key(name, kind)
    if key not in _ENTRIES[kind]:
        noun = _NOUNS.get(kind, kind)
        raise InputError(f"unknown {noun} {name!r}; valid names are {', '.join(sorted(names(kind)))} (a {noun} from "
                         "outside the package needs its module loaded first: --plugin MODULE).")
    return _ENTRIES[kind][key]


def names(kind: str) -> tuple[str, ...]:
    """The names registered for ``kind``, in registration order."""
    _check_kind(kind)
    _builtins(kind)
    return tuple(_ENTRIES[kind])


class _View(Mapping[str, Any]):
    """A live, read-only name -> object mapping of one kind (plugins registered later show up)."""

    def __init__(self, kind: str) -> None:
        self._kind = _check_kind(kind)

    def __getitem__(self, name: str) -> Any:
        try:
            return get(self._kind, name).obj
        except InputError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(names(self._kind))

    def __len__(self) -> int:
        return len(names(self._kind))

    def __repr__(self) -> str:
        return f"<registry view of {self._kind}s: {', '.join(self)}>"


def view(kind: str) -> Mapping[str, Any]:
    """A live read-only mapping from the names of ``kind`` to their classes or functions."""
    return _View(kind)


def load_plugins(modules: Sequence[str]) -> None:
    """Import modules that register parts (``--plugin``); a module that cannot be imported is an
    InputError saying how to make it importable."""
    for module in modules:
        if not isinstance(module, str) or not module.strip():
            raise InputError(f"a plugin is the dotted name of a Python module, got {module!r}.")
        try:
            importlib.import_module(module.strip())
        except ImportError as exc:
            raise InputError(
                f"the plugin module {module!r} cannot be imported ({exc}); install it, or put its folder on "
                "PYTHONPATH (for a module in the current folder: PYTHONPATH=. discovery-loop ...)."
            ) from None
