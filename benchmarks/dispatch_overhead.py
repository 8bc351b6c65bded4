"""Dispatch overhead per evaluation of the `local` executor for a no-op objective.

Measures the executor alone (submit -> outcome, persistent workers) and the whole driver loop
(strategy, journal with fsync, executor), and submitit's LocalExecutor for reference.

    python benchmarks/dispatch_overhead.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.executors.local import LocalExecutor
from bench.records import Task
from benchmarks._common import run
from objectives.toy import Quadratic

SPACE = {"x1": {"type": "float", "low": 0.0, "high": 1.0}}


def executor_overhead(workers: int, n: int) -> float:
    executor = LocalExecutor(workers=workers)
    executor.start(Quadratic(SPACE), time.time())
    try:
        t0 = time.perf_counter()
        submitted = done = 0
        while done < n:
            while submitted < n and executor.running < workers:
                executor.submit(Task(submitted, {"x1": 0.5}, submitted))
                submitted += 1
            done += len(executor.wait(first=True))
        return (time.perf_counter() - t0) / n
    finally:
        executor.close()


def driver_overhead(n: int, fsync: bool) -> float:
    summary, _ = run(
        "objective=quadratic",
        "strategy=random",
        "executor=local",
        "workers=1",
        f"budget.evaluations={n}",
        f"journal.fsync={str(fsync).lower()}",
    )
    return summary["elapsed_s"] / n


def submitit_overhead(n: int) -> float:
    import submitit

    folder = tempfile.mkdtemp(prefix="bobench-submitit-")
    executor = submitit.LocalExecutor(folder=folder)
    executor.update_parameters(timeout_min=5)
    objective = Quadratic(SPACE)
    t0 = time.perf_counter()
    for i in range(n):
        executor.submit(objective, {"x1": 0.5}, i).result()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--submitit-n", type=int, default=10)
    args = parser.parse_args()
    for workers in (1, 2):
        times = [executor_overhead(workers, args.n) for _ in range(args.repeats)]
        print(
            f"local executor, {workers} worker(s), no-op objective: "
            f"{statistics.median(times) * 1e3:.3f} ms per evaluation (median of {args.repeats} x {args.n})"
        )
    for fsync in (True, False):
        per = driver_overhead(min(args.n, 500), fsync)
        print(
            f"whole driver loop (random strategy, journal fsync={fsync}), local, 1 worker: "
            f"{per * 1e3:.3f} ms per evaluation"
        )
    print(
        f"submitit LocalExecutor, one job at a time: {submitit_overhead(args.submitit_n) * 1e3:.0f} ms per evaluation "
        f"({args.submitit_n} jobs)"
    )


if __name__ == "__main__":
    main()
