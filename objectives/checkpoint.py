"""An evaluation's checkpoint file in the run folder: written atomically, read without trusting it.

An objective that trains in steps (the CNN's epochs) saves its state after each step to
``<run folder>/evals/<eval_id>/checkpoint.pt``, so that a re-run of the same evaluation (a Slurm
job requeued after a preemption or a node failure, an attempt the driver retries, an evaluation
a resumed driver runs again) continues from the last step instead of starting over. The file is
keyed by ``eval_id`` alone; the objective stores what the state belongs to (parameters, seed,
settings) in it and ignores a checkpoint of anything else.

Writes go to a temporary file in the same folder, are flushed to disk and then renamed over the
old checkpoint, so a reader sees the previous checkpoint or the new one, never a torn one, even
when two instances of a job write at once. Reads use ``torch.load(weights_only=True)``: tensors
and plain containers only, never code. A file that cannot be read is reported in one line on
stderr and ignored (the evaluation starts over).
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

#: The file of one evaluation, under its folder ``<run folder>/evals/<eval_id>/``.
FILE_NAME = "checkpoint.pt"


def checkpoint_path(run_dir: str | os.PathLike[str], eval_id: int) -> Path:
    """Where evaluation ``eval_id`` of the run in ``run_dir`` keeps its checkpoint."""
    return Path(run_dir) / "evals" / str(int(eval_id)) / FILE_NAME


def save(torch: Any, path: Path, state: dict[str, Any]) -> bool:
    """Writes ``state`` to ``path`` atomically; returns False (after one line on stderr) if it could not.

    A checkpoint that cannot be written (a full disk) costs only the ability to resume: the
    evaluation goes on.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # the rename itself reaches the disk
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return True
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        print(f"bobench: warning: could not write checkpoint {path} ({exc}); a re-run starts over", file=sys.stderr)
        return False


def load(torch: Any, path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``; None if there is none or it cannot be read (said on stderr)."""
    if not path.is_file():
        return None
    try:
        with warnings.catch_warnings():  # torch's remarks on a foreign file: the line below says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a torn, foreign or tampered file: never trusted, never fatal
        print(f"bobench: warning: ignoring unreadable checkpoint {path} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
    if not isinstance(state, dict):
        print(f"bobench: warning: ignoring checkpoint {path} (not a mapping)", file=sys.stderr)
        return None
    return state


def discard(path: Path) -> None:
    """Removes the checkpoint, and its evaluation's folder if that is left empty."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):  # not empty (a command's output files), or gone
        path.parent.rmdir()
