"""The Green Algorithms estimate of energy and CO2 (Lannelongue, Grealey & Inouye 2021).

    energy (kWh) = runtime (h) × (cores × power per core × usage + memory (GB) × 0.3725 W/GB)
                   × PUE / 1000
    CO2 (kg)     = energy (kWh) × carbon intensity (g CO2e/kWh) / 1000

On the real clock, ``cores × usage`` is measured as the process's CPU seconds over the runtime
when ``usage`` is not declared, and memory is the process's resident memory when ``memory_gb``
is not declared. Under the simulated clock the runtime is the simulated duration and the
declared model is used (``usage`` defaults to 1).
"""

from __future__ import annotations

import math
import time

from bench.carbon.config import GreenAlgorithmsModel

GREEN_ALGORITHMS = "green-algorithms"
SIMULATED_GREEN_ALGORITHMS = "simulated:green-algorithms"


def green_algorithms_energy_kwh(
    runtime_s: float,
    cores: float,
    power_per_core_w: float,
    usage: float,
    memory_gb: float,
    memory_power_w_per_gb: float = 0.3725,
    pue: float = 1.0,
) -> float:
    """The energy of ``runtime_s`` seconds of computing (kWh), Green Algorithms' formula."""
    power_w = cores * power_per_core_w * usage + memory_gb * memory_power_w_per_gb
    return runtime_s / 3600.0 * power_w * pue / 1000.0


def co2_kg(energy_kwh: float, intensity_g_per_kwh: float) -> float:
    """Emissions (kg CO2e) of ``energy_kwh`` at a grid intensity in g CO2e/kWh."""
    return energy_kwh * intensity_g_per_kwh / 1000.0


def resident_memory_gb() -> float:
    """The resident memory of this process (GB), 0 if it cannot be read."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e9
    except Exception:
        return 0.0


class GreenAlgorithmsMeter:
    """A :class:`~bench.evaluate.Meter` applying the Green Algorithms formula.

    Args:
        model: the declared hardware.
        intensity_g_per_kwh: the grid's carbon intensity.
        pue: power usage effectiveness.
        simulated: charge the duration given to :meth:`stop` under the declared model (the
            method is then ``simulated:green-algorithms``); :meth:`start` is optional.
    """

    def __init__(
        self,
        model: GreenAlgorithmsModel,
        intensity_g_per_kwh: float,
        pue: float = 1.0,
        simulated: bool = False,
    ):
        self.model = model
        self.intensity_g_per_kwh = float(intensity_g_per_kwh)
        self.pue = float(pue)
        self.simulated = bool(simulated)
        self.method = SIMULATED_GREEN_ALGORITHMS if simulated else GREEN_ALGORITHMS
        self._cpu0: float | None = None

    def start(self) -> None:
        self._cpu0 = time.process_time()

    def core_seconds(self, duration_s: float) -> float:
        """``cores × usage × runtime``: measured CPU seconds on the real clock if not declared."""
        m = self.model
        if m.usage is not None:
            return m.cores * m.usage * duration_s
        if self.simulated or self._cpu0 is None:
            return m.cores * duration_s
        return max(time.process_time() - self._cpu0, 0.0)

    def stop(self, duration_s: float) -> tuple[float | None, float | None, str]:
        duration = float(duration_s) if duration_s is not None else math.nan
        if not math.isfinite(duration) or duration < 0:
            self._cpu0 = None
            return None, None, self.method
        core_s = self.core_seconds(duration)
        self._cpu0 = None
        memory = self.model.memory_gb if self.model.memory_gb is not None else resident_memory_gb()
        # runtime × cores × usage == core seconds; written through the formula for clarity.
        usage = core_s / duration if duration > 0 else 0.0
        energy = green_algorithms_energy_kwh(
            duration,
            cores=1.0,
            power_per_core_w=self.model.power_per_core_w,
            usage=usage,
            memory_gb=memory,
            memory_power_w_per_gb=self.model.memory_power_w_per_gb,
            pue=self.pue,
        )
        return energy, co2_kg(energy, self.intensity_g_per_kwh), self.method
