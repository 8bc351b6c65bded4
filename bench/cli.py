"""The ``bobench`` command: a Hydra app with one-line errors for the user's mistakes.

Before Hydra runs, :func:`main` parses and composes every job's config and builds its parts
(cheaply: no data, no workers), so a malformed override, an unknown group option or a bad
field stops the run with one line naming it, and a non-zero exit, before any evaluation.
``resume=DIR`` continues a run from its own journal (:mod:`bench.resume`), without Hydra composing
or writing anything in the folder. Hydra's flags may
come anywhere on the line (:mod:`bench.command_line`); a multirun is checked job by job for the
basic sweeper and on one representative job for a sampling one (:mod:`bench.sweeps`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import command_line, sweeps
from bench.errors import RunFolderError, UserError

if TYPE_CHECKING:
    from bench.resume import Resumed


def _conf_dir() -> Path:
    """Where the configs are: the package ``bench.conf`` (the repository's conf/ when editable)."""
    from importlib.resources import files

    return Path(str(files("bench.conf")))


CONF_DIR = _conf_dir()
EXIT_RUN_FAILED = 1  # the run stopped because its evaluations fail (fail_fast)
EXIT_USER_ERROR = 2  # the user's input: a config, an override, a resume folder
EXIT_RUN_FOLDER = 3  # the run folder cannot be written (read-only, full disk, file-size limit)
# Interrupted by a signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM).


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    print(f"bobench: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _missing_option(exc: BaseException) -> str | None:
    """``strategy=eii: no such option; available: ...`` for Hydra's "Could not find 'strategy/eii'"."""
    import re

    from hydra.errors import MissingConfigException

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, MissingConfigException):
        cause = cause.__cause__ or cause.__context__
    if cause is None or not cause.missing_cfg_file or "/" not in cause.missing_cfg_file:
        return None
    group, _, option = cause.missing_cfg_file.rpartition("/")
    within = re.match(r"In '([^']+)':", str(cause))
    parent = within.group(1) if within else "config"
    where = "" if parent == "config" or parent.startswith("hydra/") else f" (in {parent})"
    options = list(cause.options or [])
    if not options:
        return f"{group}={option}: no such config group{where}"
    hint = ""
    if group == "hydra/sweeper":
        hint = " (pip install 'bobench[sweepers]' adds optuna)"
    return f"{group}={option}: no such option{where}; available: {', '.join(options)}{hint}"


def _one_line(exc: BaseException) -> str:
    """The informative first line of a Hydra/OmegaConf error."""
    missing = _missing_option(exc)
    if missing:
        return missing
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0]
    if "Could not find" in first or "Could not load" in first:
        options = []
        for ln in lines[1:]:
            if ln.startswith(("Config search path", "Set the env")):
                break
            if not ln.startswith("Available"):
                options.append(ln)
        if options and len(options) < 40:
            first += f" (available: {', '.join(o.strip() for o in options)})"
    elif first.startswith("Could not override") and len(lines) > 1:
        first += " " + lines[1]
    return first


# -- resume ------------------------------------------------------------------------------------
def precheck_resume(folder: str, overrides: list[str]) -> Resumed:
    """The resumed run's config, built and checked (bench/resume.py) before anything is written."""
    from bench.build import build
    from bench.resume import resume_config

    resumed = resume_config(folder, overrides)
    check_writable(resumed.folder)
    build(resumed.cfg, validate=False)  # the driver validates data once, itself
    return resumed


def check_no_runs_in(folder: Path, key: str, itself: bool = False) -> None:
    """Refuses a new run into a folder that holds a run (``itself``) or, for a sweep, holds runs.

    Hydra would rewrite the runs' ``.hydra/`` files before the driver's own check: this comes first.
    """
    from bench.journal import JOURNAL

    if itself:
        if (folder / JOURNAL).exists():
            raise UserError(f"{key}: {folder} already holds a run; continue it with resume={folder}")
        return
    if folder.is_dir():
        held = sorted(p.parent for p in folder.glob(f"*/{JOURNAL}"))
        if held:
            raise UserError(
                f"{key}: {folder} already holds {len(held)} run(s) (e.g. {held[0]}); sweep into a new folder, "
                f"or continue each with resume=<its folder>"
            )


def check_writable(folder: Path) -> None:
    """Raises RunFolderError unless a file can be created in ``folder`` (or its nearest existing parent)."""
    import tempfile

    target = folder
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        with tempfile.NamedTemporaryFile(dir=target, prefix=".bobench-write-check-"):
            pass
    except OSError as exc:
        raise RunFolderError(f"run folder {folder}: cannot write in {target} ({exc.strerror})") from None


