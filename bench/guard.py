"""What one objective call may not do to the process that runs it.

:func:`bench.evaluate.evaluate` runs each call inside a :class:`Guard`, in every executor (the
driver's own process for inline and simulated, a worker for local, the job for Slurm):

* **a time limit**, where one is given: SIGALRM (``setitimer(ITIMER_REAL)``) raises
  :class:`EvaluationTimeout` in the main thread, and again every :data:`REARM_S` while the call
  goes on, so an objective that swallows it once is stopped the next time. Python code is
  interrupted wherever it is (``time.sleep``, a loop, a blocking read); a call stuck inside C code
  that never returns to the interpreter is not: run such an objective with ``executor=local``,
  whose limit kills the worker. The old SIGALRM handler is put back after the call.
* **child processes**: the processes the call started (descendants of this process that were not
  there before it) are terminated after it, and killed :data:`GRACE_S` later if still alive;
  helper processes a library keeps for reuse (:data:`KEPT`) are left alone.
* **signal handlers**: any handler the call changed (SIGTERM ignored, say) is put back, so the
  driver's Ctrl-C and SIGTERM handling survives an objective.

:meth:`Guard.stops_the_run` tells the driver's own stop (:class:`bench.errors.Interrupted`, or any
exception raised by a signal handler that was installed before the call, such as submitit's
preemption handler in a Slurm job) from the objective's faults.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import warnings
from types import CodeType, FrameType, TracebackType
from typing import Any

import psutil

from bench.errors import Interrupted, UserError

#: While a call runs on past its limit, SIGALRM is raised again this often (seconds).
REARM_S = 1.0
#: How long a leftover child process has between SIGTERM and SIGKILL (seconds).
GRACE_S = 1.0
#: Longest limit ``setitimer`` is asked for (about three years): longer ones overflow time_t.
MAX_ITIMER_S = 1e8
#: Command-line fragments of helper processes a library starts once and reuses across calls.
KEPT = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "loky")
#: Signals whose handlers an objective could change (not SIGKILL and SIGSTOP, which it cannot).
_SIGNALS = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def check_time_limit(key: str, value: Any) -> float | None:
    """A per-evaluation time limit from a config: a positive finite number of seconds, or None.

    Raises:
        UserError: naming ``key``, for anything else (NaN, infinity, zero, negative, not a number).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{key}: expected a positive, finite number of seconds (or null for none), got {value!r}")
    return float(value)


class EvaluationTimeout(BaseException):
    """The call ran past its time limit (raised in it by SIGALRM; never leaves :func:`evaluate`).

    A BaseException, so an objective's ``except Exception`` does not swallow it.
    """


def _handlers() -> dict[int, Any]:
    out: dict[int, Any] = {}
    for sig in _SIGNALS:
        with contextlib.suppress(ValueError, OSError):
            out[sig] = signal.getsignal(sig)
    return out


def _code(handler: Any) -> CodeType | None:
    code = getattr(getattr(handler, "__func__", handler), "__code__", None)
    return code if isinstance(code, CodeType) else None


#: Linux lists each thread's children in /proc (CONFIG_PROC_CHILDREN): reading them costs a few
#: file reads, where psutil's children() scans every process on the machine (milliseconds, twice
#: per evaluation: it doubled the harness's own time in a 2,000-evaluation simulated run).
_PROC_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _child_pids(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # the process ended
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                out.extend(int(v) for v in fh.read().split())
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
    return out


def _descendants() -> dict[int, psutil.Process]:
    try:
        if not _PROC_CHILDREN:
            return {p.pid: p for p in psutil.Process().children(recursive=True)}
        found: dict[int, psutil.Process] = {}
        todo = _child_pids(os.getpid())
        while todo:
            pid = todo.pop()
            if pid in found:
                continue
            with contextlib.suppress(psutil.Error):
                found[pid] = psutil.Process(pid)
            todo.extend(_child_pids(pid))
        return found
    except psutil.Error:
        return {}


def _kept(process: psutil.Process) -> bool:
    try:
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return any(fragment in cmdline for fragment in KEPT)


def end_processes(processes: list[psutil.Process], grace_s: float = GRACE_S) -> None:
    """SIGTERM, then SIGKILL for those still alive after ``grace_s``; children of ours are reaped."""
    for p in processes:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=grace_s)


class Guard:
    """A context manager around one objective call (see the module docstring).

    Args:
        timeout_s: the call's time limit in seconds, or None for none.
    """

    def __init__(self, timeout_s: float | None = None):
        self.timeout_s = timeout_s
        self.timed_out = False
        self._armed = False
        self._old_alarm: Any = None
        self._handlers: dict[int, Any] = {}
        self._harness_codes: set[CodeType] = set()
        self._children: dict[int, psutil.Process] = {}
        self._main = threading.current_thread() is threading.main_thread()

    def _alarm(self, _signum: int, _frame: FrameType | None) -> None:
        if self._armed:
            self.timed_out = True
            raise EvaluationTimeout(f"ran past the {self.timeout_s:g} s time limit")

    def __enter__(self) -> Guard:
        self._handlers = _handlers()
        self._harness_codes = {c for c in map(_code, self._handlers.values()) if c is not None}
        self._children = _descendants()
        if self.timeout_s is not None:
            if self._main:
                self._old_alarm = signal.signal(signal.SIGALRM, self._alarm)
                self._armed = True
                signal.setitimer(signal.ITIMER_REAL, min(float(self.timeout_s), MAX_ITIMER_S), REARM_S)
            else:
                warnings.warn(
                    f"an evaluation's {self.timeout_s:g} s time limit cannot be enforced off the main thread",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return self

    def __exit__(self, *_exc: object) -> None:
        self._armed = False  # first: a SIGALRM from here on does nothing
        if self._main:
            if self.timeout_s is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, self._old_alarm)
            self._restore_handlers()
        self._end_children()

    def _restore_handlers(self) -> None:
        for sig, handler in self._handlers.items():
            if sig == signal.SIGALRM and self.timeout_s is not None:
                continue  # put back above
            with contextlib.suppress(ValueError, OSError, TypeError):
                if handler is not None and signal.getsignal(sig) != handler:
                    signal.signal(sig, handler)

    def _end_children(self) -> None:
        new = [p for pid, p in _descendants().items() if pid not in self._children and not _kept(p)]
        if new:
            end_processes(new)

    def stops_the_run(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the run being stopped (re-raised), not the objective's fault (recorded).

        True for :class:`Interrupted` and for any exception raised inside a signal handler that
        was installed before the call (the driver's, submitit's in a Slurm job).
        """
        if isinstance(exc, Interrupted):
            return True
        if isinstance(exc, EvaluationTimeout):
            return False
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code in self._harness_codes:
                return True
            tb = tb.tb_next
        return False
