"""``resume=DIR``: a run continues from its own journal, and nothing in the folder runs as code.

The config of a resumed run is the journal's ``start`` record (the config the run was started
with, fully resolved, and the settings a resume may change: budget, retries, progress,
fail_fast), with the user's changes from the command line on top. Hydra's ``.hydra/`` files are
not composed again (a tampered or overwritten ``overrides.yaml`` changes nothing), and nothing
is written into the folder before every check has passed:

- the folder holds a journal with a start record, and can be written;
- every ``_target_`` in the config, and the module of a ``function`` objective's target, lies in
  a trusted package (:data:`TRUSTED`) or in a module the user names on this command line with
  ``trust=[mymodule]`` (a ``trust`` stored in the folder counts for nothing);
- a change to a key outside the resumable settings needs ``force=true`` (the driver records
  where the config changed);
- config groups (``strategy=ei``) cannot be changed on resume: that is another experiment.

Run folders written before the start record held ``settings`` take them from
``.hydra/config.yaml``, read as data (YAML's safe loader; nothing there is instantiated).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.build import RESUMABLE_CHANGES, first_difference
from bench.errors import UserError
from bench.journal import JOURNAL

#: Packages whose classes a resumed config may build without the user's say-so: bobench itself
#: and the libraries it ships configs for.
TRUSTED = ("bench", "objectives", "sklearn", "torch", "torchvision", "botorch", "gpytorch", "ax")
#: The settings a resume may change (the rest of the config is the run's own).
SETTINGS = ("budget", "retries", "progress", "fail_fast")
#: Top-level keys that name a config group: not changeable on resume.
GROUPS = ("objective", "strategy", "executor", "carbon", "scheduler", "arm", "experiment", "debug")
#: Keys of the command line that say how to resume, not what the run is.
CONTROL = ("resume", "force", "trust")


@dataclass
class Resumed:
    """The config of a resumed run, and what the summary calls its parts."""

    cfg: DictConfig
    choices: dict[str, Any]
    folder: Path
    changed_at: str | None


def settings_of(cfg: Mapping[Any, Any]) -> dict[str, Any]:
    """The resumable settings of a config, resolved to plain values, as the start record keeps them."""
    out: dict[str, Any] = {}
    for key in SETTINGS:
        if key in cfg:
            value = cfg[key]
            out[key] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return out


def _start_record(folder: Path) -> dict[str, Any]:
    from bench.run_folder import read_run

    run = read_run(folder)
    start = run.start
    if not start or not isinstance(start.get("config"), dict):
        raise UserError(f"resume: {folder}/{JOURNAL} has no readable start record; it is not a bobench run")
    return start


def _hydra_file(folder: Path, name: str) -> Any:
    """A ``.hydra/`` file as plain data, or None."""
    import yaml

    path = folder / ".hydra" / name
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _user_changes(overrides: Sequence[str]) -> tuple[list[tuple[str, Any, bool]], list[str], bool]:
    """The command line's ``(key, value, added)`` changes, its ``trust`` list and ``force``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    except HydraException as exc:
        raise UserError(f"resume: {str(exc).splitlines()[0]}") from None
    changes: list[tuple[str, Any, bool]] = []
    trust: list[str] = []
    force = False
    for ov in parsed:
        key = ov.key_or_group
        if key.startswith("hydra.") or key == "hydra":
            continue  # a resumed run goes on in its own folder
        if ov.is_sweep_override():
            raise UserError(f"resume: {ov.input_line}: resume one run at a time, without sweeps")
        if ov.is_delete():
            raise UserError(f"resume: {ov.input_line}: keys cannot be removed from a run on resume")
        value = ov.value()
        if key in GROUPS:
            raise UserError(
                f"resume: {key}={value} picks another {key}; a resumed run keeps its own (start a new run for that)"
            )
        if key == "force":
            force = value is True or str(value).lower() == "true"
        elif key == "trust":
            trust = [str(v) for v in (value if isinstance(value, list) else [value])]
        elif key != "resume":
            changes.append((key, value, ov.is_add()))
    return changes, trust, force


