"""Fault injection, part two: no run that hangs or lies (issue 13, item 4; docs/faults.md).

Through the real CLI, with ``objectives/toy.py``'s Faulty objective in every executor that runs
without a cluster: a hung objective becomes a ``timeout`` record (inline and simulated too, and
bounded by ``budget.seconds`` when no limit is set); an objective's SystemExit, KeyboardInterrupt
or other BaseException is a failed evaluation, while a real Ctrl-C or SIGTERM stops the run with
130/143 and the resume hint; the child processes an evaluation starts end with it; text no file
can hold is written escaped; non-finite budgets and limits are refused with one line. No
assertion depends on how fast the machine is: a hang is 10 minutes or more against a 1-2 s limit.
"""

from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.records import ERROR, OK, TIMEOUT
from tests.conftest import final_results, read_journal, run_cli, start_cli
from tests.test_faults import check_invariants, worker_processes

#: The executors that run here, with what each needs beyond its name.
EXECUTORS: dict[str, list[str]] = {
    "inline": [],
    "simulated": [],
    "local": ["workers=2", "mode=async"],
}


def faulty(fault: str, executor: str, *extra: str, run: str = "run") -> list[str]:
    """A 4-point grid run whose two points with x1 at its upper end misbehave with ``fault``."""
    return [
        "objective=faulty",
        f"objective.fault={fault}",
        "strategy=grid",
        "strategy.points=2",
        "budget.evaluations=4",
        f"executor={executor}",
        *EXECUTORS[executor],
        "carbon=fixed",
        "progress=false",
        f"hydra.run.dir={run}",
        *extra,
    ]


