"""The run's journal: an append-only JSONL file, the source of truth of a run folder.

Each record is one JSON object on one line, written with a single ``write`` of the whole
line, flushed and fsynced. On opening, a torn last line (a crash mid-write) or a garbage
line is moved aside to ``journal.jsonl.setaside`` with a warning, never merged with the
next record and never silently dropped. A lock file keeps a second driver out; a clean close removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from bench.errors import RunFolderError, RunFolderLocked, UserError
from bench.evaluate import json_safe

JOURNAL = "journal.jsonl"
SETASIDE = "journal.jsonl.setaside"
LOCK = "driver.lock"


class JournalWarning(UserWarning):
    """Something in the journal was set aside."""


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Reads a journal without changing it.

    Returns:
        ``(records, bad)``: the valid records in order, and ``(line_number, text)`` of every
        line that is not a JSON object (a torn last line among them).
    """
    records: list[dict[str, Any]] = []
    bad: list[tuple[int, str]] = []
    if not path.exists():
        return records, bad
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail is b"" when the file ends with a newline
    for i, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad.append((i, raw.decode("utf-8", "replace")))
            continue
        if isinstance(rec, dict) and "event" in rec:
            records.append(rec)
        else:
            bad.append((i, raw.decode("utf-8", "replace")))
    if tail.strip():
        # No final newline: a valid object is kept (the newline is added on repair); a torn
        # fragment is set aside.
        try:
            rec = json.loads(tail)
            if isinstance(rec, dict) and "event" in rec:
                records.append(rec)
            else:
                bad.append((len(lines), tail.decode("utf-8", "replace")))
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad.append((len(lines), tail.decode("utf-8", "replace")))
    return records, bad


class Journal:
    """An open, locked journal in a run folder.

    Args:
        folder: the run folder (created if missing).
        fsync: fsync after every record (the default; turn off only for benchmarks).
    """

    def __init__(self, folder: Path | str, fsync: bool = True):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL
        self.fsync = fsync
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.records: list[dict[str, Any]] = []

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> list[dict[str, Any]]:
        """Locks the folder, repairs the file if needed and returns the records so far."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"run folder {self.folder}: cannot create it ({exc.strerror})") from exc
        self._lock()
        self.records = self._repair()
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self.close()
            raise UserError(f"run folder {self.folder}: cannot write the journal ({exc.strerror})") from exc
        return list(self.records)

    def close(self) -> None:
        if self._fd is not None:
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
        """Writes one record; it is on disk when this returns (with ``fsync``)."""
        if self._fd is None:
            raise RuntimeError("journal is not open")
        record = {"event": event, **json_safe(fields)}
        line = (json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(line)
        try:
            while view:  # os.write may write less than asked (e.g. near a file-size limit)
                n = os.write(self._fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            # A part of the line may be on disk: the next open sets it aside as a torn line.
            raise RunFolderError(
                f"journal {self.path}: cannot write a '{event}' record ({exc.strerror}); the run stopped "
                f"and everything journaled before is kept: free space, then resume with resume={self.folder}"
            ) from None
        self.records.append(record)
        return record

    def set_aside(self, records: list[dict[str, Any]], why: str) -> None:
        """Moves these records (objects from :attr:`records`) to the set-aside file and rewrites the journal."""
        drop = {id(r) for r in records}
        self._write_aside([(None, json.dumps(r, separators=(",", ":")), why) for r in records])
        self.records = [r for r in self.records if id(r) not in drop]
        self._rewrite(self.records)

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
            with open(tmp, "w", encoding="utf-8") as out:
                for rec in records:
                    out.write(json.dumps(rec, allow_nan=False, separators=(",", ":")) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunFolderError(f"run folder {self.folder}: cannot rewrite the journal ({exc.strerror})") from None

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

    def _repair(self) -> list[dict[str, Any]]:
        records, bad = read_records(self.path)
        if not self.path.exists():
            return records
        data = self.path.read_bytes()
        if not bad and (not data or data.endswith(b"\n")):
            return records
        if bad:
            self._write_aside([(n, text, "unreadable") for n, text in bad])
            warnings.warn(
                f"{self.path}: set aside {len(bad)} unreadable line(s) "
                f"(line {', '.join(str(n) for n, _ in bad)}) into {SETASIDE}",
                JournalWarning,
                stacklevel=3,
            )
        self._rewrite(records)
        return records
