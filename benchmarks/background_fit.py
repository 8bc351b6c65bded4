"""Background refits (``strategy.fit_lag``): decision time, utilisation and regret, lag 0 against lags > 0.

Runs the real driver on Hartmann6 with the simulated executor (exponential durations of mean 1)
and ``executor.charge_decision_time=true``, so that each decision's real time passes on the
simulated clock and a slow decision idles the workers. For each seed the arms (one per lag) run
one after the other in this process, their order rotated from seed to seed, torch pinned to one
thread (the background worker uses one thread too). Prints, per arm, the decision seconds per
proposed point, the decisions' time spent waiting for a background fit, the workers' utilisation
and the final simple regret, each as a median over seeds and as a ratio to lag 0 (the median of
the per-seed ratios). Timings on a loaded machine are noisy: compare the ratios.

    python benchmarks/background_fit.py --lags 0 5 10 --seeds 0 1 --evaluations 300 --workers 32
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import compose


def one_run(lag: int, seed: int, evaluations: int, workers: int, strategy: str) -> dict[str, Any]:
    import tempfile

    from bench.driver import Driver

    cfg = compose(
        "objective=hartmann6",
        "objective.noise_std=0.0",
        "executor=simulated",
        "executor.duration=exponential",
        "executor.charge_decision_time=true",
        f"strategy={strategy}",
        f"strategy.n_initial={workers}",
        f"strategy.fit_lag={lag}",
        f"workers={workers}",
        "mode=async",
        f"budget.evaluations={evaluations}",
        f"seed={seed}",
        "carbon=off",
    )
    driver = Driver(cfg, Path(tempfile.mkdtemp(prefix="bobench-bgfit-")) / "run")
    t0 = time.perf_counter()
    summary = driver.run()
    wall = time.perf_counter() - t0
    cache = driver.strategy.cache  # type: ignore[attr-defined]
    return {
        "decision_per_point": summary["decision_s_total"] / summary["n_evals"],
        "wait_per_point": cache.wait_s / summary["n_evals"],
        "utilisation": summary["utilisation"],
        "regret": summary["final_regret"],
        "wall_s": wall,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lags", type=int, nargs="+", default=[0, 5, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--evaluations", type=int, default=300)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--strategy", default="async_ts")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    results: dict[int, list[dict[str, Any]]] = {lag: [] for lag in args.lags}
    for i, seed in enumerate(args.seeds):
        order = args.lags[i % len(args.lags) :] + args.lags[: i % len(args.lags)]  # rotated: no arm always first
        for lag in order:
            r = one_run(lag, seed, args.evaluations, args.workers, args.strategy)
            results[lag].append(r)
            print(
                f"seed {seed} lag {lag:>2}: decision {r['decision_per_point']:.4f} s/point "
                f"(waiting {r['wait_per_point']:.4f}), utilisation {r['utilisation']:.3f}, "
                f"regret {r['regret']:.4g}, wall {r['wall_s']:.0f} s",
                flush=True,
            )
    base = results[args.lags[0]]
    print(
        f"\n{args.strategy}, Hartmann6, M = {args.workers}, {args.evaluations} evaluations, seeds {args.seeds}; "
        f"medians over seeds, ratios to fit_lag={args.lags[0]} (median of per-seed ratios)"
    )
    print(f"{'fit_lag':>7} {'s/point':>8} {'ratio':>6} {'wait/pt':>8} {'util':>6} {'ratio':>6} {'regret':>8}")
    for lag in args.lags:
        rs = results[lag]

        def med(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return statistics.median(r[key] for r in rs)

        def ratio(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return statistics.median(r[key] / b[key] for r, b in zip(rs, base, strict=True))

        print(
            f"{lag:>7} {med('decision_per_point'):>8.4f} {ratio('decision_per_point'):>6.2f} "
            f"{med('wait_per_point'):>8.4f} {med('utilisation'):>6.3f} {ratio('utilisation'):>6.2f} "
            f"{med('regret'):>8.4g}"
        )
    print("regret per seed:", {lag: [round(r["regret"], 4) for r in results[lag]] for lag in args.lags})


if __name__ == "__main__":
    main()
