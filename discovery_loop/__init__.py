"""discovery_loop: active-learning campaigns on top of :mod:`bdl`.

Modules (imported on request, so ``import discovery_loop`` starts neither TensorFlow nor
matplotlib):

``acquisition``  acquisition functions of any predictive (greedy, UCB, EI / log-EI, PI,
                 Thompson, variance, target window, random) and ``get_acquisition``
``batch``        ``select_batch``: top-k, local penalisation, minimum descriptor distance
``oracles``      lookup (simulated), lab file hand-off, Python callable; measurement validation
``ledger``       the SQLite campaign ledger (transactions, single writer)
``campaign``     ``CampaignConfig``, ``Goal``, ``Pool``, ``Campaign`` (one round per step),
                 ``open_campaign``
``simulate``     one simulated campaign per call, for benchmarks and replicates
``metrics``      found fraction, acceleration and enhancement factors against random picking
``plots``, ``report``  campaign plots, the campaign report and the comparison report
``pools``        the shipped data sets that serve as simulated-campaign pools
``cli``          the ``discovery-loop`` command

``discovery_loop`` imports ``bdl``; ``bdl`` never imports ``discovery_loop``.
"""

from __future__ import annotations

from discovery_loop.pools import POOLS, PoolSpec

__all__ = ["POOLS", "PoolSpec"]

from bdl.registry import add_kind

# the parts of a round that live here; bdl.registry holds them beside bdl's models, gates and recalibrators
add_kind("acquisition", "discovery_loop.acquisition")
add_kind("selector", "discovery_loop.batch")
