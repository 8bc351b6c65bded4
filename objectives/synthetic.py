"""Synthetic test functions with known optima: the benchmarks of parallel BO papers.

All are *minimised* (the harness's convention). Branin and Hartmann are BoTorch's
``botorch.test_functions`` (already minimisation problems: Hartmann is negative with optimum
-3.86278 in 3-D and -3.32237 in 6-D). Park1, Park2 and CurrinExp follow Kandasamy et al.'s
definitions (Dragonfly / gp-parallel-ts ``syn_functions.py``), which they *maximise*; here the
value is the negated function and the optimum the negated maximum:

- Park1 on ``[0, 1]^4``: ``x1/2 (sqrt(1 + (x2 + x3²) x4 / x1²) - 1) + (x1 + 3 x4) exp(1 + sin x3)``,
  maximum ``4 exp(1 + sin 1) + (sqrt 3 - 1)/2 = 25.589254`` at ``(1, 1, 1, 1)``;
- Park2 on ``[0, 1]^4``: ``2/3 exp(x1 + x2) - x4 sin x3 + x3``, maximum ``2/3 e² + 1 = 5.926037``
  at ``(1, 1, 1, 0)``;
- CurrinExp on ``[0, 1]^2``: ``(1 - exp(-1 / (2 x2))) (2300 x1³ + 1900 x1² + 2092 x1 + 60)
  / (100 x1³ + 500 x1² + 4 x1 + 20)``, maximum ``13.798722`` as ``x2 -> 0`` (the first factor's
  limit, 1, is used at ``x2 = 0``) at ``x1 = 0.2166667``.

Kandasamy et al.'s code quotes slightly lower maxima found numerically (Park1 25.5872304, Park2
5.925698, CurrinExp 13.798650) and caps the functions there; we use the exact maxima and no cap,
so regret here is never negative.

With ``noise_std > 0`` the value gets Gaussian noise drawn from the evaluation's seed, and the
noise-free value is kept in the metric ``true_value`` so regret is measured without noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.objective import Evaluation, Objective
from bench.space import Space


def park1(x: np.ndarray) -> float:
    """Kandasamy's Park1 (maximised); at ``x1 = 0`` its first term's limit ``sqrt(c)/2`` is used."""
    x1, x2, x3, x4 = (float(v) for v in x)
    c = (x2 + x3**2) * x4
    first = 0.5 * (math.sqrt(x1**2 + c) - x1)  # = x1/2 (sqrt(1 + c/x1²) - 1), finite at x1 = 0
    return first + (x1 + 3 * x4) * math.exp(1 + math.sin(x3))


def park2(x: np.ndarray) -> float:
    """Kandasamy's Park2 (maximised)."""
    x1, x2, x3, x4 = (float(v) for v in x)
    return 2.0 / 3.0 * math.exp(x1 + x2) - x4 * math.sin(x3) + x3


def currin_exp(x: np.ndarray) -> float:
    """The Currin et al. (1988) exponential function (maximised); ``x2 = 0`` uses the limit."""
    x1, x2 = (float(v) for v in x)
    factor = 1.0 if x2 <= 0 else 1.0 - math.exp(-1.0 / (2.0 * x2))
    num = 2300 * x1**3 + 1900 * x1**2 + 2092 * x1 + 60
    den = 100 * x1**3 + 500 * x1**2 + 4 * x1 + 20
    return factor * num / den


#: argmax of CurrinExp's rational factor on [0, 1] (a root of its derivative's numerator).
CURRIN_X1 = 0.21666667


@dataclass(frozen=True)
class Function:
    """A test function: ``dim``, native domain, minimised ``optimum`` and its ``optimizers``."""

    dim: int
    domain: tuple[tuple[float, float], ...]
    optimum: float
    optimizers: tuple[tuple[float, ...], ...]
    maximised: bool  # the paper's form is maximised; the objective negates it
    numpy_fn: Callable[[np.ndarray], float] | None = None  # None: BoTorch's test function


