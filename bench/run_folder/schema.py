"""The journal's records: each event kind and the fields it carries, defined once, and how a
record is written as a line that proves itself.

A record is one JSON object with an ``event`` key (see :mod:`bench.journal`). Fields marked
``required`` are what the run's state cannot be rebuilt without; every other field is optional
(older run folders lack some), but has the documented type when present. Numbers may be
``None`` where the schema says so, and a non-finite float is written as its ``repr``
(``"nan"``, ``"inf"``; see :func:`bench.evaluate.json_safe`).

**The line format** (as the log records of LevelDB and the frames of SQLite's WAL carry a
checksum): every line bobench writes is

1. ``BODY``: the record as compact JSON, ``json.dumps(record, separators=(",", ":"),
   allow_nan=False)`` (ASCII only: ``ensure_ascii`` escapes the rest), its first key ``v``,
   the record version (:data:`RECORD_VERSION`), then ``event``, then the fields;
2. the line: ``BODY`` without its closing ``}``, then ``,"crc":"XXXXXXXX"}`` and a newline, where
   ``XXXXXXXX`` is ``zlib.crc32(BODY)`` as 8 lowercase hex digits.

So a reader checks a line without re-encoding anything: a line that ends with
``,"crc":"XXXXXXXX"}`` has those 18 bytes replaced by ``}``, and the CRC-32 of what remains must
be ``XXXXXXXX`` (CRC-32 finds every single-bit flip and every burst of up to 32 bits); only then is
it parsed. ``crc`` is a property of the line: the record read back has no ``crc`` key.

**Versions**: ``v`` 1 records (with their checksum) are checked strictly against :data:`EVENTS`:
an unknown event or field is refused. A line without a checksum is a version-0 record, written
before checksums existed: it is read if it has no ``v`` key, and checked by schema only
(unknown fields are tolerated there). A line with ``v`` but no valid checksum, one with a
checksum that does not match, one that is not JSON, holds ``NaN``/``Infinity`` literals or a key
twice, or breaks the schema, is damaged: :func:`decode_line` says why. A record of a version newer
than :data:`RECORD_VERSION` was written by a newer bobench: a driver refuses such a journal
(nothing is set aside), analysis skips the record with a note.
"""

from __future__ import annotations

import json
import math
import zlib
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


def _count(v: Any) -> bool:
    return _int(v) and v >= 0


