"""The loop, in-process, on cheap objectives: budgets, modes, failures, seeds."""

from __future__ import annotations

import math

import pytest

from bench.driver import Driver
from bench.errors import UserError
from bench.records import CRASHED, DIVERGED, ERROR, INVALID, OK
from bench.run_folder.state import RunState
from tests.conftest import final_results, read_journal


def run(compose, tmp_path, *overrides, name="run"):
    cfg = compose("objective=quadratic", "progress=false", *overrides)
    summary = Driver(cfg, tmp_path / name).run()
    return summary, read_journal(tmp_path / name)


def test_sync_batches_wait_for_the_whole_batch(compose, tmp_path):
    summary, records = run(
        compose, tmp_path, "strategy=random", "workers=3", "mode=sync", "budget.evaluations=7", "executor=inline"
    )
    assert summary["n_evals"] == 7
    # Submits come in batches of 3, 3, 1: every batch's results precede the next batch's submits.
    events = [r["event"] for r in records if r["event"] in ("submit", "result")]
    assert events == ["submit"] * 3 + ["result"] * 3 + ["submit"] * 3 + ["result"] * 3 + ["submit", "result"]


def test_async_keeps_every_worker_busy(compose, tmp_path):
    summary, records = run(
        compose,
        tmp_path,
        "strategy=random",
        "workers=2",
        "mode=async",
        "budget.evaluations=5",
        "executor=local",
        "objective.sleep_s=0.05",
    )
    assert summary["n_evals"] == 5
    events = [r["event"] for r in records if r["event"] in ("submit", "result")]
    assert events[:2] == ["submit", "submit"]
    running = submitted = 0
    previous = None
    for event in events:
        if event == "submit":
            running, submitted = running + 1, submitted + 1
            assert running <= 2
        else:
            # The driver waits only with every worker busy (until the budget is all submitted);
            # one wait may bring back several results.
            if previous == "submit":
                assert running == 2 or submitted == 5
            running -= 1
        previous = event


def test_same_seed_same_proposals_other_seed_others(compose, tmp_path):
    def params(seed, name):
        _, records = run(compose, tmp_path, "strategy=random", f"seed={seed}", "budget.evaluations=4", name=name)
        return [r["params"] for r in records if r["event"] == "submit"]

    first = params(1, "a")
    assert first == params(1, "b")
    assert first != params(2, "c")


def test_budget_in_seconds_stops_proposing(compose, tmp_path):
    summary, _ = run(
        compose, tmp_path, "strategy=random", "budget.evaluations=null", "budget.seconds=0.5", "objective.sleep_s=0.2"
    )
    assert 2 <= summary["n_evals"] <= 4
    assert summary["status"] == "budget.seconds"


@pytest.mark.parametrize(
    ("fault", "status"),
    [("raise", ERROR), ("nan", DIVERGED), ("inf", DIVERGED), ("none_value", INVALID), ("string", INVALID)],
)
def test_objective_faults_become_records_and_never_stop_the_run(compose, tmp_path, fault, status):
    summary, records = run(
        compose,
        tmp_path,
        "objective=faulty",
        f"objective.fault={fault}",
        "strategy=grid",
        "strategy.points=4",
        "budget.evaluations=16",
    )
    finals = final_results(records)
    assert len(finals) == 16 == len({r["eval_id"] for r in finals})
    bad = [r for r in finals if r["status"] != OK]
    assert bad and all(r["status"] == status and r["message"] for r in bad)
    assert summary["n_failed"] == len(bad)
    assert all(r["value"] is None for r in bad)


