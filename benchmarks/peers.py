"""Decision cost against peers: seconds per proposed point in 6-D, bobench's GP strategies beside
plain BoTorch, Ax and Optuna, all interleaved in one process on one thread.

Every competitor sees the same data: a stream of uniform random points in ``[0, 1]^6`` with their
Hartmann6 values (seeded by the repetition). A decision "at n" has the stream's first ``n``
points finished and the next ``--running`` points running (pending), and proposes ``--batch``
points; the proposals are not evaluated (they are dropped: Optuna's trials told FAIL, Ax's marked
failed, neither of which their models look at). From one decision to the next the oldest running
point finishes and the next stream point starts running, so ``n`` grows by one.

Amortised: bobench's strategies refit hyperparameters on a schedule (ts every 10 evaluations) and
Ax and Optuna carry state between asks (a study grows by ``tell``, an experiment by attached
trials), so each competitor makes ``--decisions`` consecutive decisions at ``n, n + 1, ...`` and
the table reports their mean per proposed point. The clock covers what a loop pays per
decision: incorporating the newly finished point, then proposing. Before them each competitor
makes one untimed decision at ``n - 1`` (a peer's state is built there: trials attached or
added; a bobench strategy fits the warm-start chain of anchor fits a resumed run would fit).
One bobench strategy instance walks the sizes of a repetition in increasing order, so its cache
carries the anchor fits from one size to the next, as in a run.

Competitors, each from its own defaults:

- bobench: every ``conf/strategy/*.yaml`` whose strategy is a GP strategy (a subclass of
  ``bench.strategies.gp.GPStrategy``), composed with the real config as a run composes it;
  presets whose strategy config equals an earlier one's (``sync_ts`` is ``async_ts``) are
  measured once. Multi-fidelity searchers (``mobster``) are not GP strategies in that sense:
  they decide on the rung records a scheduler keeps, not on this plain history; ``--only``
  measures any preset all the same.
- ``botorch_qlogei``: BoTorch's tutorial loop: ``SingleTaskGP`` (its default transforms),
  ``fit_gpytorch_mll`` from BoTorch's defaults at every decision, ``qLogExpectedImprovement``
  with 256 Sobol QMC samples and the running points as ``X_pending``, ``optimize_acqf`` with 10
  restarts from 512 raw samples (``batch_limit`` 5, ``maxiter`` 200).
- ``botorch_pathwise_ts``: the same GP, ``PathwiseThompsonSampling`` (Matheron paths) maximised by
  ``optimize_acqf`` with the same budget; running points are not looked at.
- ``ax_client``: ``ax.Client`` (``random_seed`` 0, the ``fast`` generation strategy), trials
  attached and completed, running ones attached and left RUNNING, ``get_next_trials``.
- ``optuna_gp``: ``optuna.samplers.GPSampler(seed=0)`` (optuna >= 3.6), a study grown by ``tell``,
  running trials left RUNNING (GPSampler takes them as pending in its qLogEI).
- ``optuna_tpe``: ``optuna.samplers.TPESampler(seed=0)``: not a GP, here for scale.

Ratios are to ``optuna_gp`` at the same ``n`` (the issue's goal: every bobench GP strategy at or
below 1). A peer whose package is missing is listed as not installed; ``pip install
'bobench[peers]'`` in a venv of its own installs them all (docs/performance.md: it cannot share
a venv with the ``sweepers`` extra).

Clocks: wall-clock seconds are what a loop waits, and they stretch with the machine's load; the
CPU seconds of this process are steadier on a shared machine (every competitor computes on one
thread) but do not see work done in other processes, so a third table adds the CPU of child
processes (a background fit worker) when there is any.

Cost: the default run measures n = 50, 200 and 500; ``--quick`` n = 50 and 200. n = 1000 runs on
request (``--n 50 200 500 1000``) and is slow: everyone who refits at every decision (BoTorch's
loop, Ax, bobench's ei/ucb/lp while they refit every evaluation) fits a GP on 1,000 points per
decision, and bobench's untimed warm-up fits 100 anchors per strategy there::

    OMP_NUM_THREADS=1 python benchmarks/peers.py --quick
    OMP_NUM_THREADS=1 python benchmarks/peers.py                 # n = 50, 200, 500
    OMP_NUM_THREADS=1 python benchmarks/peers.py --n 50 200 500 1000
    OMP_NUM_THREADS=1 python benchmarks/peers.py --n 500 --only async_ts optuna_gp --batch 8
    OMP_NUM_THREADS=1 python benchmarks/peers.py --n 500 --only async_ts async_ts:fit_lag=10 optuna_gp
"""

