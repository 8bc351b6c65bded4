"""Parallel BO: seconds per decision, and regret over seeds on the simulated clock.

Three parts, each a sub-command:

``decision`` (default) times the strategies' ``propose`` on Hartmann6 data in 6 dimensions, as
the asynchronous driver calls it (one point, three running), at 50 and 200 observations. Each
strategy is built from its YAML defaults, warmed up once (the first call fits the GP's whole
warm-start chain, as after a resume), then timed over ``--decisions`` consecutive decisions
with the history growing by one each time, so that periodic refits are amortised as in a run.

``regret`` runs the real driver (``bench.driver.Driver``) on a synthetic objective with the
simulated executor, sync and async, for several strategies and seeds, and prints the simple
regret reached and the evaluations finished by the simulated time budget.

``long`` runs one strategy for 500 evaluations (async, 8 workers, simulated clock) and prints
the regret curve at a few points and the decision time as the history grows.

    python benchmarks/parallel_bo.py decision
    python benchmarks/parallel_bo.py regret --objective hartmann6 --seeds 5 --seconds 30
    python benchmarks/parallel_bo.py long --strategy async_ts
    python benchmarks/parallel_bo.py preset --preset kandasamy_hartmann6 --seeds 10
    python benchmarks/parallel_bo.py paper     # decision + the Hartmann6 preset + long (500 evals, 32 workers)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks._common import compose, run


def _hartmann6_history(n: int, seed: int = 0):
    from bench.strategies.base import History
    from objectives.synthetic import evaluate_function

    X = np.random.default_rng(seed).random((n, 6))
    y = np.array([evaluate_function("hartmann6", x) for x in X])
    return History(X, y, np.zeros((0, 6)))


def _strategy(name: str, seed: int = 0):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from bench.space import Space

    cfg = compose(f"strategy={name}", "objective=hartmann6")
    space = Space.from_config(OmegaConf.to_container(cfg.objective.space, resolve=True))
    return instantiate(OmegaConf.to_container(cfg.strategy, resolve=True), space=space, seed=seed)


def seconds_per_decision(name: str, n_obs: int, decisions: int, running: int = 3) -> dict[str, float]:
    """Cold first call, then mean / max seconds over ``decisions`` growing histories."""
    full = _hartmann6_history(n_obs + decisions)
    rng = np.random.default_rng(1)
    strategy = _strategy(name)

    def at(n: int):
        from bench.strategies.base import History

        return History(full.X[:n], full.y[:n], full.X_failed)

    t0 = time.perf_counter()
    strategy.propose(at(n_obs - 1), rng.random((running, 6)), 1)
    cold = time.perf_counter() - t0
    times = []
    for k in range(decisions):
        pending = rng.random((running, 6))
        t0 = time.perf_counter()
        strategy.propose(at(n_obs + k), pending, 1)
        times.append(time.perf_counter() - t0)
    return {"cold": cold, "mean": statistics.mean(times), "max": max(times)}


def cmd_decision(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    print(f"seconds per decision, Hartmann6 data, 6-D, 1 point with 3 running, {args.threads} thread(s)")
    print(f"{'strategy':<12} {'obs':>4} {'decisions':>9} {'mean s':>8} {'max s':>8} {'first call s':>12}")
    for name in args.strategies:
        for n_obs in args.observations:
            k = args.ax_decisions if name == "ax" else args.decisions
            r = seconds_per_decision(name, n_obs, k)
            print(f"{name:<12} {n_obs:>4} {k:>9} {r['mean']:>8.3f} {r['max']:>8.3f} {r['cold']:>12.2f}", flush=True)


def regret_over_seeds(
    objective: str,
    strategies: list[str],
    seeds: int,
    workers: int,
    seconds: float,
    duration: str,
    extra: tuple[str, ...] = (),
) -> dict[tuple[str, str], list[tuple[float, int]]]:
    """Runs the driver for each strategy, mode and seed: ``{(strategy, mode): [(regret, n_evals)]}``."""
    out: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for name in strategies:
        for mode in ("sync", "async"):
            for seed in range(seeds):
                summary, _ = run(
                    f"objective={objective}",
                    f"strategy={name}",
                    "executor=simulated",
                    f"executor.duration={duration}",
                    f"workers={workers}",
                    f"mode={mode}",
                    f"seed={seed}",
                    "budget.evaluations=null",
                    f"budget.seconds={seconds}",
                    "carbon=off",
                    *extra,
                )
                out.setdefault((name, mode), []).append((summary["final_regret"], summary["n_evals"]))
    return out


def cmd_regret(args: argparse.Namespace) -> None:
    print(
        f"{args.objective}, {args.workers} workers, {args.duration} durations (mean 1), "
        f"simulated budget {args.seconds} s, {args.seeds} seeds {' '.join(args.extra)}"
    )
    print(f"{'strategy':<14} {'mode':<5} {'regret mean':>11} {'± se':>8} {'median':>8} {'evals':>6}")
    for name in args.strategies:
        t0 = time.time()
        res = regret_over_seeds(
            args.objective, [name], args.seeds, args.workers, args.seconds, args.duration, tuple(args.extra)
        )
        for (_, mode), rows in res.items():
            reg = [r for r, _ in rows]
            se = statistics.stdev(reg) / len(reg) ** 0.5 if len(reg) > 1 else float("nan")
            evals = statistics.mean(n for _, n in rows)
            print(
                f"{name:<14} {mode:<5} {statistics.mean(reg):>11.4f} {se:>8.4f} "
                f"{statistics.median(reg):>8.4f} {evals:>6.0f}",
                flush=True,
            )
        print(f"  ({time.time() - t0:.0f} s wall)")


def cmd_long(args: argparse.Namespace) -> None:
    import pandas as pd

    t0 = time.time()
    summary, run_dir = run(
        f"objective={args.objective}",
        f"strategy={args.strategy}",
        "executor=simulated",
        f"workers={args.workers}",
        "mode=async",
        f"budget.evaluations={args.evaluations}",
        "carbon=off",
    )
    df = pd.read_csv(run_dir / "results.csv").sort_values("t_end")
    print(f"{args.strategy} on {args.objective}, {args.evaluations} evaluations, async, {args.workers} workers")
    print(f"{'evals':>6} {'sim time':>9} {'regret':>9} {'decision s (mean of last 50)':>29}")
    by_submit = df.sort_values("eval_id")
    for n in (50, 100, 200, 300, 400, 500):
        if n > len(df):
            break
        row = df.iloc[n - 1]
        decisions = by_submit["decision_s"].iloc[max(0, n - 50) : n]
        print(f"{n:>6} {row['t_end']:>9.1f} {row['regret']:>9.4f} {decisions.mean():>29.3f}")
    print(f"final regret {summary['final_regret']:.4g}; {time.time() - t0:.0f} s wall; run folder {run_dir}")


def regret_at(run_dir: Path, seconds: float) -> float:
    """Simple regret at the time budget: the best noise-free value among evaluations done by then."""
    import pandas as pd

    df = pd.read_csv(run_dir / "results.csv")
    done = df[(df["t_end"] <= seconds) & df["regret"].notna()].sort_values("t_end")
    return float(done["regret"].min()) if len(done) else float("nan")


def cmd_preset(args: argparse.Namespace) -> None:
    """Every arm of a paper preset over seeds, through the preset's own config."""
    cfg = compose(f"experiment={args.preset}")
    seconds = float(cfg.budget.seconds)
    print(
        f"{args.preset}: {cfg.objective.name}, {cfg.workers} workers, {cfg.executor.duration} durations, "
        f"T = {seconds:g}, {args.seeds} seeds {' '.join(args.extra)}"
    )
    print(f"{'arm':<8} {'regret at T: mean':>18} {'± se':>8} {'evals by T':>10} {'wall s/run':>10}", flush=True)
    results: dict[str, list[float]] = {}
    for arm in args.arms:
        t0, evals = time.time(), []
        for seed in range(args.seeds):
            _, run_dir = run(f"experiment={args.preset}", f"arm={arm}", f"seed={seed}", *args.extra)
            results.setdefault(arm, []).append(regret_at(run_dir, seconds))
            import pandas as pd

            evals.append(int((pd.read_csv(run_dir / "results.csv")["t_end"] <= seconds).sum()))
        reg = results[arm]
        se = statistics.stdev(reg) / len(reg) ** 0.5 if len(reg) > 1 else float("nan")
        print(
            f"{arm:<8} {statistics.mean(reg):>18.4f} {se:>8.4f} {statistics.mean(evals):>10.1f} "
            f"{(time.time() - t0) / args.seeds:>10.1f}",
            flush=True,
        )
    if {"asyTS", "synTS"} <= set(results):
        a, s_ = results["asyTS"], results["synTS"]
        diff = [x - y for x, y in zip(a, s_, strict=True)]
        se = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else float("nan")
        verdict = "beats" if statistics.mean(a) < statistics.mean(s_) else "does not beat"
        print(
            f"asyTS {verdict} synTS here: mean regret {statistics.mean(a):.4f} vs {statistics.mean(s_):.4f} "
            f"(paired difference {statistics.mean(diff):+.4f} ± {se:.4f} SE over seeds); "
            "Kandasamy et al. 2018 report asyTS ahead of synTS"
        )


