"""The config schemas of the executors: their options, types and defaults, in Hydra's ConfigStore.

Each ``conf/executor/*.yaml`` extends one of these (``defaults: [/schema/executor/<name>@_here_,
_self_]``), so OmegaConf checks the types when the config is composed and an unknown key is
refused. The defaults are written here only; the executors' constructors take theirs from these
classes. ``workers`` is the run's (``bench/schema.py``), passed to the constructor by the build.
Range checks stay in the constructors. This module stays light: the CLI registers it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

GROUP = "schema/executor"

#: The only environment variables Slurm jobs see from the driver (plus Slurm's own SLURM_*); no
#: credentials among them. A config adds the names a job truly needs (e.g. WANDB_API_KEY).
DEFAULT_ENV_PASSTHROUGH = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "LD_LIBRARY_PATH",
)


@dataclass
class InlineConf:
    """Each evaluation in the driver's own process (``bench/executors/inline.py``)."""

    _target_: str = "bench.executors.inline.InlineExecutor"
    #: per-evaluation time limit in seconds (SIGALRM in the driver); null: none, or budget.seconds when set
    timeout_s: float | None = None


@dataclass
class LocalConf:
    """Long-lived worker processes on this machine (``bench/executors/local.py``)."""

    _target_: str = "bench.executors.local.LocalExecutor"
    start_method: str = "spawn"  # safe with torch; fork is faster to start but unsafe after threads exist
    #: per-evaluation time limit in seconds (the worker is killed); null: none, or budget.seconds when set
    timeout_s: float | None = None
    start_timeout_s: float = 300.0  # how long a worker may take to start and run the objective's setup
    memory_limit_mb: int | None = None  # address-space limit per worker
    threads: int | None = None  # torch/OpenMP threads per worker (null: library default)


@dataclass
class SimulatedConf:
    """A virtual clock (``bench/executors/simulated.py``)."""

    _target_: str = "bench.executors.simulated.SimulatedExecutor"
    duration: str = "exponential"  # exponential | uniform | halfnormal | pareto | cost
    pareto_k: float = 3.0  # Pareto shape (> 1); scale (k-1)/k gives mean 1
    uniform_low: float = 0.0  # uniform on [a, 2 - a] (mean 1)
    mean: float = 1.0  # mean duration of the random distributions
    seed: int = MISSING  # durations derive from (seed, eval_id, attempt); the YAML sets ${seed}
    charge_decision_time: bool = False  # true: each decision's real time also passes on the clock
    #: with charge_decision_time, the time charged: wall (the decision's seconds) | cpu (the driver's CPU
    #: seconds during it, an idle core's time on a shared machine; a background fit's process is not counted)
    decision_clock: str = "wall"
    #: per-evaluation limit on the call's *real* time in seconds (SIGALRM in the driver); null: none
    timeout_s: float | None = None


@dataclass
class SlurmConf:
    """One Slurm job per evaluation through submitit (``bench/executors/slurm.py``, docs/slurm.md)."""

    _target_: str = "bench.executors.slurm.SlurmExecutor"
    partition: str | None = None  # null: the cluster's default partition
    #: per evaluation; fractions allowed (Slurm gets whole minutes, bobench enforces the rest)
    time_limit_min: float = 60.0
    cpus_per_task: int = 1  # also the job's default OMP_NUM_THREADS
    gpus_per_node: int = 0
    mem_gb: float | None = None  # null: the partition's default
    qos: str | None = None
    account: str | None = None
    #: shell lines run in each job first, e.g. ["module load cuda", "source .venv/bin/activate"]
    setup: list[str] = field(default_factory=list)
    folder: str | None = None  # submitit's files; null: <run folder>/submitit (chmod 700)
    poll_interval_s: float = 1.0  # how often the driver looks for finished jobs
    #: grace beyond time_limit_min before bobench cancels a job (timeout), and how long a job may
    #: be unknown to Slurm without a result before it counts as lost
    deadline_s: float = 120.0
    max_requeue: int = 0  # 0: --no-requeue (the driver retries cancelled/crashed/lost evaluations itself)
    job_name: str = "bobench"
    cancel_on_close: bool = True  # scancel jobs still running when the driver stops normally or on Ctrl-C
    env_passthrough: list[str] = field(default_factory=lambda: list(DEFAULT_ENV_PASSTHROUGH))
    #: more #SBATCH flags, e.g. {constraint: a100, exclusive: true} (an open mapping)
    additional_parameters: dict[str, Any] = field(default_factory=dict)


SCHEMAS: dict[str, type] = {
    "inline": InlineConf,
    "local": LocalConf,
    "simulated": SimulatedConf,
    "slurm": SlurmConf,
}
