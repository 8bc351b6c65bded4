"""Worker utilisation with decision time charged: one point per decision against batched asks.

Runs the real driver on Hartmann6 with the simulated executor (exponential durations of mean 1)
and ``executor.charge_decision_time=true``, so each decision's time passes on the simulated clock
while the workers it would refill stand idle: its CPU seconds by default (``--clock cpu``,
``executor.decision_clock=cpu``: what the decision takes on an idle core, whatever else runs on
the machine), or its wall seconds (``--clock wall``: on an idle machine, the same). For each M
the arms run one after the other in this process (their order alternating from one M to the
next), torch pinned to one thread:

- ``one``: ``max_batch=1``, one point per decision (the driver before batched asks);
- ``batched``: ``max_batch`` unset, one decision for every free worker;
- ``instant``: random search on an uncharged clock, a driver whose decisions take no time: the
  ceiling any driver can reach with this budget (the fill at the start, the drain at the end);
- ``--variant NAME=KEY=VALUE,KEY=VALUE``: batched asks with more overrides, e.g.
  ``--variant lag=strategy.fit_lag=20,strategy.refit_growth=0.1`` (its name joins ``--arms``).

Utilisation is reported two ways: over the whole run (the summary's: the evaluations' time over
M times the run's length, the drain after the last proposal included, which no driver can avoid
with a fixed budget), and while proposing (busy worker time up to the last proposal over M times
that time). Decisions are counted from the journal (points with the same clock time and decision
time), with the decision (wall) seconds and the run's CPU seconds per proposed point (the
driver's process; ``bg CPU``: its background fit worker's, counted once the run has ended and
the worker has exited), the final
simple regret and the run's wall time. Wall timings on a loaded machine follow the load: say what ran beside.

    python benchmarks/utilisation.py                        # M = 8, 32, 64, 128; 1,000 evaluations
    python benchmarks/utilisation.py --workers 32 --evals 200   # a quick look
    python benchmarks/utilisation.py timing                 # the 500-evaluation, 32-worker run's wall time
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.strategies.background_fit import FIT_POOL
from benchmarks._common import compose, variant_parser

ARMS = ("one", "batched", "instant")


def overrides(
    arm: str, workers: int, evals: int, seed: int, strategy: str, charge: bool, extra: list[str], clock: str
) -> list[str]:
    """The run's config: Hartmann6, exponential durations, async, the arm's batching and clock."""
    return [
        "objective=hartmann6",
        "objective.noise_std=0.0",
        "executor=simulated",
        "executor.duration=exponential",
        f"executor.charge_decision_time={str(charge and arm != 'instant').lower()}",
        f"executor.decision_clock={clock}",
        f"strategy={'random' if arm == 'instant' else strategy}",
        f"workers={workers}",
        "mode=async",
        f"budget.evaluations={evals}",
        f"seed={seed}",
        "carbon=off",
        *(["max_batch=1"] if arm == "one" else []),
        *(extra if arm != "instant" else []),
        *VARIANTS.get(arm, []),
    ]


#: ``--variant`` arms: name -> their overrides (batched asks plus these).
VARIANTS: dict[str, list[str]] = {}


def measure(records: list[dict[str, Any]], workers: int) -> dict[str, float]:
    """Utilisation while proposing, the number of decisions and their points, from a run's journal."""
    submits = [r for r in records if r["event"] == "submit" and r["attempt"] == 0]
    finals = [r for r in records if r["event"] == "result" and r.get("final", True)]
    t_last = max(r["t_submit"] for r in submits)
    busy = sum(max(0.0, min(r["t_end"], t_last) - r["t_start"]) for r in finals)
    decisions = len({(r["t_submit"], r["decision_s"]) for r in submits})
    return {
        "util_proposing": busy / (workers * t_last) if t_last > 0 else float("nan"),
        "decisions": decisions,
        "points_per_decision": len(submits) / decisions,
    }