def cmd_paper(args: argparse.Namespace) -> None:
    """The three figures of the issue, from one run of this script."""
    print("== seconds per decision (6-D, one point asked with three running)")
    cmd_decision(
        argparse.Namespace(
            strategies=["ei", "async_ts", "async_lp", "ax"],
            observations=[50, 200],
            decisions=args.decisions,
            ax_decisions=3,
            threads=1,
        )
    )
    print("\n== simple regret at the time budget, Hartmann6 preset")
    cmd_preset(argparse.Namespace(preset="kandasamy_hartmann6", arms=args.arms, seeds=args.seeds, extra=args.extra))
    print("\n== a 500-evaluation, 32-worker simulated async_ts run on Hartmann6")
    cmd_long(argparse.Namespace(strategy="async_ts", objective="hartmann6", evaluations=500, workers=32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    d = sub.add_parser("decision", help="seconds per decision at 50 and 200 observations")
    d.add_argument("--strategies", nargs="+", default=["ei", "async_ts", "async_lp", "ax"])
    d.add_argument("--observations", nargs="+", type=int, default=[50, 200])
    d.add_argument("--decisions", type=int, default=10)
    d.add_argument("--ax-decisions", type=int, default=3)
    d.add_argument("--threads", type=int, default=1)
    r = sub.add_parser("regret", help="simple regret over seeds, sync and async, simulated clock")
    r.add_argument("--objective", default="hartmann6")
    r.add_argument("--strategies", nargs="+", default=["random", "async_ts", "bucb", "async_lp", "ei"])
    r.add_argument("--seeds", type=int, default=5)
    r.add_argument("--workers", type=int, default=4)
    r.add_argument("--seconds", type=float, default=30.0, help="simulated time budget")
    r.add_argument("--duration", default="halfnormal")
    r.add_argument("--extra", nargs="*", default=[], help="more overrides, e.g. strategy.beta_coef=5")
    g = sub.add_parser("long", help="one 500-evaluation asynchronous run")
    g.add_argument("--strategy", default="async_ts")
    g.add_argument("--objective", default="hartmann6")
    g.add_argument("--evaluations", type=int, default=500)
    g.add_argument("--workers", type=int, default=8)
    arms = ["synRAND", "synBUCB", "synTS", "asyRAND", "asyEI", "asyHUCB", "asyHTS", "asyTS"]
    q = sub.add_parser("preset", help="every arm of a paper preset over seeds (regret at the time budget)")
    q.add_argument("--preset", default="kandasamy_hartmann6")
    q.add_argument("--arms", nargs="+", default=arms)
    q.add_argument("--seeds", type=int, default=10)
    q.add_argument("--extra", nargs="*", default=[], help="more overrides for every run")
    a = sub.add_parser("paper", help="decision times, the Hartmann6 preset over seeds, a 500-eval 32-worker run")
    a.add_argument("--arms", nargs="+", default=arms)
    a.add_argument("--seeds", type=int, default=10)
    a.add_argument("--decisions", type=int, default=10)
    a.add_argument("--extra", nargs="*", default=[])
    args = parser.parse_args()
    if args.cmd == "preset":
        cmd_preset(args)
    elif args.cmd == "paper":
        cmd_paper(args)
    elif args.cmd in (None, "decision"):
        if args.cmd is None:
            args = parser.parse_args(["decision"])
        cmd_decision(args)
    elif args.cmd == "regret":
        cmd_regret(args)
    else:
        cmd_long(args)


if __name__ == "__main__":
    main()
