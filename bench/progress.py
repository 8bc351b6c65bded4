"""What a run shows while it goes on: a progress bar on a terminal, log lines everywhere else.

``progress: auto`` (the default) draws a tqdm bar when stderr is a terminal and, when it is not
(CI, nohup, a Slurm log), writes one line per finished evaluation to stderr, at most one every
:data:`LOG_EVERY_S` seconds when evaluations are fast, and always the last one::

    bobench: quadratic 12/30 evaluations (1 failed), best 0.0421, 3.2 s

``progress: true`` forces the bar, ``progress: false`` shows nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

#: The shortest time between two log lines on a non-terminal (seconds); the last line always shows.
LOG_EVERY_S = 5.0


class Progress:
    """Told of every finished evaluation; shows nothing (``progress: false``)."""

    def update(self, finished: int, failed: int, best: float | None) -> None:
        """One more evaluation finished: ``finished`` and ``failed`` so far, the best value (None: none yet)."""

    def close(self) -> None:
        """The run ends (shows what is not shown yet)."""


class BarProgress(Progress):
    """A tqdm bar on stderr."""

    def __init__(self, total: int | None, initial: int, desc: str, force: bool, stream: TextIO) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(
            total=total,
            initial=initial,
            unit="eval",
            dynamic_ncols=True,
            disable=False if force else None,  # None: only on a terminal
            file=stream,
            desc=desc,
        )
        self._shown = initial

    def update(self, finished: int, failed: int, best: float | None) -> None:
        if best is not None:
            self._bar.set_postfix_str(f"best {best:.4g}", refresh=False)
        self._bar.update(finished - self._shown)
        self._shown = finished

    def close(self) -> None:
        self._bar.close()


class LogProgress(Progress):
    """One line per finished evaluation, at most one per ``every_s`` seconds, and the last.

    Args:
        total: the evaluation budget (None: no limit).
        desc: what runs (the objective's name).
        stream: where the lines go (stderr).
        every_s: the shortest time between two lines.
        clock: seconds, monotonic (the run's start is its first reading).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        stream: TextIO,
        every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.desc = desc
        self.stream = stream
        self.every_s = every_s
        self.clock = clock
        self._t0 = clock()
        self._last_line: float | None = None
        self._unshown: tuple[int, int, float | None] | None = None

    def update(self, finished: int, failed: int, best: float | None) -> None:
        now = self.clock()
        if self._last_line is not None and now - self._last_line < self.every_s:
            self._unshown = (finished, failed, best)
            return
        self._write(finished, failed, best, now)

    def close(self) -> None:
        if self._unshown is not None:
            self._write(*self._unshown, self.clock())

    def _write(self, finished: int, failed: int, best: float | None, now: float) -> None:
        self.stream.write(self.line(finished, failed, best, now - self._t0) + "\n")
        self.stream.flush()
        self._last_line, self._unshown = now, None

    def line(self, finished: int, failed: int, best: float | None, elapsed_s: float) -> str:
        """``bobench: NAME N/TOTAL evaluations (F failed), best B, T s``."""
        count = f"{finished}/{self.total}" if self.total is not None else str(finished)
        parts = [f"bobench: {self.desc} {count} evaluations"]
        if failed:
            parts.append(f" ({failed} failed)")
        parts.append(f", best {best:.4g}" if best is not None else ", no value yet")
        parts.append(f", {elapsed_s:.1f} s")
        return "".join(parts)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def open_progress(setting: Any, total: int | None, initial: int, desc: str, stream: TextIO | None = None) -> Progress:
    """The progress display for a run's ``progress:`` setting (auto, true, false).

    Args:
        setting: ``auto`` (bar on a terminal, log lines elsewhere), true (bar), false (nothing).
        total: the evaluation budget (None: no limit).
        initial: evaluations already finished (a resumed run).
        desc: the objective's name.
        stream: where it shows (stderr).
    """
    out = sys.stderr if stream is None else stream
    if setting is False or setting in ("off", "false"):
        return Progress()
    if setting is True or setting in ("on", "true"):
        return BarProgress(total, initial, desc, force=True, stream=out)
    if is_terminal(out):
        return BarProgress(total, initial, desc, force=False, stream=out)
    return LogProgress(total, desc, out)