from __future__ import annotations

import os

# One thread, as the issue measures, set before numpy and torch load.
os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "1")
os.environ["MKL_NUM_THREADS"] = os.environ.get("MKL_NUM_THREADS", "1")
os.environ["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS", "1")

import abc
import argparse
import functools
import importlib.util
import logging
import statistics
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks._common import CONF, compose

DIM = 6
NAMES = [f"x{i}" for i in range(DIM)]
REFERENCE = "optuna_gp"
SIZES = (50, 200, 500)  # the default; n = 1000 on request (--n 50 200 500 1000): slow, see above
QUICK_SIZES = (50, 200)


# -- the data every competitor sees ------------------------------------------------------------------
@dataclass(frozen=True)
class Stream:
    """Points in arrival order with their Hartmann6 values (to minimise)."""

    X: np.ndarray
    y: np.ndarray


def hartmann6_stream(size: int, seed: int) -> Stream:
    from objectives.synthetic import evaluate_function

    X = np.random.default_rng(seed).random((size, DIM))
    return Stream(X, np.array([evaluate_function("hartmann6", x) for x in X]))


@contextmanager
def quiet() -> Iterator[None]:
    """Silences the peers' logging (Ax logs every trial at INFO) and their warnings."""
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)


# -- the competitors -----------------------------------------------------------------------------
class Competitor(abc.ABC):
    """One decision maker. ``start`` builds its state at ``n`` finished and ``running`` running
    stream points (untimed); ``advance`` finishes the oldest running point and starts the next;
    ``decide`` proposes ``batch`` points and drops them."""

    name: str

    def __init__(self, stream: Stream, running: int):
        self.stream = stream
        self.running = running
        self.n = 0

    def start(self, n: int) -> None:
        self.n = n

    def advance(self) -> None:
        self.n += 1

    @abc.abstractmethod
    def decide(self, batch: int) -> None: ...

    def settle(self) -> None:
        """Waits for work the competitor left running in another process (a background fit)."""

    def close(self) -> None:
        """Lets go of what the competitor holds (a background worker); called once, at the end."""

    def observed(self) -> tuple[np.ndarray, np.ndarray]:
        return self.stream.X[: self.n], self.stream.y[: self.n]

    def pending(self) -> np.ndarray:
        return self.stream.X[self.n : self.n + self.running]


class BobenchStrategy(Competitor):
    """A bobench strategy built from its YAML preset, asked as the driver asks it."""

    def __init__(self, stream: Stream, running: int, preset: str, seed: int = 0):
        super().__init__(stream, running)
        self.name = preset
        self.strategy = build_strategy(preset, seed)

    def decide(self, batch: int) -> None:
        from bench.strategies.base import History

        X, y = self.observed()
        out = self.strategy.propose(History(X, y, np.zeros((0, DIM))), self.pending(), batch)
        if np.shape(out) != (batch, DIM):
            raise RuntimeError(f"{self.name} proposed {np.shape(out)} where {(batch, DIM)} was asked for")

    def settle(self) -> None:
        wait = getattr(getattr(self.strategy, "cache", None), "wait_for_background", None)
        if callable(wait):
            wait()

    def close(self) -> None:
        for owner in (self.strategy, getattr(self.strategy, "cache", None)):
            close = getattr(owner, "close", None)
            if callable(close):
                close()


