"""A worker process for the GP hyperparameter fits that run off the decision's critical path.

With ``fit_lag > 0`` (``GPOptions``) a GP strategy's :class:`~bench.strategies.gp.GPModelCache`
hands the hyperparameter fits that later decisions will need to the process's one
:class:`FitPool`. A fit needed before the worker has started it (after a resume, or when a
prefetch is late) is computed in the driver's process instead, by the same function of the same
arguments, on one torch thread as in the worker: floating point depends on the number of
threads, and this way a fit is the same to the bit wherever it ran, so a resumed run proposes
what an uninterrupted one proposes (``tests/test_background_fit.py`` checks the equality).

The worker is ``python -m bench.strategies.background_fit``, started on the first submit with
``OMP_NUM_THREADS=1`` and the parent's ``sys.path``: a fresh interpreter, as multiprocessing's
``spawn`` gives (torch and ``fork`` do not mix), but one that does not re-import the caller's
main script (so a script using the Python API needs no ``if __name__ == "__main__"`` guard).
Jobs go to it one at a time as pickles over its stdin and come back over a private copy of its
stdout (whatever a library prints there goes to stderr). It runs in a session of its own, so a
terminal's Ctrl-C or hangup reaches only the driver, which decides what it means (the worker
ignores SIGINT too), and where the kernel groups CPU shares by session (autogroup) the worker
gets its own share instead of halving the driver's. It exits when the process that started it
is gone: its stdin reaches end of file, and a watch thread notices the new parent within
``PARENT_POLL_S`` even mid-fit (a ``SIGKILL`` of the driver leaves no orphan). It computes pure
functions of their arguments and writes no file: not in the run folder, nowhere.

The pool shuts down when the last cache using it is closed (``Strategy.close``, which the driver
calls at the end of a run) or at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import IO, Any, TypeVar, cast

T = TypeVar("T")

#: How often the worker checks that the process that started it is still alive (seconds).
PARENT_POLL_S = 0.2

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class WorkerDied(RuntimeError):
    """The worker process ended in the middle of a job, twice (killed, out of memory)."""


class FitPool:
    """One worker process shared by the caches of this process, started on first use.

    Jobs run one at a time, in the order submitted. Caches :meth:`acquire` the pool before they
    submit and :meth:`release` it when closed; the last release shuts the worker down (a later
    submit starts a new one).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._closing = False
        self._users = 0

    def acquire(self) -> None:
        """Registers a user (a cache) of the pool."""
        with self._lock:
            self._users += 1

    def release(self) -> None:
        """Unregisters a user; the last one out shuts the worker down."""
        with self._lock:
            self._users = max(self._users - 1, 0)
            last = self._users == 0
        if last:
            self.shutdown()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Runs ``fn(*args)`` in the worker (``fn`` a module-level function, the arguments picklable)."""
        future: Future[T] = Future()
        with self._lock:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._serve, name="bobench-fit-pool", daemon=True)
                self._thread.start()
            self._jobs.put((future, fn, args))
        return future

    def worker_pids(self) -> list[int]:
        """The process id of the running worker (none before the first job, or after a shutdown)."""
        worker = self._worker
        return [worker.pid] if worker is not None and worker.poll() is None else []

    def shutdown(self) -> None:
        """Cancels the jobs not started, stops the worker (a running job is abandoned) and waits for it."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._closing = True
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            self._jobs.put(None)
            worker = self._worker
        if worker is not None:
            worker.kill()  # the serving thread's read then ends; nothing is lost but a fit nobody waits for
        thread.join()

    # -- the serving thread ----------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, fn, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = self._call(fn, args)
                except BaseException as exc:  # the job's own error, raised again in whoever waits for it
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        finally:
            self._stop_worker()

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """``fn(*args)`` in the worker; a worker that dies is replaced once (the job is pure)."""
        for attempt in range(2):
            worker = self._worker if self._worker is not None and self._worker.poll() is None else self._start()
            try:
                stdin, stdout = cast(IO[bytes], worker.stdin), cast(IO[bytes], worker.stdout)
                pickle.dump((fn, args), stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                ok, value = pickle.load(stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                self._stop_worker()
                if self._closing:
                    raise WorkerDied("the fit pool was shut down during the job") from exc
                if attempt:
                    raise WorkerDied(f"the fit worker died twice during {fn.__name__}") from exc
                continue
            if ok:
                return value
            raise value
        raise AssertionError("unreachable")

    def _start(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        self._worker = subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a terminal's signals are the driver's to handle; its own CPU share (autogroup)
        )
        return self._worker

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.stdin is not None:
            try:
                worker.stdin.close()  # end of file: an idle worker exits
            except OSError:
                pass
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if worker.stdout is not None:
            worker.stdout.close()


#: The process's one pool (caches share it; see the module docstring).
FIT_POOL = FitPool()
atexit.register(FIT_POOL.shutdown)


# -- the worker process -----------------------------------------------------------------------------
def _exit_when_orphaned(parent: int) -> None:
    """Ends the worker once its parent has died (it is then re-parented, so ``getppid`` changes)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def serve(parent: int) -> None:
    """The worker's loop: a pickled ``(fn, args)`` in, a pickled ``(ok, result or exception)`` out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints of the libraries go to stderr, not into the replies
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True, name="orphan-watch").start()
    import torch

    torch.set_num_threads(1)
    requests = sys.stdin.buffer
    while True:
        try:
            fn, args = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an exception that does not pickle: its message does
            data = pickle.dumps((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({exc})")))
        replies.write(data)
        replies.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
