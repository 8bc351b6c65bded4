"""Cheap objectives for smoke runs, config tests and fault injection.

``Quadratic`` is a bowl with a known minimum. ``Faulty`` wraps it and misbehaves on purpose
in a region of the space (raise, NaN, a non-number, a dead or hung worker, a segfault, a
memory hog, a flood of output, ``sys.exit``, KeyboardInterrupt, a child process left running,
text no file can hold), so the harness's handling of each fault can be shown.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from bench.errors import UserError
from bench.objective import Evaluation, Objective

FAULTS = (
    "none",
    "raise",
    "nan",
    "inf",
    "none_value",
    "string",
    "exit",
    "sigkill",
    "segfault",
    "hang",
    "hang_ignore_term",
    "children",
    "memory",
    "print",
    "sys_exit",
    "keyboard_interrupt",
    "base_exception",
    "spawn_child",
    "surrogate",
    "surrogate_metric",
)
#: A lone surrogate: a str Python holds, but UTF-8 cannot encode.
SURROGATE = "\ud800"


class InjectedBaseException(BaseException):
    """Neither an Exception nor a KeyboardInterrupt nor a SystemExit (fault ``base_exception``)."""


class Quadratic(Objective):
    """``sum((x - centre)^2)`` over float parameters; minimum 0 at ``centre`` (default 0.3 of each range).

    Args:
        space: the search space (float parameters).
        centre: where the minimum lies, as a share of each parameter's range on its search scale.
        sleep_s: seconds to sleep per evaluation (to mimic a cost).
        noise_std: Gaussian observation noise (seeded by the evaluation's seed).
    """

    optimum = 0.0

    def __init__(
        self,
        space: Mapping[str, Any],
        centre: float = 0.3,
        sleep_s: float = 0.0,
        noise_std: float = 0.0,
        name: str = "quadratic",
    ):
        super().__init__(space, name)
        self.centre = float(centre)
        self.sleep_s = float(sleep_s)
        self.noise_std = float(noise_std)

    def true_value(self, params: dict[str, Any]) -> float:
        u = self.space.to_unit(params)
        return float(((u - self.centre) ** 2).sum())

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        if self.sleep_s:
            time.sleep(self.sleep_s)
        true = self.true_value(params)
        value = true
        if self.noise_std:
            import numpy as np

            value += float(np.random.default_rng(seed).normal(0.0, self.noise_std))
        return Evaluation(value, {"true_value": true})


class Faulty(Quadratic):
    """A quadratic that misbehaves with ``fault`` where the first parameter's unit value > ``above``.

    Args:
        fault: one of ``FAULTS``.
        above: the share of the first parameter's range beyond which the fault happens.
        once_file: if set, the fault happens only while this file does not exist (it is created
            by the first faulty call), e.g. to show a retried crash that then succeeds.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        fault: str = "none",
        above: float = 0.5,
        once_file: str | None = None,
        name: str = "faulty",
        **quadratic: Any,
    ):
        super().__init__(space, name=name, **quadratic)
        fault = str(fault)  # YAML reads nan and inf as floats
        if fault not in FAULTS:
            raise UserError(f"objective.fault: unknown fault {fault!r} (use one of {', '.join(FAULTS)})")
        self.fault = fault
        self.above = float(above)
        self.once_file = once_file

    def _faulty(self, params: dict[str, Any]) -> bool:
        if self.fault == "none" or self.space.to_unit(params)[0] <= self.above:
            return False
        if self.once_file:
            try:
                fd = os.open(self.once_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return False
            os.close(fd)
        return True

    def _spawn_child(self, params: dict[str, Any], seed: int) -> Evaluation:
        """Leaves a child running, in a session of its own (out of reach of a process-group kill).

        Metrics: ``child_pid``, and ``earlier_child_alive``: whether the child the previous such
        call in this process left is still running (None on the first), which the harness should
        have ended with that evaluation.
        """
        import subprocess

        import psutil

        earlier = getattr(self, "_child_pid", None)
        alive = None
        if earlier is not None:
            try:
                alive = psutil.Process(earlier).status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        self._child_pid = child.pid
        result = super().__call__(params, seed)
        return Evaluation(result.value, {**result.metrics, "child_pid": child.pid, "earlier_child_alive": alive})

    def __call__(self, params: dict[str, Any], seed: int) -> Any:
        if not self._faulty(params):
            return super().__call__(params, seed)
        fault = self.fault
        if fault == "raise":
            raise RuntimeError("injected failure")
        if fault in ("nan", "inf"):
            return Evaluation(float(fault), {"loss_history": [1.0, float(fault)]})
        if fault == "none_value":
            return None
        if fault == "string":
            return "not a number"
        if fault == "exit":
            os._exit(3)
        if fault == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault == "segfault":
            import ctypes

            ctypes.string_at(0)
        if fault == "hang_ignore_term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if fault in ("hang", "hang_ignore_term"):
            time.sleep(3600)
        if fault == "children":
            import subprocess

            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            time.sleep(3600)
        if fault == "memory":
            hog = bytearray(64 * 1024**3)  # 64 GiB: past any sane per-worker limit
            return float(len(hog))
        if fault == "sys_exit":
            sys.exit(0)
        if fault == "keyboard_interrupt":
            raise KeyboardInterrupt
        if fault == "base_exception":
            raise InjectedBaseException("injected BaseException")
        if fault == "spawn_child":
            return self._spawn_child(params, seed)
        if fault == "surrogate":
            raise RuntimeError(f"injected failure with text no file can hold: {SURROGATE}")
        if fault == "surrogate_metric":
            result = super().__call__(params, seed)
            return Evaluation(result.value, {**result.metrics, "note": f"text {SURROGATE} here", SURROGATE: 1.0})
        if fault == "print":
            chunk = "x" * 1023 + "\n"
            for _ in range(4 * 1024):  # 4 MiB
                sys.stdout.write(chunk)
            sys.stdout.flush()
        return super().__call__(params, seed)
