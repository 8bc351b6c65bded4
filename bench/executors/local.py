"""A pool of long-lived worker processes on this machine.

Each worker builds the objective once (``setup``), then runs tasks sent over its own pipe.
A worker that dies takes down only the task it held: that task is reported ``crashed`` (the
driver retries it) and a fresh worker takes the slot. A task past ``timeout_s`` (or, without
one, past the run's ``budget.seconds``) has its worker's whole process group killed, and every
process the worker started, and is reported ``timeout``. Child processes an evaluation leaves
behind end with it (:class:`bench.guard.Guard`, in the worker); the worker itself goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from typing import Any, cast

import psutil

from bench.errors import UserError
from bench.evaluate import evaluate
from bench.executors.base import Executor, MeterFactory
from bench.executors.schema import LocalConf
from bench.guard import check_time_limit
from bench.objective import Objective
from bench.records import CRASHED, TIMEOUT, Outcome, Task

#: Longest wait for a dead worker's exit status: it is normally there within milliseconds.
REAP_TIMEOUT_S = 10.0


def _die_with_parent() -> None:
    """Asks Linux to SIGKILL this worker when the driver dies, so no orphan runs on."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        if os.getppid() == 1:  # the driver died before prctl took effect
            os._exit(1)


def _worker_main(
    conn: Connection,
    objective: Objective,
    clock_origin: float,
    name: str,
    meter_factory: MeterFactory | None,
    memory_limit_mb: int | None,
    threads: int | None,
) -> None:
    """The loop of one worker process: set up once, then evaluate until told to stop."""
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.setsid()  # its own process group, so a time-out can kill the objective's children too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    if memory_limit_mb:
        import resource

        limit = int(memory_limit_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            import torch

            torch.set_num_threads(int(threads))
        except ImportError:
            pass
    objective.setup()
    meter = meter_factory() if meter_factory else None
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(evaluate(objective, task, clock_origin, name, meter))


@dataclass
class _Slot:
    name: str
    process: Any
    conn: Connection
    task: Task | None = None
    deadline: float | None = None
    started: bool = False


class LocalExecutor(Executor):
    """``workers`` processes that stay alive for the whole run.

    Args:
        workers: the number of worker processes.
        start_method: ``spawn`` (safe with torch and threads), ``forkserver`` or ``fork``.
        timeout_s: per-evaluation time limit (None: none, or ``budget.seconds`` when the run has one).
        memory_limit_mb: address-space limit of each worker (None: no limit).
        threads: torch/OpenMP threads per worker (None: leave the library default).
        start_timeout_s: how long a worker may take to start and run ``setup``.
    """

    def __init__(
        self,
        workers: int = 1,
        start_method: str = LocalConf.start_method,
        timeout_s: float | None = LocalConf.timeout_s,
        memory_limit_mb: int | None = LocalConf.memory_limit_mb,
        threads: int | None = LocalConf.threads,
        start_timeout_s: float = LocalConf.start_timeout_s,
    ):
        super().__init__(workers)
        if start_method not in mp.get_all_start_methods():
            raise UserError(f"executor.start_method: {start_method!r} is not one of {mp.get_all_start_methods()}")
        # start_method is one of get_all_start_methods(), whose contexts all have Process.
        self.ctx = cast(SpawnContext | ForkServerContext | ForkContext, mp.get_context(start_method))
        self.timeout_s = check_time_limit("executor.timeout_s", timeout_s)
        self.budget_s: float | None = None
        self.memory_limit_mb = memory_limit_mb
        self.threads = threads
        self.start_timeout_s = start_timeout_s
        self.slots: list[_Slot] = []
        self._queue: list[Task] = []

    def set_budget_seconds(self, seconds: float) -> None:
        self.budget_s = seconds

    def _limit(self) -> tuple[float | None, str]:
        """Each evaluation's time limit and the setting it comes from."""
        if self.timeout_s is None and self.budget_s is not None:
            return self.budget_s, "budget.seconds; set executor.timeout_s for another"
        return self.timeout_s, "executor.timeout_s"

    # -- workers ---------------------------------------------------------------------------
    def start(self, objective: Objective, clock_origin: float, meter_factory: MeterFactory | None = None) -> None:
        super().start(objective, clock_origin, meter_factory)
        self.slots = [self._spawn(f"local-{i}") for i in range(self.workers)]
        for slot in self.slots:
            self._await_ready(slot)

    def _spawn(self, name: str) -> _Slot:
        parent, child = self.ctx.Pipe(duplex=True)
        process = self.ctx.Process(
            target=_worker_main,
            args=(
                child,
                self.objective,
                self.clock_origin,
                name,
                self.meter_factory,
                self.memory_limit_mb,
                self.threads,
            ),
            name=f"bobench-{name}",
            daemon=True,
        )
        process.start()
        child.close()
        return _Slot(name=name, process=process, conn=parent)

    def _await_ready(self, slot: _Slot) -> None:
        ready = wait([slot.conn, slot.process.sentinel], timeout=self.start_timeout_s)
        if slot.conn in ready:
            with contextlib.suppress(EOFError, OSError):
                if slot.conn.recv()[0] == "ready":
                    slot.started = True
                    return
        self.close()
        code = slot.process.exitcode
        raise RuntimeError(
            f"worker {slot.name} failed to start (exit code {code}); run with executor=inline to see why"
        )

    def _replace(self, slot: _Slot) -> None:
        self._kill(slot)
        new = self._spawn(slot.name)
        self.slots[self.slots.index(slot)] = new
        self._await_ready(new)

    @staticmethod
    def _kill(slot: _Slot) -> None:
        pid = slot.process.pid
        if slot.process.is_alive() and pid:
            try:  # those that left the worker's group too (a child in a session of its own)
                descendants = psutil.Process(pid).children(recursive=True)
            except psutil.Error:
                descendants = []
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the worker leads its own group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            for p in descendants:
                with contextlib.suppress(psutil.Error):
                    p.kill()
        slot.process.join(timeout=5)
        slot.conn.close()

    # -- the contract ----------------------------------------------------------------------
    @property
    def running(self) -> int:
        return sum(s.task is not None for s in self.slots) + len(self._queue)

    def submit(self, task: Task) -> None:
        self._queue.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        for slot in self.slots:
            if not self._queue:
                return
            if slot.task is None:
                task = self._queue.pop(0)
                slot.task = task
                limit = self._limit()[0]
                slot.deadline = time.monotonic() + limit if limit is not None else None
                try:
                    slot.conn.send(task)
                except (BrokenPipeError, OSError):
                    pass  # the worker is dead: wait() sees its sentinel and reports it

    def wait(self, first: bool = True, timeout: float | None = None) -> list[Outcome]:
        outcomes: list[Outcome] = []
        end = None if timeout is None else time.monotonic() + timeout
        while self.running:
            busy = [s for s in self.slots if s.task is not None]
            deadlines = [s.deadline for s in busy if s.deadline is not None]
            wake = min([*deadlines, *([end] if end is not None else [])], default=None)
            wait_s = None if wake is None else max(0.0, wake - time.monotonic())
            handles: list[Any] = [s.conn for s in busy] + [s.process.sentinel for s in busy]
            ready = set(wait(handles, timeout=wait_s))
            for slot in busy:
                outcome = self._collect(slot, ready)
                if outcome is not None:
                    outcomes.append(outcome)
            self._dispatch()
            if outcomes and first:
                break
            if end is not None and time.monotonic() >= end:
                break
        return outcomes

    def _collect(self, slot: _Slot, ready: set[Any]) -> Outcome | None:
        task = slot.task
        assert task is not None
        if slot.conn in ready:
            try:
                outcome = slot.conn.recv()
            except (EOFError, OSError):
                outcome = None
            if isinstance(outcome, Outcome):
                slot.task, slot.deadline = None, None
                return outcome
        now = self.now()
        if slot.process.sentinel in ready or not slot.process.is_alive():
            # the sentinel is ready once the worker's descriptors close, which can be just before
            # the kernel lets it be reaped: wait for the exit status (it is on its way)
            slot.process.join(timeout=REAP_TIMEOUT_S)
            code = slot.process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            slot.task, slot.deadline = None, None
            self._replace(slot)
            return Outcome(
                task.eval_id,
                CRASHED,
                message=f"worker {slot.name} died ({how})",
                worker=slot.name,
                t_start=now,
                t_end=now,
                attempt=task.attempt,
            )
        if slot.deadline is not None and time.monotonic() >= slot.deadline:
            slot.task, slot.deadline = None, None
            self._replace(slot)
            limit, source = self._limit()
            return Outcome(
                task.eval_id,
                TIMEOUT,
                message=f"ran past the {limit or 0:g} s time limit ({source})",
                worker=slot.name,
                t_start=now - float(limit or 0),
                t_end=now,
                attempt=task.attempt,
            )
        return None

    def close(self) -> None:
        for slot in self.slots:
            if slot.process.is_alive() and slot.task is None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    slot.conn.send(None)
        for slot in self.slots:
            slot.process.join(timeout=2 if slot.task is None else 0)
            self._kill(slot)
        self.slots = []
        self._queue = []
