"""Grid search: a full-factorial grid on the unit cube, walked in a fixed order."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.space import Param, Space
from bench.strategies.base import History, Strategy
from bench.strategies.schema import GridConf


def _axis(param: Param, points: int, values: Sequence[Any] | None) -> list[float]:
    """The unit-cube coordinates of one axis of the grid."""
    if values is not None:
        try:
            coords = [param.to_unit(v) for v in values]
        except (ValueError, TypeError) as exc:
            raise UserError(f"strategy.values.{param.name}: {exc}") from exc
        if any(not 0.0 <= c <= 1.0 for c in coords):
            raise UserError(
                f"strategy.values.{param.name}: values must lie inside the space's bounds [{param.low}, {param.high}]"
            )
        return coords
    if param.type == "categorical":
        return [param.to_unit(c) for c in param.choices]
    coords = list(np.linspace(0.0, 1.0, points)) if points > 1 else [0.5]
    if param.type == "int":  # one grid point per distinct integer
        seen: dict[Any, float] = {}
        for c in coords:
            seen.setdefault(param.from_unit(c), c)
        coords = [param.to_unit(v) for v in seen]
    return coords


class GridSearch(Strategy):
    """Walks a grid of ``points`` per dimension (log-spaced on log parameters).

    Args:
        points: grid points per dimension (categoricals use their choices).
        values: explicit values on the user's scale for some parameters.
        descending: walk each axis from high to low (the worksheet starts at 1e5).
    """

    def __init__(
        self,
        space: Space,
        seed: int = 0,
        n_initial: int = 0,
        initial_time: float = 0.0,
        points: int = GridConf.points,
        values: Mapping[str, Sequence[Any]] | None = None,
        descending: bool = GridConf.descending,
    ):
        super().__init__(space, seed, n_initial, initial_time)
        if int(points) < 1:
            raise UserError(f"strategy.points: must be >= 1, got {points}")
        values = dict(values or {})
        unknown = set(values) - set(space.names)
        if unknown:
            raise UserError(f"strategy.values: unknown parameter(s) {sorted(unknown)}")
        axes = [_axis(p, int(points), values.get(p.name)) for p in space.params]
        if descending:
            axes = [sorted(a, reverse=True) for a in axes]
        self.grid = np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, space.dim)

    def __len__(self) -> int:
        return len(self.grid)

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        start = history.n_tried + len(pending)
        return self.grid[start : start + n]
