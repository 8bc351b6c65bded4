"""The journal's records: each event kind and the fields it carries, defined once.

A record is one JSON object with an ``event`` key (see :mod:`bench.journal`). Fields marked
``required`` are what the run's state cannot be rebuilt without; every other field is optional
(older run folders lack some), but has the documented type when present. Numbers may be
``None`` where the schema says so, and a non-finite float is written as its ``repr``
(``"nan"``, ``"inf"``; see :func:`bench.evaluate.json_safe`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import UserError
from bench.records import STATUSES


class RecordError(UserError):
    """A journal record that does not follow the schema; the message names the field."""


def _number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    return isinstance(v, str) and v in ("nan", "inf", "-inf")


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _or_none(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(_number(u) for u in v)


def _status(v: Any) -> bool:
    return v in STATUSES


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _list(v: Any) -> bool:
    return isinstance(v, list)


@dataclass(frozen=True)
class Field:
    """One field of a record: its name, what it holds (for messages), a type check and whether it must be there."""

    name: str
    holds: str
    check: Callable[[Any], bool]
    required: bool = False


NUMBER = "a number"
NUMBER_OR_NULL = "a number or null"
TEXT_OR_NULL = "text or null"

#: Every event kind, in the order a run writes them, with its fields.
EVENTS: dict[str, tuple[Field, ...]] = {
    # The run's identity, written once when it starts.
    "start": (
        Field("config", "a mapping (the composed config)", _dict),
        Field("config_hash", "text", _str),
        Field("seed", "an integer", _int),
        Field("clock_origin", NUMBER, _number),
        Field("wall_time", NUMBER, _number),
        Field("versions", "a mapping of package versions", _dict),
        Field("git_commit", TEXT_OR_NULL, _or_none(_str)),
        # The objective's known optimum (null if unknown): regret is best noise-free value - optimum.
        Field("optimum", NUMBER_OR_NULL, _or_none(_number)),
    ),
    # A driver took the run up again; its clock goes on from ``t``.
    "resume": (
        Field("t", NUMBER, _number),
        Field("wall_time", NUMBER, _number),
        Field("n_finished", "an integer", _int),
        Field("rerun", "a list of eval_ids", _list),
        Field("config_changed_at", TEXT_OR_NULL, _or_none(_str)),
    ),
    # An evaluation handed to the executor (attempt 0: a new point; later attempts: a re-run).
    "submit": (
        Field("eval_id", "an integer", _int, required=True),
        Field("attempt", "an integer", _int),
        Field("params", "a mapping of parameters", _dict, required=True),
        Field("x", "a list of numbers (the unit-cube point)", _numbers, required=True),
        Field("t_submit", NUMBER, _number, required=True),
        Field("decision_s", NUMBER, _number),
        Field("decision_kwh", NUMBER_OR_NULL, _or_none(_number)),
        Field("decision_co2_kg", NUMBER_OR_NULL, _or_none(_number)),
        Field("decision_carbon_method", TEXT_OR_NULL, _or_none(_str)),
    ),
    # The executor's job id for an attempt (Slurm), so a resumed driver can follow the job.
    "job": (
        Field("eval_id", "an integer", _int, required=True),
        Field("attempt", "an integer", _int),
        Field("job_id", "text", _str),
    ),
    # A resumed driver follows a job that outlived the previous one.
    "attach": (
        Field("eval_id", "an integer", _int, required=True),
        Field("attempt", "an integer", _int),
        Field("job_id", "text", _str),
    ),
    # One finished attempt (an :class:`bench.records.Outcome`); ``final`` false when it runs again.
    "result": (
        Field("eval_id", "an integer", _int, required=True),
        Field("status", f"one of {', '.join(STATUSES)}", _status, required=True),
        Field("value", NUMBER_OR_NULL, _or_none(_number)),
        Field("metrics", "a mapping", _dict),
        Field("message", TEXT_OR_NULL, _or_none(_str)),
        Field("worker", TEXT_OR_NULL, _or_none(_str)),
        Field("t_start", NUMBER_OR_NULL, _or_none(_number)),
        Field("t_end", NUMBER_OR_NULL, _or_none(_number)),
        Field("attempt", "an integer", _int),
        Field("job_id", TEXT_OR_NULL, _or_none(_str)),
        Field("energy_kwh", NUMBER_OR_NULL, _or_none(_number)),
        Field("co2_kg", NUMBER_OR_NULL, _or_none(_number)),
        Field("carbon_method", TEXT_OR_NULL, _or_none(_str)),
        Field("final", "true or false", _bool),
    ),
    # The run stopped (``reason``: done, budget.*, interrupted (...), failed (...)).
    "end": (
        Field("t", NUMBER, _number),
        Field("reason", "text", _str),
        Field("wall_time", NUMBER, _number),
    ),
}


def check_record(record: Mapping[str, Any], strict: bool = False, where: str = "journal record") -> None:
    """Checks one record against :data:`EVENTS`.

    Args:
        record: the record as read from the journal.
        strict: also refuse events and fields the schema does not know (for checking what a
            driver writes); reading tolerates them, so newer run folders stay readable.
        where: how the message names the record (e.g. ``journal.jsonl line 3``).

    Raises:
        RecordError: naming the event and the field that is missing, mistyped or unknown.
    """
    event = record.get("event")
    fields = EVENTS.get(event) if isinstance(event, str) else None
    if fields is None:
        if strict or not isinstance(event, str):
            raise RecordError(f"{where}: unknown event {event!r} (expected one of {', '.join(EVENTS)})")
        return
    for f in fields:
        if f.name not in record:
            if f.required:
                raise RecordError(f"{where}: '{event}' record without '{f.name}' ({f.holds})")
            continue
        if not f.check(record[f.name]):
            raise RecordError(f"{where}: '{event}' record field '{f.name}' is {record[f.name]!r}, expected {f.holds}")
    if strict:
        known = {"event", *(f.name for f in fields)}
        unknown = [k for k in record if k not in known]
        if unknown:
            raise RecordError(f"{where}: '{event}' record has unknown field '{unknown[0]}'")


def as_float(v: Any) -> float | None:
    """A record's number as a float; None where it is null, text or not finite."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None
