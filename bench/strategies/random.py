"""Random search on a scrambled Sobol sequence (the baseline every paper includes)."""

from __future__ import annotations

import numpy as np

from bench.strategies.base import History, Strategy, sobol_points


class RandomSearch(Strategy):
    """Proposes the next points of one scrambled Sobol sequence seeded by the run's seed.

    The k-th point proposed in a run is the k-th point of the sequence, so a resumed run
    proposes what an uninterrupted one would.
    """

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        return sobol_points(self.space.dim, self.seed, start=history.n_tried + len(pending), n=n)
