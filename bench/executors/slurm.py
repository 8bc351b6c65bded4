"""Runs each evaluation as its own Slurm job, submitted with submitit.

Each job unpickles the objective, calls its ``setup()``, builds the energy meter from the
picklable ``meter_factory`` and runs :func:`bench.evaluate.evaluate` with ``worker`` set to
the Slurm job id. The executor polls for results (submitit's result pickles) and asks Slurm
(``squeue``, then ``sacct``) what happened to jobs that left none:

============================================  ==========================================
what happened                                 Outcome status
============================================  ==========================================
the job returned                              whatever :func:`evaluate` said
``scancel`` from outside, or preempted with   ``cancelled`` (the driver retries)
``max_requeue`` 0
requeued (``max_requeue`` > 0): preempted,    followed to its next start; its result is
``scontrol requeue``, its node failed         reported once (more than ``max_requeue``
                                              restarts: ``crashed``)
held in the queue after a failed launch       ``crashed`` (the executor cancels the job)
Slurm's time limit (state TIMEOUT)            ``timeout``
running past ``time_limit + deadline_s``      ``timeout`` (the executor cancels the job)
the job failed (FAILED, NODE_FAIL, OOM...)    ``crashed`` (the driver retries)
COMPLETED without a result / unknown to       ``lost`` (the driver retries)
Slurm for ``deadline_s``
============================================  ==========================================

Secrets stay out of jobs: ``sbatch`` runs with an environment holding only the variables
named in ``env_passthrough`` (plus ``PATH`` and ``SLURM_CONF``) and ``--export`` names just
those, so nothing else from the driver's environment reaches the job, the submission
scripts or the controller's state. The submitit folder is ``chmod 700``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit
from submitit.core import utils as submitit_utils

from bench.errors import UserError
from bench.evaluate import evaluate
from bench.executors import slurm_state
from bench.executors.base import Executor, MeterFactory
from bench.executors.schema import DEFAULT_ENV_PASSTHROUGH, SlurmConf
from bench.objective import Objective
from bench.records import CANCELLED, CRASHED, LOST, TIMEOUT, Outcome, Task

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Result pickles can lag behind Slurm's COMPLETED on network file systems.
_RESULT_GRACE_S = 10.0
_START_SUFFIX = "_bobench_start"


def run_task(
    objective: Objective,
    task: Task,
    clock_origin: float,
    meter_factory: MeterFactory | None = None,
) -> Outcome:
    """The body of one Slurm job (submitit pickles a call to it).

    Records its start time next to submitit's files (the executor's deadlines count from
    it), sets the objective up and evaluates the task with ``worker`` = the Slurm job id.
    """
    env = submitit.JobEnvironment()
    job_id = str(env.job_id)
    folder = Path(env.paths.folder)
    with open(folder / f"{job_id}{_START_SUFFIX}", "a") as fh:  # one line per (re)start
        fh.write(f"{time.time()!r}\n")
    earlier = _earlier_result(Path(env.paths.result_pickle), task)
    if earlier is not None:  # requeued after it had finished (in Slurm's kill grace): not run twice
        return earlier
    try:
        objective.setup()
    except Exception as exc:  # a worker that cannot set up: infrastructure fault
        now = time.time() - clock_origin
        return Outcome(
            eval_id=task.eval_id,
            status=CRASHED,
            message=f"objective setup failed in Slurm job {job_id}: {type(exc).__name__}: {exc}",
            worker=job_id,
            t_start=now,
            t_end=now,
            attempt=task.attempt,
            job_id=job_id,
        )
    meter = meter_factory() if meter_factory is not None else None
    outcome = evaluate(objective, task, clock_origin, worker=job_id, meter=meter)
    outcome.job_id = job_id
    return outcome


def _earlier_result(path: Path, task: Task) -> Outcome | None:
    """The outcome an earlier start of this job left for ``task``, if it left one."""
    try:
        kind, value = submitit_utils.pickle_load(path)
    except Exception:  # none, or unreadable: evaluate
        return None
    if (
        kind == "success"
        and isinstance(value, Outcome)
        and (value.eval_id, value.attempt) == (task.eval_id, task.attempt)
    ):
        return value
    return None


@dataclass
class _Tracked:
    """One job in flight."""

    task: Task
    job: submitit.Job[Outcome]
    last_seen: float  # wall time at which Slurm last knew the job (or it was submitted)
    origin: float  # the clock origin the job measures its times from
    finished_at: float | None = None  # wall time at which Slurm first said it had finished

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)


def _check(cond: bool, field: str, what: str, value: Any) -> None:
    if not cond:
        raise UserError(f"executor.{field} {what}, got {value!r}")


class SlurmExecutor(Executor):
    """Submits each task as a Slurm job through submitit.

    Args:
        workers: how many jobs may be in flight at once.
        partition: Slurm partition (None: the cluster's default).
        time_limit_min: time limit of one evaluation in minutes (fractions allowed: Slurm gets
            the limit rounded up to a whole minute, the executor enforces the exact one).
        cpus_per_task: ``--cpus-per-task``; also the default ``OMP_NUM_THREADS`` in the job.
        gpus_per_node: ``--gpus-per-node`` (0: none).
        mem_gb: ``--mem`` in GB (None: the partition's default).
        qos: ``--qos`` (None: default).
        account: ``--account`` (None: default).
        setup: shell lines run in the job before Python starts (``module load``, ``source
            venv/bin/activate``...).
        folder: submitit's folder (job scripts, pickles, logs); created ``chmod 700``. None:
            ``<run folder>/submitit``, the run folder being :attr:`run_dir` if the driver set
            it, else Hydra's output dir; outside both, a new temporary directory (fine on one
            machine; a real cluster needs a folder on a shared file system).
        poll_interval_s: how often :meth:`wait` looks for results and asks Slurm.
        deadline_s: the executor's own grace beyond the time limit: a job still running
            ``time_limit + deadline_s`` after it started is cancelled and reported
            ``timeout``; a job Slurm no longer knows and that left no result for
            ``deadline_s`` is reported ``lost``.
        env_passthrough: names of environment variables forwarded to jobs (``PATH`` always
            is); nothing else from the driver's environment reaches a job.
        max_requeue: how often Slurm may requeue a preempted or failed-node job (0:
            ``--no-requeue``, the driver retries instead); a job restarted more often is
            cancelled and reported ``crashed``.
        job_name: ``--job-name``.
        cancel_on_close: whether :meth:`close` cancels the jobs still in flight (a driver
            that is killed never closes, so its jobs survive for a resume to re-attach).
        additional_parameters: extra ``#SBATCH`` flags, e.g. ``{"constraint": "a100"}``.
    """

    objective_pickler = "cloudpickle"  # submitit pickles each job's call with cloudpickle

    def __init__(
        self,
        workers: int = 1,
        partition: str | None = SlurmConf.partition,
        time_limit_min: float = SlurmConf.time_limit_min,
        cpus_per_task: int = SlurmConf.cpus_per_task,
        gpus_per_node: int = SlurmConf.gpus_per_node,
        mem_gb: float | None = SlurmConf.mem_gb,
        qos: str | None = SlurmConf.qos,
        account: str | None = SlurmConf.account,
        setup: Sequence[str] = (),
        folder: str | os.PathLike[str] | None = SlurmConf.folder,
        poll_interval_s: float = SlurmConf.poll_interval_s,
        deadline_s: float = SlurmConf.deadline_s,
        env_passthrough: Sequence[str] = DEFAULT_ENV_PASSTHROUGH,
        max_requeue: int = SlurmConf.max_requeue,
        job_name: str = SlurmConf.job_name,
        cancel_on_close: bool = SlurmConf.cancel_on_close,
        additional_parameters: Mapping[str, Any] | None = None,
    ):
        _check(
            isinstance(time_limit_min, int | float) and 0 < time_limit_min < math.inf,
            "time_limit_min",
            "must be a positive number of minutes",
            time_limit_min,
        )
        _check(
            isinstance(cpus_per_task, int) and cpus_per_task >= 1,
            "cpus_per_task",
            "must be an integer >= 1",
            cpus_per_task,
        )
        _check(
            isinstance(gpus_per_node, int) and gpus_per_node >= 0,
            "gpus_per_node",
            "must be an integer >= 0",
            gpus_per_node,
        )
        _check(mem_gb is None or mem_gb > 0, "mem_gb", "must be > 0 or null", mem_gb)
        _check(poll_interval_s > 0, "poll_interval_s", "must be > 0", poll_interval_s)
        _check(deadline_s >= 0, "deadline_s", "must be >= 0", deadline_s)
        _check(
            isinstance(max_requeue, int) and max_requeue >= 0,
            "max_requeue",
            "must be an integer >= 0",
            max_requeue,
        )
        _check(
            not isinstance(setup, str) and all(isinstance(s, str) for s in setup),
            "setup",
            "must be a list of shell lines",
            setup,
        )
        _check(
            not isinstance(env_passthrough, str)
            and all(isinstance(n, str) and _ENV_NAME.match(n) for n in env_passthrough),
            "env_passthrough",
            "must be a list of environment variable names",
            env_passthrough,
        )
        for name, value in (("partition", partition), ("qos", qos), ("account", account)):
            _check(
                value is None or (isinstance(value, str) and re.fullmatch(r"[\w.\-]+", value) is not None),
                name,
                "must be a Slurm name or null",
                value,
            )
        super().__init__(workers)
        self.partition = partition
        self.time_limit_min = float(time_limit_min)
        self.cpus_per_task = cpus_per_task
        self.gpus_per_node = gpus_per_node
        self.mem_gb = mem_gb
        self.qos = qos
        self.account = account
        self.setup = list(setup)
        self.folder = None if folder is None else Path(folder).expanduser().absolute()
        #: The run folder; the driver may set it before :meth:`start` (used when folder is None).
        self.run_dir: Path | None = None
        self.poll_interval_s = float(poll_interval_s)
        self.deadline_s = float(deadline_s)
        self.env_passthrough = list(dict.fromkeys(["PATH", *env_passthrough]))
        self.max_requeue = max_requeue
        self.job_name = job_name
        self.cancel_on_close = cancel_on_close
        self.additional_parameters = dict(additional_parameters or {})
        self.last_job_id: str | None = None
        self._jobs: dict[int, _Tracked] = {}
        self._submitter: _CleanEnvSlurmExecutor | None = None
        self._use_sacct = False

    # ------------------------------------------------------------------ contract
    def start(
        self,
        objective: Objective,
        clock_origin: float,
        meter_factory: MeterFactory | None = None,
    ) -> None:
        super().start(objective, clock_origin, meter_factory)
        for tool in ("sbatch", "squeue", "scancel"):
            if shutil.which(tool) is None:
                raise UserError(
                    f"executor=slurm needs '{tool}' on PATH (start a local cluster with "
                    "scripts/slurm/start.sh, or pick another executor)"
                )
        if self.partition is not None:
            known = _partitions()
            if known is not None and self.partition not in known:
                raise UserError(
                    f"executor.partition {self.partition!r} is not a partition of this cluster "
                    f"(sinfo lists: {', '.join(sorted(known)) or 'none'})"
                )
        if self.folder is None:
            self.folder = _default_folder(self.run_dir)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.chmod(0o700)
        self._use_sacct = slurm_state.sacct_available()
        self._submitter = _CleanEnvSlurmExecutor(self.folder, env=self._sbatch_env())
        self._submitter.update_parameters(**self._sbatch_parameters())

    def set_run_dir(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def submit(self, task: Task) -> str:
        """Submits one job; returns its Slurm job id (also in :attr:`last_job_id`)."""
        if self._submitter is None or self.objective is None:
            raise RuntimeError("SlurmExecutor.submit() before start()")
        t0 = time.time()
        job = self._submitter.submit(run_task, self.objective, task, self.clock_origin, self.meter_factory)
        self._forget_stale_files(str(job.job_id), older_than=t0)
        self._jobs[task.eval_id] = _Tracked(task, job, last_seen=time.time(), origin=self.clock_origin)
        self.last_job_id = str(job.job_id)
        return self.last_job_id

    def attach(self, task: Task, job_id: str) -> bool:
        """Tracks a job submitted by an earlier driver (for resume) as if just submitted.

        The job's result, state or disappearance is then reported by :meth:`wait` like any
        other, with its times moved onto this executor's clock. ``task`` must be the task the
        job runs (same ``eval_id`` and ``attempt``). Needs :meth:`start` first, with the same
        ``folder`` as the original run.
        """
        if self._submitter is None or self.folder is None:
            raise RuntimeError("SlurmExecutor.attach() before start()")
        job: submitit.Job[Outcome] = submitit.SlurmJob(folder=self.folder, job_id=str(job_id))
        origin = self.clock_origin
        try:  # the job measures times from the clock origin it was submitted with
            origin = float(job.submission().args[2])
        except Exception:  # no readable submission pickle: assume the same origin
            pass
        self._jobs[task.eval_id] = _Tracked(task, job, last_seen=time.time(), origin=origin)
        return True

    def wait(self, first: bool = True, timeout: float | None = None) -> list[Outcome]:
        end = None if timeout is None else time.monotonic() + timeout
        outcomes: list[Outcome] = []
        while self._jobs:
            outcomes.extend(self._poll())
            if (outcomes and first) or not self._jobs:
                break
            left = math.inf if end is None else end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(self.poll_interval_s, left))
        return outcomes

    @property
    def running(self) -> int:
        return len(self._jobs)

    @property
    def job_ids(self) -> dict[int, str]:
        """Slurm job id of each evaluation in flight."""
        return {eval_id: tr.job_id for eval_id, tr in self._jobs.items()}

    def job_id(self, eval_id: int) -> str | None:
        tracked = self._jobs.get(eval_id)
        return tracked.job_id if tracked is not None else None

    def close(self) -> None:
        if self.cancel_on_close and self._jobs:
            slurm_state.cancel(tr.job_id for tr in self._jobs.values())
        self._jobs.clear()

    # ------------------------------------------------------------------ internals
    @property
    def time_limit_s(self) -> float:
        return self.time_limit_min * 60.0

    def _sbatch_parameters(self) -> dict[str, Any]:
        extra: dict[str, Any] = {
            # submitit always asks for a warning signal ("USR2@90"); for short limits Slurm sends
            # it at once, and its default action would kill the job. SIGURG is ignored by
            # default: the executor enforces time limits itself.
            "signal": "URG@1",
            "requeue" if self.max_requeue > 0 else "no-requeue": True,
        }
        if self.time_limit_s % 60:
            minutes, seconds = divmod(math.ceil(self.time_limit_s), 60)
            extra["time"] = f"{minutes}:{seconds:02d}"  # Slurm rounds it up to a minute
        extra.update(self.additional_parameters)
        threads = f"export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-{self.cpus_per_task}}}"
        params: dict[str, Any] = {
            "job_name": self.job_name,
            "time": max(1, math.ceil(self.time_limit_min)),
            "cpus_per_task": self.cpus_per_task,
            "ntasks_per_node": 1,
            "nodes": 1,
            # umask: logs written by the job are the user's alone. SLURM_EXPORT_ENV=ALL: srun
            # passes the (already filtered) batch environment plus what setup exports.
            "setup": ["umask 077", "export SLURM_EXPORT_ENV=ALL", threads, *self.setup],
            "stderr_to_stdout": False,
            "additional_parameters": extra,
        }
        if self.partition:
            params["partition"] = self.partition
        if self.gpus_per_node:
            params["gpus_per_node"] = self.gpus_per_node
        if self.mem_gb is not None:
            params["mem"] = _mem(self.mem_gb)
        if self.qos:
            params["qos"] = self.qos
        if self.account:
            params["account"] = self.account
        return params

    def _sbatch_env(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in self.env_passthrough if name in os.environ}
        env.setdefault("PATH", os.defpath)
        if "SLURM_CONF" in os.environ:  # where the client finds the cluster
            env["SLURM_CONF"] = os.environ["SLURM_CONF"]
        return env

    def _poll(self) -> list[Outcome]:
        """One look at every job in flight: returns and forgets those that finished."""
        now = time.time()
        done: list[Outcome] = []
        for eval_id, tr in list(self._jobs.items()):
            outcome = self._read_result(tr)
            if outcome is not None:
                done.append(outcome)
                del self._jobs[eval_id]
        if not self._jobs:
            return done
        try:
            states = slurm_state.job_states((tr.job_id for tr in self._jobs.values()), self._use_sacct)
        except slurm_state.Unreachable:
            # The controller is down: nothing vanished, the lost timers wait for it.
            for tr in self._jobs.values():
                tr.last_seen = now
            return done
        for eval_id, tr in list(self._jobs.items()):
            outcome = self._judge(tr, states.get(tr.job_id), now)
            if outcome is not None:
                done.append(outcome)
                del self._jobs[eval_id]
        return done

    def _read_result(self, tr: _Tracked) -> Outcome | None:
        path = tr.job.paths.result_pickle
        if not path.exists():
            return None
        try:
            kind, value = submitit_utils.pickle_load(path)
        except Exception as exc:  # a corrupt pickle: a crashed job
            return self._failure(tr, CRASHED, f"unreadable result of Slurm job {tr.job_id}: {exc}")
        if kind == "success" and isinstance(value, Outcome):
            if (value.eval_id, value.attempt) != (tr.task.eval_id, tr.task.attempt):
                return None  # another job's, with the same id (a reset cluster): overwritten later
            value.job_id = value.job_id or tr.job_id
            restarts = len(self._starts(tr)) - 1
            if restarts > 0:  # requeued (preempted, its node failed): say so beside what the objective said
                note = f"Slurm requeued job {tr.job_id} {restarts} time(s); its result is reported once"
                value.message = f"{value.message}\n{note}" if value.message else note
            shift = tr.origin - self.clock_origin  # non-zero for a job attached after a resume
            value.t_start, value.t_end = value.t_start + shift, value.t_end + shift
            return value
        tail = "\n".join(str(value).strip().splitlines()[-6:])
        return self._failure(tr, CRASHED, f"Slurm job {tr.job_id} failed outside the objective:\n{tail}")

    def _judge(self, tr: _Tracked, state: str | None, now: float) -> Outcome | None:
        """What to report for a job without a result, given Slurm's state (None: unknown)."""
        if state is None:
            if now - tr.last_seen >= self.deadline_s:
                return self._failure(
                    tr, LOST, f"Slurm job {tr.job_id} vanished without a result for {self.deadline_s:g}s"
                )
            return None
        tr.last_seen = now
        if state == "PREEMPTED" and self.max_requeue > 0:
            state = "REQUEUED"  # Slurm puts it back in the queue
        if state in slurm_state.HELD_AFTER_FAILURE:  # it would wait in the queue for a release forever
            slurm_state.cancel([tr.job_id])
            why = "its launch failed" if state == slurm_state.LAUNCH_FAILED_HELD else f"it ended {state}"
            return self._failure(tr, CRASHED, f"Slurm job {tr.job_id} was held in the queue after {why}: cancelled")
        if state in slurm_state.ACTIVE:
            starts = self._starts(tr)
            if len(starts) > self.max_requeue + 1:
                slurm_state.cancel([tr.job_id])
                return self._failure(tr, CRASHED, f"Slurm job {tr.job_id} restarted {len(starts) - 1} times")
            if state in slurm_state.STARTED and starts:
                ran = now - starts[-1]
                if ran > self.time_limit_s + self.deadline_s:
                    slurm_state.cancel([tr.job_id])
                    return self._failure(
                        tr,
                        TIMEOUT,
                        f"Slurm job {tr.job_id} ran {ran:.0f}s, past its time limit "
                        f"({self.time_limit_s:g}s) and grace ({self.deadline_s:g}s): cancelled",
                    )
            return None
        # Finished without a result (so far).
        if tr.finished_at is None:
            tr.finished_at = now
        if state in ("TIMEOUT", "DEADLINE"):
            return self._failure(tr, TIMEOUT, f"Slurm job {tr.job_id} hit its time limit ({state})")
        if state in ("CANCELLED", "PREEMPTED", "REVOKED"):
            return self._failure(tr, CANCELLED, f"Slurm job {tr.job_id} was {state.lower()}")
        if state == "COMPLETED":
            if now - tr.finished_at < min(_RESULT_GRACE_S, max(self.deadline_s, 1.0)):
                return None  # the result may still be on its way through the file system
            return self._failure(tr, LOST, f"Slurm job {tr.job_id} completed without a result")
        return self._failure(tr, CRASHED, f"Slurm job {tr.job_id} ended {state}{self._log_tail(tr)}")

    def _forget_stale_files(self, job_id: str, older_than: float) -> None:
        """Removes files of an earlier job with the same id (a cluster reset restarts ids)."""
        assert self.folder is not None
        for path in (self.folder / f"{job_id}{_START_SUFFIX}", self.folder / f"{job_id}_0_result.pkl"):
            try:
                if path.stat().st_mtime < older_than:
                    path.unlink()
            except FileNotFoundError:
                pass

    def _starts(self, tr: _Tracked) -> list[float]:
        assert self.folder is not None
        path = self.folder / f"{tr.job_id}{_START_SUFFIX}"
        try:
            return [float(line) for line in path.read_text().split()]
        except (OSError, ValueError):
            return []

    def _log_tail(self, tr: _Tracked) -> str:
        try:
            lines = tr.job.paths.stderr.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return (":\n" + "\n".join(lines[-6:])) if lines else ""

    def _failure(self, tr: _Tracked, status: str, message: str) -> Outcome:
        starts = self._starts(tr)
        now = time.time() - self.clock_origin
        return Outcome(
            eval_id=tr.task.eval_id,
            status=status,
            message=message,
            worker=tr.job_id,
            t_start=(starts[-1] - self.clock_origin) if starts else now,
            t_end=now,
            attempt=tr.task.attempt,
            job_id=tr.job_id,
        )


def _default_folder(run_dir: os.PathLike[str] | None) -> Path:
    """``<run folder>/submitit``; outside a run (no run_dir, no Hydra app) a fresh temp dir."""
    if run_dir is not None:
        return Path(run_dir).absolute() / "submitit"
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir).absolute() / "submitit"
    except (ImportError, ValueError):  # not inside a Hydra app: keep the working tree clean
        return Path(tempfile.mkdtemp(prefix="bobench-submitit-"))


