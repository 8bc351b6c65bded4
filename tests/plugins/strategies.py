"""A strategy that keeps state between asks: its answers depend on how often it was asked."""

from __future__ import annotations

import numpy as np

from bench.space import Space
from bench.strategies.base import History, Strategy


class StatefulRandom(Strategy):
    """Uniform points from one generator drawn on across asks (a resumed run would diverge)."""

    def __init__(self, space: Space, seed: int = 0, n_initial: int = 0):
        super().__init__(space, seed, n_initial=n_initial)
        self._rng = np.random.default_rng(self.seed)

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        return self._rng.random((n, self.space.dim))
