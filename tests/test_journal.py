from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.errors import RunFolderLocked
from bench.journal import JOURNAL, SETASIDE, Journal, JournalWarning, read_records


def test_records_are_json_lines_without_nan(tmp_path):
    with Journal(tmp_path) as j:
        j.append("result", eval_id=0, value=float("nan"), metrics={"loss": float("inf")})
    line = (tmp_path / JOURNAL).read_text().splitlines()[0]
    assert "NaN" not in line and "Infinity" not in line
    assert json.loads(line)["metrics"]["loss"] == "inf"


def test_torn_last_line_is_set_aside_not_merged(tmp_path):
    with Journal(tmp_path) as j:
        j.append("start", seed=0)
        j.append("submit", eval_id=0)
    with open(tmp_path / JOURNAL, "ab") as fh:
        fh.write(b'{"event":"result","eval_id":0,"val')  # a crash mid-write
    with pytest.warns(JournalWarning, match="set aside 1 unreadable line"), Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start", "submit"]
        j.append("result", eval_id=0, value=1.0)
    records, bad = read_records(tmp_path / JOURNAL)
    assert bad == []
    assert [r["event"] for r in records] == ["start", "submit", "result"]
    aside = [json.loads(x) for x in (tmp_path / SETASIDE).read_text().splitlines()]
    assert aside[0]["text"].startswith('{"event":"result","eval_id":0,"val')


def test_garbage_line_in_the_middle_is_set_aside(tmp_path):
    (tmp_path / JOURNAL).write_text('{"event":"start"}\nnot json\n\n{"event":"end"}\n')
    with pytest.warns(JournalWarning, match="line 2"), Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start", "end"]


def test_valid_last_line_without_newline_is_kept(tmp_path):
    (tmp_path / JOURNAL).write_text('{"event":"start"}\n{"event":"end"}')
    with Journal(tmp_path) as j:
        assert [r["event"] for r in j.records] == ["start", "end"]
        j.append("resume")
    assert (tmp_path / JOURNAL).read_text().endswith('{"event":"end"}\n{"event":"resume"}\n')


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