# -- the pre-check -----------------------------------------------------------------------------
@contextmanager
def config_context(config_dir: str | None = None, config_path: str | None = None) -> Iterator[Any]:
    """Hydra initialised on the configs ``bobench`` will compose; yields its config loader.

    bobench's configs (or ``--config-path``'s), with a ``--config-dir`` in front of the schemas,
    as Hydra's own ``-cd`` puts it (hydra/_internal/utils.py ``_run_hydra``).
    """
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    primary = CONF_DIR
    if config_path:
        primary = Path(config_path) if Path(config_path).is_absolute() else Path(__file__).parent / config_path
        if not primary.is_dir():
            raise UserError(f"--config-path {config_path}: no such folder ({primary})")
    search_path = create_config_search_path(str(primary))
    if config_dir:
        extra = Path(config_dir).expanduser().absolute()
        if not extra.is_dir():
            raise UserError(f"--config-dir {config_dir}: no such folder ({extra})")
        search_path.prepend(provider="command-line", path=f"file://{extra}", anchor=SearchPathQuery(provider="schema"))
    GlobalHydra.instance().clear()
    try:
        yield Hydra.create_main_hydra2(task_name="bobench", config_search_path=search_path).config_loader
    finally:
        GlobalHydra.instance().clear()


def _compose(config_name: str, overrides: list[str], hydra: bool = False) -> Any:
    """The composed config (with its ``hydra`` node if asked); a one-line UserError if it does not compose."""
    from hydra import compose

    from bench.schema import compose_error

    try:
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=hydra)
    except Exception as exc:  # Hydra's and OmegaConf's many kinds
        raise UserError(compose_error(exc) or _one_line(exc)) from None


def _with_config_sweeps(overrides: list[str], multirun: bool, config_name: str) -> tuple[list[str], bool, str | None]:
    """Adds a preset's ``hydra.sweeper.params`` (and ``hydra.mode: MULTIRUN``) to the overrides.

    Hydra sweeps a preset's params unless the command line names the same key; the pre-check
    does the same so that it sees every job.

    Returns:
        The overrides, whether the run is a multirun, and the sweeper's ``_target_``.
    """
    plain = [text for text, ov in zip(overrides, sweeps.parse(overrides), strict=True) if not ov.is_sweep_override()]
    try:
        hydra_cfg = _compose(config_name, plain, hydra=True).hydra
    except UserError:  # a key only some jobs have (reported by the job's own compose below)
        own = [o for o in plain if _key(o).startswith("hydra")]
        hydra_cfg = _compose(config_name, own, hydra=True).hydra  # hydra/sweeper=nope is everyone's error
        return overrides, multirun, hydra_cfg.sweeper.get("_target_")
    if str(hydra_cfg.get("mode")).endswith("MULTIRUN"):
        multirun = True
    if multirun:
        given = {_key(o) for o in overrides}
        params = hydra_cfg.get("sweeper", {}).get("params") or {}
        overrides = [
            *overrides,
            *[
                f"{k}={v}"
                for k, v in params.items()
                if _key(str(k)) not in given and isinstance(v, str | int | float)  # a sweeper's own specs: its own
            ],
        ]
    return overrides, multirun, hydra_cfg.sweeper.get("_target_")


def precheck(
    overrides: list[str],
    multirun: bool,
    config_dir: str | None = None,
    config_name: str = "config",
    config_path: str | None = None,
) -> None:
    """Composes and builds every job's config; raises UserError on the first problem.

    Args:
        overrides: the command line's overrides.
        multirun: ``-m`` was given.
        config_dir: ``--config-dir``: a folder of the user's configs, searched too.
        config_name: ``--config-name``: the primary config.
        config_path: ``--config-path``: another primary config folder.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bench.build import build
    from bench.schema import register

    register()
    with config_context(config_dir, config_path) as loader:
        overrides, multirun, sweeper = _with_config_sweeps(overrides, multirun, config_name)
        for job in sweeps.jobs(overrides, multirun, sweeper, loader):
            cfg = _compose(config_name, job)
            try:
                OmegaConf.to_container(cfg, resolve=True)  # ${oc.env:...} and other interpolations
            except OmegaConfBaseException as exc:
                key = getattr(exc, "full_key", None) or "config"
                raise UserError(f"{key}: {_one_line(exc)}") from None
            build(cfg, validate=False)  # the driver validates data once, itself
            hydra = _compose(config_name, job, hydra=True).hydra
            if multirun:
                check_no_runs_in(Path(hydra.sweep.dir), "hydra.sweep.dir")
            else:
                check_no_runs_in(Path(hydra.run.dir), "hydra.run.dir", itself=True)
                check_writable(Path(hydra.run.dir))


def compose_check(
    overrides: list[str], config_dir: str | None = None, config_name: str = "config", config_path: str | None = None
) -> None:
    """Before Hydra answers ``--cfg``, ``--help`` or ``--info``: the overrides compose, or one line says why."""
    from bench.schema import register

    register()
    with config_context(config_dir, config_path):
        if not any(ov.is_sweep_override() for ov in sweeps.parse(overrides)):
            _compose(config_name, overrides)


# -- the Hydra task ----------------------------------------------------------------------------
def run_task(cfg: Any) -> float | None:
    """What Hydra runs for each job: one driver, one run folder."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    return run_driver(cfg, Path(hc.runtime.output_dir), dict(hc.runtime.choices))


