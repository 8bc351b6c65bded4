"""The package installs anywhere: a built wheel in a fresh virtual environment runs ``bobench``.

Nothing here imports the repository's own modules: the wheel is built from the source tree,
installed with its dependencies into a new venv, and the CLI runs from an unrelated folder, so
the configs must come from the installed package (``bench.conf``), not from the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def test_a_built_wheel_runs_bobench_from_any_directory(tmp_path: Path) -> None:
    # No PYTHONPATH: a checkout on it (with its bobench.egg-info) would pass for an installed bobench.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = tmp_path / "dist"
    # The wheel is built from a copy of the tracked files, as `pip wheel` on a fresh clone would.
    src = tmp_path / "src"
    files = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    build_wheel = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        f"--wheel-dir={dist}",
        ".",
    ]
    _run(build_wheel, src, clean)
    wheels = list(dist.glob("bobench-*.whl"))
    assert len(wheels) == 1, wheels

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # torch first, pinned to the build already installed here, so pip takes it and pulls no CUDA build.
    import torch

    torch_pin = f"torch=={torch.__version__.split('+')[0]}"
    pip_install = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", torch_pin, str(wheels[0])]
    _run(pip_install, tmp_path, clean)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(clean)
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    located = _run([str(py), "-c", "import bench.conf, bench.cli; print(bench.cli.CONF_DIR)"], elsewhere, env)
    conf_dir = Path(located.stdout.strip())
    assert conf_dir.is_relative_to(env_dir) and not conf_dir.is_relative_to(ROOT), conf_dir
    run_dir = elsewhere / "run"
    out = _run(
        [str(env_dir / "bin" / "bobench"), "budget.evaluations=3", "carbon=off", f"hydra.run.dir={run_dir}"],
        elsewhere,
        env,
    )
    assert "evaluations: 3 (0 failed)" in out.stdout, out.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_evals"] == 3 and summary["status"] == "budget.evaluations"
