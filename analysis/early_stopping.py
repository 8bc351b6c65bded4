"""What early stopping saves: compute, time and CO2 to reach the same target, one table.

For each pair of runs that differ only in their scheduler (``scheduler=none`` and, say,
``scheduler=asha``; the same objective, strategy, workers and seed), the **target** is the best
value the full-fidelity run reached by the end of its budget, and for each run of the pair:

- ``t_reach``: the time on the run's clock when its best full-fidelity value first reached the
  target (a stopped evaluation never counts: its value is at a lower fidelity);
- ``compute``: worker-seconds spent by then, every segment counted for the part of it that ran
  before ``t_reach`` (work in flight included), from the journal's ``rung`` records under a
  scheduler and its ``result`` records otherwise;
- ``co2_kg``: the evaluations' CO2 by then (each segment's share, as compute) plus the
  decisions' CO2 (``decision_co2_kg`` of the points proposed by then): a scheduler that starts
  more evaluations asks the strategy more often, and that is charged.

Beside them, each scheduled run's own final best. The ratios compare the scheduled run at its
``t_reach`` with the full-fidelity run at its own ``t_reach`` (when it first had its final
value: the conservative comparison) and at its end (all it spent). A scheduled run that never
reaches the target is shown as not reached, with what it spent in all. The median row takes
every pair, counting a run that did not reach as infinitely costly (so a median over pairs
where half did not reach is "not reached").

With ``--baseline strategy=NAME`` (or ``arm=NAME``) a scheduled run is paired instead with the
full-fidelity run of strategy (arm) ``NAME`` that matches it in everything else, seed included:
``--baseline strategy=async_ts`` sets MOBSTER under ASHA (``strategy=mobster scheduler=asha``)
against full-fidelity asynchronous TS. The strategy (arm) then names each row beside the scheduler.

Command: ``python -m analysis.early_stopping DIR [DIR ...] [--baseline strategy=NAME]
[--figure regret.png]`` (run folders, or multirun folders holding them; the figure: median simple
regret against compute spent, with the quartiles; docs/early-stopping.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.records import OK
from bench.run_folder import RunFolder, read_run


@dataclass(frozen=True)
class Segment:
    """A stretch of work on one worker: its times on the run's clock and its CO2."""

    t_start: float
    t_end: float
    co2_kg: float

    def share_by(self, t: float) -> float:
        """How much of it had run by ``t`` (0 to 1)."""
        if self.t_end <= self.t_start:
            return 1.0 if t >= self.t_end else 0.0
        return min(max((t - self.t_start) / (self.t_end - self.t_start), 0.0), 1.0)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def segments(records: Sequence[dict[str, Any]]) -> list[Segment]:
    """Every stretch of work a run's journal records (rung records, and results of evaluations without any)."""
    scheduled = {int(r["eval_id"]) for r in records if r.get("event") == "rung"}
    out = []
    for r in records:
        event = r.get("event")
        if event == "rung" or (event == "result" and int(r["eval_id"]) not in scheduled):
            t0, t1 = _num(r.get("t_start")), _num(r.get("t_end"))
            if t0 is not None and t1 is not None:
                out.append(Segment(t0, t1, _num(r.get("co2_kg")) or 0.0))
    return out


@dataclass(frozen=True)
class Spent:
    """What a run had spent by a time: worker-seconds, CO2 (evaluations + decisions), and the time."""

    t: float
    compute: float
    co2_kg: float


def spent_by(records: Sequence[dict[str, Any]], t: float) -> Spent:
    """Worker-seconds and CO2 a run had spent by time ``t`` on its clock."""
    segs = segments(records)
    compute = sum((s.t_end - s.t_start) * s.share_by(t) for s in segs)
    co2 = sum(s.co2_kg * s.share_by(t) for s in segs)
    for r in records:
        if r.get("event") == "submit" and r.get("attempt", 0) == 0 and (_num(r.get("t_submit")) or 0.0) <= t:
            co2 += _num(r.get("decision_co2_kg")) or 0.0
    return Spent(t, compute, co2)


def best_curve(run: RunFolder) -> list[tuple[float, float]]:
    """``(t_end, best full-fidelity value so far)`` at each ok evaluation, in finish order."""
    curve, best = [], math.inf
    for row in run.rows:
        value, t_end = _num(row.get("value")), _num(row.get("t_end"))
        if row.get("status") == OK and value is not None and t_end is not None and value < best:
            best = value
            curve.append((t_end, best))
    return curve


