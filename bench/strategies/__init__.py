"""Strategies propose points on the unit cube; see :mod:`bench.strategies.base`."""

from __future__ import annotations

from bench.strategies.base import History, Strategy

__all__ = ["History", "Strategy"]
