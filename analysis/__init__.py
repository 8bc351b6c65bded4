"""Analysis of bobench runs: load run folders, compute time-to-target and speed-ups, plot.

``bobench-report`` (:mod:`analysis.cli`) reads run folders (JSON, CSV and YAML only) and writes
figures, a summary table and ``report.md``; see ``docs/analysis.md``.
"""

from __future__ import annotations

from analysis.load import Loaded, Run, load_runs

__all__ = ["Loaded", "Run", "load_runs"]