def reach_time(run: RunFolder, target: float) -> float | None:
    """When the run's best full-fidelity value first reached ``target``, or None."""
    return next((t for t, best in best_curve(run) if best <= target + 1e-12), None)


def end_time(run: RunFolder) -> float:
    ends = [s.t_end for s in segments(run.records)]
    return max(ends, default=0.0)


@dataclass
class Pair:
    """A full-fidelity run and a scheduled run that differ only in the scheduler."""

    key: str
    scheduler: str
    full: RunFolder
    scheduled: RunFolder

    def row(self) -> dict[str, Any]:
        curve = best_curve(self.full)
        target = curve[-1][1] if curve else math.nan
        t_full = reach_time(self.full, target) or 0.0
        full_reach = spent_by(self.full.records, t_full)
        full_end = spent_by(self.full.records, end_time(self.full))
        t_sched = reach_time(self.scheduled, target)
        sched = spent_by(self.scheduled.records, t_sched if t_sched is not None else end_time(self.scheduled))
        reached = t_sched is not None
        sched_curve = best_curve(self.scheduled)

        def ratio(a: float, b: float) -> float:
            return a / b if reached and b > 0 else math.inf

        return {
            "pair": self.key,
            "scheduler": self.scheduler,
            "target": target,
            "full_t_reach": full_reach.t,
            "full_compute_reach": full_reach.compute,
            "full_compute_end": full_end.compute,
            "full_co2_reach_g": full_reach.co2_kg * 1000,
            "reached": reached,
            "sched_t_reach": sched.t if reached else math.nan,
            "sched_compute": sched.compute,
            "sched_co2_g": sched.co2_kg * 1000,
            "sched_best_end": sched_curve[-1][1] if sched_curve else math.nan,
            "compute_vs_full_reach": ratio(sched.compute, full_reach.compute),
            "compute_vs_full_end": ratio(sched.compute, full_end.compute),
            "time_vs_full_reach": ratio(sched.t, full_reach.t),
            "co2_vs_full_reach": ratio(sched.co2_kg, full_reach.co2_kg),
            "co2_vs_full_end": ratio(sched.co2_kg, full_end.co2_kg),
        }


def _choices(run: RunFolder) -> dict[str, Any]:
    choices = dict(run.choices or run.start.get("choices") or {})
    return {k: v for k, v in choices.items() if not str(k).startswith(("hydra", "schema"))}


def find_runs(paths: Iterable[str | Path]) -> list[RunFolder]:
    """Every run folder under ``paths`` (each holds a journal)."""
    found = []
    for p in paths:
        for journal in sorted(Path(p).rglob("journal.jsonl")):
            found.append(read_run(journal.parent))
    return found


#: What ``--baseline GROUP=NAME`` may name, and what the pairing then ignores: the config-group
#: choices and the config's keys that the group sets (an arm sets the strategy and the mode).
BASELINE_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "strategy": (("strategy", "arm"), ("strategy",)),
    "arm": (("strategy", "arm"), ("strategy", "mode")),
}


@dataclass(frozen=True)
class Baseline:
    """The full-fidelity runs to pair scheduled runs with: those whose choice of ``group`` is ``name``."""

    group: str
    name: str

    def __str__(self) -> str:
        return f"{self.group}={self.name}"


def parse_baseline(text: str) -> Baseline:
    """``strategy=NAME`` or ``arm=NAME`` as a :class:`Baseline`.

    Raises:
        ValueError: anything else (the message says what is expected).
    """
    group, sep, name = text.partition("=")
    group, name = group.strip(), name.strip()
    if not sep or group not in BASELINE_GROUPS or not name or "=" in name or "," in name:
        raise ValueError(
            f"--baseline: expected {' or '.join(f'{g}=NAME' for g in BASELINE_GROUPS)} "
            f"(the full-fidelity runs to pair each scheduled run with), got {text!r}"
        )
    return Baseline(group, name)


def _is_scheduled(run: RunFolder) -> bool:
    return (run.start.get("config") or {}).get("scheduler") is not None


def _choice(run: RunFolder, group: str) -> str | None:
    value = _choices(run).get(group)
    return None if value is None else str(value)


def baseline_runs(runs: Sequence[RunFolder], baseline: Baseline) -> list[RunFolder]:
    """The full-fidelity runs (no scheduler) whose choice of ``baseline.group`` is ``baseline.name``."""
    return [r for r in runs if not _is_scheduled(r) and _choice(r, baseline.group) == baseline.name]


