"""Where the driver meets the carbon meters: per-worker meters, the driver's own span, totals."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.carbon.config import CarbonSettings
from bench.carbon.meter import DriverMeter, MeterFactory


@dataclass
class DecisionEnergy:
    """What one BO decision cost the driver; filled in when its span ends."""

    kwh: float | None = None
    kg: float | None = None
    method: str | None = None


@dataclass
class Meters:
    """The run's energy accounting: a factory for worker meters and the driver's own meter.

    Built by :func:`bench.build.build` from the parsed ``carbon:`` config, without starting
    anything (so that a pre-check may build every job's parts); the driver calls :meth:`open`
    to build its own meter in its process. Nothing is accumulated here: each decision's energy
    goes into the journal with its ``submit`` records, so totals are derived from the journal
    (:func:`totals`) and survive a resume.

    Attributes:
        settings: the parsed ``carbon:`` config; None (no ``carbon:`` node) or ``method: off``
            measures nothing.
        simulated: the executor's clock is simulated (worker meters then charge the durations
            they are given; the driver's decisions are always on the real clock).
        driver_meter: the driver's meter once :meth:`open` has built it.
    """

    settings: CarbonSettings | None = None
    simulated: bool = False
    driver_meter: DriverMeter | None = field(default=None, compare=False)

    @property
    def enabled(self) -> bool:
        return self.settings is not None and self.settings.enabled

    @property
    def worker_factory(self) -> MeterFactory | None:
        """The picklable factory each executor calls once per worker process (None when off)."""
        if self.settings is None or not self.settings.enabled:
            return None
        return MeterFactory(self.settings, bool(self.simulated))

    def open(self) -> Meters:
        """Builds the driver's meter in this process (it may start codecarbon here); idempotent."""
        if self.settings is not None and self.settings.enabled and self.driver_meter is None:
            self.driver_meter = DriverMeter(self.settings)
        return self

    @contextlib.contextmanager
    def driver_span(self) -> Iterator[DecisionEnergy]:
        """Measures the time spent inside (a BO decision); the result is filled in at the end."""
        spent = DecisionEnergy()
        if self.driver_meter is None:
            yield spent
            return
        import time

        self.driver_meter.start()
        t0 = time.perf_counter()
        try:
            yield spent
        finally:
            spent.kwh, spent.kg, spent.method = self.driver_meter.stop(time.perf_counter() - t0)


def totals(finals: list[dict[str, Any]], submits: list[dict[str, Any]]) -> dict[str, Any]:
    """Energy and CO2 of the evaluations (final results) and of the driver's decisions (submits)."""

    def total(records: list[dict[str, Any]], key: str) -> float | None:
        values: list[float] = [v for r in records if isinstance(v := r.get(key), int | float)]
        return sum(values) if values else None

    e_kwh, e_kg = total(finals, "energy_kwh"), total(finals, "co2_kg")
    d_kwh, d_kg = total(submits, "decision_kwh"), total(submits, "decision_co2_kg")
    methods = sorted({f["carbon_method"] for f in finals if f.get("carbon_method")})
    driver_methods = sorted({s["decision_carbon_method"] for s in submits if s.get("decision_carbon_method")})
    measured = e_kwh is not None or d_kwh is not None
    return {
        "energy_kwh": ((e_kwh or 0.0) + (d_kwh or 0.0)) if measured else None,
        "co2_kg": ((e_kg or 0.0) + (d_kg or 0.0)) if measured else None,
        "carbon": {
            "evaluations": {"energy_kwh": e_kwh, "co2_kg": e_kg, "methods": methods},
            "driver": {"energy_kwh": d_kwh, "co2_kg": d_kg, "method": ", ".join(driver_methods) or None},
        },
    }
