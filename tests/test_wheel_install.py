"""The package installs anywhere: a built wheel in a fresh virtual environment runs ``bobench``.

Nothing here imports the repository's own modules: the wheel is built from the source tree,
installed with its dependencies into a new venv, and the CLI runs from an unrelated folder, so
the configs must come from the installed package (``bench.conf``), not from the checkout.
It is installed as the README says, torch first and then ``bobench[vision]``: the vision extra
must keep that torch (one torch in ``pip list``, no CUDA packages), and the core must run its
defaults without the other extras, naming each missing one in one line.
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


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, returncode: int = 0
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == returncode, (
        f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    )
    return out


def _installed(py: Path, cwd: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """``pip list`` of a venv: each distribution's versions (more than one would be a broken venv)."""
    listed = _run([str(py), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"], cwd, env)
    out: dict[str, list[str]] = {}
    for dist in json.loads(listed.stdout):
        out.setdefault(dist["name"].lower(), []).append(dist["version"])
    return out


def test_a_built_wheel_with_the_vision_extra_keeps_torch_and_runs_bobench_from_any_directory(tmp_path: Path) -> None:
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
    # torch first, pinned to the build already installed here, so pip takes it and pulls no CUDA build;
    # then the wheel with the vision extra, whose torchvision pin must keep that torch.
    import torch

    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, f"torch=={torch.__version__.split('+')[0]}"], tmp_path, clean)
    first = _installed(py, tmp_path, clean)["torch"]
    assert len(first) == 1, first
    _run([*pip, f"{wheels[0]}[vision]"], tmp_path, clean)
    installed = _installed(py, tmp_path, clean)
    assert installed["torch"] == first, f"bobench[vision] replaced torch {first} with {installed['torch']}"
    assert "torchvision" in installed
    assert not [name for name in installed if name.startswith("nvidia-")], "CUDA packages pulled in"
    assert not {"ax-platform", "codecarbon"} & set(installed), "an optional part came with the core"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(clean)
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    located = _run([str(py), "-c", "import bench.conf, bench.cli; print(bench.cli.CONF_DIR)"], elsewhere, env)
    conf_dir = Path(located.stdout.strip())
    assert conf_dir.is_relative_to(env_dir) and not conf_dir.is_relative_to(ROOT), conf_dir
    run_dir = elsewhere / "run"
    bobench = str(env_dir / "bin" / "bobench")
    out = _run([bobench, "budget.evaluations=3", f"hydra.run.dir={run_dir}"], elsewhere, env)  # the defaults
    assert "evaluations: 3 (0 failed)" in out.stdout, out.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_evals"] == 3 and summary["status"] == "budget.evaluations"
    # Without the carbon extra the default carbon method says so once and uses the formula.
    assert out.stderr.count("pip install 'bobench[carbon]'") == 1, out.stderr

    # A part that needs a missing extra: one line naming it, exit 2, before any work.
    ax = _run([bobench, "strategy=ax", f"hydra.run.dir={elsewhere / 'ax'}"], elsewhere, env, returncode=2)
    assert ax.stderr == "bobench: error: strategy=ax needs the 'ax' extra: pip install 'bobench[ax]'\n", ax.stderr
    assert not (elsewhere / "ax" / "journal.jsonl").exists()

    # torchvision from PyPI is built for PyPI's (CUDA) torch: beside a CPU build it cannot load,
    # and the MNIST download says so in one line with the command for the CPU wheel.
    loads = subprocess.run([str(py), "-c", "import torchvision.datasets"], cwd=elsewhere, env=env, capture_output=True)
    if loads.returncode != 0:
        mnist = [
            bobench,
            "objective=cnn",
            "objective.download=true",
            f"objective.root={elsewhere / 'data'}",
            "carbon=off",
        ]
        cnn = _run([*mnist, f"hydra.run.dir={elsewhere / 'cnn'}"], elsewhere, env, returncode=2)
        assert cnn.stderr.count("\n") == 1 and cnn.stderr.startswith("bobench: error: objective.download:"), cnn.stderr
        if torch.version.cuda is None:
            assert "--index-url https://download.pytorch.org/whl/cpu" in cnn.stderr, cnn.stderr
