"""Synthetic multi-fidelity functions: BoTorch's AugmentedHartmann and AugmentedBranin.

Each takes the usual inputs plus a fidelity ``s`` in [0, 1] (BoTorch's last input); at ``s = 1``
it is the plain function (Hartmann 6-D, optimum -3.32237; Branin, optimum 0.397887), and lower
fidelities shift it: AugmentedHartmann lowers the first bump's weight by ``0.1 (1 - s)``,
AugmentedBranin the quadratic term's coefficient by ``0.1 (1 - s)`` (Wu et al. 2019, the
multi-fidelity knowledge gradient's test problems).

As an objective the fidelity is the resource (:class:`bench.objective.Fidelity`): an evaluation
runs up to ``reporter().stop`` (the full fidelity 1 without a scheduler) and reports the value at
every step of a grid of ``steps`` levels on the way, as a training run reports after each epoch.
Running up to ``s`` costs ``cost_fixed + cost_per_fidelity * s`` simulated seconds
(``executor.duration=cost``); a segment resumes where the previous one stopped (the value at any
fidelity is a formula: nothing is lost), so continuing from ``s0`` to ``s1`` costs
``cost_per_fidelity * (s1 - s0)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.objective import Evaluation, Fidelity, Objective, reporter
from bench.space import Space
from objectives.synthetic import check_float_space, optimum_in


@dataclass(frozen=True)
class MultiFidelityFunction:
    """A BoTorch multi-fidelity test function: its inputs (fidelity excluded) and its optimum at s = 1."""

    botorch_name: str
    dim: int
    optimum: float
    optimizers: tuple[tuple[float, ...], ...]


FUNCTIONS: dict[str, MultiFidelityFunction] = {
    "augmented_hartmann": MultiFidelityFunction(
        "AugmentedHartmann", 6, -3.32237, ((0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),)
    ),
    "augmented_branin": MultiFidelityFunction(
        "AugmentedBranin", 2, 0.397887, ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))
    ),
}


@cache
def _botorch_function(function: str) -> Any:
    """BoTorch's test function, imported on first use (the objective stays cheap to build)."""
    from botorch.test_functions import multi_fidelity

    return getattr(multi_fidelity, FUNCTIONS[function].botorch_name)()


def evaluate_at(function: str, x: np.ndarray, s: float) -> float:
    """The noise-free value of ``function`` at ``x`` (native coordinates) and fidelity ``s``."""
    import torch

    point = np.append(np.asarray(x, dtype=float).reshape(FUNCTIONS[function].dim), float(s))
    with torch.no_grad():
        return float(_botorch_function(function).evaluate_true(torch.as_tensor(point).unsqueeze(0))[0])


def _positive(key: str, value: Any, allow_zero: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise UserError(f"objective.{key}: expected a number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return float(value)


class MultiFidelitySynthetic(Objective):
    """A multi-fidelity synthetic function that reports its value at each fidelity step.

    Args:
        space: the function's inputs in order (floats), without the fidelity.
        name: a short name for reports.
        function: ``augmented_hartmann`` or ``augmented_branin``.
        steps: the fidelity grid ``1/steps, 2/steps, ..., 1``: where it reports, and its smallest fidelity.
        cost_fixed: simulated seconds every evaluation pays once (start-up).
        cost_per_fidelity: simulated seconds per unit of fidelity.
        noise_std: Gaussian noise on the value (metric ``true_value`` stays noise-free).
        sleep_per_fidelity: real seconds it sleeps per unit of fidelity it runs (to try schedulers
            on a wall clock: inline, local, Slurm executors).
    """

    def __init__(
        self,
        space: Mapping[str, Any] | Space,
        name: str | None = None,
        function: str = "augmented_hartmann",
        steps: int = 27,
        cost_fixed: float = 0.0,
        cost_per_fidelity: float = 1.0,
        noise_std: float = 0.0,
        sleep_per_fidelity: float = 0.0,
    ):
        super().__init__(space, name)
        if function not in FUNCTIONS:
            raise UserError(
                f"objective.function: unknown multi-fidelity function {function!r} (use one of {', '.join(FUNCTIONS)})"
            )
        spec = FUNCTIONS[function]
        check_float_space(self.space, function, spec.dim)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise UserError(f"objective.steps: expected an integer >= 1, got {steps!r}")
        self.function = function
        self.steps = steps
        self.cost_fixed = _positive("cost_fixed", cost_fixed, allow_zero=True)
        self.cost_per_fidelity = _positive("cost_per_fidelity", cost_per_fidelity, allow_zero=False)
        self.noise_std = _positive("noise_std", noise_std, allow_zero=True)
        self.sleep_per_fidelity = _positive("sleep_per_fidelity", sleep_per_fidelity, allow_zero=True)
        self.fidelity = Fidelity("fidelity", minimum=1.0 / steps, maximum=1.0, integer=False, checkpoints=True)
        self.optimum = optimum_in(self.space, spec.optimum, spec.optimizers)

    def _value(self, x: np.ndarray, s: float, seed: int) -> tuple[float, float]:
        true_value = evaluate_at(self.function, x, s)
        value = true_value
        if self.noise_std > 0:  # one draw per (evaluation, fidelity step): the same on every attempt
            rng = np.random.default_rng([int(seed), round(s * 1_000_000)])
            value += self.noise_std * float(rng.standard_normal())
        return value, true_value

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        x = np.array([float(params[n]) for n in self.space.names])
        rep = reporter()
        stop = rep.until(1.0)
        grid = [k / self.steps for k in range(1, self.steps + 1) if rep.start < k / self.steps < stop]
        for s in grid if rep.record else ():  # unscheduled, nobody listens: no work for the grid
            value, true_value = self._value(x, s, seed)
            rep.report(s, value, true_value=true_value)
        if self.sleep_per_fidelity > 0:
            time.sleep(self.sleep_per_fidelity * (stop - rep.start))
        value, true_value = self._value(x, stop, seed)
        rep.report(stop, value, true_value=true_value)
        return Evaluation(value=value, metrics={"true_value": true_value})

    def cost(self, params: dict[str, Any]) -> float:
        return self.cost_fixed + self.cost_per_fidelity

    def cost_at(self, params: dict[str, Any], amount: float) -> float:
        return self.cost_fixed + self.cost_per_fidelity * float(amount)