class BoTorchLoop(Competitor):
    """BoTorch's tutorial loop: a fresh SingleTaskGP fitted from BoTorch's defaults per decision."""

    NUM_RESTARTS = 10
    RAW_SAMPLES = 512
    MC_SAMPLES = 256
    OPTIONS: dict[str, bool | float | int | str] = {"batch_limit": 5, "maxiter": 200}  # noqa: RUF012 (read only)

    def __init__(self, stream: Stream, running: int, seed: int = 0):
        super().__init__(stream, running)
        self.seed = seed

    def model(self) -> Any:
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood

        X, y = self.observed()
        gp = SingleTaskGP(torch.as_tensor(X), torch.as_tensor(-y).unsqueeze(-1))  # maximise -y
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        return gp

    def maximise(self, acqf: Any, batch: int) -> None:
        import torch
        from botorch.optim import optimize_acqf

        bounds = torch.stack([torch.zeros(DIM), torch.ones(DIM)]).double()
        optimize_acqf(
            acqf,
            bounds,
            q=batch,
            num_restarts=self.NUM_RESTARTS,
            raw_samples=self.RAW_SAMPLES,
            options=dict(self.OPTIONS),
        )

    def acquisition(self, gp: Any) -> Any:
        raise NotImplementedError

    def decide(self, batch: int) -> None:
        import torch

        torch.manual_seed(self.seed + self.n)
        with quiet():
            self.maximise(self.acquisition(self.model()), batch)


class BoTorchQLogEI(BoTorchLoop):
    name = "botorch_qlogei"

    def acquisition(self, gp: Any) -> Any:
        import torch
        from botorch.acquisition.logei import qLogExpectedImprovement
        from botorch.sampling import SobolQMCNormalSampler

        _, y = self.observed()
        pending = torch.as_tensor(self.pending()) if self.running else None
        return qLogExpectedImprovement(
            gp,
            best_f=float(-y.min()),  # the model's outcome is -y, on its original scale
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.MC_SAMPLES])),
            X_pending=pending,
        )


class BoTorchPathwiseTS(BoTorchLoop):
    name = "botorch_pathwise_ts"

    def acquisition(self, gp: Any) -> Any:
        from botorch.acquisition.thompson_sampling import PathwiseThompsonSampling

        return PathwiseThompsonSampling(gp)


class AxClient(Competitor):
    """Ax's Client: finished points attached and completed, running ones attached, left RUNNING."""

    name = "ax_client"

    def __init__(self, stream: Stream, running: int, seed: int = 0):
        super().__init__(stream, running)
        self.seed = seed
        self.client: Any = None
        self.running_trials: deque[int] = deque()

    def start(self, n: int) -> None:
        super().start(n)
        with quiet():
            from ax import Client, RangeParameterConfig  # its import logs at INFO

            self.client = Client(random_seed=self.seed)
            self.client.configure_experiment(
                parameters=[RangeParameterConfig(name=x, parameter_type="float", bounds=(0.0, 1.0)) for x in NAMES]
            )
            self.client.configure_optimization(objective="-y")
            for x, value in zip(*self.observed(), strict=True):
                self.client.complete_trial(trial_index=self.attach(x), raw_data={"y": float(value)})
            self.running_trials = deque(self.attach(x) for x in self.pending())

    def attach(self, x: np.ndarray) -> int:
        return int(self.client.attach_trial(parameters=dict(zip(NAMES, map(float, x), strict=True))))

    def advance(self) -> None:
        with quiet():
            if self.running:
                value = float(self.stream.y[self.n])
                self.client.complete_trial(trial_index=self.running_trials.popleft(), raw_data={"y": value})
                self.running_trials.append(self.attach(self.stream.X[self.n + self.running]))
            else:
                value = float(self.stream.y[self.n])
                self.client.complete_trial(trial_index=self.attach(self.stream.X[self.n]), raw_data={"y": value})
        super().advance()

    def decide(self, batch: int) -> None:
        with quiet():
            trials = self.client.get_next_trials(max_trials=batch)
            for index in trials:
                self.client.mark_trial_failed(trial_index=index)  # failed trials are not pending in Ax
        if len(trials) != batch:
            raise RuntimeError(f"Ax proposed {len(trials)} trials where {batch} were asked for")


