"""Per-evaluation energy from codecarbon's ``OfflineEmissionsTracker`` (no network).

One tracker is kept per process and each evaluation is one codecarbon *task*
(``start_task``/``stop_task``), whose delta is the evaluation's energy and CO2. The first
tracker of a process detects the hardware (about 1.4 s on a machine without RAPL, where
codecarbon looks the CPU up in its TDP table); later ones reuse codecarbon's hardware cache.
A task pair then costs about 1.4-4 ms, a new tracker per evaluation about 6-10 ms, on a quiet
machine (``benchmarks/carbon_startup.py``), so the tracker is built once, when the meter is.

codecarbon writes no file and sends nothing: ``output_methods=[]``, no endpoint, and the
carbon intensity is forced to the configured one so that every method agrees.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any

from bench.carbon.config import CarbonSettings, quiet_codecarbon
from bench.carbon.green import GREEN_ALGORITHMS, GreenAlgorithmsMeter

log = logging.getLogger(__name__)

#: codecarbon's CPU modes and what bobench calls them.
_CPU_MODES = {
    "intel_rapl": "rapl",
    "windows_emi": "windows-emi",
    "intel_power_gadget": "power-gadget",
    "apple_powermetrics": "powermetrics",
    "cpu_load": "tdp-model",
    "constant": "tdp-constant",
}
#: Labels of components whose power is read from the hardware, not modelled.
MEASURED = frozenset({"rapl", "windows-emi", "power-gadget", "powermetrics", "raspberry", "gpu"})


def _component_label(hardware: Any) -> str | None:
    name = type(hardware).__name__
    if name == "CPU":
        mode = str(getattr(hardware, "_mode", ""))
        return _CPU_MODES.get(mode, mode.replace("_", "-") or "cpu")
    if name == "GPU":
        return "gpu"
    if name == "AppleSiliconChip":
        return "powermetrics"
    if name == "Raspberry":
        return "raspberry"
    return None  # RAM is always modelled; not part of the label


def build_tracker(settings: CarbonSettings) -> Any:
    """An offline tracker that writes nothing, logs errors only and uses the forced intensity."""
    from codecarbon import OfflineEmissionsTracker

    quiet_codecarbon(settings.log_level)
    kwargs: dict[str, Any] = dict(
        project_name="bobench",
        log_level=settings.log_level,
        output_methods=[],
        emissions_endpoint=None,
        allow_multiple_runs=True,
        tracking_mode=settings.tracking_mode,
        pue=settings.pue,
        force_carbon_intensity_g_co2e_kwh=settings.intensity_g_per_kwh,
    )
    if settings.country_iso_code:
        kwargs["country_iso_code"] = settings.country_iso_code
    if settings.region:
        kwargs["region"] = settings.region
    if settings.force_cpu_power_w is not None:
        kwargs["force_cpu_power"] = settings.force_cpu_power_w
    if settings.force_ram_power_w is not None:
        kwargs["force_ram_power"] = settings.force_ram_power_w
    tracker = OfflineEmissionsTracker(**kwargs)
    quiet_codecarbon(settings.log_level)
    return tracker


class CodecarbonMeter:
    """A :class:`~bench.evaluate.Meter` measuring each span as one codecarbon task.

    Building it starts codecarbon's hardware detection (a warm-up task), so the first
    evaluation is not charged for it. If codecarbon fails during a span, that span falls back
    to the Green Algorithms formula and is labelled ``green-algorithms``.

    Attributes:
        method: ``codecarbon:<cpu>[+gpu]``, e.g. ``codecarbon:rapl`` or ``codecarbon:tdp-model``.
        measures_hardware: whether any component's power is read rather than modelled.
    """

    _ids = itertools.count()

    def __init__(self, settings: CarbonSettings):
        self.settings = settings
        self.tracker = build_tracker(settings)
        self._task: str | None = None
        self._fallback = GreenAlgorithmsMeter(settings.green_algorithms, settings.intensity_g_per_kwh, settings.pue)
        self.tracker.start_task("bobench-warmup")
        warm = self.tracker.stop_task("bobench-warmup")
        if warm is None:
            raise RuntimeError("codecarbon's warm-up task returned no data")
        self._forget("bobench-warmup")
        labels = [lab for lab in map(_component_label, getattr(self.tracker, "_hardware", [])) if lab]
        self.measures_hardware = any(lab in MEASURED for lab in labels)
        self.method = "codecarbon:" + ("+".join(labels) if labels else "unknown")

    def _forget(self, task: str) -> None:
        """Drops a finished task's record (codecarbon keeps every task otherwise)."""
        tasks = getattr(self.tracker, "_tasks", None)
        if isinstance(tasks, dict):
            tasks.pop(task, None)

    def start(self) -> None:
        self._fallback.start()
        self._task = f"bobench-{next(self._ids)}"
        try:
            self.tracker.start_task(self._task)
        except Exception as exc:
            log.warning("codecarbon start_task failed (%s); using the Green Algorithms formula", exc)
            self._task = None

    def stop(self, duration_s: float) -> tuple[float | None, float | None, str]:
        task, self._task = self._task, None
        data = None
        if task is not None:
            try:
                data = self.tracker.stop_task(task)
            except Exception as exc:
                log.warning("codecarbon stop_task failed (%s); using the Green Algorithms formula", exc)
            self._forget(task)
        energy = getattr(data, "energy_consumed", None)
        co2 = getattr(data, "emissions", None)
        if (
            isinstance(energy, float | int)
            and isinstance(co2, float | int)
            and math.isfinite(energy)
            and math.isfinite(co2)
        ):
            self._fallback._cpu0 = None
            return float(energy), float(co2), self.method
        self._recover()
        energy, co2, _ = self._fallback.stop(duration_s)
        return energy, co2, GREEN_ALGORITHMS

    def _recover(self) -> None:
        """Closes a task left open by a failed span, so that the next span is measured again."""
        active = getattr(self.tracker, "_active_task", None)
        if active is None:
            return
        try:
            self.tracker.stop_task(active)
        except Exception:
            pass
        self._forget(active)