def _mem(mem_gb: float) -> str:
    return f"{int(mem_gb)}G" if float(mem_gb).is_integer() else f"{math.ceil(mem_gb * 1024)}M"


def _partitions() -> set[str] | None:
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return {line.strip() for line in proc.stdout.splitlines() if line.strip()}


class _CleanEnvSlurmExecutor(submitit.SlurmExecutor):
    """submitit's SlurmExecutor, but ``sbatch`` sees only a filtered environment.

    ``sbatch`` copies its whole environment into the job by default (``--export=ALL``), and
    ``SBATCH_*`` / ``SLURM_*`` variables of a driver that itself runs in a Slurm job would
    change the new job's options. Here ``sbatch`` runs with ``env`` only, and ``--export`` on
    its command line (which wins over any ``SBATCH_EXPORT``) names just those variables.
    """

    def __init__(self, folder: Path, env: dict[str, str]):
        super().__init__(folder, max_num_timeout=0, python=shlex.quote(sys.executable))
        self._sbatch_env = dict(env)

    def _make_submission_command(self, submission_file_path: Path) -> list[str]:
        export = ",".join(sorted(n for n in self._sbatch_env if not n.startswith("SLURM_")))
        return ["sbatch", f"--export={export}", str(submission_file_path)]

    def _submit_command(self, command: str) -> submitit.Job[Any]:
        # As submitit's PicklingExecutor._submit_command, but sbatch gets the filtered env.
        tmp_uuid = uuid.uuid4().hex
        folder = submitit_utils.JobPaths.get_first_id_independent_folder(self.folder)
        script = folder / f".submission_file_{tmp_uuid}.sh"
        script.write_text(self._make_submission_file_text(command, tmp_uuid))
        cmd = self._make_submission_command(script)
        output = submitit_utils.CommandFunction(cmd, verbose=False, env=self._sbatch_env)()
        job_id = self._get_job_id_from_submission_command(output)
        job = self.job_class(folder=self.folder, job_id=job_id, tasks=list(range(self._num_tasks())))
        job.paths.move_temporary_file(script, "submission_file", keep_as_symlink=True)
        self._write_job_id(job.job_id, tmp_uuid)
        self._set_job_permissions(job.paths.folder)
        return job
