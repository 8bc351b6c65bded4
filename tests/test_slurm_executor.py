"""SlurmExecutor against a real Slurm cluster (``bash scripts/slurm/start.sh`` starts one).

The objectives below are pickled by value (cloudpickle), so the jobs only need ``bench``
importable: they run with the same Python, from the same working directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

from bench.errors import UserError
from bench.executors import slurm_state
from bench.executors.slurm import SlurmExecutor
from bench.objective import Evaluation, Objective
from bench.records import CANCELLED, CRASHED, LOST, OK, TIMEOUT, Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])

REPO = Path(__file__).resolve().parents[1]
SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0}}
SECRET = "fake-aws-secret-7f3a9c1e"
#: How long a test waits for the cluster before it gives up: a guard against a hang, never a
#: measure of speed. A job on a loaded machine (tests run in parallel, CI builds a container
#: meanwhile) may take a minute to start Python; the assertions hold however slow it is.
PATIENCE_S = 300.0


def _cluster_reason() -> str | None:
    if shutil.which("sinfo") is None:
        return "Slurm is not installed: run `bash scripts/slurm/start.sh` first"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo did not answer ({exc}): run `bash scripts/slurm/start.sh` first"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"no Slurm cluster answers sinfo ({proc.stderr.strip()[:120]}): run `bash scripts/slurm/start.sh` first"
    return None


_REASON = _cluster_reason()
needs_slurm = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


class Probe(Objective):
    """Sleeps, then reports x² and what the job's environment looks like."""

    def __init__(self, space, sleep_s: float = 0.2, exit_code: int | None = None):
        super().__init__(space, "probe")
        self.sleep_s = sleep_s
        self.exit_code = exit_code

    def __call__(self, params, seed):
        time.sleep(self.sleep_s)
        if self.exit_code is not None:
            os._exit(self.exit_code)  # the worker process dies
        return Evaluation(
            float(params["x"]) ** 2,
            {
                # (the probe must not hold the secret: it is pickled by value into the job)
                "secret_seen": "AWS_SECRET_ACCESS_KEY" in os.environ,
                "passed": os.environ.get("BOBENCH_TEST_PASSTHROUGH"),
                "job_env_id": os.environ.get("SLURM_JOB_ID"),
                "omp": os.environ.get("OMP_NUM_THREADS"),
            },
        )


def _executor(tmp_path: Path, **kw) -> SlurmExecutor:
    opts = {"workers": 2, "folder": tmp_path / "submitit", "poll_interval_s": 0.3, "deadline_s": 5.0}
    opts.update(kw)
    return SlurmExecutor(**opts)


def _state(job_id: str) -> str | None:
    return (slurm_state.squeue_states([job_id]) or {}).get(job_id)


def _wait_running(job_id: str, limit_s: float = PATIENCE_S) -> None:
    end = time.time() + limit_s
    while _state(job_id) != "RUNNING":
        assert time.time() < end, f"job {job_id} never ran (state {_state(job_id)})"
        time.sleep(0.2)


def _wait_all(ex: SlurmExecutor, limit_s: float = PATIENCE_S) -> list:
    outs = ex.wait(first=False, timeout=limit_s)
    assert ex.running == 0, f"jobs still running after {limit_s}s: {ex.job_ids}"
    return outs


# --------------------------------------------------------------------- no cluster needed
@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"time_limit_min": 0}, "time_limit_min"),
        ({"cpus_per_task": 0}, "cpus_per_task"),
        ({"env_passthrough": ["OK", "NOT-A-NAME"]}, "env_passthrough"),
        ({"env_passthrough": "PATH"}, "env_passthrough"),
        ({"setup": "module load x"}, "setup"),
        ({"partition": "a b"}, "partition"),
        ({"deadline_s": -1}, "deadline_s"),
        ({"max_requeue": -1}, "max_requeue"),
    ],
)
def test_bad_options_raise_user_error(tmp_path, kw, field):
    with pytest.raises(UserError, match=rf"executor\.{field}"):
        SlurmExecutor(folder=tmp_path, **kw)