FUNCTIONS: dict[str, Function] = {
    "branin": Function(
        2,
        ((-5.0, 10.0), (0.0, 15.0)),
        0.397887,
        ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)),
        False,
    ),
    "hartmann3": Function(3, ((0.0, 1.0),) * 3, -3.86278, ((0.114614, 0.555649, 0.852547),), False),
    "hartmann6": Function(
        6,
        ((0.0, 1.0),) * 6,
        -3.32237,
        ((0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),),
        False,
    ),
    "park1": Function(
        4,
        ((0.0, 1.0),) * 4,
        -(4 * math.exp(1 + math.sin(1.0)) + (math.sqrt(3.0) - 1) / 2),
        ((1.0, 1.0, 1.0, 1.0),),
        True,
        park1,
    ),
    "park2": Function(
        4,
        ((0.0, 1.0),) * 4,
        -(2.0 / 3.0 * math.exp(2.0) + 1.0),
        ((1.0, 1.0, 1.0, 0.0),),
        True,
        park2,
    ),
    "currin": Function(
        2,
        ((0.0, 1.0),) * 2,
        -currin_exp(np.array([CURRIN_X1, 0.0])),
        ((CURRIN_X1, 0.0),),
        True,
        currin_exp,
    ),
}


@cache
def _botorch_function(function: str) -> Any:
    """BoTorch's test function (imported on first use: the objective stays cheap to build)."""
    from botorch.test_functions import Branin, Hartmann

    if function == "branin":
        return Branin()
    return Hartmann(dim=FUNCTIONS[function].dim)


def evaluate_function(function: str, x: np.ndarray) -> float:
    """The noise-free *minimised* value of ``function`` at ``x`` (native coordinates)."""
    spec = FUNCTIONS[function]
    x = np.asarray(x, dtype=float).reshape(spec.dim)
    if spec.numpy_fn is not None:
        value = spec.numpy_fn(x)
        return -value if spec.maximised else value
    import torch

    fn = _botorch_function(function)
    with torch.no_grad():
        return float(fn.evaluate_true(torch.as_tensor(x, dtype=torch.double).unsqueeze(0))[0])


def check_float_space(space: Space, function: str, dim: int) -> None:
    """Refuses a space that is not ``dim`` floats (the function's arguments), naming the field."""
    if space.dim != dim:
        raise UserError(f"objective.space: {function} takes {dim} parameters, the space has {space.dim}")
    for p in space.params:
        if p.type != "float":
            raise UserError(f"objective.space.{p.name}.type: {function} takes floats")


def optimum_in(space: Space, optimum: float, optimizers: tuple[tuple[float, ...], ...]) -> float | None:
    """``optimum`` when one of its minimisers lies in ``space`` (regret is then known), else None."""
    inside = any(
        all(p.bounds[0] <= v <= p.bounds[1] for p, v in zip(space.params, opt, strict=True)) for opt in optimizers
    )
    return optimum if inside else None


class SyntheticObjective(Objective):
    """A synthetic function as an objective.

    Args:
        space: ``{x1: {low, high}, ...}`` in the function's argument order (floats); usually
            the function's native domain.
        name: a short name for reports (also the function's, if ``function`` is not given).
        function: ``branin``, ``hartmann3``, ``hartmann6``, ``park1``, ``park2`` or ``currin``.
        noise_std: standard deviation of Gaussian noise added to the value (0: noise-free).

    ``optimum`` is the function's known minimum when one of its minimisers lies in the space,
    else None (no regret).
    """

    def __init__(
        self,
        space: Mapping[str, Any] | Space,
        name: str | None = None,
        function: str | None = None,
        noise_std: float = 0.0,
    ):
        super().__init__(space, name)
        function = function or name
        if function not in FUNCTIONS:
            raise UserError(
                f"objective.function: unknown synthetic function {function!r} (use one of {', '.join(FUNCTIONS)})"
            )
        spec = FUNCTIONS[function]
        check_float_space(self.space, function, spec.dim)
        if (
            isinstance(noise_std, bool)
            or not isinstance(noise_std, int | float)
            or not math.isfinite(noise_std)
            or noise_std < 0
        ):
            raise UserError(f"objective.noise_std: expected a number >= 0, got {noise_std!r}")
        self.function = function
        self.noise_std = float(noise_std)
        self.optimum = optimum_in(self.space, spec.optimum, spec.optimizers)

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        x = np.array([float(params[n]) for n in self.space.names])
        true_value = evaluate_function(self.function, x)
        value = true_value
        if self.noise_std > 0:
            value += self.noise_std * float(np.random.default_rng(int(seed)).standard_normal())
        return Evaluation(value=value, metrics={"true_value": true_value})