def _or_none(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


def _unit_point(v: Any) -> bool:
    return isinstance(v, list) and all(_finite(u) and 0.0 <= u <= 1.0 for u in v)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _status(v: Any) -> bool:
    return v in STATUSES


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _counts(v: Any) -> bool:
    return isinstance(v, list) and all(_count(u) for u in v)


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
COUNT = "an integer >= 0"

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
        # The settings a resume may change (budget, retries, progress, fail_fast) and the config
        # groups' names (strategy: ei...): with config, all a resume rebuilds the run from.
        Field("settings", "a mapping", _dict),
        Field("choices", "a mapping of group names", _dict),
    ),
    # A driver took the run up again; its clock goes on from ``t``.
    "resume": (
        Field("t", NUMBER, _number),
        Field("wall_time", NUMBER, _number),
        Field("n_finished", COUNT, _count),
        Field("rerun", "a list of eval_ids", _counts),
        Field("config_changed_at", TEXT_OR_NULL, _or_none(_str)),
    ),
    # An evaluation handed to the executor (attempt 0: a new point; later attempts: a re-run).
    "submit": (
        Field("eval_id", COUNT, _count, required=True),
        Field("attempt", COUNT, _count),
        Field("params", "a mapping of parameters", _dict, required=True),
        Field("x", "a list of finite numbers in [0, 1] (the unit-cube point)", _unit_point, required=True),
        Field("t_submit", NUMBER, _number, required=True),
        Field("decision_s", NUMBER, _number),
        Field("decision_kwh", NUMBER_OR_NULL, _or_none(_number)),
        Field("decision_co2_kg", NUMBER_OR_NULL, _or_none(_number)),
        Field("decision_carbon_method", TEXT_OR_NULL, _or_none(_str)),
        # the fidelity the strategy chose for it (bench/strategies/mf_fidelity.py), where it chose one
        Field("fidelity", NUMBER_OR_NULL, _or_none(_number)),
    ),
    # The executor's job id for an attempt (Slurm), so a resumed driver can follow the job.
    "job": (
        Field("eval_id", COUNT, _count, required=True),
        Field("attempt", COUNT, _count),
        Field("job_id", "text", _str),
    ),
    # A resumed driver follows a job that outlived the previous one.
    "attach": (
        Field("eval_id", COUNT, _count, required=True),
        Field("attempt", COUNT, _count),
        Field("job_id", "text", _str),
    ),
    # One finished attempt (an :class:`bench.records.Outcome`); ``final`` false when it runs again.
    "result": (
        Field("eval_id", COUNT, _count, required=True),
        Field("status", f"one of {', '.join(STATUSES)}", _status, required=True),
        Field("value", NUMBER_OR_NULL, _or_none(_number)),
        Field("metrics", "a mapping", _dict),
        Field("message", TEXT_OR_NULL, _or_none(_str)),
        Field("worker", TEXT_OR_NULL, _or_none(_str)),
        Field("t_start", NUMBER_OR_NULL, _or_none(_number)),
        Field("t_end", NUMBER_OR_NULL, _or_none(_number)),
        Field("attempt", COUNT, _count),
        Field("job_id", TEXT_OR_NULL, _or_none(_str)),
        Field("energy_kwh", NUMBER_OR_NULL, _or_none(_number)),
        Field("co2_kg", NUMBER_OR_NULL, _or_none(_number)),
        Field("carbon_method", TEXT_OR_NULL, _or_none(_str)),
        Field("final", "true or false", _bool),
        # under a scheduler (bench/schedulers): the resource the evaluation reached
        Field("fidelity", NUMBER_OR_NULL, _or_none(_number)),
    ),
    # Under a scheduler: an intermediate value a segment reported at ``step`` of the resource.
    "report": (
        Field("eval_id", COUNT, _count, required=True),
        Field("attempt", COUNT, _count),
        Field("step", NUMBER, _number, required=True),
        Field("value", NUMBER_OR_NULL, _or_none(_number)),
        Field("t", NUMBER_OR_NULL, _or_none(_number)),
        Field("metrics", "a mapping", _dict),
    ),
    # Under a scheduler: a segment reached rung ``rung`` of ``bracket`` (resource ``fidelity``) with
    # ``value``, and the decision: continue (its next segment runs), stop (status stopped), pause (it
    # waits for a promotion) or done (the top rung). Times, energy and ``resource`` (what the
    # segment computed) are the segment's.
    "rung": (
        Field("eval_id", COUNT, _count, required=True),
        Field("attempt", COUNT, _count),
        Field("bracket", COUNT, _count, required=True),
        Field("rung", COUNT, _count, required=True),
        Field("resume_from", NUMBER, _number),
        Field("fidelity", NUMBER, _number, required=True),
        Field("resource", NUMBER, _number),
        Field("value", "a finite number", _finite, required=True),
        Field(
            "decision",
            "continue, stop, pause or done",
            lambda v: v in ("continue", "stop", "pause", "done"),
            required=True,
        ),
        Field("worker", TEXT_OR_NULL, _or_none(_str)),
        Field("t_start", NUMBER_OR_NULL, _or_none(_number)),
        Field("t_end", NUMBER_OR_NULL, _or_none(_number)),
        Field("energy_kwh", NUMBER_OR_NULL, _or_none(_number)),
        Field("co2_kg", NUMBER_OR_NULL, _or_none(_number)),
    ),
    # Under a promoting scheduler: an evaluation paused at rung ``rung`` of ``bracket`` runs on.
    "promote": (
        Field("eval_id", COUNT, _count, required=True),
        Field("bracket", COUNT, _count, required=True),
        Field("rung", COUNT, _count, required=True),
        Field("fidelity", NUMBER, _number),
        Field("value", NUMBER_OR_NULL, _or_none(_number)),
    ),
    # The run stopped (``reason``: done, budget.*, interrupted (...), failed (...)).
    "end": (
        Field("t", NUMBER, _number),
        Field("reason", "text", _str),
        Field("wall_time", NUMBER, _number),
    ),
}


