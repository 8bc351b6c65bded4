"""Paper claims, stated as data in the presets, checked against the runs: reproduced or not.

A preset (``conf/experiment/*.yaml``) lists the claims it reproduces under ``claims:``
(:class:`bench.schema.ClaimConf`): which line should be ahead (``better``) of which others
(``than``), compared seed by seed on

- ``at: end``: each run's final simple regret (or final best value where there is no optimum),
  the right comparison when the budget is a time (``budget.seconds``, equal time) or an equal
  number of evaluations;
- ``at: common_time``: each pair of runs with the same seed compared at the earlier of their two
  end times, so a budget in evaluations is compared at equal (simulated) time too.

The statistic is the paired one of :mod:`analysis.stats`: the win rate of ``better`` over the
other line (a tie counts half) with its bootstrap interval, and the two-sided Wilcoxon
signed-rank p-value. Verdicts:

- ``relation: better``: *reproduced* when the win rate is above one half and p < ``alpha``;
  *not reproduced* otherwise.
- ``relation: no_worse``: *reproduced* unless the other line is significantly ahead (win rate
  below one half and p < ``alpha``): the absence of a significant loss, said as such.
- *not tested* where a line did not run, or where the seeds both lines ran are too few for the
  test ever to reach p < ``alpha`` (the exact test's smallest p is ``2 / 2**n``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.stats import paired, quartiles

RELATIONS = ("better", "no_worse")
AT = ("end", "common_time")


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    statement: str
    better: str
    than: tuple[str, ...]
    relation: str = "better"
    at: str = "end"
    alpha: float = 0.05

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> Claim:
        than = node.get("than") or ()
        return cls(
            id=str(node["id"]),
            source=str(node.get("source", "")),
            statement=str(node.get("statement", "")),
            better=str(node["better"]),
            than=tuple(str(t) for t in ([than] if isinstance(than, str) else than)),
            relation=str(node.get("relation", "better")),
            at=str(node.get("at", "end")),
            alpha=float(node.get("alpha", 0.05)),
        )


def claims_of(runs_meta: Sequence[Mapping[str, Any]]) -> list[Claim]:
    """The claims the runs' configs state, each once (the first run that states an id wins)."""
    seen: dict[str, Claim] = {}
    for meta in runs_meta:
        for node in meta.get("claims") or []:
            if isinstance(node, Mapping) and "id" in node and str(node["id"]) not in seen:
                seen[str(node["id"])] = Claim.from_config(node)
    return list(seen.values())


def _value_at(ev: pd.DataFrame, column: str, t: float) -> float:
    """The running value (best so far or regret) among evaluations that ended by ``t``."""
    done = ev[pd.to_numeric(ev["t_end"], errors="coerce") <= t]
    return float(done[column].iloc[-1]) if len(done) else math.nan


def _per_seed(
    frame: pd.DataFrame, runs: pd.DataFrame, label: str, other: str, at: str
) -> tuple[dict[Any, float], dict[Any, float], str]:
    """Each seed's value for ``label`` and for ``other``, compared as ``at`` says."""
    mine = runs[runs["label"] == label].set_index("seed")
    theirs = runs[runs["label"] == other].set_index("seed")
    column = "regret" if frame.loc[frame["run"].isin(runs["run"]), "regret"].notna().all() else "best_so_far"
    a: dict[Any, float] = {}
    b: dict[Any, float] = {}
    for seed in sorted(set(mine.index) & set(theirs.index)):
        ra, rb = mine.loc[seed], theirs.loc[seed]
        ea, eb = frame[frame["run"] == ra["run"]], frame[frame["run"] == rb["run"]]
        if at == "common_time":
            t = min(float(ra["elapsed_s"]), float(rb["elapsed_s"]))
            a[seed], b[seed] = _value_at(ea, column, t), _value_at(eb, column, t)
        else:
            a[seed] = float(ea[column].iloc[-1]) if len(ea) else math.nan
            b[seed] = float(eb[column].iloc[-1]) if len(eb) else math.nan
    what = "regret" if column == "regret" else "best value"
    return a, b, what + (" at the pair's common time" if at == "common_time" else " at the end")


