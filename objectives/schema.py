"""The config schemas of the objectives: their options and types, in Hydra's ConfigStore.

Each ``conf/objective/*.yaml`` extends one of these (``defaults: [/schema/objective/<name>@_here_,
_self_]``), so OmegaConf checks the types when the config is composed and an unknown key is
refused. ``space`` is an open mapping (``{name: {type, low, high, log, choices}}``): a preset or
an override may add parameters, and :meth:`bench.space.Space.from_config` checks each one. Range
checks stay in the objectives' constructors. This module stays light: the CLI registers it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

GROUP = "schema/objective"


@dataclass
class SyntheticConf:
    """A synthetic test function (``objectives/synthetic.py``)."""

    _target_: str = "objectives.synthetic.SyntheticObjective"
    name: str = MISSING
    function: str = MISSING  # branin | hartmann3 | hartmann6 | park1 | park2 | currin
    noise_std: float = 0.0  # Gaussian noise on the value; metric true_value stays noise-free
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class MultiFidelityConf:
    """A multi-fidelity synthetic function (``objectives/multi_fidelity.py``, docs/early-stopping.md)."""

    _target_: str = "objectives.multi_fidelity.MultiFidelitySynthetic"
    name: str = MISSING
    function: str = MISSING  # augmented_hartmann | augmented_branin
    steps: int = 27  # the fidelity grid 1/steps ... 1: where it reports, and its smallest fidelity
    cost_fixed: float = 0.0  # simulated seconds every evaluation pays once
    cost_per_fidelity: float = 1.0  # simulated seconds per unit of fidelity (executor.duration=cost)
    noise_std: float = 0.0
    sleep_per_fidelity: float = 0.0  # real seconds slept per unit of fidelity run (wall-clock executors)
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class QuadraticConf:
    """A cheap bowl with a known minimum (``objectives/toy.py``)."""

    _target_: str = "objectives.toy.Quadratic"
    name: str = "quadratic"
    centre: float = 0.3  # the minimum, as a share of each parameter's range
    sleep_s: float = 0.0  # seconds each evaluation sleeps
    noise_std: float = 0.0
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class FaultyConf(QuadraticConf):
    """The quadratic, misbehaving on purpose (``objectives/toy.py``, docs/faults.md)."""

    _target_: str = "objectives.toy.Faulty"
    name: str = "faulty"
    #: raise, nan, inf, none_value, string, exit, sigkill, segfault, hang, hang_ignore_term,
    #: children, memory, print, sys_exit, keyboard_interrupt, base_exception, spawn_child,
    #: surrogate, surrogate_metric, none (objectives/toy.py FAULTS)
    fault: str = "none"
    above: float = 0.5  # the share of x1's range beyond which the fault happens
    once_file: str | None = None  # if set, the fault happens only while this file does not exist


@dataclass
class SklearnConf:
    """Any scikit-learn estimator on a data set (``objectives/sklearn_objective.py``)."""

    _target_: str = "objectives.sklearn_objective.SklearnObjective"
    name: str = "sklearn"
    estimator: dict[str, Any] = MISSING  # {_target_: sklearn..., its keyword arguments} (open)
    data: dict[str, Any] | None = None  # {kind: make_classification | digits | ..., its arguments} (open)
    split: dict[str, Any] | None = None  # {stratify, random_state, test_size...} (open)
    cv: int | None = None  # k for k-fold cross-validation on the training split instead of the test score
    metric: str = "neg_accuracy"  # or loss: the final training loss (clf.loss_)
    seed_param: str | None = None  # an estimator parameter that receives each evaluation's seed
    # train by partial_fit and report every this many iterations (up to estimator.max_iter), so that a
    # scheduler (scheduler=asha) can stop it early; null: one fit (docs/early-stopping.md)
    report_every: int | None = None
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class CNNConf:
    """The worksheet's CNN (``objectives/cnn.py``, docs/cnn.md); conf/objective/cnn.yaml documents it."""

    _target_: str = "objectives.cnn.CNNObjective"
    name: str = "cnn"
    dataset: str = "mnist"
    root: str = "data/mnist"
    download: bool = False
    epochs: int = 2
    max_train_images: int | None = None
    val_fraction: float = 0.1
    val_images: int | None = None
    max_test_images: int | None = None
    split_seed: int = 0
    lr: float = 5.0e-4
    batch_size: int = 64
    dropout: float = 0.25
    weight_decay: float = 0.0
    channels: list[int] = field(default_factory=lambda: [16, 32])
    hidden: int = 128
    metric: str = "neg_val_accuracy"
    device: str = "auto"
    threads: int | None = None
    deterministic: bool = True
    checkpoint: bool = True  # per-epoch checkpoints in <run>/evals/<eval_id>/: a re-run continues
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class FunctionConf:
    """A plain function from the user's code (``objectives/function.py``, docs/your-objective.md)."""

    _target_: str = "objectives.function.FunctionObjective"
    name: str | None = None  # default: the target
    target: str | None = None  # package.module:function, called as fn(**params) (and seed= if it takes one)
    path: list[str] = field(default_factory=list)  # folders put on sys.path first (the start folder always is)
    optimum: float | None = None  # the known minimum, for regret
    # its resource for a scheduler, {name, minimum, maximum, integer, checkpoints}: it calls
    # bench.objective.reporter() (docs/early-stopping.md)
    fidelity: dict[str, Any] = field(default_factory=dict)  # {}: none
    space: dict[str, Any] = field(default_factory=dict)


@dataclass
class CommandConf:
    """Any program (``objectives/command.py``, docs/your-objective.md)."""

    _target_: str = "objectives.command.CommandObjective"
    name: str | None = None  # default: the program and its first argument
    command: str | None = None  # 'python train.py --lr {lr}': {name} per parameter, {seed} the evaluation's seed
    cwd: str | None = None  # where it runs (default: the folder bobench was started in)
    timeout_s: float | None = None  # seconds before its process group is killed and the evaluation fails
    optimum: float | None = None  # the known minimum, for regret
    # its resource for a scheduler, {name, minimum, maximum, integer, checkpoints}: {fidelity} and
    # {resume_from} in the command, a JSON line {"step": ..., "value": ...} per report on stdout
    fidelity: dict[str, Any] = field(default_factory=dict)  # {}: none
    space: dict[str, Any] = field(default_factory=dict)


SCHEMAS: dict[str, type] = {
    "synthetic": SyntheticConf,
    "multi_fidelity": MultiFidelityConf,
    "quadratic": QuadraticConf,
    "faulty": FaultyConf,
    "sklearn": SklearnConf,
    "cnn": CNNConf,
    "function": FunctionConf,
    "command": CommandConf,
}
