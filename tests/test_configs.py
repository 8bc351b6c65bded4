"""Every YAML in conf/ composes, and every runnable combination runs a few evaluations."""

from __future__ import annotations

import pytest

from bench.driver import Driver
from tests.conftest import CONF, USER_CODE, final_results, read_journal, slurm_available

#: Options that need a server these tests may not have (.ci/run starts it first).
NEEDS_MORE = {} if slurm_available() else {("executor", "slurm"): "needs the Slurm cluster (scripts/slurm/start.sh)"}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def cheap(compose, *overrides: str):
    """With conf/debug/fast.yaml: small optimiser budgets, the CNN on scikit-learn's bundled digits
    (no MNIST files needed), applied where each strategy and objective has the option."""
    return compose(*overrides, "+debug=fast")


@pytest.mark.parametrize("group", ["objective", "strategy", "executor", "experiment", "arm", "carbon", "scheduler"])
def test_every_option_composes(compose, group):
    for name in options(group):
        cfg = compose(f"{group}={name}")
        assert cfg.objective._target_ and cfg.strategy._target_ and cfg.executor._target_


@pytest.mark.parametrize("strategy", options("strategy"))
def test_every_strategy_runs_three_evaluations(compose, tmp_path, strategy):
    cfg = cheap(
        compose, "objective=quadratic", f"strategy={strategy}", "budget.evaluations=3", "workers=2", "mode=async"
    )
    summary = Driver(cfg, tmp_path / "run").run()
    assert summary["n_evals"] == 3 and summary["n_failed"] == 0


@pytest.mark.parametrize(
    "executor", [pytest.param(e, marks=pytest.mark.slurm) if e == "slurm" else e for e in options("executor")]
)
def test_every_executor_runs_three_evaluations(compose, tmp_path, executor):
    if ("executor", executor) in NEEDS_MORE:
        pytest.skip(NEEDS_MORE[("executor", executor)])
    cfg = cheap(
        compose, "objective=quadratic", "strategy=random", f"executor={executor}", "budget.evaluations=3", "workers=2"
    )
    summary = Driver(cfg, tmp_path / "run").run()
    assert summary["n_evals"] == 3


@pytest.mark.parametrize("objective", options("objective"))
def test_every_objective_runs_two_evaluations(compose, tmp_path, objective):
    if ("objective", objective) in NEEDS_MORE:
        pytest.skip(NEEDS_MORE[("objective", objective)])
    cfg = cheap(
        compose, f"objective={objective}", "strategy=random", "budget.evaluations=2", *USER_CODE.get(objective, [])
    )
    Driver(cfg, tmp_path / "run").run()
    assert len(final_results(read_journal(tmp_path / "run"))) == 2


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_runs_a_few_evaluations(compose, tmp_path, experiment):
    cfg = compose(f"experiment={experiment}")
    needs = NEEDS_MORE.get(("objective", cfg.objective.get("name", ""))) or NEEDS_MORE.get(
        ("executor", str(cfg.executor._target_).rsplit(".", 1)[-1].lower().replace("executor", ""))
    )
    if needs:
        pytest.skip(needs)
    cfg = cheap(compose, f"experiment={experiment}", "budget.evaluations=3")
    summary = Driver(cfg, tmp_path / "run").run()
    assert summary["n_evals"] == 3


@pytest.mark.parametrize("scheduler", [s for s in options("scheduler") if s != "none"])
def test_every_scheduler_runs_on_a_multi_fidelity_objective(compose, tmp_path, scheduler):
    cfg = cheap(compose, "objective=branin_mf", "strategy=random", f"scheduler={scheduler}", "budget.evaluations=6")
    summary = Driver(cfg, tmp_path / "run").run()
    assert summary["n_evals"] == 6 and summary["n_failed"] == 0


def test_debug_fast_shrinks_where_each_part_has_the_option(compose):
    from bench.debug import apply_debug

    cfg = compose("objective=cnn", "strategy=ei", "+debug=fast")
    apply_debug(cfg)
    assert (cfg.strategy.num_restarts, cfg.strategy.raw_samples, cfg.strategy.mc_samples) == (2, 32, 16)
    assert cfg.strategy.n_initial == 2  # capped from 3
    assert (cfg.objective.dataset, cfg.objective.epochs, cfg.objective.threads) == ("digits", 1, 1)
    assert cfg.progress is False
    cfg = compose("objective=quadratic", "strategy=async_ts", "+debug=fast")
    apply_debug(cfg)
    assert cfg.strategy.n_initial == 0  # a cap, not a value
    assert "raw_samples" in cfg.strategy and "mc_samples" not in cfg.strategy  # nothing added
    assert "epochs" not in cfg.objective
