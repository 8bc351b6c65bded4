"""The Python API: docs/python-api.md's examples run as written; ask/tell resumes; one-line errors."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import analysis
import bench
from bench.errors import UserError
from bench.run_folder import check_record
from tests.conftest import ROOT, read_journal, run_cli

DOC = ROOT / "docs" / "python-api.md"
SPACE = {
    "x": {"type": "float", "low": -2.0, "high": 2.0},
    "k": {"type": "int", "low": 1, "high": 4},
    "act": {"type": "categorical", "choices": ["relu", "tanh"]},
}
FAST_EI = {"n_initial": 2, "num_restarts": 2, "raw_samples": 32}


def value_of(p: dict[str, Any]) -> float:
    """A deterministic stand-in for the caller's evaluation."""
    return (p["x"] - 0.4) ** 2 + 0.1 * (p["k"] - 2) ** 2 + (0.0 if p["act"] == "relu" else 0.2)


def ask_and_tell(opt: bench.Optimizer, n: int, asked: list[dict[str, Any]]) -> None:
    for _ in range(n):
        [p] = opt.ask()
        asked.append(p)
        opt.tell(p, value_of(p))


def proposals(run_dir: Path) -> list[list[float]]:
    """Each evaluation's unit point, by eval_id (as first asked)."""
    by_id: dict[int, list[float]] = {}
    for r in read_journal(run_dir):
        if r["event"] == "submit":
            by_id.setdefault(r["eval_id"], r["x"])
    return [by_id[i] for i in sorted(by_id)]


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.M | re.S)


# -- the documentation ---------------------------------------------------------------------------
def test_the_examples_of_docs_python_api_run_as_written(tmp_path, monkeypatch):
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 5, "docs/python-api.md lost its examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "python_api_docs"}
    for i, block in enumerate(blocks, start=1):
        exec(compile(block, f"{DOC} (python block {i})", "exec"), namespace)  # the page's own asserts run too
    ask_tell, quadratic = tmp_path / "runs" / "ask-tell", tmp_path / "runs" / "quadratic"
    assert json.loads((ask_tell / "summary.json").read_text())["n_evals"] == 12
    assert (quadratic / ".hydra" / "overrides.yaml").is_file()
    assert not list(tmp_path.glob("outputs")), "an example wrote outside the run folders it names"
    assert "python-api.md" in (ROOT / "README.md").read_text()


# -- Optimizer: determinism and resume -------------------------------------------------------------
def test_the_same_seed_asks_the_same_points_and_another_seed_others(tmp_path):
    runs = {}
    for name, seed in (("a", 4), ("b", 4), ("c", 5)):
        asked: list[dict[str, Any]] = []
        with bench.Optimizer(SPACE, "random", seed=seed, run_dir=tmp_path / name) as opt:
            ask_and_tell(opt, 5, asked)
            asked.extend(opt.ask(3))  # a batch, with pending points
        runs[name] = asked
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


@pytest.mark.slow
def test_ei_resumed_after_close_asks_what_an_uninterrupted_run_asks(tmp_path):
    with bench.Optimizer(SPACE, "ei", seed=2, run_dir=tmp_path / "straight", **FAST_EI) as opt:
        ask_and_tell(opt, 6, [])

    asked: list[dict[str, Any]] = []
    with bench.Optimizer(SPACE, "ei", seed=2, run_dir=tmp_path / "closed", **FAST_EI) as opt:
        ask_and_tell(opt, 3, asked)
        left = opt.ask()  # asked, never told
    with bench.Optimizer(SPACE, "ei", seed=2, run_dir=tmp_path / "closed", **FAST_EI) as opt:
        assert opt.pending == left
        assert opt.ask() == left  # the pending point first, before any new one
        opt.tell(left[0], value_of(left[0]))
        ask_and_tell(opt, 2, asked)

    np.testing.assert_allclose(proposals(tmp_path / "closed"), proposals(tmp_path / "straight"), atol=1e-6)
    records = read_journal(tmp_path / "closed")
    finals = Counter(r["eval_id"] for r in records if r["event"] == "result" and r["final"])
    assert sorted(finals) == list(range(6)) and set(finals.values()) == {1}
    [resume] = [r for r in records if r["event"] == "resume"]
    assert resume["rerun"] == [3] and resume["n_finished"] == 3
    assert [r["attempt"] for r in records if r["event"] == "submit" and r["eval_id"] == 3] == [0, 1]
    summary = json.loads((tmp_path / "closed" / "summary.json").read_text())
    assert summary["n_evals"] == 6 and summary["n_in_flight"] == 0 and summary["status"] == "closed"


