"""What the run folder holds when the driver is killed between two records or in the middle of an
append to results.csv, and what a crash of the machine could lose on top (docs/architecture.md,
"Durability").

Each kill is real: a ``bobench`` child process is killed with SIGKILL at a chosen point of its
write path (``BOBENCH_CRASH_AT``, :mod:`bench.crash_points`), never after a wall-clock delay. The
runs are simulated (virtual clock, random strategy) so that they are cheap and the same every time.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.driver import SUMMARY_EVERY, Driver
from bench.journal import JOURNAL, RESULTS_SETASIDE, SETASIDE, load
from bench.run_folder import RESULTS, SUMMARY, read_run, result_rows, results_csv_text, rows_from_journal
from bench.run_folder.results import split_torn_tail
from bench.run_folder.results_file import ResultsFile
from bench.run_folder.state import RunState
from tests.conftest import final_results, read_journal, run_cli

EVALS = 12
RUN = [
    "objective=hartmann6",
    "strategy=random",
    "executor=simulated",
    "executor.duration=exponential",
    "workers=4",
    "mode=async",
    f"budget.evaluations={EVALS}",
    "carbon=fixed",
    "progress=false",
    "hydra.run.dir=run",
]
CRASHED = re.compile(r"bobench: crash point (\w+):(\d+) \((.*)\)")
IN_JOURNAL = re.compile(r"journal: (\d+) records, the last (\d+) not fsynced")


def killed_at(tmp_path: Path, point: str) -> str:
    """Runs RUN in ``tmp_path/run`` until it kills itself at ``point``; returns what it said then."""
    proc = run_cli(*RUN, cwd=tmp_path, env={"BOBENCH_CRASH_AT": point})
    assert proc.returncode == -9, f"not killed at {point} ({proc.returncode}):\n{proc.stderr}"
    found = CRASHED.search(proc.stderr)
    assert found and f"{found[1]}:{found[2]}" == point, proc.stderr
    return found[3]


def committed(detail: str) -> tuple[int, int]:
    """(records in the journal, how many of them were fsynced) from the crash point's line."""
    found = IN_JOURNAL.fullmatch(detail)
    assert found, detail
    n, unsynced = int(found[1]), int(found[2])
    return n, n - unsynced


def results_text(records: list[dict[str, Any]]) -> str:
    """results.csv as a full rewrite writes it for the run these records describe."""
    return results_csv_text(result_rows(RunState.from_records(records), records[0]["optimum"]))


def resume(tmp_path: Path) -> tuple[list[dict[str, Any]], str]:
    """Resumes the run to its end; returns its journal and the resume's stderr."""
    proc = run_cli("resume=run", cwd=tmp_path, check=True)
    return read_journal(tmp_path / "run"), proc.stderr


def check_finished_run(run_dir: Path) -> None:
    """The resumed run is whole: every evaluation once, results.csv as a full rewrite, nothing set aside."""
    records = read_journal(run_dir)
    assert sorted(r["eval_id"] for r in final_results(records)) == list(range(EVALS))
    assert (run_dir / RESULTS).read_text() == results_csv_text(rows_from_journal(run_dir))
    assert not (run_dir / RESULTS_SETASIDE).exists()


# -- a SIGKILL ---------------------------------------------------------------------------------
#: Kill points (the n-th record this driver writes): the start record (before start.json), a submit
#: of the first wake-up, the first result, a submit after a result, a result late in the run.
RECORDS = [1, 3, 6, 9, 18]


@pytest.mark.parametrize("n", RECORDS)
def test_a_sigkill_between_records_loses_nothing_written_and_the_run_resumes(tmp_path, n):
    in_journal, fsynced = committed(killed_at(tmp_path, f"record:{n}"))
    run_dir = tmp_path / "run"
    records = read_journal(run_dir)
    # Every record written is in the file, fsynced or not: a killed process loses none of them.
    assert len(records) == in_journal == n
    # results.csv holds exactly the results of the committed records (it is written after each
    # group commit), as a full rewrite would write them; none of what an OS crash could still lose.
    if fsynced:
        assert (run_dir / RESULTS).read_text() == results_text(records[:fsynced])
        summary = read_run(run_dir).summary
        finished = len(final_results(records[:fsynced]))
        assert finished - SUMMARY_EVERY < summary["n_evals"] <= finished  # refreshed by count
    else:
        assert not (run_dir / RESULTS).exists()
    before = final_results(records)
    in_flight = sorted({r["eval_id"] for r in records if r["event"] == "submit"} - {r["eval_id"] for r in before})

    after, stderr = resume(tmp_path)
    assert "warning" not in stderr, stderr
    assert after[: len(records)] == records  # the journal goes on from where it was
    # Finished evaluations are kept as they were, those in flight run again, once.
    assert all(b in final_results(after) for b in before)
    (resumed,) = [r for r in after if r["event"] == "resume"]
    assert resumed["rerun"] == in_flight
    assert resumed["n_finished"] == len(before)
    check_finished_run(run_dir)


