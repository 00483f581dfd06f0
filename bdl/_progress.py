"""Progress bars for long work (training epochs, campaign rounds)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable[Any], desc: str, unit: str, enable: bool | None = None, **kwargs: Any) -> Any:
    """Wrap ``iterable`` in a tqdm bar.

    ``enable=None`` shows the bar only when stderr is a terminal (tqdm's own rule), so logs of
    unattended runs stay clean; ``True`` forces it, ``False`` hides it.
    """
    from tqdm import tqdm

    disable = None if enable is None else not enable
    return tqdm(iterable, desc=desc, unit=unit, disable=disable, leave=False, dynamic_ncols=True, **kwargs)
