"""Failed evaluations grouped by how they failed: the summary's failure line and ``fail_fast``.

An evaluation "failed the same way" as another when both have the same status and the same
first line of message (``ValueError: lr must be positive``; the traceback below it differs).
A diverged value (NaN, inf) is a result the strategy learns from, not a failure here, nor is an
evaluation a scheduler stopped early (``stopped``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bench.records import DIVERGED, ERROR, OK, STOPPED


class RunFailed(Exception):
    """The run stopped because its evaluations fail (``fail_fast``); the message is one line."""


def failure_kind(final: dict[str, Any]) -> str | None:
    """How a finished evaluation failed (``ValueError: boom``, ``timeout: ...``), or None if it did not."""
    status = final.get("status")
    if status in (OK, DIVERGED, STOPPED):  # stopped early by a scheduler: not a failure either
        return None
    message = str(final.get("message") or "").strip()
    first = message.splitlines()[0].strip() if message else ""
    if status == ERROR and first:
        return first  # the exception's type and text
    return f"{status}: {first}" if first else str(status)


def first_failure(finals: Iterable[dict[str, Any]]) -> tuple[str, int] | None:
    """The first failure's kind and how many failed that same way, or None when none failed."""
    kinds = [k for k in (failure_kind(f) for f in finals) if k is not None]
    if not kinds:
        return None
    return kinds[0], kinds.count(kinds[0])


def failing_from_the_start(finals: list[dict[str, Any]], k: int) -> str | None:
    """The kind shared by all of the first ``k`` finished evaluations, when they all failed alike.

    Args:
        finals: the final results in the order they finished.
        k: ``fail_fast`` (0: never).
    """
    if k <= 0 or len(finals) < k:
        return None
    kinds = {failure_kind(f) for f in finals[:k]}
    if len(kinds) != 1:
        return None
    (kind,) = kinds
    return kind


def describe(n_failed: int, kind: str | None, same: int) -> str | None:
    """The summary's failure line: ``3 failed: 3 x ValueError: boom`` (with how many failed otherwise).

    Args:
        n_failed: evaluations that did not end ok.
        kind: the first failure's kind (:func:`first_failure`), None when none failed.
        same: how many failed that same way.
    """
    if not n_failed or kind is None:
        return None
    text = f"{n_failed} failed: {same} x {_short(kind)}"
    if n_failed > same:
        text += f", {n_failed - same} otherwise"
    return text


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
