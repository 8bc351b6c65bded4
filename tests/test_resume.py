"""Kill the driver with SIGKILL mid-run, resume, and nothing is lost or counted twice."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter

import numpy as np
import pytest

from tests.conftest import final_results, read_journal, run_cli, start_cli, wait_until

FAST_EI = ["strategy=ei", "strategy.num_restarts=2", "strategy.raw_samples=32", "strategy.n_initial=2"]


def kill_after(proc, run_dir, n_results, event="result"):
    """SIGKILLs the driver once its journal holds ``n_results`` records of ``event``."""
    journal = run_dir / "journal.jsonl"

    def done():
        return journal.exists() and journal.read_text().count(f'"event":"{event}"') >= n_results

    wait_until(done, proc, journal)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def proposals(run_dir):
    by_id = {}
    for r in read_journal(run_dir):
        if r["event"] == "submit":
            by_id.setdefault(r["eval_id"], r["x"])
    return [by_id[i] for i in sorted(by_id)]


@pytest.mark.slow
@pytest.mark.parametrize(("executor", "workers", "mode"), [("inline", 1, "sync"), ("local", 2, "async")])
def test_sigkill_then_resume_loses_nothing_and_counts_nothing_twice(tmp_path, executor, workers, mode):
    args = [
        "objective=quadratic",
        "objective.sleep_s=0.2",
        *FAST_EI,
        "budget.evaluations=10",
        f"executor={executor}",
        f"workers={workers}",
        f"mode={mode}",
        "hydra.run.dir=run",
    ]
    kill_after(start_cli(*args, cwd=tmp_path), tmp_path / "run", n_results=4)
    before = final_results(read_journal(tmp_path / "run"))
    proc = run_cli("resume=run", cwd=tmp_path, check=True)
    assert "evaluations: 10" in proc.stdout
    records = read_journal(tmp_path / "run")
    finals = final_results(records)
    counts = Counter(r["eval_id"] for r in finals)
    assert sorted(counts) == list(range(10)) and set(counts.values()) == {1}
    # Finished evaluations were not run again: their records are the ones from before the kill.
    assert all(any(b == f for f in finals) for b in before)
    resume = [r for r in records if r["event"] == "resume"]
    assert len(resume) == 1 and resume[0]["n_finished"] == len(before)
    reruns = [r for r in records if r["event"] == "submit" and r["attempt"] > 0]
    assert sorted(r["eval_id"] for r in reruns) == sorted(resume[0]["rerun"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_evals"] == 10 and summary["status"] == "budget.evaluations"


@pytest.mark.slow
def test_proposals_after_resume_are_those_of_an_uninterrupted_run(tmp_path):
    args = ["objective=quadratic", "objective.sleep_s=0.2", *FAST_EI, "budget.evaluations=8", "seed=5"]
    run_cli(*args, "hydra.run.dir=straight", cwd=tmp_path, check=True)
    kill_after(start_cli(*args, "hydra.run.dir=killed", cwd=tmp_path), tmp_path / "killed", n_results=3)
    run_cli("resume=killed", cwd=tmp_path, check=True)
    np.testing.assert_allclose(proposals(tmp_path / "killed"), proposals(tmp_path / "straight"), atol=1e-6)


def test_resume_with_a_changed_config_is_refused_unless_forced(tmp_path):
    run_cli(
        "objective=quadratic", "strategy=random", "budget.evaluations=3", "hydra.run.dir=run", cwd=tmp_path, check=True
    )
    proc = run_cli("resume=run", "objective.centre=0.5", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "bobench: error: resume: the config differs from the run's at 'objective.centre'; "
        "resume with the same config, or add force=true"
    )
    # A larger budget is not a different experiment: the run carries on.
    proc = run_cli("resume=run", "budget.evaluations=5", cwd=tmp_path, check=True)
    assert len(final_results(read_journal(tmp_path / "run"))) == 5
    proc = run_cli("resume=run", "objective.centre=0.5", "force=true", "budget.evaluations=6", cwd=tmp_path, check=True)
    records = read_journal(tmp_path / "run")
    assert len(final_results(records)) == 6
    assert [r["config_changed_at"] for r in records if r["event"] == "resume"][-1] == "objective.centre"


def test_workers_do_not_outlive_a_killed_driver(tmp_path):
    import psutil

    proc = start_cli(
        "objective=quadratic",
        "objective.sleep_s=30",
        "strategy=random",
        "executor=local",
        "workers=2",
        "mode=async",
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    deadline = time.time() + 60
    while sum('"event":"submit"' in ln for ln in _lines(tmp_path / "run" / "journal.jsonl")) < 2:
        assert time.time() < deadline
        time.sleep(0.1)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_driver_energy_after_resume_counts_every_life(tmp_path):
    run_cli(
        "objective=quadratic",
        "strategy=random",
        "carbon=fixed",
        "budget.evaluations=3",
        "hydra.run.dir=run",
        cwd=tmp_path,
        check=True,
    )
    first = json.loads((tmp_path / "run" / "summary.json").read_text())["carbon"]["driver"]["energy_kwh"]
    run_cli("resume=run", "budget.evaluations=6", cwd=tmp_path, check=True)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    decisions = [r["decision_kwh"] for r in read_journal(tmp_path / "run") if r["event"] == "submit"]
    assert len(decisions) == 6 and all(d > 0 for d in decisions)
    assert summary["carbon"]["driver"]["energy_kwh"] == pytest.approx(sum(decisions))
    assert summary["carbon"]["driver"]["energy_kwh"] > first > 0
    evals = summary["carbon"]["evaluations"]["energy_kwh"]
    assert summary["energy_kwh"] == pytest.approx(evals + sum(decisions))
