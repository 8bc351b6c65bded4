"""Builds the run's parts from a composed config, checking the user's input on the way.

Every check here runs before any evaluation, and every failure is a :class:`UserError`
whose one-line message names the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.carbon import Meters, parse_carbon_config
from bench.debug import apply_debug
from bench.errors import UserError
from bench.executors.base import Executor
from bench.objective import Objective
from bench.schedulers import Scheduler
from bench.schema import check_known_keys
from bench.strategies.base import Strategy
from bench.strategies.mf_fidelity import bind_fidelity

MODES = ("sync", "async")
#: Config keys that may differ when a run is resumed (everything else must match).
RESUMABLE_CHANGES = ("budget", "progress", "resume", "force", "retries", "fail_fast", "trust")
#: Recorded in the start record but never a reason to refuse a resume: what a preset says it reproduces.
METADATA_KEYS = ("claims",)


@dataclass
class Parts:
    """Every part of a run, built from its config (nothing started yet)."""

    objective: Objective
    strategy: Strategy
    executor: Executor
    #: the carbon meters, from the ``carbon:`` config parsed once (off without a ``carbon:`` node).
    meters: Meters
    #: how far each evaluation runs (``scheduler:``, bench/schedulers); None: the full resource.
    scheduler: Scheduler | None = None


def check_top_level(cfg: DictConfig) -> None:
    """Checks the keys every run has: no unknown key, then workers, mode, budget, seed, retries.

    Types were checked when the config was composed (:class:`bench.schema.RunConf`); these are
    the range checks, with the same one-line errors for a config built by hand.
    """
    check_known_keys(cfg)

    def integer(key: str, value: Any, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{key}: expected an integer, got {value!r}")
        if value < minimum:
            raise UserError(f"{key}: must be >= {minimum}, got {value}")
        return value

    integer("workers", cfg.get("workers"), 1)
    integer("seed", cfg.get("seed"), 0)
    integer("retries", cfg.get("retries", 0), 0)
    integer("fail_fast", cfg.get("fail_fast", 0), 0)
    if cfg.get("max_batch") is not None:
        integer("max_batch", cfg.get("max_batch"), 1)
    if cfg.get("mode") not in MODES:
        raise UserError(f"mode: expected sync or async, got {cfg.get('mode')!r}")
    budget = cfg.get("budget") or {}
    n, s = budget.get("evaluations"), budget.get("seconds")
    if n is None and s is None:
        raise UserError("budget: set budget.evaluations or budget.seconds (or both)")
    if n is not None:
        integer("budget.evaluations", n, 1)
    if s is not None and (isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s) or s <= 0):
        raise UserError(f"budget.seconds: expected a positive, finite number of seconds, got {s!r}")
    for group in ("objective", "strategy", "executor"):
        node = cfg.get(group)
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise UserError(f"{group}: no {group} selected (use {group}=NAME)")


def _instantiate(group: str, node: DictConfig, **kwargs: Any) -> Any:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, _recursive_=False, _convert_="all", **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, UserError) and (cause.__cause__ or cause.__context__):
            if isinstance(cause, TypeError | ValueError):
                break
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, UserError):
            raise cause from None
        msg = str(cause or exc).splitlines()[0] if (cause or exc) else "could not be built"
        if isinstance(cause, ModuleNotFoundError):
            msg += ": run bobench from the folder that holds it, or add that folder to PYTHONPATH"
        if "unexpected keyword argument" in msg:
            key = msg.rsplit("'", 2)[-2] if msg.count("'") >= 2 else msg
            raise UserError(f"{group}.{key}: unknown option for {node._target_}") from None
        raise UserError(f"{group}: cannot build {node.get('_target_')}: {msg}") from None


def check_picklable(objective: Objective, executor: Executor, cfg: DictConfig) -> None:
    """An executor that runs evaluations in other processes pickles the objective: try it now."""
    if executor.objective_pickler is None:
        return  # evaluated in the driver's own process
    try:
        if executor.objective_pickler == "cloudpickle":
            import cloudpickle

            cloudpickle.dumps(objective)
        else:
            pickle.dumps(objective)
    except Exception as exc:
        name = str(cfg.executor._target_).rsplit(".", 2)[-2]
        why = (str(exc).splitlines() or [""])[0]
        raise UserError(
            f"objective: {cfg.objective._target_} cannot be pickled for executor={name} ({type(exc).__name__}: "
            f"{why}): keep lambdas/open files out of it (build them in setup()), or use executor=inline"
        ) from None


def build(cfg: DictConfig, validate: bool = True) -> Parts:
    """Instantiates objective, strategy and executor (cheap: no workers started).

    Args:
        cfg: the composed config.
        validate: also run the objective's full ``validate()`` (e.g. read every data file).
    """
    check_top_level(cfg)
    apply_debug(cfg)  # +debug=fast: cheap settings where the strategy and objective have them
    objective = _instantiate("objective", cfg.objective)
    if not isinstance(objective, Objective):
        raise UserError(f"objective: {cfg.objective._target_} is not a bench.objective.Objective")
    strategy = _instantiate("strategy", cfg.strategy, space=objective.space, seed=int(cfg.seed))
    if not isinstance(strategy, Strategy):
        raise UserError(f"strategy: {cfg.strategy._target_} is not a bench.strategies.Strategy")
    executor = _instantiate("executor", cfg.executor, workers=int(cfg.workers))
    if not isinstance(executor, Executor):
        raise UserError(f"executor: {cfg.executor._target_} is not a bench.executors.Executor")
    check_picklable(objective, executor, cfg)
    node = cfg.get("carbon")
    carbon = parse_carbon_config(node) if node is not None else None  # once per run; UserError naming the field
    meters = Meters(carbon, simulated=executor.simulated)  # nothing started yet
    scheduler = build_scheduler(cfg, objective)
    # a strategy that chooses each evaluation's fidelity (bench/strategies/mf_fidelity.py): checked and told the range
    bind_fidelity(strategy, objective, scheduler)
    if validate:
        objective.validate()  # e.g. data files present and well-formed, before any evaluation
    return Parts(objective, strategy, executor, meters, scheduler)


def build_scheduler(cfg: DictConfig, objective: Objective) -> Scheduler | None:
    """The ``scheduler:`` node built, and checked against the objective's resource; None for scheduler=none."""
    node = cfg.get("scheduler")
    if node is None:
        return None
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise UserError("scheduler: no scheduler selected (use scheduler=asha, hyperband or none)")
    scheduler = _instantiate("scheduler", node)
    if not isinstance(scheduler, Scheduler):
        raise UserError(f"scheduler: {node._target_} is not a bench.schedulers.Scheduler")
    from bench.schedulers.hook import Schedule

    Schedule(scheduler, objective, int(cfg.seed), simulated=False)  # the checks a run makes, before any work
    return scheduler


def config_for_compare(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without the keys a resume may change."""
    plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    assert isinstance(plain, dict)
    dropped = (*RESUMABLE_CHANGES, "hydra")
    out = {str(key): value for key, value in plain.items() if key not in dropped}
    for key in ("scheduler", "max_batch"):  # left unset: the config (and its hash) as before the key existed
        if out.get(key, ...) is None:
            del out[key]
    return out


def config_hash(plain: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def first_difference(old: Any, new: Any, prefix: str = "") -> str | None:
    """The dotted key of the first difference between two plain configs, or None.

    Top-level :data:`METADATA_KEYS` are not compared.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if not prefix and key in METADATA_KEYS:
                continue
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in old and new[key] is None:
                continue  # a key added since the run started, left unset: the run had it unset too
            if key not in old or key not in new:
                return where
            diff = first_difference(old[key], new[key], where)
            if diff:
                return diff
        return None
    return None if old == new else (prefix or "<root>")