def run_driver(cfg: Any, run_dir: Path, choices: dict[str, Any]) -> float | None:
    """Runs one driver into ``run_dir`` and prints its summary; a failure is one line and its exit code."""
    from bench.driver import Driver, Interrupted, format_summary
    from bench.failures import RunFailed

    try:
        driver = Driver(cfg, run_dir, choices=choices)
        summary = driver.run()
    except RunFolderError as exc:
        _fail(str(exc), EXIT_RUN_FOLDER)
    except UserError as exc:
        _fail(str(exc))
    except RunFailed as exc:
        _fail(str(exc), EXIT_RUN_FAILED)
    except (Interrupted, KeyboardInterrupt) as exc:  # KeyboardInterrupt: a Ctrl-C while the driver starts
        import signal

        stop = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        print(
            f"bobench: stopped by {stop}; every finished evaluation is journaled. Continue with: "
            f"bobench resume={run_dir}",
            file=sys.stderr,
        )
        raise SystemExit(128 + stop.signum) from None
    print(format_summary(summary, run_dir))
    return summary["best_value"]


def _one_line_warnings() -> None:
    """Shows bobench's own warnings (a repaired journal...) as one line each."""
    import warnings

    from bench.journal import JournalWarning

    default = warnings.formatwarning

    def fmt(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
    ) -> str:
        if issubclass(category, JournalWarning):
            return f"bobench: warning: {message}\n"
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = fmt


def user_code_folders(args: Sequence[str]) -> list[str]:
    """The folders a user's own objective or strategy is imported from: the working folder, and
    the parent of a ``--config-dir``/``-cd`` folder (a project's ``conf/`` sits beside its code)."""
    import os

    folders = [os.getcwd()]
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag in ("--config-dir", "-cd"):
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            if value:
                folders.append(str(Path(value).expanduser().absolute().parent))
    return folders


def _print_help(entry: Any) -> None:
    """Hydra's app help (the template in conf/config.yaml), without the schema/ groups that are no options."""
    import contextlib
    import io
    import re

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            entry()
    finally:
        sys.stdout.write(re.sub(r"(?m)^schema(/\S+)?: .*\n", "", out.getvalue()))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import hydra

    try:
        mine = version("bobench")
    except PackageNotFoundError:
        mine = "(not installed)"
    return f"bobench {mine} (Hydra {hydra.__version__})"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``bobench`` and ``python -m bench``."""
    import hydra

    from bench.schema import register

    register()  # the typed schemas, before Hydra composes anything
    _one_line_warnings()
    args = list(sys.argv[1:] if argv is None else argv)
    sys.path[:0] = [f for f in user_code_folders(args) if f not in sys.path]  # `bobench` alone does not add cwd
    try:
        line = command_line.parse(args)
    except UserError as exc:
        _fail(str(exc))
    if "version" in line.flags:
        print(_version())
        return
    config_dir, config_path = line.value("config-dir"), line.value("config-path")
    config_name = line.value("config-name") or "config"
    if line.passthrough and any(f in line.flags for f in ("cfg", "help", "info")):
        try:
            compose_check(line.overrides, config_dir, config_name, config_path)
        except UserError as exc:
            _fail(str(exc))
    if not line.passthrough:
        overrides = line.overrides
        try:
            resume = [o.partition("=")[2] for o in overrides if _key(o) == "resume"]
            resume = [r for r in resume if r not in ("", "null")]
            if resume:
                if line.multirun:
                    raise UserError("resume: resume one run folder at a time (without -m)")
                resumed = precheck_resume(resume[-1], overrides)
            else:
                precheck(overrides, line.multirun, config_dir, config_name, config_path)
        except RunFolderError as exc:
            _fail(str(exc), EXIT_RUN_FOLDER)
        except UserError as exc:
            _fail(str(exc))
        if resume:  # the run's own journal says what it is: Hydra composes nothing and writes nothing
            run_driver(resumed.cfg, resumed.folder, resumed.choices)
            return
        line.overrides = overrides

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
    def _entry(cfg: Any) -> float | None:
        return run_task(cfg)

    sys.argv = [sys.argv[0] if sys.argv else "bobench", *line.hydra_argv()]
    if "help" in line.flags:
        _print_help(_entry)
    else:
        _entry()
