"""The run's state rebuilt from its journal; it lives in :mod:`bench.run_folder.state`."""

from __future__ import annotations

from bench.run_folder.state import DIVERGED_MARGIN, DIVERGED_MIN_GAP, EvalState, RunState

__all__ = ["DIVERGED_MARGIN", "DIVERGED_MIN_GAP", "EvalState", "RunState"]
