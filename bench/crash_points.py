"""Chosen places in the driver's write path where the durability tests kill it (SIGKILL).

``BOBENCH_CRASH_AT=POINT:N`` makes the process kill itself with SIGKILL the N-th time (counting
from 1, in this process) it passes ``POINT``:

- ``record``: right after a journal record is written, before anything else happens (the
  group commit's fsync included);
- ``results``: in the middle of an append to results.csv, after half of its bytes are written
  (a torn last row).

Before dying it prints one line to stderr naming the point, with what the caller adds (how much
of the journal was fsynced). Unset, as everywhere but in ``tests/test_durability.py``, each point
costs one comparison. See the durability section of docs/architecture.md.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "BOBENCH_CRASH_AT"
POINTS = ("record", "results")


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    point, _, count = spec.partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{ENV}={spec!r}: expected POINT:N with POINT one of {', '.join(POINTS)} and N >= 1")
    return point, int(count)


_CHOSEN = _parse(os.environ.get(ENV))
_passed = dict.fromkeys(POINTS, 0)


def reached(point: str) -> bool:
    """Counts one pass through ``point``; whether this is the pass to die at."""
    if _CHOSEN is None:
        return False
    _passed[point] += 1
    return (point, _passed[point]) == _CHOSEN


def die(detail: str = "") -> None:
    """Says where the process dies, then kills it with SIGKILL (no cleanup, no flush, no handler)."""
    assert _CHOSEN is not None
    point, count = _CHOSEN
    os.write(sys.stderr.fileno(), f"bobench: crash point {point}:{count}{f' ({detail})' if detail else ''}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)
