"""The typed schema of a run's config, registered in Hydra's ConfigStore before anything composes.

``conf/config.yaml`` extends :class:`RunConf` (``defaults: [/schema/run@_here_, ...]``) and every
group option extends its component's schema (``bench/strategies/schema.py``,
``bench/executors/schema.py``, ``objectives/schema.py``, ``bench/carbon/schema.py``), all under
the ``schema/`` group so that they never show among a group's options. OmegaConf then checks
each type while composing (``workers=abc`` fails there); only range and cross-field checks stay
in code (:func:`bench.build.check_top_level`, the components' constructors).

Hydra adds a ``+key`` override with the struct flag lifted, so a typo such as
``+budget.evaluation=2`` composes: :func:`check_known_keys` refuses it afterwards, naming the
key. Open mappings (a search space, an estimator's kwargs, ``additional_parameters``) are typed
``dict`` or ``Any`` and stay open.

Everything that composes calls :func:`register` first (the CLI, ``tests/conftest.py``,
``benchmarks/_common.py``); it is idempotent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from bench.errors import UserError

GROUP = "schema"


@dataclass
class BudgetConf:
    evaluations: int | None = 30  # stop proposing after this many evaluations (null: no limit)
    seconds: float | None = None  # stop proposing after this many seconds on the run's clock (null: no limit)


@dataclass
class JournalConf:
    fsync: bool = True  # fsync the journal once per driver wake-up (off only to measure the harness itself)


@dataclass
class ClaimConf:
    """A paper's claim that a preset reproduces, checked by ``bobench-report`` (``analysis/claims.py``)."""

    id: str = MISSING  # a short name, e.g. kandasamy2018-hartmann6
    source: str = ""  # the paper and where in it, e.g. "Kandasamy et al. 2018, Fig. 3"
    statement: str = ""  # the claim in words
    better: str = MISSING  # the line (arm or strategy) said to be ahead
    than: list[str] = field(default_factory=list)  # the lines it is said to be ahead of
    relation: str = "better"  # better: significantly ahead | no_worse: never significantly behind
    at: str = "end"  # end: final regret (equal budget) | common_time: at the pair's earlier end time
    alpha: float = 0.05  # significance level of the paired Wilcoxon signed-rank test


@dataclass
class RunConf:
    """The keys every run has (``conf/config.yaml`` documents them)."""

    objective: Any = MISSING
    strategy: Any = MISSING
    executor: Any = MISSING
    carbon: Any = None
    # how far each evaluation runs (bench/schedulers: asha, hyperband); null (scheduler=none): the full resource
    scheduler: Any = None
    seed: int = 0
    workers: int = 1
    mode: str = "sync"
    # at most this many points per decision (null: one decision for every free worker; 1: one point at a time)
    max_batch: int | None = None
    budget: BudgetConf = field(default_factory=BudgetConf)
    retries: int = 2
    # stop the run when the first fail_fast evaluations all fail the same way (same exception); 0: never
    fail_fast: int = 5
    resume: str | None = None
    force: bool = False
    progress: Any = "auto"  # auto (a bar on a terminal, log lines elsewhere) | true (bar) | false
    journal: JournalConf = field(default_factory=JournalConf)
    debug: Any = None  # cheap settings for tests and quick tries: +debug=fast (conf/debug/, bench/debug.py)
    claims: list[ClaimConf] = field(default_factory=list)  # what a preset reproduces (bobench-report checks it)
    # with resume: modules (beyond bench, objectives and the libraries bobench ships configs for)
    # whose code a resumed run folder may name; only the command line's value counts (bench/resume.py)
    trust: list[str] = field(default_factory=list)


_registered = False


