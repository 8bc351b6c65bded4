"""The ``bobench`` command: a Hydra app with one-line errors for the user's mistakes.

Before Hydra runs, :func:`main` parses and composes every job's config and builds its parts
(cheaply: no data, no workers), so a malformed override, an unknown group option or a bad
field stops the run with one line naming it, and a non-zero exit, before any evaluation.
``resume=DIR`` re-composes the run's own overrides into the same folder.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import RunFolderError, UserError


def _conf_dir() -> Path:
    """Where the configs are: the package ``bench.conf`` (the repository's conf/ when editable)."""
    from importlib.resources import files

    return Path(str(files("bench.conf")))


CONF_DIR = _conf_dir()
#: Hydra flags after which bobench steps aside and lets Hydra answer (help, config printing...).
PASSTHROUGH_FLAGS = (
    "-h",
    "--help",
    "--hydra-help",
    "-i",
    "--info",
    "-c",
    "--cfg",
    "--version",
    "-sc",
    "--shell-completion",
    "-cd",
    "--config-dir",
    "-cn",
    "--config-name",
    "-cp",
    "--config-path",
    "--experimental-rerun",
    "-p",
    "--package",
    "--resolve",
)
MAX_PRECHECK_JOBS = 256
EXIT_RUN_FAILED = 1  # the run stopped because its evaluations fail (fail_fast)
EXIT_USER_ERROR = 2  # the user's input: a config, an override, a resume folder
EXIT_RUN_FOLDER = 3  # the run folder cannot be written (read-only, full disk, file-size limit)
# Interrupted by a signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM).


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    print(f"bobench: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _one_line(exc: BaseException) -> str:
    """The informative first line of a Hydra/OmegaConf error."""
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
def resume_overrides(resume: str, overrides: list[str]) -> list[str]:
    """The overrides that continue the run in ``resume``: its own, then the user's changes."""
    import yaml

    folder = Path(resume).expanduser()
    if not folder.is_dir():
        raise UserError(f"resume: {resume} is not a folder")
    journal = folder / "journal.jsonl"
    stored_file = folder / ".hydra" / "overrides.yaml"
    if not journal.is_file() or not stored_file.is_file():
        missing = "journal.jsonl" if not journal.is_file() else ".hydra/overrides.yaml"
        raise UserError(f"resume: {resume} is not a bobench run folder (no {missing})")
    try:
        stored = yaml.safe_load(stored_file.read_text()) or []
    except yaml.YAMLError as exc:
        raise UserError(f"resume: {stored_file} is unreadable ({exc.__class__.__name__})") from None
    check_writable(folder)
    user = [o for o in overrides if _key(o) not in ("hydra.run.dir", "hydra.output_subdir")]
    user_keys = {_key(o) for o in user}
    kept = [o for o in stored if _key(o) not in user_keys and _key(o) not in ("resume", "force")]
    resolved = str(folder.resolve())
    return [
        *kept,
        *[o for o in user if _key(o) != "resume"],
        f"resume={resolved}",
        f"hydra.run.dir={resolved}",
        "hydra.output_subdir=null",
    ]


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
def _expand(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Every job's overrides (the cartesian product of sweeps in multirun)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.append(parser.parse_override(text))
        except Exception as exc:
            raise UserError(f"malformed override {text!r}: {_one_line(exc)}") from None
    choices: list[list[str]] = []
    for text, ov in zip(overrides, parsed, strict=True):
        if ov.is_sweep_override():
            if not multirun:
                raise UserError(f"override {text!r} is a sweep: add -m (--multirun) to run one job per value")
            prefix = text.split("=", 1)[0]
            choices.append([f"{prefix}={v}" for v in ov.sweep_string_iterator()])
        else:
            choices.append([text])
    jobs = [list(c) for c in itertools.product(*choices)] if choices else [[]]
    return jobs[:MAX_PRECHECK_JOBS]


def _with_config_sweeps(overrides: list[str], multirun: bool) -> tuple[list[str], bool]:
    """Adds a preset's ``hydra.sweeper.params`` (and ``hydra.mode: MULTIRUN``) to the overrides.

    Hydra sweeps a preset's params unless the command line names the same key; the pre-check
    does the same so that it sees every job.
    """
    from hydra import compose
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    plain = []
    for text in overrides:
        try:
            if not parser.parse_override(text).is_sweep_override():
                plain.append(text)
        except Exception as exc:
            raise UserError(f"malformed override {text!r}: {_one_line(exc)}") from None
    try:
        hydra_cfg = compose(config_name="config", overrides=plain, return_hydra_config=True).hydra
    except Exception:  # reported by the job's own compose below
        return overrides, multirun
    if str(hydra_cfg.get("mode")).endswith("MULTIRUN"):
        multirun = True
    if multirun:
        given = {_key(o) for o in overrides}
        params = hydra_cfg.get("sweeper", {}).get("params") or {}
        overrides = [*overrides, *[f"{k}={v}" for k, v in params.items() if _key(str(k)) not in given]]
    return overrides, multirun


def precheck(overrides: list[str], multirun: bool) -> None:
    """Composes and builds every job's config; raises UserError on the first problem."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bench.build import build
    from bench.schema import compose_error, register

    register()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            overrides, multirun = _with_config_sweeps(overrides, multirun)
            jobs = _expand(overrides, multirun)
            for job in jobs:
                try:
                    cfg = compose(config_name="config", overrides=job)
                except Exception as exc:  # Hydra's and OmegaConf's many kinds
                    raise UserError(compose_error(exc) or _one_line(exc)) from None
                try:
                    OmegaConf.to_container(cfg, resolve=True)  # ${oc.env:...} and other interpolations
                except OmegaConfBaseException as exc:
                    key = getattr(exc, "full_key", None) or "config"
                    raise UserError(f"{key}: {_one_line(exc)}") from None
                build(cfg, validate=False)  # the driver validates data once, itself
                if not multirun:
                    run_dir = compose(config_name="config", overrides=job, return_hydra_config=True).hydra.run.dir
                    check_writable(Path(run_dir))
    finally:
        GlobalHydra.instance().clear()


# -- the Hydra task ----------------------------------------------------------------------------
def run_task(cfg: Any) -> float | None:
    """What Hydra runs for each job: one driver, one run folder."""
    from hydra.core.hydra_config import HydraConfig

    from bench.driver import Driver, Interrupted, format_summary
    from bench.failures import RunFailed

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    try:
        driver = Driver(cfg, run_dir, choices=dict(hc.runtime.choices))
        summary = driver.run()
    except RunFolderError as exc:
        _fail(str(exc), EXIT_RUN_FOLDER)
    except UserError as exc:
        _fail(str(exc))
    except RunFailed as exc:
        _fail(str(exc), EXIT_RUN_FAILED)
    except Interrupted as exc:
        print(
            f"bobench: stopped by {exc}; every finished evaluation is journaled. Continue with: "
            f"bobench resume={run_dir}",
            file=sys.stderr,
        )
        raise SystemExit(128 + exc.signum) from None
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``bobench`` and ``python -m bench``."""
    import hydra

    from bench.schema import register

    register()  # the typed schemas, before Hydra composes anything
    _one_line_warnings()
    args = list(sys.argv[1:] if argv is None else argv)
    sys.path[:0] = [f for f in user_code_folders(args) if f not in sys.path]  # `bobench` alone does not add cwd
    if not any(a in PASSTHROUGH_FLAGS or a.split("=", 1)[0] in PASSTHROUGH_FLAGS for a in args):
        multirun = "-m" in args or "--multirun" in args
        overrides = [a for a in args if not a.startswith("-")]
        flags = [a for a in args if a.startswith("-")]
        try:
            resume = [o.partition("=")[2] for o in overrides if _key(o) == "resume"]
            resume = [r for r in resume if r not in ("", "null")]
            if resume:
                if multirun:
                    raise UserError("resume: resume one run folder at a time (without -m)")
                overrides = resume_overrides(resume[-1], overrides)
            precheck(overrides, multirun)
        except RunFolderError as exc:
            _fail(str(exc), EXIT_RUN_FOLDER)
        except UserError as exc:
            _fail(str(exc))
        args = flags + overrides

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name="config")
    def _entry(cfg: Any) -> float | None:
        return run_task(cfg)

    sys.argv = [sys.argv[0] if sys.argv else "bobench", *args]
    _entry()
