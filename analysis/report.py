"""Writes ``report.md``, the summary table (Markdown and CSV) and the figures into one folder."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.claims import check_claims, claims_markdown, claims_of
from analysis.figures import Figure, all_figures
from analysis.load import Loaded
from analysis.metrics import Spec, pick_baseline, summary_table, targets
from analysis.stats import robust_table

#: (column stem, heading, column holding its bound marker)
TABLE_COLUMNS = (
    ("n_seeds", "seeds", None),
    ("reached", "reached", None),
    ("evals_to_target", "evaluations to target", "to_target_bound"),
    ("time_to_target_s", "time to target (s)", "to_target_bound"),
    ("speedup_evals", "speed-up (evaluations)", "speedup_bound"),
    ("speedup_time", "speed-up (time)", "speedup_bound"),
    ("final_regret", "final regret", None),
    ("final_best", "final best", None),
    ("co2_kg", "kg CO2e", None),
    ("utilisation", "worker utilisation", None),
)
BOUNDS = {">=": "≥ ", "<=": "≤ "}


@dataclass
class Options:
    """What the command line asks for."""

    target: dict[str | None, Spec]
    tolerance: dict[str | None, Spec]
    baseline: str | None = None
    min_seeds: int | None = None
    gp_step: int | None = None
    grid_param: str | None = None
    stuck_above: dict[str | None, Spec] = field(default_factory=dict)


def fmt(mean: float, se: float = math.nan) -> str:
    """``mean ± se`` with three significant digits; ``–`` for a missing mean."""
    if mean is None or not math.isfinite(float(mean)):
        return "–"
    if se is None or not math.isfinite(float(se)):
        return f"{mean:.3g}"
    return f"{mean:.3g} ± {se:.2g}"


def table_markdown(table: pd.DataFrame) -> str:
    head = ["objective", "strategy", *[title for _, title, _ in TABLE_COLUMNS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in table.iterrows():
        cells = [str(row["objective"]), str(row["strategy"])]
        for key, _, bound_col in TABLE_COLUMNS:
            if key == "n_seeds":
                cells.append(str(int(row[key])))
            elif key == "reached":
                cells.append(f"{int(row['reached'])}/{int(row['n_seeds'])}")
            else:
                text = fmt(row[f"{key}_mean"], row[f"{key}_se"])
                bound = BOUNDS.get(str(row[bound_col])) if bound_col and bound_col in row else None
                cells.append(bound + text if bound and text != "–" else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _seed_range(seeds: pd.Series) -> str:
    lo, hi = int(seeds.min()), int(seeds.max())
    return f"{lo} seed{'s' if lo != 1 else ''}" if lo == hi else f"{lo}-{hi} seeds"


def _link(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _figures_markdown(figures: Sequence[Figure], out: Path) -> list[str]:
    lines: list[str] = []
    section = None
    for fig in figures:
        if fig.section != section:
            section = fig.section
            lines += ["", f"## {section}", ""]
        png = next(p for p in fig.files if p.suffix == ".png")
        others = ", ".join(f"[{p.suffix[1:].upper()}]({_link(p, out)})" for p in fig.files if p != png)
        lines += [
            f"### {fig.title}",
            "",
            f"![{fig.title}]({_link(png, out)})",
            "",
            f"{fig.caption} {others}".strip(),
            "",
        ]
    return lines


def write_report(loaded: Loaded, out: Path, options: Options) -> Path:
    """Writes ``report.md``, ``summary_table.md``/``.csv`` and ``figures/`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    notes = list(loaded.notes)
    target_of = targets(loaded.frame, options.target, options.tolerance)
    table, baselines = summary_table(loaded.frame, loaded.runs_frame, target_of, options.baseline)
    table.to_csv(out / "summary_table.csv", index=False)
    md_table = table_markdown(table)
    (out / "summary_table.md").write_text(md_table + "\n")
    stuck_above = {k: v.value for k, v in options.stuck_above.items()}
    robust, measure = robust_table(loaded.frame, loaded.runs_frame, baselines, stuck_above)
    robust.to_csv(out / "robust_table.csv", index=False)
    claims = check_claims(loaded.frame, loaded.runs_frame, claims_of([r.meta for r in loaded.runs]))
    if not claims.empty:
        claims.to_csv(out / "claims.csv", index=False)
    figures = all_figures(loaded, out / "figures", notes, options.min_seeds, options.gp_step, options.grid_param)

    runs = loaded.runs_frame
    seeds = runs.groupby(["objective", "label"])["run"].nunique()
    lines = [
        "# bobench report",
        "",
        f"{len(runs)} run(s): {runs['objective'].nunique()} objective(s), "
        f"{runs['label'].nunique()} strateg{'y' if runs['label'].nunique() == 1 else 'ies'}, "
        f"{_seed_range(seeds)} per line. Clock(s): "
        f"{', '.join(sorted(set(runs['clock'])))}. Carbon method(s): "
        f"{', '.join(sorted({m for v in runs['carbon_method'].dropna() for m in str(v).split(', ')})) or 'none'}.",
        "",
        "## Summary",
        "",
        "Mean ± standard error over seeds (SE = sample sd / sqrt(n); no SE with one seed). "
        "Time to target: evaluations and time until the best so far first reaches the target; a run "
        "that never does counts with all it spent, and the mean is then a lower bound (≥; column "
        "*reached* says how many runs reached it). Speed-up = baseline mean / strategy mean (> 1 is "
        "faster), SE by the delta method; ≥ or ≤ where one of the two means is a lower bound. "
        "kg CO2e per run: the summary.json total (evaluations + driver) where present, else the "
        "sum over evaluations in results.csv. See docs/analysis.md.",
        "",
    ]
    for objective, (target, how) in sorted(target_of.items()):
        base = baselines.get(objective, "none (the baseline did not run on it)")
        lines.append(f"- **{objective}**: target {fmt(target)} ({how}); baseline *{base}*.")
    lines += ["", md_table, "", "Table as CSV: [summary_table.csv](summary_table.csv).", ""]
    lines += claims_markdown(claims)
    lines += robust_markdown(robust, measure)
    lines += _figures_markdown(figures, out)
    lines += ["", "## Left out", ""]
    lines += [f"- {n}" for n in notes] if notes else ["Nothing was left out."]
    lines += [
        "",
        "## Runs",
        "",
        "| run | objective | strategy | seed | evaluations | failed | complete | kg CO2e |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in runs.iterrows():
        lines.append(
            f"| {r['run']} | {r['objective']} | {r['label']} | {r['seed']} | {r['n_evals']} | "
            f"{r['n_failed']} | {'yes' if r['complete'] else 'no'} | {fmt(r['co2_kg'])} |"
        )
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def robust_markdown(robust: pd.DataFrame, measure: Mapping[str, str]) -> list[str]:
    """The section of report.md that a few bad seeds cannot decide (see :mod:`analysis.stats`)."""
    if robust.empty:
        return []
    lines = [
        "## Robust statistics",
        "",
        "Per seed, the final value (" + "; ".join(f"{o}: {m}" for o, m in sorted(measure.items())) + "). "
        "Median [first quartile, third quartile] over seeds; *stuck*: seeds whose final value lies above the "
        "stated threshold (`--stuck-threshold`). Against the baseline, seed by seed: wins-ties-losses (lower is "
        "better), win rate (a tie counts half) with its 95% percentile-bootstrap interval, and the two-sided "
        "Wilcoxon signed-rank p-value of the paired differences.",
        "",
        "| objective | strategy | seeds | median [IQR] | stuck | vs baseline | W-T-L | win rate [95% CI] "
        "| Wilcoxon p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in robust.iterrows():
        stuck = (
            f"{int(r['stuck'])}/{int(r['stuck_of'])} above {r['stuck_threshold']:.3g}"
            if "stuck" in r and pd.notna(r.get("stuck"))
            else ""
        )
        if "baseline" in r and isinstance(r.get("baseline"), str) and int(r["pairs"]) > 0:
            versus = str(r["baseline"])
            wtl = f"{int(r['wins'])}-{int(r['ties'])}-{int(r['losses'])}"
            rate = f"{r['win_rate']:.2f} [{r['win_rate_ci_low']:.2f}, {r['win_rate_ci_high']:.2f}]"
            p_value = f"{r['wilcoxon_p']:.3g}"
        else:
            versus = wtl = rate = p_value = ""
        lines.append(
            f"| {r['objective']} | {r['strategy']} | {int(r['n_seeds'])} | {r['median']:.3g} "
            f"[{r['q1']:.3g}, {r['q3']:.3g}] | {stuck} | {versus} | {wtl} | {rate} | {p_value} |"
        )
    lines += ["", "Table as CSV: [robust_table.csv](robust_table.csv).", ""]
    return lines


__all__ = ["Options", "fmt", "pick_baseline", "robust_markdown", "table_markdown", "write_report"]
