"""Preemption on the real local Slurm (scripts/slurm/start.sh), as on cloud spot capacity.

A job requeued mid-evaluation (``scontrol requeue``, what a preemption with ``PreemptMode=REQUEUE``
does), a node drained under a running job and a node that goes down under one: each evaluation
ends with exactly one final result, and the CNN continues from its last epoch's checkpoint.

The evaluations wait on a file the test writes (a gate), never on the clock, so nothing here
depends on how fast the machine is. Slurm holds a requeued job back for two minutes before it may
start again (its ``BeginTime``); once the job is pending, after its first start has ended, the
tests move that time to now with ``scontrol update`` rather than wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pandas as pd
import pytest
import submitit
from submitit.core import utils as submitit_utils

from bench.evaluate import evaluate
from bench.executors import slurm_state
from bench.executors.slurm import SlurmExecutor, _earlier_result, _Tracked
from bench.records import CRASHED, OK, Outcome, Task
from objectives.cnn import CNNObjective
from tests.conftest import final_results, read_journal, slurm_available, start_cli

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the gated CNN below travels to the jobs

needs_slurm = pytest.mark.skipif(
    not slurm_available(), reason="no Slurm cluster answers (start one with: bash scripts/slurm/start.sh)"
)
#: How long a test waits for the cluster before it gives up: a guard against a hang, never a
#: measure of speed (on a loaded machine a job may take a minute to start Python).
PATIENCE_S = 300.0
FAST = ["executor.poll_interval_s=0.3", "carbon=fixed", "progress=false"]

#: A user's function that waits at a gate: the k-th start of any job (counted in starts/) goes on
#: once the file ``gate`` holds a number >= k.
GATED = """
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def gated(x: float) -> float:
    starts = HERE / "starts"
    starts.mkdir(exist_ok=True)
    k = len(list(starts.iterdir())) + 1
    (starts / f"{k}-{os.getpid()}").write_text(os.environ.get("SLURM_JOB_ID", ""))
    end = time.time() + 600
    while time.time() < end:
        try:
            if int((HERE / "gate").read_text()) >= k:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return (x - 0.3) ** 2
