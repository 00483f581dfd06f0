"""discovery_loop: active-learning campaigns on top of :mod:`bdl` (acquisition, selection,
oracles and a crash-proof ledger arrive with the discovery-loop issue).

``discovery_loop`` imports ``bdl``; ``bdl`` never imports ``discovery_loop``.
"""

from __future__ import annotations

from discovery_loop.pools import POOLS, PoolSpec

__all__ = ["POOLS", "PoolSpec"]
