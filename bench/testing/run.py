"""Short runs through the real driver, and the check that the journal alone rebuilds them."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from bench.executors.base import Executor
from bench.objective import Objective
from bench.strategies.base import Strategy


def compose(*overrides: str) -> DictConfig:
    """bench's own config (the installed ``bench.conf``) composed with ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from bench.cli import CONF_DIR
    from bench.schema import register

    register()  # the typed schemas the YAML files extend
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return hydra_compose(config_name="config", overrides=list(overrides))


def run_briefly(
    run_dir: Path,
    *,
    objective: Objective | None = None,
    strategy: Strategy | None = None,
    executor: Executor | None = None,
    evaluations: int = 4,
    mode: str = "sync",
) -> dict[str, Any]:
    """Runs a few evaluations into ``run_dir`` through the driver; returns the run's summary.

    Parts not given are the quadratic, random search (on the objective's space) and the inline
    executor; ``workers`` is the executor's.
    """
    from bench.build import build
    from bench.driver import Driver
    from bench.strategies.random import RandomSearch

    workers = executor.workers if executor is not None else 1
    cfg = compose(
        "objective=quadratic",
        "strategy=random",
        "executor=inline",
        "carbon=off",
        "+debug=fast",
        f"workers={workers}",
        f"mode={mode}",
        f"budget.evaluations={evaluations}",
        "journal.fsync=false",
    )
    parts = build(cfg)
    if objective is not None:
        parts = dataclasses.replace(parts, objective=objective, strategy=RandomSearch(objective.space, seed=0))
    if strategy is not None:
        parts = dataclasses.replace(parts, strategy=strategy)
    if executor is not None:
        parts = dataclasses.replace(parts, executor=executor)
    return Driver(cfg, run_dir, parts=parts).run()


def check_results_rebuild_from_journal(run_dir: Path) -> None:
    """results.csv as the live run wrote it equals results.csv rebuilt from journal.jsonl alone."""
    from bench.run_folder import RESULTS, results_csv_text, rows_from_journal

    live = (Path(run_dir) / RESULTS).read_text()
    rebuilt = results_csv_text(rows_from_journal(run_dir))
    diff = "\n".join(difflib.unified_diff(live.splitlines(), rebuilt.splitlines(), "live", "from journal", lineterm=""))
    assert rebuilt == live, f"results rebuilt from the journal differ from the live run's:\n{diff}"
