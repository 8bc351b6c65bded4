"""The config schemas of the schedulers (``conf/scheduler/*.yaml`` extend them).

``scheduler=none`` (the default) leaves ``scheduler`` null: every evaluation runs its full
resource, as before schedulers existed.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "schema/scheduler"


@dataclass
class AshaConf:
    """Asynchronous successive halving, stopping variant (``bench/schedulers/asha.py``)."""

    _target_: str = "bench.schedulers.asha.ASHA"
    eta: float = 3.0  # reduction factor: about 1/eta of the evaluations reaching a rung go on
    min_resource: float | None = None  # the first rung (null: the objective's smallest step)
    max_resource: float | None = None  # the top rung (null: the objective's full resource)
    # stopping: an evaluation below a rung's cutoff stops there; promotion: every evaluation pauses at
    # each rung and a free worker resumes the best one not yet promoted (from its checkpoint where it has one)
    type: str = "stopping"


@dataclass
class HyperbandConf(AshaConf):
    """Asynchronous Hyperband: brackets of ASHA, each starting one rung higher (``bench/schedulers/hyperband.py``)."""

    _target_: str = "bench.schedulers.hyperband.Hyperband"
    brackets: int | None = None  # how many brackets (null: one per rung)


SCHEMAS: dict[str, type] = {"asha": AshaConf, "hyperband": HyperbandConf}