def pair_runs(runs: Sequence[RunFolder], baseline: Baseline | None = None) -> list[Pair]:
    """Matches each scheduled run with the full-fidelity run of the same everything else (seed included).

    With ``baseline``, the full-fidelity run is one of ``baseline``'s (:func:`baseline_runs`),
    equal to the scheduled run in everything but the scheduler and what ``baseline.group`` sets,
    and each pair's label names the scheduled run's choice of that group beside its scheduler.
    """
    ignored_choices: tuple[str, ...] = ("scheduler",)
    ignored_config: tuple[str, ...] = ("scheduler",)
    if baseline is not None:
        choices_set, config_set = BASELINE_GROUPS[baseline.group]
        ignored_choices, ignored_config = ignored_choices + choices_set, ignored_config + config_set

    def identity(run: RunFolder) -> str:
        config = {k: v for k, v in (run.start.get("config") or {}).items() if k not in ignored_config}
        choices = {k: v for k, v in _choices(run).items() if k not in ignored_choices}
        return repr(sorted(choices.items())) + repr(sorted((k, repr(v)) for k, v in config.items()))

    candidates = baseline_runs(runs, baseline) if baseline is not None else [r for r in runs if not _is_scheduled(r)]
    full = {identity(r): r for r in candidates}
    pairs = []
    for run in runs:
        if not _is_scheduled(run):
            continue
        base = full.get(identity(run))
        if base is not None:
            name = str(_choices(run).get("scheduler") or run.start["config"]["scheduler"].get("_target_"))
            if baseline is not None:
                name = f"{_choice(run, baseline.group)} + {name}"
            pairs.append(Pair(f"seed {run.start.get('seed')}", name, base, run))
    return sorted(pairs, key=lambda p: (p.scheduler, int(p.full.start.get("seed", 0))))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


COLUMNS = (
    ("pair", "pair", "{}"),
    ("scheduler", "scheduler", "{}"),
    ("target", "target (full run's final best)", "{:.4f}"),
    ("full_t_reach", "full: time to it", "{:.2f}"),
    ("full_compute_reach", "full: compute to it (worker-s)", "{:.2f}"),
    ("full_compute_end", "full: compute in all", "{:.2f}"),
    ("sched_best_end", "scheduled: its final best", "{:.4f}"),
    ("sched_t_reach", "scheduled: time to it", "{:.2f}"),
    ("sched_compute", "scheduled: compute to it", "{:.2f}"),
    ("compute_vs_full_reach", "compute / full's to it", "{:.3f}"),
    ("compute_vs_full_end", "compute / full's in all", "{:.3f}"),
    ("time_vs_full_reach", "time / full's", "{:.3f}"),
    ("co2_vs_full_reach", "CO2 / full's to it", "{:.3f}"),
    ("co2_vs_full_end", "CO2 / full's in all", "{:.3f}"),
)
REACH_KEYS = ("sched_t_reach", "sched_compute")  # the scheduled run's time and compute to the target
RATIOS = ("compute_vs_full_reach", "compute_vs_full_end", "time_vs_full_reach", "co2_vs_full_reach", "co2_vs_full_end")


