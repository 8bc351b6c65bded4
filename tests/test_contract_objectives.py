"""Every objective in conf/objective keeps the objective contract (bench.testing.ObjectiveContract).

A new objective is one class and one YAML: this class picks the YAML up (the function and
command objectives get their example code, examples/, from USER_CODE). The CNN runs on
scikit-learn's bundled digits here (conf/debug/fast.yaml), so no MNIST files are needed.
"""

from __future__ import annotations

import sys

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.debug import apply_debug
from bench.testing import ObjectiveContract
from tests.conftest import CONF, ROOT

OBJECTIVES = sorted(p.stem for p in (CONF / "objective").glob("*.yaml"))
EXAMPLES = ROOT / "examples"
#: What an objective with nothing of its own to tune needs: the user's code (examples/) and a space.
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


class TestConfObjective(ObjectiveContract):
    @pytest.fixture(params=OBJECTIVES)
    def make_objective(self, request, compose):
        cfg = compose(f"objective={request.param}", "+debug=fast", *USER_CODE.get(request.param, []))
        apply_debug(cfg)
        node = OmegaConf.to_container(cfg.objective, resolve=True)
        return lambda: instantiate(node, _recursive_=False, _convert_="all")
