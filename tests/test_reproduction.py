"""bobench-reproduce over a real (tiny) multirun of a preset that states claims."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli


def _reproduce(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "analysis.reproduction", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_the_page_states_every_claim_with_its_figure_and_evidence(tmp_path):
    # Six seeds: the fewest with which a paired test can reach p < 0.05. Tiny budgets: the page,
    # not the result, is under test here.
    run_cli(
        "experiment=riegler2026",
        "arm=asyUCB,asyTS",
        "seed=range(6)",
        "budget.seconds=1",
        "workers=2",
        "strategy.n_initial=2",
        "+debug=fast",
        "carbon=off",
        "hydra.sweep.dir=sweep/riegler2026",
        cwd=tmp_path,
        check=True,
    )
    proc = _reproduce("sweep/riegler2026", "--out", "docs/reproduction.md", "--command", "the sweep", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "docs" / "reproduction.md").read_text()
    assert "## riegler2026" in page and "Made with: `the sweep`" in page
    assert "12 runs: 2 arms × 6 seeds" in page
    # every claim row: asyUCB against asyTS is tested; asyLP and asyLogEI did not run
    assert "| riegler2026-ucb | hartmann6 | asyUCB no worse than asyTS |" in page
    assert "no runs of asyLP" in page and "no runs of asyLogEI" in page
    assert (tmp_path / "docs" / "figures" / "reproduction" / "riegler2026_hartmann6_regret.png").is_file()
    assert "](figures/reproduction/riegler2026_hartmann6_regret.png)" in page
    assert "### Robust statistics" in page
    assert "## Presets not run for this page" in page and "- `kandasamy_branin`: kandasamy2018-branin" in page
    if "**not reproduced**" in page:
        assert "#### Why the claims that did not reproduce did not" in page
    again = _reproduce("sweep/riegler2026", "--out", "docs/reproduction.md", "--command", "the sweep", cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "docs" / "reproduction.md").read_text() == page


def test_a_missing_folder_is_one_line_and_writes_nothing(tmp_path):
    proc = _reproduce("nowhere", "--out", "docs/reproduction.md", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["bobench-reproduce: error: nowhere: not a folder"]
    assert not (tmp_path / "docs").exists()