#: The version of the records this bobench writes (a record's ``v``; 0 where a line has none).
RECORD_VERSION = 1
#: Keys of the line's envelope rather than of the event: known to every event.
ENVELOPE = ("v", "crc")
_CRC_OPEN = b',"crc":"'
_CRC_LEN = len(_CRC_OPEN) + 8 + 2  # ,"crc":" + 8 hex digits + "}
_HEX = frozenset(b"0123456789abcdef")


def check_record(record: Mapping[str, Any], strict: bool = False, where: str = "journal record") -> None:
    """Checks one record against :data:`EVENTS`.

    Args:
        record: the record as read from the journal.
        strict: also refuse events and fields the schema does not know (what a driver writes,
            and records of version 1 on); version-0 records are read tolerantly.
        where: how the message names the record (e.g. ``journal.jsonl line 3``).

    Raises:
        RecordError: naming the event and the field that is missing, mistyped or unknown.
    """
    why = record_problem(record, strict)
    if why is not None:
        raise RecordError(f"{where}: {why}")


def record_problem(record: Mapping[str, Any], strict: bool = False) -> str | None:
    """What is wrong with a record (see :func:`check_record`), or None."""
    event = record.get("event")
    fields = EVENTS.get(event) if isinstance(event, str) else None
    if "v" in record and not _count(record["v"]):
        return f"record version 'v' is {record['v']!r}, expected {COUNT}"
    if fields is None:
        if strict or not isinstance(event, str):
            return f"unknown event {event!r} (expected one of {', '.join(EVENTS)})"
        return None
    for f in fields:
        if f.name not in record:
            if f.required:
                return f"'{event}' record without '{f.name}' ({f.holds})"
            continue
        if not f.check(record[f.name]):
            return f"'{event}' record field '{f.name}' is {_short(record[f.name])}, expected {f.holds}"
    if strict:
        known = {"event", *ENVELOPE, *(f.name for f in fields)}
        unknown = [k for k in record if k not in known]
        if unknown:
            return f"'{event}' record has unknown field '{unknown[0]}'"
    return None


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the line format (see the module's docstring) ---------------------------------------------
def encode_line(record: Mapping[str, Any]) -> bytes:
    """The journal line of a record (JSON-able, without NaN), its checksum appended, with its newline."""
    body = json.dumps(record, allow_nan=False, separators=(",", ":")).encode("ascii")
    return body[:-1] + _CRC_OPEN + b"%08x" % zlib.crc32(body) + b'"}\n'


def decode_line(raw: bytes) -> dict[str, Any]:
    """Reads one journal line (without its newline) back into its record, checking everything.

    Raises:
        RecordError: the line is damaged; the message says why, in a few words (no location).
    """
    tail = raw[-_CRC_LEN:]
    checked = (
        len(raw) > _CRC_LEN
        and tail.startswith(_CRC_OPEN)
        and tail.endswith(b'"}')
        and all(c in _HEX for c in tail[len(_CRC_OPEN) : -2])
    )
    if checked:
        body = raw[:-_CRC_LEN] + b"}"
        if zlib.crc32(body) != int(tail[len(_CRC_OPEN) : -2], 16):
            raise RecordError("checksum mismatch")
    else:
        body = raw
    record = _parse(body)
    if checked and "crc" in record:
        raise RecordError("key 'crc' twice")
    if not checked and ("crc" in record or "v" in record):
        raise RecordError("checksum missing or malformed")
    version = record.get("v", 0)
    if _count(version) and version > RECORD_VERSION:
        raise RecordError(f"written by a newer bobench (record version {version}, this one reads {RECORD_VERSION})")
    why = record_problem(record, strict=_count(version) and version >= 1)
    if why is not None:
        raise RecordError(why)
    return record


class _Refused(ValueError):
    pass


def _refuse_constant(token: str) -> Any:
    raise _Refused(f"{token} literal")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Refused(f"key {k!r} twice")
        out[k] = v
    return out


def _parse(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("not UTF-8 text") from None
    try:
        record = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicate_keys)
    except _Refused as exc:
        raise RecordError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise RecordError("not JSON (nested too deep)") from None
    if not isinstance(record, dict):
        raise RecordError(f"not a record (a JSON {type(record).__name__}, not an object)")
    if "event" not in record:
        raise RecordError("not a record (no 'event')")
    return record


def as_float(v: Any) -> float | None:
    """A record's number as a float; None where it is null, text or not finite."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None
