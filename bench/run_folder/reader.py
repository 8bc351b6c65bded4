"""Reads a run folder the one way: the journal, then the state replayed from it, then the rows.

``results.csv`` is read only where the journal is missing or unusable (a folder copied without
it); ``summary.json`` and Hydra's ``.hydra/`` files are read for what they alone record. The
journal is checked as a resuming driver checks it (:func:`bench.journal.load`): a damaged line
(a torn last line of a live journal, a bad checksum, a wrong type...) is skipped and said in
:attr:`RunFolder.notes`, a damaged start record is taken from ``start.json``, and nothing in the
folder is changed (the journal may be live: a run still writing it). A torn last row of
results.csv (a driver killed in the middle of an append) is skipped with a note.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench.journal import JOURNAL, START, describe_damaged, load
from bench.records import OK
from bench.run_folder.files import HYDRA_CONFIG, HYDRA_META, RESULTS
from bench.run_folder.results import METRIC, NUMERIC_COLUMNS, PARAM, result_rows, results_columns, split_torn_tail
from bench.run_folder.schema import RecordError, as_float
from bench.run_folder.state import RunState
from bench.run_folder.summary import read_summary

#: The frame column holding each evaluation's unit-cube point (a list; from the journal only).
UNIT_POINT = "x"


@dataclass
class RunFolder:
    """What a run folder records.

    Attributes:
        path: the folder.
        records: the journal's valid records in order (empty without a journal).
        state: the state replayed from them (None where the journal is missing or unusable).
        rows: one row per finished evaluation in the layout of results.csv (see
            :mod:`bench.run_folder.results`), rebuilt from the journal, or read from results.csv
            where there is no usable journal.
        source: where ``rows`` come from: ``journal.jsonl``, ``results.csv`` or None (nowhere).
        summary: summary.json (empty when missing or unreadable).
        optimum: the objective's optimum as recorded (journal's start record, else summary.json).
        config: the composed config (``.hydra/config.yaml``, else the journal's start record).
        choices: Hydra's config-group choices (``objective``, ``strategy``...), if recorded.
        notes: what could not be read, one line each, naming the folder.
    """

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    state: RunState | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    optimum: float | None = None
    config: dict[str, Any] | None = None
    choices: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def start(self) -> dict[str, Any]:
        """The journal's start record (empty without one)."""
        return next((r for r in self.records if r.get("event") == "start"), {})

    @property
    def ended(self) -> bool:
        """Whether the journal's last record is the run's end (true without a journal)."""
        return not self.records or self.records[-1].get("event") == "end"

    @property
    def complete(self) -> bool:
        """A finished run: it has its summary and its journal ends with the end record."""
        return bool(self.summary) and self.ended

    def frame(self) -> pd.DataFrame:
        """``rows`` as a frame: numeric columns as numbers, lists and mappings as JSON text, plus
        the unit-cube point of each evaluation in column ``x`` where the journal was read."""
        columns = results_columns(self.rows)
        df = pd.DataFrame([{c: _as_cell(r.get(c)) for c in columns} for r in self.rows], columns=columns, dtype=object)
        for col in NUMERIC_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce")
        for col in [c for c in df.columns if c.startswith((METRIC, PARAM))]:
            numeric = pd.to_numeric(df[col], errors="coerce")
            if numeric.notna().sum() == df[col].notna().sum():  # keep text (lists, categories)
                df[col] = numeric
        df["status"] = df["status"].astype(str)
        if self.state is not None:
            df[UNIT_POINT] = [list(self.state.evals[int(e)].x) for e in df["eval_id"]]
        return df


def _as_cell(v: Any) -> Any:
    """A row's value as results.csv holds it, before typing: lists and mappings as JSON text."""
    if isinstance(v, list | dict):
        return json.dumps(v)
    return v


def rows_from_journal(folder: Path | str) -> list[dict[str, Any]]:
    """results.csv's rows rebuilt from the journal alone (its optimum from the start record).

    ``results_csv_text(rows_from_journal(folder))`` is the text of a finished run's results.csv.

    Raises:
        RecordError: a journal record does not follow the schema (the message names it).
    """
    state = RunState.from_records(load(folder).records)
    return result_rows(state, as_float((state.start or {}).get("optimum")))


def read_run(folder: Path | str) -> RunFolder:
    """Reads a run folder without changing it; whatever cannot be read is said in ``notes``."""
    path = Path(folder)
    run = RunFolder(path=path)
    run.summary, why = read_summary(path)
    if why:
        run.notes.append(f"{path}: {why}")
    _read_hydra(run)
    _read_journal(run)
    if run.config is None and isinstance(run.start.get("config"), dict):
        run.config = run.start["config"]
    known, optimum = _recorded_optimum(run)
    csv_rows = None
    if run.state is None or not run.state.finished:
        csv_rows = _read_results_csv(run)
    if not known and csv_rows is None and (path / RESULTS).is_file():
        csv_rows = _read_results_csv(run, quiet=True)
    if not known and csv_rows:
        optimum = _optimum_from_regret(csv_rows)
    run.optimum = optimum
    if run.state is not None and run.state.finished:
        run.rows, run.source = result_rows(run.state, optimum), JOURNAL
    elif csv_rows:
        run.rows, run.source = csv_rows, RESULTS
    return run


def _read_hydra(run: RunFolder) -> None:
    try:
        if (run.path / HYDRA_CONFIG).is_file():
            config = yaml.safe_load((run.path / HYDRA_CONFIG).read_text())
            run.config = config if isinstance(config, dict) else None
        if (run.path / HYDRA_META).is_file():
            choices = yaml.safe_load((run.path / HYDRA_META).read_text())
            for key in ("hydra", "runtime", "choices"):
                choices = choices.get(key) if isinstance(choices, dict) else None
            run.choices = choices if isinstance(choices, dict) else None
    except (OSError, yaml.YAMLError) as exc:
        run.notes.append(f"{run.path}: .hydra config unreadable ({exc})")


def _read_journal(run: RunFolder) -> None:
    journal = run.path / JOURNAL
    if not journal.is_file():
        return
    try:
        found = load(run.path)
    except OSError as exc:
        run.notes.append(f"{run.path}: {JOURNAL} unreadable ({exc})")
        return
    if found.damaged:
        run.notes.append(
            f"{run.path}: {JOURNAL}: {len(found.damaged)} unreadable line(s) skipped: {describe_damaged(found.damaged)}"
        )
    if found.start_recovered:
        run.notes.append(f"{run.path}: {JOURNAL}: the start record is damaged or missing; read it from {START}")
    run.records = records = found.records
    if not records:
        return
    try:
        run.state = RunState.from_records(records)
    except RecordError as exc:  # only records read by other means than load() can get here
        run.notes.append(f"{run.path}: {exc}; the journal is not used")
        return
    if run.state.orphans:
        ids = sorted({int(r["eval_id"]) for r in run.state.orphans})
        run.notes.append(
            f"{run.path}: {JOURNAL}: {len(run.state.orphans)} record(s) about evaluations never submitted skipped "
            f"(eval_id {', '.join(map(str, ids[:10]))}; their submit record is damaged)"
        )


def _recorded_optimum(run: RunFolder) -> tuple[bool, float | None]:
    """(whether the run records its optimum, the optimum): the start record's, else summary.json's."""
    for source in (run.start, run.summary):
        if "optimum" in source:
            return True, as_float(source["optimum"])
    return False, None


def _read_results_csv(run: RunFolder, quiet: bool = False) -> list[dict[str, Any]] | None:
    path = run.path / RESULTS
    if not path.is_file():
        return None
    try:
        text, torn = split_torn_tail(path.read_text(encoding="utf-8", errors="replace"))
        df = pd.read_csv(io.StringIO(text))
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        if not quiet:
            run.notes.append(f"{run.path}: {RESULTS} unreadable ({type(exc).__name__})")
        return None
    if torn and not quiet:
        run.notes.append(
            f"{run.path}: {RESULTS}: its last row is incomplete (a driver stopped while writing it): skipped"
        )
    cells = df.astype(object).where(df.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in cells.to_dict("records")]


def _optimum_from_regret(rows: list[dict[str, Any]]) -> float | None:
    """For run folders written before the start record carried ``optimum`` and without a summary:
    their results.csv recorded it only as regret = best noise-free value so far - optimum."""
    best_true = math.inf
    for row in rows:
        value = as_float(row.get("value"))
        if row.get("status") == OK and value is not None:
            true = as_float(row.get("metric.true_value"))
            best_true = min(best_true, true if true is not None else value)
        regret = as_float(row.get("regret"))
        if regret is not None and math.isfinite(best_true):
            return best_true - regret
    return None
