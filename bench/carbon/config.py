"""The ``carbon:`` config: which method measures CO2, the grid's intensity, PUE and hardware power.

:func:`parse_carbon_config` checks every field (raising :class:`~bench.errors.UserError` naming
it) and resolves the carbon intensity, once per run (in :func:`bench.build.build`), into a
:class:`CarbonSettings` that is then passed around: every worker and the driver use the same
g CO2e/kWh whichever method measures the energy. See ``docs/carbon.md``.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from bench.errors import UserError
from bench.objective import to_plain

log = logging.getLogger(__name__)

METHODS = ("auto", "codecarbon", "green_algorithms", "off")
#: codecarbon is an optional extra; without it ``auto`` uses the Green Algorithms formula.
CARBON_EXTRA = "pip install 'bobench[carbon]'"
TRACKING_MODES = ("process", "machine")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

#: World-average grid intensity (g CO2e/kWh; IEA 2019, as in codecarbon's data and Lannelongue
#: et al. 2021), used when neither an intensity nor a country is configured.
WORLD_AVERAGE_G_PER_KWH = 475.0


@dataclass(frozen=True)
class GreenAlgorithmsModel:
    """The declared power model of the Green Algorithms formula (Lannelongue et al. 2021).

    Attributes:
        cores: cores an evaluation uses (with ``usage``; also under the simulated clock).
        usage: core usage factor in [0, 1]; None measures the process's CPU time on the real
            clock (and means 1.0 under the simulated clock).
        power_per_core_w: power draw of one core (W); 12 W is the calculator's "Any" CPU.
        memory_gb: memory attributed to an evaluation (GB); None uses the process's resident
            memory when the evaluation ends.
        memory_power_w_per_gb: 0.3725 W/GB (Lannelongue et al. 2021).
    """

    cores: float = 1.0
    usage: float | None = None
    power_per_core_w: float = 12.0
    memory_gb: float | None = None
    memory_power_w_per_gb: float = 0.3725


@dataclass(frozen=True)
class CarbonSettings:
    """A checked ``carbon:`` config with its carbon intensity resolved.

    Attributes:
        method: ``auto``, ``codecarbon``, ``green_algorithms`` or ``off``.
        intensity_g_per_kwh: the grid's carbon intensity used by every method.
        intensity_source: where it came from (config value, country data, world average).
        country_iso_code, region: passed to codecarbon's offline tracker (metadata only, since
            the intensity is forced to ``intensity_g_per_kwh``).
        pue: power usage effectiveness; multiplies every energy.
        tracking_mode: codecarbon's ``process`` or ``machine``.
        force_cpu_power_w, force_ram_power_w: codecarbon's forced CPU (TDP) and RAM power.
        log_level: codecarbon's log level.
        green_algorithms: the formula's declared hardware.
    """

    method: str = "auto"
    intensity_g_per_kwh: float = WORLD_AVERAGE_G_PER_KWH
    intensity_source: str = "world average (IEA 2019)"
    country_iso_code: str | None = None
    region: str | None = None
    pue: float = 1.0
    tracking_mode: str = "process"
    force_cpu_power_w: float | None = None
    force_ram_power_w: float | None = None
    log_level: str = "error"
    green_algorithms: GreenAlgorithmsModel = field(default_factory=GreenAlgorithmsModel)

    @property
    def enabled(self) -> bool:
        return self.method != "off"


_TOP_KEYS = {
    "method",
    "country_iso_code",
    "region",
    "carbon_intensity_g_per_kwh",
    "pue",
    "tracking_mode",
    "force_cpu_power_w",
    "force_ram_power_w",
    "log_level",
    "green_algorithms",
}
_GA_KEYS = {"cores", "usage", "power_per_core_w", "memory_gb", "memory_power_w_per_gb"}


@overload
def _number(
    cfg: Mapping[str, Any],
    key: str,
    where: str,
    default: float | None,
    *,
    low: float = ...,
    allow_none: Literal[False] = ...,
    positive: bool = ...,
) -> float: ...


@overload
def _number(
    cfg: Mapping[str, Any],
    key: str,
    where: str,
    default: float | None,
    *,
    low: float = ...,
    allow_none: Literal[True],
    positive: bool = ...,
) -> float | None: ...


def _number(
    cfg: Mapping[str, Any],
    key: str,
    where: str,
    default: float | None,
    *,
    low: float = 0.0,
    allow_none: bool = False,
    positive: bool = False,
) -> float | None:
    value = cfg.get(key, default)
    if value is None:
        if allow_none:
            return None
        raise UserError(f"{where}.{key}: a number is required")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"{where}.{key}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < low or (positive and value <= 0):
        bound = f"> {low:g}" if positive else f">= {low:g}"
        raise UserError(f"{where}.{key}: must be finite and {bound}, got {value!r}")
    return value


def _choice(cfg: Mapping[str, Any], key: str, where: str, default: str, choices: tuple[str, ...]) -> str:
    value = cfg.get(key, default)
    if value is False and "off" in choices:  # YAML 1.1 reads a bare `off` as false
        value = "off"
    if not isinstance(value, str) or value.lower() not in choices:
        raise UserError(f"{where}.{key}: expected one of {', '.join(choices)}, got {value!r}")
    return value.lower()


def _text(cfg: Mapping[str, Any], key: str, where: str) -> str | None:
    value = cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value.strip()


#: Countries for which codecarbon's offline data has regional intensities.
REGIONAL_COUNTRIES = ("USA", "CAN", "CHN", "SWE", "NOR", "FIN")


def codecarbon_installed() -> bool:
    """Whether the optional extra ``bobench[carbon]`` (codecarbon) is installed."""
    return importlib.util.find_spec("codecarbon") is not None


_said_no_codecarbon = False


def _needs_codecarbon(method: str, country: str | None, intensity: float | None) -> None:
    """Says in one line what a config asks of codecarbon when the ``carbon`` extra is missing.

    Raises:
        UserError: ``method: codecarbon``, or a country whose intensity only codecarbon's data gives.
    """
    global _said_no_codecarbon
    if method == "off" or codecarbon_installed():
        return
    if method == "codecarbon":
        raise UserError(f"carbon.method=codecarbon needs the 'carbon' extra: {CARBON_EXTRA}")
    if country is not None and intensity is None:
        raise UserError(
            f"carbon.country_iso_code needs the 'carbon' extra (codecarbon's data): {CARBON_EXTRA};"
            " or give carbon.carbon_intensity_g_per_kwh"
        )
    if method == "auto" and not _said_no_codecarbon:
        _said_no_codecarbon = True
        log.warning(
            "carbon: codecarbon is not installed, so the Green Algorithms formula estimates CO2 (%s)", CARBON_EXTRA
        )


def quiet_codecarbon(level: str = "error") -> None:
    """Sets codecarbon's logger level (its import resets it to info)."""
    import logging

    import codecarbon.external.logger  # noqa: F401 - creates the "codecarbon" logger

    logging.getLogger("codecarbon").setLevel(level.upper())


