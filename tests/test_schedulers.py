"""The rung logic of ASHA and Hyperband on synthetic learning curves with known answers (no I/O)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.errors import UserError
from bench.objective import Fidelity, Reporter, reporter
from bench.schedulers.asha import ASHA
from bench.schedulers.hyperband import Hyperband
from bench.schedulers.rungs import Reached, StoppingRungs, cutoff, rung_levels

THIRDS = Fidelity("fidelity", minimum=1 / 9, maximum=1.0)


def curve(c: float, r: float) -> float:
    """A learning curve: the loss of a configuration with final quality ``c`` after resource ``r``."""
    return c + 1.0 / r


#: Final qualities of nine configurations, in the order they reach the first rung.
QUALITIES = [5, 3, 8, 1, 9, 2, 7, 4, 6]


def test_rung_levels_are_min_times_powers_of_eta_then_the_full_resource():
    assert rung_levels(1 / 27, 1.0, 3) == pytest.approx([1 / 27, 1 / 9, 1 / 3, 1.0])
    assert rung_levels(1, 8, 3, integer=True) == [1, 3, 8]
    assert rung_levels(1, 9, 3, integer=True) == [1, 3, 9]
    assert rung_levels(1, 10, 2, integer=True) == [1, 2, 4, 8, 10]
    assert rung_levels(2, 2, 3) == [2]  # min = max: one rung, every trial runs it fully


@pytest.mark.parametrize(("minimum", "eta", "key"), [(0.5, 1.0, "scheduler.eta"), (0.0, 3, "scheduler.min_resource")])
def test_rung_levels_refuse_a_bad_setting_naming_it(minimum, eta, key):
    with pytest.raises(UserError, match=key):
        rung_levels(minimum, 1.0, eta)


def test_cutoff_is_numpys_linear_quantile_and_none_below_two_values():
    assert cutoff([4.0], 1 / 3) is None
    assert cutoff([1.0, 2.0, 3.0, 4.0], 1 / 3) == pytest.approx(2.0)  # position 3 * 1/3 = 1
    assert cutoff([3.0, 5.0], 1 / 3) == pytest.approx(3 + 2 / 3)


def test_async_stopping_decisions_on_learning_curves():
    """One value at a time, in arrival order: the early trials have an easier cutoff (ASHA's known trait)."""
    rungs = StoppingRungs([1 / 9, 1 / 3, 1.0], eta=3)
    goes_on = {t for t, c in enumerate(QUALITIES) if rungs.decide([Reached(t, 0, curve(c, 1 / 9))]) == [True]}
    # worked by hand: cutoffs 5+9, 3+9+2/3, 4+1/3+9, 3+9, 3+2/3+9, 2+2/3+9, 3+9, 3+1/3+9, 3+2/3+9
    assert goes_on == {0, 1, 3, 5}


def test_sync_stopping_decisions_take_the_whole_batch_at_once():
    """The same nine values as one batch: every one is decided against all nine (cutoff 3 + 2/3 + 9)."""
    rungs = StoppingRungs([1 / 9, 1 / 3, 1.0], eta=3)
    batch = [Reached(t, 0, curve(c, 1 / 9)) for t, c in enumerate(QUALITIES)]
    decided = rungs.decide(batch)
    assert {r.trial for r, go in zip(batch, decided, strict=True) if go} == {1, 3, 5}
    # and the order within the batch changes nothing
    again = StoppingRungs([1 / 9, 1 / 3, 1.0], eta=3)
    reversed_batch = batch[::-1]
    assert {r.trial for r, go in zip(reversed_batch, again.decide(reversed_batch), strict=True) if go} == {1, 3, 5}


def test_the_top_rung_ends_a_trial_and_a_non_finite_value_stops_it():
    rungs = StoppingRungs([1 / 3, 1.0], eta=3)
    assert rungs.decide([Reached(0, 1, 0.5)]) == [False]
    assert rungs.decide([Reached(1, 0, math.inf)]) == [False]
    assert rungs.decide([Reached(2, 0, 1.0)]) == [True]  # the inf counts for nothing


def run_asha(scheduler: ASHA, qualities: list[float], sync: bool) -> dict[int, float]:
    """Every trial through the scheduler to its end, on the curves; returns the resource each reached.

    async: trials one after another, each run until stopped; sync: all trials rung by rung.
    """
    reached: dict[int, float] = {}
    if sync:
        alive = list(range(len(qualities)))
        while alive:
            spans = {t: scheduler.span(t) for t in alive}
            decisions = scheduler.decide([(t, curve(qualities[t], spans[t][1])) for t in alive])
            for d in decisions:
                reached[d.trial] = d.level
            alive = [d.trial for d in decisions if d.go_on]
        return reached
    for t, c in enumerate(qualities):
        while True:
            _, stop = scheduler.span(t)
            (d,) = scheduler.decide([(t, curve(c, stop))])
            reached[t] = d.level
            if not d.go_on:
                break
    return reached


def test_asha_sync_keeps_the_best_third_at_each_rung():
    """Synchronous successive halving on 9 curves: 3 reach 1/3, the best one reaches the full resource."""
    asha = ASHA(eta=3)
    asha.bind(THIRDS, seed=0)
    reached = run_asha(asha, QUALITIES, sync=True)
    assert asha.levels == pytest.approx([1 / 9, 1 / 3, 1.0])
    full = [t for t, r in reached.items() if r == 1.0]
    third = [t for t, r in reached.items() if r == pytest.approx(1 / 3)]
    assert full == [3]  # quality 1, the best curve
    assert sorted(third) == [1, 5]  # qualities 3 and 2: stopped at 1/3 (cutoff of {1, 2, 3} + 3 is 2 + 2/3 + 3)
    assert sum(r == pytest.approx(1 / 9) for r in reached.values()) == 6


def test_asha_async_lets_early_trials_through():
    asha = ASHA(eta=3)
    asha.bind(THIRDS, seed=0)
    reached = run_asha(asha, QUALITIES, sync=False)
    # trial 0 (quality 5) is first at every rung, so it runs to the end; at 1/3 the cutoffs are then
    # 8, 6 + 2/3, 5 + 1/3 and 5 for trials 0, 1, 3 and 5 (values 8, 6, 4 and 5): all four go on.
    assert sorted(t for t, r in reached.items() if r == 1.0) == [0, 1, 3, 5]
    assert sum(reached.values()) == pytest.approx(4 + 5 / 9)  # half the full-fidelity compute (9)


def test_restore_replays_decisions_into_the_same_schedule():
    asha = ASHA(eta=3)
    asha.bind(THIRDS, seed=0)
    for t, c in enumerate(QUALITIES[:5]):
        asha.decide([(t, curve(c, asha.span(t)[1]))])
    replayed = ASHA(eta=3)
    replayed.bind(THIRDS, seed=0)
    for bracket, rungs in enumerate(asha.brackets):
        for rung, data in enumerate(rungs.data):
            for trial, value in data.items():
                replayed.restore(trial, bracket, rung, value)
    assert replayed.position == asha.position
    assert [replayed.span(t) for t in range(6)] == [asha.span(t) for t in range(6)]
    assert replayed.decide([(5, curve(2, 1 / 9))]) == asha.decide([(5, curve(2, 1 / 9))])


def test_scheduler_checks_its_resource_against_the_objectives():
    with pytest.raises(UserError, match=r"scheduler\.max_resource"):
        ASHA(max_resource=2.0).bind(THIRDS, seed=0)
    with pytest.raises(UserError, match=r"scheduler\.min_resource"):
        ASHA(min_resource=0.01).bind(THIRDS, seed=0)
    with pytest.raises(UserError, match=r"scheduler\.brackets"):
        Hyperband(brackets=0)


def test_hyperband_brackets_start_one_rung_higher_in_synchronous_hyperbands_proportions():
    hb = Hyperband(eta=3)
    hb.bind(THIRDS, seed=7)
    assert [b.levels for b in hb.brackets] == [hb.levels, hb.levels[1:], hb.levels[2:]]
    np.testing.assert_allclose(hb.weights(), np.array([9 / 3, 3 / 2, 1]) / 5.5)
    drawn = [hb.bracket_of(t) for t in range(5500)]
    shares = np.bincount(drawn, minlength=3) / len(drawn)
    np.testing.assert_allclose(shares, hb.weights(), atol=0.02)
    assert drawn == [hb.bracket_of(t) for t in range(5500)]  # a pure function of (seed, trial)
    t = drawn.index(2)
    assert hb.span(t) == (0.0, 1.0)  # the last bracket runs the full resource at once
    (d,) = hb.decide([(t, 0.3)])
    assert not d.go_on and d.level == 1.0


def test_reporter_is_a_no_op_asking_for_the_full_resource_outside_a_scheduled_evaluation():
    rep = reporter()
    rep.report(1, 0.5)
    assert rep.reports == [] and rep.stop is None and rep.until(8) == 8
    scheduled = Reporter(start=1, stop=3, record=True)
    scheduled.report(2, 0.4, loss=1.0)
    assert scheduled.until(8) == 3 and [(r.step, r.value, r.metrics) for r in scheduled.reports] == [
        (2, 0.4, {"loss": 1.0})
    ]


def schedule_for(scheduler, steps: int = 9):
    from bench.schedulers.hook import Schedule
    from objectives.multi_fidelity import MultiFidelitySynthetic

    space = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)}
    objective = MultiFidelitySynthetic(space, function="augmented_hartmann", steps=steps)
    return Schedule(scheduler, objective, seed=0, simulated=True)


