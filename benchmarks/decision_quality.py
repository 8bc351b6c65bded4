"""Regret of the cheap decision defaults of ei, ucb and lp against their old ones, seed by seed, on presets.

``old`` is the strategies' behaviour before the cheaper defaults (a hyperparameter fit every
step, BoTorch's multi-start L-BFGS-B from 512 random points with 10 restarts at every
dimension); ``new`` is the defaults; ``--variant NAME=KEY=VALUE,KEY=VALUE`` adds others (to choose
a default on tuning seeds). Each preset runs every variant on every seed with the real driver,
in this process; a run's value is its final simple regret where the optimum is known, else its
best value (the MLP's: minus the best test accuracy). Printed per preset: each variant's mean,
standard error, median, and seconds spent deciding per run; then each variant against ``old``
on the same seeds (``analysis.stats.paired``: wins where its value is lower, the win rate with
its bootstrap 95% interval, the two-sided Wilcoxon signed-rank p-value).

Runs are kept under ``--out``; one that ran to its budget is read, not run again.

    python benchmarks/decision_quality.py --presets mlp branin --seeds 50-59
    python benchmarks/decision_quality.py --presets hartmann6_asyEI --seeds 200-202 \
        --variant k10=strategy.refit_every=10
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.stats import paired
from benchmarks._common import run

OLD = [
    "strategy.refit_every=1",
    "strategy.acq_optimizer=multistart",
    "strategy.num_restarts=10",
    "strategy.raw_samples=512",
]
PRESETS: dict[str, list[str]] = {
    "mlp": [],  # the default bobench run: the worksheet's MLP, 1-D, 30 EI evaluations
    "branin": ["objective=branin"],
    "branin_worksheet": ["objective=branin", "strategy=ei_worksheet"],
    "hartmann6_asyEI": ["experiment=kandasamy_hartmann6", "arm=asyEI"],
    "hartmann6_asyHUCB": ["experiment=kandasamy_hartmann6", "arm=asyHUCB"],
}


def seeds(spec: str) -> list[int]:
    """``50-59`` or ``1,4,7``."""
    if "-" in spec:
        low, high = spec.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in spec.split(",")]


def finished(folder: Path) -> dict[str, Any] | None:
    """The summary of the run in ``folder`` if it ran to its end (one cut short is refreshed as it runs)."""
    path = folder / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else None
    return summary if summary is not None and summary["status"].startswith("budget") else None


def run_value(overrides: list[str], folder: Path) -> tuple[float, float]:
    """The run's value (final regret, else best value) and its decision seconds, running it if needed.

    A run cut short (this script stopped) is run again from the start in a fresh folder.
    """
    summary = finished(folder)
    if summary is None:
        shutil.rmtree(folder, ignore_errors=True)
        summary = run(*overrides, folder=folder)[0]
    regret = summary.get("final_regret")
    value = regret if regret is not None else summary["best_value"]
    return float(value), float(summary["decision_s_total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=sorted(PRESETS))
    parser.add_argument("--seeds", type=seeds, default=seeds("50-59"))
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE,...")
    parser.add_argument("--out", type=Path, default=Path("outputs/decision_quality"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    variants = {"old": OLD, "new": []}
    for spec in args.variant:
        name, overrides = spec.split("=", 1)
        variants[name] = overrides.split(",")
    for preset in args.presets:
        values: dict[str, dict[int, float]] = {v: {} for v in variants}
        decide: dict[str, list[float]] = {v: [] for v in variants}
        t0 = time.time()
        for seed in args.seeds:
            for name, overrides in variants.items():
                folder = args.out / preset / name / f"seed={seed}"
                value, seconds = run_value([*PRESETS[preset], *overrides, f"seed={seed}"], folder)
                values[name][seed] = value
                decide[name].append(seconds)
        print(f"{preset}: seeds {args.seeds[0]}..{args.seeds[-1]} ({len(args.seeds)}), {time.time() - t0:.0f} s")
        print(f"  {'variant':10}{'mean':>10}{'se':>9}{'median':>10}{'decide s/run':>14}")
        for name in variants:
            v = list(values[name].values())
            se = statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else math.nan
            print(
                f"  {name:10}{statistics.mean(v):>10.4f}{se:>9.4f}{statistics.median(v):>10.4f}"
                f"{statistics.mean(decide[name]):>14.1f}"
            )
        for name in [v for v in variants if v != "old"]:
            p = paired(values[name], values["old"])
            print(
                f"  {name} vs old: {p.wins} wins, {p.ties} ties, {p.losses} losses; win rate {p.win_rate:.2f} "
                f"[{p.ci_low:.2f}, {p.ci_high:.2f}], Wilcoxon p = {p.p_value:.3g}",
                flush=True,
            )


if __name__ == "__main__":
    main()