"""


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, limit_s: float = PATIENCE_S):
    end = time.time() + limit_s
    while not (value := predicate()):
        assert proc is None or proc.poll() is None, proc.communicate()
        assert time.time() < end, f"gave up waiting for {what}"
        time.sleep(0.2)
    return value


def state(job_id: str) -> str | None:
    return (slurm_state.squeue_states([job_id]) or {}).get(job_id)


def node() -> str:
    return subprocess.run(["sinfo", "-h", "-o", "%N"], capture_output=True, text=True, check=True).stdout.split()[0]


def node_state() -> str:
    return subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=True).stdout.strip()


def set_node(new_state: str) -> None:
    subprocess.run(
        ["scontrol", "update", f"nodename={node()}", f"state={new_state}", "reason=bobench-preemption-test"],
        check=True,
    )


def back_in_service() -> None:
    """Resumes the node (an idle one refuses; that is fine) and waits until it takes jobs."""
    subprocess.run(["scontrol", "update", f"nodename={node()}", "state=resume"], capture_output=True)
    wait_for(lambda: node_state() in ("idle", "mixed", "allocated"), "the node back in service")


def requeue(job_id: str) -> None:
    """``scontrol requeue``; once the job waits in the queue again, lets it start at once."""
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    wait_for(lambda: state(job_id) == "PENDING", f"job {job_id} pending again")
    subprocess.run(["scontrol", "update", f"jobid={job_id}", "starttime=now"], check=True)


def starts(folder: Path) -> list[tuple[int, str]]:
    """(k, Slurm job id) of every start of the gated function so far."""
    found = [(int(p.name.split("-")[0]), p.read_text()) for p in (folder / "starts").glob("*-*")]
    return sorted(found) if (folder / "starts").is_dir() else []


def open_gate(folder: Path, k: int) -> None:
    (folder / "gate.tmp").write_text(str(k))
    (folder / "gate.tmp").replace(folder / "gate")


def job_records(run_dir: Path) -> list[dict]:
    return [r for r in read_journal(run_dir) if r["event"] == "job"] if (run_dir / "journal.jsonl").exists() else []


def results_by_eval(run_dir: Path) -> dict[int, list[tuple[str, bool, int, str]]]:
    out: dict[int, list[tuple[str, bool, int, str]]] = {}
    for r in read_journal(run_dir):
        if r["event"] == "result":
            out.setdefault(r["eval_id"], []).append((r["status"], r["final"], r["attempt"], r["job_id"]))
    return out


# --------------------------------------------------------------------- no cluster needed
def test_a_job_held_after_a_failed_launch_is_told_apart_from_a_pending_one():
    # squeue -o '%i|%T|%r' and scontrol's Reason= (underscores), as the local cluster wrote them.
    text = "692|PENDING|launch failed requeued held\n693|PENDING|BeginTime\n694|PENDING|JobHeldUser\n692.batch|X|"
    assert slurm_state.parse_states(text) == {
        "692": slurm_state.LAUNCH_FAILED_HELD,
        "693": "PENDING",
        "694": "PENDING",  # a hold someone chose: waited for
    }
    assert slurm_state.with_reason("PENDING", "launch_failed_requeued_held") == slurm_state.LAUNCH_FAILED_HELD
    assert slurm_state.parse_states("682|CANCELLED by 0") == {"682": "CANCELLED"}  # sacct's two columns


@pytest.mark.parametrize("held", [slurm_state.LAUNCH_FAILED_HELD, "SPECIAL_EXIT"])
def test_a_job_held_after_a_failure_is_reported_crashed_not_waited_for(tmp_path, held):
    ex = SlurmExecutor(folder=tmp_path)  # judging needs no cluster (scancel of an unknown id does nothing)
    tracked = _Tracked(Task(2, {"x": 0.1}, seed=2), submitit.SlurmJob(folder=tmp_path, job_id="987654323"), 0.0, 0.0)
    outcome = ex._judge(tracked, held, time.time())
    assert outcome is not None and (outcome.status, outcome.eval_id, outcome.retryable) == (CRASHED, 2, True)
    assert "held in the queue after" in outcome.message and "cancelled" in outcome.message
    assert ex._judge(tracked, "PENDING", time.time()) is None  # an ordinary pending job is waited for


def test_a_restarted_job_returns_the_result_its_earlier_start_left(tmp_path):
    task = Task(3, {"x": 0.5}, seed=3, attempt=1)
    path = tmp_path / "7_0_result.pkl"
    assert _earlier_result(path, task) is None  # none yet: the job evaluates
    done = Outcome(eval_id=3, status=OK, value=0.25, attempt=1, job_id="7", t_start=1.0, t_end=2.0)
    submitit_utils.cloudpickle_dump(("success", done), path)  # as submitit writes it
    assert _earlier_result(path, task) == done
    assert _earlier_result(path, Task(3, {"x": 0.5}, seed=3, attempt=2)) is None  # another attempt's
    submitit_utils.cloudpickle_dump(("error", "Traceback ..."), path)
    assert _earlier_result(path, task) is None


# --------------------------------------------------------------------- real cluster
@pytest.mark.slurm
@needs_slurm
def test_a_requeued_job_and_a_drained_node_each_end_with_one_result_and_the_run_finishes(tmp_path):
    (tmp_path / "gate_fn.py").write_text(GATED)
    proc = start_cli(
        "objective=function",
        "objective.target=gate_fn:gated",
        f"objective.path=[{tmp_path}]",
        "+objective.space.x={type: float, low: 0.0, high: 1.0}",
        "strategy=random",
        "executor=slurm",
        "executor.max_requeue=1",
        "workers=1",
        "budget.evaluations=2",
        *FAST,
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    run_dir = tmp_path / "run"
    try:
        # Evaluation 0: its job is requeued mid-evaluation and starts again under the same id.
        (_, first_job), *_ = wait_for(lambda: starts(tmp_path), "the first start", proc)
        requeue(first_job)
        wait_for(lambda: len(starts(tmp_path)) == 2, "the requeued job's second start", proc)
        assert starts(tmp_path)[1][1] == first_job
        # The node is drained under it (spot capacity about to go): the running job goes on...
        set_node("drain")
        open_gate(tmp_path, 2)
        # ...and the next evaluation's job waits for a node, until the node is back.
        (_, second) = wait_for(lambda: len(job_records(run_dir)) == 2 and job_records(run_dir), "a second job", proc)
        assert state(second["job_id"]) == "PENDING" and len(starts(tmp_path)) == 2
        back_in_service()
        open_gate(tmp_path, 3)
        _, err = proc.communicate(timeout=PATIENCE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        back_in_service()
    assert proc.returncode == 0, err
    results = results_by_eval(run_dir)
    assert results == {0: [(OK, True, 0, first_job)], 1: [(OK, True, 0, second["job_id"])]}
    submits = [r for r in read_journal(run_dir) if r["event"] == "submit"]
    assert [(r["eval_id"], r["attempt"]) for r in submits] == [(0, 0), (1, 0)]  # nothing ran twice
    finals = {r["eval_id"]: r for r in final_results(read_journal(run_dir))}
    assert f"Slurm requeued job {first_job} 1 time(s)" in finals[0]["message"]
    assert (run_dir / "submitit" / f"{first_job}_bobench_start").read_text().count("\n") == 2
    table = pd.read_csv(run_dir / "results.csv", dtype={"job_id": str})
    assert list(table["eval_id"]) == [0, 1] and list(table["status"]) == [OK, OK]
    assert json.loads((run_dir / "summary.json").read_text())["n_evals"] == 2


class GatedCNN(CNNObjective):
    """The CNN, waiting after the checkpoint of epoch 1 until the file ``gate`` exists (its pid in ``gate.pid``)."""

    gate: str = ""

    def _save(self, torch, path, key, epoch, *state):
        super()._save(torch, path, key, epoch, *state)
        if epoch == 1:
            Path(f"{self.gate}.pid").write_text(str(os.getpid()))
            end = time.time() + 600
            while not Path(self.gate).exists() and time.time() < end:
                time.sleep(0.1)


CNN = {
    "dataset": "digits",
    "epochs": 3,
    "max_train_images": 200,
    "channels": [4, 8],
    "hidden": 16,
    "dropout": 0.3,
    "device": "cpu",
    "threads": 1,
}
LR = {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}


@pytest.mark.slurm
@needs_slurm
def test_a_cnn_whose_node_goes_down_mid_training_continues_from_its_last_epoch(tmp_path):
    task = Task(0, {"lr": 3e-3}, seed=2)
    whole = CNNObjective(LR, **CNN)
    whole.set_run_dir(tmp_path / "whole")
    uninterrupted = evaluate(whole, task, 0.0, "here")  # the same evaluation, never stopped
    objective = GatedCNN(LR, **CNN)
    objective.gate = str(tmp_path / "gate")
    objective.set_run_dir(tmp_path / "run")
    ex = SlurmExecutor(workers=1, folder=tmp_path / "run" / "submitit", poll_interval_s=0.3, deadline_s=5.0)
    ex.start(objective, time.time())
    saved = tmp_path / "run" / "evals" / "0" / "checkpoint.pt"
    try:
        job = ex.submit(task)
        wait_for(saved.exists, "the checkpoint of epoch 1")
        set_node("down")  # the spot node is taken away: Slurm kills the job (NODE_FAIL)
        (first,) = ex.wait(timeout=PATIENCE_S)
        assert (first.status, first.job_id, first.retryable) == (CRASHED, job, True), first
        assert "NODE_FAIL" in first.message
        back_in_service()
        killed = int((tmp_path / "gate.pid").read_text())  # gone before the retry may go on
        wait_for(lambda: not Path(f"/proc/{killed}").exists(), "the first job's end on the node")
        (tmp_path / "gate").write_text("")
        retry = ex.submit(Task(0, task.params, task.seed, attempt=1))  # as the driver retries it
        (second,) = ex.wait(timeout=PATIENCE_S)
    finally:
        ex.close()
        back_in_service()
    assert (second.status, second.attempt, second.job_id) == (OK, 1, retry), second
    assert second.metrics["resumed_from_epoch"] == 1
    assert second.value == uninterrupted.value  # on the CPU, as if it had never been stopped
    for key in ("train_loss", "val_loss", "val_accuracy", "test_accuracy"):
        assert second.metrics[key] == uninterrupted.metrics[key], key
    assert not saved.exists()  # finished: its checkpoint is gone
