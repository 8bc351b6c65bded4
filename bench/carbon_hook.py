"""Where the driver meets the carbon meters: per-worker meters, the driver's own span, totals."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.executors.base import MeterFactory


@dataclass
class Meters:
    """The run's energy accounting: a factory for worker meters and the driver's own tally."""

    worker_factory: MeterFactory | None = None
    driver_meter: Any = None
    driver_energy_kwh: float = 0.0
    driver_co2_kg: float = 0.0
    driver_method: str | None = None
    methods: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, cfg: DictConfig, simulated: bool) -> Meters:
        node = cfg.get("carbon")
        if node is None:
            return cls()
        carbon_cfg = OmegaConf.to_container(node, resolve=True)
        if not isinstance(carbon_cfg, dict) or carbon_cfg.get("method", "auto") == "off":
            return cls()
        from bench import carbon

        return cls(
            worker_factory=carbon.meter_factory(carbon_cfg, simulated=simulated),
            driver_meter=carbon.driver_meter(carbon_cfg),
        )

    @contextlib.contextmanager
    def driver_span(self) -> Iterator[None]:
        """Charges the time spent inside (a BO decision) to the driver."""
        if self.driver_meter is None:
            yield
            return
        import time

        self.driver_meter.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            kwh, kg, method = self.driver_meter.stop(time.perf_counter() - t0)
            self.driver_energy_kwh += kwh or 0.0
            self.driver_co2_kg += kg or 0.0
            self.driver_method = method

    def totals(self, finals: list[dict[str, Any]]) -> dict[str, Any]:
        """Energy and CO2 of the evaluations, of the driver, and of both, with the methods used."""

        def total(key: str) -> float | None:
            values = [f.get(key) for f in finals if isinstance(f.get(key), int | float)]
            return sum(values) if values else None

        e_kwh, e_kg = total("energy_kwh"), total("co2_kg")
        methods = sorted({f["carbon_method"] for f in finals if f.get("carbon_method")})
        measured = e_kwh is not None or self.driver_method is not None
        return {
            "energy_kwh": ((e_kwh or 0.0) + self.driver_energy_kwh) if measured else None,
            "co2_kg": ((e_kg or 0.0) + self.driver_co2_kg) if measured else None,
            "carbon": {
                "evaluations": {"energy_kwh": e_kwh, "co2_kg": e_kg, "methods": methods},
                "driver": {
                    "energy_kwh": self.driver_energy_kwh if self.driver_method else None,
                    "co2_kg": self.driver_co2_kg if self.driver_method else None,
                    "method": self.driver_method,
                },
            },
        }
