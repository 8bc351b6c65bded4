"""Ax's default generation strategy (Sobol, then BoTorch's modular BO) through its Client API.

The harness hands the whole history to each decision, so every decision builds a fresh Ax
``Client`` (``random_seed`` = the run's seed): finished evaluations are attached and completed,
failed ones attached and marked failed, running ones attached and left RUNNING (Ax then treats
them as pending points), and ``get_next_trials(n)`` proposes. Proposals are therefore a pure
function of (seed, history, pending), at the price of Ax rebuilding its model each time; Ax is
slow anyway and is here as the field's reference, not as a contender for speed.

Parameters are ``x0 .. x{d-1}`` on ``[0, 1]`` (the harness's unit cube); the metric ``y`` is
minimised.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from typing import Any, Literal

import numpy as np

from bench.errors import UserError
from bench.space import Space
from bench.strategies.base import History, Strategy
from bench.strategies.gp import as_pending
from bench.strategies.schema import AxConf
from bench.validation import check_choice, reject_unknown

METRIC = "y"


class AxStrategy(Strategy):
    """Ax's Client with its default generation strategy.

    Args:
        space: the search space.
        seed: the run's seed (Ax's ``random_seed`` and its initialisation seed).
        method: Ax's ``configure_generation_strategy`` method: ``fast`` (Ax's default) or
            ``quality``.
        initialization_budget: Sobol trials before BO (None: Ax decides from the space).
        n_initial: the harness's own Sobol design before Ax (0: leave it to Ax).
        initial_time: the harness's Sobol design until the run's clock reaches this time.
    """

    name = "ax"

    def __init__(
        self,
        space: Space,
        seed: int = 0,
        *,
        method: str = AxConf.method,
        initialization_budget: int | None = AxConf.initialization_budget,
        n_initial: int = AxConf.n_initial,
        initial_time: float = AxConf.initial_time,
        **unknown: Any,
    ):
        reject_unknown(self.name, unknown)
        if importlib.util.find_spec("ax") is None:
            raise UserError("strategy=ax needs the 'ax' extra: pip install 'bobench[ax]'")
        super().__init__(space, seed, n_initial=n_initial, initial_time=initial_time)
        checked_method = check_choice("method", method, ("fast", "quality"))
        self.method: Literal["fast", "quality"] = "quality" if checked_method == "quality" else "fast"
        if initialization_budget is not None and (
            isinstance(initialization_budget, bool)
            or not isinstance(initialization_budget, int)
            or initialization_budget < 1
        ):
            raise UserError(
                f"strategy.initialization_budget: expected an integer >= 1 or null, got {initialization_budget!r}"
            )
        self.initialization_budget = initialization_budget

    def _names(self) -> list[str]:
        return [f"x{i}" for i in range(self.space.dim)]

    def _client(self) -> Any:
        from ax.api.client import Client
        from ax.api.configs import RangeParameterConfig

        client = Client(random_seed=self.seed)
        client.configure_experiment(
            parameters=[
                RangeParameterConfig(name=name, parameter_type="float", bounds=(0.0, 1.0)) for name in self._names()
            ],
            name="bobench",
        )
        client.configure_optimization(objective=f"-{METRIC}")
        client.configure_generation_strategy(
            method=self.method,
            initialization_budget=self.initialization_budget,
            initialization_random_seed=self.seed,
        )
        return client

    def _params(self, x: np.ndarray) -> dict[str, float]:
        return {name: float(min(max(v, 0.0), 1.0)) for name, v in zip(self._names(), x, strict=True)}

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        d = self.space.dim
        pending = as_pending(pending, d)
        if n <= 0:
            return np.zeros((0, d))
        quiet = logging.root.manager.disable
        logging.disable(logging.WARNING)  # Ax logs every trial at INFO and warns freely
        try:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("ignore")
                client = self._client()
                X = np.asarray(history.X, dtype=float).reshape(-1, d)
                y = np.asarray(history.y, dtype=float).reshape(-1)
                for x, value in zip(X, y, strict=True):
                    index = client.attach_trial(parameters=self._params(x))
                    if np.isfinite(value):
                        client.complete_trial(trial_index=index, raw_data={METRIC: float(value)})
                    else:
                        client.mark_trial_failed(trial_index=index)
                failed = np.asarray(history.X_failed, dtype=float)
                for x in failed.reshape(-1, d) if failed.size else []:
                    client.mark_trial_failed(trial_index=client.attach_trial(self._params(x)))
                for x in pending:
                    client.attach_trial(parameters=self._params(x))  # stays RUNNING: pending
                trials = client.get_next_trials(max_trials=n)
        finally:
            logging.disable(quiet)
        out = np.array([[p[name] for name in self._names()] for p in trials.values()], dtype=float)
        if len(out) < n:
            raise RuntimeError(f"Ax proposed {len(out)} trials where {n} were asked for")
        return np.clip(out.reshape(n, d), 0.0, 1.0)