def targets(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ``(dotted key, module path)`` that building the config would import."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{where}.{key}" if where else str(key)
            if key == "_target_" and isinstance(value, str):
                yield here, value
            elif (
                key == "target"
                and isinstance(value, str)
                and str(node.get("_target_", "")).endswith("FunctionObjective")
            ):
                yield here, value.partition(":")[0]  # objective=function imports the module of its target
            else:
                yield from targets(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from targets(value, f"{where}[{i}]")


def check_targets(config: Mapping[Any, Any], trust: Sequence[str]) -> None:
    """Refuses, with one line, a config that would import code outside the trusted packages."""
    allowed = (*TRUSTED, *trust)
    for key, path in targets(config):
        top = path.split(".")[0]
        if not any(path == a or path.startswith(f"{a}.") for a in allowed):
            raise UserError(
                f"resume: {key}={path!r} is not in a trusted package ({', '.join(TRUSTED)}); "
                f"if you trust the run folder, add trust=[{top}]"
            )


def resume_config(folder_arg: str, overrides: Sequence[str]) -> Resumed:
    """Rebuilds a run's config from its journal, with the command line's changes; writes nothing.

    Raises:
        UserError: not a run folder, an untrusted target, a group change, a changed key without
            ``force=true`` (naming it), or a bad override; one line each.
    """
    from bench.schema import RunConf, check_known_keys, register

    folder = Path(folder_arg).expanduser()
    if not folder.is_dir():
        raise UserError(f"resume: {folder_arg} is not a folder")
    if not (folder / JOURNAL).is_file():
        raise UserError(f"resume: {folder_arg} is not a bobench run folder (no {JOURNAL})")
    start = _start_record(folder)
    changes, trust, force = _user_changes(overrides)
    stored: dict[Any, Any] = dict(start["config"])
    settings: Any = start.get("settings")
    if not isinstance(settings, dict):  # a run folder written before the start record kept them
        hydra_config = _hydra_file(folder, "config.yaml")
        settings = settings_of(hydra_config) if isinstance(hydra_config, dict) else {}
    check_targets(stored, trust)
    register()
    cfg = OmegaConf.merge(OmegaConf.structured(RunConf), {**stored, **settings})
    assert isinstance(cfg, DictConfig)
    for key, value, added in changes:
        try:
            OmegaConf.update(cfg, key, value, merge=False, force_add=added)
        except Exception as exc:  # OmegaConf's validation errors: one line naming the key
            raise UserError(f"resume: {key}={value!r}: {str(exc).splitlines()[0]}") from None
    OmegaConf.update(cfg, "resume", str(folder.resolve()), merge=False)
    OmegaConf.update(cfg, "force", force, merge=False)
    OmegaConf.update(cfg, "trust", trust, merge=False)
    check_known_keys(cfg)
    from bench.build import config_for_compare

    changed_at = first_difference(start["config"], config_for_compare(cfg))
    if changed_at and not force:
        raise UserError(
            f"resume: the config differs from the run's at '{changed_at}'; "
            "resume with the same config, or add force=true"
        )
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    check_targets(plain, trust)  # the user's own changes may name targets too
    choices = start.get("choices")
    if not isinstance(choices, dict):
        hydra_file = _hydra_file(folder, "hydra.yaml")
        runtime = (hydra_file or {}).get("hydra", {}).get("runtime", {}) if isinstance(hydra_file, dict) else {}
        choices = runtime.get("choices") if isinstance(runtime, dict) else None
    plain_choices = {str(k): str(v) for k, v in (choices or {}).items() if isinstance(v, str | int | float)}
    return Resumed(cfg, plain_choices, folder, changed_at)


__all__ = ["GROUPS", "RESUMABLE_CHANGES", "SETTINGS", "TRUSTED", "Resumed", "check_targets", "resume_config"]