def optuna_module() -> Any:
    """optuna, typed loosely: the dev venv has optuna 2.10 (the Hydra sweeper's pin), the peers venv 5."""
    return importlib.import_module("optuna")


class OptunaStudy(Competitor):
    """An Optuna study grown by ``tell``; running points are RUNNING trials."""

    def __init__(self, stream: Stream, running: int, make_sampler: Callable[[], Any], name: str):
        super().__init__(stream, running)
        self.name = name
        self.make_sampler = make_sampler
        self.study: Any = None
        self.running_trials: deque[int] = deque()

    def trial(self, x: np.ndarray, value: float | None) -> Any:
        optuna = optuna_module()
        state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.RUNNING
        distributions = {name: optuna.distributions.FloatDistribution(0.0, 1.0) for name in NAMES}
        params = dict(zip(NAMES, map(float, x), strict=True))
        return optuna.trial.create_trial(params=params, distributions=distributions, value=value, state=state)

    def start(self, n: int) -> None:
        optuna = optuna_module()
        super().start(n)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with quiet():
            self.study = optuna.create_study(direction="minimize", sampler=self.make_sampler())
            X, y = self.observed()
            self.study.add_trials([self.trial(x, float(v)) for x, v in zip(X, y, strict=True)])
            self.running_trials = deque()
            for x in self.pending():
                self.running_trials.append(self.add_running(x))

    def add_running(self, x: np.ndarray) -> int:
        self.study.add_trial(self.trial(x, None))
        return int(self.study.trials[-1].number)

    def advance(self) -> None:
        with quiet():
            value = float(self.stream.y[self.n])
            if self.running:
                self.study.tell(self.running_trials.popleft(), value)
                self.running_trials.append(self.add_running(self.stream.X[self.n + self.running]))
            else:
                self.study.add_trial(self.trial(self.stream.X[self.n], value))
        super().advance()

    def decide(self, batch: int) -> None:
        optuna = optuna_module()
        with quiet():
            trials = [self.study.ask() for _ in range(batch)]
            for trial in trials:  # each asked trial stays RUNNING until the batch is complete
                for name in NAMES:
                    trial.suggest_float(name, 0.0, 1.0)
            for trial in trials:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)  # samplers skip failed trials


def optuna_gp(stream: Stream, running: int) -> Competitor:
    return OptunaStudy(stream, running, lambda: optuna_module().samplers.GPSampler(seed=0), "optuna_gp")


def optuna_tpe(stream: Stream, running: int) -> Competitor:
    return OptunaStudy(stream, running, lambda: optuna_module().samplers.TPESampler(seed=0), "optuna_tpe")


@dataclass(frozen=True)
class Peer:
    """A peer, the module it needs and the smallest version of it that has what it uses."""

    name: str
    make: Callable[[Stream, int], Competitor]
    module: str
    min_version: tuple[int, ...] = ()

    def missing(self) -> str | None:
        """Why this peer cannot run here (None: it can)."""
        if importlib.util.find_spec(self.module) is None:
            return f"{self.module} is not installed"
        if self.min_version:
            from importlib.metadata import version

            have = version(self.module)
            if tuple(int(p) for p in have.split(".")[: len(self.min_version)]) < self.min_version:
                return f"needs {self.module} >= {'.'.join(map(str, self.min_version))}, have {have}"
        return None


