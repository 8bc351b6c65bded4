"""analysis.early_stopping --baseline: a scheduled run against another strategy's full-fidelity run, on real runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from analysis.early_stopping import Baseline, find_runs, main, pair_runs, parse_baseline
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One multirun: strategy random and grid, each with scheduler none and asha, the same seed."""
    root = tmp_path_factory.mktemp("baseline")
    run_cli(
        "-m", "objective=hartmann6_mf", "objective.steps=9", "strategy=random,grid", "scheduler=none,asha",
        "executor=simulated", "executor.duration=cost", "workers=2", "mode=async", "budget.evaluations=null",
        "budget.seconds=6", "carbon=fixed", "seed=4", "hydra.sweep.dir=runs", "progress=false",
        cwd=root, check=True,
    )  # fmt: skip
    return root / "runs"


def _folder(runs: Path, strategy: str, scheduler: str) -> Path:
    (folder,) = [p for p in runs.iterdir() if p.name.endswith(f"seed=4,strategy={strategy},workers=2")
                 and f"scheduler={scheduler}," in p.name]  # fmt: skip
    return folder


def test_a_scheduled_run_is_paired_with_the_baseline_strategys_full_fidelity_run(runs, capsys):
    found = find_runs([runs])
    by_scheduler = {(p.scheduler, p.full.path.name) for p in pair_runs(found)}
    assert by_scheduler == {  # without --baseline: each strategy with itself
        ("asha", _folder(runs, "random", "none").name),
        ("asha", _folder(runs, "grid", "none").name),
    }
    pairs = {p.scheduler: p for p in pair_runs(found, Baseline("strategy", "random"))}
    assert set(pairs) == {"grid + asha", "random + asha"}
    grid = pairs["grid + asha"]
    assert grid.full.path == _folder(runs, "random", "none") and grid.scheduled.path == _folder(runs, "grid", "asha")
    with open(_folder(runs, "random", "none") / "results.csv", newline="") as f:
        target = min(float(r["value"]) for r in csv.DictReader(f))
    assert grid.row()["target"] == pytest.approx(target)

    assert main([str(runs), "--baseline", "strategy=random"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("full-fidelity runs: strategy=random (scheduler=none)")
    assert "| seed 4 | grid + asha |" in out and "| seed 4 | random + asha |" in out
    assert "grid + asha: " in out and "random + asha: " in out


def test_a_baseline_with_no_full_fidelity_run_is_one_line_naming_what_is_there(runs, capsys):
    assert main([str(runs), "--baseline", "strategy=async_ts"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "--baseline strategy=async_ts: no full-fidelity run (scheduler=none)" in line
    assert "full-fidelity runs there: grid, random" in line


@pytest.mark.parametrize("text", ["strategy", "strategy=", "=random", "scheduler=none", "objective=x", "strategy=a,b"])
def test_a_malformed_baseline_is_one_line_before_any_work(text, tmp_path, capsys):
    with pytest.raises(ValueError, match="expected strategy=NAME or arm=NAME"):
        parse_baseline(text)
    assert main([str(tmp_path / "no-such-folder"), "--baseline", text]) == 2  # the option is checked first
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "--baseline: expected strategy=NAME or arm=NAME" in captured.err


def test_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--baseline", "arm=asyTS"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"no such folder: {tmp_path / 'nope'}")
    assert parse_baseline(" arm = asyTS ") == Baseline("arm", "asyTS")
