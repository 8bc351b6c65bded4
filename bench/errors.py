"""Errors that name a user's mistake: the CLI prints them as one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (config, override, run folder), found before any work."""


class RunFolderLocked(UserError):
    """Another driver holds the run folder."""


class RunFolderError(UserError):
    """The run folder cannot be written (read-only, full disk, file-size limit)."""
