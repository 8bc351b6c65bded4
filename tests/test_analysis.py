"""bobench-report on hand-built run folders whose answers are known."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.figures import convergence_plot
from analysis.load import load_runs
from analysis.metrics import (
    Spec,
    aggregate,
    co2_spent,
    curves,
    decision_co2,
    mean_se,
    parse_specs,
    ratio_se,
    step_best,
    summary_table,
    targets,
    value_name,
)
from bench.carbon import green_algorithms_energy_kwh
from bench.errors import UserError
from bench.space import Space

QUAD_SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0}}
LR_SPACE = {"lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}}
CO2_PER_EVAL = 0.001


def make_run(
    root: Path,
    name: str,
    *,
    objective: str,
    strategy: str,
    seed: int,
    values: list[float | None],
    statuses: list[str] | None = None,
    params: list[dict] | None = None,
    metrics: list[dict] | None = None,
    space: dict | None = None,
    optimum: float | None = None,
    summary: bool = True,
    results: bool = True,
    journal: bool = True,
    step_s: float = 10.0,
    workers: int = 1,
    driver_co2: float = 0.0005,
    optimum_in_journal: bool = True,
    metric: str | None = None,
) -> Path:
    """Writes a run folder as the driver would: evaluation i runs from 10(i-1)+1 to 10 i s.

    Each submit record carries its share of the driver's CO2 (``driver_co2 / n``), as the driver
    journals it. ``optimum_in_journal=False`` writes a start record without ``optimum``, as
    drivers did before it carried one. ``metric`` goes into the config as ``objective.metric``.
    """
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    n = len(values)
    statuses = statuses or ["ok"] * n
    params = params or [{"x": round(-0.9 + 0.37 * i, 3)} for i in range(n)]
    metrics = metrics or [{} for _ in range(n)]
    space = space or QUAD_SPACE
    config = {
        "seed": seed,
        "workers": workers,
        "mode": "sync",
        "objective": {"_target_": f"objectives.{objective}.Objective", "name": objective, "space": space}
        | ({"metric": metric} if metric else {}),
        "strategy": {"_target_": f"bench.strategies.{strategy}.Strategy"},
        "executor": {"_target_": "bench.executors.inline.InlineExecutor"},
        "carbon": {"method": "green_algorithms"},
    }
    (run / ".hydra" / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    choices = {"objective": objective, "strategy": strategy, "executor": "inline", "carbon": "codecarbon"}
    (run / ".hydra" / "hydra.yaml").write_text(json.dumps({"hydra": {"runtime": {"choices": choices}}}))
    start = {"event": "start", "seed": seed, "config": config, "clock_origin": 0.0}
    if optimum_in_journal:
        start["optimum"] = optimum
    rows, events = [], [start]
    unit = Space.from_config(space)
    best = best_true = math.inf
    for i, (v, st, p, m) in enumerate(zip(values, statuses, params, metrics, strict=True)):
        t_start, t_end = step_s * i + 1.0, step_s * (i + 1)
        if st == "ok" and v is not None and math.isfinite(v):
            best = min(best, v)
            best_true = min(best_true, m.get("true_value", v))  # regret as the driver computes it
        row = {"eval_id": i, "status": st, "value": v if st == "ok" else None}
        row |= {f"param.{k}": val for k, val in p.items()}
        row |= {f"metric.{k}": json.dumps(val) if isinstance(val, list) else val for k, val in m.items()}
        row |= {
            "worker": "0",
            "job_id": None,
            "attempt": 0,
            "t_submit": t_start - 1.0,
            "t_start": t_start,
            "t_end": t_end,
            "duration_s": t_end - t_start,
            "decision_s": 0.5,
            "energy_kwh": CO2_PER_EVAL * 2,
            "co2_kg": CO2_PER_EVAL,
            "carbon_method": "green-algorithms",
            "regret": best_true - optimum if optimum is not None and math.isfinite(best) else None,
            "best_so_far": best if math.isfinite(best) else None,
            "message": None if st == "ok" else "boom",
        }
        rows.append(row)
        events.append(
            {
                "event": "submit",
                "eval_id": i,
                "attempt": 0,
                "params": p,
                "x": [float(u) for u in unit.to_unit(p)],
                "t_submit": t_start - 1.0,
                "decision_s": 0.5,
                "decision_co2_kg": driver_co2 / n,
            }
        )
        events.append(
            {
                "event": "result",
                "final": True,
                "eval_id": i,
                "status": st,
                "value": (v if v is None or math.isfinite(v) else repr(v)) if st == "ok" else None,
                "metrics": m,
                "message": None,
                "worker": "0",
                "t_start": t_start,
                "t_end": t_end,
                "attempt": 0,
                "job_id": None,
                "energy_kwh": CO2_PER_EVAL * 2,
                "co2_kg": CO2_PER_EVAL,
                "carbon_method": "green-algorithms",
            }
        )
    if results:
        pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    if journal:
        if summary:  # a finished run's journal ends with its end record
            events.append({"event": "end", "t": step_s * n, "reason": "budget.evaluations"})
        (run / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    if summary:
        ev_co2 = CO2_PER_EVAL * n
        (run / "summary.json").write_text(
            json.dumps(
                {
                    "objective": objective,
                    "strategy": strategy,
                    "executor": "inline",
                    "mode": "sync",
                    "workers": workers,
                    "seed": seed,
                    "clock": "wall",
                    "n_evals": n,
                    "n_failed": sum(s != "ok" for s in statuses),
                    "best_value": best,
                    "optimum": optimum,
                    "final_regret": best - optimum if optimum is not None else None,
                    "elapsed_s": step_s * n,
                    "utilisation": 0.9,
                    "energy_kwh": {
                        "evaluations": 2 * ev_co2,
                        "driver": 2 * driver_co2,
                        "total": 2 * (ev_co2 + driver_co2),
                    },
                    "co2_kg": {"evaluations": ev_co2, "driver": driver_co2, "total": ev_co2 + driver_co2},
                    "carbon_method": {"evaluations": "green-algorithms", "driver": "green-algorithms"},
                }
            )
        )
    return run


def quad_multirun(root: Path, partial_ei1: bool = True) -> Path:
    """Two strategies × two seeds on a 1-D objective with optimum 0; answers worked out below.

    With --target 1.0: random reaches it after 4 and 5 evaluations (40 s, 50 s), ei after 2 and
    1 (20 s, 10 s): means 4.5 ± 0.5 and 1.5 ± 0.5, so the speed-up of ei is 3.0 ± 1.054.
    """
    multi = root / "multirun" / "2025-01-01" / "12-00-00"
    make_run(multi, "0", objective="quad", strategy="random", seed=0, optimum=0.0, values=[5, 3, 2, 1.0, 0.5])
    make_run(
        multi,
        "1",
        objective="quad",
        strategy="random",
        seed=1,
        optimum=0.0,
        values=[4, None, 1.5, 1.2, 0.8],
        statuses=["ok", "diverged", "ok", "ok", "ok"],
    )
    make_run(
        multi,
        "2",
        objective="quad",
        strategy="ei",
        seed=0,
        optimum=0.0,
        values=[5, 1, None, 0.3, 0.2],
        statuses=["ok", "ok", "error", "ok", "ok"],
    )
    make_run(
        multi,
        "3",
        objective="quad",
        strategy="ei",
        seed=1,
        optimum=0.0,
        values=[0.7, 2, 0.5, 0.1, 0.3],
        summary=not partial_ei1,
    )
    (multi / "multirun.yaml").write_text("hydra: {}\n")
    return multi


def test_mean_se_and_step_interpolation():
    assert mean_se([4, 5]) == (4.5, pytest.approx(0.5), 2)
    m, se, n = mean_se([1.0, float("nan"), 3.0, 8.0])
    assert (m, n) == (4.0, 3) and se == pytest.approx(np.std([1, 3, 8], ddof=1) / math.sqrt(3))
    assert math.isnan(mean_se([2.0])[1])
    got = step_best(np.array([10, 20, 30.0]), np.array([5, 3, 1.0]), np.array([0, 5, 10, 15, 30, 35.0]), 30.0)
    np.testing.assert_array_equal(got, [np.nan, np.nan, 5, 5, 1, np.nan])
    assert ratio_se(4.5, 0.5, 1.5, 0.5) == (3.0, pytest.approx(3 * math.sqrt((0.5 / 4.5) ** 2 + (0.5 / 1.5) ** 2)))


def test_load_multirun_tidy_frame(tmp_path):
    loaded = load_runs([quad_multirun(tmp_path)])
    runs = loaded.runs_frame.set_index("label")
    assert sorted(loaded.runs_frame["label"]) == ["ei", "ei", "random", "random"]
    assert len(loaded.frame) == 20 and set(loaded.frame["objective"]) == {"quad"}
    ei1 = loaded.frame[(loaded.frame["label"] == "ei") & (loaded.frame["seed"] == 1)]
    assert list(ei1["best_so_far"]) == [0.7, 0.7, 0.5, 0.1, 0.1]
    assert list(ei1["regret"]) == [0.7, 0.7, 0.5, 0.1, 0.1]  # a partial run: the optimum from its journal
    ei0 = loaded.frame[(loaded.frame["label"] == "ei") & (loaded.frame["seed"] == 0)]
    assert list(ei0["best_so_far"]) == [5, 1, 1, 0.3, 0.2] and list(ei0["ok"]) == [True, True, False, True, True]
    # Each evaluation's 0.001 kg and each decision's 0.0001 kg made before its end (t_submit < t_end).
    assert list(ei0["co2_cum"]) == pytest.approx([0.0011, 0.0022, 0.0033, 0.0044, 0.0055])
    assert runs["complete"].sum() == 3
    assert list(runs.loc["random", "co2_kg"]) == pytest.approx([0.0055, 0.0055])  # summary: evaluations + driver
    notes = "\n".join(loaded.notes)
    assert "1 partial run" in notes and "2 failed evaluation(s) (diverged: 1, error: 1)" in notes


def test_labels_name_the_settings_that_differ(tmp_path):
    for workers in (1, 4):
        make_run(tmp_path, f"w{workers}", objective="quad", strategy="ei", seed=0, values=[1.0, 0.5], workers=workers)
    make_run(tmp_path, "other", objective="branin", strategy="ei", seed=0, values=[3.0])
    loaded = load_runs([tmp_path])
    assert sorted(loaded.runs_frame["label"]) == ["ei", "ei (w=1)", "ei (w=4)"]
    with pytest.raises(UserError, match="--baseline"):
        summary_table(loaded.frame, loaded.runs_frame, targets(loaded.frame), "bogus")
    from analysis.metrics import pick_baseline

    with pytest.raises(UserError, match="--baseline"):
        pick_baseline(["ei (w=1)", "ei (w=4)"], "ei")  # ambiguous
    assert pick_baseline(["ei (w=1)", "random (w=1)"], "random") == "random (w=1)"


@pytest.mark.parametrize("optimum_in_journal", [True, False], ids=["journal", "older-journal"])
def test_regret_uses_the_noise_free_value_and_the_recorded_optimum(tmp_path, optimum_in_journal):
    noisy = [2.0, 0.5, 1.0]
    true = [{"true_value": 2.2}, {"true_value": 0.9}, {"true_value": 0.6}]
    run = make_run(
        tmp_path,
        "n",
        objective="quad",
        strategy="ei",
        seed=0,
        optimum=0.25,
        values=noisy,
        metrics=true,
        summary=False,
        optimum_in_journal=optimum_in_journal,
    )
    loaded = load_runs([run])
    # A partial run: the optimum from the journal's start record; a journal written before it
    # carried one recorded it only in results.csv's regret column.
    assert loaded.runs[0].meta["optimum"] == pytest.approx(0.25)
    assert list(loaded.frame["best_so_far"]) == [2.0, 0.5, 0.5]
    assert list(loaded.frame["regret"]) == pytest.approx([1.95, 0.65, 0.35])
    reg = curves(loaded.frame, loaded.runs_frame, "evaluations", "regret")
    assert list(reg["y"]) == pytest.approx([1.95, 0.65, 0.35])  # the regret figure draws the same


def test_journal_only_and_results_only_folders_give_the_same_frame(tmp_path):
    common = dict(objective="quad", strategy="ei", seed=0, optimum=0.0, values=[5, 1, None, 0.3])
    statuses = ["ok", "ok", "error", "ok"]
    a = make_run(tmp_path, "a", **common, statuses=statuses, journal=False)
    b = make_run(tmp_path, "b", **common, statuses=statuses, results=False, summary=False)
    la, lb = load_runs([a]), load_runs([b])
    assert la.runs[0].meta["source"] == "results.csv" and lb.runs[0].meta["source"] == "journal.jsonl"
    fa, fb = la.frame, lb.frame
    cols = ["eval_id", "status", "value", "best_so_far", "regret", "t_end", "param.x", "n"]
    pd.testing.assert_frame_equal(fa[cols], fb[cols], check_dtype=False)
    # Only the journal records the driver's decisions: results.csv's CO2 is the evaluations' alone.
    assert list(fa["co2_cum"]) == pytest.approx([0.001, 0.002, 0.003, 0.004])
    assert list(fb["co2_cum"]) == pytest.approx([0.001125, 0.00225, 0.003375, 0.0045])
    assert not la.runs[0].meta["co2_decisions"] and lb.runs[0].meta["co2_decisions"]
    assert "x" not in fa and list(fb["x"]) == [[(x + 1) / 2] for x in fb["param.x"]]  # the journal's unit point


def test_time_to_target_speedup_and_se_known_answers(tmp_path):
    loaded = load_runs([quad_multirun(tmp_path)])
    tg = targets(loaded.frame, {None: Spec(1.0)})
    table, baselines = summary_table(loaded.frame, loaded.runs_frame, tg, None)
    assert baselines == {"quad": "random"}  # random search is the default baseline
    t = table.set_index("strategy")
    assert t.loc["random", "evals_to_target_mean"] == 4.5 and t.loc["random", "evals_to_target_se"] == pytest.approx(
        0.5
    )
    assert t.loc["ei", "evals_to_target_mean"] == 1.5 and t.loc["ei", "evals_to_target_se"] == pytest.approx(0.5)
    assert t.loc["random", "time_to_target_s_mean"] == 45.0 and t.loc["ei", "time_to_target_s_mean"] == 15.0
    # evaluations and decisions spent by then: seed 0 at its 2nd end (0.002 + 2 x 0.0001), seed 1 at its 1st
    assert t.loc["ei", "co2_to_target_kg_mean"] == pytest.approx((0.0022 + 0.0011) / 2)
    se = 3 * math.sqrt((0.5 / 4.5) ** 2 + (0.5 / 1.5) ** 2)
    assert t.loc["ei", "speedup_evals_mean"] == pytest.approx(3.0) and t.loc["ei", "speedup_evals_se"] == pytest.approx(
        se
    )
    assert t.loc["ei", "speedup_time_mean"] == pytest.approx(3.0) and t.loc["ei", "speedup_time_se"] == pytest.approx(
        se
    )
    assert t.loc["random", "speedup_evals_mean"] == 1.0
    assert t.loc["random", "final_regret_mean"] == pytest.approx(0.65) and t.loc[
        "random", "final_regret_se"
    ] == pytest.approx(0.15)
    assert t.loc["ei", "final_regret_mean"] == pytest.approx(0.15) and t.loc["ei", "final_regret_se"] == pytest.approx(
        0.05
    )
    assert list(t["reached"]) == [2, 2] and list(t["n_seeds"]) == [2, 2]
    # ei seed 1 is partial: its CO2 is the sum over evaluations; seed 0 has the summary total
    assert t.loc["ei", "co2_kg_mean"] == pytest.approx((0.0055 + 0.005) / 2)
    # against ei as the baseline, random is 3x slower
    t2 = summary_table(loaded.frame, loaded.runs_frame, tg, "ei")[0].set_index("strategy")
    assert t2.loc["random", "speedup_evals_mean"] == pytest.approx(1 / 3)


def test_default_target_is_best_found_plus_tolerance(tmp_path):
    loaded = load_runs([quad_multirun(tmp_path)])
    values = loaded.frame.loc[loaded.frame["ok"], "value"]
    best, median = values.min(), values.median()
    assert targets(loaded.frame)["quad"][0] == pytest.approx(best + 0.05 * (median - best))
    assert targets(loaded.frame, tolerance={None: Spec(0.25)})["quad"][0] == pytest.approx(0.35)
    assert parse_specs(["quad=10%"], "--tolerance", allow_percent=True) == {"quad": Spec(0.1, True)}
    with pytest.raises(UserError, match="--target"):
        parse_specs(["quad=abc"], "--target")
    # 0.15: no random run reaches it, ei seed 1 at its 4th evaluation (40 s); the others are
    # censored at what they spent (5 evaluations, 50 s), so means are lower bounds
    table, _ = summary_table(loaded.frame, loaded.runs_frame, targets(loaded.frame, {None: Spec(0.15)}))
    t = table.set_index("strategy")
    assert t.loc["random", "reached"] == 0 and t.loc["random", "evals_to_target_mean"] == 5.0
    assert t.loc["ei", "reached"] == 1 and t.loc["ei", "evals_to_target_mean"] == 4.5
    assert t.loc["ei", "time_to_target_s_mean"] == 45.0 and t.loc["ei", "to_target_bound"] == ">="
    assert math.isnan(t.loc["ei", "speedup_evals_mean"])  # both means are bounds: no speed-up
    # 0.5: random seed 0 at 5 (50 s), seed 1 never (censored at 5); ei at 4 and 3: speed-up >= 5/3.5
    table, _ = summary_table(loaded.frame, loaded.runs_frame, targets(loaded.frame, {None: Spec(0.5)}))
    t = table.set_index("strategy")
    assert (t.loc["random", "reached"], t.loc["random", "to_target_bound"]) == (1, ">=")
    assert (t.loc["ei", "reached"], t.loc["ei", "to_target_bound"]) == (2, "")
    assert t.loc["ei", "speedup_evals_mean"] == pytest.approx(5 / 3.5) and t.loc["ei", "speedup_bound"] == ">="
    assert t.loc["random", "speedup_bound"] == ""


def test_curves_on_a_common_grid(tmp_path):
    loaded = load_runs([quad_multirun(tmp_path)])
    ev = aggregate(curves(loaded.frame, loaded.runs_frame, "evaluations"))
    rnd = ev[ev["label"] == "random"].set_index("x")
    assert list(rnd.index) == [1, 2, 3, 4, 5]
    assert rnd.loc[3, "mean"] == pytest.approx((2 + 1.5) / 2) and rnd.loc[3, "se"] == pytest.approx(0.25)
    tm = curves(loaded.frame, loaded.runs_frame, "time")
    one = tm[(tm["label"] == "ei") & tm["run"].str.endswith("3")]
    at = dict(zip(one["x"], one["y"], strict=True))
    xs = np.array(sorted(at))
    assert math.isnan(at[xs[xs < 10].max()])  # nothing finished yet
    assert at[xs[(xs >= 30) & (xs < 40)].min()] == 0.5  # best among t_end <= t
    reg = aggregate(curves(loaded.frame, loaded.runs_frame, "co2", "regret"))
    assert reg["x"].max() == pytest.approx(0.0055) and (reg["mean"] > 0).all()  # the summary's total


def test_co2_spent_counts_every_decision_made_before_each_end():
    records = [
        {"event": "start"},
        {"event": "submit", "t_submit": 0.0, "decision_co2_kg": 1.0},
        {"event": "submit", "t_submit": 0.0, "decision_co2_kg": 1.0},
        {"event": "result", "t_end": 5.0},
        {"event": "submit", "t_submit": 5.0, "decision_co2_kg": 2.0},  # decided once the first ended
        {"event": "submit", "t_submit": 6.0, "decision_co2_kg": None},  # a re-run: no decision
        {"event": "submit", "t_submit": 7.0, "decision_co2_kg": 3.0},
    ]
    t, kg = decision_co2(records)
    assert list(t) == [0.0, 0.0, 5.0, 7.0] and list(kg) == [1.0, 1.0, 2.0, 3.0]
    # ends at 5, 7, 9: the evaluations so far, plus the decisions made strictly before each end
    spent = co2_spent(pd.Series([5.0, 7.0, 9.0]), pd.Series([10.0, 20.0, 30.0]), t, kg)
    assert list(spent) == [10 + 2, 30 + 4, 60 + 7]
    assert np.isnan(co2_spent([1.0, 2.0], [np.nan, np.nan], np.zeros(0), np.zeros(0))).all()  # carbon off
    assert list(co2_spent([1.0, 2.0], [np.nan, np.nan], np.array([0.0]), np.array([0.5]))) == [0.5, 0.5]


@pytest.mark.parametrize(
    ("config", "name"),
    [
        ({"metric": "neg_accuracy"}, "negative test accuracy"),
        ({"metric": "neg_accuracy", "cv": 3}, "negative CV accuracy"),
        ({"metric": "loss"}, "training loss"),
        ({"metric": "neg_val_accuracy"}, "negative validation accuracy"),
        ({"metric": "neg_f1_macro"}, "negative f1 macro"),
        ({"space": {}}, "branin value"),
        (None, "branin value"),
    ],
)
def test_value_name_spells_out_the_metric(config, name):
    assert value_name(config, "branin") == name


def _suptitle(fig) -> str:
    return fig.get_suptitle() if hasattr(fig, "get_suptitle") else fig._suptitle.get_text()


def test_convergence_plot_of_one_seed_spanning_decades(tmp_path):
    import matplotlib.pyplot as plt

    values = [900.0, 20.0, 3.0, 0.05]
    run = make_run(tmp_path, "one", objective="quad", strategy="ei", seed=0, optimum=0.0, values=values, metric="loss")
    loaded = load_runs([run])
    for y, ylabel in (("best", "best training loss so far"), ("regret", "simple regret")):
        drawn = convergence_plot(loaded, "quad", y)
        assert drawn is not None
        fig, panels = drawn
        assert panels == ["evaluations", "time", "co2"]
        title = _suptitle(fig)
        assert "one seed" in title and "±" not in title and "SE" not in title
        for ax in fig.axes:
            assert ax.get_ylabel() == ylabel
            assert ax.get_yscale() == "log"  # 900 down to 0.05: more than two decades
            lines = ax.get_lines()
            assert lines and all(line.get_drawstyle() == "steps-post" for line in lines)
            assert not ax.collections  # no band: one seed has no standard error
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["ei"]  # no "n=1"
        co2 = fig.axes[2]
        assert co2.get_xlabel() == "kg CO2e (evaluations + decisions)"
        # the line ends at the run's whole cost: 4 evaluations (0.004) and the driver's 0.0005
        assert max(co2.get_lines()[0].get_xdata()) == pytest.approx(0.0045)
        plt.close(fig)


def test_convergence_plot_of_seeds_within_a_decade(tmp_path):
    import matplotlib.pyplot as plt

    loaded = load_runs([quad_multirun(tmp_path)])
    drawn = convergence_plot(loaded, "quad", "best")
    assert drawn is not None
    fig, _ = drawn
    assert "mean ± SE over 2 seeds" in _suptitle(fig)
    for ax in fig.axes:
        assert ax.get_ylabel() == "best quad value so far"  # no objective.metric: the objective's name
        assert ax.get_yscale() == "linear"  # 4.5 down to 0.15: less than two decades
        assert all(line.get_drawstyle() == "steps-post" for line in ax.get_lines())
        assert ax.collections  # the ± SE bands
    assert sorted(t.get_text() for t in fig.axes[0].get_legend().get_texts()) == ["ei (n=2)", "random (n=2)"]
    plt.close(fig)


def test_fallback_energy_of_a_known_runtime():
    # 90 minutes on 4 cores at 15 W, usage 0.8, 16 GB, PUE 1.2: (48 + 5.96) W x 1.5 h x 1.2
    assert green_algorithms_energy_kwh(5400, 4, 15.0, 0.8, 16.0, pue=1.2) == pytest.approx(53.96 * 1.5 * 1.2 / 1000)


def _figure_world(root: Path) -> list[Path]:
    quad = quad_multirun(root)
    grid = root / "grid"
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    for seed in (0, 1):
        acc = [0.5, 0.8, 0.9 - 0.01 * seed, 0.85, 0.3]
        make_run(
            grid,
            f"s{seed}",
            objective="mlp",
            strategy="grid",
            seed=seed,
            space=LR_SPACE,
            values=[-a for a in acc],
            params=[{"lr": lr} for lr in lrs],
            metrics=[{"train_accuracy": a + 0.05, "test_accuracy": a - 0.02} for a in acc],
        )
    cnn = root / "cnn"
    curves_ = [{"train_loss": [2.0, 1.2 - 0.1 * i, 0.8], "val_loss": [2.1, 1.4, 1.1 + 0.1 * i]} for i in range(4)]
    curves_[2]["val_loss"] = [2.0, "nan", 1.0]
    for strategy in ("random", "ei"):
        make_run(
            cnn,
            strategy,
            objective="cnn",
            strategy=strategy,
            seed=0,
            values=[0.3, 0.25, 0.2, 0.28],
            params=[{"lr": 0.01 * (i + 1), "width": 8 * (i + 1)} for i in range(4)],
            metrics=curves_,
            space={"lr": {"type": "float", "low": 1e-3, "high": 1.0}, "width": {"type": "int", "low": 8, "high": 64}},
        )
    return [quad, grid, cnn]


def _snapshot(paths: list[Path]) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for root in paths for p in root.rglob("*")}


@pytest.mark.slow
def test_report_writes_every_figure_and_links_them(tmp_path, capsys):
    inputs = _figure_world(tmp_path)
    before = _snapshot(inputs)
    out = tmp_path / "report"
    assert main([*map(str, inputs), "--out", str(out), "--target", "quad=1.0"]) == 0
    assert _snapshot(inputs) == before  # nothing written into the run folders
    report = (out / "report.md").read_text()
    figures = sorted((out / "figures").iterdir())
    names = {p.name for p in figures}
    expected = {
        "quad_best",
        "quad_regret",
        "mlp_best",
        "cnn_best",
        "mlp_figure1_grid",
        "cnn_training_curves",
        "quad_ei_seed0_gp_step3",
        "quad_ei_seed0_convergence",
        "quad_random_seed0_gp_step4",
        "quad_random_seed0_convergence",
    }
    for stem in expected:
        assert {f"{stem}.png", f"{stem}.pdf"} <= names, stem
    for path in figures:
        assert path.stat().st_size > 1000, path
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"figures/{path.name}" in report
        else:
            assert path.read_bytes()[:5] == b"%PDF-"
    for link in re.findall(r"\]\(([^)]+)\)", report):
        assert (out / link).is_file(), link
    table = pd.read_csv(out / "summary_table.csv")
    quad = table[table["objective"] == "quad"].set_index("strategy")
    assert quad.loc["ei", "speedup_evals_mean"] == pytest.approx(3.0)
    assert "| quad | ei | 2 | 2/2 | 1.5 ± 0.5 | 15 ± 5 | 3 ± 1.1 |" in report
    assert (out / "summary_table.md").read_text().strip() in report
    left_out = report.split("## Left out")[1]
    assert "partial run" in left_out and "failed evaluation" in left_out
    assert "no known optimum" in left_out  # mlp and cnn have no regret figure
    assert "wrote" in capsys.readouterr().out


def test_gp_step_option_and_min_seeds(tmp_path):
    quad = quad_multirun(tmp_path)
    out = tmp_path / "r"
    assert main([str(quad), "--out", str(out), "--gp-step", "3", "--min-seeds", "1", "--baseline", "ei"]) == 0
    names = {p.name for p in (out / "figures").iterdir()}
    assert "quad_ei_seed0_gp_step3.png" in names
    assert "baseline *ei*" in (out / "report.md").read_text()


def _error_of(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bobench-report: error: "), err
    return err


def test_cli_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "out")
    assert "no such folder" in _error_of([str(tmp_path / "nope"), "--out", out], capsys)
    assert "no run folder" in _error_of([str(empty), "--out", out], capsys)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.csv").write_bytes(b"")
    (broken / "journal.jsonl").write_text("{not json\n")
    assert "no readable run" in _error_of([str(broken), "--out", out], capsys)
    run = make_run(tmp_path, "run", objective="quad", strategy="ei", seed=0, values=[1.0, 0.5])
    assert "inside the run folder" in _error_of([str(run), "--out", str(run / "report")], capsys)
    assert "--baseline" in _error_of([str(run), "--out", out, "--baseline", "bogus"], capsys)
    assert "--target" in _error_of([str(run), "--out", out, "--target", "quad=high"], capsys)
    assert "no objective" in _error_of([str(run), "--out", out, "--target", "other=1"], capsys)
    file_arg = run / "results.csv"
    assert "not a folder" in _error_of([str(file_arg), "--out", out], capsys)
    assert not (run / "report").exists()


def test_unreadable_subrun_is_left_out_with_a_reason(tmp_path):
    multi = quad_multirun(tmp_path)
    bad = multi / "9"
    bad.mkdir()
    (bad / "summary.json").write_text("{truncated")
    loaded = load_runs([multi])
    assert len(loaded.runs) == 4
    assert any("9: summary.json unreadable" in n for n in loaded.notes)
    assert any("9: left out, no finished evaluations" in n for n in loaded.notes)
