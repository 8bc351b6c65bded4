"""The run's journal: an append-only JSONL file, the source of truth of a run folder.

Each record is one line that proves itself: compact JSON with a record version and a CRC-32 of
its bytes (the exact rule: :mod:`bench.run_folder.schema`), written with a single ``write`` of
the whole line and fsynced: at once, or, with ``group_commit``, at the next :meth:`Journal.commit`
(the driver commits once per wake-up; what that guarantees: the durability section of
docs/architecture.md). Reading checks every line (checksum, JSON without NaN
literals or repeated keys, the schema and its types): a damaged line (a torn last line, a flipped
bit, a renamed key, a wrong type) is never accepted and never a traceback. :func:`load` reads
a journal without changing it; :class:`Journal` opens it for a driver and, before its first
write, moves damaged lines to ``journal.jsonl.setaside`` with a one-line warning naming each.

The start record, which the run cannot be rebuilt without, is also kept in ``start.json``
(the same checked line, written once, atomically): a damaged start line is recovered from it.
A journal without any record beside a ``results.csv`` with rows is refused rather than started
over, and rows of results.csv that the journal no longer has are kept in ``results.csv.setaside``
before a run rewrites results.csv. A lock file keeps a second driver out; a clean close removes it.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bench import crash_points
from bench.errors import RunFolderError, RunFolderLocked, UserError
from bench.evaluate import json_safe

if TYPE_CHECKING:
    from types import ModuleType

JOURNAL = "journal.jsonl"
SETASIDE = "journal.jsonl.setaside"
LOCK = "driver.lock"
#: A checked copy of the journal's start record (one line in the journal's format).
START = "start.json"
#: results.csv as it was, where it held results the journal no longer has.
RESULTS_SETASIDE = "results.csv.setaside"
_RESULTS = "results.csv"  # bench.run_folder.files.RESULTS (that package imports this module)
_EVENT = re.compile(rb'"event"\s*:\s*"([A-Za-z_]{1,20})"')
#: How many damaged lines a warning or a note names one by one.
NAMED = 5


class JournalWarning(UserWarning):
    """Something in the journal was set aside."""


def _schema() -> ModuleType:
    # bench.run_folder imports this module, so its schema is imported when first needed.
    from bench.run_folder import schema

    return schema


class Damaged(NamedTuple):
    """A journal line that is not a valid record: where, its text, why, and the event it names if any."""

    line: int
    text: str
    why: str
    event: str | None

    def describe(self) -> str:
        """``line 7 ('result': checksum mismatch)``."""
        return f"line {self.line} ({f'{self.event!r}: ' if self.event else ''}{self.why})"


def describe_damaged(damaged: list[Damaged]) -> str:
    """The first few damaged lines named one by one, then how many more."""
    named = ", ".join(d.describe() for d in damaged[:NAMED])
    more = len(damaged) - NAMED
    return named + (f" and {more} more" if more > 0 else "")


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[Damaged]]:
    """Reads and checks a journal without changing it.

    Returns:
        ``(records, damaged)``: the valid records in order (without their ``crc``), and every
        line that is not one (see :func:`bench.run_folder.schema.decode_line`), a torn last
        line among them. A valid last record without its newline is kept.
    """
    records: list[dict[str, Any]] = []
    damaged: list[Damaged] = []
    if not path.exists():
        return records, damaged
    decode_line, error = _schema().decode_line, _schema().RecordError
    lines = path.read_bytes().split(b"\n")
    last = len(lines)  # the part after the last newline: b"" when the file ends with one
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(decode_line(raw))
        except error as exc:
            why = str(exc) if i < last else f"torn last line: {exc}"
            found = _EVENT.search(raw)
            event = found.group(1).decode() if found else None
            damaged.append(Damaged(i, raw.decode("utf-8", "replace"), why, event))
    return records, damaged


def read_start_copy(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The start record kept in ``start.json``: ``(record, None)``, or ``(None, why not)``."""
    path = folder / START
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, f"no {START}"
    except OSError as exc:
        return None, f"{START} unreadable ({exc.strerror})"
    schema = _schema()
    try:
        record = schema.decode_line(raw.rstrip(b"\n"))
    except schema.RecordError as exc:
        return None, f"{START} damaged ({exc})"
    if record.get("event") != "start":
        return None, f"{START} holds a '{record.get('event')}' record, not a start record"
    return record, None


