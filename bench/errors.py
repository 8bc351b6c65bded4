"""Errors that name a user's mistake (the CLI prints them as one line, without a traceback), and the driver's stop."""

from __future__ import annotations

import signal
from typing import Any


class UserError(Exception):
    """A problem with the user's input (config, override, run folder), found before any work."""


class RunFolderLocked(UserError):
    """Another driver holds the run folder."""


class RunFolderError(UserError):
    """The run folder cannot be written (read-only, full disk, file-size limit)."""


class Interrupted(BaseException):
    """SIGTERM or Ctrl-C reached the driver: it stops cleanly, and the run can be resumed.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on its way (an
    objective's, a library's) swallows it; but neither a KeyboardInterrupt nor a SystemExit, so
    :func:`bench.evaluate.evaluate` tells the driver's own stop (re-raised) from an objective
    that raised one of those (a failed evaluation).
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.signum,)
