"""Every executor in conf/executor keeps the executor contract (bench.testing.ExecutorContract).

A new executor is one class and one YAML: this class picks the YAML up.
"""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.testing import ExecutorContract
from tests.conftest import CONF, slurm_available

#: slurm joins when a cluster answers (.ci/run starts one); its own tests say why when none does.
EXECUTORS = sorted(p.stem for p in (CONF / "executor").glob("*.yaml") if p.stem != "slurm" or slurm_available())


class TestConfExecutor(ExecutorContract):
    @pytest.fixture(params=[pytest.param(e, marks=pytest.mark.slurm) if e == "slurm" else e for e in EXECUTORS])
    def make_executor(self, request, compose):
        node = OmegaConf.to_container(compose(f"executor={request.param}").executor, resolve=True)
        if request.param == "slurm":
            node["poll_interval_s"] = 0.3
        return lambda workers: instantiate(node, workers=workers, _convert_="all")
