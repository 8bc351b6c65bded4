"""The strategy contract: ``ask(history, pending, n) -> n points on the unit cube``.

A strategy's state is derived from the history and its seed, so resuming a run is replaying
the journal, never unpickling: the same seed and the same history give the same proposals.
Caches (a warm-started GP) are allowed where they do not change that.
"""

from __future__ import annotations

import abc
import warnings
from dataclasses import dataclass, field

import numpy as np

from bench.errors import UserError
from bench.seeding import derive_seed
from bench.space import Space
from bench.validation import check_nonnegative


@dataclass
class History:
    """What the strategy may learn from.

    Attributes:
        X: ``(n, d)`` unit-cube points with a value the model may use.
        y: ``(n,)`` their values, to minimise (diverged ones already imputed, see driver).
        X_failed: ``(k, d)`` points that were tried but gave no usable value.
        elapsed: the run's clock when the decision is made (seconds of the executor's clock:
            simulated time under ``executor=simulated``), for initial designs given in time.
        fidelity: ``(n,)`` the fidelity each value of ``y`` was observed at, as a share of the
            objective's full resource (1: full); None: every value at the full resource.
        by_fidelity: every value observed at a known fidelity, one row each with its
            ``fidelity`` column, in the order they were observed: under a scheduler each rung an
            evaluation reached (a stopped one's lower rungs too), for a model over configuration
            and fidelity (MOBSTER, ``bench/strategies/mobster.py``); None where the run has no
            such data. Strategies that ignore it see what they always saw.
        pending_fidelity: ``(p,)`` the fidelity (share of the full resource) each pending point
            is running to, in the order of ``pending``; None: the full resource.
        eval_ids: ``(n,)`` the evaluation id (submit order) of each row of ``X``, where the
            caller knows them (the run state does: the driver and the Python API); empty otherwise.
    """

    X: np.ndarray
    y: np.ndarray
    X_failed: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    elapsed: float = 0.0
    fidelity: np.ndarray | None = None
    by_fidelity: History | None = None
    pending_fidelity: np.ndarray | None = None
    eval_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @classmethod
    def empty(cls, dim: int) -> History:
        return cls(np.zeros((0, dim)), np.zeros(0), np.zeros((0, dim)))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_tried(self) -> int:
        return len(self.y) + len(self.X_failed)

    def observed_at_fidelity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X (m, d), fidelity (m,), y (m,))``: :attr:`by_fidelity` where set, else the rows at their fidelity."""
        data = self.by_fidelity if self.by_fidelity is not None else self
        X = np.asarray(data.X, dtype=float)
        X = X.reshape(len(data.y), X.shape[-1]) if X.ndim == 2 else X.reshape(len(data.y), -1)
        s = np.ones(len(data.y)) if data.fidelity is None else np.asarray(data.fidelity, dtype=float).reshape(-1)
        return X, s, np.asarray(data.y, dtype=float).reshape(-1)


class Strategy(abc.ABC):
    """Base class of every strategy: subclasses implement :meth:`ask`.

    The contract (checked by :class:`bench.testing.StrategyContract`): proposals lie in the unit
    cube and are a pure function of ``(seed, history, pending, n)``. The same instance asked twice
    with the same arguments proposes the same points, and so does a fresh one, so a run resumed by
    replaying its journal proposes what an uninterrupted one does. Caches are allowed (a
    warm-started GP) where they do not change the proposals; state carried from one ask to the
    next is not.

    Args:
        space: the search space (strategies work on its unit cube, ``space.dim`` wide).
        seed: the run's seed; all randomness derives from it and the history.
        n_initial: Sobol points first.
        initial_time: Sobol points until the run's clock reaches this time (seconds of the
            executor's clock; simulated time units under ``executor=simulated``): an initial
            design given in time, as Dragonfly's of a few time units.
    """

    #: Whether proposals are a pure function of (seed, history, pending, n).
    deterministic: bool = True
    #: Whether the strategy chooses the fidelity each evaluation runs at (:meth:`propose_with_fidelity`;
    #: multi-fidelity strategies such as ``bench/strategies/mf_kg.py``, without a scheduler).
    chooses_fidelity: bool = False

    def __init__(self, space: Space, seed: int = 0, n_initial: int = 0, initial_time: float = 0.0):
        if int(n_initial) < 0:
            raise UserError(f"strategy.n_initial: must be >= 0, got {n_initial}")
        self.space = space
        self.seed = int(seed)
        self.n_initial = int(n_initial)
        self.initial_time = check_nonnegative("initial_time", initial_time)
        if self.n_initial or self.initial_time:
            # The initial design's library (scipy.stats, about 0.5 s to import) loads with the
            # strategy, at start-up, so the first decision's time is the decision's, not an import's.
            import scipy.stats.qmc  # noqa: F401

    def propose(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        """What the driver calls: the initial design first, then :meth:`ask`.

        The first ``n_initial`` points (counting finished, failed and pending ones), and every
        point proposed before the run's clock reaches ``initial_time`` (``history.elapsed``), come
        from a scrambled Sobol sequence seeded by the run's seed; the rest from :meth:`ask`.
        May return fewer than ``n`` points when the strategy is exhausted (a finished grid).
        """
        done = history.n_tried + len(pending)
        n_init = self.initial_count(history, pending, n)
        parts = []
        if n_init:
            parts.append(sobol_points(self.space.dim, self.seed, start=done, n=n_init))
        if n - n_init:
            parts.append(np.asarray(self.ask(history, pending, n - n_init), dtype=float))
        out = np.concatenate(parts, axis=0) if parts else np.zeros((0, self.space.dim))
        return out.reshape(-1, self.space.dim)

    def initial_count(self, history: History, pending: np.ndarray, n: int) -> int:
        """How many of the ``n`` points to propose come from the initial design (see :meth:`propose`)."""
        done = history.n_tried + len(pending)
        return n if history.elapsed < self.initial_time else min(max(self.n_initial - done, 0), n)

    def propose_with_fidelity(
        self, history: History, pending: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The points of :meth:`propose` and the fidelity each is to run at, a share of the objective's
        full resource in (0, 1]; None (the default): the full resource, or the scheduler's rungs."""
        return self.propose(history, pending, n), None

    @abc.abstractmethod
    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        """Proposes ``n`` points.

        Args:
            history: finished evaluations.
            pending: ``(p, d)`` points being evaluated now.
            n: how many points to propose.

        Returns:
            ``(n, d)`` array in ``[0, 1]^d``; fewer rows only when the strategy is exhausted.
        """

    def close(self) -> None:
        """Frees what the strategy holds beyond the run (a background worker); a no-op by default.

        The driver calls it when the run ends; the strategy may still be asked afterwards.
        """

    def rng_seed(self, history: History, pending: np.ndarray, salt: str = "") -> int:
        """A seed that depends only on the run's seed and how far the run has come (32 bits)."""
        return derive_seed(self.seed, history.n_tried, len(pending), salt, bits=32)

    def rng(self, history: History, pending: np.ndarray, salt: str = "") -> np.random.Generator:
        return np.random.default_rng(self.rng_seed(history, pending, salt))


def sobol_points(dim: int, seed: int, start: int, n: int) -> np.ndarray:
    """Points ``start .. start+n-1`` of a scrambled Sobol sequence seeded by ``seed``: ``(n, dim)``."""
    from scipy.stats import qmc

    engine = qmc.Sobol(d=dim, scramble=True, seed=np.random.default_rng(seed))
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance needs powers of 2; a prefix is still low-discrepancy
        return engine.random(n)
