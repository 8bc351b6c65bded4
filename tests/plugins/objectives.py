"""An objective that holds a lambda: fine in-process, unpicklable for ``executor=local``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.objective import Evaluation
from objectives.toy import Quadratic


class LambdaQuadratic(Quadratic):
    """The quadratic, its value passed through a lambda kept on the instance."""

    def __init__(self, space: Mapping[str, Any], scale: float = 1.0, **quadratic: Any):
        super().__init__(space, **quadratic)
        self.transform = lambda v: scale * v  # pickle cannot serialise this

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        out = super().__call__(params, seed)
        return Evaluation(self.transform(out.value), out.metrics)
