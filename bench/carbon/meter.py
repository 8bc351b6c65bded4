"""Meters: the one per worker process (via a picklable :class:`MeterFactory`) and the driver's.

:func:`build_meter` picks codecarbon or the Green Algorithms formula for a
:class:`~bench.carbon.config.CarbonSettings`; see :mod:`bench.carbon` for the methods.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.carbon.config import CarbonSettings, as_settings, codecarbon_installed
from bench.carbon.green import GreenAlgorithmsMeter
from bench.evaluate import Meter

#: A ``carbon:`` config, parsed (:class:`CarbonSettings`) or not (a mapping, OmegaConf or plain).
CarbonConfig = CarbonSettings | Mapping[str, Any] | None

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
    if settings.method == "auto" and not codecarbon_installed():
        return ga  # the extra bobench[carbon] is not installed: said once, when the config was parsed
    try:
        from bench.carbon.codecarbon_meter import CodecarbonMeter

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


def meter_factory(carbon_cfg: CarbonConfig, simulated: bool = False) -> Callable[[], Meter | None] | None:
    """A factory of meters for the ``carbon:`` config, or None for ``method: off``.

    Args:
        carbon_cfg: the parsed settings, or a ``carbon:`` mapping (OmegaConf or plain) to check.
        simulated: the executor's clock is simulated: meters then charge the duration given to
            ``stop`` under the declared Green Algorithms model, and ``start`` is optional.

    Raises:
        UserError: a field of an unparsed config is wrong (before any work is done).
    """
    settings = as_settings(carbon_cfg)
    if not settings.enabled:
        return None
    return MeterFactory(settings, bool(simulated))


def driver_meter(carbon_cfg: CarbonConfig, simulated: bool = False) -> DriverMeter | None:
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
    def from_config(cls, carbon_cfg: CarbonConfig, simulated: bool = False) -> DriverMeter | None:
        """A driver meter for a ``carbon:`` config (parsed or not), None for ``method: off``."""
        settings = as_settings(carbon_cfg)
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