# --------------------------------------------------------------------- real cluster
@pytest.mark.slurm
@needs_slurm
def test_jobs_complete_and_report_their_job_ids(tmp_path):
    ex = _executor(tmp_path)
    ex.start(Probe(SPACE), time.time())
    submitted = {i: ex.submit(Task(i, {"x": 0.5 * i}, seed=i)) for i in range(2)}
    assert ex.last_job_id == submitted[1]
    assert ex.job_ids == submitted and ex.running == 2
    outs = _wait_all(ex)
    assert sorted(o.eval_id for o in outs) == [0, 1]
    for o in outs:
        assert o.status == OK, o.message
        assert o.value == pytest.approx((0.5 * o.eval_id) ** 2)
        assert o.job_id == submitted[o.eval_id] == o.worker == o.metrics["job_env_id"]
        assert 0 <= o.t_start <= o.t_end <= ex.now()
        assert o.metrics["omp"] == "1"  # cpus_per_task
    assert stat.S_IMODE((tmp_path / "submitit").stat().st_mode) == 0o700
    ex.close()


@pytest.mark.slurm
@needs_slurm
def test_wait_first_returns_as_soon_as_one_job_finishes_and_close_cancels(tmp_path):
    ex = _executor(tmp_path)
    ex.start(Probe(SPACE, sleep_s=0.1), time.time())
    ex.submit(Task(0, {"x": 0.1}, seed=0))
    ex.objective = Probe(SPACE, sleep_s=3600)  # the next job is a slow one: it never finishes here
    slow = ex.submit(Task(1, {"x": 0.2}, seed=1))
    outs = ex.wait(first=True, timeout=PATIENCE_S)
    assert [o.eval_id for o in outs] == [0] and outs[0].status == OK
    assert ex.running == 1 and ex.job_ids == {1: slow}  # returned without waiting for the slow one
    ex.close()  # cancel_on_close
    end = time.time() + PATIENCE_S
    while _state(slow) not in ("CANCELLED", None):
        assert time.time() < end, f"close() left job {slow} in state {_state(slow)}"
        time.sleep(0.3)


@pytest.mark.slurm
@needs_slurm
def test_scancel_from_outside_is_reported_cancelled(tmp_path):
    ex = _executor(tmp_path)
    ex.start(Probe(SPACE, sleep_s=3600), time.time())
    job_id = ex.submit(Task(7, {"x": 0.3}, seed=0, attempt=2))
    _wait_running(job_id)
    subprocess.run(["scancel", job_id], check=True)
    outs = _wait_all(ex)
    assert len(outs) == 1
    o = outs[0]
    assert (o.eval_id, o.status, o.attempt, o.job_id) == (7, CANCELLED, 2, job_id)
    assert o.retryable


@pytest.mark.slurm
@needs_slurm
def test_job_past_time_limit_and_grace_is_cancelled_as_timeout(tmp_path):
    # 3 s limit + 2 s grace: the executor enforces it (Slurm rounds limits up to a minute).
    ex = _executor(tmp_path, time_limit_min=0.05, deadline_s=2.0)
    ex.start(Probe(SPACE, sleep_s=3600), time.time())
    job_id = ex.submit(Task(0, {"x": 0.3}, seed=0))
    script = (tmp_path / "submitit" / f"{job_id}_submission.sh").read_text()
    assert "#SBATCH --time=0:03" in script
    outs = _wait_all(ex)
    assert outs[0].status == TIMEOUT, outs[0].message
    assert not outs[0].retryable
    # Cancelled by the executor, told apart from Slurm's own limit (a minute at least, "hit its
    # time limit (TIMEOUT)") by its message rather than by how soon it came; not before the
    # limit and its grace had passed.
    assert "past its time limit (3s) and grace (2s): cancelled" in outs[0].message, outs[0].message
    assert outs[0].t_end - outs[0].t_start >= 5.0, outs[0]
    end = time.time() + PATIENCE_S
    while _state(job_id) not in ("CANCELLED", None):
        assert time.time() < end, f"job {job_id} still {_state(job_id)}"
        time.sleep(0.3)


@pytest.mark.slurm
@pytest.mark.slow
@needs_slurm
def test_slurm_time_limit_is_reported_timeout(tmp_path):
    # Slurm's own enforcement: 1 minute is its smallest limit, checked every 30 s.
    ex = _executor(tmp_path, time_limit_min=1, deadline_s=600)
    ex.start(Probe(SPACE, sleep_s=600), time.time())
    job_id = ex.submit(Task(0, {"x": 0.3}, seed=0))
    outs = _wait_all(ex)
    assert outs[0].status == TIMEOUT, outs[0].message
    assert "TIMEOUT" in outs[0].message and outs[0].job_id == job_id