def segment(eval_id, value, t_start, t_end, status="ok", kwh=1.0):
    from bench.records import Outcome

    return Outcome(eval_id, status, value, t_start=t_start, t_end=t_end, energy_kwh=kwh, co2_kg=kwh / 2)


def test_a_stopped_evaluation_sums_its_segments_and_a_failed_one_ends_where_it_failed():
    schedule = schedule_for(ASHA(eta=3))
    log_ = []

    def log(event, **fields):
        log_.append({"event": event, **fields})
        return log_[-1]

    for eid, value in enumerate([-2.0, -3.0]):  # at 1/9: the first alone goes on, the second is below -3 + 2/3
        assert schedule.span(eid) == (0.0, pytest.approx(1 / 9))
        schedule.observe([segment(eid, value, 0.0, 1 / 9)])
        assert schedule.segment_ended(segment(eid, value, 0.0, 1 / 9), log) is None
    # at 1/3: evaluation 0 (-3.1) goes on alone; evaluation 1 (-2.1, above -3.1 + 1/3) stops, its result
    # spanning both its segments
    assert schedule.span(1) == (pytest.approx(1 / 9), pytest.approx(1 / 3))
    schedule.observe([segment(0, -3.1, 1 / 9, 1 / 3)])
    assert schedule.segment_ended(segment(0, -3.1, 1 / 9, 1 / 3), log) is None
    schedule.span(1)
    schedule.observe([segment(1, -2.1, 1 / 9, 1 / 3)])
    final, extra = schedule.segment_ended(segment(1, -2.1, 1 / 9, 1 / 3), log)
    assert final.status == "stopped" and final.value == -2.1 and extra == {"fidelity": pytest.approx(1 / 3)}
    assert final.t_start == 0.0 and final.energy_kwh == pytest.approx(2.0) and final.co2_kg == pytest.approx(1.0)
    rungs = [r for r in log_ if r["event"] == "rung"]
    assert [(r["eval_id"], r["rung"], r["decision"]) for r in rungs] == [
        (0, 0, "continue"),
        (1, 0, "continue"),
        (0, 1, "continue"),
        (1, 1, "stop"),
    ]
    assert [r["resource"] for r in rungs] == pytest.approx([1 / 9, 1 / 9, 2 / 9, 2 / 9])  # it resumes: no recompute
    # evaluation 0 fails on its way to 1: the error ends it, at the rung it had reached, with every segment's energy
    schedule.span(0)
    failed = segment(0, None, 1 / 3, 0.5, status="error")
    schedule.observe([failed])
    final, extra = schedule.segment_ended(failed, log)
    assert final.status == "error" and extra == {"fidelity": pytest.approx(1 / 3)}
    assert final.energy_kwh == pytest.approx(3.0) and final.t_start == 0.0
    # and a schedule rebuilt from these records stands where this one does
    again = schedule_for(ASHA(eta=3))
    again.restore(log_)
    assert again.scheduler.position == schedule.scheduler.position
    assert again.so_far[1].energy_kwh == pytest.approx(2.0)