def register() -> None:
    """Stores every schema in Hydra's ConfigStore (once per process; later calls do nothing)."""
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore

    from bench.carbon import schema as carbon_schema
    from bench.executors import schema as executor_schema
    from bench.schedulers import schema as scheduler_schema
    from bench.strategies import schema as strategy_schema
    from objectives import schema as objective_schema

    store = ConfigStore.instance()
    store.store(group=GROUP, name="run", node=RunConf, provider="bobench")
    for module in (strategy_schema, executor_schema, objective_schema, carbon_schema, scheduler_schema):
        for name, node in module.SCHEMAS.items():  # each package's schemas, under its GROUP
            store.store(group=module.GROUP, name=name, node=node, provider="bobench")
    _registered = True


# -- after composing ---------------------------------------------------------------------------
def _schema_fields(node: DictConfig) -> set[str] | None:
    """The keys a node's schema allows, or None for an open mapping (no dataclass behind it)."""
    kind = OmegaConf.get_type(node)
    if kind is None or not dataclasses.is_dataclass(kind):
        return None
    return {f.name for f in dataclasses.fields(kind)}


def unknown_keys(cfg: Any, prefix: str = "", allowed: Iterable[str] = ()) -> list[str]:
    """The dotted keys under ``cfg`` that its schemas do not have (``+``-added ones included).

    Args:
        cfg: a composed config (or any node of one).
        prefix: the dotted key of ``cfg``.
        allowed: extra keys accepted at this level (``hydra`` at the root).
    """
    found: list[str] = []
    if isinstance(cfg, DictConfig):
        known = _schema_fields(cfg)
        for raw in cfg:
            key = str(raw)
            where = f"{prefix}.{key}" if prefix else key
            if known is not None and key not in known and key not in allowed:
                found.append(where)
                continue
            child = cfg._get_node(key)
            if isinstance(child, DictConfig | ListConfig) and not child._is_missing() and not child._is_none():
                found.extend(unknown_keys(child, where))
    elif isinstance(cfg, ListConfig):
        for i in range(len(cfg)):
            item = cfg._get_node(i)
            if isinstance(item, DictConfig | ListConfig) and not item._is_none():
                found.extend(unknown_keys(item, f"{prefix}[{i}]"))
    return found


def check_known_keys(cfg: DictConfig) -> None:
    """Raises a one-line UserError naming the first key no schema has (``hydra`` is Hydra's)."""
    extra = sorted(unknown_keys(cfg, allowed={"hydra"}))
    if extra:
        key = extra[0]
        parent = key.rpartition(".")[0]
        node = OmegaConf.select(cfg, parent) if parent else cfg
        kind = OmegaConf.get_type(node)
        owner = f" of {kind.__name__}" if kind is not None else ""
        raise UserError(f"{key}: unknown key{owner} (a typo? `bobench --cfg job` shows every key)")


# -- compose errors as one line ----------------------------------------------------------------
_TYPE_WORDS = {
    "Integer": "an integer",
    "Float": "a number",
    "Boolean": "true or false",
    "String": "a string",
}


def compose_error(exc: BaseException) -> str | None:
    """A one-line message naming the key for a type or key error found while composing, else None.

    Hydra wraps OmegaConf's errors (``Value 'abc' ... could not be converted to Integer``,
    ``Key 'x' not in 'BudgetConf'``) in its own; the cause names the full key.
    """
    import re

    from omegaconf.errors import ConfigKeyError, ValidationError

    if str(exc).startswith("Could not override"):
        return None  # Hydra's own line names the key and says how to append one
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ValidationError | ConfigKeyError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    key = getattr(cause, "full_key", None) or getattr(cause, "key", None)
    text = str(getattr(cause, "msg", None) or cause).strip().splitlines()[0]
    if not key:
        return None
    if isinstance(cause, ConfigKeyError):
        return f"{key}: unknown key ({text})"
    match = re.search(r"could not be converted to (\w+)|is not a valid (bool)", text)
    if match:
        kind = match.group(1) or "Boolean"
        return f"{key}: expected {_TYPE_WORDS.get(kind, kind)}, got {getattr(cause, 'value', None)!r}"
    return f"{key}: {text}"
