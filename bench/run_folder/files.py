"""The files of a run folder and how its derived files are written."""

from __future__ import annotations

import os
from pathlib import Path

from bench.journal import JOURNAL, SETASIDE

#: The journal (the source of truth), one row per finished evaluation, and the run's totals.
RESULTS = "results.csv"
SUMMARY = "summary.json"
#: Hydra's copy of the composed config, in the run folder.
HYDRA_CONFIG = ".hydra/config.yaml"
HYDRA_META = ".hydra/hydra.yaml"
RUN_FILES = (RESULTS, JOURNAL, SUMMARY)

__all__ = ["HYDRA_CONFIG", "HYDRA_META", "JOURNAL", "RESULTS", "RUN_FILES", "SETASIDE", "SUMMARY", "atomic_write"]


def atomic_write(path: Path, text: str, durable: bool = True) -> None:
    """Writes ``text`` to a temporary file, then renames it: a reader never sees half a file.

    Args:
        durable: fsync the file before the rename, so that after a crash of the machine the path
            holds the old text or the new one; without, a crash may leave it empty (a derived
            file rewritten while the run goes on, where the next driver writes it again).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    # backslashreplace: a lone surrogate from an old journal is written escaped, never a crash
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
