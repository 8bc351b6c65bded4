"""Every executor in conf/executor keeps the executor contract (bench.testing.ExecutorContract).

A new executor is one class and one YAML: this class picks the YAML up.
"""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.testing import ExecutorContract
from tests.conftest import CONF, slurm_available

EXECUTORS = sorted(p.stem for p in (CONF / "executor").glob("*.yaml"))
#: slurm's tests run when a cluster answers (.ci/run starts one) and are skipped otherwise; they are
#: collected either way, so that every xdist worker collects the same tests.
SLURM_UP = slurm_available()


class TestConfExecutor(ExecutorContract):
    @pytest.fixture(params=[pytest.param(e, marks=pytest.mark.slurm) if e == "slurm" else e for e in EXECUTORS])
    def make_executor(self, request, compose):
        node = OmegaConf.to_container(compose(f"executor={request.param}").executor, resolve=True)
        if request.param == "slurm":
            if not SLURM_UP:
                pytest.skip("needs the Slurm cluster (scripts/slurm/start.sh)")
            node["poll_interval_s"] = 0.3
        return lambda workers: instantiate(node, workers=workers, _convert_="all")
