"""CO2 of every evaluation and of the driver's own decisions.

The driver turns its ``carbon:`` config into a picklable factory with :func:`meter_factory`;
every executor calls the factory once per worker process and passes the meter to
:func:`bench.evaluate.evaluate`. Which method measured a span is recorded with it
(``Outcome.carbon_method``):

- ``codecarbon:<cpu>[+gpu]``: codecarbon's offline tracker, e.g. ``codecarbon:rapl`` (read from
  the CPU's energy counters) or ``codecarbon:tdp-model`` (codecarbon's TDP × CPU-load model);
- ``green-algorithms``: the Green Algorithms formula on the real clock;
- ``simulated:green-algorithms``: the formula applied to the simulated duration.

``method: auto`` uses codecarbon where it reads power from the hardware (RAPL, powermetrics,
a GPU...) and the Green Algorithms formula where codecarbon could only model it. The driver
charges its decision time with a :class:`DriverMeter` (:func:`driver_meter`). See
``docs/carbon.md``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.carbon_config import CarbonSettings, parse_carbon_config
from bench.carbon_green import (
    GREEN_ALGORITHMS,
    SIMULATED_GREEN_ALGORITHMS,
    GreenAlgorithmsMeter,
    co2_kg,
    green_algorithms_energy_kwh,
)
from bench.evaluate import Meter

__all__ = [
    "GREEN_ALGORITHMS",
    "SIMULATED_GREEN_ALGORITHMS",
    "CarbonSettings",
    "DriverMeter",
    "GreenAlgorithmsMeter",
    "MeterFactory",
    "build_meter",
    "co2_kg",
    "driver_meter",
    "green_algorithms_energy_kwh",
    "meter_factory",
    "parse_carbon_config",
]

log = logging.getLogger(__name__)


def build_meter(settings: CarbonSettings, simulated: bool = False) -> Meter | None:
    """Builds the meter the settings call for, in the process where it will measure.

    Never raises for codecarbon's faults: if codecarbon cannot start, the Green Algorithms
    formula is used and a warning logged.
    """
    if not settings.enabled:
        return None
    ga = GreenAlgorithmsMeter(
        settings.green_algorithms, settings.intensity_g_per_kwh, settings.pue, simulated=simulated
    )
    if simulated or settings.method == "green_algorithms":
        return ga
    try:
        from bench.carbon_codecarbon import CodecarbonMeter

        meter = CodecarbonMeter(settings)
    except Exception as exc:
        log.warning("codecarbon unavailable (%s: %s); using the Green Algorithms formula", type(exc).__name__, exc)
        return ga
    if settings.method == "auto" and not meter.measures_hardware:
        log.info("codecarbon can only model power here (%s); using the Green Algorithms formula", meter.method)
        return ga
    return meter


@dataclass(frozen=True)
class MeterFactory:
    """A picklable ``() -> Meter``: the executors call it once per worker process."""

    settings: CarbonSettings
    simulated: bool = False

    def __call__(self) -> Meter | None:
        return build_meter(self.settings, self.simulated)


def meter_factory(carbon_cfg: Mapping[str, Any] | None, simulated: bool = False) -> Callable[[], Meter | None] | None:
    """Checks the ``carbon:`` config and returns a factory of meters, or None for ``method: off``.

    Args:
        carbon_cfg: the ``carbon:`` mapping (OmegaConf or plain).
        simulated: the executor's clock is simulated: meters then charge the duration given to
            ``stop`` under the declared Green Algorithms model, and ``start`` is optional.

    Raises:
        UserError: a field of the config is wrong (before any work is done).
    """
    settings = parse_carbon_config(carbon_cfg)
    if not settings.enabled:
        return None
    return MeterFactory(settings, bool(simulated))


def driver_meter(carbon_cfg: Mapping[str, Any] | None, simulated: bool = False) -> DriverMeter | None:
    """The driver's meter for a ``carbon:`` config (None for ``method: off``).

    Its ``start()``/``stop(duration_s) -> (energy_kwh, co2_kg, method)`` bracket each decision;
    ``simulated`` only when the decision's duration passed to ``stop`` is not real time.
    """
    return DriverMeter.from_config(carbon_cfg, simulated)


def _method_summary(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    if len(counts) == 1:
        return next(iter(counts))
    return "mixed"


class DriverMeter:
    """Charges the driver's own decision time (``strategy.ask``), separately from evaluations.

    Around each decision::

        meter = DriverMeter.from_config(cfg.carbon, simulated=executor.simulated)  # None if off
        meter.start()
        X = strategy.ask(history, pending, n)
        kwh, kg, method = meter.stop(decision_s)

    :meth:`add` re-adds a span replayed from the journal on resume; :meth:`totals` sums them.
    Build it in the driver's process (it may start codecarbon there).
    """

    def __init__(self, settings: CarbonSettings, simulated: bool = False):
        self.settings = settings
        self.meter = build_meter(settings, simulated)
        self.energy_kwh = 0.0
        self.co2_kg = 0.0
        self.seconds = 0.0
        self.spans = 0
        self.methods: Counter[str] = Counter()

    @classmethod
    def from_config(cls, carbon_cfg: Mapping[str, Any] | None, simulated: bool = False) -> DriverMeter | None:
        """A driver meter for a ``carbon:`` config, None for ``method: off``."""
        settings = parse_carbon_config(carbon_cfg)
        return cls(settings, simulated) if settings.enabled else None

    def start(self) -> None:
        if self.meter is not None:
            self.meter.start()

    def stop(self, duration_s: float) -> tuple[float | None, float | None, str | None]:
        """Ends a decision span of ``duration_s`` seconds (on the run's clock)."""
        if self.meter is None:
            return None, None, None
        try:
            kwh, kg, method = self.meter.stop(duration_s)
        except Exception as exc:
            log.warning("driver carbon meter failed: %s", exc)
            return None, None, None
        self.add(kwh, kg, method, duration_s)
        return kwh, kg, method

    def add(self, kwh: float | None, kg: float | None, method: str | None, seconds: float | None = None) -> None:
        """Counts a span measured before (e.g. replayed from the journal on resume)."""
        if kwh is not None and kg is not None:
            self.energy_kwh += float(kwh)
            self.co2_kg += float(kg)
            if method:
                self.methods[method] += 1
        if seconds is not None:
            self.seconds += float(seconds)
        self.spans += 1

    def totals(self) -> dict[str, Any]:
        return {
            "energy_kwh": self.energy_kwh if self.methods else None,
            "co2_kg": self.co2_kg if self.methods else None,
            "seconds": self.seconds,
            "spans": self.spans,
            "method": _method_summary(self.methods),
            "methods": dict(self.methods),
        }