def country_intensity(country_iso_code: str, region: str | None = None) -> float:
    """The grid intensity (g CO2e/kWh) codecarbon's offline data gives a country or region.

    Raises:
        UserError: codecarbon has no data for the country or the region.
    """
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    quiet_codecarbon()
    source = DataSource()
    mix = source.get_global_energy_mix_data()
    code = country_iso_code.upper()
    if code not in mix:
        raise UserError(
            f"carbon.country_iso_code: {country_iso_code!r} is not an ISO 3166-1 alpha-3 code "
            "that codecarbon has data for (e.g. FRA, GBR, USA, DEU)"
        )
    geo = GeoMetadata(country_iso_code=code, country_name=mix[code]["country_name"], region=region)
    one_kwh = Energy.from_energy(kWh=1.0)
    if region is None:
        return float(Emissions(source).get_country_emissions(one_kwh, geo)) * 1000.0
    if code not in REGIONAL_COUNTRIES:
        raise UserError(
            f"carbon.region: codecarbon has regional data only for {', '.join(REGIONAL_COUNTRIES)}, not {code}"
        )
    try:
        return float(Emissions(source).get_region_emissions(one_kwh, geo)) * 1000.0
    except Exception as exc:
        raise UserError(f"carbon.region: codecarbon has no data for {region!r} in {code} ({exc})") from None


