"""The run folder's share of a run's time: the write path before incremental I/O against the one now.

Runs the same simulated run twice in one process, after a short warm-up run (the virtual clock
makes both propose and record the same points): first with the write path of bobench before incremental I/O (every
journal record fsynced on its own; results.csv and summary.json rewritten whole every 5 s,
``RewritingDriver`` below), then with the driver as it is (one group commit per wake-up,
results.csv appended, summary.json by count). Prints the time each part of the write path
took, its share of the run's wall time, and how many rows and fsyncs were written.

    python benchmarks/io_overhead.py                    # the 500-evaluation, 32-worker async_ts run
    python benchmarks/io_overhead.py --evaluations 60   # a quick look
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from bench.driver import Driver
from bench.journal import Journal
from bench.run_folder import write_results, write_summary
from benchmarks._common import compose

#: How often the write path before incremental I/O rewrote results.csv and summary.json (seconds).
REFRESH_S = 5.0


def run_overrides(evaluations: int) -> list[str]:
    return [
        "strategy=async_ts",
        "executor=simulated",
        "executor.duration=exponential",
        "workers=32",
        "mode=async",
        f"budget.evaluations={evaluations}",
        "objective=hartmann6",
        "carbon=fixed",
    ]


@dataclass
class Spent:
    """Seconds and counts of one run's write path."""

    fsync_s: float = 0.0
    fsyncs: int = 0
    derived_s: float = 0.0  # results.csv and summary.json, rows and summary computed included
    rows: int = 0
    rewrites: int = 0
    summaries: int = 0


class TimedJournal(Journal):
    """The journal, timing its fsyncs (each record's without group commit, each commit's with it)."""

    spent: Spent

    def _sync(self, event: str | None) -> None:
        t0 = time.perf_counter()
        super()._sync(event)
        self.spent.fsync_s += time.perf_counter() - t0


class TimedDriver(Driver):
    """The driver as it is, timing its derived files."""

    def __init__(self, cfg: Any, run_dir: Path, group_commit: bool = True):
        super().__init__(cfg, run_dir)
        self.spent = Spent()
        self.journal = TimedJournal(self.run_dir, fsync=True, group_commit=group_commit)
        self.journal.spent = self.spent

    def _write_outputs(self, final: bool = False) -> None:
        before = self._summary_at
        t0 = time.perf_counter()
        super()._write_outputs(final)
        self.spent.derived_s += time.perf_counter() - t0
        self.spent.summaries += self._summary_at is not before
        self.spent.rows, self.spent.rewrites = self.results.rows_written, self.results.rewrites


class RewritingDriver(TimedDriver):
    """The write path before incremental I/O: every record fsynced, both derived files rewritten every 5 s."""

    def __init__(self, cfg: Any, run_dir: Path):
        super().__init__(cfg, run_dir, group_commit=False)
        self._last_refresh = 0.0

    def _end_wake_up(self) -> None:
        if time.monotonic() - self._last_refresh >= REFRESH_S:  # then it came after the wait's records
            self._write_outputs()

    def _write_outputs(self, final: bool = False) -> None:
        t0 = time.perf_counter()
        rows = write_results(self.run_dir, self.state, self.objective.optimum)
        write_summary(self.run_dir, self.summary())
        self.spent.derived_s += time.perf_counter() - t0
        self.spent.rows += len(rows)
        self.spent.rewrites += 1
        self.spent.summaries += 1
        self._last_refresh = time.monotonic()


def measure(driver_class: type[TimedDriver], evaluations: int, folder: Path) -> tuple[Spent, float, pd.DataFrame]:
    driver = driver_class(compose(*run_overrides(evaluations)), folder)
    t0 = time.perf_counter()
    driver.run()
    wall = time.perf_counter() - t0
    driver.spent.fsyncs = driver.journal.fsyncs
    return driver.spent, wall, pd.read_csv(folder / "results.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=500)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bobench-io-"))
    arms = {"before": RewritingDriver, "after": TimedDriver}
    measure(TimedDriver, 8, base / "warm-up")  # imports and first calls, outside both arms
    measured = {name: measure(cls, args.evaluations, base / name) for name, cls in arms.items()}
    same = ["eval_id", "status", "value", "t_end", "best_so_far"]  # the same run, the same rows
    pd.testing.assert_frame_equal(measured["before"][2][same], measured["after"][2][same])

    print(
        f"{args.evaluations} evaluations, {' '.join(run_overrides(args.evaluations)[:-1])}; "
        "one process, before then after"
    )
    print(f"{'':32}{'before':>18}{'after':>18}")

    def line(label: str, values: list[str]) -> None:
        print(f"{label:32}" + "".join(f"{v:>18}" for v in values))

    def share(s: float, wall: float) -> str:
        return f"{s:.2f} s ({100 * s / wall:.1f}%)"

    results = [measured[name] for name in arms]
    line("run wall time", [f"{wall:.1f} s" for _, wall, _ in results])
    line("journal fsync", [share(spent.fsync_s, wall) for spent, wall, _ in results])
    line("  fsyncs", [str(spent.fsyncs) for spent, _, _ in results])
    line("results.csv + summary.json", [share(spent.derived_s, wall) for spent, wall, _ in results])
    line("  results.csv rows written", [str(spent.rows) for spent, _, _ in results])
    line("  results.csv rewrites", [str(spent.rewrites) for spent, _, _ in results])
    line("  summary.json writes", [str(spent.summaries) for spent, _, _ in results])
    line("I/O share", [f"{100 * (s.fsync_s + s.derived_s) / wall:.1f}%" for s, wall, _ in results])
    print(f"run folders: {base}")


if __name__ == "__main__":
    main()
