"""Claims stated as data are checked seed by seed, with verdicts known by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.claims import Claim, check_claims, claims_of


def _runs(
    final: dict[str, list[float]], ends: dict[str, list[float]] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two evaluations per run: a regret of 1.0 at t=1, then the final regret at the run's end."""
    runs, rows = [], []
    for label, values in final.items():
        for seed, value in enumerate(values):
            run = f"{label}-{seed}"
            end = (ends or {}).get(label, [10.0] * len(values))[seed]
            runs.append({"run": run, "objective": "branin", "label": label, "seed": seed, "elapsed_s": end})
            rows += [
                {"run": run, "t_end": 1.0, "regret": 1.0, "best_so_far": 1.0},
                {"run": run, "t_end": end, "regret": value, "best_so_far": value},
            ]
    return pd.DataFrame(rows), pd.DataFrame(runs)


CLAIM = Claim(id="c", source="paper", statement="A ahead of B", better="A", than=("B",))


def test_a_line_ahead_on_every_seed_reproduces_the_claim():
    frame, runs = _runs({"A": [0.01] * 6, "B": [0.5] * 6})
    row = check_claims(frame, runs, [CLAIM]).iloc[0]
    assert row["verdict"] == "reproduced" and row["pairs"] == 6 and row["win_rate"] == 1.0
    assert row["wilcoxon_p"] == pytest.approx(2 / 2**6)


def test_no_significant_difference_does_not_reproduce_it():
    frame, runs = _runs({"A": [0.1, 0.3, 0.1, 0.3, 0.1, 0.3], "B": [0.2] * 6})
    row = check_claims(frame, runs, [CLAIM]).iloc[0]
    assert row["verdict"] == "not reproduced" and "no significant difference" in row["why"]


def test_too_few_seeds_is_not_a_test():
    frame, runs = _runs({"A": [0.01] * 5, "B": [0.5] * 5})  # the exact test's smallest p is 2/32 > 0.05
    row = check_claims(frame, runs, [CLAIM]).iloc[0]
    assert row["verdict"] == "not tested" and "too few" in row["why"]


def test_a_missing_line_is_not_tested():
    frame, runs = _runs({"A": [0.01] * 6})
    row = check_claims(frame, runs, [CLAIM]).iloc[0]
    assert row["verdict"] == "not tested" and "no runs of B" in row["why"]


def test_no_worse_holds_without_a_significant_loss_and_fails_with_one():
    no_worse = Claim(id="n", source="", statement="", better="A", than=("B",), relation="no_worse")
    frame, runs = _runs({"A": [0.1, 0.3, 0.1, 0.3, 0.1, 0.3], "B": [0.2] * 6})
    assert check_claims(frame, runs, [no_worse]).iloc[0]["verdict"] == "reproduced"
    frame, runs = _runs({"A": [0.5] * 6, "B": [0.01] * 6})
    assert check_claims(frame, runs, [no_worse]).iloc[0]["verdict"] == "not reproduced"


def test_common_time_compares_each_pair_when_the_first_run_ended():
    # A ends at t=5 with a low regret; B only gets there at t=20. At the end B is as good as A,
    # but at A's end time (5) B still has its first value, 1.0.
    frame, runs = _runs({"A": [0.01] * 6, "B": [0.01] * 6}, ends={"A": [5.0] * 6, "B": [20.0] * 6})
    at_end = check_claims(frame, runs, [CLAIM]).iloc[0]
    assert at_end["verdict"] == "not reproduced" and at_end["win_rate"] == 0.5
    timed = Claim(id="t", source="", statement="", better="A", than=("B",), at="common_time")
    row = check_claims(frame, runs, [timed]).iloc[0]
    assert row["verdict"] == "reproduced" and row["median_than"] == 1.0


def test_claims_are_read_once_from_the_runs_configs():
    node = {"id": "k", "better": "asyTS", "than": "synTS", "alpha": 0.01}
    claims = claims_of([{"claims": [node]}, {"claims": [node]}, {"claims": []}])
    assert claims == [Claim(id="k", source="", statement="", better="asyTS", than=("synTS",), alpha=0.01)]


def test_every_kandasamy_preset_states_its_claim(compose):
    for name in ("hartmann6", "hartmann3", "branin", "park1"):
        cfg = compose(f"experiment=kandasamy_{name}")
        (claim,) = cfg.claims
        assert claim.better == "asyTS" and "synTS" in claim.than and claim.id == f"kandasamy2018-{name}"
    playbook = compose("experiment=playbook")
    assert {c.at for c in playbook.claims} == {"end", "common_time"}
    assert all(c.relation == "no_worse" for c in playbook.claims)
