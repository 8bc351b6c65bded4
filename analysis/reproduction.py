"""``bobench-reproduce``: docs/reproduction.md from the presets' multirun folders, claims and all.

Usage::

    bobench-reproduce multirun/kandasamy_hartmann6 multirun/riegler2026 --out docs/reproduction.md \
        [--stuck-threshold 0.05] [--command "the command that made the runs"]

Each folder holds the runs of one preset (a multirun of ``bobench experiment=<preset>``). For each
preset the page gets: its claims, each checked seed by seed (:mod:`analysis.claims`); the figure of
the median simple regret over seeds against time, with interquartile bands; the robust table
(median, quartiles, stuck seeds); and, for each claim that does not reproduce, the evidence measured:
both lines' medians and quartiles, their stuck seeds, the paired wins and the p-value. Nothing on
the page is typed in by hand: rerunning the command on the same folders writes the same page.

Bad input gives one line on stderr, ``bobench-reproduce: error: ...``, and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.errors import UserError

PROG = "bobench-reproduce"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Writes docs/reproduction.md from preset multirun folders.")
    p.add_argument("paths", nargs="+", metavar="FOLDER", help="one multirun folder per preset")
    p.add_argument("--out", required=True, metavar="FILE", help="the Markdown page to write, e.g. docs/reproduction.md")
    p.add_argument(
        "--stuck-threshold",
        type=float,
        default=0.05,
        metavar="REGRET",
        help="a seed whose final simple regret lies above it counts as stuck (default 0.05)",
    )
    p.add_argument("--command", metavar="TEXT", help="the command that made the runs, quoted on the page")
    return p


def _experiment(runs: pd.DataFrame, folder: Path) -> str:
    names = sorted({str(e) for e in runs["experiment"] if str(e)})
    if len(names) > 1:
        raise UserError(f"{folder}: holds runs of several presets ({', '.join(names)}); give one folder per preset")
    return names[0] if names else folder.name


def _evidence(claims: pd.DataFrame, robust: pd.DataFrame) -> list[str]:
    """For each claim that does not reproduce: what was measured, line by line."""
    lines: list[str] = []
    failed = claims[claims["verdict"] == "not reproduced"] if not claims.empty else claims
    if failed.empty:
        return lines
    lines += ["#### Why the claims that did not reproduce did not", ""]
    for _, r in failed.iterrows():

        def describe(label: str, objective: str = str(r["objective"])) -> str:
            row = robust[(robust["objective"] == objective) & (robust["strategy"] == label)]
            if row.empty:
                return f"{label}: no runs"
            x = row.iloc[0]
            stuck = f", {int(x['stuck'])}/{int(x['stuck_of'])} seeds stuck" if pd.notna(x.get("stuck")) else ""
            return f"{label}: median {x['median']:.3g} [{x['q1']:.3g}, {x['q3']:.3g}]{stuck}"

        lines.append(
            f"- *{r['claim']}* on {r['objective']}, {r['better']} against {r['than']} ({r['why']}): "
            f"{describe(str(r['better']))}; {describe(str(r['than']))}; "
            f"paired wins-ties-losses {int(r['wins'])}-{int(r['ties'])}-{int(r['losses'])}, "
            f"Wilcoxon p = {r['wilcoxon_p']:.3g}."
        )
    return [*lines, ""]


def presets_with_claims() -> dict[str, list[str]]:
    """Every preset in ``conf/experiment`` that states claims: its name and claim ids."""
    import yaml

    from bench.cli import CONF_DIR

    found: dict[str, list[str]] = {}
    for path in sorted((CONF_DIR / "experiment").glob("*.yaml")):
        node = yaml.safe_load(path.read_text()) or {}
        claims = node.get("claims") or []
        if claims:
            found[path.stem] = [str(c.get("id", "?")) for c in claims]
    return found


def not_run_section(covered: set[str]) -> list[str]:
    """The presets with claims that no folder covered: the page says they were not checked."""
    missing = {name: ids for name, ids in presets_with_claims().items() if name not in covered}
    if not missing:
        return []
    lines = [
        "## Presets not run for this page",
        "",
        "Their claims are not checked here (no run folder was given for them):",
        "",
    ]
    lines += [f"- `{name}`: {', '.join(ids)}" for name, ids in missing.items()]
    return [*lines, ""]


def preset_section(folder: Path, out: Path, figures_dir: Path, stuck_threshold: float) -> tuple[str, list[str]]:
    """The page's section for one preset's multirun folder."""
    from analysis.claims import check_claims, claims_markdown, claims_of
    from analysis.figures import _save, _slug, _theme, convergence_plot
    from analysis.load import load_runs
    from analysis.report import robust_markdown
    from analysis.stats import robust_table

    loaded = load_runs([folder])
    runs = loaded.runs_frame
    name = _experiment(runs, folder)
    claims = check_claims(loaded.frame, runs, claims_of([r.meta for r in loaded.runs]))
    robust, measure = robust_table(loaded.frame, runs, {}, {None: stuck_threshold})
    seeds = runs.groupby("label")["seed"].nunique()
    lines = [
        f"## {name}",
        "",
        f"{len(runs)} runs: {runs['label'].nunique()} arms × {int(seeds.min())}"
        + (f"–{int(seeds.max())}" if seeds.max() != seeds.min() else "")
        + f" seeds (seeds {int(runs['seed'].min())}–{int(runs['seed'].max())}), from `{folder.name}`.",
        "",
    ]
    _theme()
    for objective in sorted(set(runs["objective"])):
        drawn = convergence_plot(loaded, str(objective), "regret", center="median")
        if drawn is None:
            continue
        fig, _ = drawn
        files = _save(fig, figures_dir, f"{_slug(name)}_{_slug(str(objective))}_regret")
        png = next(p for p in files if p.suffix == ".png")
        rel = Path(os.path.relpath(png, out.parent)).as_posix()
        lines += [
            f"![{name}: {objective}]({rel})",
            "",
            f"*{objective}: median simple regret over seeds, interquartile band, against evaluations, time and CO2.*",
            "",
        ]
    if claims.empty:
        lines += ["This preset states no claim.", ""]
    else:
        table = claims_markdown(claims)
        lines += [ln.replace("## Claims", "### Claims") for ln in table if "Table as CSV" not in ln]
    lines += _evidence(claims, robust)
    robust_lines = robust_markdown(robust, measure)
    lines += [ln.replace("## Robust", "### Robust") for ln in robust_lines if "Table as CSV" not in ln]
    return name, lines


def write_page(
    paths: Sequence[str], out: Path, stuck_threshold: float, command: str | None, argv: Sequence[str] = ()
) -> Path:
    """Writes the page and its figures (``<out's folder>/figures/reproduction/``)."""
    if not math.isfinite(stuck_threshold):
        raise UserError(f"--stuck-threshold: expected a finite regret, got {stuck_threshold}")
    folders = [Path(p) for p in paths]
    for f in folders:
        if not f.is_dir():
            raise UserError(f"{f}: not a folder")
    if out.exists() and out.is_dir():
        raise UserError(f"--out: {out} is a folder; give the Markdown file to write")
    figures_dir = out.parent / "figures" / "reproduction"
    sections: list[str] = []
    covered: set[str] = set()
    for folder in folders:
        name, lines = preset_section(folder, out, figures_dir, stuck_threshold)
        covered.add(name)
        sections += lines
    sections += not_run_section(covered)
    made_by = shlex.join([PROG, *argv]) if command is None else command
    lines = [
        "# Reproducing the papers' claims",
        "",
        "Written by `bobench-reproduce` from the run folders named below; do not edit by hand. Each claim is "
        "data in its preset (`claims:` in `conf/experiment/*.yaml`) and is checked seed by seed "
        "(`analysis/claims.py`): the paired win rate with its 95% bootstrap interval and the two-sided "
        f"Wilcoxon signed-rank p-value. A seed is *stuck* when its final simple regret exceeds {stuck_threshold:g}.",
        "",
        f"Made with: `{made_by}`",
        "",
        *sections,
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        page = write_page(args.paths, Path(args.out), args.stuck_threshold, args.command, argv)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
