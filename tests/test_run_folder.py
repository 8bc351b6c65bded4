"""The run folder's format: the record schema, the results rows, and the one reader."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.driver import Driver
from bench.journal import JOURNAL
from bench.run_folder import (
    EVENTS,
    RESULTS,
    SUMMARY,
    RecordError,
    RunState,
    check_record,
    read_run,
    result_rows,
    results_csv_text,
    rows_from_journal,
)
from tests.conftest import read_journal


@pytest.fixture
def finished_run(compose, tmp_path):
    """A short finished run of the noisy quadratic (it reports metric.true_value and has an optimum)."""
    cfg = compose("objective=quadratic", "strategy=random", "budget.evaluations=6", "progress=false")
    Driver(cfg, tmp_path / "run").run()
    return tmp_path / "run"


def test_results_rebuilt_from_the_journal_alone_equal_the_live_results_csv(finished_run):
    assert results_csv_text(rows_from_journal(finished_run)) == (finished_run / RESULTS).read_text()


def test_every_record_a_driver_writes_follows_the_schema(finished_run):
    records = read_journal(finished_run)
    for i, rec in enumerate(records, start=1):
        check_record(rec, strict=True, where=f"record {i}")
    assert {r["event"] for r in records} <= set(EVENTS)
    assert records[0]["event"] == "start" and "optimum" in records[0]


def test_read_run_takes_everything_from_where_the_run_folder_records_it(finished_run):
    run = read_run(finished_run)
    summary = json.loads((finished_run / SUMMARY).read_text())
    assert run.source == JOURNAL and run.complete and run.notes == []
    assert run.optimum == summary["optimum"] == run.start["optimum"]
    assert len(run.rows) == summary["n_evals"] == len(run.state.finished)
    assert run.config["objective"]["name"] == summary["objective"]
    df = run.frame()
    assert df["best_so_far"].iloc[-1] == pytest.approx(summary["best_value"])
    assert df["regret"].iloc[-1] == pytest.approx(summary["final_regret"])
    submits = {r["eval_id"]: r["x"] for r in run.records if r["event"] == "submit"}
    assert list(df["x"]) == [submits[e] for e in df["eval_id"]]  # the unit point, as journaled


def test_a_live_journal_is_read_up_to_its_torn_last_line(finished_run, tmp_path):
    live = tmp_path / "live"
    shutil.copytree(finished_run, live)
    (live / SUMMARY).unlink()
    lines = (live / JOURNAL).read_text().splitlines(keepends=True)
    cut = [i for i, line in enumerate(lines) if '"event":"result"' in line][2]  # after the third result
    (live / JOURNAL).write_text("".join(lines[: cut + 1]) + lines[cut + 1][:25])  # a record half written
    before = (live / JOURNAL).read_bytes()
    run = read_run(live)
    assert (live / JOURNAL).read_bytes() == before  # reading changes nothing
    assert run.source == JOURNAL and not run.complete and len(run.rows) == 3
    assert run.optimum is not None  # from the start record: a live journal has it
    assert any("1 unreadable line(s) skipped" in n for n in run.notes)


def test_a_folder_without_its_journal_is_read_from_results_csv(finished_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    (copy / JOURNAL).unlink()
    run = read_run(copy)
    assert run.source == RESULTS and run.state is None and "x" not in run.frame()
    assert [r["eval_id"] for r in run.rows] == [r["eval_id"] for r in read_run(finished_run).rows]


def _records(results):
    out = [{"event": "start", "optimum": 0.0}]
    for eid, _, _ in results:
        out.append({"event": "submit", "eval_id": eid, "params": {"x": eid}, "x": [0.1 * eid], "t_submit": 0.0})
    for eid, value, t_end in results:
        out.append({"event": "result", "eval_id": eid, "status": "ok", "value": value, "t_start": 0.0, "t_end": t_end})
    return out


def test_rows_come_in_the_order_evaluations_ended_with_running_best(tmp_path):
    # A batch reported in slot order, not end order: rows follow the run's clock.
    state = RunState.from_records(_records([(0, 3.0, 9.0), (1, 1.0, 4.0), (2, 2.0, 6.0)]))
    rows = result_rows(state, optimum=0.5)
    assert [r["eval_id"] for r in rows] == [1, 2, 0]
    assert [r["best_so_far"] for r in rows] == [1.0, 1.0, 1.0]
    assert [r["regret"] for r in rows] == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"event": "submit", "eval_id": 0, "params": {}, "t_submit": 0.0}, "'x'"),
        ({"event": "submit", "eval_id": "0", "params": {}, "x": [0.5], "t_submit": 0.0}, "'eval_id'"),
        ({"event": "result", "eval_id": 0, "status": "fine"}, "'status'"),
        ({"event": "result", "eval_id": 0, "status": "ok", "value": [1]}, "'value'"),
        ({"event": "start", "optimum": "zero"}, "'optimum'"),
    ],
)
def test_a_bad_record_is_refused_naming_its_field(record, field):
    with pytest.raises(RecordError, match=field) as err:
        check_record(record)
    assert "\n" not in str(err.value)


def test_strict_checking_refuses_unknown_fields_and_events_reading_tolerates_them():
    rec = {"event": "end", "t": 1.0, "reason": "done", "wall_time": 2.0, "extra": 1}
    check_record(rec)
    check_record({"event": "future"})
    with pytest.raises(RecordError, match="unknown field 'extra'"):
        check_record(rec, strict=True)
    with pytest.raises(RecordError, match="unknown event 'future'"):
        check_record({"event": "future"}, strict=True)


def test_resume_and_analysis_skip_the_same_bad_record(tmp_path):
    from bench.journal import Journal

    records = _records([(0, 1.0, 2.0), (1, 3.0, 4.0)])
    del records[1]["x"]
    with pytest.raises(RecordError, match=r"journal\.jsonl record 2: 'submit' record without 'x'"):
        RunState.from_records(records)
    (tmp_path / JOURNAL).write_text("".join(json.dumps(r) + "\n" for r in records))
    run = read_run(tmp_path)  # the bad record and the result of the evaluation it submitted are skipped
    assert [r["eval_id"] for r in run.rows] == [1]
    assert any("line 2 ('submit': 'submit' record without 'x'" in n for n in run.notes), run.notes
    assert any("never submitted skipped (eval_id 0" in n for n in run.notes), run.notes
    with Journal(tmp_path) as journal:  # a resuming driver reads the same
        assert journal.records == run.records


@pytest.mark.parametrize("event", ["rung", "promote"])
def test_a_segment_that_ended_leaves_no_job_for_a_resume_to_follow(event):
    from bench.run_folder.state import RunState

    state = RunState()
    state.apply({"event": "submit", "eval_id": 0, "attempt": 0, "params": {"x": 0.5}, "x": [0.5], "t_submit": 0.0})
    state.apply({"event": "job", "eval_id": 0, "attempt": 0, "job_id": "123"})
    assert state.evals[0].job_id == "123"
    state.apply({"event": event, "eval_id": 0, "t_end": 1.0, "bracket": 0, "rung": 0, "value": 1.0})
    assert state.evals[0].job_id is None  # the next segment's job is journaled when it starts
