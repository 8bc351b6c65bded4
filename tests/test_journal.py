"""The journal: lines that prove themselves, damage set aside (never a traceback, never accepted), a start
record that survives, and a folder that a refused open leaves as it found it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bench.errors import RunFolderLocked, UserError
from bench.journal import (
    JOURNAL,
    RESULTS_SETASIDE,
    SETASIDE,
    START,
    Journal,
    JournalWarning,
    load,
    read_records,
)
from bench.run_folder import RunState, read_run
from bench.run_folder.schema import RECORD_VERSION, RecordError, decode_line, encode_line

START_FIELDS = {"config": {"objective": {"name": "q"}}, "seed": 0, "optimum": 0.0}


def _submit(eid: int) -> dict:
    return {"eval_id": eid, "attempt": 0, "params": {"x": 0.5}, "x": [0.5], "t_submit": float(eid)}


def _result(eid: int, value: float = 1.0) -> dict:
    return {"eval_id": eid, "status": "ok", "value": value, "t_start": 0.0, "t_end": float(eid) + 0.5, "final": True}


def _write_run(folder: Path, n: int = 3) -> list[bytes]:
    """A journal of n finished evaluations, as a driver writes it; returns its lines."""
    with Journal(folder) as j:
        j.append("start", **START_FIELDS)
        for eid in range(n):
            j.append("submit", **_submit(eid))
            j.append("result", **_result(eid, float(eid)))
        j.append("end", t=9.0, reason="done", wall_time=1.0)
    return (folder / JOURNAL).read_bytes().splitlines(keepends=True)


def _aside(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / SETASIDE).read_text().splitlines()]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != "driver.lock"}


# -- the line format -----------------------------------------------------------------------------
def test_a_record_is_a_compact_line_with_its_version_and_the_crc_of_its_bytes(tmp_path):
    with Journal(tmp_path) as j:
        rec = j.append("result", **_result(0, float("nan")), metrics={"loss": float("inf")})
    line = (tmp_path / JOURNAL).read_bytes()
    assert b"NaN" not in line and b"Infinity" not in line
    assert line.startswith(b'{"v":%d,"event":"result",' % RECORD_VERSION)
    # The documented rule, by hand: the line without its ',"crc":"…"' field, then its CRC-32.
    body, crc = line[:-19] + b"}", line[-11:-3]
    assert line[-19:-11] == b',"crc":"' and zlib.crc32(body) == int(crc, 16)
    assert decode_line(line.rstrip(b"\n")) == rec and "crc" not in rec
    assert rec["metrics"]["loss"] == "inf" and rec["value"] == "nan"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b'{"event":"result","eval_id":0,"status":"ok","value":NaN}', "NaN literal"),
        (b'{"event":"result","eval_id":0,"status":"ok","value":-Infinity}', "-Infinity literal"),
        (b'{"event":"result","eval_idx":0,"status":"ok"}', "without 'eval_id'"),  # a renamed key
        (b'{"event":"result","eval_id":"0","status":"ok"}', "field 'eval_id' is '0'"),  # a wrong type
        (b'{"event":"result","eval_id":0,"status":"oi"}', "field 'status' is 'oi'"),
        (b'{"event":"submit","eval_id":0,"params":{},"x":[1.5],"t_submit":0}', "field 'x'"),
        (b'{"event":"result","eval_id":0,"status":"ok","eval_id":1}', "key 'eval_id' twice"),
        (b'{"v":1,"event":"end"}', "checksum missing"),
        (b'["event"]', "not a record"),
        (b'{"event":"end"', "not JSON"),
        (b'{"event":"end","reason":"\xff"}', "not UTF-8"),
    ],
)
def test_a_damaged_line_is_refused_saying_why(line, why):
    with pytest.raises(RecordError, match=why):
        decode_line(line)


def test_every_single_bit_flip_of_a_line_is_found():
    line = encode_line({"v": 1, "event": "result", **_result(3, 0.25), "message": "ok"}).rstrip(b"\n")
    for i in range(len(line)):
        for bit in range(8):
            flipped = bytearray(line)
            flipped[i] ^= 1 << bit
            with pytest.raises(RecordError):
                decode_line(bytes(flipped))


def test_a_version_0_journal_without_checksums_still_reads(tmp_path):
    old = [
        {"event": "start", "seed": 0, "optimum": None, "extra_field_of_an_old_driver": 1},
        {"event": "submit", **_submit(0)},
        {"event": "result", **_result(0)},
    ]
    (tmp_path / JOURNAL).write_text("".join(json.dumps(r) + "\n" for r in old))  # with spaces, as json.dumps writes
    records, damaged = read_records(tmp_path / JOURNAL)
    assert records == old and damaged == []
    assert RunState.from_records(records).n_finished() == 1
    with Journal(tmp_path) as j:
        assert j.records == old
        j.append("resume", t=1.0, wall_time=1.0, n_finished=1, rerun=[], config_changed_at=None)
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert [json.loads(x) for x in lines[:3]] == old  # untouched: nothing to repair
    assert decode_line(lines[3].encode())["v"] == RECORD_VERSION
    assert decode_line((tmp_path / START).read_bytes().rstrip())["extra_field_of_an_old_driver"] == 1


# -- damage is set aside, at the first write, with a warning naming it ----------------------------
def test_torn_last_line_is_set_aside_not_merged(tmp_path):
    with Journal(tmp_path) as j:
        j.append("start", seed=0)
        j.append("submit", **_submit(0))
    with open(tmp_path / JOURNAL, "ab") as fh:
        fh.write(b'{"v":1,"event":"result","eval_id":0,"val')  # a crash mid-write
    torn = r"set aside 1 unreadable line\(s\).*line 3 \('result': torn last line"
    with pytest.warns(JournalWarning, match=torn), Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start", "submit"]
        j.append("result", **_result(0))
    records, damaged = read_records(tmp_path / JOURNAL)
    assert damaged == []
    assert [r["event"] for r in records] == ["start", "submit", "result"]
    assert _aside(tmp_path)[0]["text"].startswith('{"v":1,"event":"result","eval_id":0,"val')
    assert _aside(tmp_path)[0]["line"] == 3


def test_garbage_line_in_the_middle_is_set_aside(tmp_path):
    (tmp_path / JOURNAL).write_text('{"event":"start"}\nnot json\n\n{"event":"end"}\n')
    with pytest.warns(JournalWarning, match=r"line 2 \(not JSON"), Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start", "end"]
        j.append("resume", t=0.0, wall_time=0.0, n_finished=0, rerun=[], config_changed_at=None)
    assert _aside(tmp_path)[0]["text"] == "not json"


def test_valid_last_line_without_newline_is_kept(tmp_path):
    (tmp_path / JOURNAL).write_text('{"event":"start"}\n{"event":"end"}')
    with Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start", "end"]
        j.append("resume", t=0.0, wall_time=0.0, n_finished=0, rerun=[], config_changed_at=None)
    records, damaged = read_records(tmp_path / JOURNAL)
    assert [r["event"] for r in records] == ["start", "end", "resume"] and damaged == []


def test_a_flipped_bit_in_a_record_is_set_aside_naming_line_event_and_why(tmp_path):
    lines = _write_run(tmp_path)
    result = next(i for i, ln in enumerate(lines) if b'"event":"result"' in ln)
    damaged = bytearray(lines[result])
    damaged[damaged.index(b'"ok"') + 1] ^= 0x06  # "ok" -> "ik": still valid JSON and a known status
    lines[result] = bytes(damaged)
    (tmp_path / JOURNAL).write_bytes(b"".join(lines))
    with Journal(tmp_path) as j:
        assert len(j.records) == len(lines) - 1
        state = RunState.from_records(j.records)
        assert state.n_finished() == 2 and [ev.eval_id for ev in state.in_flight()] == [0]
        with pytest.warns(JournalWarning, match=rf"line {result + 1} \('result': checksum mismatch\)"):
            j.append("resume", t=0.0, wall_time=0.0, n_finished=2, rerun=[0], config_changed_at=None)
    assert _aside(tmp_path)[0]["why"] == "checksum mismatch"


def test_a_refused_open_or_an_open_without_writes_changes_nothing(tmp_path):
    lines = _write_run(tmp_path)
    (tmp_path / JOURNAL).write_bytes(b"".join(lines[:2]) + b"garbage\n" + b"".join(lines[2:]) + b'{"v":1,"ev')
    before = _snapshot(tmp_path)
    with Journal(tmp_path) as j:
        assert len(j.records) == len(lines)  # read and checked, but the folder is not touched yet
    assert _snapshot(tmp_path) == before


def test_records_set_aside_move_at_the_next_write_only(tmp_path):
    _write_run(tmp_path, n=2)
    before = _snapshot(tmp_path)
    with Journal(tmp_path) as j:
        duplicate = j.records[2]
        j.set_aside([duplicate], "duplicate final record")
        assert duplicate not in j.records
    assert _snapshot(tmp_path) == before  # closed without a write (a driver that refused): unchanged
    with Journal(tmp_path) as j:
        j.set_aside([j.records[2]], "duplicate final record")
        j.append("resume", t=0.0, wall_time=0.0, n_finished=1, rerun=[0], config_changed_at=None)
    assert [a["why"] for a in _aside(tmp_path)] == ["duplicate final record"]
    records, _ = read_records(tmp_path / JOURNAL)
    assert [r["event"] for r in records] == ["start", "submit", "submit", "result", "end", "resume"]


def test_a_record_of_a_newer_bobench_is_refused_not_set_aside(tmp_path):
    _write_run(tmp_path, n=1)
    with open(tmp_path / JOURNAL, "ab") as fh:
        fh.write(encode_line({"v": RECORD_VERSION + 1, "event": "novel"}))
    before = _snapshot(tmp_path)
    with pytest.raises(UserError, match=r"line 5 was written by a newer bobench \(record version 2") as err:
        Journal(tmp_path).open()
    assert "\n" not in str(err.value) and _snapshot(tmp_path) == before


def test_a_record_the_schema_refuses_is_never_written():
    with pytest.raises(RuntimeError, match="unknown field 'surprise'"), Journal(Path("/nonexistent-bobench")) as j:
        j.append("end", t=0.0, reason="done", wall_time=0.0, surprise=1)


# -- the start record survives ------------------------------------------------------------------
def test_a_damaged_start_line_is_restored_from_start_json(tmp_path):
    lines = _write_run(tmp_path)
    start = decode_line(lines[0].rstrip(b"\n"))
    assert decode_line((tmp_path / START).read_bytes().rstrip(b"\n")) == start
    (tmp_path / JOURNAL).write_bytes(lines[0][:40] + b"#" + lines[0][41:] + b"".join(lines[1:]))
    analysis = read_run(tmp_path)  # analysis takes it from start.json, changing nothing
    assert analysis.start == start and any("read it from start.json" in n for n in analysis.notes)
    with Journal(tmp_path) as j:
        assert j.records[0] == start
        with pytest.warns(JournalWarning) as caught:
            j.append("resume", t=0.0, wall_time=0.0, n_finished=3, rerun=[], config_changed_at=None)
    assert any("restored it from start.json" in str(w.message) for w in caught)
    records, damaged = read_records(tmp_path / JOURNAL)
    assert damaged == [] and records[0] == start and len(records) == len(lines) + 1


def test_a_damaged_start_json_is_rewritten_from_the_journal(tmp_path):
    lines = _write_run(tmp_path)
    (tmp_path / START).write_text("{oops")
    with Journal(tmp_path) as j:
        j.append("resume", t=0.0, wall_time=0.0, n_finished=3, rerun=[], config_changed_at=None)
    assert (tmp_path / START).read_bytes() == lines[0]


def test_a_damaged_start_without_a_copy_is_refused_with_one_line_and_nothing_changes(tmp_path):
    lines = _write_run(tmp_path)
    (tmp_path / START).unlink()
    (tmp_path / JOURNAL).write_bytes(b"{" + lines[0][2:] + b"".join(lines[1:]))
    before = _snapshot(tmp_path)
    with pytest.raises(UserError, match=r"start record is damaged or missing \(line 1 \('start': ") as err:
        Journal(tmp_path).open()
    assert "\n" not in str(err.value) and "no start.json" in str(err.value)
    assert _snapshot(tmp_path) == before


# -- a journal that lost its records beside results.csv -------------------------------------------
RESULTS_CSV = "eval_id,status,value\n0,ok,0.0\n1,ok,1.0\n2,ok,2.0\n"


@pytest.mark.parametrize("journal", ["missing", "empty", "garbage"])
def test_an_empty_or_unreadable_journal_beside_results_is_refused_and_left_alone(tmp_path, journal):
    (tmp_path / "results.csv").write_text(RESULTS_CSV)
    if journal != "missing":
        (tmp_path / JOURNAL).write_text("" if journal == "empty" else "\x00\x01garbage\nmore {\n")
    before = _snapshot(tmp_path)
    with pytest.raises(UserError, match=r"holds 3 result\(s\) in results.csv but its journal is ") as err:
        Journal(tmp_path).open()
    message = str(err.value)
    assert "\n" not in message and "refusing to start a new run over it" in message
    assert journal.replace("garbage", "unreadable (2 damaged line(s)") in message
    assert _snapshot(tmp_path) == before


def test_results_the_journal_lost_are_kept_before_the_run_rewrites_results_csv(tmp_path):
    lines = _write_run(tmp_path)
    (tmp_path / "results.csv").write_text(RESULTS_CSV)
    cut = [i for i, ln in enumerate(lines) if b'"event":"result"' in ln][1]
    (tmp_path / JOURNAL).write_bytes(b"".join(lines[:cut]))  # truncated: results 1 and 2 are gone
    assert load(tmp_path).results_missing == [1, 2]
    with Journal(tmp_path) as j, pytest.warns(JournalWarning, match=r"eval_id 1, 2\); kept it as results.csv.setaside"):
        j.append("resume", t=0.0, wall_time=0.0, n_finished=1, rerun=[1], config_changed_at=None)
    assert (tmp_path / RESULTS_SETASIDE).read_text() == RESULTS_CSV


def test_an_empty_journal_with_its_start_copy_resumes(tmp_path):
    _write_run(tmp_path)
    (tmp_path / "results.csv").write_text(RESULTS_CSV)
    (tmp_path / JOURNAL).write_bytes(b"")
    with Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start"]
        with pytest.warns(JournalWarning):
            j.append("resume", t=0.0, wall_time=0.0, n_finished=0, rerun=[], config_changed_at=None)
    assert (tmp_path / RESULTS_SETASIDE).read_text() == RESULTS_CSV


# -- a resumed driver ----------------------------------------------------------------------------
def test_a_result_whose_submit_was_damaged_is_set_aside_and_the_run_resumes(compose, tmp_path):
    from bench.driver import Driver
    from tests.conftest import final_results, read_journal

    run = tmp_path / "run"
    Driver(compose("objective=quadratic", "strategy=random", "budget.evaluations=4", "progress=false"), run).run()
    lines = (run / JOURNAL).read_bytes().splitlines(keepends=True)
    submit = max(i for i, ln in enumerate(lines) if b'"event":"submit"' in ln)
    lines[submit] = lines[submit].replace(b'"event":"submit"', b'"event":"sub\xadit"')
    (run / JOURNAL).write_bytes(b"".join(lines))
    shutil.copy(run / JOURNAL, tmp_path / "damaged.jsonl")
    cfg = compose("objective=quadratic", "strategy=random", "budget.evaluations=5", "progress=false", "resume=true")
    with pytest.warns(JournalWarning) as caught:
        summary = Driver(cfg, run).run()
    messages = [str(w.message) for w in caught]
    assert any(f"line {submit + 1} (checksum mismatch)" in m for m in messages), messages
    assert any("never submitted" in m for m in messages), messages
    finals = final_results(read_journal(run))
    assert summary["n_evals"] == 5 and len({r["eval_id"] for r in finals}) == len(finals) == 5


def test_second_driver_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    with Journal(tmp_path), pytest.raises(RunFolderLocked, match="in use by a running driver"):
        Journal(tmp_path).open()
    # A process that holds the lock and is killed: the kernel frees it.
    code = (
        "import os, signal, sys; from bench.journal import Journal; "
        f"Journal({str(tmp_path)!r}).open(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    with Journal(tmp_path) as j:
        assert j.records == []


GROUP_WRITER = """
import os, signal
from bench.journal import Journal
journal = Journal({folder!r}, group_commit=True)
journal.open()
journal.append("start", seed=0)
for eid in range(3):
    journal.append("submit", eval_id=eid, attempt=0, params={{"x": 0.5}}, x=[0.5], t_submit=0.0)
assert (journal.fsyncs, journal.uncommitted) == (0, 4)
journal.commit()
journal.commit()  # nothing new since: no second fsync
assert (journal.fsyncs, journal.uncommitted) == (1, 0)
journal.append("result", eval_id=0, status="ok", value=1.0, t_start=0.0, t_end=1.0, final=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_group_commit_is_one_fsync_and_a_killed_writer_loses_no_record_it_wrote(tmp_path):
    proc = subprocess.run([sys.executable, "-c", GROUP_WRITER.format(folder=str(tmp_path))], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()  # the asserts inside held, then the kill
    records, damaged = read_records(tmp_path / JOURNAL)
    # The uncommitted result is in the file: only a crash of the machine could lose it.
    assert [r["event"] for r in records] == ["start", "submit", "submit", "submit", "result"] and not damaged
    with Journal(tmp_path, group_commit=True) as j:  # a clean close commits what was written
        j.append("end", t=1.0, reason="done", wall_time=1.0)
        assert (j.fsyncs, j.uncommitted) == (0, 1)
    assert j.fsyncs == 1 and read_records(tmp_path / JOURNAL)[0][-1]["event"] == "end"