@pytest.mark.slurm
@needs_slurm
def test_worker_process_death_is_reported_crashed(tmp_path):
    ex = _executor(tmp_path)
    ex.start(Probe(SPACE, exit_code=3), time.time())
    ex.submit(Task(0, {"x": 0.3}, seed=0))
    outs = _wait_all(ex)
    assert outs[0].status == CRASHED, outs[0]
    assert "FAILED" in outs[0].message and outs[0].retryable


@pytest.mark.slurm
@needs_slurm
def test_environment_secrets_never_reach_jobs_or_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("SBATCH_EXPORT", "ALL")  # would make sbatch export everything
    monkeypatch.setenv("BOBENCH_TEST_PASSTHROUGH", "forwarded")
    ex = _executor(tmp_path, env_passthrough=["PATH", "HOME", "BOBENCH_TEST_PASSTHROUGH"])
    ex.start(Probe(SPACE), time.time())
    job_id = ex.submit(Task(0, {"x": 0.3}, seed=0))
    outs = _wait_all(ex)
    assert outs[0].status == OK, outs[0].message
    assert outs[0].metrics["passed"] == "forwarded"  # listed variables do arrive
    assert outs[0].metrics["secret_seen"] is False
    folder = tmp_path / "submitit"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == f"{job_id}_submission.sh" for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    # The controller keeps each job's environment; ours must not hold the secret either.
    ctld = Path(os.environ.get("BOBENCH_SLURM_DIR", "/tmp/bobench-slurm")) / "spool" / "ctld"
    saved = list(ctld.glob(f"hash.*/job.{job_id}/environment")) if os.access(ctld, os.R_OK) else []
    for path in saved:
        assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.slurm
@needs_slurm
def test_resumed_executor_reattaches_to_a_running_job(tmp_path):
    origin = time.time()
    first = _executor(tmp_path, cancel_on_close=False)
    first.start(Probe(SPACE, sleep_s=4), origin)
    task = Task(3, {"x": -0.5}, seed=3, attempt=1)
    job_id = first.submit(task)
    first.close()  # the driver goes away; its job keeps running
    assert _state(job_id) in slurm_state.ACTIVE
    second = _executor(tmp_path)
    second.start(Probe(SPACE), origin + 100.0)  # a resumed clock: 100 s of downtime left out
    second.attach(task, job_id)
    assert second.job_ids == {3: job_id}
    outs = _wait_all(second)
    assert (outs[0].eval_id, outs[0].status, outs[0].job_id, outs[0].attempt) == (3, OK, job_id, 1)
    assert outs[0].value == pytest.approx(0.25)
    # The job measured from the first origin; its times come back on the second clock.
    assert -100.0 < outs[0].t_start < outs[0].t_end < -100.0 + (time.time() - origin)


@pytest.mark.slurm
@needs_slurm
def test_a_result_of_another_task_under_the_same_job_id_is_not_taken(tmp_path):
    # Job ids restart when a cluster is reset; a result pickle of another task is stale.
    ex = _executor(tmp_path, deadline_s=2.0)
    ex.start(Probe(SPACE), time.time())
    job_id = ex.submit(Task(0, {"x": 0.3}, seed=0))
    assert _wait_all(ex)[0].status == OK
    ex.attach(Task(1, {"x": 0.5}, seed=1), job_id)  # same id, different evaluation
    outs = _wait_all(ex)
    assert (outs[0].eval_id, outs[0].status) == (1, LOST), outs[0]
    assert "completed without a result" in outs[0].message


@pytest.mark.slurm
@needs_slurm
def test_job_unknown_to_slurm_is_lost_after_the_deadline(tmp_path):
    ex = _executor(tmp_path, deadline_s=2.0)
    ex.start(Probe(SPACE), time.time())
    ex.attach(Task(5, {"x": 0.0}, seed=0), "987654321")
    t0 = time.time()
    outs = _wait_all(ex)  # lost, not waited for forever
    assert outs[0].status == LOST and outs[0].retryable
    assert "vanished without a result for 2s" in outs[0].message, outs[0].message
    assert time.time() - t0 >= 2.0  # not before the deadline


