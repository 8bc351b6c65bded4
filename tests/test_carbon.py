"""CO2 measurement: the Green Algorithms fallback, codecarbon, the config and the factory."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import shutil
import time
from pathlib import Path

import pytest
from omegaconf import open_dict

from bench.build import build
from bench.carbon import (
    CarbonSettings,
    DriverMeter,
    GreenAlgorithmsMeter,
    GreenAlgorithmsModel,
    MeterFactory,
    co2_kg,
    driver_meter,
    green_algorithms_energy_kwh,
    meter_factory,
    parse_carbon_config,
)
from bench.errors import UserError
from bench.evaluate import evaluate
from bench.objective import Objective
from bench.records import ERROR, OK, Task

REPO = Path(__file__).resolve().parents[1]

DECLARED = {
    "method": "green_algorithms",
    "carbon_intensity_g_per_kwh": 200.0,
    "pue": 1.5,
    "green_algorithms": {"cores": 2, "usage": 0.5, "power_per_core_w": 10.0, "memory_gb": 8.0},
}
# 1 h x (2 cores x 10 W x 0.5 + 8 GB x 0.3725 W/GB) x PUE 1.5 = 12.98 W x 1.5 = 19.47 Wh
ONE_HOUR_KWH = 0.01947
ONE_HOUR_KG = ONE_HOUR_KWH * 200.0 / 1000.0


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1


class Square(Objective):
    """A tiny objective: (x - 0.3)^2, or raises for x < 0."""

    def __call__(self, params, seed):
        if params["x"] < 0:
            raise ValueError("negative")
        busy(0.05)
        return (params["x"] - 0.3) ** 2


def test_green_algorithms_formula_known_answer():
    energy = green_algorithms_energy_kwh(3600.0, cores=2, power_per_core_w=10.0, usage=0.5, memory_gb=8.0, pue=1.5)
    assert energy == pytest.approx(ONE_HOUR_KWH, rel=1e-12)
    assert co2_kg(energy, 200.0) == pytest.approx(ONE_HOUR_KG, rel=1e-12)


def test_declared_model_charges_the_duration_given_to_stop():
    meter = meter_factory(DECLARED)()
    assert isinstance(meter, GreenAlgorithmsMeter)
    meter.start()
    kwh, kg, method = meter.stop(3600.0)
    assert (kwh, kg, method) == (pytest.approx(ONE_HOUR_KWH), pytest.approx(ONE_HOUR_KG), "green-algorithms")


def test_simulated_meter_follows_the_simulated_duration_without_start():
    cfg = {**DECLARED, "green_algorithms": {**DECLARED["green_algorithms"], "usage": None}}
    meter = meter_factory(cfg, simulated=True)()
    one = meter.stop(1800.0)
    two = meter.stop(3600.0)
    assert one[2] == two[2] == "simulated:green-algorithms"
    # usage defaults to 1.0 under the simulated clock: 2 x 10 W + 2.98 W = 22.98 W x 1.5
    assert two[0] == pytest.approx(22.98 * 1.5 / 1000.0)
    assert two[0] == pytest.approx(2 * one[0]) and two[1] == pytest.approx(2 * one[1])


def test_measured_usage_tracks_cpu_time():
    model = GreenAlgorithmsModel(usage=None, memory_gb=0.0, power_per_core_w=10.0)
    meter = GreenAlgorithmsMeter(model, intensity_g_per_kwh=100.0)
    meter.start()
    t0 = time.perf_counter()
    busy(0.3)
    busy_kwh, _, _ = meter.stop(time.perf_counter() - t0)
    meter.start()
    t0 = time.perf_counter()
    time.sleep(0.3)
    idle_kwh, _, _ = meter.stop(time.perf_counter() - t0)
    # energy = CPU seconds x 10 W: at most 0.3 s x 10 W of a busy loop, near 0 while sleeping
    assert 0 < idle_kwh < busy_kwh <= 0.35 * 10 / 3.6e6
    assert idle_kwh < 0.2 * busy_kwh


def test_nonfinite_duration_gives_no_number_but_a_method():
    meter = meter_factory(DECLARED)()
    assert meter.stop(float("nan")) == (None, None, "green-algorithms")


def test_intensity_resolution():
    assert parse_carbon_config(None).intensity_g_per_kwh == 475.0
    given = parse_carbon_config({"carbon_intensity_g_per_kwh": 123.0, "country_iso_code": "FRA"})
    assert given.intensity_g_per_kwh == 123.0
    mix_file = Path(__import__("codecarbon").__file__).parent / "data/private_infra/global_energy_mix.json"
    france = json.loads(mix_file.read_text())["FRA"]["carbon_intensity"]
    assert parse_carbon_config({"country_iso_code": "fra"}).intensity_g_per_kwh == pytest.approx(france)
    california = parse_carbon_config({"country_iso_code": "USA", "region": "California"})
    usa = parse_carbon_config({"country_iso_code": "USA"})
    assert 0 < california.intensity_g_per_kwh != pytest.approx(usa.intensity_g_per_kwh)


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"method": "magic"}, "carbon.method"),
        ({"pue": 0.9}, "carbon.pue"),
        ({"pue": "high"}, "carbon.pue"),
        ({"colour": 1}, "carbon: unknown key"),
        ({"country_iso_code": "XXX"}, "carbon.country_iso_code"),
        ({"region": "california"}, "carbon.region"),
        ({"country_iso_code": "USA", "region": "atlantis"}, "carbon.region"),
        ({"country_iso_code": "GBR", "region": "wales"}, "carbon.region"),
        ({"carbon_intensity_g_per_kwh": -1}, "carbon.carbon_intensity_g_per_kwh"),
        ({"tracking_mode": "thread"}, "carbon.tracking_mode"),
        ({"green_algorithms": {"usage": 1.5}}, "carbon.green_algorithms.usage"),
        ({"green_algorithms": {"cores": 0}}, "carbon.green_algorithms.cores"),
        ({"green_algorithms": {"gpus": 1}}, "carbon.green_algorithms: unknown key"),
    ],
)
def test_bad_config_is_a_user_error_naming_the_field(cfg, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        meter_factory(cfg)


@pytest.mark.parametrize("off", ["off", False, "OFF"])
def test_off_gives_no_factory_and_no_driver_meter(off):
    assert meter_factory({"method": off}) is None
    assert DriverMeter.from_config({"method": off}) is None


def test_build_parses_the_config_once_into_the_run_meters(compose):
    cfg = compose("objective=quadratic", "executor=simulated")  # carbon=fixed
    parts = build(cfg, validate=False)
    settings = parts.meters.settings
    assert isinstance(settings, CarbonSettings) and settings == parse_carbon_config(cfg.carbon)
    assert settings.method == "green_algorithms" and settings.green_algorithms.memory_gb == 4.0
    factory = parts.meters.worker_factory
    assert isinstance(factory, MeterFactory) and factory.settings is settings and factory.simulated
    assert parts.meters.driver_meter is None  # build() starts nothing; the driver opens it
    driver = parts.meters.open().driver_meter
    assert isinstance(driver, DriverMeter) and driver.settings is settings
    assert parts.meters.open().driver_meter is driver
    assert meter_factory(settings) == MeterFactory(settings)  # parsed settings are passed on as they are
    with parts.meters.driver_span() as spent:
        busy(0.01)
    assert spent.method == "green-algorithms" and spent.kwh > 0


def test_no_carbon_node_or_off_measures_nothing(compose):
    off = build(compose("objective=quadratic", "carbon=off"), validate=False).meters
    assert off.settings is not None and not off.enabled and off.worker_factory is None
    assert off.open().driver_meter is None
    cfg = compose("objective=quadratic")
    with open_dict(cfg):
        del cfg["carbon"]
    none = build(cfg, validate=False).meters
    assert none.settings is None and none.worker_factory is None and none.open().driver_meter is None
    with none.driver_span() as spent:
        pass
    assert (spent.kwh, spent.kg, spent.method) == (None, None, None)


def test_group_files_compose_and_parse(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()

    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf" / "carbon", conf / "carbon")
    (conf / "config.yaml").write_text("defaults:\n  - carbon: codecarbon\n  - _self_\n")
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        default = parse_carbon_config(compose("config").carbon)
        fixed = parse_carbon_config(compose("config", overrides=["carbon=fixed"]).carbon)
        off = parse_carbon_config(compose("config", overrides=["carbon=off"]).carbon)
        gbr = parse_carbon_config(compose("config", overrides=["carbon.country_iso_code=GBR"]).carbon)
    assert (default.method, default.pue, default.intensity_g_per_kwh) == ("auto", 1.0, 475.0)
    assert default.green_algorithms == GreenAlgorithmsModel()
    assert (fixed.method, fixed.green_algorithms.usage, fixed.green_algorithms.memory_gb) == (
        "green_algorithms",
        1.0,
        4.0,
    )
    assert off.method == "off" and gbr.intensity_g_per_kwh != 475.0


def test_codecarbon_meter_measures_spans_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    meter = meter_factory({"method": "codecarbon", "carbon_intensity_g_per_kwh": 300.0, "pue": 1.2})()
    assert meter.method.startswith("codecarbon:")
    results = []
    for _ in range(2):
        meter.start()
        busy(0.1)
        results.append(meter.stop(0.1))
    for kwh, kg, method in results:
        assert method == meter.method
        assert 0 < kwh < 1e-3 and kg == pytest.approx(kwh * 300.0 / 1000.0, rel=1e-6)
    assert list(tmp_path.iterdir()) == []


def test_codecarbon_misuse_falls_back_to_the_formula():
    meter = meter_factory({"method": "codecarbon"})()
    kwh, kg, method = meter.stop(2.0)  # never started: no codecarbon task
    assert method == "green-algorithms" and kwh > 0 and kg > 0
    meter.start()
    meter.start()  # the first task is still open: codecarbon refuses the second
    assert meter.stop(0.01)[2] == "green-algorithms"
    meter.start()  # the meter recovered: codecarbon measures the next span again
    assert meter.stop(0.01)[2] == meter.method


def test_auto_uses_codecarbon_only_where_it_reads_the_hardware():
    from bench.carbon.codecarbon_meter import CodecarbonMeter

    settings = parse_carbon_config({"method": "codecarbon"})
    probe = CodecarbonMeter(settings)
    meter = meter_factory({"method": "auto"})()
    if probe.measures_hardware:
        assert isinstance(meter, CodecarbonMeter)
    else:
        assert isinstance(meter, GreenAlgorithmsMeter) and meter.method == "green-algorithms"


def test_evaluate_records_energy_even_when_the_objective_fails():
    obj = Square({"x": {"type": "float", "low": -1.0, "high": 1.0}})
    meter = meter_factory(DECLARED)()
    ok = evaluate(obj, Task(0, {"x": 0.5}, seed=0), clock_origin=time.time(), worker="w0", meter=meter)
    bad = evaluate(obj, Task(1, {"x": -0.5}, seed=0), clock_origin=time.time(), worker="w0", meter=meter)
    assert ok.status == OK and bad.status == ERROR
    for out in (ok, bad):
        assert out.carbon_method == "green-algorithms"
        expected = ONE_HOUR_KWH * (out.t_end - out.t_start) / 3600.0
        assert out.energy_kwh == pytest.approx(expected, rel=1e-9)
        assert out.co2_kg == pytest.approx(out.energy_kwh * 0.2, rel=1e-9)


def _in_worker(factory) -> tuple:
    meter = factory()
    meter.start()
    busy(0.05)
    return meter.stop(0.05)


def test_factory_is_picklable_and_builds_meters_in_another_process():
    factory = meter_factory(DECLARED)
    assert isinstance(pickle.loads(pickle.dumps(factory)), MeterFactory)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        kwh, _kg, method = pool.apply(_in_worker, (factory,))
    assert method == "green-algorithms"
    assert kwh == pytest.approx(ONE_HOUR_KWH * 0.05 / 3600.0)


@pytest.mark.slow
def test_codecarbon_factory_in_a_fresh_process():
    factory = meter_factory({"method": "codecarbon", "carbon_intensity_g_per_kwh": 100.0})
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        kwh, kg, method = pool.apply(_in_worker, (factory,))
    assert method.startswith("codecarbon:") and kwh > 0
    assert kg == pytest.approx(kwh * 0.1, rel=1e-6)


def test_driver_meter_tallies_decision_spans():
    driver = DriverMeter.from_config(DECLARED)
    driver.start()
    first = driver.stop(3600.0)
    driver.add(ONE_HOUR_KWH, ONE_HOUR_KG, "green-algorithms", 3600.0)  # replayed on resume
    assert first[0] == pytest.approx(ONE_HOUR_KWH)
    t = driver.totals()
    assert t["spans"] == 2 and t["seconds"] == 7200.0 and t["method"] == "green-algorithms"
    assert t["energy_kwh"] == pytest.approx(2 * ONE_HOUR_KWH)
    assert driver_meter({"method": "off"}) is None
    other = driver_meter(DECLARED)
    other.start()
    assert other.stop(1800.0)[0] == pytest.approx(ONE_HOUR_KWH / 2)
