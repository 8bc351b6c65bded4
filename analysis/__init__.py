"""Analysis of bobench runs: load run folders, compute time-to-target and speed-ups, plot.

``bobench-report`` (:mod:`analysis.cli`) reads run folders (JSON, CSV and YAML only) and writes
figures, a summary table and ``report.md``; see ``docs/analysis.md``. From Python,
:func:`load` gives one tidy frame of a run folder or a multirun folder (docs/python-api.md).

``analysis.load`` is that function; the module of the same name is imported by its full name
(``from analysis.load import load_runs``).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import pandas as pd

from analysis.load import Loaded, Run, load_runs

__all__ = ["Loaded", "Run", "load", "load_runs"]


def load(path: str | PathLike[str]) -> pd.DataFrame:
    """Every finished evaluation under ``path`` (a run folder, or a multirun folder of them) as one frame.

    One row per evaluation, in the order each run finished them: the columns of results.csv
    (``eval_id``, ``status``, ``value``, ``param.*``, ``metric.*``, times, energy, ``best_so_far``,
    ``regret``...), the unit-cube point ``x``, and per run ``run`` (its folder), ``objective``,
    ``strategy``, ``label``, ``executor``, ``mode``, ``workers``, ``seed``, ``clock``,
    ``optimum``, plus ``n`` (completions so far), ``ok`` and ``co2_cum``. What was left out
    (a folder without finished evaluations, failed evaluations...) is listed, one line each, in
    ``frame.attrs["notes"]``; ``frame.attrs["runs"]`` has one row per run.

    Raises:
        UserError: ``path`` is missing, not a folder, or holds no readable run.
    """
    loaded = load_runs([Path(path)])
    frame = loaded.frame
    frame.attrs["notes"] = list(loaded.notes)
    frame.attrs["runs"] = loaded.runs_frame
    return frame
