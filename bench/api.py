"""The Python API: run an experiment from a notebook, or drive a strategy ask/tell.

:func:`run` is the ``bobench`` command as a function: the same packaged configs, the same
one-line :class:`~bench.errors.UserError` for a mistake, the same driver and run folder, and
the summary (``summary.json``) returned. :class:`Optimizer` hands the points of a strategy to
the caller (``ask``) and takes their values back (``tell``), journaling both in a run folder
that ``bobench-report`` and :func:`analysis.load` read, so that a notebook's loop resumes where
it stopped. See docs/python-api.md.
"""

from __future__ import annotations

import math
import os
import re
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import RunFolderLocked, UserError
from bench.records import DIVERGED, ERROR, OK

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from bench.journal import Journal
    from bench.run_folder import RunState
    from bench.space import Space
    from bench.strategies.base import Strategy

#: Marks a run folder written by :class:`Optimizer` (``config.api`` of its journal's start record).
OPTIMIZER_API = "bench.Optimizer"
#: The ``worker`` of a told result: a point the optimiser asked for, or one it never proposed.
ASKED, EXTERNAL = "ask-tell", "external"


# -- composing the packaged configs --------------------------------------------------------------
@contextmanager
def _packaged_configs() -> Iterator[None]:
    """Hydra initialised on bobench's packaged configs (``bench.cli.CONF_DIR``) for the block."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from bench.cli import CONF_DIR
    from bench.schema import register

    register()  # the typed schemas the YAML files extend
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            yield
    finally:
        GlobalHydra.instance().clear()


def _compose(overrides: list[str]) -> DictConfig:
    """The composed config with Hydra's own node (run dir, choices); errors as the CLI words them."""
    from hydra import compose

    from bench.cli import _one_line
    from bench.schema import compose_error

    try:
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except Exception as exc:  # Hydra's and OmegaConf's many kinds
        raise UserError(compose_error(exc) or _one_line(exc)) from None


def _check_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides as a list, each parsed as the CLI parses it; a sweep is refused (one job here)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from bench.cli import _one_line

    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise UserError(f"overrides: expected a list of strings such as ['objective=quadratic'], got {overrides!r}")
    parser = OverridesParser.create()
    for text in overrides:
        if not isinstance(text, str):
            raise UserError(f"overrides: expected strings such as 'budget.evaluations=10', got {text!r}")
        try:
            parsed = parser.parse_override(text)
        except Exception as exc:
            raise UserError(f"malformed override {text!r}: {_one_line(exc)}") from None
        if parsed.is_sweep_override():
            raise UserError(
                f"override {text!r} is a sweep: bench.run runs one job (no multirun); call it once per value"
            )
    return list(overrides)