CRASHING_LOOP = """
import json, os, signal, sys
import bench
from tests.test_python_api import SPACE, ask_and_tell
opt = bench.Optimizer(SPACE, "random", seed=7, run_dir=sys.argv[1])
ask_and_tell(opt, 3, [])
print(json.dumps(opt.ask()), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # dies between ask and tell, the lock held and nothing closed
"""


def test_a_process_killed_between_ask_and_tell_resumes_with_its_pending_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_LOOP, str(killed)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = json.loads(proc.stdout.strip().splitlines()[-1])
    assert read_journal(killed)[-1]["event"] == "submit"

    with bench.Optimizer(SPACE, "random", seed=7, run_dir=killed) as opt:  # the dead process's lock is free
        assert opt.pending == left
        [again] = opt.ask()
        assert again == left[0]
        opt.tell(again, value_of(again))
        ask_and_tell(opt, 2, [])
    with bench.Optimizer(SPACE, "random", seed=7, run_dir=tmp_path / "straight") as opt:
        ask_and_tell(opt, 6, [])
    assert proposals(killed) == proposals(tmp_path / "straight")
    assert json.loads((killed / "summary.json").read_text())["n_evals"] == 6


# -- Optimizer: what tell accepts ------------------------------------------------------------------
def test_tell_takes_external_points_failures_and_divergence_and_refuses_what_is_not_a_value(tmp_path):
    with bench.Optimizer(SPACE, "random", seed=0, run_dir=tmp_path / "r", name="mine") as opt:
        [p] = opt.ask()
        opt.tell(p, value_of(p), metrics={"epochs": 3, "curve": [0.5, 0.25]})
        mine = {"x": 0.4, "k": 2, "act": "relu"}
        opt.tell(mine, value_of(mine))  # never asked: an external evaluation
        [q, r] = opt.ask(2)
        opt.tell(r, math.nan)
        opt.tell(q, None)
        for bad, key in [
            ({"x": 0.4, "k": 2}, "'act'"),
            ({**mine, "depth": 3}, "'depth'"),
            ({**mine, "x": 7.0}, "x=7.0"),
            ({**mine, "act": "gelu"}, "act='gelu'"),
        ]:
            with pytest.raises(UserError, match=re.escape(key)) as err:
                opt.tell(bad, 1.0)
            assert "\n" not in str(err.value)
        with pytest.raises(UserError, match="value must be a number"):
            opt.tell(mine, "0.3")
        assert opt.ask()  # the strategy goes on
    with pytest.raises(UserError, match="is closed"):
        opt.tell(mine, 1.0)

    df = analysis.load(tmp_path / "r")
    by_id = df.set_index("eval_id")
    assert list(by_id["status"].sort_index()) == ["ok", "ok", "error", "diverged"]
    assert by_id.loc[1, "worker"] == "external" and by_id.loc[0, "worker"] == "ask-tell"
    assert by_id.loc[0, "metric.epochs"] == 3
    assert set(df["objective"]) == {"mine"} and set(df["strategy"]) == {"random"}
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_evals"] == 4 and summary["n_failed"] == 2 and summary["n_in_flight"] == 1
    assert summary["best_params"] == mine
    for i, record in enumerate(read_journal(tmp_path / "r"), start=1):
        check_record(record, strict=True, where=f"record {i}")  # the driver's format, no field of its own


def test_without_a_run_dir_the_optimizer_writes_a_fresh_outputs_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with bench.Optimizer(SPACE, "random") as opt:
        ask_and_tell(opt, 1, [])
    [journal] = tmp_path.glob("outputs/*/*/journal.jsonl")
    assert opt.run_dir.resolve() == journal.parent.resolve()


def test_the_folder_is_locked_while_open_and_reopened_only_with_the_same_configuration(tmp_path):
    folder = tmp_path / "r"
    opt = bench.Optimizer(SPACE, "random", seed=1, run_dir=folder)
    with pytest.raises(UserError, match="open in another Optimizer of this process"):
        bench.Optimizer(SPACE, "random", seed=1, run_dir=folder)
    ask_and_tell(opt, 2, [])
    opt.close()
    opt.close()  # idempotent
    for kwargs, key in [
        ({"seed": 2}, "'seed'"),
        ({"strategy": "grid"}, "'strategy._target_'"),
        ({"name": "other"}, "'name'"),
        ({"space": {**SPACE, "x": {"type": "float", "low": -2.0, "high": 3.0}}}, "'space.x.high'"),
    ]:
        args = {"space": SPACE, "strategy": "random", "seed": 1, "run_dir": folder, **kwargs}
        with pytest.raises(UserError, match=re.escape(key)) as err:
            bench.Optimizer(**args)
        assert "\n" not in str(err.value)
    with bench.Optimizer(SPACE, "random", seed=1, run_dir=folder) as again:
        assert again.summary()["n_evals"] == 2


