"""``bobench-report``: figures, a summary table and report.md from run folders.

Usage::

    bobench-report multirun/2025-01-01/12-00-00 outputs/run1 --out report/ \
        [--baseline random] [--target [OBJECTIVE=]VALUE] [--tolerance [OBJECTIVE=]VALUE[%]] \
        [--min-seeds N] [--gp-step K] [--grid-param lr]

Bad input gives one line on stderr, ``bobench-report: error: ...``, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import UserError

PROG = "bobench-report"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Loads bobench run folders (or multirun folders holding them) and writes "
        "figures (PNG and PDF), a summary table (Markdown and CSV) and report.md.",
    )
    p.add_argument("paths", nargs="+", metavar="FOLDER", help="run folders or multirun folders")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the report (not a run folder)")
    p.add_argument(
        "--baseline",
        metavar="STRATEGY",
        help="speed-ups are against this strategy (default: random search if present, else the first alphabetically)",
    )
    p.add_argument(
        "--target",
        action="append",
        metavar="[OBJECTIVE=]VALUE",
        help="value to reach (default: best found across strategies + tolerance); repeatable",
    )
    p.add_argument(
        "--tolerance",
        action="append",
        metavar="[OBJECTIVE=]VALUE[%%]",
        help="absolute, or N%% of (median value - best found); default 5%%; repeatable",
    )
    p.add_argument(
        "--min-seeds",
        type=int,
        metavar="N",
        help="plot a line's mean where at least N seeds have a value (default: all)",
    )
    p.add_argument(
        "--gp-step", type=int, metavar="K", help="refit the 1-D GP on the first K points (default: all but the last)"
    )
    p.add_argument("--grid-param", metavar="NAME", help="the learning-rate parameter of Figure 1")
    p.add_argument(
        "--stuck-threshold",
        action="append",
        metavar="[OBJECTIVE=]VALUE",
        help="a seed whose final regret (or best value) lies above VALUE counts as stuck; repeatable",
    )
    return p


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def run(argv: Sequence[str] | None = None) -> Path:
    """Parses ``argv``, loads the runs and writes the report; returns report.md's path.

    Raises:
        UserError: bad options, missing or unreadable folders, an output inside a run folder.
    """
    args = build_parser().parse_args(argv)
    from analysis.metrics import parse_specs, pick_baseline

    target = parse_specs(args.target, "--target")
    tolerance = parse_specs(args.tolerance, "--tolerance", allow_percent=True)
    stuck_above = parse_specs(args.stuck_threshold, "--stuck-threshold")
    if args.min_seeds is not None and args.min_seeds < 1:
        raise UserError(f"--min-seeds: must be at least 1, got {args.min_seeds}")
    if args.gp_step is not None and args.gp_step < 2:
        raise UserError(f"--gp-step: a GP needs at least 2 points, got {args.gp_step}")
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {args.out} exists and is not a folder")

    from analysis.load import load_runs
    from analysis.report import Options, write_report

    loaded = load_runs(args.paths)
    for run in loaded.runs:
        if _inside(out, run.path.resolve()):
            raise UserError(f"--out: {args.out} lies inside the run folder {run.path}; analysis never writes there")
    if args.baseline is not None:
        pick_baseline(list(loaded.runs_frame["label"]), args.baseline)
    options = Options(
        target, tolerance, args.baseline, args.min_seeds, args.gp_step, args.grid_param, stuck_above=stuck_above
    )
    return write_report(loaded, out, options)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``bobench-report``; returns the exit status."""
    try:
        report = run(argv)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
