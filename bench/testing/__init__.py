"""Contract tests a plug-in subclasses to check its strategy, objective or executor.

Importing this package needs pytest (``pip install 'bobench[dev]'``); bench itself does not.
Each class's test methods are the clauses of one contract; a subclass sets one fixture that
builds its component, and pytest collects the subclass like any test class (name it
``Test...``)::

    from bench.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        @pytest.fixture
        def make_strategy(self):
            return lambda space, seed: MyStrategy(space, seed=seed)

The fixtures are factories, built fresh for each clause:

- :class:`StrategyContract`: ``make_strategy(space, seed) -> Strategy``.
- :class:`ObjectiveContract`: ``make_objective() -> Objective``.
- :class:`ExecutorContract`: ``make_executor(workers) -> Executor``.

Each clause is also a plain function (``check_...`` in the submodules) that raises
``AssertionError`` when the component breaks it.
"""

from __future__ import annotations

from bench.testing.executors import ExecutorContract
from bench.testing.objectives import ObjectiveContract
from bench.testing.strategies import StrategyContract

__all__ = ["ExecutorContract", "ObjectiveContract", "StrategyContract"]
