"""Fault injection: whatever happens to a worker, the driver or the journal, nothing is lost.

Every test ends with the same invariants (:func:`check_invariants`): exactly one final record
per eval_id, every journal line valid JSON without NaN literals, no leftover worker process,
the documented exit code, and results.csv re-derived from the journal equal to the live one.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from bench.driver import Driver
from bench.records import CRASHED, DIVERGED, ERROR, INVALID, OK, TIMEOUT
from bench.run_folder import result_rows
from bench.run_folder.state import RunState
from tests.conftest import ROOT, read_journal, run_cli, start_cli, wait_until


def _no_nan(token: str) -> float:
    raise AssertionError(f"journal holds a {token} literal")


def worker_processes() -> set[int]:
    """Orphaned multiprocessing workers on this machine: left behind by a driver that is gone.

    Workers of drivers still running (other tests, in other xdist processes) have a live parent
    and do not count.
    """
    found = set()
    for p in psutil.process_iter(["cmdline", "status", "ppid"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "multiprocessing.spawn" not in cmd or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if p.info["ppid"] == 1 or not psutil.pid_exists(p.info["ppid"]):
            found.add(p.pid)
    return found


def check_invariants(run_dir: Path, before_workers: set[int] | None = None, n_evals: int | None = None) -> None:
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line, parse_constant=_no_nan) for line in lines if line.strip()]
    submitted = {r["eval_id"] for r in records if r["event"] == "submit"}
    finals = Counter(r["eval_id"] for r in records if r["event"] == "result" and r["final"])
    assert set(finals.values()) <= {1}, finals
    if records[-1]["event"] == "end" and records[-1]["reason"].startswith("interrupted"):
        # Stopped with the driver: each unfinished evaluation says so, and runs again on resume.
        abandoned = {r["eval_id"] for r in records if r["event"] == "result" and r["status"] == "cancelled"}
        assert submitted - set(finals) <= abandoned
    else:
        assert set(finals) == submitted, finals
    if n_evals is not None:
        assert len(finals) == n_evals
    if before_workers is not None:
        deadline = time.time() + 10
        while (worker_processes() - before_workers) and time.time() < deadline:
            time.sleep(0.2)
        assert worker_processes() - before_workers == set(), "worker processes were left behind"
    # Replaying the journal gives what the live run wrote.
    import pandas as pd

    live = pd.read_csv(run_dir / "results.csv")
    replayed = pd.DataFrame(result_rows(RunState.from_records(records), None))
    assert list(live["eval_id"]) == list(replayed["eval_id"])
    assert list(live["status"]) == list(replayed["status"])
    pd.testing.assert_series_equal(live["value"], replayed["value"].astype(float), check_names=False)


# -- evaluations -------------------------------------------------------------------------------
FAULTS = [
    ("raise", ERROR, []),
    ("nan", DIVERGED, []),
    ("inf", DIVERGED, []),
    ("none_value", INVALID, []),
    ("string", INVALID, []),
    ("sigkill", CRASHED, []),
    ("exit", CRASHED, []),
    ("segfault", CRASHED, []),
    ("memory", ERROR, ["executor.memory_limit_mb=2000"]),
    ("hang", TIMEOUT, ["executor.timeout_s=2"]),
    ("hang_ignore_term", TIMEOUT, ["executor.timeout_s=2"]),
    ("children", TIMEOUT, ["executor.timeout_s=2"]),
    ("print", OK, []),
]


@pytest.mark.parametrize(("fault", "status", "extra"), FAULTS, ids=[f[0] for f in FAULTS])
def test_an_evaluation_fault_is_one_record_and_the_run_goes_on(compose, tmp_path, fault, status, extra):
    before = worker_processes()
    cfg = compose(
        "objective=faulty",
        f"objective.fault={fault}",
        "strategy=grid",
        "strategy.points=2",
        "budget.evaluations=4",
        "executor=local",
        "workers=2",
        "mode=async",
        "retries=1",
        "progress=false",
        *extra,
    )
    summary = Driver(cfg, tmp_path / "run").run()
    records = read_journal(tmp_path / "run")
    finals = {r["eval_id"]: r for r in records if r["event"] == "result" and r["final"]}
    faulty = {r["eval_id"] for r in records if r["event"] == "submit" and r["x"][0] > 0.5}
    assert len(faulty) == 2
    for eid in faulty:
        assert finals[eid]["status"] == status, finals[eid]
        if status != OK:
            assert finals[eid]["message"]
    for eid in set(finals) - faulty:
        assert finals[eid]["status"] == OK
    if status == CRASHED:  # retried once, then recorded
        assert all(finals[eid]["attempt"] == 1 for eid in faulty)
    assert summary["n_evals"] == 4
    check_invariants(tmp_path / "run", before, n_evals=4)


def test_megabytes_of_output_do_not_block_the_cli(tmp_path):
    proc = run_cli(
        "objective=faulty",
        "objective.fault=print",
        "strategy=grid",
        "strategy.points=2",
        "budget.evaluations=4",
        "executor=local",
        "workers=2",
        "hydra.run.dir=run",
        cwd=tmp_path,
        check=True,
    )
    assert len(proc.stdout) > 8 * 1024 * 1024
    check_invariants(tmp_path / "run", n_evals=4)


# -- the driver ----------------------------------------------------------------------------------


def wait_results(run_dir: Path, n: int, proc) -> None:
    journal = run_dir / "journal.jsonl"
    wait_until(lambda: journal.exists() and journal.read_text().count('"event":"result"') >= n, proc, journal)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_cleanly_and_the_run_resumes(tmp_path, sig, code):
    before = worker_processes()
    args = [
        "objective=quadratic",
        "objective.sleep_s=0.3",
        "strategy=random",
        "executor=local",
        "workers=2",
        "mode=async",
        "budget.evaluations=10",
        "hydra.run.dir=run",
    ]
    proc = start_cli(*args, cwd=tmp_path)
    wait_results(tmp_path / "run", 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"bobench resume={tmp_path / 'run'}" in err
    records = read_journal(tmp_path / "run")
    assert records[-1]["event"] == "end" and records[-1]["reason"] == f"interrupted ({signal.Signals(sig).name})"
    check_invariants(tmp_path / "run", before)
    run_cli("resume=run", cwd=tmp_path, check=True)
    check_invariants(tmp_path / "run", before, n_evals=10)


#: Evaluations of the SIGKILL run: enough for a dozen lives or more, each killed mid-run.
SIGKILL_EVALS = 100


@pytest.mark.slow
def test_sigkill_at_random_points_until_a_100_evaluation_simulated_run_completes(tmp_path):
    args = [
        "objective=hartmann6",
        "strategy=async_ts",
        "+debug=fast",  # small optimiser budgets: each proposal is cheap, the kills land mid-run all the same
        "executor=simulated",
        "workers=4",
        "mode=async",
        f"budget.evaluations={SIGKILL_EVALS}",
        "journal.fsync=false",
        "carbon=fixed",
    ]
    t0 = time.time()
    run_cli(*args, "hydra.run.dir=straight", cwd=tmp_path, check=True)
    straight_s = time.time() - t0
    rng = random.Random(7)
    lives, t0 = 0, time.time()
    journal = tmp_path / "killed" / "journal.jsonl"

    def results() -> int:
        return journal.read_text().count('"event":"result"') if journal.exists() else 0

    proc = start_cli(*args, "hydra.run.dir=killed", cwd=tmp_path)
    while True:
        lives += 1
        assert lives < 100, "no progress"
        # Each life is killed at a random moment after it has journaled something new, so the
        # run always moves on however slow the machine is.
        seen = results()
        deadline = time.time() + 120
        while proc.poll() is None and results() <= seen and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.5, 3.0))
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        summary = tmp_path / "killed" / "summary.json"
        if summary.exists() and json.loads(summary.read_text())["status"] == "budget.evaluations":
            break
        proc = start_cli("resume=killed", "journal.fsync=false", cwd=tmp_path)
    check_invariants(tmp_path / "killed", n_evals=SIGKILL_EVALS)
    records = read_journal(tmp_path / "killed")
    attempts = sum(r["event"] == "submit" for r in records)
    assert attempts <= 2.5 * SIGKILL_EVALS, attempts
    print(
        f"{lives} lives; {attempts} attempts for {SIGKILL_EVALS} evaluations; "
        f"wall {time.time() - t0:.1f} s against {straight_s:.1f} s uninterrupted"
    )


# -- the journal ---------------------------------------------------------------------------------
def test_a_damaged_journal_is_repaired_with_warnings_and_the_run_resumes(tmp_path):
    run_cli(
        "objective=quadratic", "strategy=random", "budget.evaluations=4", "hydra.run.dir=run", cwd=tmp_path, check=True
    )
    journal = tmp_path / "run" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    result = next(line for line in lines if '"event":"result"' in line)
    damaged = [lines[0], "garbage {", "", *lines[1:], result]  # garbage, a blank line, a duplicate
    journal.write_text("\n".join(damaged) + '\n{"event":"submit","eval_id":4,"att')  # and a torn last line
    proc = run_cli("resume=run", "budget.evaluations=6", cwd=tmp_path, check=True)
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("bobench: warning:")]
    assert any("set aside 2 unreadable line(s)" in w for w in warnings), proc.stderr
    assert any("set aside 1 duplicate final record(s) for eval_id" in w for w in warnings), proc.stderr
    aside = (tmp_path / "run" / "journal.jsonl.setaside").read_text()
    assert "garbage {" in aside and '\\"att' in aside
    check_invariants(tmp_path / "run", n_evals=6)


def _limit_file_size(max_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def test_a_full_disk_stops_the_run_with_one_line_and_the_run_resumes(tmp_path):
    args = ["objective=quadratic", "strategy=random", "budget.evaluations=40", "hydra.run.dir=run", "carbon=fixed"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(20_000),
        timeout=300,
    )
    assert proc.returncode == 3, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("bobench: error:")]
    assert len(errors) == 1 and "File too large" in errors[0] and "resume with resume=" in errors[0]
    assert "Traceback" not in proc.stderr
    run_cli("resume=run", cwd=tmp_path, check=True)
    check_invariants(tmp_path / "run", n_evals=40)


@pytest.fixture
def mountpoint(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("needs root to mount a tmpfs (CI runs as root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_read_only_run_folder_is_refused_with_one_line(tmp_path, mountpoint):
    run_cli(
        "objective=quadratic",
        "strategy=random",
        "budget.evaluations=3",
        f"hydra.run.dir={mountpoint}/run",
        cwd=tmp_path,
        check=True,
    )
    subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], check=True)
    before = (mountpoint / "run" / "journal.jsonl").read_bytes()
    for args in (
        ["resume=" + str(mountpoint / "run"), "budget.evaluations=5"],
        ["objective=quadratic", f"hydra.run.dir={mountpoint}/new"],
    ):
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Read-only file system" in proc.stderr, proc.stderr
    assert (mountpoint / "run" / "journal.jsonl").read_bytes() == before


# -- concurrency ---------------------------------------------------------------------------------
def test_analysis_reads_a_running_run_without_changing_it(tmp_path):
    from analysis.load import load_runs

    proc = start_cli(
        "objective=quadratic",
        "objective.sleep_s=0.2",
        "strategy=random",
        "budget.evaluations=30",
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    try:
        wait_results(tmp_path / "run", 3, proc)
        files_before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run").iterdir()}
        journal_before = (tmp_path / "run" / "journal.jsonl").read_bytes()
        loaded = load_runs([tmp_path / "run"])
        assert len(loaded.frame) >= 3
        journal_after = (tmp_path / "run" / "journal.jsonl").read_bytes()
        assert journal_after.startswith(journal_before)  # only the driver appended
        assert set(p.name for p in (tmp_path / "run").iterdir()) <= set(files_before) | {"results.csv", "summary.json"}
    finally:
        proc.kill()
        proc.wait()


# -- configuration -------------------------------------------------------------------------------
def test_a_missing_environment_variable_is_one_line(tmp_path):
    assert "BOBENCH_NO_SUCH_VARIABLE" not in os.environ
    proc = run_cli(
        "objective=quadratic",
        "objective.name=${oc.env:BOBENCH_NO_SUCH_VARIABLE}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("bobench: error: objective.name: ")
    assert "BOBENCH_NO_SUCH_VARIABLE" in proc.stderr and proc.stderr.count("\n") == 1
