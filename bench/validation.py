"""Range checks on a component's options, each failing with a one-line :class:`UserError` naming the field.

Types are checked when the config is composed (the schemas in ``bench/schema.py`` and each
package's ``schema.py``); these checks cover what a type cannot say (a lower bound, a set of
choices) and components built directly from Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.errors import UserError


def check_int(name: str, value: Any, low: int, section: str = "strategy") -> int:
    """An integer option ``>= low``, else a UserError naming ``<section>.<name>``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UserError(f"{section}.{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def check_bool(name: str, value: Any, section: str = "strategy") -> bool:
    """A true/false option (a string such as ``'no'`` is refused, never read as truthy)."""
    if not isinstance(value, bool):
        raise UserError(f"{section}.{name}: expected true or false, got {value!r}")
    return value


def check_positive(name: str, value: Any, section: str = "strategy") -> float:
    """A finite number ``> 0``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or not math.isfinite(value):
        raise UserError(f"{section}.{name}: expected a positive number, got {value!r}")
    return float(value)


def check_nonnegative(name: str, value: Any, section: str = "strategy") -> float:
    """A finite number ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or not math.isfinite(value):
        raise UserError(f"{section}.{name}: expected a number >= 0, got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...], section: str = "strategy") -> str:
    """One of ``choices``."""
    if value not in choices:
        raise UserError(f"{section}.{name}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def reject_unknown(component: str, unknown: Mapping[str, Any], section: str = "strategy") -> None:
    """Refuses options a component does not have, naming the first one."""
    if unknown:
        raise UserError(f"{section}.{sorted(unknown)[0]}: unknown option for {component}")
