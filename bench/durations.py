"""Evaluation-time distributions for the simulated clock, scaled to mean 1 (Kandasamy et al. 2018).

Kandasamy, Krishnamurthy, Schneider and Póczos, "Parallelised Bayesian Optimisation via Thompson
Sampling" (AISTATS 2018) compare synchronous and asynchronous parallel BO when evaluation times
are uniform, half-normal, exponential or Pareto. Every distribution here has mean ``mean``
(default 1), so a run's simulated time is in units of an average evaluation:

- ``uniform``: on ``[a, 2 - a]`` (``uniform_low = a``, default 0, i.e. ``U(0, 2)``);
- ``halfnormal``: ``|N(0, ζ²)|`` with ``ζ = sqrt(π / 2)``;
- ``exponential``: rate 1;
- ``pareto``: shape ``k`` (``pareto_k``, must be > 1), scale ``(k - 1) / k``.

A duration is the inverse CDF at a uniform number hashed from ``(seed, eval_id, attempt)``
(:func:`bench.seeding.derive_uniform`), so the same evaluation takes the same time in every run
with that seed, whatever the order of submissions.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TypeGuard

from bench.errors import UserError
from bench.seeding import derive_uniform

KINDS = ("exponential", "uniform", "halfnormal", "pareto")
HALFNORMAL_SCALE = math.sqrt(math.pi / 2)  # ζ: |N(0, ζ²)| has mean ζ·sqrt(2/π) = 1
_STD_NORMAL = NormalDist()


class Duration:
    """A mean-``mean`` duration distribution, sampled by inverse CDF.

    Args:
        kind: ``exponential``, ``uniform``, ``halfnormal`` or ``pareto``.
        mean: the expected duration (simulated seconds).
        pareto_k: the Pareto shape ``k > 1`` (heavier tail as ``k`` falls toward 1).
        uniform_low: the uniform's lower end ``a`` in units of the mean, ``0 <= a < 1``.
    """

    def __init__(self, kind: str, mean: float = 1.0, pareto_k: float = 3.0, uniform_low: float = 0.0):
        if kind not in KINDS:
            raise UserError(f"executor.duration: expected one of {', '.join(KINDS)}, got {kind!r}")
        if not _positive(mean):
            raise UserError(f"executor.mean: expected a positive number, got {mean!r}")
        if kind == "pareto" and not (_positive(pareto_k) and float(pareto_k) > 1.0):
            raise UserError(f"executor.pareto_k: the Pareto shape must be > 1, got {pareto_k!r}")
        if kind == "uniform" and not (_number(uniform_low) and 0.0 <= float(uniform_low) < 1.0):
            raise UserError(f"executor.uniform_low: expected 0 <= a < 1, got {uniform_low!r}")
        self.kind = kind
        self.mean = float(mean)
        self.pareto_k = float(pareto_k)
        self.uniform_low = float(uniform_low)

    def quantile(self, u: float) -> float:
        """The inverse CDF at ``u`` in ``(0, 1)``."""
        if self.kind == "exponential":
            x = -math.log1p(-u)
        elif self.kind == "uniform":
            a = self.uniform_low
            x = a + (2.0 - 2.0 * a) * u
        elif self.kind == "halfnormal":
            x = HALFNORMAL_SCALE * _STD_NORMAL.inv_cdf(0.5 + 0.5 * u)
        else:
            k = self.pareto_k
            x = (k - 1.0) / k * (1.0 - u) ** (-1.0 / k)
        return self.mean * x

    def sample(self, seed: int, eval_id: int, attempt: int) -> float:
        """The duration of attempt ``attempt`` of evaluation ``eval_id`` in a run seeded ``seed``."""
        return self.quantile(derive_uniform(int(seed), int(eval_id), int(attempt)))


def _number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def _positive(v: object) -> bool:
    return _number(v) and float(v) > 0.0
