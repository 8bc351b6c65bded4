"""The robust statistics on small data whose answers are known by hand."""

from __future__ import annotations

import math

import pytest

from analysis.stats import paired, quartiles, stuck


def test_quartiles_of_five_values():
    q = quartiles([5.0, 1.0, 3.0, 2.0, 4.0, math.nan])
    assert (q.median, q.q1, q.q3, q.n) == (3.0, 2.0, 4.0, 5)


def test_quartiles_of_nothing_are_undefined():
    q = quartiles([math.nan])
    assert q.n == 0 and math.isnan(q.median)


def test_stuck_counts_values_above_the_threshold():
    # Hartmann6's local optimum has a regret of about 0.12; the global basin reaches 1e-3.
    assert stuck([0.001, 0.12, 0.0002, 0.13, math.nan], threshold=0.05) == (2, 4)


def test_a_strategy_that_wins_every_seed():
    a = {s: 0.001 * (s + 1) for s in range(10)}
    b = {s: 0.1 + s for s in range(10)}
    p = paired(a, b)
    assert (p.n, p.wins, p.ties, p.losses) == (10, 10, 0, 0)
    assert p.win_rate == 1.0 and (p.ci_low, p.ci_high) == (1.0, 1.0)
    # Exact two-sided signed-rank test, all ten differences negative: 2 / 2**10.
    assert p.p_value == pytest.approx(2 / 2**10)


def test_ties_count_half_and_zero_differences_are_dropped():
    p = paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 2.0, 1: 2.0, 2: 4.0})
    assert (p.wins, p.ties, p.losses) == (2, 1, 0)
    assert p.win_rate == pytest.approx(2.5 / 3)
    # Two non-zero differences of the same sign: the exact p-value is 2 / 2**2.
    assert p.p_value == pytest.approx(0.5)
    assert 0.0 <= p.ci_low <= p.win_rate <= p.ci_high <= 1.0


def test_only_seeds_both_ran_are_paired():
    p = paired({0: 1.0, 1: 1.0, 7: 0.0}, {0: 2.0, 1: 0.5, 3: 9.0, 7: math.nan})
    assert (p.n, p.wins, p.losses) == (2, 1, 1) and p.win_rate == 0.5


def test_identical_strategies_have_p_one_and_no_seeds_give_nan():
    same = {s: float(s) for s in range(5)}
    assert paired(same, same).p_value == 1.0
    assert math.isnan(paired({0: 1.0}, {1: 1.0}).win_rate)


def test_the_bootstrap_interval_is_reproducible_and_covers_the_rate():
    a = {s: float(s % 3) for s in range(20)}
    b = {s: 1.0 for s in range(20)}
    first, again = paired(a, b), paired(a, b)
    assert first == again
    assert first.ci_low < first.win_rate < first.ci_high