PEERS = (
    Peer("botorch_qlogei", BoTorchQLogEI, "botorch"),
    Peer("botorch_pathwise_ts", BoTorchPathwiseTS, "botorch"),
    Peer("ax_client", AxClient, "ax"),
    Peer("optuna_gp", optuna_gp, "optuna", (3, 6)),
    Peer("optuna_tpe", optuna_tpe, "optuna", (3, 0)),  # FloatDistribution
)


# -- bobench's GP strategies, from their YAML presets --------------------------------------------------
def preset_of(spec: str) -> str:
    """The preset a competitor spec names: ``async_ts`` of ``async_ts:fit_lag=10,refit_every=5``."""
    return spec.partition(":")[0]


@functools.cache
def _strategy_config(spec: str) -> tuple[Any, dict[str, Any]]:
    """The composed config of ``preset[:key=value,...]`` (each pair a ``strategy.key=value`` override)."""
    from omegaconf import OmegaConf

    preset, _, options = spec.partition(":")
    overrides = [f"strategy.{pair}" for pair in options.split(",") if pair]
    cfg = compose(f"strategy={preset}", "objective=hartmann6", *overrides)
    return cfg, OmegaConf.to_container(cfg.strategy, resolve=True)  # type: ignore[return-value]


def build_strategy(spec: str, seed: int = 0) -> Any:
    """The strategy of a preset, or of ``preset:key=value,...`` (the preset with those options)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from bench.space import Space

    cfg, options = _strategy_config(spec)
    space = Space.from_config(dict(OmegaConf.to_container(cfg.objective.space, resolve=True)))  # type: ignore[arg-type]
    if space.dim != DIM:
        raise RuntimeError(f"objective=hartmann6 has {space.dim} dimensions, not {DIM}")
    return instantiate(options, space=space, seed=seed)


def gp_presets() -> tuple[list[str], dict[str, str]]:
    """The strategy presets whose strategy is a GP strategy, and the ones that repeat an earlier one.

    Returns:
        ``(presets, same)``: the presets to measure, in file order, and ``{duplicate: original}``
        for the presets whose strategy config equals an earlier one's.
    """
    from hydra.utils import get_class

    from bench.strategies.gp import GPStrategy

    presets: list[str] = []
    same: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in sorted((CONF / "strategy").glob("*.yaml")):
        _, options = _strategy_config(path.stem)
        if not issubclass(get_class(str(options["_target_"])), GPStrategy):
            continue
        key = repr(sorted(options.items()))
        if key in seen:
            same[path.stem] = seen[key]
        else:
            seen[key] = path.stem
            presets.append(path.stem)
    return presets, same


# -- the measurement ------------------------------------------------------------------------------
#: What a decision is timed on: what a loop waits; this process's CPU time (steadier on a loaded
#: machine, blind to other processes); and that plus its child processes' (a background fit worker).
CLOCKS = {"wall": "wall", "cpu": "CPU", "cpu_all": "CPU+children"}


@dataclass
class Table:
    """Seconds per proposed point: ``seconds[clock][(competitor, n)]`` holds one mean per repetition."""

    sizes: list[int]
    names: list[str]
    seconds: dict[str, dict[tuple[str, int], list[float]]] = field(
        default_factory=lambda: {clock: {} for clock in CLOCKS}
    )
    missing: dict[str, str] = field(default_factory=dict)  # peer -> why it did not run
    same: dict[str, str] = field(default_factory=dict)  # bobench preset -> the preset it repeats

    def add(self, name: str, n: int, seconds: dict[str, float]) -> None:
        for clock, value in seconds.items():
            self.seconds[clock].setdefault((name, n), []).append(value)

    def children_worked(self) -> bool:
        """Whether child processes added measurably (1%) to any competitor's CPU time."""
        own, with_children = self.seconds["cpu"], self.seconds["cpu_all"]
        return any(sum(with_children[key]) > 1.01 * sum(own[key]) for key in own)

    def mean(self, name: str, n: int, clock: str = "wall") -> float | None:
        values = self.seconds[clock].get((name, n))
        return statistics.mean(values) if values else None

    def ratio(self, name: str, n: int, clock: str = "wall") -> float | None:
        mine, ref = self.mean(name, n, clock), self.mean(REFERENCE, n, clock)
        return mine / ref if mine is not None and ref else None

    def format(self, clock: str = "wall") -> str:
        head = f"{CLOCKS[clock] + ' s/point':<22}" + "".join(f" {'n=' + str(n):>9} {'x GP':>6}" for n in self.sizes)
        lines = [head]
        for name in self.names:
            cells = []
            for n in self.sizes:
                mean, ratio = self.mean(name, n, clock), self.ratio(name, n, clock)
                cells.append(
                    f" {'-' if mean is None else f'{mean:.4f}':>9} {'-' if ratio is None else f'{ratio:.2f}':>6}"
                )
            lines.append(f"{name:<22}" + "".join(cells))
        return "\n".join(lines)

    def notes(self) -> str:
        lines = [
            f"{name} = {original} (the same strategy config, measured once)" for name, original in self.same.items()
        ]
        lines += [f"{name}: not run, {why} (pip install 'bobench[peers]')" for name, why in self.missing.items()]
        return "\n".join(lines)