@pytest.mark.slurm
@needs_slurm
def test_sacct_reports_finished_jobs_when_accounting_is_on(tmp_path):
    if not slurm_state.sacct_available():
        pytest.skip("accounting is off on this cluster")
    ex = _executor(tmp_path)
    ex.start(Probe(SPACE), time.time())
    job_id = ex.submit(Task(0, {"x": 0.3}, seed=0))
    _wait_all(ex)
    end = time.time() + PATIENCE_S  # slurmdbd may lag behind the controller on a loaded machine
    while slurm_state.sacct_states([job_id]).get(job_id) != "COMPLETED":
        assert time.time() < end, f"sacct never reported job {job_id} COMPLETED"
        time.sleep(0.5)


# --------------------------------------------------------------------- restarting daemons
STATE = Path(os.environ.get("BOBENCH_SLURM_DIR", "/tmp/bobench-slurm"))
needs_own_cluster = pytest.mark.skipif(
    os.geteuid() != 0 or not (STATE / "mode").exists(),
    reason="needs root and a cluster started by scripts/slurm/start.sh (it restarts daemons)",
)


def _restart(*args: str) -> None:
    subprocess.run(["bash", str(REPO / "scripts/slurm/start.sh"), *args], check=True, timeout=300)


@pytest.mark.slurm
@pytest.mark.slow
@needs_slurm
@needs_own_cluster
def test_a_controller_outage_loses_no_job(tmp_path):
    ex = _executor(tmp_path, deadline_s=2.0)
    ex.start(Probe(SPACE, sleep_s=8), time.time())
    job_id = ex.submit(Task(0, {"x": 0.3}, seed=0))
    marker = tmp_path / "submitit" / f"{job_id}_bobench_start"
    end = time.time() + PATIENCE_S
    while not marker.exists():  # the job step (srun needs the controller to start it) is up
        assert time.time() < end, f"job {job_id} never started"
        time.sleep(0.1)
    pid = int((STATE / "run" / "slurmctld.pid").read_text())
    os.kill(pid, signal.SIGTERM)  # the controller goes away; the job runs on under slurmstepd
    try:
        end = time.time() + PATIENCE_S
        while time.time() < end and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        assert subprocess.run(["squeue"], capture_output=True).returncode != 0
        outs = _wait_all(ex)  # > deadline_s without an answer from Slurm
        assert (outs[0].status, outs[0].job_id) == (OK, job_id), outs[0]
    finally:
        _restart(*([] if (STATE / "mode").read_text().strip() == "accounting" else ["--no-accounting"]))
        # The job step retries its completion message every 60 s: let it land (jobs still
        # COMPLETING hold the node), so that later tests start on an idle cluster.
        end = time.time() + PATIENCE_S
        while _state(job_id) in slurm_state.ACTIVE and time.time() < end:
            time.sleep(1)


# --------------------------------------------------------------------- accounting off


@pytest.fixture(scope="module")
def no_accounting():
    """Restarts the local cluster without accounting, and with it again afterwards."""
    before = (STATE / "mode").read_text().strip()
    _restart("--no-accounting")
    try:
        yield
    finally:
        if before == "accounting":
            _restart()


@pytest.mark.slurm
@pytest.mark.slow
@needs_slurm
@needs_own_cluster
def test_without_accounting_squeue_finds_results_and_cancellations(tmp_path, no_accounting):
    assert not slurm_state.sacct_available()
    ex = _executor(tmp_path)
    ex.start(Probe(SPACE), time.time())
    assert ex._use_sacct is False
    ex.submit(Task(0, {"x": 0.3}, seed=0))
    ex.objective = Probe(SPACE, sleep_s=3600)
    slow = ex.submit(Task(1, {"x": 0.4}, seed=1))
    _wait_running(slow)
    subprocess.run(["scancel", slow], check=True)
    outs = {o.eval_id: o for o in _wait_all(ex)}
    assert outs[0].status == OK and outs[1].status == CANCELLED


@pytest.mark.slurm
@pytest.mark.slow
@needs_slurm
@needs_own_cluster
def test_without_accounting_a_vanished_job_is_lost_in_bounded_time(tmp_path, no_accounting):
    ex = _executor(tmp_path, deadline_s=2.0)
    ex.start(Probe(SPACE), time.time())
    ex.attach(Task(9, {"x": 0.0}, seed=0), "987654322")
    t0 = time.time()
    outs = _wait_all(ex)  # lost, not waited for forever
    assert outs[0].status == LOST and "vanished without a result for 2s" in outs[0].message, outs[0]
    assert time.time() - t0 >= 2.0  # not before the deadline