def as_settings(carbon: CarbonSettings | Mapping[str, Any] | None) -> CarbonSettings:
    """``carbon`` itself if already parsed, else :func:`parse_carbon_config` of it."""
    return carbon if isinstance(carbon, CarbonSettings) else parse_carbon_config(carbon)


def parse_carbon_config(cfg: Mapping[str, Any] | None) -> CarbonSettings:
    """Checks a ``carbon:`` mapping and resolves its carbon intensity.

    Keys starting with ``_`` (Hydra's) are ignored; unknown keys are errors. ``None`` or an
    empty mapping gives the defaults.
    """
    where = "carbon"
    cfg = to_plain(cfg) if cfg is not None else {}
    if not isinstance(cfg, Mapping):
        raise UserError(f"{where}: expected a mapping, got {cfg!r}")
    cfg = {k: v for k, v in cfg.items() if not str(k).startswith("_")}
    unknown = set(cfg) - _TOP_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(_TOP_KEYS)})")
    method = _choice(cfg, "method", where, "auto", METHODS)
    tracking_mode = _choice(cfg, "tracking_mode", where, "process", TRACKING_MODES)
    log_level = _choice(cfg, "log_level", where, "error", LOG_LEVELS)
    pue = _number(cfg, "pue", where, 1.0, low=1.0)
    force_cpu = _number(cfg, "force_cpu_power_w", where, None, allow_none=True, positive=True)
    force_ram = _number(cfg, "force_ram_power_w", where, None, allow_none=True)
    country = _text(cfg, "country_iso_code", where)
    region = _text(cfg, "region", where)
    if region is not None and country is None:
        raise UserError(f"{where}.region: a region needs carbon.country_iso_code as well")
    intensity = _number(cfg, "carbon_intensity_g_per_kwh", where, None, allow_none=True)

    ga_cfg = cfg.get("green_algorithms") or {}
    gwhere = f"{where}.green_algorithms"
    if not isinstance(ga_cfg, Mapping):
        raise UserError(f"{gwhere}: expected a mapping, got {ga_cfg!r}")
    unknown = set(ga_cfg) - _GA_KEYS
    if unknown:
        raise UserError(f"{gwhere}: unknown key(s) {sorted(unknown)} (known: {sorted(_GA_KEYS)})")
    usage = _number(ga_cfg, "usage", gwhere, None, allow_none=True)
    if usage is not None and usage > 1.0:
        raise UserError(f"{gwhere}.usage: a core usage factor lies in [0, 1], got {usage!r}")
    model = GreenAlgorithmsModel(
        cores=_number(ga_cfg, "cores", gwhere, 1.0, positive=True),
        usage=usage,
        power_per_core_w=_number(ga_cfg, "power_per_core_w", gwhere, 12.0),
        memory_gb=_number(ga_cfg, "memory_gb", gwhere, None, allow_none=True),
        memory_power_w_per_gb=_number(ga_cfg, "memory_power_w_per_gb", gwhere, 0.3725),
    )

    _needs_codecarbon(method, country, intensity)
    if not method or method == "off":
        source = "off"
        resolved = 0.0 if intensity is None else intensity
    elif intensity is not None:
        resolved, source = intensity, "carbon.carbon_intensity_g_per_kwh"
    elif country is not None:
        resolved = country_intensity(country, region)
        source = f"codecarbon offline data for {country.upper()}" + (f"/{region}" if region else "")
    else:
        resolved, source = WORLD_AVERAGE_G_PER_KWH, "world average (IEA 2019)"
    return CarbonSettings(
        method=method,
        intensity_g_per_kwh=float(resolved),
        intensity_source=source,
        country_iso_code=country.upper() if country else None,
        region=region,
        pue=pue,
        tracking_mode=tracking_mode,
        force_cpu_power_w=force_cpu,
        force_ram_power_w=force_ram,
        log_level=log_level,
        green_algorithms=model,
    )
