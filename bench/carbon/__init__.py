"""CO2 of every evaluation and of the driver's own decisions.

The ``carbon:`` config is parsed once per run, by :func:`bench.build.build`, into a
:class:`CarbonSettings` (:func:`parse_carbon_config`), from which the run's :class:`Meters` are
made: a picklable factory (:func:`meter_factory`) that every executor calls once per worker
process, passing the meter to :func:`bench.evaluate.evaluate`, and the driver's own
:class:`DriverMeter` around each decision. Which method measured a span is recorded with it
(``Outcome.carbon_method``):

- ``codecarbon:<cpu>[+gpu]``: codecarbon's offline tracker, e.g. ``codecarbon:rapl`` (read from
  the CPU's energy counters) or ``codecarbon:tdp-model`` (codecarbon's TDP × CPU-load model);
- ``green-algorithms``: the Green Algorithms formula on the real clock;
- ``simulated:green-algorithms``: the formula applied to the simulated duration.

``method: auto`` uses codecarbon where it reads power from the hardware (RAPL, powermetrics,
a GPU...) and the Green Algorithms formula where codecarbon could only model it. See
``docs/carbon.md``.

Modules: :mod:`~bench.carbon.config` (the config and its parser), :mod:`~bench.carbon.green`
(the Green Algorithms formula), :mod:`~bench.carbon.codecarbon_meter` (codecarbon),
:mod:`~bench.carbon.meter` (choosing a meter; the factory; the driver's meter) and
:mod:`~bench.carbon.hook` (where the driver meets them; totals from the journal). Importing
this package does not import codecarbon.
"""

from __future__ import annotations

from bench.carbon.config import CarbonSettings, GreenAlgorithmsModel, as_settings, parse_carbon_config
from bench.carbon.green import (
    GREEN_ALGORITHMS,
    SIMULATED_GREEN_ALGORITHMS,
    GreenAlgorithmsMeter,
    co2_kg,
    green_algorithms_energy_kwh,
)
from bench.carbon.hook import DecisionEnergy, Meters, totals
from bench.carbon.meter import CarbonConfig, DriverMeter, MeterFactory, build_meter, driver_meter, meter_factory

__all__ = [
    "GREEN_ALGORITHMS",
    "SIMULATED_GREEN_ALGORITHMS",
    "CarbonConfig",
    "CarbonSettings",
    "DecisionEnergy",
    "DriverMeter",
    "GreenAlgorithmsMeter",
    "GreenAlgorithmsModel",
    "MeterFactory",
    "Meters",
    "as_settings",
    "build_meter",
    "co2_kg",
    "driver_meter",
    "green_algorithms_energy_kwh",
    "meter_factory",
    "parse_carbon_config",
    "totals",
]
