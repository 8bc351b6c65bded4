"""Helpers shared by the benchmark scripts: compose the real config and run the real driver."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONF = Path(__file__).resolve().parent.parent / "conf"


def compose(*overrides: str) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from bench.schema import register

    register()  # the typed schemas the YAML files extend
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=[*overrides, "progress=false"])
    GlobalHydra.instance().clear()
    return cfg


def run(*overrides: str, folder: Path | None = None) -> tuple[dict[str, Any], Path]:
    """Runs one experiment with the real driver; returns its summary and run folder."""
    from bench.driver import Driver

    run_dir = folder or Path(tempfile.mkdtemp(prefix="bobench-bench-")) / "run"
    summary = Driver(compose(*overrides), run_dir).run()
    return summary, run_dir


def variant_parser(reserved: set[str]) -> Callable[[str], tuple[str, list[str]]]:
    """An argparse type for ``NAME=KEY=VALUE,KEY=VALUE`` -> (NAME, [KEY=VALUE, ...]).

    A NAME in ``reserved`` (the script's own arms or variants), no pair, or a pair without ``=``
    is a one-line error.
    """

    def parse(text: str) -> tuple[str, list[str]]:
        name, _, rest = text.partition("=")
        pairs = [p for p in rest.split(",") if p]
        if not name or name in reserved or not pairs or any("=" not in p for p in pairs):
            raise argparse.ArgumentTypeError(f"expected NAME=KEY=VALUE[,KEY=VALUE] with a new NAME, got {text!r}")
        return name, pairs

    return parse
