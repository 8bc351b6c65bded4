"""The loop: ask the strategy, submit to the executor, journal every event, until the budget.

sync mode waits for the whole batch of ``workers`` evaluations, then asks for the next
batch; async mode refills the workers as soon as they free: when ``k`` are free, one decision
proposes ``k`` points with the running points as ``pending`` (``max_batch`` caps a decision's
points). Everything the loop knows is derived from the journal, so resuming a run is replaying it.
"""

from __future__ import annotations

import math
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from bench.build import Parts, build, config_for_compare, config_hash, first_difference
from bench.carbon import hook as carbon_hook
from bench.errors import Interrupted, RunFolderError, UserError
from bench.failures import RunFailed, describe, failing_from_the_start, first_failure
from bench.journal import SETASIDE, Journal, JournalWarning
from bench.progress import Progress, open_progress
from bench.records import CANCELLED, Outcome, Task
from bench.resume import settings_of
from bench.run_folder import git_commit, versions, write_summary
from bench.run_folder.results_file import ResultsFile
from bench.run_folder.state import EvalState, RunState
from bench.schedulers.hook import Schedule
from bench.seeding import eval_seed
from bench.strategies.mf_fidelity import at_chosen_fidelity, chosen_fidelity_history

#: summary.json is rewritten once this many more evaluations have finished since it last was...
SUMMARY_EVERY = 10
#: ...or at the first wake-up with a new result this many seconds after (so slow runs see each result).
SUMMARY_S = 5.0


