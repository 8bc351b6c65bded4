"""bench.testing's contract classes, subclassed by plug-ins outside the package (tests/plugins/),
catch what the plug-ins break: an objective that cannot be pickled, a strategy that keeps state."""

from __future__ import annotations

import pytest

from bench.testing.objectives import check_a_pickled_copy_evaluates_the_same
from bench.testing.strategies import check_a_fresh_instance_agrees_with_a_used_one, check_asking_twice_proposes_the_same
from tests.conftest import ROOT, run_cli
from tests.plugins.objectives import LambdaQuadratic
from tests.plugins.strategies import StatefulRandom

pytest_plugins = ["pytester"]

SPACE = {"x1": {"type": "float", "low": -5.0, "high": 5.0}, "x2": {"type": "float", "low": 1e-3, "high": 1e3}}

#: What a plug-in's own test file holds: one subclass per component.
PLUGIN_TESTS = f"""
import pytest

from bench.testing import ObjectiveContract, StrategyContract
from tests.plugins.objectives import LambdaQuadratic
from tests.plugins.strategies import StatefulRandom


class TestLambdaQuadratic(ObjectiveContract):
    @pytest.fixture
    def make_objective(self):
        return lambda: LambdaQuadratic({SPACE!r})


class TestStatefulRandom(StrategyContract):
    @pytest.fixture
    def make_strategy(self):
        return lambda space, seed: StatefulRandom(space, seed=seed)
"""


def test_subclassed_contracts_fail_exactly_the_broken_clauses(pytester, monkeypatch):
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    # A process of its own, as the plug-in's repository runs it (and modules with C extensions
    # that the run imports first are not unloaded from this one).
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    failed = sorted(line.split("::", 1)[1].split(" ")[0] for line in result.outlines if line.startswith("FAILED"))
    assert failed == [
        "TestLambdaQuadratic::test_a_pickled_copy_evaluates_the_same",
        "TestStatefulRandom::test_a_fresh_instance_agrees_with_a_used_one",
        "TestStatefulRandom::test_asking_twice_proposes_the_same",
    ], result.outlines
    # every other clause ran and passed: the plug-ins break nothing else
    assert outcomes.get("passed") == 3 + 3, outcomes
    result.stdout.fnmatch_lines(["*cannot be pickled*keep lambdas and open files out of it*"])


def test_the_pickle_clause_names_the_problem():
    with pytest.raises(AssertionError, match=r"LambdaQuadratic cannot be pickled .*executor=local"):
        check_a_pickled_copy_evaluates_the_same(lambda: LambdaQuadratic(SPACE))


@pytest.mark.parametrize(
    "clause", [check_asking_twice_proposes_the_same, check_a_fresh_instance_agrees_with_a_used_one]
)
def test_the_replay_clauses_catch_a_stateful_strategy(clause):
    with pytest.raises(AssertionError, match="resume"):
        clause(lambda space, seed: StatefulRandom(space, seed=seed))


@pytest.mark.parametrize("executor", ["local", "inline"])
def test_the_precheck_refuses_an_unpicklable_objective_for_a_worker_process(tmp_path, executor):
    searchpath = f"hydra.searchpath=[file://{ROOT / 'tests' / 'plugins' / 'conf'}]"  # the plug-in's own configs
    proc = run_cli(
        searchpath,
        "objective=lambda_quadratic",
        "strategy=random",
        f"executor={executor}",
        "budget.evaluations=2",
        cwd=tmp_path,
    )
    if executor == "inline":  # evaluated in the driver's process: nothing is pickled, the run goes on
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith(
        "bobench: error: objective: tests.plugins.objectives.LambdaQuadratic cannot be pickled for executor=local ("
    ), line
    assert "<lambda>" in line and line.endswith(
        "keep lambdas/open files out of it (build them in setup()), or use executor=inline"
    ), line
    assert not list(tmp_path.rglob("journal.jsonl"))  # stopped before any run folder
