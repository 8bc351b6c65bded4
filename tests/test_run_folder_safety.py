"""A mistaken or refused command changes nothing in a run folder; resume runs no code from it."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.resume import check_targets
from tests.conftest import read_journal, run_cli

QUICK = ["objective=quadratic", "strategy=random", "budget.evaluations=3", "carbon=off"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    run_cli(*QUICK, "hydra.run.dir=run", cwd=tmp_path, check=True)
    return tmp_path / "run"


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("bobench: error: "), proc.stderr
    return lines[0]


def test_a_new_run_into_a_run_folder_is_refused_and_changes_nothing(tmp_path, finished_run):
    before = snapshot(finished_run)
    proc = run_cli("objective=branin", "strategy=random", "carbon=off", "hydra.run.dir=run", cwd=tmp_path)
    assert "already holds a run; continue it with resume=" in one_error_line(proc)
    assert snapshot(finished_run) == before  # .hydra/ included


def test_a_sweep_into_a_folder_that_holds_runs_is_refused(tmp_path):
    run_cli("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=sweep", cwd=tmp_path, check=True)
    before = snapshot(tmp_path / "sweep")
    proc = run_cli("-m", *QUICK, "seed=2,3", "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert "already holds 2 run(s)" in one_error_line(proc)
    assert snapshot(tmp_path / "sweep") == before


def test_a_refused_resume_changes_nothing(tmp_path, finished_run):
    before = snapshot(finished_run)
    for args in (
        ["objective.centre=0.9"],  # another experiment without force=true
        ["strategy=ei"],  # another config group
        ["budget.evaluations=abc"],  # a bad value
    ):
        proc = run_cli("resume=run", *args, cwd=tmp_path)
        assert "resume" in one_error_line(proc) or "budget" in proc.stderr
        assert snapshot(finished_run) == before, args


def test_resume_rebuilds_the_run_from_its_journal_not_from_hydra_files(tmp_path, finished_run):
    # Overwrite .hydra/ as a mistaken command or a tampering would: resume ignores it.
    (finished_run / ".hydra" / "overrides.yaml").write_text("- objective=branin\n- +objective._target_=builtins.open\n")
    (finished_run / ".hydra" / "config.yaml").write_text("objective: {_target_: builtins.open}\n")
    proc = run_cli("resume=run", "budget.evaluations=5", cwd=tmp_path, check=True)
    assert "quadratic" in proc.stdout and "evaluations: 5" in proc.stdout
    records = read_journal(finished_run)
    assert [r["event"] for r in records].count("resume") == 1
    assert all(r["config"]["objective"]["_target_"].startswith("objectives.") for r in records if r["event"] == "start")


def test_a_resumed_config_builds_only_trusted_code():
    check_targets({"objective": {"_target_": "objectives.toy.Quadratic"}}, [])
    check_targets({"objective": {"estimator": {"_target_": "sklearn.svm.SVC"}}}, [])
    with pytest.raises(
        UserError, match=r"objective._target_='builtins.open' is not in a trusted package.*trust=\[builtins\]"
    ):
        check_targets({"objective": {"_target_": "builtins.open"}}, [])
    check_targets({"objective": {"_target_": "mylab.objectives.Net"}}, ["mylab"])
    # A function objective imports its target's module: the same rule.
    function = {"objective": {"_target_": "objectives.function.FunctionObjective", "target": "os:system"}}
    with pytest.raises(UserError, match=r"objective\.target='os'"):
        check_targets(function, [])


def test_trust_comes_from_the_command_line_only(tmp_path, finished_run):
    proc = run_cli("resume=run", "budget.evaluations=4", "trust=[mylab]", cwd=tmp_path, check=True)
    assert "evaluations: 4" in proc.stdout
    (start,) = [r for r in read_journal(finished_run) if r["event"] == "start"]
    assert "trust" not in start["config"]  # never stored as part of what the run is