# -- bench.run -----------------------------------------------------------------------------------
def run(overrides: Sequence[str] = (), run_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Runs one experiment, as ``bobench OVERRIDES`` does, and returns its summary.

    The config is composed from the packaged configs with ``overrides`` (the command line's
    words, e.g. ``["objective=branin", "strategy=ei", "budget.evaluations=20"]``), checked as
    the CLI checks it, and run by :class:`bench.driver.Driver` into ``run_dir``, with Hydra's
    ``.hydra/`` files beside the journal, so that ``bobench resume=DIR`` and ``bobench-report``
    read the folder as one the CLI wrote. ``resume=DIR`` among the overrides continues that
    run, as on the command line.

    Multirun is not supported: a sweep (``seed=0,1,2``) or a preset that sweeps
    (``experiment=kandasamy_branin``) is refused; call :func:`run` once per job instead.

    Args:
        overrides: Hydra overrides, one job's.
        run_dir: the run folder (default: ``hydra.run.dir``, a fresh ``outputs/<date>/<time>``
            under the working directory, as the CLI).

    Returns:
        The run's summary: the mapping written to ``summary.json``.

    Raises:
        UserError: a mistake in the overrides or the config, with the CLI's one-line message,
            before any evaluation (:class:`~bench.errors.RunFolderError` when the run folder
            cannot be written).
        bench.driver.Interrupted: SIGTERM or Ctrl-C stopped the run; it resumes with
            ``run(["resume=DIR"])``.
    """
    from omegaconf import OmegaConf, open_dict, read_write
    from omegaconf.errors import OmegaConfBaseException

    from bench.cli import _key, _one_line, check_writable, precheck_resume
    from bench.driver import Driver
    from bench.journal import JOURNAL

    overrides = _check_overrides(overrides)
    resume = [o.partition("=")[2] for o in overrides if _key(o) == "resume"]
    resume = [r for r in resume if r not in ("", "null")]
    if resume:
        folder = Path(resume[-1]).expanduser()
        if run_dir is not None and Path(run_dir).resolve() != folder.resolve():
            raise UserError(f"run_dir: {run_dir} is not the folder being resumed ({resume[-1]}); leave run_dir out")
        resumed = precheck_resume(resume[-1], overrides)  # from the run's own journal, as the CLI
        return Driver(resumed.cfg, resumed.folder, choices=resumed.choices).run()
    with _packaged_configs():
        full = _compose(overrides)
    hydra = full.hydra
    if str(hydra.get("mode")).endswith("MULTIRUN"):
        raise UserError(
            "hydra.mode: the config is a multirun preset (hydra.sweeper.params); bench.run runs one job: "
            "name one value of each swept key, or run the sweep with `bobench -m`"
        )
    cfg = full.copy()
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
    try:
        OmegaConf.to_container(cfg, resolve=True)  # ${oc.env:...} and other interpolations, as the pre-check
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "config"
        raise UserError(f"{key}: {_one_line(exc)}") from None
    folder = Path(run_dir) if run_dir is not None else Path(str(hydra.run.dir))
    check_writable(folder)
    driver = Driver(cfg, folder, choices=dict(hydra.runtime.choices))  # builds the parts: UserError on a field
    fresh = not (folder / JOURNAL).exists()  # an existing run is refused by the driver: leave its files alone
    if fresh and hydra.get("output_subdir") is not None:
        _save_hydra_files(folder / str(hydra.output_subdir), cfg, full)
    return driver.run()


def _save_hydra_files(where: Path, cfg: DictConfig, full: DictConfig) -> None:
    """``.hydra/config.yaml``, ``hydra.yaml`` and ``overrides.yaml``, as Hydra writes them for a job."""
    from omegaconf import OmegaConf, open_dict, read_write

    hydra = full.hydra.copy()
    with read_write(hydra), open_dict(hydra):
        hydra.runtime.output_dir = str(where.parent.resolve())
    where.mkdir(parents=True, exist_ok=True)
    (where / "config.yaml").write_text(OmegaConf.to_yaml(cfg), encoding="utf-8")
    (where / "hydra.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra})), encoding="utf-8")
    (where / "overrides.yaml").write_text(OmegaConf.to_yaml(full.hydra.overrides.task), encoding="utf-8")


# -- bench.Optimizer -----------------------------------------------------------------------------
class Optimizer:
    """Ask/tell: a strategy proposes points, the caller evaluates them and tells their values.

    Every ask and tell is journaled in ``run_dir`` (``journal.jsonl``, the driver's format), and
    ``results.csv`` and ``summary.json`` are rewritten on every tell, so ``bobench-report`` and
    :func:`analysis.load` read the folder while the loop goes on. The folder is locked while the
    optimiser is open (as a driver locks it): close it with :meth:`close` or use it as a context
    manager.

    Proposals come from the strategy named as on the command line (``conf/strategy/<name>.yaml``,
    its preset's choices included, ``strategy_options`` on top) and are a pure function of
    ``(seed, history, pending)``: the same seed and the same tells give the same asks.

    Resuming: an optimiser opened on a folder it wrote before replays its journal, checks that
    space, strategy, options, seed and name are the ones it was started with (the first
    difference is named), and goes on. Points that were asked and never told (the process died
    between ``ask`` and ``tell``, or was closed) are pending again: the next :meth:`ask` returns
    them first, before any new point, and they may also be told directly.

    :meth:`tell` of a point that was never asked (or is no longer pending) is allowed: it is
    recorded as an external evaluation (``worker`` ``external`` in results.csv) that the strategy
    learns from like any other. Its parameters must lie in the space.

    Args:
        space: the search space, ``{name: {type: float|int|categorical, low, high, log, choices}}``
            (as ``objective.space`` in a config).
        strategy: a strategy's config name (``ei``, ``ts``, ``ucb``, ``random``, ``grid``...).
        seed: all the strategy's randomness derives from it.
        run_dir: the run folder (default: a fresh ``outputs/<date>/<time>``, as the CLI).
        name: what the run is called in summaries and reports (the objective's name).
        **strategy_options: the strategy's options (``num_restarts=2``, ``n_initial=5``...),
            each checked against its schema.

    Raises:
        UserError: a bad space, an unknown strategy or option, a strategy that chooses each
            evaluation's fidelity (``mfkg``), a folder in use or written with another
            configuration; one line naming the field.
    """

    def __init__(
        self,
        space: Mapping[str, Mapping[str, Any]],
        strategy: str = "ei",
        seed: int = 0,
        run_dir: str | os.PathLike[str] | None = None,
        *,
        name: str = "ask-tell",
        **strategy_options: Any,
    ):
        from bench.build import config_hash
        from bench.evaluate import json_safe

        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
            raise UserError(f"seed: expected an integer >= 0, got {seed!r}")
        if not isinstance(name, str) or not name:
            raise UserError(f"name: expected a non-empty string, got {name!r}")
        self.seed: int = int(seed)
        self.name: str = name
        self.space: Space = _space(space)
        self.strategy_name: str = strategy
        self._strategy: Strategy
        self._strategy, strategy_config, default_dir = _strategy(strategy, strategy_options, self.space, self.seed)
        self.run_dir: Path = Path(run_dir) if run_dir is not None else default_dir
        #: The configuration a resumed optimiser must match (the journal's start record keeps it).
        self._config: dict[str, Any] = {
            "api": OPTIMIZER_API,
            "objective": {"name": name, "space": json_safe(_plain(space))},
            "strategy": strategy_config,
            "seed": self.seed,
        }
        self._status: str = "running"
        self._reissue: list[int] = []  # asked in an earlier life, never told: the next asks return them
        self._asked_at: dict[int, float] = {}
        self._journal: Journal
        self._state: RunState
        self._origin: float
        self._journal, self._state, self._origin = self._open(config_hash(self._config))
        self._finalizer = weakref.finalize(self, self._journal.close)  # frees the lock if never closed
        self._write_outputs()

    # -- the loop ------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        """Points to evaluate next, as parameter mappings (fewer only when the strategy is exhausted).

        Points pending from an earlier life of the run folder come first; new ones are proposed
        with every pending point (asked, not yet told) as ``pending``.
        """
        self._check_open()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise UserError(f"ask: n must be an integer >= 1, got {n!r}")
        out: list[dict[str, Any]] = []
        while self._reissue and len(out) < n:
            ev = self._state.evals[self._reissue.pop(0)]
            if ev.final is not None:
                continue
            now = self._now()
            self._log(
                "submit",
                eval_id=ev.eval_id,
                attempt=ev.attempt + 1,
                params=ev.params,
                x=ev.x,
                t_submit=now,
                decision_s=ev.decision_s,
            )
            self._asked_at[ev.eval_id] = now
            out.append(dict(ev.params))
        k = int(n) - len(out)
        if k:
            dim = self.space.dim
            history = self._state.history(dim)
            history.elapsed = float(self._now())  # the run's wall clock, for initial designs given in time
            pending = np.array([ev.x for ev in self._state.in_flight()], dtype=float).reshape(-1, dim)
            t0 = time.perf_counter()
            X = np.asarray(self._strategy.propose(history, pending, k), dtype=float).reshape(-1, dim)
            decision_s = (time.perf_counter() - t0) / max(len(X), 1)  # a batch's decision is shared by its points
            for x in X[:k]:
                if not self.space.contains_unit(x):
                    raise RuntimeError(f"strategy {self.strategy_name} proposed {x}, outside the unit cube")
                eid, now = self._state.next_eval_id, self._now()
                params = self.space.to_params(x)
                self._log(
                    "submit",
                    eval_id=eid,
                    attempt=0,
                    params=params,
                    x=[float(v) for v in x],
                    t_submit=now,
                    decision_s=decision_s,
                )
                self._asked_at[eid] = now
                out.append(dict(params))
        return out

    def tell(self, params: Mapping[str, Any], value: float | None, metrics: Mapping[str, Any] | None = None) -> None:
        """Records the value of a point (to minimise) and rewrites results.csv and summary.json.

        Args:
            params: the point, as :meth:`ask` returned it (matched to the pending point with
                equal parameters), or any point of the space (an external evaluation).
            value: a finite number (``ok``); NaN or ±inf for a diverged evaluation (shown to the
                strategy as worse than the worst value); None for a failed one (counted as tried,
                not shown to the model).
            metrics: anything else to keep with it (JSON-able numbers, text, lists).
        """
        from bench.evaluate import json_safe

        self._check_open()
        if not isinstance(params, Mapping):
            raise UserError(f"tell: params must be a mapping such as ask() returns, got {params!r:.80}")
        if metrics is not None and not isinstance(metrics, Mapping):
            raise UserError(f"tell: metrics must be a mapping or None, got {metrics!r:.80}")
        status, number, message = _told(value)
        eid = self._pending_id(params)
        worker = ASKED
        if eid is None:
            x = self._unit(params)
            eid, worker = self._state.next_eval_id, EXTERNAL
            self._log("submit", eval_id=eid, attempt=0, params=dict(params), x=x, t_submit=self._now(), decision_s=0.0)
        ev = self._state.evals[eid]
        t_start = self._asked_at.get(eid, ev.t_submit) if worker == ASKED else None
        self._log(
            "result",
            eval_id=eid,
            status=status,
            value=number,
            metrics=json_safe(dict(metrics or {})),
            message=message,
            worker=worker,
            t_start=t_start,
            t_end=self._now(),
            attempt=ev.attempt,
            job_id=None,
            energy_kwh=None,
            co2_kg=None,
            carbon_method=None,
            final=True,
        )
        if eid in self._reissue:
            self._reissue.remove(eid)
        self._write_outputs()

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Points asked and not yet told (those of an earlier life included), by eval_id."""
        return [dict(ev.params) for ev in self._state.in_flight()]

    def summary(self) -> dict[str, Any]:
        """The run's summary: what summary.json holds (the keys of a driver's summary)."""
        from bench.carbon import hook as carbon_hook

        st = self._state
        finals: list[dict[str, Any]] = [f for e in st.finished if (f := st.evals[e].final) is not None]
        best = st.best()
        best_final = best.final if best is not None else None
        records = self._journal.records
        first_submits = [r for r in records if r.get("event") == "submit" and r.get("attempt") == 0]
        start = st.start or {}
        return {
            "objective": self.name,
            "strategy": self.strategy_name,
            "executor": "python",
            "experiment": None,
            "arm": None,
            "mode": "ask-tell",
            "workers": _most_pending(records),
            "seed": self.seed,
            "clock": "wall",
            "status": self._status,
            "n_evals": len(finals),
            "n_failed": sum(f["status"] != OK for f in finals),
            "n_in_flight": len(st.in_flight()),
            "best_value": best_final["value"] if best_final else None,
            "best_params": best.params if best else None,
            "best_metrics": best_final.get("metrics") if best_final else None,
            "optimum": None,
            "final_regret": None,
            "elapsed_s": max(st.last_t, 0.0),
            "utilisation": None,  # the caller's evaluations run where the optimiser cannot see
            "decision_s_total": sum(ev.decision_s for ev in st.evals.values()),
            **carbon_hook.totals(finals, first_submits),
            "versions": start.get("versions"),
            "git_commit": start.get("git_commit"),
        }

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Journals the end, writes results.csv and summary.json and frees the run folder (idempotent).

        Points still pending stay pending: an optimiser opened on the folder again asks them first.
        """
        if self._status == "closed":
            return
        try:
            self._status = "closed"
            self._journal.append("end", t=self._now(), reason="closed", wall_time=time.time())
            self._write_outputs()
        finally:
            self._strategy.close()  # its background fit worker (bench/strategies/background_fit.py)
            self._finalizer()

    def __enter__(self) -> Optimizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        st = self._state
        return (
            f"Optimizer({self.strategy_name!r}, seed={self.seed}, run_dir={str(self.run_dir)!r}: "
            f"{st.n_finished()} told, {len(st.in_flight())} pending, {self._status})"
        )

    # -- internals -----------------------------------------------------------------------------
    def _open(self, digest: str) -> tuple[Journal, RunState, float]:
        """Locks the folder and starts the run, or replays it (checking its configuration)."""
        from bench.build import first_difference
        from bench.cli import check_writable
        from bench.journal import Journal
        from bench.run_folder import RunState, git_commit, versions

        check_writable(self.run_dir)
        journal = Journal(self.run_dir)
        try:
            records = journal.open()
        except RunFolderLocked as exc:
            if f"pid {os.getpid()} on " in str(exc):
                raise UserError(
                    f"run folder {self.run_dir} is open in another Optimizer of this process: close() it first "
                    "(or open it with `with bench.Optimizer(...) as opt:`)"
                ) from None
            raise
        try:
            state = RunState.from_records(records)
            if state.start is None:
                if records:
                    raise UserError(f"{self.run_dir}: the journal has no start record; it is not a bobench run folder")
                origin = time.time()
                rec = journal.append(
                    "start",
                    config=self._config,
                    config_hash=digest,
                    seed=self.seed,
                    clock_origin=origin,
                    wall_time=origin,
                    versions=versions(),
                    git_commit=git_commit(),
                    optimum=None,
                )
                state.apply(rec)
                return journal, state, origin
            stored = state.start.get("config") or {}
            if stored.get("api") != OPTIMIZER_API:
                raise UserError(
                    f"{self.run_dir} holds a run of the bobench command, not an Optimizer's: "
                    f"continue it with `bobench resume={self.run_dir}`"
                )
            diff = first_difference(stored, self._config)
            if diff:
                shown = re.sub(r"^objective\.(space|name)", r"\1", diff)  # as the caller named them
                raise UserError(
                    f"{self.run_dir}: the optimiser was started with another {shown!r} "
                    f"({_at(stored, diff)!r}, now {_at(self._config, diff)!r}); open it with the same space, "
                    "strategy, options, seed and name, or use another run_dir"
                )
            if state.duplicates:
                journal.set_aside(state.duplicates, "duplicate final record")
            self._reissue = [ev.eval_id for ev in state.in_flight()]
            journal.append(
                "resume",
                t=state.last_t,
                wall_time=time.time(),
                n_finished=state.n_finished(),
                rerun=list(self._reissue),
                config_changed_at=None,
            )
            return journal, state, time.time() - state.last_t  # the clock goes on from where it stopped
        except BaseException:
            journal.close()
            raise

    def _log(self, event: str, **fields: Any) -> None:
        self._state.apply(self._journal.append(event, **fields))

    def _now(self) -> float:
        return time.time() - self._origin

    def _check_open(self) -> None:
        if self._status == "closed":
            raise UserError(f"the optimiser on {self.run_dir} is closed: open a new one on the folder to go on")

    def _pending_id(self, params: Mapping[str, Any]) -> int | None:
        """The pending evaluation with these parameters (the first asked), if any."""
        given = dict(params)
        return next((ev.eval_id for ev in self._state.in_flight() if ev.params == given), None)

    def _unit(self, params: Mapping[str, Any]) -> list[float]:
        """A told point's unit-cube coordinates; UserError unless it lies in the space."""
        names = self.space.names
        missing = [p for p in names if p not in params]
        extra = [str(k) for k in params if k not in names]
        if missing or extra:
            what = f"lack {missing[0]!r}" if missing else f"have {extra[0]!r}, which is not a parameter"
            raise UserError(f"tell: params {what} of the space ({', '.join(names)})")
        x = []
        for p in self.space.params:
            value = params[p.name]
            try:
                u = p.to_unit(value)
            except (ValueError, TypeError):
                u = math.nan
            if p.type == "categorical" and not math.isfinite(u):
                raise UserError(f"tell: {p.name}={value!r} is not one of its choices {list(p.choices)}")
            if not (0.0 <= u <= 1.0):  # NaN too
                raise UserError(f"tell: {p.name}={value!r} lies outside the space ({p.low}, {p.high})")
            x.append(float(u))
        return x

    def _write_outputs(self) -> None:
        from bench.run_folder import write_results, write_summary

        write_results(self.run_dir, self._state, None)
        write_summary(self.run_dir, self.summary())


def _space(spec: Any) -> Space:
    """The space from its mapping; its errors name ``space.<param>``."""
    from bench.space import Space

    if not isinstance(spec, Mapping):
        raise UserError(f"space: expected a mapping {{name: {{type, low, high, log, choices}}}}, got {spec!r:.80}")
    try:
        return Space.from_config(spec)
    except UserError as exc:
        raise UserError(str(exc).replace("objective.space", "space", 1)) from None


def _strategy(name: Any, options: Mapping[str, Any], space: Space, seed: int) -> tuple[Strategy, dict[str, Any], Path]:
    """The strategy ``conf/strategy/<name>.yaml`` describes, with ``options`` set on it.

    Returns:
        The strategy, its resolved config (for the journal) and the CLI's default run folder.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bench.build import _instantiate
    from bench.schema import compose_error
    from bench.strategies.base import Strategy

    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise UserError(f"strategy: expected a strategy's name such as 'ei' or 'random', got {name!r}")
    with _packaged_configs():
        full = _compose([f"strategy={name}"])
    node = full.strategy
    for key, value in options.items():
        if key not in node:
            known = ", ".join(str(k) for k in node if k != "_target_")
            raise UserError(f"strategy.{key}: unknown option of strategy={name} (its options: {known})")
        try:
            node[key] = value
        except OmegaConfBaseException as exc:
            raise UserError(compose_error(exc) or f"strategy.{key}: {exc}") from None
    strategy = _instantiate("strategy", node, space=space, seed=seed)
    if not isinstance(strategy, Strategy):
        raise UserError(f"strategy: {node._target_} is not a bench.strategies.Strategy")
    if strategy.chooses_fidelity:
        raise UserError(
            f"strategy={name}: {type(strategy).__name__} chooses each evaluation's fidelity, which ask/tell "
            "does not carry (it asks for points only); run it with bobench (docs/early-stopping.md)"
        )
    config = OmegaConf.to_container(node, resolve=True)
    assert isinstance(config, dict)
    return strategy, {str(k): v for k, v in config.items()}, Path(str(full.hydra.run.dir))


def _told(value: Any) -> tuple[str, float | None, str | None]:
    """``(status, value, message)`` of a told value; UserError unless it is a number or None."""
    from bench.evaluate import classify

    if value is None:
        return ERROR, None, "told None: the evaluation failed"
    status, number, _, _ = classify(value)
    if status == DIVERGED:
        return DIVERGED, None, f"told {value}"
    if status != OK:
        raise UserError(
            f"tell: value must be a number (NaN for a diverged evaluation) or None (a failed one), got {value!r:.80}"
        )
    return OK, number, None


def _most_pending(records: list[dict[str, Any]]) -> int:
    """The most points asked and not yet told at once (the caller's parallelism; at least 1)."""
    pending: set[int] = set()
    most = 1
    for rec, after in zip(records, [*records[1:], {}], strict=True):
        eid = rec.get("eval_id")
        if rec.get("event") == "submit":
            told_at_once = after.get("event") == "result" and after.get("eval_id") == eid  # an external point
            if not told_at_once:
                pending.add(int(rec["eval_id"]))
        elif rec.get("event") == "result" and rec.get("final", True):
            pending.discard(int(rec["eval_id"]))
        most = max(most, len(pending))
    return most


def _plain(obj: Any) -> Any:
    """Mappings and sequences (an OmegaConf node among them) as plain dicts and lists."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        return [_plain(v) for v in obj]
    return obj


def _at(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for key in dotted.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node
