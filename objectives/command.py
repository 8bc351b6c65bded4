"""Any program as the objective: ``objective=command objective.command='python train.py --lr {lr}'``.

Each evaluation runs the command once:

- its arguments: the command is split as a shell would (:func:`shlex.split`), then each argument
  is formatted with the parameters (``{lr}``, ``{lr:.3g}``; ``{seed}`` is the evaluation's seed;
  ``{{`` and ``}}`` are literal braces), so a value with spaces stays one argument. No shell
  runs it: write ``bash -c '...'`` for pipes or ``&&``;
- its environment: bobench's, plus ``BOBENCH_PARAMS`` (the parameters as a JSON object),
  ``BOBENCH_SEED`` and, in a run, ``BOBENCH_EVAL_DIR`` (the evaluation's folder, e.g. for checkpoints);
- its value: the last line of its stdout that is a JSON object with ``value`` (its other keys
  become metrics) or a bare number;
- with ``fidelity`` (its resource, for a scheduler): ``{fidelity}`` and ``{resume_from}`` in its
  arguments say how far to run and from where (the full ``maximum`` and 0 without a scheduler),
  and each stdout line that is a JSON object with ``step`` and ``value`` is an intermediate report;
- its failure: a non-zero exit is an error whose message ends with the last line of its stderr;
  past ``timeout_s`` its whole process group is killed and the evaluation fails;
- its output: stdout and stderr are kept in ``<run folder>/evals/<eval_id>/stdout.txt`` and
  ``stderr.txt`` (``stdout.attempt-<k>.txt`` for a re-run after a crashed worker).

It runs in ``cwd`` (default: the folder bobench was started in, recorded absolute when the
objective is built, so local workers and Slurm jobs run it in the same place).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.evaluate import current_task, json_safe
from bench.objective import Evaluation, Objective, fidelity_from_config, reporter
from objectives.function import check_space_given

#: The environment variables a command reads its evaluation from.
PARAMS_ENV = "BOBENCH_PARAMS"
SEED_ENV = "BOBENCH_SEED"
EVAL_DIR_ENV = "BOBENCH_EVAL_DIR"
#: How much of the end of stdout is searched for the value.
TAIL_BYTES = 1 << 20
#: Seconds between SIGTERM and SIGKILL when a command is stopped.
KILL_GRACE_S = 2.0


class CommandObjective(Objective):
    """Minimises the number a program prints.

    Args:
        space: the search space; its names are the command's placeholders.
        command: the command line, with ``{name}`` placeholders (see the module's docstring).
        cwd: the folder it runs in (relative: from the folder bobench was started in).
        timeout_s: seconds an evaluation may run before its process group is killed (None: no limit).
        optimum: the known minimum of the value, for regret, or None.
        name: shown in the progress bar and the summary (default: the program's name and its first argument).
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        command: str | None = None,
        cwd: str | None = None,
        timeout_s: float | None = None,
        optimum: float | None = None,
        name: str | None = None,
        fidelity: Mapping[str, Any] | None = None,
    ):
        if not command or not str(command).strip():
            raise UserError(
                "objective.command: give the command to run, e.g. objective.command='python train.py --lr {lr}'"
            )
        try:
            self.args = shlex.split(str(command))
        except ValueError as exc:
            raise UserError(f"objective.command: cannot split {command!r} into arguments ({exc})") from None
        check_space_given(space)
        super().__init__(space, name or _short_name(self.args))
        self.command = str(command)
        self.cwd = str(Path(cwd or os.getcwd()).expanduser().absolute())
        if not Path(self.cwd).is_dir():
            raise UserError(f"objective.cwd: {self.cwd} is not a folder")
        if timeout_s is not None and not timeout_s > 0:
            raise UserError(f"objective.timeout_s: must be positive, got {timeout_s}")
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.optimum = None if optimum is None else float(optimum)
        self.fidelity = fidelity_from_config(fidelity)
        self.run_dir: str | None = None
        if "seed" in self.space.names:
            raise UserError(
                "objective.space.seed: 'seed' is the evaluation's seed ({seed}); name the parameter otherwise"
            )
        sample = self.space.to_params(np.full(self.space.dim, 0.5))
        program = self._argv(sample, 0)[0]  # and every placeholder is checked
        found = _runnable(Path(self.cwd, program)) if os.sep in program else shutil.which(program) is not None
        if not found:
            where = f"in {self.cwd}" if os.sep in program else "on PATH"
            raise UserError(f"objective.command: program {program!r} not found {where}")

    def _argv(self, params: Mapping[str, Any], seed: int) -> list[str]:
        """The arguments for one evaluation; a UserError naming a placeholder the space lacks."""
        values = {**params, "seed": seed, **self._span()}
        argv = []
        for arg in self.args:
            try:
                argv.append(arg.format(**values))
            except KeyError as exc:
                known = ", ".join(f"{{{n}}}" for n in (*self.space.names, "seed", *self._span()))
                raise UserError(f"objective.command: unknown placeholder {{{exc.args[0]}}} (known: {known})") from None
            except IndexError:
                raise UserError(f"objective.command: {arg!r} has a placeholder without a name ({{}})") from None
            except ValueError as exc:
                raise UserError(f"objective.command: {arg!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
        return argv

    def _span(self) -> dict[str, float | int]:
        """``{fidelity}`` and ``{resume_from}`` for a command with a resource: how far to run, from where."""
        if self.fidelity is None:
            return {}
        rep = reporter()
        span = {"fidelity": rep.until(self.fidelity.maximum), "resume_from": rep.start}
        return {k: round(v) for k, v in span.items()} if self.fidelity.integer else span

    def set_run_dir(self, run_dir: Path) -> None:
        self.run_dir = str(Path(run_dir).absolute())

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        argv = self._argv(params, seed)
        env = {**os.environ, PARAMS_ENV: json.dumps(json_safe(params)), SEED_ENV: str(seed)}
        with self._output_files() as (folder, stdout_path, stderr_path):
            if folder is not None:
                env[EVAL_DIR_ENV] = str(folder)
            returncode = self._run(argv, env, stdout_path, stderr_path)
            if returncode != 0:
                why = f"killed by {_signal_name(-returncode)}" if returncode < 0 else f"exited with {returncode}"
                last = _last_line(stderr_path) or "(nothing on stderr)"
                raise RuntimeError(f"command {why}: {last}")
            stdout = _tail(stdout_path)
            if self.fidelity is not None:
                report_lines(stdout)
            return parse_value(stdout)

    @contextlib.contextmanager
    def _output_files(self) -> Iterator[tuple[Path | None, Path, Path]]:
        """``(evaluation folder or None, stdout file, stderr file)``: kept in a run, temporary outside one."""
        task = current_task()
        if self.run_dir is None or task is None:
            with tempfile.TemporaryDirectory(prefix="bobench-command-") as tmp:
                yield None, Path(tmp, "stdout.txt"), Path(tmp, "stderr.txt")
            return
        folder = Path(self.run_dir, "evals", str(task.eval_id))
        folder.mkdir(parents=True, exist_ok=True)
        suffix = f".attempt-{task.attempt}" if task.attempt else ""
        yield folder, folder / f"stdout{suffix}.txt", folder / f"stderr{suffix}.txt"

    def _run(self, argv: list[str], env: dict[str, str], stdout_path: Path, stderr_path: Path) -> int:
        """Runs ``argv`` in its own process group; returns its exit status (negative: killed by a signal)."""
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            try:
                process = subprocess.Popen(
                    argv,
                    cwd=self.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,  # a time-out kills the program's children too
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                raise RuntimeError(f"command {argv[0]!r} could not start: {exc.strerror or exc}") from None
            try:
                returncode = process.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                _stop_group(process)
                raise TimeoutError(
                    f"command ran past objective.timeout_s={self.timeout_s:g} s and was killed"
                ) from None
            except BaseException:  # Ctrl-C, SIGTERM in the driver: take the program down with us
                _stop_group(process)
                raise
            _kill_group(process.pid)  # anything it left running in the background
            return returncode


def report_lines(stdout: str) -> None:
    """Reports each stdout line that is a JSON object with ``step`` and ``value`` (its other keys as metrics)."""
    rep = reporter()
    for line in stdout.splitlines():
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        if (
            isinstance(obj, dict)
            and isinstance(obj.get("step"), int | float)
            and isinstance(obj.get("value"), int | float)
        ):
            rep.report(obj["step"], obj["value"], **{str(k): v for k, v in obj.items() if k not in ("step", "value")})


def parse_value(stdout: str) -> Evaluation:
    """The evaluation a command printed: its last stdout line that is a JSON object with ``value`` or a number.

    Raises:
        ValueError: no such line.
    """
    for line in reversed(stdout.splitlines()):
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict) and "value" in obj:
                return Evaluation(obj["value"], {str(k): v for k, v in obj.items() if k != "value"})
            continue
        try:
            number = float(text)
        except ValueError:
            continue
        return Evaluation(number)  # NaN or inf: bench.evaluate marks it diverged
    last = next((ln.strip() for ln in reversed(stdout.splitlines()) if ln.strip()), "")
    seen = f"its last line was {last[:80]!r}" if last else "it printed nothing"
    raise ValueError(f'command printed no value ({seen}): end stdout with a line like {{"value": 0.12}} or 0.12')


def _short_name(args: list[str]) -> str:
    """``python train.py --lr {lr}`` -> ``python train.py``: the program and its first argument if not an option."""
    words = [Path(a).name for a in args[:2] if not a.startswith("-") and "{" not in a]
    return " ".join(words) or "command"


def _tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - TAIL_BYTES))
        return f.read().decode(errors="replace")


def _last_line(path: Path) -> str:
    return next((ln.strip() for ln in reversed(_tail(path).splitlines()) if ln.strip()), "")[:300]


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGKILL when the worker that started it dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()  # loaded before any fork: the child only calls into it


def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the program's process group, SIGKILL after a grace period, then reaps it."""
    _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(process.pid)
    process.wait()