class SignalGate:
    """Turns SIGTERM and SIGINT into :class:`Interrupted`, but never inside a held section.

    The driver holds the gate while it writes a record and applies it to its state, so a signal
    cannot leave the two apart (results.csv one row behind the journal); a signal that arrives
    then is raised when the section ends.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None

    def _handler(self, signum: int, _frame: Any) -> None:
        if self._depth:
            self._pending = signum
            return
        raise Interrupted(signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handles the signals in the main thread for the duration of the block."""
        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        try:
            yield
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)

    @contextmanager
    def held(self) -> Iterator[None]:
        """A section no signal interrupts; one that arrived meanwhile is raised at its end."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                signum, self._pending = self._pending, None
                if sys.exc_info()[0] is None:
                    raise Interrupted(signum)


class Driver:
    """Runs one experiment into one run folder.

    Args:
        cfg: the composed config (see conf/config.yaml).
        run_dir: the run folder; an existing run there is resumed only with ``resume`` set.
        parts: prebuilt parts (tests); built from ``cfg`` otherwise.
    """

    def __init__(
        self,
        cfg: DictConfig,
        run_dir: Path | str,
        parts: Parts | None = None,
        choices: dict[str, Any] | None = None,
    ):
        self.cfg = cfg
        self.choices = choices or {}
        self.run_dir = Path(run_dir)
        self.parts = parts or build(cfg)
        self.objective = self.parts.objective
        self.strategy = self.parts.strategy
        self.executor = self.parts.executor
        scheduler = self.parts.scheduler  # bench/schedulers: evaluations run in segments, one per rung
        self.schedule = (
            None if scheduler is None else Schedule(scheduler, self.objective, int(cfg.seed), self.executor.simulated)
        )
        self.space = self.objective.space
        self.workers = int(cfg.workers)
        self.mode = str(cfg.mode)
        #: the most points one decision proposes (None: as many as workers are free)
        self.max_batch: int | None = cfg.get("max_batch")
        self.retries = int(cfg.get("retries", 0))
        self.fail_fast = int(cfg.get("fail_fast") or 0)
        budget = cfg.budget
        self.max_evals: int | None = budget.get("evaluations")
        self.max_seconds: float | None = budget.get("seconds")
        fsync = bool(OmegaConf.select(cfg, "journal.fsync", default=True))
        self.journal = Journal(self.run_dir, fsync=fsync, group_commit=True)
        self.results = ResultsFile(self.run_dir, self.objective.optimum)
        self.state = RunState()
        self.meters = self.parts.meters.open()  # builds the driver's own meter here
        self.stop_reason = "running"
        #: when summary.json was last written (time.monotonic()) and how many had finished then
        self._summary_at: tuple[float, int] | None = None
        self._progress = Progress()
        self._t_started = time.time()
        self._gate = SignalGate()

    # -- the whole run -----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        # Past a file-size limit (ulimit -f) a write then fails with EFBIG, which the journal
        # reports, instead of the signal killing the driver mid-record (bobench is POSIX-only).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        records = self.journal.open()
        try:
            self.state = RunState.from_records(records)
            self._set_aside(
                self.state.duplicates,
                "duplicate final record",
                "duplicate final record(s) for eval_id {ids} into {aside}; the first record of each stands",
            )
            # their submit record was damaged: the eval_id goes to a new point
            self._set_aside(
                self.state.orphans,
                "about an evaluation never submitted",
                "record(s) about eval_id {ids}, never submitted (a damaged submit record), into {aside}",
            )
            if self.schedule is not None:
                self.schedule.restore(records)  # the rungs reached so far: a resumed run keeps its schedule
            self._start_or_resume(records)
            with self._gate.installed():
                try:
                    self._loop()
                except Interrupted as exc:
                    self.stop_reason = f"interrupted ({exc})"
                    raise
                except KeyboardInterrupt:
                    self.stop_reason = "interrupted (SIGINT)"
                    raise Interrupted(signal.SIGINT) from None
                finally:
                    with self._gate.held():  # a second Ctrl-C does not cut the run's end short
                        self._finish()
        finally:
            self.journal.close()
        return self.summary()

    def _set_aside(self, records: list[dict[str, Any]], why: str, said: str) -> None:
        """Sets ``records`` aside (at the journal's next write) and says so in one warning."""
        if not records:
            return
        ids = ", ".join(map(str, sorted({int(r["eval_id"]) for r in records})[:10]))
        self.journal.set_aside(records, why)
        warnings.warn(
            f"{self.journal.path}: set aside {len(records)} " + said.format(ids=ids, aside=SETASIDE),
            JournalWarning,
            stacklevel=3,
        )

    def _start_or_resume(self, records: list[dict[str, Any]]) -> None:
        plain = config_for_compare(self.cfg)
        resuming = bool(self.cfg.get("resume"))
        if self.state.start is None:
            if records:
                raise UserError(f"{self.run_dir}: the journal has no start record; it is not a bobench run folder")
            origin = time.time()
            self._log(
                "start",
                config=plain,
                config_hash=config_hash(plain),
                seed=int(self.cfg.seed),
                clock_origin=origin,
                wall_time=time.time(),
                versions=versions(),
                git_commit=git_commit(),
                optimum=self.objective.optimum,
                # what a resume rebuilds the run from (bench/resume.py), with the config above
                settings=settings_of(self.cfg),
                choices={
                    str(k): v
                    for k, v in self.choices.items()
                    if (v is None or isinstance(v, str)) and (k, v) != ("scheduler", "none")  # as before schedulers
                },
            )
            self._start_executor(origin)
            return
        if not resuming:
            raise UserError(f"{self.run_dir} already holds a run; continue it with resume={self.run_dir}")
        diff = first_difference(self.state.start.get("config"), plain)
        if diff and not self.cfg.get("force", False):
            raise UserError(
                f"resume: the config differs from the run's at '{diff}'; resume with the same config, or add force=true"
            )
        # The clock goes on from where the run stopped: downtime is not the run's time.
        origin = time.time() - self.state.last_t
        rerun = [ev.eval_id for ev in self._unpaused(self.state.in_flight())]
        self.journal.append(
            "resume",
            t=self.state.last_t,
            wall_time=time.time(),
            n_finished=self.state.n_finished(),
            rerun=rerun,
            config_changed_at=diff,
        )
        self._start_executor(origin)
        if self.executor.simulated:  # a virtual clock starts at 0: move it to where the run stopped
            self.executor.advance(self.state.last_t - self.executor.now())
        for ev in self._unpaused(self.state.in_flight()):
            if ev.job_id and ev.job_attempt == ev.attempt and not ev.abandoned and self._attach(ev, ev.job_id):
                continue  # a job that outlived its driver (Slurm) is followed rather than run again
            self._submit(ev, attempt=ev.attempt + 1)  # in flight when the driver stopped: run again, once

    def _attach(self, ev: EvalState, job_id: str) -> bool:
        task = Task(ev.eval_id, dict(ev.params), eval_seed(int(self.cfg.seed), ev.eval_id), ev.attempt)
        if self.schedule is not None:  # the segment the job is running
            task.resume_from, task.fidelity = self.schedule.span(ev.eval_id)
        elif ev.fidelity is not None:  # the fidelity its strategy chose
            task.fidelity = ev.fidelity
        if not self.executor.attach(task, job_id):
            return False
        self._log("attach", eval_id=ev.eval_id, attempt=ev.attempt, job_id=job_id)
        return True

    def _start_executor(self, origin: float) -> None:
        self.objective.set_run_dir(self.run_dir)  # e.g. where a command keeps each evaluation's output
        self.executor.set_run_dir(self.run_dir)  # e.g. where submitit keeps its job files
        if self.max_seconds is not None:  # a hung objective cannot hold the run much past its budget
            self.executor.set_budget_seconds(float(self.max_seconds))
        self.executor.start(self.objective, origin, self.meters.worker_factory)

    def _log(self, event: str, **fields: Any) -> dict[str, Any]:
        """Journals one record and applies it to the run's state, with no signal in between."""
        with self._gate.held():
            rec = self.journal.append(event, **fields)
            self.state.apply(rec)
        return rec

    # -- the loop ------------------------------------------------------------------------------
    def _budget_left(self) -> bool:
        if self.max_evals is not None and len(self.state.evals) >= self.max_evals:
            self.stop_reason = "budget.evaluations"
            return False
        if self.max_seconds is not None and self.executor.now() >= self.max_seconds:
            self.stop_reason = "budget.seconds"
            return False
        return True

    def _loop(self) -> None:
        self._open_progress()
        exhausted = False
        while True:
            free = self.workers - self.executor.running
            if free and self.schedule is not None and (self.mode == "async" or self.executor.running == 0):
                if self._promote(free if self.mode == "sync" else 1):  # a paused evaluation goes on first
                    continue
            can_ask = not exhausted and free > 0 and self._budget_left()
            if can_ask and (self.mode == "async" or self.executor.running == 0):
                exhausted = not self._fill(free)
                if exhausted:
                    self.stop_reason = "strategy exhausted"
            if self.executor.running == 0:
                break
            self._end_wake_up()
            outcomes = self.executor.wait(first=self.mode == "async")
            if self.schedule is not None:
                self.schedule.observe(outcomes)  # one wait's segments are decided on the same data
            for outcome in outcomes:
                self._record(outcome)
        if self.schedule is not None:  # evaluations still paused at a rung end there (promotion type)
            for outcome, extra in self.schedule.finish():
                self._log("result", **outcome.to_json(), **extra, final=True)
        if self.stop_reason == "running":
            self.stop_reason = "done"

    def _promote(self, n: int) -> int:
        """Resumes up to ``n`` evaluations paused at a rung, while the clock is within budget; how many."""
        assert self.schedule is not None
        if self.max_seconds is not None and self.executor.now() >= self.max_seconds:
            return 0
        promoted = self.schedule.promote(n, self._log)
        for eid in promoted:
            self._dispatch(self.state.evals[eid], self.state.evals[eid].attempt)
        return len(promoted)

    def _unpaused(self, evs: list[EvalState]) -> list[EvalState]:
        """Of evaluations without a final result, those a worker runs (not those paused at a rung)."""
        return evs if self.schedule is None else [ev for ev in evs if not self.schedule.paused(ev.eval_id)]

    def _fill(self, free: int) -> bool:
        """Proposes a point for each of ``free`` workers (within the budget); False once the strategy is exhausted.

        One decision proposes them all, the running points as pending, unless ``max_batch`` caps
        a decision's points: then each later decision has the earlier ones as pending too, and
        the budget is checked again between decisions (a charged decision moves the clock).
        """
        left = free
        while left > 0:
            n = left if self.max_batch is None else min(left, self.max_batch)
            if self.max_evals is not None:
                n = min(n, self.max_evals - len(self.state.evals))
            submitted = self._ask_and_submit(n)
            if submitted < n:
                return False
            left -= submitted
            if left and not self._budget_left():
                break
        return True

    def _ask_and_submit(self, n: int) -> int:
        history = self.state.history(self.space.dim)
        history.elapsed = float(self.executor.now())  # for initial designs given in time
        pending_evs = self.state.in_flight()
        if self.schedule is not None:  # a paused evaluation is learnt from at its rung, not pending
            history, pending_evs = self.schedule.for_strategy(history, pending_evs, self.state)
        elif self.strategy.chooses_fidelity:  # each evaluation at the fidelity it ran at
            history = chosen_fidelity_history(history, pending_evs, self.state)
        pending = np.array([ev.x for ev in pending_evs], dtype=float).reshape(-1, self.space.dim)
        t0, cpu0 = time.perf_counter(), time.process_time()
        with self.meters.driver_span() as spent:
            X, fidelities = self.strategy.propose_with_fidelity(history, pending, n)  # fidelities: None unless chosen
            X = np.asarray(X, dtype=float).reshape(-1, self.space.dim)
        decision_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        share = max(len(X), 1)  # a batch's decision is shared by its points
        if self.executor.charges_decision_time():  # its seconds, or its CPU seconds (a shared machine)
            self.executor.advance(cpu_s if self.executor.decision_clock() == "cpu" else decision_s)
        for i, x in enumerate(X[:n]):
            if not self.space.contains_unit(x):
                raise RuntimeError(f"strategy {type(self.strategy).__name__} proposed {x}, outside the unit cube")
            eid = self.state.next_eval_id
            self._log(
                "submit",
                eval_id=eid,
                attempt=0,
                params=self.space.to_params(x),
                x=[float(v) for v in x],
                t_submit=self.executor.now(),
                decision_s=decision_s / share,
                decision_kwh=None if spent.kwh is None else spent.kwh / share,
                decision_co2_kg=None if spent.kg is None else spent.kg / share,
                decision_carbon_method=spent.method,
                **({} if fidelities is None else {"fidelity": float(fidelities[i])}),
            )
            self._dispatch(self.state.evals[eid], attempt=0)
        return len(X[:n])

    def _submit(self, ev: EvalState, attempt: int) -> None:
        self._log(
            "submit",
            eval_id=ev.eval_id,
            attempt=attempt,
            params=ev.params,
            x=ev.x,
            t_submit=self.executor.now(),
            decision_s=ev.decision_s,
        )
        self._dispatch(ev, attempt)

    def _dispatch(self, ev: EvalState, attempt: int) -> None:
        task = Task(ev.eval_id, dict(ev.params), eval_seed(int(self.cfg.seed), ev.eval_id), attempt)
        if self.schedule is not None:
            task.resume_from, task.fidelity = self.schedule.span(ev.eval_id)
        elif ev.fidelity is not None:  # the strategy chose it (bench/strategies/mf_fidelity.py)
            task.fidelity = ev.fidelity
        with self._gate.held():  # a job that started has its id journaled, so a resume follows it
            self.executor.submit(task)
            job_id = self.executor.job_id(ev.eval_id)
            if job_id:
                self._log("job", eval_id=ev.eval_id, attempt=attempt, job_id=str(job_id))
                self.journal.commit()  # the job outlives a crashed driver: its id must reach the disk at once

    def _record(self, outcome: Outcome) -> None:
        retry = outcome.retryable and outcome.attempt < self.retries
        extra: dict[str, Any] = {}
        if self.schedule is not None and not retry:
            ended = self.schedule.segment_ended(outcome, self._log)
            if ended is None:  # it goes on to its next rung
                self._dispatch(self.state.evals[outcome.eval_id], outcome.attempt)
                return
            if isinstance(ended, str):  # paused at its rung until promoted
                return
            outcome, extra = ended
        elif (chosen := self.state.evals[outcome.eval_id].fidelity) is not None and not retry:
            outcome, extra = at_chosen_fidelity(outcome, chosen, self.objective)  # its strategy chose the fidelity
        self._log("result", **outcome.to_json(), **extra, final=not retry)
        if retry:
            self._submit(self.state.evals[outcome.eval_id], attempt=outcome.attempt + 1)
            return
        best = self.state.best()
        finals = self.state.finals()
        failed = sum(f.get("status") not in ("ok", "stopped") for f in finals)
        self._progress.update(len(finals), failed, self.state.final(best.eval_id)["value"] if best else None)
        if len(finals) == self.fail_fast:  # once, when the k-th evaluation finishes
            kind = failing_from_the_start(finals, self.fail_fast)
            if kind is not None:
                self.stop_reason = f"failed (first {self.fail_fast} evaluations: {kind})"
                raise RunFailed(
                    f"the first {self.fail_fast} evaluations all failed with {kind}; the run stopped "
                    f"(fail_fast={self.fail_fast}; fail_fast=0 goes on): {self.run_dir}"
                )

    # -- outputs -------------------------------------------------------------------------------
    def _open_progress(self) -> None:
        self._progress = open_progress(
            self.cfg.get("progress", "auto"), self.max_evals, self.state.n_finished(), self.objective.name
        )

    def _end_wake_up(self) -> None:
        """Before the driver waits: the group commit (one fsync for every record written since the
        last), then the derived files, which so never hold what the journal could still lose."""
        with self._gate.held():  # an append cut short by a signal would leave a torn row
            self.journal.commit()
            self._write_outputs()

    def _write_outputs(self, final: bool = False) -> None:
        """Appends new rows to results.csv; rewrites summary.json when due (SUMMARY_EVERY) or ``final``."""
        self.results.refresh(self.state, durable=final)
        n, now = self.state.n_finished(), time.monotonic()
        last = self._summary_at
        if final or last is None or n - last[1] >= SUMMARY_EVERY or (n > last[1] and now - last[0] >= SUMMARY_S):
            write_summary(self.run_dir, self.summary(), durable=final)  # fsynced at the end only: it is derived
            self._summary_at = (now, n)

    def _finish(self) -> None:
        """Stops the workers and writes the end record and the derived files, whatever happened."""
        self._progress.close()
        try:
            self.executor.close()
            self.strategy.close()  # its background fit worker (bench/strategies/background_fit.py)
        finally:
            raised = sys.exc_info()[0]
            if raised is not None and self.stop_reason == "running":
                self.stop_reason = f"failed ({raised.__name__})"
            try:
                if self.stop_reason.startswith("interrupted"):
                    self._mark_abandoned()
                self.journal.append("end", t=self.executor.now(), reason=self.stop_reason, wall_time=time.time())
                self.journal.commit()
                self._write_outputs(final=True)
            except (RunFolderError, OSError) as exc:
                failing = sys.exc_info()[0]
                if failing is None:
                    raise
                if not issubclass(failing, RunFolderError):  # that one already says the folder is unwritable
                    print(f"bobench: warning: could not write the run's end ({exc})", file=sys.stderr)

    def _mark_abandoned(self) -> None:
        """Says in the journal which evaluations were stopped with the driver (run again on resume)."""
        now = self.executor.now()
        for ev in self._unpaused(self.state.in_flight()):
            self._log(
                "result",
                eval_id=ev.eval_id,
                status=CANCELLED,
                value=None,
                metrics={},
                attempt=ev.attempt,
                message=f"driver {self.stop_reason}; runs again on resume",
                worker=None,
                t_start=None,
                t_end=now,
                final=False,
            )

    def summary(self) -> dict[str, Any]:
        st, cfg = self.state, self.cfg
        finals = st.finals()
        best = st.best()
        best_final = st.final(best.eval_id) if best else None
        durations = [
            f["t_end"] - f["t_start"]
            for f in finals
            if isinstance(f.get("t_start"), int | float) and isinstance(f.get("t_end"), int | float)
        ]
        elapsed = max(st.last_t, 0.0)
        optimum = self.objective.optimum
        rows_best_true = [f.get("metrics", {}).get("true_value", f.get("value")) for f in finals if f["status"] == "ok"]
        best_true = min((v for v in rows_best_true if isinstance(v, int | float)), default=None)
        first_submits = [r for r in self.journal.records if r.get("event") == "submit" and r.get("attempt") == 0]
        carbon = carbon_hook.totals(finals, first_submits)
        failure = first_failure(finals)
        choices = self.choices
        return {
            "objective": self.objective.name,
            "strategy": _choice(choices, "strategy", cfg.strategy._target_),
            "executor": _choice(choices, "executor", cfg.executor._target_),
            "experiment": _choice(choices, "experiment", None),
            "arm": _choice(choices, "arm", None),
            "mode": self.mode,
            "workers": self.workers,
            "seed": int(cfg.seed),
            "clock": "simulated" if self.executor.simulated else "wall",
            "status": self.stop_reason,
            "n_evals": len(finals),
            "n_failed": sum(f["status"] not in ("ok", "stopped") for f in finals),
            "first_failure": failure[0] if failure else None,  # e.g. "ValueError: boom"
            "first_failure_count": failure[1] if failure else 0,  # how many failed that same way
            "n_in_flight": len(st.in_flight()),
            "best_value": best_final["value"] if best_final else None,
            "best_params": best.params if best else None,
            "best_metrics": best_final.get("metrics") if best_final else None,
            "optimum": optimum,
            "final_regret": (best_true - optimum) if optimum is not None and best_true is not None else None,
            "elapsed_s": elapsed,
            "utilisation": (sum(durations) / (self.workers * elapsed)) if elapsed > 0 else None,
            "decision_s_total": sum(ev.decision_s for ev in st.evals.values()),
            **carbon,
            "versions": (st.start or {}).get("versions"),
            "git_commit": (st.start or {}).get("git_commit"),
        }


def _choice(choices: Any, group: str, default: Any) -> Any:
    try:
        value = choices[group] if choices is not None else None
    except (KeyError, TypeError):
        value = None
    return value if value is not None else default


def format_summary(summary: dict[str, Any], run_dir: Path) -> str:
    """The lines printed at the end of a run."""
    plural = "s" if summary["workers"] != 1 else ""
    lines = [
        f"bobench: {summary['objective']} / {summary['strategy']} / {summary['executor']} "
        f"({summary['mode']}, {summary['workers']} worker{plural}) — {summary['status']}"
    ]
    if summary["best_params"] is not None:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in summary["best_params"].items())
        extra = ""
        metrics = summary.get("best_metrics") or {}
        for key in ("test_accuracy", "val_accuracy", "accuracy"):
            if isinstance(metrics.get(key), int | float):
                extra = f" ({key} {metrics[key]:.4f})"
                break
            if isinstance(metrics.get(key), list) and metrics[key]:
                extra = f" ({key} {metrics[key][-1]:.4f})"
                break
        lines.append(f"  best: {params} -> value {summary['best_value']:.6g}{extra}")
    else:
        lines.append("  best: no evaluation succeeded")
    if summary.get("final_regret") is not None:
        lines.append(f"  simple regret: {summary['final_regret']:.4g}")
    co2 = summary.get("co2_kg")
    lines.append(
        f"  evaluations: {summary['n_evals']} ({summary['n_failed']} failed) in {summary['elapsed_s']:.1f} s "
        f"{summary['clock']} time" + (f", {co2 * 1000:.3g} g CO2e" if isinstance(co2, int | float) else "")
    )
    failures = describe(summary["n_failed"], summary.get("first_failure"), summary.get("first_failure_count") or 0)
    if failures:
        lines.append(f"  {failures}")
    lines.append(f"  run folder: {run_dir}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v)