def check_claims(frame: pd.DataFrame, runs: pd.DataFrame, claims: Sequence[Claim]) -> pd.DataFrame:
    """One row per claim × objective × compared line, with the statistic and the verdict."""
    rows: list[dict[str, Any]] = []
    for claim in claims:
        objectives = sorted(set(runs.loc[runs["label"] == claim.better, "objective"])) or ["(none)"]
        for objective in objectives:
            obj_runs = runs[runs["objective"] == objective]
            for other in claim.than:
                row: dict[str, Any] = {
                    "claim": claim.id,
                    "source": claim.source,
                    "statement": claim.statement,
                    "objective": objective,
                    "better": claim.better,
                    "than": other,
                    "relation": claim.relation,
                }
                labels = set(obj_runs["label"])
                missing = [lab for lab in (claim.better, other) if lab not in labels]
                if missing:
                    rows.append({**row, "verdict": "not tested", "why": f"no runs of {', '.join(missing)}"})
                    continue
                a, b, what = _per_seed(frame, obj_runs, claim.better, other, claim.at)
                p = paired(a, b)
                qa, qb = quartiles(list(a.values())), quartiles(list(b.values()))
                row.update(
                    measure=what,
                    **p.columns(),
                    median_better=qa.median,
                    median_than=qb.median,
                    alpha=claim.alpha,
                )
                row.update(_verdict(claim, p.n, p.win_rate, p.p_value))
                rows.append(row)
    return pd.DataFrame(rows)


def _verdict(claim: Claim, n: int, win_rate: float, p: float) -> dict[str, str]:
    if n == 0 or 2.0 / 2**n >= claim.alpha:
        return {"verdict": "not tested", "why": f"{n} paired seed(s): too few for p < {claim.alpha:g}"}
    significant = p < claim.alpha
    if claim.relation == "no_worse":
        if significant and win_rate < 0.5:
            return {"verdict": "not reproduced", "why": "significantly behind"}
        return {"verdict": "reproduced", "why": "no significant loss" if not significant else "significantly ahead"}
    if significant and win_rate > 0.5:
        return {"verdict": "reproduced", "why": "significantly ahead"}
    if significant:
        return {"verdict": "not reproduced", "why": "significantly behind"}
    return {"verdict": "not reproduced", "why": f"no significant difference (p = {p:.3g})"}


def claims_markdown(table: pd.DataFrame) -> list[str]:
    """report.md's claims section: claim, statistic, measured value, verdict."""
    if table.empty:
        return []
    lines = [
        "## Claims",
        "",
        "Each claim a preset states (`claims:` in its YAML), checked seed by seed: the win rate of the "
        "first line over the second (a tie counts half) with its 95% bootstrap interval, and the two-sided "
        "Wilcoxon signed-rank p-value (see `analysis/claims.py` for the verdicts).",
        "",
        "| claim | objective | comparison | statistic | measured | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        relation = "ahead of" if r["relation"] == "better" else "no worse than"
        comparison = f"{r['better']} {relation} {r['than']}"
        if isinstance(r.get("measure"), str):
            statistic = f"{r['measure']}, {int(r['pairs'])} paired seeds, α = {r['alpha']:g}"
            measured = (
                f"win rate {r['win_rate']:.2f} [{r['win_rate_ci_low']:.2f}, {r['win_rate_ci_high']:.2f}], "
                f"p = {r['wilcoxon_p']:.3g}; medians {r['median_better']:.3g} vs {r['median_than']:.3g}"
            )
        else:
            statistic = measured = ""
        verdict = f"**{r['verdict']}** ({r['why']})"
        lines.append(f"| {r['claim']} | {r['objective']} | {comparison} | {statistic} | {measured} | {verdict} |")
    sources = table.drop_duplicates("claim")
    lines += [""] + [f"- *{r['claim']}*: {r['statement']} ({r['source']})" for _, r in sources.iterrows()]
    lines += ["", "Table as CSV: [claims.csv](claims.csv).", ""]
    return lines


__all__ = ["AT", "RELATIONS", "Claim", "check_claims", "claims_markdown", "claims_of"]
