"""The config schema of ``carbon:`` (its types), in Hydra's ConfigStore as ``schema/carbon``.

``conf/carbon/codecarbon.yaml`` extends it, so OmegaConf checks each type when the config is
composed and an unknown key is refused; :func:`bench.carbon.config.parse_carbon_config` keeps the
range and cross-field checks. Light on purpose (no codecarbon): the CLI registers it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GROUP = "schema"


@dataclass
class GreenAlgorithmsConf:
    """The Green Algorithms formula's declared hardware (Lannelongue et al. 2021)."""

    cores: float = 1.0
    usage: float | None = None
    power_per_core_w: float = 12.0
    memory_gb: float | None = None
    memory_power_w_per_gb: float = 0.3725


@dataclass
class CarbonConf:
    """How CO2 is measured (docs/carbon.md; conf/carbon/codecarbon.yaml documents each key)."""

    #: auto | codecarbon | green_algorithms | off (Any: YAML 1.1 reads a bare `off` as false)
    method: Any = "auto"
    carbon_intensity_g_per_kwh: float | None = None
    country_iso_code: str | None = None
    region: str | None = None
    pue: float = 1.0
    tracking_mode: str = "process"
    force_cpu_power_w: float | None = None
    force_ram_power_w: float | None = None
    log_level: str = "error"
    green_algorithms: GreenAlgorithmsConf = field(default_factory=GreenAlgorithmsConf)


SCHEMAS: dict[str, type] = {"carbon": CarbonConf}
