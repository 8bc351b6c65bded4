"""Full preset runs of surrogate variants over seeds: the final simple regret of each run.

The histories benchmark (``surrogate_basin.py``) says where the next proposals land; this one
says whether a variant changes the outcome. It runs the real driver on a preset for each
(variant, arm, seed), in ``--jobs`` processes, and appends one CSV row per run to ``--out``
(a rerun skips the rows already there), then prints per variant and arm: the median regret,
the fraction of seeds stuck (regret above ``--stuck``), and the mean.

Choose defaults on one set of seeds and report on another: the tuning seeds are 100-109 by
default; the preset's report seeds are 0-29 (``docs/reproduction.md``).

    python benchmarks/surrogate_runs.py --variant map= --variant init5=strategy.initial_time=5 \\
        --arms asyTS --seeds 100-109 --out /tmp/tuning.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIELDS = ["variant", "arm", "seed", "final_regret", "n_evals", "decision_s_total", "overrides"]


def seed_range(text: str) -> list[int]:
    """``"100-109"`` or ``"0,3,5"``."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def one_run(preset: str, variant: str, arm: str, seed: int, overrides: list[str]) -> dict[str, object]:
    import torch

    torch.set_num_threads(1)
    from benchmarks._common import run

    summary, _ = run(f"experiment={preset}", f"arm={arm}", f"seed={seed}", "carbon=off", *overrides)
    return {
        "variant": variant,
        "arm": arm,
        "seed": seed,
        "final_regret": summary["final_regret"],
        "n_evals": summary["n_evals"],
        "decision_s_total": round(float(summary["decision_s_total"]), 2),
        "overrides": " ".join(overrides),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="kandasamy_hartmann6")
    parser.add_argument("--variant", action="append", required=True, help="name=override[,override...]")
    parser.add_argument("--arms", default="asyTS")
    parser.add_argument("--seeds", default="100-109")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--stuck", type=float, default=0.05)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    variants = {}
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        variants[name] = [o for o in rest.split(",") if o]
    done = set()
    if args.out.exists():
        with args.out.open() as f:
            done = {(r["variant"], r["arm"], int(r["seed"])) for r in csv.DictReader(f)}
    todo = [
        (name, arm, seed)
        for seed in seed_range(args.seeds)
        for name in variants
        for arm in args.arms.split(",")
        if (name, arm, seed) not in done
    ]
    new = not args.out.exists()
    with args.out.open("a", newline="") as f, ProcessPoolExecutor(args.jobs) as pool:
        writer = csv.DictWriter(f, FIELDS)
        if new:
            writer.writeheader()
        futures = [pool.submit(one_run, args.preset, n, a, s, variants[n]) for n, a, s in todo]
        for fut in futures:
            row = fut.result()
            writer.writerow(row)
            f.flush()
            print(row, flush=True)
    report(args.out, args.stuck)


def report(path: Path, stuck: float) -> None:
    import pandas as pd

    df = pd.read_csv(path)
    g = df.groupby(["variant", "arm"])["final_regret"]
    table = pd.DataFrame(
        {
            "seeds": g.size(),
            "median": g.median(),
            "stuck": g.apply(lambda r: f"{int((r > stuck).sum())}/{len(r)}"),
            "mean": g.mean(),
            "decision_s": df.groupby(["variant", "arm"])["decision_s_total"].median(),
        }
    )
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