def test_promotion_rungs_promote_the_best_third_highest_rung_first():
    from bench.schedulers.rungs import PromotionRungs

    rungs = PromotionRungs([1 / 9, 1 / 3, 1.0], eta=3)
    assert rungs.decide([Reached(t, 0, curve(c, 1 / 9)) for t, c in enumerate(QUALITIES)]) == [False] * 9  # paused
    order = []
    while (r := rungs.promotable()) is not None:
        rungs.promote(r.trial, r.rung)
        order.append((r.trial, r.rung))
    assert order == [(3, 0), (5, 0), (1, 0)]  # floor(9 / 3) = 3: qualities 1, 2, 3
    rungs.decide([Reached(t, 1, curve(QUALITIES[t], 1 / 3)) for t in (3, 5, 1)])
    assert rungs.promotable() == Reached(3, 1, curve(1, 1 / 3))  # floor(3 / 3) = 1, and the higher rung first


def test_a_promoting_asha_resumes_paused_trials_from_where_they_stopped():
    asha = ASHA(eta=3, type="promotion")
    asha.bind(THIRDS, seed=0)
    for t, c in enumerate(QUALITIES):
        (d,) = asha.decide([(t, curve(c, asha.span(t)[1]))])
        assert not d.go_on
    promoted = [d.trial for d in asha.promotions(5)]
    assert promoted == [3, 5, 1]
    assert [asha.span(t) for t in promoted] == [(pytest.approx(1 / 9), pytest.approx(1 / 3))] * 3
    with pytest.raises(UserError, match=r"scheduler\.type"):
        ASHA(type="pause")


@pytest.mark.parametrize(
    ("node", "says"),
    [
        ({"minimum": 1}, r"objective\.fidelity\.maximum: expected a positive number"),
        ({"minimum": 5, "maximum": 4}, r"objective\.fidelity\.minimum: 5 is above"),
        ({"minimum": 1, "maximum": 4, "epochs": 3}, r"objective\.fidelity\.epochs: unknown key"),
    ],
)
def test_a_declared_resource_is_checked_naming_the_field(node, says):
    from bench.objective import fidelity_from_config

    with pytest.raises(UserError, match=says):
        fidelity_from_config(node)
    assert fidelity_from_config({}) is None
    assert fidelity_from_config({"name": "epochs", "minimum": 1, "maximum": 4, "integer": True}) == Fidelity(
        "epochs", 1.0, 4.0, integer=True
    )
