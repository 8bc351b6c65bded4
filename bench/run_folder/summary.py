"""summary.json: the run's totals, rewritten while it runs (by count: bench.driver.SUMMARY_EVERY) and at its end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bench.run_folder.files import SUMMARY, atomic_write


def git_commit() -> str | None:
    """The commit bobench runs from, when it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    """Versions of the packages a run's numbers depend on (those installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bobench", "torch", "botorch", "gpytorch", "scikit-learn", "hydra-core", "ax-platform", "codecarbon"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def write_summary(folder: Path, summary: dict[str, Any], durable: bool = True) -> None:
    """Rewrites summary.json atomically; fsynced with ``durable`` (see :func:`~bench.run_folder.files.atomic_write`)."""
    atomic_write(folder / SUMMARY, json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n", durable)


def read_summary(folder: Path) -> tuple[dict[str, Any], str | None]:
    """summary.json as a mapping (empty when missing), and why it was not usable if it was not."""
    path = folder / SUMMARY
    if not path.is_file():
        return {}, None
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {}, f"{SUMMARY} unreadable ({exc}); treated as a partial run"
    if not isinstance(summary, dict):
        return {}, f"{SUMMARY} is not a JSON object; treated as a partial run"
    return summary, None
