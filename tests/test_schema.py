"""The typed schemas: types checked when composing, unknown keys refused, open mappings left open."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from bench.build import build
from bench.errors import UserError
from bench.schema import compose_error, register, unknown_keys
from tests.conftest import CONF

GROUPS = ("objective", "strategy", "executor", "carbon")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_option_extends_a_schema(compose, group):
    assert dataclasses.is_dataclass(OmegaConf.get_type(compose()))
    for name in options(group):
        node = compose(f"{group}={name}")[group]
        assert dataclasses.is_dataclass(OmegaConf.get_type(node)), f"{group}={name} extends no schema"
        assert unknown_keys(node) == []


def test_register_is_idempotent():
    register()
    register()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("budget.evaluations=abc", "budget.evaluations: expected an integer, got 'abc'"),
        ("seed=1.5", "seed: expected an integer, got 1.5"),
        ("strategy.warm_start=maybe", "strategy.warm_start: expected true or false, got 'maybe'"),
        ("carbon.pue=high", "carbon.pue: expected a number, got 'high'"),
    ],
)
def test_a_wrong_type_fails_at_compose_naming_the_key(compose, override, message):
    with pytest.raises(ConfigCompositionException) as info:
        compose(override)
    assert compose_error(info.value) == message


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("+budget.evaluation=2", "budget.evaluation"),
        ("+strategy.num_restart=2", "strategy.num_restart"),
        ("+executor.colour=red", "executor.colour"),
        ("+carbon.green_algorithms.core=2", "carbon.green_algorithms.core"),
        ("+sed=3", "sed"),
    ],
)
def test_a_key_added_with_plus_is_refused_by_the_build(compose, override, key):
    cfg = compose("objective=quadratic", override)
    with pytest.raises(UserError, match=f"^{re.escape(key)}: unknown key"):
        build(cfg, validate=False)


def test_a_key_without_plus_is_refused_at_compose(compose):
    with pytest.raises(ConfigCompositionException, match=re.escape("Could not override 'budget.evaluation'")):
        compose("budget.evaluation=2")


def test_open_mappings_accept_new_keys(compose):
    cfg = compose(
        "objective=quadratic",
        "+objective.space.x3={type:int,low:1,high:4}",
        "strategy=grid",
        "+strategy.values.x1=[0.0,1.0]",
    )
    parts = build(cfg, validate=False)
    assert parts.objective.space.names == ("x1", "x2", "x3")
    assert parts.objective.space.params[2].type == "int"
    cfg = compose(
        "objective=mlp",
        "+objective.estimator.tol=0.01",
        "executor=slurm",
        "+executor.additional_parameters.constraint=a100",
    )
    parts = build(cfg, validate=False)  # building a Slurm executor needs no cluster
    assert parts.objective.estimator["tol"] == 0.01
    assert parts.executor.additional_parameters == {"constraint": "a100"}


def test_gp_options_keep_their_one_line_errors():
    from bench.space import Space
    from bench.strategies.ei import ExpectedImprovement
    from bench.strategies.ts import ThompsonSampling

    space = Space.from_config({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    with pytest.raises(UserError, match=r"^strategy\.num_restart: unknown option for ei$"):
        ExpectedImprovement(space, num_restart=2)
    with pytest.raises(UserError, match=r"^strategy\.raw_samples: expected an integer >= 10"):
        ExpectedImprovement(space, num_restarts=10, raw_samples=5)
    with pytest.raises(UserError, match=r"^strategy\.acq_optimizer: expected one of auto, multistart"):
        ExpectedImprovement(space, acq_optimizer="grid")
    ts = ThompsonSampling(space)  # its own defaults, written once in TSOptions
    assert (ts.num_restarts, ts.raw_samples, ts.refit_every, ts.cache.refit_growth) == (8, 1024, 10, 0.1)
    assert ExpectedImprovement(space).cache.refit_growth == 0.0  # measured for TS only


def test_acquisition_strategies_defaults_are_the_cheap_ones():
    """EI, UCB and LP: fits on the refit_every = 5 schedule, a grid in 1-D and 2-D, budgets sized to the dimension."""
    from bench.space import Space
    from bench.strategies.ei import ExpectedImprovement
    from bench.strategies.lp import LocalPenalization
    from bench.strategies.ucb import UpperConfidenceBoundStrategy

    for cls in (ExpectedImprovement, UpperConfidenceBoundStrategy, LocalPenalization):
        for dim, budget in ((1, (2, 128)), (6, (10, 512))):
            space = Space.from_config({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(dim)})
            strategy = cls(space)
            assert (strategy.options.num_restarts, strategy.options.raw_samples) == (None, None)
            assert (strategy.num_restarts, strategy.raw_samples) == budget
            assert (strategy.cache.refit_every, strategy.acq_optimizer) == (5, "auto")


def test_the_worksheet_ei_keeps_the_multistart_optimiser(compose):
    """Its fixed prior did worse with the grid on Branin's tuning seeds (docs/parallel-bo.md)."""
    cfg = compose("strategy=ei_worksheet").strategy
    assert (cfg.acq_optimizer, cfg.num_restarts, cfg.raw_samples, cfg.worksheet_prior) == ("multistart", 10, 512, True)
    assert compose("strategy=ei").strategy.acq_optimizer == "auto"