def cpu_seconds() -> tuple[float, float]:
    """This process's CPU seconds, and its live child processes' (a background fit worker)."""
    import psutil

    children = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # it ended meanwhile
            continue
        children += times.user + times.system
    return time.process_time(), children


def children_idle(quiet_s: float = 0.5, timeout_s: float = 120.0) -> float:
    """Waits until the child processes have used no CPU for ``quiet_s`` (a worker still starting up,
    or computing); returns their CPU seconds then."""
    deadline = time.monotonic() + timeout_s
    _, last = cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        _, now = cpu_seconds()
        if now - last < 0.01:
            return now
        last = now
    return last


def segment(competitor: Competitor, n: int, decisions: int, batch: int) -> dict[str, float]:
    """One untimed decision at ``n - 1``, then ``decisions`` timed ones at ``n, n + 1, ...``.

    Work the competitor does in other processes is settled before the timed decisions and after
    them (its background fits waited for, then the child processes idle), so that the child
    processes' CPU counted is what these decisions set off, whenever it ran: not a previous
    competitor's fits nor a worker's start-up.

    Returns:
        Seconds per proposed point on each of :data:`CLOCKS`.
    """
    competitor.start(n - 1)
    competitor.decide(batch)
    competitor.settle()
    wall = cpu = 0.0
    children_before = children_idle()
    for _ in range(decisions):
        t0, c0 = time.perf_counter(), time.process_time()
        competitor.advance()
        competitor.decide(batch)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    competitor.settle()
    children_after = children_idle()
    points = decisions * batch
    return {"wall": wall / points, "cpu": cpu / points, "cpu_all": (cpu + children_after - children_before) / points}