def finals_by_fault(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The final records of the faulty points and of the others."""
    records = read_journal(run_dir)
    x = {r["eval_id"]: r["x"] for r in records if r["event"] == "submit"}
    finals = final_results(records)
    return [f for f in finals if x[f["eval_id"]][0] > 0.5], [f for f in finals if x[f["eval_id"]][0] <= 0.5]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# -- an objective that stops the process ----------------------------------------------------------
@pytest.mark.parametrize("executor", list(EXECUTORS))
@pytest.mark.parametrize(
    ("fault", "raised"),
    [("sys_exit", "SystemExit"), ("keyboard_interrupt", "KeyboardInterrupt"), ("base_exception", "Injected")],
)
def test_an_objectives_exit_or_interrupt_is_a_failed_evaluation_and_the_run_goes_on(tmp_path, executor, fault, raised):
    before = worker_processes()
    proc = run_cli(*faulty(fault, executor), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "resume=" not in proc.stderr
    bad, good = finals_by_fault(tmp_path / "run")
    assert len(bad) == 2 and len(good) == 2
    for f in bad:
        assert f["status"] == ERROR and f["message"].startswith(raised), f
        assert f["attempt"] == 0  # an objective's fault, not the infrastructure's: not retried
    assert all(f["status"] == OK for f in good)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "budget.evaluations"
    check_invariants(tmp_path / "run", before, n_evals=4)


# -- a hung objective --------------------------------------------------------------------------------
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("executor", "fault"), [("inline", "hang"), ("inline", "hang_ignore_term"), ("simulated", "hang")]
)
def test_a_hung_objective_in_process_becomes_a_timeout_record(tmp_path, executor, fault):
    proc = run_cli(*faulty(fault, executor, "executor.timeout_s=1"), cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    bad, good = finals_by_fault(tmp_path / "run")
    assert [f["status"] for f in bad] == [TIMEOUT, TIMEOUT]
    assert all(f["message"].startswith("ran past the 1 s time limit (executor.timeout_s)") for f in bad)
    assert "time.sleep" in bad[0]["message"]  # where it was stopped
    assert all(f["status"] == OK for f in good)
    check_invariants(tmp_path / "run", n_evals=4)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("executor", "budget_s"), [("inline", 3), ("local", 20)])  # local: workers start first
def test_without_a_time_limit_budget_seconds_bounds_each_evaluation(tmp_path, executor, budget_s):
    before = worker_processes()
    args = faulty("hang", executor, f"budget.seconds={budget_s}", "objective.above=-1")  # every point hangs
    proc = run_cli(*args, cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    finals = final_results(read_journal(tmp_path / "run"))
    assert finals, "the budget ran out before the first evaluation started"
    assert all(f["status"] == TIMEOUT for f in finals)
    assert all(f["message"].startswith(f"ran past the {budget_s} s time limit (budget.seconds;") for f in finals)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "budget.seconds"
    check_invariants(tmp_path / "run", before)


# -- a real Ctrl-C or SIGTERM while an objective hangs -------------------------------------------------
@pytest.mark.timeout(300)
@pytest.mark.parametrize("executor", ["inline", "simulated"])
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_real_signal_during_a_hung_in_process_evaluation_stops_the_run_and_it_resumes(tmp_path, executor, sig, code):
    once = tmp_path / "hung-once"  # the first faulty call creates it and hangs; later calls do not fault
    args = [
        "objective=faulty",
        "objective.fault=hang",
        "objective.above=-1",  # every point: the very first evaluation hangs
        f"objective.once_file={once}",
        "strategy=random",
        "budget.evaluations=3",
        f"executor={executor}",
        "carbon=fixed",
        "progress=false",
        "hydra.run.dir=run",
    ]
    proc = start_cli(*args, cwd=tmp_path)
    deadline = time.time() + 180
    while not once.exists():  # the objective is in its hang (no time limit is set)
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"bobench resume={tmp_path / 'run'}" in err
    records = read_journal(tmp_path / "run")
    assert records[-1]["event"] == "end" and records[-1]["reason"] == f"interrupted ({signal.Signals(sig).name})"
    assert not final_results(records)  # the hung evaluation was stopped with the run, not recorded as its fault
    assert [r["status"] for r in records if r["event"] == "result"] == ["cancelled"]
    assert (tmp_path / "run" / "results.csv").exists() and (tmp_path / "run" / "summary.json").exists()
    run_cli("resume=run", cwd=tmp_path, check=True, timeout=240)
    records = read_journal(tmp_path / "run")
    assert [f["status"] for f in final_results(records)] == [OK, OK, OK]
    check_invariants(tmp_path / "run", n_evals=3)


# -- child processes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_the_child_processes_an_evaluation_starts_end_with_it(tmp_path, executor):
    """Each faulty call leaves a child in a session of its own, and reports whether the previous one lives."""
    extra = ["workers=1", "mode=sync"] if executor == "local" else []  # one worker: both calls in one process
    proc = run_cli(*faulty("spawn_child", executor, *extra), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    bad, _ = finals_by_fault(tmp_path / "run")
    assert [f["status"] for f in bad] == [OK, OK]
    by_id = sorted(bad, key=lambda f: f["eval_id"])
    assert by_id[0]["metrics"]["earlier_child_alive"] is None
    assert by_id[1]["metrics"]["earlier_child_alive"] is False  # ended with the evaluation, not with the run
    assert not any(alive(f["metrics"]["child_pid"]) for f in bad)


# -- text no file can hold -----------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_lone_surrogate_in_a_message_or_a_metric_is_written_escaped(tmp_path, executor):
    for fault in ("surrogate", "surrogate_metric"):
        proc = run_cli(*faulty(fault, executor, run=fault), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        run_dir = tmp_path / fault
        journal = read_journal(run_dir)  # every line parses
        with open(run_dir / "results.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        assert len(rows) == 4 and summary["n_evals"] == 4
        text = (run_dir / "results.csv").read_text(encoding="utf-8")
        assert "\\ud800" in text
        bad, _ = finals_by_fault(run_dir)
        if fault == "surrogate":
            assert all(f["status"] == ERROR and "hold: \\ud800" in f["message"] for f in bad)
        else:
            assert all(f["metrics"]["note"] == "text \\ud800 here" and "\\ud800" in f["metrics"] for f in bad)
        assert journal[-1]["event"] == "end"
        check_invariants(run_dir, n_evals=4)


def test_a_derived_file_with_text_utf8_cannot_encode_is_written_escaped(tmp_path):
    from bench.run_folder.files import atomic_write

    atomic_write(tmp_path / "f.txt", "before \ud800 after")  # e.g. a journal written before this was fixed
    assert (tmp_path / "f.txt").read_text(encoding="utf-8") == "before \\ud800 after"


# -- budgets and limits that never end ------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0"])
def test_a_budget_that_never_ends_is_refused_with_one_line(tmp_path, value):
    proc = run_cli("objective=quadratic", "strategy=random", f"budget.seconds={value}", "carbon=fixed", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("bobench: error: budget.seconds: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "outputs").exists()  # before any work


@pytest.mark.parametrize(("executor", "value"), [("inline", "nan"), ("simulated", "inf"), ("local", "0")])
def test_a_time_limit_that_is_no_limit_is_refused_with_one_line(tmp_path, executor, value):
    proc = run_cli(
        "objective=quadratic",
        "strategy=random",
        f"executor={executor}",
        f"executor.timeout_s={value}",
        "carbon=fixed",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("bobench: error: executor.timeout_s: ") and proc.stderr.count("\n") == 1
