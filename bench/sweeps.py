"""The jobs a multirun will launch, as far as bobench's pre-check can know them before Hydra runs.

Hydra's basic sweeper launches one job per combination of the sweeps' values (``choice``:
``a,b``, ``range(1,4)``, ``glob(ran*)``), and the pre-check composes each one. A sampling
sweeper (``hydra/sweeper=optuna``, nevergrad...) picks its own values, from ``interval()`` too,
while it runs: the pre-check composes one job with a value from inside each sweep (the first
choice, the middle of an interval) and leaves the rest to the sweeper.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from bench.errors import UserError

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
#: The most jobs the pre-check composes and builds (a bigger sweep is checked on its first ones).
MAX_JOBS = 256


def is_basic(sweeper_target: str | None) -> bool:
    return sweeper_target in (None, BASIC_SWEEPER)


def parse(overrides: list[str], config_loader: Any = None) -> list[Any]:
    """Hydra's parsed overrides (``glob()`` needs the config loader to list a group's options)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create(config_loader=config_loader)
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))  # (parse_override would not pass the loader on)
        except Exception as exc:  # Hydra's grammar errors
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            raise UserError(f"malformed override {text!r}: {lines[0] if lines else type(exc).__name__}") from None
    return parsed


def representative(override: Any) -> str:
    """One value a sampling sweeper could pick for a sweep (as override text, without the key).

    The middle of an ``interval()`` (geometric for ``tag(log, interval(...))``), else the first value.
    """
    from hydra.core.override_parser.types import IntervalSweep

    sweep = override.value()
    if isinstance(sweep, IntervalSweep) and sweep.start is not None and sweep.end is not None:
        start, end = float(sweep.start), float(sweep.end)  # Hydra parses an interval's bounds as floats
        log = "log" in (sweep.tags or set()) and start > 0 and end > 0
        return repr(math.sqrt(start * end) if log else (start + end) / 2)
    values = list(itertools.islice(override.sweep_string_iterator(), 1))
    if not values:
        raise UserError(f"{override.input_line}: the sweep has no value")
    return str(values[0])


def jobs(
    overrides: list[str], multirun: bool, sweeper_target: str | None, config_loader: Any = None
) -> list[list[str]]:
    """Every job's overrides for the basic sweeper; one representative job for a sampling sweeper.

    Raises:
        UserError: a malformed override, a sweep without ``-m``, an ``interval()`` for the basic
            sweeper, or a sweep that lists no value (``glob()`` matching no option).
    """
    parsed = parse(overrides, config_loader)
    basic = is_basic(sweeper_target)
    choices: list[list[str]] = []
    for text, ov in zip(overrides, parsed, strict=True):
        if not ov.is_sweep_override():
            choices.append([text])
            continue
        if not multirun:
            raise UserError(f"override {text!r} is a sweep: add -m (--multirun) to run one job per value")
        prefix = text.split("=", 1)[0]
        if not basic:
            choices.append([f"{prefix}={representative(ov)}"])
            continue
        if ov.is_interval_sweep():
            raise UserError(
                f"{text}: Hydra's basic sweeper cannot enumerate interval(); use a sampling sweeper "
                "(-m hydra/sweeper=optuna, from pip install 'bobench[sweepers]') or choice()/range()"
            )
        try:
            values = list(ov.sweep_string_iterator())
        except Exception as exc:  # Hydra's HydraException for a sweep it cannot list
            raise UserError(f"{text}: {str(exc).strip().splitlines()[0]}") from None
        if not values:
            raise UserError(f"{text}: the sweep matches no value")
        choices.append([f"{prefix}={v}" for v in values])
    combos = itertools.islice(itertools.product(*choices), MAX_JOBS)
    return [list(c) for c in combos]
