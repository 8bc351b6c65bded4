"""The simulated clock: virtual-time order, reproducible durations, Kandasamy et al.'s counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, special

from bench import carbon
from bench.durations import HALFNORMAL_SCALE, Duration
from bench.errors import UserError
from bench.executors.simulated import SimulatedExecutor
from bench.objective import Objective
from bench.records import OK, Task
from bench.seeding import derive_uniform
from objectives.synthetic import SyntheticObjective

BRANIN_SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 10.0},
    "x2": {"type": "float", "low": 0.0, "high": 15.0},
}


class Constant(Objective):
    """A zero-cost objective: the simulated clock alone decides when it finishes."""

    def __call__(self, params: dict[str, Any], seed: int) -> float:
        return 0.0


class Costed(Constant):
    """An objective with a duration model: ``x`` simulated seconds."""

    def cost(self, params: dict[str, Any]) -> float:
        return float(params["x"])


UNIT = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


def started(workers: int = 1, objective: Objective | None = None, **kw: Any) -> SimulatedExecutor:
    ex = SimulatedExecutor(workers=workers, **kw)
    ex.start(objective or Constant(UNIT, "zero"), clock_origin=0.0)
    return ex


def task(eval_id: int, x: float = 0.5, attempt: int = 0) -> Task:
    return Task(eval_id=eval_id, params={"x": x}, seed=eval_id, attempt=attempt)


# -- the executor ----------------------------------------------------------------------------
def test_outcomes_come_back_in_virtual_time_order():
    ex = started(workers=5, seed=3)
    for i in range(5):
        ex.submit(task(i))
    assert ex.running == 5 and ex.now() == 0.0
    ends = []
    while ex.running:
        (out,) = ex.wait(first=True)
        assert out.status == OK and out.t_start == 0.0
        assert out.t_end == ex.now()  # the clock jumps to each finish
        ends.append(out.t_end)
    assert ends == sorted(ends) and len(set(ends)) == 5
    assert ex.simulated is True


def test_durations_are_reproducible_and_depend_on_seed_eval_id_and_attempt():
    def durations(seed: int, order: list[int], attempt: int = 0) -> dict[int, float]:
        ex = started(workers=len(order), seed=seed)
        for i in order:
            ex.submit(task(i, attempt=attempt))
        return {o.eval_id: o.t_end - o.t_start for o in ex.wait(first=False)}

    a = durations(0, [0, 1, 2, 3])
    assert durations(0, [3, 1, 0, 2]) == a  # submission order does not matter
    assert durations(1, [0, 1, 2, 3]) != a
    assert durations(0, [0, 1, 2, 3], attempt=1) != a
    assert len(set(a.values())) == 4


def test_wait_all_returns_everything_and_moves_the_clock_to_the_last_finish():
    ex = started(workers=4)
    for i in range(4):
        ex.submit(task(i))
    outs = ex.wait(first=False)
    assert len(outs) == 4 and ex.running == 0
    assert ex.now() == max(o.t_end for o in outs)
    assert ex.wait() == []


def test_a_task_waits_for_a_free_worker():
    ex = started(workers=1, objective=Costed(UNIT, "costed"), duration="cost")
    ex.submit(task(0, x=0.25))
    ex.submit(task(1, x=0.5))
    first, second = ex.wait(), ex.wait()
    assert (first[0].t_start, first[0].t_end) == (0.0, 0.25)
    assert (second[0].t_start, second[0].t_end) == (0.25, 0.75)
    assert first[0].worker == second[0].worker == "sim0"


def test_cost_durations_and_a_missing_cost_model():
    ex = started(workers=2, objective=Costed(UNIT, "costed"), duration="cost")
    ex.submit(task(0, x=0.3))
    (out,) = ex.wait()
    assert out.t_end - out.t_start == pytest.approx(0.3)
    with pytest.raises(UserError, match=r"executor\.duration"):
        started(objective=Constant(UNIT, "zero"), duration="cost")


def test_advance_and_timeout_move_the_clock():
    ex = started(workers=1, objective=Costed(UNIT, "costed"), duration="cost")
    ex.advance(2.0)
    ex.submit(task(0, x=1.0))  # starts at 2, ends at 3
    assert ex.wait(timeout=0.5) == [] and ex.now() == 2.5
    (out,) = ex.wait(timeout=10.0)
    assert (out.t_start, out.t_end, ex.now()) == (2.0, 3.0, 3.0)
    with pytest.raises(ValueError):
        ex.advance(-1.0)
    ex.submit(task(1, x=0.5))
    ex.advance(5.0)  # a decision longer than the evaluation: the clock does not go back
    (out,) = ex.wait()
    assert out.t_end == 3.5 and ex.now() == 8.0


def test_energy_is_charged_for_the_simulated_duration():
    factory = carbon.meter_factory(
        {"method": "green_algorithms", "green_algorithms": {"memory_gb": 1.0}}, simulated=True
    )
    ex = SimulatedExecutor(workers=3, seed=0)
    ex.start(Constant(UNIT, "zero"), clock_origin=0.0, meter_factory=factory)
    for i in range(3):
        ex.submit(task(i))
    outs = ex.wait(first=False)
    per_second = [o.energy_kwh / (o.t_end - o.t_start) for o in outs]
    assert all(o.carbon_method == "simulated:green-algorithms" for o in outs)
    assert all(o.co2_kg > 0 for o in outs)
    np.testing.assert_allclose(per_second, per_second[0], rtol=1e-9)


def test_synthetic_objective_runs_on_the_simulated_clock():
    ex = SimulatedExecutor(workers=2, duration="pareto", pareto_k=2.5, seed=1)
    ex.start(SyntheticObjective(BRANIN_SPACE, name="branin"), clock_origin=0.0)
    ex.submit(Task(0, {"x1": math.pi, "x2": 2.275}, seed=0))
    (out,) = ex.wait()
    assert out.value == pytest.approx(0.397887, abs=1e-5) and out.t_end > 0


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"duration": "gamma"}, "executor.duration"),
        ({"duration": "pareto", "pareto_k": 1.0}, "executor.pareto_k"),
        ({"duration": "uniform", "uniform_low": 1.0}, "executor.uniform_low"),
        ({"mean": 0.0}, "executor.mean"),
        ({"charge_decision_time": "yes"}, "executor.charge_decision_time"),
    ],
)
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        SimulatedExecutor(workers=2, **kwargs)


# -- the distributions -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["exponential", "uniform", "halfnormal", "pareto"])
def test_every_distribution_has_mean_one(kind):
    dist = Duration(kind, pareto_k=3.0)
    x = np.array([dist.sample(7, i, 0) for i in range(40_000)])
    # The sample mean's standard error is below 0.006 for all four (Pareto(3): sd 0.58).
    assert x.mean() == pytest.approx(1.0, abs=0.03)
    assert x.min() >= 0


def test_derived_uniform_is_uniform():
    u = np.array([derive_uniform(0, i, 0) for i in range(20_000)])
    assert u.min() > 0 and u.max() < 1
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert counts.min() > 1800 and counts.max() < 2200  # 2000 ± 4.5 sd


# -- Kandasamy et al. 2018, Table 1: evaluations finished by time T --------------------------
def _cdf(kind: str, x: float) -> float:
    if kind == "uniform":  # U(0, 2)
        return min(max(x / 2.0, 0.0), 1.0)
    if kind == "halfnormal":  # |N(0, ζ²)|, ζ = sqrt(π/2)
        return float(special.erf(x / (HALFNORMAL_SCALE * math.sqrt(2.0))))
    return 1.0 - math.exp(-x)  # Exp(1)


def _max_moments(kind: str, m: int) -> tuple[float, float]:
    """Mean and variance of the maximum of ``m`` draws, by quadrature of ``1 - F^m``."""
    upper = 2.0 if kind == "uniform" else 60.0

    def survival(x: float) -> float:
        return 1.0 - _cdf(kind, x) ** m

    mean = integrate.quad(survival, 0.0, upper, limit=200)[0]
    second = integrate.quad(lambda x: 2.0 * x * survival(x), 0.0, upper, limit=200)[0]
    return mean, second - mean**2


VARIANCE = {"uniform": 1.0 / 3.0, "halfnormal": math.pi / 2.0 - 1.0, "exponential": 1.0}


def test_expected_maxima_match_known_formulas():
    for m in (4, 8, 32):
        harmonic = sum(1.0 / k for k in range(1, m + 1))
        assert _max_moments("exponential", m)[0] == pytest.approx(harmonic, rel=1e-6)
        assert _max_moments("uniform", m)[0] == pytest.approx(2.0 * m / (m + 1), rel=1e-6)
    # Half-normal: Kandasamy et al.'s Table 1 gives only the order sqrt(2 log M) ζ; the
    # quadrature must at least grow like it and exceed the mean of one draw.
    means = [_max_moments("halfnormal", m)[0] for m in (4, 8, 32)]
    assert 1.0 < means[0] < means[1] < means[2] < HALFNORMAL_SCALE * math.sqrt(2 * math.log(32))


def _count_finished(kind: str, workers: int, mode: str, horizon: float) -> int:
    """Evaluations finished by ``horizon`` with ``workers`` refilled sync or async."""
    ex = started(workers=workers, duration=kind, seed=11)
    next_id = 0
    finished = 0
    for _ in range(workers):
        ex.submit(task(next_id))
        next_id += 1
    while ex.now() < horizon:
        outs = ex.wait(first=(mode == "async"))
        finished += sum(o.t_end <= horizon for o in outs)
        for _ in outs:  # sync: all M came back together; async: refill the free worker
            ex.submit(task(next_id))
            next_id += 1
    return finished


#: Relative standard deviation aimed at for each count: 3% is then five standard deviations.
TARGET_RSD = 0.006


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uniform", "halfnormal", "exponential"])
@pytest.mark.parametrize("workers", [4, 8, 32])
def test_finished_evaluations_match_kandasamy_table_1(kind, workers):
    """async ≈ M·T/E[X] and sync ≈ M·T/E[max of M draws], within 3%.

    By renewal theory a worker finishes ``T/μ`` evaluations by ``T`` with relative standard
    deviation ``cv/sqrt(T/μ)`` (``cv`` of one cycle), so ``T`` is chosen per case to make the
    count's relative sd ``TARGET_RSD``: M independent workers (async, cycle X) or one sequence
    of rounds (sync, cycle max of M draws). The finite-T bias, ``(cv² - 1)/2`` cycles per
    renewal process, is under 0.1% at these T.
    """
    mean_x, var_x = 1.0, VARIANCE[kind]
    mean_max, var_max = _max_moments(kind, workers)

    t_async = mean_x * (var_x / mean_x**2) / TARGET_RSD**2 / workers
    expected_async = workers * t_async / mean_x
    got_async = _count_finished(kind, workers, "async", t_async)
    assert got_async == pytest.approx(expected_async, rel=0.03)

    t_sync = max(mean_max * (var_max / mean_max**2) / TARGET_RSD**2, 200.0 * mean_max)
    expected_sync = workers * t_sync / mean_max
    got_sync = _count_finished(kind, workers, "sync", t_sync)
    assert got_sync == pytest.approx(expected_sync, rel=0.03)

    # The paper's point: asynchronous parallelism finishes E[max]/E[X] times as many.
    ratio = (got_async / t_async) / (got_sync / t_sync)
    assert ratio == pytest.approx(mean_max / mean_x, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uniform", "halfnormal", "exponential"])
@pytest.mark.parametrize("workers", [4, 8, 32])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_driver_finishes_what_table_1_predicts(compose, tmp_path, kind, workers, mode):
    """The real loop (bench.driver) finishes by T exactly what the reference loop above does.

    Same seed, same durations: so the harness itself, not only the executor, meets Table 1
    (checked statistically by ``test_finished_evaluations_match_kandasamy_table_1``).
    """
    import pandas as pd

    from bench.driver import Driver

    horizon = 60.0
    cfg = compose(
        "objective=quadratic",
        "strategy=random",
        "executor=simulated",
        f"executor.duration={kind}",
        f"workers={workers}",
        f"mode={mode}",
        "seed=11",
        "budget.evaluations=null",
        f"budget.seconds={horizon}",
        "journal.fsync=false",
        "carbon=off",
        "progress=false",
    )
    Driver(cfg, tmp_path / "run").run()
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    assert int((df["t_end"] <= horizon).sum()) == _count_finished(kind, workers, mode, horizon)
