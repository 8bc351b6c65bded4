"""Schedulers: how far each evaluation runs (ASHA, Hyperband), independent of the strategy.

See :mod:`bench.schedulers.base` for the contract, :mod:`bench.schedulers.rungs` for the rule,
:mod:`bench.schedulers.hook` for where the driver meets them, docs/early-stopping.md for use.
"""

from __future__ import annotations

from bench.schedulers.base import Decision, Scheduler

__all__ = ["Decision", "Scheduler"]
