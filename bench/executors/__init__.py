"""Executors run tasks; see :mod:`bench.executors.base`."""

from __future__ import annotations

from bench.executors.base import Executor

__all__ = ["Executor"]
