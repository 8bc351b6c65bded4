"""Asks Slurm what state jobs are in: ``squeue`` first, ``sacct`` for jobs it no longer lists.

``squeue`` answers from the controller's memory (fresh, cheap, but a finished job is only kept
for ``MinJobAge``, 300 s by default); ``sacct`` answers from the accounting database (kept
for good, but it lags a little and is missing where accounting is off). ``scontrol show job``
is the last resort when ``squeue`` itself fails.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

#: States of a job that may still produce a result.
ACTIVE = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "STOPPED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESV_DEL_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
    }
)
#: States of a job that has started running (as opposed to waiting in the queue).
STARTED = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"})
#: Final states.
FINISHED = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "DEADLINE",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "PREEMPTED",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)

#: bobench's name for a job that Slurm put back in the queue *held* after its launch failed (a
#: node that could not start it: ``PENDING``, reason "launch failed requeued held", priority 0).
#: It never runs again unless someone releases it.
LAUNCH_FAILED_HELD = "LAUNCH_FAILED_HELD"
#: Jobs that wait in the queue held after a failure, for a release that nobody will give.
HELD_AFTER_FAILURE = frozenset({LAUNCH_FAILED_HELD, "SPECIAL_EXIT"})
#: Pending reasons that mean :data:`LAUNCH_FAILED_HELD` (as squeue's ``%r`` and scontrol's
#: ``Reason=`` write them, underscores read as spaces).
_FAILURE_HOLD_REASONS = frozenset({"launch failed requeued held"})

_TIMEOUT_S = 30.0


def normalise(raw: str | None) -> str | None:
    """``"CANCELLED by 0"`` -> ``"CANCELLED"``; empty -> None."""
    if not raw or not raw.strip():
        return None
    return raw.strip().split()[0].rstrip("+").upper()


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def with_reason(state: str | None, reason: str | None) -> str | None:
    """A pending job held after a failed launch becomes :data:`LAUNCH_FAILED_HELD`; others keep their state."""
    if state == "PENDING" and reason and reason.strip().replace("_", " ").lower() in _FAILURE_HOLD_REASONS:
        return LAUNCH_FAILED_HELD
    return state


def parse_states(text: str) -> dict[str, str]:
    """``JOBID|STATE[|REASON]`` lines (squeue's and sacct's) -> ``{job id: state}``."""
    states: dict[str, str] = {}
    for line in text.splitlines():
        job_id, _, rest = line.partition("|")
        state, _, reason = rest.partition("|")
        job_id = job_id.strip()
        if not job_id or "." in job_id:  # job steps (123.batch, 123.0) are not jobs
            continue
        norm = with_reason(normalise(state), reason)
        if norm:
            states[job_id] = norm
    return states


def squeue_states(job_ids: Iterable[str]) -> dict[str, str] | None:
    """States the controller still knows, or None where ``squeue`` could not answer.

    A job missing from the answer is unknown to the controller (finished longer than
    ``MinJobAge`` ago, or never existed).
    """
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    proc = _run(["squeue", "-h", "--states=all", "-o", "%i|%T|%r", "-j", ",".join(ids)])
    if proc is None:
        return None
    if proc.returncode != 0:
        # Every id unknown: squeue says "Invalid job id specified" and exits 1.
        return {} if "invalid job id" in proc.stderr.lower() else None
    return parse_states(proc.stdout)


class Unreachable(Exception):
    """Slurm did not answer (controller down, command missing): nothing is known."""


def scontrol_state(job_id: str) -> str | None:
    """The controller's state of one job, or None if it does not know the job.

    Raises:
        Unreachable: if ``scontrol`` could not ask the controller.
    """
    proc = _run(["scontrol", "-o", "show", "job", str(job_id)])
    if proc is None:
        raise Unreachable("scontrol is missing or hung")
    if proc.returncode != 0:
        if "invalid job id" in proc.stderr.lower():
            return None
        raise Unreachable(proc.stderr.strip()[:200])
    fields = dict(field.split("=", 1) for field in proc.stdout.split() if "=" in field)
    return with_reason(normalise(fields.get("JobState")), fields.get("Reason"))


def sacct_available() -> bool:
    """Whether ``sacct`` answers (it fails where accounting storage is off)."""
    proc = _run(["sacct", "-n", "-X", "-P", "-o", "JobID", "-j", "1"])
    return proc is not None and proc.returncode == 0


def sacct_states(job_ids: Iterable[str]) -> dict[str, str]:
    """States from the accounting database; jobs it does not know are missing."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    proc = _run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(ids)])
    if proc is None or proc.returncode != 0:
        return {}
    return parse_states(proc.stdout)


def job_states(job_ids: Iterable[str], use_sacct: bool) -> dict[str, str]:
    """The best known state of each job; jobs that no source knows are missing.

    Raises:
        Unreachable: if neither ``squeue`` nor ``scontrol`` could ask the controller (then a
            missing job means nothing: it must not count as vanished).
    """
    ids = sorted(set(job_ids))
    states = squeue_states(ids)
    if states is None:  # squeue failed outright: ask one job at a time
        states = {}
        for job_id in ids:
            state = scontrol_state(job_id)
            if state:
                states[job_id] = state
    unknown = [job_id for job_id in ids if job_id not in states]
    if unknown and use_sacct:
        states.update(sacct_states(unknown))
    return states


def cancel(job_ids: Iterable[str]) -> None:
    """``scancel`` the jobs (errors such as "already finished" are ignored)."""
    ids = sorted(set(job_ids))
    if ids:
        _run(["scancel", *ids])
