"""bobench-report over a real multirun of the default experiment: two strategies x two seeds."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, run_cli


@pytest.mark.slow
def test_report_over_a_real_multirun_of_the_default_experiment(tmp_path):
    # EI's optimiser settings do not exist for random search: one sweep per strategy.
    run_cli(
        "-m",
        "strategy=random",
        "seed=0,1",
        "budget.evaluations=5",
        "hydra.sweep.dir=sweep/random",
        cwd=tmp_path,
        check=True,
    )
    run_cli(
        "-m",
        "strategy=ei",
        "seed=0,1",
        "budget.evaluations=5",
        "strategy.num_restarts=2",
        "strategy.raw_samples=32",
        "hydra.sweep.dir=sweep/ei",
        cwd=tmp_path,
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.cli",
            "sweep",
            "--out",
            "report",
            "--baseline",
            "random",
            "--stuck-threshold=-0.5",  # the value is the negative test accuracy: stuck below 50%
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "report" / "report.md").read_text()
    table = pd.read_csv(tmp_path / "report" / "summary_table.csv")
    assert set(table["strategy"]) == {"random", "ei"}
    assert set(table["n_seeds"]) == {2}
    robust = pd.read_csv(tmp_path / "report" / "robust_table.csv").set_index("strategy")
    assert set(robust.index) == {"random", "ei"} and set(robust["measure"]) == {"final best value"}
    assert robust.loc["ei", "baseline"] == "random" and robust.loc["ei", "pairs"] == 2
    assert robust.loc["ei", "wins"] + robust.loc["ei", "ties"] + robust.loc["ei", "losses"] == 2
    assert (robust["stuck_of"] == 2).all() and robust.loc["ei", "q1"] <= robust.loc["ei", "median"]
    assert "## Robust statistics" in report and "Wilcoxon" in report
    figures = list((tmp_path / "report").rglob("*.png"))
    assert figures and all(f.stat().st_size > 1000 for f in figures)
    for f in figures:
        assert f"figures/{f.name}" in report, f"{f.name} is not linked from report.md"
    assert list((tmp_path / "report").rglob("*.pdf"))
