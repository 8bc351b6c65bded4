"""Shared fixtures: configs composed from the real conf/ tree, and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
EXAMPLES = ROOT / "examples"
#: What objective=function and objective=command need to run: the user's code (examples/) and a space.
USER_CODE = {
    "function": [
        "objective.target=train:objective",
        f"objective.path=[{EXAMPLES}]",
        "+objective.space.lr={type: float, low: 1e-3, high: 0.1, log: true}",
        "+objective.space.hidden={type: int, low: 4, high: 32}",
    ],
    "command": [
        f'objective.command="{sys.executable} {EXAMPLES / "bowl.py"}"',
        "+objective.space.x={type: float, low: 0.0, high: 1.0}",
        "+objective.space.y={type: float, low: 0.0, high: 1.0}",
    ],
}

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _register_schemas() -> None:
    from bench.schema import register

    register()  # the typed schemas the YAML files extend, before any test composes


_register_schemas()


@pytest.fixture
def compose() -> Callable[..., Any]:
    """Composes ``conf/config.yaml`` with overrides, as the CLI does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    def _compose(*overrides: str) -> Any:
        # Loop-level tests charge energy by the declared power model (carbon=fixed) rather than
        # probing the machine with codecarbon (about 1.4 s a process); tests that name
        # carbon= themselves, and the CLI tests, use what they name or the default.
        if not any(o.startswith("carbon=") for o in overrides):
            overrides = ("carbon=fixed", *overrides)
        _register_schemas()
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            return hydra_compose(config_name="config", overrides=list(overrides))

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def smooth_gp_data() -> tuple[Any, Any]:
    """``(X (40, 4), Y (40, 1))`` in float64: a smooth function off the standard scale and offset."""
    import torch

    g = torch.Generator().manual_seed(3)
    X = torch.rand(40, 4, generator=g, dtype=torch.float64)
    return X, (torch.sin(5 * X).sum(dim=-1, keepdim=True) + 3.0) * 2.0


@pytest.fixture(scope="module")
def fitted_default_gp(smooth_gp_data: tuple[Any, Any]) -> Any:
    """bobench's default GP (``build_gp``) fitted to :func:`smooth_gp_data`, in eval mode."""
    from bench.strategies.gp import build_gp, fit_hyperparameters

    gp = build_gp(*smooth_gp_data)
    fit_hyperparameters(gp, seed=0)
    return gp.eval()


def run_cli(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m bench ARGS`` in ``cwd`` (the user's shell, not an import)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"bobench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Starts ``python -m bench ARGS`` in ``cwd`` without waiting (to signal or kill it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(done: Callable[[], bool], proc: subprocess.Popen[str] | None, watch: Path, stall: float = 600.0) -> None:
    """Polls ``done()`` while ``proc`` (if given) lives, failing only if ``watch`` (a journal) stops
    growing for ``stall`` seconds: however slow a loaded machine is, a run that moves on is waited
    for, and only a run that hangs fails the test."""
    last_size, last_change = -1, time.monotonic()
    while not done():
        if proc is not None:
            assert proc.poll() is None, "the driver ended before the awaited point"
        size = watch.stat().st_size if watch.exists() else -1
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        assert time.monotonic() - last_change < stall, f"{watch} did not grow for {stall:.0f} s"
        time.sleep(0.05)


def read_journal(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines() if line.strip()]


def final_results(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == "result" and r.get("final", True)]


def slurm_available() -> bool:
    """Whether a Slurm controller answers (scripts/slurm/start.sh starts one on this machine)."""
    import shutil

    if not shutil.which("sinfo"):
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (it appends them to the node ids)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the one local Slurm cluster run in one xdist group, one after the other, on
    one worker, in the order they are written (some restart the daemons); the other worker runs
    the rest. The group is scheduled first, then the ``slow`` tests, so that the longest work
    starts at once rather than last. Every worker sorts the same way, so their collections match.
    """
    for item in items:
        if item.get_closest_marker("slurm") is not None:
            item.add_marker(pytest.mark.xdist_group("slurm"))

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slurm") is not None:
            return 0
        return 1 if item.get_closest_marker("slow") is not None else 2

    items.sort(key=rank)  # stable: collection order within each rank


#: Slurm tests that xdist left out of their group (see pytest_collection_finish).
_UNGROUPED: set[str] = set()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Notes Slurm tests that xdist did not put in their group, so that they fail, not overlap.

    xdist groups by appending ``@<group>`` to each node id; with pytest 9.2 that no longer takes
    effect (pytest-dev/pytest-xdist#1386) and the group's tests would be spread over the workers,
    one restarting the daemons while another waits on a job (hence pytest<9.2 in the dev extra).
    """
    if getattr(session.config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        _UNGROUPED.update(i.nodeid for i in session.items if i.get_closest_marker("slurm") and "@" not in i.nodeid)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.nodeid in _UNGROUPED:
        pytest.fail(
            "xdist did not put this Slurm test in the slurm group: with this pytest and pytest-xdist "
            "the Slurm tests would run at once (pytest-dev/pytest-xdist#1386); install the dev extra's "
            "pytest (<9.2) or run with -n0",
            pytrace=False,
        )