def one_run(arm: str, workers: int, evals: int, args: argparse.Namespace, charge: bool = True) -> dict[str, Any]:
    from bench.driver import Driver

    folder = Path(tempfile.mkdtemp(prefix="bobench-util-"))
    try:
        driver = Driver(
            compose(*overrides(arm, workers, evals, args.seed, args.strategy, charge, args.extra, args.clock)),
            folder / "run",
        )
        t0, cpu0, bg0 = time.perf_counter(), time.process_time(), _children_cpu()
        summary = driver.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        FIT_POOL.shutdown()  # the worker exits, so that its CPU is counted
        bg = _children_cpu() - bg0
        measured = measure(driver.journal.records, workers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "util_run": summary["utilisation"],
        **measured,
        "decision_per_point": summary["decision_s_total"] / summary["n_evals"],
        "cpu_per_point": cpu / summary["n_evals"],  # the whole run's CPU: decisions, evaluations, I/O
        "bg_cpu_per_point": bg / summary["n_evals"],  # the background fit worker's
        "regret": summary["final_regret"],
        "sim_time": summary["elapsed_s"],
        "wall_s": wall,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cmd_table(args: argparse.Namespace) -> None:
    results: dict[tuple[int, str], dict[str, Any]] = {}
    for i, m in enumerate(args.workers):
        order = list(args.arms) if i % 2 == 0 else list(reversed(args.arms))  # no arm always first
        for arm in order:
            r = one_run(arm, m, args.evals, args)
            results[(m, arm)] = r
            print(
                f"M {m:>3} {arm:<8} util {r['util_run']:.3f} (proposing {r['util_proposing']:.3f}), "
                f"{r['decisions']} decisions ({r['points_per_decision']:.1f} points each), "
                f"{r['decision_per_point']:.4f} s/point "
                f"({r['cpu_per_point']:.4f} CPU, {r['bg_cpu_per_point']:.4f} bg), "
                f"regret {r['regret']:.4g}, "
                f"sim time {r['sim_time']:.1f}, wall {r['wall_s']:.0f} s",
                flush=True,
            )
    print(
        f"\n{args.strategy} {' '.join(args.extra)} on Hartmann6, exponential durations (mean 1), "
        f"{args.evals} evaluations, seed {args.seed}, decision time charged ({args.clock} seconds; "
        "'instant': random search, uncharged: the ceiling)"
    )
    head = f"{'M':>4} {'arm':<8} {'util (run)':>10} {'util (proposing)':>16} {'decisions':>9} {'pts/dec':>7}"
    print(f"{head} {'s/point':>8} {'CPU s/pt':>8} {'bg CPU':>8} {'regret':>8} {'wall s':>7}")
    for m in args.workers:
        for arm in args.arms:
            r = results[(m, arm)]
            print(
                f"{m:>4} {arm:<8} {r['util_run']:>10.3f} {r['util_proposing']:>16.3f} {r['decisions']:>9} "
                f"{r['points_per_decision']:>7.1f} {r['decision_per_point']:>8.4f} {r['cpu_per_point']:>8.4f} "
                f"{r['bg_cpu_per_point']:>8.4f} "
                f"{r['regret']:>8.4g} "
                f"{r['wall_s']:>7.0f}"
            )


def cmd_timing(args: argparse.Namespace) -> None:
    """The 500-evaluation, 32-worker async_ts run as docs/architecture.md times it (uncharged clock),
    its arms (default: one decision per point against batched asks) interleaved (``--charged``:
    decision time charged)."""
    arms = [a for a in args.arms if a != "instant"]
    walls: dict[str, list[float]] = {a: [] for a in arms}
    cpus: dict[str, list[float]] = {a: [] for a in arms}
    for rep in range(args.repeats):
        for arm in arms if rep % 2 == 0 else list(reversed(arms)):
            r = one_run(arm, args.workers, args.evals, args, charge=args.charged)
            walls[arm].append(r["wall_s"])
            cpus[arm].append((r["cpu_per_point"] + r["bg_cpu_per_point"]) * args.evals)
            print(
                f"{arm:<8} wall {r['wall_s']:.1f} s (CPU {r['cpu_per_point'] * args.evals:.1f} s, "
                f"background {r['bg_cpu_per_point'] * args.evals:.1f} s), {r['decisions']} decisions, "
                f"util {r['util_run']:.3f}, regret {r['regret']:.4g}",
                flush=True,
            )
    print(
        f"\n{args.strategy}, Hartmann6, {args.evals} evaluations, {args.workers} workers, async, decision time "
        f"{'charged' if args.charged else 'not charged'}; medians of {args.repeats}; CPU: driver + background worker"
    )
    base = arms[0]
    for name, times in (("wall s", walls), ("CPU s", cpus)):
        ref = statistics.median(times[base])
        cells = "   ".join(f"{a} {statistics.median(times[a]):7.1f}" for a in arms)
        ratios = "  ".join(f"{a}/{base} {statistics.median(times[a]) / ref:.2f}" for a in arms[1:])
        print(f"{name:<7} {cells}   {ratios}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["table", "timing"], default="table")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="M (table: 8 32 64 128; timing: 32)")
    parser.add_argument("--evals", type=int, default=None, help="evaluations per run (table: 1000; timing: 500)")
    parser.add_argument("--arms", nargs="+", default=None, help=f"of {', '.join(ARMS)} and the variants' names")
    parser.add_argument(
        "--variant", type=variant_parser(set(ARMS)), action="append", default=[], metavar="NAME=KEY=VALUE,..."
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="async_ts")
    parser.add_argument("--extra", nargs="*", default=[], help="more overrides for the strategy's arms")
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default="cpu", help="decision time charged as CPU or wall seconds"
    )
    parser.add_argument("--charged", action="store_true", help="timing: charge decision time to the clock")
    parser.add_argument("--repeats", type=int, default=1, help="timing: runs of each arm")
    args = parser.parse_args(argv)
    VARIANTS.update(dict(args.variant))
    args.arms = args.arms or ([*ARMS[:2], *VARIANTS] if args.command == "timing" else [*ARMS, *VARIANTS])
    unknown = [a for a in args.arms if a not in ARMS and a not in VARIANTS]
    if unknown:
        parser.error(f"--arms: unknown arm(s) {', '.join(unknown)} (known: {', '.join([*ARMS, *VARIANTS])})")

    import torch

    torch.set_num_threads(1)
    one_run("batched", 4, 12, args, charge=False)  # imports and first calls: untimed
    if args.command == "timing":
        args.workers, args.evals = (args.workers or [32])[0], args.evals or 500
        cmd_timing(args)
    else:
        args.workers, args.evals = args.workers or [8, 32, 64, 128], args.evals or 1000
        cmd_table(args)


if __name__ == "__main__":
    main()
