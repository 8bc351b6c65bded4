"""Runs one task against an objective and turns whatever happens into an :class:`Outcome`.

Every executor calls :func:`evaluate` where the evaluation runs (in-process, in a worker
process, in a Slurm job), so statuses mean the same everywhere. Whatever the objective raises,
SystemExit and KeyboardInterrupt included, is a failed evaluation; only the run being stopped
(:class:`bench.errors.Interrupted`, a Ctrl-C or SIGTERM in the driver) goes through. The call runs
inside a :class:`bench.guard.Guard`: its time limit, and the end of the child processes it started.
Any text it returns is made writable (see :func:`safe_text`).
"""

from __future__ import annotations

import math
import numbers
import time
import traceback
from contextvars import ContextVar
from typing import Any, Protocol

from bench.guard import Guard
from bench.objective import Evaluation, Objective, Reporter, reset_reporter, set_reporter
from bench.records import DIVERGED, ERROR, INVALID, OK, TIMEOUT, Outcome, Task

_CURRENT_TASK: ContextVar[Task | None] = ContextVar("bobench_current_task", default=None)


def current_task() -> Task | None:
    """The task :func:`evaluate` is running in this thread, or None outside an evaluation.

    For an objective that keeps files per evaluation (``<run folder>/evals/<eval_id>/``): the
    objective's own call sees only the parameters and the seed.
    """
    return _CURRENT_TASK.get()


class Meter(Protocol):
    """Measures the energy of one evaluation (see :mod:`bench.carbon`)."""

    def start(self) -> None: ...

    def stop(self, duration_s: float) -> tuple[float | None, float | None, str]:
        """Returns ``(energy_kwh, co2_kg, method)`` for the span since :meth:`start`."""
        ...


def safe_text(text: str) -> str:
    """``text`` with every character UTF-8 cannot encode (a lone surrogate such as ``'\\ud800'``) escaped.

    An objective's text (an error message, a string metric, a key) goes into the journal, results.csv
    and summary.json; one unencodable character would make every later write of them fail.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def json_safe(obj: Any) -> Any:
    """Makes metrics JSON-able without NaN literals: non-finite floats become strings, text encodable."""
    if isinstance(obj, dict):
        return {safe_text(str(k)): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, str):
        return safe_text(obj)
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        f = float(obj)
        return f if math.isfinite(f) else repr(f)
    if hasattr(obj, "tolist"):
        return json_safe(obj.tolist())
    return safe_text(repr(obj))


def classify(result: Any) -> tuple[str, float | None, dict[str, Any], str | None]:
    """Checks an objective's return value: ``(status, value, metrics, message)``."""
    metrics: dict[str, Any] = {}
    value: Any = result
    if isinstance(result, Evaluation):
        value, metrics = result.value, dict(result.metrics or {})
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:  # numpy / torch scalars
            try:
                value = value.item()
            except Exception:
                pass
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return (
            INVALID,
            None,
            json_safe(metrics),
            f"objective returned {type(value).__name__} {value!r:.80}, not a number",
        )
    value = float(value)
    if not math.isfinite(value):
        return DIVERGED, None, json_safe(metrics), f"objective returned {value}"
    return OK, value, json_safe(metrics), None


def _last_frames() -> str:
    """The last frames of the exception being handled."""
    try:
        return traceback.format_exc(limit=-3)
    except Exception:
        return ""


def _describe(exc: BaseException) -> str:
    """``Type: message`` and the last frames, whatever the exception's ``__str__`` does."""
    try:
        text = str(exc)
    except Exception:
        text = "<its message could not be read>"
    return f"{type(exc).__name__}: {text}\n{_last_frames()}"


def evaluate(
    objective: Objective,
    task: Task,
    clock_origin: float,
    worker: str,
    meter: Meter | None = None,
    timeout_s: float | None = None,
    timeout_from: str = "executor.timeout_s",
) -> Outcome:
    """Runs ``objective(task.params, task.seed)`` and never raises for the objective's faults.

    Args:
        objective: an objective whose :meth:`Objective.setup` has run.
        task: what to run.
        clock_origin: ``time.time()`` at the run's start; outcome times are relative to it.
        worker: a name for where it ran.
        meter: measures energy and CO2 of the evaluation, if given.
        timeout_s: the call's time limit (in the main thread; see :mod:`bench.guard`), or None.
        timeout_from: the setting the limit came from, named in a ``timeout`` outcome's message.

    Raises:
        Interrupted: the run is being stopped (Ctrl-C, SIGTERM in the driver), or another
            exception a signal handler installed before the call raised (it stops the job).
    """
    t_start = time.time()
    if meter is not None:
        meter.start()
    token = _CURRENT_TASK.set(task)
    # a scheduled segment (bench/schedulers) runs up to task.fidelity and its reports are kept
    rep = None if task.fidelity is None else Reporter(task.resume_from, task.fidelity, record=True)
    rep_token = None if rep is None else set_reporter(rep)
    guard = Guard(timeout_s)
    try:
        with guard:
            result = objective(dict(task.params), task.seed)
            status, value, metrics, message = classify(result)
    except BaseException as exc:
        if guard.stops_the_run(exc):
            raise
        if guard.timed_out:
            status, value, metrics = TIMEOUT, None, {}
            message = f"ran past the {timeout_s:g} s time limit ({timeout_from}); stopped in\n{_last_frames()}"
        else:
            status, value, metrics, message = ERROR, None, {}, _describe(exc)
    finally:
        _CURRENT_TASK.reset(token)
        if rep_token is not None:
            reset_reporter(rep_token)
    message = safe_text(message) if message is not None else None
    t_end = time.time()
    energy_kwh = co2_kg = method = None
    if meter is not None:
        energy_kwh, co2_kg, method = meter.stop(t_end - t_start)
    return Outcome(
        eval_id=task.eval_id,
        status=status,
        value=value,
        metrics=metrics,
        message=message,
        worker=worker,
        t_start=t_start - clock_origin,
        t_end=t_end - clock_origin,
        attempt=task.attempt,
        energy_kwh=energy_kwh,
        co2_kg=co2_kg,
        carbon_method=method,
        reports=[] if rep is None else rep.reports,
    )
