"""The run folder and its format, owned in one place.

A run folder holds ``journal.jsonl`` (the source of truth: one record per event, see
:mod:`~bench.run_folder.schema`), ``results.csv`` and ``summary.json`` (derived from it and
kept current while the run goes on: results.csv appended, see :mod:`~bench.run_folder.results`,
:mod:`~bench.run_folder.results_file` and :mod:`~bench.run_folder.summary`) and Hydra's
``.hydra/``. :func:`read_run` reads it the one way the driver resumes it: journal, then the
state replayed from it (:class:`~bench.run_folder.state.RunState`), then the rows.
"""

from __future__ import annotations

from bench.run_folder.files import JOURNAL, RESULTS, RUN_FILES, SUMMARY, atomic_write
from bench.run_folder.reader import UNIT_POINT, RunFolder, read_run, rows_from_journal
from bench.run_folder.results import (
    FIXED_COLUMNS,
    NUMERIC_COLUMNS,
    TAIL_COLUMNS,
    result_rows,
    results_columns,
    results_csv_text,
    write_results,
)
from bench.run_folder.schema import EVENTS, RecordError, check_record
from bench.run_folder.state import EvalState, RunState
from bench.run_folder.summary import git_commit, read_summary, versions, write_summary

__all__ = [
    "EVENTS",
    "FIXED_COLUMNS",
    "JOURNAL",
    "NUMERIC_COLUMNS",
    "RESULTS",
    "RUN_FILES",
    "SUMMARY",
    "TAIL_COLUMNS",
    "UNIT_POINT",
    "EvalState",
    "RecordError",
    "RunFolder",
    "RunState",
    "atomic_write",
    "check_record",
    "git_commit",
    "read_run",
    "read_summary",
    "result_rows",
    "results_columns",
    "results_csv_text",
    "rows_from_journal",
    "versions",
    "write_results",
    "write_summary",
]