def _cell(value: Any, fmt: str) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return fmt.format(value)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The pairs as a Markdown table, with a median row per scheduler."""
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    notes = []
    for scheduler in dict.fromkeys(r["scheduler"] for r in rows):
        mine = [r for r in rows if r["scheduler"] == scheduler]
        for r in mine:
            cells = [_cell(r[k], fmt) for k, _, fmt in COLUMNS]
            if not r["reached"]:  # what it spent in all, never reaching the target
                cells[[k for k, _, _ in COLUMNS].index("sched_compute")] = (
                    f"not reached ({r['sched_compute']:.2f} in all)"
                )
            lines.append("| " + " | ".join(cells) + " |")
        # a run that did not reach the target counts as infinitely late and costly (not its spend in all)
        med: dict[str, Any] = {
            k: median([r[k] if r["reached"] or k not in REACH_KEYS else math.inf for r in mine])
            for k, _, _ in COLUMNS[2:]
        }
        med.update(pair=f"**median of {len(mine)}**", scheduler=scheduler)
        reached = sum(r["reached"] for r in mine)
        lines.append("| " + " | ".join(_cell(med[k], fmt) for k, _, fmt in COLUMNS) + " |")
        notes.append(f"{scheduler}: {reached} of {len(mine)} runs reached the full-fidelity run's final best.")
    return "\n".join([*lines, "", *notes])


def regret_by_compute(run: RunFolder, grid: Sequence[float]) -> list[float]:
    """The run's simple regret (best full-fidelity value - optimum) once it had spent each compute of ``grid``.

    Infinite before its first full-fidelity value; the best value itself where the optimum is not known.
    """
    optimum = run.optimum if run.optimum is not None else 0.0
    points = [(spent_by(run.records, t).compute, best - optimum) for t, best in best_curve(run)]
    out = []
    for c in grid:
        reached = [r for spent, r in points if spent <= c + 1e-9]
        out.append(reached[-1] if reached else math.inf)  # none yet: worse than any
    return out


def figure(pairs: Sequence[Pair], path: Path) -> None:
    """Median simple regret (and the quartiles) against compute, full fidelity and scheduled, over the pairs.

    A run with no full-fidelity value yet counts as infinitely far: a curve starts where half the runs have one.
    Where an objective's optimum is not known (the CNN), the curves are of the best value itself, on a linear axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    top = max(spent_by(r.records, end_time(r)).compute for p in pairs for r in (p.full, p.scheduled))
    grid = list(np.linspace(0.0, top, 200))
    fig, ax = plt.subplots(figsize=(6, 4))
    fulls = list({id(p.full): p.full for p in pairs}.values())
    known_optimum = all(r.optimum is not None for p in pairs for r in (p.full, p.scheduled))
    arms = [("full fidelity", fulls)]
    arms += [
        (label, [p.scheduled for p in pairs if p.scheduler == label])
        for label in dict.fromkeys(p.scheduler for p in pairs)
    ]
    for label, runs in arms:
        curves = np.array([regret_by_compute(r, grid) for r in runs], dtype=float)
        with np.errstate(invalid="ignore"):  # a run with no value yet counts as infinitely far
            med = np.median(curves, axis=0)
            low, high = np.percentile(curves, 25, axis=0), np.percentile(curves, 75, axis=0)
        finite = np.isfinite(high) & np.isfinite(low)
        ax.plot(grid, np.where(np.isfinite(med), med, np.nan), label=f"{label} (median of {len(runs)})")
        ax.fill_between(grid, np.where(finite, low, np.nan), np.where(finite, high, np.nan), alpha=0.2)
    if known_optimum:
        ax.set_yscale("log")
    ax.set_xlabel("compute spent (worker-seconds)")
    ax.set_ylabel("simple regret (full-fidelity evaluations)" if known_optimum else "best full-fidelity value")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.early_stopping",
        description="compute, time and CO2 a scheduler saves to reach the full-fidelity run's final best",
    )
    parser.add_argument("paths", nargs="+", help="run folders or multirun folders")
    parser.add_argument(
        "--baseline",
        metavar="GROUP=NAME",
        help="pair each scheduled run with the full-fidelity run of this strategy (strategy=NAME) or arm "
        "(arm=NAME), the same in everything else, instead of the one differing only in its scheduler",
    )
    parser.add_argument("--figure", type=Path, help="also draw regret against compute into this PNG")
    args = parser.parse_args(argv)

    def fail(message: str) -> int:
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return 2

    try:
        baseline = parse_baseline(args.baseline) if args.baseline is not None else None
    except ValueError as exc:
        return fail(str(exc))
    missing = [p for p in args.paths if not Path(p).is_dir()]
    if missing:
        return fail(f"no such folder: {missing[0]}")
    runs = find_runs(args.paths)
    if baseline is not None and not baseline_runs(runs, baseline):
        found = sorted({c for r in runs if not _is_scheduled(r) and (c := _choice(r, baseline.group)) is not None})
        return fail(
            f"--baseline {baseline}: no full-fidelity run (scheduler=none) with {baseline} under "
            f"{' '.join(map(str, args.paths))} (full-fidelity runs there: {', '.join(found) or 'none'})"
        )
    pairs = pair_runs(runs, baseline)
    if not pairs:
        wanted = (
            f"a scheduled run and a {baseline} run at full fidelity, the same otherwise"
            if baseline
            else "a pair of runs differing only in their scheduler (scheduler=none and another)"
        )
        print(f"no pair found: {wanted}", file=sys.stderr)
        return 1
    if baseline is not None:
        print(f"full-fidelity runs: {baseline} (scheduler=none)\n")
    print(table([p.row() for p in pairs]))
    if args.figure is not None:
        figure(pairs, args.figure)
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
