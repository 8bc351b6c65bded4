"""ASHA and Hyperband through the real CLI: statuses, the fidelity column, the journal, kill and resume."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import pytest

from tests.conftest import final_results, read_journal, run_cli, start_cli
from tests.test_resume import kill_after

MF = ["objective=hartmann6_mf", "strategy=random", "carbon=off", "progress=false"]
SIMULATED = ["executor=simulated", "executor.duration=cost"]


def rows(run_dir):
    with open(run_dir / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def rung_records(run_dir):
    return [r for r in read_journal(run_dir) if r["event"] == "rung"]


def check_schedule(run_dir, levels):
    """Every evaluation's rungs follow one another and its result says where it ended."""
    records = read_journal(run_dir)
    by_eval = defaultdict(list)
    for r in records:
        if r["event"] == "rung":
            by_eval[r["eval_id"]].append(r)
    finals = {r["eval_id"]: r for r in final_results(records)}
    assert set(by_eval) == set(finals)
    for eid, rungs in by_eval.items():
        assert {r["decision"] for r in rungs[:-1]} <= {"continue", "pause"}
        promotes = [r for r in records if r["event"] == "promote" and r["eval_id"] == eid]
        assert [p["rung"] for p in promotes] == [r["rung"] for r in rungs if r["decision"] == "pause"][: len(promotes)]
        assert [r["fidelity"] for r in rungs] == pytest.approx(levels[rungs[0]["rung"] : rungs[-1]["rung"] + 1])
        last, final = rungs[-1], finals[eid]
        assert final["fidelity"] == last["fidelity"] and final["value"] == last["value"]
        assert final["status"] == ("ok" if last["decision"] == "done" else "stopped")
        assert len(promotes) == sum(r["decision"] == "pause" for r in rungs[:-1])  # every pause but the last ended
        assert final["t_start"] == rungs[0]["t_start"] and final["t_end"] == last["t_end"]
        reports = [r for r in records if r["event"] == "report" and r["eval_id"] == eid]
        assert reports[-1]["step"] == pytest.approx(last["fidelity"]) and reports[-1]["value"] == last["value"]
        assert [r["step"] for r in reports] == sorted(r["step"] for r in reports)
    return finals


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_asha_on_the_simulated_clock_stops_most_evaluations_early(tmp_path, mode):
    run_cli(
        *MF, *SIMULATED, "scheduler=asha", "workers=4", f"mode={mode}", "budget.evaluations=30",
        "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    finals = check_schedule(tmp_path / "run", [1 / 27, 1 / 9, 1 / 3, 1.0])
    table = rows(tmp_path / "run")
    assert len(table) == 30 and list(table[0])[:4] == ["eval_id", "status", "value", "fidelity"]
    statuses = {r["status"] for r in table}
    assert statuses == {"ok", "stopped"}
    assert all((float(r["fidelity"]) == 1.0) == (r["status"] == "ok") for r in table)
    assert sum(f["status"] == "stopped" for f in finals.values()) >= 20
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_failed"] == 0 and summary["n_evals"] == 30
    # the simulated clock charged each segment its own cost: resource per segment, none twice
    rungs = rung_records(tmp_path / "run")
    busy = sum(r["t_end"] - r["t_start"] for r in rungs)
    assert busy == pytest.approx(sum(r["resource"] for r in rungs))
    assert sum(r["resource"] for r in rungs) == pytest.approx(sum(float(r["fidelity"]) for r in table))


def test_without_a_scheduler_nothing_changes(tmp_path):
    run_cli(*MF, *SIMULATED, "workers=2", "budget.evaluations=6", "hydra.run.dir=run", cwd=tmp_path, check=True)
    records = read_journal(tmp_path / "run")
    assert {r["event"] for r in records} == {"start", "submit", "result", "end"}
    assert "scheduler" not in records[0]["config"]  # the config and its hash as before schedulers
    assert all("fidelity" not in r for r in records)
    assert "fidelity" not in rows(tmp_path / "run")[0]
    # and the objective is then hartmann6 at full fidelity, costing 1 simulated second
    assert all(r["t_end"] - r["t_start"] == pytest.approx(1.0) for r in final_results(records))


def test_hyperband_runs_brackets_from_higher_rungs(tmp_path):
    run_cli(
        *MF, *SIMULATED, "scheduler=hyperband", "objective.steps=9", "workers=3", "mode=async",
        "budget.evaluations=40", "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    rungs = rung_records(tmp_path / "run")
    first = {}
    for r in rungs:
        first.setdefault(r["eval_id"], r)
    assert {r["bracket"] for r in first.values()} == {0, 1, 2}
    for r in first.values():
        assert r["rung"] == 0 and r["fidelity"] == pytest.approx([1 / 9, 1 / 3, 1.0][r["bracket"]])


@pytest.mark.parametrize(("executor", "workers", "mode"), [("inline", 1, "sync"), ("local", 2, "async")])
def test_asha_on_wall_clock_executors(tmp_path, executor, workers, mode):
    run_cli(
        *MF, f"executor={executor}", f"workers={workers}", f"mode={mode}", "scheduler=asha",
        "objective.steps=9", "budget.evaluations=8", "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    check_schedule(tmp_path / "run", [1 / 9, 1 / 3, 1.0])
    assert len(rows(tmp_path / "run")) == 8


def test_a_scheduler_on_an_objective_without_a_fidelity_is_one_line(tmp_path):
    proc = run_cli("objective=quadratic", "strategy=random", "scheduler=asha", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "bobench: error: scheduler=asha: objective quadratic reports no intermediate values (it has no fidelity); "
        "use scheduler=none, or an objective with one (docs/early-stopping.md)"
    ]


def schedule_of(run_dir):
    """What the schedule decided, without times: (eval_id, rung, value, decision) per rung record."""
    return [
        (r["event"], r["eval_id"], r["rung"], r["value"], r.get("decision"))
        for r in read_journal(run_dir)
        if r["event"] in ("rung", "promote")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_a_killed_and_resumed_run_continues_the_same_schedule(tmp_path, kind):
    args = [*MF, "scheduler=asha", f"scheduler.type={kind}", "objective.steps=9", "objective.sleep_per_fidelity=0.6"]
    args += ["seed=3"]
    args += ["budget.evaluations=9"]
    run_cli(*args, "hydra.run.dir=straight", cwd=tmp_path, check=True)
    # after 3 segments: the promotion type writes its final results only at the run's end
    kill_after(start_cli(*args, "hydra.run.dir=killed", cwd=tmp_path), tmp_path / "killed", n_results=3, event="rung")
    before = rung_records(tmp_path / "killed")
    assert any(r["decision"] in ("continue", "pause") for r in before)
    run_cli("resume=killed", cwd=tmp_path, check=True)
    assert schedule_of(tmp_path / "killed") == schedule_of(tmp_path / "straight")
    straight = {
        r["eval_id"]: (r["status"], r["fidelity"], r["value"])
        for r in final_results(read_journal(tmp_path / "straight"))
    }
    killed = {
        r["eval_id"]: (r["status"], r["fidelity"], r["value"]) for r in final_results(read_journal(tmp_path / "killed"))
    }
    assert killed == straight


def test_the_mlp_reports_every_chunk_of_iterations_and_asha_stops_it(tmp_path):
    run_cli(
        "objective=mlp", "objective.report_every=10", "objective.data.n_samples=300", "strategy=random",
        "scheduler=asha", "budget.evaluations=6", "carbon=off", "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    finals = check_schedule(tmp_path / "run", [10, 30, 90, 100])  # max_iter 100, eta 3
    reports = [r for r in read_journal(tmp_path / "run") if r["event"] == "report"]
    assert {r["step"] for r in reports} <= {10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
    assert all(r["value"] == -r["metrics"]["test_accuracy"] for r in reports)
    assert any(f["status"] == "stopped" for f in finals.values())


def test_report_every_needs_max_iter(tmp_path):
    proc = run_cli("objective=mlp", "objective.report_every=1000", "scheduler=asha", cwd=tmp_path)
    assert proc.returncode == 2
    assert "objective.report_every: needs objective.estimator.max_iter, an integer >= 1000, got 100" in proc.stderr


def test_the_cnn_reports_every_epoch_and_asha_stops_it(tmp_path):
    run_cli(
        "objective=cnn", "objective.dataset=digits", "objective.epochs=4", "objective.max_train_images=300",
        "strategy=random", "scheduler=asha", "scheduler.eta=2", "budget.evaluations=5", "carbon=off",
        "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    finals = check_schedule(tmp_path / "run", [1, 2, 4])
    assert {f["status"] for f in finals.values()} == {"ok", "stopped"}
    for f in finals.values():  # its metrics hold every epoch it reached, from a checkpoint or not
        assert len(f["metrics"]["val_accuracy"]) == f["fidelity"]


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_promoting_asha_pauses_at_rungs_and_resumes_the_best(tmp_path, mode):
    run_cli(
        *MF, *SIMULATED, "scheduler=asha", "scheduler.type=promotion", "objective.steps=9", "workers=3",
        f"mode={mode}", "budget.evaluations=null", "budget.seconds=6", "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    finals = check_schedule(tmp_path / "run", [1 / 9, 1 / 3, 1.0])
    records = read_journal(tmp_path / "run")
    assert any(r["event"] == "promote" for r in records)
    assert {f["status"] for f in finals.values()} == {"ok", "stopped"}
    # a promoted segment resumes where the evaluation paused: it costs only the resource it adds
    rungs = rung_records(tmp_path / "run")
    assert all(r["resource"] == pytest.approx(r["fidelity"] - r["resume_from"]) for r in rungs)
    assert sum(r["t_end"] - r["t_start"] for r in rungs) == pytest.approx(sum(r["resource"] for r in rungs))


def test_a_finished_promoting_run_resumed_with_more_time_promotes_none_of_its_ended_evaluations(tmp_path):
    args = [*MF, *SIMULATED, "scheduler=asha", "scheduler.type=promotion", "objective.steps=9", "workers=3"]
    run_cli(
        *args,
        "mode=async",
        "budget.evaluations=null",
        "budget.seconds=3",
        "hydra.run.dir=run",
        cwd=tmp_path,
        check=True,
    )
    first = {r["eval_id"]: r for r in final_results(read_journal(tmp_path / "run"))}
    assert any(f["status"] == "stopped" for f in first.values())
    run_cli("resume=run", "budget.seconds=5", cwd=tmp_path, check=True)
    records = read_journal(tmp_path / "run")
    finals = [r for r in records if r["event"] == "result" and r.get("final", True)]
    assert len(finals) == len({r["eval_id"] for r in finals})  # one final result each
    later = records[next(i for i, r in enumerate(records) if r["event"] == "resume") :]
    assert not [r for r in later if r["event"] in ("promote", "rung") and r["eval_id"] in first]
    assert len(finals) > len(first)  # the second life ran new evaluations


TRAIN = """
import json, sys
lr, epochs, start = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for epoch in range(start + 1, epochs + 1):
    print(json.dumps({"step": epoch, "value": (lr - 0.3) ** 2 + 1.0 / epoch}))
"""

CURVE = """
from bench.objective import reporter

def curve(x, seed=0):
    rep = reporter()
    for epoch in range(1, int(rep.until(4)) + 1):
        value = (x - 0.3) ** 2 + 1.0 / epoch
        if epoch > rep.start:  # trained again from 0: the earlier epochs were reported
            rep.report(epoch, value)
    return value
"""


@pytest.mark.parametrize("kind", ["command", "function"])
def test_a_command_and_a_function_report_with_their_declared_resource(tmp_path, kind):
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "mymod.py").write_text(CURVE)
    if kind == "command":
        objective = ["objective=command", 'objective.command="python train.py {x} {fidelity} {resume_from}"']
    else:
        objective = ["objective=function", "objective.target=mymod:curve"]
    run_cli(
        *objective, "+objective.space.x={type: float, low: 0.0, high: 1.0}",
        "+objective.fidelity={name: epochs, minimum: 1, maximum: 4, integer: true}", "scheduler=asha",
        "scheduler.eta=2", "strategy=random", "budget.evaluations=6", "carbon=off", "hydra.run.dir=run",
        cwd=tmp_path, check=True,
    )  # fmt: skip
    finals = check_schedule(tmp_path / "run", [1, 2, 4])
    assert {f["status"] for f in finals.values()} == {"ok", "stopped"}
    # unscheduled, the same command runs the full resource (its {fidelity} is the maximum)
    run_cli(
        *objective, "+objective.space.x={type: float, low: 0.0, high: 1.0}",
        "+objective.fidelity={name: epochs, minimum: 1, maximum: 4, integer: true}", "strategy=random",
        "budget.evaluations=2", "carbon=off", "hydra.run.dir=full", cwd=tmp_path, check=True,
    )  # fmt: skip
    records = read_journal(tmp_path / "full")
    x = {r["eval_id"]: r["params"]["x"] for r in records if r["event"] == "submit"}
    assert [r["value"] for r in final_results(records)] == pytest.approx(
        [(x[r["eval_id"]] - 0.3) ** 2 + 1 / 4 for r in final_results(records)]
    )