def measure(
    presets: list[str],
    peers: list[str],
    sizes: list[int],
    decisions: int = 10,
    repetitions: int = 1,
    running: int = 3,
    batch: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Table:
    """Times every competitor at every size, interleaved: for each repetition and size, each
    competitor in turn (the order rotates by one per repetition).

    Args:
        presets: bobench strategy presets (``conf/strategy/<name>.yaml``).
        peers: names from :data:`PEERS`; those that cannot run here are listed in ``Table.missing``.
        sizes: finished points at the first timed decision of each segment (increasing, >= 2).
        decisions: timed decisions per segment.
        repetitions: independent repetitions (stream seed = repetition).
        running: running (pending) points at each decision.
        batch: points proposed per decision.
        progress: called with one line per segment measured.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _measure(presets, peers, sorted(sizes), decisions, repetitions, running, batch, progress)
    finally:
        torch.set_num_threads(threads)


def _measure(
    presets: list[str],
    peers: list[str],
    sizes: list[int],
    decisions: int,
    repetitions: int,
    running: int,
    batch: int,
    progress: Callable[[str], None] | None,
) -> Table:
    by_name = {peer.name: peer for peer in PEERS}
    unknown = [p for p in peers if p not in by_name]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; known: {list(by_name)}")
    missing = {name: why for name in peers if (why := by_name[name].missing())}
    runnable = [p for p in peers if p not in missing]
    table = Table(sizes, [*presets, *runnable], missing=missing)
    for rep in range(repetitions):
        stream = hartmann6_stream(sizes[-1] + decisions + running + 1, seed=rep)
        # bobench strategies live for the whole repetition (their caches carry anchors up the sizes)
        competitors: dict[str, Competitor] = {p: BobenchStrategy(stream, running, p) for p in presets}
        competitors |= {p: by_name[p].make(stream, running) for p in runnable}
        order = list(competitors)
        order = order[rep % len(order) :] + order[: rep % len(order)]
        try:
            for n in sizes:
                for name in order:
                    seconds = segment(competitors[name], n, decisions, batch)
                    table.add(name, n, seconds)
                    if progress:
                        progress(f"rep {rep} n={n} {name}: " + ", ".join(f"{v:.4f} {c}" for c, v in seconds.items()))
        finally:
            for competitor in competitors.values():
                competitor.close()
    return table


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("torch", "botorch", "gpytorch", "ax-platform", "optuna"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} -")
    import bench

    return ", ".join(parts) + f"; bench from {Path(bench.__file__).parent.parent}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", help=f"finished points (default {' '.join(map(str, SIZES))})")
    parser.add_argument("--quick", action="store_true", help=f"n = {' '.join(map(str, QUICK_SIZES))} only")
    parser.add_argument("--decisions", type=int, default=10, help="timed decisions per size (n grows by one each)")
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--running", type=int, default=3, help="running (pending) points at each decision")
    parser.add_argument("--batch", type=int, default=1, help="points proposed per decision")
    parser.add_argument(
        "--only",
        nargs="+",
        help="competitors to run: peers and strategy presets, a preset with options as preset:key=value,...",
    )
    parser.add_argument("--verbose", action="store_true", help="a line per segment as it is measured")
    args = parser.parse_args(argv)
    sizes = args.n or (QUICK_SIZES if args.quick else SIZES)
    if min(sizes) < 12:
        parser.error("--n: at least 12 (Optuna's GPSampler starts after 10 random trials)")
    presets, same = gp_presets()
    peers = [peer.name for peer in PEERS]
    if args.only:  # any strategy preset (mobster, ax...), with options as preset:key=value,...
        every_preset = [path.stem for path in sorted((CONF / "strategy").glob("*.yaml"))]
        unknown = [name for name in args.only if preset_of(name) not in every_preset and name not in peers]
        if unknown:
            parser.error(f"--only: unknown {unknown}; known: {sorted({*every_preset, *peers})}")
        presets = [name for name in args.only if name not in peers]
        peers = [p for p in peers if p in args.only]
        same = {}
    print(
        f"seconds per proposed point, Hartmann6 data in 6-D, {args.batch} point(s) per decision with "
        f"{args.running} running; mean of {args.decisions} consecutive decisions from each n (n grows by one), "
        f"{args.repetitions} repetition(s), competitors interleaved, torch threads 1, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; x GP: ratio to {REFERENCE} at the same n"
    )
    print(versions(), flush=True)
    t0 = time.time()
    cpu0 = time.process_time()
    table = measure(
        presets,
        peers,
        list(sizes),
        args.decisions,
        args.repetitions,
        args.running,
        args.batch,
        progress=(lambda line: print(line, flush=True)) if args.verbose else None,
    )
    table.same = same
    print(table.format("wall"))
    print(table.format("cpu"))
    if table.children_worked():
        print(table.format("cpu_all"))
    if table.notes():
        print(table.notes())
    print(f"({time.time() - t0:.0f} s wall, {time.process_time() - cpu0:.0f} s CPU in this process)")


if __name__ == "__main__":
    main()