def test_a_dead_worker_is_retried_then_recorded(compose, tmp_path):
    once = tmp_path / "crashed-once"
    _, records = run(
        compose,
        tmp_path,
        "objective=faulty",
        "objective.fault=sigkill",
        f"objective.once_file={once}",
        "strategy=grid",
        "strategy.points=3",
        "budget.evaluations=9",
        "executor=local",
        "workers=2",
        "mode=async",
    )
    crashed = [r for r in records if r["event"] == "result" and r["status"] == CRASHED]
    assert len(crashed) == 1 and crashed[0]["final"] is False and "killed by signal 9" in crashed[0]["message"]
    finals = final_results(records)
    assert sorted(r["eval_id"] for r in finals) == list(range(9))
    assert all(r["status"] == OK for r in finals)  # the retry succeeded
    retried = [r for r in finals if r["eval_id"] == crashed[0]["eval_id"]]
    assert retried[0]["attempt"] == 1


def test_a_worker_that_always_dies_is_recorded_as_crashed_after_retries(compose, tmp_path):
    summary, records = run(
        compose,
        tmp_path,
        "objective=faulty",
        "objective.fault=exit",
        "strategy=grid",
        "strategy.points=2",
        "budget.evaluations=4",
        "executor=local",
        "workers=2",
        "retries=1",
    )
    finals = final_results(records)
    assert len(finals) == 4
    crashed = [r for r in finals if r["status"] == CRASHED]
    assert len(crashed) == 2 and all(r["attempt"] == 1 for r in crashed)
    assert summary["n_failed"] == 2


def test_diverged_points_are_shown_to_the_model_as_worse_than_the_worst(compose, tmp_path):
    _, records = run(
        compose,
        tmp_path,
        "objective=faulty",
        "objective.fault=nan",
        "objective.above=0.2",
        "strategy=grid",
        "strategy.points=4",
        "budget.evaluations=8",
    )
    state = RunState.from_records(records)
    history = state.history(dim=2)
    ok_values = [r["value"] for r in final_results(records) if r["status"] == OK]
    n_div = sum(r["status"] == DIVERGED for r in final_results(records))
    assert n_div > 0 and len(history) == len(ok_values) + n_div
    imputed = history.y[len(ok_values) :]
    assert all(v > max(ok_values) for v in imputed)
    assert all(math.isfinite(v) for v in history.y)


def test_timeout_kills_a_hung_evaluation_and_its_children(compose, tmp_path):
    import psutil

    _, records = run(
        compose,
        tmp_path,
        "objective=faulty",
        "objective.fault=children",
        "strategy=grid",
        "strategy.points=2",
        "budget.evaluations=4",
        "executor=local",
        "workers=2",
        "executor.timeout_s=2",
    )
    finals = final_results(records)
    assert sorted(r["status"] for r in finals) == ["ok", "ok", "timeout", "timeout"]
    # A leftover child would be an orphan; children of other tests' live workers are not.
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline", "ppid"])
        if "time.sleep(3600)" in " ".join(p.info["cmdline"] or [])
        and (p.info["ppid"] == 1 or not psutil.pid_exists(p.info["ppid"]))
    ]
    assert leftovers == []


def test_existing_run_folder_is_not_overwritten(compose, tmp_path):
    run(compose, tmp_path, "strategy=random", "budget.evaluations=2")
    with pytest.raises(UserError, match="already holds a run; continue it with resume="):
        run(compose, tmp_path, "strategy=random", "budget.evaluations=2")


def test_results_csv_and_summary_follow_the_contract(compose, tmp_path):
    import json

    import pandas as pd

    run(compose, tmp_path, "strategy=random", "budget.evaluations=5")
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    for col in (
        "eval_id",
        "status",
        "value",
        "param.x1",
        "param.x2",
        "metric.true_value",
        "worker",
        "t_submit",
        "t_start",
        "t_end",
        "duration_s",
        "decision_s",
        "energy_kwh",
        "co2_kg",
        "regret",
        "best_so_far",
    ):
        assert col in df.columns, col
    assert (df["best_so_far"].diff().dropna() <= 0).all()
    assert (df["regret"] >= 0).all()
    assert (df["t_end"] >= df["t_start"]).all() and (df["t_start"] >= df["t_submit"] - 1e-6).all()
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["n_evals"] == 5 and on_disk["best_value"] == pytest.approx(df["value"].min())
    assert on_disk["final_regret"] == pytest.approx(df["regret"].iloc[-1])