# -- a crash of the machine ---------------------------------------------------------------------
@pytest.mark.parametrize("cut", ["at the last commit", "inside the first record after it"])
def test_what_a_machine_crash_can_lose_is_the_last_wake_up_and_it_runs_again(tmp_path, cut):
    # Killed right after the first result of the second wake-up is written (records: start, 4
    # submits, commit, a result): the result was never fsynced.
    in_journal, fsynced = committed(killed_at(tmp_path, "record:6"))
    assert (in_journal, fsynced) == (6, 5)
    run_dir = tmp_path / "run"
    journal = run_dir / JOURNAL
    lines = journal.read_bytes().splitlines(keepends=True)
    lost = read_journal(run_dir)[fsynced:]
    assert [r["event"] for r in lost] == ["result"]
    # What the disk may hold after the machine went down: the journal as of its last fsync, the
    # rest gone or cut anywhere after it (here: half of the first record past it).
    kept = b"".join(lines[:fsynced])
    journal.write_bytes(kept if cut == "at the last commit" else kept + lines[fsynced][: len(lines[fsynced]) // 2])
    assert load(run_dir).results_missing == []  # results.csv never ran ahead of the commit

    after, stderr = resume(tmp_path)
    (resumed,) = [r for r in after if r["event"] == "resume"]
    assert lost[0]["eval_id"] in resumed["rerun"]  # the lost result's evaluation is in flight again
    assert resumed["n_finished"] == 0
    if cut == "at the last commit":
        assert "warning" not in stderr, stderr
    else:  # the torn record is set aside with a warning, never read as a record
        assert "set aside 1 unreadable line(s)" in stderr and (run_dir / SETASIDE).exists()
    check_finished_run(run_dir)


# -- a SIGKILL in the middle of an append to results.csv ------------------------------------------
def test_a_torn_last_row_of_results_csv_is_skipped_by_readers_and_repaired_on_resume(tmp_path):
    # The first two refreshes rewrite the file (an empty one, then the first row brings the
    # parameters' columns); the third one appends, and is cut in half.
    killed_at(tmp_path, "results:1")
    run_dir = tmp_path / "run"
    text = (run_dir / RESULTS).read_text()
    whole, torn = split_torn_tail(text)
    assert torn and not torn.endswith("\n")
    records = read_journal(run_dir)
    finished = final_results(records)
    # Its complete lines are the full rewrite of the rows before the append; the journal has them all.
    assert whole == results_text(records[: records.index(finished[-2]) + 1])
    assert load(run_dir).results_missing == []  # the torn row is no result the journal lacks
    # A folder copied without its journal: results.csv is read, its torn row skipped with a note.
    copied = tmp_path / "copied"
    copied.mkdir()
    shutil.copy(run_dir / RESULTS, copied / RESULTS)
    shutil.copy(run_dir / SUMMARY, copied / SUMMARY)
    run = read_run(copied)
    assert [r["eval_id"] for r in run.rows] == [r["eval_id"] for r in finished[:-1]]
    assert any("its last row is incomplete" in note for note in run.notes), run.notes

    _, stderr = resume(tmp_path)
    assert "warning" not in stderr, stderr
    check_finished_run(run_dir)


# -- appending writes what a full rewrite writes ---------------------------------------------------
@pytest.mark.parametrize(("mode", "workers"), [("async", 8), ("sync", 4)])
def test_the_driver_appends_what_a_full_rewrite_writes_with_one_fsync_per_wake_up(compose, tmp_path, mode, workers):
    cfg = compose(*RUN[:4], f"workers={workers}", f"mode={mode}", "budget.evaluations=60", "progress=false")
    driver = Driver(cfg, tmp_path / "run")
    driver.run()
    assert (tmp_path / "run" / RESULTS).read_text() == results_csv_text(rows_from_journal(tmp_path / "run"))
    # Two rewrites (an empty file, then the first row's columns), every other row appended once.
    assert (driver.results.rewrites, driver.results.rows_written) == (2, 60)
    # One fsync per wake-up: async, each wait ends one evaluation; sync, a batch of `workers`;
    # plus the end record's.
    wake_ups = 60 if mode == "async" else 60 // workers
    assert driver.journal.fsyncs == wake_ups + 1 < len(driver.journal.records)


def test_results_csv_equals_a_full_rewrite_after_every_record_of_a_real_run(compose, tmp_path):
    """Replays a real run's journal one record at a time, refreshing results.csv after each."""
    cfg = compose(*RUN[:4], "workers=8", "budget.evaluations=40", "progress=false")
    Driver(cfg, tmp_path / "run").run()
    check_refresh_after_every_record(read_journal(tmp_path / "run"), tmp_path / "replayed")


def _submit(eid: int) -> dict[str, Any]:
    return {"v": 1, "event": "submit", "eval_id": eid, "attempt": 0, "params": {"x": 0.5}, "x": [0.5], "t_submit": 0.0}


def _result(eid: int, t_end: float | None, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "event": "result", "eval_id": eid, "status": "ok", "value": float(eid), "t_start": 0.0,
            "t_end": t_end, "final": True, **fields}  # fmt: skip


def test_rows_out_of_finish_order_or_with_a_new_column_rewrite_the_file(tmp_path):
    """Where evaluations do not arrive in finish order (wall clocks: local, Slurm), or a row brings a
    column, the file is rewritten; otherwise appended. Either way it is the full rewrite's text."""
    records = [{"v": 1, "event": "start", "seed": 0, "optimum": 0.0}, *map(_submit, range(6))]
    records += [
        _result(0, 2.0),
        _result(1, 1.0),  # finished before eval 0: sorts before the last row written
        _result(2, 3.0, metrics={"loss": 0.5}),  # a metric column the header lacks
        _result(3, 4.0, metrics={"loss": 0.25}),
        _result(4, None),  # no end time: its row goes last...
        _result(5, 5.0),  # ...so one with an end time after it sorts before it
    ]
    results = check_refresh_after_every_record(records, tmp_path / "folder")
    # Rewrites: the first refresh, the first row's parameter column, eval 1, the loss column, eval 5.
    assert results.rewrites == 5


def check_refresh_after_every_record(records: list[dict[str, Any]], folder: Path) -> ResultsFile:
    folder.mkdir()
    state, results = RunState(), ResultsFile(folder, records[0].get("optimum"))
    for rec in records:
        state.apply(rec)
        results.refresh(state)
        assert (folder / RESULTS).read_text() == results_csv_text(result_rows(state, records[0].get("optimum")))
    return results
