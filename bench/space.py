"""The search space: named parameters on the user's scale, mapped to and from the unit cube.

Every strategy works on the unit cube ``[0, 1]^d``; the space maps a unit point to the user's
parameters (log10 scale for ``log: true`` floats, rounding for ints, bins for categoricals).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import UserError

PARAM_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One named parameter.

    Attributes:
        name: the keyword passed to the objective.
        type: ``float``, ``int`` or ``categorical``.
        low, high: bounds on the user's scale (float and int).
        log: search ``log10`` of the value (float and int, bounds must be positive).
        choices: the options of a categorical parameter.
    """

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` as floats; only float and int parameters have them."""
        if self.low is None or self.high is None:
            raise ValueError(f"parameter {self.name!r} ({self.type}) has no bounds")
        return float(self.low), float(self.high)

    def to_unit(self, value: Any) -> float:
        if self.type == "categorical":
            idx = self.choices.index(value)
            return (idx + 0.5) / len(self.choices)
        lo, hi = self.bounds
        v = float(value)
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(v)
        return (v - lo) / (hi - lo)

    def from_unit(self, u: float) -> Any:
        u = min(max(float(u), 0.0), 1.0)
        if self.type == "categorical":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        lo, hi = self.bounds
        if self.log:
            value = 10 ** (math.log10(lo) + u * (math.log10(hi) - math.log10(lo)))
        else:
            value = lo + u * (hi - lo)
        value = min(max(value, lo), hi)  # guard against rounding in 10**x
        if self.type == "int":
            return int(min(max(round(value), math.ceil(lo)), math.floor(hi)))
        return float(value)


def _param_from_spec(name: str, spec: Mapping[str, Any]) -> Param:
    where = f"objective.space.{name}"
    if not isinstance(spec, Mapping):
        raise UserError(f"{where}: expected a mapping with 'type', got {spec!r}")
    ptype = spec.get("type", "float")
    if ptype not in PARAM_TYPES:
        raise UserError(f"{where}.type: unknown parameter type {ptype!r} (use one of {', '.join(PARAM_TYPES)})")
    unknown = set(spec) - {"type", "low", "high", "log", "choices"}
    if unknown:
        raise UserError(f"{where}: unknown key(s) {sorted(unknown)}")
    if ptype == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, Sequence) or isinstance(choices, str) or len(choices) < 1:
            raise UserError(f"{where}.choices: a categorical parameter needs a non-empty list of choices")
        if len(set(map(repr, choices))) != len(choices):
            raise UserError(f"{where}.choices: choices must be distinct")
        return Param(name=name, type=ptype, choices=tuple(choices))
    for key in ("low", "high"):
        if key not in spec or spec[key] is None:
            raise UserError(f"{where}.{key}: missing bound")
        if isinstance(spec[key], bool) or not isinstance(spec[key], int | float):
            raise UserError(f"{where}.{key}: bound must be a number, got {spec[key]!r}")
        if not math.isfinite(float(spec[key])):
            raise UserError(f"{where}.{key}: bound must be finite, got {spec[key]!r}")
    log = spec.get("log", False)
    if log is None:
        log = False
    if not isinstance(log, bool):  # bool("no") would be True: a quoted 'no' or 'false' is refused
        raise UserError(f"{where}.log: expected true or false, got {log!r}")
    low, high = float(spec["low"]), float(spec["high"])
    if not low < high:
        what = "equal" if low == high else "inverted"
        raise UserError(f"{where}: {what} bounds, low={spec['low']} must be below high={spec['high']}")
    if log and low <= 0:
        raise UserError(f"{where}.low: a log-scale parameter needs positive bounds, got low={spec['low']}")
    if ptype == "int" and math.floor(high) < math.ceil(low):
        raise UserError(f"{where}: no integer lies between low={spec['low']} and high={spec['high']}")
    return Param(name=name, type=ptype, low=low, high=high, log=log)


class Space:
    """An ordered set of parameters; ``dim`` is the dimension of the unit cube."""

    def __init__(self, params: Sequence[Param]):
        if not params:
            raise UserError("objective.space: the search space has no parameters")
        self.params = tuple(params)
        self.names = tuple(p.name for p in self.params)

    @classmethod
    def from_config(cls, spec: Mapping[str, Any] | None) -> Space:
        """Builds a space from ``{name: {type, low, high, log, choices}}``, checking every field."""
        if not spec:
            raise UserError("objective.space: the search space has no parameters")
        return cls([_param_from_spec(str(name), s) for name, s in spec.items()])

    @property
    def dim(self) -> int:
        return len(self.params)

    def to_params(self, x: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Maps a unit-cube point of shape ``(dim,)`` to the user's parameters."""
        return {p.name: p.from_unit(u) for p, u in zip(self.params, x, strict=True)}

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """Maps the user's parameters to a unit-cube point of shape ``(dim,)``."""
        return np.array([p.to_unit(params[p.name]) for p in self.params], dtype=float)

    def contains_unit(self, x: np.ndarray) -> bool:
        x = np.asarray(x, dtype=float)
        return x.shape == (self.dim,) and bool(np.all((x >= 0.0) & (x <= 1.0)))
