"""Fuzz: random single-bit flips and truncations of a finished run's journal, each replayed.

Each case is a fresh copy of one real run folder (a tiny inline run of the bobench command)
with one fault in its journal. Replayed the way a resuming driver reads it (:class:`Journal`
open, the state replayed, the repairs made at the first write), every case must end with

* no traceback: only one-line refusals (UserError) and warnings;
* no silent acceptance: the records accepted are exactly the original records minus the
  lines the fault touched (the start record restored from start.json), and every flip is
  found (with compact JSON and a CRC-32 per line, none can be harmless);
* no refusal: every case stays resumable, and a sample of them, resumed through the real CLI
  with a larger budget, finishes it with one final result per evaluation.

``pytest -s`` prints the counts (docs/faults.md quotes them).
"""

from __future__ import annotations

import json
import random
import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.errors import UserError
from bench.journal import JOURNAL, RESULTS_SETASIDE, START, Journal, read_records
from bench.run_folder import RunState
from bench.run_folder.schema import decode_line
from tests.conftest import final_results, read_journal, run_cli

pytestmark = pytest.mark.slow

SEED = 13
N_FLIPS = 200
N_TRUNCATIONS = 50
N_RESUMED = 20  # cases resumed through the CLI (about 5 s each)
BUDGET = 8


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished real run: the bobench command, inline, 8 evaluations of the quadratic."""
    cwd = tmp_path_factory.mktemp("fuzz")
    run_cli(
        "objective=quadratic",
        "strategy=random",
        f"budget.evaluations={BUDGET}",
        "+debug=fast",
        "carbon=off",
        "hydra.run.dir=base",
        cwd=cwd,
        check=True,
    )
    return cwd / "base"


def _lines(data: bytes) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each line, its newline included in ``end``."""
    spans, start = [], 0
    for i, byte in enumerate(data):
        if byte == 0x0A:
            spans.append((start, i + 1))
            start = i + 1
    assert start == len(data), "a finished journal ends with a newline"
    return spans


def _flip(data: bytes, offset: int, bit: int) -> tuple[bytes, set[int]]:
    """The journal with one bit flipped, and the (0-based) lines that flip damages."""
    spans = _lines(data)
    k = next(i for i, (s, e) in enumerate(spans) if s <= offset < e)
    touched = {k}
    if offset == spans[k][1] - 1 and k + 1 < len(spans):
        touched.add(k + 1)  # the newline itself: two lines become one
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out), touched


def _truncate(data: bytes, size: int) -> tuple[bytes, set[int]]:
    """The journal cut at ``size`` bytes, and the lines lost or torn (a line cut just before its newline stays)."""
    touched = {i for i, (s, e) in enumerate(_lines(data)) if e - 1 > size or (s >= size)}
    return data[:size], touched


def _expected(records: list[dict[str, Any]], touched: set[int]) -> list[dict[str, Any]]:
    kept = [r for i, r in enumerate(records) if i not in touched]
    if 0 in touched:  # the start line: restored from start.json
        kept.insert(0, records[0])
    return kept


def _replay(folder: Path) -> tuple[list[dict[str, Any]], int]:
    """Opens the journal as a resuming driver does, replays it and makes its repairs; (records, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Journal(folder) as journal:
            records = list(journal.records)
            RunState.from_records(records)
            journal.append("resume", t=0.0, wall_time=0.0, n_finished=0, rerun=[], config_changed_at=None)
    return records, len(caught)


def test_flips_and_truncations_of_a_journal_are_found_set_aside_and_the_run_resumes(finished, tmp_path):
    original = (finished / JOURNAL).read_bytes()
    records = [decode_line(line) for line in original.splitlines()]
    rng = random.Random(SEED)
    cases = [("flip", rng.randrange(len(original)), rng.randrange(8)) for _ in range(N_FLIPS)]
    cases += [("truncation", rng.randrange(len(original)), 0) for _ in range(N_TRUNCATIONS)]
    counts: Counter[str] = Counter()
    problems: list[str] = []
    folders: list[Path] = []
    for n, (kind, offset, bit) in enumerate(cases):
        folder = tmp_path / f"{n:03d}-{kind}"
        shutil.copytree(finished, folder)
        damaged, touched = _flip(original, offset, bit) if kind == "flip" else _truncate(original, offset)
        (folder / JOURNAL).write_bytes(damaged)
        name = f"{kind} at byte {offset} (bit {bit}, line {min(touched, default=-1) + 1})"
        try:
            accepted, n_warnings = _replay(folder)
        except UserError as exc:
            counts[f"{kind}: refused"] += 1
            problems.append(f"{name}: refused: {exc}")
            continue
        except Exception as exc:  # a traceback: the thing this test exists to rule out
            counts[f"{kind}: traceback"] += 1
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if accepted != _expected(records, touched):
            counts[f"{kind}: accepted silently"] += 1
            problems.append(f"{name}: accepted records differ from the original's minus the damaged lines")
            continue
        after, still_damaged = read_records(folder / JOURNAL)
        if still_damaged or after[:-1] != accepted:
            counts[f"{kind}: repair incomplete"] += 1
            problems.append(f"{name}: after the repair the journal still holds {still_damaged[:1]}")
            continue
        if kind == "flip" and not n_warnings:
            counts["flip: not found"] += 1
            problems.append(f"{name}: no warning")
            continue
        counts[f"{kind}: found and set aside" if touched else f"{kind}: at a line boundary, nothing damaged"] += 1
        counts[f"{kind}: start record restored from start.json"] += 0 in touched
        counts[f"{kind}: results.csv kept aside"] += (folder / RESULTS_SETASIDE).exists()
        folders.append(folder)
    # A sample resumed through the real CLI, with a larger budget: each finishes it.
    for folder in random.Random(SEED).sample(folders, min(N_RESUMED, len(folders))):
        proc = run_cli(f"resume={folder}", f"budget.evaluations={BUDGET + 2}", cwd=tmp_path)
        finals = final_results(read_journal(folder)) if proc.returncode == 0 else []
        ok = (
            proc.returncode == 0
            and "Traceback" not in proc.stderr
            and all(ln.startswith("bobench: warning: ") for ln in proc.stderr.splitlines() if ln.strip())
            and len(finals) == len({r["eval_id"] for r in finals}) == BUDGET + 2
            and read_records(folder / JOURNAL)[1] == []
            and (folder / START).is_file()
        )
        counts["resumed through the CLI to its budget" if ok else "resume failed"] += 1
        if not ok:
            problems.append(f"{folder.name}: resume exited {proc.returncode}: {proc.stderr[-2000:]}")
    print("\njournal fuzz:", json.dumps(dict(sorted(counts.items())), indent=1))
    assert not problems, "\n".join(problems[:20])
    assert counts["resumed through the CLI to its budget"] == min(N_RESUMED, len(folders))