@pytest.mark.parametrize(
    ("space", "strategy", "options", "expected"),
    [
        ([1, 2], "random", {}, "space: expected a mapping"),
        ({}, "random", {}, "space: the search space has no parameters"),
        ({"x": {"type": "float", "low": 1, "high": 0}}, "random", {}, "space.x: inverted bounds"),
        ({"x": {"type": "real", "low": 0, "high": 1}}, "random", {}, "space.x.type: unknown parameter type"),
        (SPACE, "eii", {}, "eii"),
        (SPACE, "ei", {"foo": 1}, "strategy.foo: unknown option of strategy=ei"),
        (SPACE, "ei", {"num_restarts": "abc"}, "strategy.num_restarts: expected an integer"),
        (SPACE, "ei", {"num_restarts": 0}, "strategy.num_restarts"),
        (SPACE, "random", {"seed": -1}, "seed: expected an integer >= 0"),
        (SPACE, "mfkg", {}, "strategy=mfkg: MultiFidelityKG chooses each evaluation's fidelity"),
    ],
)
def test_a_bad_space_strategy_or_option_is_one_line_before_any_work(tmp_path, space, strategy, options, expected):
    with pytest.raises(UserError) as err:
        bench.Optimizer(space, strategy, run_dir=tmp_path / "r", **options)
    message = str(err.value)
    assert expected in message and "\n" not in message
    if strategy == "eii":
        assert "random" in message  # names the strategies there are
    assert not (tmp_path / "r").exists()


def test_an_optimizers_folder_makes_a_report(tmp_path):
    from analysis.cli import main as report_main

    with bench.Optimizer(SPACE, "random", seed=0, run_dir=tmp_path / "r") as opt:
        ask_and_tell(opt, 5, [])
    assert report_main([str(tmp_path / "r"), "--out", str(tmp_path / "report")]) == 0
    assert "random" in (tmp_path / "report" / "report.md").read_text()


# -- bench.run -------------------------------------------------------------------------------------
RUN = ["objective=quadratic", "strategy=random", "budget.evaluations=3", "+debug=fast", "carbon=off"]


def test_run_returns_the_summary_and_writes_a_folder_the_cli_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    summary = bench.run(RUN, run_dir="r")
    assert summary == json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["n_evals"] == 3 and summary["strategy"] == "random" and summary["objective"] == "quadratic"
    assert (tmp_path / "r" / ".hydra" / "config.yaml").is_file()
    proc = run_cli("resume=r", "budget.evaluations=4", cwd=tmp_path, check=True)
    assert "evaluations: 4" in proc.stdout
    assert set(analysis.load(tmp_path / "r")["strategy"]) == {"random"}
    with pytest.raises(UserError, match="holds a run of the bobench command"):
        bench.Optimizer(SPACE, "random", run_dir=tmp_path / "r")
    with pytest.raises(UserError, match="already holds a run"):
        bench.run(RUN, run_dir="r")
    default = bench.run(RUN)  # a fresh outputs/<date>/<time>, as the CLI
    assert default["n_evals"] == 3 and len(list(tmp_path.glob("outputs/*/*/journal.jsonl"))) == 1


@pytest.mark.parametrize(
    "bad",
    [["budget.evaluations=abc"], ["strategy=eii"], ["+budget.evaluation=2"], ["objective.space.x1.low=9"]],
)
def test_run_words_a_mistake_as_the_cli_does(tmp_path, bad):
    args = ["objective=quadratic", "+debug=fast", *bad]
    with pytest.raises(UserError) as err:
        bench.run(args, run_dir=tmp_path / "api")
    assert not (tmp_path / "api").exists()
    cli = run_cli(*args, "hydra.run.dir=cli", cwd=tmp_path)
    assert cli.returncode == 2
    assert cli.stderr.strip() == f"bobench: error: {err.value}"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["seed=0,1"], "is a sweep: bench.run runs one job"),
        (["experiment=kandasamy_branin"], "multirun preset"),
        ("objective=quadratic", "overrides: expected a list of strings"),
        (["budget.evaluations=[1"], "malformed override"),
    ],
)
def test_run_refuses_multirun_and_what_is_not_a_list_of_overrides(tmp_path, overrides, expected):
    with pytest.raises(UserError, match=re.escape(expected)):
        bench.run(overrides, run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_import_bench_loads_neither_hydra_nor_torch():
    code = (
        "import sys, bench\n"
        "heavy = [m for m in ('torch', 'botorch', 'hydra', 'pandas', 'bench.api') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert bench.Optimizer.__module__ == 'bench.api' and callable(bench.run) and 'run' in dir(bench)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
