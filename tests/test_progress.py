"""What a run shows while it goes on and when its evaluations fail: log lines off a terminal,
the summary's failure line, and ``fail_fast``."""

from __future__ import annotations

import io
import json
import os

import pytest

from bench.driver import Driver, format_summary
from bench.failures import RunFailed, describe, failing_from_the_start, first_failure
from bench.progress import BarProgress, LogProgress, Progress, open_progress
from tests.conftest import final_results, read_journal, run_cli


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- log lines ----------------------------------------------------------------------------------
def test_slow_evaluations_get_one_line_each_with_the_count_and_the_best():
    out, clock = io.StringIO(), Clock()
    progress = LogProgress(total=3, desc="quadratic", stream=out, every_s=5.0, clock=clock)
    for n, (failed, best) in enumerate([(1, None), (1, 0.5), (1, 0.25)], start=1):
        clock.now += 6.0
        progress.update(n, failed, best)
    progress.close()
    assert out.getvalue().splitlines() == [
        "bobench: quadratic 1/3 evaluations (1 failed), no value yet, 6.0 s",
        "bobench: quadratic 2/3 evaluations (1 failed), best 0.5, 12.0 s",
        "bobench: quadratic 3/3 evaluations (1 failed), best 0.25, 18.0 s",
    ]


def test_fast_evaluations_get_at_most_one_line_per_interval_and_always_the_last():
    out, clock = io.StringIO(), Clock()
    progress = LogProgress(total=None, desc="branin", stream=out, every_s=5.0, clock=clock)
    for n in range(1, 21):  # one evaluation every second for 20 s
        clock.now = float(n)
        progress.update(n, 0, 1.0 / n)
    progress.close()
    lines = out.getvalue().splitlines()
    assert [ln.split()[2] for ln in lines] == ["1", "6", "11", "16", "20"]
    assert lines[-1] == "bobench: branin 20 evaluations, best 0.05, 20.0 s"


def test_close_adds_nothing_when_the_last_evaluation_was_shown():
    out, clock = io.StringIO(), Clock()
    progress = LogProgress(total=1, desc="q", stream=out, clock=clock)
    progress.update(1, 0, 2.0)
    progress.close()
    assert len(out.getvalue().splitlines()) == 1


def test_auto_is_a_bar_on_a_terminal_and_log_lines_elsewhere():
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as tty:
        assert isinstance(open_progress("auto", 5, 0, "q", stream=tty), BarProgress)
    os.close(leader)
    assert isinstance(open_progress("auto", 5, 0, "q", stream=io.StringIO()), LogProgress)
    assert isinstance(open_progress(True, 5, 0, "q", stream=io.StringIO()), BarProgress)
    off = open_progress(False, 5, 0, "q", stream=io.StringIO())
    assert type(off) is Progress


def test_a_run_off_a_terminal_logs_its_progress_to_stderr(tmp_path):
    proc = run_cli(
        "objective=quadratic",
        "strategy=random",
        "budget.evaluations=3",
        "carbon=off",
        "hydra.run.dir=run",
        cwd=tmp_path,
        check=True,
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("bobench: quadratic ")]
    assert lines[0].startswith("bobench: quadratic 1/3 evaluations, best ")
    assert lines[-1].startswith("bobench: quadratic 3/3 evaluations, best ")
    best = json.loads((tmp_path / "run" / "summary.json").read_text())["best_value"]
    assert f"best {best:.4g}," in lines[-1]


# -- failures -----------------------------------------------------------------------------------
def _final(status, message=None):
    return {"status": status, "message": message}


def test_failures_are_grouped_by_the_first_line_of_their_message():
    finals = [
        _final("ok"),
        _final("error", "ValueError: bad lr\nTraceback (most recent call last):\n  ..."),
        _final("diverged", "objective returned nan"),
        _final("error", "ValueError: bad lr\nTraceback (most recent call last):\n  other frames"),
        _final("timeout", "ran past 10 s"),
    ]
    assert first_failure(finals) == ("ValueError: bad lr", 2)
    assert first_failure([_final("ok")]) is None
    assert describe(4, "ValueError: bad lr", 2) == "4 failed: 2 x ValueError: bad lr, 2 otherwise"
    assert describe(3, "ValueError: bad lr", 3) == "3 failed: 3 x ValueError: bad lr"
    assert describe(0, None, 0) is None


def test_fail_fast_needs_the_first_k_to_fail_the_same_way():
    boom = _final("error", "RuntimeError: boom\n...")
    assert failing_from_the_start([boom] * 3, 3) == "RuntimeError: boom"
    assert failing_from_the_start([boom] * 2, 3) is None  # not k yet
    assert failing_from_the_start([boom, boom, _final("ok")], 3) is None
    assert failing_from_the_start([boom, boom, _final("error", "KeyError: 'x'")], 3) is None
    assert failing_from_the_start([boom] * 3, 0) is None  # off
    assert failing_from_the_start([_final("timeout", "ran past 1 s")] * 2, 2) == "timeout: ran past 1 s"


def test_the_summary_names_the_first_error_and_how_many_failed_alike(compose, tmp_path):
    cfg = compose(
        "objective=faulty",
        "objective.fault=raise",
        "objective.above=0.5",
        "strategy=grid",
        "strategy.points=4",
        "budget.evaluations=16",
        "progress=false",
    )
    summary = Driver(cfg, tmp_path / "run").run()
    n_bad = sum(r["status"] != "ok" for r in final_results(read_journal(tmp_path / "run")))
    assert n_bad > 0 and summary["n_failed"] == n_bad
    assert summary["first_failure"] == "RuntimeError: injected failure"
    assert summary["first_failure_count"] == n_bad
    assert f"  {n_bad} failed: {n_bad} x RuntimeError: injected failure" in format_summary(summary, tmp_path / "run")


def test_fail_fast_stops_a_run_whose_first_evaluations_all_fail_alike(compose, tmp_path):
    cfg = compose(
        "objective=faulty",
        "objective.above=-1",  # every point fails
        "strategy=random",
        "budget.evaluations=20",
        "fail_fast=3",
        "progress=false",
    )
    with pytest.raises(RunFailed, match=r"^the first 3 evaluations all failed with RuntimeError: injected failure"):
        Driver(cfg, tmp_path / "run").run()
    records = read_journal(tmp_path / "run")
    assert len(final_results(records)) == 3
    assert records[-1]["event"] == "end"
    assert records[-1]["reason"] == "failed (first 3 evaluations: RuntimeError: injected failure)"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == records[-1]["reason"]


def test_fail_fast_zero_runs_every_evaluation(compose, tmp_path):
    cfg = compose("objective=faulty", "objective.above=-1", "strategy=random", "budget.evaluations=6", "fail_fast=0")
    summary = Driver(cfg, tmp_path / "run").run()
    assert summary["n_evals"] == summary["n_failed"] == 6 and summary["status"] == "budget.evaluations"


def test_fail_fast_from_the_command_line_is_one_line_and_a_non_zero_exit(tmp_path):
    proc = run_cli(
        "objective=faulty", "objective.above=-1", "strategy=random", "carbon=off", "hydra.run.dir=run", cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("bobench: error:")]
    assert errors == [
        "bobench: error: the first 5 evaluations all failed with RuntimeError: injected failure; the run stopped "
        f"(fail_fast=5; fail_fast=0 goes on): {tmp_path / 'run'}"
    ]
    assert proc.stderr.splitlines()[-1] == errors[0]