@dataclass
class Contents:
    """What a run folder's journal holds, checked, as :func:`load` reads it.

    Attributes:
        records: the valid records in order; the start record first where it was recovered.
        damaged: the lines that are not valid records.
        exists: whether the journal file exists.
        needs_newline: the file's last record has no final newline.
        start_recovered: the journal's start line was damaged or missing; ``records[0]`` is the
            copy from start.json.
        start_copy_stale: start.json is missing, damaged or differs from the journal's start record.
        start_copy_why: why start.json could not be used, where it could not.
        results_rows: how many rows results.csv holds (0 without one).
        results_missing: eval_ids results.csv holds as finished that the journal has no final
            result for (None: results.csv could not be parsed).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[Damaged] = field(default_factory=list)
    exists: bool = False
    needs_newline: bool = False
    start_recovered: bool = False
    start_copy_stale: bool = False
    start_copy_why: str | None = None
    results_rows: int = 0
    results_missing: list[int] | None = field(default_factory=list)

    @property
    def start(self) -> dict[str, Any] | None:
        return next((r for r in self.records if r.get("event") == "start"), None)

    @property
    def needs_repair(self) -> bool:
        """Whether the journal file must be rewritten (damaged lines, a recovered start, a missing newline)."""
        return bool(self.damaged) or self.start_recovered or self.needs_newline

    def refusal(self, folder: Path) -> str | None:
        """Why no driver may continue or start over this folder (one line), or None."""
        path = folder / JOURNAL
        newer = next((d for d in self.damaged if d.why.startswith("written by a newer bobench")), None)
        if newer is not None:
            return f"{path}: line {newer.line} was {newer.why}: continue the run with that bobench; nothing was changed"
        if self.start is None and self.results_rows:
            if not self.exists:
                state = "missing"
            elif not self.records and not self.damaged:
                state = "empty"
            elif not self.records:
                state = f"unreadable ({len(self.damaged)} damaged line(s): {describe_damaged(self.damaged)})"
            else:
                state = f"without its start record ({self._start_damage()})"
            return (
                f"{folder} holds {self.results_rows} result(s) in {_RESULTS} but its journal is {state}: refusing "
                f"to start a new run over it; nothing was changed. Restore {JOURNAL} (the run's source of truth), "
                f"or move {_RESULTS} away to start afresh"
            )
        if self.start is None and self.records:
            return (
                f"{path}: the run's start record is damaged or missing ({self._start_damage()}) and "
                f"{self.start_copy_why or 'start.json is unusable'}, so the run cannot be rebuilt; nothing was "
                f"changed. Restore that line from a backup, or start a new run in another folder (analysis "
                "still reads this one)"
            )
        return None

    def _start_damage(self) -> str:
        hit = next((d for d in self.damaged if d.event == "start"), None) or (self.damaged[0] if self.damaged else None)
        return hit.describe() if hit else "no line holds it"


def load(folder: Path | str) -> Contents:
    """Reads a run folder's journal, start.json and results.csv's eval_ids, changing nothing."""
    folder = Path(folder)
    path = folder / JOURNAL
    out = Contents(exists=path.exists())
    out.records, out.damaged = read_records(path)
    if out.exists and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            out.needs_newline = fh.read(1) != b"\n"
    copy, out.start_copy_why = read_start_copy(folder)
    journal_start = out.start
    if journal_start is None:
        if copy is not None:
            out.records.insert(0, copy)
            out.start_recovered = True
    else:
        out.start_copy_stale = copy != journal_start
    out.results_rows, out.results_missing = _results_not_journaled(folder, out.records)
    return out


def _results_not_journaled(folder: Path, records: list[dict[str, Any]]) -> tuple[int, list[int] | None]:
    """results.csv's row count, and the eval_ids it holds that no final result record has (None:
    unparsable); a torn last row is not counted."""
    try:
        text = (folder / _RESULTS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0, []
    from bench.run_folder.results import split_torn_tail  # bench.run_folder imports this module

    text, _torn = split_torn_tail(text)  # a row cut short by a kill mid-append is no result
    try:
        rows = [r for r in csv.DictReader(io.StringIO(text)) if any((v or "").strip() for v in r.values())]
    except csv.Error:
        return max(0, len([ln for ln in text.splitlines() if ln.strip()]) - 1), None
    finished = {r.get("eval_id") for r in records if r.get("event") == "result" and r.get("final", True) is not False}
    missing: list[int] = []
    for row in rows:
        try:
            eid = int(str(row.get("eval_id")))
        except ValueError:
            return len(rows), None
        if eid not in finished:
            missing.append(eid)
    return len(rows), missing


class Journal:
    """An open, locked journal in a run folder.

    Args:
        folder: the run folder (created if missing).
        fsync: fsync records (the default; turn off only for benchmarks).
        group_commit: an append writes its line at once but leaves the fsync to the next
            :meth:`commit`, which makes every record written since durable with one fsync.
            Without it each :meth:`append` fsyncs before it returns.
    """

    def __init__(self, folder: Path | str, fsync: bool = True, group_commit: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL
        self.fsync = fsync
        self.group_commit = group_commit
        #: Records written and not yet fsynced (with ``group_commit``).
        self.uncommitted = 0
        #: fsyncs made by :meth:`commit` and :meth:`append` (how many group commits, for benchmarks).
        self.fsyncs = 0
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.records: list[dict[str, Any]] = []
        #: What :meth:`open` read; its repairs are made before the first write (see :meth:`_settle`).
        self._found: Contents | None = None
        #: Records :meth:`set_aside` took out of :attr:`records`, moved at the next write.
        self._queued: list[tuple[int | None, str, str]] = []

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> list[dict[str, Any]]:
        """Locks the folder, reads and checks the journal and returns its valid records.

        Nothing in the folder changes until the first :meth:`append`: only then are damaged
        lines set aside, a damaged start record restored from start.json and results.csv kept
        where the journal lacks some of its rows, each with a one-line warning. So a driver that
        refuses to go on (a changed config, a folder that already holds a run) leaves the folder
        as it found it.

        Raises:
            UserError: the folder cannot be continued or started over (see :meth:`Contents.refusal`);
                one line saying why and what to do.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"run folder {self.folder}: cannot create it ({exc.strerror})") from exc
        self._lock()
        try:
            found = load(self.folder)
        except OSError as exc:
            self.close()
            raise RunFolderError(f"journal {self.path}: cannot read it ({exc.strerror})") from None
        refusal = found.refusal(self.folder)
        if refusal:
            self.close()
            raise UserError(refusal)
        self._found, self.records = found, found.records
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self.close()
            raise UserError(f"run folder {self.folder}: cannot write the journal ({exc.strerror})") from exc
        return list(self.records)

    def close(self) -> None:
        """Commits what is written (a failure to is left to the next open: the records are in the
        file), closes the journal and removes the lock."""
        if self._fd is not None:
            with contextlib.suppress(RunFolderError):
                self.commit()
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            # Removed while still held, so no other driver can take the lock of a file about to go;
            # a driver that opened it meanwhile sees that its inode is gone and makes a new one (_lock).
            with contextlib.suppress(OSError):
                (self.folder / LOCK).unlink()
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------
    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Writes one record with one ``write``; it is on disk when this returns (with ``fsync``),
        or at the next :meth:`commit` with ``group_commit``. A process killed after this returns
        loses nothing of it either way: the line is in the file (the kernel's page cache)."""
        if self._fd is None:
            raise RuntimeError("journal is not open")
        schema = _schema()
        record = {"v": schema.RECORD_VERSION, "event": event, **json_safe(fields)}
        why = schema.record_problem(record, strict=True)
        if why is not None:  # a driver's own record: a bug, found where it is made rather than on replay
            raise RuntimeError(f"bobench would journal a record its schema refuses ({why}): see {schema.__name__}")
        self._settle()
        line = schema.encode_line(record)
        view = memoryview(line)
        try:
            while view:  # os.write may write less than asked (e.g. near a file-size limit)
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            # A part of the line may be on disk: the next open sets it aside as a torn line.
            raise RunFolderError(
                f"journal {self.path}: cannot write a '{event}' record ({exc.strerror}); the run stopped "
                f"and everything journaled before is kept: free space, then resume with resume={self.folder}"
            ) from None
        self.records.append(record)
        self.uncommitted += 1
        if crash_points.reached("record"):
            crash_points.die(f"journal: {len(self.records)} records, the last {self.uncommitted} not fsynced")
        if not self.group_commit:
            self._sync(event)
        if event == "start":
            self._write_start_copy(line)
        return record

    def commit(self) -> None:
        """Makes every record written since the last commit durable, with one fsync (none if there is none)."""
        if self.uncommitted:
            self._sync(None)

    def _sync(self, event: str | None) -> None:
        if self._fd is None:
            raise RuntimeError("journal is not open")
        if self.fsync:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                what = f"a '{event}' record" if event else f"{self.uncommitted} record(s)"
                raise RunFolderError(
                    f"journal {self.path}: cannot make {what} durable ({exc.strerror}); the run stopped and "
                    f"everything committed before is kept: resume with resume={self.folder}"
                ) from None
            self.fsyncs += 1
        self.uncommitted = 0

    def set_aside(self, records: list[dict[str, Any]], why: str) -> None:
        """Takes these records (objects from :attr:`records`) out of the journal.

        They leave :attr:`records` now; on disk they move to the set-aside file, and the journal
        is rewritten without them, at the next write (like the damage :meth:`open` finds), so
        a driver that then refuses to go on changes nothing.
        """
        drop = {id(r) for r in records}
        self._queued += [(None, json.dumps(r, separators=(",", ":")), why) for r in self.records if id(r) in drop]
        self.records = [r for r in self.records if id(r) not in drop]

    # -- internals -----------------------------------------------------------------------
    def _write_aside(self, entries: list[tuple[int | None, str, str]]) -> None:
        try:
            with open(self.folder / SETASIDE, "a", encoding="utf-8") as aside:
                for lineno, text, why in entries:
                    aside.write(json.dumps({"line": lineno, "text": text, "why": why, "at": time.time()}) + "\n")
        except OSError as exc:
            raise RunFolderError(
                f"run folder {self.folder}: cannot set aside {len(entries)} journal line(s) ({exc.strerror}); "
                "nothing was changed"
            ) from None

    def _rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replaces the journal with these records, atomically (a crash leaves the old or the new file)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        tmp = self.path.with_suffix(".jsonl.tmp")
        try:
            encode_line = _schema().encode_line
            with open(tmp, "wb") as out:
                for rec in records:
                    out.write(encode_line(rec))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunFolderError(f"run folder {self.folder}: cannot rewrite the journal ({exc.strerror})") from None
        self.uncommitted = 0  # every record is in the new file, fsynced

    def _lock(self) -> None:
        """Takes the folder's lock file; a clean close removes it, a crash leaves it for the next driver."""
        lock_path = self.folder / LOCK
        while True:
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise RunFolderError(f"run folder {self.folder}: cannot write in it ({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise RunFolderLocked(
                    f"run folder {self.folder} is in use by a running driver ({holder}); "
                    "wait for it to finish or stop it first"
                ) from None
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the file was removed by a driver that closed meanwhile: lock a fresh one
        # The kernel drops the lock when its holder dies, so a stale lock file is taken over.
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {os.uname().nodename} since {time.ctime()}".encode())
        self._lock_fd = fd

    def _settle(self) -> None:
        """Before a write: makes the repairs :meth:`open` found needed (once) and moves what :meth:`set_aside` took."""
        found, self._found = self._found, None
        queued, self._queued = self._queued, []
        if queued and found is None:
            self._write_aside(queued)
            self._rewrite(self.records)
        if found is None:
            return
        if found.results_missing is None or found.results_missing:
            self._keep_results(found.results_missing)
        if found.damaged:
            self._write_aside([(d.line, d.text, d.why) for d in found.damaged])
            warnings.warn(
                f"{self.path}: set aside {len(found.damaged)} unreadable line(s) into {SETASIDE}: "
                f"{describe_damaged(found.damaged)}",
                JournalWarning,
                stacklevel=4,
            )
        if found.start_recovered:
            warnings.warn(
                f"{self.path}: the run's start record was damaged or missing; restored it from {START}",
                JournalWarning,
                stacklevel=4,
            )
        if queued:
            self._write_aside(queued)
        if found.needs_repair or queued:
            self._rewrite(self.records)
        start = found.start
        if start is not None and (found.start_copy_stale or found.start_recovered):
            self._write_start_copy(_schema().encode_line(start))

    def _keep_results(self, missing: list[int] | None) -> None:
        """Copies results.csv aside before the run rewrites it without rows the journal lacks."""
        source = self.folder / _RESULTS
        target, n = self.folder / RESULTS_SETASIDE, 1
        while target.exists():
            n += 1
            target = self.folder / f"{RESULTS_SETASIDE}.{n}"
        try:
            _write_atomically(target, source.read_bytes())
        except OSError as exc:
            raise RunFolderError(
                f"run folder {self.folder}: cannot keep a copy of {_RESULTS} ({exc.strerror})"
            ) from None
        which = "rows it cannot match" if missing is None else _eval_ids(missing)
        warnings.warn(
            f"{source}: held results the journal no longer has ({which}); kept it as {target.name} "
            "before the run rewrites it",
            JournalWarning,
            stacklevel=5,
        )

    def _write_start_copy(self, line: bytes) -> None:
        """Writes start.json (the start record's checked line) atomically."""
        try:
            _write_atomically(self.folder / START, line)
        except OSError as exc:
            raise RunFolderError(
                f"run folder {self.folder}: cannot write {START} ({exc.strerror}); free space, then resume with "
                f"resume={self.folder}"
            ) from None


def _eval_ids(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:10]))
    return f"eval_id {shown}" + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, fsyncs it and renames it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
