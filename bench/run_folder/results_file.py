"""results.csv kept current while a run goes on: new rows appended, the whole file rewritten only when it must be.

The file's text is always what :func:`~bench.run_folder.results.results_csv_text` gives for the
rows of the evaluations finished so far (the rows a full rewrite writes, in the same order under
the same header), except after a process was killed in the middle of an append (a torn last
row, see :func:`~bench.run_folder.results.split_torn_tail`). Rows are in finish order on the
run's clock (:func:`~bench.run_folder.results.finish_key`), and evaluations usually finish in
that order, so a refresh appends their rows; it rewrites the whole file (atomically) instead
when a new row would sort before the last one written, when it brings a column the header lacks
(a metric seen for the first time, the parameters of the first row), and at its first refresh,
which replaces whatever an earlier driver left (a torn last row included).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import crash_points
from bench.run_folder.files import RESULTS, atomic_write
from bench.run_folder.results import RowMaker, csv_lines, finish_key, finish_order, results_columns, results_csv_text

if TYPE_CHECKING:
    from bench.run_folder.state import EvalState, RunState


class ResultsFile:
    """A run folder's results.csv, refreshed from the run's state by appending.

    Args:
        folder: the run folder.
        optimum: the objective's optimum (for the regret column), or None.

    Attributes:
        rows_written: rows written so far, by appends and rewrites (the header not counted).
        rewrites: whole-file rewrites so far (the first refresh is one).
    """

    def __init__(self, folder: Path, optimum: float | None):
        self.path = Path(folder) / RESULTS
        self.optimum = optimum
        self.rows_written = 0
        self.rewrites = 0
        #: The header of the file as written; None until this object has written the whole file.
        self._columns: list[str] | None = None
        #: How many of the state's finished evaluations (:attr:`RunState.finished`) have their row in the file.
        self._done = 0
        self._last_key: tuple[bool, float, int] | None = None
        self._maker = RowMaker(optimum)

    def refresh(self, state: RunState, durable: bool = False) -> None:
        """Brings the file up to date with ``state``: appends the rows of evaluations finished since
        the last refresh, or rewrites the file (see the module docstring).

        Args:
            state: the run's state; its finished evaluations only ever grow.
            durable: fsync the file before returning (the driver asks at the run's end only: the
                file is derived, and its next driver rewrites it).
        """
        new = state.finished[self._done :]
        if self._columns is not None and not new:
            if durable:
                self._fsync()
            return
        fresh = sorted((state.evals[eid] for eid in new), key=finish_key)
        rows = self._rows_to_append(fresh)
        if rows is None:
            self._rewrite(state, durable)
            return
        self._append(csv_lines(rows, self._columns or []), durable)
        self._done = len(state.finished)
        self._last_key = finish_key(fresh[-1])
        self.rows_written += len(rows)

    def _rows_to_append(self, fresh: list[EvalState]) -> list[dict[str, Any]] | None:
        """The rows of these evaluations (in finish order) if they can be appended; None: rewrite the file."""
        if self._columns is None or (self._last_key is not None and finish_key(fresh[0]) < self._last_key):
            return None
        maker = copy.copy(self._maker)
        rows = [maker.row(ev) for ev in fresh]
        known = set(self._columns)
        if any(column not in known for row in rows for column in row):
            return None
        self._maker = maker
        return rows

    def _append(self, text: str, durable: bool) -> None:
        data = text.encode("utf-8", errors="backslashreplace")  # as atomic_write encodes a rewrite
        columns, self._columns = self._columns, None  # until the append is whole: a failed one is rewritten over
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(data)
            if crash_points.reached("results"):
                os.write(fd, view[: len(view) // 2])
                crash_points.die(f"results.csv: {len(view) // 2} of {len(view)} bytes of an append written")
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._columns = columns

    def _rewrite(self, state: RunState, durable: bool) -> None:
        self._columns = None
        in_order = [state.evals[eid] for eid in finish_order(state)]
        self._maker = RowMaker(self.optimum)
        rows = [self._maker.row(ev) for ev in in_order]  # result_rows(state, optimum), keeping the running values
        atomic_write(self.path, results_csv_text(rows), durable)
        self.rewrites += 1
        self.rows_written += len(rows)
        self._columns = results_columns(rows)
        self._done = len(state.finished)
        self._last_key = finish_key(in_order[-1]) if in_order else None

    def _fsync(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
