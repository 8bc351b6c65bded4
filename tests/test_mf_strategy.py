"""The multi-fidelity knowledge gradient (bench/strategies/mf_kg.py): (x, fidelity) proposals, run at that fidelity."""

from __future__ import annotations

import numpy as np
import pytest

from bench.space import Space
from bench.strategies.base import History
from bench.strategies.mf_kg import MultiFidelityKG
from bench.testing import StrategyContract
from objectives.multi_fidelity import evaluate_at
from tests.conftest import final_results, read_journal, run_cli, start_cli
from tests.test_resume import kill_after, proposals

CHEAP = {"num_fantasies": 4, "num_restarts": 2, "raw_samples": 16, "maxiter": 10}
CLI_CHEAP = [f"strategy.{k}={v}" for k, v in CHEAP.items()]
BRANIN = ["objective=branin_mf", "strategy=mfkg", *CLI_CHEAP, "carbon=off", "progress=false"]
PLANE = Space.from_config(
    {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}
)


class TestMultiFidelityKGContract(StrategyContract):
    @pytest.fixture
    def make_strategy(self):
        return lambda space, seed: MultiFidelityKG(space, seed, **CHEAP)


def history_at_fidelities(n: int = 8) -> History:
    """A bowl seen at fidelities 0.2 to 1, the lower ones shifted up (as the synthetic ones are)."""
    rng = np.random.default_rng(0)
    X = rng.random((n, 2))
    s = np.linspace(0.2, 1.0, n)
    y = ((X - 0.3) ** 2).sum(axis=1) + 0.2 * (1 - s)
    by_fidelity = History(X, y, np.zeros((0, 2)), fidelity=s)
    return History(X, y, np.zeros((0, 2)), by_fidelity=by_fidelity)


def test_it_proposes_a_fidelity_for_each_point_within_its_range():
    kg = MultiFidelityKG(PLANE, 0, min_fidelity=0.2, n_initial=3, **CHEAP)
    X, s = kg.propose_with_fidelity(History.empty(2), np.zeros((0, 2)), 3)  # the initial design
    assert X.shape == (3, 2) and s.shape == (3,) and np.all((s >= 0.2) & (s <= 1.0)) and len(set(s)) == 3
    X, s = kg.propose_with_fidelity(history_at_fidelities(), np.zeros((0, 2)), 2)
    assert X.shape == (2, 2) and np.all((s >= 0.2) & (s <= 1.0))
    np.testing.assert_allclose(kg.propose(history_at_fidelities(), np.zeros((0, 2)), 2), X)


def test_a_cheap_low_fidelity_is_chosen_only_while_it_is_cheap():
    h = history_at_fidelities()
    (_, (free_start,)) = MultiFidelityKG(PLANE, 0, min_fidelity=0.2, cost_fixed=0.0, **CHEAP).propose_with_fidelity(
        h, np.zeros((0, 2)), 1
    )
    (_, (costly_start,)) = MultiFidelityKG(PLANE, 0, min_fidelity=0.2, cost_fixed=100.0, **CHEAP).propose_with_fidelity(
        h, np.zeros((0, 2)), 1
    )
    assert free_start < 0.5 < costly_start  # a large fixed cost makes the full fidelity worth its price


def test_a_run_evaluates_each_point_at_its_fidelity(tmp_path):
    run_cli(
        *BRANIN, "executor=simulated", "executor.duration=cost", "workers=2", "mode=async", "budget.evaluations=6",
        "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    records = read_journal(tmp_path / "run")
    chosen = {r["eval_id"]: r["fidelity"] for r in records if r["event"] == "submit"}
    assert len(chosen) == 6 and all(1 / 27 <= s <= 1 for s in chosen.values())
    for r in final_results(records):
        s = chosen[r["eval_id"]]
        assert r["fidelity"] == s and r["status"] == ("ok" if s == 1.0 else "stopped")
        assert r["t_end"] - r["t_start"] == pytest.approx(s)  # cost_at(s): s simulated seconds
        x = next(r2["params"] for r2 in records if r2["event"] == "submit" and r2["eval_id"] == r["eval_id"])
        assert r["value"] == pytest.approx(evaluate_at("augmented_branin", np.array([x["x1"], x["x2"]]), s))
    header = (tmp_path / "run" / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["eval_id", "status", "value", "fidelity"]


@pytest.mark.slow
def test_a_killed_and_resumed_run_proposes_the_same_pairs(tmp_path):
    args = [*BRANIN, "objective.sleep_per_fidelity=1.0", "strategy.n_initial=2", "seed=4", "budget.evaluations=5"]
    run_cli(*args, "hydra.run.dir=straight", cwd=tmp_path, check=True)
    kill_after(start_cli(*args, "hydra.run.dir=killed", cwd=tmp_path), tmp_path / "killed", n_results=3)
    run_cli("resume=killed", cwd=tmp_path, check=True)
    np.testing.assert_allclose(proposals(tmp_path / "killed"), proposals(tmp_path / "straight"), atol=1e-9)

    def fidelities(run: str) -> list[float]:
        return [r["fidelity"] for r in final_results(read_journal(tmp_path / run))]

    assert sorted(fidelities("killed")) == pytest.approx(sorted(fidelities("straight")))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["scheduler=asha"],
            "scheduler=asha: strategy MultiFidelityKG chooses each evaluation's fidelity itself; use scheduler=none",
        ),
        (
            ["strategy.min_fidelity=0.01"],
            "strategy.min_fidelity: the objective runs at fidelity >= 0.037037, got 0.01",
        ),
        (["strategy.num_fantasies=0"], "strategy.num_fantasies: expected an integer >= 1, got 0"),
        (
            ["objective=mlp", "objective.report_every=10"],
            "strategy: MultiFidelityKG proposes fidelities in (0, 1]; objective mlp's iterations runs 10..100 "
            "(use hartmann6_mf or branin_mf, or scheduler=asha)",
        ),
    ],
)
def test_bad_settings_are_one_line_before_any_work(tmp_path, overrides, message):
    proc = run_cli(*BRANIN, *overrides, "hydra.run.dir=run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"bobench: error: {message}"]
    assert not (tmp_path / "run" / "journal.jsonl").exists()
