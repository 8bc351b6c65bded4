"""The whole harness on the real local Slurm cluster (scripts/slurm/start.sh; .ci/run starts it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.conftest import final_results, read_journal, run_cli, slurm_available, start_cli

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not slurm_available(), reason="no Slurm cluster answers (start one with: bash scripts/slurm/start.sh)"
    ),
]
FAST = ["executor.poll_interval_s=0.3", "carbon=fixed"]
#: How long a test waits for a run or a job before it gives up: a guard against a hang, never a
#: measure of speed (on a loaded machine a Slurm job may take a minute to start Python).
PATIENCE_S = 300.0


def test_async_ts_on_slurm_records_each_evaluations_job_id(tmp_path):
    run_cli(
        "objective=quadratic",
        "strategy=async_ts",
        "strategy.num_restarts=2",
        "strategy.raw_samples=32",
        "executor=slurm",
        "workers=2",
        "mode=async",
        "budget.evaluations=5",
        *FAST,
        "hydra.run.dir=run",
        cwd=tmp_path,
        check=True,
    )
    df = pd.read_csv(tmp_path / "run" / "results.csv", dtype={"job_id": str})
    assert len(df) == 5 and (df["status"] == "ok").all()
    assert df["job_id"].str.fullmatch(r"\d+").all() and df["job_id"].nunique() == 5
    assert (df["worker"].astype(str) == df["job_id"]).all()
    assert oct((tmp_path / "run" / "submitit").stat().st_mode & 0o777) == "0o700"


def test_a_multirun_through_the_submitit_launcher(tmp_path):
    run_cli(
        "-m",
        "experiment=slurm_sweep",
        "objective=quadratic",
        "strategy=grid,random",
        "seed=0,1",
        "budget.evaluations=3",
        "carbon=fixed",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        check=True,
        timeout=600,
    )
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "sweep").rglob("summary.json")]
    assert sorted((s["strategy"], s["seed"]) for s in summaries) == [
        ("grid", 0),
        ("grid", 1),
        ("random", 0),
        ("random", 1),
    ]
    assert all(s["n_evals"] == 3 for s in summaries)


def _wait_for(predicate, proc, timeout=PATIENCE_S):
    deadline = time.time() + timeout
    while not predicate():
        assert proc is None or proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.2)


def _job_records(run_dir):
    journal = run_dir / "journal.jsonl"
    return [r for r in read_journal(run_dir) if r["event"] == "job"] if journal.exists() else []


def test_a_scancelled_evaluation_is_recorded_cancelled_and_retried(tmp_path):
    args = [
        "objective=quadratic",
        "objective.sleep_s=4",
        "strategy=random",
        "executor=slurm",
        "workers=2",
        "mode=async",
        "budget.evaluations=3",
        *FAST,
        "hydra.run.dir=run",
    ]
    proc = start_cli(*args, cwd=tmp_path)
    _wait_for(lambda: len(_job_records(tmp_path / "run")) >= 1, proc)
    victim = _job_records(tmp_path / "run")[0]
    subprocess.run(["scancel", victim["job_id"]], check=True)
    _, err = proc.communicate(timeout=2 * PATIENCE_S)
    assert proc.returncode == 0, err
    records = read_journal(tmp_path / "run")
    mine = [r for r in records if r["event"] == "result" and r["eval_id"] == victim["eval_id"]]
    assert [(r["status"], r["final"]) for r in mine] == [("cancelled", False), ("ok", True)]
    assert len(final_results(records)) == 3


def test_a_killed_driver_reattaches_to_its_running_jobs_on_resume(tmp_path):
    args = [
        "objective=quadratic",
        "objective.sleep_s=8",
        "strategy=random",
        "executor=slurm",
        "workers=2",
        "mode=async",
        "budget.evaluations=3",
        *FAST,
        "hydra.run.dir=run",
    ]
    proc = start_cli(*args, cwd=tmp_path)
    _wait_for(lambda: len(_job_records(tmp_path / "run")) >= 2, proc)
    running = {r["eval_id"]: r["job_id"] for r in _job_records(tmp_path / "run")}
    os.kill(proc.pid, signal.SIGKILL)  # the driver dies; its Slurm jobs run on
    proc.wait()
    run_cli("resume=run", "executor.poll_interval_s=0.3", cwd=tmp_path, check=True, timeout=300)
    records = read_journal(tmp_path / "run")
    attached = {r["eval_id"]: r["job_id"] for r in records if r["event"] == "attach"}
    assert attached == running
    for eval_id in running:  # followed, not run again
        assert [r["attempt"] for r in records if r["event"] == "submit" and r["eval_id"] == eval_id] == [0]
    finals = final_results(records)
    assert len(finals) == 3 and all(r["status"] == "ok" for r in finals)
    assert {r["eval_id"]: r["job_id"] for r in finals if r["eval_id"] in running} == running
