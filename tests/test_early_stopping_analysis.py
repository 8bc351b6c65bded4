"""analysis.early_stopping: compute, time and CO2 to the same target, on hand-made journals and real runs."""

from __future__ import annotations

import csv
import math

import pytest

from analysis.early_stopping import main, pair_runs, regret_by_compute, segments, spent_by
from bench.run_folder import read_run
from tests.conftest import run_cli


def test_spent_by_counts_the_share_of_each_segment_that_ran_and_the_decisions_made():
    records = [
        {"event": "submit", "eval_id": 0, "attempt": 0, "t_submit": 0.0, "decision_co2_kg": 0.001},
        {"event": "submit", "eval_id": 1, "attempt": 0, "t_submit": 3.0, "decision_co2_kg": 0.001},
        {"event": "rung", "eval_id": 0, "t_start": 0.0, "t_end": 1.0, "co2_kg": 0.01},
        {"event": "rung", "eval_id": 0, "t_start": 1.0, "t_end": 4.0, "co2_kg": 0.03},
        # a scheduled evaluation's result spans its segments: not counted again
        {"event": "result", "eval_id": 0, "t_start": 0.0, "t_end": 4.0, "co2_kg": 0.04, "final": True},
        {"event": "result", "eval_id": 1, "t_start": 3.0, "t_end": 5.0, "co2_kg": 0.02, "final": True},
    ]
    assert len(segments(records)) == 3
    at2 = spent_by(records, 2.0)
    assert at2.compute == pytest.approx(1.0 + 1.0)  # all of the first rung, a third of the second
    assert at2.co2_kg == pytest.approx(0.001 + 0.01 + 0.01)
    at4 = spent_by(records, 4.0)
    assert at4.compute == pytest.approx(1.0 + 3.0 + 1.0)
    assert at4.co2_kg == pytest.approx(0.002 + 0.04 + 0.01)


def test_the_table_pairs_runs_that_differ_only_in_their_scheduler(tmp_path, capsys):
    common = [
        "objective=hartmann6_mf", "objective.steps=9", "strategy=random", "executor=simulated",
        "executor.duration=cost", "workers=2", "mode=async", "budget.evaluations=null", "budget.seconds=6",
        "carbon=fixed", "seed=4",
    ]  # fmt: skip
    for scheduler in ("none", "asha"):
        run_cli(*common, f"scheduler={scheduler}", f"hydra.run.dir=runs/{scheduler}", cwd=tmp_path, check=True)
    full, asha = read_run(tmp_path / "runs" / "none"), read_run(tmp_path / "runs" / "asha")
    (pair,) = pair_runs([full, asha])
    row = pair.row()
    with open(tmp_path / "runs" / "none" / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert row["target"] == pytest.approx(min(float(r["value"]) for r in table))
    assert row["full_compute_end"] == pytest.approx(sum(float(r["duration_s"]) for r in table))
    assert row["full_compute_end"] == pytest.approx(12.0)  # 2 workers busy for 6 simulated seconds
    if row["reached"]:
        assert row["compute_vs_full_end"] == pytest.approx(row["sched_compute"] / row["full_compute_end"])
    else:
        assert math.isinf(row["compute_vs_full_end"])
    assert main([str(tmp_path / "runs"), "--figure", str(tmp_path / "regret.png")]) == 0
    out = capsys.readouterr().out
    assert "| seed 4 | asha |" in out and "**median of 1**" in out
    assert (tmp_path / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # regret by compute: infinite before the first full-fidelity value, then the best so far
    grid = [0.0, row["full_compute_end"]]
    early, end = regret_by_compute(full, grid)
    assert math.isinf(early) and end == pytest.approx(row["target"] - full.optimum)
