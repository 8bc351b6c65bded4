"""The real CLI, as a user types it: runs, multirun, and one-line errors for bad input."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import final_results, read_journal, run_cli

FAST_EI = ["strategy.num_restarts=2", "strategy.raw_samples=32"]


def run_dirs(root):
    return sorted(p.parent for p in root.rglob("journal.jsonl"))


@pytest.mark.slow
def test_default_experiment_runs_and_prints_a_summary(tmp_path):
    proc = run_cli("budget.evaluations=5", *FAST_EI, cwd=tmp_path, check=True)
    (run_dir,) = run_dirs(tmp_path / "outputs")
    assert "best: learning_rate_init=" in proc.stdout and "test_accuracy" in proc.stdout
    assert f"run folder: {run_dir}" in proc.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["objective"] == "mlp" and summary["strategy"] == "ei" and summary["n_evals"] == 5
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "results.csv").is_file()
    metrics = summary["best_metrics"]
    assert {"train_accuracy", "test_accuracy", "loss"} <= set(metrics)


def test_multirun_writes_one_run_folder_per_job(tmp_path):
    proc = run_cli(
        "-m",
        "objective=quadratic",
        "strategy=grid,random",
        "seed=0,1",
        "budget.evaluations=3",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        check=True,
    )
    dirs = run_dirs(tmp_path / "sweep")
    assert len(dirs) == 4, proc.stdout
    configs = {
        (json.loads((d / "summary.json").read_text())["strategy"], json.loads((d / "summary.json").read_text())["seed"])
        for d in dirs
    }
    assert configs == {("grid", 0), ("grid", 1), ("random", 0), ("random", 1)}


BAD_INPUT = [
    (
        ["objective.space.learning_rate_init.low=10", "objective.space.learning_rate_init.high=1"],
        "objective.space.learning_rate_init: inverted bounds",
    ),
    (["objective.space.learning_rate_init.high=1e-5"], "objective.space.learning_rate_init: equal bounds"),
    (["objective.space.learning_rate_init.low=0"], "objective.space.learning_rate_init.low: a log-scale parameter"),
    (["objective.space.learning_rate_init.type=complex"], "objective.space.learning_rate_init.type: unknown parameter"),
    (["strategy=nope"], "strategy=nope: no such option; available: async_lp, async_ts, ax, bucb, ei,"),
    (["strategy=eii"], "strategy=eii: no such option; available: "),
    (["objective=nope"], "objective=nope: no such option; available: "),
    (["executor=nope"], "executor=nope: no such option; available: "),
    (["-m", "hydra/sweeper=nope"], "hydra/sweeper=nope: no such option; available: basic"),
    (["strategy=[grid"], "malformed override 'strategy=[grid'"),
    (["budget.evaluations=abc"], "budget.evaluations: expected an integer"),
    (["workers=0"], "workers: must be >= 1"),
    (["mode=batch"], "mode: expected sync or async"),
    (["no_such_key=1"], "Could not override 'no_such_key'"),
    (["strategy=grid", "strategy.colour=red"], "Could not override 'strategy.colour'"),
    (["strategy=grid,random"], "is a sweep: add -m"),
    (["resume=nowhere"], "resume: nowhere is not a folder"),
    (["objective.metric=f1"], "objective.metric: unknown metric 'f1'"),
    (["carbon.pue=0.5"], "carbon.pue: must be finite and >= 1"),
    # types are checked when composing (bench/schema.py), unknown keys refused with or without +
    (["workers=abc"], "workers: expected an integer, got 'abc'"),
    (["strategy.warm_start=maybe"], "strategy.warm_start: expected true or false, got 'maybe'"),
    (["+budget.evaluation=2"], "budget.evaluation: unknown key"),
    (["budget.evaluation=2"], "Could not override 'budget.evaluation'"),
    (["+strategy.num_restart=2"], "strategy.num_restart: unknown key"),
    (["objective.space.learning_rate_init.log=no"], "objective.space.learning_rate_init.log: expected true or false"),
    # Hydra's flags and sweeps
    (["--frobnicate"], "--frobnicate: unknown flag"),
    (["--cfg", "job", "strategy=eii"], "strategy=eii: no such option; available: "),
    (["strategy=eii", "--help"], "strategy=eii: no such option; available: "),
    (["strategy=grid", "-cd"], "-cd: expects a value"),
    (["strategy=grid", "-cd", "nowhere"], "--config-dir nowhere: no such folder"),
    (["-m", "objective.centre=interval(0.1,0.9)", "objective=quadratic"], "basic sweeper cannot enumerate interval()"),
    (["-m", "strategy=glob(nothing*)"], "strategy=glob(nothing*): the sweep matches no value"),
    (["-m", "strategy=glob(ran*)", "strategy.colour=red"], "Could not override 'strategy.colour'"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUT, ids=[m.split(":")[0][:40] for _, m in BAD_INPUT])
def test_bad_input_stops_with_one_line_naming_it(tmp_path, overrides, message):
    proc = run_cli(*overrides, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("bobench: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("journal.jsonl"))


def test_resume_of_a_folder_that_is_no_run_folder(tmp_path):
    (tmp_path / "junk").mkdir()
    proc = run_cli("resume=junk", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "bobench: error: resume: junk is not a bobench run folder (no journal.jsonl)"


def test_a_second_driver_on_the_same_run_folder_is_refused(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "objective=quadratic",
            "strategy=random",
            "objective.sleep_s=0.5",
            "budget.evaluations=20",
            "hydra.run.dir=run",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while not (tmp_path / "run" / "journal.jsonl").exists() or not (tmp_path / "run/.hydra").exists():
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.1)
        proc = run_cli("resume=run", cwd=tmp_path)
        assert proc.returncode == 2
        assert "is in use by a running driver (pid" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    finally:
        first.kill()
        first.wait()
    assert len(final_results(read_journal(tmp_path / "run"))) < 20


def test_a_paper_preset_is_a_multirun_over_arms_and_seeds(tmp_path):
    run_cli(
        "experiment=kandasamy_branin",
        "arm=asyTS,synRAND",
        "seed=0",
        "budget.seconds=3",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        check=True,
    )
    summaries = [json.loads((d / "summary.json").read_text()) for d in run_dirs(tmp_path / "sweep")]
    assert sorted((s["arm"], s["strategy"], s["mode"]) for s in summaries) == [
        ("asyTS", "async_ts", "async"),
        ("synRAND", "random", "sync"),
    ]
    assert all(s["clock"] == "simulated" and s["workers"] == 4 and s["n_evals"] >= 8 for s in summaries)


def test_a_bad_arm_in_a_preset_sweep_is_caught_before_any_job(tmp_path):
    proc = run_cli("experiment=kandasamy_branin", "arm=asyTS,nope", "seed=0", cwd=tmp_path)
    assert proc.returncode == 2 and "arm=nope: no such option; available: asyEI" in proc.stderr
    assert not (tmp_path / "multirun").exists()


# -- Hydra citizenship --------------------------------------------------------------------------
def test_a_clean_end_leaves_no_lock_file(tmp_path):
    run_cli(
        "objective=quadratic", "strategy=random", "budget.evaluations=2", "hydra.run.dir=run", cwd=tmp_path, check=True
    )
    assert (tmp_path / "run" / "journal.jsonl").is_file()
    assert not (tmp_path / "run" / "driver.lock").exists()
    run_cli("resume=run", "budget.evaluations=3", cwd=tmp_path, check=True)  # and a resume takes the folder again
    assert not (tmp_path / "run" / "driver.lock").exists()
    assert len(final_results(read_journal(tmp_path / "run"))) == 3


def _user_configs(tmp_path):
    """A user's own config folder: an objective of theirs, built on one of bobench's."""
    folder = tmp_path / "my_conf" / "objective"
    folder.mkdir(parents=True)
    (folder / "bowl.yaml").write_text("defaults:\n  - quadratic\n  - _self_\nname: bowl\ncentre: 0.6\n")
    return tmp_path / "my_conf"


@pytest.mark.parametrize(
    "where",
    [
        ["-cd", "my_conf", "objective=bowl", "strategy=random"],
        ["objective=bowl", "-cd", "my_conf", "strategy=random"],
        ["objective=bowl", "strategy=random", "-cd", "my_conf"],
        ["objective=bowl", "--config-dir", "my_conf", "strategy=random"],
        ["objective=bowl", "strategy=random", "--config-dir=my_conf"],
    ],
    ids=["first", "between", "last", "long", "long="],
)
def test_config_dir_anywhere_on_the_line(tmp_path, where):
    _user_configs(tmp_path)
    run_cli(*where, "budget.evaluations=2", "hydra.run.dir=run", cwd=tmp_path, check=True)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["objective"] == "bowl" and summary["strategy"] == "random"


def test_the_precheck_composes_with_the_users_config_dir(tmp_path):
    _user_configs(tmp_path)
    for args, message in [
        (["objective=bowl", "strategy=eii"], "bobench: error: strategy=eii: no such option; available: "),
        (["objective=bowl", "objective.centre=abc"], "bobench: error: objective.centre: expected a number"),
        (["objective=bowl", "objective.space.x1.low=9"], "bobench: error: objective.space.x1: inverted bounds"),
    ]:
        proc = run_cli(*args, "-cd", "my_conf", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(message), proc.stderr
    assert not (tmp_path / "outputs").exists()


def test_help_names_bobench_and_lists_only_real_options(tmp_path):
    proc = run_cli("--help", cwd=tmp_path, check=True)
    assert proc.stdout.startswith("bobench: ") and "Usage: bobench" in proc.stdout
    assert "powered by Hydra" not in proc.stdout and "cli is" not in proc.stdout
    groups = [ln for ln in proc.stdout.splitlines() if ": " in ln and not ln.startswith(" ")]
    assert any(ln.startswith("strategy: ") and " ei," in ln for ln in groups)
    assert not any(ln.startswith("schema") for ln in groups)
    _user_configs(tmp_path)  # the user's own options show with -cd, wherever it stands
    proc = run_cli("strategy=grid", "--help", "-cd", "my_conf", cwd=tmp_path, check=True)
    assert any(ln.startswith("objective: bowl, ") for ln in proc.stdout.splitlines())


def test_glob_and_range_sweeps_run_one_job_per_value(tmp_path):
    run_cli(
        "-m",
        "objective=quadratic",
        "strategy=glob(ran*)",
        "seed=range(0,2)",
        "budget.evaluations=2",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        check=True,
    )
    summaries = [json.loads((d / "summary.json").read_text()) for d in run_dirs(tmp_path / "sweep")]
    assert sorted((s["strategy"], s["seed"]) for s in summaries) == [("random", 0), ("random", 1)]


def test_hydras_optuna_sweeper_runs_from_the_command_line(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the sweepers extra: pip install '.[sweepers]'")
    import yaml

    proc = run_cli(
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=3",
        "objective=quadratic",
        "objective.centre=interval(0.1,0.9)",
        "strategy=random",
        "budget.evaluations=3",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        check=True,
    )
    assert "Traceback" not in proc.stderr
    dirs = run_dirs(tmp_path / "sweep")
    assert len(dirs) == 3
    centres = [yaml.safe_load((d / ".hydra" / "config.yaml").read_text())["objective"]["centre"] for d in dirs]
    assert all(0.1 <= c <= 0.9 for c in centres) and len(set(centres)) == 3, centres
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    values = [json.loads((d / "summary.json").read_text())["best_value"] for d in dirs]
    assert best["best_value"] == pytest.approx(min(values))
    # The pre-check builds one job with a value from inside the interval: its other mistakes still stop the run.
    proc = run_cli(
        "-m",
        "hydra/sweeper=optuna",
        "objective=quadratic",
        "objective.centre=interval(0.1,0.9)",
        "objective.space.x1.low=9",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("bobench: error: objective.space.x1: inverted bounds"), proc.stderr
    assert proc.stderr.count("\n") == 1
